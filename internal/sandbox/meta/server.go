// Package meta is the sandbox Meta Marketing API: an http.Handler that speaks the Graph API
// wire format of Ads Insights (async report runs, cursor paging, usage headers, the error
// envelope) over deterministic generated data, with switchable faults and restatements.
//
// API endpoints, relative to where the handler is mounted (any version v\d+.\d+):
//
//	GET  /{ver}/act_{id}?fields=name,currency,timezone_name
//	GET  /{ver}/me/adaccounts
//	POST /{ver}/act_{id}/insights            start a report run -> {"report_run_id"}
//	GET  /{ver}/act_{id}/insights            the synchronous variant, paged
//	GET  /{ver}/{report_run_id}              run status
//	GET  /{ver}/{report_run_id}/insights     rows, ?limit (default 25) &after
//
// Like Meta, a report leaves out ads whose effective status is DELETED or ARCHIVED unless its
// filtering parameter asks for them, e.g.
// filtering=[{"field":"ad.effective_status","operator":"IN","value":["ACTIVE",...,"DELETED"]}]
// (see status.go); the admin totals count every ad.
//
// OAuth (the Login dialog under /www, the code and fb_exchange_token exchanges at
// /{ver}/oauth/access_token, the sandbox app OAuthAppID / OAuthAppSecret): see oauth.go.
//
// Admin endpoints (no token): see admin.go.
package meta

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/sandbox/kit"
)

// DefaultToken is the valid access token of the default configuration.
const DefaultToken = "sandbox-meta-token"

// DefaultDays is the default history length.
const DefaultDays = 120

const (
	defaultPageLimit = 25
	maxPageLimit     = 5000
	maxRuns          = 1000
	firstRunID       = 6_120_000_000_000_000
	retentionMonths  = 37
	dateLayout       = "2006-01-02"
)

// Config configures a Server.
type Config struct {
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Token is the one valid access token; default DefaultToken.
	Token string
	// Accounts default to []Account{DemoAccount()}.
	Accounts []Account
	// Days is the history length, ending today in each account's timezone; default 120.
	Days int
}

type account struct {
	Account
	loc *time.Location
}

type reportRun struct {
	id       string
	acct     *account
	spec     reportSpec
	fields   map[string]bool
	created  time.Time
	today    time.Time
	restated map[string]int
	hidden   map[string]bool
	fail     bool
	polls    int
}

// Server is the sandbox Meta provider. It is safe for concurrent use.
type Server struct {
	now      func() time.Time
	token    string
	days     int
	accounts map[string]*account
	order    []string

	restated kit.Restatements // spend factor percents
	reqs     kit.RequestLog[RequestLog]
	codes    *kit.CodeStore  // OAuth dialog codes (oauth.go)
	tokens   *kit.TokenStore // tokens minted by OAuth (oauth.go)

	mu       sync.Mutex
	faults   Faults
	adStatus map[string]string // ad id -> effective status, when not ACTIVE
	runs     map[string]*reportRun
	runOrder []string
	runSeq   int64
	calls    int64
}

// New builds a Server. It panics on an invalid configuration (a bad timezone, a non-digit
// or duplicate account id), which is a programming error in a sandbox.
func New(cfg Config) *Server {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Token == "" {
		cfg.Token = DefaultToken
	}
	if len(cfg.Accounts) == 0 {
		cfg.Accounts = []Account{DemoAccount()}
	}
	if cfg.Days <= 0 {
		cfg.Days = DefaultDays
	}
	s := &Server{
		now: cfg.Now, token: cfg.Token, days: cfg.Days,
		accounts: map[string]*account{},
		runs:     map[string]*reportRun{},
		adStatus: map[string]string{},
		codes:    kit.NewCodeStore(cfg.Now, "AQ"),
		tokens:   kit.NewTokenStore(cfg.Now),
	}
	for _, a := range cfg.Accounts {
		a.ID = strings.TrimPrefix(a.ID, "act_")
		if !kit.IsDigits(a.ID) {
			panic(fmt.Sprintf("sandbox meta: account id %q is not digits", a.ID))
		}
		if _, dup := s.accounts[a.ID]; dup {
			panic(fmt.Sprintf("sandbox meta: duplicate account %s", a.ID))
		}
		if a.Timezone == "" {
			a.Timezone = "UTC"
		}
		loc, err := time.LoadLocation(a.Timezone)
		if err != nil {
			panic(fmt.Sprintf("sandbox meta: account %s: %v", a.ID, err))
		}
		if a.Currency == "" {
			a.Currency = "USD"
		}
		if a.Name == "" {
			a.Name = "Sandbox account " + a.ID
		}
		if len(a.Campaigns) == 0 {
			a.Campaigns = genericTree()
		}
		a = fillIDs(a)
		if err := s.initStatuses(a); err != nil {
			panic(fmt.Sprintf("sandbox meta: account %s: %v", a.ID, err))
		}
		s.accounts[a.ID] = &account{Account: a, loc: loc}
		s.order = append(s.order, a.ID)
	}
	return s
}

