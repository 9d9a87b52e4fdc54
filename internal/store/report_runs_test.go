package store_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	"github.com/omnitrackiq/omnitrackiq/internal/report"
	"github.com/omnitrackiq/omnitrackiq/internal/store"
	"github.com/omnitrackiq/omnitrackiq/internal/testdb"
)

type reportRunEnv struct {
	st       *store.Store
	ws       string
	reportID string
}

func newReportRunEnv(t *testing.T) reportRunEnv {
	t.Helper()
	ctx := context.Background()
	st, _ := testdb.New(t)
	ws, err := st.CreateWorkspace(ctx, "Acme", "USD", "UTC")
	require.NoError(t, err)
	def := report.Definition{Name: "Weekly", Metrics: []string{"spend"}, Range: report.Range{Relative: report.RangeLastWeek},
		Formats: []string{"csv"}, Recipients: report.Recipients{Emails: []string{"a@example.com"}}}
	raw, err := json.Marshal(def)
	require.NoError(t, err)
	var id string
	require.NoError(t, st.Pool.QueryRow(ctx, `INSERT INTO reports (workspace_id, name, definition, timezone)
		VALUES ($1, 'Weekly', $2, 'Europe/Berlin') RETURNING id`, ws.ID, raw).Scan(&id))
	return reportRunEnv{st: st, ws: ws.ID, reportID: id}
}

func (e reportRunEnv) start(t *testing.T, workflowID string) store.ReportRun {
	t.Helper()
	r, err := e.st.StartReportRun(context.Background(), store.StartReportRunParams{WorkspaceID: e.ws, ReportID: e.reportID,
		WorkflowID: workflowID, Trigger: "schedule", From: "2026-11-23", To: "2026-11-29"})
	require.NoError(t, err)
	return r
}

func TestStartReportRunIsIdempotent(t *testing.T) {
	e := newReportRunEnv(t)
	ctx := context.Background()
	a := e.start(t, "report-x-2026-11-30")
	b, err := e.st.StartReportRun(ctx, store.StartReportRunParams{WorkspaceID: e.ws, ReportID: e.reportID,
		WorkflowID: "report-x-2026-11-30", Trigger: "schedule", From: "2026-11-24", To: "2026-11-30"})
	require.NoError(t, err)
	require.Equal(t, a.ID, b.ID)
	require.Equal(t, "2026-11-23", b.From, "the first attempt's range stays")
	require.Equal(t, "2026-11-29", b.To)
	require.Equal(t, store.ReportRunRunning, b.Status)
	var n int
	require.NoError(t, e.st.Pool.QueryRow(ctx, `SELECT count(*) FROM report_runs`).Scan(&n))
	require.Equal(t, 1, n)

	// A manual run keeps the id the API chose.
	const chosen = "7d1f8b1e-2a3b-4c5d-8e9f-0a1b2c3d4e5f"
	m, err := e.st.StartReportRun(ctx, store.StartReportRunParams{ID: chosen, WorkspaceID: e.ws, ReportID: e.reportID,
		WorkflowID: "report-x-run-" + chosen, Trigger: "manual", From: "2026-11-01", To: "2026-11-30"})
	require.NoError(t, err)
	require.Equal(t, chosen, m.ID)
	// The API may record a manual run before its workflow starts: the workflow finds it.
	const recorded = "8e2a9c2f-3b4c-4d5e-9f0a-1b2c3d4e5f60"
	_, err = e.st.Pool.Exec(ctx, `INSERT INTO report_runs (id, workspace_id, report_id, workflow_id, trigger, range_from, range_to)
		VALUES ($1, $2, $3, 'api-recorded', 'manual', '2026-10-01', '2026-10-31')`, recorded, e.ws, e.reportID)
	require.NoError(t, err)
	m, err = e.st.StartReportRun(ctx, store.StartReportRunParams{ID: recorded, WorkspaceID: e.ws, ReportID: e.reportID,
		WorkflowID: "report-x-run-" + recorded, Trigger: "manual", From: "2026-11-01", To: "2026-11-30"})
	require.NoError(t, err)
	require.Equal(t, recorded, m.ID)
	require.Equal(t, "2026-10-01", m.From)

	// Another workspace's id, or a deleted report, finds nothing.
	other, err := e.st.CreateWorkspace(ctx, "Other", "USD", "UTC")
	require.NoError(t, err)
	_, err = e.st.StartReportRun(ctx, store.StartReportRunParams{WorkspaceID: other.ID, ReportID: e.reportID,
		WorkflowID: "w-other", Trigger: "manual", From: "2026-11-01", To: "2026-11-01"})
	require.ErrorIs(t, err, store.ErrReportNotFound)
	_, err = e.st.GetReportRun(ctx, "not-a-uuid")
	require.ErrorIs(t, err, store.ErrReportNotFound)
	_, err = e.st.LoadReportForRun(ctx, "00000000-0000-0000-0000-000000000000")
	require.ErrorIs(t, err, store.ErrReportNotFound)

	rep, err := e.st.LoadReportForRun(ctx, e.reportID)
	require.NoError(t, err)
	require.Equal(t, "Europe/Berlin", rep.Timezone)
	require.Equal(t, []string{"spend"}, rep.Definition.Metrics)
	require.Nil(t, rep.WebhookSecretCiphertext)
}

