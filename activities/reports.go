package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"net/textproto"
	"net/url"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/omnitrackiq/omnitrackiq/internal/analytics"
	"github.com/omnitrackiq/omnitrackiq/internal/billing"
	"github.com/omnitrackiq/omnitrackiq/internal/notify"
	"github.com/omnitrackiq/omnitrackiq/internal/report"
	"github.com/omnitrackiq/omnitrackiq/internal/safehttp"
	"github.com/omnitrackiq/omnitrackiq/internal/secretbox"
	"github.com/omnitrackiq/omnitrackiq/internal/store"
)

// ErrTypeDeliveryFailed is a delivery attempt that may succeed later (a network error, a
// 408, 429 or 5xx answer, a mail relay error); it is retried with backoff, or after the
// target's Retry-After.
const ErrTypeDeliveryFailed = "DeliveryFailed"

// ReportCompletedEvent is the event name of a report webhook.
const ReportCompletedEvent = "report.completed"

// maxRetryAfter bounds how long a target's Retry-After may hold a delivery back.
const maxRetryAfter = time.Hour

// ReportWebhookBody is the JSON body of a report webhook: the run's totals and notes and
// where to download its files. Rows are not in it (they are in the downloads).
// DeliveryID is the same on every retry, so a receiver can drop duplicates.
type ReportWebhookBody struct {
	Event        string             `json:"event"`
	DeliveryID   string             `json:"delivery_id"`
	ReportID     string             `json:"report_id"`
	RunID        string             `json:"run_id"`
	ReportName   string             `json:"report_name"`
	From         string             `json:"from"`
	To           string             `json:"to"`
	Timezone     string             `json:"timezone"`
	Currency     string             `json:"currency"`
	GeneratedAt  time.Time          `json:"generated_at"`
	Columns      []WebhookColumn    `json:"columns"`
	Total        []string           `json:"total"`
	Previous     []string           `json:"previous,omitempty"`
	Change       []string           `json:"change,omitempty"`
	PreviousFrom string             `json:"previous_from,omitempty"`
	PreviousTo   string             `json:"previous_to,omitempty"`
	Notes        []string           `json:"notes"`
	Freshness    []report.Freshness `json:"freshness"`
	RowCount     int                `json:"row_count"`
	TotalRows    int                `json:"total_rows"`
	Truncated    bool               `json:"truncated"`
	Downloads    map[string]string  `json:"downloads"`
}

// WebhookColumn is one column of a report webhook's totals.
type WebhookColumn struct {
	Key    string `json:"key"`
	Label  string `json:"label"`
	Metric bool   `json:"metric"`
}

func (r *Reports) logger() *slog.Logger {
	if r.Logger != nil {
		return r.Logger
	}
	return slog.Default()
}

func reportNotFound(what string) error {
	return temporal.NewNonRetryableApplicationError(what+" does not exist (deleted while running?)", ErrTypeReportNotFound, nil)
}

// reportStoreErr turns the store's ErrReportNotFound into a non-retryable ReportNotFound.
func reportStoreErr(what string, err error) error {
	if errors.Is(err, store.ErrReportNotFound) {
		return reportNotFound(what)
	}
	return err
}

func deliveryRejected(format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), ErrTypeDeliveryRejected, nil)
}

