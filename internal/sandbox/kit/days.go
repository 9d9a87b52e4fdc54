package kit

import (
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"
)

// DateLayout is the YYYY-MM-DD of admin bodies, report days and restatements.
const DateLayout = "2006-01-02"

// Today is the calendar day of now in loc, as UTC midnight: days are compared and stepped
// in UTC so that DST changes of the account's timezone never make a day 23 or 25 hours.
func Today(now time.Time, loc *time.Location) time.Time {
	y, m, d := now.In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// History is the span of days an account has data for: the last days days, ending today in
// loc.
func History(now time.Time, loc *time.Location, days int) (start, today time.Time) {
	today = Today(now, loc)
	return today.AddDate(0, 0, -(days - 1)), today
}

// RestateDay checks the day and percent of a POST /_sandbox/restate body, which each sandbox
// decodes with its own key names, and returns the day it restates: date as given, or daysAgo
// days before today() (asked only then, as it fails for an unknown account). percentKey
// names the sandbox's percent key in the error when it is missing.
func RestateDay(date string, daysAgo, percent *int, percentKey string, today func() (string, error)) (string, error) {
	if percent == nil {
		if (date == "") == (daysAgo == nil) {
			return "", errors.New("restate: give exactly one of date and days_ago")
		}
		return "", fmt.Errorf("restate: %s is required", percentKey)
	}
	return AdminDay("restate", date, daysAgo, today)
}

// AdminDay resolves the day an admin request names, either as a date or as days_ago
// counted back from today; what prefixes its errors ("restate", "fold_other").
func AdminDay(what, date string, daysAgo *int, today func() (string, error)) (string, error) {
	if (date == "") == (daysAgo == nil) {
		return "", fmt.Errorf("%s: give exactly one of date and days_ago", what)
	}
	if daysAgo == nil {
		return date, nil
	}
	t, err := today()
	if err != nil {
		return "", err
	}
	d, _ := time.Parse(DateLayout, t)
	return d.AddDate(0, 0, -*daysAgo).Format(DateLayout), nil
}

// Restatements are the restated days of a sandbox: account id -> date -> percent of the
// generated values. The zero value is ready to use; it is safe for concurrent use.
type Restatements struct {
	mu sync.Mutex
	m  map[string]map[string]int
}

// Set restates a day of an account to percent percent; 100 undoes the restatement.
func (r *Restatements) Set(id, date string, percent int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if percent == 100 {
		delete(r.m[id], date)
		return
	}
	if r.m == nil {
		r.m = map[string]map[string]int{}
	}
	if r.m[id] == nil {
		r.m[id] = map[string]int{}
	}
	r.m[id][date] = percent
}

// Of returns a copy of an account's restatements (never nil), for a report to read without
// the lock and unchanged by later restatements.
func (r *Restatements) Of(id string) map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]int, len(r.m[id]))
	maps.Copy(out, r.m[id])
	return out
}

// Clear undoes every restatement.
func (r *Restatements) Clear() {
	r.mu.Lock()
	r.m = nil
	r.mu.Unlock()
}

// IsDigits reports whether s is a non-empty string of ASCII digits, as provider ids are.
func IsDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}
