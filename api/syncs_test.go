package api_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/omnitrackiq/omnitrackiq/api"
	"github.com/omnitrackiq/omnitrackiq/internal/store"
	"github.com/omnitrackiq/omnitrackiq/internal/syncsvc"
)

func TestTriggerSync(t *testing.T) {
	e := newEnv(t)
	c := e.connect(e.key1, "123")

	var h api.SyncHandle
	decode(t, e.do("POST", "/v1/connections/"+c.ID+"/syncs", e.key1, ""), http.StatusAccepted, &h)
	if h.WorkflowID != "sync-"+c.ID || h.RunID == "" || h.StatusURL != "/v1/syncs/"+h.WorkflowID {
		t.Fatalf("handle %+v", h)
	}
	var again api.SyncHandle
	decode(t, e.do("POST", "/v1/connections/"+c.ID+"/syncs", e.key1, ""), http.StatusOK, &again)
	if again != h {
		t.Fatalf("second trigger %+v, want the running %+v", again, h)
	}

	var st syncsvc.SyncStatus
	decode(t, e.do("GET", h.StatusURL, e.key1, ""), http.StatusOK, &st)
	if st.WorkflowID != h.WorkflowID || st.Status != "Running" {
		t.Fatalf("status %+v", st)
	}
	problem(t, e.do("GET", h.StatusURL, e.key2, ""), http.StatusNotFound)
	problem(t, e.do("GET", "/v1/syncs/sync-unknown", e.key1, ""), http.StatusNotFound)

	e.writesNothing(t, func() {
		problem(t, e.do("POST", "/v1/connections/"+c.ID+"/syncs", e.key2, ""), http.StatusNotFound)
		problem(t, e.do("POST", "/v1/connections/nope/syncs", e.key1, ""), http.StatusNotFound)
	})

	// Temporal failing is a 503, not a 500.
	e.syncs.syncErr = errors.New("rpc error: unavailable")
	r := e.do("POST", "/v1/connections/"+c.ID+"/syncs", e.key1, "")
	problem(t, r, http.StatusServiceUnavailable)
	problem(t, e.do("GET", h.StatusURL, e.key1, ""), http.StatusServiceUnavailable)
	e.syncs.syncErr = nil

	// A connection whose token was revoked cannot sync until it is reconnected.
	if err := e.st.SetConnectionStatus(context.Background(), e.w1.ID, c.ID, store.ConnectionNeedsReauth, "token expired"); err != nil {
		t.Fatal(err)
	}
	e.writesNothing(t, func() {
		p := problem(t, e.do("POST", "/v1/connections/"+c.ID+"/syncs", e.key1, ""), http.StatusConflict)
		if !strings.Contains(p.Detail, "reconnect") {
			t.Fatalf("detail %q does not say to reconnect", p.Detail)
		}
		problem(t, e.do("POST", "/v1/connections/"+c.ID+"/schedule/trigger", e.key1, ""), http.StatusConflict)
		recent := time.Now().AddDate(0, 0, -30).Format("2006-01-02")
		problem(t, e.do("POST", "/v1/connections/"+c.ID+"/backfills", e.key1, `{"from":"`+recent+`","to":"`+recent+`"}`), http.StatusConflict)
	})
}

