package workflows

import (
	"testing"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"

	"github.com/omnitrackiq/omnitrackiq/activities"
)

// A scheduled run the plan stops (activities.Sync.EnforcePlans) ends skipped, saying why,
// without reading or finishing anything.
func TestChannelSyncSkipsWhenThePlanSaysSo(t *testing.T) {
	env := newSyncEnv(t)
	var a *activities.Sync
	const why = "the workspace is suspended for an unpaid invoice"
	env.OnActivity(a.PrepareSync, mock.Anything, mock.Anything).
		Return(activities.PrepareResult{Channel: "meta", Skipped: true, Reason: why}, nil).Once()

	env.ExecuteWorkflow(ChannelSync, ChannelSyncInput{WorkspaceID: "w1", ConnectionID: "c1", Channel: "meta"})

	require.NoError(t, env.GetWorkflowError())
	var res ChannelSyncResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, ChannelSyncResult{Status: "skipped", Reason: why}, res)
	val, err := env.QueryWorkflow(ProgressQuery)
	require.NoError(t, err)
	var p Progress
	require.NoError(t, val.Get(&p))
	require.Equal(t, Progress{Phase: "skipped", Message: why}, p)
	env.AssertExpectations(t) // no SyncWindow, no FinishSync
}