// PrepareReportRun resolves the run's range in the report's time zone at in.AsOf and
// creates (or, on a retry, finds) the run row and one delivery row per recipient. A
// scheduled run of a paused report is recorded as skipped and delivers nothing.
func (r *Reports) PrepareReportRun(ctx context.Context, in PrepareReportRunInput) (PreparedReportRun, error) {
	if in.WorkspaceID == "" || in.ReportID == "" || in.WorkflowID == "" {
		return PreparedReportRun{}, invalidInput("prepare report run: workspace, report and workflow ids are required")
	}
	if in.Trigger != "schedule" && in.Trigger != "manual" {
		return PreparedReportRun{}, invalidInput("prepare report run: trigger %q is not schedule or manual", in.Trigger)
	}
	rep, err := r.Store.LoadReportForRun(ctx, in.ReportID)
	if err == nil && rep.WorkspaceID != in.WorkspaceID {
		err = store.ErrReportNotFound
	}
	if err != nil {
		return PreparedReportRun{}, reportStoreErr("report "+in.ReportID, err)
	}
	loc, err := time.LoadLocation(rep.Timezone)
	if err != nil {
		return PreparedReportRun{}, invalidInput("report %s: time zone %q: %v", rep.ID, rep.Timezone, err)
	}
	asOf := in.AsOf
	if asOf.IsZero() {
		asOf = time.Now()
	}
	from, to, err := report.ResolveRange(rep.Definition.Range, loc, asOf)
	if err != nil {
		return PreparedReportRun{}, invalidInput("report %s: %v", rep.ID, err)
	}
	run, err := r.Store.StartReportRun(ctx, store.StartReportRunParams{ID: in.RunID, WorkspaceID: in.WorkspaceID,
		ReportID: in.ReportID, WorkflowID: in.WorkflowID, Trigger: in.Trigger,
		From: from.Format(time.DateOnly), To: to.Format(time.DateOnly)})
	if err != nil {
		return PreparedReportRun{}, reportStoreErr("report "+in.ReportID, err)
	}
	out := PreparedReportRun{RunID: run.ID, From: run.From, To: run.To}
	// A suspended workspace (an invoice unpaid for 14 days) gets no scheduled reports, as
	// its scheduled syncs stop; paying restores both.
	suspended := false
	if in.Trigger == "schedule" {
		st, err := r.Store.BillingStanding(ctx, in.WorkspaceID)
		if err != nil {
			return PreparedReportRun{}, fmt.Errorf("billing standing of %s: %w", in.WorkspaceID, err)
		}
		suspended = st.DunningState == billing.DunningSuspended
	}
	if (rep.Paused || suspended) && in.Trigger == "schedule" {
		note := "report paused"
		if rep.PausedReason != "" {
			note += ": " + rep.PausedReason
		}
		if !rep.Paused {
			note = "workspace suspended for an unpaid invoice"
		}
		if err := r.Store.FinishReportRun(ctx, run.ID, store.ReportRunSkipped, note); err != nil {
			return PreparedReportRun{}, reportStoreErr("report run "+run.ID, err)
		}
		r.logger().Info("scheduled report run skipped", "report_id", rep.ID, "run_id", run.ID, "why", note)
		out.Skipped, out.Reason = true, "paused"
		if !rep.Paused {
			out.Reason = "suspended"
		}
		return out, nil
	}
	ids, err := r.Store.EnsureReportDeliveries(ctx, run.ID, in.WorkspaceID, rep.Definition.Recipients.Emails,
		rep.Definition.Recipients.Webhooks)
	if err != nil {
		return PreparedReportRun{}, reportStoreErr("report run "+run.ID, err)
	}
	out.DeliveryIDs = ids
	return out, nil
}

