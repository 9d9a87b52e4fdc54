package reporting

import (
	"context"
	"fmt"
	"net/mail"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/omnitrackiq/omnitrackiq/internal/analytics"
	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	"github.com/omnitrackiq/omnitrackiq/internal/report"
)

// FieldError is one problem with a definition: Field is the JSON path of the bad value
// (metrics[2], filters[0].field, schedule.time) and Message says what is wrong with it.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (e FieldError) Error() string { return e.Field + ": " + e.Message }

// Validation bounds.
const (
	MaxNameLength    = 120
	MaxDimensions    = 3
	MaxFilters       = 20
	MaxFilterValues  = 100
	MaxValueLength   = 200
	MaxEmails        = 50
	MaxWebhooks      = 10
	maxURLLength     = 2048
	maxEmailLength   = 254
	minRangeYear     = 1970
	maxRangeYears    = 3
	valuePunctuation = "_-.,:/+&()@#%!?"
)

// Validator checks definitions at the edge.
type Validator struct {
	// DefaultTimezone is the time zone of a definition that names none (the workspace's).
	DefaultTimezone string
	// CheckWebhookURL, when set, decides whether a webhook URL may be called (its scheme
	// and whether its host may be on a private or loopback network); its error message is
	// reported on the URL's field. When nil, any absolute http or https URL without user
	// information passes.
	CheckWebhookURL func(ctx context.Context, raw string) error
}

