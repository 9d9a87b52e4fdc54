package billingsvc_test

import (
	"github.com/omnitrackiq/omnitrackiq/internal/toolbin"

	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/testsuite"

	"github.com/omnitrackiq/omnitrackiq/internal/billingsvc"
	"github.com/omnitrackiq/omnitrackiq/workflows"
)

func temporalCLI() (string, error) { return toolbin.Find("TEMPORAL_CLI", "temporal") }

// TestTemporalDunning runs TemporalDunning against a Temporal dev server with no worker: the
// started workflow waits for one, which is enough to check its id, type, task queue, search
// attributes and the signal and reuse policies.
func TestTemporalDunning(t *testing.T) {
	bin, err := temporalCLI()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err := testsuite.StartDevServer(ctx, testsuite.DevServerOptions{
		ExistingPath:     bin,
		ClientOptions:    &client.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))},
		LogLevel:         "error",
		SearchAttributes: workflows.AllSearchAttributes(),
		Stdout:           io.Discard,
		Stderr:           io.Discard,
	})
	if err != nil {
		t.Fatalf("start Temporal dev server from %s: %v", bin, err)
	}
	defer srv.Stop()
	c := srv.Client()
	d := billingsvc.TemporalDunning{Client: c}

	in := workflows.DunningInput{WorkspaceID: "11111111-1111-1111-1111-111111111111", SubscriptionID: "sub_T", InvoiceID: "in_T"}
	id, err := d.SignalWithStart(ctx, in, workflows.SignalPaymentFailed, workflows.DunningSignal{InvoiceID: "in_T", AttemptCount: 1, EventID: "evt_1"})
	if err != nil {
		t.Fatal(err)
	}
	if id != workflows.DunningWorkflowID("sub_T", "in_T") {
		t.Fatalf("workflow id %s", id)
	}
	desc, err := c.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		t.Fatal(err)
	}
	info := desc.GetWorkflowExecutionInfo()
	firstRun := info.GetExecution().GetRunId()
	if info.GetType().GetName() != billingsvc.DunningWorkflowType || info.GetTaskQueue() != workflows.TaskQueueBilling {
		t.Errorf("type %s on queue %s", info.GetType().GetName(), info.GetTaskQueue())
	}
	sa := info.GetSearchAttributes().GetIndexedFields()
	if string(sa["WorkspaceId"].GetData()) != `"`+in.WorkspaceID+`"` || string(sa["DunningState"].GetData()) != `"grace"` {
		t.Errorf("search attributes WorkspaceId=%s DunningState=%s", sa["WorkspaceId"].GetData(), sa["DunningState"].GetData())
	}

	// The same failure again signals the running episode instead of starting another.
	if _, err := d.SignalWithStart(ctx, in, workflows.SignalPaymentFailed, workflows.DunningSignal{InvoiceID: "in_T", AttemptCount: 2, EventID: "evt_2"}); err != nil {
		t.Fatal(err)
	}
	if err := d.Signal(ctx, id, workflows.SignalInvoicePaid, workflows.DunningSignal{InvoiceID: "in_T", EventID: "evt_3"}); err != nil {
		t.Fatal(err)
	}
	if desc, err = c.DescribeWorkflowExecution(ctx, id, ""); err != nil {
		t.Fatal(err)
	}
	if run := desc.GetWorkflowExecutionInfo().GetExecution().GetRunId(); run != firstRun {
		t.Errorf("a second SignalWithStart started run %s, want the running %s", run, firstRun)
	}
	signals := 0
	iter := c.GetWorkflowHistory(ctx, id, firstRun, false, 0)
	for iter.HasNext() {
		e, err := iter.Next()
		if err != nil {
			t.Fatal(err)
		}
		if e.GetWorkflowExecutionSignaledEventAttributes() != nil {
			signals++
		}
	}
	if signals != 3 {
		t.Errorf("%d signals in the history, want 3", signals)
	}

	// Signals to an episode that does not exist, or has closed, change nothing and are no error.
	if err := d.Signal(ctx, workflows.DunningWorkflowID("sub_none", "in_none"), workflows.SignalInvoicePaid, workflows.DunningSignal{}); err != nil {
		t.Errorf("signal to a missing episode: %v", err)
	}
	if err := c.TerminateWorkflow(ctx, id, "", "test"); err != nil {
		t.Fatal(err)
	}
	if err := d.Signal(ctx, id, workflows.SignalInvoicePaid, workflows.DunningSignal{}); err != nil {
		t.Errorf("signal to a closed episode: %v", err)
	}
	// Once closed, the same subscription and invoice may start a new episode.
	if _, err := d.SignalWithStart(ctx, in, workflows.SignalPaymentFailed, workflows.DunningSignal{InvoiceID: "in_T", EventID: "evt_4"}); err != nil {
		t.Fatal(err)
	}
	if desc, err = c.DescribeWorkflowExecution(ctx, id, ""); err != nil {
		t.Fatal(err)
	}
	if run := desc.GetWorkflowExecutionInfo().GetExecution().GetRunId(); run == firstRun {
		t.Error("no new episode after the first closed")
	}
}
