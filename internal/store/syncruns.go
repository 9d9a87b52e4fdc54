package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
)

// Sync run statuses.
const (
	RunRunning   = "running"
	RunSucceeded = "succeeded"
	RunFailed    = "failed"
	RunSkipped   = "skipped"
	RunCancelled = "cancelled"
)

// SyncRun is one row of sync_runs.
type SyncRun struct {
	ID           string
	WorkspaceID  string
	ConnectionID string
	Channel      string
	Kind         string
	WorkflowID   string
	RunID        string
	WindowFrom   time.Time
	WindowTo     time.Time
	Status       string
	Pages        int
	RowsWritten  int64
	PageCursor   string
	Error        string
	StartedAt    time.Time
	FinishedAt   *time.Time
	// UpdatedMin is where an orders read starts (updated_at_min); nil for date windows.
	UpdatedMin *time.Time
	// ReadCompletedAt is when the window's last page was committed.
	ReadCompletedAt *time.Time
	// RowsRemoved counts the window's rows the completed read removed.
	RowsRemoved int64
	// StalledAttempts counts the attempts in a row that ended without moving the read.
	StalledAttempts int
}

const syncRunColumns = `id, workspace_id, connection_id, channel, kind, workflow_id, run_id, window_from,
	window_to, status, pages, rows_written, page_cursor, error, started_at, finished_at, updated_min,
	read_completed_at, rows_removed, stalled_attempts`

func scanSyncRun(row pgx.Row) (SyncRun, error) {
	var r SyncRun
	err := row.Scan(&r.ID, &r.WorkspaceID, &r.ConnectionID, &r.Channel, &r.Kind, &r.WorkflowID, &r.RunID,
		&r.WindowFrom, &r.WindowTo, &r.Status, &r.Pages, &r.RowsWritten, &r.PageCursor, &r.Error,
		&r.StartedAt, &r.FinishedAt, &r.UpdatedMin,
		&r.ReadCompletedAt, &r.RowsRemoved, &r.StalledAttempts)
	if errors.Is(err, pgx.ErrNoRows) {
		return SyncRun{}, ErrNotFound
	}
	return r, err
}

// NewSyncRun is what StartSyncRun records.
type NewSyncRun struct {
	WorkspaceID  string
	ConnectionID string
	Channel      string
	Kind         string
	WorkflowID   string
	RunID        string
	Window       channels.Window
	UpdatedMin   *time.Time
}

// StartSyncRun inserts the run's row, or returns the existing one when an activity retry
// records the same workflow run again.
func (s *Store) StartSyncRun(ctx context.Context, n NewSyncRun) (SyncRun, error) {
	r, err := scanSyncRun(s.Pool.QueryRow(ctx, `
		INSERT INTO sync_runs (workspace_id, connection_id, channel, kind, workflow_id, run_id, window_from, window_to,
			updated_min)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT (workflow_id, run_id) DO UPDATE SET workflow_id = EXCLUDED.workflow_id
		RETURNING `+syncRunColumns,
		n.WorkspaceID, n.ConnectionID, n.Channel, n.Kind, n.WorkflowID, n.RunID, n.Window.From, n.Window.To, n.UpdatedMin))
	if err != nil {
		return SyncRun{}, fmt.Errorf("record sync run of %s: %w", n.WorkflowID, err)
	}
	return r, nil
}

// GetSyncRun loads a run by id.
func (s *Store) GetSyncRun(ctx context.Context, id string) (SyncRun, error) {
	r, err := scanSyncRun(s.Pool.QueryRow(ctx, `SELECT `+syncRunColumns+` FROM sync_runs WHERE id = $1`, id))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return SyncRun{}, fmt.Errorf("load sync run %s: %w", id, err)
	}
	return r, err
}

