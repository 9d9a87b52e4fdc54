package render

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/report"
)

// fixture is a compared report by channel and campaign whose campaign names carry markup,
// a spreadsheet formula and characters cp1252 cannot show.
func fixture() report.Document {
	return report.Document{
		Title:       "Weekly performance",
		ReportID:    "rep_1",
		RunID:       "run_1",
		From:        "2026-03-02",
		To:          "2026-03-08",
		Timezone:    "Europe/Berlin",
		Currency:    "EUR",
		GeneratedAt: time.Date(2026, 3, 9, 6, 0, 0, 0, time.UTC),
		Columns: []report.Column{
			{Key: "channel", Label: "Channel"},
			{Key: "campaign", Label: "Campaign"},
			{Key: "revenue", Label: "Revenue", Metric: true},
			{Key: "spend", Label: "Spend", Metric: true},
			{Key: "orders", Label: "Orders", Metric: true},
			{Key: "blended_roas", Label: "Blended ROAS", Metric: true},
		},
		Rows: [][]string{
			{"google_ads", "<script>alert(1)</script>", "800.00", "200.00", "8", "4"},
			{"meta", "=HYPERLINK(\"http://evil\")", "300.50", "150.25", "3", "2"},
			{"tiktok", "Café – Größe 日本", "134.06", "-10.00", "1", ""},
		},
		Total:        []string{"Total", "", "1234.56", "340.25", "12", "3.6284"},
		Previous:     []string{"", "", "1000.00", "400.00", "10", "2.5"},
		Change:       []string{"", "", "+23.5%", "-14.9%", "+20.0%", "+45.1%"},
		PreviousFrom: "2026-02-23",
		PreviousTo:   "2026-03-01",
		TotalRows:    3,
		Chart: &report.Chart{Metric: "revenue", Label: "Revenue by campaign", Points: []report.ChartPoint{
			{Label: "<script>alert(1)</script>", Value: 800, Text: "800.00"},
			{Label: "=HYPERLINK(\"http://evil\")", Value: 300.5, Text: "300.50"},
			{Label: "Café – Größe 日本", Value: 134.06, Text: "134.06"},
		}},
		Notes: []string{"Orders in USD (2) are left out: the workspace reports in EUR."},
		Freshness: []report.Freshness{
			{Channel: "google_ads", Name: "Main account", DataThrough: "2026-03-08", LastSync: "succeeded", Status: "active"},
			{Channel: "meta", Name: "Brand", DataThrough: "2026-03-05", LastSync: "failed", LastError: "token expired", Status: "needs_reauth"},
		},
	}
}

// bigFixture is a report of n rows by day, enough to need several pages.
func bigFixture(n int) report.Document {
	doc := fixture()
	doc.Rows = nil
	for i := range n {
		doc.Rows = append(doc.Rows, []string{"google_ads", fmt.Sprintf("Campaign %03d", i), fmt.Sprintf("%d.00", i), "1.00", "1", "1"})
	}
	doc.TotalRows = n
	return doc
}

func TestSlugAndFilename(t *testing.T) {
	for _, tc := range []struct{ title, want string }{
		{"Weekly performance", "weekly-performance"},
		{"  ACME / Q1 -- Spend & ROAS!  ", "acme-q1-spend-roas"},
		{"Größe 2026", "gr-e-2026"},
		{"日本", "report"},
		{"", "report"},
		{strings.Repeat("a", 100), strings.Repeat("a", maxSlug)},
	} {
		if got := slug(tc.title); got != tc.want {
			t.Errorf("slug(%q) = %q, want %q", tc.title, got, tc.want)
		}
	}
	if got := Filename(fixture(), "pdf"); got != "weekly-performance_2026-03-02_2026-03-08.pdf" {
		t.Errorf("Filename = %q", got)
	}
}

func TestRenderFormats(t *testing.T) {
	doc := fixture()
	arts, err := All(doc, report.AllFormats())
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ format, ctype, file, prefix string }{
		{"csv", "text/csv; charset=utf-8", "weekly-performance_2026-03-02_2026-03-08.csv", "Channel,Campaign,Revenue"},
		{"html", "text/html; charset=utf-8", "weekly-performance_2026-03-02_2026-03-08.html", "<!DOCTYPE html>"},
		{"pdf", "application/pdf", "weekly-performance_2026-03-02_2026-03-08.pdf", "%PDF-"},
	}
	if len(arts) != len(want) {
		t.Fatalf("All gave %d artifacts, want %d", len(arts), len(want))
	}
	for i, w := range want {
		a := arts[i]
		if a.Format != w.format || a.ContentType != w.ctype || a.Filename != w.file || !bytes.HasPrefix(a.Content, []byte(w.prefix)) {
			t.Errorf("artifact %d = %s %q %q %.20q, want %s %q %q %q…", i, a.Format, a.ContentType, a.Filename, a.Content, w.format, w.ctype, w.file, w.prefix)
		}
		// Rendering is a function of the document: a retried activity stores the same bytes.
		again, err := Render(doc, w.format)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again.Content, a.Content) {
			t.Errorf("%s: two renders of one document differ", w.format)
		}
	}
	if _, err := Render(doc, "xlsx"); err == nil || !strings.Contains(err.Error(), `"xlsx"`) {
		t.Errorf("Render xlsx: err = %v, want unknown format", err)
	}
	if _, err := All(doc, []string{"csv", "docx"}); err == nil {
		t.Error("All with an unknown format: no error")
	}
}

