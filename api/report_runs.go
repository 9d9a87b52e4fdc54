package api

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/omnitrackiq/omnitrackiq/internal/analytics"
	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	"github.com/omnitrackiq/omnitrackiq/internal/report"
	"github.com/omnitrackiq/omnitrackiq/internal/reporting"
	"github.com/omnitrackiq/omnitrackiq/internal/store"
)

// ReportRun is a run of a report as the API shows it.
type ReportRun struct {
	ID         string             `json:"id"`
	ReportID   string             `json:"report_id"`
	WorkflowID string             `json:"workflow_id"`
	Trigger    string             `json:"trigger"`
	From       string             `json:"from"`
	To         string             `json:"to"`
	Status     string             `json:"status"`
	Rows       int                `json:"rows"`
	Error      string             `json:"error"`
	Freshness  []report.Freshness `json:"freshness"`
	StartedAt  time.Time          `json:"started_at"`
	FinishedAt *time.Time         `json:"finished_at"`
}

// ReportRunDetail is a run with its deliveries and files.
type ReportRunDetail struct {
	ReportRun
	Notes      []string            `json:"notes"`
	Deliveries []ReportDelivery    `json:"deliveries"`
	Files      []ReportArtifactRef `json:"files"`
}

// ReportDelivery is one recipient's delivery of a run: sent, failed (retries ran out or
// the target refused), or pending/sending while Temporal retries it, with the last error.
type ReportDelivery struct {
	ID             string     `json:"id"`
	Kind           string     `json:"kind"`
	Target         string     `json:"target"`
	Status         string     `json:"status"`
	Attempts       int        `json:"attempts"`
	LastError      string     `json:"last_error"`
	ResponseStatus *int       `json:"response_status"`
	SentAt         *time.Time `json:"sent_at"`
}

// ReportArtifactRef is a stored file of a run and where to download it.
type ReportArtifactRef struct {
	Format      string `json:"format"`
	Filename    string `json:"filename"`
	ContentType string `json:"content_type"`
	Size        int    `json:"size"`
	SHA256      string `json:"sha256"`
	URL         string `json:"url"`
}

// ReportRunList is the body of GET /v1/reports/{id}/runs.
type ReportRunList struct {
	Runs []ReportRun `json:"runs"`
	// NextBefore pages on: pass it as before to get older runs (null at the end).
	NextBefore *time.Time `json:"next_before"`
}

// ReportPreview is the answer to POST /v1/reports/preview: the rows a run would render now,
// cut to PreviewRows.
type ReportPreview struct {
	From      string             `json:"from"`
	To        string             `json:"to"`
	Timezone  string             `json:"timezone"`
	Currency  string             `json:"currency"`
	Columns   []PreviewColumn    `json:"columns"`
	Rows      [][]string         `json:"rows"`
	Total     []string           `json:"total"`
	Previous  []string           `json:"previous,omitempty"`
	Change    []string           `json:"change,omitempty"`
	TotalRows int                `json:"total_rows"`
	Truncated bool               `json:"truncated"`
	Notes     []string           `json:"notes"`
	Freshness []report.Freshness `json:"freshness"`
}

// PreviewColumn is one column of a preview.
type PreviewColumn struct {
	Key    string `json:"key"`
	Label  string `json:"label"`
	Metric bool   `json:"metric"`
}

func reportRunDTO(r store.ReportRun) ReportRun {
	fresh := r.Freshness
	if fresh == nil {
		fresh = []report.Freshness{}
	}
	return ReportRun{ID: r.ID, ReportID: r.ReportID, WorkflowID: r.WorkflowID, Trigger: r.Trigger, From: r.From, To: r.To,
		Status: r.Status, Rows: r.RowCount, Error: r.Error, Freshness: fresh, StartedAt: r.StartedAt, FinishedAt: r.FinishedAt}
}

// listReportRuns lists a report's runs, newest first: ?limit (1..100, default 20) and
// ?before (a started_at from next_before) page through them.
func (s *server) listReportRuns(c *gin.Context) {
	id := c.Param("id")
	ctx := c.Request.Context()
	var errs []FieldError
	limit := 20
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			errs = append(errs, FieldError{"limit", "must be an integer from 1 to 100"})
		}
		limit = n
	}
	var before time.Time
	if v := c.Query("before"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			errs = append(errs, FieldError{"before", "must be an RFC 3339 time (next_before of the previous page)"})
		}
		before = t
	}
	if len(errs) > 0 {
		validationProblem(c, errs)
		return
	}
	if _, ok := s.loadReport(c); !ok {
		return
	}
	runs, err := s.Store.ListReportRuns(ctx, workspaceID(c), id, limit, before)
	if err != nil {
		s.unavailable(c, "the database", err)
		return
	}
	out := ReportRunList{Runs: make([]ReportRun, 0, len(runs))}
	for _, r := range runs {
		out.Runs = append(out.Runs, reportRunDTO(r))
	}
	if len(runs) == limit {
		last := runs[len(runs)-1].StartedAt
		out.NextBefore = &last
	}
	c.JSON(http.StatusOK, out)
}