// ListSyncRunsByWorkflow lists the workspace's runs recorded under workflowID, newest first.
func (s *Store) ListSyncRunsByWorkflow(ctx context.Context, workspaceID, workflowID string) ([]SyncRun, error) {
	rows, err := s.Pool.Query(ctx, `SELECT `+syncRunColumns+` FROM sync_runs
		WHERE workspace_id = $1 AND workflow_id = $2 ORDER BY started_at DESC LIMIT 20`, workspaceID, workflowID)
	if err != nil {
		return nil, fmt.Errorf("list sync runs of %s: %w", workflowID, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (SyncRun, error) { return scanSyncRun(row) })
	if err != nil {
		return nil, fmt.Errorf("scan sync run: %w", err)
	}
	return out, nil
}

// CommitAdPage merges one page of rows and records the run's new read position and counters
// in the same transaction, so the stored cursor never runs ahead of, or behind, the data.
// The window's last page (nextCursor "") also removes the window's rows the read did not
// return, so a completed read leaves exactly what the provider reported.
func (s *Store) CommitAdPage(ctx context.Context, run SyncRun, c Claim, rows []channels.AdRow, nextCursor string) (SyncRun, error) {
	return s.commitWindowPage(ctx, adFacts, run, c, nextCursor, func(tx pgx.Tx) (int64, error) {
		return MergeAdRows(ctx, tx, run.WorkspaceID, run.ConnectionID, rows)
	})
}

// SaveSyncCursor records a read position that carries no rows (a report job was started).
func (s *Store) SaveSyncCursor(ctx context.Context, c Claim, cursor string) error {
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		if err := checkFence(ctx, tx, c); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE sync_runs SET page_cursor = $2, progress = progress + 1 WHERE id = $1`, c.RunID, cursor)
		return err
	})
	if err != nil {
		return fmt.Errorf("save cursor of sync run %s: %w", c.RunID, err)
	}
	return nil
}

// FinishRun is how a run closes.
type FinishRun struct {
	RunID  string
	Status string // RunSucceeded, RunFailed or RunCancelled
	Error  string
	// AdvanceCursor moves the connection's cursor_date to the window's end (a succeeded
	// incremental sync).
	AdvanceCursor bool
	// WorkflowID is the workflow the connection names when the run failed.
	WorkflowID string
}

// FinishSyncRun closes a run and shows its outcome on the connection, in one transaction.
// A failed run, incremental or backfill, sets the connection to error with the failure,
// its time and workflow (a connection that needs re-authentication keeps that status); a
// succeeded run clears an error recorded before the run started. Only the first close of a
// run touches the connection, so a retried finish changes nothing more.
func (s *Store) FinishSyncRun(ctx context.Context, f FinishRun) (SyncRun, error) {
	var out SyncRun
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		var prev string
		if err := tx.QueryRow(ctx, `SELECT status FROM sync_runs WHERE id = $1 FOR UPDATE`, f.RunID).Scan(&prev); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return ErrNotFound
			}
			return err
		}
		var err error
		out, err = scanSyncRun(tx.QueryRow(ctx, `UPDATE sync_runs
			SET status = CASE WHEN status = 'running' THEN $2 ELSE status END,
				error = CASE WHEN status = 'running' THEN $3 ELSE error END,
				finished_at = coalesce(finished_at, now())
			WHERE id = $1 RETURNING `+syncRunColumns, f.RunID, f.Status, f.Error))
		if err != nil {
			return err
		}
		// A run that never completed its read leaves its read keys behind; they mean nothing now.
		for _, table := range []string{adFacts.keys, sessionFacts.keys} {
			if _, err := tx.Exec(ctx, `DELETE FROM `+table+` WHERE sync_run_id = $1`, f.RunID); err != nil {
				return fmt.Errorf("drop read keys: %w", err)
			}
		}
		if prev != RunRunning {
			return nil
		}
		switch f.Status {
		case RunSucceeded:
			_, err = tx.Exec(ctx, `UPDATE connections SET
				cursor_date = CASE WHEN $3 THEN greatest(coalesce(cursor_date, $2::date), $2::date) ELSE cursor_date END,
				last_synced_at = now(),
				status = CASE WHEN status = 'error' AND coalesce(last_error_at <= $4, true) THEN 'active' ELSE status END,
				status_reason = CASE WHEN status = 'error' AND coalesce(last_error_at <= $4, true) THEN '' ELSE status_reason END,
				last_error_workflow_id = CASE WHEN coalesce(last_error_at <= $4, false) THEN '' ELSE last_error_workflow_id END,
				last_error = CASE WHEN coalesce(last_error_at <= $4, false) THEN '' ELSE last_error END,
				last_error_at = CASE WHEN coalesce(last_error_at <= $4, false) THEN NULL ELSE last_error_at END,
				updated_at = now()
				WHERE id = $1`, out.ConnectionID, out.WindowTo, f.AdvanceCursor, out.StartedAt)
		case RunFailed:
			_, err = tx.Exec(ctx, `UPDATE connections SET
				status = CASE WHEN status = 'active' THEN 'error' ELSE status END,
				status_reason = CASE WHEN status IN ('active', 'error') THEN $2 ELSE status_reason END,
				last_error_at = now(), last_error_workflow_id = $3, last_error = $2, updated_at = now()
				WHERE id = $1`, out.ConnectionID, f.Error, f.WorkflowID)
		}
		return err
	})
	if err != nil {
		return SyncRun{}, fmt.Errorf("finish sync run %s: %w", f.RunID, err)
	}
	return out, nil
}

// AcquireSyncLock makes workflowID the connection's one running incremental sync. It
// succeeds when the lock is free, already held by workflowID, or held by a workflow that
// isStale reports as no longer running; otherwise it returns the holder.
func (s *Store) AcquireSyncLock(ctx context.Context, connectionID, workflowID string,
	isStale func(ctx context.Context, holder string) (bool, error)) (acquired bool, holder string, err error) {
	err = s.InTx(ctx, func(tx pgx.Tx) error {
		var cur *string
		if err := tx.QueryRow(ctx, `SELECT active_sync_workflow_id FROM connections WHERE id = $1 FOR UPDATE`,
			connectionID).Scan(&cur); err != nil {
			return fmt.Errorf("lock connection row: %w", err)
		}
		if cur != nil && *cur != "" && *cur != workflowID {
			stale, err := isStale(ctx, *cur)
			if err != nil {
				return fmt.Errorf("check holder %s: %w", *cur, err)
			}
			if !stale {
				holder = *cur
				return nil
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE connections SET active_sync_workflow_id = $2 WHERE id = $1`,
			connectionID, workflowID); err != nil {
			return fmt.Errorf("take sync lock: %w", err)
		}
		acquired = true
		return nil
	})
	if err != nil {
		return false, "", fmt.Errorf("acquire sync lock on connection %s: %w", connectionID, err)
	}
	return acquired, holder, nil
}

// ReleaseSyncLock frees the lock if workflowID holds it.
func (s *Store) ReleaseSyncLock(ctx context.Context, connectionID, workflowID string) error {
	_, err := s.Pool.Exec(ctx, `UPDATE connections SET active_sync_workflow_id = NULL
		WHERE id = $1 AND active_sync_workflow_id = $2`, connectionID, workflowID)
	if err != nil {
		return fmt.Errorf("release sync lock on connection %s: %w", connectionID, err)
	}
	return nil
}

// RunningSyncWorkflow returns the workflow id holding the connection's sync lock, or "".
func (s *Store) RunningSyncWorkflow(ctx context.Context, workspaceID, connectionID string) (string, error) {
	var cur *string
	err := s.Pool.QueryRow(ctx, `SELECT active_sync_workflow_id FROM connections WHERE workspace_id = $1 AND id = $2`,
		workspaceID, connectionID).Scan(&cur)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("read sync lock of connection %s: %w", connectionID, err)
	}
	if cur == nil {
		return "", nil
	}
	return *cur, nil
}
