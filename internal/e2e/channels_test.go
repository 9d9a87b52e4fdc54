package e2e

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/omnitrackiq/omnitrackiq/activities"
	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	sandboxga4 "github.com/omnitrackiq/omnitrackiq/internal/sandbox/ga4"
	sandboxgoogleads "github.com/omnitrackiq/omnitrackiq/internal/sandbox/googleads"
	sandboxshopify "github.com/omnitrackiq/omnitrackiq/internal/sandbox/shopify"
	sandboxtiktok "github.com/omnitrackiq/omnitrackiq/internal/sandbox/tiktok"
	"github.com/omnitrackiq/omnitrackiq/workflows"
)

// channelCase adapts one provider's sandbox to the common checks of TestChannelSync.
type channelCase struct {
	channel string
	connect map[string]any
	// rateLimit arms the provider's rate-limit answer once and returns the delay the
	// provider asks for (or, where it names none, the connector's backoff).
	rateLimit func(e *env) time.Duration
	expire    func(e *env)
	clear     func(e *env)
	// requests are the sandbox's answers: time and HTTP status (or envelope code).
	requests func(e *env) []answer
	// check compares the stored rows with the sandbox's own totals for the run's window.
	check func(e *env, res workflows.ChannelSyncResult)
	// digest fingerprints every stored row, synced_at included.
	digest func(e *env) string
	// restate changes the provider's past data within the lookback and returns a check
	// that the next sync corrected it.
	restate func(e *env, res workflows.ChannelSyncResult) func()
}

type answer struct {
	at     time.Time
	failed bool
}

func TestChannelSync(t *testing.T) {
	t.Parallel()
	cases := []channelCase{googleAdsCase(), tiktokCase(), shopifyCase(), ga4Case()}
	for _, tc := range cases {
		t.Run(tc.channel, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOptions{})
			status, body := e.call("POST", "/v1/connections", tc.connect)
			require.Equal(t, http.StatusCreated, status, "%v", body)
			connID := body["id"].(string)

			// The provider's rate-limit answer: the sync waits what was asked, then succeeds.
			asked := tc.rateLimit(e)
			res := e.syncAndWait(connID)
			answers := tc.requests(e)
			limited := -1
			for i, a := range answers {
				if a.failed {
					limited = i
					break
				}
			}
			require.GreaterOrEqual(t, limited, 0, "the sandbox answered with its rate limit")
			require.Greater(t, len(answers), limited+1)
			gap := answers[limited+1].at.Sub(answers[limited].at)
			require.GreaterOrEqual(t, gap, asked, "retried after %s, the provider asked for %s", gap, asked)

			// Multi-page read equal to the provider's data.
			require.Greater(t, res.Pages, 1, "a multi-page read")
			tc.check(e, res)

			// Idempotent: the same window again leaves identical rows.
			before := tc.digest(e)
			res2 := e.syncAndWait(connID)
			require.Equal(t, before, tc.digest(e))

			// Restatement within the lookback is corrected by the next sync.
			verify := tc.restate(e, res2)
			e.syncAndWait(connID)
			verify()

			// An expired or revoked credential fails the run at once and flags the connection.
			tc.expire(e)
			start := time.Now()
			wfID := e.triggerSync(connID)
			err := e.waitWorkflow(wfID, time.Minute, nil)
			require.Error(t, err)
			require.Less(t, time.Since(start), 15*time.Second, "auth failures are not retried")
			requireNonRetryable(t, err, activities.ErrTypeProviderAuth)
			status, body = e.call("GET", "/v1/connections/"+connID, nil)
			require.Equal(t, http.StatusOK, status)
			require.Equal(t, "needs_reauth", body["status"], "%v", body)
			tc.clear(e)
		})
	}
}

