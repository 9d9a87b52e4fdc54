package e2e

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/interceptor"
	"rsc.io/pdf"

	"github.com/omnitrackiq/omnitrackiq/internal/mailpit"
	"github.com/omnitrackiq/omnitrackiq/internal/safehttp"
	sandboxshopify "github.com/omnitrackiq/omnitrackiq/internal/sandbox/shopify"
	"github.com/omnitrackiq/omnitrackiq/workflows"
)

// hookReceiver is a report webhook target: it records every delivery and answers status.
type hookReceiver struct {
	*httptest.Server
	mu     sync.Mutex
	status int
	got    []hookDelivery
}

type hookDelivery struct {
	body      []byte
	signature string
	timestamp string
}

func newHookReceiver(t *testing.T, status int) *hookReceiver {
	h := &hookReceiver{status: status}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.got = append(h.got, hookDelivery{body: b, signature: r.Header.Get(safehttp.SignatureHeader),
			timestamp: r.Header.Get(safehttp.TimestampHeader)})
		st := h.status
		h.mu.Unlock()
		w.WriteHeader(st)
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hookReceiver) deliveries() []hookDelivery {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]hookDelivery(nil), h.got...)
}

// seedReportData syncs the sandbox's Meta account and Shopify store into the env's
// workspace, so a report has spend and revenue.
func (e *env) seedReportData() {
	e.t.Helper()
	e.syncAndWait(e.connectMeta())
	e.syncAndWait(e.connectShopify(sandboxshopify.DefaultToken))
}

