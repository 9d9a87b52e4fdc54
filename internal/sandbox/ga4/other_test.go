package ga4_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	ga4conn "github.com/omnitrackiq/omnitrackiq/internal/channels/ga4"
	sandbox "github.com/omnitrackiq/omnitrackiq/internal/sandbox/ga4"
	"github.com/omnitrackiq/omnitrackiq/internal/sandbox/kit/kittest"
)

// TestFoldOtherKeepsTheDaysTotals: POST /_sandbox/fold_other turns a day's rare rows into
// one (other) row, as GA4 does once its cardinality limits are reached; the day's totals
// do not change, other days do not change, and the report says it lost detail.
func TestFoldOtherKeepsTheDaysTotals(t *testing.T) {
	e := newEnv(t, sandbox.Config{}, ga4conn.Options{PageSize: 40})
	const day, other = "2025-03-12", "2025-03-11"
	req := win(t, other, day)
	before, _, err := readAll(t, e.c, oauth, req)
	if err != nil {
		t.Fatal(err)
	}
	kittest.Admin(t, e.sb, http.MethodPost, "/_sandbox/fold_other", `{"date":"`+day+`","keep":4}`)
	after, _, err := readAll(t, e.c, oauth, req)
	if err != nil {
		t.Fatal(err)
	}
	byDay := func(rows []channels.SessionRow) map[string][]channels.SessionRow {
		m := map[string][]channels.SessionRow{}
		for _, r := range rows {
			d := r.Date.Format(channels.DateLayout)
			m[d] = append(m[d], r)
		}
		return m
	}
	b, a := byDay(before), byDay(after)
	if len(b[day]) < 10 {
		t.Fatalf("only %d rows on %s before folding", len(b[day]), day)
	}
	// Four rows kept plus one (other) row.
	if len(a[day]) != 5 {
		t.Errorf("%s has %d rows after folding, want 5", day, len(a[day]))
	}
	var others int
	for _, r := range a[day] {
		if r.Source == "(other)" {
			others++
			if r.Medium != "(other)" || r.Campaign != "(other)" || r.Sessions == 0 {
				t.Errorf("other row %+v", r)
			}
		}
	}
	if others != 1 {
		t.Errorf("%d (other) rows", others)
	}
	if got, want := sum(a[day]), sum(b[day]); got.Sessions != want.Sessions ||
		got.ConversionsMicros != want.ConversionsMicros || got.RevenueMicros != want.RevenueMicros {
		t.Errorf("%s totals after folding %+v, before %+v", day, got, want)
	}
	if got, want := sum(a[other]), sum(b[other]); got != want {
		t.Errorf("unfolded day %s changed: %+v -> %+v", other, want, got)
	}
	tot, err := e.sb.Totals(sandbox.DemoPropertyID, day, day)
	if err != nil || tot.Rows != 5 || tot.Sessions != sum(b[day]).Sessions {
		t.Errorf("Totals of the folded day = %+v, %v", tot, err)
	}
	// The wire form flags the loss, as GA4's ResponseMetaData does.
	raw := rawReport(t, e, `{"dateRanges":[{"startDate":"`+day+`","endDate":"`+day+`"}],"dimensions":[{"name":"sessionSource"}],"metrics":[{"name":"sessions"}]}`)
	if md, _ := raw["metadata"].(map[string]any); md["dataLossFromOtherRow"] != true {
		t.Errorf("metadata = %v", raw["metadata"])
	}
	// DELETE undoes every fold.
	kittest.Admin(t, e.sb, http.MethodDelete, "/_sandbox/fold_other", "")
	again, _, err := readAll(t, e.c, oauth, req)
	if err != nil || len(again) != len(before) {
		t.Errorf("after DELETE: %d rows, want %d, %v", len(again), len(before), err)
	}
}

func TestFoldOtherRejectsBadInput(t *testing.T) {
	sb := sandbox.New(sandbox.Config{Now: (&clock{now: testNow}).Now})
	for _, body := range []string{
		`{"date":"2025-03-12","keep":-1}`,
		`{"date":"2020-01-01"}`,
		`{"date":"12/03/2025"}`,
		`{"property_id":"999","days_ago":1}`,
		`{}`,
		`{"date":"2025-03-12","days_ago":1}`,
		`{"date":"2025-03-12","kep":3}`,
	} {
		w := httptestRecorder(sb, http.MethodPost, "/_sandbox/fold_other", body)
		if w.Code != http.StatusBadRequest {
			t.Errorf("%s: %d %s", body, w.Code, w.Body)
		}
	}
	body := kittest.Admin(t, sb, http.MethodPost, "/_sandbox/fold_other", `{"days_ago":2}`)
	var got map[string]any
	if err := json.Unmarshal([]byte(body), &got); err != nil || got["date"] != "2025-03-12" || got["keep"] != float64(5) {
		t.Errorf("answer %s", body)
	}
}

// TestFloatRevenue: the float_revenue fault renders totalRevenue as GA4 renders a float64
// sum, with 17 significant digits ("2046.3999999999999"); the connector stores the value
// rounded to the micro, which is the generated one.
func TestFloatRevenue(t *testing.T) {
	e := newEnv(t, sandbox.Config{}, ga4conn.Options{})
	kittest.Admin(t, e.sb, http.MethodPost, "/_sandbox/faults", `{"float_revenue":true}`)
	raw := rawReport(t, e, `{"dateRanges":[{"startDate":"2025-03-12","endDate":"2025-03-12"}],"dimensions":[{"name":"date"}],"metrics":[{"name":"totalRevenue"}]}`)
	rows, _ := raw["rows"].([]any)
	if len(rows) != 1 {
		t.Fatalf("rows %v", raw["rows"])
	}
	v := rows[0].(map[string]any)["metricValues"].([]any)[0].(map[string]any)["value"].(string)
	whole, frac, _ := strings.Cut(v, ".")
	if len(whole)+len(frac) != 17 || !strings.HasSuffix(frac, "99999") {
		t.Errorf("totalRevenue %q is not a 17-digit float rendering", v)
	}
	got, _, err := readAll(t, e.c, oauth, win(t, "2025-03-10", today))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := e.sb.Totals(sandbox.DemoPropertyID, "2025-03-10", today)
	if s := sum(got); s.RevenueMicros != want.RevenueMicros || s.Rows != want.Rows || want.RevenueMicros == 0 {
		t.Errorf("read %+v; sandbox %+v", s, want)
	}
}

func httptestRecorder(h http.Handler, method, path, body string) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(method, path, strings.NewReader(body)))
	return w
}