// Token is the valid access token.
func (s *Server) Token() string { return s.token }

// Accounts lists the accounts with their filled-in campaign trees and every ad's current
// effective status.
func (s *Server) Accounts() []Account {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Account, 0, len(s.order))
	for _, id := range s.order {
		a := s.accounts[id].Account
		cs := make([]Campaign, len(a.Campaigns))
		for i, c := range a.Campaigns {
			sets := make([]AdSet, len(c.AdSets))
			for j, set := range c.AdSets {
				ads := make([]Ad, len(set.Ads))
				for k, ad := range set.Ads {
					ad.Status = s.adStatusLocked(ad.ID)
					ads[k] = ad
				}
				set.Ads = ads
				sets[j] = set
			}
			c.AdSets = sets
			cs[i] = c
		}
		a.Campaigns = cs
		out = append(out, a)
	}
	return out
}

// initStatuses records the configured statuses of an account's ads.
func (s *Server) initStatuses(a Account) error {
	for _, c := range a.Campaigns {
		for _, set := range c.AdSets {
			for _, ad := range set.Ads {
				switch {
				case ad.Status == "" || ad.Status == StatusActive:
				case slices.Contains(settableStatuses, ad.Status):
					s.adStatus[ad.ID] = ad.Status
				default:
					return fmt.Errorf("ad %s: effective_status %q is not one of %s", ad.ID, ad.Status, strings.Join(settableStatuses, ", "))
				}
			}
		}
	}
	return nil
}

func (s *Server) account(id string) (*account, bool) {
	a, ok := s.accounts[strings.TrimPrefix(id, "act_")]
	return a, ok
}

// today is the current calendar day in the account's timezone, as UTC midnight.
func (a *account) today(now time.Time) time.Time { return kit.Today(now, a.loc) }

func (s *Server) history(a *account, now time.Time) (start, today time.Time) {
	return kit.History(now, a.loc, s.days)
}

// Today is the current day (YYYY-MM-DD) in the account's timezone.
func (s *Server) Today(accountID string) (string, error) {
	a, ok := s.account(accountID)
	if !ok {
		return "", fmt.Errorf("unknown account %q", accountID)
	}
	return a.today(s.now()).Format(dateLayout), nil
}

// ---- HTTP ----

var versionRE = regexp.MustCompile(`^v\d+\.\d+$`)

// graphError is the "error" object of the Graph API envelope.
type graphError struct {
	Message      string `json:"message"`
	Type         string `json:"type"`
	Code         int    `json:"code"`
	ErrorSubcode int    `json:"error_subcode,omitempty"`
	IsTransient  bool   `json:"is_transient"`
	UserTitle    string `json:"error_user_title,omitempty"`
	UserMsg      string `json:"error_user_msg,omitempty"`
	FBTraceID    string `json:"fbtrace_id"`
}

// ServeHTTP serves the Graph API endpoints and the /_sandbox admin endpoints.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/_sandbox" || strings.HasPrefix(r.URL.Path, "/_sandbox/") {
		s.serveAdmin(w, r)
		return
	}
	rec := kit.NewStatusRecorder(w)
	level := ""
	if !s.serveOAuth(rec, r) {
		level = s.serveAPI(rec, r)
	}
	s.reqs.Add(RequestLog{
		Time:   s.now().UTC(),
		Method: r.Method,
		Path:   r.URL.Path,
		After:  r.URL.Query().Get("after"),
		Limit:  r.URL.Query().Get("limit"),
		Level:  level,
		Status: rec.Status,
	})
}

