package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/omnitrackiq/omnitrackiq/internal/report"
)

// ErrReportNotFound is returned when a report, one of its runs or deliveries does not exist
// (or not in the caller's workspace).
var ErrReportNotFound = errors.New("report not found")

// Report run statuses (report_runs.status).
const (
	ReportRunRunning            = "running"
	ReportRunRendered           = "rendered"
	ReportRunDelivered          = "delivered"
	ReportRunPartiallyDelivered = "partially_delivered"
	ReportRunFailed             = "failed"
	ReportRunSkipped            = "skipped"
)

// Report delivery kinds and statuses (report_deliveries).
const (
	ReportDeliveryEmail   = "email"
	ReportDeliveryWebhook = "webhook"

	ReportDeliveryPending = "pending"
	ReportDeliverySending = "sending"
	ReportDeliverySent    = "sent"
	ReportDeliveryFailed  = "failed"
)

// ReportForRun is what a run needs of its report.
type ReportForRun struct {
	ID           string
	WorkspaceID  string
	Name         string
	Definition   report.Definition
	Timezone     string
	Paused       bool
	PausedReason string
	// WebhookSecretCiphertext is the secretbox-sealed signing key (nil when none).
	WebhookSecretCiphertext []byte
}

// LoadReportForRun loads a report by id for the run activities, which know its id from
// the workflow input; ErrReportNotFound when it was deleted.
func (s *Store) LoadReportForRun(ctx context.Context, reportID string) (ReportForRun, error) {
	var r ReportForRun
	var def []byte
	err := s.Pool.QueryRow(ctx, `SELECT id, workspace_id, name, definition, timezone, paused, paused_reason,
		webhook_secret_ciphertext FROM reports WHERE id = $1`, reportID).
		Scan(&r.ID, &r.WorkspaceID, &r.Name, &def, &r.Timezone, &r.Paused, &r.PausedReason, &r.WebhookSecretCiphertext)
	if err != nil {
		return ReportForRun{}, reportRunErr(err, "load report %s", reportID)
	}
	if err := json.Unmarshal(def, &r.Definition); err != nil {
		return ReportForRun{}, fmt.Errorf("load report %s: decode definition: %w", reportID, err)
	}
	return r, nil
}

// PauseReportForFailures pauses a report because a target kept failing; reason is shown
// with the report. Pausing a paused report only updates the reason.
func (s *Store) PauseReportForFailures(ctx context.Context, reportID, reason string) error {
	tag, err := s.Pool.Exec(ctx, `UPDATE reports SET paused = true, paused_reason = $2, updated_at = now()
		WHERE id = $1`, reportID, reason)
	if err != nil {
		return fmt.Errorf("pause report %s: %w", reportID, err)
	}
	if tag.RowsAffected() == 0 {
		return ErrReportNotFound
	}
	return nil
}

// ReportRun is one row of report_runs. From and To are YYYY-MM-DD.
type ReportRun struct {
	ID          string
	WorkspaceID string
	ReportID    string
	WorkflowID  string
	Trigger     string
	From, To    string
	Status      string
	RowCount    int
	Freshness   []report.Freshness
	// Document is the rendered document without its rows.
	Document   report.Document
	Error      string
	StartedAt  time.Time
	FinishedAt *time.Time
}

const reportRunColumns = `id, workspace_id, report_id, workflow_id, trigger, to_char(range_from, 'YYYY-MM-DD'),
	to_char(range_to, 'YYYY-MM-DD'), status, row_count, freshness, document, error, started_at, finished_at`

func scanReportRun(row pgx.Row) (ReportRun, error) {
	var r ReportRun
	var fresh, doc []byte
	err := row.Scan(&r.ID, &r.WorkspaceID, &r.ReportID, &r.WorkflowID, &r.Trigger, &r.From, &r.To, &r.Status,
		&r.RowCount, &fresh, &doc, &r.Error, &r.StartedAt, &r.FinishedAt)
	if err != nil {
		return ReportRun{}, err
	}
	if err := json.Unmarshal(fresh, &r.Freshness); err != nil {
		return ReportRun{}, fmt.Errorf("decode freshness of run %s: %w", r.ID, err)
	}
	if err := json.Unmarshal(doc, &r.Document); err != nil {
		return ReportRun{}, fmt.Errorf("decode document of run %s: %w", r.ID, err)
	}
	return r, nil
}

