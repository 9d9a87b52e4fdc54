package workflows

import (
	"errors"
	"fmt"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/omnitrackiq/omnitrackiq/activities"
)

// WorkspaceSyncWorkflowID is the ID of a workspace's on-demand sync of every connection.
func WorkspaceSyncWorkflowID(workspaceID string) string { return "workspace-sync-" + workspaceID }

// DefaultWorkspaceSyncConcurrency bounds how many connections a workspace sync reads at once.
const DefaultWorkspaceSyncConcurrency = 3

// WorkspaceSyncInput starts a WorkspaceSync.
type WorkspaceSyncInput struct {
	WorkspaceID   string
	MaxConcurrent int
}

// ConnectionOutcome is how one connection's sync ended.
type ConnectionOutcome struct {
	ConnectionID string `json:"connection_id"`
	Channel      string `json:"channel,omitempty"`
	WorkflowID   string `json:"workflow_id,omitempty"`
	// Status is succeeded, skipped (another sync held it), already_running, not_syncable or failed.
	Status string `json:"status"`
	Rows   int64  `json:"rows"`
	Error  string `json:"error,omitempty"`
}

// WorkspaceSyncResult lists every connection's outcome.
type WorkspaceSyncResult struct {
	Connections []ConnectionOutcome `json:"connections"`
	Rows        int64               `json:"rows"`
}

// WorkspaceSync syncs every connection of a workspace: one ChannelSync child per
// connection, a bounded number at a time. A child uses the connection's on-demand sync ID,
// so a connection already being synced (by the API or its schedule) is not synced twice.
// The KPIs read the base tables directly, so there are no rollups to refresh afterwards.
// One connection failing does not stop the others; the workflow fails at the end if any did.
func WorkspaceSync(ctx workflow.Context, in WorkspaceSyncInput) (WorkspaceSyncResult, error) {
	if err := workflow.UpsertTypedSearchAttributes(ctx, WorkspaceIDKey.ValueSet(in.WorkspaceID)); err != nil {
		return WorkspaceSyncResult{}, fmt.Errorf("upsert search attributes: %w", err)
	}
	if in.MaxConcurrent <= 0 || in.MaxConcurrent > maxBackfillConcurrency {
		in.MaxConcurrent = DefaultWorkspaceSyncConcurrency
	}
	var acts *activities.Sync
	var list activities.ListConnectionsResult
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, bookkeepingOptions()), acts.ListConnections,
		activities.ListConnectionsInput{WorkspaceID: in.WorkspaceID}).Get(ctx, &list); err != nil {
		return WorkspaceSyncResult{}, err
	}
	outcomes := make([]ConnectionOutcome, len(list.Syncable))
	for _, s := range list.Skipped {
		outcomes = append(outcomes, ConnectionOutcome{ConnectionID: s.ID, Status: "not_syncable", Error: s.Reason})
	}
	workflow.SetCurrentDetails(ctx, fmt.Sprintf("syncing %d connections, %d at a time", len(list.Syncable), in.MaxConcurrent))

	sel := workflow.NewSelector(ctx)
	pending, failed := 0, 0
	for i, c := range list.Syncable {
		for pending >= in.MaxConcurrent {
			sel.Select(ctx)
			pending--
		}
		outcomes[i] = ConnectionOutcome{ConnectionID: c.ID, Channel: c.Channel, WorkflowID: SyncWorkflowID(c.ID)}
		cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
			WorkflowID:            SyncWorkflowID(c.ID),
			TaskQueue:             TaskQueueSync,
			WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
			ParentClosePolicy:     enumspb.PARENT_CLOSE_POLICY_REQUEST_CANCEL,
			TypedSearchAttributes: SearchAttributes(in.WorkspaceID, c.ID, c.Channel),
			StaticSummary:         fmt.Sprintf("%s incremental sync (workspace sync)", c.Channel),
		})
		fut := workflow.ExecuteChildWorkflow(cctx, ChannelSync, ChannelSyncInput{
			WorkspaceID: in.WorkspaceID, ConnectionID: c.ID, Channel: c.Channel, Kind: KindIncremental,
		})
		sel.AddFuture(fut, func(f workflow.Future) {
			var res ChannelSyncResult
			err := f.Get(ctx, &res)
			var already *temporal.ChildWorkflowExecutionAlreadyStartedError
			switch {
			case errors.As(err, &already):
				outcomes[i].Status = "already_running"
			case err != nil:
				outcomes[i].Status = "failed"
				outcomes[i].Error = failureMessage(err)
				failed++
			default:
				outcomes[i].Status = res.Status
				outcomes[i].Rows = res.Rows
			}
		})
		pending++
	}
	for pending > 0 {
		sel.Select(ctx)
		pending--
	}
	result := WorkspaceSyncResult{Connections: outcomes}
	for _, o := range outcomes {
		result.Rows += o.Rows
	}
	if failed > 0 {
		return result, temporal.NewApplicationError(
			fmt.Sprintf("%d of %d connections failed to sync", failed, len(list.Syncable)), "ConnectionsFailed", result)
	}
	return result, nil
}