func googleAdsCase() channelCase {
	const id = sandboxgoogleads.DemoCustomerID
	return channelCase{
		channel: "google_ads",
		connect: map[string]any{"channel": "google_ads", "account_id": "123-456-7890", "refresh_token": sandboxgoogleads.DefaultRefreshToken},
		rateLimit: func(e *env) time.Duration {
			require.NoError(e.t, e.SB.GoogleAds.SetFaults(sandboxgoogleads.Faults{RateLimit: &sandboxgoogleads.RateLimitFault{Times: 1, RetryDelay: "1s"}}))
			return time.Second
		},
		expire: func(e *env) {
			require.NoError(e.t, e.SB.GoogleAds.SetFaults(sandboxgoogleads.Faults{ExpiredToken: true}))
		},
		clear: func(e *env) { e.SB.GoogleAds.ClearFaults() },
		requests: func(e *env) []answer {
			var out []answer
			for _, r := range e.SB.GoogleAds.Requests() {
				if r.Path != "/token" {
					out = append(out, answer{r.Time, r.Status == http.StatusTooManyRequests})
				}
			}
			return out
		},
		check: func(e *env, res workflows.ChannelSyncResult) {
			// Ad rows, plus Performance Max at campaign level: the account's campaign report.
			ads, err := e.SB.GoogleAds.Totals(id, res.From, res.To, "ad")
			require.NoError(e.t, err)
			want, err := e.SB.GoogleAds.Totals(id, res.From, res.To, "campaign")
			require.NoError(e.t, err)
			got := e.table()
			require.Equal(e.t, int64(ads.Rows), got.Rows-e.campaignLevelRows())
			require.Equal(e.t, want.CostMicros, got.Spend)
			require.Equal(e.t, want.ConversionsValueMicros, got.Value)
			require.Equal(e.t, float64(14), mustDay(e.t, res.To).Sub(mustDay(e.t, res.From)).Hours()/24, "14-day lookback")
		},
		digest: func(e *env) string { return e.table().Digest },
		restate: func(e *env, res workflows.ChannelSyncResult) func() {
			day := mustDay(e.t, res.To).AddDate(0, 0, -3).Format(channels.DateLayout)
			require.NoError(e.t, e.SB.GoogleAds.Restate(id, day, 140))
			return func() {
				want, err := e.SB.GoogleAds.Totals(id, day, day, "campaign")
				require.NoError(e.t, err)
				require.Equal(e.t, want.CostMicros, e.daySpend(mustDay(e.t, day)))
			}
		},
	}
}

func tiktokCase() channelCase {
	const id = sandboxtiktok.DemoAdvertiserID
	return channelCase{
		channel: "tiktok",
		connect: map[string]any{"channel": "tiktok", "account_id": id, "access_token": sandboxtiktok.DefaultToken},
		rateLimit: func(e *env) time.Duration {
			require.NoError(e.t, e.SB.TikTok.SetFaults(sandboxtiktok.Faults{RateLimit: &sandboxtiktok.CodeFault{Code: 40100, Times: 1}}))
			return 2 * time.Second // TikTok names no delay: the connector's backoff (harness: 2 s)
		},
		expire: func(e *env) { require.NoError(e.t, e.SB.TikTok.SetFaults(sandboxtiktok.Faults{ExpiredToken: true})) },
		clear:  func(e *env) { e.SB.TikTok.ClearFaults() },
		requests: func(e *env) []answer {
			var out []answer
			for _, r := range e.SB.TikTok.Requests() {
				out = append(out, answer{r.Time, r.Code == 40100})
			}
			return out
		},
		check: func(e *env, res workflows.ChannelSyncResult) {
			want, err := e.SB.TikTok.Totals(id, res.From, res.To, "ad")
			require.NoError(e.t, err)
			got := e.table()
			require.Equal(e.t, int64(want.Rows), got.Rows)
			require.Equal(e.t, want.SpendMicros, got.Spend)
			require.Equal(e.t, want.ConversionValueMicros, got.Value)
		},
		digest: func(e *env) string { return e.table().Digest },
		restate: func(e *env, res workflows.ChannelSyncResult) func() {
			day := mustDay(e.t, res.To).AddDate(0, 0, -2).Format(channels.DateLayout)
			require.NoError(e.t, e.SB.TikTok.Restate(id, day, 160))
			return func() {
				want, err := e.SB.TikTok.Totals(id, day, day, "ad")
				require.NoError(e.t, err)
				require.Equal(e.t, want.SpendMicros, e.daySpend(mustDay(e.t, day)))
			}
		},
	}
}

