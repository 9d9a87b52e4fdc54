// Package syncsvc is the API's side of the sync workflows: it starts, finds and schedules
// them in Temporal, and checks that what it returns belongs to the caller's workspace.
package syncsvc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	"github.com/omnitrackiq/omnitrackiq/internal/channels/httpx"
	"github.com/omnitrackiq/omnitrackiq/internal/store"
	"github.com/omnitrackiq/omnitrackiq/workflows"
)

// scheduleCatchupWindow is how late a missed scheduled sync may still start (after a
// Temporal outage, say). Later than that the next regular run covers the gap anyway,
// because every sync re-reads its lookback.
const scheduleCatchupWindow = 30 * time.Minute

// Service implements the sync operations of the REST API.
type Service struct {
	Temporal client.Client
	Store    *store.Store
	Logger   *slog.Logger
	// MaxBackfills caps the backfills one workspace runs at once; 0 means
	// DefaultMaxBackfills.
	MaxBackfills int
	// MaxBackfillWindows caps the windows one workspace's running backfills read at once
	// between them; 0 means DefaultMaxBackfillWindows.
	MaxBackfillWindows int
}

// TriggerSync starts the connection's incremental sync, or returns the one already running
// (started by an earlier trigger or by the schedule) with started=false.
func (s *Service) TriggerSync(ctx context.Context, conn store.Connection) (Handle, bool, error) {
	if holder, err := s.Store.RunningSyncWorkflow(ctx, conn.WorkspaceID, conn.ID); err != nil {
		return Handle{}, false, err
	} else if holder != "" {
		if h, running, err := s.describeRunning(ctx, holder); err != nil {
			return Handle{}, false, err
		} else if running {
			return h, false, nil
		}
	}
	opts := client.StartWorkflowOptions{
		ID:                                       workflows.SyncWorkflowID(conn.ID),
		TaskQueue:                                workflows.TaskQueueSync,
		WorkflowIDReusePolicy:                    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		WorkflowIDConflictPolicy:                 enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		TypedSearchAttributes:                    workflows.SearchAttributes(conn.WorkspaceID, conn.ID, conn.Channel),
		StaticSummary:                            fmt.Sprintf("%s incremental sync of %s", conn.Channel, conn.ExternalAccountID),
	}
	run, err := s.Temporal.ExecuteWorkflow(ctx, opts, workflows.ChannelSync, workflows.ChannelSyncInput{
		WorkspaceID: conn.WorkspaceID, ConnectionID: conn.ID, Channel: conn.Channel, Kind: workflows.KindIncremental,
	})
	var already *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &already) {
		return Handle{WorkflowID: opts.ID, RunID: already.RunId}, false, nil
	}
	if err != nil {
		return Handle{}, false, fmt.Errorf("start sync of connection %s: %w", conn.ID, err)
	}
	return Handle{WorkflowID: run.GetID(), RunID: run.GetRunID()}, true, nil
}

func (s *Service) describeRunning(ctx context.Context, workflowID string) (Handle, bool, error) {
	resp, err := s.Temporal.DescribeWorkflowExecution(ctx, workflowID, "")
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return Handle{}, false, nil
	}
	if err != nil {
		return Handle{}, false, fmt.Errorf("describe %s: %w", workflowID, err)
	}
	info := resp.GetWorkflowExecutionInfo()
	running := info.GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING
	return Handle{WorkflowID: workflowID, RunID: info.GetExecution().GetRunId()}, running, nil
}

// shopifyBackfillWindowDays sizes Shopify backfill windows: a month. Each window reads the
// orders created in its days, once (not every later update, as a read by update time
// would), so the size only trades the number of child workflows against the pages of each;
// a month is a few pages for most shops and keeps a 3-year backfill at 37 windows.
const shopifyBackfillWindowDays = 30