func TestEnsureReportDeliveriesAndClaim(t *testing.T) {
	e := newReportRunEnv(t)
	ctx := context.Background()
	run := e.start(t, "wf-1")
	emails := []string{"b@example.com", "a@example.com", "a@example.com"}
	hooks := []string{"https://hooks.example.com/x"}
	ids, err := e.st.EnsureReportDeliveries(ctx, run.ID, e.ws, emails, hooks)
	require.NoError(t, err)
	require.Len(t, ids, 3, "a repeated address is one delivery")
	again, err := e.st.EnsureReportDeliveries(ctx, run.ID, e.ws, emails, hooks)
	require.NoError(t, err)
	require.Equal(t, ids, again)
	first, err := e.st.GetReportDelivery(ctx, ids[0])
	require.NoError(t, err)
	require.Equal(t, "a@example.com", first.Target)
	last, err := e.st.GetReportDelivery(ctx, ids[2])
	require.NoError(t, err)
	require.Equal(t, store.ReportDeliveryWebhook, last.Kind)

	d, sent, err := e.st.ClaimReportDelivery(ctx, ids[2])
	require.NoError(t, err)
	require.False(t, sent)
	require.Equal(t, store.ReportDeliverySending, d.Status)
	require.Equal(t, 1, d.Attempts)
	require.NoError(t, e.st.NoteReportDeliveryError(ctx, ids[2], "webhook answered 503"))
	d, sent, err = e.st.ClaimReportDelivery(ctx, ids[2])
	require.NoError(t, err)
	require.False(t, sent)
	require.Equal(t, 2, d.Attempts)
	require.Equal(t, "webhook answered 503", d.LastError)
	status := 204
	require.NoError(t, e.st.MarkReportDeliverySent(ctx, ids[2], &status))
	d, sent, err = e.st.ClaimReportDelivery(ctx, ids[2])
	require.NoError(t, err)
	require.True(t, sent, "a sent delivery is never claimed again")
	require.Equal(t, 2, d.Attempts)
	require.Equal(t, 204, *d.ResponseStatus)
	require.NotNil(t, d.SentAt)

	_, _, err = e.st.ClaimReportDelivery(ctx, "00000000-0000-0000-0000-000000000000")
	require.ErrorIs(t, err, store.ErrReportNotFound)
}

