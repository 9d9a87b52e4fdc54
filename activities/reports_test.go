package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/omnitrackiq/omnitrackiq/internal/billing"
	"github.com/omnitrackiq/omnitrackiq/internal/notify"
	"github.com/omnitrackiq/omnitrackiq/internal/report"
	"github.com/omnitrackiq/omnitrackiq/internal/safehttp"
	"github.com/omnitrackiq/omnitrackiq/internal/secretbox"
	"github.com/omnitrackiq/omnitrackiq/internal/store"
	"github.com/omnitrackiq/omnitrackiq/internal/testdb"
)

// hookReceiver is a webhook target that answers with the next scripted status.
type hookReceiver struct {
	mu      sync.Mutex
	answers []hookAnswer
	bodies  [][]byte
	headers []http.Header
}

type hookAnswer struct {
	status     int
	retryAfter string
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.bodies = append(h.bodies, b)
	h.headers = append(h.headers, r.Header.Clone())
	a := hookAnswer{status: http.StatusOK}
	if len(h.answers) > 0 {
		a, h.answers = h.answers[0], h.answers[1:]
	}
	if a.retryAfter != "" {
		w.Header().Set("Retry-After", a.retryAfter)
	}
	w.WriteHeader(a.status)
	_, _ = fmt.Fprintf(w, "answer %d", a.status)
}

func (h *hookReceiver) script(answers ...hookAnswer) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.answers = answers
}

func (h *hookReceiver) received() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.bodies)
}

// fakePauser records the reports whose schedule was paused.
type fakePauser struct {
	mu    sync.Mutex
	calls []string
}

func (p *fakePauser) Pause(_ context.Context, reportID, note string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, reportID+"|"+note)
	return nil
}

type reportFixture struct {
	st       *store.Store
	acts     *Reports
	mail     *fakeMailer
	hook     *hookReceiver
	pauser   *fakePauser
	ws       string
	reportID string
	hookURL  string
	secret   []byte
}

// newReportFixture makes a workspace with an owner, an admin and a member, and a report
// delivered to two addresses and a webhook receiver on loopback (allowed by policy).
func newReportFixture(t *testing.T) *reportFixture {
	t.Helper()
	ctx := context.Background()
	st, _ := testdb.New(t)
	ws, err := st.CreateWorkspace(ctx, "Acme Shoes", "USD", "UTC")
	require.NoError(t, err)
	for _, m := range []struct{ email, role string }{
		{"owner@example.com", "owner"}, {"admin@example.com", "admin"}, {"member@example.com", "member"},
	} {
		u, err := store.CreateUser(ctx, st.Pool, m.email, m.role, "x")
		require.NoError(t, err)
		require.NoError(t, store.AddMember(ctx, st.Pool, ws.ID, u.ID, m.role))
	}
	hook := &hookReceiver{}
	srv := httptest.NewServer(hook)
	t.Cleanup(srv.Close)
	box, err := secretbox.New(make([]byte, 32))
	require.NoError(t, err)

	f := &reportFixture{st: st, ws: ws.ID, mail: &fakeMailer{}, hook: hook, pauser: &fakePauser{},
		hookURL: srv.URL + "/hooks/report", secret: []byte("whsec-report-test")}
	def := report.Definition{Name: "Weekly KPIs", Metrics: []string{"spend", "revenue"}, Dimensions: []string{"channel"},
		Range: report.Range{Relative: report.RangeLastWeek}, Formats: []string{"csv", "html", "pdf"},
		Recipients: report.Recipients{Emails: []string{"cfo@example.com", "ops@example.com"}, Webhooks: []string{f.hookURL}}}
	raw, err := json.Marshal(def)
	require.NoError(t, err)
	require.NoError(t, st.Pool.QueryRow(ctx, `INSERT INTO reports (workspace_id, name, definition, timezone, scheduled)
		VALUES ($1, $2, $3, 'America/New_York', true) RETURNING id`, ws.ID, def.Name, raw).Scan(&f.reportID))
	sealed, err := box.Seal(f.secret, secretbox.ReportWebhookSecretAAD(f.ws, f.reportID))
	require.NoError(t, err)
	_, err = st.Pool.Exec(ctx, `UPDATE reports SET webhook_secret_ciphertext = $2 WHERE id = $1`, f.reportID, sealed)
	require.NoError(t, err)

	open := safehttp.Policy{AllowPrivate: true}
	f.acts = &Reports{
		Store: st, Box: box, Mailer: f.mail, Schedules: f.pauser,
		Webhooks:  &safehttp.Poster{Client: safehttp.NewClient(open, 5*time.Second), Policy: open, UserAgent: "OmniTrackIQ-Test"},
		Build:     buildForTest,
		Render:    renderForTest,
		Email:     emailForTest,
		PublicURL: "https://api.example.test/", MaxTargetFailures: 2,
	}
	return f
}

