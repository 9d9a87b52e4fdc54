package render

import (
	"bytes"
	"strings"
	"testing"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"github.com/omnitrackiq/omnitrackiq/internal/report"
)

func TestEmail(t *testing.T) {
	doc := fixture()
	doc.Rows = nil // the stored document has no rows
	links := map[string]string{
		"pdf": "https://app.example.com/v1/reports/rep_1/runs/run_1/download?format=pdf",
		"csv": "https://app.example.com/v1/reports/rep_1/runs/run_1/download?format=csv&x=<y>",
	}
	subject, text, body := Email(doc, links)

	if subject != "Weekly performance: 2026-03-02 – 2026-03-08" {
		t.Errorf("subject %q", subject)
	}
	wantText := `Weekly performance
2026-03-02 – 2026-03-08
Time zone Europe/Berlin · Currency EUR · Generated 2026-03-09 07:00 CET

Revenue: 1234.56 EUR (previous 1000.00 EUR, change +23.5%)
Spend: 340.25 EUR (previous 400.00 EUR, change -14.9%)
Orders: 12 (previous 10, change +20.0%)
Blended ROAS: 3.6284 (previous 2.5, change +45.1%)

Notes:
- Orders in USD (2) are left out: the workspace reports in EUR.

Data freshness:
- google_ads (Main account): data through 2026-03-08, last sync succeeded
! meta (Brand): data through 2026-03-05, last sync failed, connection needs reauth, token expired

Download:
CSV: https://app.example.com/v1/reports/rep_1/runs/run_1/download?format=csv&x=<y>
PDF: https://app.example.com/v1/reports/rep_1/runs/run_1/download?format=pdf

The report files are attached to this email.
`
	if text != wantText {
		t.Errorf("text body:\n%s\nwant:\n%s", text, wantText)
	}

	wellFormed(t, []byte(body))
	if strings.Contains(body, "<script") {
		t.Error("a campaign name in the chart became a script element")
	}
	root, err := html.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if got := texts(root, atom.H1); len(got) != 1 || got[0] != "Weekly performance" {
		t.Errorf("h1 %q", got)
	}
	// The totals, not the rows: no campaign of the table's rows, one line a metric.
	var totals []string
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.DataAtom == atom.Tr {
			tr := strings.Join(texts(n, atom.Td), " ")
			if strings.HasPrefix(tr, "Revenue ") || strings.HasPrefix(tr, "Orders 12") {
				totals = append(totals, tr)
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(root)
	wantTotals := []string{"Revenue 1234.56 EUR 1000.00 EUR +23.5%", "Orders 12 10 +20.0%"}
	if strings.Join(totals, "\n") != strings.Join(wantTotals, "\n") {
		t.Errorf("total rows %q, want %q", totals, wantTotals)
	}
	if got := texts(root, atom.A); strings.Join(got, ",") != "CSV,PDF" {
		t.Errorf("links %q, want CSV,PDF", got)
	}
	if !strings.Contains(body, `href="https://app.example.com/v1/reports/rep_1/runs/run_1/download?format=csv&amp;x=%3cy%3e"`) {
		t.Error("the CSV link is not escaped as an attribute")
	}
	full := strings.Join(texts(root, atom.Body), "")
	for _, want := range []string{"2026-03-02 – 2026-03-08", doc.Notes[0], "The report files are attached to this email.", "Revenue by campaign"} {
		if !strings.Contains(full, want) {
			t.Errorf("HTML body lacks %q", want)
		}
	}
	if bytes.Contains([]byte(body), []byte("<thead")) {
		t.Error("the HTML body carries the row table")
	}
}

func TestEmailWithoutComparisonOrLinks(t *testing.T) {
	doc := report.Document{
		Title: "Daily spend", From: "2026-03-08", To: "2026-03-08", Timezone: "UTC", Currency: "USD",
		Columns: []report.Column{
			{Key: "channel", Label: "Channel"},
			{Key: "spend", Label: "Spend", Metric: true},
			{Key: "cpc", Label: "CPC", Metric: true},
			{Key: "clicks", Label: "Clicks", Metric: true},
		},
		Total: []string{"Total", "99.90", "", "300"},
	}
	subject, text, body := Email(doc, nil)
	if subject != "Daily spend: 2026-03-08" {
		t.Errorf("subject %q", subject)
	}
	for _, want := range []string{"Spend: 99.90 USD\n", "CPC: \n", "Clicks: 300\n", "The report files are attached"} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}
	for _, unwanted := range []string{"Download", "previous", "Notes"} {
		if strings.Contains(text, unwanted) {
			t.Errorf("text has %q:\n%s", unwanted, text)
		}
	}
	wellFormed(t, []byte(body))
	if !strings.Contains(body, "99.90 USD") {
		t.Error("HTML body lacks the spend total")
	}
}
