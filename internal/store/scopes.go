package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// SetConnectionScopes records the scopes the provider says the connection's token holds.
func (s *Store) SetConnectionScopes(ctx context.Context, workspaceID, connectionID string, scopes []string) error {
	if scopes == nil {
		scopes = []string{}
	}
	if _, err := s.Pool.Exec(ctx, `UPDATE connections SET access_scopes = $3 WHERE workspace_id = $1 AND id = $2`,
		workspaceID, connectionID, scopes); err != nil {
		return fmt.Errorf("record scopes of connection %s: %w", connectionID, err)
	}
	return nil
}

// ConnectionScopes returns the recorded scopes of the workspace's connections, by
// connection id; connections whose scopes were never read are absent.
func (s *Store) ConnectionScopes(ctx context.Context, workspaceID string) (map[string][]string, error) {
	rows, err := s.Pool.Query(ctx, `SELECT id, access_scopes FROM connections
		WHERE workspace_id = $1 AND access_scopes IS NOT NULL`, workspaceID)
	if err != nil {
		return nil, fmt.Errorf("read connection scopes: %w", err)
	}
	out := map[string][]string{}
	var id string
	var scopes []string
	if _, err := pgx.ForEachRow(rows, []any{&id, &scopes}, func() error {
		out[id] = scopes
		return nil
	}); err != nil {
		return nil, fmt.Errorf("read connection scopes: %w", err)
	}
	return out, nil
}
