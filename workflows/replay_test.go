package workflows

import (
	"github.com/omnitrackiq/omnitrackiq/internal/toolbin"

	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/omnitrackiq/omnitrackiq/activities"
	"github.com/omnitrackiq/omnitrackiq/internal/stripeapi"
)

// TestReplayRecordedHistories replays histories recorded from real runs on the dev server
// (`temporal workflow show -o json`). A change that would break runs in flight fails here:
// guard it with workflow.GetVersion and record a new history next to the old one.
func TestReplayRecordedHistories(t *testing.T) {
	cases := []struct{ name, file string }{
		{"incremental ChannelSync", "testdata/channel_sync.history.json"},
		{"Backfill with child windows", "testdata/backfill.history.json"},
		{"ChannelSync of Shopify orders", "testdata/channel_sync_shopify.history.json"},
		{"WorkspaceSync of five connections", "testdata/workspace_sync.history.json"},
		{"ChannelSync waiting out 14 TikTok rate limits on timers", "testdata/channel_sync_rate_limited.history.json"},
		{"Backfill cancelled mid-window", "testdata/backfill_cancelled.history.json"},
		{"ChannelSync window of a cancelled backfill", "testdata/channel_sync_cancelled.history.json"},
		{"ChannelSync backfill window reading on the backfill queue", "testdata/channel_sync_backfill_queue.history.json"},
		{"Dunning advanced to cancellation, with duplicates, 3DS and an extension", "testdata/dunning-canceled.history.json"},
		{"Dunning recovered by a new payment method while suspended", "testdata/dunning-payment-method.history.json"},
		{"Dunning recovered by invoice.paid while restricted", "testdata/dunning-invoice-paid.history.json"},
		{"ReportRun whose webhook answered 503 once", "testdata/report_run_retried.history.json"},
		{"ReportRun whose webhook refused the delivery", "testdata/report_run_delivery_failed.history.json"},
		{"ReportRun started by its Schedule", "testdata/report_run_scheduled.history.json"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := worker.NewWorkflowReplayer()
			r.RegisterWorkflowWithOptions(ChannelSync, workflow.RegisterOptions{Name: "ChannelSync"})
			r.RegisterWorkflowWithOptions(Backfill, workflow.RegisterOptions{Name: "Backfill"})
			r.RegisterWorkflowWithOptions(WorkspaceSync, workflow.RegisterOptions{Name: "WorkspaceSync"})
			r.RegisterWorkflowWithOptions(Dunning, workflow.RegisterOptions{Name: "Dunning"})
			r.RegisterWorkflowWithOptions(ReportRun, workflow.RegisterOptions{Name: "ReportRun"})
			if err := r.ReplayWorkflowHistoryFromJSONFile(nil, tc.file); err != nil {
				t.Fatalf("replay %s: %v", tc.file, err)
			}
		})
	}
}

