package analytics

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
)

// Summary is the KPIs of a range and of the period before it.
type Summary struct {
	Workspace      Workspace
	Window         channels.Window
	PreviousWindow channels.Window
	Current        Totals
	Previous       Totals
	// ExcludedCurrencies are the other currencies of orders, ad rows and sessions in Window.
	ExcludedCurrencies []string
	// OrderHistoryFrom is the workspace day of the earliest order we hold, valid or not:
	// how far back the orders the KPIs rest on reach. Nil when there are none.
	OrderHistoryFrom *time.Time
}

// Summary computes the workspace's totals over w and over PreviousWindow(w).
func (q *Queries) Summary(ctx context.Context, workspaceID string, w channels.Window) (Summary, error) {
	ws, err := q.workspace(ctx, workspaceID)
	if err != nil {
		return Summary{}, err
	}
	prev := PreviousWindow(w)
	// One query over both periods reads them from one snapshot. $6 is w.From.
	bucket := func(d string) string {
		return "(CASE WHEN " + d + " < $6::date THEN $2::date ELSE $6::date END)"
	}
	points, err := q.totals(ctx, ws, channels.Window{From: prev.From, To: w.To}, bucket, day(w.From))
	if err != nil {
		return Summary{}, fmt.Errorf("summary %s: %w", w, err)
	}
	s := Summary{Workspace: ws, Window: w, PreviousWindow: prev}
	for _, p := range points {
		if p.Start.Equal(w.From) {
			s.Current = p.Totals
		} else {
			s.Previous = p.Totals
		}
	}
	if s.ExcludedCurrencies, err = q.excludedCurrencies(ctx, ws, w); err != nil {
		return Summary{}, err
	}
	if s.OrderHistoryFrom, err = q.orderHistoryFrom(ctx, ws); err != nil {
		return Summary{}, err
	}
	return s, nil
}

// Granularity is the bucket size of a time series.
type Granularity string

const (
	Day   Granularity = "day"
	Week  Granularity = "week" // ISO weeks, Monday to Sunday
	Month Granularity = "month"
)

// Granularities lists the valid granularities.
func Granularities() []Granularity { return []Granularity{Day, Week, Month} }

// ParseGranularity validates a granularity name.
func ParseGranularity(s string) (Granularity, error) {
	for _, g := range Granularities() {
		if string(g) == s {
			return g, nil
		}
	}
	return "", fmt.Errorf("unknown granularity %q (want day, week or month)", s)
}

// Start is the first day of the bucket that d falls in.
func (g Granularity) Start(d time.Time) time.Time {
	d = time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, time.UTC)
	switch g {
	case Week:
		return d.AddDate(0, 0, -(int(d.Weekday())+6)%7)
	case Month:
		return d.AddDate(0, 0, 1-d.Day())
	default:
		return d
	}
}

// End is the last day of the bucket that starts on start.
func (g Granularity) End(start time.Time) time.Time {
	switch g {
	case Week:
		return start.AddDate(0, 0, 6)
	case Month:
		return start.AddDate(0, 1, -1)
	default:
		return start
	}
}

// bucketSQL maps the SQL day expression d to the first day of its bucket.
func (g Granularity) bucketSQL(d string) string {
	switch g {
	case Week, Month:
		// On a timestamp, not a date: a date would be converted through the session time zone.
		return "date_trunc('" + string(g) + "', " + d + "::timestamp)::date"
	default:
		return d
	}
}

// Point is one bucket of a time series. Start and End are the bucket's calendar bounds
// (a week's Monday and Sunday, a month's first and last day) even where the range cuts the
// bucket; only days in the range are counted.
type Point struct {
	Start time.Time
	End   time.Time
	Totals
}

// Timeseries is a range's totals per bucket.
type Timeseries struct {
	Workspace   Workspace
	Window      channels.Window
	Granularity Granularity
	// Points has every bucket that overlaps Window, oldest first, empty ones included.
	Points             []Point
	ExcludedCurrencies []string
}

// Timeseries computes the workspace's totals over w per bucket of g.
func (q *Queries) Timeseries(ctx context.Context, workspaceID string, w channels.Window, g Granularity) (Timeseries, error) {
	if _, err := ParseGranularity(string(g)); err != nil {
		return Timeseries{}, err
	}
	ws, err := q.workspace(ctx, workspaceID)
	if err != nil {
		return Timeseries{}, err
	}
	points, err := q.totals(ctx, ws, w, g.bucketSQL)
	if err != nil {
		return Timeseries{}, fmt.Errorf("time series %s by %s: %w", w, g, err)
	}
	for i := range points {
		points[i].End = g.End(points[i].Start)
	}
	ts := Timeseries{Workspace: ws, Window: w, Granularity: g, Points: points}
	if ts.ExcludedCurrencies, err = q.excludedCurrencies(ctx, ws, w); err != nil {
		return Timeseries{}, err
	}
	return ts, nil
}

