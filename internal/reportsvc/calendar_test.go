package reportsvc

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/omnitrackiq/omnitrackiq/internal/report"
)

func TestCalendarSpecsDailyAndWeekly(t *testing.T) {
	cases := []struct {
		name  string
		sched report.Schedule
		want  []client.ScheduleCalendarSpec
	}{
		{"daily", report.Schedule{Frequency: report.Daily, Time: "08:00"}, []client.ScheduleCalendarSpec{{
			Hour: []client.ScheduleRange{{Start: 8}}, Minute: []client.ScheduleRange{{Start: 0}}, Comment: "daily",
		}}},
		{"weekly by name", report.Schedule{Frequency: report.Weekly, Time: "07:30", Weekday: "monday"}, []client.ScheduleCalendarSpec{{
			Hour: []client.ScheduleRange{{Start: 7}}, Minute: []client.ScheduleRange{{Start: 30}},
			DayOfWeek: []client.ScheduleRange{{Start: 1}}, Comment: "weekly on Monday",
		}}},
		{"weekly abbreviated", report.Schedule{Frequency: report.Weekly, Time: "23:59", Weekday: "Sun"}, []client.ScheduleCalendarSpec{{
			Hour: []client.ScheduleRange{{Start: 23}}, Minute: []client.ScheduleRange{{Start: 59}},
			DayOfWeek: []client.ScheduleRange{{Start: 0}}, Comment: "weekly on Sunday",
		}}},
		{"monthly on a day every month has", report.Schedule{Frequency: report.Monthly, Time: "06:15", DayOfMonth: 28}, []client.ScheduleCalendarSpec{{
			Hour: []client.ScheduleRange{{Start: 6}}, Minute: []client.ScheduleRange{{Start: 15}},
			DayOfMonth: []client.ScheduleRange{{Start: 28}}, Comment: "monthly on day 28",
		}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := CalendarSpecs(tc.sched)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestCalendarSpecsMonthlyDay31(t *testing.T) {
	got, err := CalendarSpecs(report.Schedule{Frequency: report.Monthly, Time: "09:00", DayOfMonth: 31})
	require.NoError(t, err)
	at := []client.ScheduleRange{{Start: 9}}
	zero := []client.ScheduleRange{{Start: 0}}
	feb := []client.ScheduleRange{{Start: 2}}
	require.Equal(t, []client.ScheduleCalendarSpec{
		{Hour: at, Minute: zero, DayOfMonth: []client.ScheduleRange{{Start: 30}},
			Month:   []client.ScheduleRange{{Start: 4, End: 4}, {Start: 6, End: 6}, {Start: 9, End: 9}, {Start: 11, End: 11}},
			Comment: "monthly on day 31: the last day of the months that have 30"},
		{Hour: at, Minute: zero, DayOfMonth: []client.ScheduleRange{{Start: 31}},
			Month: []client.ScheduleRange{{Start: 1, End: 1}, {Start: 3, End: 3}, {Start: 5, End: 5}, {Start: 7, End: 8},
				{Start: 10, End: 10}, {Start: 12, End: 12}},
			Comment: "monthly on day 31"},
		{Hour: at, Minute: zero, DayOfMonth: []client.ScheduleRange{{Start: 29}}, Month: feb,
			Year:    []client.ScheduleRange{{Start: 2000, End: 2096, Step: 4}},
			Comment: "monthly on day 31: February 29 in leap years"},
		{Hour: at, Minute: zero, DayOfMonth: []client.ScheduleRange{{Start: 28}}, Month: feb,
			Year: []client.ScheduleRange{{Start: 2001, End: 2097, Step: 4}, {Start: 2002, End: 2098, Step: 4},
				{Start: 2003, End: 2099, Step: 4}, {Start: 2100}},
			Comment: "monthly on day 31: February 28 in common years"},
	}, got)
}

// Every month from 2000 to 2100 (the years Temporal's calendars reach), a monthly
// schedule fires exactly once, on its day or, in shorter months, on the month's last day.
func TestCalendarSpecsMonthlyFireOncePerMonth(t *testing.T) {
	for day := 1; day <= 31; day++ {
		t.Run(fmt.Sprintf("day %d", day), func(t *testing.T) {
			cals, err := CalendarSpecs(report.Schedule{Frequency: report.Monthly, Time: "09:00", DayOfMonth: day})
			require.NoError(t, err)
			fires := map[string][]int{}
			for d := time.Date(2000, 1, 1, 9, 0, 0, 0, time.UTC); d.Year() <= 2100; d = d.AddDate(0, 0, 1) {
				n := 0
				for _, c := range cals {
					if calendarMatches(c, d) {
						n++
					}
				}
				require.LessOrEqual(t, n, 1, "%s matched by %d calendars", d.Format(time.DateOnly), n)
				if n == 1 {
					fires[d.Format("2006-01")] = append(fires[d.Format("2006-01")], d.Day())
				}
			}
			require.Len(t, fires, 101*12)
			for m := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC); m.Year() <= 2100; m = m.AddDate(0, 1, 0) {
				last := m.AddDate(0, 1, -1).Day()
				require.Equal(t, []int{min(day, last)}, fires[m.Format("2006-01")], "month %s", m.Format("2006-01"))
			}
		})
	}
}

func TestCalendarSpecsRefusesBadSchedules(t *testing.T) {
	cases := []struct {
		sched report.Schedule
		want  string
	}{
		{report.Schedule{Frequency: "hourly", Time: "08:00"}, `schedule frequency "hourly" is not one of daily, weekly, monthly`},
		{report.Schedule{Frequency: report.Daily, Time: "8am"}, `schedule time "8am" is not HH:MM (24-hour)`},
		{report.Schedule{Frequency: report.Daily, Time: "24:00"}, `schedule time "24:00" is not HH:MM (24-hour)`},
		{report.Schedule{Frequency: report.Daily, Time: "8:00"}, `schedule time "8:00" is not HH:MM (24-hour)`},
		{report.Schedule{Frequency: report.Weekly, Time: "08:00", Weekday: "funday"}, `schedule weekday "funday" is not a day of the week (monday ... sunday)`},
		{report.Schedule{Frequency: report.Monthly, Time: "08:00", DayOfMonth: 0}, "schedule day_of_month 0 is not between 1 and 31"},
		{report.Schedule{Frequency: report.Monthly, Time: "08:00", DayOfMonth: 32}, "schedule day_of_month 32 is not between 1 and 31"},
	}
	for _, tc := range cases {
		_, err := CalendarSpecs(tc.sched)
		require.EqualError(t, err, tc.want)
	}
}

// calendarMatches says whether c fires at t (read in t's zone), as Temporal reads a
// calendar: an empty Hour, Minute or Second is 0; an empty day, month, year or weekday
// field matches every value.
func calendarMatches(c client.ScheduleCalendarSpec, t time.Time) bool {
	in := func(rs []client.ScheduleRange, v int, emptyMatchesAll bool) bool {
		if len(rs) == 0 {
			return emptyMatchesAll || v == 0
		}
		for _, r := range rs {
			end, step := max(r.End, r.Start), max(r.Step, 1)
			if v >= r.Start && v <= end && (v-r.Start)%step == 0 {
				return true
			}
		}
		return false
	}
	return in(c.Second, t.Second(), false) && in(c.Minute, t.Minute(), false) && in(c.Hour, t.Hour(), false) &&
		in(c.DayOfMonth, t.Day(), true) && in(c.Month, int(t.Month()), true) && in(c.Year, t.Year(), true) &&
		in(c.DayOfWeek, int(t.Weekday()), true)
}
