package store

import (
	"context"
	"fmt"
)

// BeginDunning records, in q's transaction, that workflowID is the workspace's dunning
// episode in its first state (grace), unless an episode is already in force. The webhook
// calls it in the transaction that starts the episode, so the next event of the same
// subscription finds the episode at once instead of starting a second one before the
// workflow's first activity has run. The workflow's own SetDunning(grace, workflowID)
// then changes nothing.
func (s *Store) BeginDunning(ctx context.Context, q Querier, workspaceID, workflowID string) error {
	_, err := q.Exec(ctx, `
		UPDATE billing_accounts SET dunning_state = 'grace', dunning_workflow_id = $2, dunning_since = now(), updated_at = now()
		WHERE workspace_id = $1 AND (dunning_state = 'none' OR dunning_workflow_id IS NULL)`, workspaceID, workflowID)
	if err != nil {
		return fmt.Errorf("begin dunning %s of %s: %w", workflowID, workspaceID, err)
	}
	return nil
}
