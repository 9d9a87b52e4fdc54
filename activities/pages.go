package activities

import (
	"context"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	"github.com/omnitrackiq/omnitrackiq/internal/secretbox"
	"github.com/omnitrackiq/omnitrackiq/internal/store"
)

// page is one provider call's outcome, whatever the kind of data: how many rows it carried,
// where the next call starts, how long to wait before it, and how to commit it.
type page struct {
	rows   int
	next   string
	wait   time.Duration
	commit func(ctx context.Context, run store.SyncRun) (store.SyncRun, error)
}

// pageSource returns the function that reads the run's data one page at a time: ad metrics
// for a date window, orders updated since a time, or sessions for a date window.
func (a *Sync) pageSource(conn store.Connection, run store.SyncRun, acct channels.Account, claim store.Claim) (func(ctx context.Context, cursor string) (page, error), error) {
	ch := channels.Channel(conn.Channel)
	window := channels.Window{From: run.WindowFrom, To: run.WindowTo}
	if r, ok := a.Connectors.Ads[ch]; ok {
		req := channels.ReadRequest{Window: window, Level: channels.LevelAd}
		return func(ctx context.Context, cursor string) (page, error) {
			p, err := r.ReadPage(ctx, acct, req, cursor)
			return page{rows: len(p.Rows), next: p.Next, wait: p.Wait,
				commit: func(ctx context.Context, run store.SyncRun) (store.SyncRun, error) {
					return a.Store.CommitAdPage(ctx, run, claim, p.Rows, p.Next)
				}}, err
		}, nil
	}
	if r, ok := a.Connectors.Orders[ch]; ok {
		advance := run.Kind == kindIncremental
		var req channels.OrdersRequest
		switch {
		case !advance:
			// A backfill window reads the orders created in its days, each once.
			req.CreatedMin, req.CreatedMax = ordersCreatedRange(window, location(conn.Timezone))
		case run.UpdatedMin == nil:
			return nil, temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("sync run %s of orders has no updated_at_min", run.ID), ErrTypeInvalidInput, nil)
		default:
			req.UpdatedMin = *run.UpdatedMin
		}
		return func(ctx context.Context, cursor string) (page, error) {
			p, err := r.ReadOrders(ctx, acct, req, cursor)
			return page{rows: len(p.Orders), next: p.Next, wait: p.Wait,
				commit: func(ctx context.Context, run store.SyncRun) (store.SyncRun, error) {
					return a.Store.CommitOrdersPage(ctx, run, claim, p.Orders, p.Next, advance)
				}}, err
		}, nil
	}
	if r, ok := a.Connectors.Sessions[ch]; ok {
		req := channels.ReadRequest{Window: window}
		return func(ctx context.Context, cursor string) (page, error) {
			p, err := r.ReadSessions(ctx, acct, req, cursor)
			return page{rows: len(p.Rows), next: p.Next, wait: p.Wait,
				commit: func(ctx context.Context, run store.SyncRun) (store.SyncRun, error) {
					return a.Store.CommitSessionsPage(ctx, run, claim, p.Rows, p.Next)
				}}, err
		}, nil
	}
	return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("no connector for channel %s", ch), ErrTypeInvalidInput, nil)
}

// account opens the connection's sealed credentials.
func (a *Sync) account(conn store.Connection) (channels.Account, error) {
	aad := secretbox.ConnectionTokenAAD(conn.WorkspaceID, conn.Channel, conn.ExternalAccountID)
	token, err := a.Box.Open(conn.TokenCiphertext, aad)
	if err != nil {
		return channels.Account{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("open access token of connection %s: %v", conn.ID, err), ErrTypeInvalidInput, nil)
	}
	acct := channels.Account{ID: conn.ExternalAccountID, Token: string(token), LoginCustomerID: conn.LoginCustomerID}
	if len(conn.RefreshTokenCiphertext) > 0 {
		refresh, err := a.Box.Open(conn.RefreshTokenCiphertext, secretbox.ConnectionRefreshTokenAAD(conn.WorkspaceID, conn.Channel, conn.ExternalAccountID))
		if err != nil {
			return channels.Account{}, temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("open refresh token of connection %s: %v", conn.ID, err), ErrTypeInvalidInput, nil)
		}
		acct.RefreshToken = string(refresh)
	}
	return acct, nil
}
