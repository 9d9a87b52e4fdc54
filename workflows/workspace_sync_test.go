package workflows

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/omnitrackiq/omnitrackiq/activities"
)

func TestWorkspaceSyncRunsOneChildPerConnection(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	var a *activities.Sync
	env.RegisterActivity(a.ListConnections)
	env.RegisterWorkflow(ChannelSync)
	env.OnActivity(a.ListConnections, mock.Anything, activities.ListConnectionsInput{WorkspaceID: "w1"}).Return(
		func(context.Context, activities.ListConnectionsInput) (activities.ListConnectionsResult, error) {
			return activities.ListConnectionsResult{
				Syncable: []activities.ConnectionRef{{ID: "c1", Channel: "meta"}, {ID: "c2", Channel: "shopify"}, {ID: "c3", Channel: "ga4"}},
				Skipped:  []activities.SkippedConnection{{ID: "c4", Reason: "needs_reauth"}},
			}, nil
		})
	env.OnWorkflow(ChannelSync, mock.Anything, mock.Anything).Return(
		func(ctx workflow.Context, in ChannelSyncInput) (ChannelSyncResult, error) {
			if workflow.GetInfo(ctx).WorkflowExecution.ID != SyncWorkflowID(in.ConnectionID) || in.Kind != KindIncremental {
				return ChannelSyncResult{}, errors.New("child started with the wrong id or kind")
			}
			switch in.ConnectionID {
			case "c2":
				return ChannelSyncResult{Status: "skipped", HeldBy: "scheduled-sync-c2-x"}, nil
			case "c3":
				return ChannelSyncResult{}, temporal.NewNonRetryableApplicationError("ga4 auth error", activities.ErrTypeProviderAuth, nil)
			}
			return ChannelSyncResult{Status: "succeeded", Rows: 42}, nil
		})

	env.ExecuteWorkflow(WorkspaceSync, WorkspaceSyncInput{WorkspaceID: "w1", MaxConcurrent: 2})

	err := env.GetWorkflowError()
	require.Error(t, err, "a failed connection fails the workspace sync")
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(err, &appErr))
	var res WorkspaceSyncResult
	require.NoError(t, appErr.Details(&res))
	byID := map[string]ConnectionOutcome{}
	for _, o := range res.Connections {
		byID[o.ConnectionID] = o
	}
	require.Equal(t, "succeeded", byID["c1"].Status)
	require.Equal(t, int64(42), byID["c1"].Rows)
	require.Equal(t, "skipped", byID["c2"].Status)
	require.Equal(t, "failed", byID["c3"].Status)
	require.Contains(t, byID["c3"].Error, "ga4 auth error")
	require.Equal(t, "not_syncable", byID["c4"].Status)
	require.Equal(t, int64(42), res.Rows)
}
