// Package tiktok is the sandbox TikTok Business API v1.3: an http.Handler that speaks the
// wire format of the integrated report (HTTP 200 envelopes {"code","message","request_id",
// "data"}, metrics as strings, "-" for missing values, page/page_size paging with
// page_info.total_page) over deterministic generated data, with switchable faults and
// restatements.
//
// API endpoints, relative to where the handler is mounted; the trailing slash is required
// (404 without, as TikTok) and so is the Access-Token header:
//
//	GET /open_api/v1.3/advertiser/info/?advertiser_ids=["..."]&fields=[...]
//	GET /open_api/v1.3/report/integrated/get/?advertiser_id&report_type=BASIC&data_level
//	    &dimensions=["<level>_id","stat_time_day"]&metrics=[...]&start_date&end_date
//	    &page&page_size      (at most 30 days from start_date to end_date)
//
// OAuth (the /portal/auth consent page, the auth_code exchange, the authorized advertisers,
// the sandbox app OAuthAppID / OAuthAppSecret): see oauth.go.
//
// Admin endpoints (no token): see admin.go.
package tiktok

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/sandbox/kit"
)

// DefaultToken is the valid access token of the default configuration.
const DefaultToken = "sandbox-tiktok-token"

// DefaultDays is the default history length.
const DefaultDays = 120

// MaxReportDays is the longest start_date..end_date range (inclusive) of a daily report.
const MaxReportDays = 30

// API paths, with the trailing slash TikTok requires.
const (
	PathReport         = "/open_api/v1.3/report/integrated/get/"
	PathAdvertiserInfo = "/open_api/v1.3/advertiser/info/"
)

// Envelope codes the sandbox answers with.
const (
	CodeOK            = 0
	CodeNoPermission  = 40001
	CodeInvalidParams = 40002
	CodeRateLimit     = 40100
	CodeTokenExpired  = 40102
	CodeTokenMissing  = 40104
	CodeTokenInvalid  = 40105
	CodeAdvertiserQPS = 40133
	CodeTooFrequent   = 40016
	CodeServiceError  = 50002
)

const (
	defaultPageSize = 10
	maxPageSize     = 1000
	maxInfoIDs      = 100
	dateLayout      = "2006-01-02"
	dayTimeLayout   = "2006-01-02 15:04:05"
	dimensionDay    = "stat_time_day"
	nullMetric      = "-"
)

// Config configures a Server.
type Config struct {
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Token is the one valid access token; default DefaultToken.
	Token string
	// Advertisers default to []Advertiser{DemoAdvertiser()}.
	Advertisers []Advertiser
	// Days is the history length, ending today in each advertiser's timezone; default 120.
	Days int
}

type advertiser struct {
	Advertiser
	loc *time.Location
}

// Server is the sandbox TikTok provider. It is safe for concurrent use.
type Server struct {
	now         func() time.Time
	token       string
	days        int
	advertisers map[string]*advertiser
	order       []string

	restated kit.Restatements // factor percents
	reqs     kit.RequestLog[RequestLog]
	codes    *kit.CodeStore  // OAuth auth_codes (oauth.go)
	tokens   *kit.TokenStore // tokens minted by OAuth (oauth.go)

	mu     sync.Mutex
	faults Faults
	calls  int64
}

// New builds a Server. It panics on an invalid configuration (a bad timezone, a non-digit or
// duplicate advertiser id), which is a programming error in a sandbox.
func New(cfg Config) *Server {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Token == "" {
		cfg.Token = DefaultToken
	}
	if len(cfg.Advertisers) == 0 {
		cfg.Advertisers = []Advertiser{DemoAdvertiser()}
	}
	if cfg.Days <= 0 {
		cfg.Days = DefaultDays
	}
	s := &Server{
		now: cfg.Now, token: cfg.Token, days: cfg.Days,
		advertisers: map[string]*advertiser{},
		codes:       kit.NewCodeStore(cfg.Now, ""),
		tokens:      kit.NewTokenStore(cfg.Now),
	}
	for _, a := range cfg.Advertisers {
		if !kit.IsDigits(a.ID) {
			panic(fmt.Sprintf("sandbox tiktok: advertiser id %q is not digits", a.ID))
		}
		if _, dup := s.advertisers[a.ID]; dup {
			panic(fmt.Sprintf("sandbox tiktok: duplicate advertiser %s", a.ID))
		}
		if a.Timezone == "" {
			a.Timezone = "UTC"
		}
		loc, err := time.LoadLocation(a.Timezone)
		if err != nil {
			panic(fmt.Sprintf("sandbox tiktok: advertiser %s: %v", a.ID, err))
		}
		if a.Currency == "" {
			a.Currency = "USD"
		}
		if a.Name == "" {
			a.Name = "Sandbox advertiser " + a.ID
		}
		if len(a.Campaigns) == 0 {
			a.Campaigns = genericTree()
		}
		a = fillIDs(a)
		s.advertisers[a.ID] = &advertiser{Advertiser: a, loc: loc}
		s.order = append(s.order, a.ID)
	}
	return s
}

