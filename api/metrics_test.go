package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"testing"

	"github.com/omnitrackiq/omnitrackiq/api"
	"github.com/omnitrackiq/omnitrackiq/internal/money"
)

type adRow struct {
	campaign, name, ad, date, currency string
	spend, impressions, clicks         int64
	conversions                        string
	value                              int64
}

// insertAdRows writes metrics rows for a meta connection of the workspace of key.
func (e *env) insertAdRows(key, workspaceID string, rows []adRow) {
	e.t.Helper()
	conn := e.connect(key, fmt.Sprint(rand.IntN(1_000_000_000)))
	for _, r := range rows {
		_, err := e.st.Pool.Exec(context.Background(), `
			INSERT INTO ad_metrics_daily (workspace_id, connection_id, channel, account_id, campaign_id,
				campaign_name, ad_id, date, currency, spend_micros, impressions, clicks, conversions,
				conversion_value_micros)
			VALUES ($1, $2, 'meta', $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::numeric, $13)`,
			workspaceID, conn.ID, conn.AccountID, r.campaign, r.name, r.ad, r.date, r.currency,
			r.spend, r.impressions, r.clicks, r.conversions, r.value)
		if err != nil {
			e.t.Fatalf("insert %+v: %v", r, err)
		}
	}
}

func num(s string) *json.Number {
	n := json.Number(s)
	return &n
}

func TestMetricsSummary(t *testing.T) {
	e := newEnv(t)
	e.insertAdRows(e.key1, e.w1.ID, []adRow{
		{"c1", "Spring", "a1", "2024-03-01", "USD", 10_000_000, 600, 2, "0.5", 20_000_000},
		{"c1", "Spring", "a2", "2024-03-31", "USD", 2_500_000, 400, 1, "2.25", 10_000_000},
		{"c2", "Euro", "a3", "2024-03-15", "EUR", 100_000_000, 0, 0, "0", 0},
		{"c1", "Spring", "a1", "2024-04-01", "USD", 77_000_000, 1, 1, "1", 1}, // after the window
	})
	// Workspace two's rows are in currencies other than its own (USD).
	e.insertAdRows(e.key2, e.w2.ID, []adRow{
		{"x", "X", "a", "2024-03-02", "GBP", 1_000_000, 10, 1, "1", 3_000_000},
		{"y", "Y", "b", "2024-03-02", "EUR", 5_000_000, 10, 0, "0", 0},
	})

	var s api.Summary
	decode(t, e.do("GET", "/v1/metrics/summary?from=2024-03-01&to=2024-03-31", e.key1, ""), http.StatusOK, &s)
	want := api.Summary{
		From: "2024-03-01", To: "2024-03-31",
		Measures: api.Measures{
			Currency: "USD", Spend: "12.50", SpendMicros: 12_500_000, Impressions: 1000, Clicks: 3,
			Conversions: "2.75", ConversionValue: "30.00", ConversionValueMicros: 30_000_000,
			ROAS: num("2.4"), CPC: num("4.1667"), CPA: num("4.5455"), CTR: num("0.003"),
		},
		OtherCurrencies: []api.Measures{{
			Currency: "EUR", Spend: "100.00", SpendMicros: 100_000_000, Conversions: "0", ConversionValue: "0.00",
			ROAS: num("0"),
		}},
	}
	if got, w := mustJSON(t, s), mustJSON(t, want); got != w {
		t.Fatalf("summary\n got %s\nwant %s", got, w)
	}

	// No rows in the workspace currency: the currency with the most spend leads.
	decode(t, e.do("GET", "/v1/metrics/summary?from=2024-03-01&to=2024-03-31", e.key2, ""), http.StatusOK, &s)
	if s.Currency != "EUR" || s.SpendMicros != 5_000_000 || len(s.OtherCurrencies) != 1 || s.OtherCurrencies[0].Currency != "GBP" {
		t.Fatalf("summary of workspace two %+v", s)
	}

	// No rows at all: zeros in the workspace currency and null ratios.
	rec := e.do("GET", "/v1/metrics/summary?from=2020-01-01&to=2020-01-31", e.key1, "")
	decode(t, rec, http.StatusOK, &s)
	if s.Currency != "USD" || s.Spend != "0.00" || s.ROAS != nil || s.CTR != nil || len(s.OtherCurrencies) != 0 {
		t.Fatalf("empty summary %+v", s)
	}
}

