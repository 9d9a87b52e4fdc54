package analytics_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/omnitrackiq/omnitrackiq/internal/analytics"
	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	"github.com/omnitrackiq/omnitrackiq/internal/money"
	"github.com/omnitrackiq/omnitrackiq/internal/testdb"
)

// fixture is a fresh database and helpers that write rows the way the sync code stores them.
type fixture struct {
	t     *testing.T
	ctx   context.Context
	pool  *pgxpool.Pool
	q     *analytics.Queries
	conns map[string]string // workspace/channel/account -> connection id
	seq   int
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	st, _ := testdb.New(t)
	return &fixture{t: t, ctx: context.Background(), pool: st.Pool, q: analytics.New(st.Pool), conns: map[string]string{}}
}

// with returns the fixture reporting to t, for use in a subtest.
func (f *fixture) with(t *testing.T) *fixture {
	c := *f
	c.t = t
	return &c
}

func (f *fixture) workspace(name, currency, tz string) string {
	f.t.Helper()
	var id string
	if err := f.pool.QueryRow(f.ctx, `INSERT INTO workspaces (name, currency, timezone) VALUES ($1, $2, $3) RETURNING id`,
		name, currency, tz).Scan(&id); err != nil {
		f.t.Fatal(err)
	}
	return id
}

func (f *fixture) connection(ws, channel, account string) string {
	f.t.Helper()
	key := ws + "/" + channel + "/" + account
	if id, ok := f.conns[key]; ok {
		return id
	}
	var id string
	if err := f.pool.QueryRow(f.ctx, `INSERT INTO connections (workspace_id, channel, external_account_id, token_ciphertext)
		VALUES ($1, $2, $3, '\x00') RETURNING id`, ws, channel, account).Scan(&id); err != nil {
		f.t.Fatal(err)
	}
	f.conns[key] = id
	return id
}

type ad struct {
	channel, account, campaign, name, date, currency string
	spend, impressions, clicks                       int64
	conversions                                      string
	value                                            int64
}

func (f *fixture) ads(ws string, rows ...ad) {
	f.t.Helper()
	b := &pgx.Batch{}
	for _, r := range rows {
		f.seq++
		conn := f.connection(ws, r.channel, r.account)
		if r.conversions == "" {
			r.conversions = "0"
		}
		b.Queue(`INSERT INTO ad_metrics_daily (workspace_id, connection_id, channel, account_id, campaign_id,
				campaign_name, ad_id, date, currency, spend_micros, impressions, clicks, conversions, conversion_value_micros)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8::date, $9, $10, $11, $12, $13::numeric, $14)`,
			ws, conn, r.channel, r.account, r.campaign, r.name, fmt.Sprint("ad", f.seq), r.date, r.currency,
			r.spend, r.impressions, r.clicks, r.conversions, r.value)
	}
	f.send(b)
}

type order struct {
	shop, id                 string
	at                       time.Time
	currency                 string
	total, refunded          int64
	status                   string
	test, cancelled          bool
	customer, email          string
	source, medium, campaign string
	lineItems                int
}

func (f *fixture) orders(ws string, orders ...order) {
	f.t.Helper()
	conn := f.connection(ws, "shopify", "shop.myshopify.com")
	b := &pgx.Batch{}
	for _, o := range orders {
		if o.shop == "" {
			o.shop = "shop.myshopify.com"
		}
		if o.currency == "" {
			o.currency = "USD"
		}
		var cancelled *time.Time
		if o.cancelled {
			c := o.at.Add(time.Hour)
			cancelled = &c
		}
		b.Queue(`INSERT INTO orders (workspace_id, connection_id, shop_domain, order_id, name, created_at, updated_at,
				cancelled_at, currency, total_micros, refunded_micros, financial_status, test, customer_id, email_sha256,
				utm_source, utm_medium, utm_campaign)
			VALUES ($1, $2, $3, $4, '#' || $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`,
			ws, conn, o.shop, o.id, o.at, o.at.Add(2*time.Hour), cancelled, o.currency, o.total, o.refunded, o.status,
			o.test, o.customer, o.email, o.source, o.medium, o.campaign)
		for i := range o.lineItems {
			b.Queue(`INSERT INTO order_line_items (workspace_id, shop_domain, order_id, line_item_id, quantity, price_micros)
				VALUES ($1, $2, $3, $4, 1, 1000000)`, ws, o.shop, o.id, fmt.Sprint(i))
		}
	}
	f.send(b)
}