// Token is the valid access token.
func (s *Server) Token() string { return s.token }

// Advertisers lists the advertisers with their filled-in campaign trees.
func (s *Server) Advertisers() []Advertiser {
	out := make([]Advertiser, 0, len(s.order))
	for _, id := range s.order {
		out = append(out, s.advertisers[id].Advertiser)
	}
	return out
}

// today is the current calendar day in the advertiser's timezone, as UTC midnight.
func (a *advertiser) today(now time.Time) time.Time { return kit.Today(now, a.loc) }

func (s *Server) history(a *advertiser, now time.Time) (start, today time.Time) {
	return kit.History(now, a.loc, s.days)
}

// Today is the current day (YYYY-MM-DD) in the advertiser's timezone.
func (s *Server) Today(advertiserID string) (string, error) {
	a, ok := s.advertisers[advertiserID]
	if !ok {
		return "", fmt.Errorf("unknown advertiser %q", advertiserID)
	}
	return a.today(s.now()).Format(dateLayout), nil
}

// ---- HTTP ----

// ServeHTTP serves the API endpoints and the /_sandbox admin endpoints.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/_sandbox" || strings.HasPrefix(r.URL.Path, "/_sandbox/") {
		s.serveAdmin(w, r)
		return
	}
	rec := kit.NewStatusRecorder(w)
	q := r.URL.Query()
	l := RequestLog{
		Method:       r.Method,
		Path:         r.URL.Path,
		AdvertiserID: q.Get("advertiser_id"),
		DataLevel:    q.Get("data_level"),
		StartDate:    q.Get("start_date"),
		EndDate:      q.Get("end_date"),
		Page:         q.Get("page"),
		PageSize:     q.Get("page_size"),
	}
	if l.AdvertiserID == "" {
		l.AdvertiserID = q.Get("advertiser_ids")
	}
	c := &call{s: s, w: rec, r: r, code: -1}
	c.serve()
	l.Time = s.now().UTC()
	l.Status = rec.Status
	l.Code = c.code
	s.reqs.Add(l)
}

// call is one API request being served.
type call struct {
	s    *Server
	w    http.ResponseWriter
	r    *http.Request
	seq  int64
	code int // envelope code answered, -1 if none
}

func (c *call) serve() {
	if c.serveOAuth() {
		return
	}
	path := c.r.URL.Path
	if path != PathReport && path != PathAdvertiserInfo {
		msg := "404 page not found"
		if path+"/" == PathReport || path+"/" == PathAdvertiserInfo {
			msg += " (TikTok API paths end with a slash)"
		}
		http.Error(c.w, msg, http.StatusNotFound)
		return
	}
	if c.r.Method != http.MethodGet {
		http.Error(c.w, "405 method not allowed", http.StatusMethodNotAllowed)
		return
	}
	tok := c.r.Header.Get("Access-Token")
	if tok == "" {
		c.fail(CodeTokenMissing, "Access token is null, you should set it in http header with key Access-Token.")
		return
	}
	if !c.s.validToken(tok) {
		c.fail(CodeTokenInvalid, "Access token is incorrect or has been revoked.")
		return
	}

	s := c.s
	s.mu.Lock()
	s.calls++
	c.seq = s.calls
	f := &s.faults
	var failCode int
	var failMsg string
	gateway := false
	switch {
	case f.ExpiredToken:
		failCode, failMsg = CodeTokenExpired, "Access token has expired. Please re-authorize to get a new access token."
	case f.RateLimit != nil && f.RateLimit.Times > 0:
		failCode, failMsg = f.RateLimit.Code, rateLimitMessage(f.RateLimit.Code)
		if f.RateLimit.Times--; f.RateLimit.Times == 0 {
			f.RateLimit = nil
		}
	case f.ServiceError != nil && f.ServiceError.Times > 0:
		failCode, failMsg = f.ServiceError.Code, serviceErrorMessage(f.ServiceError.Code)
		if f.ServiceError.Times--; f.ServiceError.Times == 0 {
			f.ServiceError = nil
		}
	case f.GatewayErrors > 0:
		f.GatewayErrors--
		gateway = true
	}
	empty := f.EmptyReport
	delay := time.Duration(f.PageDelayMS) * time.Millisecond
	s.mu.Unlock()

	switch {
	case failCode != 0:
		c.fail(failCode, failMsg)
		return
	case gateway:
		// Not TikTok's envelope: what a load balancer in front of it answers.
		http.Error(c.w, "upstream connect error or disconnect/reset before headers", http.StatusServiceUnavailable)
		return
	}
	if path == PathAdvertiserInfo {
		c.advertiserInfo()
		return
	}
	if !c.sleep(delay) {
		return
	}
	c.report(empty)
}

