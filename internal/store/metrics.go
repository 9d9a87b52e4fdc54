package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// MetricTotals are summed delivery measures. Money is integer micros of the row's
// currency; conversions are micros of a (possibly fractional) conversion count.
type MetricTotals struct {
	SpendMicros           int64
	Impressions           int64
	Clicks                int64
	ConversionsMicros     int64
	ConversionValueMicros int64
}

// CurrencyMetrics are the totals of the rows in one currency. Amounts in different
// currencies are never added together.
type CurrencyMetrics struct {
	Currency string
	MetricTotals
}

// CampaignMetrics are one campaign's totals in one currency.
type CampaignMetrics struct {
	Channel      string
	AccountID    string
	CampaignID   string
	CampaignName string
	Currency     string
	MetricTotals
}

// The sums stay in integer/numeric SQL arithmetic; the casts to bigint fail loudly on
// overflow instead of rounding. conversions is numeric(20,6), so times 10^6 is an integer.
const metricSums = `
	sum(spend_micros)::bigint,
	sum(impressions)::bigint,
	sum(clicks)::bigint,
	(sum(conversions) * 1000000)::bigint,
	sum(conversion_value_micros)::bigint`

// MetricsSummary sums the workspace's daily ad metrics with date in [from, to] (inclusive,
// calendar days) per currency, the currency with the most spend first.
func (s *Store) MetricsSummary(ctx context.Context, workspaceID string, from, to time.Time) ([]CurrencyMetrics, error) {
	rows, err := s.Pool.Query(ctx, `
		SELECT currency,`+metricSums+`
		FROM ad_metrics_daily
		WHERE workspace_id = $1 AND date BETWEEN $2::date AND $3::date
		GROUP BY currency
		ORDER BY 2 DESC, currency`, workspaceID, dateArg(from), dateArg(to))
	if err != nil {
		return nil, fmt.Errorf("metrics summary %s..%s: %w", dateArg(from), dateArg(to), err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (CurrencyMetrics, error) {
		var m CurrencyMetrics
		err := row.Scan(&m.Currency, &m.SpendMicros, &m.Impressions, &m.Clicks,
			&m.ConversionsMicros, &m.ConversionValueMicros)
		return m, err
	})
	if err != nil {
		return nil, fmt.Errorf("metrics summary %s..%s: %w", dateArg(from), dateArg(to), err)
	}
	return out, nil
}

// MetricsCampaigns sums the workspace's daily ad metrics with date in [from, to] per
// campaign and currency, most spend first. The campaign name is the newest non-empty name
// seen in the window, so a renamed campaign shows as one row with its recent name.
func (s *Store) MetricsCampaigns(ctx context.Context, workspaceID string, from, to time.Time) ([]CampaignMetrics, error) {
	rows, err := s.Pool.Query(ctx, `
		SELECT channel, account_id, campaign_id,
			(array_agg(campaign_name ORDER BY campaign_name = '', date DESC, synced_at DESC))[1],
			currency,`+metricSums+`
		FROM ad_metrics_daily
		WHERE workspace_id = $1 AND date BETWEEN $2::date AND $3::date
		GROUP BY channel, account_id, campaign_id, currency
		ORDER BY 6 DESC, channel, account_id, campaign_id, currency`, workspaceID, dateArg(from), dateArg(to))
	if err != nil {
		return nil, fmt.Errorf("metrics by campaign %s..%s: %w", dateArg(from), dateArg(to), err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (CampaignMetrics, error) {
		var m CampaignMetrics
		err := row.Scan(&m.Channel, &m.AccountID, &m.CampaignID, &m.CampaignName, &m.Currency,
			&m.SpendMicros, &m.Impressions, &m.Clicks, &m.ConversionsMicros, &m.ConversionValueMicros)
		return m, err
	})
	if err != nil {
		return nil, fmt.Errorf("metrics by campaign %s..%s: %w", dateArg(from), dateArg(to), err)
	}
	return out, nil
}

// dateArg passes a day as text so that neither the session time zone nor the time.Time's
// location can shift it.
func dateArg(t time.Time) string { return t.Format("2006-01-02") }
