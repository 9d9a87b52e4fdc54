package workflows

import (
	"go.temporal.io/sdk/temporal"
)

// TaskQueueReports runs the ReportRun workflow and its activities, apart from the sync
// queues so a Monday-morning report never waits behind a backlog of backfills.
const TaskQueueReports = "reports"

// ReportIDKey is set on every ReportRun with WorkspaceIDKey, so a report's runs are one Web
// UI query: `WorkflowType="ReportRun" AND ReportId="<id>"`.
var ReportIDKey = temporal.NewSearchAttributeKeyKeyword("ReportId")

// ReportScheduleID is the ID of a report's Temporal Schedule.
func ReportScheduleID(reportID string) string { return "report-schedule-" + reportID }

// ReportScheduledWorkflowID is the workflow ID prefix of a report's scheduled runs; the
// schedule appends the scheduled time.
func ReportScheduledWorkflowID(reportID string) string { return "report-" + reportID }

// ReportManualWorkflowID is the ID of a run started by POST /v1/reports/{id}/run; runID is
// the report_runs id the API chose, so the API can answer with it at once.
func ReportManualWorkflowID(reportID, runID string) string {
	return "report-" + reportID + "-run-" + runID
}

// Report run triggers.
const (
	ReportTriggerSchedule = "schedule"
	ReportTriggerManual   = "manual"
)

// ReportRunInput starts a ReportRun. RunID is set for manual runs (the API's id for the
// report_runs row); a scheduled run's row gets its id from the database.
type ReportRunInput struct {
	WorkspaceID string
	ReportID    string
	Trigger     string
	RunID       string
}

// ReportRunResult is what a ReportRun returns: ids and counts, never rows.
type ReportRunResult struct {
	RunID     string
	Status    string
	From, To  string
	Rows      int
	Delivered int
	Failed    int
	// Skipped says the report was deleted or paused before the run began.
	Skipped bool
	Reason  string
	// Paused says a target reached the failure limit and the report's schedule was paused.
	Paused bool
}
