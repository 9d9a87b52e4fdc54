package reporting

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"

	"github.com/omnitrackiq/omnitrackiq/internal/analytics"
	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	"github.com/omnitrackiq/omnitrackiq/internal/report"
)

// MaxChartPoints bounds the bars of a document's chart.
const MaxChartPoints = 31

// Row labels of the summary rows, in the first dimension cell.
const (
	TotalLabel    = "Total"
	PreviousLabel = "Previous period"
	ChangeLabel   = "Change"
)

var columnLabels = map[string]string{
	"revenue": "Revenue", "revenue_micros": "Revenue (micros)", "orders": "Orders",
	"aov": "AOV", "aov_micros": "AOV (micros)", "spend": "Spend", "spend_micros": "Spend (micros)",
	"blended_roas": "Blended ROAS", "platform_roas": "Platform ROAS", "new_customers": "New customers",
	"new_customer_cac": "New-customer CAC", "new_customer_cac_micros": "New-customer CAC (micros)",
	"impressions": "Impressions", "clicks": "Clicks", "ctr": "CTR", "cpc": "CPC", "cpc_micros": "CPC (micros)",
	"conversions": "Conversions", "conversion_value": "Conversion value",
	"conversion_value_micros": "Conversion value (micros)", "sessions": "Sessions", "conversion_rate": "Conversion rate",
	report.DimDay: "Day", report.DimWeek: "Week", report.DimMonth: "Month", report.DimChannel: "Channel", report.DimCampaign: "Campaign",
	report.DimUTMSource: "UTM source", report.DimUTMMedium: "UTM medium", report.DimUTMCampaign: "UTM campaign",
}

// ColumnLabel is the human label of a metric or dimension, the key itself when unknown.
func ColumnLabel(key string) string {
	if l, ok := columnLabels[key]; ok {
		return l
	}
	return key
}

var channelNames = map[string]string{
	"meta": "Meta Ads", "google_ads": "Google Ads", "tiktok": "TikTok Ads", "shopify": "Shopify", "ga4": "Google Analytics 4",
}

// NoneLabel is the cell of a UTM dimension whose orders carry no value.
const NoneLabel = "(none)"

// Build queries the numbers of a run and lays them out as a Document: rows sorted and
// limited, every cell formatted as the summary shows its metric, totals over every row,
// the previous period and its change when the definition compares, a chart of the first
// metric and notes on what the numbers rest on.
func Build(ctx context.Context, q *analytics.Queries, in report.BuildInput) (report.Document, error) {
	def := in.Definition
	w, err := channels.ParseWindow(in.From, in.To)
	if err != nil {
		return report.Document{}, fmt.Errorf("build report %s: %w", in.ReportID, err)
	}
	res, err := q.Report(ctx, in.WorkspaceID, analytics.ReportQuery{
		Metrics: def.Metrics, Dimensions: def.Dimensions, Filters: reportFilters(def.Filters),
		Window: w, Compare: def.ComparePrevious,
	})
	if err != nil {
		return report.Document{}, fmt.Errorf("build report %s: %w", in.ReportID, err)
	}
	doc := report.Document{
		Title: def.Name, ReportID: in.ReportID, RunID: in.RunID, From: in.From, To: in.To,
		Timezone: cmp.Or(def.Timezone, res.Workspace.Timezone), Currency: res.Workspace.Currency,
		GeneratedAt: in.GeneratedAt, Freshness: in.Freshness,
	}
	for _, d := range def.Dimensions {
		doc.Columns = append(doc.Columns, report.Column{Key: d, Label: ColumnLabel(d)})
	}
	for _, m := range def.Metrics {
		doc.Columns = append(doc.Columns, report.Column{Key: m, Label: ColumnLabel(m), Metric: true})
	}

	rows := make([]builtRow, 0, len(res.Rows))
	for _, r := range res.Rows {
		cells, err := metricCells(r.Totals, def.Metrics)
		if err != nil {
			return report.Document{}, fmt.Errorf("build report %s: %w", in.ReportID, err)
		}
		dims := slices.Clone(r.Dims)
		for i, d := range def.Dimensions {
			if dims[i] == "" && (d == report.DimUTMSource || d == report.DimUTMMedium || d == report.DimUTMCampaign) {
				dims[i] = NoneLabel
			}
		}
		rows = append(rows, builtRow{dims: dims, metrics: cells, totals: r.Totals})
	}
	sortRows(rows, def)
	doc.TotalRows = len(rows)
	limit := def.Limit
	if limit <= 0 {
		limit = report.DefaultRows
	}
	if in.MaxRows > 0 && in.MaxRows < limit {
		limit = in.MaxRows
	}
	kept := rows
	if len(rows) > limit {
		kept, doc.Truncated = rows[:limit], true
	}
	doc.Rows = make([][]string, 0, len(kept))
	for _, r := range kept {
		doc.Rows = append(doc.Rows, append(slices.Clone(r.dims), r.metrics...))
	}

	if doc.Total, err = summaryRow(TotalLabel, len(def.Dimensions), res.Total, def.Metrics); err != nil {
		return report.Document{}, fmt.Errorf("build report %s: %w", in.ReportID, err)
	}
	if res.Previous != nil {
		if doc.Previous, err = summaryRow(PreviousLabel, len(def.Dimensions), *res.Previous, def.Metrics); err != nil {
			return report.Document{}, fmt.Errorf("build report %s: %w", in.ReportID, err)
		}
		doc.PreviousFrom = res.PreviousWindow.From.Format(channels.DateLayout)
		doc.PreviousTo = res.PreviousWindow.To.Format(channels.DateLayout)
		doc.Change = make([]string, len(doc.Total))
		for i := range doc.Total {
			switch {
			case i == 0 && len(def.Dimensions) > 0:
				doc.Change[i] = ChangeLabel
			case i >= len(def.Dimensions):
				doc.Change[i] = Change(doc.Previous[i], doc.Total[i])
			}
		}
	}
	if doc.Chart, err = chart(def, rows); err != nil {
		return report.Document{}, fmt.Errorf("build report %s: %w", in.ReportID, err)
	}
	doc.Notes = notes(in, res.ExcludedCurrencies, res.Workspace.Currency, doc)
	return doc, nil
}