// RenderReport queries the run's numbers into a document, renders each of the report's
// formats and stores the artifacts, the row count, the data freshness and the document
// (without rows) in one transaction. A retry renders and stores everything again in place.
func (r *Reports) RenderReport(ctx context.Context, in RenderReportInput) (RenderedReport, error) {
	if in.RunID == "" {
		return RenderedReport{}, invalidInput("render report: run id is required")
	}
	if r.Build == nil || r.Render == nil {
		return RenderedReport{}, invalidInput("render report: no report builder or renderer is configured")
	}
	run, err := r.Store.GetReportRun(ctx, in.RunID)
	if err != nil {
		return RenderedReport{}, reportStoreErr("report run "+in.RunID, err)
	}
	rep, err := r.Store.LoadReportForRun(ctx, run.ReportID)
	if err != nil {
		return RenderedReport{}, reportStoreErr("report "+run.ReportID, err)
	}
	fresh, err := r.Store.ReportFreshness(ctx, run.WorkspaceID)
	if err != nil {
		return RenderedReport{}, err
	}
	if activity.IsActivity(ctx) {
		activity.RecordHeartbeat(ctx, "query")
	}
	doc, err := r.Build(ctx, report.BuildInput{WorkspaceID: run.WorkspaceID, ReportID: run.ReportID, RunID: run.ID,
		Definition: rep.Definition, From: run.From, To: run.To, GeneratedAt: time.Now().UTC(), Freshness: fresh})
	if errors.Is(err, analytics.ErrTooManyRows) {
		// The same query will split into as many rows on every retry.
		return RenderedReport{}, invalidInput("report %s splits into more than %d rows: add a filter or a coarser dimension",
			rep.ID, analytics.MaxReportRows)
	}
	if err != nil {
		return RenderedReport{}, fmt.Errorf("build report run %s: %w", run.ID, err)
	}
	formats := rep.Definition.Formats
	if len(formats) == 0 {
		formats = report.AllFormats()
	}
	out := RenderedReport{Rows: len(doc.Rows)}
	arts := make([]report.Artifact, 0, len(formats))
	for _, f := range formats {
		a, err := r.Render(doc, f)
		if err != nil {
			return RenderedReport{}, fmt.Errorf("render %s of report run %s: %w", f, run.ID, err)
		}
		arts = append(arts, a)
		out.Formats = append(out.Formats, a.Format)
		out.Bytes += int64(len(a.Content))
		if activity.IsActivity(ctx) {
			activity.RecordHeartbeat(ctx, f)
		}
	}
	if err := r.Store.SetReportRunRendered(ctx, run.ID, len(doc.Rows), fresh, doc, arts); err != nil {
		return RenderedReport{}, reportStoreErr("report run "+run.ID, err)
	}
	r.logger().Info("report rendered", "report_id", run.ReportID, "run_id", run.ID, "rows", out.Rows,
		"formats", out.Formats, "bytes", out.Bytes)
	return out, nil
}

// DeliverReport sends one delivery of a rendered run, unless an earlier attempt sent it.
// Each failed attempt is recorded on the delivery (attempts, last error) so the API shows
// it while the workflow retries; the error says whether retrying can help.
func (r *Reports) DeliverReport(ctx context.Context, in DeliverReportInput) (DeliveredReport, error) {
	if in.RunID == "" || in.DeliveryID == "" {
		return DeliveredReport{}, invalidInput("deliver report: run and delivery ids are required")
	}
	d, alreadySent, err := r.Store.ClaimReportDelivery(ctx, in.DeliveryID)
	if err != nil {
		return DeliveredReport{}, reportStoreErr("report delivery "+in.DeliveryID, err)
	}
	if d.RunID != in.RunID {
		return DeliveredReport{}, invalidInput("deliver report: delivery %s is not of run %s", in.DeliveryID, in.RunID)
	}
	if alreadySent {
		return DeliveredReport{Status: store.ReportDeliverySent, AlreadySent: true}, nil
	}
	var status *int
	switch d.Kind {
	case store.ReportDeliveryEmail:
		err = r.deliverEmail(ctx, d)
	case store.ReportDeliveryWebhook:
		status, err = r.deliverWebhook(ctx, d)
	default:
		err = invalidInput("deliver report: delivery kind %q", d.Kind)
	}
	if err != nil {
		// The note must land even when the attempt's context is what failed.
		noteCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if nerr := r.Store.NoteReportDeliveryError(noteCtx, d.ID, err.Error()); nerr != nil {
			r.logger().Error("record report delivery error", "delivery_id", d.ID, "err", nerr)
		}
		r.logger().Warn("report delivery attempt failed", "run_id", d.RunID, "delivery_id", d.ID, "kind", d.Kind,
			"attempt", d.Attempts, "err", err)
		return DeliveredReport{}, err
	}
	if err := r.Store.MarkReportDeliverySent(ctx, d.ID, status); err != nil {
		return DeliveredReport{}, reportStoreErr("report delivery "+d.ID, err)
	}
	r.logger().Info("report delivered", "run_id", d.RunID, "delivery_id", d.ID, "kind", d.Kind, "attempt", d.Attempts)
	return DeliveredReport{Status: store.ReportDeliverySent}, nil
}

// runMaterial is what a delivery is composed from.
type runMaterial struct {
	run       store.ReportRun
	rep       store.ReportForRun
	artifacts []store.ReportArtifactFile
	links     map[string]string
}

