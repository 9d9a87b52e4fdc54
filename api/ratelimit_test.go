package api

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/omnitrackiq/omnitrackiq/internal/apikey"
	"github.com/omnitrackiq/omnitrackiq/internal/config"
	"github.com/omnitrackiq/omnitrackiq/internal/store"
	"github.com/omnitrackiq/omnitrackiq/internal/testdb"
)

func decodeProblem(t *testing.T, rec *httptest.ResponseRecorder) Problem {
	t.Helper()
	var p Problem
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
		t.Fatalf("status %d, body %q is not a problem: %v", rec.Code, rec.Body, err)
	}
	if ct := rec.Header().Get("Content-Type"); ct != problemContentType {
		t.Errorf("Content-Type %q", ct)
	}
	return p
}

func serve(h http.Handler, method, path, key string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestClassify(t *testing.T) {
	for route, want := range map[string]routeClass{
		"/healthz": classHealth, "/readyz": classHealth,
		"/v1/auth/login": classAuth, "/v1/auth/password-reset/confirm": classAuth,
		"/v1/metrics/campaigns": classAnalytics, "/v1/metrics/summary": classAnalytics,
		"/v1/metrics/timeseries": classAnalytics, "/v1/metrics/channels": classAnalytics,
		"/v1/orders": classAnalytics, "/v1/reports/preview": classAnalytics,
		"/v1/connections": classDefault, "/v1/reports/:id": classDefault, "": classDefault,
	} {
		if got := classify(route); got != want {
			t.Errorf("classify(%q) = %d, want %d", route, got, want)
		}
	}
	l := apiLimits(config.APILimits{}.WithDefaults())
	for class, want := range map[routeClass]time.Duration{
		classHealth: 2 * time.Second, classAuth: 10 * time.Second, classAnalytics: 15 * time.Second, classDefault: 30 * time.Second,
	} {
		if got := l.timeout(class); got != want {
			t.Errorf("timeout(%d) = %s, want %s", class, got, want)
		}
	}
}

// testServer is a server on st with the given limits, whose middleware runs in front of
// handlers registered on the returned engine.
func testServer(st *store.Store, l config.APILimits) (*server, *gin.Engine) {
	s := &server{Deps: Deps{Store: st}, log: slog.New(slog.DiscardHandler), apiLimits: apiLimits(l.WithDefaults())}
	s.slots = newSlots(s.apiLimits.AnalyticsPerWorkspace, s.apiLimits.AnalyticsPerReplica)
	r := gin.New()
	r.Use(s.recoverPanics, s.withDeadline, s.rateLimit)
	return s, r
}

func TestDeadlines(t *testing.T) {
	gin.SetMode(gin.TestMode)
	_, dbURL := testdb.New(t)
	ctx := context.Background()
	// The statement timeout is far shorter than the route deadline in /slow-statement, and
	// far longer than the analytics deadline.
	st, err := store.OpenWith(ctx, dbURL, store.PoolOptions{MaxConns: 4, ControlConns: 2, StatementTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s, r := testServer(st, config.APILimits{AnalyticsTimeout: 200 * time.Millisecond, DefaultTimeout: 5 * time.Second})
	sleep := func(secs string) gin.HandlerFunc {
		return func(c *gin.Context) {
			if _, err := s.Store.Pool.Exec(c.Request.Context(), "SELECT pg_sleep("+secs+")"); err != nil {
				s.unavailable(c, "the database", err)
				return
			}
			c.Status(http.StatusNoContent)
		}
	}
	r.GET("/v1/metrics/campaigns", sleep("3"))
	r.GET("/v1/connections", sleep("3"))
	// A handler that ignores its context and answers nothing still gets the problem.
	r.GET("/v1/orders", func(c *gin.Context) { <-c.Request.Context().Done() })

	cases := []struct {
		name, path, detail string
	}{
		{"request deadline", "/v1/metrics/campaigns", "the query took longer than 200ms; narrow the date range, or retry later"},
		{"statement timeout", "/v1/connections", "the request took longer than 5s; retry later"},
		{"handler ignoring its context", "/v1/orders", "the query took longer than 200ms; narrow the date range, or retry later"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			rec := serve(r, "GET", tc.path, "")
			if took := time.Since(start); took > 2*time.Second {
				t.Errorf("answered after %s: the query was not cancelled", took)
			}
			if rec.Code != http.StatusGatewayTimeout || rec.Header().Get("Retry-After") != strconv.Itoa(timeoutRetryAfter) {
				t.Fatalf("status %d, Retry-After %q, body %s", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
			}
			if p := decodeProblem(t, rec); p.Type != typeTimeout || p.Status != 504 || p.Detail != tc.detail {
				t.Errorf("problem %+v", p)
			}
			// The cancelled query gave its connection back.
			if n := st.Stats().MainInUse; n != 0 {
				t.Errorf("%d connections still in use", n)
			}
		})
	}
	// The server is not still running the queries.
	var running int
	if err := st.Pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(3)%' AND state = 'active'`).Scan(&running); err != nil {
		t.Fatal(err)
	}
	if running != 0 {
		t.Errorf("%d cancelled queries still run on the server", running)
	}
}

func TestRateLimits(t *testing.T) {
	gin.SetMode(gin.TestMode)
	st, _ := testdb.New(t)
	ctx := context.Background()
	ws, err := st.CreateWorkspace(ctx, "W", "USD", "UTC")
	if err != nil {
		t.Fatal(err)
	}
	key1, _, err := apikey.Issue(ctx, st, ws.ID, "one")
	if err != nil {
		t.Fatal(err)
	}
	key2, _, err := apikey.Issue(ctx, st, ws.ID, "two")
	if err != nil {
		t.Fatal(err)
	}
	_, r := testServer(st, config.APILimits{
		PerKey: config.Limit{Max: 2, Window: time.Minute},
		PerIP:  config.Limit{Max: 5, Window: time.Minute},
	})
	r.GET("/v1/connections", func(c *gin.Context) { c.Status(http.StatusNoContent) })
	r.GET("/healthz", func(c *gin.Context) { c.Status(http.StatusNoContent) })

	want := []struct {
		key    string
		status int
		detail string
	}{
		{key1, 204, ""},
		{key1, 204, ""},
		{key1, 429, "this API key or user made more than 2 requests in 1m0s"},
		{key2, 204, ""}, // another key has its own count
		{"", 204, ""},   // no credential: the address limit only
		{key2, 429, "this address made more than 5 requests in 1m0s"},
	}
	for i, w := range want {
		rec := serve(r, "GET", "/v1/connections", w.key)
		if rec.Code != w.status {
			t.Fatalf("request %d: status %d, want %d: %s", i, rec.Code, w.status, rec.Body)
		}
		if w.status != 429 {
			continue
		}
		retry, err := strconv.Atoi(rec.Header().Get("Retry-After"))
		if err != nil || retry < 1 || retry > 60 {
			t.Errorf("request %d: Retry-After %q", i, rec.Header().Get("Retry-After"))
		}
		p := decodeProblem(t, rec)
		if p.Type != typeRateLimited || p.Status != 429 || len(p.Detail) < len(w.detail) || p.Detail[:len(w.detail)] != w.detail {
			t.Errorf("request %d: problem %+v, want detail starting %q", i, p, w.detail)
		}
	}
	// Health checks are outside /v1 and never counted.
	for range 10 {
		if rec := serve(r, "GET", "/healthz", ""); rec.Code != 204 {
			t.Fatalf("healthz %d", rec.Code)
		}
	}
}

func TestSlots(t *testing.T) {
	s := newSlots(2, 3)
	a1, err := s.acquire("a")
	if err != nil {
		t.Fatal(err)
	}
	a2, err := s.acquire("a")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.acquire("a"); err != errWorkspaceBusy {
		t.Fatalf("third slot of a: %v", err)
	}
	if _, err := s.acquire("b"); err != nil {
		t.Fatalf("b: %v", err)
	}
	if _, err := s.acquire("c"); err != errReplicaBusy {
		t.Fatalf("fourth slot of the replica: %v", err)
	}
	a1()
	a1() // a second release gives nothing back twice
	if total, byA := s.held("a"); total != 2 || byA != 1 {
		t.Fatalf("after one release: %d in all, %d of a", total, byA)
	}
	a2()
	if total, byA := s.held("a"); total != 1 || byA != 0 {
		t.Fatalf("after both releases: %d in all, %d of a", total, byA)
	}
}

// The analytics slot is given back whatever way the handler ends.
func TestAnalyticsSlotReleased(t *testing.T) {
	gin.SetMode(gin.TestMode)
	s := &server{log: slog.New(slog.DiscardHandler),
		apiLimits: apiLimits(config.APILimits{AnalyticsPerWorkspace: 1, AnalyticsPerReplica: 4, AnalyticsTimeout: 100 * time.Millisecond}.WithDefaults())}
	s.slots = newSlots(1, 4)
	r := gin.New()
	setWorkspace := func(c *gin.Context) { c.Set(workspaceKey{}, "ws"); c.Next() }
	r.Use(s.recoverPanics, s.withDeadline, setWorkspace)
	entered := make(chan struct{}, 1)
	r.GET("/v1/metrics/summary", s.analyticsSlot(func(c *gin.Context) {
		entered <- struct{}{}
		<-c.Request.Context().Done()
		s.unavailable(c, "the database", c.Request.Context().Err())
	}))
	r.GET("/v1/metrics/channels", s.analyticsSlot(func(*gin.Context) { panic("boom") }))
	r.GET("/v1/orders", s.analyticsSlot(func(c *gin.Context) { c.Status(http.StatusNoContent) }))

	cases := []struct {
		name, path string
		status     int
	}{
		{"timeout", "/v1/metrics/summary", http.StatusGatewayTimeout},
		{"panic", "/v1/metrics/channels", http.StatusInternalServerError},
		{"success", "/v1/orders", http.StatusNoContent},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if rec := serve(r, "GET", tc.path, ""); rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
			if total, byWS := s.slots.held("ws"); total != 0 || byWS != 0 {
				t.Fatalf("slots still held: %d in all, %d of the workspace", total, byWS)
			}
		})
	}

	// While one request holds the workspace's only slot, the next is refused at once.
	<-entered // the timeout case's
	done := make(chan *httptest.ResponseRecorder)
	go func() { done <- serve(r, "GET", "/v1/metrics/summary", "") }()
	<-entered
	start := time.Now()
	rec := serve(r, "GET", "/v1/orders", "")
	if time.Since(start) > time.Second {
		t.Errorf("the refusal waited %s", time.Since(start))
	}
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "1" {
		t.Fatalf("second request: %d, Retry-After %q", rec.Code, rec.Header().Get("Retry-After"))
	}
	if p := decodeProblem(t, rec); p.Type != typeRateLimited ||
		p.Detail != "this workspace already runs 1 analytics request at once; retry when one finishes" {
		t.Errorf("problem %+v", p)
	}
	<-done
}

