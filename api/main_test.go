package api_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/omnitrackiq/omnitrackiq/api"
	"github.com/omnitrackiq/omnitrackiq/internal/apikey"
	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	"github.com/omnitrackiq/omnitrackiq/internal/secretbox"
	"github.com/omnitrackiq/omnitrackiq/internal/store"
	"github.com/omnitrackiq/omnitrackiq/internal/syncsvc"
	"github.com/omnitrackiq/omnitrackiq/internal/testdb"
	"github.com/omnitrackiq/omnitrackiq/workflows"
)

func TestMain(m *testing.M) {
	// Keeps gin from printing its debug banner and route table in test output.
	gin.SetMode(gin.TestMode)
	os.Exit(m.Run())
}

// Tokens the fake reader understands. Each test checks that none of them ever appears in
// a response body or a log line.
const (
	goodToken        = "EAAGoodTokenSecret123"
	expiredToken     = "EAAExpiredTokenSecret"
	badRequestToken  = "EAABadRequestSecret"
	rateLimitedToken = "EAARateLimitedSecret"
	transientToken   = "EAATransientSecret"
	brokenToken      = "EAABrokenReaderSecret"
)

var secrets = []string{goodToken, expiredToken, badRequestToken, rateLimitedToken, transientToken, brokenToken}

// fakeReader answers AccountInfo by token.
type fakeReader struct{}

func (fakeReader) AccountInfo(_ context.Context, acct channels.Account) (channels.AccountInfo, error) {
	switch acct.Token {
	case expiredToken:
		// A provider that echoes the token must not leak it through the problem detail.
		return channels.AccountInfo{}, &channels.Error{Channel: channels.Meta, Kind: channels.KindAuth, HTTPStatus: 401, Code: 190,
			Message: "Error validating access token " + acct.Token + ": Session has expired"}
	case badRequestToken:
		return channels.AccountInfo{}, &channels.Error{Channel: channels.Meta, Kind: channels.KindBadRequest, HTTPStatus: 400, Code: 100,
			Message: "Unsupported get request. Object with ID 'act_" + acct.ID + "' does not exist"}
	case rateLimitedToken:
		return channels.AccountInfo{}, &channels.Error{Channel: channels.Meta, Kind: channels.KindRateLimited, HTTPStatus: 400, Code: 17,
			Message: "User request limit reached", RetryAfter: 90 * time.Second}
	case transientToken:
		return channels.AccountInfo{}, &channels.Error{Channel: channels.Meta, Kind: channels.KindTransient, HTTPStatus: 503}
	case brokenToken:
		return channels.AccountInfo{}, errors.New("dial tcp: connection refused")
	}
	return channels.AccountInfo{ID: acct.ID, Name: "Acme Ads " + acct.ID, Currency: "EUR", Timezone: "Europe/Paris"}, nil
}

func (fakeReader) ReadPage(context.Context, channels.Account, channels.ReadRequest, string) (channels.Page, error) {
	return channels.Page{}, errors.New("not used by the API")
}

// fakeSyncs keeps workflows and schedules in memory. calls records every call that
// would change Temporal state, so tests can check that rejected requests made none.
type fakeSyncs struct {
	mu        sync.Mutex
	owner     map[string]string // workflow id -> workspace id of running workflows
	schedules map[string]syncsvc.Schedule
	calls     []string
	ensureErr error
	syncErr   error
	// backfillErr, when set, is what StartBackfill answers.
	backfillErr error
	panicGet    bool
}

func newFakeSyncs() *fakeSyncs {
	return &fakeSyncs{owner: map[string]string{}, schedules: map[string]syncsvc.Schedule{}}
}

func (f *fakeSyncs) record(format string, args ...any) {
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
}

func (f *fakeSyncs) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

func (f *fakeSyncs) start(wf, workspaceID string) (syncsvc.Handle, bool) {
	h := syncsvc.Handle{WorkflowID: wf, RunID: "run-" + wf}
	if _, ok := f.owner[wf]; ok {
		return h, false
	}
	f.owner[wf] = workspaceID
	return h, true
}

func (f *fakeSyncs) TriggerSync(_ context.Context, conn store.Connection) (syncsvc.Handle, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("TriggerSync %s", conn.ID)
	if f.syncErr != nil {
		return syncsvc.Handle{}, false, f.syncErr
	}
	h, started := f.start(workflows.SyncWorkflowID(conn.ID), conn.WorkspaceID)
	return h, started, nil
}

