package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
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
