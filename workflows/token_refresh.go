package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/omnitrackiq/omnitrackiq/activities"
)

// TokenRefreshScheduleID is the daily schedule of TokenRefresh; scheduled runs get the ID
// "<TokenRefreshWorkflowID>-<timestamp>".
const (
	TokenRefreshScheduleID = "token-refresh-schedule"
	TokenRefreshWorkflowID = "token-refresh"
)

// TokenRefreshTimeout bounds one TokenRefresh run, continue-as-new chain included; the next
// day's run starts anyway.
const TokenRefreshTimeout = 6 * time.Hour

// Defaults of TokenRefreshInput. Meta long-lived tokens last about 60 days and can only be
// exchanged while still valid, so they are renewed a week ahead; Shopify expiring offline
// tokens last an hour to a day and are redeemed with their refresh token, so a day ahead
// (and any already expired) covers the daily schedule.
const (
	DefaultMetaRefreshWithin    = 7 * 24 * time.Hour
	DefaultShopifyRefreshWithin = 24 * time.Hour
	defaultTokenRefreshBatch    = 200
	defaultTokenRefreshParallel = 4
)

// TokenRefreshInput starts a TokenRefresh; the zero value uses the defaults. AfterID and
// Totals carry a run across continue-as-new.
type TokenRefreshInput struct {
	MetaWithin    time.Duration
	ShopifyWithin time.Duration
	BatchSize     int
	MaxConcurrent int
	AfterID       string
	Totals        TokenRefreshResult
}

// TokenRefreshResult counts what happened to the tokens.
type TokenRefreshResult struct {
	Refreshed   int
	Skipped     int
	NeedsReauth int
	Failed      int
}

func tokenListOptions() workflow.ActivityOptions {
	return workflow.ActivityOptions{
		TaskQueue:           TaskQueueSync,
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 30 * time.Second, MaximumAttempts: 10,
		},
	}
}

// tokenRefreshOptions: a provider that is down gets a few spaced attempts; the next daily
// run tries again well before the token expires.
func tokenRefreshOptions() workflow.ActivityOptions {
	return workflow.ActivityOptions{
		TaskQueue:           TaskQueueSync,
		StartToCloseTimeout: time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: 10 * time.Second, BackoffCoefficient: 2, MaximumInterval: 5 * time.Minute, MaximumAttempts: 6,
			NonRetryableErrorTypes: []string{activities.ErrTypeGrantDead, activities.ErrTypeInvalidInput, activities.ErrTypeConnectionNotFound},
		},
	}
}

// notifyOptions: a mail relay that is down is retried for about an hour.
func notifyOptions() workflow.ActivityOptions {
	return workflow.ActivityOptions{
		TaskQueue:           TaskQueueSync,
		StartToCloseTimeout: time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: 5 * time.Second, BackoffCoefficient: 2, MaximumInterval: 10 * time.Minute, MaximumAttempts: 12,
		},
	}
}

// TokenRefresh refreshes every provider token close to expiry, a bounded number at a time,
// in batches of ids (continuing as new after each full batch, so the history stays small).
// A dead grant flags the connection needs_reauth and emails its workspace's owner and admins
// once. One connection failing does not stop the others; the run fails at the end if any did.
func TokenRefresh(ctx workflow.Context, in TokenRefreshInput) (TokenRefreshResult, error) {
	if in.MetaWithin <= 0 {
		in.MetaWithin = DefaultMetaRefreshWithin
	}
	if in.ShopifyWithin <= 0 {
		in.ShopifyWithin = DefaultShopifyRefreshWithin
	}
	if in.BatchSize <= 0 {
		in.BatchSize = defaultTokenRefreshBatch
	}
	if in.MaxConcurrent <= 0 {
		in.MaxConcurrent = defaultTokenRefreshParallel
	}
	var acts *activities.Sync
	var list activities.ListExpiringResult
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, tokenListOptions()), acts.ListExpiringTokens,
		activities.ListExpiringInput{AfterID: in.AfterID, Limit: in.BatchSize, MetaWithin: in.MetaWithin, ShopifyWithin: in.ShopifyWithin},
	).Get(ctx, &list); err != nil {
		return in.Totals, err
	}
	workflow.SetCurrentDetails(ctx, fmt.Sprintf("refreshing %d tokens, %d at a time", len(list.Connections), in.MaxConcurrent))

	totals := in.Totals
	sem := workflow.NewSemaphore(ctx, int64(in.MaxConcurrent))
	wg := workflow.NewWaitGroup(ctx)
	for _, ref := range list.Connections {
		if err := sem.Acquire(ctx, 1); err != nil {
			return totals, err
		}
		wg.Add(1)
		workflow.Go(ctx, func(ctx workflow.Context) {
			defer wg.Done()
			defer sem.Release(1)
			var res activities.RefreshTokenResult
			err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, tokenRefreshOptions()), acts.RefreshToken, ref).Get(ctx, &res)
			var appErr *temporal.ApplicationError
			switch {
			case err == nil && res.Status == activities.RefreshRefreshed:
				totals.Refreshed++
			case err == nil:
				totals.Skipped++
			case errors.As(err, &appErr) && appErr.Type() == activities.ErrTypeGrantDead:
				totals.NeedsReauth++
				var nres activities.NotifyReauthResult
				if nerr := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, notifyOptions()), acts.NotifyNeedsReauth, ref).Get(ctx, &nres); nerr != nil {
					workflow.GetLogger(ctx).Error("needs_reauth notice failed", "connection_id", ref.ConnectionID, "error", nerr)
				}
			default:
				totals.Failed++
				workflow.GetLogger(ctx).Error("token refresh failed", "connection_id", ref.ConnectionID, "error", err)
			}
		})
	}
	wg.Wait(ctx)

	if len(list.Connections) == in.BatchSize {
		next := in
		next.AfterID = list.Connections[len(list.Connections)-1].ConnectionID
		next.Totals = totals
		return totals, workflow.NewContinueAsNewError(ctx, TokenRefresh, next)
	}
	if totals.Failed > 0 {
		return totals, temporal.NewApplicationError(
			fmt.Sprintf("%d tokens failed to refresh", totals.Failed), "TokensFailed", totals)
	}
	return totals, nil
}