func TestSetReportRunRenderedReplacesArtifacts(t *testing.T) {
	e := newReportRunEnv(t)
	ctx := context.Background()
	run := e.start(t, "wf-1")
	doc := report.Document{Title: "Weekly", From: "2026-11-23", To: "2026-11-29", Currency: "USD",
		Columns: []report.Column{{Key: "spend", Label: "Spend", Metric: true}},
		Rows:    [][]string{{"1.00"}, {"2.00"}}, Total: []string{"3.00"}}
	fresh := []report.Freshness{{Channel: "meta", ConnectionID: "c1", DataThrough: "2026-11-29", LastSync: "succeeded", Status: "active"}}
	arts := []report.Artifact{{Format: "csv", ContentType: "text/csv", Filename: "weekly.csv", Content: []byte("a,b\n")}}
	require.NoError(t, e.st.SetReportRunRendered(ctx, run.ID, 2, fresh, doc, arts))
	arts[0].Content = []byte("spend\n3.00\n")
	arts = append(arts, report.Artifact{Format: "pdf", ContentType: "application/pdf", Filename: "weekly.pdf", Content: []byte("%PDF-1.4")})
	require.NoError(t, e.st.SetReportRunRendered(ctx, run.ID, 2, fresh, doc, arts))

	got, err := e.st.GetReportRun(ctx, run.ID)
	require.NoError(t, err)
	require.Equal(t, store.ReportRunRendered, got.Status)
	require.Equal(t, 2, got.RowCount)
	require.Nil(t, got.Document.Rows, "rows are not stored with the document")
	require.Equal(t, []string{"3.00"}, got.Document.Total)
	require.Equal(t, fresh, got.Freshness)

	all, err := e.st.ReportArtifacts(ctx, run.ID)
	require.NoError(t, err)
	require.Len(t, all, 2)
	require.Equal(t, "csv", all[0].Format)
	require.Equal(t, "spend\n3.00\n", string(all[0].Content))
	sum := sha256.Sum256([]byte("spend\n3.00\n"))
	require.Equal(t, hex.EncodeToString(sum[:]), all[0].SHA256)
	pdf, err := e.st.ReportArtifact(ctx, run.ID, "pdf")
	require.NoError(t, err)
	require.Equal(t, "%PDF-1.4", string(pdf.Content))

	dl, err := e.st.DownloadReportArtifact(ctx, e.ws, e.reportID, run.ID, "csv")
	require.NoError(t, err)
	require.Equal(t, "weekly.csv", dl.Filename)
	other, err := e.st.CreateWorkspace(ctx, "Other", "USD", "UTC")
	require.NoError(t, err)
	_, err = e.st.DownloadReportArtifact(ctx, other.ID, e.reportID, run.ID, "csv")
	require.ErrorIs(t, err, store.ErrReportNotFound)
	_, err = e.st.GetReportRunWithDeliveries(ctx, other.ID, run.ID)
	require.ErrorIs(t, err, store.ErrReportNotFound)

	ids, err := e.st.EnsureReportDeliveries(ctx, run.ID, e.ws, []string{"a@example.com"}, nil)
	require.NoError(t, err)
	require.NoError(t, e.st.FinishReportRun(ctx, run.ID, store.ReportRunDelivered, ""))
	detail, err := e.st.GetReportRunWithDeliveries(ctx, e.ws, run.ID)
	require.NoError(t, err)
	require.Equal(t, store.ReportRunDelivered, detail.Run.Status)
	require.NotNil(t, detail.Run.FinishedAt)
	require.Len(t, detail.Deliveries, 1)
	require.Equal(t, ids[0], detail.Deliveries[0].ID)
	require.Len(t, detail.Artifacts, 2)
	require.Nil(t, detail.Artifacts[0].Content, "the detail lists artifacts without their content")
	require.Equal(t, len("spend\n3.00\n"), detail.Artifacts[0].Size)

	e.start(t, "wf-2")
	runs, err := e.st.ListReportRuns(ctx, e.ws, e.reportID, 10, time.Time{})
	require.NoError(t, err)
	require.Len(t, runs, 2)
	require.Equal(t, "wf-2", runs[0].WorkflowID)
	older, err := e.st.ListReportRuns(ctx, e.ws, e.reportID, 10, runs[0].StartedAt)
	require.NoError(t, err)
	require.Len(t, older, 1)
	require.Equal(t, run.ID, older[0].ID)
	none, err := e.st.ListReportRuns(ctx, other.ID, e.reportID, 10, time.Time{})
	require.NoError(t, err)
	require.Empty(t, none)
}

// TestTargetFailureNoticeWinsOnce: failures of one target in concurrent runs count up; the
// one that reaches the limit first claims the notice, nobody else does; a retried failure
// counts once; a later success ends the streak.
func TestTargetFailureNoticeWinsOnce(t *testing.T) {
	e := newReportRunEnv(t)
	ctx := context.Background()
	const target = "https://hooks.example.com/x"
	const limit = 3
	var deliveries []string
	for i := range 8 {
		run := e.start(t, "wf-"+string(rune('a'+i)))
		ids, err := e.st.EnsureReportDeliveries(ctx, run.ID, e.ws, nil, []string{target})
		require.NoError(t, err)
		deliveries = append(deliveries, ids[0])
	}
	var wg sync.WaitGroup
	results := make([]store.ReportTargetFailure, len(deliveries))
	errs := make([]error, len(deliveries))
	for i, id := range deliveries {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = e.st.MarkReportDeliveryFailed(ctx, id, "webhook answered 500", limit)
		}()
	}
	wg.Wait()
	winners, maxStreak := 0, 0
	for i, r := range results {
		require.NoError(t, errs[i])
		if r.Notify {
			winners++
			require.GreaterOrEqual(t, r.ConsecutiveFailures, limit)
		}
		maxStreak = max(maxStreak, r.ConsecutiveFailures)
		require.Equal(t, e.reportID, r.ReportID)
		require.Equal(t, target, r.Target)
	}
	require.Equal(t, 1, winners)
	require.Equal(t, len(deliveries), maxStreak)

	// A retried failure counts nothing and does not notify again.
	again, err := e.st.MarkReportDeliveryFailed(ctx, deliveries[0], "webhook answered 500", limit)
	require.NoError(t, err)
	require.Equal(t, len(deliveries), again.ConsecutiveFailures)
	require.False(t, again.Notify)

	// A released notice is claimed again by the retry.
	require.NoError(t, e.st.ReleaseReportTargetNotice(ctx, e.reportID, store.ReportDeliveryWebhook, target))
	again, err = e.st.MarkReportDeliveryFailed(ctx, deliveries[0], "webhook answered 500", limit)
	require.NoError(t, err)
	require.True(t, again.Notify)

	// A success ends the streak.
	run := e.start(t, "wf-ok")
	ids, err := e.st.EnsureReportDeliveries(ctx, run.ID, e.ws, nil, []string{target})
	require.NoError(t, err)
	require.NoError(t, e.st.MarkReportDeliverySent(ctx, ids[0], nil))
	var n int
	require.NoError(t, e.st.Pool.QueryRow(ctx, `SELECT count(*) FROM report_target_failures`).Scan(&n))
	require.Zero(t, n)
	run = e.start(t, "wf-next")
	ids, err = e.st.EnsureReportDeliveries(ctx, run.ID, e.ws, nil, []string{target})
	require.NoError(t, err)
	f, err := e.st.MarkReportDeliveryFailed(ctx, ids[0], "timeout", limit)
	require.NoError(t, err)
	require.Equal(t, 1, f.ConsecutiveFailures)
	require.False(t, f.Notify)

	require.NoError(t, e.st.PauseReportForFailures(ctx, e.reportID, "delivery failures"))
	rep, err := e.st.LoadReportForRun(ctx, e.reportID)
	require.NoError(t, err)
	require.True(t, rep.Paused)
	require.Equal(t, "delivery failures", rep.PausedReason)
	require.NoError(t, e.st.ResetReportTargetFailures(ctx, e.reportID))
}

