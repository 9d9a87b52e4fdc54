package googleads

import (
	"slices"
	"testing"
	"time"
)

func day(s string) time.Time {
	d, err := time.Parse(dateLayout, s)
	if err != nil {
		panic(err)
	}
	return d
}

func TestParseQuery(t *testing.T) {
	for _, tc := range []struct {
		name, in     string
		fields       []string
		from         string
		since, until string
		filters      int
		order        []orderKey
		limit        int
	}{
		{name: "airbyte report",
			in:     "SELECT campaign.id, campaign.name, segments.date, metrics.cost_micros FROM campaign WHERE segments.date BETWEEN '2024-01-01' AND '2024-01-14' ORDER BY segments.date ASC",
			fields: []string{"campaign.id", "campaign.name", "segments.date", "metrics.cost_micros"}, from: "campaign",
			since: "2024-01-01", until: "2024-01-14", order: []orderKey{{field: "segments.date"}}},
		{name: "lower case keywords and double quotes",
			in:     `select customer.id from customer where segments.date >= "2024-02-01" and segments.date < "2024-02-10" order by customer.id desc limit 5`,
			fields: []string{"customer.id"}, from: "customer", since: "2024-02-01", until: "2024-02-09",
			order: []orderKey{{field: "customer.id", desc: true}}, limit: 5},
		{name: "conditions narrow",
			in:     "SELECT ad_group.id FROM ad_group WHERE segments.date BETWEEN '2024-01-01' AND '2024-01-31' AND segments.date > '2024-01-10' AND segments.date = '2024-01-20' AND campaign.status != 'REMOVED' AND ad_group.id IN (1, 2) AND metrics.impressions > 0",
			fields: []string{"ad_group.id"}, from: "ad_group", since: "2024-01-20", until: "2024-01-20", filters: 3},
		{name: "no where", in: "SELECT campaign.id FROM campaign", fields: []string{"campaign.id"}, from: "campaign"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q, err := parseQuery(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(q.fields, tc.fields) || q.from != tc.from || len(q.filters) != tc.filters ||
				!slices.Equal(q.order, tc.order) || q.limit != tc.limit {
				t.Errorf("parsed %+v", q)
			}
			if tc.since != "" && (!q.since.Equal(day(tc.since)) || !q.until.Equal(day(tc.until))) {
				t.Errorf("range %s..%s; want %s..%s", q.since, q.until, tc.since, tc.until)
			}
		})
	}
}

func TestQueryErrors(t *testing.T) {
	for _, tc := range []struct{ in, code string }{
		{"", "EXPECTED_SELECT"},
		{"campaign.id FROM campaign", "EXPECTED_SELECT"},
		{"SELECT campaign.id", "EXPECTED_FROM"},
		{"SELECT campaign.id FROM", "UNEXPECTED_END_OF_QUERY"},
		{"SELECT campaign.id FROM campaign WHERE segments.date BETWEEN '2024-01-01'", "INVALID_VALUE_WITH_BETWEEN_OPERATOR"},
		{"SELECT campaign.id FROM campaign WHERE segments.date = '01/02/2024'", "INVALID_ARGUMENT_FOR_DATE"},
		{"SELECT campaign.id FROM campaign WHERE segments.date DURING LAST_30_DAYS", "QUERY_ERROR"},
		{"SELECT campaign.id FROM campaign WHERE campaign.name LIKE '%x%'", "BAD_OPERATOR"},
		{"SELECT campaign.id FROM campaign LIMIT 0", "BAD_LIMIT_VALUE"},
		{"SELECT campaign.id FROM campaign PARAMETERS include_drafts=true", "QUERY_ERROR"},
		{"SELECT campaign.id FROM campaign WHERE campaign.name = 'unterminated", "UNEXPECTED_END_OF_QUERY"},
		{"SELECT campaign.id FROM campaign;", "QUERY_ERROR"},
		{"SELECT campaign.idd FROM campaign", "UNRECOGNIZED_FIELD"},
		{"SELECT campaign.id FROM keyword_view", "BAD_RESOURCE_TYPE_IN_FROM_CLAUSE"},
		{"SELECT ad_group.id FROM campaign", "PROHIBITED_RESOURCE_TYPE_IN_SELECT_CLAUSE"},
		{"SELECT campaign.id FROM campaign WHERE ad_group.id = 1", "PROHIBITED_RESOURCE_TYPE_IN_SELECT_CLAUSE"},
		{"SELECT campaign.id, segments.date FROM campaign", "EXPECTED_FILTERS_ON_DATE_RANGE"},
		{"SELECT campaign.id, segments.date FROM campaign WHERE segments.date >= '2024-01-01'", "EXPECTED_FILTERS_ON_DATE_RANGE"},
	} {
		q, err := parseQuery(tc.in)
		if err == nil {
			if verr := q.validate(); verr != nil {
				err = verr
			}
		}
		qe, ok := err.(*queryError)
		if !ok || qe.code != tc.code {
			t.Errorf("%q: err %v; want %s", tc.in, err, tc.code)
		}
	}
}

