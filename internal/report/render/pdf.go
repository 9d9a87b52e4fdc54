package render

import (
	"bytes"
	"fmt"
	"strings"

	"codeberg.org/go-pdf/fpdf"

	"github.com/omnitrackiq/omnitrackiq/internal/report"
)

// The PDF uses the core Helvetica font, so no font file ships with the binary. Core fonts
// are Windows-1252 encoded: text goes through fpdf's cp1252 translator, and a character
// cp1252 has no glyph for becomes "?" (the translator alone would print ".", which reads
// like a decimal point in a table of numbers).

// Layout, in millimetres and points.
const (
	pdfMargin      = 12.0
	pdfRowHeight   = 6.0
	pdfBarHeight   = 4.0
	pdfBarStep     = 5.5
	pdfCellPadding = 1.5
	pdfFontSize    = 9.0
	// pdfPortraitColumns is the most columns a portrait page takes; more go landscape.
	pdfPortraitColumns = 6
)

// pdfWriter holds the document being drawn and the text translation to cp1252.
type pdfWriter struct {
	f      *fpdf.Fpdf
	tr     func(string) string
	mapped map[rune]bool
	width  float64 // usable width between the margins
}

// renderPDF writes doc as a PDF: title, range, notes, freshness, the chart as bars and the
// table, whose header repeats on every page and whose Total row is bold.
func renderPDF(doc report.Document) ([]byte, error) {
	cols := len(doc.Columns)
	labelColumn := firstDimension(doc.Columns) < 0
	if labelColumn {
		cols++
	}
	orientation := "P"
	if cols > pdfPortraitColumns {
		orientation = "L"
	}
	f := fpdf.New(orientation, "mm", "A4", "")
	w := &pdfWriter{f: f, tr: f.UnicodeTranslatorFromDescriptor(""), mapped: map[rune]bool{}}
	pageW, _ := f.GetPageSize()
	w.width = pageW - 2*pdfMargin

	// Fixed dates and sorted catalogs make the bytes a function of the document alone.
	f.SetCreationDate(doc.GeneratedAt.UTC())
	f.SetModificationDate(doc.GeneratedAt.UTC())
	f.SetCatalogSort(true)
	f.SetCompression(true)
	f.SetTitle(doc.Title+" "+rangeText(doc), true)
	f.SetSubject("Report "+rangeText(doc), true)
	f.SetCreator("OmniTrackIQ", true)
	f.SetProducer("OmniTrackIQ", true)
	f.SetMargins(pdfMargin, pdfMargin, pdfMargin)
	f.SetAutoPageBreak(true, pdfMargin+6)
	f.AliasNbPages("{nb}")
	f.SetFooterFunc(func() {
		f.SetY(-pdfMargin - 2)
		f.SetFont("Helvetica", "", 8)
		f.SetTextColor(110, 118, 135)
		f.CellFormat(0, 4, w.text(doc.Title+" · "+rangeText(doc)), "", 0, "L", false, 0, "")
		f.SetX(pdfMargin)
		f.CellFormat(0, 4, fmt.Sprintf("Page %d of {nb}", f.PageNo()), "", 0, "R", false, 0, "")
	})
	f.AddPage()

	w.heading(doc)
	w.notes(doc)
	w.chart(doc.Chart)
	w.table(doc, labelColumn)

	if err := f.Error(); err != nil {
		return nil, fmt.Errorf("draw pdf: %w", err)
	}
	var b bytes.Buffer
	if err := f.Output(&b); err != nil {
		return nil, fmt.Errorf("write pdf: %w", err)
	}
	return b.Bytes(), nil
}

// text translates s to cp1252, with "?" for what cp1252 cannot show.
func (w *pdfWriter) text(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < 0x80 {
			b.WriteRune(r)
			continue
		}
		ok, seen := w.mapped[r]
		if !seen {
			ok = w.tr(string(r)) != "."
			w.mapped[r] = ok
		}
		if ok {
			b.WriteRune(r)
		} else {
			b.WriteByte('?')
		}
	}
	return w.tr(b.String())
}