// totals sums every KPI input over w per bucket, one row for each bucket any day of w maps
// to. bucket maps a SQL day expression to its bucket's first day. Parameters: $1 workspace,
// $2 from, $3 to, $4 currency, $5 time zone, then extra.
func (q *Queries) totals(ctx context.Context, ws Workspace, w channels.Window, bucket func(day string) string, extra ...any) ([]Point, error) {
	const tz = "$5::text"
	sql := `
		WITH sales AS (
			SELECT ` + bucket(localDay("o", tz)) + ` AS bucket,
				sum(o.total_micros - o.refunded_micros)::bigint AS revenue, count(*) AS orders
			FROM orders o
			WHERE o.workspace_id = $1 AND o.currency = $4 AND ` + validOrder("o") + `
				AND ` + createdInDays("o", "$2", "$3", tz) + `
			GROUP BY 1
		), owners AS (
			-- The account a guest's email hash belongs to in its shop: the store's record
			-- first, else an account order we hold; the smallest id when several.
			SELECT DISTINCT ON (shop_domain, email_sha256) shop_domain, email_sha256, customer_id
			FROM (
				SELECT c.shop_domain, c.email_sha256, c.customer_id, 0 AS rank
				FROM customers c WHERE c.workspace_id = $1 AND c.email_sha256 <> ''
				UNION ALL
				SELECT o.shop_domain, o.email_sha256, o.customer_id, 1
				FROM orders o WHERE o.workspace_id = $1 AND o.customer_id <> '' AND o.email_sha256 <> ''
			) k
			ORDER BY shop_domain, email_sha256, rank, customer_id
		), people AS (
			-- Every order we hold that names a person. 'c:' and 'e:' keep an id and a hash apart.
			SELECT o.shop_domain, coalesce(nullif(o.customer_id, ''), w.customer_id) AS customer_id,
				coalesce('c:' || coalesce(nullif(o.customer_id, ''), w.customer_id), 'e:' || o.email_sha256) AS person,
				o.created_at, ` + validOrder("o") + ` AS valid
			FROM orders o
			LEFT JOIN owners w ON o.customer_id = '' AND w.shop_domain = o.shop_domain AND w.email_sha256 = o.email_sha256
			WHERE o.workspace_id = $1 AND (o.customer_id <> '' OR o.email_sha256 <> '')
		), firsts AS (
			-- Each person's first valid order, and how many orders of theirs we hold at all.
			SELECT p.shop_domain, min(p.customer_id) AS customer_id,
				min(p.created_at) FILTER (WHERE p.valid) AS first_at, count(*) AS held
			FROM people p
			GROUP BY p.shop_domain, p.person
			HAVING bool_or(p.valid)
		), newcust AS (
			SELECT ` + bucket("(f.first_at AT TIME ZONE "+tz+")::date") + ` AS bucket, count(*) AS customers
			FROM firsts f
			LEFT JOIN customers c ON c.workspace_id = $1 AND c.shop_domain = f.shop_domain AND c.customer_id = f.customer_id
			WHERE (f.first_at AT TIME ZONE ` + tz + `)::date BETWEEN $2::date AND $3::date
				-- The store's record makes a person returning (see the package doc).
				AND NOT coalesce(c.orders_count > f.held OR (c.orders_count < 0 AND c.created_at <
					(SELECT min(h.created_at) FROM orders h WHERE h.workspace_id = $1)), false)
			GROUP BY 1
		), ads AS (
			-- The sums stay in integer/numeric arithmetic; the bigint casts fail loudly on overflow
			-- instead of rounding. conversions is numeric(20,6), so times 10^6 is an integer.
			SELECT ` + bucket("a.date") + ` AS bucket,
				sum(a.spend_micros)::bigint AS spend, sum(a.impressions)::bigint AS impressions,
				sum(a.clicks)::bigint AS clicks, (sum(a.conversions) * 1000000)::bigint AS conversions,
				sum(a.conversion_value_micros)::bigint AS value
			FROM ad_metrics_daily a
			WHERE a.workspace_id = $1 AND a.currency = $4 AND a.date BETWEEN $2::date AND $3::date
			GROUP BY 1
		), sess AS (
			SELECT ` + bucket("s.date") + ` AS bucket, sum(s.sessions)::bigint AS sessions
			FROM sessions_daily s
			WHERE s.workspace_id = $1 AND s.currency = $4 AND s.date BETWEEN $2::date AND $3::date
			GROUP BY 1
		), buckets AS (
			SELECT DISTINCT ` + bucket("d::date") + ` AS bucket
			FROM generate_series($2::date::timestamp, $3::date::timestamp, interval '1 day') d
		)
		SELECT b.bucket, coalesce(a.spend, 0), coalesce(a.impressions, 0), coalesce(a.clicks, 0),
			coalesce(a.conversions, 0), coalesce(a.value, 0), coalesce(s.revenue, 0), coalesce(s.orders, 0),
			coalesce(n.customers, 0), coalesce(x.sessions, 0)
		FROM buckets b
		LEFT JOIN sales s ON s.bucket = b.bucket
		LEFT JOIN newcust n ON n.bucket = b.bucket
		LEFT JOIN ads a ON a.bucket = b.bucket
		LEFT JOIN sess x ON x.bucket = b.bucket
		ORDER BY b.bucket`
	args := append([]any{ws.ID, day(w.From), day(w.To), ws.Currency, ws.Timezone}, extra...)
	rows, err := q.db.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (Point, error) {
		var p Point
		err := row.Scan(&p.Start, &p.SpendMicros, &p.Impressions, &p.Clicks, &p.ConversionsMicros,
			&p.ConversionValueMicros, &p.RevenueMicros, &p.Orders, &p.NewCustomers, &p.Sessions)
		return p, err
	})
}
