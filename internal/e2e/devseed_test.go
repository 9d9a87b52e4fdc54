package e2e

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/omnitrackiq/omnitrackiq/internal/app"
	"github.com/omnitrackiq/omnitrackiq/internal/devstack"
	"github.com/omnitrackiq/omnitrackiq/workflows"
)

// TestDevSeed runs what `make dev` seeds, twice: the second run reuses everything, the
// printed demo key works, and the 90-day backfill loads 90 days of the sandbox's data.
func TestDevSeed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	deps := &app.Deps{Logger: e.logger, Store: e.Store, Temporal: e.Temporal, Box: e.Box, Connectors: e.Connectors}

	first, err := devstack.Seed(e.ctx, deps)
	require.NoError(t, err)
	var res workflows.BackfillResult
	require.NoError(t, e.waitWorkflow(first.Backfill, 3*time.Minute, &res))
	second, err := devstack.Seed(e.ctx, deps)
	require.NoError(t, err)
	require.Equal(t, first.ConnectionID, second.ConnectionID)
	require.NoError(t, e.waitWorkflow(second.Backfill, 3*time.Minute, &res))

	var workspaces, keys, conns, days int
	require.NoError(t, e.Store.Pool.QueryRow(e.ctx, `SELECT
		(SELECT count(*) FROM workspaces WHERE id = $1), (SELECT count(*) FROM api_keys WHERE workspace_id = $1),
		(SELECT count(*) FROM connections WHERE workspace_id = $1),
		(SELECT count(DISTINCT date) FROM ad_metrics_daily WHERE workspace_id = $1)`, devstack.DemoWorkspaceID).
		Scan(&workspaces, &keys, &conns, &days))
	require.Equal(t, []int{1, 1, 1, 90}, []int{workspaces, keys, conns, days})

	e.APIKey = devstack.DemoAPIKey()
	status, body := e.call("GET", "/v1/connections/"+first.ConnectionID, nil)
	require.Equal(t, http.StatusOK, status, "%v", body)
	require.Equal(t, "Demo Store (sandbox)", body["display_name"])
	status, body = e.call("GET", "/v1/connections/"+first.ConnectionID+"/schedule", nil)
	require.Equal(t, http.StatusOK, status, "%v", body)
}