// StartReportRunParams is what StartReportRun records. ID is the run's id when the API
// chose it (manual runs); empty lets the database choose.
type StartReportRunParams struct {
	ID          string
	WorkspaceID string
	ReportID    string
	WorkflowID  string
	Trigger     string
	From, To    string
}

// StartReportRun inserts the run of workflow p.WorkflowID, or returns the one an earlier
// attempt inserted (with the range it recorded then), or the row with id p.ID if the API
// recorded the run before starting its workflow. ErrReportNotFound when the report is not
// in the workspace.
func (s *Store) StartReportRun(ctx context.Context, p StartReportRunParams) (ReportRun, error) {
	// DO NOTHING without a target covers both the workflow id and a chosen id already used.
	r, err := scanReportRun(s.Pool.QueryRow(ctx, `
		INSERT INTO report_runs (id, workspace_id, report_id, workflow_id, trigger, range_from, range_to)
		SELECT coalesce(nullif($1, '')::uuid, gen_random_uuid()), r.workspace_id, r.id, $4, $5, $6::date, $7::date
		FROM reports r WHERE r.id = $3 AND r.workspace_id = $2
		ON CONFLICT DO NOTHING
		RETURNING `+reportRunColumns, p.ID, p.WorkspaceID, p.ReportID, p.WorkflowID, p.Trigger, p.From, p.To))
	if errors.Is(err, pgx.ErrNoRows) {
		r, err = scanReportRun(s.Pool.QueryRow(ctx, `SELECT `+reportRunColumns+` FROM report_runs
			WHERE workspace_id = $1 AND report_id = $2 AND (workflow_id = $3 OR id = nullif($4, '')::uuid)
			ORDER BY workflow_id = $3 DESC LIMIT 1`, p.WorkspaceID, p.ReportID, p.WorkflowID, p.ID))
	}
	if err != nil {
		return ReportRun{}, reportRunErr(err, "start run %s of report %s", p.WorkflowID, p.ReportID)
	}
	return r, nil
}

// GetReportRun loads a run by id (the activities; the API uses GetReportRunWithDeliveries).
func (s *Store) GetReportRun(ctx context.Context, runID string) (ReportRun, error) {
	r, err := scanReportRun(s.Pool.QueryRow(ctx, `SELECT `+reportRunColumns+` FROM report_runs WHERE id = $1`, runID))
	if err != nil {
		return ReportRun{}, reportRunErr(err, "load report run %s", runID)
	}
	return r, nil
}

