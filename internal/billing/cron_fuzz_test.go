package billing

import (
	"testing"
	"time"
)

// FuzzCronMinInterval: any schedule text a person types reaches the cron reader before
// Temporal does; it answers an interval or an error, never panics, and never a gap longer
// than the longest possible (a leap-year February 29th to the next one: eight years when a
// century skips it).
func FuzzCronMinInterval(f *testing.F) {
	for _, s := range []string{"17 */6 * * *", "* * * * *", "0 0 29 2 *", "5-55/10 1,13 * * MON-FRI", "0 0 31 4 *", "@daily", "*/0 * * * *", "60 24 32 13 8"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		d, err := CronMinInterval(expr)
		if err == nil && (d <= 0 || d > 9*366*24*time.Hour) {
			t.Fatalf("CronMinInterval(%q) = %s", expr, d)
		}
	})
}
