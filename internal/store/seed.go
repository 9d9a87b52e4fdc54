package store

import (
	"context"
	"fmt"
)

// EnsureWorkspace creates the workspace with a fixed id if it does not exist (demo seeding).
func (s *Store) EnsureWorkspace(ctx context.Context, id, name, currency, timezone string) error {
	_, err := s.Pool.Exec(ctx, `INSERT INTO workspaces (id, name, currency, timezone) VALUES ($1, $2, $3, $4)
		ON CONFLICT (id) DO NOTHING`, id, name, currency, timezone)
	if err != nil {
		return fmt.Errorf("ensure workspace %s: %w", id, err)
	}
	return nil
}

// EnsureAPIKey stores a key hash for the workspace if that hash is not stored yet.
func (s *Store) EnsureAPIKey(ctx context.Context, workspaceID, name, prefix string, hash []byte) error {
	_, err := s.Pool.Exec(ctx, `INSERT INTO api_keys (workspace_id, name, prefix, key_hash) VALUES ($1, $2, $3, $4)
		ON CONFLICT (key_hash) DO NOTHING`, workspaceID, name, prefix, hash)
	if err != nil {
		return fmt.Errorf("ensure api key %s: %w", prefix, err)
	}
	return nil
}

// FindConnection finds the workspace's connection of an account.
func (s *Store) FindConnection(ctx context.Context, workspaceID, channel, accountID string) (Connection, error) {
	c, err := scanConnection(s.Pool.QueryRow(ctx, `SELECT `+connectionColumns+` FROM connections
		WHERE workspace_id = $1 AND channel = $2 AND external_account_id = $3`, workspaceID, channel, accountID))
	if err != nil && err != ErrNotFound {
		return Connection{}, fmt.Errorf("find connection %s/%s: %w", channel, accountID, err)
	}
	return c, err
}
