package store

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// ErrSuperseded is returned to a SyncWindow attempt whose run a newer attempt has taken
// over (the older one was presumed dead by Temporal): it must stop writing.
var ErrSuperseded = errors.New("a newer attempt has taken over this sync run")

// Claim is an attempt's hold on a sync run: its writer fence and how many attempts in a row
// before it ended without moving the read.
type Claim struct {
	RunID string
	// Fence is the writer_seq this attempt took; page commits carrying an older one are refused.
	Fence int64
	// Stalled counts the attempts in a row, before this one, that failed or died without
	// committing anything.
	Stalled int
	// LastError is the error the last failed attempt recorded ("" if it died without one).
	LastError string
}

// ClaimSyncRun makes the calling attempt the run's only writer and counts the attempt that
// came before it as stalled if it ended without moving the read. A previous attempt that
// ended cleanly (ReleaseSyncRunClaim) never counts.
func (s *Store) ClaimSyncRun(ctx context.Context, runID string) (Claim, error) {
	c := Claim{RunID: runID}
	err := s.Pool.QueryRow(ctx, `UPDATE sync_runs SET
			writer_seq = writer_seq + 1,
			stalled_attempts = CASE
				WHEN claim_progress IS NULL THEN 0
				WHEN progress > claim_progress THEN 0
				ELSE stalled_attempts + 1 END,
			claim_progress = progress
		WHERE id = $1
		RETURNING writer_seq, stalled_attempts, last_attempt_error`, runID).Scan(&c.Fence, &c.Stalled, &c.LastError)
	if errors.Is(err, pgx.ErrNoRows) {
		return Claim{}, ErrNotFound
	}
	if err != nil {
		return Claim{}, fmt.Errorf("claim sync run %s: %w", runID, err)
	}
	return c, nil
}

// ReleaseSyncRunClaim records that the attempt ended cleanly (its call returned a result),
// so the next attempt starts with no stall against it.
func (s *Store) ReleaseSyncRunClaim(ctx context.Context, c Claim) error {
	_, err := s.Pool.Exec(ctx, `UPDATE sync_runs SET claim_progress = NULL, stalled_attempts = 0, last_attempt_error = ''
		WHERE id = $1 AND writer_seq = $2`, c.RunID, c.Fence)
	if err != nil {
		return fmt.Errorf("release claim on sync run %s: %w", c.RunID, err)
	}
	return nil
}

// RecordAttemptError keeps a failed attempt's error for the message the window gives up with.
func (s *Store) RecordAttemptError(ctx context.Context, c Claim, msg string) error {
	_, err := s.Pool.Exec(ctx, `UPDATE sync_runs SET last_attempt_error = $3 WHERE id = $1 AND writer_seq = $2`,
		c.RunID, c.Fence, msg)
	if err != nil {
		return fmt.Errorf("record attempt error of sync run %s: %w", c.RunID, err)
	}
	return nil
}

// commitPage runs one page's writes and moves the run's read position in one transaction,
// after checking under the run's row lock that the attempt still holds the run. When the
// page is the window's last (nextCursor ""), complete runs in the same transaction, so the
// read completes, and its removals happen, exactly once.
func (s *Store) commitPage(ctx context.Context, run SyncRun, c Claim, nextCursor string,
	write func(tx pgx.Tx) (int64, error), complete func(tx pgx.Tx) error) (SyncRun, error) {
	var out SyncRun
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		if err := checkFence(ctx, tx, c); err != nil {
			return err
		}
		n, err := write(tx)
		if err != nil {
			return err
		}
		last := nextCursor == ""
		if last && complete != nil {
			if err := complete(tx); err != nil {
				return err
			}
		}
		out, err = scanSyncRun(tx.QueryRow(ctx, `UPDATE sync_runs
			SET pages = pages + 1, rows_written = rows_written + $2, page_cursor = $3, progress = progress + 1,
				read_completed_at = CASE WHEN $4 THEN now() ELSE read_completed_at END
			WHERE id = $1 RETURNING `+syncRunColumns, run.ID, n, nextCursor, last))
		return err
	})
	if err != nil {
		return SyncRun{}, fmt.Errorf("commit page of sync run %s: %w", run.ID, err)
	}
	return out, nil
}

