package report

import (
	"errors"
	"fmt"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
)

// ResolveRange turns r into its first and last day (inclusive) at the moment now, read in
// loc: "today" is now's calendar day in loc, so a report run at 00:30 in Berlin covers
// Berlin's yesterday even though it is still the day before in UTC. Days are midnight UTC
// of their calendar day, as in channels.Window. A nil loc is UTC.
func ResolveRange(r Range, loc *time.Location, now time.Time) (from, to time.Time, err error) {
	if r.Relative != "" && (r.From != "" || r.To != "") {
		return time.Time{}, time.Time{}, errors.New("a range is either relative or fixed, not both")
	}
	if r.Relative == "" {
		w, err := channels.ParseWindow(r.From, r.To)
		if err != nil {
			return time.Time{}, time.Time{}, fmt.Errorf("fixed range: %w", err)
		}
		return w.From, w.To, nil
	}
	if loc == nil {
		loc = time.UTC
	}
	local := now.In(loc)
	today := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, time.UTC)
	monday := today.AddDate(0, 0, -(int(today.Weekday())+6)%7)
	first := today.AddDate(0, 0, 1-today.Day())
	yesterday := today.AddDate(0, 0, -1)
	switch r.Relative {
	case RangeYesterday:
		return yesterday, yesterday, nil
	case RangeLast7Days:
		return today.AddDate(0, 0, -7), yesterday, nil
	case RangeLast30Days:
		return today.AddDate(0, 0, -30), yesterday, nil
	case RangeLast90Days:
		return today.AddDate(0, 0, -90), yesterday, nil
	case RangeLastWeek:
		return monday.AddDate(0, 0, -7), monday.AddDate(0, 0, -1), nil
	case RangeWeekToDate:
		return monday, today, nil
	case RangeMonthToDate:
		return first, today, nil
	case RangeLastMonth:
		return first.AddDate(0, -1, 0), first.AddDate(0, 0, -1), nil
	}
	return time.Time{}, time.Time{}, fmt.Errorf("unknown relative range %q", r.Relative)
}