func (f *fakeSyncs) GetSync(_ context.Context, workspaceID, workflowID string) (syncsvc.SyncStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.panicGet {
		panic("fake GetSync panic")
	}
	if f.syncErr != nil {
		return syncsvc.SyncStatus{}, f.syncErr
	}
	if f.owner[workflowID] != workspaceID {
		return syncsvc.SyncStatus{}, syncsvc.ErrNotFound
	}
	return syncsvc.SyncStatus{WorkflowID: workflowID, RunID: "run-" + workflowID, WorkflowType: "ChannelSync",
		Status: "Running", StartedAt: time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC), Runs: []syncsvc.SyncRun{}}, nil
}

func (f *fakeSyncs) StartBackfill(_ context.Context, conn store.Connection, from, to string) (syncsvc.Handle, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("StartBackfill %s %s %s", conn.ID, from, to)
	if f.backfillErr != nil {
		return syncsvc.Handle{}, false, f.backfillErr
	}
	h, started := f.start(workflows.BackfillWorkflowID(conn.ID, from, to), conn.WorkspaceID)
	return h, started, nil
}

func (f *fakeSyncs) EnsureSchedule(_ context.Context, conn store.Connection) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("EnsureSchedule %s", conn.ID)
	if f.ensureErr != nil {
		return f.ensureErr
	}
	if _, ok := f.schedules[conn.ID]; !ok {
		f.schedules[conn.ID] = syncsvc.Schedule{ID: workflows.ScheduleID(conn.ID), Cron: syncsvc.DefaultCron,
			Timezone: conn.Timezone, NextRuns: []time.Time{}, Recent: []syncsvc.Handle{}}
	}
	return nil
}

func (f *fakeSyncs) GetSchedule(_ context.Context, conn store.Connection) (syncsvc.Schedule, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	sch, ok := f.schedules[conn.ID]
	if !ok {
		return syncsvc.Schedule{}, syncsvc.ErrNotFound
	}
	return sch, nil
}

func (f *fakeSyncs) UpdateSchedule(_ context.Context, conn store.Connection, u syncsvc.ScheduleUpdate) (syncsvc.Schedule, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("UpdateSchedule %s", conn.ID)
	sch, ok := f.schedules[conn.ID]
	if !ok {
		return syncsvc.Schedule{}, syncsvc.ErrNotFound
	}
	// Stands in for Temporal's cron parser, which knows minutes stop at 59.
	if u.Cron != nil && strings.HasPrefix(*u.Cron, "61 ") {
		return syncsvc.Schedule{}, &syncsvc.ValidationError{Msg: "invalid cron: minute 61 out of range"}
	}
	if u.Cron != nil {
		sch.Cron = *u.Cron
	}
	if u.Timezone != nil {
		sch.Timezone = *u.Timezone
	}
	if u.Paused != nil {
		sch.Paused = *u.Paused
	}
	f.schedules[conn.ID] = sch
	return sch, nil
}

func (f *fakeSyncs) TriggerSchedule(_ context.Context, conn store.Connection) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("TriggerSchedule %s", conn.ID)
	if _, ok := f.schedules[conn.ID]; !ok {
		return syncsvc.ErrNotFound
	}
	return nil
}

func (f *fakeSyncs) StartWorkspaceSync(_ context.Context, workspaceID string) (syncsvc.Handle, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("StartWorkspaceSync %s", workspaceID)
	return syncsvc.Handle{WorkflowID: "workspace-sync-" + workspaceID, RunID: "run-1"}, true, nil
}

func (f *fakeSyncs) DeleteSchedule(_ context.Context, conn store.Connection) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("DeleteSchedule %s", conn.ID)
	delete(f.schedules, conn.ID)
	return nil
}

func (f *fakeSyncs) CancelRuns(_ context.Context, conn store.Connection, workflowIDs []string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("CancelRuns %s %v", conn.ID, workflowIDs)
	for _, id := range append([]string{workflows.SyncWorkflowID(conn.ID)}, workflowIDs...) {
		delete(f.owner, id)
	}
	return nil
}