// StartBackfill starts a Backfill of [from, to]; the same range already running is returned
// with started=false. A backfill overlapping another running on the connection is a
// *ConflictError; one past the workspace's caps (MaxBackfills, MaxBackfillWindows) is a
// *LimitError naming the running ones. The new backfill reads as many windows at once as
// the workspace has left, up to workflows.DefaultBackfillConcurrency.
func (s *Service) StartBackfill(ctx context.Context, conn store.Connection, from, to string) (Handle, bool, error) {
	id := workflows.BackfillWorkflowID(conn.ID, from, to)
	windowDays := workflows.DefaultBackfillWindowDays
	if conn.Channel == "shopify" {
		windowDays = shopifyBackfillWindowDays
	}
	days, err := channels.ParseWindow(from, to)
	if err != nil {
		return Handle{}, false, &ValidationError{Msg: err.Error()}
	}
	// Checked here too, for callers other than the API: a day no provider serves would only
	// fail later, and one before year 1 would fail in the database as a server error.
	if earliest := channels.EarliestBackfillDay(time.Now()); days.From.Before(earliest) {
		return Handle{}, false, &ValidationError{Msg: fmt.Sprintf("from %s is before %s: providers keep at most %d days of data",
			from, earliest.Format(channels.DateLayout), channels.RetentionDays)}
	}
	capacity := &backfillCapacity{
		maxBackfills: s.maxBackfills(), maxWindows: s.maxBackfillWindows(),
		windowsOf: map[string]int{}, check: s.describeBackfill,
	}
	running, err := s.Store.ReserveBackfill(ctx, store.Backfill{
		WorkflowID: id, WorkspaceID: conn.WorkspaceID, ConnectionID: conn.ID, From: days.From, To: days.To,
	}, capacity.status, capacity.admit)
	if err != nil {
		return Handle{}, false, err
	}
	if running != nil {
		if running.WorkflowID == id {
			h, _, err := s.describeRunning(ctx, id)
			return h, false, err
		}
		return Handle{}, false, &ConflictError{
			WorkflowID: running.WorkflowID,
			Msg: fmt.Sprintf("backfill %s of %s..%s is running on this connection and overlaps %s..%s; wait for it or cancel it",
				running.WorkflowID, running.From.Format(channels.DateLayout), running.To.Format(channels.DateLayout), from, to),
		}
	}
	run, err := s.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                                       id,
		TaskQueue:                                workflows.TaskQueueSync,
		WorkflowIDReusePolicy:                    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		WorkflowIDConflictPolicy:                 enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		TypedSearchAttributes:                    workflows.SearchAttributes(conn.WorkspaceID, conn.ID, conn.Channel),
		StaticSummary:                            fmt.Sprintf("%s backfill %s..%s", conn.Channel, from, to),
		Memo:                                     map[string]any{backfillWindowsMemo: capacity.granted},
	}, workflows.Backfill, workflows.BackfillInput{
		WorkspaceID: conn.WorkspaceID, ConnectionID: conn.ID, Channel: conn.Channel, From: from, To: to,
		WindowDays: windowDays, MaxConcurrent: capacity.granted,
	})
	var already *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &already) {
		return Handle{WorkflowID: id, RunID: already.RunId}, false, nil
	}
	if err != nil {
		return Handle{}, false, fmt.Errorf("start backfill of connection %s: %w", conn.ID, err)
	}
	return Handle{WorkflowID: run.GetID(), RunID: run.GetRunID()}, true, nil
}

// StartWorkspaceSync starts a sync of every connection of the workspace, or returns the one
// already running with started=false.
func (s *Service) StartWorkspaceSync(ctx context.Context, workspaceID string) (Handle, bool, error) {
	id := workflows.WorkspaceSyncWorkflowID(workspaceID)
	run, err := s.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                                       id,
		TaskQueue:                                workflows.TaskQueueSync,
		WorkflowIDReusePolicy:                    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		WorkflowIDConflictPolicy:                 enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		TypedSearchAttributes:                    temporal.NewSearchAttributes(workflows.WorkspaceIDKey.ValueSet(workspaceID)),
		StaticSummary:                            "sync of every connection of the workspace",
	}, workflows.WorkspaceSync, workflows.WorkspaceSyncInput{WorkspaceID: workspaceID})
	var already *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &already) {
		return Handle{WorkflowID: id, RunID: already.RunId}, false, nil
	}
	if err != nil {
		return Handle{}, false, fmt.Errorf("start workspace sync of %s: %w", workspaceID, err)
	}
	return Handle{WorkflowID: run.GetID(), RunID: run.GetRunID()}, true, nil
}

