package analytics

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
)

// Report dimensions and filter fields.
const (
	ReportDay         = "day"
	ReportWeek        = "week"
	ReportMonth       = "month"
	ReportChannel     = "channel"
	ReportCampaign    = "campaign"
	ReportUTMSource   = "utm_source"
	ReportUTMMedium   = "utm_medium"
	ReportUTMCampaign = "utm_campaign"
)

// Report filter operators. contains and starts_with ignore case.
const (
	OpEq         = "eq"
	OpNeq        = "neq"
	OpIn         = "in"
	OpNotIn      = "not_in"
	OpContains   = "contains"
	OpStartsWith = "starts_with"
)

// ReportFilterOps lists the filter operators.
func ReportFilterOps() []string {
	return []string{OpEq, OpNeq, OpIn, OpNotIn, OpContains, OpStartsWith}
}

// ReportFilterFields lists the fields a report can filter on.
func ReportFilterFields() []string {
	return []string{ReportChannel, ReportCampaign, ReportUTMSource, ReportUTMMedium, ReportUTMCampaign}
}

// ReportTimeDimension says whether d splits by time.
func ReportTimeDimension(d string) bool {
	return d == ReportDay || d == ReportWeek || d == ReportMonth
}

// MaxReportRows bounds the groups one report query may produce.
const MaxReportRows = 100000

// ErrTooManyRows is returned when a report would have more than MaxReportRows groups.
var ErrTooManyRows = errors.New("report has too many rows")

// family is a kind of fact a metric is derived from.
type family int

const (
	famAds family = iota
	famOrders
	famNewCustomers
	famSessions
)

func (f family) noun() string {
	switch f {
	case famAds:
		return "ad measures"
	case famOrders:
		return "orders"
	case famNewCustomers:
		return "new customers"
	default:
		return "sessions"
	}
}

// dimensions is what a family can be split by; filters what it can be filtered on.
func (f family) dimensions() []string {
	switch f {
	case famAds:
		return []string{ReportDay, ReportWeek, ReportMonth, ReportChannel, ReportCampaign}
	case famOrders:
		return []string{ReportDay, ReportWeek, ReportMonth, ReportChannel, ReportUTMSource, ReportUTMMedium, ReportUTMCampaign}
	default:
		return []string{ReportDay, ReportWeek, ReportMonth}
	}
}

func (f family) filters() []string {
	switch f {
	case famAds:
		return []string{ReportChannel, ReportCampaign}
	case famOrders:
		return []string{ReportChannel, ReportUTMSource, ReportUTMMedium, ReportUTMCampaign}
	default:
		return nil
	}
}

// metricFamilies maps a metric to the families it is derived from, nil for an unknown one.
func metricFamilies(metric string) []family {
	switch metric {
	case "spend", "spend_micros", "impressions", "clicks", "ctr", "cpc", "cpc_micros", "conversions",
		"conversion_value", "conversion_value_micros", "platform_roas":
		return []family{famAds}
	case "revenue", "revenue_micros", "orders", "aov", "aov_micros":
		return []family{famOrders}
	case "blended_roas":
		return []family{famAds, famOrders}
	case "new_customers":
		return []family{famNewCustomers}
	case "new_customer_cac", "new_customer_cac_micros":
		return []family{famNewCustomers, famAds}
	case "sessions":
		return []family{famSessions}
	case "conversion_rate":
		return []family{famSessions, famOrders}
	}
	return nil
}

// what names a dimension or filter field in messages.
func what(field string) string {
	if field == ReportCampaign {
		return "ad campaign"
	}
	return field
}

// CanSplit reports whether metric can be split by dimension, with the reason when not.
func CanSplit(metric, dimension string) error {
	fams := metricFamilies(metric)
	if fams == nil {
		return fmt.Errorf("unknown metric %q", metric)
	}
	for _, f := range fams {
		if !slices.Contains(f.dimensions(), dimension) {
			return fmt.Errorf("metric %q cannot be split by %q: %s have no %s", metric, dimension, f.noun(), what(dimension))
		}
	}
	return nil
}

// CanFilter reports whether metric can be narrowed by a filter on field, with the reason
// when not.
func CanFilter(metric, field string) error {
	fams := metricFamilies(metric)
	if fams == nil {
		return fmt.Errorf("unknown metric %q", metric)
	}
	for _, f := range fams {
		if !slices.Contains(f.filters(), field) {
			return fmt.Errorf("metric %q cannot be filtered by %q: %s have no %s", metric, field, f.noun(), what(field))
		}
	}
	return nil
}