// SetReportRunRendered stores a run's artifacts (replacing those of an earlier attempt),
// its row count, freshness and document (stored without rows) and marks it rendered, in
// one transaction.
func (s *Store) SetReportRunRendered(ctx context.Context, runID string, rows int, freshness []report.Freshness,
	doc report.Document, artifacts []report.Artifact) error {
	doc.Rows = nil
	if freshness == nil {
		freshness = []report.Freshness{}
	}
	fresh, err := json.Marshal(freshness)
	if err != nil {
		return fmt.Errorf("render run %s: encode freshness: %w", runID, err)
	}
	docJSON, err := json.Marshal(doc)
	if err != nil {
		return fmt.Errorf("render run %s: encode document: %w", runID, err)
	}
	err = s.InTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE report_runs SET row_count = $2, freshness = $3, document = $4,
			status = CASE WHEN status IN ('running', 'rendered') THEN 'rendered' ELSE status END
			WHERE id = $1`, runID, rows, fresh, docJSON)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return ErrReportNotFound
		}
		for _, a := range artifacts {
			sum := sha256.Sum256(a.Content)
			if _, err := tx.Exec(ctx, `INSERT INTO report_artifacts (run_id, format, content_type, filename, content, sha256)
				VALUES ($1, $2, $3, $4, $5, $6)
				ON CONFLICT (run_id, format) DO UPDATE SET content_type = EXCLUDED.content_type,
					filename = EXCLUDED.filename, content = EXCLUDED.content, sha256 = EXCLUDED.sha256, created_at = now()`,
				runID, a.Format, a.ContentType, a.Filename, a.Content, hex.EncodeToString(sum[:])); err != nil {
				return fmt.Errorf("store %s artifact: %w", a.Format, err)
			}
		}
		return nil
	})
	if err != nil {
		return reportRunErr(err, "store rendered run %s", runID)
	}
	return nil
}

// FinishReportRun records a run's outcome; a retried finish records the same.
func (s *Store) FinishReportRun(ctx context.Context, runID, status, errText string) error {
	tag, err := s.Pool.Exec(ctx, `UPDATE report_runs SET status = $2, error = $3, finished_at = coalesce(finished_at, now())
		WHERE id = $1`, runID, status, errText)
	if err != nil {
		return fmt.Errorf("finish report run %s: %w", runID, err)
	}
	if tag.RowsAffected() == 0 {
		return ErrReportNotFound
	}
	return nil
}

// ReportArtifactFile is one stored artifact. Content is nil in listings.
type ReportArtifactFile struct {
	RunID       string
	Format      string
	ContentType string
	Filename    string
	Content     []byte
	Size        int
	SHA256      string
	CreatedAt   time.Time
}

const reportArtifactColumns = `run_id, format, content_type, filename, content, length(content), sha256, created_at`

func scanReportArtifact(row pgx.Row) (ReportArtifactFile, error) {
	var a ReportArtifactFile
	err := row.Scan(&a.RunID, &a.Format, &a.ContentType, &a.Filename, &a.Content, &a.Size, &a.SHA256, &a.CreatedAt)
	return a, err
}

// ReportArtifact loads one artifact of a run (activities; the API uses
// DownloadReportArtifact, which checks the workspace).
func (s *Store) ReportArtifact(ctx context.Context, runID, format string) (ReportArtifactFile, error) {
	a, err := scanReportArtifact(s.Pool.QueryRow(ctx, `SELECT `+reportArtifactColumns+`
		FROM report_artifacts WHERE run_id = $1 AND format = $2`, runID, format))
	if err != nil {
		return ReportArtifactFile{}, reportRunErr(err, "load %s artifact of run %s", format, runID)
	}
	return a, nil
}

// ReportArtifacts loads every artifact of a run with its content, in format order.
func (s *Store) ReportArtifacts(ctx context.Context, runID string) ([]ReportArtifactFile, error) {
	rows, err := s.Pool.Query(ctx, `SELECT `+reportArtifactColumns+` FROM report_artifacts
		WHERE run_id = $1 ORDER BY format`, runID)
	if err != nil {
		return nil, reportRunErr(err, "load artifacts of run %s", runID)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (ReportArtifactFile, error) { return scanReportArtifact(row) })
	if err != nil {
		return nil, fmt.Errorf("load artifacts of run %s: %w", runID, err)
	}
	return out, nil
}

// DownloadReportArtifact loads an artifact of a run of the workspace's report, for the
// download endpoint; ErrReportNotFound when any of them is not the caller's.
func (s *Store) DownloadReportArtifact(ctx context.Context, workspaceID, reportID, runID, format string) (ReportArtifactFile, error) {
	a, err := scanReportArtifact(s.Pool.QueryRow(ctx, `SELECT a.run_id, a.format, a.content_type, a.filename, a.content,
		length(a.content), a.sha256, a.created_at
		FROM report_artifacts a JOIN report_runs r ON r.id = a.run_id
		WHERE r.workspace_id = $1 AND r.report_id = $2 AND a.run_id = $3 AND a.format = $4`,
		workspaceID, reportID, runID, format))
	if err != nil {
		return ReportArtifactFile{}, reportRunErr(err, "load %s artifact of run %s", format, runID)
	}
	return a, nil
}

// ReportDelivery is one row of report_deliveries.
type ReportDelivery struct {
	ID             string
	RunID          string
	WorkspaceID    string
	Kind           string
	Target         string
	Status         string
	Attempts       int
	LastError      string
	ResponseStatus *int
	SentAt         *time.Time
	UpdatedAt      time.Time
}

const reportDeliveryColumns = `id, run_id, workspace_id, kind, target, status, attempts, last_error, response_status,
	sent_at, updated_at`

func scanReportDelivery(row pgx.Row) (ReportDelivery, error) {
	var d ReportDelivery
	err := row.Scan(&d.ID, &d.RunID, &d.WorkspaceID, &d.Kind, &d.Target, &d.Status, &d.Attempts, &d.LastError,
		&d.ResponseStatus, &d.SentAt, &d.UpdatedAt)
	return d, err
}

// EnsureReportDeliveries creates one delivery per recipient of the run unless an earlier
// attempt did, and returns the ids of all the run's deliveries: emails first, then
// webhooks, each by target.
func (s *Store) EnsureReportDeliveries(ctx context.Context, runID, workspaceID string, emails, webhooks []string) ([]string, error) {
	var ids []string
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		for _, set := range []struct {
			kind    string
			targets []string
		}{{ReportDeliveryEmail, emails}, {ReportDeliveryWebhook, webhooks}} {
			for _, t := range set.targets {
				if t = strings.TrimSpace(t); t == "" {
					continue
				}
				if _, err := tx.Exec(ctx, `INSERT INTO report_deliveries (run_id, workspace_id, kind, target)
					VALUES ($1, $2, $3, $4) ON CONFLICT (run_id, kind, target) DO NOTHING`,
					runID, workspaceID, set.kind, t); err != nil {
					return err
				}
			}
		}
		rows, err := tx.Query(ctx, `SELECT id FROM report_deliveries WHERE run_id = $1 AND workspace_id = $2
			ORDER BY kind, target`, runID, workspaceID)
		if err != nil {
			return err
		}
		ids, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if err != nil {
		return nil, reportRunErr(err, "record deliveries of run %s", runID)
	}
	return ids, nil
}

// GetReportDelivery loads a delivery by id.
func (s *Store) GetReportDelivery(ctx context.Context, id string) (ReportDelivery, error) {
	d, err := scanReportDelivery(s.Pool.QueryRow(ctx, `SELECT `+reportDeliveryColumns+` FROM report_deliveries WHERE id = $1`, id))
	if err != nil {
		return ReportDelivery{}, reportRunErr(err, "load report delivery %s", id)
	}
	return d, nil
}

// ClaimReportDelivery marks a delivery as being sent and counts the attempt, unless it was
// sent already: then alreadySent is true and nothing changes, so a retried activity never
// sends twice.
func (s *Store) ClaimReportDelivery(ctx context.Context, id string) (ReportDelivery, bool, error) {
	d, err := scanReportDelivery(s.Pool.QueryRow(ctx, `UPDATE report_deliveries
		SET status = 'sending', attempts = attempts + 1, updated_at = now()
		WHERE id = $1 AND status <> 'sent' RETURNING `+reportDeliveryColumns, id))
	if err == nil {
		return d, false, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return ReportDelivery{}, false, reportRunErr(err, "claim report delivery %s", id)
	}
	d, err = s.GetReportDelivery(ctx, id)
	if err != nil {
		return ReportDelivery{}, false, err
	}
	return d, d.Status == ReportDeliverySent, nil
}

// NoteReportDeliveryError records a failed attempt that will be retried: the delivery is
// pending again and shows the error.
func (s *Store) NoteReportDeliveryError(ctx context.Context, id, errText string) error {
	_, err := s.Pool.Exec(ctx, `UPDATE report_deliveries SET status = 'pending', last_error = $2, updated_at = now()
		WHERE id = $1 AND status <> 'sent'`, id, errText)
	if err != nil {
		return fmt.Errorf("note error of report delivery %s: %w", id, err)
	}
	return nil
}

// MarkReportDeliverySent records that a delivery was sent and, in the same transaction,
// ends its target's failure streak.
func (s *Store) MarkReportDeliverySent(ctx context.Context, id string, responseStatus *int) error {
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		var reportID, kind, target string
		err := tx.QueryRow(ctx, `UPDATE report_deliveries d SET status = 'sent', response_status = $2,
				sent_at = coalesce(d.sent_at, now()), updated_at = now()
			FROM report_runs r WHERE d.id = $1 AND r.id = d.run_id
			RETURNING r.report_id, d.kind, d.target`, id, responseStatus).Scan(&reportID, &kind, &target)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM report_target_failures WHERE report_id = $1 AND kind = $2 AND target = $3`,
			reportID, kind, target)
		return err
	})
	if err != nil {
		return reportRunErr(err, "mark report delivery %s sent", id)
	}
	return nil
}