// clip shortens cp1252 text s with an ellipsis until it fits width w in the current font.
func (w *pdfWriter) clip(s string, width float64) string {
	if w.f.GetStringWidth(s) <= width {
		return s
	}
	ellipsis := w.tr("…")
	for len(s) > 0 && w.f.GetStringWidth(s+ellipsis) > width {
		s = s[:len(s)-1] // cp1252 is one byte a character
	}
	return s + ellipsis
}

func (w *pdfWriter) heading(doc report.Document) {
	f := w.f
	f.SetTextColor(31, 42, 68)
	f.SetFont("Helvetica", "B", 16)
	f.MultiCell(0, 7, w.text(doc.Title), "", "L", false)
	f.SetFont("Helvetica", "", 11)
	f.CellFormat(0, 6, w.text(rangeText(doc)), "", 1, "L", false, 0, "")
	meta := "Time zone " + doc.Timezone
	if doc.Currency != "" {
		meta += " · Currency " + doc.Currency
	}
	meta += " · Generated " + generatedText(doc)
	f.SetFont("Helvetica", "", 9)
	f.SetTextColor(74, 84, 104)
	f.CellFormat(0, 5, w.text(meta), "", 1, "L", false, 0, "")
	f.Ln(2)
}

func (w *pdfWriter) notes(doc report.Document) {
	f := w.f
	f.SetFont("Helvetica", "", 9)
	if len(doc.Notes) > 0 {
		f.SetFillColor(255, 247, 224)
		f.SetTextColor(31, 42, 68)
		for _, n := range doc.Notes {
			f.MultiCell(0, 5, w.text(n), "L", "L", true)
			f.Ln(1)
		}
	}
	if len(doc.Freshness) > 0 {
		f.Ln(1)
		f.SetFont("Helvetica", "B", 10)
		f.SetTextColor(31, 42, 68)
		f.CellFormat(0, 6, "Data freshness", "", 1, "L", false, 0, "")
		for _, fr := range doc.Freshness {
			text, warn := freshnessLine(fr, doc.To)
			if warn {
				f.SetFont("Helvetica", "B", 9)
				f.SetFillColor(253, 236, 234)
				f.SetTextColor(142, 27, 27)
			} else {
				f.SetFont("Helvetica", "", 9)
				f.SetFillColor(255, 255, 255)
				f.SetTextColor(31, 42, 68)
			}
			f.MultiCell(0, 5, w.text(text), "", "L", warn)
		}
	}
	f.SetTextColor(31, 42, 68)
	f.Ln(2)
}

// chart draws one bar a point: the label, a rectangle scaled to the largest value and the
// value as the table shows it.
func (w *pdfWriter) chart(c *report.Chart) {
	bs := bars(c)
	if len(bs) == 0 {
		return
	}
	f := w.f
	_, pageH := f.GetPageSize()
	bottom := pageH - pdfMargin - 6
	// Keep the title with at least a few bars.
	if f.GetY()+8+3*pdfBarStep > bottom {
		f.AddPage()
	}
	f.SetFont("Helvetica", "B", 10)
	f.SetTextColor(31, 42, 68)
	f.CellFormat(0, 6, w.text(c.Label), "", 1, "L", false, 0, "")
	f.SetFont("Helvetica", "", 8)
	labelW := w.width * 0.28
	valueW := w.width * 0.17
	barW := w.width - labelW - valueW - 4
	f.SetFillColor(79, 107, 237)
	for _, b := range bs {
		if f.GetY()+pdfBarStep > bottom {
			f.AddPage()
		}
		x, y := f.GetX(), f.GetY()
		f.CellFormat(labelW, pdfBarStep, w.clip(w.text(b.Label), labelW-2), "", 0, "L", false, 0, "")
		if b.Fraction > 0 {
			f.Rect(x+labelW+2, y+(pdfBarStep-pdfBarHeight)/2, barW*b.Fraction, pdfBarHeight, "F")
		}
		f.SetX(x + labelW + barW + 4)
		f.CellFormat(valueW, pdfBarStep, w.clip(w.text(b.Text), valueW), "", 1, "R", false, 0, "")
	}
	f.Ln(4)
}

