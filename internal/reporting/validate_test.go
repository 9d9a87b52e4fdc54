package reporting

import (
	"context"
	"errors"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/omnitrackiq/omnitrackiq/internal/report"
)

func validDefinition() report.Definition {
	return report.Definition{
		Name:       "Weekly",
		Metrics:    []string{"revenue", "spend"},
		Dimensions: []string{"channel"},
		Range:      report.Range{Relative: report.RangeLastWeek},
		Formats:    []string{"csv", "pdf"},
		Timezone:   "Europe/Berlin",
		Schedule:   &report.Schedule{Frequency: report.Weekly, Time: "08:00", Weekday: "monday"},
		Recipients: report.Recipients{Emails: []string{"a@example.com"}, Webhooks: []string{"https://hooks.example.com/r"}},
	}
}

func TestValidateRejects(t *testing.T) {
	cases := []struct {
		name   string
		edit   func(d *report.Definition)
		field  string
		substr string
	}{
		{"no name", func(d *report.Definition) { d.Name = "  " }, "name", "required"},
		{"long name", func(d *report.Definition) { d.Name = strings.Repeat("x", 121) }, "name", "at most 120"},
		{"no metrics", func(d *report.Definition) { d.Metrics = nil }, "metrics", "at least one"},
		{"unknown metric", func(d *report.Definition) { d.Metrics = []string{"revenue", "spend", "profit"} }, "metrics[2]", `unknown metric "profit"; allowed: revenue`},
		{"unknown dimension", func(d *report.Definition) { d.Dimensions = []string{"country"} }, "dimensions[0]", `unknown dimension "country"`},
		{"two time dimensions", func(d *report.Definition) { d.Dimensions = []string{"day", "week"} }, "dimensions[1]", "one of day, week and month"},
		{"four dimensions", func(d *report.Definition) {
			d.Metrics = []string{"revenue"}
			d.Dimensions = []string{"day", "channel", "utm_source", "utm_medium"}
		}, "dimensions", "at most 3"},
		{"sessions by channel", func(d *report.Definition) { d.Metrics = []string{"sessions"} }, "dimensions[0]",
			`metric "sessions" cannot be split by "channel": sessions have no channel`},
		{"filter field not whitelisted", func(d *report.Definition) {
			d.Filters = []report.Filter{{Field: "email", Op: "eq", Value: "x"}}
		}, "filters[0].field", `cannot filter on "email"`},
		{"filter incompatible", func(d *report.Definition) {
			d.Filters = []report.Filter{{Field: "utm_source", Op: "eq", Value: "x"}}
		}, "filters[0].field", `metric "spend" cannot be filtered by "utm_source"`},
		{"filter op", func(d *report.Definition) { d.Filters = []report.Filter{{Field: "channel", Op: "like", Value: "x"}} }, "filters[0].op", `unknown operator "like"`},
		{"filter value missing", func(d *report.Definition) { d.Filters = []report.Filter{{Field: "channel", Op: "eq"}} }, "filters[0].value", "required"},
		{"filter values for eq", func(d *report.Definition) {
			d.Filters = []report.Filter{{Field: "channel", Op: "eq", Values: []string{"a", "b"}}}
		}, "filters[0].values", "one value"},
		{"filter in without values", func(d *report.Definition) { d.Filters = []report.Filter{{Field: "channel", Op: "in"}} }, "filters[0].values", "1 to 100"},
		{"filter in too many values", func(d *report.Definition) {
			vs := make([]string, 101)
			for i := range vs {
				vs[i] = strings.Repeat("v", i+1)
			}
			d.Filters = []report.Filter{{Field: "channel", Op: "in", Values: vs}}
		}, "filters[0].values", "1 to 100"},
		{"SQL in a value", func(d *report.Definition) {
			d.Filters = []report.Filter{{Field: "channel", Op: "eq", Value: "x'; DROP TABLE orders;--"}}
		}, "filters[0].value", "may hold only letters, digits"},
		{"comment in a value", func(d *report.Definition) {
			d.Filters = []report.Filter{{Field: "channel", Op: "eq", Value: "meta -- x"}}
		}, "filters[0].value", "not --"},
		{"block comment in values", func(d *report.Definition) {
			d.Filters = []report.Filter{{Field: "channel", Op: "not_in", Values: []string{"meta", "a/*b"}}}
		}, "filters[0].values[1]", "may hold only"},
		{"backslash", func(d *report.Definition) { d.Filters = []report.Filter{{Field: "channel", Op: "eq", Value: `a\b`}} }, "filters[0].value", "may hold only"},
		{"long value", func(d *report.Definition) {
			d.Filters = []report.Filter{{Field: "channel", Op: "eq", Value: strings.Repeat("a", 201)}}
		}, "filters[0].value", "1 to 200"},
		{"no range", func(d *report.Definition) { d.Range = report.Range{} }, "range", "give relative"},
		{"both ranges", func(d *report.Definition) { d.Range.From = "2026-01-01" }, "range", "not both"},
		{"unknown relative", func(d *report.Definition) { d.Range.Relative = "last_year" }, "range.relative", `unknown range "last_year"`},
		{"bad from", func(d *report.Definition) { d.Range = report.Range{From: "2026-02-30", To: "2026-03-01"} }, "range.from", "YYYY-MM-DD"},
		{"missing to", func(d *report.Definition) { d.Range = report.Range{From: "2026-02-01"} }, "range.to", "required"},
		{"from after to", func(d *report.Definition) { d.Range = report.Range{From: "2026-03-02", To: "2026-03-01"} }, "range.from", "after"},
		{"old from", func(d *report.Definition) { d.Range = report.Range{From: "1969-12-31", To: "1970-01-05"} }, "range.from", "1970-01-01"},
		{"span too long", func(d *report.Definition) { d.Range = report.Range{From: "2023-01-01", To: "2026-01-01"} }, "range.to", "shorter than 3 years"},
		{"sort by other", func(d *report.Definition) { d.Sort = &report.Sort{By: "orders"} }, "sort.by", `"orders" is not one of`},
		{"negative limit", func(d *report.Definition) { d.Limit = -1 }, "limit", "between 1 and 10000"},
		{"limit too big", func(d *report.Definition) { d.Limit = report.MaxRows + 1 }, "limit", "between 1 and 10000"},
		{"unknown format", func(d *report.Definition) { d.Formats = []string{"csv", "xlsx"} }, "formats[1]", `unknown format "xlsx"`},
		{"bad timezone", func(d *report.Definition) { d.Timezone = "Mars/Olympus" }, "timezone", "not an IANA time zone"},
		{"local timezone", func(d *report.Definition) { d.Timezone = "Local" }, "timezone", `not "Local"`},
		{"unknown frequency", func(d *report.Definition) { d.Schedule.Frequency = "hourly" }, "schedule.frequency", `unknown frequency "hourly"`},
		{"bad time", func(d *report.Definition) { d.Schedule.Time = "24:00" }, "schedule.time", "HH:MM"},
		{"short time", func(d *report.Definition) { d.Schedule.Time = "8:00" }, "schedule.time", "HH:MM"},
		{"weekly without weekday", func(d *report.Definition) { d.Schedule.Weekday = "" }, "schedule.weekday", "needs a weekday"},
		{"monthly day 32", func(d *report.Definition) {
			*d.Schedule = report.Schedule{Frequency: report.Monthly, Time: "07:30", DayOfMonth: 32}
		}, "schedule.day_of_month", "1 to 31"},
		{"monthly without day", func(d *report.Definition) { *d.Schedule = report.Schedule{Frequency: report.Monthly, Time: "07:30"} }, "schedule.day_of_month", "1 to 31"},
		{"schedule without recipients", func(d *report.Definition) { d.Recipients = report.Recipients{} }, "recipients", "at least one"},
		{"bad email", func(d *report.Definition) { d.Recipients.Emails = []string{"a@example.com", "not-an-address"} }, "recipients.emails[1]", "not an email address"},
		{"display name", func(d *report.Definition) { d.Recipients.Emails = []string{"Ann <a@example.com>"} }, "recipients.emails[0]", "not an email address"},
		{"too many emails", func(d *report.Definition) {
			d.Recipients.Emails = nil
			for i := range 51 {
				d.Recipients.Emails = append(d.Recipients.Emails, strings.Repeat("a", i+1)+"@example.com")
			}
		}, "recipients.emails", "at most 50"},
		{"relative webhook", func(d *report.Definition) { d.Recipients.Webhooks = []string{"/hooks"} }, "recipients.webhooks[0]", "not an absolute URL"},
		{"ftp webhook", func(d *report.Definition) { d.Recipients.Webhooks = []string{"ftp://example.com/x"} }, "recipients.webhooks[0]", "https"},
		{"webhook with password", func(d *report.Definition) { d.Recipients.Webhooks = []string{"https://u:p@example.com/x"} }, "recipients.webhooks[0]", "user name or password"},
		{"too many webhooks", func(d *report.Definition) {
			d.Recipients.Webhooks = nil
			for i := range 11 {
				d.Recipients.Webhooks = append(d.Recipients.Webhooks, "https://example.com/"+strings.Repeat("x", i+1))
			}
		}, "recipients.webhooks", "at most 10"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := validDefinition()
			tc.edit(&d)
			errs := Validator{}.Validate(context.Background(), &d)
			for _, e := range errs {
				if e.Field == tc.field && strings.Contains(e.Message, tc.substr) {
					return
				}
			}
			t.Errorf("want an error on %s containing %q, got %v", tc.field, tc.substr, errs)
		})
	}
}