// call is one API request being served.
type call struct {
	s         *Server
	w         http.ResponseWriter
	r         *http.Request
	acctID    string // for the business-use-case usage header
	highUsage bool
	regain    int // rate-limit fault: minutes in the usage header
	rateLimit bool
	seq       int64
}

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) (level string) {
	c := &call{s: s, w: w, r: r}
	segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if err := r.ParseForm(); err != nil {
		c.fail(http.StatusBadRequest, graphError{Message: "(#100) Could not parse the request body", Type: "OAuthException", Code: 100})
		return ""
	}
	level = r.PostForm.Get("level")
	if len(segs) > 1 && strings.HasPrefix(segs[1], "act_") {
		c.acctID = strings.TrimPrefix(segs[1], "act_")
	}
	if len(segs) < 2 || !versionRE.MatchString(segs[0]) {
		c.fail(http.StatusBadRequest, graphError{Message: "Unknown path components: " + r.URL.Path, Type: "OAuthException", Code: 2500})
		return level
	}
	if len(segs) >= 2 && !strings.HasPrefix(segs[1], "act_") && segs[1] != "me" {
		s.mu.Lock()
		if run, ok := s.runs[segs[1]]; ok {
			c.acctID = run.acct.ID
		}
		s.mu.Unlock()
	}
	if c.acctID == "" && len(s.order) > 0 {
		c.acctID = s.order[0]
	}

	// Token.
	tok := r.Form.Get("access_token")
	if tok == "" {
		if h := r.Header.Get("Authorization"); h != "" {
			if _, t, ok := strings.Cut(h, " "); ok {
				tok = strings.TrimSpace(t)
			}
		}
	}
	if tok == "" {
		c.fail(http.StatusBadRequest, graphError{Message: "An access token is required to request this resource.", Type: "OAuthException", Code: 104})
		return level
	}
	if g, ok := s.checkToken(tok); !ok {
		c.fail(http.StatusBadRequest, g)
		return level
	}

	// Faults.
	s.mu.Lock()
	s.calls++
	c.seq = s.calls
	f := &s.faults
	c.highUsage = f.HighUsage
	expired := f.ExpiredToken
	var rl *RateLimitFault
	serverError := false
	switch {
	case expired:
	case f.RateLimit != nil && f.RateLimit.Times > 0:
		cp := *f.RateLimit
		rl = &cp
		f.RateLimit.Times--
		if f.RateLimit.Times == 0 {
			f.RateLimit = nil
		}
	case f.ServerErrors > 0:
		f.ServerErrors--
		serverError = true
	}
	delay := time.Duration(f.PageDelayMS) * time.Millisecond
	s.mu.Unlock()
	switch {
	case expired:
		c.fail(http.StatusBadRequest, s.expiredTokenError())
		return level
	case rl != nil:
		c.rateLimit, c.regain = true, rl.RegainMinutes
		c.fail(http.StatusBadRequest, rateLimitError(rl.Code))
		return level
	case serverError:
		c.fail(http.StatusInternalServerError, graphError{Message: "An unknown error occurred", Type: "OAuthException", Code: 1, ErrorSubcode: 99})
		return level
	}

	switch {
	case len(segs) == 2 && strings.HasPrefix(segs[1], "act_") && r.Method == http.MethodGet:
		c.getAccount(segs[1])
	case len(segs) == 3 && segs[1] == "me" && segs[2] == "adaccounts" && r.Method == http.MethodGet:
		c.listAccounts()
	case len(segs) == 3 && strings.HasPrefix(segs[1], "act_") && segs[2] == "insights" && r.Method == http.MethodPost:
		c.startReport(segs[1])
	case len(segs) == 3 && strings.HasPrefix(segs[1], "act_") && segs[2] == "insights" && r.Method == http.MethodGet:
		if !c.sleep(delay) {
			return level
		}
		c.syncInsights(segs[1])
	case len(segs) == 2 && r.Method == http.MethodGet:
		c.runStatus(segs[1])
	case len(segs) == 3 && segs[2] == "insights" && r.Method == http.MethodGet:
		if !c.sleep(delay) {
			return level
		}
		c.runRows(segs[1])
	default:
		c.unsupported(segs[1])
	}
	return level
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

func rateLimitError(code int) graphError {
	g := graphError{Type: "OAuthException", Code: code, ErrorSubcode: 2446079}
	switch code {
	case 4:
		g.Message = "(#4) Application request limit reached"
		g.ErrorSubcode = 1504022
	case 17:
		g.Message = "(#17) User request limit reached"
	case 32:
		g.Message = "(#32) Page request limit reached"
	case 613:
		g.Message = "(#613) Calls to this api have exceeded the rate limit."
		g.ErrorSubcode = 1487742
	case 80000:
		g.Message = "(#80000) There have been too many calls from this ad-account. Wait a bit and try again. For more info, please refer to https://developers.facebook.com/docs/graph-api/overview/rate-limiting#ads-insights."
	case 80004:
		g.Message = "(#80004) There have been too many calls to this ad-account. Wait a bit and try again. For more info, please refer to https://developers.facebook.com/docs/graph-api/overview/rate-limiting#ads-management."
	default:
		g.Message = fmt.Sprintf("(#%d) There have been too many calls for this business use case. Wait a bit and try again.", code)
	}
	g.UserTitle = "Too many calls"
	return g
}

// usageHeaders sets the usage headers every Graph API response carries.
func (c *call) usageHeaders() {
	h := c.w.Header()
	pct, regain := 1+int(c.seq%5), 0
	if c.highUsage {
		pct, regain = 96, 1
	}
	bucPct := pct
	if c.rateLimit {
		bucPct, regain = 100, c.regain
	}
	h.Set("x-app-usage", fmt.Sprintf(`{"call_count":%d,"total_cputime":%d,"total_time":%d}`, pct, max(pct-1, 0), pct))
	if c.acctID != "" {
		h.Set("x-ad-account-usage", fmt.Sprintf(`{"acc_id_util_pct":%d,"reset_time_duration":0,"ads_api_access_tier":"standard_access"}`, pct))
		buc := map[string][]map[string]any{c.acctID: {{
			"type": "ads_insights", "call_count": bucPct, "total_cputime": max(pct-1, 0), "total_time": pct,
			"estimated_time_to_regain_access": regain, "ads_api_access_tier": "standard_access",
		}}}
		b, _ := json.Marshal(buc)
		h.Set("x-business-use-case-usage", string(b))
	}
	if strings.HasSuffix(c.r.URL.Path, "/insights") {
		h.Set("x-fb-ads-insights-throttle", fmt.Sprintf(`{"app_id_util_pct":%d,"acc_id_util_pct":%d,"ads_api_access_tier":"standard_access"}`, pct, pct))
	}
}

func (c *call) json(status int, v any) {
	c.usageHeaders()
	c.w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	c.w.Header().Set("x-fb-trace-id", c.traceID())
	c.w.WriteHeader(status)
	_ = json.NewEncoder(c.w).Encode(v)
}

func (c *call) traceID() string {
	return base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf("sbx%08d", c.seq)))
}

