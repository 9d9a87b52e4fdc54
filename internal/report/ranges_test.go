package report

import (
	"testing"
	"time"
)

func TestResolveRange(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	auckland, err := time.LoadLocation("Pacific/Auckland")
	if err != nil {
		t.Fatal(err)
	}
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	// 2026-03-29 is the day Berlin moves to summer time; 00:30 there is 23:30 UTC on the 28th.
	berlinDST := at("2026-03-29T00:30:00+01:00")
	cases := []struct {
		name     string
		r        Range
		loc      *time.Location
		now      time.Time
		from, to string
	}{
		{"yesterday berlin after midnight", Range{Relative: RangeYesterday}, berlin, berlinDST, "2026-03-28", "2026-03-28"},
		{"yesterday utc same instant", Range{Relative: RangeYesterday}, time.UTC, berlinDST, "2026-03-27", "2026-03-27"},
		{"nil location is utc", Range{Relative: RangeYesterday}, nil, berlinDST, "2026-03-27", "2026-03-27"},
		{"last 7 days berlin", Range{Relative: RangeLast7Days}, berlin, berlinDST, "2026-03-22", "2026-03-28"},
		{"last 7 days utc", Range{Relative: RangeLast7Days}, time.UTC, berlinDST, "2026-03-21", "2026-03-27"},
		{"last 30 days", Range{Relative: RangeLast30Days}, berlin, berlinDST, "2026-02-27", "2026-03-28"},
		{"last 90 days", Range{Relative: RangeLast90Days}, berlin, berlinDST, "2025-12-29", "2026-03-28"},
		// Sunday in Berlin, still Saturday in UTC: the weeks differ.
		{"last week berlin on sunday", Range{Relative: RangeLastWeek}, berlin, berlinDST, "2026-03-16", "2026-03-22"},
		{"week to date berlin on sunday", Range{Relative: RangeWeekToDate}, berlin, berlinDST, "2026-03-23", "2026-03-29"},
		{"week to date utc on saturday", Range{Relative: RangeWeekToDate}, time.UTC, berlinDST, "2026-03-23", "2026-03-28"},
		{"week to date on monday", Range{Relative: RangeWeekToDate}, time.UTC, at("2026-03-30T08:00:00Z"), "2026-03-30", "2026-03-30"},
		{"last week on monday", Range{Relative: RangeLastWeek}, time.UTC, at("2026-03-30T08:00:00Z"), "2026-03-23", "2026-03-29"},
		{"month to date", Range{Relative: RangeMonthToDate}, berlin, berlinDST, "2026-03-01", "2026-03-29"},
		{"last month", Range{Relative: RangeLastMonth}, berlin, berlinDST, "2026-02-01", "2026-02-28"},
		// New Year: 00:30 on January 1st in Berlin is still December 31st in UTC.
		{"new year berlin last month", Range{Relative: RangeLastMonth}, berlin, at("2027-01-01T00:30:00+01:00"), "2026-12-01", "2026-12-31"},
		{"new year utc last month", Range{Relative: RangeLastMonth}, time.UTC, at("2027-01-01T00:30:00+01:00"), "2026-11-01", "2026-11-30"},
		{"new year berlin month to date", Range{Relative: RangeMonthToDate}, berlin, at("2027-01-01T00:30:00+01:00"), "2027-01-01", "2027-01-01"},
		{"new year berlin yesterday", Range{Relative: RangeYesterday}, berlin, at("2027-01-01T00:30:00+01:00"), "2026-12-31", "2026-12-31"},
		{"last month in march of a leap year", Range{Relative: RangeLastMonth}, time.UTC, at("2028-03-15T12:00:00Z"), "2028-02-01", "2028-02-29"},
		{"last 7 days across the year", Range{Relative: RangeLast7Days}, auckland, at("2026-01-02T12:00:00Z"), "2025-12-27", "2026-01-02"},
		{"autumn dst berlin", Range{Relative: RangeYesterday}, berlin, at("2026-10-25T00:30:00+02:00"), "2026-10-24", "2026-10-24"},
		{"fixed", Range{From: "2026-02-03", To: "2026-02-10"}, berlin, berlinDST, "2026-02-03", "2026-02-10"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			from, to, err := ResolveRange(tc.r, tc.loc, tc.now)
			if err != nil {
				t.Fatal(err)
			}
			if f := from.Format(time.DateOnly); f != tc.from {
				t.Errorf("from %s, want %s", f, tc.from)
			}
			if g := to.Format(time.DateOnly); g != tc.to {
				t.Errorf("to %s, want %s", g, tc.to)
			}
			if from.Location() != time.UTC || to.Location() != time.UTC || from.Hour() != 0 || to.Hour() != 0 {
				t.Errorf("days %v, %v are not midnight UTC", from, to)
			}
		})
	}
	for _, r := range []Range{{Relative: "last_year"}, {From: "2026-02-10", To: "2026-02-03"}, {From: "2026-02-30", To: "2026-03-01"},
		{Relative: RangeYesterday, From: "2026-01-01"}, {}} {
		if _, _, err := ResolveRange(r, berlin, berlinDST); err == nil {
			t.Errorf("%+v: no error", r)
		}
	}
}