// TestMetricsSummaryMatchesSQL checks the API's sums against PostgreSQL's own on many rows.
func TestMetricsSummaryMatchesSQL(t *testing.T) {
	e := newEnv(t)
	r := rand.New(rand.NewPCG(1, 2))
	var rows []adRow
	for i := range 300 {
		rows = append(rows, adRow{
			campaign: fmt.Sprint("c", i%7), name: "n", ad: fmt.Sprint("a", i), date: fmt.Sprintf("2024-%02d-%02d", 1+i%12, 1+i%28),
			currency: []string{"USD", "USD", "EUR"}[i%3], spend: r.Int64N(5_000_000_000), impressions: r.Int64N(1_000_000),
			clicks: r.Int64N(10_000), conversions: fmt.Sprintf("%d.%06d", r.IntN(100), r.IntN(1_000_000)), value: r.Int64N(9_000_000_000),
		})
	}
	e.insertAdRows(e.key1, e.w1.ID, rows)

	var s api.Summary
	decode(t, e.do("GET", "/v1/metrics/summary?from=2024-02-01&to=2024-11-30", e.key1, ""), http.StatusOK, &s)
	for _, m := range append([]api.Measures{s.Measures}, s.OtherCurrencies...) {
		var spend, impressions, clicks, value int64
		var conversions string
		err := e.st.Pool.QueryRow(context.Background(), `
			SELECT sum(spend_micros)::bigint, sum(impressions)::bigint, sum(clicks)::bigint, sum(conversions)::text,
				sum(conversion_value_micros)::bigint
			FROM ad_metrics_daily WHERE workspace_id = $1 AND currency = $2 AND date >= '2024-02-01' AND date <= '2024-11-30'`,
			e.w1.ID, m.Currency).Scan(&spend, &impressions, &clicks, &conversions, &value)
		if err != nil {
			t.Fatal(err)
		}
		convMicros, err := money.ParseMicros(conversions)
		if err != nil {
			t.Fatal(err)
		}
		if m.SpendMicros != spend || m.Impressions != impressions || m.Clicks != clicks ||
			m.ConversionValueMicros != value || m.Conversions != money.FormatDecimalMicros(convMicros) {
			t.Errorf("%s: API %+v, SQL spend %d impressions %d clicks %d conversions %s value %d",
				m.Currency, m, spend, impressions, clicks, conversions, value)
		}
		if m.Spend != money.FormatMicros(spend) || m.ConversionValue != money.FormatMicros(value) {
			t.Errorf("%s: decimal strings %q %q do not match micros", m.Currency, m.Spend, m.ConversionValue)
		}
	}
	if s.Currency != "USD" || len(s.OtherCurrencies) != 1 {
		t.Fatalf("currencies %s + %v", s.Currency, s.OtherCurrencies)
	}
}

func TestMetricsCampaigns(t *testing.T) {
	e := newEnv(t)
	e.insertAdRows(e.key1, e.w1.ID, []adRow{
		{"c1", "Old", "a1", "2024-03-01", "USD", 1_000_000, 100, 10, "1", 2_000_000},
		{"c1", "New", "a2", "2024-03-02", "USD", 1_000_000, 100, 0, "0", 0},
		{"c2", "Big", "a3", "2024-03-02", "USD", 9_000_000, 0, 0, "0", 0},
	})
	e.insertAdRows(e.key2, e.w2.ID, []adRow{{"c9", "Theirs", "a", "2024-03-02", "USD", 1, 1, 1, "1", 1}})

	var rep api.CampaignReport
	decode(t, e.do("GET", "/v1/metrics/campaigns?from=2024-03-01&to=2024-03-02", e.key1, ""), http.StatusOK, &rep)
	if rep.From != "2024-03-01" || rep.To != "2024-03-02" || len(rep.Campaigns) != 2 {
		t.Fatalf("report %+v", rep)
	}
	big, c1 := rep.Campaigns[0], rep.Campaigns[1]
	if big.CampaignID != "c2" || big.Spend != "9.00" || big.CTR != nil || big.CPC != nil || big.Channel != "meta" {
		t.Fatalf("first campaign %+v", big)
	}
	if c1.CampaignID != "c1" || c1.CampaignName != "New" || c1.SpendMicros != 2_000_000 || c1.Clicks != 10 ||
		c1.Conversions != "1" || *c1.ROAS != "1" || *c1.CPC != "0.2" || *c1.CPA != "2" || *c1.CTR != "0.05" || c1.AccountID == "" {
		t.Fatalf("second campaign %+v", c1)
	}

	var empty api.CampaignReport
	rec := e.do("GET", "/v1/metrics/campaigns?from=2020-01-01&to=2020-01-02", e.key1, "")
	decode(t, rec, http.StatusOK, &empty)
	if empty.Campaigns == nil || len(empty.Campaigns) != 0 {
		t.Fatalf("empty report %s", rec.Body)
	}
}

func TestMetricsRejects(t *testing.T) {
	e := newEnv(t)
	decode(t, e.do("GET", "/v1/metrics/summary?from=2021-01-01&to=2023-12-31", e.key1, ""), http.StatusOK, &api.Summary{})
	cases := []struct {
		name, query, field string
	}{
		{"no parameters", "", "from"},
		{"missing to", "?from=2024-01-01", "to"},
		{"missing from", "?to=2024-01-01", "from"},
		{"bad from", "?from=2024-1-1&to=2024-01-02", "from"},
		{"bad to", "?from=2024-01-01&to=tomorrow", "to"},
		{"impossible date", "?from=2024-02-30&to=2024-03-01", "from"},
		{"from after to", "?from=2024-02-01&to=2024-01-01", "from"},
		{"three years", "?from=2021-01-01&to=2024-01-01", "to"},
	}
	for _, tc := range cases {
		for _, path := range []string{"/v1/metrics/summary", "/v1/metrics/campaigns"} {
			t.Run(tc.name+path, func(t *testing.T) {
				e.writesNothing(t, func() {
					p := problem(t, e.do("GET", path+tc.query, e.key1, ""), http.StatusUnprocessableEntity)
					if p.Errors[0].Field != tc.field {
						t.Errorf("errors %+v, want the first on %q", p.Errors, tc.field)
					}
				})
			})
		}
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