func (c *call) fail(status int, g graphError) {
	g.FBTraceID = c.traceID()
	c.json(status, map[string]any{"error": g})
}

func (c *call) badParam(msg string) {
	c.fail(http.StatusBadRequest, graphError{Message: "(#100) " + msg, Type: "OAuthException", Code: 100})
}

func (c *call) unsupported(id string) {
	c.fail(http.StatusBadRequest, graphError{
		Message: fmt.Sprintf("Unsupported %s request. Object with ID '%s' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api",
			strings.ToLower(c.r.Method), id),
		Type: "GraphMethodException", Code: 100, ErrorSubcode: 33})
}

// parseList reads a fields-like parameter: a JSON list or a comma-separated list.
func parseList(v string) ([]string, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil, nil
	}
	if strings.HasPrefix(v, "[") {
		var l []string
		if err := json.Unmarshal([]byte(v), &l); err != nil {
			return nil, err
		}
		return l, nil
	}
	var l []string
	for _, f := range strings.Split(v, ",") {
		if f = strings.TrimSpace(f); f != "" {
			l = append(l, f)
		}
	}
	return l, nil
}

var accountFields = []string{"id", "account_id", "name", "currency", "timezone_name", "account_status"}

func (a *account) fieldsJSON(fields []string) map[string]any {
	all := map[string]any{
		"id": "act_" + a.ID, "account_id": a.ID, "name": a.Name, "currency": a.Currency,
		"timezone_name": a.Timezone, "account_status": 1,
	}
	out := map[string]any{"id": "act_" + a.ID}
	for _, f := range fields {
		out[f] = all[f]
	}
	return out
}

