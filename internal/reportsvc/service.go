// Package reportsvc keeps each report's Temporal Schedule in step with its definition and
// starts the runs people ask for: create, update, pause, resume, describe, delete, run now.
package reportsvc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/omnitrackiq/omnitrackiq/activities"
	"github.com/omnitrackiq/omnitrackiq/internal/report"
	"github.com/omnitrackiq/omnitrackiq/workflows"
)

// The ReportRun activities pause a report whose target keeps failing through the Service.
var _ activities.ReportSchedulePauser = (*Service)(nil)

// ErrNoSchedule: the report has no Temporal Schedule (it is not scheduled, or was deleted).
var ErrNoSchedule = errors.New("report has no schedule")

// DefaultCatchupWindow is how late a scheduled run may still start when its time passed
// while Temporal (or its scheduler) was down: a Monday-morning report still goes out by
// the early afternoon; a run later than that is skipped, since the next one is due anyway
// and a report arriving the next evening would only confuse its readers.
const DefaultCatchupWindow = 6 * time.Hour

// RunTimeout bounds one ReportRun: rendering takes minutes at most and a delivery is
// retried for about half an hour, so a run still going after two hours is stuck.
const RunTimeout = 2 * time.Hour

// Service manages the Temporal side of reports.
type Service struct {
	Temporal client.Client
	Logger   *slog.Logger
	// CatchupWindow overrides DefaultCatchupWindow when positive.
	CatchupWindow time.Duration
}

func (s *Service) catchupWindow() time.Duration {
	if s.CatchupWindow > 0 {
		return s.CatchupWindow
	}
	return DefaultCatchupWindow
}

func (s *Service) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// Apply makes the report's schedule what req says: removed when req.Schedule is nil,
// else created or replaced (spec, time zone, action, policies and paused state). Calling
// it again with the same request changes nothing, so the API may call it after every
// write of a report.
func (s *Service) Apply(ctx context.Context, req report.ScheduleRequest) error {
	if req.ReportID == "" || req.WorkspaceID == "" {
		return errors.New("apply report schedule: workspace and report ids are required")
	}
	if req.Schedule == nil {
		return s.Delete(ctx, req.ReportID)
	}
	opts, err := s.scheduleOptions(req)
	if err != nil {
		return err
	}
	_, err = s.Temporal.ScheduleClient().Create(ctx, opts)
	if err == nil {
		s.logger().Info("report schedule created", "report_id", req.ReportID, "paused", req.Paused)
		return nil
	}
	if !errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
		return fmt.Errorf("create schedule of report %s: %w", req.ReportID, err)
	}
	// One update replaces everything, so a changed time and a pause cannot overwrite each
	// other; the scheduler applies it asynchronously (Describe may lag by a moment).
	h := s.Temporal.ScheduleClient().GetHandle(ctx, opts.ID)
	err = h.Update(ctx, client.ScheduleUpdateOptions{DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
		sched := in.Description.Schedule
		spec := opts.Spec
		sched.Spec = &spec
		sched.Action = opts.Action
		sched.Policy = &client.SchedulePolicies{Overlap: opts.Overlap, CatchupWindow: opts.CatchupWindow}
		sched.State = &client.ScheduleState{Paused: opts.Paused, Note: opts.Note}
		attrs := opts.TypedSearchAttributes
		return &client.ScheduleUpdate{Schedule: &sched, TypedSearchAttributes: &attrs}, nil
	}})
	if err != nil {
		return fmt.Errorf("update schedule of report %s: %w", req.ReportID, err)
	}
	s.logger().Info("report schedule updated", "report_id", req.ReportID, "paused", req.Paused)
	return nil
}

// scheduleOptions is the whole schedule of a report.
func (s *Service) scheduleOptions(req report.ScheduleRequest) (client.ScheduleOptions, error) {
	if _, err := time.LoadLocation(req.Timezone); err != nil || req.Timezone == "" || req.Timezone == "Local" {
		return client.ScheduleOptions{}, fmt.Errorf("schedule of report %s: timezone %q is not an IANA time zone name", req.ReportID, req.Timezone)
	}
	cals, err := CalendarSpecs(*req.Schedule)
	if err != nil {
		return client.ScheduleOptions{}, fmt.Errorf("schedule of report %s: %w", req.ReportID, err)
	}
	attrs := searchAttributes(req.WorkspaceID, req.ReportID)
	return client.ScheduleOptions{
		ID:   workflows.ReportScheduleID(req.ReportID),
		Spec: client.ScheduleSpec{Calendars: cals, TimeZoneName: req.Timezone},
		Action: &client.ScheduleWorkflowAction{
			ID:                    workflows.ReportScheduledWorkflowID(req.ReportID),
			Workflow:              workflows.ReportRun,
			TaskQueue:             workflows.TaskQueueReports,
			WorkflowRunTimeout:    RunTimeout,
			TypedSearchAttributes: attrs,
			StaticSummary:         "scheduled run of report " + req.ReportID,
			Args: []any{workflows.ReportRunInput{
				WorkspaceID: req.WorkspaceID, ReportID: req.ReportID, Trigger: workflows.ReportTriggerSchedule,
			}},
		},
		// A run still delivering (its retries last about half an hour) when the next one is
		// due, as after an outage when catch-up starts missed runs back to back: the next
		// run waits for it rather than being dropped or racing it, and at most one waits,
		// so a stuck run never piles up a queue of reports.
		Overlap:               enumspb.SCHEDULE_OVERLAP_POLICY_BUFFER_ONE,
		CatchupWindow:         s.catchupWindow(),
		Paused:                req.Paused,
		Note:                  req.Note,
		TypedSearchAttributes: attrs,
	}, nil
}