func TestBackfill(t *testing.T) {
	e := newEnv(t)
	c := e.connect(e.key1, "123")
	path := "/v1/connections/" + c.ID + "/backfills"
	today := time.Now().UTC().Truncate(24 * time.Hour)
	day := func(d time.Time) string { return d.Format("2006-01-02") }
	window := func(from, to string) string { return fmt.Sprintf(`{"from":%q,"to":%q}`, from, to) }

	cases := []struct {
		name   string
		key    string
		path   string
		body   string
		status int
		field  string
	}{
		{"missing from", e.key1, path, `{"to":"2024-01-01"}`, 422, "from"},
		{"missing to", e.key1, path, `{"from":"2024-01-01"}`, 422, "to"},
		{"bad month", e.key1, path, window("2024-13-01", "2024-12-31"), 422, "from"},
		{"bad day", e.key1, path, window("2024-01-01", "2024-02-30"), 422, "to"},
		{"slashes", e.key1, path, window("01/02/2024", "2024-12-31"), 422, "from"},
		{"timestamp", e.key1, path, window("2024-01-01T00:00:00Z", "2024-12-31"), 422, "from"},
		{"from after to", e.key1, path, window("2024-02-01", "2024-01-31"), 422, "from"},
		{"to after tomorrow", e.key1, path, window(day(today), day(today.AddDate(0, 0, 2))), 422, "to"},
		{"1124 days", e.key1, path, window(day(today.AddDate(0, 0, -1123)), day(today)), 422, "from"},
		{"before retention", e.key1, path, window(day(today.AddDate(0, 0, -1124)), day(today.AddDate(0, 0, -1100))), 422, "from"},
		{"year 0000", e.key1, path, window("0000-01-01", "0000-12-31"), 422, "from"},
		{"year 0000 to today", e.key1, path, window("0000-01-01", day(today)), 422, "from"},
		{"1969", e.key1, path, window("1969-12-31", "1970-01-01"), 422, "from"},
		{"year 9999", e.key1, path, window("9999-01-01", "9999-12-31"), 422, "to"},
		{"unknown field", e.key1, path, `{"from":"2024-01-01","to":"2024-01-02","windows":3}`, 400, ""},
		{"malformed", e.key1, path, `{"from":`, 400, ""},
		{"no body", e.key1, path, "", 400, ""},
		{"number date", e.key1, path, `{"from":20240101,"to":"2024-01-02"}`, 400, ""},
		{"other workspace", e.key2, path, window(day(today.AddDate(0, 0, -10)), day(today.AddDate(0, 0, -9))), 404, ""},
		{"not a uuid", e.key1, "/v1/connections/123/backfills", window(day(today.AddDate(0, 0, -10)), day(today.AddDate(0, 0, -9))), 404, ""},
		{"rejected by the sync service", e.key1, path, window(day(today.AddDate(0, 0, -30)), day(today.AddDate(0, 0, -29))), 422, "from"},
		{"past the workspace's backfill caps", e.key1, path, window(day(today.AddDate(0, 0, -20)), day(today.AddDate(0, 0, -19))), 429, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			switch tc.name {
			case "rejected by the sync service":
				e.syncs.backfillErr = &syncsvc.ValidationError{Msg: "window rejected by the sync service"}
				defer func() { e.syncs.backfillErr = nil }()
			case "past the workspace's backfill caps":
				e.syncs.backfillErr = capsReached()
				defer func() { e.syncs.backfillErr = nil }()
			}
			calls := e.syncs.callCount()
			rowsBefore := e.rowCounts()
			p := problem(t, e.do("POST", tc.path, tc.key, tc.body), tc.status)
			if tc.field != "" && (len(p.Errors) == 0 || p.Errors[0].Field != tc.field) {
				t.Errorf("errors %+v, want one on %q", p.Errors, tc.field)
			}
			if len(e.syncs.owner) != 0 {
				t.Errorf("a rejected backfill started: %v", e.syncs.owner)
			}
			// Only the cases the sync service itself rejects may reach it.
			if tc.status != 422 && tc.status != 429 && e.syncs.callCount() != calls {
				t.Errorf("rejected request reached the sync service")
			}
			if after := e.rowCounts(); fmt.Sprint(after) != fmt.Sprint(rowsBefore) {
				t.Errorf("rows %v -> %v", rowsBefore, after)
			}
		})
	}

	// Past the caps: 429, with Retry-After and the running backfills named.
	e.syncs.backfillErr = capsReached()
	rec := e.do("POST", path, e.key1, window(day(today.AddDate(0, 0, -20)), day(today.AddDate(0, 0, -19))))
	e.syncs.backfillErr = nil
	p := problem(t, rec, http.StatusTooManyRequests)
	if rec.Header().Get("Retry-After") == "" || p.Type != "/problems/backfill-limit" || p.WorkflowID != "backfill-a" ||
		!strings.Contains(p.Detail, "backfill-a, backfill-b") {
		t.Fatalf("backfill limit: Retry-After %q, problem %+v", rec.Header().Get("Retry-After"), p)
	}

	// The longest window, ending tomorrow, is accepted; the same one again is the running one.
	from, to := day(today.AddDate(0, 0, -1121)), day(today.AddDate(0, 0, 1))
	var h api.SyncHandle
	decode(t, e.do("POST", path, e.key1, window(from, to)), http.StatusAccepted, &h)
	if h.WorkflowID != "backfill-"+c.ID+"-"+from+"-"+to || h.StatusURL != "/v1/syncs/"+h.WorkflowID {
		t.Fatalf("handle %+v", h)
	}
	var again api.SyncHandle
	decode(t, e.do("POST", path, e.key1, window(from, to)), http.StatusOK, &again)
	if again != h {
		t.Fatalf("repeat %+v, want %+v", again, h)
	}
	decode(t, e.do("POST", path, e.key1, window(day(today.AddDate(0, 0, -400)), day(today.AddDate(0, 0, -400)))), http.StatusAccepted, &h)
}