func (r *Reports) loadRunMaterial(ctx context.Context, runID string) (runMaterial, error) {
	var m runMaterial
	var err error
	if m.run, err = r.Store.GetReportRun(ctx, runID); err != nil {
		return m, reportStoreErr("report run "+runID, err)
	}
	if m.rep, err = r.Store.LoadReportForRun(ctx, m.run.ReportID); err != nil {
		return m, reportStoreErr("report "+m.run.ReportID, err)
	}
	if m.artifacts, err = r.Store.ReportArtifacts(ctx, runID); err != nil {
		return m, reportStoreErr("report run "+runID, err)
	}
	m.links = make(map[string]string, len(m.artifacts))
	for _, a := range m.artifacts {
		m.links[a.Format] = r.downloadURL(m.run.ReportID, m.run.ID, a.Format)
	}
	return m, nil
}

// downloadURL is where the API serves an artifact of a run.
func (r *Reports) downloadURL(reportID, runID, format string) string {
	return strings.TrimRight(r.PublicURL, "/") + "/v1/reports/" + url.PathEscape(reportID) + "/runs/" +
		url.PathEscape(runID) + "/download?format=" + url.QueryEscape(format)
}

// mailAttachments are the artifacts attached to a report email: the CSV and the PDF. The
// HTML artifact is not attached: the email's HTML body is that version already, and its
// download link is in the email.
func mailAttachments(arts []store.ReportArtifactFile) []store.ReportArtifactFile {
	var out []store.ReportArtifactFile
	for _, a := range arts {
		if a.Format == report.FormatCSV || a.Format == report.FormatPDF {
			out = append(out, a)
		}
	}
	return out
}

// reportMessageID is the Message-ID of a delivery's email, the same on every attempt.
func reportMessageID(runID, deliveryID string) string {
	return "<run-" + runID + "-" + deliveryID + "@omnitrackiq>"
}

func (r *Reports) deliverEmail(ctx context.Context, d store.ReportDelivery) error {
	if _, err := mail.ParseAddress(d.Target); err != nil {
		return deliveryRejected("email address %q is not valid: %v", d.Target, err)
	}
	if r.Mailer == nil || r.Email == nil {
		return invalidInput("deliver report: no mailer or email composer is configured")
	}
	m, err := r.loadRunMaterial(ctx, d.RunID)
	if err != nil {
		return err
	}
	subject, text, html := r.Email(m.run.Document, m.links)
	msg := reportMessage(d.Target, subject, text, html, mailAttachments(m.artifacts), reportMessageID(d.RunID, d.ID))
	if err := r.Mailer.Send(ctx, msg); err != nil {
		return mailErr(d.Target, err)
	}
	return nil
}

// mailErr classifies a relay's answer: a recipient it refuses for good (550 mailbox
// unavailable, 551 not local, 553 name not allowed) is rejected; anything else (network,
// 4xx "try again", authentication) may pass on a later attempt.
func mailErr(to string, err error) error {
	var te *textproto.Error
	if errors.As(err, &te) && (te.Code == 550 || te.Code == 551 || te.Code == 553) {
		return deliveryRejected("the mail relay refused %s: %v", to, err)
	}
	return temporal.NewApplicationErrorWithCause(fmt.Sprintf("send report email to %s: %v", to, err), ErrTypeDeliveryFailed, err)
}

func (r *Reports) deliverWebhook(ctx context.Context, d store.ReportDelivery) (*int, error) {
	if r.Webhooks == nil || r.Box == nil {
		return nil, invalidInput("deliver report: no webhook sender or secret box is configured")
	}
	m, err := r.loadRunMaterial(ctx, d.RunID)
	if err != nil {
		return nil, err
	}
	if len(m.rep.WebhookSecretCiphertext) == 0 {
		return nil, deliveryRejected("report %s has no webhook signing secret", m.rep.ID)
	}
	secret, err := r.Box.Open(m.rep.WebhookSecretCiphertext, secretbox.ReportWebhookSecretAAD(m.rep.WorkspaceID, m.rep.ID))
	if err != nil {
		return nil, fmt.Errorf("open webhook secret of report %s: %w", m.rep.ID, err)
	}
	body, err := json.Marshal(webhookBody(d, m))
	if err != nil {
		return nil, fmt.Errorf("encode webhook body of run %s: %w", d.RunID, err)
	}
	status, retryAfter, err := r.Webhooks.Post(ctx, d.Target, secret, body)
	if err == nil && status >= 200 && status < 300 {
		return &status, nil
	}
	return nil, webhookErr(d.Target, status, retryAfter, err)
}