// waitReportRun polls the run until it is finished, and returns it.
func (e *env) waitReportRun(reportID, runID string, timeout time.Duration) map[string]any {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		status, body := e.call("GET", "/v1/reports/"+reportID+"/runs/"+runID, nil)
		if status == http.StatusOK {
			if body["finished_at"] != nil {
				return body
			}
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("report run %s did not finish within %s: %d %v", runID, timeout, status, body)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// latestReportRun waits until the report has a run and returns its id.
func (e *env) latestReportRun(reportID string, timeout time.Duration) string {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		status, body := e.call("GET", "/v1/reports/"+reportID+"/runs", nil)
		if status == http.StatusOK {
			if runs, _ := body["runs"].([]any); len(runs) > 0 {
				return runs[0].(map[string]any)["id"].(string)
			}
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("report %s has no run within %s: %d %v", reportID, timeout, status, body)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// download fetches one file of a run through the API.
func (e *env) download(reportID, runID, format string) []byte {
	e.t.Helper()
	status, b := e.send("GET", fmt.Sprintf("/v1/reports/%s/runs/%s/download?format=%s", reportID, runID, format),
		creds{bearer: e.APIKey}, nil)
	require.Equal(e.t, http.StatusOK, status, "%s", b)
	return b
}

// attachment returns the bytes of the message's attachment whose name ends with ext.
func (e *env) attachment(m mailpit.Message, ext string) []byte {
	e.t.Helper()
	for _, a := range m.Attachments {
		if strings.HasSuffix(a.FileName, ext) {
			b, err := e.Mail.Part(e.ctx, m.ID, a.PartID)
			require.NoError(e.t, err)
			return b
		}
	}
	e.t.Fatalf("no %s attachment in %q: %+v", ext, m.Subject, m.Attachments)
	return nil
}

// pdfText extracts the text of every page with a PDF reader.
func pdfText(t *testing.T, b []byte) string {
	t.Helper()
	r, err := pdf.NewReader(bytes.NewReader(b), int64(len(b)))
	require.NoError(t, err)
	var sb strings.Builder
	for i := 1; i <= r.NumPage(); i++ {
		for _, txt := range r.Page(i).Content().Text {
			sb.WriteString(txt.S)
		}
		sb.WriteString("\n")
	}
	return sb.String()
}

var reportMetrics = []string{"revenue", "orders", "aov", "spend", "blended_roas", "impressions", "clicks", "new_customers"}

// TestWeeklyReportEndToEnd: a weekly report's schedule fires; the run renders CSV, HTML
// and PDF, mails two people with the CSV and PDF attached, and posts a signed webhook. The
// CSV's totals are the summary's for the same range; the download endpoint serves the
// very files that were mailed.
func TestWeeklyReportEndToEnd(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{billing: true})
	e.seedReportData()
	hook := newHookReceiver(t, http.StatusOK)

	status, created := e.call("POST", "/v1/reports", map[string]any{
		"name": "Weekly performance", "metrics": reportMetrics, "dimensions": []string{"day"},
		"range":    map[string]any{"relative": "last_7_days"},
		"formats":  []string{"csv", "html", "pdf"},
		"timezone": "America/New_York",
		"schedule": map[string]any{"frequency": "weekly", "weekday": "monday", "time": "08:00"},
		"recipients": map[string]any{
			"emails":   []string{"cfo@brand.test", "growth@brand.test"},
			"webhooks": []string{hook.URL + "/reports"},
		},
	})
	require.Equal(t, http.StatusCreated, status, "%v", created)
	reportID := created["id"].(string)
	secret := created["webhook_secret"].(string)
	require.NotEmpty(t, secret)

	// The schedule exists in Temporal, in the report's zone, and fires on Mondays at 08:00.
	status, got := e.call("GET", "/v1/reports/"+reportID, nil)
	require.Equal(t, http.StatusOK, status, "%v", got)
	next := got["schedule_state"].(map[string]any)["next_runs"].([]any)
	require.NotEmpty(t, next)
	ny := mustLoc(t, "America/New_York")
	for _, n := range next {
		at, err := time.Parse(time.RFC3339, n.(string))
		require.NoError(t, err)
		local := at.In(ny)
		require.Equal(t, time.Monday, local.Weekday(), "%s", local)
		require.Equal(t, "08:00", local.Format("15:04"))
	}

	// Fire the schedule now, as Temporal would on Monday morning.
	h := e.Temporal.ScheduleClient().GetHandle(e.ctx, workflows.ReportScheduleID(reportID))
	require.NoError(t, h.Trigger(e.ctx, client.ScheduleTriggerOptions{}))
	runID := e.latestReportRun(reportID, time.Minute)
	run := e.waitReportRun(reportID, runID, 2*time.Minute)
	require.Equal(t, "delivered", run["status"], "%v", run)
	from, to := run["from"].(string), run["to"].(string)
	deliveries := run["deliveries"].([]any)
	require.Len(t, deliveries, 3)
	for _, d := range deliveries {
		require.Equal(t, "sent", d.(map[string]any)["status"], "%v", d)
	}

	// The CSV's Total row is the summary of the same range, metric by metric.
	csvFile := e.download(reportID, runID, "csv")
	records, err := csv.NewReader(bytes.NewReader(csvFile)).ReadAll()
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(records), 3, "header, 7 days, total")
	header, total := records[0], records[len(records)-1]
	require.Equal(t, "Total", total[0])
	require.Len(t, records, 1+7+1, "one row per day of the week")
	status, sum := e.call("GET", fmt.Sprintf("/v1/metrics/summary?from=%s&to=%s", from, to), nil)
	require.Equal(t, http.StatusOK, status, "%v", sum)
	cur := sum["current"].(map[string]any)
	require.NotEqual(t, "0", cur["spend"], "the report rests on synced spend")
	require.NotEqual(t, "0", cur["revenue"], "the report rests on synced orders")
	for i, m := range reportMetrics {
		require.Equal(t, jsonText(cur[m]), total[i+1], "%s (column %q)", m, header[i+1])
	}

	// Each person got one mail with the CSV and the PDF, the same bytes as the downloads.
	pdfFile := e.download(reportID, runID, "pdf")
	htmlFile := e.download(reportID, runID, "html")
	for _, addr := range []string{"cfo@brand.test", "growth@brand.test"} {
		m, err := e.Mail.WaitFor(e.ctx, addr, "Weekly performance", time.Minute)
		require.NoError(t, err)
		require.Equal(t, csvFile, e.attachment(m, ".csv"), "mailed CSV = downloaded CSV")
		require.Equal(t, pdfFile, e.attachment(m, ".pdf"), "mailed PDF = downloaded PDF")
		require.Equal(t, 1, e.mailsWithSubject(addr, "Weekly performance"))
	}

	// The PDF is a real PDF: a reader finds the title, the range and the totals in it (the
	// reader drops the spaces between words: fpdf's core fonts carry no word spacing).
	text := pdfText(t, pdfFile)
	require.Contains(t, text, "Weeklyperformance")
	require.Contains(t, text, from)
	require.Contains(t, text, to)
	for i := 1; i < len(total); i++ {
		require.Contains(t, text, total[i], "total of %s in the PDF", header[i])
	}
	// OTQ_REPORT_DUMP=<dir> keeps the files, to look at them in a browser and a PDF viewer.
	if dir := os.Getenv("OTQ_REPORT_DUMP"); dir != "" {
		for name, b := range map[string][]byte{"report.csv": csvFile, "report.html": htmlFile, "report.pdf": pdfFile} {
			require.NoError(t, os.WriteFile(filepath.Join(dir, name), b, 0o644))
		}
	}
	require.Contains(t, string(htmlFile), "<table")
	require.Contains(t, string(htmlFile), "Weekly performance")

	// The webhook got one signed delivery that names the run and carries the totals.
	hooks := hook.deliveries()
	require.Len(t, hooks, 1)
	require.NoError(t, safehttp.Verify([]byte(secret), hooks[0].signature, hooks[0].timestamp, hooks[0].body,
		time.Now(), 5*time.Minute))
	require.Error(t, safehttp.Verify([]byte("wrong"), hooks[0].signature, hooks[0].timestamp, hooks[0].body,
		time.Now(), 5*time.Minute))
	var payload map[string]any
	require.NoError(t, json.Unmarshal(hooks[0].body, &payload))
	require.Equal(t, runID, payload["run_id"])
	require.Equal(t, reportID, payload["report_id"])

	// The run carries the report's search attributes, for the Web UI.
	wfID := run["workflow_id"].(string)
	desc, err := e.Temporal.DescribeWorkflowExecution(e.ctx, wfID, "")
	require.NoError(t, err)
	fields := desc.GetWorkflowExecutionInfo().GetSearchAttributes().GetIndexedFields()
	require.Contains(t, string(fields["ReportId"].GetData()), reportID)
	require.Contains(t, string(fields["WorkspaceId"].GetData()), e.Workspace)
}

// jsonText is a summary value as the report prints it: strings as they are, numbers in
// their JSON form, null empty.
func jsonText(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	case float64:
		b, _ := json.Marshal(x)
		return string(b)
	default:
		return fmt.Sprint(x)
	}
}

// TestReportWorkerDiesBetweenRenderAndDelivery: the worker dies once the files are stored
// and before anything is delivered; a new worker finishes the run, and each recipient gets
// exactly one mail.
func TestReportWorkerDiesBetweenRenderAndDelivery(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	e.seedReportData()
	// The first render completes and stores its files, then the worker dies.
	die := newDieAfter("RenderReport", func(any) bool { return true })
	e.StopWorkers()
	e.interceptors = []interceptor.WorkerInterceptor{die}
	e.StartWorkers()

	status, created := e.call("POST", "/v1/reports", map[string]any{
		"name": "Crash test", "metrics": []string{"revenue", "spend"},
		"range": map[string]any{"relative": "last_30_days"}, "formats": []string{"csv", "pdf"},
		"recipients": map[string]any{"emails": []string{"one@brand.test", "two@brand.test"}},
	})
	require.Equal(t, http.StatusCreated, status, "%v", created)
	reportID := created["id"].(string)
	status, started := e.call("POST", "/v1/reports/"+reportID+"/run", nil)
	require.Equal(t, http.StatusAccepted, status, "%v", started)
	runID := started["run_id"].(string)

	select {
	case <-die.reached:
	case <-time.After(2 * time.Minute):
		t.Fatal("the render never completed")
	}
	e.StopWorkers()
	e.interceptors = nil
	e.StartWorkers()

	run := e.waitReportRun(reportID, runID, 3*time.Minute)
	require.Equal(t, "delivered", run["status"], "%v", run)
	for _, addr := range []string{"one@brand.test", "two@brand.test"} {
		_, err := e.Mail.WaitFor(e.ctx, addr, "Crash test", time.Minute)
		require.NoError(t, err)
	}
	// Give a duplicate every chance to show up before counting.
	time.Sleep(2 * time.Second)
	for _, addr := range []string{"one@brand.test", "two@brand.test"} {
		require.Equal(t, 1, e.mailsWithSubject(addr, "Crash test"), addr)
	}
	var deliveries int
	require.NoError(t, e.Store.Pool.QueryRow(e.ctx, `SELECT count(*) FROM report_deliveries WHERE run_id = $1 AND status = 'sent'`,
		runID).Scan(&deliveries))
	require.Equal(t, 2, deliveries)
}

// TestReportFailingWebhookPausesReport: a webhook that keeps refusing fails each run's
// delivery (shown on the run with its error), the admins hear about it once, and after
// the configured number of failed runs the report's schedule is paused.
func TestReportFailingWebhookPausesReport(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{maxTargetFailures: 2})
	owner := e.newUser("owner-reports@brand.test")
	e.addMember(e.Workspace, owner.ID, "owner")
	hook := newHookReceiver(t, http.StatusGone)

	status, created := e.call("POST", "/v1/reports", map[string]any{
		"name": "Hooked", "metrics": []string{"spend"}, "range": map[string]any{"relative": "yesterday"},
		"schedule":   map[string]any{"frequency": "daily", "time": "06:30"},
		"recipients": map[string]any{"webhooks": []string{hook.URL}},
	})
	require.Equal(t, http.StatusCreated, status, "%v", created)
	reportID := created["id"].(string)

	for i := range 2 {
		status, started := e.call("POST", "/v1/reports/"+reportID+"/run", nil)
		require.Equal(t, http.StatusAccepted, status, "%v", started)
		run := e.waitReportRun(reportID, started["run_id"].(string), 2*time.Minute)
		require.Equal(t, "failed", run["status"], "run %d: %v", i, run)
		d := run["deliveries"].([]any)[0].(map[string]any)
		require.Equal(t, "failed", d["status"])
		require.Contains(t, d["last_error"], "410", "the run shows why the delivery failed")
	}
	require.Len(t, hook.deliveries(), 2, "a refused delivery is not retried")

	status, got := e.call("GET", "/v1/reports/"+reportID, nil)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, true, got["paused"], "%v", got)
	require.Contains(t, got["paused_reason"], "failed")
	desc, err := e.Temporal.ScheduleClient().GetHandle(e.ctx, workflows.ReportScheduleID(reportID)).Describe(e.ctx)
	require.NoError(t, err)
	require.True(t, desc.Schedule.State.Paused, "the Temporal Schedule is paused too")
	_, err = e.Mail.WaitFor(e.ctx, "owner-reports@brand.test", "Hooked", time.Minute)
	require.NoError(t, err)
	require.Equal(t, 1, e.mailsWithSubject("owner-reports@brand.test", "Hooked"), "told once")

	// Resuming clears the streak and the schedule runs again.
	status, got = e.call("POST", "/v1/reports/"+reportID+"/resume", nil)
	require.Equal(t, http.StatusOK, status, "%v", got)
	require.Equal(t, false, got["paused"])
	desc, err = e.Temporal.ScheduleClient().GetHandle(e.ctx, workflows.ReportScheduleID(reportID)).Describe(e.ctx)
	require.NoError(t, err)
	require.False(t, desc.Schedule.State.Paused)
}

