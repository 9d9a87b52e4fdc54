package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/omnitrackiq/omnitrackiq/internal/report"
	"github.com/omnitrackiq/omnitrackiq/internal/reporting"
	"github.com/omnitrackiq/omnitrackiq/internal/secretbox"
	"github.com/omnitrackiq/omnitrackiq/internal/store"
)

// ReportSchedules runs reports on Temporal: their schedules and their on-demand runs.
// internal/reportsvc implements it.
type ReportSchedules interface {
	// Apply creates, updates or (Schedule nil) removes a report's schedule.
	Apply(ctx context.Context, req report.ScheduleRequest) error
	Pause(ctx context.Context, reportID, note string) error
	Resume(ctx context.Context, reportID, note string) error
	Delete(ctx context.Context, reportID string) error
	// Describe returns the schedule's state and next runs; an error when it has none.
	Describe(ctx context.Context, reportID string) (report.ScheduleInfo, error)
	// RunNow starts a run with the report_runs id runID and returns its workflow id.
	RunNow(ctx context.Context, workspaceID, reportID, runID string) (string, error)
}

// Report is a saved report as the API shows it: its definition and its state. The webhook
// signing secret is shown once, when it is made (CreatedReport).
type Report struct {
	ID string `json:"id"`
	report.Definition
	Paused           bool                 `json:"paused"`
	PausedReason     string               `json:"paused_reason"`
	HasWebhookSecret bool                 `json:"has_webhook_secret"`
	ScheduleState    *report.ScheduleInfo `json:"schedule_state,omitempty"`
	CreatedBy        *string              `json:"created_by"`
	CreatedAt        time.Time            `json:"created_at"`
	UpdatedAt        time.Time            `json:"updated_at"`
}

// CreatedReport is the answer to a create or update that made a webhook signing secret:
// the only time the secret is shown.
type CreatedReport struct {
	Report
	WebhookSecret string `json:"webhook_secret,omitempty"`
}

// ReportList is the body of GET /v1/reports.
type ReportList struct {
	Reports []Report `json:"reports"`
}

// ReportRunStarted is the answer to POST /v1/reports/{id}/run.
type ReportRunStarted struct {
	RunID      string `json:"run_id"`
	WorkflowID string `json:"workflow_id"`
	StatusURL  string `json:"status_url"`
}

// WebhookSecret is the answer to POST /v1/reports/{id}/webhook-secret.
type WebhookSecret struct {
	WebhookSecret string `json:"webhook_secret"`
}