func webhookBody(d store.ReportDelivery, m runMaterial) ReportWebhookBody {
	doc := m.run.Document
	cols := make([]WebhookColumn, len(doc.Columns))
	for i, c := range doc.Columns {
		cols[i] = WebhookColumn{Key: c.Key, Label: c.Label, Metric: c.Metric}
	}
	notes, fresh := doc.Notes, m.run.Freshness
	if notes == nil {
		notes = []string{}
	}
	if fresh == nil {
		fresh = []report.Freshness{}
	}
	return ReportWebhookBody{Event: ReportCompletedEvent, DeliveryID: d.ID, ReportID: m.run.ReportID, RunID: m.run.ID,
		ReportName: m.rep.Name, From: m.run.From, To: m.run.To, Timezone: m.rep.Timezone, Currency: doc.Currency,
		GeneratedAt: doc.GeneratedAt, Columns: cols, Total: doc.Total, Previous: doc.Previous, Change: doc.Change,
		PreviousFrom: doc.PreviousFrom, PreviousTo: doc.PreviousTo, Notes: notes, Freshness: fresh,
		RowCount: m.run.RowCount, TotalRows: doc.TotalRows, Truncated: doc.Truncated, Downloads: m.links}
}

// webhookErr classifies a failed post: a refused URL or address and an answer that
// retrying cannot change (3xx, 4xx other than 408 and 429) are rejected; no answer, 408,
// 429 and 5xx are retried, after the target's Retry-After when it gave one.
func webhookErr(target string, status int, retryAfter time.Duration, err error) error {
	if err == nil {
		err = fmt.Errorf("webhook answered %d", status)
	}
	switch {
	case errors.Is(err, safehttp.ErrRefused):
		return deliveryRejected("webhook %s refused: %v", target, err)
	case status == 0, status == 408, status == 429, status >= 500:
		opts := temporal.ApplicationErrorOptions{Cause: err}
		if retryAfter > 0 {
			opts.NextRetryDelay = min(retryAfter, maxRetryAfter)
		}
		return temporal.NewApplicationErrorWithOptions(fmt.Sprintf("post webhook %s: %v", target, err), ErrTypeDeliveryFailed, opts)
	}
	return deliveryRejected("webhook %s rejected the delivery: %v", target, err)
}