// GetSync describes a sync or backfill workflow of the caller's workspace.
func (s *Service) GetSync(ctx context.Context, workspaceID, workflowID string) (SyncStatus, error) {
	if !looksLikeOurWorkflowID(workflowID) {
		return SyncStatus{}, ErrNotFound
	}
	resp, err := s.Temporal.DescribeWorkflowExecution(ctx, workflowID, "")
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return SyncStatus{}, ErrNotFound
	}
	if err != nil {
		return SyncStatus{}, fmt.Errorf("describe %s: %w", workflowID, err)
	}
	info := resp.GetWorkflowExecutionInfo()
	fields := info.GetSearchAttributes().GetIndexedFields()
	var ws, connID string
	_ = converter.GetDefaultDataConverter().FromPayload(fields[workflows.WorkspaceIDKey.GetName()], &ws)
	_ = converter.GetDefaultDataConverter().FromPayload(fields[workflows.ConnectionIDKey.GetName()], &connID)
	if ws != workspaceID {
		return SyncStatus{}, ErrNotFound
	}
	st := SyncStatus{
		WorkflowID:   workflowID,
		RunID:        info.GetExecution().GetRunId(),
		WorkflowType: info.GetType().GetName(),
		ConnectionID: connID,
		Status:       statusName(info.GetStatus()),
		StartedAt:    info.GetStartTime().AsTime(),
		Runs:         []SyncRun{},
	}
	if ct := info.GetCloseTime(); ct != nil && info.GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		t := ct.AsTime()
		st.ClosedAt = &t
	}
	if st.WorkflowType == "ChannelSync" && info.GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		qctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		if v, err := s.Temporal.QueryWorkflow(qctx, workflowID, st.RunID, workflows.ProgressQuery); err == nil {
			var p workflows.Progress
			if err := v.Get(&p); err == nil {
				st.Progress = &p
			}
		}
	}
	if info.GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_FAILED {
		st.Failure = s.failureOf(ctx, workflowID, st.RunID)
	}
	if st.WorkflowType == "WorkspaceSync" && info.GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED {
		var res workflows.WorkspaceSyncResult
		if err := s.Temporal.GetWorkflow(ctx, workflowID, st.RunID).Get(ctx, &res); err == nil {
			st.Connections = res.Connections
		}
	}
	runs, err := s.Store.ListSyncRunsByWorkflow(ctx, workspaceID, workflowID)
	if err != nil {
		return SyncStatus{}, err
	}
	for _, r := range runs {
		st.Runs = append(st.Runs, syncRunDTO(r))
	}
	if st.Progress == nil && len(runs) > 0 && st.WorkflowType == "ChannelSync" {
		r := runs[0]
		st.Progress = &workflows.Progress{Phase: phaseOf(r.Status), SyncRunID: r.ID,
			From: r.WindowFrom.Format("2006-01-02"), To: r.WindowTo.Format("2006-01-02"), Pages: r.Pages, Rows: r.RowsWritten}
	}
	return st, nil
}

func (s *Service) failureOf(ctx context.Context, workflowID, runID string) string {
	run := s.Temporal.GetWorkflow(ctx, workflowID, runID)
	err := run.Get(ctx, nil)
	if err == nil {
		return ""
	}
	msg := err.Error()
	for {
		u := errors.Unwrap(err)
		if u == nil {
			break
		}
		err = u
		msg = err.Error()
	}
	// Tenants read this: an activity's error may name our own addresses.
	return httpx.HideAddresses(msg)
}

func phaseOf(runStatus string) string {
	switch runStatus {
	case store.RunSucceeded:
		return "done"
	case store.RunFailed:
		return "failed"
	case store.RunSkipped:
		return "skipped"
	default:
		return "reading"
	}
}

func syncRunDTO(r store.SyncRun) SyncRun {
	return SyncRun{
		ID: r.ID, Kind: r.Kind, WindowFrom: r.WindowFrom.Format("2006-01-02"), WindowTo: r.WindowTo.Format("2006-01-02"),
		Status: r.Status, Pages: r.Pages, RowsWritten: r.RowsWritten, Error: httpx.HideAddresses(r.Error), StartedAt: r.StartedAt, FinishedAt: r.FinishedAt,
	}
}

