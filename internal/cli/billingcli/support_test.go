package billingcli_test

import (
	"github.com/omnitrackiq/omnitrackiq/internal/toolbin"

	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/omnitrackiq/omnitrackiq/internal/billing"
	"github.com/omnitrackiq/omnitrackiq/internal/cli/billingcli"
	"github.com/omnitrackiq/omnitrackiq/internal/config"
	"github.com/omnitrackiq/omnitrackiq/internal/testdb"
	"github.com/omnitrackiq/omnitrackiq/workflows"
)

// stepsAfter is the fake episode's escalation: grace, then restricted, then suspended.
var stepsAfter = map[string]string{"grace": "restricted", "restricted": "suspended", "suspended": "canceled"}

// fakeDunning answers the dunning workflow's contract (workflows/dunning_names.go: the
// state query and the two support updates, with a validator) so the commands are tested
// against a real Temporal server without the real workflow, which lives elsewhere.
func fakeDunning(ctx workflow.Context, in workflows.DunningInput) error {
	next := workflow.Now(ctx).Add(7 * 24 * time.Hour)
	st := workflows.DunningStatus{
		WorkspaceID: in.WorkspaceID, SubscriptionID: in.SubscriptionID, InvoiceID: in.InvoiceID,
		State: "grace", StartedAt: workflow.Now(ctx), NextStep: "restricted", NextStepAt: &next, EmailsSent: []string{"day0"},
	}
	if err := workflow.SetQueryHandler(ctx, workflows.DunningStateQuery, func() (workflows.DunningStatus, error) {
		return st, nil
	}); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, workflows.UpdateExtendGrace,
		func(ctx workflow.Context, r workflows.ExtendGraceRequest) (workflows.DunningStatus, error) {
			st.ExtendedDays += r.Days
			t := st.NextStepAt.Add(time.Duration(r.Days) * 24 * time.Hour)
			st.NextStepAt = &t
			return st, nil
		},
		workflow.UpdateHandlerOptions{Validator: func(ctx workflow.Context, r workflows.ExtendGraceRequest) error {
			if time.Duration(st.ExtendedDays+r.Days)*24*time.Hour > workflows.MaxGraceExtension {
				return fmt.Errorf("grace can be extended by at most 30 days in all; %d already granted", st.ExtendedDays)
			}
			return nil
		}}); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, workflows.UpdateAdvance,
		func(ctx workflow.Context, r workflows.AdvanceRequest) (workflows.DunningStatus, error) {
			st.State, st.NextStep = st.NextStep, stepsAfter[st.NextStep]
			return st, nil
		},
		workflow.UpdateHandlerOptions{Validator: func(ctx workflow.Context, r workflows.AdvanceRequest) error {
			if st.State == "suspended" {
				return fmt.Errorf("the episode is suspended; the next step cancels the subscription and cannot be advanced by hand")
			}
			return nil
		}}); err != nil {
		return err
	}
	return workflow.Await(ctx, func() bool { return st.State == "canceled" })
}

