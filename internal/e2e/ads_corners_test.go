package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	sandboxgoogleads "github.com/omnitrackiq/omnitrackiq/internal/sandbox/googleads"
)

// sandboxAdmin posts a JSON body to an admin endpoint of the sandbox over HTTP, as an
// operator would, and fails the test unless it answers 200.
func (e *env) sandboxAdmin(path string, body any) {
	e.t.Helper()
	raw, err := json.Marshal(body)
	require.NoError(e.t, err)
	resp, err := http.Post(e.SandboxTS.URL+path, "application/json", strings.NewReader(string(raw)))
	require.NoError(e.t, err)
	defer resp.Body.Close()
	require.Equal(e.t, http.StatusOK, resp.StatusCode, "POST %s", path)
}

// A Meta ad deleted before the sync still delivered within the window: Meta reports it
// only to a request that filters on every ad.effective_status, and its spend must be in
// the table.
func TestDeletedMetaAdSpendIsSynced(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{pageSize: 100})
	deleted := e.Sandbox.Accounts()[0].Campaigns[0].AdSets[1].Ads[0].ID
	archived := e.Sandbox.Accounts()[0].Campaigns[2].AdSets[0].Ads[1].ID
	e.sandboxAdmin("/meta/_sandbox/ad_status", map[string]string{"ad_id": deleted, "effective_status": "DELETED"})
	e.sandboxAdmin("/meta/_sandbox/ad_status", map[string]string{"ad_id": archived, "effective_status": "ARCHIVED"})
	connID := e.connectMeta()

	res := e.syncAndWait(connID)
	want, err := e.Sandbox.Totals(demoAccount, res.From, res.To, "ad")
	require.NoError(t, err)
	got := e.table()
	require.Equal(t, want.SpendMicros, got.Spend, "total spend includes the deleted and archived ads")
	require.Equal(t, int64(want.Rows), got.Rows)

	for _, ad := range []string{deleted, archived} {
		var spend int64
		require.NoError(t, e.Store.Pool.QueryRow(e.ctx, `SELECT coalesce(sum(spend_micros),0) FROM ad_metrics_daily
			WHERE workspace_id = $1 AND channel = 'meta' AND ad_id = $2`, e.Workspace, ad).Scan(&spend))
		require.Positive(t, spend, "ad %s has spend in the table", ad)
	}
}

// campaignLevelRows counts the stored rows without ad set and ad: campaigns read at
// campaign level (Performance Max).
func (e *env) campaignLevelRows() int64 {
	e.t.Helper()
	var n int64
	require.NoError(e.t, e.Store.Pool.QueryRow(e.ctx, `SELECT count(*) FROM ad_metrics_daily
		WHERE workspace_id = $1 AND adset_id = '' AND ad_id = ''`, e.Workspace).Scan(&n))
	return n
}

// A Performance Max campaign has no ad groups: FROM ad_group_ad never shows it, and its
// spend must still be in the account total, exactly once.
func TestPerformanceMaxSpendIsCountedOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	const id = sandboxgoogleads.DemoCustomerID
	var pmax string
	for _, c := range e.SB.GoogleAds.Customers()[0].Campaigns {
		if c.ChannelType == sandboxgoogleads.ChannelPerformanceMax {
			pmax = c.ID
		}
	}
	require.NotEmpty(t, pmax, "the demo customer runs Performance Max")
	status, body := e.call("POST", "/v1/connections", map[string]any{
		"channel": "google_ads", "account_id": "123-456-7890", "refresh_token": sandboxgoogleads.DefaultRefreshToken})
	require.Equal(t, http.StatusCreated, status, "%v", body)
	e.SB.GoogleAds.ResetRequests()

	res := e.syncAndWait(body["id"].(string))
	account, err := e.SB.GoogleAds.Totals(id, res.From, res.To, "campaign")
	require.NoError(t, err)
	require.Equal(t, account.CostMicros, e.table().Spend, "the table adds up to the campaign-level report")

	want, err := e.SB.GoogleAds.CampaignTotals(id, pmax, res.From, res.To)
	require.NoError(t, err)
	require.Positive(t, want.CostMicros)
	var spend, rows, rowsBelow int64
	require.NoError(t, e.Store.Pool.QueryRow(e.ctx, `SELECT coalesce(sum(spend_micros),0), count(*),
			count(*) FILTER (WHERE adset_id <> '' OR ad_id <> '')
		FROM ad_metrics_daily WHERE workspace_id = $1 AND campaign_id = $2`, e.Workspace, pmax).Scan(&spend, &rows, &rowsBelow))
	require.Equal(t, want.CostMicros, spend, "Performance Max spend, once")
	require.Equal(t, int64(want.Rows), rows, "one campaign-level row a day")
	require.Zero(t, rowsBelow)

	// Two queries over the window, each paged: ad_group_ad, then campaign for the rest.
	var adQueries, campaignQueries int
	for _, r := range e.SB.GoogleAds.Requests() {
		switch {
		case strings.Contains(r.Query, " FROM ad_group_ad "):
			adQueries++
		case strings.Contains(r.Query, " FROM campaign ") && strings.Contains(r.Query, "segments.date"):
			campaignQueries++
		}
	}
	require.Greater(t, adQueries, 1, "the ad-level query pages")
	require.Equal(t, 1, campaignQueries, "one campaign-level page for Performance Max")
}