func (c *call) accountFields() ([]string, bool) {
	fields, err := parseList(c.r.Form.Get("fields"))
	if err != nil {
		c.badParam("Param fields must be a list of field names")
		return nil, false
	}
	for _, f := range fields {
		if !contains(accountFields, f) {
			c.badParam(fmt.Sprintf("Tried accessing nonexisting field (%s) on node type (AdAccount)", f))
			return nil, false
		}
	}
	return fields, true
}

func contains(l []string, s string) bool {
	for _, v := range l {
		if v == s {
			return true
		}
	}
	return false
}

func (c *call) getAccount(seg string) {
	a, ok := c.s.account(seg)
	if !ok {
		c.unsupported(seg)
		return
	}
	fields, ok := c.accountFields()
	if !ok {
		return
	}
	c.json(http.StatusOK, a.fieldsJSON(fields))
}

func (c *call) listAccounts() {
	fields, ok := c.accountFields()
	if !ok {
		return
	}
	if len(fields) == 0 {
		fields = []string{"account_id"}
	}
	limit, offset, ok := c.pageBounds("acct")
	if !ok {
		return
	}
	offset = min(offset, len(c.s.order))
	end := min(offset+limit, len(c.s.order))
	data := []map[string]any{}
	for _, id := range c.s.order[offset:end] {
		data = append(data, c.s.accounts[id].fieldsJSON(fields))
	}
	paging := map[string]any{"cursors": map[string]string{"before": encodeAfter("acct", offset), "after": encodeAfter("acct", end)}}
	if end < len(c.s.order) {
		paging["next"] = c.nextURL(encodeAfter("acct", end))
	}
	c.json(http.StatusOK, map[string]any{"data": data, "paging": paging})
}

