package render

import (
	"fmt"
	"testing"

	"github.com/omnitrackiq/omnitrackiq/internal/report"
)

// BenchmarkRender renders a report of 1,000 and of report.MaxRows rows in each format:
// the render activity's cost per run, and the size of what is stored and mailed.
// Results and the command are in bench/RESULTS.md.
func BenchmarkRender(b *testing.B) {
	for _, rows := range []int{1000, report.MaxRows} {
		doc := bigFixture(rows)
		for _, format := range report.AllFormats() {
			b.Run(fmt.Sprintf("%s/rows=%d", format, rows), func(b *testing.B) {
				var size int
				for b.Loop() {
					a, err := Render(doc, format)
					if err != nil {
						b.Fatal(err)
					}
					size = len(a.Content)
				}
				b.ReportMetric(float64(size), "bytes/file")
			})
		}
	}
}