// reportFilters turns the definition's filters into the query's: one value for the
// single-value operators, the list for in and not_in.
func reportFilters(fs []report.Filter) []analytics.ReportFilter {
	out := make([]analytics.ReportFilter, 0, len(fs))
	for _, f := range fs {
		values := f.Values
		if f.Value != "" && len(values) == 0 {
			values = []string{f.Value}
		}
		out = append(out, analytics.ReportFilter{Field: f.Field, Op: f.Op, Values: values})
	}
	return out
}

// builtRow is a row before the limit: its cells and the totals they came from.
type builtRow struct {
	dims, metrics []string
	totals        analytics.Totals
}

// metricCells formats the metrics of t exactly as the summary's JSON shows them: strings
// unquoted, numbers as they are, null as "".
func metricCells(t analytics.Totals, metrics []string) ([]string, error) {
	values, err := t.KPIs().Select(metrics)
	if err != nil {
		return nil, err
	}
	cells := make([]string, len(metrics))
	for i, m := range metrics {
		raw := values[m]
		switch {
		case string(raw) == "null":
		case len(raw) > 0 && raw[0] == '"':
			if err := json.Unmarshal(raw, &cells[i]); err != nil {
				return nil, fmt.Errorf("metric %s: %w", m, err)
			}
		default:
			cells[i] = string(raw)
		}
	}
	return cells, nil
}

// summaryRow is a totals row: label in the first dimension cell, the others empty.
func summaryRow(label string, dims int, t analytics.Totals, metrics []string) ([]string, error) {
	cells, err := metricCells(t, metrics)
	if err != nil {
		return nil, err
	}
	row := make([]string, dims, dims+len(cells))
	if dims > 0 {
		row[0] = label
	}
	return append(row, cells...), nil
}

// number reads a formatted metric cell exactly; nil for an undefined ("") value.
func number(cell string) *big.Rat {
	if cell == "" {
		return nil
	}
	r, ok := new(big.Rat).SetString(cell)
	if !ok {
		return nil
	}
	return r
}

// Change is the relative change from prev to cur as a percent with one decimal, signed
// ("+12.5%", "-3.0%", "0.0%"); "" when either is undefined or prev is 0.
func Change(prev, cur string) string {
	p, c := number(prev), number(cur)
	if p == nil || c == nil || p.Sign() == 0 {
		return ""
	}
	r := new(big.Rat).Sub(c, p)
	r.Quo(r, new(big.Rat).Abs(p))
	r.Mul(r, big.NewRat(100, 1))
	s := r.FloatString(1) // rounds half away from zero
	switch {
	case s == "-0.0" || s == "0.0":
		return "0.0%"
	case r.Sign() > 0:
		return "+" + s + "%"
	}
	return s + "%"
}