// TestInvalidReportDefinitions: each bad definition is a 4xx naming the problem, and no
// report (and no schedule) is stored.
func TestInvalidReportDefinitions(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{strictWebhooks: true})
	base := func() map[string]any {
		return map[string]any{
			"name": "Bad", "metrics": []string{"revenue"}, "range": map[string]any{"relative": "yesterday"},
			"recipients": map[string]any{"emails": []string{"a@brand.test"}},
		}
	}
	with := func(k string, v any) map[string]any {
		d := base()
		d[k] = v
		return d
	}
	cases := []struct {
		name  string
		def   map[string]any
		field string
		says  string
	}{
		{"unknown metric", with("metrics", []string{"revenue", "profit"}), "metrics[1]", "profit"},
		{"bad timezone", with("timezone", "Mars/Olympus_Mons"), "timezone", "Mars/Olympus_Mons"},
		{"filter field not whitelisted", with("filters", []map[string]any{{"field": "email", "op": "eq", "value": "x"}}), "filters[0].field", "email"},
		{"SQL in a value", with("filters", []map[string]any{{"field": "utm_source", "op": "eq", "value": "x'; DROP TABLE orders;--"}}), "filters[0].value", "may"},
		{"loopback webhook", with("recipients", map[string]any{"webhooks": []string{"https://127.0.0.1/hook"}}), "recipients.webhooks[0]", "loopback"},
		{"private webhook", with("recipients", map[string]any{"webhooks": []string{"https://10.1.2.3/hook"}}), "recipients.webhooks[0]", "private"},
		{"metadata webhook", with("recipients", map[string]any{"webhooks": []string{"http://169.254.169.254/latest"}}), "recipients.webhooks[0]", ""},
		{"unknown range", with("range", map[string]any{"relative": "last_century"}), "range.relative", "last_century"},
		{"bad schedule time", with("schedule", map[string]any{"frequency": "daily", "time": "25:00"}), "schedule.time", ""},
		{"weekly without weekday", with("schedule", map[string]any{"frequency": "weekly", "time": "08:00"}), "schedule.weekday", ""},
		{"monthly day 32", with("schedule", map[string]any{"frequency": "monthly", "time": "08:00", "day_of_month": 32}), "schedule.day_of_month", ""},
		{"sessions by channel", map[string]any{"name": "Bad", "metrics": []string{"sessions"}, "dimensions": []string{"channel"},
			"range": map[string]any{"relative": "yesterday"}}, "dimensions[0]", "channel"},
	}
	for _, tc := range cases {
		status, body := e.call("POST", "/v1/reports", tc.def)
		require.Equal(t, http.StatusUnprocessableEntity, status, "%s: %v", tc.name, body)
		errs, _ := body["errors"].([]any)
		found := false
		for _, fe := range errs {
			m := fe.(map[string]any)
			if m["field"] == tc.field && strings.Contains(fmt.Sprint(m["message"]), tc.says) {
				found = true
			}
		}
		require.True(t, found, "%s: want an error on %s mentioning %q, got %v", tc.name, tc.field, tc.says, body)
	}
	// Unknown fields are a malformed request, not silently dropped.
	status, body := e.call("POST", "/v1/reports", with("sql", "SELECT 1"))
	require.Equal(t, http.StatusBadRequest, status, "%v", body)

	var n int
	require.NoError(t, e.Store.Pool.QueryRow(e.ctx, `SELECT count(*) FROM reports`).Scan(&n))
	require.Zero(t, n)
	var orders int
	require.NoError(t, e.Store.Pool.QueryRow(e.ctx, `SELECT count(*) FROM orders`).Scan(&orders), "the orders table is still there")
}

