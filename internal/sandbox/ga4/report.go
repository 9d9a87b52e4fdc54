package ga4

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/money"
	"github.com/omnitrackiq/omnitrackiq/internal/sandbox/kit"
)

const (
	msgUnauthenticated = "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project."
	msgNoCredentials   = "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project."
	msgNoPermission    = "User does not have sufficient permissions for this property. To learn more about Property ID, see https://developers.google.com/analytics/devguides/reporting/data/v1/property-id."
	msgInternal        = "Internal error encountered."
	schemaURL          = "https://developers.google.com/analytics/devguides/reporting/data/v1/api-schema"
)

// Dimensions and metrics the sandbox serves. keyEvents and conversions are the same
// numbers under the new and the deprecated name.
var (
	dimensions = map[string]bool{"date": true, "sessionSource": true, "sessionMedium": true,
		"sessionCampaignName": true, "sessionSourceMedium": true}
	metricTypes = map[string]string{"sessions": "TYPE_INTEGER", "keyEvents": "TYPE_INTEGER",
		"conversions": "TYPE_INTEGER", "totalRevenue": "TYPE_CURRENCY"}
)

// int64Value is a proto3 int64: a JSON string or number.
type int64Value struct {
	set bool
	v   int64
	raw string
}

func (n *int64Value) UnmarshalJSON(b []byte) error {
	s := string(bytes.TrimSpace(b))
	n.raw = s
	if s == "null" {
		return nil
	}
	// A malformed value is reported by parseQuery with Google's wording, not here.
	if v, err := strconv.ParseInt(strings.Trim(s, `"`), 10, 64); err == nil {
		n.set, n.v = true, v
	}
	return nil
}

type reportBody struct {
	Property   string `json:"property"`
	DateRanges []struct {
		StartDate string `json:"startDate"`
		EndDate   string `json:"endDate"`
		Name      string `json:"name"`
	} `json:"dateRanges"`
	Dimensions []struct {
		Name string `json:"name"`
	} `json:"dimensions"`
	Metrics []struct {
		Name string `json:"name"`
	} `json:"metrics"`
	OrderBys []struct {
		Dimension *struct {
			DimensionName string `json:"dimensionName"`
			OrderType     string `json:"orderType"`
		} `json:"dimension"`
		Metric *struct {
			MetricName string `json:"metricName"`
		} `json:"metric"`
		Desc bool `json:"desc"`
	} `json:"orderBys"`
	Limit               int64Value `json:"limit"`
	Offset              int64Value `json:"offset"`
	ReturnPropertyQuota bool       `json:"returnPropertyQuota"`
	KeepEmptyRows       bool       `json:"keepEmptyRows"`
	CurrencyCode        string     `json:"currencyCode"`
	MetricAggregations  []string   `json:"metricAggregations"`
}

type reportResponse struct {
	DimensionHeaders []nameHeader     `json:"dimensionHeaders,omitempty"`
	MetricHeaders    []metricHeader   `json:"metricHeaders,omitempty"`
	Rows             []reportRow      `json:"rows,omitempty"`
	RowCount         int              `json:"rowCount,omitempty"`
	Metadata         responseMetadata `json:"metadata"`
	PropertyQuota    *propertyQuota   `json:"propertyQuota,omitempty"`
	Kind             string           `json:"kind"`
}

type nameHeader struct {
	Name string `json:"name"`
}

type metricHeader struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

type reportRow struct {
	DimensionValues []cell `json:"dimensionValues"`
	MetricValues    []cell `json:"metricValues"`
}

type cell struct {
	Value string `json:"value"`
}

type responseMetadata struct {
	CurrencyCode string `json:"currencyCode"`
	TimeZone     string `json:"timeZone"`
	// DataLossFromOtherRow is set, as GA4 does, when rows of the report were folded
	// into (other).
	DataLossFromOtherRow bool `json:"dataLossFromOtherRow,omitempty"`
}

var unknownFieldRE = regexp.MustCompile(`unknown field "([^"]+)"`)