// Each analytics endpoint has its own longest window; one day past it is a 422 that says
// the last allowed day.
func TestWindowMaximum(t *testing.T) {
	gin.SetMode(gin.TestMode)
	cases := []struct {
		years  int
		lastOK string
		detail string
	}{
		{maxCampaignsYears, "2024-12-31", "this endpoint's window must be shorter than 1 year: with from 2024-01-01, to may be at most 2024-12-31"},
		{maxSummaryYears, "2026-12-31", "this endpoint's window must be shorter than 3 years: with from 2024-01-01, to may be at most 2026-12-31"},
	}
	for _, tc := range cases {
		last, _ := time.Parse("2006-01-02", tc.lastOK)
		next := last.AddDate(0, 0, 1).Format("2006-01-02")
		for to, wantErr := range map[string]bool{tc.lastOK: false, next: true} {
			rec := httptest.NewRecorder()
			c, _ := gin.CreateTestContext(rec)
			c.Request = httptest.NewRequest("GET", "/v1/metrics/campaigns?from=2024-01-01&to="+to, nil)
			_, errs := windowErrors(c, tc.years)
			if !wantErr {
				if len(errs) != 0 {
					t.Errorf("%d years to %s: %+v", tc.years, to, errs)
				}
				continue
			}
			if len(errs) != 1 || errs[0].Field != "to" || errs[0].Message != tc.detail {
				t.Errorf("%d years to %s: %+v", tc.years, to, errs)
			}
		}
	}
	if maxCampaignsYears != 1 || maxOrdersYears != 1 || maxSummaryYears != 3 || maxTimeseriesYears != 3 || maxChannelsYears != 3 {
		t.Error("the README's table of windows no longer matches")
	}
}
