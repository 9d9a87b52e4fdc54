package billing

import (
	"strings"
	"testing"
	"time"
)

func TestCronMinInterval(t *testing.T) {
	const day = 24 * time.Hour
	tests := []struct {
		expr string
		want time.Duration
	}{
		{"17 */6 * * *", 6 * time.Hour},
		{"*/15 * * * *", 15 * time.Minute},
		{"0 9 * * 1-5", day},
		{"0 0 1 * *", 28 * day},
		{"* * * * *", time.Minute},
		{"0 3 * * *", day},
		{"0 0,23 * * *", time.Hour},        // 23:00 to the next day's 00:00
		{"0,50 9 * * *", 50 * time.Minute}, // 09:00 to 09:50
		{"10 */2 * * *", 2 * time.Hour},    // 22:10 to 00:10 as well
		{"5 1-23/4 * * *", 4 * time.Hour},  // 1, 5, ..., 21, then 01 next day: 4h
		{"0 5/8 * * *", 8 * time.Hour},     // 5, 13, 21, then 05: 8h
		{"0 0 * * mon,fri", 3 * day},       // Fri to Mon
		{"0 0 * * SUN", 7 * day},           // names, any case
		{"0 0 * * 7", 7 * day},             // 7 is Sunday
		{"0 0 * * 0,7", 7 * day},           // twice Sunday is once Sunday
		{"0 12 ? * 6-7", day},              // Saturday, then Sunday as 7
		{"0 0 1 jan *", 365 * day},         // 2001-01-01 after 2000-01-01 is 366 days, the rest 365
		{"0 0 29 feb *", 1461 * day},       // leap days: 2000-02-29 to 2004-02-29 at best
		{"0 0 13 * 5", 7 * 4 * day},        // Friday the 13th: both fields must match (Temporal), at least 4 weeks apart
		{"30 2 * 1-3 *", day},              // months restrict days, not times
		{"*/20 9-17 * * 1-5", 20 * time.Minute},
		{"  17   */6 * * *  ", 6 * time.Hour}, // spaces between fields do not matter
	}
	for _, tt := range tests {
		got, err := CronMinInterval(tt.expr)
		if err != nil {
			t.Errorf("CronMinInterval(%q): %v", tt.expr, err)
			continue
		}
		if got != tt.want {
			t.Errorf("CronMinInterval(%q) = %s, want %s", tt.expr, got, tt.want)
		}
	}
}

func TestCronMinIntervalRefusesBadInput(t *testing.T) {
	for expr, wantInErr := range map[string]string{
		"":                 "5 fields",
		"* * * *":          "5 fields",
		"* * * * * *":      "5 fields",
		"@daily":           "5 fields",
		"60 * * * *":       "outside 0-59",
		"* 24 * * *":       "outside 0-23",
		"* * 0 * *":        "outside 1-31",
		"* * * 13 *":       "outside 1-12",
		"* * * * 8":        "outside 0-7",
		"*/0 * * * *":      "step",
		"*/x * * * *":      "step",
		"5-1 * * * *":      "backwards",
		"1,,2 * * * *":     "empty",
		"a * * * *":        "not a number",
		"0 0 * foo *":      "not a number",
		"0 0 L * *":        "not a number",
		"0 0 30 2 *":       "never fires",
		"0 0 31 apr,jun *": "never fires",
		"-1 * * * *":       "not a number",
		"0 0 * * sat-sun":  "backwards",
	} {
		if _, err := CronMinInterval(expr); err == nil || !strings.Contains(err.Error(), wantInErr) {
			t.Errorf("CronMinInterval(%q) error = %v, want one saying %q", expr, err, wantInErr)
		}
	}
}

// The API checks schedules with CronMinInterval on every PATCH; it must stay cheap even
// for an expression whose days are rare.
func BenchmarkCronMinIntervalRareDays(b *testing.B) {
	for b.Loop() {
		if _, err := CronMinInterval("0 0 29 2 *"); err != nil {
			b.Fatal(err)
		}
	}
}
