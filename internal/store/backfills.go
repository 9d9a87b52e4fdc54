package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Backfill is one row of backfills: a backfill started through the API.
type Backfill struct {
	WorkflowID   string
	WorkspaceID  string
	ConnectionID string
	From         time.Time
	To           time.Time
	Status       string
	StartedAt    time.Time
}

// BackfillStatus reports the state of a backfill's workflow: "running", "succeeded",
// "failed" or "cancelled".
type BackfillStatus func(ctx context.Context, b Backfill) (string, error)

// startingGrace is how long a reserved backfill counts as running before its workflow is
// visible in Temporal (the API reserves, then starts).
const startingGrace = time.Minute

// ReserveBackfill records b as the connection's running backfill unless a running one
// overlaps its days; then it returns that one instead (which is b itself when the same
// backfill is already running). Rows still marked running are checked with status, so a
// backfill that ended without telling us (terminated, say) never blocks the connection.
// The connection row is locked, so two concurrent requests cannot both pass the check.
func (s *Store) ReserveBackfill(ctx context.Context, b Backfill, status BackfillStatus) (running *Backfill, err error) {
	err = s.InTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT 1 FROM connections WHERE id = $1 FOR UPDATE`, b.ConnectionID); err != nil {
			return fmt.Errorf("lock connection: %w", err)
		}
		rows, err := tx.Query(ctx, `SELECT workflow_id, workspace_id, connection_id, day_from, day_to, status, started_at
			FROM backfills WHERE connection_id = $1 AND status = 'running' AND day_from <= $3 AND day_to >= $2
			ORDER BY started_at`, b.ConnectionID, b.From, b.To)
		if err != nil {
			return fmt.Errorf("find overlapping backfills: %w", err)
		}
		overlapping, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Backfill, error) {
			var o Backfill
			err := r.Scan(&o.WorkflowID, &o.WorkspaceID, &o.ConnectionID, &o.From, &o.To, &o.Status, &o.StartedAt)
			return o, err
		})
		if err != nil {
			return fmt.Errorf("scan backfill: %w", err)
		}
		for _, o := range overlapping {
			st, err := status(ctx, o)
			if err != nil {
				return fmt.Errorf("check backfill %s: %w", o.WorkflowID, err)
			}
			if st == RunRunning {
				o := o
				running = &o
				return nil
			}
			if _, err := tx.Exec(ctx, `UPDATE backfills SET status = $2, finished_at = coalesce(finished_at, now())
				WHERE workflow_id = $1`, o.WorkflowID, st); err != nil {
				return fmt.Errorf("close backfill %s: %w", o.WorkflowID, err)
			}
		}
		_, err = tx.Exec(ctx, `INSERT INTO backfills (workflow_id, workspace_id, connection_id, day_from, day_to)
			VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (workflow_id) DO UPDATE SET status = 'running', error = '', started_at = now(), finished_at = NULL`,
			b.WorkflowID, b.WorkspaceID, b.ConnectionID, b.From, b.To)
		if err != nil {
			return fmt.Errorf("record backfill: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reserve backfill %s: %w", b.WorkflowID, err)
	}
	return running, nil
}

// InStartingGrace reports whether b was reserved so recently that its workflow may not be
// visible yet.
func (b Backfill) InStartingGrace(now time.Time) bool { return now.Sub(b.StartedAt) < startingGrace }
