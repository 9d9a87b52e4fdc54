package workflows

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/omnitrackiq/omnitrackiq/activities"
)

func newSyncEnv(t *testing.T) *testsuite.TestWorkflowEnvironment {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	var a *activities.Sync
	env.RegisterActivity(a.PrepareSync)
	env.RegisterActivity(a.SyncWindow)
	env.RegisterActivity(a.FinishSync)
	return env
}

func TestChannelSyncReadsUntilDoneAndFinishes(t *testing.T) {
	env := newSyncEnv(t)
	var a *activities.Sync
	env.OnActivity(a.PrepareSync, mock.Anything, mock.MatchedBy(func(in activities.PrepareInput) bool {
		return in.Kind == KindIncremental && in.ConnectionID == "c1" && in.WorkflowID != ""
	})).Return(activities.PrepareResult{SyncRunID: "r1", Channel: "meta", From: "2026-10-29", To: "2026-11-26"}, nil).Once()
	calls := 0
	env.OnActivity(a.SyncWindow, mock.Anything, activities.SyncWindowInput{WorkspaceID: "w1", SyncRunID: "r1"}).
		Return(func(_ context.Context, _ activities.SyncWindowInput) (activities.SyncWindowResult, error) {
			calls++
			return activities.SyncWindowResult{Pages: calls * 5, Rows: int64(calls * 500), Done: calls == 3}, nil
		}).Times(3)
	env.OnActivity(a.FinishSync, mock.Anything, mock.MatchedBy(func(in activities.FinishInput) bool {
		return in.Succeeded && in.SyncRunID == "r1" && in.Kind == KindIncremental && in.Error == ""
	})).Return(activities.FinishResult{Pages: 15, Rows: 1500}, nil).Once()

	env.ExecuteWorkflow(ChannelSync, ChannelSyncInput{WorkspaceID: "w1", ConnectionID: "c1", Channel: "meta"})

	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var res ChannelSyncResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, ChannelSyncResult{SyncRunID: "r1", Status: "succeeded", From: "2026-10-29", To: "2026-11-26", Pages: 15, Rows: 1500}, res)
	q, err := env.QueryWorkflow(ProgressQuery)
	require.NoError(t, err)
	var p Progress
	require.NoError(t, q.Get(&p))
	require.Equal(t, Progress{Phase: "done", SyncRunID: "r1", From: "2026-10-29", To: "2026-11-26", Pages: 15, Rows: 1500}, p)
	env.AssertExpectations(t)
}

func TestChannelSyncSkipsWhenAnotherSyncHoldsTheConnection(t *testing.T) {
	env := newSyncEnv(t)
	var a *activities.Sync
	env.OnActivity(a.PrepareSync, mock.Anything, mock.Anything).
		Return(activities.PrepareResult{Channel: "meta", Skipped: true, HeldBy: "sync-c1"}, nil).Once()

	env.ExecuteWorkflow(ChannelSync, ChannelSyncInput{WorkspaceID: "w1", ConnectionID: "c1", Channel: "meta"})

	require.NoError(t, env.GetWorkflowError())
	var res ChannelSyncResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, "skipped", res.Status)
	require.Equal(t, "sync-c1", res.HeldBy)
	env.AssertExpectations(t) // no SyncWindow, no FinishSync
}

func TestChannelSyncRecordsProviderFailure(t *testing.T) {
	env := newSyncEnv(t)
	var a *activities.Sync
	env.OnActivity(a.PrepareSync, mock.Anything, mock.Anything).
		Return(activities.PrepareResult{SyncRunID: "r1", Channel: "meta", From: "2026-11-01", To: "2026-11-02"}, nil)
	env.OnActivity(a.SyncWindow, mock.Anything, mock.Anything).Return(activities.SyncWindowResult{},
		temporal.NewNonRetryableApplicationError("meta auth error: token expired", activities.ErrTypeProviderAuth, nil)).Once()
	var finished activities.FinishInput
	env.OnActivity(a.FinishSync, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.FinishInput) (activities.FinishResult, error) {
		finished = in
		return activities.FinishResult{}, nil
	}).Once()

	env.ExecuteWorkflow(ChannelSync, ChannelSyncInput{WorkspaceID: "w1", ConnectionID: "c1", Channel: "meta"})

	err := env.GetWorkflowError()
	require.Error(t, err)
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(err, &appErr))
	require.Equal(t, activities.ErrTypeProviderAuth, appErr.Type())
	require.False(t, finished.Succeeded)
	require.Contains(t, finished.Error, "token expired")
	env.AssertExpectations(t)
}

func TestChannelSyncSetsSearchAttributes(t *testing.T) {
	env := newSyncEnv(t)
	var a *activities.Sync
	env.OnActivity(a.PrepareSync, mock.Anything, mock.Anything).Return(activities.PrepareResult{Skipped: true}, nil)
	env.OnUpsertTypedSearchAttributes(mock.MatchedBy(func(sa temporal.SearchAttributes) bool {
		ws, _ := sa.GetKeyword(WorkspaceIDKey)
		conn, _ := sa.GetKeyword(ConnectionIDKey)
		ch, _ := sa.GetKeyword(ChannelKey)
		return ws == "w1" && conn == "c1" && ch == "meta"
	})).Return(nil).Once()

	env.ExecuteWorkflow(ChannelSync, ChannelSyncInput{WorkspaceID: "w1", ConnectionID: "c1", Channel: "meta"})
	require.NoError(t, env.GetWorkflowError())
	env.AssertExpectations(t)
}
