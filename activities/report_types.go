package activities

import (
	"context"
	"log/slog"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/notify"
	"github.com/omnitrackiq/omnitrackiq/internal/report"
	"github.com/omnitrackiq/omnitrackiq/internal/secretbox"
	"github.com/omnitrackiq/omnitrackiq/internal/store"
)

// Reports are the activities of the ReportRun workflow: prepare the run, render and store
// its artifacts, deliver them to each recipient once, and record the outcome.
type Reports struct {
	Store  *store.Store
	Box    *secretbox.Box
	Mailer notify.Mailer
	// Webhooks posts signed deliveries; it refuses private and loopback addresses unless
	// configured to allow them.
	Webhooks WebhookPoster
	// Schedules pauses a report's schedule when a target keeps failing.
	Schedules ReportSchedulePauser
	// Build queries a run's numbers into a document (report.Build over the workspace's KPIs).
	Build func(ctx context.Context, in report.BuildInput) (report.Document, error)
	// Render renders a document in one format (render.Render).
	Render func(doc report.Document, format string) (report.Artifact, error)
	// Email composes a run's email from its document without rows and the download link of
	// each stored format (render.Email).
	Email func(doc report.Document, links map[string]string) (subject, text, html string)
	// PublicURL is where people reach the API: the download links in emails and webhooks.
	PublicURL string
	// MaxTargetFailures is how many runs in a row may fail to reach one target before the
	// admins are told and the report is paused.
	MaxTargetFailures int
	Logger            *slog.Logger
}

// WebhookPoster posts a report delivery.
type WebhookPoster interface {
	// Post sends body to url with the signature headers of secret; status is the HTTP status
	// answered (0 when none), retryAfter the target's Retry-After (0 when none).
	Post(ctx context.Context, url string, secret, body []byte) (status int, retryAfter time.Duration, err error)
}

// ReportSchedulePauser pauses a report's Temporal Schedule.
type ReportSchedulePauser interface {
	Pause(ctx context.Context, reportID, note string) error
}

// PrepareReportRunInput names the run to prepare. AsOf is the moment the relative range is
// resolved at: the scheduled time of a scheduled run, the start of a manual one.
type PrepareReportRunInput struct {
	WorkspaceID string
	ReportID    string
	WorkflowID  string
	Trigger     string
	RunID       string // set for manual runs
	AsOf        time.Time
}

// PreparedReportRun is the run's id, its range and its deliveries (ids only).
type PreparedReportRun struct {
	RunID       string
	From, To    string
	DeliveryIDs []string
	// Skipped: the report is gone or paused; Reason says which.
	Skipped bool
	Reason  string
}

// RenderReportInput names the run to render.
type RenderReportInput struct {
	RunID string
}

// RenderedReport counts what was rendered and stored.
type RenderedReport struct {
	Rows    int
	Formats []string
	Bytes   int64
}

// DeliverReportInput names one delivery of a run.
type DeliverReportInput struct {
	RunID      string
	DeliveryID string
}

// DeliveredReport is a delivery's outcome. AlreadySent: an earlier attempt sent it.
type DeliveredReport struct {
	Status      string
	AlreadySent bool
}

// DeliveryFailedInput records that a delivery failed for good (its retries ran out).
type DeliveryFailedInput struct {
	RunID      string
	DeliveryID string
	Error      string
}

// DeliveryFailureOutcome says what the failure led to.
type DeliveryFailureOutcome struct {
	ConsecutiveFailures int
	// Notified: the admins were emailed about this target now (once per streak).
	Notified bool
	// Paused: the report's schedule was paused now.
	Paused bool
}

// FinishReportRunInput records a run's outcome. Error, when set, is why the run failed
// before delivering (its render failed for good).
type FinishReportRunInput struct {
	RunID     string
	Delivered int
	Failed    int
	Error     string
}

// Non-retryable error types of the report activities.
const (
	// ErrTypeReportNotFound: the report or run is gone (deleted while running).
	ErrTypeReportNotFound = "ReportNotFound"
	// ErrTypeDeliveryRejected: the target refused the delivery for good (a 4xx other than
	// 408 and 429, an address the mail relay rejects, a webhook URL on a refused network).
	ErrTypeDeliveryRejected = "DeliveryRejected"
)
