package report

import "time"

// ScheduleRequest is what the schedule service needs to create, update or remove a
// report's Temporal Schedule.
type ScheduleRequest struct {
	WorkspaceID string
	ReportID    string
	// Timezone is the IANA zone the schedule's calendar is in.
	Timezone string
	// Schedule nil removes the report's schedule.
	Schedule *Schedule
	Paused   bool
	// Note is shown on the schedule in the Web UI (why it was paused).
	Note string
}

// ScheduleInfo is a schedule's state as Temporal reports it.
type ScheduleInfo struct {
	Paused   bool        `json:"paused"`
	Note     string      `json:"note,omitempty"`
	NextRuns []time.Time `json:"next_runs"`
}