func searchAttributes(workspaceID, reportID string) temporal.SearchAttributes {
	return temporal.NewSearchAttributes(workflows.WorkspaceIDKey.ValueSet(workspaceID), workflows.ReportIDKey.ValueSet(reportID))
}

// Pause pauses the report's schedule with a note the Web UI shows. A report without a
// schedule has nothing to pause: no error.
func (s *Service) Pause(ctx context.Context, reportID, note string) error {
	err := s.handle(ctx, reportID).Pause(ctx, client.SchedulePauseOptions{Note: note})
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("pause schedule of report %s: %w", reportID, err)
	}
	s.logger().Info("report schedule paused", "report_id", reportID, "note", note)
	return nil
}

// Resume unpauses the report's schedule; a report without a schedule is left as it is.
func (s *Service) Resume(ctx context.Context, reportID, note string) error {
	err := s.handle(ctx, reportID).Unpause(ctx, client.ScheduleUnpauseOptions{Note: note})
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("resume schedule of report %s: %w", reportID, err)
	}
	s.logger().Info("report schedule resumed", "report_id", reportID, "note", note)
	return nil
}

// Delete removes the report's schedule; one already gone is not an error. Runs already
// started go on.
func (s *Service) Delete(ctx context.Context, reportID string) error {
	err := s.handle(ctx, reportID).Delete(ctx)
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("delete schedule of report %s: %w", reportID, err)
	}
	s.logger().Info("report schedule deleted", "report_id", reportID)
	return nil
}

// Describe is the schedule's state as Temporal has it: paused, its note and the next run
// times (Temporal computes the next ten). ErrNoSchedule when the report has none.
func (s *Service) Describe(ctx context.Context, reportID string) (report.ScheduleInfo, error) {
	desc, err := s.handle(ctx, reportID).Describe(ctx)
	if isNotFound(err) {
		return report.ScheduleInfo{}, ErrNoSchedule
	}
	if err != nil {
		return report.ScheduleInfo{}, fmt.Errorf("describe schedule of report %s: %w", reportID, err)
	}
	info := report.ScheduleInfo{NextRuns: []time.Time{}}
	if st := desc.Schedule.State; st != nil {
		info.Paused, info.Note = st.Paused, st.Note
	}
	for _, t := range desc.Info.NextActionTimes {
		info.NextRuns = append(info.NextRuns, t.UTC())
	}
	return info, nil
}

// RunNow starts a run of the report at once, with the id the API chose for its
// report_runs row. The same runID twice starts one run: the second call returns the same
// workflow id without starting anything.
func (s *Service) RunNow(ctx context.Context, workspaceID, reportID, runID string) (string, error) {
	if workspaceID == "" || reportID == "" || runID == "" {
		return "", errors.New("run report now: workspace, report and run ids are required")
	}
	id := workflows.ReportManualWorkflowID(reportID, runID)
	_, err := s.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:        id,
		TaskQueue: workflows.TaskQueueReports,
		// A run id names one run, ever: a closed run is not started again.
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowRunTimeout:       RunTimeout,
		TypedSearchAttributes:    searchAttributes(workspaceID, reportID),
		StaticSummary:            "run of report " + reportID + " asked for now",
	}, workflows.ReportRun, workflows.ReportRunInput{
		WorkspaceID: workspaceID, ReportID: reportID, Trigger: workflows.ReportTriggerManual, RunID: runID,
	})
	var already *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &already) {
		return id, nil
	}
	if err != nil {
		return "", fmt.Errorf("start run %s of report %s: %w", runID, reportID, err)
	}
	s.logger().Info("report run started", "report_id", reportID, "run_id", runID, "workflow_id", id)
	return id, nil
}

func (s *Service) handle(ctx context.Context, reportID string) client.ScheduleHandle {
	return s.Temporal.ScheduleClient().GetHandle(ctx, workflows.ReportScheduleID(reportID))
}

func isNotFound(err error) bool {
	var nf *serviceerror.NotFound
	return errors.As(err, &nf)
}
