package render

import (
	"bytes"
	"fmt"
	"html/template"

	"github.com/omnitrackiq/omnitrackiq/internal/report"
)

// The HTML is meant for browsers and for email bodies alike, so it follows what email
// clients accept: every style inline (some clients drop <style> blocks), layout in tables,
// the chart as table cells with widths and background colours (no scripts, no images).

// Styles are constants of this package, marked safe so html/template keeps them whole.
const (
	styleCellText   template.CSS = "padding:4px 8px;border-bottom:1px solid #e3e6ec;text-align:left;vertical-align:top"
	styleCellNumber template.CSS = "padding:4px 8px;border-bottom:1px solid #e3e6ec;text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums"
	styleHeadText   template.CSS = "padding:6px 8px;border-bottom:2px solid #1f2a44;text-align:left;background:#f3f5f9"
	styleHeadNumber template.CSS = "padding:6px 8px;border-bottom:2px solid #1f2a44;text-align:right;background:#f3f5f9"
	styleRowTotal   template.CSS = "font-weight:bold;background:#f3f5f9"
	styleRowPrev    template.CSS = "color:#4a5468"
	styleRowChange  template.CSS = "color:#4a5468;font-style:italic"
)

var pageTemplate = template.Must(template.New("page").Parse(`{{define "chart"}}{{if .Bars}}
<h2 style="font-size:15px;margin:20px 0 8px 0;color:#1f2a44">{{.ChartLabel}}</h2>
<table role="presentation" cellpadding="0" cellspacing="0" border="0" width="100%" style="border-collapse:collapse;font-size:12px;max-width:720px">
{{- range .Bars}}
<tr>
<td width="30%" style="padding:2px 8px 2px 0;white-space:nowrap;overflow:hidden;text-overflow:ellipsis;max-width:220px">{{.Label}}</td>
<td width="55%" style="padding:2px 0">{{if .Percent}}<table role="presentation" cellpadding="0" cellspacing="0" border="0" width="{{.Percent}}%" style="border-collapse:collapse"><tr><td bgcolor="#4f6bed" height="12" style="background:#4f6bed;height:12px;font-size:0;line-height:0">&nbsp;</td></tr></table>{{end}}</td>
<td width="15%" style="padding:2px 0 2px 8px;text-align:right;white-space:nowrap">{{.Text}}</td>
</tr>
{{- end}}
</table>
{{- end}}{{end}}{{define "notes"}}{{if .Notes}}
<table role="presentation" cellpadding="0" cellspacing="0" border="0" width="100%" style="border-collapse:collapse;margin:12px 0">
{{- range .Notes}}
<tr><td style="padding:6px 10px;background:#fff7e0;border-left:4px solid #e0a800;font-size:13px">{{.}}</td></tr>
{{- end}}
</table>
{{- end}}{{if .Freshness}}
<h2 style="font-size:15px;margin:16px 0 6px 0;color:#1f2a44">Data freshness</h2>
<table role="presentation" cellpadding="0" cellspacing="0" border="0" width="100%" style="border-collapse:collapse;font-size:13px">
{{- range .Freshness}}
<tr><td style="{{if .Warn}}padding:4px 10px;background:#fdecea;border-left:4px solid #c62828;color:#8e1b1b;font-weight:bold{{else}}padding:4px 10px;border-left:4px solid #2e7d32{{end}}">{{.Text}}</td></tr>
{{- end}}
</table>
{{- end}}{{end}}<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} – {{.Range}}</title>
</head>
<body style="margin:0;padding:16px;background:#ffffff;color:#1f2a44;font-family:Helvetica,Arial,sans-serif;font-size:14px;line-height:1.4">
<h1 style="font-size:20px;margin:0 0 4px 0">{{.Title}}</h1>
<p style="margin:0 0 2px 0;font-size:14px">{{.Range}}</p>
<p style="margin:0 0 12px 0;font-size:12px;color:#4a5468">Time zone {{.Timezone}}{{if .Currency}} · Currency {{.Currency}}{{end}} · Generated {{.Generated}}</p>
{{- template "notes" .}}
{{- template "chart" .}}
<h2 style="font-size:15px;margin:20px 0 8px 0;color:#1f2a44">Table</h2>
<table cellpadding="0" cellspacing="0" border="0" style="border-collapse:collapse;font-size:13px;min-width:50%">
<thead>
<tr>{{if .LabelColumn}}<th scope="col" style="{{.HeadText}}"></th>{{end}}{{range .Columns}}<th scope="col" style="{{.Style}}">{{.Label}}</th>{{end}}</tr>
</thead>
<tbody>
{{- range .Rows}}
<tr style="{{.Style}}">{{if $.LabelColumn}}<td style="{{$.CellText}}">{{.Label}}</td>{{end}}{{range .Cells}}<td style="{{.Style}}">{{.Text}}</td>{{end}}</tr>
{{- end}}
</tbody>
</table>
{{- if .Truncated}}
<p style="margin:8px 0 0 0;font-size:12px;color:#4a5468">Showing {{.Shown}} of {{.TotalRows}} rows; the totals cover every row.</p>
{{- end}}
</body>
</html>
`))