// buildForTest makes a two-row document of the input's range.
func buildForTest(_ context.Context, in report.BuildInput) (report.Document, error) {
	return report.Document{Title: in.Definition.Name, ReportID: in.ReportID, RunID: in.RunID, From: in.From, To: in.To,
		Timezone: "America/New_York", Currency: "USD", GeneratedAt: in.GeneratedAt,
		Columns: []report.Column{{Key: "channel", Label: "Channel"}, {Key: "spend", Label: "Spend", Metric: true}},
		Rows:    [][]string{{"meta", "10.00"}, {"google_ads", "5.50"}}, Total: []string{"Total", "15.50"},
		TotalRows: 2, Notes: []string{"Meta data through " + in.To}, Freshness: in.Freshness}, nil
}

// renderForTest renders CSV for real and the other formats as tagged bytes.
func renderForTest(doc report.Document, format string) (report.Artifact, error) {
	var b strings.Builder
	for _, row := range append(doc.Rows, doc.Total) {
		b.WriteString(strings.Join(row, ",") + "\n")
	}
	types := map[string]string{"csv": "text/csv", "html": "text/html", "pdf": "application/pdf"}
	ct, ok := types[format]
	if !ok {
		return report.Artifact{}, fmt.Errorf("unknown format %q", format)
	}
	content := b.String()
	if format != "csv" {
		content = format + ":" + content
	}
	return report.Artifact{Format: format, ContentType: ct, Filename: "weekly-kpis." + format, Content: []byte(content)}, nil
}

func emailForTest(doc report.Document, links map[string]string) (string, string, string) {
	text := fmt.Sprintf("%s %s..%s rows=%d csv=%s", doc.Title, doc.From, doc.To, len(doc.Rows), links["csv"])
	return "Report: " + doc.Title, text, "<p>" + text + "</p>"
}

func (f *reportFixture) prepare(t *testing.T, workflowID, trigger string) PreparedReportRun {
	t.Helper()
	p, err := f.acts.PrepareReportRun(context.Background(), PrepareReportRunInput{WorkspaceID: f.ws, ReportID: f.reportID,
		WorkflowID: workflowID, Trigger: trigger, AsOf: time.Date(2026, 12, 7, 13, 0, 0, 0, time.UTC)})
	require.NoError(t, err)
	return p
}

// deliveryOf finds the run's delivery of kind.
func (f *reportFixture) deliveryOf(t *testing.T, p PreparedReportRun, kind, target string) store.ReportDelivery {
	t.Helper()
	for _, id := range p.DeliveryIDs {
		d, err := f.st.GetReportDelivery(context.Background(), id)
		require.NoError(t, err)
		if d.Kind == kind && (target == "" || d.Target == target) {
			return d
		}
	}
	t.Fatalf("no %s delivery %s", kind, target)
	return store.ReportDelivery{}
}