// checkFence locks the run's row and fails with ErrSuperseded if a newer attempt took it.
func checkFence(ctx context.Context, tx pgx.Tx, c Claim) error {
	var seq int64
	if err := tx.QueryRow(ctx, `SELECT writer_seq FROM sync_runs WHERE id = $1 FOR UPDATE`, c.RunID).Scan(&seq); err != nil {
		return fmt.Errorf("lock sync run %s: %w", c.RunID, err)
	}
	if seq != c.Fence {
		return ErrSuperseded
	}
	return nil
}

// windowFacts is a date-windowed fact table whose window reads replace the window: its
// stage table, the table of keys a run has read, and the key columns besides the date.
type windowFacts struct {
	facts, stage, keys string
	keyColumns         []string
}

var (
	// adFacts: one row per (ad, day) within a connection's account.
	adFacts = windowFacts{facts: "ad_metrics_daily", stage: "ad_stage", keys: "sync_run_ad_keys",
		keyColumns: []string{"channel", "account_id", "campaign_id", "adset_id", "ad_id", "date"}}
	// sessionFacts: GA4 re-buckets rows during its processing delay (rare values fold into
	// "(other)"), so a day's keys change, not only its values.
	sessionFacts = windowFacts{facts: "sessions_daily", stage: "session_stage", keys: "sync_run_session_keys",
		keyColumns: []string{"property_id", "date", "source", "medium", "campaign"}}
)

// recordKeys remembers the keys of the page in the stage table as read by the run. Call it
// after the page's merge in the same transaction, while the stage still holds the page.
func (f windowFacts) recordKeys(ctx context.Context, tx pgx.Tx, runID string) error {
	cols := strings.Join(f.keyColumns, ", ")
	_, err := tx.Exec(ctx, `INSERT INTO `+f.keys+` (sync_run_id, `+cols+`)
		SELECT DISTINCT $1::uuid, `+cols+` FROM `+f.stage+` ON CONFLICT DO NOTHING`, runID)
	if err != nil {
		return fmt.Errorf("record keys read into %s: %w", f.keys, err)
	}
	return nil
}

// replaceWindow removes the connection's rows dated inside the run's window that the
// completed read did not return: the provider no longer reports them (a deleted ad, a
// restated or re-bucketed day), so keeping them would count what is not there. It then
// drops the run's keys and returns how many rows it removed.
func (f windowFacts) replaceWindow(ctx context.Context, tx pgx.Tx, run SyncRun) (int64, error) {
	match := make([]string, len(f.keyColumns))
	for i, c := range f.keyColumns {
		match[i] = "k." + c + " = t." + c
	}
	tag, err := tx.Exec(ctx, `DELETE FROM `+f.facts+` t
		WHERE t.workspace_id = $2 AND t.connection_id = $3 AND t.date BETWEEN $4 AND $5
		AND NOT EXISTS (SELECT 1 FROM `+f.keys+` k WHERE k.sync_run_id = $1 AND `+strings.Join(match, " AND ")+`)`,
		run.ID, run.WorkspaceID, run.ConnectionID, run.WindowFrom, run.WindowTo)
	if err != nil {
		return 0, fmt.Errorf("remove %s rows the read of %s did not return: %w", f.facts, run.ID, err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM `+f.keys+` WHERE sync_run_id = $1`, run.ID); err != nil {
		return 0, fmt.Errorf("drop keys read into %s: %w", f.keys, err)
	}
	if n := tag.RowsAffected(); n > 0 {
		if _, err := tx.Exec(ctx, `UPDATE sync_runs SET rows_removed = rows_removed + $2 WHERE id = $1`, run.ID, n); err != nil {
			return 0, fmt.Errorf("count removed rows: %w", err)
		}
	}
	return tag.RowsAffected(), nil
}

// commitWindowPage commits one page of a date-windowed fact: merge writes the page into the
// stage and the table; the keys it read are recorded; the window's last page replaces the window.
func (s *Store) commitWindowPage(ctx context.Context, f windowFacts, run SyncRun, c Claim, nextCursor string,
	merge func(tx pgx.Tx) (int64, error)) (SyncRun, error) {
	return s.commitPage(ctx, run, c, nextCursor, func(tx pgx.Tx) (int64, error) {
		n, err := merge(tx)
		if err != nil || n == 0 {
			return n, err
		}
		return n, f.recordKeys(ctx, tx, run.ID)
	}, func(tx pgx.Tx) error {
		_, err := f.replaceWindow(ctx, tx, run)
		return err
	})
}