// getReportRun shows a run with each delivery's state (a failing one with its last error
// while Temporal retries it) and its files.
func (s *server) getReportRun(c *gin.Context) {
	id, runID := c.Param("id"), c.Param("run")
	d, err := s.Store.GetReportRunWithDeliveries(c.Request.Context(), workspaceID(c), runID)
	if errors.Is(err, store.ErrReportNotFound) || (err == nil && d.Run.ReportID != id) {
		notFound(c, "run "+runID+" of report "+id)
		return
	}
	if err != nil {
		s.unavailable(c, "the database", err)
		return
	}
	notes := d.Run.Document.Notes
	if notes == nil {
		notes = []string{}
	}
	out := ReportRunDetail{ReportRun: reportRunDTO(d.Run), Notes: notes,
		Deliveries: make([]ReportDelivery, 0, len(d.Deliveries)), Files: make([]ReportArtifactRef, 0, len(d.Artifacts))}
	for _, x := range d.Deliveries {
		out.Deliveries = append(out.Deliveries, ReportDelivery{ID: x.ID, Kind: x.Kind, Target: x.Target, Status: x.Status,
			Attempts: x.Attempts, LastError: x.LastError, ResponseStatus: x.ResponseStatus, SentAt: x.SentAt})
	}
	for _, a := range d.Artifacts {
		out.Files = append(out.Files, ReportArtifactRef{Format: a.Format, Filename: a.Filename, ContentType: a.ContentType,
			Size: a.Size, SHA256: a.SHA256,
			URL: fmt.Sprintf("/v1/reports/%s/runs/%s/download?format=%s", id, runID, a.Format)})
	}
	c.JSON(http.StatusOK, out)
}

// downloadReportRun serves one stored file of a run, byte for byte what was mailed.
func (s *server) downloadReportRun(c *gin.Context) {
	id, runID := c.Param("id"), c.Param("run")
	format := c.Query("format")
	if !slices.Contains(report.AllFormats(), format) {
		validationProblem(c, []FieldError{{"format", fmt.Sprintf("must be one of %s", strings.Join(report.AllFormats(), ", "))}})
		return
	}
	a, err := s.Store.DownloadReportArtifact(c.Request.Context(), workspaceID(c), id, runID, format)
	if errors.Is(err, store.ErrReportNotFound) {
		notFound(c, fmt.Sprintf("%s file of run %s of report %s (a run has the formats of its report, once rendered)", format, runID, id))
		return
	}
	if err != nil {
		s.unavailable(c, "the database", err)
		return
	}
	c.Header("Content-Disposition", fmt.Sprintf("attachment; filename=%q", a.Filename))
	c.Header("X-Content-Type-Options", "nosniff")
	// The HTML file is a tenant-controlled document: it must never run as the API's origin.
	c.Header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox")
	c.Header("ETag", `"`+a.SHA256+`"`)
	c.Data(http.StatusOK, a.ContentType, a.Content)
}

// previewReport runs a definition now without saving anything and returns its rows.
func (s *server) previewReport(c *gin.Context) {
	var def report.Definition
	if !s.readDefinitionWith(c, &def, true) {
		return
	}
	ctx := c.Request.Context()
	loc, err := time.LoadLocation(def.Timezone)
	if err != nil {
		validationProblem(c, []FieldError{{"timezone", err.Error()}})
		return
	}
	from, to, err := report.ResolveRange(def.Range, loc, time.Now())
	if err != nil {
		validationProblem(c, []FieldError{{"range", err.Error()}})
		return
	}
	fresh, err := s.Store.ReportFreshness(ctx, workspaceID(c))
	if err != nil {
		s.unavailable(c, "the database", err)
		return
	}
	doc, err := reporting.Build(ctx, s.analytics(), report.BuildInput{
		WorkspaceID: workspaceID(c), Definition: def, From: from.Format(channels.DateLayout), To: to.Format(channels.DateLayout),
		GeneratedAt: time.Now().UTC(), Freshness: fresh, MaxRows: report.PreviewRows,
	})
	if errors.Is(err, analytics.ErrTooManyRows) {
		writeProblem(c, Problem{Type: typeValidation, Title: "Too many rows", Status: http.StatusUnprocessableEntity,
			Detail: "the report splits into too many rows; add a filter, a coarser time dimension or a shorter range"})
		return
	}
	if err != nil {
		s.unavailable(c, "the database", err)
		return
	}
	out := ReportPreview{From: doc.From, To: doc.To, Timezone: doc.Timezone, Currency: doc.Currency,
		Columns: make([]PreviewColumn, 0, len(doc.Columns)), Rows: doc.Rows, Total: doc.Total,
		Previous: doc.Previous, Change: doc.Change, TotalRows: doc.TotalRows, Truncated: doc.Truncated,
		Notes: doc.Notes, Freshness: fresh}
	for _, col := range doc.Columns {
		out.Columns = append(out.Columns, PreviewColumn{Key: col.Key, Label: col.Label, Metric: col.Metric})
	}
	if out.Rows == nil {
		out.Rows = [][]string{}
	}
	if out.Notes == nil {
		out.Notes = []string{}
	}
	c.JSON(http.StatusOK, out)
}