func rateLimitMessage(code int) string {
	switch code {
	case CodeAdvertiserQPS:
		return "The number of requests for this advertiser exceeds the QPS limit. Please retry later."
	case CodeTooFrequent:
		return "Requests made too frequently. Please retry later."
	}
	return "Too many requests. The QPS limit of this app has been reached. Please retry later."
}

func serviceErrorMessage(code int) string {
	if code == 50000 {
		return "System error."
	}
	return "Internal service error. Please retry later."
}

func (c *call) sleep(d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-c.r.Context().Done():
		return false
	}
}

// requestID looks like TikTok's: a timestamp and a sequence number.
func (c *call) requestID() string {
	return fmt.Sprintf("%s%06d", c.s.now().UTC().Format("20060102150405"), c.seq%1_000_000)
}

// envelope writes TikTok's response: always HTTP 200.
func (c *call) envelope(code int, message string, data any) {
	c.code = code
	c.w.Header().Set("Content-Type", "application/json")
	c.w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(c.w).Encode(map[string]any{
		"code": code, "message": message, "request_id": c.requestID(), "data": data,
	})
}

func (c *call) ok(data any) { c.envelope(CodeOK, "OK", data) }

func (c *call) fail(code int, message string) { c.envelope(code, message, map[string]any{}) }

func (c *call) badParam(msg string) { c.fail(CodeInvalidParams, msg) }

// jsonList parses a JSON array parameter of strings (numbers are accepted as their text).
func jsonList(s string) ([]string, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var raw []any
	if err := dec.Decode(&raw); err != nil {
		return nil, err
	}
	out := make([]string, 0, len(raw))
	for _, v := range raw {
		switch t := v.(type) {
		case string:
			out = append(out, t)
		case json.Number:
			out = append(out, t.String())
		default:
			return nil, fmt.Errorf("element %v is not a string", v)
		}
	}
	return out, nil
}

// advertiserFields are the advertiser/info/ fields the sandbox serves.
func advertiserFields() []string {
	return []string{"advertiser_id", "name", "currency", "timezone", "display_timezone", "status", "role",
		"country", "create_time"}
}

func (c *call) advertiserInfo() {
	q := c.r.URL.Query()
	if q.Get("advertiser_ids") == "" {
		c.badParam("advertiser_ids: Missing data for required field.")
		return
	}
	ids, err := jsonList(q.Get("advertiser_ids"))
	if err != nil || len(ids) == 0 || len(ids) > maxInfoIDs {
		c.badParam(fmt.Sprintf("advertiser_ids: Must be a JSON array of 1 to %d advertiser ids.", maxInfoIDs))
		return
	}
	fields := advertiserFields()
	if f := q.Get("fields"); f != "" {
		if fields, err = jsonList(f); err != nil {
			c.badParam("fields: Must be a JSON array of field names.")
			return
		}
		for _, name := range fields {
			if !contains(advertiserFields(), name) {
				c.badParam(fmt.Sprintf("fields: Invalid field %q.", name))
				return
			}
		}
	}
	list := []map[string]any{}
	for _, id := range ids {
		a, ok := c.s.advertisers[id]
		if !ok {
			c.fail(CodeNoPermission, fmt.Sprintf("No permission to operate advertiser %s.", id))
			return
		}
		m := map[string]any{}
		for _, f := range fields {
			m[f] = a.field(f)
		}
		list = append(list, m)
	}
	c.ok(map[string]any{"list": list})
}

// field is one advertiser/info/ field. timezone is the fixed-offset zone of the standard
// offset ("Etc/GMT+5" for New York), display_timezone the IANA name.
func (a *advertiser) field(name string) any {
	switch name {
	case "advertiser_id":
		return a.ID
	case "name":
		return a.Name
	case "currency":
		return a.Currency
	case "timezone":
		_, off := time.Date(2024, 1, 1, 12, 0, 0, 0, a.loc).Zone()
		switch h := off / 3600; {
		case off%3600 != 0:
			return a.Timezone
		case h == 0:
			return "Etc/GMT"
		case h < 0:
			return fmt.Sprintf("Etc/GMT+%d", -h)
		default:
			return fmt.Sprintf("Etc/GMT-%d", h)
		}
	case "display_timezone":
		return a.Timezone
	case "status":
		return "STATUS_ENABLE"
	case "role":
		return "ROLE_ADVERTISER"
	case "country":
		return "US"
	case "create_time":
		return 1672531200 + int64(kit.Hash64(a.ID)%86_400)
	}
	return nil
}