var workflowIDPattern = regexp.MustCompile(`^(sync|scheduled-sync|backfill|backfill-window|workspace-sync)-[0-9a-f-]{36}[0-9A-Za-z:._-]*$`)

// looksLikeOurWorkflowID keeps arbitrary ids (other namespaces' conventions, probes) from
// reaching Temporal at all.
func looksLikeOurWorkflowID(id string) bool {
	return len(id) < 200 && workflowIDPattern.MatchString(id)
}

// statusName is the status as the Web UI and CLI show it: Running, Completed, Failed, ...
func statusName(s enumspb.WorkflowExecutionStatus) string { return s.String() }

// EnsureSchedule creates the connection's schedule if it does not exist.
func (s *Service) EnsureSchedule(ctx context.Context, conn store.Connection) error {
	cron, tz, err := s.Store.ConnectionSchedule(ctx, conn.WorkspaceID, conn.ID)
	if err != nil {
		return err
	}
	_, err = s.Temporal.ScheduleClient().Create(ctx, client.ScheduleOptions{
		ID:                    workflows.ScheduleID(conn.ID),
		Spec:                  client.ScheduleSpec{CronExpressions: []string{cron}, TimeZoneName: tz},
		Action:                scheduleAction(conn),
		Overlap:               enumspb.SCHEDULE_OVERLAP_POLICY_SKIP,
		CatchupWindow:         scheduleCatchupWindow,
		Note:                  "incremental sync of connection " + conn.ID,
		TypedSearchAttributes: workflows.SearchAttributes(conn.WorkspaceID, conn.ID, conn.Channel),
	})
	if err != nil && !errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
		return fmt.Errorf("create schedule of connection %s: %w", conn.ID, err)
	}
	return nil
}

func scheduleAction(conn store.Connection) *client.ScheduleWorkflowAction {
	return &client.ScheduleWorkflowAction{
		ID:                    workflows.ScheduleWorkflowID(conn.ID),
		Workflow:              workflows.ChannelSync,
		TaskQueue:             workflows.TaskQueueSync,
		TypedSearchAttributes: workflows.SearchAttributes(conn.WorkspaceID, conn.ID, conn.Channel),
		StaticSummary:         fmt.Sprintf("scheduled %s sync of %s", conn.Channel, conn.ExternalAccountID),
		Args: []any{workflows.ChannelSyncInput{
			WorkspaceID: conn.WorkspaceID, ConnectionID: conn.ID, Channel: conn.Channel, Kind: workflows.KindIncremental,
		}},
	}
}

// GetSchedule describes the connection's schedule.
func (s *Service) GetSchedule(ctx context.Context, conn store.Connection) (Schedule, error) {
	cron, tz, err := s.Store.ConnectionSchedule(ctx, conn.WorkspaceID, conn.ID)
	if err != nil {
		return Schedule{}, err
	}
	desc, err := s.Temporal.ScheduleClient().GetHandle(ctx, workflows.ScheduleID(conn.ID)).Describe(ctx)
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return Schedule{}, ErrNotFound
	}
	if err != nil {
		return Schedule{}, fmt.Errorf("describe schedule of connection %s: %w", conn.ID, err)
	}
	out := Schedule{ID: workflows.ScheduleID(conn.ID), Cron: cron, Timezone: tz, NextRuns: desc.Info.NextActionTimes, Recent: []Handle{}}
	if desc.Schedule.State != nil {
		out.Paused = desc.Schedule.State.Paused
	}
	out.updatedAt = desc.Info.LastUpdateAt
	if out.NextRuns == nil {
		out.NextRuns = []time.Time{}
	}
	for _, a := range desc.Info.RecentActions {
		if a.StartWorkflowResult != nil {
			out.Recent = append(out.Recent, Handle{WorkflowID: a.StartWorkflowResult.WorkflowID, RunID: a.StartWorkflowResult.FirstExecutionRunID})
		}
	}
	return out, nil
}

var cronField = regexp.MustCompile(`^[0-9A-Za-z*,/?-]+$`)

