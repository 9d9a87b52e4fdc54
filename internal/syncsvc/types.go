package syncsvc

import (
	"errors"
	"time"

	"github.com/omnitrackiq/omnitrackiq/workflows"
)

// ErrNotFound: the workflow or schedule does not exist, or belongs to another workspace.
var ErrNotFound = errors.New("not found")

// ValidationError is a user input error (bad cron expression, unknown timezone, bad window).
type ValidationError struct{ Msg string }

func (e *ValidationError) Error() string { return e.Msg }

// ConflictError: another run that the request would collide with is running; WorkflowID names it.
type ConflictError struct {
	WorkflowID string
	Msg        string
}

func (e *ConflictError) Error() string { return e.Msg }

// Handle identifies a workflow run.
type Handle struct {
	WorkflowID string `json:"workflow_id"`
	RunID      string `json:"run_id"`
}

// SyncRun is the sync_runs row of a run.
type SyncRun struct {
	ID          string     `json:"id"`
	Kind        string     `json:"kind"`
	WindowFrom  string     `json:"window_from"`
	WindowTo    string     `json:"window_to"`
	Status      string     `json:"status"`
	Pages       int        `json:"pages"`
	RowsWritten int64      `json:"rows_written"`
	Error       string     `json:"error,omitempty"`
	StartedAt   time.Time  `json:"started_at"`
	FinishedAt  *time.Time `json:"finished_at,omitempty"`
}

// SyncStatus describes one sync workflow as the API shows it.
type SyncStatus struct {
	WorkflowID   string              `json:"workflow_id"`
	RunID        string              `json:"run_id"`
	WorkflowType string              `json:"workflow_type"`
	ConnectionID string              `json:"connection_id"`
	Status       string              `json:"status"` // Temporal status: Running, Completed, Failed, ...
	StartedAt    time.Time           `json:"started_at"`
	ClosedAt     *time.Time          `json:"closed_at,omitempty"`
	Progress     *workflows.Progress `json:"progress,omitempty"`
	Runs         []SyncRun           `json:"sync_runs"`
	Failure      string              `json:"failure,omitempty"`
	// Connections is a finished workspace sync's outcome per connection.
	Connections []workflows.ConnectionOutcome `json:"connections,omitempty"`
}

// Schedule is a connection's sync schedule.
type Schedule struct {
	ID       string      `json:"id"`
	Cron     string      `json:"cron"`
	Timezone string      `json:"timezone"`
	Paused   bool        `json:"paused"`
	NextRuns []time.Time `json:"next_runs"`
	Recent   []Handle    `json:"recent_runs"`

	updatedAt time.Time
}

// ScheduleUpdate changes the fields that are non-nil.
type ScheduleUpdate struct {
	Cron     *string
	Timezone *string
	Paused   *bool
}

// DefaultCron syncs every connection every six hours, at a minute that is not :00.
const DefaultCron = "17 */6 * * *"
