package reportsvc

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"

	"github.com/omnitrackiq/omnitrackiq/internal/report"
	"github.com/omnitrackiq/omnitrackiq/internal/toolbin"
	"github.com/omnitrackiq/omnitrackiq/workflows"
)

// temporalClient reaches the dev server TestMain starts: the schedule math under test is
// Temporal's own, so it runs against a real server.
var temporalClient client.Client

func TestMain(m *testing.M) {
	code, err := runWithDevServer(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "reportsvc:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func runWithDevServer(m *testing.M) (int, error) {
	bin, err := toolbin.Find("TEMPORAL_CLI", "temporal")
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv, err := testsuite.StartDevServer(ctx, testsuite.DevServerOptions{
		ExistingPath: bin, LogLevel: "error", SearchAttributes: workflows.AllSearchAttributes(),
		ClientOptions: &client.Options{Logger: log.NewStructuredLogger(slog.New(slog.DiscardHandler))},
		Stdout:        io.Discard, Stderr: io.Discard,
	})
	if err != nil {
		return 0, fmt.Errorf("start Temporal dev server from %s: %w", bin, err)
	}
	defer func() { _ = srv.Stop() }()
	temporalClient = srv.Client()
	return m.Run(), nil
}

func newService() *Service { return &Service{Temporal: temporalClient} }

// createStartingAt creates the report's schedule exactly as Apply would, with StartAt set,
// so Temporal lists the runs from that moment on, and returns what Describe says.
func createStartingAt(t *testing.T, req report.ScheduleRequest, startAt time.Time) report.ScheduleInfo {
	t.Helper()
	ctx := context.Background()
	svc := newService()
	opts, err := svc.scheduleOptions(req)
	require.NoError(t, err)
	opts.Spec.StartAt = startAt
	_, err = temporalClient.ScheduleClient().Create(ctx, opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, svc.Delete(context.Background(), req.ReportID)) })
	info, err := svc.Describe(ctx, req.ReportID)
	require.NoError(t, err)
	return info
}

func utc(ts []time.Time) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.UTC().Format(time.RFC3339)
	}
	return out
}

func local(t *testing.T, ts []time.Time, zone string) []string {
	t.Helper()
	loc, err := time.LoadLocation(zone)
	require.NoError(t, err)
	out := make([]string, len(ts))
	for i, v := range ts {
		out[i] = v.In(loc).Format("2006-01-02 Mon 15:04")
	}
	return out
}