func TestValidateWebhookCheck(t *testing.T) {
	var checked []string
	v := Validator{DefaultTimezone: "UTC", CheckWebhookURL: func(_ context.Context, raw string) error {
		checked = append(checked, raw)
		u, _ := url.Parse(raw)
		if u.Hostname() == "127.0.0.1" {
			return errors.New("must not be on a private or loopback network")
		}
		return nil
	}}
	d := validDefinition()
	d.Recipients.Webhooks = []string{"https://hooks.example.com/r", "http://127.0.0.1:9000/x", "https://u@example.com/"}
	errs := v.Validate(context.Background(), &d)
	want := []FieldError{{"recipients.webhooks[1]", "must not be on a private or loopback network"},
		{"recipients.webhooks[2]", "must not hold a user name or password; the delivery is signed instead"}}
	if !reflect.DeepEqual(errs, want) {
		t.Errorf("errors %v, want %v", errs, want)
	}
	if !reflect.DeepEqual(checked, []string{"https://hooks.example.com/r", "http://127.0.0.1:9000/x"}) {
		t.Errorf("checked %v", checked)
	}
	// Without a check, http passes.
	d = validDefinition()
	d.Recipients.Webhooks = []string{"http://127.0.0.1:9000/x"}
	if errs := (Validator{}).Validate(context.Background(), &d); errs != nil {
		t.Errorf("errors %v", errs)
	}
}

