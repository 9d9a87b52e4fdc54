package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// ListAudit returns the workspace's audit entries newest first: at most limit entries with
// an id below before (0 for the newest). Ids grow with time, so the last entry's id is the
// next page's before.
func (s *Store) ListAudit(ctx context.Context, workspaceID string, before int64, limit int) ([]AuditEntry, error) {
	if !isUUID(workspaceID) {
		return []AuditEntry{}, nil
	}
	rows, err := s.Pool.Query(ctx, `
		SELECT id, workspace_id::text, coalesce(actor_user_id::text, ''), coalesce(actor_api_key_id::text, ''), actor,
			action, target_type, target_id, ip, details, at
		FROM audit_log
		WHERE workspace_id = $1 AND ($2 = 0 OR id < $2)
		ORDER BY id DESC
		LIMIT $3`, workspaceID, before, limit)
	if err != nil {
		return nil, fmt.Errorf("list audit log of %s: %w", workspaceID, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (AuditEntry, error) {
		var e AuditEntry
		err := r.Scan(&e.ID, &e.WorkspaceID, &e.ActorUserID, &e.ActorAPIKeyID, &e.Actor,
			&e.Action, &e.TargetType, &e.TargetID, &e.IP, &e.Details, &e.At)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("scan audit log of %s: %w", workspaceID, err)
	}
	return out, nil
}