func temporalCLI(t *testing.T) string {
	p, err := toolbin.Find("TEMPORAL_CLI", "temporal")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSupportCommands(t *testing.T) {
	ctx := context.Background()
	st, dbURL := testdb.New(t)
	if err := st.EnsureWorkspace(ctx, testWS, "Acme", "USD", "UTC"); err != nil {
		t.Fatal(err)
	}
	quiet := sdklog.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
	sctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	srv, err := testsuite.StartDevServer(sctx, testsuite.DevServerOptions{
		ExistingPath: temporalCLI(t), LogLevel: "error", ClientOptions: &client.Options{Logger: quiet},
		Stdout: io.Discard, Stderr: io.Discard,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = srv.Stop() }()
	tc := srv.Client()
	w := worker.New(tc, workflows.TaskQueueBilling, worker.Options{})
	w.RegisterWorkflowWithOptions(fakeDunning, workflow.RegisterOptions{Name: "Dunning"})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	cfg := config.Config{DatabaseURL: dbURL, TemporalAddress: srv.FrontendHostPort(), TemporalNamespace: "default"}
	run := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := billingcli.Run(ctx, billingcli.Options{Config: cfg, DevDir: t.TempDir()}, args, &out, &errOut)
		return code, out.String(), errOut.String()
	}
	status := func(out string) workflows.DunningStatus {
		t.Helper()
		var s workflows.DunningStatus
		if err := json.Unmarshal([]byte(out), &s); err != nil {
			t.Fatalf("output is not a DunningStatus: %v\n%s", err, out)
		}
		return s
	}
	type audit struct {
		Actor, Action, TargetType, TargetID string
		Details                             map[string]any
	}
	audits := func() []audit {
		rows, err := st.Pool.Query(ctx, `SELECT actor, action, target_type, target_id, details FROM audit_log
			WHERE workspace_id = $1 AND action LIKE 'billing.%' ORDER BY id`, testWS)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []audit
		for rows.Next() {
			var a audit
			if err := rows.Scan(&a.Actor, &a.Action, &a.TargetType, &a.TargetID, &a.Details); err != nil {
				t.Fatal(err)
			}
			out = append(out, a)
		}
		return out
	}

	// No episode yet.
	if code, _, errOut := run("state", "--workspace", testWS); code != billingcli.ExitFailure || !strings.Contains(errOut, "no dunning episode") {
		t.Fatalf("state without an episode: %d %s", code, errOut)
	}

	wfID := workflows.DunningWorkflowID("sub_support", "in_support")
	if _, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: wfID, TaskQueue: workflows.TaskQueueBilling},
		"Dunning", workflows.DunningInput{WorkspaceID: testWS, SubscriptionID: "sub_support", InvoiceID: "in_support"}); err != nil {
		t.Fatal(err)
	}
	if err := st.SetDunning(ctx, testWS, billing.DunningGrace, wfID); err != nil {
		t.Fatal(err)
	}

	code, out, errOut := run("state", "--workspace", testWS)
	if code != billingcli.ExitOK {
		t.Fatalf("state: %d %s", code, errOut)
	}
	s := status(out)
	if s.State != "grace" || s.InvoiceID != "in_support" || s.WorkspaceID != testWS || s.NextStep != "restricted" {
		t.Fatalf("state %+v", s)
	}
	firstNext := *s.NextStepAt

	code, out, errOut = run("extend-grace", "--workspace", testWS, "--days", "5", "--reason", "card replaced, bank slow", "--by", "ana@support")
	if code != billingcli.ExitOK {
		t.Fatalf("extend-grace: %d %s", code, errOut)
	}
	if s = status(out); s.ExtendedDays != 5 || !s.NextStepAt.Equal(firstNext.Add(5*24*time.Hour)) {
		t.Fatalf("after extend-grace: %+v", s)
	}

	// The validator's refusal is a clear message, exit 1, and no audit entry.
	code, out, errOut = run("extend-grace", "--workspace", testWS, "--days", "26", "--reason", "more", "--by", "ana@support")
	if code != billingcli.ExitFailure || !strings.Contains(errOut, "refused extend_grace: grace can be extended by at most 30 days in all; 5 already granted") || out != "" {
		t.Fatalf("refused extension: %d\n%s%s", code, out, errOut)
	}

	code, out, errOut = run("advance", "--workspace", testWS, "--reason", "customer asked to be restricted now", "--by", "bo")
	if code != billingcli.ExitOK {
		t.Fatalf("advance: %d %s", code, errOut)
	}
	if s = status(out); s.State != "restricted" || s.NextStep != "suspended" {
		t.Fatalf("after advance: %+v", s)
	}
	if code, out, _ = run("state", "--workspace", testWS); status(out).State != "restricted" || code != billingcli.ExitOK {
		t.Fatalf("state after advance: %s", out)
	}

	got := audits()
	if len(got) != 2 ||
		got[0].Action != billingcli.AuditDunningExtended || got[0].Actor != "support:ana@support" || got[0].TargetType != "dunning_workflow" ||
		got[0].TargetID != wfID || got[0].Details["days"] != float64(5) || got[0].Details["reason"] != "card replaced, bank slow" ||
		got[1].Action != billingcli.AuditDunningAdvanced || got[1].Actor != "support:bo" || got[1].TargetID != wfID ||
		got[1].Details["reason"] != "customer asked to be restricted now" || got[1].Details["state"] != "restricted" {
		t.Fatalf("audit log %+v", got)
	}

	// Bad arguments never reach the workflow.
	for _, args := range [][]string{
		{"extend-grace", "--workspace", testWS, "--days", "0", "--reason", "r", "--by", "b"},
		{"extend-grace", "--workspace", testWS, "--days", "2", "--by", "b"},
		{"advance", "--workspace", testWS, "--reason", "r"},
		{"state"},
	} {
		if code, _, errOut := run(args...); code != billingcli.ExitUsage || errOut == "" {
			t.Fatalf("%v: exit %d %s", args, code, errOut)
		}
	}
	if len(audits()) != 2 {
		t.Fatal("a refused or malformed call was audited")
	}

	// An episode whose workflow is gone.
	if err := st.SetDunning(ctx, testWS, billing.DunningGrace, "dunning-sub_gone-in_gone"); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := run("advance", "--workspace", testWS, "--reason", "r", "--by", "b"); code != billingcli.ExitFailure ||
		!strings.Contains(errOut, "dunning-sub_gone-in_gone is not running") {
		t.Fatalf("advance of a missing workflow: %d %s", code, errOut)
	}
}
