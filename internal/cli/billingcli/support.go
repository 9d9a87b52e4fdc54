package billingcli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"

	"github.com/omnitrackiq/omnitrackiq/internal/store"
	"github.com/omnitrackiq/omnitrackiq/workflows"
)

// updateTimeout bounds waiting for the workflow to run an update: without a worker
// polling the billing task queue it would wait forever.
const updateTimeout = 30 * time.Second

// Audit actions of the support commands.
const (
	AuditDunningExtended = "billing.dunning_extended"
	AuditDunningAdvanced = "billing.dunning_advanced"
)

// episode is the running dunning workflow of a workspace and what talks to it.
type episode struct {
	st         *store.Store
	tc         client.Client
	workspace  string
	workflowID string
}

func (e *episode) close() {
	e.tc.Close()
	e.st.Close()
}

// openEpisode finds the workspace's dunning workflow (billing_accounts.dunning_workflow_id)
// and connects to Temporal.
func openEpisode(ctx context.Context, o Options, workspaceID string, stderr io.Writer) (*episode, error) {
	st, acct, err := loadAccount(ctx, o.Config, workspaceID)
	if err != nil {
		return nil, err
	}
	if acct.DunningWorkflowID == "" {
		st.Close()
		return nil, fmt.Errorf("workspace %s has no dunning episode running (dunning state %s)", workspaceID, acct.DunningState)
	}
	// Only the SDK's warnings and errors: this is a command's output, not a service log.
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	tc, err := client.DialContext(ctx, client.Options{
		HostPort: o.Config.TemporalAddress, Namespace: o.Config.TemporalNamespace,
		Logger: sdklog.NewStructuredLogger(logger),
	})
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("connect to Temporal at %s: %w", o.Config.TemporalAddress, err)
	}
	return &episode{st: st, tc: tc, workspace: acct.WorkspaceID, workflowID: acct.DunningWorkflowID}, nil
}