func (s *Server) serveRunReport(w http.ResponseWriter, r *http.Request, id string, l *RequestLog) {
	if r.Method != http.MethodPost {
		writeRPCError(w, http.StatusNotFound, "NOT_FOUND", "Method not found.")
		return
	}
	if !s.authorize(w, r) || !s.injectFaults(w, r, id) {
		return
	}
	if !kit.IsDigits(id) {
		invalidArgument(w, fmt.Sprintf("Invalid property ID: %s. A numeric Property ID is required. To learn more about Property ID, see https://developers.google.com/analytics/devguides/reporting/data/v1/property-id.", id))
		return
	}
	p, ok := s.property(id)
	if !ok {
		writeRPCError(w, http.StatusForbidden, "PERMISSION_DENIED", msgNoPermission)
		return
	}
	var body reportBody
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		if m := unknownFieldRE.FindStringSubmatch(err.Error()); m != nil {
			invalidArgument(w, fmt.Sprintf("Invalid JSON payload received. Unknown name %q: Cannot find field.", m[1]))
			return
		}
		invalidArgument(w, "Invalid JSON payload received. "+err.Error())
		return
	}
	l.Offset, l.Limit = strings.Trim(body.Offset.raw, `"`), strings.Trim(body.Limit.raw, `"`)
	for _, m := range body.Metrics {
		l.Metrics = append(l.Metrics, m.Name)
	}
	now := s.now()
	q, msg := s.parseQuery(p, &body, now)
	if msg != "" {
		invalidArgument(w, msg)
		return
	}
	histStart, today := s.history(p, now)
	days := computeDays(p.ID, q.from, q.to, histStart, today, s.restated.Of(p.ID), s.foldsOf(p.ID))
	if s.Faults().EmptyReport {
		days = nil
	}
	rows := aggregate(days, q)
	if s.Faults().FloatRevenue {
		floatRevenue(rows, q.metrics)
	}
	resp := reportResponse{
		Metadata: responseMetadata{CurrencyCode: p.CurrencyCode, TimeZone: p.TimeZone, DataLossFromOtherRow: anyOther(days)},
		Kind:     "analyticsData#runReport",
		RowCount: len(rows),
	}
	for _, d := range q.dims {
		resp.DimensionHeaders = append(resp.DimensionHeaders, nameHeader{d})
	}
	for _, m := range q.metrics {
		resp.MetricHeaders = append(resp.MetricHeaders, metricHeader{m, metricTypes[m]})
	}
	if q.offset < int64(len(rows)) {
		end := min(q.offset+q.limit, int64(len(rows)))
		resp.Rows = rows[q.offset:end]
	}
	tokens := 1 + int64(q.to.Sub(q.from).Hours()/24)/10 + int64(len(rows))/1000
	pq := s.consume(p, tokens, now)
	if body.ReturnPropertyQuota {
		resp.PropertyQuota = pq
	}
	writeJSON(w, http.StatusOK, resp)
}

// authorize checks the bearer token, and the expired-token faults.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) bool {
	h := r.Header.Get("Authorization")
	token, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || token == "" {
		writeRPCError(w, http.StatusUnauthorized, "UNAUTHENTICATED", msgNoCredentials)
		return false
	}
	now := s.now()
	exp, minted := s.grants.Access(token)
	valid := token == s.token || minted && now.Before(exp)
	s.mu.Lock()
	switch {
	case !valid:
	case s.faults.ExpiredToken:
		valid = false
	case s.faults.ExpireNext > 0:
		s.faults.ExpireNext--
		valid = false
	}
	s.mu.Unlock()
	if !valid {
		w.Header().Set("WWW-Authenticate", `Bearer realm="https://accounts.google.com/", error="invalid_token"`)
		writeRPCError(w, http.StatusUnauthorized, "UNAUTHENTICATED", msgUnauthenticated)
	}
	return valid
}

// injectFaults answers with a rate-limit or server error when one is armed.
func (s *Server) injectFaults(w http.ResponseWriter, r *http.Request, id string) bool {
	s.mu.Lock()
	var quotaMsg string
	var serverError bool
	switch {
	case s.faults.RateLimit != nil && s.faults.RateLimit.Times > 0:
		quotaMsg = s.faults.RateLimit.message()
		s.faults.RateLimit.Times--
		if s.faults.RateLimit.Times == 0 {
			s.faults.RateLimit = nil
		}
	case s.faults.ServerErrors > 0:
		s.faults.ServerErrors--
		serverError = true
	}
	delay := time.Duration(s.faults.PageDelayMS) * time.Millisecond
	s.mu.Unlock()
	switch {
	case quotaMsg != "":
		writeRPCError(w, http.StatusTooManyRequests, "RESOURCE_EXHAUSTED", quotaMsg)
		return false
	case serverError:
		if p, ok := s.property(id); ok {
			s.countServerError(p, s.now())
		}
		writeRPCError(w, http.StatusInternalServerError, "INTERNAL", msgInternal)
		return false
	}
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return false
		}
	}
	return true
}

// query is a validated report request.
type query struct {
	from, to      time.Time
	dims, metrics []string
	order         []orderKey
	limit, offset int64
	keepEmpty     bool
}

type orderKey struct {
	dim, metric string // one is set
	numeric     bool
	fold        bool
	desc        bool
}