// ReportTargetFailure is a target's failure streak after MarkReportDeliveryFailed.
type ReportTargetFailure struct {
	ReportID    string
	WorkspaceID string
	Kind        string
	Target      string
	// ConsecutiveFailures counts the runs in a row that failed to reach the target.
	ConsecutiveFailures int
	LastError           string
	// Notify: this call reached the limit first, so it (and no other) tells the admins.
	Notify bool
}

// MarkReportDeliveryFailed records that a delivery failed for good and, in the same
// transaction, counts one more failure of its target (only when the delivery was not
// already failed, so a retried call counts once). When the streak reaches limit (> 0) and
// nobody was told yet, this call claims the notice (Notify): among concurrent failures of
// the same target exactly one does. A sent delivery is left alone (Notify false).
func (s *Store) MarkReportDeliveryFailed(ctx context.Context, id, errText string, limit int) (ReportTargetFailure, error) {
	var f ReportTargetFailure
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		var status string
		err := tx.QueryRow(ctx, `SELECT r.report_id, d.workspace_id, d.kind, d.target, d.status
			FROM report_deliveries d JOIN report_runs r ON r.id = d.run_id WHERE d.id = $1 FOR UPDATE OF d`, id).
			Scan(&f.ReportID, &f.WorkspaceID, &f.Kind, &f.Target, &status)
		if err != nil {
			return err
		}
		if status == ReportDeliverySent {
			return nil
		}
		if status != ReportDeliveryFailed {
			if _, err := tx.Exec(ctx, `UPDATE report_deliveries SET status = 'failed', last_error = $2, updated_at = now()
				WHERE id = $1`, id, errText); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO report_target_failures (report_id, kind, target, consecutive_failures, last_error)
				VALUES ($1, $2, $3, 1, $4)
				ON CONFLICT (report_id, kind, target) DO UPDATE SET
					consecutive_failures = report_target_failures.consecutive_failures + 1,
					last_error = EXCLUDED.last_error, updated_at = now()`, f.ReportID, f.Kind, f.Target, errText); err != nil {
				return err
			}
		}
		if err := tx.QueryRow(ctx, `SELECT consecutive_failures, last_error FROM report_target_failures
			WHERE report_id = $1 AND kind = $2 AND target = $3`, f.ReportID, f.Kind, f.Target).
			Scan(&f.ConsecutiveFailures, &f.LastError); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return nil // a later run reached the target meanwhile: the streak is over
			}
			return err
		}
		if limit <= 0 {
			return nil
		}
		// READ COMMITTED re-checks notified_at after waiting for a concurrent claimer's
		// commit, so only one transaction sets it.
		tag, err := tx.Exec(ctx, `UPDATE report_target_failures SET notified_at = now(), updated_at = now()
			WHERE report_id = $1 AND kind = $2 AND target = $3 AND consecutive_failures >= $4 AND notified_at IS NULL`,
			f.ReportID, f.Kind, f.Target, limit)
		if err != nil {
			return err
		}
		f.Notify = tag.RowsAffected() == 1
		return nil
	})
	if err != nil {
		return ReportTargetFailure{}, reportRunErr(err, "mark report delivery %s failed", id)
	}
	return f, nil
}

// ReleaseReportTargetNotice gives back a notice claimed by MarkReportDeliveryFailed whose
// email could not be sent, so the retried activity claims and sends it again.
func (s *Store) ReleaseReportTargetNotice(ctx context.Context, reportID, kind, target string) error {
	_, err := s.Pool.Exec(ctx, `UPDATE report_target_failures SET notified_at = NULL, updated_at = now()
		WHERE report_id = $1 AND kind = $2 AND target = $3`, reportID, kind, target)
	if err != nil {
		return fmt.Errorf("release failure notice of report %s: %w", reportID, err)
	}
	return nil
}

// ResetReportTargetFailures forgets a report's failure streaks, so a resumed report is
// paused again (and the admins told again) only after the limit is reached anew.
func (s *Store) ResetReportTargetFailures(ctx context.Context, reportID string) error {
	if _, err := s.Pool.Exec(ctx, `DELETE FROM report_target_failures WHERE report_id = $1`, reportID); err != nil {
		return fmt.Errorf("reset failure streaks of report %s: %w", reportID, err)
	}
	return nil
}

// ReportRunDetail is a run with its deliveries and its artifacts (without content).
type ReportRunDetail struct {
	Run        ReportRun
	Deliveries []ReportDelivery
	Artifacts  []ReportArtifactFile
}

// ListReportRuns lists the workspace's runs of a report, newest first, up to limit
// (1..100, default 20), started before before when it is not zero.
func (s *Store) ListReportRuns(ctx context.Context, workspaceID, reportID string, limit int, before time.Time) ([]ReportRun, error) {
	if limit <= 0 || limit > 100 {
		limit = 20
	}
	var beforeArg *time.Time
	if !before.IsZero() {
		beforeArg = &before
	}
	rows, err := s.Pool.Query(ctx, `SELECT `+reportRunColumns+` FROM report_runs
		WHERE workspace_id = $1 AND report_id = $2 AND ($3::timestamptz IS NULL OR started_at < $3)
		ORDER BY started_at DESC, id DESC LIMIT $4`, workspaceID, reportID, beforeArg, limit)
	if err != nil {
		return nil, reportRunErr(err, "list runs of report %s", reportID)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (ReportRun, error) { return scanReportRun(row) })
	if err != nil {
		return nil, reportRunErr(err, "list runs of report %s", reportID)
	}
	return out, nil
}

// GetReportRunWithDeliveries loads one of the workspace's runs with its deliveries and the
// list of its artifacts; ErrReportNotFound when it is not the workspace's.
func (s *Store) GetReportRunWithDeliveries(ctx context.Context, workspaceID, runID string) (ReportRunDetail, error) {
	var out ReportRunDetail
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		var err error
		out.Run, err = scanReportRun(tx.QueryRow(ctx, `SELECT `+reportRunColumns+` FROM report_runs
			WHERE workspace_id = $1 AND id = $2`, workspaceID, runID))
		if err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT `+reportDeliveryColumns+` FROM report_deliveries
			WHERE run_id = $1 ORDER BY kind, target`, runID)
		if err != nil {
			return err
		}
		out.Deliveries, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (ReportDelivery, error) { return scanReportDelivery(row) })
		if err != nil {
			return err
		}
		rows, err = tx.Query(ctx, `SELECT run_id, format, content_type, filename, NULL::bytea, length(content), sha256, created_at
			FROM report_artifacts WHERE run_id = $1 ORDER BY format`, runID)
		if err != nil {
			return err
		}
		out.Artifacts, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (ReportArtifactFile, error) { return scanReportArtifact(row) })
		return err
	})
	if err != nil {
		return ReportRunDetail{}, reportRunErr(err, "load report run %s", runID)
	}
	return out, nil
}

