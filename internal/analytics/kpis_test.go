package analytics_test

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/analytics"
)

func TestRatio(t *testing.T) {
	cases := []struct {
		num, numScale, den, denScale int64
		want                         string // "" for nil
	}{
		{1, 1, 3, 1, "0.3333"},
		{2, 1, 3, 1, "0.6667"},
		{1, 1, 0, 1, ""},
		{0, 1, 5, 1, "0"},
		{10, 1, 4, 1, "2.5"},
		{1, 1, 20000, 1, "0.0001"},   // exactly 0.00005 rounds half away from zero
		{-1, 1, 20000, 1, "-0.0001"}, // and so does its negative
		{-1, 1, 30000, 1, "0"},       // never "-0"
		{12_500_000, 1_000_000, 3, 1, "4.1667"},
		{9_223_372_036_854_775_807, 1, 1, 1, "9223372036854775807"},
	}
	for _, tc := range cases {
		got := analytics.Ratio(tc.num, tc.numScale, tc.den, tc.denScale)
		switch {
		case tc.want == "" && got != nil:
			t.Errorf("Ratio(%d/%d, %d/%d) = %s, want nil", tc.num, tc.numScale, tc.den, tc.denScale, *got)
		case tc.want != "" && (got == nil || string(*got) != tc.want):
			t.Errorf("Ratio(%d/%d, %d/%d) = %v, want %s", tc.num, tc.numScale, tc.den, tc.denScale, got, tc.want)
		}
	}
}

func TestPerUnit(t *testing.T) {
	cases := []struct {
		num, den int64
		want     int64
		null     bool
	}{
		{10_000_000, 4, 2_500_000, false},
		{10, 3, 3, false},
		{11, 2, 6, false},   // 5.5 -> 6
		{-11, 2, -6, false}, // -5.5 -> -6
		{11, -2, -6, false},
		{10, 4, 3, false}, // 2.5 -> 3
		{9, 4, 2, false},  // 2.25 -> 2
		{1, 0, 0, true},
		{0, 7, 0, false},
		{9_223_372_036_854_775_807, 2, 4_611_686_018_427_387_904, false},
	}
	for _, tc := range cases {
		s, m := analytics.PerUnit(tc.num, tc.den)
		if tc.null {
			if s != nil || m != nil {
				t.Errorf("PerUnit(%d, %d) = %v, %v, want nil", tc.num, tc.den, s, m)
			}
			continue
		}
		if m == nil || *m != tc.want || s == nil {
			t.Errorf("PerUnit(%d, %d) = %v, want %d", tc.num, tc.den, m, tc.want)
		}
	}
	if s, _ := analytics.PerUnit(10_000_000, 3); *s != "3.333333" {
		t.Errorf("PerUnit string = %s", *s)
	}
}