func state(ctx context.Context, o Options, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("billing state", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	workspace := fs.String("workspace", "", "the workspace id (required)")
	if err := fs.Parse(args); err != nil {
		return ExitUsage
	}
	if *workspace == "" || fs.NArg() > 0 {
		return usageError(stderr, "billing state takes --workspace ID only")
	}
	e, err := openEpisode(ctx, o, *workspace, stderr)
	if err != nil {
		return fail(stderr, "state", err)
	}
	defer e.close()
	qctx, cancel := context.WithTimeout(ctx, updateTimeout)
	defer cancel()
	v, err := e.tc.QueryWorkflow(qctx, e.workflowID, "", workflows.DunningStateQuery)
	if err != nil {
		return fail(stderr, "state", explain(e.workflowID, "query", err))
	}
	var status workflows.DunningStatus
	if err := v.Get(&status); err != nil {
		return fail(stderr, "state", fmt.Errorf("decode the state of %s: %w", e.workflowID, err))
	}
	return printStatus(stdout, stderr, "state", status)
}

func extendGrace(ctx context.Context, o Options, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("billing extend-grace", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	workspace := fs.String("workspace", "", "the workspace id (required)")
	days := fs.Int("days", 0, "days to push every later step back by (required, at least 1)")
	reason := fs.String("reason", "", "why (required; kept in the audit log)")
	by := fs.String("by", "", "who asks: your name or email (required)")
	if err := fs.Parse(args); err != nil {
		return ExitUsage
	}
	problems := supportProblems(fs, *workspace, *reason, *by)
	if *days < 1 {
		problems = append(problems, "--days must be a whole number of days, at least 1")
	}
	if len(problems) > 0 {
		return usageError(stderr, problems...)
	}
	req := workflows.ExtendGraceRequest{Days: *days, Reason: strings.TrimSpace(*reason), By: strings.TrimSpace(*by)}
	return runUpdate(ctx, o, "extend-grace", *workspace, workflows.UpdateExtendGrace, req, AuditDunningExtended,
		map[string]any{"days": req.Days, "reason": req.Reason}, req.By, stdout, stderr)
}

func advance(ctx context.Context, o Options, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("billing advance", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	workspace := fs.String("workspace", "", "the workspace id (required)")
	reason := fs.String("reason", "", "why (required; kept in the audit log)")
	by := fs.String("by", "", "who asks: your name or email (required)")
	if err := fs.Parse(args); err != nil {
		return ExitUsage
	}
	if problems := supportProblems(fs, *workspace, *reason, *by); len(problems) > 0 {
		return usageError(stderr, problems...)
	}
	req := workflows.AdvanceRequest{Reason: strings.TrimSpace(*reason), By: strings.TrimSpace(*by)}
	return runUpdate(ctx, o, "advance", *workspace, workflows.UpdateAdvance, req, AuditDunningAdvanced,
		map[string]any{"reason": req.Reason}, req.By, stdout, stderr)
}

func supportProblems(fs *flag.FlagSet, workspace, reason, by string) []string {
	var problems []string
	if fs.NArg() > 0 {
		problems = append(problems, "unexpected arguments: "+strings.Join(fs.Args(), " "))
	}
	if workspace == "" {
		problems = append(problems, "--workspace is required")
	}
	if strings.TrimSpace(reason) == "" {
		problems = append(problems, "--reason is required")
	}
	if strings.TrimSpace(by) == "" {
		problems = append(problems, "--by is required")
	}
	return problems
}

// runUpdate sends the update, waits for the workflow to complete it, prints the status it
// returns and records the audit entry. Nothing is audited when the workflow refused.
func runUpdate(ctx context.Context, o Options, cmd, workspaceID, update string, req any, action string,
	details map[string]any, by string, stdout, stderr io.Writer) int {
	e, err := openEpisode(ctx, o, workspaceID, stderr)
	if err != nil {
		return fail(stderr, cmd, err)
	}
	defer e.close()
	uctx, cancel := context.WithTimeout(ctx, updateTimeout)
	defer cancel()
	h, err := e.tc.UpdateWorkflow(uctx, client.UpdateWorkflowOptions{
		WorkflowID: e.workflowID, UpdateName: update, Args: []any{req},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	var status workflows.DunningStatus
	if err == nil {
		err = h.Get(uctx, &status)
	}
	if err != nil {
		return fail(stderr, cmd, explain(e.workflowID, update, err))
	}
	details["state"] = status.State
	if err := store.AppendAudit(ctx, e.st.Pool, store.AuditEntry{
		WorkspaceID: e.workspace, Actor: "support:" + by, Action: action,
		TargetType: "dunning_workflow", TargetID: e.workflowID, Details: details,
	}); err != nil {
		printStatus(stdout, stderr, cmd, status)
		return fail(stderr, cmd, fmt.Errorf("the workflow applied %s, but the audit entry was not written: %w", update, err))
	}
	return printStatus(stdout, stderr, cmd, status)
}

// explain turns what Temporal answered into a message for a person.
func explain(workflowID, what string, err error) error {
	var appErr *temporal.ApplicationError
	var notFound *serviceerror.NotFound
	var updateTimedOut *client.WorkflowUpdateServiceTimeoutOrCanceledError
	var deadline *serviceerror.DeadlineExceeded
	switch {
	case errors.As(err, &appErr):
		// The workflow's update validator (or handler) refused: its message says why.
		return fmt.Errorf("the dunning workflow %s refused %s: %s", workflowID, what, appErr.Message())
	case errors.As(err, &notFound):
		return fmt.Errorf("the dunning workflow %s is not running (it may have just ended): %w", workflowID, err)
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &updateTimedOut) || errors.As(err, &deadline):
		return fmt.Errorf("the dunning workflow %s did not answer %s within %s: is a worker running the %q task queue?",
			workflowID, what, updateTimeout, workflows.TaskQueueBilling)
	}
	return fmt.Errorf("%s of %s: %w", what, workflowID, err)
}

func printStatus(stdout, stderr io.Writer, cmd string, status workflows.DunningStatus) int {
	b, err := json.MarshalIndent(status, "", "  ")
	if err != nil {
		return fail(stderr, cmd, err)
	}
	fmt.Fprintf(stdout, "%s\n", b)
	return ExitOK
}
