package render

import (
	"bytes"
	"html/template"
	"slices"
	"strconv"
	"strings"

	"github.com/omnitrackiq/omnitrackiq/internal/report"
)

// isMoney says whether a KPI (an analytics.KPIs JSON name) is an amount in the workspace
// currency; the email shows the currency after it.
func isMoney(metric string) bool {
	switch metric {
	case "revenue", "spend", "aov", "new_customer_cac", "cpc", "conversion_value":
		return true
	}
	return false
}

// Email composes the email of a run: a subject, a plain-text body and an HTML alternative.
// Both bodies give the title, the range, each metric's total (with the previous period and
// the change when the report compares), the notes, the download link of each format in
// links (format -> URL) and say that the files are attached. The rows are left to the
// attachments, so doc.Rows may be nil.
func Email(doc report.Document, links map[string]string) (subject, text, html string) {
	subject = doc.Title + ": " + rangeText(doc)
	e := emailData(doc, links)

	var t strings.Builder
	t.WriteString(doc.Title + "\n" + e.Range + "\n")
	t.WriteString(e.Meta + "\n")
	if len(e.Totals) > 0 {
		t.WriteString("\n")
		for _, m := range e.Totals {
			t.WriteString(m.Label + ": " + m.Value)
			if m.Previous != "" || m.Change != "" {
				t.WriteString(" (" + m.compared() + ")")
			}
			t.WriteString("\n")
		}
	}
	if len(e.Notes) > 0 {
		t.WriteString("\nNotes:\n")
		for _, n := range e.Notes {
			t.WriteString("- " + n + "\n")
		}
	}
	if len(e.Freshness) > 0 {
		t.WriteString("\nData freshness:\n")
		for _, f := range e.Freshness {
			mark := "- "
			if f.Warn {
				mark = "! "
			}
			t.WriteString(mark + f.Text + "\n")
		}
	}
	if len(e.Links) > 0 {
		t.WriteString("\nDownload:\n")
		for _, l := range e.Links {
			t.WriteString(l.Label + ": " + l.URL + "\n")
		}
	}
	t.WriteString("\n" + attachedLine + "\n")

	var h bytes.Buffer
	if err := emailTemplate.Execute(&h, e); err != nil {
		// The template is fixed and its data plain strings; failing here is a bug in this
		// package, and the plain-text body still carries everything.
		return subject, t.String(), ""
	}
	return subject, t.String(), h.String()
}

const attachedLine = "The report files are attached to this email."

type email struct {
	Title, Range, Meta string
	Totals             []metricTotal
	Notes              []string
	Freshness          []htmlFreshness
	ChartLabel         string
	Bars               []bar
	Links              []link
	Attached           string
	Compares           bool
	PreviousLabel      string
}

type metricTotal struct {
	Label, Value, Previous, Change string
}

func (m metricTotal) compared() string {
	var parts []string
	if m.Previous != "" {
		parts = append(parts, "previous "+m.Previous)
	}
	if m.Change != "" {
		parts = append(parts, "change "+m.Change)
	}
	return strings.Join(parts, ", ")
}

type link struct {
	Label, URL string
}

