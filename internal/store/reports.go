package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/omnitrackiq/omnitrackiq/internal/billing"
	"github.com/omnitrackiq/omnitrackiq/internal/report"
)

// Report is a saved report definition.
type Report struct {
	ID           string
	WorkspaceID  string
	Name         string
	Definition   report.Definition
	Timezone     string
	Scheduled    bool
	Paused       bool
	PausedReason string
	// HasWebhookSecret says a signing secret exists (the secret itself is never read here).
	HasWebhookSecret bool
	CreatedBy        *string
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// SaveReport is a report to create or the new state of one to update.
type SaveReport struct {
	// ID is the new report's id (create only; the caller picks it so it can seal the
	// webhook secret to it before the insert).
	ID          string
	WorkspaceID string
	Definition  report.Definition
	// WebhookSecretCiphertext replaces the signing secret when not nil.
	WebhookSecretCiphertext []byte
	CreatedBy               string
	// EnforcePlan counts the workspace's scheduled reports against its plan (billing on).
	EnforcePlan bool
}

// AfterReportWrite runs inside the transaction that wrote a report, before it commits: an
// error rolls the write back. The API applies the report's Temporal Schedule there, so a
// schedule Temporal refused leaves no saved report behind.
type AfterReportWrite func(ctx context.Context, r Report) error

const reportColumns = `id, workspace_id, name, definition, timezone, scheduled, paused, paused_reason,
	webhook_secret_ciphertext IS NOT NULL, created_by, created_at, updated_at`

func scanReport(row pgx.Row) (Report, error) {
	var r Report
	var def []byte
	err := row.Scan(&r.ID, &r.WorkspaceID, &r.Name, &def, &r.Timezone, &r.Scheduled, &r.Paused, &r.PausedReason,
		&r.HasWebhookSecret, &r.CreatedBy, &r.CreatedAt, &r.UpdatedAt)
	if err != nil {
		return Report{}, err
	}
	if err := json.Unmarshal(def, &r.Definition); err != nil {
		return Report{}, fmt.Errorf("decode definition of report %s: %w", r.ID, err)
	}
	return r, nil
}

// CreateReport stores a new report and runs after before committing. A name the workspace
// already uses is ErrConflict; a scheduled report beyond the plan is a *LimitError.
func (s *Store) CreateReport(ctx context.Context, in SaveReport, after AfterReportWrite) (Report, error) {
	def, err := json.Marshal(in.Definition)
	if err != nil {
		return Report{}, fmt.Errorf("encode report definition: %w", err)
	}
	var r Report
	err = s.InTx(ctx, func(tx pgx.Tx) error {
		if err := checkScheduledReportSlot(ctx, tx, in, ""); err != nil {
			return err
		}
		var createdBy *string
		if in.CreatedBy != "" {
			createdBy = &in.CreatedBy
		}
		r, err = scanReport(tx.QueryRow(ctx, `
			INSERT INTO reports (id, workspace_id, name, definition, timezone, scheduled, webhook_secret_ciphertext, created_by)
			VALUES ($8, $1, $2, $3, $4, $5, $6, $7)
			RETURNING `+reportColumns,
			in.WorkspaceID, in.Definition.Name, def, in.Definition.Timezone, in.Definition.Schedule != nil,
			in.WebhookSecretCiphertext, createdBy, in.ID))
		if err != nil {
			return reportWriteError(in.Definition.Name, err)
		}
		if after != nil {
			return after(ctx, r)
		}
		return nil
	})
	if err != nil {
		return Report{}, err
	}
	return r, nil
}

// UpdateReport replaces a report's definition (and its secret when given), then runs after
// before committing. A report now scheduled must fit the plan.
func (s *Store) UpdateReport(ctx context.Context, id string, in SaveReport, after AfterReportWrite) (Report, error) {
	if !isUUID(id) {
		return Report{}, ErrNotFound
	}
	def, err := json.Marshal(in.Definition)
	if err != nil {
		return Report{}, fmt.Errorf("encode report definition: %w", err)
	}
	var r Report
	err = s.InTx(ctx, func(tx pgx.Tx) error {
		if err := checkScheduledReportSlot(ctx, tx, in, id); err != nil {
			return err
		}
		r, err = scanReport(tx.QueryRow(ctx, `
			UPDATE reports SET name = $3, definition = $4, timezone = $5, scheduled = $6,
				webhook_secret_ciphertext = coalesce($7, webhook_secret_ciphertext), updated_at = now()
			WHERE workspace_id = $1 AND id = $2
			RETURNING `+reportColumns,
			in.WorkspaceID, id, in.Definition.Name, def, in.Definition.Timezone, in.Definition.Schedule != nil,
			in.WebhookSecretCiphertext))
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return reportWriteError(in.Definition.Name, err)
		}
		if after != nil {
			return after(ctx, r)
		}
		return nil
	})
	if err != nil {
		return Report{}, err
	}
	return r, nil
}

// reportWriteError turns a duplicate name into ErrConflict.
func reportWriteError(name string, err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return fmt.Errorf("report %q: %w", name, ErrConflict)
	}
	return fmt.Errorf("save report %q: %w", name, err)
}