// ReportFreshness is what a report of the workspace rests on: for each connection that is
// not disabled, the last day its data reaches and how its newest sync (skipped and
// cancelled ones aside) went. Ordered by channel, name and id.
func (s *Store) ReportFreshness(ctx context.Context, workspaceID string) ([]report.Freshness, error) {
	rows, err := s.Pool.Query(ctx, `
		SELECT c.id, c.channel, c.display_name, c.status, coalesce(to_char(c.cursor_date, 'YYYY-MM-DD'), ''),
			coalesce(s.status, ''), coalesce(s.error, ''), coalesce(s.finished_at, s.started_at)
		FROM connections c
		LEFT JOIN LATERAL (
			SELECT status, error, finished_at, started_at FROM sync_runs
			WHERE connection_id = c.id AND status IN ('running', 'succeeded', 'failed')
			ORDER BY started_at DESC LIMIT 1) s ON true
		WHERE c.workspace_id = $1 AND c.status <> 'disabled'
		ORDER BY c.channel, c.display_name, c.id`, workspaceID)
	if err != nil {
		return nil, fmt.Errorf("read data freshness of workspace %s: %w", workspaceID, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (report.Freshness, error) {
		var f report.Freshness
		err := row.Scan(&f.ConnectionID, &f.Channel, &f.Name, &f.Status, &f.DataThrough, &f.LastSync, &f.LastError, &f.LastSyncAt)
		if f.LastSync != "failed" {
			f.LastError = ""
		}
		return f, err
	})
	if err != nil {
		return nil, fmt.Errorf("read data freshness of workspace %s: %w", workspaceID, err)
	}
	if out == nil {
		out = []report.Freshness{}
	}
	return out, nil
}

// reportRunErr turns "no row" and a malformed id into ErrReportNotFound and wraps the rest.
func reportRunErr(err error, format string, args ...any) error {
	var pgErr *pgconn.PgError
	if errors.Is(err, pgx.ErrNoRows) || errors.Is(err, ErrReportNotFound) ||
		(errors.As(err, &pgErr) && pgErr.Code == "22P02") {
		return fmt.Errorf(format+": %w", append(args, ErrReportNotFound)...)
	}
	return fmt.Errorf(format+": %w", append(args, err)...)
}
