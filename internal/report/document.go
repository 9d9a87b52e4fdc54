package report

import "time"

// Document is a rendered-ready report: every cell already formatted, so CSV, HTML and PDF
// show exactly the same values.
type Document struct {
	Title       string
	ReportID    string
	RunID       string
	From, To    string // the range, YYYY-MM-DD, inclusive
	Timezone    string
	Currency    string
	GeneratedAt time.Time
	Columns     []Column
	// Rows are the cells of each row in Columns order.
	Rows [][]string
	// Total is the totals row over every row (not only the ones kept by the limit); its
	// first dimension cell is "Total" (every cell of a report without dimensions is a
	// metric).
	Total []string
	// Previous, when the report compares, is the previous period's totals row, and
	// Change the relative change per metric column ("" where undefined).
	Previous                 []string
	Change                   []string
	PreviousFrom, PreviousTo string
	// TotalRows is the number of rows before the limit; Truncated says some were cut.
	TotalRows int
	Truncated bool
	Chart     *Chart
	// Notes are shown above the table: data freshness, excluded currencies, truncation.
	Notes     []string
	Freshness []Freshness
}

// Column is one column of the table.
type Column struct {
	Key   string // metric or dimension name
	Label string
	// Metric columns are right-aligned numbers; dimension columns are text.
	Metric bool
}

// Chart is a small bar chart of one metric over the rows (or the time buckets).
type Chart struct {
	Metric string
	Label  string
	Points []ChartPoint
}

// ChartPoint is one bar.
type ChartPoint struct {
	Label string
	Value float64
	// Text is the value as the table shows it.
	Text string
}

// Artifact is one rendered file of a run.
type Artifact struct {
	Format      string
	ContentType string
	Filename    string
	Content     []byte
}

// BuildInput is what report.Build needs to query a run's numbers into a Document.
type BuildInput struct {
	WorkspaceID string
	ReportID    string
	RunID       string
	Definition  Definition
	// From and To are the resolved range (YYYY-MM-DD workspace days, inclusive).
	From, To    string
	GeneratedAt time.Time
	Freshness   []Freshness
	// MaxRows caps the rows kept (the definition's limit applies too); 0: the limit alone.
	MaxRows int
}
