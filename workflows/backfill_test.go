package workflows

import (
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"
)

func newBackfillEnv(t *testing.T) (*testsuite.TestWorkflowEnvironment, *[]ChannelSyncInput) {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflow(ChannelSync)
	var mu sync.Mutex
	var windows []ChannelSyncInput
	env.OnWorkflow(ChannelSync, mock.Anything, mock.Anything).Return(
		func(_ workflow.Context, in ChannelSyncInput) (ChannelSyncResult, error) {
			mu.Lock()
			windows = append(windows, in)
			mu.Unlock()
			return ChannelSyncResult{Status: "succeeded", From: in.From, To: in.To, Rows: 10}, nil
		})
	return env, &windows
}

func TestBackfillSplitsRangeIntoWindows(t *testing.T) {
	env, windows := newBackfillEnv(t)
	env.ExecuteWorkflow(Backfill, BackfillInput{
		WorkspaceID: "w1", ConnectionID: "c1", Channel: "meta",
		From: "2026-01-01", To: "2026-01-31", WindowDays: 7, MaxConcurrent: 2,
	})
	require.NoError(t, env.GetWorkflowError())
	var res BackfillResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, BackfillResult{Windows: 5, Rows: 50}, res)

	got := map[string]string{}
	for _, w := range *windows {
		require.Equal(t, KindBackfill, w.Kind)
		got[w.From] = w.To
	}
	require.Equal(t, map[string]string{
		"2026-01-01": "2026-01-07", "2026-01-08": "2026-01-14", "2026-01-15": "2026-01-21",
		"2026-01-22": "2026-01-28", "2026-01-29": "2026-01-31",
	}, got)
}

func TestBackfillContinuesAsNewAfterAPageOfWindows(t *testing.T) {
	env, windows := newBackfillEnv(t)
	env.ExecuteWorkflow(Backfill, BackfillInput{
		WorkspaceID: "w1", ConnectionID: "c1", Channel: "meta",
		From: "2026-01-01", To: "2026-03-31", WindowDays: 1, MaxConcurrent: 5,
	})
	err := env.GetWorkflowError()
	var can *workflow.ContinueAsNewError
	require.True(t, errors.As(err, &can), "want continue-as-new, got %v", err)
	require.Len(t, *windows, backfillWindowsPerRun)

	// The next run resumes after the last window, carrying the totals.
	env2, windows2 := newBackfillEnv(t)
	env2.ExecuteWorkflow(Backfill, BackfillInput{
		WorkspaceID: "w1", ConnectionID: "c1", Channel: "meta",
		From: "2026-01-01", To: "2026-03-31", WindowDays: 1, MaxConcurrent: 5,
		NextFrom: "2026-02-20", WindowsDone: 50, Rows: 500,
	})
	require.NoError(t, env2.GetWorkflowError())
	var res BackfillResult
	require.NoError(t, env2.GetWorkflowResult(&res))
	require.Equal(t, BackfillResult{Windows: 90, Rows: 900}, res)
	require.Len(t, *windows2, 40)
}

func TestBackfillFailsWhenAWindowFails(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflow(ChannelSync)
	env.OnWorkflow(ChannelSync, mock.Anything, mock.Anything).Return(ChannelSyncResult{}, errors.New("provider said no"))
	env.ExecuteWorkflow(Backfill, BackfillInput{
		WorkspaceID: "w1", ConnectionID: "c1", Channel: "meta", From: "2026-01-01", To: "2026-01-10", WindowDays: 5,
	})
	require.ErrorContains(t, env.GetWorkflowError(), "provider said no")
}