// env is one API on a fresh database with two workspaces and a key for each.
type env struct {
	t     *testing.T
	st    *store.Store
	box   *secretbox.Box
	syncs *fakeSyncs
	ready error
	h     http.Handler
	logs  *syncBuffer
	w1    store.Workspace
	w2    store.Workspace
	key1  string
	key2  string
}

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	st, _ := testdb.New(t)
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	box, err := secretbox.New(key)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, st: st, box: box, syncs: newFakeSyncs(), logs: &syncBuffer{}}
	e.w1, err = st.CreateWorkspace(ctx, "One", "USD", "America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	e.w2, err = st.CreateWorkspace(ctx, "Two", "USD", "UTC")
	if err != nil {
		t.Fatal(err)
	}
	if e.key1, _, err = apikey.Issue(ctx, st, e.w1.ID, "one"); err != nil {
		t.Fatal(err)
	}
	if e.key2, _, err = apikey.Issue(ctx, st, e.w2.ID, "two"); err != nil {
		t.Fatal(err)
	}
	e.h = e.router(st)
	t.Cleanup(e.checkNoSecretsLogged)
	return e
}

func (e *env) router(st *store.Store) http.Handler {
	return api.NewRouter(api.Deps{
		Store:      st,
		Syncs:      e.syncs,
		Connectors: channels.Registry{Ads: map[channels.Channel]channels.AdReader{channels.Meta: fakeReader{}}},
		Box:        e.box,
		Ready:      func(context.Context) error { return e.ready },
		Logger:     slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
}

func (e *env) checkNoSecretsLogged() {
	logs := e.logs.String()
	for _, s := range append([]string{e.key1, e.key2}, secrets...) {
		if strings.Contains(logs, s) {
			e.t.Errorf("a secret (%.8s...) appears in the log", s)
		}
	}
}

// do sends a request with key as bearer token ("" for none) and checks that the response
// never carries a provider token.
func (e *env) do(method, path, key, body string) *httptest.ResponseRecorder {
	e.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, r)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	for _, s := range secrets {
		if strings.Contains(rec.Body.String(), s) {
			e.t.Fatalf("%s %s: response body contains a provider token: %s", method, path, rec.Body)
		}
	}
	return rec
}

// decode decodes a JSON response of the given status into v.
func decode(t *testing.T, rec *httptest.ResponseRecorder, status int, v any) {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("status %d, want %d: %s", rec.Code, status, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q, want application/json", ct)
	}
	dec := json.NewDecoder(rec.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("decode %T: %v", v, err)
	}
}

// problem checks that rec is an RFC 7807 problem of the given status and returns it.
func problem(t *testing.T, rec *httptest.ResponseRecorder, status int) api.Problem {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("status %d, want %d: %s", rec.Code, status, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type %q, want application/problem+json (body %s)", ct, rec.Body)
	}
	var p api.Problem
	dec := json.NewDecoder(bytes.NewReader(rec.Body.Bytes()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("decode problem %s: %v", rec.Body, err)
	}
	if p.Status != status || p.Type == "" || p.Title == "" || p.Detail == "" {
		t.Fatalf("incomplete problem: %s", rec.Body)
	}
	if p.Type == "/problems/validation-error" && len(p.Errors) == 0 {
		t.Fatalf("validation problem without errors: %s", rec.Body)
	}
	return p
}

// rowCounts counts every table's rows, to prove a rejected request wrote nothing.
func (e *env) rowCounts() map[string]int {
	e.t.Helper()
	out := map[string]int{}
	for _, table := range []string{"workspaces", "api_keys", "connections", "ad_metrics_daily", "sync_runs"} {
		var n int
		if err := e.st.Pool.QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
			e.t.Fatal(err)
		}
		out[table] = n
	}
	return out
}

// writesNothing runs fn and fails if it changed any row count or made a Temporal call.
func (e *env) writesNothing(t *testing.T, fn func()) {
	t.Helper()
	before, calls := e.rowCounts(), e.syncs.callCount()
	fn()
	after := e.rowCounts()
	for table, n := range before {
		if after[table] != n {
			t.Errorf("%s: %d rows before, %d after a rejected request", table, n, after[table])
		}
	}
	if got := e.syncs.callCount(); got != calls {
		t.Errorf("a rejected request made %d sync service calls: %v", got-calls, e.syncs.calls[calls:])
	}
}

// connect creates a meta connection in the workspace of key and returns it.
func (e *env) connect(key, account string) api.Connection {
	e.t.Helper()
	rec := e.do("POST", "/v1/connections", key,
		fmt.Sprintf(`{"channel":"meta","account_id":%q,"access_token":%q}`, account, goodToken))
	var c api.Connection
	decode(e.t, rec, http.StatusCreated, &c)
	return c
}
