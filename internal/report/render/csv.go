package render

import (
	"bytes"
	"encoding/csv"
	"fmt"

	"github.com/omnitrackiq/omnitrackiq/internal/report"
)

// renderCSV writes doc as RFC 4180 CSV: a header row of column labels, the rows, the Total
// row and, when the report compares, the Previous and Change rows. Nothing else, so the
// file opens as a plain table whose columns can be summed.
//
// Lines end in CRLF as RFC 4180 and Excel expect. The file is UTF-8 without a byte-order
// mark: a BOM becomes part of the first header cell for most CSV readers (scripts, the
// database COPY, many BI tools), while spreadsheet imports that ask for the encoding read
// UTF-8 fine.
func renderCSV(doc report.Document) ([]byte, error) {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.UseCRLF = true
	header := make([]string, len(doc.Columns))
	for i, c := range doc.Columns {
		header[i] = defuse(c.Label)
	}
	if err := w.Write(header); err != nil {
		return nil, fmt.Errorf("write csv header: %w", err)
	}
	for _, r := range table(doc) {
		cells := r.Cells
		for i, c := range doc.Columns {
			if !c.Metric {
				cells[i] = defuse(cells[i])
			}
		}
		if err := w.Write(cells); err != nil {
			return nil, fmt.Errorf("write csv row: %w", err)
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return nil, fmt.Errorf("write csv: %w", err)
	}
	return b.Bytes(), nil
}

// defuse keeps a spreadsheet from reading a text cell as a formula (CSV injection): a
// campaign named "=HYPERLINK(...)" comes from an ad platform, not from us. As OWASP
// advises, a cell starting with = + - @ tab or carriage return gets a leading apostrophe.
// Metric cells are numbers we formatted and are left alone, so they still sum.
func defuse(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	return s
}