func TestReportRunPreparesRendersAndDeliversOnce(t *testing.T) {
	f := newReportFixture(t)
	ctx := context.Background()

	p := f.prepare(t, "report-1-2026-12-07", "schedule")
	require.False(t, p.Skipped)
	// Monday 2026-12-07 08:00 in New York: last week is Mon 11-30 .. Sun 12-06.
	require.Equal(t, "2026-11-30", p.From)
	require.Equal(t, "2026-12-06", p.To)
	require.Len(t, p.DeliveryIDs, 3)
	again := f.prepare(t, "report-1-2026-12-07", "schedule")
	require.Equal(t, p.RunID, again.RunID)
	require.Equal(t, p.DeliveryIDs, again.DeliveryIDs, "a retried prepare finds the same rows")

	for range 2 {
		out, err := f.acts.RenderReport(ctx, RenderReportInput{RunID: p.RunID})
		require.NoError(t, err)
		require.Equal(t, 2, out.Rows)
		require.Equal(t, []string{"csv", "html", "pdf"}, out.Formats)
	}
	run, err := f.st.GetReportRun(ctx, p.RunID)
	require.NoError(t, err)
	require.Equal(t, store.ReportRunRendered, run.Status)
	require.Nil(t, run.Document.Rows)
	require.Equal(t, []string{"Total", "15.50"}, run.Document.Total)
	csv, err := f.st.ReportArtifact(ctx, p.RunID, "csv")
	require.NoError(t, err)
	require.Equal(t, "meta,10.00\ngoogle_ads,5.50\nTotal,15.50\n", string(csv.Content))

	// Email: sent once, however often the activity runs.
	email := f.deliveryOf(t, p, store.ReportDeliveryEmail, "cfo@example.com")
	res, err := f.acts.DeliverReport(ctx, DeliverReportInput{RunID: p.RunID, DeliveryID: email.ID})
	require.NoError(t, err)
	require.Equal(t, DeliveredReport{Status: "sent"}, res)
	res, err = f.acts.DeliverReport(ctx, DeliverReportInput{RunID: p.RunID, DeliveryID: email.ID})
	require.NoError(t, err)
	require.Equal(t, DeliveredReport{Status: "sent", AlreadySent: true}, res)
	require.Equal(t, 1, f.mail.count())
	msg := f.mail.sent[0]
	require.Equal(t, []string{"cfo@example.com"}, msg.To)
	require.Equal(t, "Report: Weekly KPIs", msg.Subject)
	wantCSV := "https://api.example.test/v1/reports/" + f.reportID + "/runs/" + p.RunID + "/download?format=csv"
	require.Contains(t, msg.Text, "rows=0", "the email is composed from the document without rows")
	require.Contains(t, msg.Text, wantCSV)
	require.Contains(t, msg.HTML, "2026-11-30..2026-12-06")

	arts, err := f.st.ReportArtifacts(ctx, p.RunID)
	require.NoError(t, err)
	var attached []string
	for _, a := range mailAttachments(arts) {
		attached = append(attached, a.Filename)
	}
	require.Equal(t, []string{"weekly-kpis.csv", "weekly-kpis.pdf"}, attached)
	require.Equal(t, "<run-"+p.RunID+"-"+email.ID+"@omnitrackiq>", reportMessageID(p.RunID, email.ID))
	require.Equal(t, reportMessageID(p.RunID, email.ID), msg.MessageID, "every attempt sends the same Message-ID")
	var sent []string
	for _, a := range msg.Attachments {
		sent = append(sent, a.Filename)
	}
	require.Equal(t, attached, sent, "the CSV and PDF ride on the mail")

	// Webhook: signed, no rows, download links; sent once.
	hook := f.deliveryOf(t, p, store.ReportDeliveryWebhook, "")
	for range 2 {
		_, err = f.acts.DeliverReport(ctx, DeliverReportInput{RunID: p.RunID, DeliveryID: hook.ID})
		require.NoError(t, err)
	}
	require.Equal(t, 1, f.hook.received())
	h, body := f.hook.headers[0], f.hook.bodies[0]
	require.NoError(t, safehttp.Verify(f.secret, h.Get(safehttp.SignatureHeader), h.Get(safehttp.TimestampHeader), body,
		time.Now(), 5*time.Minute))
	require.Error(t, safehttp.Verify([]byte("other"), h.Get(safehttp.SignatureHeader), h.Get(safehttp.TimestampHeader), body,
		time.Now(), 5*time.Minute))
	var got ReportWebhookBody
	require.NoError(t, json.Unmarshal(body, &got))
	require.Equal(t, ReportCompletedEvent, got.Event)
	require.Equal(t, hook.ID, got.DeliveryID)
	require.Equal(t, "Weekly KPIs", got.ReportName)
	require.Equal(t, "2026-11-30", got.From)
	require.Equal(t, []string{"Total", "15.50"}, got.Total)
	require.Equal(t, 2, got.RowCount)
	require.Equal(t, wantCSV, got.Downloads["csv"])
	require.Len(t, got.Downloads, 3)
	require.NotContains(t, string(body), "google_ads,5.50")
	require.NotContains(t, string(body), `"rows"`)
	d, err := f.st.GetReportDelivery(ctx, hook.ID)
	require.NoError(t, err)
	require.Equal(t, store.ReportDeliverySent, d.Status)
	require.Equal(t, 200, *d.ResponseStatus)
	require.Equal(t, 1, d.Attempts)

	require.NoError(t, f.acts.FinishReportRun(ctx, FinishReportRunInput{RunID: p.RunID, Delivered: 3}))
	run, err = f.st.GetReportRun(ctx, p.RunID)
	require.NoError(t, err)
	require.Equal(t, store.ReportRunDelivered, run.Status)
}