func ga4Case() channelCase {
	const id = sandboxga4.DemoPropertyID
	return channelCase{
		channel: "ga4",
		connect: map[string]any{"channel": "ga4", "account_id": "properties/" + id, "refresh_token": sandboxga4.DefaultRefreshToken},
		rateLimit: func(e *env) time.Duration {
			require.NoError(e.t, e.SB.GA4.SetFaults(sandboxga4.Faults{RateLimit: &sandboxga4.RateLimitFault{Times: 1}}))
			return 2 * time.Second // "Exhausted concurrent requests quota." backoff (harness: 2 s)
		},
		expire: func(e *env) {
			require.NoError(e.t, e.SB.GA4.SetFaults(sandboxga4.Faults{ExpiredToken: true, RevokeRefreshToken: true}))
		},
		clear: func(e *env) { e.SB.GA4.ClearFaults() },
		requests: func(e *env) []answer {
			var out []answer
			for _, r := range e.SB.GA4.Requests() {
				if r.Path != "/token" {
					out = append(out, answer{r.Time, r.Status == http.StatusTooManyRequests})
				}
			}
			return out
		},
		check: func(e *env, res workflows.ChannelSyncResult) {
			want, err := e.SB.GA4.Totals(id, res.From, res.To)
			require.NoError(e.t, err)
			rows, sessions, revenue := e.sessionsState()
			require.Equal(e.t, int64(want.Rows), rows)
			require.Equal(e.t, want.Sessions, sessions)
			require.Equal(e.t, want.RevenueMicros, revenue)
			require.Equal(e.t, float64(2), mustDay(e.t, res.To).Sub(mustDay(e.t, res.From)).Hours()/24, "2-day lookback")
		},
		digest: func(e *env) string {
			return e.digestOf("sessions_daily", "property_id, date, source, medium, campaign")
		},
		restate: func(e *env, res workflows.ChannelSyncResult) func() {
			day := mustDay(e.t, res.To).AddDate(0, 0, -1).Format(channels.DateLayout)
			require.NoError(e.t, e.SB.GA4.Restate(id, day, 130))
			return func() {
				want, err := e.SB.GA4.Totals(id, day, day)
				require.NoError(e.t, err)
				var sessions int64
				require.NoError(e.t, e.Store.Pool.QueryRow(e.ctx, `SELECT coalesce(sum(sessions),0) FROM sessions_daily
					WHERE workspace_id = $1 AND date = $2`, e.Workspace, day).Scan(&sessions))
				require.Equal(e.t, want.Sessions, sessions)
			}
		},
	}
}

