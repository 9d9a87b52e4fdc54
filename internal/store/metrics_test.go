package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/store"
	"github.com/omnitrackiq/omnitrackiq/internal/testdb"
)

// metricsRow is one ad_metrics_daily row for the metrics tests.
type metricsRow struct {
	campaign, name, ad, date, currency string
	spend, impressions, clicks         int64
	conversions                        string // numeric text, as the column holds it
	value                              int64
}

func insertMetrics(t *testing.T, st *store.Store, workspaceID, connectionID string, rows []metricsRow) {
	t.Helper()
	for _, r := range rows {
		_, err := st.Pool.Exec(context.Background(), `
			INSERT INTO ad_metrics_daily (workspace_id, connection_id, channel, account_id, campaign_id,
				campaign_name, ad_id, date, currency, spend_micros, impressions, clicks, conversions,
				conversion_value_micros)
			VALUES ($1, $2, 'meta', '123', $3, $4, $5, $6, $7, $8, $9, $10, $11::numeric, $12)`,
			workspaceID, connectionID, r.campaign, r.name, r.ad, r.date, r.currency,
			r.spend, r.impressions, r.clicks, r.conversions, r.value)
		if err != nil {
			t.Fatalf("insert %+v: %v", r, err)
		}
	}
}

func metricsWorkspace(t *testing.T, st *store.Store, name string) (workspaceID, connectionID string) {
	t.Helper()
	ctx := context.Background()
	w, err := st.CreateWorkspace(ctx, name, "USD", "UTC")
	if err != nil {
		t.Fatal(err)
	}
	c, err := st.CreateConnection(ctx, store.NewConnection{
		WorkspaceID: w.ID, Channel: "meta", ExternalAccountID: "123",
		TokenCiphertext: []byte("sealed"), Timezone: "UTC", Currency: "USD",
	})
	if err != nil {
		t.Fatal(err)
	}
	return w.ID, c.ID
}

func day(s string) time.Time {
	d, err := time.Parse("2006-01-02", s)
	if err != nil {
		panic(err)
	}
	return d
}

func TestMetrics(t *testing.T) {
	ctx := context.Background()
	st, _ := testdb.New(t)
	w1, c1 := metricsWorkspace(t, st, "One")
	w2, c2 := metricsWorkspace(t, st, "Two")

	insertMetrics(t, st, w1, c1, []metricsRow{
		{"c1", "Old name", "a1", "2024-03-01", "USD", 1_500_000, 100, 10, "1.5", 4_000_000},
		{"c1", "New name", "a1", "2024-03-02", "USD", 2_250_000, 200, 5, "0.25", 1_000_000},
		{"c1", "", "a2", "2024-03-03", "USD", 10, 1, 0, "0", 0},
		{"c2", "Two", "a3", "2024-03-02", "USD", 9_000_000, 50, 1, "0.000001", 0},
		{"c3", "Euro", "a4", "2024-03-02", "EUR", 700_000, 7, 0, "2", 3_000_000},
		// Outside the window on both sides.
		{"c1", "Later", "a1", "2024-03-04", "USD", 99_000_000, 1, 1, "1", 1},
		{"c1", "Earlier", "a1", "2024-02-29", "USD", 99_000_000, 1, 1, "1", 1},
	})
	// Another workspace's rows must never show.
	insertMetrics(t, st, w2, c2, []metricsRow{
		{"c1", "Other", "a1", "2024-03-02", "USD", 5_000_000, 1, 1, "1", 1},
	})

	from, to := day("2024-03-01"), day("2024-03-03")
	sum, err := st.MetricsSummary(ctx, w1, from, to)
	if err != nil {
		t.Fatal(err)
	}
	wantSum := []store.CurrencyMetrics{
		{"USD", store.MetricTotals{12_750_010, 351, 16, 1_750_001, 5_000_000}},
		{"EUR", store.MetricTotals{700_000, 7, 0, 2_000_000, 3_000_000}},
	}
	if len(sum) != len(wantSum) {
		t.Fatalf("summary = %+v, want %+v", sum, wantSum)
	}
	for i := range wantSum {
		if sum[i] != wantSum[i] {
			t.Errorf("summary[%d] = %+v, want %+v", i, sum[i], wantSum[i])
		}
	}

	camps, err := st.MetricsCampaigns(ctx, w1, from, to)
	if err != nil {
		t.Fatal(err)
	}
	wantCamps := []store.CampaignMetrics{
		{"meta", "123", "c2", "Two", "USD", store.MetricTotals{9_000_000, 50, 1, 1, 0}},
		{"meta", "123", "c1", "New name", "USD", store.MetricTotals{3_750_010, 301, 15, 1_750_000, 5_000_000}},
		{"meta", "123", "c3", "Euro", "EUR", store.MetricTotals{700_000, 7, 0, 2_000_000, 3_000_000}},
	}
	if len(camps) != len(wantCamps) {
		t.Fatalf("campaigns = %+v, want %+v", camps, wantCamps)
	}
	for i := range wantCamps {
		if camps[i] != wantCamps[i] {
			t.Errorf("campaigns[%d] = %+v, want %+v", i, camps[i], wantCamps[i])
		}
	}

	// A single day is an inclusive window; an empty window has no rows.
	one, err := st.MetricsSummary(ctx, w1, day("2024-03-04"), day("2024-03-04"))
	if err != nil || len(one) != 1 || one[0].SpendMicros != 99_000_000 {
		t.Fatalf("one-day summary = %+v, %v", one, err)
	}
	none, err := st.MetricsSummary(ctx, w1, day("2020-01-01"), day("2020-01-31"))
	if err != nil || len(none) != 0 {
		t.Fatalf("empty summary = %+v, %v", none, err)
	}
	noneCamps, err := st.MetricsCampaigns(ctx, w1, day("2020-01-01"), day("2020-01-31"))
	if err != nil || len(noneCamps) != 0 {
		t.Fatalf("empty campaigns = %+v, %v", noneCamps, err)
	}

	// A time.Time in a zone far from UTC still means its own calendar day.
	tokyo := time.FixedZone("JST", 9*3600)
	z, err := st.MetricsSummary(ctx, w1, time.Date(2024, 3, 4, 1, 0, 0, 0, tokyo), time.Date(2024, 3, 4, 1, 0, 0, 0, tokyo))
	if err != nil || len(z) != 1 || z[0].SpendMicros != 99_000_000 {
		t.Fatalf("zoned summary = %+v, %v", z, err)
	}
}