// A report at 08:00 New York or 07:30 Berlin stays at that local time across both
// daylight-saving changes of the year, so its UTC time moves by an hour. The dates are in
// 2035 because Temporal lists only future runs: the test holds until then.
func TestScheduleMathAcrossDaylightSavingChanges(t *testing.T) {
	t.Run("America/New_York daily 08:00, spring forward on Sunday 2035-03-11", func(t *testing.T) {
		info := createStartingAt(t, report.ScheduleRequest{WorkspaceID: "ws-dst", ReportID: "dst-ny-spring", Timezone: "America/New_York",
			Schedule: &report.Schedule{Frequency: report.Daily, Time: "08:00"}}, time.Date(2035, 3, 7, 0, 0, 0, 0, time.UTC))
		require.Equal(t, []string{
			"2035-03-07T13:00:00Z", "2035-03-08T13:00:00Z", "2035-03-09T13:00:00Z", "2035-03-10T13:00:00Z",
			"2035-03-11T12:00:00Z", "2035-03-12T12:00:00Z", "2035-03-13T12:00:00Z", "2035-03-14T12:00:00Z",
			"2035-03-15T12:00:00Z", "2035-03-16T12:00:00Z",
		}, utc(info.NextRuns))
	})
	t.Run("America/New_York daily 08:00, fall back on Sunday 2035-11-04", func(t *testing.T) {
		info := createStartingAt(t, report.ScheduleRequest{WorkspaceID: "ws-dst", ReportID: "dst-ny-fall", Timezone: "America/New_York",
			Schedule: &report.Schedule{Frequency: report.Daily, Time: "08:00"}}, time.Date(2035, 11, 1, 0, 0, 0, 0, time.UTC))
		require.Equal(t, []string{
			"2035-11-01T12:00:00Z", "2035-11-02T12:00:00Z", "2035-11-03T12:00:00Z",
			"2035-11-04T13:00:00Z", "2035-11-05T13:00:00Z", "2035-11-06T13:00:00Z", "2035-11-07T13:00:00Z",
			"2035-11-08T13:00:00Z", "2035-11-09T13:00:00Z", "2035-11-10T13:00:00Z",
		}, utc(info.NextRuns))
	})
	t.Run("Europe/Berlin weekly Monday 07:30, summer time from Sunday 2035-03-25", func(t *testing.T) {
		info := createStartingAt(t, report.ScheduleRequest{WorkspaceID: "ws-dst", ReportID: "dst-berlin-spring", Timezone: "Europe/Berlin",
			Schedule: &report.Schedule{Frequency: report.Weekly, Time: "07:30", Weekday: "monday"}}, time.Date(2035, 3, 1, 0, 0, 0, 0, time.UTC))
		require.Equal(t, []string{
			"2035-03-05T06:30:00Z", "2035-03-12T06:30:00Z", "2035-03-19T06:30:00Z",
			"2035-03-26T05:30:00Z", "2035-04-02T05:30:00Z", "2035-04-09T05:30:00Z", "2035-04-16T05:30:00Z",
			"2035-04-23T05:30:00Z", "2035-04-30T05:30:00Z", "2035-05-07T05:30:00Z",
		}, utc(info.NextRuns))
	})
	t.Run("Europe/Berlin weekly Monday 07:30, winter time from Sunday 2035-10-28", func(t *testing.T) {
		info := createStartingAt(t, report.ScheduleRequest{WorkspaceID: "ws-dst", ReportID: "dst-berlin-fall", Timezone: "Europe/Berlin",
			Schedule: &report.Schedule{Frequency: report.Weekly, Time: "07:30", Weekday: "Mon"}}, time.Date(2035, 10, 1, 0, 0, 0, 0, time.UTC))
		require.Equal(t, []string{
			"2035-10-01T05:30:00Z", "2035-10-08T05:30:00Z", "2035-10-15T05:30:00Z", "2035-10-22T05:30:00Z",
			"2035-10-29T06:30:00Z", "2035-11-05T06:30:00Z", "2035-11-12T06:30:00Z", "2035-11-19T06:30:00Z",
			"2035-11-26T06:30:00Z", "2035-12-03T06:30:00Z",
		}, utc(info.NextRuns))
	})
}

// A report on day 31 runs on the last day of every shorter month, once a month, including
// February 28 of a common year and February 29 of a leap year. Temporal lists ten runs
// ahead, so the 17 months are two schedules.
func TestScheduleMathMonthlyDay31(t *testing.T) {
	const zone = "Europe/Berlin"
	sched := &report.Schedule{Frequency: report.Monthly, Time: "09:00", DayOfMonth: 31}
	first := createStartingAt(t, report.ScheduleRequest{WorkspaceID: "ws-m31", ReportID: "m31-2035", Timezone: zone, Schedule: sched},
		time.Date(2035, 1, 1, 0, 0, 0, 0, time.UTC))
	second := createStartingAt(t, report.ScheduleRequest{WorkspaceID: "ws-m31", ReportID: "m31-2035-11", Timezone: zone, Schedule: sched},
		time.Date(2035, 11, 1, 0, 0, 0, 0, time.UTC))
	require.Equal(t, []string{
		"2035-01-31 Wed 09:00", "2035-02-28 Wed 09:00", "2035-03-31 Sat 09:00", "2035-04-30 Mon 09:00",
		"2035-05-31 Thu 09:00", "2035-06-30 Sat 09:00", "2035-07-31 Tue 09:00", "2035-08-31 Fri 09:00",
		"2035-09-30 Sun 09:00", "2035-10-31 Wed 09:00",
	}, local(t, first.NextRuns, zone))
	require.Equal(t, []string{
		"2035-11-30 Fri 09:00", "2035-12-31 Mon 09:00", "2036-01-31 Thu 09:00", "2036-02-29 Fri 09:00",
		"2036-03-31 Mon 09:00", "2036-04-30 Wed 09:00", "2036-05-31 Sat 09:00", "2036-06-30 Mon 09:00",
		"2036-07-31 Thu 09:00", "2036-08-31 Sun 09:00",
	}, local(t, second.NextRuns, zone))
	// In UTC the hour follows Berlin's summer time.
	require.Equal(t, "2035-03-31T07:00:00Z", utc(first.NextRuns)[2])
	require.Equal(t, "2035-02-28T08:00:00Z", utc(first.NextRuns)[1])
}