// table draws the table. Column widths follow their widest cell; when they do not fit the
// page, the text columns give up width first and long text is clipped with an ellipsis.
func (w *pdfWriter) table(doc report.Document, labelColumn bool) {
	f := w.f
	type col struct {
		label  string
		metric bool
	}
	var cols []col
	if labelColumn {
		cols = append(cols, col{})
	}
	for _, c := range doc.Columns {
		cols = append(cols, col{label: w.text(c.Label), metric: c.Metric})
	}
	if len(cols) == 0 {
		return
	}
	rows := table(doc)
	cells := make([][]string, len(rows))
	for i, r := range rows {
		if labelColumn {
			cells[i] = append(cells[i], w.text(r.Label))
		}
		for _, c := range r.Cells {
			cells[i] = append(cells[i], w.text(c))
		}
	}

	widths := make([]float64, len(cols))
	f.SetFont("Helvetica", "B", pdfFontSize)
	for i, c := range cols {
		widths[i] = f.GetStringWidth(c.label)
	}
	for i, r := range cells {
		style := ""
		if rows[i].Kind == kindTotal {
			style = "B"
		}
		f.SetFont("Helvetica", style, pdfFontSize)
		for j, c := range r {
			widths[j] = max(widths[j], f.GetStringWidth(c))
		}
	}
	for i := range widths {
		widths[i] += 2 * pdfCellPadding
	}
	fitWidths(widths, func(i int) bool { return cols[i].metric }, w.width)

	align := func(i int) string {
		if cols[i].metric {
			return "R"
		}
		return "L"
	}
	headers := func() {
		f.SetFont("Helvetica", "B", pdfFontSize)
		f.SetFillColor(243, 245, 249)
		f.SetTextColor(31, 42, 68)
		for i, c := range cols {
			f.CellFormat(widths[i], pdfRowHeight, w.clip(c.label, widths[i]-2*pdfCellPadding), "B", 0, align(i), true, 0, "")
		}
		f.Ln(-1)
	}
	_, pageH := f.GetPageSize()
	bottom := pageH - pdfMargin - 6
	if f.GetY()+3*pdfRowHeight > bottom {
		f.AddPage()
	}
	headers()
	for i, r := range cells {
		if f.GetY()+pdfRowHeight > bottom {
			f.AddPage()
			headers()
		}
		style, fill, border := "", false, ""
		f.SetTextColor(31, 42, 68)
		switch rows[i].Kind {
		case kindTotal:
			style, fill, border = "B", true, "T"
		case kindPrevious:
			f.SetTextColor(74, 84, 104)
		case kindChange:
			style = "I"
			f.SetTextColor(74, 84, 104)
		}
		f.SetFont("Helvetica", style, pdfFontSize)
		for j, c := range r {
			f.CellFormat(widths[j], pdfRowHeight, w.clip(c, widths[j]-2*pdfCellPadding), border, 0, align(j), fill, 0, "")
		}
		f.Ln(-1)
	}
	if doc.Truncated {
		f.Ln(2)
		f.SetFont("Helvetica", "I", 8)
		f.CellFormat(0, 5, fmt.Sprintf("Showing %d of %d rows; the totals cover every row.", len(doc.Rows), doc.TotalRows), "", 1, "L", false, 0, "")
	}
}

// fitWidths makes the widths fill total: spare width is shared in proportion; missing
// width is taken from the text columns first (down to a floor), then from all columns.
func fitWidths(widths []float64, metric func(int) bool, total float64) {
	sum := 0.0
	for _, v := range widths {
		sum += v
	}
	if sum <= total {
		for i := range widths {
			widths[i] *= total / sum
		}
		return
	}
	const floor = 20.0
	textSum := 0.0
	for i, v := range widths {
		if !metric(i) {
			textSum += v
		}
	}
	excess := sum - total
	if textSum > 0 {
		shrinkable := 0.0
		for i, v := range widths {
			if !metric(i) && v > floor {
				shrinkable += v - floor
			}
		}
		if shrinkable > 0 {
			take := min(excess, shrinkable)
			for i, v := range widths {
				if !metric(i) && v > floor {
					widths[i] -= take * (v - floor) / shrinkable
				}
			}
			excess -= take
		}
	}
	if excess > 0 {
		sum = total + excess
		for i := range widths {
			widths[i] *= total / sum
		}
	}
}