// Validate normalizes def in place (trims names, drops repeated entries, lower-cases
// emails and formats, fills in the default formats, limit and time zone, moves a single
// filter value between Value and Values to where its operator reads it, and clears the
// schedule fields its frequency does not use) and returns every problem found, nil when
// def is valid.
func (v Validator) Validate(ctx context.Context, def *report.Definition) []FieldError {
	var errs []FieldError
	fail := func(field, format string, args ...any) {
		errs = append(errs, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}

	def.Name = strings.TrimSpace(def.Name)
	switch n := utf8.RuneCountInString(def.Name); {
	case n == 0:
		fail("name", "is required")
	case n > MaxNameLength:
		fail("name", "must be at most %d characters (it has %d)", MaxNameLength, n)
	case strings.ContainsFunc(def.Name, unicode.IsControl):
		fail("name", "must not contain control characters")
	}

	// Metrics and dimensions keep their first occurrence; errors name the index sent.
	allowedMetrics := analytics.MetricNames()
	var metrics []string
	validMetric := map[string]bool{}
	for i, m := range def.Metrics {
		m = strings.TrimSpace(m)
		if slices.Contains(metrics, m) {
			continue
		}
		metrics = append(metrics, m)
		if !slices.Contains(allowedMetrics, m) {
			fail(fmt.Sprintf("metrics[%d]", i), "unknown metric %q; allowed: %s", m, strings.Join(allowedMetrics, ", "))
			continue
		}
		validMetric[m] = true
	}
	def.Metrics = metrics
	if len(def.Metrics) == 0 {
		fail("metrics", "at least one metric is required; allowed: %s", strings.Join(allowedMetrics, ", "))
	}

	allowedDims := report.Dimensions()
	var dims []string
	dimIndex := map[string]int{}
	times := 0
	for i, d := range def.Dimensions {
		d = strings.TrimSpace(d)
		if slices.Contains(dims, d) {
			continue
		}
		dims = append(dims, d)
		field := fmt.Sprintf("dimensions[%d]", i)
		if !slices.Contains(allowedDims, d) {
			fail(field, "unknown dimension %q; allowed: %s", d, strings.Join(allowedDims, ", "))
			continue
		}
		if analytics.ReportTimeDimension(d) {
			if times++; times > 1 {
				fail(field, "a report may split by one of day, week and month only")
				continue
			}
		}
		dimIndex[d] = i
	}
	def.Dimensions = dims
	if len(def.Dimensions) > MaxDimensions {
		fail("dimensions", "at most %d dimensions (got %d)", MaxDimensions, len(def.Dimensions))
	}
	for _, m := range def.Metrics {
		if !validMetric[m] {
			continue
		}
		for _, d := range def.Dimensions {
			if i, ok := dimIndex[d]; ok {
				if err := analytics.CanSplit(m, d); err != nil {
					fail(fmt.Sprintf("dimensions[%d]", i), "%s", err)
				}
			}
		}
	}

	errs = append(errs, v.filters(def, validMetric)...)
	errs = append(errs, validateRange(&def.Range)...)

	if def.Sort != nil {
		def.Sort.By = strings.TrimSpace(def.Sort.By)
		if !slices.Contains(def.Metrics, def.Sort.By) && !slices.Contains(def.Dimensions, def.Sort.By) {
			fail("sort.by", "%q is not one of the report's metrics or dimensions (%s)", def.Sort.By,
				strings.Join(append(slices.Clone(def.Metrics), def.Dimensions...), ", "))
		}
	}
	switch {
	case def.Limit == 0:
		def.Limit = report.DefaultRows
	case def.Limit < 0 || def.Limit > report.MaxRows:
		fail("limit", "must be between 1 and %d (0 means %d)", report.MaxRows, report.DefaultRows)
	}

	var formats []string
	for i, f := range def.Formats {
		f = strings.ToLower(strings.TrimSpace(f))
		if slices.Contains(formats, f) {
			continue
		}
		formats = append(formats, f)
		if !slices.Contains(report.AllFormats(), f) {
			fail(fmt.Sprintf("formats[%d]", i), "unknown format %q; allowed: %s", f, strings.Join(report.AllFormats(), ", "))
		}
	}
	if len(formats) == 0 {
		formats = []string{report.FormatCSV}
	}
	def.Formats = formats

	def.Timezone = strings.TrimSpace(def.Timezone)
	if def.Timezone == "" {
		def.Timezone = v.DefaultTimezone
	}
	switch def.Timezone {
	case "":
		fail("timezone", "is required (an IANA time zone such as Europe/Berlin)")
	case "Local":
		fail("timezone", `must be an IANA time zone such as Europe/Berlin, not "Local"`)
	default:
		if _, err := time.LoadLocation(def.Timezone); err != nil {
			fail("timezone", "%q is not an IANA time zone such as Europe/Berlin", def.Timezone)
		}
	}

	errs = append(errs, v.recipients(ctx, &def.Recipients)...)
	if def.Schedule != nil {
		errs = append(errs, validateSchedule(def.Schedule)...)
		if len(def.Recipients.Emails) == 0 && len(def.Recipients.Webhooks) == 0 {
			fail("recipients", "a scheduled report needs at least one email address or webhook")
		}
	}
	return errs
}

// filters validates and normalizes def.Filters; validMetric are the known metrics.
func (v Validator) filters(def *report.Definition, validMetric map[string]bool) []FieldError {
	var errs []FieldError
	fail := func(field, format string, args ...any) {
		errs = append(errs, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	if len(def.Filters) > MaxFilters {
		fail("filters", "at most %d filters (got %d)", MaxFilters, len(def.Filters))
	}
	fields, ops := analytics.ReportFilterFields(), analytics.ReportFilterOps()
	for i := range def.Filters {
		f := &def.Filters[i]
		path := fmt.Sprintf("filters[%d]", i)
		f.Field = strings.TrimSpace(f.Field)
		f.Op = strings.ToLower(strings.TrimSpace(f.Op))
		if !slices.Contains(fields, f.Field) {
			fail(path+".field", "cannot filter on %q; allowed: %s", f.Field, strings.Join(fields, ", "))
		} else {
			for _, m := range def.Metrics {
				if !validMetric[m] {
					continue
				}
				if err := analytics.CanFilter(m, f.Field); err != nil {
					fail(path+".field", "%s", err)
				}
			}
		}
		if !slices.Contains(ops, f.Op) {
			fail(path+".op", "unknown operator %q; allowed: %s", f.Op, strings.Join(ops, ", "))
			continue
		}
		f.Value = strings.TrimSpace(f.Value)
		var values []string
		for _, val := range f.Values {
			if val = strings.TrimSpace(val); !slices.Contains(values, val) {
				values = append(values, val)
			}
		}
		f.Values = values
		if f.Op == analytics.OpIn || f.Op == analytics.OpNotIn {
			if len(f.Values) == 0 && f.Value != "" {
				f.Values, f.Value = []string{f.Value}, ""
			}
			switch {
			case f.Value != "":
				fail(path+".value", "%s takes values, not value", f.Op)
			case len(f.Values) == 0 || len(f.Values) > MaxFilterValues:
				fail(path+".values", "%s needs 1 to %d values (got %d)", f.Op, MaxFilterValues, len(f.Values))
			default:
				for j, val := range f.Values {
					if msg := valueProblem(val); msg != "" {
						fail(fmt.Sprintf("%s.values[%d]", path, j), "%s", msg)
					}
				}
			}
			continue
		}
		if f.Value == "" && len(f.Values) == 1 {
			f.Value, f.Values = f.Values[0], nil
		}
		switch {
		case len(f.Values) > 0:
			fail(path+".values", "%s takes one value, not values", f.Op)
		case f.Value == "":
			fail(path+".value", "is required")
		default:
			if msg := valueProblem(f.Value); msg != "" {
				fail(path+".value", "%s", msg)
			}
		}
	}
	return errs
}

// valueProblem says what is wrong with a filter value, "" when nothing. Values are bound
// parameters whatever they hold; the narrow charset turns away input that is plainly not
// a channel, campaign or UTM value (quotes, semicolons, comment markers) at the edge.
func valueProblem(val string) string {
	if n := utf8.RuneCountInString(val); n == 0 || n > MaxValueLength {
		return fmt.Sprintf("must be 1 to %d characters (it has %d)", MaxValueLength, n)
	}
	ok := !strings.Contains(val, "--")
	for _, r := range val {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != ' ' && !strings.ContainsRune(valuePunctuation, r) {
			ok = false
		}
	}
	if !ok {
		return "may hold only letters, digits, spaces and _ - . , : / + & ( ) @ # % ! ? (and not --)"
	}
	return ""
}

// validateRange checks that r is exactly one of a known relative range and a fixed range
// of valid days.
func validateRange(r *report.Range) []FieldError {
	r.Relative = strings.ToLower(strings.TrimSpace(r.Relative))
	r.From, r.To = strings.TrimSpace(r.From), strings.TrimSpace(r.To)
	fixed := r.From != "" || r.To != ""
	switch {
	case r.Relative != "" && fixed:
		return []FieldError{{"range", "give either relative or from and to, not both"}}
	case r.Relative != "":
		if !slices.Contains(report.RelativeRanges(), r.Relative) {
			return []FieldError{{"range.relative", fmt.Sprintf("unknown range %q; allowed: %s", r.Relative, strings.Join(report.RelativeRanges(), ", "))}}
		}
		return nil
	case !fixed:
		return []FieldError{{"range", "give relative (" + strings.Join(report.RelativeRanges(), ", ") + ") or from and to"}}
	}
	var errs []FieldError
	parse := func(field, s string) time.Time {
		if s == "" {
			errs = append(errs, FieldError{field, "is required with a fixed range (YYYY-MM-DD)"})
			return time.Time{}
		}
		d, err := time.Parse(channels.DateLayout, s)
		if err != nil {
			errs = append(errs, FieldError{field, fmt.Sprintf("%q is not a YYYY-MM-DD date", s)})
			return time.Time{}
		}
		if d.Year() < minRangeYear {
			errs = append(errs, FieldError{field, fmt.Sprintf("must not be before %d-01-01", minRangeYear)})
			return time.Time{}
		}
		return d
	}
	from, to := parse("range.from", r.From), parse("range.to", r.To)
	if len(errs) > 0 {
		return errs
	}
	switch {
	case from.After(to):
		errs = append(errs, FieldError{"range.from", fmt.Sprintf("must not be after range.to (%s)", r.To)})
	case !to.Before(from.AddDate(maxRangeYears, 0, 0)):
		errs = append(errs, FieldError{"range.to", fmt.Sprintf("the range must be shorter than %d years", maxRangeYears)})
	}
	return errs
}

// Weekdays lists the schedule weekdays, Monday first.
func Weekdays() []string {
	return []string{"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}
}

// validateSchedule checks s and clears the fields its frequency does not use.
func validateSchedule(s *report.Schedule) []FieldError {
	var errs []FieldError
	fail := func(field, msg string) { errs = append(errs, FieldError{field, msg}) }
	s.Frequency = strings.ToLower(strings.TrimSpace(s.Frequency))
	s.Time = strings.TrimSpace(s.Time)
	s.Weekday = strings.ToLower(strings.TrimSpace(s.Weekday))
	if !validClock(s.Time) {
		fail("schedule.time", fmt.Sprintf("%q is not a time of day HH:MM between 00:00 and 23:59", s.Time))
	}
	switch s.Frequency {
	case report.Daily:
		s.Weekday, s.DayOfMonth = "", 0
	case report.Weekly:
		s.DayOfMonth = 0
		if !slices.Contains(Weekdays(), s.Weekday) {
			fail("schedule.weekday", fmt.Sprintf("a weekly schedule needs a weekday: one of %s", strings.Join(Weekdays(), ", ")))
		}
	case report.Monthly:
		s.Weekday = ""
		if s.DayOfMonth < 1 || s.DayOfMonth > 31 {
			fail("schedule.day_of_month", "a monthly schedule needs a day of month from 1 to 31 (a later day than the month has runs on its last day)")
		}
	default:
		fail("schedule.frequency", fmt.Sprintf("unknown frequency %q; allowed: %s, %s, %s", s.Frequency, report.Daily, report.Weekly, report.Monthly))
	}
	return errs
}

// validClock says whether s is HH:MM, 00:00 to 23:59, with two digits each.
func validClock(s string) bool {
	if len(s) != 5 || s[2] != ':' {
		return false
	}
	h, herr := strconv.Atoi(s[:2])
	m, merr := strconv.Atoi(s[3:])
	digits := !strings.ContainsAny(s[:2]+s[3:], "+-")
	return herr == nil && merr == nil && digits && h >= 0 && h <= 23 && m >= 0 && m <= 59
}

// recipients validates and normalizes the email addresses and webhook URLs.
func (v Validator) recipients(ctx context.Context, r *report.Recipients) []FieldError {
	var errs []FieldError
	fail := func(field, format string, args ...any) {
		errs = append(errs, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	var emails []string
	for i, e := range r.Emails {
		e = strings.ToLower(strings.TrimSpace(e))
		if slices.Contains(emails, e) {
			continue
		}
		emails = append(emails, e)
		field := fmt.Sprintf("recipients.emails[%d]", i)
		addr, err := mail.ParseAddress(e)
		switch {
		case e == "":
			fail(field, "is empty")
		case len(e) > maxEmailLength:
			fail(field, "must be at most %d characters", maxEmailLength)
		case err != nil || addr.Name != "" || addr.Address != e:
			fail(field, "%q is not an email address such as name@example.com (without a display name)", e)
		}
	}
	if len(emails) > MaxEmails {
		fail("recipients.emails", "at most %d addresses (got %d)", MaxEmails, len(emails))
	}
	r.Emails = emails
	if r.Emails == nil {
		r.Emails = []string{}
	}

	var hooks []string
	for i, h := range r.Webhooks {
		h = strings.TrimSpace(h)
		if slices.Contains(hooks, h) {
			continue
		}
		hooks = append(hooks, h)
		field := fmt.Sprintf("recipients.webhooks[%d]", i)
		if msg := webhookProblem(h); msg != "" {
			fail(field, "%s", msg)
			continue
		}
		if v.CheckWebhookURL != nil {
			if err := v.CheckWebhookURL(ctx, h); err != nil {
				fail(field, "%s", err)
			}
		}
	}
	if len(hooks) > MaxWebhooks {
		fail("recipients.webhooks", "at most %d webhooks (got %d)", MaxWebhooks, len(hooks))
	}
	r.Webhooks = hooks
	if r.Webhooks == nil {
		r.Webhooks = []string{}
	}
	return errs
}

// webhookProblem says what keeps raw from being a webhook URL, "" when nothing.
func webhookProblem(raw string) string {
	if raw == "" {
		return "is empty"
	}
	if len(raw) > maxURLLength {
		return fmt.Sprintf("must be at most %d characters", maxURLLength)
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "":
		return fmt.Sprintf("%q is not an absolute URL such as https://example.com/hooks/reports", raw)
	case u.Scheme != "https" && u.Scheme != "http":
		return "must be an https URL"
	case u.User != nil:
		return "must not hold a user name or password; the delivery is signed instead"
	case u.Fragment != "":
		return "must not have a #fragment"
	}
	return ""
}