func contains(l []string, s string) bool {
	for _, v := range l {
		if v == s {
			return true
		}
	}
	return false
}

// metricMinRank is the coarsest data level (levelRank) at which a metric exists; -1 means
// the sandbox does not know it.
func metricMinRank(m string) int {
	switch m {
	case "spend", "impressions", "clicks", "conversion", "complete_payment", "total_complete_payment_rate",
		"value_per_complete_payment", "complete_payment_roas", "cpc", "cpm", "ctr", "conversion_rate",
		"cost_per_conversion":
		return 0
	case "campaign_name":
		return 1
	case "campaign_id", "adgroup_name":
		return 2
	case "adgroup_id", "ad_name":
		return 3
	}
	return -1
}

// reportSpec is a validated report request.
type reportSpec struct {
	adv          *advertiser
	level        string
	metrics      []string
	since, until time.Time
	page, size   int
}

func (c *call) parseReport() (reportSpec, bool) {
	q := c.r.URL.Query()
	var spec reportSpec
	id := q.Get("advertiser_id")
	if id == "" {
		c.badParam("advertiser_id: Missing data for required field.")
		return spec, false
	}
	a, ok := c.s.advertisers[id]
	if !ok {
		c.fail(CodeNoPermission, fmt.Sprintf("No permission to operate advertiser %s.", id))
		return spec, false
	}
	spec.adv = a
	if st := q.Get("service_type"); st != "" && st != "AUCTION" {
		c.badParam("service_type: The sandbox supports only AUCTION.")
		return spec, false
	}
	switch rt := q.Get("report_type"); rt {
	case "":
		c.badParam("report_type: Missing data for required field.")
		return spec, false
	case "BASIC":
	default:
		c.badParam(fmt.Sprintf("report_type: The sandbox supports only BASIC, not %s.", rt))
		return spec, false
	}
	spec.level = q.Get("data_level")
	if levelRank(spec.level) < 0 {
		c.badParam("data_level: Must be one of AUCTION_ADVERTISER, AUCTION_CAMPAIGN, AUCTION_ADGROUP, AUCTION_AD.")
		return spec, false
	}
	dims, err := jsonList(q.Get("dimensions"))
	want := idDimension(spec.level)
	if err != nil || len(dims) != 2 || !contains(dims, want) || !contains(dims, dimensionDay) {
		c.badParam(fmt.Sprintf(`dimensions: The sandbox supports only ["%s","%s"] at data_level %s.`, want, dimensionDay, spec.level))
		return spec, false
	}
	spec.metrics = []string{"spend", "impressions"}
	if m := q.Get("metrics"); m != "" {
		if spec.metrics, err = jsonList(m); err != nil {
			c.badParam("metrics: Must be a JSON array of metric names.")
			return spec, false
		}
		for _, name := range spec.metrics {
			switch r := metricMinRank(name); {
			case r < 0:
				c.badParam(fmt.Sprintf("metrics: Invalid metric %q.", name))
				return spec, false
			case r > levelRank(spec.level):
				c.badParam(fmt.Sprintf("metrics: %s is not supported at data_level %s.", name, spec.level))
				return spec, false
			}
		}
	}
	if f := strings.TrimSpace(q.Get("filtering")); f != "" && f != "[]" && f != "{}" {
		c.badParam("filtering: The sandbox does not support filtering.")
		return spec, false
	}
	if q.Get("query_lifetime") == "true" {
		c.badParam("query_lifetime: The sandbox supports only daily reports.")
		return spec, false
	}
	since, err1 := time.Parse(dateLayout, q.Get("start_date"))
	until, err2 := time.Parse(dateLayout, q.Get("end_date"))
	switch {
	case err1 != nil:
		c.badParam("start_date: Must be a date in YYYY-MM-DD format.")
		return spec, false
	case err2 != nil:
		c.badParam("end_date: Must be a date in YYYY-MM-DD format.")
		return spec, false
	case since.After(until):
		c.badParam("start_date must be earlier than or equal to end_date.")
		return spec, false
	case until.Sub(since) >= MaxReportDays*24*time.Hour:
		c.badParam(fmt.Sprintf("The time span between start_date and end_date cannot exceed %d days when stat_time_day is a dimension.", MaxReportDays))
		return spec, false
	}
	spec.since, spec.until = since, until
	spec.page, spec.size = 1, defaultPageSize
	if p := q.Get("page"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 {
			c.badParam("page: Must be greater than or equal to 1.")
			return spec, false
		}
		spec.page = n
	}
	if p := q.Get("page_size"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > maxPageSize {
			c.badParam(fmt.Sprintf("page_size: Must be between 1 and %d.", maxPageSize))
			return spec, false
		}
		spec.size = n
	}
	return spec, true
}

