package workflows

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
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

func TestChannelSyncWaitsOutRateLimitsOnTimers(t *testing.T) {
	env := newSyncEnv(t)
	var a *activities.Sync
	env.OnActivity(a.PrepareSync, mock.Anything, mock.Anything).
		Return(activities.PrepareResult{SyncRunID: "r1", Channel: "meta", From: "2026-11-01", To: "2026-11-02"}, nil)
	// Fifty rate-limit answers of an hour each, far beyond any retry budget, then the read.
	const throttles = 50
	calls := 0
	env.OnActivity(a.SyncWindow, mock.Anything, mock.Anything).
		Return(func(_ context.Context, _ activities.SyncWindowInput) (activities.SyncWindowResult, error) {
			calls++
			if calls <= throttles {
				return activities.SyncWindowResult{Pages: 1, Rows: 10, Wait: time.Hour, WaitReason: "Meta rate limit"}, nil
			}
			return activities.SyncWindowResult{Pages: 2, Rows: 20, Done: true}, nil
		})
	env.OnActivity(a.FinishSync, mock.Anything, mock.MatchedBy(func(in activities.FinishInput) bool { return in.Succeeded })).
		Return(activities.FinishResult{Pages: 2, Rows: 20}, nil).Once()
	var seen Progress
	env.RegisterDelayedCallback(func() {
		q, err := env.QueryWorkflow(ProgressQuery)
		require.NoError(t, err)
		require.NoError(t, q.Get(&seen))
	}, 30*time.Minute)
	start := env.Now()

	env.ExecuteWorkflow(ChannelSync, ChannelSyncInput{WorkspaceID: "w1", ConnectionID: "c1", Channel: "meta"})

	require.NoError(t, env.GetWorkflowError())
	require.Equal(t, throttles+1, calls)
	require.Equal(t, "waiting", seen.Phase)
	require.Equal(t, "Meta rate limit", seen.WaitingFor)
	require.Equal(t, "waiting for Meta rate limit until "+start.Add(time.Hour).UTC().Format(time.RFC3339), seen.Message)
	require.GreaterOrEqual(t, env.Now().Sub(start), throttles*time.Hour, "every wait the provider asked for was served")
}

func TestRateLimitWaitBacksOffOnlyWhenThrottlingPersists(t *testing.T) {
	cases := []struct {
		asked  time.Duration
		streak int
		want   time.Duration
	}{
		{5 * time.Second, 1, 5 * time.Second},
		{5 * time.Second, throttleStreakBeforeBackoff, 5 * time.Second},
		{5 * time.Second, throttleStreakBeforeBackoff + 1, 10 * time.Second},
		{5 * time.Second, throttleStreakBeforeBackoff + 3, 40 * time.Second},
		{5 * time.Second, throttleStreakBeforeBackoff + 50, maxRateLimitWait},
		{time.Hour, throttleStreakBeforeBackoff + 5, time.Hour}, // the provider's own delay is never cut
	}
	for _, tc := range cases {
		require.Equal(t, tc.want, rateLimitWait(tc.asked, tc.streak), "asked %s, streak %d", tc.asked, tc.streak)
	}
}

// A backfill window calls the provider on the channel's backfill queue, an incremental
// sync on the channel's queue, so backfills never delay incremental syncs.
func TestChannelSyncProviderQueueByKind(t *testing.T) {
	cases := []struct {
		kind, want string
	}{
		{KindIncremental, "sync-meta"},
		{KindBackfill, "sync-meta-backfill"},
	}
	for _, tc := range cases {
		t.Run(tc.kind, func(t *testing.T) {
			env := newSyncEnv(t)
			var a *activities.Sync
			env.OnActivity(a.PrepareSync, mock.Anything, mock.Anything).
				Return(activities.PrepareResult{SyncRunID: "r1", Channel: "meta", From: "2026-01-01", To: "2026-01-14"}, nil)
			env.OnActivity(a.SyncWindow, mock.Anything, mock.Anything).Return(activities.SyncWindowResult{Pages: 1, Rows: 10, Done: true}, nil)
			env.OnActivity(a.FinishSync, mock.Anything, mock.Anything).Return(activities.FinishResult{Pages: 1, Rows: 10}, nil)
			var queues []string
			env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, _ converter.EncodedValues) {
				if info.ActivityType.Name == "SyncWindow" {
					queues = append(queues, info.TaskQueue)
				}
			})
			env.ExecuteWorkflow(ChannelSync, ChannelSyncInput{WorkspaceID: "w1", ConnectionID: "c1", Channel: "meta",
				Kind: tc.kind, From: "2026-01-01", To: "2026-01-14"})
			require.NoError(t, env.GetWorkflowError())
			require.Equal(t, []string{tc.want}, queues)
		})
	}
}