func TestCamel(t *testing.T) {
	for in, want := range map[string]string{
		"metrics.cost_micros":       "metrics.costMicros",
		"ad_group_ad.ad.id":         "adGroupAd.ad.id",
		"customer.descriptive_name": "customer.descriptiveName",
		"metrics.conversions_value": "metrics.conversionsValue",
		"segments.date":             "segments.date",
	} {
		if got := fieldMask([]string{in}); got != want {
			t.Errorf("%s -> %s; want %s", in, got, want)
		}
	}
}

func TestFormatDouble(t *testing.T) {
	for micros, want := range map[int64]string{4_000_000: "4.0", 250_500_000: "250.5", 0: "0.0", 1_230_000: "1.23", 1: "0.000001"} {
		if got := formatDouble(micros); got != want {
			t.Errorf("formatDouble(%d) = %s; want %s", micros, got, want)
		}
	}
}

func TestRunFiltersOrderAndLimit(t *testing.T) {
	s := New(Config{Now: func() time.Time { return time.Date(2025, 3, 15, 3, 0, 0, 0, time.UTC) }})
	c := s.customers[DemoCustomerID]
	start, today := s.history(c, s.now())
	if today.Format(dateLayout) != "2025-03-14" || start.Format(dateLayout) != "2024-11-15" {
		t.Fatalf("history %s..%s", start, today)
	}
	mustRun := func(text string) []reportRow {
		t.Helper()
		q, err := parseQuery(text)
		if err == nil {
			if verr := q.validate(); verr != nil {
				err = verr
			}
		}
		if err != nil {
			t.Fatal(err)
		}
		return run(c, q, start, today, nil, false)
	}
	camp := c.Campaigns[1].ID
	rows := mustRun("SELECT campaign.id, segments.date, metrics.clicks FROM campaign WHERE segments.date BETWEEN '2025-03-01' AND '2025-03-20' AND campaign.id = " + camp + " ORDER BY metrics.clicks DESC LIMIT 3")
	if len(rows) != 3 || rows[0].camp.ID != camp || rows[0].Clicks < rows[1].Clicks || rows[1].Clicks < rows[2].Clicks {
		t.Fatalf("rows %+v", rows)
	}
	// No date segment: one row per object over the range; the dates beyond today are empty.
	agg := mustRun("SELECT campaign.id, metrics.clicks FROM campaign WHERE segments.date BETWEEN '2025-03-01' AND '2025-03-20'")
	daily := mustRun("SELECT campaign.id, segments.date, metrics.clicks FROM campaign WHERE segments.date BETWEEN '2025-03-01' AND '2025-03-20'")
	if len(agg) != 4 || len(daily) != 4*14 {
		t.Fatalf("%d aggregate rows, %d daily rows", len(agg), len(daily))
	}
	var a, d int64
	for _, r := range agg {
		a += r.Clicks
	}
	for _, r := range daily {
		d += r.Clicks
	}
	if a != d {
		t.Errorf("aggregate clicks %d != daily sum %d", a, d)
	}
	// Without metrics or dates: the objects. Performance Max has no ad_group_ad.
	if ads := mustRun("SELECT ad_group_ad.ad.id FROM ad_group_ad WHERE campaign.id NOT IN (" + camp + ")"); len(ads) != 8 {
		t.Errorf("%d ads", len(ads))
	}
	pmax := mustRun("SELECT campaign.id, segments.date, metrics.cost_micros FROM campaign WHERE segments.date BETWEEN '2025-03-01' AND '2025-03-14' AND campaign.advertising_channel_type = 'PERFORMANCE_MAX'")
	if len(pmax) != 14 || pmax[0].camp.Name != "Performance Max" || pmax[0].CostMicros <= 0 {
		t.Errorf("Performance Max at campaign level: %d rows", len(pmax))
	}
	for _, from := range []string{"ad_group", "ad_group_ad"} {
		if rows := mustRun("SELECT campaign.id, segments.date, metrics.cost_micros FROM " + from + " WHERE segments.date BETWEEN '2025-03-01' AND '2025-03-14' AND campaign.advertising_channel_type = 'PERFORMANCE_MAX'"); len(rows) != 0 {
			t.Errorf("Performance Max FROM %s: %d rows", from, len(rows))
		}
	}
}
