package activities

import (
	"fmt"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/report"
)

// resolveReportRange resolves a report's range at now in loc: the one call site of the
// range resolution, kept apart so the report package's ResolveRange (the definitive rules,
// tested across daylight-saving changes) can replace this body with
// `return report.ResolveRange(r, loc, now)`. The rules here are the README's: every
// relative range ends on yesterday (a complete day) except the "to date" ones, which end
// today; weeks start on Monday.
func resolveReportRange(r report.Range, loc *time.Location, now time.Time) (from, to time.Time, err error) {
	if r.Relative == "" {
		if from, err = time.ParseInLocation(time.DateOnly, r.From, loc); err != nil {
			return time.Time{}, time.Time{}, fmt.Errorf("range from %q: %w", r.From, err)
		}
		if to, err = time.ParseInLocation(time.DateOnly, r.To, loc); err != nil {
			return time.Time{}, time.Time{}, fmt.Errorf("range to %q: %w", r.To, err)
		}
		if to.Before(from) {
			return time.Time{}, time.Time{}, fmt.Errorf("range ends (%s) before it starts (%s)", r.To, r.From)
		}
		return from, to, nil
	}
	local := now.In(loc)
	today := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, loc)
	yesterday := today.AddDate(0, 0, -1)
	// Days since Monday (Go's Sunday is 0).
	sinceMonday := (int(today.Weekday()) + 6) % 7
	monday := today.AddDate(0, 0, -sinceMonday)
	firstOfMonth := time.Date(today.Year(), today.Month(), 1, 0, 0, 0, 0, loc)
	switch r.Relative {
	case report.RangeYesterday:
		return yesterday, yesterday, nil
	case report.RangeLast7Days:
		return today.AddDate(0, 0, -7), yesterday, nil
	case report.RangeLast30Days:
		return today.AddDate(0, 0, -30), yesterday, nil
	case report.RangeLast90Days:
		return today.AddDate(0, 0, -90), yesterday, nil
	case report.RangeLastWeek:
		return monday.AddDate(0, 0, -7), monday.AddDate(0, 0, -1), nil
	case report.RangeWeekToDate:
		return monday, today, nil
	case report.RangeMonthToDate:
		return firstOfMonth, today, nil
	case report.RangeLastMonth:
		return firstOfMonth.AddDate(0, -1, 0), firstOfMonth.AddDate(0, 0, -1), nil
	}
	return time.Time{}, time.Time{}, fmt.Errorf("unknown relative range %q", r.Relative)
}