// parseQuery validates the body; msg is Google's INVALID_ARGUMENT message when it fails.
func (s *Server) parseQuery(p *property, b *reportBody, now time.Time) (query, string) {
	var q query
	if len(b.DateRanges) == 0 {
		return q, "dateRanges must be specified: a report needs at least one date range."
	}
	if len(b.DateRanges) > 1 {
		return q, "The sandbox supports one date range per request."
	}
	if b.Property != "" && strings.TrimPrefix(b.Property, "properties/") != p.ID {
		return q, fmt.Sprintf("The property in the request body (%s) differs from the URL.", b.Property)
	}
	today := p.today(now)
	var err error
	if q.from, err = parseDate(b.DateRanges[0].StartDate, today); err != nil {
		return q, fmt.Sprintf("Invalid startDate %q: %v", b.DateRanges[0].StartDate, err)
	}
	if q.to, err = parseDate(b.DateRanges[0].EndDate, today); err != nil {
		return q, fmt.Sprintf("Invalid endDate %q: %v", b.DateRanges[0].EndDate, err)
	}
	if q.from.After(q.to) {
		return q, "The dateRange's startDate must be before or equal to its endDate."
	}
	seen := map[string]bool{}
	for _, d := range b.Dimensions {
		if !dimensions[d.Name] {
			return q, fmt.Sprintf("Field %s is not a valid dimension. For a list of valid dimensions and metrics, see %s ", d.Name, schemaURL)
		}
		if seen[d.Name] {
			return q, fmt.Sprintf("Dimension %s is requested more than once.", d.Name)
		}
		seen[d.Name] = true
		q.dims = append(q.dims, d.Name)
	}
	if len(b.Metrics) == 0 {
		return q, "At least one metric is required."
	}
	rejectKeyEvents := s.Faults().RejectKeyEvents
	for _, m := range b.Metrics {
		if metricTypes[m.Name] == "" || (m.Name == "keyEvents" && rejectKeyEvents) {
			return q, fmt.Sprintf("Field %s is not a valid metric. For a list of valid dimensions and metrics, see %s ", m.Name, schemaURL)
		}
		if seen[m.Name] {
			return q, fmt.Sprintf("Metric %s is requested more than once.", m.Name)
		}
		seen[m.Name] = true
		q.metrics = append(q.metrics, m.Name)
	}
	for _, o := range b.OrderBys {
		k := orderKey{desc: o.Desc}
		switch {
		case o.Dimension != nil && o.Metric == nil:
			k.dim = o.Dimension.DimensionName
			if !slices.Contains(q.dims, k.dim) {
				return q, fmt.Sprintf("Order by dimension %s is not one of the request's dimensions.", k.dim)
			}
			switch o.Dimension.OrderType {
			case "", "ORDER_TYPE_UNSPECIFIED", "ALPHANUMERIC":
			case "CASE_INSENSITIVE_ALPHANUMERIC":
				k.fold = true
			case "NUMERIC":
				k.numeric = true
			default:
				return q, fmt.Sprintf("Invalid value at 'order_bys.dimension.order_type' (type.googleapis.com/google.analytics.data.v1beta.OrderBy.DimensionOrderBy.OrderType), %q", o.Dimension.OrderType)
			}
		case o.Metric != nil && o.Dimension == nil:
			k.metric = o.Metric.MetricName
			if !slices.Contains(q.metrics, k.metric) {
				return q, fmt.Sprintf("Order by metric %s is not one of the request's metrics.", k.metric)
			}
		default:
			return q, "Each orderBy must set exactly one of dimension and metric (the sandbox does not support pivot orderBys)."
		}
		q.order = append(q.order, k)
	}
	if len(b.MetricAggregations) > 0 {
		return q, "The sandbox does not support metricAggregations."
	}
	if b.CurrencyCode != "" && b.CurrencyCode != p.CurrencyCode {
		return q, fmt.Sprintf("The sandbox does not convert currencies: the property's currency is %s.", p.CurrencyCode)
	}
	if b.Limit.raw != "" && !b.Limit.set && b.Limit.raw != "null" {
		return q, fmt.Sprintf("Invalid value at 'limit' (TYPE_INT64), %s", b.Limit.raw)
	}
	if b.Offset.raw != "" && !b.Offset.set && b.Offset.raw != "null" {
		return q, fmt.Sprintf("Invalid value at 'offset' (TYPE_INT64), %s", b.Offset.raw)
	}
	if b.Limit.v < 0 || b.Offset.v < 0 {
		return q, "limit and offset must not be negative."
	}
	q.limit, q.offset = b.Limit.v, b.Offset.v
	if q.limit == 0 {
		q.limit = defaultLimit
	}
	// "The API returns a maximum of 250,000 rows per request, no matter how many you ask for."
	q.limit = min(q.limit, maxLimit)
	q.keepEmpty = b.KeepEmptyRows
	return q, ""
}

