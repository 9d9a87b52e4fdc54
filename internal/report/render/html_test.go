package render

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"github.com/omnitrackiq/omnitrackiq/internal/report"
)

// wellFormed checks that every element of doc is closed in order, as a browser would
// build the tree without repairs: html.Parse accepts anything, so the tokens are checked.
func wellFormed(t *testing.T, doc []byte) {
	t.Helper()
	void := map[atom.Atom]bool{atom.Meta: true, atom.Br: true, atom.Img: true, atom.Hr: true, atom.Link: true, atom.Input: true}
	z := html.NewTokenizer(bytes.NewReader(doc))
	var stack []atom.Atom
	for {
		switch z.Next() {
		case html.ErrorToken:
			if !errors.Is(z.Err(), io.EOF) {
				t.Fatalf("tokenize: %v", z.Err())
			}
			if len(stack) > 0 {
				t.Fatalf("unclosed elements at the end: %v", stack)
			}
			return
		case html.StartTagToken:
			tok := z.Token()
			if tok.DataAtom == 0 {
				t.Fatalf("unknown element <%s>", tok.Data)
			}
			if !void[tok.DataAtom] {
				stack = append(stack, tok.DataAtom)
			}
		case html.EndTagToken:
			tok := z.Token()
			if len(stack) == 0 || stack[len(stack)-1] != tok.DataAtom {
				t.Fatalf("</%s> closes %v", tok.Data, stack)
			}
			stack = stack[:len(stack)-1]
		}
	}
}

// texts returns the text of every element named a in the parsed tree, with spaces
// normalised.
func texts(n *html.Node, a atom.Atom) []string {
	var out []string
	var text func(*html.Node) string
	text = func(n *html.Node) string {
		if n.Type == html.TextNode {
			return n.Data
		}
		var b strings.Builder
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			b.WriteString(text(c))
		}
		return b.String()
	}
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.DataAtom == a {
			out = append(out, strings.Join(strings.Fields(text(n)), " "))
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return out
}

// rowsOf returns the cells of each body row of the data table, the one with a <thead>
// (the parser gives every table a <tbody>).
func rowsOf(n *html.Node) [][]string {
	var body *html.Node
	var find func(*html.Node)
	find = func(n *html.Node) {
		if body == nil && n.Type == html.ElementNode && n.DataAtom == atom.Tbody {
			prev := n.PrevSibling
			for prev != nil && prev.Type != html.ElementNode {
				prev = prev.PrevSibling
			}
			if prev != nil && prev.DataAtom == atom.Thead {
				body = n
			}
		}
		for c := n.FirstChild; c != nil && body == nil; c = c.NextSibling {
			find(c)
		}
	}
	find(n)
	if body == nil {
		return nil
	}
	var rows [][]string
	for tr := body.FirstChild; tr != nil; tr = tr.NextSibling {
		if tr.DataAtom == atom.Tr {
			rows = append(rows, texts(tr, atom.Td))
		}
	}
	return rows
}

func TestHTML(t *testing.T) {
	doc := fixture()
	a, err := Render(doc, report.FormatHTML)
	if err != nil {
		t.Fatal(err)
	}
	wellFormed(t, a.Content)
	s := string(a.Content)
	if strings.Contains(s, "<script") {
		t.Error("a campaign name became a script element")
	}
	if !strings.Contains(s, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Error("the campaign name <script>… is not shown escaped")
	}
	if strings.Contains(s, "<style") || strings.Contains(s, "<img") || strings.Contains(s, "<link") {
		t.Error("the page relies on a style block, image or external resource")
	}

	root, err := html.Parse(bytes.NewReader(a.Content))
	if err != nil {
		t.Fatal(err)
	}
	if got := texts(root, atom.Title); len(got) != 1 || got[0] != "Weekly performance – 2026-03-02 – 2026-03-08" {
		t.Errorf("title %q", got)
	}
	if got := texts(root, atom.H1); len(got) != 1 || got[0] != "Weekly performance" {
		t.Errorf("h1 %q", got)
	}
	body := strings.Join(texts(root, atom.Body), "")
	for _, want := range []string{
		"2026-03-02 – 2026-03-08", "Time zone Europe/Berlin", "Currency EUR", "Generated 2026-03-09 07:00 CET",
		doc.Notes[0], "meta (Brand): data through 2026-03-05, last sync failed, connection needs reauth, token expired",
		"Revenue by campaign",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if got := texts(root, atom.Th); !slices.Equal(got, []string{"Channel", "Campaign", "Revenue", "Spend", "Orders", "Blended ROAS"}) {
		t.Errorf("header %q", got)
	}
	rows := rowsOf(root)
	want := [][]string{
		{"google_ads", "<script>alert(1)</script>", "800.00", "200.00", "8", "4"},
		{"meta", "=HYPERLINK(\"http://evil\")", "300.50", "150.25", "3", "2"},
		{"tiktok", "Café – Größe 日本", "134.06", "-10.00", "1", ""},
		doc.Total,
		{"Previous period (2026-02-23 – 2026-03-01)", "", "1000.00", "400.00", "10", "2.5"},
		{"Change", "", "+23.5%", "-14.9%", "+20.0%", "+45.1%"},
	}
	if !slices.EqualFunc(rows, want, slices.Equal) {
		t.Errorf("table rows\n%q\nwant\n%q", rows, want)
	}
	// The warning about meta's failed sync is highlighted, google's fresh data is not.
	for _, w := range []struct {
		text string
		warn bool
	}{{"meta (Brand)", true}, {"google_ads (Main account)", false}} {
		i := strings.Index(s, w.text)
		open := strings.LastIndex(s[:i], "<td")
		if got := strings.Contains(s[open:i], "#fdecea"); got != w.warn {
			t.Errorf("%s highlighted = %v, want %v", w.text, got, w.warn)
		}
	}
	// Bars are table cells sized in percent of the largest value.
	for _, w := range []string{`width="100%" style="border-collapse:collapse"><tr><td bgcolor`, `width="38%"`, `width="17%"`} {
		if !strings.Contains(s, w) {
			t.Errorf("chart lacks a bar %s", w)
		}
	}
}

// TestHTMLWithoutDimensions checks the label column a report of totals gets.
func TestHTMLWithoutDimensions(t *testing.T) {
	doc := report.Document{
		Title: "Totals", From: "2026-03-01", To: "2026-03-07", Timezone: "UTC",
		Columns:  []report.Column{{Key: "revenue", Label: "Revenue", Metric: true}},
		Rows:     [][]string{{"10.00"}},
		Total:    []string{"10.00"},
		Previous: []string{"8.00"},
		Change:   []string{"+25.0%"},
	}
	a, err := Render(doc, report.FormatHTML)
	if err != nil {
		t.Fatal(err)
	}
	wellFormed(t, a.Content)
	root, err := html.Parse(bytes.NewReader(a.Content))
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"", "10.00"}, {"Total", "10.00"}, {"Previous period", "8.00"}, {"Change", "+25.0%"}}
	if got := rowsOf(root); !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("rows %q, want %q", got, want)
	}
}
