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

// BackfillAdmit decides whether a new backfill may start beside the workspace's running
// ones (every one of them checked with BackfillStatus first). A non-nil error refuses it;
// ReserveBackfill returns that error, wrapped.
type BackfillAdmit func(ctx context.Context, running []Backfill) error

// ReserveBackfill records b as the connection's running backfill unless a running one
// overlaps its days; then it returns that one instead (which is b itself when the same
// backfill is already running). Otherwise admit (nil: always) decides, from the
// workspace's running backfills, whether b may start. Rows still marked running are
// checked with status, so a backfill that ended without telling us (terminated, say)
// neither blocks the connection nor counts against the workspace.
//
// A transaction-scoped advisory lock per workspace serialises reservations, so two
// concurrent requests, on any API replica, cannot both pass the checks.
func (s *Store) ReserveBackfill(ctx context.Context, b Backfill, status BackfillStatus, admit BackfillAdmit) (running *Backfill, err error) {
	var refused error
	err = s.InTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('backfills:' || $1::text, 0))`, b.WorkspaceID); err != nil {
			return fmt.Errorf("lock workspace backfills: %w", err)
		}
		rows, err := tx.Query(ctx, `SELECT workflow_id, workspace_id, connection_id, day_from, day_to, status, started_at
			FROM backfills WHERE workspace_id = $1 AND status = 'running' ORDER BY started_at, workflow_id`, b.WorkspaceID)
		if err != nil {
			return fmt.Errorf("find running backfills: %w", err)
		}
		recorded, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Backfill, error) {
			var o Backfill
			err := r.Scan(&o.WorkflowID, &o.WorkspaceID, &o.ConnectionID, &o.From, &o.To, &o.Status, &o.StartedAt)
			return o, err
		})
		if err != nil {
			return fmt.Errorf("scan backfill: %w", err)
		}
		var live []Backfill
		for _, o := range recorded {
			st, err := status(ctx, o)
			if err != nil {
				return fmt.Errorf("check backfill %s: %w", o.WorkflowID, err)
			}
			if st == RunRunning {
				live = append(live, o)
				continue
			}
			if _, err := tx.Exec(ctx, `UPDATE backfills SET status = $2, finished_at = coalesce(finished_at, now())
				WHERE workflow_id = $1`, o.WorkflowID, st); err != nil {
				return fmt.Errorf("close backfill %s: %w", o.WorkflowID, err)
			}
		}
		for _, o := range live {
			if o.ConnectionID == b.ConnectionID && !o.From.After(b.To) && !o.To.Before(b.From) {
				o := o
				running = &o
				return nil
			}
		}
		if admit != nil {
			// Refused, the transaction still commits the rows it closed above.
			if refused = admit(ctx, live); refused != nil {
				return nil
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
	if err == nil && refused != nil {
		err = refused
	}
	if err != nil {
		return nil, fmt.Errorf("reserve backfill %s: %w", b.WorkflowID, err)
	}
	return running, nil
}

// InStartingGrace reports whether b was reserved so recently that its workflow may not be
// visible yet.
func (b Backfill) InStartingGrace(now time.Time) bool { return now.Sub(b.StartedAt) < startingGrace }
