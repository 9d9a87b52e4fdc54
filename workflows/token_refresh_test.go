package workflows

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/omnitrackiq/omnitrackiq/activities"
)

func TestTokenRefreshRefreshesNotifiesAndCounts(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	var a *activities.Sync
	env.RegisterActivity(a.ListExpiringTokens)
	env.RegisterActivity(a.RefreshToken)
	env.RegisterActivity(a.NotifyNeedsReauth)

	var mu sync.Mutex
	attempts := map[string]int{}
	notified := map[string]int{}
	env.OnActivity(a.ListExpiringTokens, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.ListExpiringInput) (activities.ListExpiringResult, error) {
			if in.MetaWithin != DefaultMetaRefreshWithin || in.ShopifyWithin != DefaultShopifyRefreshWithin || in.AfterID != "" {
				return activities.ListExpiringResult{}, errors.New("unexpected list input")
			}
			var out activities.ListExpiringResult
			for _, id := range []string{"ok1", "ok2", "dead", "flaky", "gone"} {
				out.Connections = append(out.Connections, activities.TokenRef{WorkspaceID: "w1", ConnectionID: id})
			}
			return out, nil
		})
	env.OnActivity(a.RefreshToken, mock.Anything, mock.Anything).Return(
		func(_ context.Context, ref activities.TokenRef) (activities.RefreshTokenResult, error) {
			mu.Lock()
			attempts[ref.ConnectionID]++
			n := attempts[ref.ConnectionID]
			mu.Unlock()
			switch ref.ConnectionID {
			case "dead":
				return activities.RefreshTokenResult{}, temporal.NewNonRetryableApplicationError("revoked", activities.ErrTypeGrantDead, nil)
			case "flaky":
				if n < 3 {
					return activities.RefreshTokenResult{}, temporal.NewApplicationError("502", activities.ErrTypeProviderTransient)
				}
			case "gone":
				return activities.RefreshTokenResult{Status: activities.RefreshSkipped}, nil
			}
			return activities.RefreshTokenResult{Status: activities.RefreshRefreshed}, nil
		})
	env.OnActivity(a.NotifyNeedsReauth, mock.Anything, mock.Anything).Return(
		func(_ context.Context, ref activities.TokenRef) (activities.NotifyReauthResult, error) {
			mu.Lock()
			defer mu.Unlock()
			notified[ref.ConnectionID]++
			return activities.NotifyReauthResult{Sent: true}, nil
		})

	env.ExecuteWorkflow(TokenRefresh, TokenRefreshInput{})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var res TokenRefreshResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, TokenRefreshResult{Refreshed: 3, Skipped: 1, NeedsReauth: 1}, res)
	require.Equal(t, 1, attempts["dead"], "a dead grant is not retried")
	require.Equal(t, 3, attempts["flaky"], "a transient failure is retried")
	require.Equal(t, map[string]int{"dead": 1}, notified)
}

func TestTokenRefreshContinuesAsNewAfterAFullBatch(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	var a *activities.Sync
	env.RegisterActivity(a.ListExpiringTokens)
	env.RegisterActivity(a.RefreshToken)
	env.OnActivity(a.ListExpiringTokens, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.ListExpiringInput) (activities.ListExpiringResult, error) {
			var out activities.ListExpiringResult
			for i := range in.Limit {
				out.Connections = append(out.Connections, activities.TokenRef{WorkspaceID: "w1", ConnectionID: fmt.Sprint("c", i)})
			}
			return out, nil
		})
	env.OnActivity(a.RefreshToken, mock.Anything, mock.Anything).Return(activities.RefreshTokenResult{Status: activities.RefreshRefreshed}, nil)

	env.ExecuteWorkflow(TokenRefresh, TokenRefreshInput{BatchSize: 3, MetaWithin: time.Hour})
	var can *workflow.ContinueAsNewError
	require.ErrorAs(t, env.GetWorkflowError(), &can, "a full batch continues as new")
	var next TokenRefreshInput
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	require.Equal(t, "c2", next.AfterID)
	require.Equal(t, 3, next.Totals.Refreshed)
	require.Equal(t, time.Hour, next.MetaWithin)
}

func TestTokenRefreshReportsFailures(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	var a *activities.Sync
	env.RegisterActivity(a.ListExpiringTokens)
	env.RegisterActivity(a.RefreshToken)
	env.OnActivity(a.ListExpiringTokens, mock.Anything, mock.Anything).Return(activities.ListExpiringResult{
		Connections: []activities.TokenRef{{WorkspaceID: "w1", ConnectionID: "bad"}, {WorkspaceID: "w1", ConnectionID: "ok"}},
	}, nil)
	env.OnActivity(a.RefreshToken, mock.Anything, activities.TokenRef{WorkspaceID: "w1", ConnectionID: "bad"}).Return(
		activities.RefreshTokenResult{}, temporal.NewApplicationError("502", activities.ErrTypeProviderTransient))
	env.OnActivity(a.RefreshToken, mock.Anything, activities.TokenRef{WorkspaceID: "w1", ConnectionID: "ok"}).Return(
		activities.RefreshTokenResult{Status: activities.RefreshRefreshed}, nil)

	env.ExecuteWorkflow(TokenRefresh, TokenRefreshInput{})
	err := env.GetWorkflowError()
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	var res TokenRefreshResult
	require.NoError(t, appErr.Details(&res))
	require.Equal(t, TokenRefreshResult{Refreshed: 1, Failed: 1}, res)
}