func TestValidateNormalizes(t *testing.T) {
	d := report.Definition{
		Name:       "  Daily  ",
		Metrics:    []string{" revenue", "orders", "revenue"},
		Dimensions: []string{"day ", "day"},
		Filters: []report.Filter{
			{Field: " utm_source", Op: "EQ", Values: []string{" facebook "}},
			{Field: "channel", Op: "in", Value: "meta"},
			{Field: "utm_medium", Op: "not_in", Values: []string{"cpc", "cpc", "paid"}},
		},
		Range:      report.Range{Relative: " Yesterday "},
		Sort:       &report.Sort{By: " orders", Desc: true},
		Formats:    []string{"PDF", "pdf"},
		Schedule:   &report.Schedule{Frequency: "Daily", Time: "06:15", Weekday: "monday", DayOfMonth: 3},
		Recipients: report.Recipients{Emails: []string{" A@Example.COM ", "a@example.com"}},
	}
	if errs := (Validator{DefaultTimezone: "America/New_York"}).Validate(context.Background(), &d); errs != nil {
		t.Fatalf("errors %v", errs)
	}
	want := report.Definition{
		Name:       "Daily",
		Metrics:    []string{"revenue", "orders"},
		Dimensions: []string{"day"},
		Filters: []report.Filter{
			{Field: "utm_source", Op: "eq", Value: "facebook"},
			{Field: "channel", Op: "in", Values: []string{"meta"}},
			{Field: "utm_medium", Op: "not_in", Values: []string{"cpc", "paid"}},
		},
		Range:      report.Range{Relative: report.RangeYesterday},
		Sort:       &report.Sort{By: "orders", Desc: true},
		Limit:      report.DefaultRows,
		Formats:    []string{"pdf"},
		Timezone:   "America/New_York",
		Schedule:   &report.Schedule{Frequency: report.Daily, Time: "06:15"},
		Recipients: report.Recipients{Emails: []string{"a@example.com"}, Webhooks: []string{}},
	}
	if !reflect.DeepEqual(d, want) {
		t.Errorf("normalized\n%+v\nwant\n%+v", d, want)
	}

	d = report.Definition{Name: "x", Metrics: []string{"sessions", "new_customers"}, Range: report.Range{From: "2026-01-01", To: "2026-01-31"}}
	if errs := (Validator{DefaultTimezone: "UTC"}).Validate(context.Background(), &d); errs != nil {
		t.Fatalf("errors %v", errs)
	}
	if !reflect.DeepEqual(d.Formats, []string{"csv"}) || d.Timezone != "UTC" || d.Limit != report.DefaultRows {
		t.Errorf("defaults: formats %v timezone %q limit %d", d.Formats, d.Timezone, d.Limit)
	}
	if errs := (Validator{}).Validate(context.Background(), &report.Definition{Name: "x", Metrics: []string{"orders"},
		Range: report.Range{Relative: report.RangeYesterday}}); len(errs) != 1 || errs[0].Field != "timezone" {
		t.Errorf("no time zone at all: %v", errs)
	}
}