// ReportCompatibility lists every (metric, dimension) and (metric, filter field) pair of a
// report that its model does not support (see Report), one error per pair.
func ReportCompatibility(metrics, dimensions, filterFields []string) []error {
	var errs []error
	for _, m := range metrics {
		if metricFamilies(m) == nil {
			errs = append(errs, fmt.Errorf("unknown metric %q", m))
			continue
		}
		for _, d := range dimensions {
			if err := CanSplit(m, d); err != nil {
				errs = append(errs, err)
			}
		}
		for _, f := range filterFields {
			if err := CanFilter(m, f); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errs
}

// ReportQuery is what a report asks for. Filters all apply (AND).
type ReportQuery struct {
	Metrics, Dimensions []string
	Filters             []ReportFilter
	Window              channels.Window
	// Compare adds the totals of PreviousWindow(Window).
	Compare bool
}

// ReportFilter keeps the facts whose Field compares to Values by Op: eq, neq, contains
// and starts_with take one value, in and not_in one or more.
type ReportFilter struct {
	Field, Op string
	Values    []string
}

// ReportRow is one group: its dimension cells in the query's order (a time bucket's first
// day as YYYY-MM-DD, a campaign's name) and its totals.
type ReportRow struct {
	Dims []string
	Totals
}

// ReportResult is a report's groups and totals. A report without dimensions has one row.
type ReportResult struct {
	Workspace              Workspace
	Window, PreviousWindow channels.Window
	// Rows are in the order of their dimension cells; time buckets oldest first.
	Rows  []ReportRow
	Total Totals
	// Previous is the previous period's totals when the query compares.
	Previous           *Totals
	ExcludedCurrencies []string
}

// check validates a query's names and shape; Report never runs SQL built from a name
// that is not in the whitelists.
func (rq ReportQuery) check() error {
	if len(rq.Metrics) == 0 {
		return errors.New("no metrics")
	}
	times := 0
	for i, d := range rq.Dimensions {
		if !slices.Contains(famAds.dimensions(), d) && !slices.Contains(famOrders.dimensions(), d) {
			return fmt.Errorf("unknown dimension %q", d)
		}
		if slices.Contains(rq.Dimensions[:i], d) {
			return fmt.Errorf("dimension %q repeated", d)
		}
		if ReportTimeDimension(d) {
			times++
		}
	}
	if times > 1 {
		return errors.New("more than one time dimension")
	}
	fields := make([]string, 0, len(rq.Filters))
	for _, f := range rq.Filters {
		if !slices.Contains(ReportFilterFields(), f.Field) {
			return fmt.Errorf("unknown filter field %q", f.Field)
		}
		if !slices.Contains(ReportFilterOps(), f.Op) {
			return fmt.Errorf("unknown filter operator %q", f.Op)
		}
		if len(f.Values) == 0 || (f.Op != OpIn && f.Op != OpNotIn && len(f.Values) != 1) {
			return fmt.Errorf("filter on %s %s: wrong number of values (%d)", f.Field, f.Op, len(f.Values))
		}
		fields = append(fields, f.Field)
	}
	return errors.Join(ReportCompatibility(rq.Metrics, rq.Dimensions, fields)...)
}

// Report computes the query's metrics per group of its dimensions over its window.
//
// A report asks for KPIs (MetricNames) split by dimensions and narrowed by filters. Every
// KPI is derived from one or two fact families, and a family can only be split and
// filtered by what its rows carry:
//
//   - ads (ad_metrics_daily): spend, impressions, clicks, ctr, cpc, conversions,
//     conversion_value, platform_roas and their _micros. Dimensions day, week, month,
//     channel (the ad platform) and campaign (the ad campaign: channel, account and
//     campaign id, shown by its newest non-empty name in the range, else its id). Filters
//     on channel and campaign (the name shown).
//   - orders (valid orders): revenue, orders, aov. Dimensions day, week, month, channel
//     (the attribution channel of the order's UTM tags, see Attribution) and the order's
//     utm_source, utm_medium and utm_campaign as stored. Filters on the same four fields.
//   - new customers: new_customers; new_customer_cac needs ads too. Day, week and month
//     only, no filters: a person's first order is judged over all their orders.
//   - sessions: sessions; conversion_rate needs orders too. Day, week and month only, no
//     filters: sessions_daily carries no attribution channel.
//
// blended_roas needs ads and orders. A metric may use a dimension or a filter field only
// if each of its families supports it (ReportCompatibility). Currency and day rules are the
// summary's. A report split only by time (or not at all) and without filters is computed
// by the summary's own query, so its totals are the summary's to the micro; otherwise each
// family is summed per group with the filters as bound parameters, and the families are
// joined on the group in Go. Totals are the same sums without groups, so they cover every
// group, and an unfiltered report's totals equal the summary's either way. A report split
// by time alone lists every bucket of the window, empty ones included; other splits list
// the groups that have facts. More than MaxReportRows groups is ErrTooManyRows.
func (q *Queries) Report(ctx context.Context, workspaceID string, rq ReportQuery) (ReportResult, error) {
	if err := rq.check(); err != nil {
		return ReportResult{}, fmt.Errorf("report: %w", err)
	}
	ws, err := q.workspace(ctx, workspaceID)
	if err != nil {
		return ReportResult{}, err
	}
	res := ReportResult{Workspace: ws, Window: rq.Window, PreviousWindow: PreviousWindow(rq.Window)}
	summaryPath := len(rq.Filters) == 0
	for _, d := range rq.Dimensions {
		summaryPath = summaryPath && ReportTimeDimension(d)
	}
	if summaryPath {
		err = q.reportBySummary(ctx, ws, rq, &res)
	} else {
		err = q.reportGrouped(ctx, ws, rq, &res)
	}
	if err != nil {
		return ReportResult{}, fmt.Errorf("report %s: %w", rq.Window, err)
	}
	if res.ExcludedCurrencies, err = q.excludedCurrencies(ctx, ws, rq.Window); err != nil {
		return ReportResult{}, err
	}
	return res, nil
}

// periodTotals sums every KPI input over w with the summary's query.
func (q *Queries) periodTotals(ctx context.Context, ws Workspace, w channels.Window) (Totals, error) {
	points, err := q.totals(ctx, ws, w, func(string) string { return "$2::date" })
	if err != nil {
		return Totals{}, err
	}
	if len(points) != 1 {
		return Totals{}, fmt.Errorf("totals %s: %d buckets, want 1", w, len(points))
	}
	return points[0].Totals, nil
}

// reportBySummary computes a report split by time only, without filters, with the
// summary's and the time series' query.
func (q *Queries) reportBySummary(ctx context.Context, ws Workspace, rq ReportQuery, res *ReportResult) error {
	var err error
	if res.Total, err = q.periodTotals(ctx, ws, rq.Window); err != nil {
		return err
	}
	if len(rq.Dimensions) == 0 {
		res.Rows = []ReportRow{{Dims: []string{}, Totals: res.Total}}
	} else {
		g := Granularity(rq.Dimensions[0])
		points, err := q.totals(ctx, ws, rq.Window, g.bucketSQL)
		if err != nil {
			return err
		}
		res.Rows = make([]ReportRow, 0, len(points))
		for _, p := range points {
			res.Rows = append(res.Rows, ReportRow{Dims: []string{day(p.Start)}, Totals: p.Totals})
		}
	}
	if rq.Compare {
		prev, err := q.periodTotals(ctx, ws, res.PreviousWindow)
		if err != nil {
			return err
		}
		res.Previous = &prev
	}
	return nil
}

// reportGrouped computes a report of ads and orders measures (the only families that can
// be split by more than time or filtered) per group.
func (q *Queries) reportGrouped(ctx context.Context, ws Workspace, rq ReportQuery, res *ReportResult) error {
	var fams []family
	for _, m := range rq.Metrics {
		for _, f := range metricFamilies(m) {
			if !slices.Contains(fams, f) {
				fams = append(fams, f)
			}
		}
	}
	slices.Sort(fams)
	if len(fams) == 0 || slices.ContainsFunc(fams, func(f family) bool { return f != famAds && f != famOrders }) {
		return errors.New("only ad and order measures can be split by more than time or filtered")
	}
	groups := map[string]*ReportRow{}
	var order []string
	var total Totals
	for _, f := range fams {
		found, err := q.familyGroups(ctx, ws, f, rq.Window, rq.Dimensions, rq.Filters)
		if err != nil {
			return err
		}
		for _, g := range found {
			r, ok := groups[g.key]
			if !ok {
				if len(groups) >= MaxReportRows {
					return fmt.Errorf("more than %d groups: %w", MaxReportRows, ErrTooManyRows)
				}
				r = &ReportRow{Dims: g.cells}
				groups[g.key] = r
				order = append(order, g.key)
			}
			addTotals(&r.Totals, g.totals)
		}
		t, err := q.familyGroups(ctx, ws, f, rq.Window, nil, rq.Filters)
		if err != nil {
			return err
		}
		for _, g := range t {
			addTotals(&total, g.totals)
		}
		if rq.Compare {
			p, err := q.familyGroups(ctx, ws, f, res.PreviousWindow, nil, rq.Filters)
			if err != nil {
				return err
			}
			if res.Previous == nil {
				res.Previous = &Totals{}
			}
			for _, g := range p {
				addTotals(res.Previous, g.totals)
			}
		}
	}
	// A report split only by time shows every bucket of the window, empty ones included,
	// as the time series does.
	if len(rq.Dimensions) == 1 && ReportTimeDimension(rq.Dimensions[0]) {
		g := Granularity(rq.Dimensions[0])
		for d := g.Start(rq.Window.From); !d.After(rq.Window.To); d = g.End(d).AddDate(0, 0, 1) {
			k := day(d)
			if _, ok := groups[k]; !ok {
				groups[k] = &ReportRow{Dims: []string{k}}
				order = append(order, k)
			}
		}
	}
	res.Rows = make([]ReportRow, 0, len(order))
	for _, k := range order {
		res.Rows = append(res.Rows, *groups[k])
	}
	slices.SortStableFunc(res.Rows, func(a, b ReportRow) int { return slices.Compare(a.Dims, b.Dims) })
	res.Total = total
	return nil
}

func addTotals(dst *Totals, src Totals) { *dst = dst.Plus(src) }

// Plus is the sum of t and u, measure by measure: the totals of two disjoint sets of
// facts (two groups of a report, two buckets of a time series).
func (t Totals) Plus(u Totals) Totals {
	t.SpendMicros += u.SpendMicros
	t.Impressions += u.Impressions
	t.Clicks += u.Clicks
	t.ConversionsMicros += u.ConversionsMicros
	t.ConversionValueMicros += u.ConversionValueMicros
	t.RevenueMicros += u.RevenueMicros
	t.Orders += u.Orders
	t.NewCustomers += u.NewCustomers
	t.Sessions += u.Sessions
	return t
}

// group is one family's sums for one group: key identifies it across families (a
// campaign by its ids), cells are what the report shows.
type group struct {
	key    string
	cells  []string
	totals Totals
}

// sqlBuilder collects bound parameters after those every family query takes ($1
// workspace, $2 from, $3 to, $4 currency, and for orders $5 time zone).
type sqlBuilder struct{ args []any }

func (b *sqlBuilder) bind(v any) string {
	b.args = append(b.args, v)
	return "$" + strconv.Itoa(len(b.args))
}

// familyDimension is the SQL of a dimension's key and shown cell over a family's rows (a
// for ad rows joined to c, the campaign names; o for orders). Dimension names come from
// the whitelist checked by ReportQuery.check.
func familyDimension(f family, d string) (key, cell string) {
	const tz = "$5::text"
	var dayExpr string
	if f == famAds {
		dayExpr = "a.date"
	} else {
		dayExpr = localDay("o", tz)
	}
	switch d {
	case ReportDay, ReportWeek, ReportMonth:
		e := "to_char(" + Granularity(d).bucketSQL(dayExpr) + "::timestamp, 'YYYY-MM-DD')"
		return e, e
	case ReportChannel:
		if f == famAds {
			return "a.channel", "a.channel"
		}
		return orderChannelSQL("o"), orderChannelSQL("o")
	case ReportCampaign:
		return "concat_ws(chr(31), c.channel, c.account_id, c.campaign_id)", "c.name"
	default: // utm_source, utm_medium, utm_campaign
		return "o." + d, "o." + d
	}
}

// familyFilter is the SQL condition of a filter over a family's rows, its values bound.
func familyFilter(b *sqlBuilder, f family, rf ReportFilter) (string, error) {
	var expr string
	switch {
	case rf.Field == ReportChannel && f == famAds:
		expr = "a.channel"
	case rf.Field == ReportChannel:
		expr = orderChannelSQL("o")
	case rf.Field == ReportCampaign && f == famAds:
		expr = "c.name"
	case f == famOrders && slices.Contains([]string{ReportUTMSource, ReportUTMMedium, ReportUTMCampaign}, rf.Field):
		expr = "o." + rf.Field
	default:
		return "", fmt.Errorf("%s cannot be filtered by %q", f.noun(), rf.Field)
	}
	switch rf.Op {
	case OpEq:
		return expr + " = " + b.bind(rf.Values[0]), nil
	case OpNeq:
		return expr + " <> " + b.bind(rf.Values[0]), nil
	case OpIn:
		return expr + " = ANY(" + b.bind(rf.Values) + "::text[])", nil
	case OpNotIn:
		return "NOT (" + expr + " = ANY(" + b.bind(rf.Values) + "::text[]))", nil
	case OpContains:
		return "strpos(lower(" + expr + "), lower(" + b.bind(rf.Values[0]) + "::text)) > 0", nil
	case OpStartsWith:
		return "starts_with(lower(" + expr + "), lower(" + b.bind(rf.Values[0]) + "::text))", nil
	}
	return "", fmt.Errorf("unknown filter operator %q", rf.Op)
}

// familyGroups sums family f over w per group of dims (one group when dims is empty),
// keeping the facts every filter matches.
func (q *Queries) familyGroups(ctx context.Context, ws Workspace, f family, w channels.Window, dims []string, filters []ReportFilter) ([]group, error) {
	b := &sqlBuilder{args: []any{ws.ID, day(w.From), day(w.To), ws.Currency}}
	if f == famOrders {
		// Only orders have instants to read in the workspace's time zone.
		b.args = append(b.args, ws.Timezone)
	}
	conds := make([]string, 0, len(filters))
	for _, rf := range filters {
		c, err := familyFilter(b, f, rf)
		if err != nil {
			return nil, err
		}
		conds = append(conds, c)
	}
	var sel []string
	for _, d := range dims {
		key, cell := familyDimension(f, d)
		sel = append(sel, key, cell)
	}
	cols, groupBy := "", ""
	if len(sel) > 0 {
		cols = strings.Join(sel, ", ") + ","
		groupBy = " GROUP BY " + strings.Join(sel, ", ")
	}
	where := ""
	if len(conds) > 0 {
		where = " AND " + strings.Join(conds, " AND ")
	}
	var sql string
	if f == famAds {
		sql = `
			WITH camp AS (
				-- The name shown is the newest non-empty one, as in the campaigns report.
				SELECT channel, account_id, campaign_id,
					coalesce(nullif((array_agg(campaign_name ORDER BY campaign_name = '', date DESC, synced_at DESC))[1], ''),
						campaign_id) AS name
				FROM ad_metrics_daily
				WHERE workspace_id = $1 AND currency = $4 AND date BETWEEN $2::date AND $3::date
				GROUP BY channel, account_id, campaign_id
			)
			SELECT ` + cols + `
				coalesce(sum(a.spend_micros), 0)::bigint, coalesce(sum(a.impressions), 0)::bigint,
				coalesce(sum(a.clicks), 0)::bigint, (coalesce(sum(a.conversions), 0) * 1000000)::bigint,
				coalesce(sum(a.conversion_value_micros), 0)::bigint
			FROM ad_metrics_daily a
			JOIN camp c ON c.channel = a.channel AND c.account_id = a.account_id AND c.campaign_id = a.campaign_id
			WHERE a.workspace_id = $1 AND a.currency = $4 AND a.date BETWEEN $2::date AND $3::date` + where + groupBy
	} else {
		sql = `
			SELECT ` + cols + `
				count(*), coalesce(sum(o.total_micros - o.refunded_micros), 0)::bigint
			FROM orders o
			WHERE o.workspace_id = $1 AND o.currency = $4 AND ` + validOrder("o") + `
				AND ` + createdInDays("o", "$2", "$3", "$5::text") + where + groupBy
	}
	sql += " LIMIT " + strconv.Itoa(MaxReportRows+1)
	rows, err := q.db.Query(ctx, sql, b.args...)
	if err != nil {
		return nil, fmt.Errorf("%s by %v: %w", f.noun(), dims, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (group, error) {
		var g group
		pairs := make([]string, 2*len(dims))
		dest := make([]any, 0, len(pairs)+5)
		for i := range pairs {
			dest = append(dest, &pairs[i])
		}
		t := &g.totals
		if f == famAds {
			dest = append(dest, &t.SpendMicros, &t.Impressions, &t.Clicks, &t.ConversionsMicros, &t.ConversionValueMicros)
		} else {
			dest = append(dest, &t.Orders, &t.RevenueMicros)
		}
		if err := row.Scan(dest...); err != nil {
			return g, err
		}
		keys := make([]string, len(dims))
		g.cells = make([]string, len(dims))
		for i := range dims {
			keys[i], g.cells[i] = pairs[2*i], pairs[2*i+1]
		}
		g.key = strings.Join(keys, "\x00")
		return g, nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s by %v: %w", f.noun(), dims, err)
	}
	if len(out) > MaxReportRows {
		return nil, fmt.Errorf("%s by %v: more than %d groups: %w", f.noun(), dims, MaxReportRows, ErrTooManyRows)
	}
	return out, nil
}
