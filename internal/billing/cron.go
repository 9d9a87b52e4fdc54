package billing

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// CronMinInterval returns the shortest gap between two consecutive firings of a five-field
// cron expression (minute hour day-of-month month day-of-week), the number a plan's
// MinSyncInterval is compared with.
//
// Fields take numbers, * (and ?), ranges a-b, steps */n, a-b/n and a/n (a to the field's
// end), lists of those, month names (jan-dec) and day-of-week names (sun-sat; 0 and 7 are
// Sunday). They are read as Temporal schedules read them: a time fires when every field
// matches, day-of-month and day-of-week included (not the "either day" rule of Vixie cron).
// Gaps are counted in wall-clock minutes: a daylight-saving jump is not a gap.
func CronMinInterval(expr string) (time.Duration, error) {
	fields := strings.Fields(expr)
	if len(fields) != 5 {
		return 0, fmt.Errorf("cron %q must have 5 fields (minute hour day-of-month month day-of-week), got %d", expr, len(fields))
	}
	var sets [5][]bool
	for i, f := range fields {
		set, err := cronFields[i].parse(f)
		if err != nil {
			return 0, fmt.Errorf("cron %q: %s field %q: %w", expr, cronFields[i].name, f, err)
		}
		sets[i] = set
	}
	minutes, hours, doms, months, dows := sets[0], sets[1], sets[2], sets[3], sets[4]
	dows[0] = dows[0] || dows[7]

	// The minutes of the day that fire, the same on every day that fires.
	var times []int
	for h := range 24 {
		for m := range 60 {
			if hours[h] && minutes[m] {
				times = append(times, h*60+m)
			}
		}
	}
	gap := -1
	for i := 1; i < len(times); i++ {
		if d := times[i] - times[i-1]; gap < 0 || d < gap {
			gap = d
		}
	}

	// The shortest distance between two days that fire. Days repeat with the Gregorian
	// calendar's 400-year cycle (146097 days, a whole number of weeks), so the distances
	// within one cycle, and the one from its last firing day to the next cycle's first,
	// are all the distances there are.
	const cycle = 146097
	dayGap, first, last := -1, -1, -1
	day := time.Date(2000, time.January, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < cycle && dayGap != 1; i++ {
		_, mo, dom := day.Date()
		if months[mo] && doms[dom] && dows[day.Weekday()] {
			if first < 0 {
				first = i
			} else if dayGap < 0 || i-last < dayGap {
				dayGap = i - last
			}
			last = i
		}
		day = day.AddDate(0, 0, 1)
	}
	if first < 0 {
		return 0, fmt.Errorf("cron %q never fires: no day matches its day-of-month, month and day-of-week together", expr)
	}
	if dayGap != 1 {
		if wrap := first + cycle - last; dayGap < 0 || wrap < dayGap {
			dayGap = wrap
		}
	}
	// From a firing day's last time to the first time of the next firing day.
	if across := dayGap*24*60 - times[len(times)-1] + times[0]; gap < 0 || across < gap {
		gap = across
	}
	return time.Duration(gap) * time.Minute, nil
}

// cronField is one field of a cron expression: its name for messages, its bounds, and the
// names its values may be given by (names[i] is the value min+i).
type cronField struct {
	name     string
	min, max int
	names    []string
}

var cronFields = [5]cronField{
	{name: "minute", min: 0, max: 59},
	{name: "hour", min: 0, max: 23},
	{name: "day-of-month", min: 1, max: 31},
	{name: "month", min: 1, max: 12, names: []string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}},
	{name: "day-of-week", min: 0, max: 7, names: []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}},
}

// parse returns the field's values as a set indexed by value (0..max).
func (f cronField) parse(s string) ([]bool, error) {
	set := make([]bool, f.max+1)
	for _, item := range strings.Split(s, ",") {
		if item == "" {
			return nil, errors.New("has an empty list item")
		}
		rng, stepText, stepped := strings.Cut(item, "/")
		step := 1
		if stepped {
			n, err := strconv.Atoi(stepText)
			if err != nil || n < 1 {
				return nil, fmt.Errorf("step %q is not a positive number", stepText)
			}
			step = n
		}
		lo, hi := f.min, f.max
		switch {
		case rng == "*" || rng == "?":
		case strings.Contains(rng, "-"):
			a, b, _ := strings.Cut(rng, "-")
			var err error
			if lo, err = f.value(a); err != nil {
				return nil, err
			}
			if hi, err = f.value(b); err != nil {
				return nil, err
			}
			if lo > hi {
				return nil, fmt.Errorf("range %q runs backwards", rng)
			}
		default:
			v, err := f.value(rng)
			if err != nil {
				return nil, err
			}
			lo = v
			if !stepped {
				hi = v // a single value; a/n runs from a to the field's end
			}
		}
		for v := lo; v <= hi; v += step {
			set[v] = true
		}
	}
	return set, nil
}

// value reads one number or name of the field.
func (f cronField) value(s string) (int, error) {
	if i := slices.Index(f.names, strings.ToLower(s)); i >= 0 {
		return f.min + i, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	if n < f.min || n > f.max {
		return 0, fmt.Errorf("%d is outside %d-%d", n, f.min, f.max)
	}
	return n, nil
}