func TestDeliverReportClassifiesWebhookAnswers(t *testing.T) {
	cases := []struct {
		name         string
		answer       hookAnswer
		errType      string
		nonRetryable bool
		nextDelay    time.Duration
	}{
		{"bad request is rejected", hookAnswer{status: 400}, ErrTypeDeliveryRejected, true, 0},
		{"gone is rejected", hookAnswer{status: 410}, ErrTypeDeliveryRejected, true, 0},
		{"redirect is rejected", hookAnswer{status: 301}, ErrTypeDeliveryRejected, true, 0},
		{"unavailable honours Retry-After", hookAnswer{status: 503, retryAfter: "7"}, ErrTypeDeliveryFailed, false, 7 * time.Second},
		{"throttled is retried", hookAnswer{status: 429}, ErrTypeDeliveryFailed, false, 0},
		{"timeout is retried", hookAnswer{status: 408}, ErrTypeDeliveryFailed, false, 0},
		{"server error is retried", hookAnswer{status: 500}, ErrTypeDeliveryFailed, false, 0},
	}
	f := newReportFixture(t)
	ctx := context.Background()
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := f.prepare(t, fmt.Sprintf("report-classify-%d", i), "manual")
			_, err := f.acts.RenderReport(ctx, RenderReportInput{RunID: p.RunID})
			require.NoError(t, err)
			hook := f.deliveryOf(t, p, store.ReportDeliveryWebhook, "")
			f.hook.script(c.answer)
			_, err = f.acts.DeliverReport(ctx, DeliverReportInput{RunID: p.RunID, DeliveryID: hook.ID})
			requireErrType(t, err, c.errType, c.nonRetryable)
			var appErr *temporal.ApplicationError
			require.ErrorAs(t, err, &appErr)
			require.Equal(t, c.nextDelay, appErr.NextRetryDelay())
			d, err := f.st.GetReportDelivery(ctx, hook.ID)
			require.NoError(t, err)
			require.Equal(t, store.ReportDeliveryPending, d.Status)
			require.Equal(t, 1, d.Attempts)
			require.Contains(t, d.LastError, fmt.Sprintf("%d", c.answer.status), "the API shows the attempt's error")
		})
	}

	// The retry after the 503 succeeds and counts its attempt.
	p := f.prepare(t, "report-classify-retry", "manual")
	_, err := f.acts.RenderReport(ctx, RenderReportInput{RunID: p.RunID})
	require.NoError(t, err)
	hook := f.deliveryOf(t, p, store.ReportDeliveryWebhook, "")
	f.hook.script(hookAnswer{status: 503})
	_, err = f.acts.DeliverReport(ctx, DeliverReportInput{RunID: p.RunID, DeliveryID: hook.ID})
	require.Error(t, err)
	_, err = f.acts.DeliverReport(ctx, DeliverReportInput{RunID: p.RunID, DeliveryID: hook.ID})
	require.NoError(t, err)
	d, err := f.st.GetReportDelivery(ctx, hook.ID)
	require.NoError(t, err)
	require.Equal(t, store.ReportDeliverySent, d.Status)
	require.Equal(t, 2, d.Attempts)
}

func TestDeliverReportRefusesPrivateWebhookUnderStrictPolicy(t *testing.T) {
	f := newReportFixture(t)
	ctx := context.Background()
	f.acts.Webhooks = &safehttp.Poster{Client: safehttp.NewClient(safehttp.Policy{}, 5*time.Second),
		Policy: safehttp.Policy{AllowPrivate: true}} // form allowed, addresses not
	p := f.prepare(t, "report-strict", "manual")
	_, err := f.acts.RenderReport(ctx, RenderReportInput{RunID: p.RunID})
	require.NoError(t, err)
	hook := f.deliveryOf(t, p, store.ReportDeliveryWebhook, "")
	_, err = f.acts.DeliverReport(ctx, DeliverReportInput{RunID: p.RunID, DeliveryID: hook.ID})
	requireErrType(t, err, ErrTypeDeliveryRejected, true)
	require.Contains(t, err.Error(), "loopback address")
	require.Zero(t, f.hook.received())
}

// relayMailer fails with a scripted error.
type relayMailer struct{ err error }

func (m relayMailer) Send(context.Context, notify.Message) error { return m.err }

