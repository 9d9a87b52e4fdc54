package store

import (
	"context"
	"fmt"
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