// eventually polls Describe until ok holds: the scheduler applies updates asynchronously.
func eventually(t *testing.T, svc *Service, reportID string, ok func(report.ScheduleInfo) bool) report.ScheduleInfo {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, err := svc.Describe(context.Background(), reportID)
		require.NoError(t, err)
		if ok(info) {
			return info
		}
		require.True(t, time.Now().Before(deadline), "schedule of %s never reached the expected state; last: %+v", reportID, info)
		time.Sleep(50 * time.Millisecond)
	}
}

func TestApplyPauseResumeDescribeDelete(t *testing.T) {
	ctx := context.Background()
	svc := newService()
	const reportID = "roundtrip"
	weekly := report.ScheduleRequest{WorkspaceID: "ws-rt", ReportID: reportID, Timezone: "America/New_York",
		Schedule: &report.Schedule{Frequency: report.Weekly, Time: "07:45", Weekday: "tuesday"}}

	_, err := svc.Describe(ctx, reportID)
	require.ErrorIs(t, err, ErrNoSchedule)
	// Nothing to pause, resume or delete yet: no error.
	require.NoError(t, svc.Pause(ctx, reportID, "paused before it existed"))
	require.NoError(t, svc.Resume(ctx, reportID, "resumed before it existed"))
	require.NoError(t, svc.Delete(ctx, reportID))

	require.NoError(t, svc.Apply(ctx, weekly))
	require.NoError(t, svc.Apply(ctx, weekly), "applying the same request twice")
	info, err := svc.Describe(ctx, reportID)
	require.NoError(t, err)
	require.False(t, info.Paused)
	require.Len(t, info.NextRuns, 10)
	for i, r := range local(t, info.NextRuns, "America/New_York") {
		require.Regexp(t, `^\d{4}-\d{2}-\d{2} Tue 07:45$`, r)
		require.True(t, info.NextRuns[i].After(time.Now()))
	}

	// The schedule starts ReportRun on the reports queue, findable by workspace and report.
	desc, err := temporalClient.ScheduleClient().GetHandle(ctx, workflows.ReportScheduleID(reportID)).Describe(ctx)
	require.NoError(t, err)
	action, ok := desc.Schedule.Action.(*client.ScheduleWorkflowAction)
	require.True(t, ok, "action is %T", desc.Schedule.Action)
	require.Equal(t, workflows.ReportScheduledWorkflowID(reportID), action.ID)
	require.Equal(t, "ReportRun", action.Workflow)
	require.Equal(t, workflows.TaskQueueReports, action.TaskQueue)
	require.Equal(t, RunTimeout, action.WorkflowRunTimeout)
	require.Len(t, action.Args, 1)
	var in workflows.ReportRunInput
	require.NoError(t, converter.GetDefaultDataConverter().FromPayload(action.Args[0].(*commonpb.Payload), &in))
	require.Equal(t, workflows.ReportRunInput{WorkspaceID: "ws-rt", ReportID: reportID, Trigger: workflows.ReportTriggerSchedule}, in)
	ws, _ := action.TypedSearchAttributes.GetKeyword(workflows.WorkspaceIDKey)
	rep, _ := action.TypedSearchAttributes.GetKeyword(workflows.ReportIDKey)
	require.Equal(t, []string{"ws-rt", reportID}, []string{ws, rep})
	require.Equal(t, enumspb.SCHEDULE_OVERLAP_POLICY_BUFFER_ONE, desc.Schedule.Policy.Overlap)
	require.Equal(t, DefaultCatchupWindow, desc.Schedule.Policy.CatchupWindow)

	// A new time and a pause in one Apply: both land.
	daily := weekly
	daily.Schedule = &report.Schedule{Frequency: report.Daily, Time: "18:05"}
	daily.Paused, daily.Note = true, "paused by ana@example.com"
	require.NoError(t, svc.Apply(ctx, daily))
	info = eventually(t, svc, reportID, func(i report.ScheduleInfo) bool { return i.Paused })
	require.Equal(t, "paused by ana@example.com", info.Note)

	require.NoError(t, svc.Resume(ctx, reportID, "resumed by ana@example.com"))
	info = eventually(t, svc, reportID, func(i report.ScheduleInfo) bool { return !i.Paused })
	require.Equal(t, "resumed by ana@example.com", info.Note)
	runs := local(t, info.NextRuns, "America/New_York")
	require.Len(t, runs, 10)
	for _, r := range runs {
		require.Regexp(t, `^\d{4}-\d{2}-\d{2} \w{3} 18:05$`, r)
	}

	require.NoError(t, svc.Pause(ctx, reportID, "webhook https://hooks.example.com failed 3 runs in a row"))
	info = eventually(t, svc, reportID, func(i report.ScheduleInfo) bool { return i.Paused })
	require.Equal(t, "webhook https://hooks.example.com failed 3 runs in a row", info.Note)

	// A request without a schedule removes it; deleting again is fine.
	require.NoError(t, svc.Apply(ctx, report.ScheduleRequest{WorkspaceID: "ws-rt", ReportID: reportID, Timezone: "America/New_York"}))
	_, err = svc.Describe(ctx, reportID)
	require.ErrorIs(t, err, ErrNoSchedule)
	require.NoError(t, svc.Delete(ctx, reportID))
}