func TestKPIs(t *testing.T) {
	tot := analytics.Totals{
		AdTotals: analytics.AdTotals{SpendMicros: 50_000_000, Impressions: 10_000, Clicks: 200,
			ConversionsMicros: 2_500_000, ConversionValueMicros: 120_000_000},
		RevenueMicros: 150_000_000, Orders: 3, NewCustomers: 2, Sessions: 400,
	}
	k := tot.KPIs()
	got, err := json.Marshal(k)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"revenue":"150.00","revenue_micros":150000000,"orders":3,"aov":"50.00","aov_micros":50000000,` +
		`"spend":"50.00","spend_micros":50000000,"blended_roas":3,"platform_roas":2.4,"new_customers":2,` +
		`"new_customer_cac":"25.00","new_customer_cac_micros":25000000,"impressions":10000,"clicks":200,"ctr":0.02,` +
		`"cpc":"0.25","cpc_micros":250000,"conversions":"2.5","conversion_value":"120.00",` +
		`"conversion_value_micros":120000000,"sessions":400,"conversion_rate":0.0075}`
	if string(got) != want {
		t.Errorf("KPIs\n got %s\nwant %s", got, want)
	}

	// Zero denominators give null, never 0 or an error.
	got, _ = json.Marshal(analytics.Totals{}.KPIs())
	want = `{"revenue":"0.00","revenue_micros":0,"orders":0,"aov":null,"aov_micros":null,"spend":"0.00",` +
		`"spend_micros":0,"blended_roas":null,"platform_roas":null,"new_customers":0,"new_customer_cac":null,` +
		`"new_customer_cac_micros":null,"impressions":0,"clicks":0,"ctr":null,"cpc":null,"cpc_micros":null,` +
		`"conversions":"0","conversion_value":"0.00","conversion_value_micros":0,"sessions":0,"conversion_rate":null}`
	if string(got) != want {
		t.Errorf("empty KPIs\n got %s\nwant %s", got, want)
	}
}

// TestMetricNames checks that the time series metrics are exactly the summary's fields and
// that Select returns what the summary shows.
func TestMetricNames(t *testing.T) {
	k := analytics.Totals{RevenueMicros: 7, Orders: 2, AdTotals: analytics.AdTotals{SpendMicros: 3}}.KPIs()
	b, _ := json.Marshal(k)
	var all map[string]json.RawMessage
	if err := json.Unmarshal(b, &all); err != nil {
		t.Fatal(err)
	}
	names := analytics.MetricNames()
	if len(names) != len(all) {
		t.Fatalf("MetricNames %v, JSON keys %d", names, len(all))
	}
	for _, n := range names {
		if _, ok := all[n]; !ok {
			t.Errorf("metric %q is not a KPIs JSON field", n)
		}
	}
	if names[0] != "revenue" || !slices.Contains(names, "blended_roas") {
		t.Errorf("MetricNames = %v", names)
	}
	sel, err := k.Select([]string{"revenue", "blended_roas", "aov"})
	if err != nil || len(sel) != 3 || string(sel["revenue"]) != `"0.000007"` || string(sel["blended_roas"]) != "2.3333" ||
		string(sel["aov"]) != `"0.000004"` {
		t.Errorf("Select = %v, %v", sel, err)
	}
	if _, err := k.Select([]string{"profit"}); err == nil {
		t.Error("Select of an unknown metric succeeded")
	}
}

func TestGranularityBounds(t *testing.T) {
	d := func(s string) time.Time {
		v, err := time.Parse(time.DateOnly, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	cases := []struct {
		g               analytics.Granularity
		day, start, end string
	}{
		{analytics.Day, "2024-03-05", "2024-03-05", "2024-03-05"},
		{analytics.Week, "2024-03-04", "2024-03-04", "2024-03-10"}, // a Monday is its own week start
		{analytics.Week, "2024-03-10", "2024-03-04", "2024-03-10"}, // Sunday ends the week
		{analytics.Week, "2024-01-01", "2024-01-01", "2024-01-07"},
		{analytics.Week, "2023-01-01", "2022-12-26", "2023-01-01"}, // across a year
		{analytics.Month, "2024-02-29", "2024-02-01", "2024-02-29"},
		{analytics.Month, "2023-12-31", "2023-12-01", "2023-12-31"},
	}
	for _, tc := range cases {
		start := tc.g.Start(d(tc.day))
		if got := start.Format(time.DateOnly); got != tc.start {
			t.Errorf("%s Start(%s) = %s, want %s", tc.g, tc.day, got, tc.start)
		}
		if got := tc.g.End(start).Format(time.DateOnly); got != tc.end {
			t.Errorf("%s End(%s) = %s, want %s", tc.g, tc.start, got, tc.end)
		}
	}
	for _, s := range []string{"", "Day", "year", "hour"} {
		if _, err := analytics.ParseGranularity(s); err == nil {
			t.Errorf("ParseGranularity(%q) succeeded", s)
		}
	}
}

func TestPreviousWindow(t *testing.T) {
	cases := []struct{ from, to, prevFrom, prevTo string }{
		{"2024-03-01", "2024-03-31", "2024-01-30", "2024-02-29"},
		{"2024-03-01", "2024-03-01", "2024-02-29", "2024-02-29"},
		{"2024-01-01", "2024-12-31", "2022-12-31", "2023-12-31"},
	}
	for _, tc := range cases {
		w := window(t, tc.from, tc.to)
		p := analytics.PreviousWindow(w)
		if got := p.String(); got != tc.prevFrom+".."+tc.prevTo {
			t.Errorf("PreviousWindow(%s) = %s, want %s..%s", w, got, tc.prevFrom, tc.prevTo)
		}
		if p.Days() != w.Days() {
			t.Errorf("PreviousWindow(%s) has %d days", w, p.Days())
		}
	}
}
