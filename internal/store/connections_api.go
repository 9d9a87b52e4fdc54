package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// DeleteConnection removes a connection of the workspace (and, by cascade, its rows).
// The API uses it to undo a connection whose schedule could not be created.
func (s *Store) DeleteConnection(ctx context.Context, workspaceID, id string) error {
	if !isUUID(id) {
		return ErrNotFound
	}
	tag, err := s.Pool.Exec(ctx, `DELETE FROM connections WHERE workspace_id = $1 AND id = $2`, workspaceID, id)
	if err != nil {
		return fmt.Errorf("delete connection %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

// RenameConnection sets the connection's display name.
func (s *Store) RenameConnection(ctx context.Context, workspaceID, id, name string) (Connection, error) {
	if !isUUID(id) {
		return Connection{}, ErrNotFound
	}
	c, err := scanConnection(s.Pool.QueryRow(ctx, `UPDATE connections SET display_name = $3, updated_at = now()
		WHERE workspace_id = $1 AND id = $2 RETURNING `+connectionColumns, workspaceID, id, name))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return Connection{}, fmt.Errorf("rename connection %s: %w", id, err)
	}
	return c, err
}

// Disconnected is what DisconnectConnection did.
type Disconnected struct {
	Connection Connection
	// SyncWorkflowID is the incremental sync that held the connection's lock ('' = none).
	SyncWorkflowID string
	// BackfillWorkflowIDs are the backfills recorded as running.
	BackfillWorkflowIDs []string
}

// DisconnectConnection erases the connection's tokens and marks it disconnected, in one
// transaction, and says which workflows were running on it so the caller can cancel them.
// Its data stays. Disconnecting a disconnected connection changes nothing more.
func (s *Store) DisconnectConnection(ctx context.Context, workspaceID, id string) (Disconnected, error) {
	if !isUUID(id) {
		return Disconnected{}, ErrNotFound
	}
	var out Disconnected
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT coalesce(active_sync_workflow_id, '') FROM connections
			WHERE workspace_id = $1 AND id = $2 FOR UPDATE`, workspaceID, id).Scan(&out.SyncWorkflowID); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return ErrNotFound
			}
			return err
		}
		var err error
		out.Connection, err = scanConnection(tx.QueryRow(ctx, `UPDATE connections SET
				status = 'disconnected', status_reason = '',
				token_ciphertext = '\x'::bytea, refresh_token_ciphertext = NULL, token_expires_at = NULL,
				active_sync_workflow_id = NULL, provider_webhook_ids = '{}',
				disconnected_at = coalesce(disconnected_at, now()), updated_at = now()
			WHERE workspace_id = $1 AND id = $2 RETURNING `+connectionColumns, workspaceID, id))
		if err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT workflow_id FROM backfills
			WHERE workspace_id = $1 AND connection_id = $2 AND status = 'running' ORDER BY workflow_id`, workspaceID, id)
		if err != nil {
			return err
		}
		out.BackfillWorkflowIDs, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if errors.Is(err, ErrNotFound) {
		return Disconnected{}, ErrNotFound
	}
	if err != nil {
		return Disconnected{}, fmt.Errorf("disconnect connection %s: %w", id, err)
	}
	return out, nil
}

// MarkNeedsReauth flags the connection needs_reauth with a reason, unless the user has
// disconnected or disabled it (a late provider error must not bring it back to life).
func (s *Store) MarkNeedsReauth(ctx context.Context, workspaceID, id, reason string) error {
	_, err := s.Pool.Exec(ctx, `UPDATE connections SET status = 'needs_reauth', status_reason = $3, updated_at = now()
		WHERE workspace_id = $1 AND id = $2 AND status IN ('active', 'error', 'needs_reauth')`, workspaceID, id, reason)
	if err != nil {
		return fmt.Errorf("flag connection %s needs_reauth: %w", id, err)
	}
	return nil
}

// ClaimReauthNotice claims the right to tell the admins that the connection needs to be
// reconnected: true at most once per needs_reauth episode (the claim and the decision are
// one statement, so concurrent or retried callers cannot both send). The episode ends when
// the connection leaves needs_reauth (a trigger clears the mark).
func (s *Store) ClaimReauthNotice(ctx context.Context, workspaceID, id string) (Connection, bool, error) {
	c, err := scanConnection(s.Pool.QueryRow(ctx, `UPDATE connections SET reauth_notified_at = now()
		WHERE workspace_id = $1 AND id = $2 AND status = 'needs_reauth' AND reauth_notified_at IS NULL
		RETURNING `+connectionColumns, workspaceID, id))
	if errors.Is(err, ErrNotFound) {
		return Connection{}, false, nil
	}
	if err != nil {
		return Connection{}, false, fmt.Errorf("claim reauth notice of connection %s: %w", id, err)
	}
	return c, true, nil
}

// ReleaseReauthNotice gives a claim back after the notice could not be sent, so a retry
// sends it.
func (s *Store) ReleaseReauthNotice(ctx context.Context, workspaceID, id string) error {
	_, err := s.Pool.Exec(ctx, `UPDATE connections SET reauth_notified_at = NULL
		WHERE workspace_id = $1 AND id = $2`, workspaceID, id)
	if err != nil {
		return fmt.Errorf("release reauth notice of connection %s: %w", id, err)
	}
	return nil
}

// WorkspaceAdminEmails lists the emails of the workspace's owner and admins.
func (s *Store) WorkspaceAdminEmails(ctx context.Context, workspaceID string) ([]string, error) {
	rows, err := s.Pool.Query(ctx, `SELECT u.email FROM memberships m JOIN users u ON u.id = m.user_id
		WHERE m.workspace_id = $1 AND m.role IN ('owner', 'admin') ORDER BY u.email`, workspaceID)
	if err != nil {
		return nil, fmt.Errorf("list admins of workspace %s: %w", workspaceID, err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list admins of workspace %s: %w", workspaceID, err)
	}
	return out, nil
}

// ConnectionRef names a connection by ids only.
type ConnectionRef struct {
	ID          string
	WorkspaceID string
}

// ExpiringTokens lists, in id order after afterID, the connections whose access token
// TokenRefresh should refresh: Meta tokens expiring before metaBefore, and Shopify
// expiring tokens (those with a refresh token) expiring before shopifyBefore, already
// expired ones included. Connections that need reauth or are disconnected or disabled are
// left alone: refreshing them cannot work or is not wanted.
func (s *Store) ExpiringTokens(ctx context.Context, metaBefore, shopifyBefore time.Time, afterID string, limit int) ([]ConnectionRef, error) {
	if afterID == "" {
		afterID = "00000000-0000-0000-0000-000000000000"
	}
	rows, err := s.Pool.Query(ctx, `SELECT id, workspace_id FROM connections
		WHERE token_expires_at IS NOT NULL AND status IN ('active', 'error') AND id > $3
		  AND ((channel = 'meta' AND token_expires_at < $1)
		    OR (channel = 'shopify' AND refresh_token_ciphertext IS NOT NULL AND token_expires_at < $2))
		ORDER BY id LIMIT $4`, metaBefore, shopifyBefore, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("list expiring tokens: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (ConnectionRef, error) {
		var r ConnectionRef
		return r, row.Scan(&r.ID, &r.WorkspaceID)
	})
	if err != nil {
		return nil, fmt.Errorf("list expiring tokens: %w", err)
	}
	return out, nil
}

// RefreshedToken is a refreshed access token, sealed.
type RefreshedToken struct {
	// Previous is the access token ciphertext the refresh started from.
	Previous []byte
	Token    []byte
	// Refresh replaces the refresh token when non-nil.
	Refresh   []byte
	ExpiresAt *time.Time
	KeyID     string
}

// StoreRefreshedToken replaces the connection's access token if it is still the one the
// refresh started from and the connection is still connected, so a reconnect or a
// disconnect that happened meanwhile wins. It reports whether the token was stored.
func (s *Store) StoreRefreshedToken(ctx context.Context, workspaceID, id string, r RefreshedToken) (bool, error) {
	tag, err := s.Pool.Exec(ctx, `UPDATE connections SET token_ciphertext = $4,
			refresh_token_ciphertext = coalesce($5, refresh_token_ciphertext),
			token_expires_at = $6, token_key_id = $7, updated_at = now()
		WHERE workspace_id = $1 AND id = $2 AND token_ciphertext = $3 AND status IN ('active', 'error')`,
		workspaceID, id, r.Previous, r.Token, r.Refresh, r.ExpiresAt, r.KeyID)
	if err != nil {
		return false, fmt.Errorf("store refreshed token of connection %s: %w", id, err)
	}
	return tag.RowsAffected() == 1, nil
}

// ConnectionsToReseal lists, in id order after afterID, the connections whose tokens are
// not recorded as sealed under keyID.
func (s *Store) ConnectionsToReseal(ctx context.Context, keyID, afterID string, limit int) ([]string, error) {
	if afterID == "" {
		afterID = "00000000-0000-0000-0000-000000000000"
	}
	rows, err := s.Pool.Query(ctx, `SELECT id FROM connections WHERE token_key_id <> $1 AND id > $2
		ORDER BY id LIMIT $3`, keyID, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("list connections to re-seal: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list connections to re-seal: %w", err)
	}
	return out, nil
}

// ResealFunc returns the connection's tokens sealed anew; refresh is nil when it has none.
type ResealFunc func(c Connection) (token, refresh []byte, err error)

// ResealConnection re-seals one connection's tokens under keyID in its own transaction,
// holding the row so no other writer changes the tokens in between. A row already under
// keyID (another rotation got there first) is left alone: resealed is false.
func (s *Store) ResealConnection(ctx context.Context, id, keyID string, reseal ResealFunc) (resealed bool, err error) {
	err = s.InTx(ctx, func(tx pgx.Tx) error {
		c, err := scanConnection(tx.QueryRow(ctx, `SELECT `+connectionColumns+` FROM connections
			WHERE id = $1 AND token_key_id <> $2 FOR UPDATE`, id, keyID))
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		tok, refresh, err := reseal(c)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE connections SET token_ciphertext = $2, refresh_token_ciphertext = $3,
			token_key_id = $4 WHERE id = $1`, id, tok, refresh, keyID); err != nil {
			return err
		}
		resealed = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("re-seal connection %s: %w", id, err)
	}
	return resealed, nil
}