func TestApplyRefusesABadRequest(t *testing.T) {
	ctx := context.Background()
	svc := newService()
	sched := &report.Schedule{Frequency: report.Daily, Time: "08:00"}
	cases := []struct {
		req  report.ScheduleRequest
		want string
	}{
		{report.ScheduleRequest{WorkspaceID: "ws", ReportID: "bad-tz", Timezone: "Mars/Olympus", Schedule: sched},
			`schedule of report bad-tz: timezone "Mars/Olympus" is not an IANA time zone name`},
		{report.ScheduleRequest{WorkspaceID: "ws", ReportID: "no-tz", Schedule: sched},
			`schedule of report no-tz: timezone "" is not an IANA time zone name`},
		{report.ScheduleRequest{WorkspaceID: "ws", ReportID: "bad-time", Timezone: "UTC", Schedule: &report.Schedule{Frequency: report.Daily, Time: "25:00"}},
			`schedule of report bad-time: schedule time "25:00" is not HH:MM (24-hour)`},
		{report.ScheduleRequest{ReportID: "no-ws", Timezone: "UTC", Schedule: sched},
			"apply report schedule: workspace and report ids are required"},
	}
	for _, tc := range cases {
		require.EqualError(t, svc.Apply(ctx, tc.req), tc.want)
		_, err := svc.Describe(ctx, tc.req.ReportID)
		require.ErrorIs(t, err, ErrNoSchedule, "nothing is created for %s", tc.req.ReportID)
	}
}

func TestRunNowStartsOneRunPerRunID(t *testing.T) {
	ctx := context.Background()
	svc := newService()
	id, err := svc.RunNow(ctx, "ws-now", "rep-now", "run-1")
	require.NoError(t, err)
	require.Equal(t, workflows.ReportManualWorkflowID("rep-now", "run-1"), id)
	t.Cleanup(func() { _ = temporalClient.TerminateWorkflow(context.Background(), id, "", "test over") })

	d, err := temporalClient.DescribeWorkflowExecution(ctx, id, "")
	require.NoError(t, err)
	info := d.GetWorkflowExecutionInfo()
	require.Equal(t, "ReportRun", info.GetType().GetName())
	require.Equal(t, workflows.TaskQueueReports, info.GetTaskQueue())
	fields := info.GetSearchAttributes().GetIndexedFields()
	var ws, rep string
	require.NoError(t, converter.GetDefaultDataConverter().FromPayload(fields["WorkspaceId"], &ws))
	require.NoError(t, converter.GetDefaultDataConverter().FromPayload(fields["ReportId"], &rep))
	require.Equal(t, []string{"ws-now", "rep-now"}, []string{ws, rep})

	// The API retrying the same run starts nothing new.
	again, err := svc.RunNow(ctx, "ws-now", "rep-now", "run-1")
	require.NoError(t, err)
	require.Equal(t, id, again)
	d2, err := temporalClient.DescribeWorkflowExecution(ctx, id, "")
	require.NoError(t, err)
	require.Equal(t, info.GetExecution().GetRunId(), d2.GetWorkflowExecutionInfo().GetExecution().GetRunId())

	// Once the run is closed, its id is never started again.
	require.NoError(t, temporalClient.TerminateWorkflow(ctx, id, "", "closed for the test"))
	again, err = svc.RunNow(ctx, "ws-now", "rep-now", "run-1")
	require.NoError(t, err)
	require.Equal(t, id, again)
	d3, err := temporalClient.DescribeWorkflowExecution(ctx, id, "")
	require.NoError(t, err)
	require.Equal(t, info.GetExecution().GetRunId(), d3.GetWorkflowExecutionInfo().GetExecution().GetRunId())
	require.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED, d3.GetWorkflowExecutionInfo().GetStatus())
}