// RecordDeliveryFailure marks a delivery failed for good and counts its target's streak
// of failed runs. The call that brings the streak to MaxTargetFailures first pauses the
// report (row and schedule) and emails the workspace's owner and admins, once per streak;
// if that cannot be finished, the notice is released so the retried activity does it.
func (r *Reports) RecordDeliveryFailure(ctx context.Context, in DeliveryFailedInput) (DeliveryFailureOutcome, error) {
	if in.DeliveryID == "" {
		return DeliveryFailureOutcome{}, invalidInput("record delivery failure: delivery id is required")
	}
	f, err := r.Store.MarkReportDeliveryFailed(ctx, in.DeliveryID, in.Error, r.MaxTargetFailures)
	if err != nil {
		return DeliveryFailureOutcome{}, reportStoreErr("report delivery "+in.DeliveryID, err)
	}
	out := DeliveryFailureOutcome{ConsecutiveFailures: f.ConsecutiveFailures}
	if !f.Notify {
		return out, nil
	}
	release := func(cause error) error {
		relCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := r.Store.ReleaseReportTargetNotice(relCtx, f.ReportID, f.Kind, f.Target); err != nil {
			r.logger().Error("release report failure notice", "report_id", f.ReportID, "err", err)
		}
		return cause
	}
	rep, err := r.Store.LoadReportForRun(ctx, f.ReportID)
	if errors.Is(err, store.ErrReportNotFound) {
		return out, nil // deleted meanwhile: nothing to pause, nobody to tell about it
	}
	if err != nil {
		return DeliveryFailureOutcome{}, release(err)
	}
	reason := fmt.Sprintf("paused after %d runs in a row failed to deliver to %s %s", f.ConsecutiveFailures, f.Kind, f.Target)
	if err := r.Store.PauseReportForFailures(ctx, f.ReportID, reason); err != nil {
		return DeliveryFailureOutcome{}, release(reportStoreErr("report "+f.ReportID, err))
	}
	if r.Schedules != nil {
		if err := r.Schedules.Pause(ctx, f.ReportID, reason); err != nil {
			return DeliveryFailureOutcome{}, release(fmt.Errorf("pause schedule of report %s: %w", f.ReportID, err))
		}
	} else {
		r.logger().Warn("no schedule controller configured: report paused in the database only", "report_id", f.ReportID)
	}
	out.Paused = true
	to, err := r.Store.WorkspaceAdminEmails(ctx, f.WorkspaceID)
	if err != nil {
		return DeliveryFailureOutcome{}, release(err)
	}
	switch {
	case len(to) == 0:
		r.logger().Warn("report paused for failures; the workspace has no owner or admin to tell", "report_id", f.ReportID)
	case r.Mailer == nil:
		r.logger().Warn("report paused for failures; no mailer configured to tell the admins", "report_id", f.ReportID)
	default:
		if err := r.Mailer.Send(ctx, failureNotice(to, rep, f, reason)); err != nil {
			return DeliveryFailureOutcome{}, release(fmt.Errorf("email failure notice of report %s: %w", f.ReportID, err))
		}
		out.Notified = true
	}
	r.logger().Warn("report paused: a target keeps failing", "report_id", f.ReportID, "kind", f.Kind,
		"consecutive_failures", f.ConsecutiveFailures, "notified", out.Notified)
	return out, nil
}

// FinishReportRun records the run's outcome: delivered when nothing failed (or there was
// nobody to deliver to), failed when nothing was delivered, partially delivered otherwise.
func (r *Reports) FinishReportRun(ctx context.Context, in FinishReportRunInput) error {
	if in.RunID == "" {
		return invalidInput("finish report run: run id is required")
	}
	status, errText := runOutcome(in.Delivered, in.Failed)
	if in.Error != "" {
		status, errText = store.ReportRunFailed, in.Error
	}
	if err := r.Store.FinishReportRun(ctx, in.RunID, status, errText); err != nil {
		return reportStoreErr("report run "+in.RunID, err)
	}
	r.logger().Info("report run finished", "run_id", in.RunID, "status", status, "delivered", in.Delivered, "failed", in.Failed)
	return nil
}

// runOutcome is a run's status from its deliveries: rendered when it had no recipient
// (its files are there to download), delivered, partially delivered or failed.
func runOutcome(delivered, failed int) (status, errText string) {
	switch {
	case delivered == 0 && failed == 0:
		return store.ReportRunRendered, ""
	case failed == 0:
		return store.ReportRunDelivered, ""
	case delivered == 0:
		return store.ReportRunFailed, fmt.Sprintf("all %d deliveries failed", failed)
	}
	return store.ReportRunPartiallyDelivered, fmt.Sprintf("%d of %d deliveries failed", failed, failed+delivered)
}

// failureNotice tells the workspace's owner and admins that a report target keeps failing
// and that the report was paused.
func failureNotice(to []string, rep store.ReportForRun, f store.ReportTargetFailure, reason string) notify.Message {
	what := "email to " + f.Target
	if f.Kind == store.ReportDeliveryWebhook {
		what = "webhook " + f.Target
	}
	var b strings.Builder
	fmt.Fprintf(&b, "The report %q could not be delivered by %s in %d runs in a row.\n\n", rep.Name, what, f.ConsecutiveFailures)
	fmt.Fprintf(&b, "Last error: %s\n\n", f.LastError)
	fmt.Fprintf(&b, "The report is paused (%s): it will not run on its schedule until it is resumed.\n", reason)
	b.WriteString("Fix or remove the recipient in the report's definition, then resume the report.\n")
	return notify.Message{
		To:      to,
		Subject: fmt.Sprintf("Report %q paused: delivery to %s keeps failing", rep.Name, f.Target),
		Text:    b.String(),
	}
}