// validateCron accepts the five-field cron form Temporal schedules take.
func validateCron(expr string) error {
	fields := strings.Fields(expr)
	if len(fields) != 5 {
		return &ValidationError{Msg: fmt.Sprintf("cron %q must have 5 fields (minute hour day-of-month month day-of-week)", expr)}
	}
	for _, f := range fields {
		if !cronField.MatchString(f) {
			return &ValidationError{Msg: fmt.Sprintf("cron %q: field %q is not valid", expr, f)}
		}
	}
	return nil
}

// UpdateSchedule changes the schedule's cron, timezone or paused state. The cron text is
// recorded only after Temporal accepted it, so the two never disagree.
func (s *Service) UpdateSchedule(ctx context.Context, conn store.Connection, u ScheduleUpdate) (Schedule, error) {
	cron, tz, err := s.Store.ConnectionSchedule(ctx, conn.WorkspaceID, conn.ID)
	if err != nil {
		return Schedule{}, err
	}
	if u.Cron != nil {
		if err := validateCron(*u.Cron); err != nil {
			return Schedule{}, err
		}
		if err := checkScheduleInterval(*u.Cron); err != nil {
			return Schedule{}, err
		}
		cron = strings.Join(strings.Fields(*u.Cron), " ")
	}
	if u.Timezone != nil {
		if _, err := time.LoadLocation(*u.Timezone); err != nil || *u.Timezone == "" || *u.Timezone == "Local" {
			return Schedule{}, &ValidationError{Msg: fmt.Sprintf("timezone %q is not an IANA time zone name", *u.Timezone)}
		}
		tz = *u.Timezone
	}
	h := s.Temporal.ScheduleClient().GetHandle(ctx, workflows.ScheduleID(conn.ID))
	before, err := h.Describe(ctx)
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return Schedule{}, ErrNotFound
	}
	if err != nil {
		return Schedule{}, fmt.Errorf("describe schedule of connection %s: %w", conn.ID, err)
	}
	// One update carries every change, so a pause and a new spec cannot overwrite each other.
	err = h.Update(ctx, client.ScheduleUpdateOptions{DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
		sched := in.Description.Schedule
		if u.Cron != nil || u.Timezone != nil {
			sched.Spec = &client.ScheduleSpec{CronExpressions: []string{cron}, TimeZoneName: tz}
		}
		if u.Paused != nil {
			state := client.ScheduleState{}
			if sched.State != nil {
				state = *sched.State
			}
			state.Paused = *u.Paused
			state.Note = "paused through the API"
			if !*u.Paused {
				state.Note = "resumed through the API"
			}
			sched.State = &state
		}
		return &client.ScheduleUpdate{Schedule: &sched}, nil
	}})
	var invalid *serviceerror.InvalidArgument
	if errors.As(err, &invalid) {
		return Schedule{}, &ValidationError{Msg: "schedule rejected: " + invalid.Message}
	}
	if err != nil {
		return Schedule{}, fmt.Errorf("update schedule of connection %s: %w", conn.ID, err)
	}
	if u.Cron != nil || u.Timezone != nil {
		if err := s.Store.SetConnectionSchedule(ctx, conn.WorkspaceID, conn.ID, cron, tz); err != nil {
			return Schedule{}, err
		}
	}
	// The scheduler applies updates asynchronously; answer with the state after this one.
	deadline := time.Now().Add(5 * time.Second)
	for {
		out, err := s.GetSchedule(ctx, conn)
		if err != nil {
			return Schedule{}, err
		}
		if out.updatedAt.After(before.Info.LastUpdateAt) || time.Now().After(deadline) {
			return out, nil
		}
		select {
		case <-ctx.Done():
			return Schedule{}, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// TriggerSchedule runs the schedule's action now (skipped if a scheduled sync is running).
func (s *Service) TriggerSchedule(ctx context.Context, conn store.Connection) error {
	err := s.Temporal.ScheduleClient().GetHandle(ctx, workflows.ScheduleID(conn.ID)).Trigger(ctx, client.ScheduleTriggerOptions{
		Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_SKIP,
	})
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("trigger schedule of connection %s: %w", conn.ID, err)
	}
	return nil
}