type htmlPage struct {
	Title, Range, Timezone, Currency, Generated string
	Notes                                       []string
	Freshness                                   []htmlFreshness
	ChartLabel                                  string
	Bars                                        []bar
	LabelColumn                                 bool
	Columns                                     []htmlColumn
	Rows                                        []htmlRow
	Truncated                                   bool
	Shown, TotalRows                            int
	HeadText, CellText                          template.CSS
}

type htmlFreshness struct {
	Text string
	Warn bool
}

type htmlColumn struct {
	Label string
	Style template.CSS
}

type htmlRow struct {
	Label string
	Style template.CSS
	Cells []htmlCell
}

type htmlCell struct {
	Text  string
	Style template.CSS
}

// page gathers what the HTML of doc shows; the email uses it too.
func page(doc report.Document) htmlPage {
	p := htmlPage{
		Title:       doc.Title,
		Range:       rangeText(doc),
		Timezone:    doc.Timezone,
		Currency:    doc.Currency,
		Generated:   generatedText(doc),
		Notes:       doc.Notes,
		LabelColumn: firstDimension(doc.Columns) < 0,
		Truncated:   doc.Truncated,
		Shown:       len(doc.Rows),
		TotalRows:   doc.TotalRows,
		HeadText:    styleHeadText,
		CellText:    styleCellText,
	}
	for _, f := range doc.Freshness {
		text, warn := freshnessLine(f, doc.To)
		p.Freshness = append(p.Freshness, htmlFreshness{Text: text, Warn: warn})
	}
	if doc.Chart != nil {
		p.ChartLabel = doc.Chart.Label
		p.Bars = bars(doc.Chart)
	}
	for _, c := range doc.Columns {
		s := styleHeadText
		if c.Metric {
			s = styleHeadNumber
		}
		p.Columns = append(p.Columns, htmlColumn{Label: c.Label, Style: s})
	}
	for _, r := range table(doc) {
		hr := htmlRow{Label: r.Label}
		switch r.Kind {
		case kindTotal:
			hr.Style = styleRowTotal
		case kindPrevious:
			hr.Style = styleRowPrev
		case kindChange:
			hr.Style = styleRowChange
		}
		for i, c := range doc.Columns {
			s := styleCellText
			if c.Metric {
				s = styleCellNumber
			}
			hr.Cells = append(hr.Cells, htmlCell{Text: r.Cells[i], Style: s})
		}
		p.Rows = append(p.Rows, hr)
	}
	return p
}

// renderHTML writes doc as a standalone HTML document.
func renderHTML(doc report.Document) ([]byte, error) {
	var b bytes.Buffer
	if err := pageTemplate.Execute(&b, page(doc)); err != nil {
		return nil, fmt.Errorf("execute html template: %w", err)
	}
	return b.Bytes(), nil
}
