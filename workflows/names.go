// Package workflows holds the deterministic workflow code and the names everything else
// uses to reach it: task queues, workflow IDs, search attributes, query names.
package workflows

import (
	"go.temporal.io/sdk/temporal"
)

// TaskQueueSync runs the sync workflows and their bookkeeping activities.
const TaskQueueSync = "sync"

// ChannelTaskQueue is the task queue of a channel's provider-calling activities; each has its
// own server-side rate limit because each provider has its own quota.
func ChannelTaskQueue(channel string) string { return "sync-" + channel }

// BackfillTaskQueue is the task queue of a channel's provider-calling activities for
// backfill windows, with its own rate limit: a workspace's backfill of years of history
// queues its pages here, so the incremental syncs of every workspace on ChannelTaskQueue
// never wait behind them.
func BackfillTaskQueue(channel string) string { return "sync-" + channel + "-backfill" }

// Search attributes every workflow carries, so operations can filter runs in the Web UI
// (e.g. `Channel="meta" AND ExecutionStatus="Failed"`).
var (
	WorkspaceIDKey  = temporal.NewSearchAttributeKeyKeyword("WorkspaceId")
	ConnectionIDKey = temporal.NewSearchAttributeKeyKeyword("ConnectionId")
	ChannelKey      = temporal.NewSearchAttributeKeyKeyword("Channel")
)

// SearchAttributeNames lists the custom search attributes to register on a namespace.
var SearchAttributeNames = []string{"WorkspaceId", "ConnectionId", "Channel", "DunningState", "ReportId"}

// ProgressQuery is answered by ChannelSync with a Progress.
const ProgressQuery = "progress"

// Sync kinds.
const (
	KindIncremental = "incremental"
	KindBackfill    = "backfill"
)

// SyncWorkflowID is the ID of a connection's on-demand incremental sync. A fixed ID makes
// two concurrent triggers collapse into one run.
func SyncWorkflowID(connectionID string) string { return "sync-" + connectionID }

// ScheduleID is the ID of a connection's Temporal Schedule. Scheduled runs get the ID
// "<ScheduleWorkflowID>-<timestamp>".
func ScheduleID(connectionID string) string { return "sync-schedule-" + connectionID }

// ScheduleWorkflowID is the workflow ID prefix of a connection's scheduled syncs.
func ScheduleWorkflowID(connectionID string) string { return "scheduled-sync-" + connectionID }

// BackfillWorkflowID is the ID of a connection's backfill of [from, to].
func BackfillWorkflowID(connectionID, from, to string) string {
	return "backfill-" + connectionID + "-" + from + "-" + to
}

// BackfillWindowWorkflowID is the ID of one window of a backfill.
func BackfillWindowWorkflowID(connectionID, from, to string) string {
	return "backfill-window-" + connectionID + "-" + from + "-" + to
}

// ChannelSyncInput starts a ChannelSync. From/To (YYYY-MM-DD) are set for backfill windows;
// an incremental sync computes its window from the connection's cursor.
type ChannelSyncInput struct {
	WorkspaceID  string
	ConnectionID string
	Channel      string
	Kind         string
	From         string
	To           string
}

// ChannelSyncResult is what a ChannelSync returns.
type ChannelSyncResult struct {
	SyncRunID string
	Status    string // succeeded | skipped
	From      string
	To        string
	Pages     int
	Rows      int64
	// HeldBy names the running sync that made this one skip.
	HeldBy string
	// Reason says why the run skipped when no sync held the connection: the workspace's
	// plan or billing standing (a scheduled run of a suspended workspace, one over its
	// connection limit, or one sooner than its plan's sync interval).
	Reason string `json:",omitempty"`
}

// Progress is the answer to ProgressQuery.
type Progress struct {
	Phase     string `json:"phase"` // preparing | reading | finishing | done | failed | skipped
	SyncRunID string `json:"sync_run_id,omitempty"`
	From      string `json:"from,omitempty"`
	To        string `json:"to,omitempty"`
	Pages     int    `json:"pages"`
	Rows      int64  `json:"rows"`
	// WaitingFor and WaitingUntil are set while the sync waits out a provider's rate limit;
	// Message says so in words ("waiting for Meta rate limit until 2026-12-05T14:00:00Z").
	// A skipped run's Message says why it skipped.
	WaitingFor   string `json:"waiting_for,omitempty"`
	WaitingUntil string `json:"waiting_until,omitempty"`
	Message      string `json:"message,omitempty"`
}

// BackfillInput starts a Backfill of [From, To] in windows of WindowDays, at most
// MaxConcurrent at once. NextFrom is where a continued-as-new run resumes.
type BackfillInput struct {
	WorkspaceID   string
	ConnectionID  string
	Channel       string
	From          string
	To            string
	WindowDays    int
	MaxConcurrent int
	NextFrom      string
	// Totals carried across continue-as-new.
	WindowsDone int
	Rows        int64
}

// BackfillResult is what a Backfill returns.
type BackfillResult struct {
	Windows int
	Rows    int64
}
