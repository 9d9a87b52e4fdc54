package store

import (
	"context"
	"errors"
	"fmt"

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

// recordAdKeys remembers the keys of the page in ad_stage as read by the run. Call it after
// MergeAdRows in the same transaction, while the stage still holds the page.
func recordAdKeys(ctx context.Context, tx pgx.Tx, runID string) error {
	_, err := tx.Exec(ctx, `INSERT INTO sync_run_ad_keys (sync_run_id, channel, account_id, campaign_id, adset_id, ad_id, date)
		SELECT DISTINCT $1::uuid, channel, account_id, campaign_id, adset_id, ad_id, date FROM ad_stage
		ON CONFLICT DO NOTHING`, runID)
	if err != nil {
		return fmt.Errorf("record read ad keys: %w", err)
	}
	return nil
}

// replaceAdWindow removes the connection's ad rows dated inside the run's window that the
// completed read did not return: the provider no longer reports them (a deleted ad, a
// restated day), so keeping them would count spend that is not there.
func replaceAdWindow(ctx context.Context, tx pgx.Tx, run SyncRun) (int64, error) {
	tag, err := tx.Exec(ctx, `DELETE FROM ad_metrics_daily t
		WHERE t.workspace_id = $2 AND t.connection_id = $3 AND t.date BETWEEN $4 AND $5
		AND NOT EXISTS (SELECT 1 FROM sync_run_ad_keys k WHERE k.sync_run_id = $1
			AND k.channel = t.channel AND k.account_id = t.account_id AND k.campaign_id = t.campaign_id
			AND k.adset_id = t.adset_id AND k.ad_id = t.ad_id AND k.date = t.date)`,
		run.ID, run.WorkspaceID, run.ConnectionID, run.WindowFrom, run.WindowTo)
	if err != nil {
		return 0, fmt.Errorf("remove ad rows the read of %s did not return: %w", run.ID, err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM sync_run_ad_keys WHERE sync_run_id = $1`, run.ID); err != nil {
		return 0, fmt.Errorf("drop read ad keys: %w", err)
	}
	return tag.RowsAffected(), nil
}

// recordSessionKeys is recordAdKeys for session_stage.
func recordSessionKeys(ctx context.Context, tx pgx.Tx, runID string) error {
	_, err := tx.Exec(ctx, `INSERT INTO sync_run_session_keys (sync_run_id, property_id, date, source, medium, campaign)
		SELECT DISTINCT $1::uuid, property_id, date, source, medium, campaign FROM session_stage
		ON CONFLICT DO NOTHING`, runID)
	if err != nil {
		return fmt.Errorf("record read session keys: %w", err)
	}
	return nil
}

// replaceSessionWindow is replaceAdWindow for GA4 sessions, which GA4 re-buckets during its
// processing delay (rare values fold into "(other)").
func replaceSessionWindow(ctx context.Context, tx pgx.Tx, run SyncRun) (int64, error) {
	tag, err := tx.Exec(ctx, `DELETE FROM sessions_daily t
		WHERE t.workspace_id = $2 AND t.connection_id = $3 AND t.date BETWEEN $4 AND $5
		AND NOT EXISTS (SELECT 1 FROM sync_run_session_keys k WHERE k.sync_run_id = $1
			AND k.property_id = t.property_id AND k.date = t.date AND k.source = t.source
			AND k.medium = t.medium AND k.campaign = t.campaign)`,
		run.ID, run.WorkspaceID, run.ConnectionID, run.WindowFrom, run.WindowTo)
	if err != nil {
		return 0, fmt.Errorf("remove session rows the read of %s did not return: %w", run.ID, err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM sync_run_session_keys WHERE sync_run_id = $1`, run.ID); err != nil {
		return 0, fmt.Errorf("drop read session keys: %w", err)
	}
	return tag.RowsAffected(), nil
}