// parseInsightParams validates the insights parameters of a start call or a sync read.
func (c *call) parseInsightParams(a *account, now time.Time) (reportSpec, map[string]bool, bool) {
	f := c.r.Form
	spec := reportSpec{level: f.Get("level")}
	if spec.level == "" {
		spec.level = levelAccount
	}
	if spec.level != levelAccount && spec.level != levelCampaign && spec.level != levelAdSet && spec.level != levelAd {
		c.badParam("level must be one of the following values: ad, adset, campaign, account")
		return spec, nil, false
	}
	fieldList, err := parseList(f.Get("fields"))
	if err != nil {
		c.badParam("Param fields must be a JSON array of strings")
		return spec, nil, false
	}
	fields := defaultInsightFields
	if len(fieldList) > 0 {
		fields = map[string]bool{}
		for _, name := range fieldList {
			if !insightFields[name] {
				c.badParam(fmt.Sprintf("%s is not valid for fields param. please check https://developers.facebook.com/docs/marketing-api/reference/ads-insights/ for all valid values", name))
				return spec, nil, false
			}
			fields[name] = true
		}
	}
	if ab := f.Get("action_breakdowns"); ab != "" {
		l, err := parseList(ab)
		if err != nil || len(l) > 1 || (len(l) == 1 && l[0] != "action_type") {
			c.badParam("the sandbox supports only action_breakdowns=[\"action_type\"]")
			return spec, nil, false
		}
	}
	if b := f.Get("breakdowns"); b != "" && b != "[]" {
		c.badParam("the sandbox does not support breakdowns")
		return spec, nil, false
	}
	keep, err := parseFiltering(f.Get("filtering"))
	if err != nil {
		c.badParam(err.Error())
		return spec, nil, false
	}
	spec.keep = keep
	switch ti := f.Get("time_increment"); ti {
	case "", "all_days":
		spec.incr = 0
	case "monthly":
		c.badParam("the sandbox does not support time_increment=monthly")
		return spec, nil, false
	default:
		n, err := strconv.Atoi(ti)
		if err != nil || n < 1 || n > 90 {
			c.badParam("time_increment must be an integer between 1 and 90, monthly or all_days")
			return spec, nil, false
		}
		spec.incr = n
	}
	today := a.today(now)
	tr := f.Get("time_range")
	if tr == "" {
		if dp := f.Get("date_preset"); dp != "" && dp != "last_30d" {
			c.badParam("the sandbox supports only time_range or date_preset=last_30d")
			return spec, nil, false
		}
		spec.since, spec.until = today.AddDate(0, 0, -30), today.AddDate(0, 0, -1)
	} else {
		var r struct {
			Since string `json:"since"`
			Until string `json:"until"`
		}
		if err := json.Unmarshal([]byte(tr), &r); err != nil {
			c.badParam(`Param time_range must be a JSON object like {"since":"YYYY-MM-DD","until":"YYYY-MM-DD"}`)
			return spec, nil, false
		}
		since, err1 := time.Parse(dateLayout, r.Since)
		until, err2 := time.Parse(dateLayout, r.Until)
		if err1 != nil || err2 != nil {
			c.badParam("Param time_range[since] and time_range[until] must be dates in YYYY-MM-DD format")
			return spec, nil, false
		}
		if since.After(until) {
			c.badParam("time_range: since must be on or before until")
			return spec, nil, false
		}
		spec.since, spec.until = since, until
	}
	if spec.since.Before(today.AddDate(0, -retentionMonths, 0)) {
		c.fail(http.StatusBadRequest, graphError{Message: fmt.Sprintf("(#3018) The start date of the time range cannot be beyond %d months from the current date", retentionMonths),
			Type: "OAuthException", Code: 3018})
		return spec, nil, false
	}
	return spec, fields, true
}

func (c *call) startReport(seg string) {
	a, ok := c.s.account(seg)
	if !ok {
		c.unsupported(seg)
		return
	}
	now := c.s.now()
	spec, fields, ok := c.parseInsightParams(a, now)
	if !ok {
		return
	}
	restated := c.s.restated.Of(a.ID)
	hidden := c.s.hiddenAds(&a.Account, spec.keep)
	s := c.s
	s.mu.Lock()
	s.runSeq++
	run := &reportRun{
		id: strconv.FormatInt(firstRunID+s.runSeq, 10), acct: a, spec: spec, fields: fields,
		created: now, today: a.today(now), restated: restated, hidden: hidden,
	}
	if s.faults.FailReportJobs > 0 {
		s.faults.FailReportJobs--
		run.fail = true
	}
	s.runs[run.id] = run
	s.runOrder = append(s.runOrder, run.id)
	if len(s.runOrder) > maxRuns {
		delete(s.runs, s.runOrder[0])
		s.runOrder = s.runOrder[1:]
	}
	s.mu.Unlock()
	c.json(http.StatusOK, map[string]string{"report_run_id": run.id})
}

func (c *call) runStatus(id string) {
	s := c.s
	s.mu.Lock()
	run, ok := s.runs[id]
	var polls int
	if ok {
		run.polls++
		polls = run.polls
	}
	s.mu.Unlock()
	if !ok {
		c.unsupported(id)
		return
	}
	status, pct := runState(run, polls)
	body := map[string]any{
		"id": run.id, "account_id": run.acct.ID, "async_status": status, "async_percent_completion": pct,
		"date_start": run.spec.since.Format(dateLayout), "date_stop": run.spec.until.Format(dateLayout),
		"time_ref": run.created.Unix(),
	}
	if status == "Job Completed" || status == "Job Failed" {
		body["time_completed"] = run.created.Unix() + 11
	}
	c.json(http.StatusOK, body)
}

// runState: the first poll answers "Job Running", later ones "Job Completed" (or
// "Job Failed" for a run marked by the fail_report_jobs fault).
func runState(run *reportRun, polls int) (string, int) {
	switch {
	case polls <= 1:
		return "Job Running", 42
	case run.fail:
		return "Job Failed", 0
	}
	return "Job Completed", 100
}