func emailData(doc report.Document, links map[string]string) email {
	meta := "Time zone " + doc.Timezone
	if doc.Currency != "" {
		meta += " · Currency " + doc.Currency
	}
	e := email{
		Title:         doc.Title,
		Range:         rangeText(doc),
		Meta:          meta + " · Generated " + generatedText(doc),
		Notes:         doc.Notes,
		Attached:      attachedLine,
		Compares:      doc.Previous != nil,
		PreviousLabel: previousLabel(doc),
	}
	money := func(key, v string) string {
		if doc.Currency == "" || !isMoney(key) {
			return v
		}
		if _, err := strconv.ParseFloat(v, 64); err != nil {
			return v // "", "n/a" and the like carry no currency
		}
		return v + " " + doc.Currency
	}
	cell := func(cells []string, i int) string {
		if i < len(cells) {
			return cells[i]
		}
		return ""
	}
	for i, c := range doc.Columns {
		if !c.Metric {
			continue
		}
		m := metricTotal{Label: c.Label, Value: money(c.Key, cell(doc.Total, i))}
		if doc.Previous != nil {
			m.Previous = money(c.Key, cell(doc.Previous, i))
			m.Change = cell(doc.Change, i)
		}
		e.Totals = append(e.Totals, m)
	}
	for _, f := range doc.Freshness {
		text, warn := freshnessLine(f, doc.To)
		e.Freshness = append(e.Freshness, htmlFreshness{Text: text, Warn: warn})
	}
	if doc.Chart != nil {
		e.ChartLabel = doc.Chart.Label
		e.Bars = bars(doc.Chart)
	}
	// The formats in their usual order, then any other in name order, so the email is the
	// same for the same links.
	keys := make([]string, 0, len(links))
	for k := range links {
		keys = append(keys, k)
	}
	order := report.AllFormats()
	slices.SortFunc(keys, func(a, b string) int {
		ia, ib := slices.Index(order, a), slices.Index(order, b)
		if ia < 0 {
			ia = len(order)
		}
		if ib < 0 {
			ib = len(order)
		}
		if ia != ib {
			return ia - ib
		}
		return strings.Compare(a, b)
	})
	for _, k := range keys {
		e.Links = append(e.Links, link{Label: strings.ToUpper(k), URL: links[k]})
	}
	return e
}

// emailTemplate is a short body: the totals, not the rows (they are attached). It reuses
// the notes and chart of the page template, inline-styled for email clients.
var emailTemplate = template.Must(template.Must(pageTemplate.Clone()).New("email").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
</head>
<body style="margin:0;padding:16px;background:#ffffff;color:#1f2a44;font-family:Helvetica,Arial,sans-serif;font-size:14px;line-height:1.4">
<h1 style="font-size:20px;margin:0 0 4px 0">{{.Title}}</h1>
<p style="margin:0 0 2px 0;font-size:14px">{{.Range}}</p>
<p style="margin:0 0 12px 0;font-size:12px;color:#4a5468">{{.Meta}}</p>
{{- if .Totals}}
<table role="presentation" cellpadding="0" cellspacing="0" border="0" style="border-collapse:collapse;font-size:14px;margin:8px 0">
{{- if .Compares}}
<tr><th style="padding:4px 12px 4px 0;text-align:left"></th><th style="padding:4px 0 4px 12px;text-align:right">Total</th><th style="padding:4px 0 4px 12px;text-align:right;color:#4a5468">{{.PreviousLabel}}</th><th style="padding:4px 0 4px 12px;text-align:right;color:#4a5468">Change</th></tr>
{{- end}}
{{- range .Totals}}
<tr><td style="padding:4px 12px 4px 0;border-bottom:1px solid #e3e6ec">{{.Label}}</td><td style="padding:4px 0 4px 12px;border-bottom:1px solid #e3e6ec;text-align:right;font-weight:bold;white-space:nowrap">{{.Value}}</td>
{{- if $.Compares}}<td style="padding:4px 0 4px 12px;border-bottom:1px solid #e3e6ec;text-align:right;color:#4a5468;white-space:nowrap">{{.Previous}}</td><td style="padding:4px 0 4px 12px;border-bottom:1px solid #e3e6ec;text-align:right;color:#4a5468;white-space:nowrap">{{.Change}}</td>{{end}}</tr>
{{- end}}
</table>
{{- end}}
{{- template "notes" .}}
{{- template "chart" .}}
{{- if .Links}}
<p style="margin:16px 0 4px 0;font-weight:bold">Download</p>
<p style="margin:0">
{{- range $i, $l := .Links}}{{if $i}} · {{end}}<a href="{{$l.URL}}" style="color:#3548c8">{{$l.Label}}</a>{{end}}
</p>
{{- end}}
<p style="margin:16px 0 0 0;font-size:12px;color:#4a5468">{{.Attached}}</p>
</body>
</html>
`))
