// Package render turns a report.Document into the files a run stores and delivers (CSV,
// HTML and PDF) and composes the email that announces a run.
//
// Every cell of a Document is already formatted text, so the three formats show exactly
// the same values; the renderers only lay them out. Each renderer is a pure function of
// the document: the same document gives the same bytes (the PDF's dates are the
// document's GeneratedAt), so a retried render activity stores identical files.
//
// The rows of every table are, in order: the document's rows, the Total row, and when the
// report compares periods the Previous row and the Change row. The first dimension cell
// of the Previous and Change rows is replaced by their label ("Previous period (from – to)",
// "Change"); a report without dimensions has no text column, so its CSV keeps the columns
// exactly and those rows are known by position, while HTML and PDF add a label column.
package render

import (
	"fmt"
	"strings"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/report"
)

// Content types of the artifacts.
const (
	ContentTypeCSV  = "text/csv; charset=utf-8"
	ContentTypeHTML = "text/html; charset=utf-8"
	ContentTypePDF  = "application/pdf"
)

// Render renders doc in one format (report.FormatCSV, FormatHTML or FormatPDF).
func Render(doc report.Document, format string) (report.Artifact, error) {
	var (
		content []byte
		ctype   string
		err     error
	)
	switch format {
	case report.FormatCSV:
		content, err = renderCSV(doc)
		ctype = ContentTypeCSV
	case report.FormatHTML:
		content, err = renderHTML(doc)
		ctype = ContentTypeHTML
	case report.FormatPDF:
		content, err = renderPDF(doc)
		ctype = ContentTypePDF
	default:
		return report.Artifact{}, fmt.Errorf("render report %q: unknown format %q", doc.Title, format)
	}
	if err != nil {
		return report.Artifact{}, fmt.Errorf("render report %q as %s: %w", doc.Title, format, err)
	}
	return report.Artifact{
		Format:      format,
		ContentType: ctype,
		Filename:    Filename(doc, format),
		Content:     content,
	}, nil
}

// All renders doc in every format of formats, in that order.
func All(doc report.Document, formats []string) ([]report.Artifact, error) {
	out := make([]report.Artifact, 0, len(formats))
	for _, f := range formats {
		a, err := Render(doc, f)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// Filename is the name of doc's file in format: <slug of title>_<from>_<to>.<format>.
func Filename(doc report.Document, format string) string {
	return slug(doc.Title) + "_" + doc.From + "_" + doc.To + "." + format
}

// maxSlug keeps file names short enough for every mail client and file system.
const maxSlug = 60

// slug is title in lower-case ASCII letters, digits and single hyphens; "report" when
// nothing of the title is left.
func slug(title string) string {
	var b strings.Builder
	hyphen := false
	for _, r := range strings.ToLower(title) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			if hyphen && b.Len() > 0 {
				b.WriteByte('-')
			}
			hyphen = false
			b.WriteRune(r)
		default:
			hyphen = true
		}
		if b.Len() >= maxSlug {
			break
		}
	}
	if b.Len() == 0 {
		return "report"
	}
	return b.String()
}

// row is one row of a table as the renderers lay it out.
type row struct {
	Label string // the label column's text, used when the table has no dimension column
	Cells []string
	Kind  rowKind
}

type rowKind int

const (
	kindRow rowKind = iota
	kindTotal
	kindPrevious
	kindChange
)

// table is the rows of doc in order: rows, Total, Previous and Change. The first dimension
// cell of Previous and Change carries their label.
func table(doc report.Document) []row {
	first := firstDimension(doc.Columns)
	rows := make([]row, 0, len(doc.Rows)+3)
	for _, r := range doc.Rows {
		rows = append(rows, row{Cells: fit(r, len(doc.Columns))})
	}
	labelled := func(cells []string, label string, kind rowKind) row {
		c := fit(cells, len(doc.Columns))
		if first >= 0 && kind != kindTotal {
			c[first] = label
		}
		return row{Label: label, Cells: c, Kind: kind}
	}
	if doc.Total != nil {
		rows = append(rows, labelled(doc.Total, "Total", kindTotal))
	}
	if doc.Previous != nil {
		rows = append(rows, labelled(doc.Previous, previousLabel(doc), kindPrevious))
		if doc.Change != nil {
			rows = append(rows, labelled(doc.Change, "Change", kindChange))
		}
	}
	return rows
}

func previousLabel(doc report.Document) string {
	if doc.PreviousFrom == "" {
		return "Previous period"
	}
	return "Previous period (" + doc.PreviousFrom + " – " + doc.PreviousTo + ")"
}

// fit copies cells into exactly n cells, so a short row cannot shift or break a table.
func fit(cells []string, n int) []string {
	out := make([]string, n)
	copy(out, cells)
	return out
}

// firstDimension is the index of the first dimension column, -1 when there is none.
func firstDimension(cols []report.Column) int {
	for i, c := range cols {
		if !c.Metric {
			return i
		}
	}
	return -1
}

// rangeText is the document's range, "from – to", or the single day.
func rangeText(doc report.Document) string {
	if doc.From == doc.To {
		return doc.From
	}
	return doc.From + " – " + doc.To
}

// generatedText is when the document was generated, in the report's time zone when it
// is known to this process and in UTC otherwise.
func generatedText(doc report.Document) string {
	t := doc.GeneratedAt.UTC()
	if loc, err := time.LoadLocation(doc.Timezone); err == nil && doc.Timezone != "" {
		t = t.In(loc)
	}
	return t.Format("2006-01-02 15:04 MST")
}

// freshnessLine describes one source's freshness and whether it deserves a warning: the
// last sync failed or is still running, the connection is not active, or its data does
// not reach the end of the range.
func freshnessLine(f report.Freshness, to string) (text string, warn bool) {
	name := f.Channel
	if f.Name != "" {
		name += " (" + f.Name + ")"
	}
	through := "never synced"
	if f.DataThrough != "" {
		through = "data through " + f.DataThrough
	}
	parts := []string{through}
	if f.LastSync != "" {
		parts = append(parts, "last sync "+f.LastSync)
	}
	if f.Status != "" && f.Status != "active" {
		parts = append(parts, "connection "+strings.ReplaceAll(f.Status, "_", " "))
	}
	if f.LastError != "" {
		parts = append(parts, f.LastError)
	}
	warn = f.DataThrough == "" || f.DataThrough < to || f.LastSync == "failed" ||
		f.LastSync == "running" || (f.Status != "" && f.Status != "active")
	return name + ": " + strings.Join(parts, ", "), warn
}

// bars scales a chart to percentages of its largest value; negative values get no bar and
// a positive value at least a sliver, so it does not look like zero.
func bars(c *report.Chart) []bar {
	if c == nil {
		return nil
	}
	maxV := 0.0
	for _, p := range c.Points {
		maxV = max(maxV, p.Value)
	}
	out := make([]bar, len(c.Points))
	for i, p := range c.Points {
		pct := 0
		if maxV > 0 && p.Value > 0 {
			pct = max(1, int(p.Value/maxV*100+0.5))
		}
		text := p.Text
		if text == "" {
			text = fmt.Sprintf("%g", p.Value)
		}
		out[i] = bar{Label: p.Label, Text: text, Percent: pct, Fraction: float64(pct) / 100}
	}
	return out
}

type bar struct {
	Label, Text string
	Percent     int
	Fraction    float64
}