func reportDTO(r store.Report) Report {
	return Report{ID: r.ID, Definition: r.Definition, Paused: r.Paused, PausedReason: r.PausedReason,
		HasWebhookSecret: r.HasWebhookSecret, CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

// reportsReady answers 503 when the API runs without Temporal for reports.
func (s *server) reportsReady(c *gin.Context) bool {
	if s.Reports == nil {
		writeProblem(c, Problem{Type: typeUnavailable, Title: "Service unavailable", Status: http.StatusServiceUnavailable,
			Detail: "reports are not configured on this server"})
		return false
	}
	return true
}

// readDefinition decodes and validates a report definition, and checks its range against
// the plan's history. On failure it has written the problem and returns false.
func (s *server) readDefinition(c *gin.Context, def *report.Definition) bool {
	return s.readDefinitionWith(c, def, false)
}

// readDefinitionWith is readDefinition; a preview may leave the name out.
func (s *server) readDefinitionWith(c *gin.Context, def *report.Definition, preview bool) bool {
	if !decodeJSON(c, def) {
		return false
	}
	if preview && strings.TrimSpace(def.Name) == "" {
		def.Name = "Preview"
	}
	ws, err := s.Store.GetWorkspace(c.Request.Context(), workspaceID(c))
	if err != nil {
		s.unavailable(c, "the database", err)
		return false
	}
	v := reporting.Validator{DefaultTimezone: ws.Timezone, CheckWebhookURL: s.CheckWebhookURL}
	if errs := v.Validate(c.Request.Context(), def); len(errs) > 0 {
		out := make([]FieldError, 0, len(errs))
		for _, e := range errs {
			out = append(out, FieldError{e.Field, e.Message})
		}
		validationProblem(c, out)
		return false
	}
	// The range as it stands today must be within the plan's history (a relative range
	// moves on, so only its start today is checked).
	if loc, err := time.LoadLocation(def.Timezone); err == nil {
		if from, _, err := report.ResolveRange(def.Range, loc, time.Now()); err == nil && !s.checkHistory(c, from) {
			return false
		}
	}
	return true
}

// newWebhookSecret makes a signing secret and seals it to the report.
func (s *server) newWebhookSecret(workspaceID, reportID string) (secret string, sealed []byte, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", nil, fmt.Errorf("make webhook secret: %w", err)
	}
	secret = "rwhsec_" + hex.EncodeToString(b)
	sealed, err = s.Box.Seal([]byte(secret), secretbox.ReportWebhookSecretAAD(workspaceID, reportID))
	if err != nil {
		return "", nil, fmt.Errorf("seal webhook secret: %w", err)
	}
	return secret, sealed, nil
}

// applySchedule is the AfterReportWrite that makes the report's Temporal Schedule match it.
func (s *server) applySchedule(ctx context.Context, r store.Report) error {
	note := ""
	if r.Paused {
		note = r.PausedReason
	}
	return s.Reports.Apply(ctx, report.ScheduleRequest{WorkspaceID: r.WorkspaceID, ReportID: r.ID,
		Timezone: r.Timezone, Schedule: r.Definition.Schedule, Paused: r.Paused, Note: note})
}

// loadReport loads the caller's report named by the path. On failure it has written the
// problem (404 for another workspace's report) and returns false.
func (s *server) loadReport(c *gin.Context) (store.Report, bool) {
	id := c.Param("id")
	r, err := s.Store.GetReport(c.Request.Context(), workspaceID(c), id)
	if errors.Is(err, store.ErrNotFound) {
		notFound(c, "report "+id)
		return store.Report{}, false
	}
	if err != nil {
		s.unavailable(c, "the database", err)
		return store.Report{}, false
	}
	return r, true
}

// reportWriteFailed answers the errors of a report write.
func (s *server) reportWriteFailed(c *gin.Context, id, name string, err error) {
	var limit *store.LimitError
	switch {
	case errors.Is(err, store.ErrNotFound):
		notFound(c, "report "+id)
	case errors.Is(err, store.ErrConflict):
		writeProblem(c, Problem{Type: typeConflict, Title: "Name taken", Status: http.StatusConflict,
			Detail: fmt.Sprintf("the workspace already has a report named %q", name)})
	case errors.As(err, &limit):
		s.limitError(c, limit, checkoutHint)
	default:
		s.unavailable(c, "the database or Temporal", err)
	}
}

func (s *server) createReport(c *gin.Context) {
	if !s.reportsReady(c) {
		return
	}
	var def report.Definition
	if !s.readDefinition(c, &def) {
		return
	}
	p := principal(c)
	id := uuid.NewString()
	in := store.SaveReport{ID: id, WorkspaceID: p.WorkspaceID, Definition: def, CreatedBy: p.UserID, EnforcePlan: s.enforcing()}
	var secret string
	if len(def.Recipients.Webhooks) > 0 {
		var err error
		if secret, in.WebhookSecretCiphertext, err = s.newWebhookSecret(p.WorkspaceID, id); err != nil {
			s.internal(c, "webhook secret", err)
			return
		}
	}
	r, err := s.Store.CreateReport(c.Request.Context(), in, s.applySchedule)
	if err != nil {
		s.reportWriteFailed(c, id, def.Name, err)
		return
	}
	s.audit(c, "report.created", "report", r.ID, map[string]any{"name": r.Name, "scheduled": r.Scheduled})
	c.JSON(http.StatusCreated, CreatedReport{Report: reportDTO(r), WebhookSecret: secret})
}

func (s *server) updateReport(c *gin.Context) {
	if !s.reportsReady(c) {
		return
	}
	old, ok := s.loadReport(c)
	if !ok {
		return
	}
	id, ctx := old.ID, c.Request.Context()
	var def report.Definition
	if !s.readDefinition(c, &def) {
		return
	}
	in := store.SaveReport{WorkspaceID: old.WorkspaceID, Definition: def, EnforcePlan: s.enforcing()}
	var secret string
	if len(def.Recipients.Webhooks) > 0 && !old.HasWebhookSecret {
		var err error
		if secret, in.WebhookSecretCiphertext, err = s.newWebhookSecret(old.WorkspaceID, id); err != nil {
			s.internal(c, "webhook secret", err)
			return
		}
	}
	r, err := s.Store.UpdateReport(ctx, id, in, s.applySchedule)
	if err != nil {
		s.reportWriteFailed(c, id, def.Name, err)
		return
	}
	s.audit(c, "report.updated", "report", r.ID, map[string]any{"name": r.Name, "scheduled": r.Scheduled})
	c.JSON(http.StatusOK, CreatedReport{Report: reportDTO(r), WebhookSecret: secret})
}

func (s *server) listReports(c *gin.Context) {
	rs, err := s.Store.ListReports(c.Request.Context(), workspaceID(c))
	if err != nil {
		s.unavailable(c, "the database", err)
		return
	}
	out := ReportList{Reports: make([]Report, 0, len(rs))}
	for _, r := range rs {
		out.Reports = append(out.Reports, reportDTO(r))
	}
	c.JSON(http.StatusOK, out)
}

// getReport shows a report with, when it is scheduled, the schedule's state and next runs
// as Temporal reports them.
func (s *server) getReport(c *gin.Context) {
	r, ok := s.loadReport(c)
	if !ok {
		return
	}
	out := reportDTO(r)
	if r.Scheduled && s.Reports != nil {
		if info, err := s.Reports.Describe(c.Request.Context(), r.ID); err == nil {
			out.ScheduleState = &info
		} else {
			s.log.Warn("describe report schedule", "report", r.ID, "err", err)
		}
	}
	c.JSON(http.StatusOK, out)
}

func (s *server) deleteReport(c *gin.Context) {
	if !s.reportsReady(c) {
		return
	}
	id := c.Param("id")
	err := s.Store.DeleteReport(c.Request.Context(), workspaceID(c), id, func(ctx context.Context, r store.Report) error {
		return s.Reports.Delete(ctx, r.ID)
	})
	if err != nil {
		s.reportWriteFailed(c, id, "", err)
		return
	}
	s.audit(c, "report.deleted", "report", id, nil)
	c.Status(http.StatusNoContent)
}

// pauseReport and resumeReport change whether the report's schedule runs. Resuming also
// clears the failure streaks that may have paused it.
func (s *server) pauseReport(c *gin.Context)  { s.setReportPaused(c, true) }
func (s *server) resumeReport(c *gin.Context) { s.setReportPaused(c, false) }

func (s *server) setReportPaused(c *gin.Context, paused bool) {
	if !s.reportsReady(c) {
		return
	}
	id := c.Param("id")
	reason := ""
	if paused {
		reason = "paused by " + principal(c).Actor
	}
	r, err := s.Store.SetReportPaused(c.Request.Context(), workspaceID(c), id, paused, reason, s.applySchedule)
	if err != nil {
		s.reportWriteFailed(c, id, "", err)
		return
	}
	action := "report.resumed"
	if paused {
		action = "report.paused"
	}
	s.audit(c, action, "report", r.ID, nil)
	c.JSON(http.StatusOK, reportDTO(r))
}

// runReport starts a run now, whether or not the report is scheduled or paused.
func (s *server) runReport(c *gin.Context) {
	if !s.reportsReady(c) {
		return
	}
	r, ok := s.loadReport(c)
	if !ok {
		return
	}
	runID := uuid.NewString()
	wfID, err := s.Reports.RunNow(c.Request.Context(), r.WorkspaceID, r.ID, runID)
	if err != nil {
		s.unavailable(c, "Temporal", err)
		return
	}
	s.audit(c, "report.run", "report", r.ID, map[string]any{"run_id": runID, "workflow_id": wfID})
	c.JSON(http.StatusAccepted, ReportRunStarted{RunID: runID, WorkflowID: wfID,
		StatusURL: "/v1/reports/" + r.ID + "/runs/" + runID})
}

// rotateWebhookSecret makes a new signing secret; deliveries from now on use it.
func (s *server) rotateWebhookSecret(c *gin.Context) {
	r, ok := s.loadReport(c)
	if !ok {
		return
	}
	ws, id := r.WorkspaceID, r.ID
	secret, sealed, err := s.newWebhookSecret(ws, id)
	if err != nil {
		s.internal(c, "webhook secret", err)
		return
	}
	if err := s.Store.SetReportWebhookSecret(c.Request.Context(), ws, id, sealed); err != nil {
		s.reportWriteFailed(c, id, "", err)
		return
	}
	s.audit(c, "report.webhook_secret_rotated", "report", id, nil)
	c.JSON(http.StatusOK, WebhookSecret{WebhookSecret: secret})
}