// TestRecordDunningHistories records the Dunning histories the replay test replays, from
// real runs on a Temporal dev server with the real billing activities (PostgreSQL; Stripe,
// mail and schedules faked as in dunning_test.go). Support's advance Update walks the
// 30-day timeline in seconds. It runs only when RECORD_HISTORIES names the directory to
// write to: `RECORD_HISTORIES=testdata go test -run TestRecordDunningHistories ./workflows/`.
func TestRecordDunningHistories(t *testing.T) {
	c, dir := recordingServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	st, ws := seedDunningWorkspace(t)
	stripe := newOpenInvoiceStripe()
	acts := &activities.Billing{Store: st, Stripe: stripe, Mailer: &billingMailer{}, Schedules: &billingSchedules{}, AppURL: "https://app.example.com"}
	w := worker.New(c, TaskQueueBilling, worker.Options{})
	w.RegisterWorkflowWithOptions(Dunning, workflow.RegisterOptions{Name: "Dunning"})
	w.RegisterActivityWithOptions(acts.ApplyDunningState, activity.RegisterOptions{Name: "ApplyDunningState"})
	w.RegisterActivityWithOptions(acts.CheckInvoice, activity.RegisterOptions{Name: "CheckInvoice"})
	w.RegisterActivityWithOptions(acts.PayInvoice, activity.RegisterOptions{Name: "PayInvoice"})
	w.RegisterActivityWithOptions(acts.CancelSubscription, activity.RegisterOptions{Name: "CancelSubscription"})
	w.RegisterActivityWithOptions(acts.DowngradeToFree, activity.RegisterOptions{Name: "DowngradeToFree"})
	w.RegisterActivityWithOptions(acts.SendDunningEmail, activity.RegisterOptions{Name: "SendDunningEmail"})
	require.NoError(t, w.Start())
	defer w.Stop()

	// start begins an episode as the webhook does, with SignalWithStart, once grace is applied.
	start := func(invoiceID string) string {
		stripe.mu.Lock()
		stripe.invoices[invoiceID] = stripeapi.Invoice{ID: invoiceID, Status: "open", AttemptCount: 1, HostedInvoiceURL: "https://invoice.stripe.test/" + invoiceID}
		stripe.mu.Unlock()
		id := DunningWorkflowID("sub_1", invoiceID)
		_, err := c.SignalWithStartWorkflow(ctx, id, SignalPaymentFailed, DunningSignal{InvoiceID: invoiceID, AttemptCount: 1, EventID: "evt_" + invoiceID},
			client.StartWorkflowOptions{ID: id, TaskQueue: TaskQueueBilling,
				TypedSearchAttributes: temporal.NewSearchAttributes(WorkspaceIDKey.ValueSet(ws))},
			Dunning, DunningInput{WorkspaceID: ws, SubscriptionID: "sub_1", InvoiceID: invoiceID})
		require.NoError(t, err)
		waitDunning(t, ctx, c, id, func(s DunningStatus) bool { return len(s.EmailsSent) == 1 })
		return id
	}
	update := func(id, name string, arg any) DunningStatus {
		h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: id, UpdateName: name, Args: []any{arg},
			WaitForStage: client.WorkflowUpdateStageCompleted})
		require.NoError(t, err)
		var s DunningStatus
		require.NoError(t, h.Get(ctx, &s))
		return s
	}
	signal := func(id, name string, sig DunningSignal) {
		require.NoError(t, c.SignalWorkflow(ctx, id, "", name, sig))
	}
	finish := func(id, name, state string) {
		var out DunningStatus
		require.NoError(t, c.GetWorkflow(ctx, id, "").Get(ctx, &out))
		require.Equal(t, state, out.State)
		writeHistory(t, ctx, c, id, filepath.Join(dir, name+".history.json"))
	}

	id := start("in_cancel")
	signal(id, SignalPaymentFailed, DunningSignal{InvoiceID: "in_cancel", AttemptCount: 1, EventID: "evt_dup"})
	signal(id, SignalActionRequired, DunningSignal{InvoiceID: "in_cancel", AttemptCount: 2, EventID: "evt_3ds"})
	waitDunning(t, ctx, c, id, func(s DunningStatus) bool { return len(s.EmailsSent) == 2 })
	require.Equal(t, 3, update(id, UpdateExtendGrace, ExtendGraceRequest{Days: 3, By: "recorder"}).ExtendedDays)
	for _, want := range []string{"grace", "restricted", "suspended", "canceled"} {
		require.Equal(t, want, update(id, UpdateAdvance, AdvanceRequest{By: "recorder"}).State)
	}
	finish(id, "dunning-canceled", "canceled")

	id = start("in_pm")
	update(id, UpdateAdvance, AdvanceRequest{By: "recorder"})
	update(id, UpdateAdvance, AdvanceRequest{By: "recorder"})
	require.Equal(t, "suspended", update(id, UpdateAdvance, AdvanceRequest{By: "recorder"}).State)
	stripe.mu.Lock()
	stripe.declines = 1
	stripe.mu.Unlock()
	signal(id, SignalPaymentMethodUpdated, DunningSignal{EventID: "evt_pm1"})
	waitDunning(t, ctx, c, id, func(DunningStatus) bool {
		stripe.mu.Lock()
		defer stripe.mu.Unlock()
		return len(stripe.pays) == 1
	})
	signal(id, SignalPaymentMethodUpdated, DunningSignal{EventID: "evt_pm2"})
	finish(id, "dunning-payment-method", "recovered")

	id = start("in_paid")
	update(id, UpdateAdvance, AdvanceRequest{By: "recorder"})
	require.Equal(t, "restricted", update(id, UpdateAdvance, AdvanceRequest{By: "recorder"}).State)
	stripe.markPaid("in_paid")
	signal(id, SignalInvoicePaid, DunningSignal{InvoiceID: "in_paid", EventID: "evt_paid"})
	finish(id, "dunning-invoice-paid", "recovered")
}

// waitDunning polls the state query until ok holds.
func waitDunning(t *testing.T, ctx context.Context, c client.Client, id string, ok func(DunningStatus) bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		v, err := c.QueryWorkflow(ctx, id, "", DunningStateQuery)
		if err == nil {
			var s DunningStatus
			require.NoError(t, v.Get(&s))
			if ok(s) {
				return
			}
		}
		require.True(t, time.Now().Before(deadline), "workflow %s did not reach the expected state (last error: %v)", id, err)
		time.Sleep(100 * time.Millisecond)
	}
}

// writeHistory writes the history as `temporal workflow show -o json` does.
func writeHistory(t *testing.T, ctx context.Context, c client.Client, id, path string) {
	t.Helper()
	var events []*historypb.HistoryEvent
	it := c.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(t, err)
		events = append(events, ev)
	}
	b, err := protojson.Marshal(&historypb.History{Events: events})
	require.NoError(t, err)
	// protojson's spacing varies from run to run; indent it the same way every time.
	var out bytes.Buffer
	require.NoError(t, json.Indent(&out, b, "", "  "))
	out.WriteByte('\n')
	require.NoError(t, os.WriteFile(path, out.Bytes(), 0o644))
	t.Logf("recorded %d events of %s into %s", len(events), id, path)
}

func temporalCLIPath() (string, error) { return toolbin.Find("TEMPORAL_CLI", "temporal") }

// recordingServer starts a dev server for a test that records histories into
// RECORD_HISTORIES, and skips the test when it is not set. The server stops with the test.
func recordingServer(t *testing.T) (c client.Client, dir string) {
	t.Helper()
	dir = os.Getenv("RECORD_HISTORIES")
	if dir == "" {
		t.Skip("RECORD_HISTORIES is not set")
	}
	bin, err := temporalCLIPath()
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	srv, err := testsuite.StartDevServer(ctx, testsuite.DevServerOptions{
		ExistingPath: bin, LogLevel: "error", SearchAttributes: AllSearchAttributes(),
		ClientOptions: &client.Options{Logger: log.NewStructuredLogger(slog.New(slog.DiscardHandler))},
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Stop() })
	return srv.Client(), dir
}