// sortRows orders rows by def.Sort, by default the time dimension ascending, else the
// first metric descending; ties go by the dimension cells.
func sortRows(rows []builtRow, def report.Definition) {
	col, desc, metric := -1, false, false
	by := ""
	if def.Sort != nil {
		by, desc = def.Sort.By, def.Sort.Desc
	} else if t := slices.IndexFunc(def.Dimensions, analytics.ReportTimeDimension); t >= 0 {
		by = def.Dimensions[t]
	} else if len(def.Metrics) > 0 {
		by, desc = def.Metrics[0], true
	}
	if i := slices.Index(def.Dimensions, by); i >= 0 {
		col = i
	} else if i := slices.Index(def.Metrics, by); i >= 0 {
		col, metric = i, true
	}
	slices.SortStableFunc(rows, func(a, b builtRow) int {
		c := 0
		switch {
		case col < 0:
		case metric:
			c = compareNumbers(number(a.metrics[col]), number(b.metrics[col]))
		default:
			c = strings.Compare(a.dims[col], b.dims[col])
		}
		if desc {
			c = -c
		}
		if c != 0 {
			return c
		}
		return slices.Compare(a.dims, b.dims)
	})
}

// compareNumbers orders undefined values below every number.
func compareNumbers(a, b *big.Rat) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return -1
	case b == nil:
		return 1
	}
	return a.Cmp(b)
}

// chart draws the first metric: per time bucket (the rows' totals added up per bucket,
// the latest MaxChartPoints) when the report has a time dimension, else per row in the
// report's order (the first MaxChartPoints). A report without dimensions has no chart.
func chart(def report.Definition, rows []builtRow) (*report.Chart, error) {
	if len(def.Dimensions) == 0 || len(def.Metrics) == 0 || len(rows) == 0 {
		return nil, nil
	}
	m := def.Metrics[0]
	c := &report.Chart{Metric: m, Label: ColumnLabel(m)}
	point := func(label string, t analytics.Totals) error {
		cells, err := metricCells(t, []string{m})
		if err != nil {
			return err
		}
		v, _ := strconv.ParseFloat(cells[0], 64)
		c.Points = append(c.Points, report.ChartPoint{Label: label, Value: v, Text: cells[0]})
		return nil
	}
	if t := slices.IndexFunc(def.Dimensions, analytics.ReportTimeDimension); t >= 0 {
		buckets := map[string]analytics.Totals{}
		var keys []string
		for _, r := range rows {
			k := r.dims[t]
			if _, ok := buckets[k]; !ok {
				keys = append(keys, k)
			}
			buckets[k] = buckets[k].Plus(r.totals)
		}
		slices.Sort(keys)
		keys = keys[max(0, len(keys)-MaxChartPoints):]
		for _, k := range keys {
			if err := point(k, buckets[k]); err != nil {
				return nil, err
			}
		}
		return c, nil
	}
	for _, r := range rows[:min(len(rows), MaxChartPoints)] {
		if err := point(strings.Join(r.dims, " · "), r.totals); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// notes says what the numbers rest on: connections whose data may be incomplete for the
// range, currencies left out, rows cut by the limit.
func notes(in report.BuildInput, excluded []string, currency string, doc report.Document) []string {
	var out []string
	for _, f := range in.Freshness {
		if !f.Stale(in.To) {
			continue
		}
		name := cmp.Or(channelNames[f.Channel], f.Channel)
		if f.Name != "" {
			name += " (" + f.Name + ")"
		}
		incomplete := "its numbers may be incomplete"
		if f.DataThrough != "" {
			incomplete = "numbers after " + f.DataThrough + " may be incomplete"
		}
		var state string
		switch {
		case f.LastSync == "failed":
			state = "last sync failed"
			if f.LastSyncAt != nil {
				state += " " + f.LastSyncAt.UTC().Format("2006-01-02 15:04") + " UTC"
			}
		case f.LastSync == "running":
			state = "sync running"
		case f.LastSync == "" || f.DataThrough == "":
			state, incomplete = "never synced", "its numbers are missing"
		case f.Status != "active":
			state = "connection " + strings.ReplaceAll(f.Status, "_", " ")
		default:
			state = "data through " + f.DataThrough
		}
		out = append(out, name+": "+state+" — "+incomplete)
	}
	if len(excluded) > 0 {
		out = append(out, fmt.Sprintf("Amounts in %s are left out: the report sums %s only (no currency conversion).",
			strings.Join(excluded, ", "), currency))
	}
	if doc.Truncated {
		out = append(out, fmt.Sprintf("Showing %d of %d rows; the totals cover all rows.", len(doc.Rows), doc.TotalRows))
	}
	return out
}