func TestDeliverReportClassifiesMailErrors(t *testing.T) {
	f := newReportFixture(t)
	ctx := context.Background()
	p := f.prepare(t, "report-mail", "manual")
	_, err := f.acts.RenderReport(ctx, RenderReportInput{RunID: p.RunID})
	require.NoError(t, err)
	email := f.deliveryOf(t, p, store.ReportDeliveryEmail, "ops@example.com")

	f.acts.Mailer = relayMailer{err: fmt.Errorf("send mail: connect: %w", errors.New("connection refused"))}
	_, err = f.acts.DeliverReport(ctx, DeliverReportInput{RunID: p.RunID, DeliveryID: email.ID})
	requireErrType(t, err, ErrTypeDeliveryFailed, false)

	f.acts.Mailer = relayMailer{err: fmt.Errorf("send mail: RCPT TO ops@example.com: %w",
		&textproto.Error{Code: 550, Msg: "5.1.1 no such user"})}
	_, err = f.acts.DeliverReport(ctx, DeliverReportInput{RunID: p.RunID, DeliveryID: email.ID})
	requireErrType(t, err, ErrTypeDeliveryRejected, true)
	d, err := f.st.GetReportDelivery(ctx, email.ID)
	require.NoError(t, err)
	require.Equal(t, 2, d.Attempts)
	require.Contains(t, d.LastError, "no such user")

	// An address that is not one is rejected before the relay is asked.
	_, err = f.st.Pool.Exec(ctx, `UPDATE report_deliveries SET target = 'not an address' WHERE id = $1`, email.ID)
	require.NoError(t, err)
	f.acts.Mailer = f.mail
	_, err = f.acts.DeliverReport(ctx, DeliverReportInput{RunID: p.RunID, DeliveryID: email.ID})
	requireErrType(t, err, ErrTypeDeliveryRejected, true)
	require.Zero(t, f.mail.count())
}

func TestRecordDeliveryFailureNotifiesOnceAndPauses(t *testing.T) {
	f := newReportFixture(t)
	ctx := context.Background()
	fail := func(wf string) DeliveryFailureOutcome {
		p := f.prepare(t, wf, "manual")
		hook := f.deliveryOf(t, p, store.ReportDeliveryWebhook, "")
		out, err := f.acts.RecordDeliveryFailure(ctx, DeliveryFailedInput{RunID: p.RunID, DeliveryID: hook.ID,
			Error: "webhook answered 500 Internal Server Error"})
		require.NoError(t, err)
		// A retried record counts nothing more and tells nobody again.
		again, err := f.acts.RecordDeliveryFailure(ctx, DeliveryFailedInput{RunID: p.RunID, DeliveryID: hook.ID, Error: "x"})
		require.NoError(t, err)
		require.Equal(t, out.ConsecutiveFailures, again.ConsecutiveFailures)
		require.False(t, again.Notified)
		return out
	}
	require.Equal(t, DeliveryFailureOutcome{ConsecutiveFailures: 1}, fail("run-a"))
	require.Zero(t, f.mail.count())
	require.Empty(t, f.pauser.calls)

	// The relay fails on the notice: the notice is released and the retry sends it.
	f.mail.fail = 1
	p := f.prepare(t, "run-b", "manual")
	hook := f.deliveryOf(t, p, store.ReportDeliveryWebhook, "")
	_, err := f.acts.RecordDeliveryFailure(ctx, DeliveryFailedInput{RunID: p.RunID, DeliveryID: hook.ID, Error: "webhook answered 500"})
	require.Error(t, err)
	out, err := f.acts.RecordDeliveryFailure(ctx, DeliveryFailedInput{RunID: p.RunID, DeliveryID: hook.ID, Error: "webhook answered 500"})
	require.NoError(t, err)
	require.Equal(t, DeliveryFailureOutcome{ConsecutiveFailures: 2, Notified: true, Paused: true}, out)
	require.Equal(t, 1, f.mail.count())
	notice := f.mail.sent[0]
	require.Equal(t, []string{"admin@example.com", "owner@example.com"}, notice.To)
	require.Contains(t, notice.Subject, `"Weekly KPIs"`)
	require.Contains(t, notice.Subject, f.hookURL)
	require.Contains(t, notice.Text, "webhook answered 500")
	require.Contains(t, notice.Text, "paused")

	rep, err := f.st.LoadReportForRun(ctx, f.reportID)
	require.NoError(t, err)
	require.True(t, rep.Paused)
	require.Contains(t, rep.PausedReason, "2 runs in a row")
	require.Len(t, f.pauser.calls, 2, "the schedule pause is repeated by the retry (it is idempotent)")
	require.True(t, strings.HasPrefix(f.pauser.calls[0], f.reportID+"|paused after 2 runs"))

	// More failures of the same streak tell nobody again.
	third := fail("run-c")
	require.Equal(t, DeliveryFailureOutcome{ConsecutiveFailures: 3}, third)
	require.Equal(t, 1, f.mail.count())

	// The paused report's next scheduled run is skipped (and recorded); a manual run is not.
	skipped := f.prepare(t, "report-sched-next", "schedule")
	require.True(t, skipped.Skipped)
	require.Equal(t, "paused", skipped.Reason)
	require.Empty(t, skipped.DeliveryIDs)
	run, err := f.st.GetReportRun(ctx, skipped.RunID)
	require.NoError(t, err)
	require.Equal(t, store.ReportRunSkipped, run.Status)
	require.Equal(t, "report paused: paused after 2 runs in a row failed to deliver to webhook "+f.hookURL, run.Error)
	require.False(t, f.prepare(t, "report-manual-next", "manual").Skipped)
}