func TestCSV(t *testing.T) {
	doc := fixture()
	a, err := Render(doc, report.FormatCSV)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.HasPrefix(a.Content, []byte("\xef\xbb\xbf")) {
		t.Error("CSV starts with a byte-order mark")
	}
	if got := bytes.Count(a.Content, []byte("\r\n")); got != 7 {
		t.Errorf("CSV has %d CRLF line ends, want 7 (header, 3 rows, total, previous, change)", got)
	}
	recs, err := csv.NewReader(bytes.NewReader(a.Content)).ReadAll()
	if err != nil {
		t.Fatalf("parse CSV: %v\n%s", err, a.Content)
	}
	want := [][]string{
		{"Channel", "Campaign", "Revenue", "Spend", "Orders", "Blended ROAS"},
		{"google_ads", "<script>alert(1)</script>", "800.00", "200.00", "8", "4"},
		{"meta", "'=HYPERLINK(\"http://evil\")", "300.50", "150.25", "3", "2"},
		{"tiktok", "Café – Größe 日本", "134.06", "-10.00", "1", ""},
		doc.Total,
		{"Previous period (2026-02-23 – 2026-03-01)", "", "1000.00", "400.00", "10", "2.5"},
		{"Change", "", "+23.5%", "-14.9%", "+20.0%", "+45.1%"},
	}
	if !slices.EqualFunc(recs, want, slices.Equal) {
		t.Errorf("CSV records:\n%q\nwant\n%q", recs, want)
	}
	if !slices.Equal(doc.Total, []string{"Total", "", "1234.56", "340.25", "12", "3.6284"}) {
		t.Errorf("rendering changed the document's Total row: %q", doc.Total)
	}
}

func TestCSVWithoutDimensionsOrComparison(t *testing.T) {
	doc := report.Document{
		Title: "Totals", From: "2026-03-01", To: "2026-03-01",
		Columns: []report.Column{{Key: "revenue", Label: "Revenue", Metric: true}, {Key: "orders", Label: "Orders", Metric: true}},
		Rows:    [][]string{{"-5.00", "2"}},
		Total:   []string{"-5.00", "2"},
	}
	a, err := Render(doc, report.FormatCSV)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(bytes.NewReader(a.Content)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	// Metric cells stay numbers even when negative; there is no label column to add.
	want := [][]string{{"Revenue", "Orders"}, {"-5.00", "2"}, {"-5.00", "2"}}
	if !slices.EqualFunc(recs, want, slices.Equal) {
		t.Errorf("CSV records %q, want %q", recs, want)
	}
}

func TestDefuse(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"=1+2", "'=1+2"},
		{"+49 30 1234", "'+49 30 1234"},
		{"-cmd", "'-cmd"},
		{"@SUM(A1)", "'@SUM(A1)"},
		{"\tx", "'\tx"},
		{"\rx", "'\rx"},
		{"Brand = search", "Brand = search"},
		{"", ""},
		{"summer_sale", "summer_sale"},
	} {
		if got := defuse(tc.in); got != tc.want {
			t.Errorf("defuse(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestFitWidths(t *testing.T) {
	metric := func(i int) bool { return i > 0 }
	for _, tc := range []struct {
		name   string
		widths []float64
		total  float64
		want   []float64
	}{
		{"spare width is shared", []float64{10, 10}, 40, []float64{20, 20}},
		{"text column shrinks first", []float64{100, 20, 20}, 100, []float64{60, 20, 20}},
		{"then every column", []float64{30, 60, 60}, 100, []float64{100.0 * 20 / 140, 100.0 * 60 / 140, 100.0 * 60 / 140}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := slices.Clone(tc.widths)
			fitWidths(w, metric, tc.total)
			for i := range w {
				if d := w[i] - tc.want[i]; d > 1e-9 || d < -1e-9 {
					t.Fatalf("widths %v, want %v", w, tc.want)
				}
			}
		})
	}
}