// TestReportPreviewAndPlanLimit: a preview returns bounded rows without saving anything;
// the plan's scheduled_reports limit holds (an on-demand report does not count).
func TestReportPreviewAndPlanLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{billing: true})
	e.seedReportData()

	status, body := e.call("POST", "/v1/reports/preview", map[string]any{
		"name": "Preview", "metrics": []string{"spend", "clicks"}, "dimensions": []string{"channel"},
		"range": map[string]any{"relative": "last_30_days"},
	})
	require.Equal(t, http.StatusOK, status, "%v", body)
	rows := body["rows"].([]any)
	require.NotEmpty(t, rows)
	require.Equal(t, "Total", body["total"].([]any)[0])
	var n int
	require.NoError(t, e.Store.Pool.QueryRow(e.ctx, `SELECT count(*) FROM reports`).Scan(&n))
	require.Zero(t, n, "a preview saves nothing")

	// The free plan allows one scheduled report.
	require.NoError(t, e.Store.SetPlan(e.ctx, e.Workspace, "free", ""))
	scheduled := func(name string) map[string]any {
		return map[string]any{"name": name, "metrics": []string{"spend"}, "range": map[string]any{"relative": "yesterday"},
			"schedule":   map[string]any{"frequency": "monthly", "day_of_month": 31, "time": "07:00"},
			"recipients": map[string]any{"emails": []string{"a@brand.test"}}}
	}
	status, body = e.call("POST", "/v1/reports", scheduled("First"))
	require.Equal(t, http.StatusCreated, status, "%v", body)
	status, body = e.call("POST", "/v1/reports", scheduled("Second"))
	require.Equal(t, http.StatusPaymentRequired, status, "%v", body)
	require.Equal(t, "/problems/plan-limit", body["type"])
	require.Equal(t, "scheduled_reports", body["limit"])
	onDemand := scheduled("Second")
	delete(onDemand, "schedule")
	status, body = e.call("POST", "/v1/reports", onDemand)
	require.Equal(t, http.StatusCreated, status, "an on-demand report does not count: %v", body)
	require.NoError(t, e.Store.Pool.QueryRow(e.ctx, `SELECT count(*) FROM reports WHERE scheduled`).Scan(&n))
	require.Equal(t, 1, n)
}