// checkScheduledReportSlot takes the workspace's scheduled-reports lock and checks that a
// scheduled report (other than self) still fits the plan.
func checkScheduledReportSlot(ctx context.Context, tx pgx.Tx, in SaveReport, self string) error {
	if !in.EnforcePlan || in.Definition.Schedule == nil {
		return nil
	}
	st, err := LockPlanLimit(ctx, tx, in.WorkspaceID, billing.LimitScheduledReports)
	if err != nil {
		return err
	}
	var others int
	err = tx.QueryRow(ctx, `SELECT count(*) FROM reports WHERE workspace_id = $1 AND scheduled AND id::text <> $2`,
		in.WorkspaceID, self).Scan(&others)
	if err != nil {
		return fmt.Errorf("count scheduled reports of %s: %w", in.WorkspaceID, err)
	}
	if !st.Plan.Allows(billing.LimitScheduledReports, others+1, 0) {
		return &LimitError{Limit: billing.LimitScheduledReports, Plan: st.Plan, Usage: others, Want: others + 1}
	}
	return nil
}

// GetReport loads one report of the workspace (ErrNotFound otherwise).
func (s *Store) GetReport(ctx context.Context, workspaceID, id string) (Report, error) {
	if !isUUID(id) {
		return Report{}, ErrNotFound
	}
	r, err := scanReport(s.Pool.QueryRow(ctx, `SELECT `+reportColumns+` FROM reports WHERE workspace_id = $1 AND id = $2`,
		workspaceID, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Report{}, ErrNotFound
	}
	if err != nil {
		return Report{}, fmt.Errorf("load report %s: %w", id, err)
	}
	return r, nil
}

// ListReports lists the workspace's reports by name.
func (s *Store) ListReports(ctx context.Context, workspaceID string) ([]Report, error) {
	rows, err := s.Pool.Query(ctx, `SELECT `+reportColumns+` FROM reports WHERE workspace_id = $1 ORDER BY name, id`, workspaceID)
	if err != nil {
		return nil, fmt.Errorf("list reports of %s: %w", workspaceID, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Report, error) { return scanReport(row) })
	if err != nil {
		return nil, fmt.Errorf("list reports of %s: %w", workspaceID, err)
	}
	if out == nil {
		out = []Report{}
	}
	return out, nil
}

// DeleteReport deletes a report with its runs, files and deliveries, running after before
// committing (the API removes the schedule there). ErrNotFound when there is none.
func (s *Store) DeleteReport(ctx context.Context, workspaceID, id string, after AfterReportWrite) error {
	if !isUUID(id) {
		return ErrNotFound
	}
	return s.InTx(ctx, func(tx pgx.Tx) error {
		r, err := scanReport(tx.QueryRow(ctx, `DELETE FROM reports WHERE workspace_id = $1 AND id = $2 RETURNING `+reportColumns,
			workspaceID, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("delete report %s: %w", id, err)
		}
		if after != nil {
			return after(ctx, r)
		}
		return nil
	})
}

// SetReportPaused pauses or resumes a report, running after before committing. Resuming
// clears the reason and the failure streaks that may have paused it.
func (s *Store) SetReportPaused(ctx context.Context, workspaceID, id string, paused bool, reason string, after AfterReportWrite) (Report, error) {
	if !isUUID(id) {
		return Report{}, ErrNotFound
	}
	var r Report
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		var err error
		r, err = scanReport(tx.QueryRow(ctx, `
			UPDATE reports SET paused = $3, paused_reason = CASE WHEN $3 THEN $4 ELSE '' END, updated_at = now()
			WHERE workspace_id = $1 AND id = $2
			RETURNING `+reportColumns, workspaceID, id, paused, reason))
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("pause report %s: %w", id, err)
		}
		if !paused {
			if _, err := tx.Exec(ctx, `DELETE FROM report_target_failures WHERE report_id = $1`, id); err != nil {
				return fmt.Errorf("clear failure streaks of report %s: %w", id, err)
			}
		}
		if after != nil {
			return after(ctx, r)
		}
		return nil
	})
	if err != nil {
		return Report{}, err
	}
	return r, nil
}

// SetReportWebhookSecret replaces a report's sealed signing secret.
func (s *Store) SetReportWebhookSecret(ctx context.Context, workspaceID, id string, sealed []byte) error {
	if !isUUID(id) {
		return ErrNotFound
	}
	tag, err := s.Pool.Exec(ctx, `UPDATE reports SET webhook_secret_ciphertext = $3, updated_at = now()
		WHERE workspace_id = $1 AND id = $2`, workspaceID, id, sealed)
	if err != nil {
		return fmt.Errorf("set webhook secret of report %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

// ReportWebhookSecret returns a report's sealed signing secret (nil when it has none).
func (s *Store) ReportWebhookSecret(ctx context.Context, workspaceID, id string) ([]byte, error) {
	var sealed []byte
	err := s.Pool.QueryRow(ctx, `SELECT webhook_secret_ciphertext FROM reports WHERE workspace_id = $1 AND id = $2`,
		workspaceID, id).Scan(&sealed)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("load webhook secret of report %s: %w", id, err)
	}
	return sealed, nil
}