func (c *call) report(empty bool) {
	spec, ok := c.parseReport()
	if !ok {
		return
	}
	var rows []aggRow
	if !empty {
		histStart, today := c.s.history(spec.adv, c.s.now())
		rows = computeRows(&spec.adv.Advertiser, spec.level, spec.since, spec.until, histStart, today,
			c.s.restated.Of(spec.adv.ID))
	}
	totalPage := (len(rows) + spec.size - 1) / spec.size
	list := []map[string]any{}
	for i := (spec.page - 1) * spec.size; i < min(spec.page*spec.size, len(rows)); i++ {
		list = append(list, rowJSON(spec.adv, spec.level, spec.metrics, rows[i]))
	}
	c.ok(map[string]any{
		"list": list,
		"page_info": map[string]int{
			"page": spec.page, "page_size": spec.size, "total_number": len(rows), "total_page": totalPage,
		},
	})
}

// rowJSON renders a row as TikTok does: the dimensions, and the requested metrics as strings
// with "-" where a value is undefined (a ratio over zero, a payment value without payments).
func rowJSON(a *advertiser, level string, metrics []string, r aggRow) map[string]any {
	dims := map[string]string{dimensionDay: r.day.Format(dayTimeLayout)}
	switch level {
	case levelAdvertiser:
		dims["advertiser_id"] = a.ID
	case levelCampaign:
		dims["campaign_id"] = r.campaign.ID
	case levelAdGroup:
		dims["adgroup_id"] = r.adGroup.ID
	default:
		dims["ad_id"] = r.ad.ID
	}
	m := map[string]string{}
	for _, name := range metrics {
		m[name] = r.metric(name)
	}
	return map[string]any{"dimensions": dims, "metrics": m}
}

func (r aggRow) metric(name string) string {
	const micros = 1_000_000
	switch name {
	case "campaign_name":
		return r.campaign.Name
	case "campaign_id":
		return r.campaign.ID
	case "adgroup_name":
		return r.adGroup.Name
	case "adgroup_id":
		return r.adGroup.ID
	case "ad_name":
		return r.ad.Name
	case "spend":
		return formatMoney(r.SpendMicros)
	case "impressions":
		return strconv.FormatInt(r.Impressions, 10)
	case "clicks":
		return strconv.FormatInt(r.Clicks, 10)
	case "conversion", "complete_payment":
		return formatCount(r.ConversionsMicros)
	case "total_complete_payment_rate":
		if r.ConversionsMicros == 0 {
			return nullMetric
		}
		return formatMoney(r.PaymentValueMicros)
	case "value_per_complete_payment":
		return ratio2(r.PaymentValueMicros, r.ConversionsMicros)
	case "complete_payment_roas":
		return ratio2(r.PaymentValueMicros, r.SpendMicros)
	case "cpc":
		return ratio2(r.SpendMicros, r.Clicks*micros)
	case "cpm":
		return ratio2(r.SpendMicros*1000, r.Impressions*micros)
	case "ctr":
		return ratio2(r.Clicks*100, r.Impressions)
	case "conversion_rate":
		return ratio2(r.ConversionsMicros*100, r.Clicks*micros)
	case "cost_per_conversion":
		return ratio2(r.SpendMicros, r.ConversionsMicros)
	}
	return nullMetric
}

// formatMoney renders micros with two decimals, as TikTok writes spend ("20.00").
func formatMoney(v int64) string {
	return fmt.Sprintf("%d.%02d", v/1_000_000, v%1_000_000/centMicros)
}

// formatCount renders a count in micros: "3", or "4.5" after a fractional restatement.
func formatCount(v int64) string {
	s := fmt.Sprintf("%d.%06d", v/1_000_000, v%1_000_000)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// ratio2 is num/den with two decimals rounded half up, or "-" when den is zero.
func ratio2(num, den int64) string {
	if den == 0 {
		return nullMetric
	}
	h := (num*200 + den) / (2 * den)
	return fmt.Sprintf("%d.%02d", h/100, h%100)
}