func TestReportFreshness(t *testing.T) {
	e := newReportRunEnv(t)
	ctx := context.Background()
	day := time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)
	mk := func(ch, acct, name string) store.Connection {
		c, err := e.st.CreateConnection(ctx, store.NewConnection{WorkspaceID: e.ws, Channel: ch, ExternalAccountID: acct,
			DisplayName: name, TokenCiphertext: []byte{1}, Timezone: "UTC", Currency: "USD"})
		require.NoError(t, err)
		return c
	}
	meta := mk("meta", "1", "Meta Main")
	shop := mk("shopify", "s", "Shop")
	never := mk("google_ads", "g", "Ads")
	off := mk("tiktok", "t", "Off")
	_, err := e.st.Pool.Exec(ctx, `UPDATE connections SET status = 'disabled' WHERE id = $1`, off.ID)
	require.NoError(t, err)

	runOf := func(c store.Connection, wf, status, msg string) {
		r, err := e.st.StartSyncRun(ctx, store.NewSyncRun{WorkspaceID: e.ws, ConnectionID: c.ID, Channel: c.Channel,
			Kind: "incremental", WorkflowID: wf, RunID: "r", Window: channels.Window{From: day, To: day}})
		require.NoError(t, err)
		if status != store.RunRunning {
			_, err = e.st.FinishSyncRun(ctx, store.FinishRun{RunID: r.ID, Status: status, Error: msg, AdvanceCursor: status == store.RunSucceeded, WorkflowID: wf})
			require.NoError(t, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	runOf(meta, "m1", store.RunSucceeded, "")
	runOf(meta, "m2", store.RunFailed, "meta rate limited")
	runOf(shop, "s1", store.RunSucceeded, "")
	runOf(shop, "s2", store.RunRunning, "")

	got, err := e.st.ReportFreshness(ctx, e.ws)
	require.NoError(t, err)
	require.Len(t, got, 3, "the disabled connection is left out")
	byChannel := map[string]report.Freshness{}
	for _, f := range got {
		byChannel[f.Channel] = f
	}
	require.Equal(t, "google_ads", got[0].Channel)
	m := byChannel["meta"]
	require.Equal(t, meta.ID, m.ConnectionID)
	require.Equal(t, "Meta Main", m.Name)
	require.Equal(t, "2026-11-29", m.DataThrough)
	require.Equal(t, "failed", m.LastSync)
	require.Equal(t, "meta rate limited", m.LastError)
	require.NotNil(t, m.LastSyncAt)
	require.Equal(t, "error", m.Status)
	require.True(t, m.Stale("2026-11-29"))
	s := byChannel["shopify"]
	require.Equal(t, "running", s.LastSync)
	require.Empty(t, s.LastError)
	g := byChannel["google_ads"]
	require.Equal(t, never.ID, g.ConnectionID)
	require.Empty(t, g.DataThrough)
	require.Empty(t, g.LastSync)
	require.Nil(t, g.LastSyncAt)
}
