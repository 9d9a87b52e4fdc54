// Package report holds what a report is: its definition (metrics, dimensions, filters, a
// date range, formats, recipients and a schedule), the resolution of its range at a moment
// in its time zone, and the document that the renderers turn into CSV, HTML and PDF. It
// depends on no other package of the module, so the store can hold its types; validating a
// definition and building a document from the KPIs is package reporting's job.
package report

import "time"

// Definition is a report as the API accepts it and as reports.definition stores it.
type Definition struct {
	Name string `json:"name"`
	// Metrics are KPI names of /v1/metrics/summary (analytics.MetricNames), in column order.
	Metrics []string `json:"metrics"`
	// Dimensions split the rows (see Dimensions); none means one row of totals.
	Dimensions []string `json:"dimensions"`
	Filters    []Filter `json:"filters"`
	Range      Range    `json:"range"`
	// ComparePrevious adds the previous period of the same length (analytics.PreviousWindow).
	ComparePrevious bool  `json:"compare_previous"`
	Sort            *Sort `json:"sort,omitempty"`
	// Limit bounds the rows (1..MaxRows); 0 means DefaultRows. Totals cover every row.
	Limit   int      `json:"limit"`
	Formats []string `json:"formats"`
	// Timezone is the IANA zone the relative range and the schedule are read in; empty
	// means the workspace's.
	Timezone   string     `json:"timezone"`
	Schedule   *Schedule  `json:"schedule,omitempty"`
	Recipients Recipients `json:"recipients"`
}

// Filter keeps the rows whose Field compares to Value (Values for in and not_in).
type Filter struct {
	Field  string   `json:"field"`
	Op     string   `json:"op"`
	Value  string   `json:"value,omitempty"`
	Values []string `json:"values,omitempty"`
}

// Range is a relative range (Relative) or a fixed one (From and To, both inclusive,
// YYYY-MM-DD workspace days).
type Range struct {
	Relative string `json:"relative,omitempty"`
	From     string `json:"from,omitempty"`
	To       string `json:"to,omitempty"`
}

// Sort orders the rows by a metric or dimension of the report.
type Sort struct {
	By   string `json:"by"`
	Desc bool   `json:"desc"`
}

// Schedule runs the report daily, weekly (on Weekday) or monthly (on DayOfMonth, clamped
// to the month's last day) at Time (HH:MM) in the report's time zone.
type Schedule struct {
	Frequency  string `json:"frequency"`
	Time       string `json:"time"`
	Weekday    string `json:"weekday,omitempty"`
	DayOfMonth int    `json:"day_of_month,omitempty"`
}

// Recipients are where a run is delivered.
type Recipients struct {
	Emails   []string `json:"emails"`
	Webhooks []string `json:"webhooks"`
}

// Dimensions a report may split by.
const (
	DimDay         = "day"
	DimWeek        = "week"
	DimMonth       = "month"
	DimChannel     = "channel"
	DimCampaign    = "campaign"
	DimUTMSource   = "utm_source"
	DimUTMMedium   = "utm_medium"
	DimUTMCampaign = "utm_campaign"
)

// Dimensions lists every dimension.
func Dimensions() []string {
	return []string{DimDay, DimWeek, DimMonth, DimChannel, DimCampaign, DimUTMSource, DimUTMMedium, DimUTMCampaign}
}

// Relative ranges, resolved at the run's moment in the report's time zone. Each ends on a
// complete day except the "to date" ones, which end today.
const (
	RangeYesterday   = "yesterday"
	RangeLast7Days   = "last_7_days"
	RangeLast30Days  = "last_30_days"
	RangeLast90Days  = "last_90_days"
	RangeLastWeek    = "last_week"
	RangeWeekToDate  = "week_to_date"
	RangeMonthToDate = "month_to_date"
	RangeLastMonth   = "last_month"
)

// RelativeRanges lists every relative range.
func RelativeRanges() []string {
	return []string{RangeYesterday, RangeLast7Days, RangeLast30Days, RangeLast90Days, RangeLastWeek,
		RangeWeekToDate, RangeMonthToDate, RangeLastMonth}
}

// Formats.
const (
	FormatCSV  = "csv"
	FormatHTML = "html"
	FormatPDF  = "pdf"
)

// AllFormats lists every format.
func AllFormats() []string { return []string{FormatCSV, FormatHTML, FormatPDF} }

// Schedule frequencies.
const (
	Daily   = "daily"
	Weekly  = "weekly"
	Monthly = "monthly"
)

// Row bounds.
const (
	DefaultRows = 1000
	MaxRows     = 10000
	// PreviewRows bounds the rows POST /v1/reports/preview returns.
	PreviewRows = 500
)

// Freshness is what a report's numbers rest on for one connection: the last day its data
// reaches and how its newest sync ended.
type Freshness struct {
	Channel      string `json:"channel"`
	ConnectionID string `json:"connection_id"`
	Name         string `json:"name"`
	// DataThrough is the last day fully read (YYYY-MM-DD), "" when never synced.
	DataThrough string `json:"data_through"`
	// LastSync is running, succeeded, failed or "" (never).
	LastSync   string     `json:"last_sync"`
	LastError  string     `json:"last_error,omitempty"`
	LastSyncAt *time.Time `json:"last_sync_at,omitempty"`
	// Status is the connection's status (active, needs_reauth, error, disabled).
	Status string `json:"status"`
}

// Stale says the numbers of this connection may be incomplete for a range ending on to.
func (f Freshness) Stale(to string) bool {
	return f.LastSync == "failed" || f.LastSync == "running" || f.DataThrough == "" || f.DataThrough < to ||
		f.Status != "active"
}