// customer is the store's record of a customer, as the Shopify connector stores it.
type customer struct {
	shop, id, email string
	created         time.Time
	ordersCount     int64 // -1: unknown
}

func (f *fixture) customers(ws string, rows ...customer) {
	f.t.Helper()
	conn := f.connection(ws, "shopify", "shop.myshopify.com")
	b := &pgx.Batch{}
	for _, c := range rows {
		if c.shop == "" {
			c.shop = "shop.myshopify.com"
		}
		b.Queue(`INSERT INTO customers (workspace_id, connection_id, shop_domain, customer_id, email_sha256, created_at,
				updated_at, orders_count)
			VALUES ($1, $2, $3, $4, $5, $6, $6, $7)`, ws, conn, c.shop, c.id, c.email, c.created, c.ordersCount)
	}
	f.send(b)
}

type session struct {
	date, source string
	sessions     int64
	currency     string
}

func (f *fixture) sessions(ws string, rows ...session) {
	f.t.Helper()
	conn := f.connection(ws, "ga4", "p1")
	b := &pgx.Batch{}
	for _, r := range rows {
		if r.currency == "" {
			r.currency = "USD"
		}
		b.Queue(`INSERT INTO sessions_daily AS s (workspace_id, connection_id, property_id, date, source, medium, campaign,
				sessions, currency)
			VALUES ($1, $2, 'p1', $3::date, $4, '', '', $5, $6)
			ON CONFLICT ON CONSTRAINT sessions_daily_natural_key DO UPDATE SET sessions = s.sessions + EXCLUDED.sessions`,
			ws, conn, r.date, r.source, r.sessions, r.currency)
	}
	f.send(b)
}

func (f *fixture) send(b *pgx.Batch) {
	f.t.Helper()
	if err := f.pool.SendBatch(f.ctx, b).Close(); err != nil {
		f.t.Fatal(err)
	}
}

