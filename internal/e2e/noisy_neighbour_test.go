package e2e

import (
	"context"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/apikey"
	"github.com/omnitrackiq/omnitrackiq/internal/config"
	"github.com/omnitrackiq/omnitrackiq/internal/store"
)

// Bounds of the noisy-neighbour test. They are deliberately generous: the test asserts
// outcomes (every call of the quiet workspace answers, /readyz stays ready, the noisy one
// is refused with 429), and the bound only catches the starvation the issue measured (a
// 10 ms call taking 24 s). bench/noisy measures the latencies properly.
const (
	// noisyOrders is workspace A's order count. The issue measured a million; 200,000 keeps
	// the test near a minute on two busy cores. E2E_NOISY_ORDERS sets another size.
	noisyOrders = 200_000
	// noisyClients hammer GET /v1/metrics/campaigns in parallel for noisyFor.
	noisyClients = 16
	noisyFor     = 10 * time.Second
	// quietP99 bounds the 99th percentile latency of the quiet workspace's calls.
	quietP99 = 2 * time.Second
)

// TestNoisyNeighbour: workspace A, with a large order history, hammers its heaviest
// analytics route with the longest range allowed, while workspace B makes ordinary calls.
// The API runs with the pools and limits `omnitrackiq api` has by default on a two-CPU
// machine (DB_MAX_CONNS=8, DB_CONTROL_CONNS=4, DB_STATEMENT_TIMEOUT=15s, two analytics
// requests per workspace, four per replica, 600 requests a minute per key), except the
// per-address limit: every client of the test is 127.0.0.1, so A and B share one address,
// which real tenants do not.
func TestNoisyNeighbour(t *testing.T) {
	orders := noisyOrders
	if v := os.Getenv("E2E_NOISY_ORDERS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("E2E_NOISY_ORDERS=%q is not a positive integer", v)
		}
		orders = n
	}
	limits := config.DefaultAPILimits(8)
	limits.PerIP = config.Limit{Max: 1_000_000, Window: time.Minute}
	e := newEnv(t, envOptions{
		apiPools:  &store.PoolOptions{MaxConns: 8, ControlConns: 4, StatementTimeout: 15 * time.Second},
		apiLimits: limits,
	})
	workspaceA, keyA, keyB := seedNoisyNeighbours(t, e, orders)

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: noisyClients + 4}, Timeout: time.Minute}
	// call answers the status, Retry-After and latency of a GET, and counts why 429s were
	// given: the key's rate limit or the workspace's analytics slots.
	reasons := map[string]int{}
	var reasonsMu sync.Mutex
	call := func(path, key string) (int, string, time.Duration) {
		req, err := http.NewRequestWithContext(e.ctx, "GET", e.API.URL+path, nil)
		if err != nil {
			t.Error(err)
			return 0, "", 0
		}
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			t.Errorf("GET %s: %v", path, err)
			return 0, "", time.Since(start)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode == http.StatusTooManyRequests {
			reason := "other"
			switch {
			case strings.Contains(string(body), "analytics request"):
				reason = "analytics slots"
			case strings.Contains(string(body), "API key or user made more"):
				reason = "key rate limit"
			}
			reasonsMu.Lock()
			reasons[reason]++
			reasonsMu.Unlock()
		}
		return resp.StatusCode, resp.Header.Get("Retry-After"), time.Since(start)
	}

	var (
		mu         sync.Mutex
		aStatus    = map[int]int{}
		aOK        []time.Duration
		noRetry429 int
		bStatus    = map[string]map[int]int{}
		bLatency   []time.Duration
		ready      = map[int]int{}
	)
	ctx, cancel := context.WithTimeout(e.ctx, noisyFor)
	defer cancel()
	var wg sync.WaitGroup
	for range noisyClients {
		wg.Go(func() {
			for ctx.Err() == nil {
				status, retry, took := call("/v1/metrics/campaigns?from=2024-01-01&to=2024-12-31", keyA)
				mu.Lock()
				aStatus[status]++
				if status == http.StatusOK {
					aOK = append(aOK, took)
				}
				if status == http.StatusTooManyRequests && retry == "" {
					noRetry429++
				}
				mu.Unlock()
				if status == http.StatusTooManyRequests {
					// A careless client: it ignores Retry-After but does not spin, so the
					// test process itself does not take the two cores from the database.
					time.Sleep(20 * time.Millisecond)
				}
			}
		})
	}
	wg.Go(func() {
		quiet := []string{"/v1/connections", "/v1/metrics/summary?from=2024-06-01&to=2024-06-01"}
		for i := 0; ctx.Err() == nil; i++ {
			path := quiet[i%len(quiet)]
			status, _, took := call(path, keyB)
			mu.Lock()
			if bStatus[path] == nil {
				bStatus[path] = map[int]int{}
			}
			bStatus[path][status]++
			bLatency = append(bLatency, took)
			mu.Unlock()
			time.Sleep(50 * time.Millisecond)
		}
	})
	wg.Go(func() {
		for ctx.Err() == nil {
			status, _, _ := call("/readyz", "")
			mu.Lock()
			ready[status]++
			mu.Unlock()
			time.Sleep(200 * time.Millisecond)
		}
	})
	wg.Wait()

	p := func(ds []time.Duration, q float64) time.Duration {
		if len(ds) == 0 {
			return 0
		}
		s := slices.Clone(ds)
		slices.Sort(s)
		return s[min(len(s)-1, int(q*float64(len(s))))]
	}
	t.Logf("A (%d orders, %d clients, %s): statuses %v, 429s by cause %v; 200s took p50 %s, p99 %s",
		orders, noisyClients, noisyFor, aStatus, reasons, p(aOK, 0.5), p(aOK, 0.99))
	t.Logf("B: statuses %v; %d calls, p50 %s, p99 %s, max %s",
		bStatus, len(bLatency), p(bLatency, 0.5), p(bLatency, 0.99), p(bLatency, 1))
	t.Logf("/readyz: statuses %v", ready)

	for path, statuses := range bStatus {
		for status, n := range statuses {
			if status != http.StatusOK {
				t.Errorf("B: %d calls to %s answered %d", n, path, status)
			}
		}
	}
	if len(bLatency) < 10 {
		t.Errorf("B made only %d calls in %s", len(bLatency), noisyFor)
	}
	if got := p(bLatency, 0.99); got > quietP99 {
		t.Errorf("B's p99 %s is above %s", got, quietP99)
	}
	for status, n := range ready {
		if status != http.StatusOK {
			t.Errorf("/readyz answered %d %d times", status, n)
		}
	}
	if ready[http.StatusOK] == 0 {
		t.Error("/readyz was never called")
	}
	if aStatus[http.StatusTooManyRequests] == 0 {
		t.Errorf("A was never refused: %v", aStatus)
	}
	if aStatus[http.StatusOK] == 0 {
		t.Errorf("A never got an answer: %v", aStatus)
	}
	for status, n := range aStatus {
		if status != http.StatusOK && status != http.StatusTooManyRequests {
			t.Errorf("A got %d answers with status %d; want only 200 and 429", n, status)
		}
	}
	if noRetry429 > 0 {
		t.Errorf("%d of A's 429s had no Retry-After", noRetry429)
	}
	// Nothing of A's is left running: the database is idle once the clients stop, and A's
	// slots are free again.
	eventually(t, 20*time.Second, "the database to be idle", func() bool {
		var active int
		err := e.Store.Pool.QueryRow(e.ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND state = 'active' AND pid <> pg_backend_pid()`).Scan(&active)
		return err == nil && active == 0
	})
	// A's key is past its rate limit for the minute; a second key of A's shares the
	// workspace's analytics slots but not the key's count.
	key2, _, err := apikey.Issue(e.ctx, e.Store, workspaceA, "A2")
	if err != nil {
		t.Fatal(err)
	}
	for range 2 * limits.AnalyticsPerWorkspace {
		if status, _, _ := call("/v1/metrics/campaigns?from=2024-01-01&to=2024-01-31", key2); status != http.StatusOK {
			t.Errorf("A after the storm: %d", status)
		}
	}
}

// seedNoisyNeighbours creates workspace A, with orders orders over 2024 attributed to 50
// Meta campaigns that spend every day of it, and workspace B, with one connection and a
// day of orders, and returns A's id and an API key of each.
func seedNoisyNeighbours(t *testing.T, e *env, orders int) (workspaceA, keyA, keyB string) {
	t.Helper()
	start := time.Now()
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := e.Store.Pool.Exec(e.ctx, sql, args...); err != nil {
			t.Fatalf("%.60s: %v", sql, err)
		}
	}
	ids := map[string]string{}
	for _, name := range []string{"A", "B"} {
		ws, err := e.Store.CreateWorkspace(e.ctx, "Noisy neighbour "+name, "USD", "UTC")
		if err != nil {
			t.Fatal(err)
		}
		ids[name] = ws.ID
		key, _, err := apikey.Issue(e.ctx, e.Store, ws.ID, name)
		if err != nil {
			t.Fatal(err)
		}
		if name == "A" {
			keyA = key
		} else {
			keyB = key
		}
	}
	conn := func(ws, channel string) string {
		var id string
		if err := e.Store.Pool.QueryRow(e.ctx, `INSERT INTO connections (workspace_id, channel, external_account_id,
			token_ciphertext) VALUES ($1, $2, 'acct-1', '\x00') RETURNING id`, ws, channel).Scan(&id); err != nil {
			t.Fatal(err)
		}
		return id
	}
	shopA, metaA, shopB := conn(ids["A"], "shopify"), conn(ids["A"], "meta"), conn(ids["B"], "shopify")
	exec(`INSERT INTO orders (workspace_id, connection_id, shop_domain, order_id, created_at, updated_at, currency,
			total_micros, customer_id, utm_source, utm_medium, utm_campaign)
		SELECT $1, $2, 'a.myshopify.com', 'o' || i,
			t, t, 'USD', 1000000 + (i % 200) * 250000, 'c' || (i % ($3::int / 4 + 1)),
			'facebook', 'paid', 'camp-' || (i % 50)
		FROM generate_series(1, $3::int) AS i,
			LATERAL (SELECT timestamptz '2024-01-01 00:00:00+00' + (i::float8 / $3::int) * interval '365 days') AS at(t)`,
		ids["A"], shopA, orders)
	exec(`INSERT INTO ad_metrics_daily (workspace_id, connection_id, channel, account_id, campaign_id, campaign_name,
			adset_id, ad_id, date, currency, spend_micros, impressions, clicks, conversions, conversion_value_micros)
		SELECT $1, $2, 'meta', 'acct-1', 'c' || c, 'camp-' || c, 'as' || c, 'ad' || c, d, 'USD',
			50000000, 10000, 200, 4, 200000000
		FROM generate_series(0, 49) AS c, generate_series(date '2024-01-01', date '2024-12-31', interval '1 day') AS d`,
		ids["A"], metaA)
	exec(`INSERT INTO orders (workspace_id, connection_id, shop_domain, order_id, created_at, updated_at, currency,
			total_micros) SELECT $1, $2, 'b.myshopify.com', 'b' || i, timestamptz '2024-06-01 12:00:00+00', now(), 'USD', 20000000
		FROM generate_series(1, 20) AS i`, ids["B"], shopB)
	exec(`ANALYZE orders`)
	exec(`ANALYZE ad_metrics_daily`)
	t.Logf("seeded %d orders in %s", orders, time.Since(start).Round(time.Millisecond))
	return ids["A"], keyA, keyB
}