func (c *call) runRows(id string) {
	s := c.s
	s.mu.Lock()
	run, ok := s.runs[id]
	var polls int
	if ok {
		polls = run.polls
	}
	s.mu.Unlock()
	if !ok {
		c.unsupported(id)
		return
	}
	switch status, _ := runState(run, polls); status {
	case "Job Failed":
		c.fail(http.StatusBadRequest, graphError{Message: "(#100) The report run failed; start a new one", Type: "OAuthException", Code: 100})
		return
	case "Job Running":
		c.fail(http.StatusBadRequest, graphError{Message: "(#100) The report run has not completed yet; poll its async_status first", Type: "OAuthException", Code: 100})
		return
	}
	histStart := run.today.AddDate(0, 0, -(s.days - 1))
	rows := computeRows(&run.acct.Account, run.spec, histStart, run.today, run.restated, run.hidden)
	c.page("run"+run.id, run.acct, run.spec.level, run.fields, rows)
}

func (c *call) syncInsights(seg string) {
	a, ok := c.s.account(seg)
	if !ok {
		c.unsupported(seg)
		return
	}
	now := c.s.now()
	spec, fields, ok := c.parseInsightParams(a, now)
	if !ok {
		return
	}
	histStart, today := c.s.history(a, now)
	rows := computeRows(&a.Account, spec, histStart, today, c.s.restated.Of(a.ID), c.s.hiddenAds(&a.Account, spec.keep))
	c.page("sync"+a.ID, a, spec.level, fields, rows)
}

func encodeAfter(key string, offset int) string {
	return base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf("%s:%d", key, offset)))
}

func decodeAfter(key, s string) (int, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return 0, false
	}
	k, off, ok := strings.Cut(string(b), ":")
	n, err := strconv.Atoi(off)
	if !ok || k != key || err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// page serves one cursor page of rows: `limit` (default 25) rows from `after`, with
// paging.cursors and, unless this is the last page, paging.next = this URL with the new after.
func (c *call) page(key string, a *account, level string, fields map[string]bool, rows []aggRow) {
	limit, offset, ok := c.pageBounds(key)
	if !ok {
		return
	}
	data := []map[string]any{}
	end := min(offset+limit, len(rows))
	for i := offset; i < end; i++ {
		data = append(data, rowJSON(&a.Account, level, fields, rows[i]))
	}
	body := map[string]any{"data": data}
	if len(data) > 0 {
		paging := map[string]any{"cursors": map[string]string{
			"before": encodeAfter(key, offset),
			"after":  encodeAfter(key, end),
		}}
		if end < len(rows) {
			paging["next"] = c.nextURL(encodeAfter(key, end))
		}
		body["paging"] = paging
	}
	c.json(http.StatusOK, body)
}

// pageBounds reads a cursor page's `limit` (default 25, capped) and the offset its `after`
// cursor of kind key encodes; a bad one has been answered with Meta's error when ok is false.
func (c *call) pageBounds(key string) (limit, offset int, ok bool) {
	q := c.r.URL.Query()
	limit = defaultPageLimit
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 {
			c.badParam("Param limit must be a positive integer")
			return 0, 0, false
		}
		limit = min(n, maxPageLimit)
	}
	if after := q.Get("after"); after != "" {
		n, valid := decodeAfter(key, after)
		if !valid {
			c.badParam("Invalid cursor: after=" + after)
			return 0, 0, false
		}
		offset = n
	}
	return limit, offset, true
}

// nextURL is the request URL (as the client sent it, mount prefix included) with `after`
// replaced, as Meta and Airbyte's fakes build paging.next.
func (c *call) nextURL(after string) string {
	r := c.r
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	} else if p := r.Header.Get("X-Forwarded-Proto"); p == "http" || p == "https" {
		scheme = p
	}
	u, err := url.ParseRequestURI(r.RequestURI)
	if r.RequestURI == "" || err != nil {
		u = &url.URL{Path: r.URL.Path, RawQuery: r.URL.RawQuery}
	}
	q := u.Query()
	q.Set("after", after)
	return scheme + "://" + r.Host + u.EscapedPath() + "?" + q.Encode()
}