func window(t *testing.T, from, to string) channels.Window {
	t.Helper()
	w, err := channels.ParseWindow(from, to)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// expect computes a workspace's totals over [from, to] with plain per-metric queries,
// written independently of the package's SQL: local time ranges instead of local dates,
// NOT EXISTS instead of a first-order aggregate, numeric text instead of scaled bigints.
func (f *fixture) expect(ws string, w channels.Window) analytics.Totals {
	f.t.Helper()
	from, to := w.From.Format(time.DateOnly), w.To.Format(time.DateOnly)
	var t analytics.Totals
	must := func(err error) {
		f.t.Helper()
		if err != nil {
			f.t.Fatal(err)
		}
	}
	must(f.pool.QueryRow(f.ctx, `
		SELECT count(*), coalesce(sum(o.total_micros), 0) - coalesce(sum(o.refunded_micros), 0)
		FROM orders o JOIN workspaces w ON w.id = o.workspace_id
		WHERE o.workspace_id = $1 AND o.test IS FALSE AND o.cancelled_at IS NULL AND o.currency = w.currency
			AND timezone(w.timezone, o.created_at) >= $2::timestamp
			AND timezone(w.timezone, o.created_at) < $3::timestamp + interval '1 day'`, ws, from, to).
		Scan(&t.Orders, &t.RevenueMicros))
	// New customers, as the package doc defines them: a person is a store's customer id; a
	// guest order joins the account its email hash belongs to (the store's record first,
	// then an account order of ours), else the email is the person. A person is new in the
	// range of their first valid order unless the store's record says they are returning.
	must(f.pool.QueryRow(f.ctx, `
		WITH account AS (
			SELECT DISTINCT ON (shop, email) shop, email, id FROM (
				SELECT shop_domain AS shop, email_sha256 AS email, customer_id AS id, 0 AS pref
				FROM customers WHERE workspace_id = $1 AND email_sha256 <> ''
				UNION ALL
				SELECT shop_domain, email_sha256, customer_id, 1
				FROM orders WHERE workspace_id = $1 AND customer_id <> '' AND email_sha256 <> ''
			) x ORDER BY shop, email, pref, id
		), v AS (
			SELECT o.shop_domain AS shop, coalesce(nullif(o.customer_id, ''), a.id) AS id,
				CASE WHEN o.customer_id <> '' THEN 'id ' || o.customer_id
					WHEN a.id IS NOT NULL THEN 'id ' || a.id ELSE 'email ' || o.email_sha256 END AS who,
				o.created_at, NOT o.test AND o.cancelled_at IS NULL AS valid, timezone(w.timezone, o.created_at) AS local
			FROM orders o JOIN workspaces w ON w.id = o.workspace_id
			LEFT JOIN account a ON o.customer_id = '' AND a.shop = o.shop_domain AND a.email = o.email_sha256
			WHERE o.workspace_id = $1 AND NOT (o.customer_id = '' AND o.email_sha256 = '')
		)
		SELECT count(DISTINCT (shop, who)) FROM v
		WHERE valid AND local >= $2::timestamp AND local < $3::timestamp + interval '1 day'
			AND NOT EXISTS (SELECT 1 FROM v earlier WHERE earlier.shop = v.shop AND earlier.who = v.who
				AND earlier.valid AND earlier.created_at < v.created_at)
			AND NOT EXISTS (SELECT 1 FROM customers c WHERE c.workspace_id = $1 AND c.shop_domain = v.shop AND c.customer_id = v.id
				AND (c.orders_count > (SELECT count(*) FROM v held WHERE held.shop = v.shop AND held.who = v.who)
					OR (c.orders_count < 0 AND c.created_at < (SELECT min(created_at) FROM orders WHERE workspace_id = $1))))`,
		ws, from, to).Scan(&t.NewCustomers))
	var conversions string
	must(f.pool.QueryRow(f.ctx, `
		SELECT coalesce(sum(spend_micros), 0), coalesce(sum(impressions), 0), coalesce(sum(clicks), 0),
			coalesce(sum(conversions), 0)::text, coalesce(sum(conversion_value_micros), 0)
		FROM ad_metrics_daily a
		WHERE workspace_id = $1 AND currency = (SELECT currency FROM workspaces WHERE id = $1)
			AND date >= $2::date AND date <= $3::date`, ws, from, to).
		Scan(&t.SpendMicros, &t.Impressions, &t.Clicks, &conversions, &t.ConversionValueMicros))
	c, err := money.ParseMicros(conversions)
	must(err)
	t.ConversionsMicros = c
	// Sessions of properties that report in the workspace currency: the population of the
	// orders they are divided into.
	must(f.pool.QueryRow(f.ctx, `SELECT coalesce(sum(sessions), 0) FROM sessions_daily
		WHERE workspace_id = $1 AND currency = (SELECT currency FROM workspaces WHERE id = $1)
			AND date >= $2::date AND date <= $3::date`, ws, from, to).Scan(&t.Sessions))
	return t
}

// expectExcluded lists the other currencies of valid orders and ad rows over [from, to].
func (f *fixture) expectExcluded(ws string, w channels.Window) []string {
	f.t.Helper()
	from, to := w.From.Format(time.DateOnly), w.To.Format(time.DateOnly)
	rows, err := f.pool.Query(f.ctx, `
		SELECT o.currency FROM orders o JOIN workspaces w ON w.id = o.workspace_id
		WHERE o.workspace_id = $1 AND NOT o.test AND o.cancelled_at IS NULL AND o.currency <> w.currency
			AND timezone(w.timezone, o.created_at) >= $2::timestamp
			AND timezone(w.timezone, o.created_at) < $3::timestamp + interval '1 day'
		UNION ALL
		SELECT a.currency FROM ad_metrics_daily a JOIN workspaces w ON w.id = a.workspace_id
		WHERE a.workspace_id = $1 AND a.currency <> w.currency AND a.date >= $2::date AND a.date <= $3::date
		UNION ALL
		SELECT s.currency FROM sessions_daily s JOIN workspaces w ON w.id = s.workspace_id
		WHERE s.workspace_id = $1 AND s.currency <> w.currency AND s.date >= $2::date AND s.date <= $3::date`,
		ws, from, to)
	if err != nil {
		f.t.Fatal(err)
	}
	all, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		f.t.Fatal(err)
	}
	slices.Sort(all)
	return append([]string{}, slices.Compact(all)...)
}

// today is the current day in tz, as the database sees it.
func (f *fixture) today(tz string) time.Time {
	f.t.Helper()
	var d time.Time
	if err := f.pool.QueryRow(f.ctx, `SELECT (now() AT TIME ZONE $1)::date`, tz).Scan(&d); err != nil {
		f.t.Fatal(err)
	}
	return d
}