var daysAgoRE = regexp.MustCompile(`^(\d+)daysAgo$`)

// parseDate reads YYYY-MM-DD, "today", "yesterday" or "NdaysAgo" (in the property's time
// zone).
func parseDate(s string, today time.Time) (time.Time, error) {
	switch s {
	case "today":
		return today, nil
	case "yesterday":
		return today.AddDate(0, 0, -1), nil
	}
	if m := daysAgoRE.FindStringSubmatch(s); m != nil {
		n, err := strconv.Atoi(m[1])
		if err != nil {
			return time.Time{}, errors.New("out of range")
		}
		return today.AddDate(0, 0, -n), nil
	}
	d, err := time.Parse(dateLayout, s)
	if err != nil {
		return time.Time{}, errors.New(`want YYYY-MM-DD, "today", "yesterday" or "NdaysAgo"`)
	}
	return d, nil
}

// aggRow is one report row before rendering.
type aggRow struct {
	dims []string
	stats
}

// aggregate groups the source-days by the requested dimensions, drops rows whose
// requested metrics are all zero (unless keepEmptyRows), orders them and renders them.
func aggregate(days []dayRow, q query) []reportRow {
	var rows []aggRow
	index := map[string]int{}
	for _, d := range days {
		vals := make([]string, len(q.dims))
		for i, name := range q.dims {
			switch name {
			case "date":
				vals[i] = d.date.Format(gaDateLayout)
			case "sessionSource":
				vals[i] = d.src.Source
			case "sessionMedium":
				vals[i] = d.src.Medium
			case "sessionCampaignName":
				vals[i] = d.src.Campaign
			case "sessionSourceMedium":
				vals[i] = d.src.Source + " / " + d.src.Medium
			}
		}
		key := strings.Join(vals, "\x00")
		i, ok := index[key]
		if !ok {
			i = len(rows)
			index[key] = i
			rows = append(rows, aggRow{dims: vals})
		}
		rows[i].add(d.stats)
	}
	kept := rows[:0]
	for _, r := range rows {
		if q.keepEmpty || !allZero(r.stats, q.metrics) {
			kept = append(kept, r)
		}
	}
	rows = kept
	if len(q.order) > 0 {
		sort.SliceStable(rows, func(i, j int) bool { return less(rows[i], rows[j], q) })
	}
	out := make([]reportRow, len(rows))
	for i, r := range rows {
		rr := reportRow{DimensionValues: []cell{}, MetricValues: []cell{}}
		for _, v := range r.dims {
			rr.DimensionValues = append(rr.DimensionValues, cell{v})
		}
		for _, m := range q.metrics {
			rr.MetricValues = append(rr.MetricValues, cell{metricValue(r.stats, m)})
		}
		out[i] = rr
	}
	return out
}

func allZero(st stats, metrics []string) bool {
	for _, m := range metrics {
		if metricValue(st, m) != "0" {
			return false
		}
	}
	return true
}

// metricValue renders a metric as the API does: integers plainly, revenue as a decimal
// without trailing zeros ("1234.5", "0").
func metricValue(st stats, metric string) string {
	switch metric {
	case "sessions":
		return strconv.FormatInt(st.Sessions, 10)
	case "keyEvents", "conversions":
		return strconv.FormatInt(st.KeyEvents, 10)
	case "totalRevenue":
		return money.FormatDecimalMicros(st.RevenueCents * centMicros)
	}
	return "0"
}

const centMicros = 10_000

func less(a, b aggRow, q query) bool {
	for _, k := range q.order {
		var c int
		if k.metric != "" {
			c = cmp.Compare(metricNum(a.stats, k.metric), metricNum(b.stats, k.metric))
		} else {
			i := slices.Index(q.dims, k.dim)
			x, y := a.dims[i], b.dims[i]
			switch {
			case k.numeric:
				xv, _ := strconv.ParseFloat(x, 64)
				yv, _ := strconv.ParseFloat(y, 64)
				c = cmp.Compare(xv, yv)
			case k.fold:
				c = strings.Compare(strings.ToLower(x), strings.ToLower(y))
			default:
				c = strings.Compare(x, y)
			}
		}
		if k.desc {
			c = -c
		}
		if c != 0 {
			return c < 0
		}
	}
	return false
}

func metricNum(st stats, metric string) int64 {
	switch metric {
	case "sessions":
		return st.Sessions
	case "keyEvents", "conversions":
		return st.KeyEvents
	}
	return st.RevenueCents
}
