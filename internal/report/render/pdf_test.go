package render

import (
	"bytes"
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"rsc.io/pdf"

	"github.com/omnitrackiq/omnitrackiq/internal/report"
)

// pdfLines extracts the text of each page as lines, top to bottom, with the cells of a
// line separated by "|". rsc.io/pdf reports each glyph but drops spaces, and since
// fpdf's core fonts carry no width table every glyph of one string has the string's x:
// a new x is a new cell, and the spaces inside a cell are lost (squash the expected text).
func pdfLines(t *testing.T, content []byte) [][]string {
	t.Helper()
	r, err := pdf.NewReader(bytes.NewReader(content), int64(len(content)))
	if err != nil {
		t.Fatalf("read pdf: %v", err)
	}
	var pages [][]string
	for i := 1; i <= r.NumPage(); i++ {
		texts := r.Page(i).Content().Text
		// PDF y grows upwards: the top line has the largest y.
		slices.SortStableFunc(texts, func(a, b pdf.Text) int {
			if d := math.Round(b.Y - a.Y); d != 0 {
				return int(d)
			}
			return cmp.Compare(a.X, b.X)
		})
		var lines []string
		var line strings.Builder
		for j, tx := range texts {
			if j > 0 {
				prev := texts[j-1]
				switch {
				case math.Round(prev.Y-tx.Y) != 0:
					lines = append(lines, line.String())
					line.Reset()
				case math.Abs(tx.X-prev.X) > 0.01:
					line.WriteString("|")
				}
			}
			line.WriteString(tx.S)
		}
		lines = append(lines, line.String())
		pages = append(pages, lines)
	}
	return pages
}

// squash is text as pdfLines extracts it: no spaces, cells separated by "|".
func squash(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, " | ", "|"), " ", "")
}

// hasLine says whether a line holds want, written with spaces and " | " between cells.
func hasLine(lines []string, want string) bool {
	want = squash(want)
	return slices.ContainsFunc(lines, func(l string) bool { return strings.Contains(l, want) })
}

func TestPDF(t *testing.T) {
	doc := fixture()
	a, err := Render(doc, report.FormatPDF)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(a.Content, []byte("%PDF-")) {
		t.Fatalf("content starts %.10q", a.Content)
	}
	for _, meta := range []string{"/Creator (OmniTrackIQ)", "/Producer (OmniTrackIQ)", "/CreationDate (D:20260309060000)"} {
		// isUTF8 metadata is written as UTF-16; look for it in that form too.
		if !bytes.Contains(a.Content, []byte(meta)) && !bytes.Contains(a.Content, utf16Meta(meta)) {
			t.Errorf("metadata lacks %s", meta)
		}
	}
	pages := pdfLines(t, a.Content)
	if len(pages) != 1 {
		t.Fatalf("%d pages, want 1", len(pages))
	}
	lines := pages[0]
	for _, want := range []string{
		"Weekly performance",
		"2026-03-02 – 2026-03-08",
		"Time zone Europe/Berlin · Currency EUR · Generated 2026-03-09 07:00 CET",
		doc.Notes[0],
		"meta (Brand): data through 2026-03-05, last sync failed, connection needs reauth, token expired",
		"Revenue by campaign",
		"Channel | Campaign | Revenue | Spend | Orders | Blended ROAS",
		"google_ads | <script>alert(1)</script> | 800.00 | 200.00 | 8 | 4",
		// cp1252 has é, – and ß but no Japanese: those become "?".
		"tiktok | Café – Größe ?? | 134.06 | -10.00 | 1",
		"Total | 1234.56 | 340.25 | 12 | 3.6284",
		"Previous period (2026-02-23 – 2026-03-01) | 1000.00 | 400.00 | 10 | 2.5",
		"Change | +23.5% | -14.9% | +20.0% | +45.1%",
		"Page 1 of 1",
	} {
		if !hasLine(lines, want) {
			t.Errorf("PDF text lacks %q; lines:\n%s", want, strings.Join(lines, "\n"))
		}
	}
}

func utf16Meta(meta string) []byte {
	k, v, _ := strings.Cut(meta, " (")
	v = strings.TrimSuffix(v, ")")
	b := []byte(k + " (\xfe\xff")
	for _, r := range v {
		b = append(b, byte(r>>8), byte(r))
	}
	return append(b, ')')
}

func TestPDFPaginates(t *testing.T) {
	doc := bigFixture(300)
	a, err := Render(doc, report.FormatPDF)
	if err != nil {
		t.Fatal(err)
	}
	pages := pdfLines(t, a.Content)
	if len(pages) < 2 {
		t.Fatalf("300 rows fit %d page", len(pages))
	}
	seen := map[string]bool{}
	for i, lines := range pages {
		if !hasLine(lines, "Channel | Campaign | Revenue | Spend | Orders | Blended ROAS") {
			t.Errorf("page %d has no table header", i+1)
		}
		if !hasLine(lines, fmt.Sprintf("Page %d of %d", i+1, len(pages))) {
			t.Errorf("page %d has no page number", i+1)
		}
		for _, l := range lines {
			if strings.HasPrefix(l, squash("google_ads | Campaign ")) {
				seen[l] = true
			}
		}
	}
	if len(seen) != 300 {
		t.Errorf("extracted %d distinct rows, want 300", len(seen))
	}
	last := pages[len(pages)-1]
	for _, want := range []string{"google_ads | Campaign 299 | 299.00", "Total | 1234.56 | 340.25 | 12 | 3.6284"} {
		if !hasLine(last, want) {
			t.Errorf("last page lacks %q", want)
		}
	}
}

func TestPDFOrientation(t *testing.T) {
	for _, tc := range []struct {
		metrics int
		want    string // the MediaBox of A4 portrait or landscape, in points
	}{
		{5, "/MediaBox [0 0 595.28 841.89]"},
		{7, "/MediaBox [0 0 841.89 595.28]"},
	} {
		doc := report.Document{Title: "Wide", From: "2026-03-01", To: "2026-03-02", Timezone: "UTC"}
		doc.Columns = append(doc.Columns, report.Column{Key: "channel", Label: "Channel"})
		doc.Total = []string{"Total"}
		for i := range tc.metrics {
			doc.Columns = append(doc.Columns, report.Column{Key: fmt.Sprint(i), Label: fmt.Sprintf("M%d", i), Metric: true})
			doc.Total = append(doc.Total, fmt.Sprintf("%d.5", i))
		}
		a, err := Render(doc, report.FormatPDF)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(a.Content, []byte(tc.want)) {
			t.Errorf("%d columns: no %s", tc.metrics+1, tc.want)
		}
		if !hasLine(pdfLines(t, a.Content)[0], "Total | 0.5") {
			t.Errorf("%d columns: total not extracted", tc.metrics+1)
		}
	}
}