func shopifyCase() channelCase {
	return channelCase{
		channel: "shopify",
		connect: map[string]any{"channel": "shopify", "account_id": "demo-store", "access_token": sandboxshopify.DefaultToken},
		rateLimit: func(e *env) time.Duration {
			require.NoError(e.t, e.SB.Shopify.SetFaults(sandboxshopify.Faults{RateLimit: &sandboxshopify.RateLimitFault{Times: 1, RetryAfter: "1.0"}}))
			return time.Second
		},
		expire: func(e *env) { require.NoError(e.t, e.SB.Shopify.SetFaults(sandboxshopify.Faults{InvalidToken: true})) },
		clear:  func(e *env) { e.SB.Shopify.ClearFaults() },
		requests: func(e *env) []answer {
			var out []answer
			for _, r := range e.SB.Shopify.Requests() {
				out = append(out, answer{r.Time, r.Status == http.StatusTooManyRequests})
			}
			return out
		},
		check: func(e *env, res workflows.ChannelSyncResult) {
			want, err := e.SB.Shopify.Totals(res.From, "")
			require.NoError(e.t, err)
			var orders, revenueOrders int
			var revenue, refunded int64
			require.NoError(e.t, e.Store.Pool.QueryRow(e.ctx, `SELECT count(*),
				count(*) FILTER (WHERE NOT test AND cancelled_at IS NULL),
				coalesce(sum(total_micros) FILTER (WHERE NOT test AND cancelled_at IS NULL), 0),
				coalesce(sum(refunded_micros) FILTER (WHERE NOT test AND cancelled_at IS NULL), 0)
				FROM orders WHERE workspace_id = $1 AND (created_at AT TIME ZONE 'America/New_York')::date >= $2`,
				e.Workspace, res.From).Scan(&orders, &revenueOrders, &revenue, &refunded))
			require.Equal(e.t, want.Orders, orders)
			require.Equal(e.t, want.RevenueOrders, revenueOrders)
			require.Equal(e.t, want.RevenueMicros, revenue)
			require.Equal(e.t, want.RefundedMicros, refunded)
		},
		digest: func(e *env) string {
			return e.digestOf("orders", "shop_domain, order_id") + e.digestOf("order_line_items", "shop_domain, order_id, line_item_id") +
				e.digestOf("order_refunds", "shop_domain, order_id, refund_id")
		},
		restate: func(e *env, _ workflows.ChannelSyncResult) func() {
			// An order edited and another refunded after their first sync.
			var edited, refunded string
			require.NoError(e.t, e.Store.Pool.QueryRow(e.ctx, `SELECT
				(SELECT order_id FROM orders WHERE workspace_id = $1 AND NOT test AND cancelled_at IS NULL AND refunded_micros = 0 ORDER BY created_at DESC LIMIT 1),
				(SELECT order_id FROM orders WHERE workspace_id = $1 AND NOT test AND cancelled_at IS NULL AND refunded_micros = 0 ORDER BY created_at DESC OFFSET 1 LIMIT 1)`,
				e.Workspace).Scan(&edited, &refunded))
			require.NoError(e.t, e.SB.Shopify.EditOrder(edited, "123.45"))
			_, err := e.SB.Shopify.RefundOrder(refunded, "10.00")
			require.NoError(e.t, err)
			return func() {
				var total, refundedMicros int64
				var refunds int
				require.NoError(e.t, e.Store.Pool.QueryRow(e.ctx, `SELECT
					(SELECT total_micros FROM orders WHERE workspace_id = $1 AND order_id = $2),
					(SELECT refunded_micros FROM orders WHERE workspace_id = $1 AND order_id = $3),
					(SELECT count(*) FROM order_refunds WHERE workspace_id = $1 AND order_id = $3)`,
					e.Workspace, edited, refunded).Scan(&total, &refundedMicros, &refunds))
				require.Equal(e.t, int64(123_450_000), total, "edit picked up")
				require.Equal(e.t, int64(10_000_000), refundedMicros, "refund picked up")
				require.Equal(e.t, 1, refunds)
			}
		},
	}
}

func (e *env) sessionsState() (rows, sessions, revenue int64) {
	e.t.Helper()
	require.NoError(e.t, e.Store.Pool.QueryRow(e.ctx, `SELECT count(*), coalesce(sum(sessions),0), coalesce(sum(revenue_micros),0)
		FROM sessions_daily WHERE workspace_id = $1`, e.Workspace).Scan(&rows, &sessions, &revenue))
	return
}

// digestOf fingerprints every row of a workspace table in key order.
func (e *env) digestOf(table, key string) string {
	e.t.Helper()
	var d string
	require.NoError(e.t, e.Store.Pool.QueryRow(e.ctx, fmt.Sprintf(`SELECT coalesce(md5(string_agg(t::text, ',' ORDER BY %s)), '')
		FROM %s t WHERE workspace_id = $1`, key, table), e.Workspace).Scan(&d))
	return d
}

func requireNonRetryable(t *testing.T, err error, errType string) {
	t.Helper()
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	require.Equal(t, errType, appErr.Type())
	require.True(t, appErr.NonRetryable())
}