func TestSchedule(t *testing.T) {
	e := newEnv(t)
	c := e.connect(e.key1, "123")
	path := "/v1/connections/" + c.ID + "/schedule"

	var sch syncsvc.Schedule
	decode(t, e.do("GET", path, e.key1, ""), http.StatusOK, &sch)
	if sch.Cron != syncsvc.DefaultCron || sch.Timezone != "Europe/Paris" || sch.Paused {
		t.Fatalf("schedule %+v", sch)
	}

	cases := []struct {
		name   string
		key    string
		path   string
		body   string
		status int
		field  string
	}{
		{"empty update", e.key1, path, `{}`, 422, ""},
		{"only nulls", e.key1, path, `{"cron":null}`, 422, ""},
		{"three cron fields", e.key1, path, `{"cron":"0 * *"}`, 422, "cron"},
		{"six cron fields", e.key1, path, `{"cron":"0 0 * * * *"}`, 422, "cron"},
		{"empty cron", e.key1, path, `{"cron":""}`, 422, "cron"},
		{"cron with odd characters", e.key1, path, `{"cron":"0 $ * * *"}`, 422, "cron"},
		{"minute 61", e.key1, path, `{"cron":"61 * * * *"}`, 422, "cron"},
		{"every minute", e.key1, path, `{"cron":"* * * * *"}`, 422, "cron"},
		{"every 10 minutes", e.key1, path, `{"cron":"*/10 * * * *"}`, 422, "cron"},
		{"twice within 5 minutes each hour", e.key1, path, `{"cron":"0,5 * * * *"}`, 422, "cron"},
		{"unknown timezone", e.key1, path, `{"timezone":"Mars/Olympus_Mons"}`, 422, "timezone"},
		{"empty timezone", e.key1, path, `{"timezone":""}`, 422, "timezone"},
		{"Local timezone", e.key1, path, `{"timezone":"Local"}`, 422, "timezone"},
		{"good cron bad timezone", e.key1, path, `{"cron":"0 3 * * *","timezone":"Nowhere"}`, 422, "timezone"},
		{"paused as string", e.key1, path, `{"paused":"yes"}`, 400, ""},
		{"unknown field", e.key1, path, `{"interval":"1h"}`, 400, ""},
		{"malformed", e.key1, path, `{"cron":"0 * * * *"`, 400, ""},
		{"other workspace", e.key2, path, `{"paused":true}`, 404, ""},
		{"other workspace get", e.key2, path, "", 404, ""},
		{"other workspace trigger", e.key2, path + "/trigger", "", 404, ""},
		{"not a uuid", e.key1, "/v1/connections/x/schedule", `{"paused":true}`, 404, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			method := "PATCH"
			switch {
			case strings.HasSuffix(tc.path, "/trigger"):
				method = "POST"
			case tc.body == "":
				method = "GET"
			}
			before := e.syncs.schedules[c.ID]
			p := problem(t, e.do(method, tc.path, tc.key, tc.body), tc.status)
			if tc.field != "" && (len(p.Errors) == 0 || p.Errors[0].Field != tc.field) {
				t.Errorf("errors %+v, want one on %q", p.Errors, tc.field)
			}
			if after := e.syncs.schedules[c.ID]; fmt.Sprint(after) != fmt.Sprint(before) {
				t.Errorf("schedule changed by a rejected request: %+v -> %+v", before, after)
			}
		})
	}

	p := problem(t, e.do("PATCH", path, e.key1, `{"cron":"* * * * *"}`), http.StatusUnprocessableEntity)
	if !strings.Contains(p.Errors[0].Message, "at most every 15m") {
		t.Fatalf("the refusal does not name the minimum: %+v", p.Errors)
	}
	var updated syncsvc.Schedule
	decode(t, e.do("PATCH", path, e.key1, `{"cron":"*/15 * * * *"}`), http.StatusOK, &updated)
	if updated.Cron != "*/15 * * * *" {
		t.Fatalf("every 15 minutes, the minimum: %+v", updated)
	}
	decode(t, e.do("PATCH", path, e.key1, `{"cron":"5 4 * * MON-FRI","timezone":"Asia/Tokyo","paused":true}`), http.StatusOK, &updated)
	if updated.Cron != "5 4 * * MON-FRI" || updated.Timezone != "Asia/Tokyo" || !updated.Paused {
		t.Fatalf("updated %+v", updated)
	}
	decode(t, e.do("PATCH", path, e.key1, `{"paused":false}`), http.StatusOK, &updated)
	if updated.Cron != "5 4 * * MON-FRI" || updated.Paused {
		t.Fatalf("partial update %+v", updated)
	}

	var trig map[string]string
	decode(t, e.do("POST", path+"/trigger", e.key1, ""), http.StatusAccepted, &trig)

	// A connection without a schedule answers 404, not 500.
	delete(e.syncs.schedules, c.ID)
	problem(t, e.do("GET", path, e.key1, ""), http.StatusNotFound)
}

// capsReached is what the sync service answers a backfill past the workspace's caps.
func capsReached() error {
	return &syncsvc.LimitError{Running: []string{"backfill-a", "backfill-b"},
		Msg: "the workspace runs 2 backfills, the most it may run at once: backfill-a, backfill-b"}
}