func TestPrepareReportRunOfAMissingReport(t *testing.T) {
	f := newReportFixture(t)
	ctx := context.Background()
	_, err := f.acts.PrepareReportRun(ctx, PrepareReportRunInput{WorkspaceID: f.ws, ReportID: "00000000-0000-0000-0000-000000000000",
		WorkflowID: "wf", Trigger: "manual"})
	requireErrType(t, err, ErrTypeReportNotFound, true)
	other, err := f.st.CreateWorkspace(ctx, "Other", "USD", "UTC")
	require.NoError(t, err)
	_, err = f.acts.PrepareReportRun(ctx, PrepareReportRunInput{WorkspaceID: other.ID, ReportID: f.reportID,
		WorkflowID: "wf", Trigger: "manual"})
	requireErrType(t, err, ErrTypeReportNotFound, true)
	_, err = f.acts.RenderReport(ctx, RenderReportInput{RunID: "00000000-0000-0000-0000-000000000000"})
	requireErrType(t, err, ErrTypeReportNotFound, true)
	_, err = f.acts.DeliverReport(ctx, DeliverReportInput{RunID: "r", DeliveryID: "00000000-0000-0000-0000-000000000000"})
	requireErrType(t, err, ErrTypeReportNotFound, true)
}

func TestFinishReportRunOutcome(t *testing.T) {
	f := newReportFixture(t)
	ctx := context.Background()
	cases := []struct {
		delivered, failed int
		status            string
		errText           string
	}{
		{3, 0, store.ReportRunDelivered, ""},
		{0, 0, store.ReportRunRendered, ""},
		{2, 1, store.ReportRunPartiallyDelivered, "1 of 3 deliveries failed"},
		{0, 2, store.ReportRunFailed, "all 2 deliveries failed"},
	}
	for i, c := range cases {
		p := f.prepare(t, fmt.Sprintf("finish-%d", i), "manual")
		require.NoError(t, f.acts.FinishReportRun(ctx, FinishReportRunInput{RunID: p.RunID, Delivered: c.delivered, Failed: c.failed}))
		run, err := f.st.GetReportRun(ctx, p.RunID)
		require.NoError(t, err)
		require.Equal(t, c.status, run.Status, "%+v", c)
		require.Equal(t, c.errText, run.Error)
		require.NotNil(t, run.FinishedAt)
	}
}

// TestScheduledReportOfASuspendedWorkspaceIsSkipped: a workspace suspended for an unpaid
// invoice gets no scheduled report; a person can still run one by hand.
func TestScheduledReportOfASuspendedWorkspaceIsSkipped(t *testing.T) {
	f := newReportFixture(t)
	require.NoError(t, f.st.SetDunning(context.Background(), f.ws, billing.DunningSuspended, "dunning-sub-inv"))
	skipped := f.prepare(t, "report-sched-suspended", "schedule")
	require.True(t, skipped.Skipped)
	require.Equal(t, "suspended", skipped.Reason)
	require.Empty(t, skipped.DeliveryIDs)
	run, err := f.st.GetReportRun(context.Background(), skipped.RunID)
	require.NoError(t, err)
	require.Equal(t, store.ReportRunSkipped, run.Status)
	require.Contains(t, run.Error, "suspended")
	require.False(t, f.prepare(t, "report-manual-suspended", "manual").Skipped)
}
