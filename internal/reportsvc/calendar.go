package reportsvc

import (
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/omnitrackiq/omnitrackiq/internal/report"
)

// Temporal matches calendar years from 2000 to 2100 only; the leap-year ranges below span
// exactly that.
const (
	firstCalendarYear = 2000
	lastCalendarYear  = 2100
)

// CalendarSpecs turns a report's schedule into Temporal calendar specs, read in the
// schedule's time zone (ScheduleSpec.TimeZoneName), so 08:00 stays 08:00 local across
// daylight-saving changes: Temporal resolves every match in the zone itself.
//
// A monthly schedule on day 29, 30 or 31 fires on the month's last day in months that are
// shorter, exactly once per month. Temporal has no "last day of the month", so those
// schedules are several calendars: one per target day for the months other than February,
// and February by year, on the 29th in leap years and the 28th in the others.
func CalendarSpecs(s report.Schedule) ([]client.ScheduleCalendarSpec, error) {
	hour, minute, err := parseClock(s.Time)
	if err != nil {
		return nil, err
	}
	at := func(c client.ScheduleCalendarSpec) client.ScheduleCalendarSpec {
		c.Hour = []client.ScheduleRange{{Start: hour}}
		c.Minute = []client.ScheduleRange{{Start: minute}}
		return c
	}
	switch s.Frequency {
	case report.Daily:
		return []client.ScheduleCalendarSpec{at(client.ScheduleCalendarSpec{Comment: "daily"})}, nil
	case report.Weekly:
		wd, err := parseWeekday(s.Weekday)
		if err != nil {
			return nil, err
		}
		return []client.ScheduleCalendarSpec{at(client.ScheduleCalendarSpec{
			DayOfWeek: []client.ScheduleRange{{Start: int(wd)}},
			Comment:   "weekly on " + wd.String(),
		})}, nil
	case report.Monthly:
		return monthlyCalendars(s.DayOfMonth, at)
	default:
		return nil, fmt.Errorf("schedule frequency %q is not one of daily, weekly, monthly", s.Frequency)
	}
}

func monthlyCalendars(day int, at func(client.ScheduleCalendarSpec) client.ScheduleCalendarSpec) ([]client.ScheduleCalendarSpec, error) {
	if day < 1 || day > 31 {
		return nil, fmt.Errorf("schedule day_of_month %d is not between 1 and 31", day)
	}
	if day <= 28 {
		// Every month has the day.
		return []client.ScheduleCalendarSpec{at(client.ScheduleCalendarSpec{
			DayOfMonth: []client.ScheduleRange{{Start: day}},
			Comment:    fmt.Sprintf("monthly on day %d", day),
		})}, nil
	}
	// The months other than February, grouped by the day they fire on: the day itself, or
	// the 30th in the 30-day months when the day is the 31st.
	var byDay [32][]int
	for m := time.January; m <= time.December; m++ {
		if m == time.February {
			continue
		}
		target := min(day, daysIn(m))
		byDay[target] = append(byDay[target], int(m))
	}
	var cals []client.ScheduleCalendarSpec
	for target := 29; target <= 31; target++ {
		if len(byDay[target]) == 0 {
			continue
		}
		comment := fmt.Sprintf("monthly on day %d", day)
		if target != day {
			comment = fmt.Sprintf("monthly on day %d: the last day of the months that have %d", day, target)
		}
		cals = append(cals, at(client.ScheduleCalendarSpec{
			DayOfMonth: []client.ScheduleRange{{Start: target}},
			Month:      monthRanges(byDay[target]),
			Comment:    comment,
		}))
	}
	// February: the 29th in leap years, the 28th in the others. Between 2000 and 2100 the
	// leap years are every fourth year from 2000; 2100 is not one (divisible by 100 but
	// not by 400), so it joins the common years, which are the three step-4 runs that start
	// in 2001, 2002 and 2003.
	cals = append(cals,
		at(client.ScheduleCalendarSpec{
			DayOfMonth: []client.ScheduleRange{{Start: 29}},
			Month:      []client.ScheduleRange{{Start: int(time.February)}},
			Year:       []client.ScheduleRange{{Start: firstCalendarYear, End: lastCalendarYear - 4, Step: 4}},
			Comment:    fmt.Sprintf("monthly on day %d: February 29 in leap years", day),
		}),
		at(client.ScheduleCalendarSpec{
			DayOfMonth: []client.ScheduleRange{{Start: 28}},
			Month:      []client.ScheduleRange{{Start: int(time.February)}},
			Year: []client.ScheduleRange{
				{Start: firstCalendarYear + 1, End: lastCalendarYear - 3, Step: 4},
				{Start: firstCalendarYear + 2, End: lastCalendarYear - 2, Step: 4},
				{Start: firstCalendarYear + 3, End: lastCalendarYear - 1, Step: 4},
				{Start: lastCalendarYear},
			},
			Comment: fmt.Sprintf("monthly on day %d: February 28 in common years", day),
		}),
	)
	return cals, nil
}

// daysIn is the number of days of month m outside February.
func daysIn(m time.Month) int {
	switch m {
	case time.April, time.June, time.September, time.November:
		return 30
	default:
		return 31
	}
}

// monthRanges folds ascending months into ranges of consecutive months.
func monthRanges(months []int) []client.ScheduleRange {
	var out []client.ScheduleRange
	for _, m := range months {
		if n := len(out); n > 0 && out[n-1].End == m-1 {
			out[n-1].End = m
			continue
		}
		out = append(out, client.ScheduleRange{Start: m, End: m})
	}
	return out
}

// parseClock reads "HH:MM" (24-hour).
func parseClock(s string) (hour, minute int, err error) {
	t, err := time.Parse("15:04", s)
	if err != nil || len(s) != len("15:04") {
		return 0, 0, fmt.Errorf("schedule time %q is not HH:MM (24-hour)", s)
	}
	return t.Hour(), t.Minute(), nil
}

// parseWeekday reads an English weekday name or its first three letters, in any case.
func parseWeekday(s string) (time.Weekday, error) {
	name := strings.ToLower(strings.TrimSpace(s))
	for d := time.Sunday; d <= time.Saturday; d++ {
		full := strings.ToLower(d.String())
		if name == full || (len(name) == 3 && name == full[:3]) {
			return d, nil
		}
	}
	return 0, fmt.Errorf("schedule weekday %q is not a day of the week (monday ... sunday)", s)
}
