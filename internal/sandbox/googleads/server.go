// Package googleads is the sandbox Google Ads API: an http.Handler that speaks the REST wire
// format of GAQL search (paged search, searchStream, the Google RPC error envelope with
// GoogleAdsFailure details) and Google's OAuth refresh-token grant, over deterministic
// generated data, with switchable faults and restatements.
//
// Endpoints, relative to where the handler is mounted (any version v\d+):
//
//	POST /{ver}/customers/{id}/googleAds:search        {"query","pageToken"} -> results, nextPageToken
//	POST /{ver}/customers/{id}/googleAds:searchStream  {"query"} -> [batch, ...]
//	GET  /{ver}/customers:listAccessibleCustomers      {"resourceNames":[...]}
//	POST /token                                        OAuth refresh_token grant (form)
//
// API calls need "Authorization: Bearer <token>" (DefaultToken, or a token minted at /token
// from the refresh token) and a developer-token header. Refresh and access tokens granted by
// the sandbox Google OAuth consent work too (kit.GoogleGrants). Admin endpoints: see admin.go.
package googleads

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/sandbox/kit"
)

// Credentials of the default configuration.
const (
	// DefaultToken is a long-lived access token that is always valid (unless the
	// expired_token fault is on).
	DefaultToken = "sandbox-googleads-token"
	// DefaultRefreshToken mints short-lived access tokens at /token.
	DefaultRefreshToken = "sandbox-google-refresh-token"
	// DefaultDeveloperToken is a developer token to configure connectors with; the sandbox
	// accepts any non-empty developer-token unless Config.DeveloperToken is set.
	DefaultDeveloperToken = "sandbox-google-developer-token"
)

// Defaults of Config.
const (
	DefaultDays           = 120
	DefaultPageSize       = 10_000
	DefaultAccessTokenTTL = 3599 * time.Second
)

const (
	dateLayout     = "2006-01-02"
	maxBodyBytes   = 1 << 20
	adwordsScope   = "https://www.googleapis.com/auth/adwords"
	msgMissingAuth = "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project."
	msgInvalidAuth = "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project."
	msgInvalidArg  = "Request contains an invalid argument."
	msgPermission  = "The caller does not have permission"
)

// Config configures a Server.
type Config struct {
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Token is the long-lived valid access token; default DefaultToken.
	Token string
	// RefreshToken is the valid refresh token; default DefaultRefreshToken.
	RefreshToken string
	// ClientID and ClientSecret, when set, must match the token request's. A client_id is
	// always required, as Google requires one.
	ClientID     string
	ClientSecret string
	// DeveloperToken, when set, is the only accepted developer-token; otherwise any
	// non-empty value is.
	DeveloperToken string
	// AccessTokenTTL is the lifetime of minted access tokens (expires_in); default 3599 s.
	AccessTokenTTL time.Duration
	// PageSize is the number of rows of a search page and of a searchStream batch; default
	// 10,000 as Google's. Tests set it small.
	PageSize int
	// Customers default to []Customer{DemoCustomer()}.
	Customers []Customer
	// Days is the history length, ending today in each customer's time zone; default 120.
	Days int
}

type customer struct {
	Customer
	loc *time.Location
}

// Server is the sandbox Google Ads provider. It is safe for concurrent use.
type Server struct {
	now            func() time.Time
	token          string
	clientID       string
	clientSecret   string
	developerToken string
	ttl            time.Duration
	pageSize       int
	days           int
	customers      map[string]*customer
	order          []string

	restated kit.Restatements // factor percents
	reqs     kit.RequestLog[RequestLog]
	grants   *kit.GoogleGrants

	mu      sync.Mutex
	faults  Faults
	mintSeq int64
	calls   int64
}

// New builds a Server. It panics on an invalid configuration (a bad time zone, a customer id
// that is not 10 digits, a duplicate), which is a programming error in a sandbox.
func New(cfg Config) *Server {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Token == "" {
		cfg.Token = DefaultToken
	}
	if cfg.RefreshToken == "" {
		cfg.RefreshToken = DefaultRefreshToken
	}
	if cfg.AccessTokenTTL <= 0 {
		cfg.AccessTokenTTL = DefaultAccessTokenTTL
	}
	if cfg.PageSize <= 0 {
		cfg.PageSize = DefaultPageSize
	}
	if len(cfg.Customers) == 0 {
		cfg.Customers = []Customer{DemoCustomer()}
	}
	if cfg.Days <= 0 {
		cfg.Days = DefaultDays
	}
	s := &Server{
		now: cfg.Now, token: cfg.Token,
		clientID: cfg.ClientID, clientSecret: cfg.ClientSecret, developerToken: cfg.DeveloperToken,
		ttl: cfg.AccessTokenTTL, pageSize: cfg.PageSize, days: cfg.Days,
		customers: map[string]*customer{},
		grants:    kit.NewGoogleGrants(cfg.Now, cfg.RefreshToken, adwordsScope),
	}
	for _, c := range cfg.Customers {
		c.ID = strings.ReplaceAll(c.ID, "-", "")
		if len(c.ID) != 10 || !kit.IsDigits(c.ID) {
			panic(fmt.Sprintf("sandbox googleads: customer id %q is not 10 digits", c.ID))
		}
		if _, dup := s.customers[c.ID]; dup {
			panic(fmt.Sprintf("sandbox googleads: duplicate customer %s", c.ID))
		}
		if c.Timezone == "" {
			c.Timezone = "America/New_York"
		}
		loc, err := time.LoadLocation(c.Timezone)
		if err != nil {
			panic(fmt.Sprintf("sandbox googleads: customer %s: %v", c.ID, err))
		}
		if c.Currency == "" {
			c.Currency = "USD"
		}
		if c.Name == "" {
			c.Name = "Sandbox customer " + c.ID
		}
		if len(c.Campaigns) == 0 {
			c.Campaigns = genericTree()
		}
		for _, camp := range c.Campaigns {
			if camp.campaignLevelOnly() && len(camp.AdGroups) > 0 {
				panic(fmt.Sprintf("sandbox googleads: customer %s: %s campaign %q cannot have ad groups", c.ID, camp.ChannelType, camp.Name))
			}
		}
		s.customers[c.ID] = &customer{Customer: fillIDs(c), loc: loc}
		s.order = append(s.order, c.ID)
	}
	return s
}

// Token is the long-lived valid access token.
func (s *Server) Token() string { return s.token }

// RefreshToken is the valid refresh token.
func (s *Server) RefreshToken() string { return s.grants.RefreshToken() }

// Customers lists the customers with their filled-in campaign trees.
func (s *Server) Customers() []Customer {
	out := make([]Customer, 0, len(s.order))
	for _, id := range s.order {
		out = append(out, s.customers[id].Customer)
	}
	return out
}

func (s *Server) customer(id string) (*customer, bool) {
	c, ok := s.customers[strings.ReplaceAll(id, "-", "")]
	return c, ok
}

// today is the current calendar day in the customer's time zone, as UTC midnight.
func (c *customer) today(now time.Time) time.Time { return kit.Today(now, c.loc) }

func (s *Server) history(c *customer, now time.Time) (start, today time.Time) {
	return kit.History(now, c.loc, s.days)
}

// Today is the current day (YYYY-MM-DD) in the customer's time zone.
func (s *Server) Today(customerID string) (string, error) {
	c, ok := s.customer(customerID)
	if !ok {
		return "", fmt.Errorf("unknown customer %q", customerID)
	}
	return c.today(s.now()).Format(dateLayout), nil
}

// ---- HTTP ----

var versionRE = regexp.MustCompile(`^v\d+$`)

// ServeHTTP serves the API, the token endpoint and the /_sandbox admin endpoints.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/_sandbox" || strings.HasPrefix(r.URL.Path, "/_sandbox/"):
		s.serveAdmin(w, r)
		return
	case r.URL.Path == "/token":
		rec := kit.NewStatusRecorder(w)
		grant := s.serveToken(rec, r)
		s.reqs.Add(RequestLog{Time: s.now().UTC(), Method: r.Method, Path: r.URL.Path, GrantType: grant, Status: rec.Status})
		return
	}
	rec := kit.NewStatusRecorder(w)
	c := &call{s: s, w: rec, r: r}
	c.serve()
	s.reqs.Add(RequestLog{
		Time:            s.now().UTC(),
		Method:          r.Method,
		Path:            r.URL.Path,
		Query:           c.query,
		PageToken:       c.pageToken,
		LoginCustomerID: r.Header.Get("login-customer-id"),
		DeveloperToken:  r.Header.Get("developer-token") != "",
		Status:          rec.Status,
	})
}

// call is one API request being served.
type call struct {
	s         *Server
	w         http.ResponseWriter
	r         *http.Request
	version   string
	stream    bool
	seq       int64
	query     string // for the request log
	pageToken string
}

// adsError is one GoogleAdsError of a failure.
type adsError struct {
	key, value, message string
	retryDelay          string
	rateScope           string
}

func (c *call) requestID() string {
	return base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "sandbox%09d", c.seq))
}

func (c *call) writeJSON(status int, v any) {
	c.w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	c.w.Header().Set("request-id", c.requestID())
	c.w.WriteHeader(status)
	_ = json.NewEncoder(c.w).Encode(v)
}

// fail writes the Google RPC error envelope, with a GoogleAdsFailure detail when errs are
// given; searchStream wraps it in an array as Google does.
func (c *call) fail(httpStatus int, status, message string, errs ...adsError) {
	e := map[string]any{"code": httpStatus, "message": message, "status": status}
	if len(errs) > 0 {
		var list []map[string]any
		for _, ae := range errs {
			item := map[string]any{"errorCode": map[string]string{ae.key: ae.value}, "message": ae.message}
			if ae.retryDelay != "" {
				item["details"] = map[string]any{"quotaErrorDetails": map[string]string{
					"rateScope": ae.rateScope, "rateName": "Number of operations for basic access", "retryDelay": ae.retryDelay,
				}}
			}
			list = append(list, item)
		}
		version := c.version
		if version == "" {
			version = "v23"
		}
		e["details"] = []map[string]any{{
			"@type":     "type.googleapis.com/google.ads.googleads." + version + ".errors.GoogleAdsFailure",
			"errors":    list,
			"requestId": c.requestID(),
		}}
	}
	var body any = map[string]any{"error": e}
	if c.stream {
		body = []any{body}
	}
	c.writeJSON(httpStatus, body)
}

func (c *call) invalidArgument(key, value, message string) {
	c.fail(http.StatusBadRequest, "INVALID_ARGUMENT", msgInvalidArg, adsError{key: key, value: value, message: message})
}

func (c *call) notFound() {
	c.fail(http.StatusNotFound, "NOT_FOUND", "The requested URL "+c.r.URL.Path+" was not found on this server.")
}

func (c *call) serve() {
	s := c.s
	s.mu.Lock()
	s.calls++
	c.seq = s.calls
	s.mu.Unlock()

	segs := strings.Split(strings.TrimPrefix(c.r.URL.Path, "/"), "/")
	if len(segs) < 2 || !versionRE.MatchString(segs[0]) {
		c.notFound()
		return
	}
	c.version = segs[0]
	var customerID, method string
	switch {
	case len(segs) == 2 && segs[1] == "customers:listAccessibleCustomers":
		if c.r.Method != http.MethodGet {
			c.fail(http.StatusMethodNotAllowed, "INVALID_ARGUMENT", "Method not allowed; use GET.")
			return
		}
	case len(segs) == 4 && segs[1] == "customers" && (segs[3] == "googleAds:search" || segs[3] == "googleAds:searchStream"):
		customerID, method = segs[2], segs[3]
	default:
		c.notFound()
		return
	}
	c.stream = method == "googleAds:searchStream"
	if method != "" && c.r.Method != http.MethodPost {
		c.fail(http.StatusMethodNotAllowed, "INVALID_ARGUMENT", "Method not allowed; use POST.")
		return
	}
	if !c.authenticate() {
		return
	}
	if method == "" {
		c.listAccessibleCustomers()
		return
	}
	cust, ok := c.authorize(customerID)
	if !ok {
		return
	}
	if !c.injectFaults() {
		return
	}
	c.search(cust)
}

// authenticate checks the bearer token and the developer-token header.
func (c *call) authenticate() bool {
	s := c.s
	h := c.r.Header.Get("Authorization")
	scheme, tok, _ := strings.Cut(h, " ")
	tok = strings.TrimSpace(tok)
	if h == "" || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		c.fail(http.StatusUnauthorized, "UNAUTHENTICATED", msgMissingAuth)
		return false
	}
	now := s.now()
	s.mu.Lock()
	revoked := s.faults.ExpiredToken
	s.mu.Unlock()
	expiry, minted := s.grants.Access(tok)
	switch {
	case revoked && (tok == s.token || minted):
		c.fail(http.StatusUnauthorized, "UNAUTHENTICATED", msgInvalidAuth,
			adsError{key: "authenticationError", value: "OAUTH_TOKEN_REVOKED", message: "The OAuth access token has been revoked."})
		return false
	case minted && !now.Before(expiry):
		c.fail(http.StatusUnauthorized, "UNAUTHENTICATED", msgInvalidAuth,
			adsError{key: "authenticationError", value: "OAUTH_TOKEN_EXPIRED", message: "The OAuth access token has expired."})
		return false
	case tok != s.token && !minted:
		c.fail(http.StatusUnauthorized, "UNAUTHENTICATED", msgInvalidAuth,
			adsError{key: "authenticationError", value: "OAUTH_TOKEN_INVALID", message: "The OAuth access token is not valid."})
		return false
	}
	dev := c.r.Header.Get("developer-token")
	switch {
	case dev == "":
		c.invalidArgument("requestError", "DEVELOPER_TOKEN_PARAMETER_MISSING", "developer-token parameter is missing.")
		return false
	case s.developerToken != "" && dev != s.developerToken:
		c.fail(http.StatusUnauthorized, "UNAUTHENTICATED", msgInvalidAuth,
			adsError{key: "authenticationError", value: "DEVELOPER_TOKEN_INVALID", message: "The developer token is not valid."})
		return false
	}
	return true
}

// authorize checks the customer id and the login-customer-id header.
func (c *call) authorize(customerID string) (*customer, bool) {
	if len(customerID) != 10 || !kit.IsDigits(customerID) {
		c.invalidArgument("requestError", "INVALID_CUSTOMER_ID", fmt.Sprintf("Invalid customer ID '%s'.", customerID))
		return nil, false
	}
	login := c.r.Header.Get("login-customer-id")
	if login != "" && (len(login) != 10 || !kit.IsDigits(login)) {
		c.invalidArgument("headerError", "INVALID_LOGIN_CUSTOMER_ID", fmt.Sprintf("The login customer ID '%s' is not valid: 10 digits without dashes are expected.", login))
		return nil, false
	}
	cust, ok := c.s.customer(customerID)
	denied := !ok
	if ok && cust.ManagerID != "" {
		denied = login != cust.ManagerID
	} else if ok && login != "" {
		denied = login != cust.ID
	}
	if denied {
		c.fail(http.StatusForbidden, "PERMISSION_DENIED", msgPermission, adsError{
			key: "authorizationError", value: "USER_PERMISSION_DENIED",
			message: "User doesn't have permission to access customer. Note: If you're accessing a client customer, the manager's customer id must be set in the 'login-customer-id' header. See https://developers.google.com/google-ads/api/docs/concepts/call-structure#cid",
		})
		return nil, false
	}
	return cust, true
}

// injectFaults answers with an armed rate-limit or server-error fault, if any.
func (c *call) injectFaults() bool {
	s := c.s
	s.mu.Lock()
	f := &s.faults
	var rl *RateLimitFault
	status := 0
	switch {
	case f.RateLimit != nil && f.RateLimit.Times > 0:
		cp := *f.RateLimit
		rl = &cp
		if f.RateLimit.Times--; f.RateLimit.Times == 0 {
			f.RateLimit = nil
		}
	case f.ServerErrors > 0:
		f.ServerErrors--
		status = http.StatusInternalServerError
	case f.Unavailable > 0:
		f.Unavailable--
		status = http.StatusServiceUnavailable
	}
	s.mu.Unlock()
	switch {
	case rl != nil:
		secs := strings.TrimSuffix(rl.RetryDelay, "s")
		c.fail(http.StatusTooManyRequests, "RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota).", adsError{
			key: "quotaError", value: rl.QuotaError, rateScope: rl.RateScope, retryDelay: rl.RetryDelay,
			message: "Too many requests. Retry in " + secs + " seconds.",
		})
		return false
	case status == http.StatusInternalServerError:
		c.fail(status, "INTERNAL", "Internal error encountered.",
			adsError{key: "internalError", value: "INTERNAL_ERROR", message: "An internal error has occurred."})
		return false
	case status == http.StatusServiceUnavailable:
		c.fail(status, "UNAVAILABLE", "The service is currently unavailable.")
		return false
	}
	return true
}

func (c *call) listAccessibleCustomers() {
	names := []string{}
	for _, id := range c.s.order {
		names = append(names, "customers/"+id)
	}
	c.writeJSON(http.StatusOK, map[string]any{"resourceNames": names})
}

// searchBody is the request of search and searchStream.
type searchBody struct {
	Query          string `json:"query"`
	PageToken      string `json:"pageToken"`
	PageSize       *int   `json:"pageSize"`
	SearchSettings *struct {
		ReturnTotalResultsCount bool `json:"returnTotalResultsCount"`
		ReturnSummaryRow        bool `json:"returnSummaryRow"`
	} `json:"searchSettings"`
	ValidateOnly      bool   `json:"validateOnly"`
	SummaryRowSetting string `json:"summaryRowSetting"`
}

func (c *call) search(cust *customer) {
	s := c.s
	var body searchBody
	dec := json.NewDecoder(io.LimitReader(c.r.Body, maxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		c.fail(http.StatusBadRequest, "INVALID_ARGUMENT", "Invalid JSON payload received. "+jsonProblem(err))
		return
	}
	c.query, c.pageToken = body.Query, body.PageToken
	switch {
	case body.PageSize != nil:
		c.invalidArgument("requestError", "PAGE_SIZE_NOT_SUPPORTED",
			"Setting the page size is not supported. Search Responses will have fixed page size of '10000' rows.")
		return
	case c.stream && (body.PageToken != "" || body.SearchSettings != nil):
		c.fail(http.StatusBadRequest, "INVALID_ARGUMENT", `Invalid JSON payload received. searchStream takes no "pageToken" or "searchSettings".`)
		return
	case body.SearchSettings != nil && body.SearchSettings.ReturnSummaryRow || body.SummaryRowSetting != "":
		c.invalidArgument("queryError", "QUERY_ERROR", "The sandbox does not support summary rows.")
		return
	case strings.TrimSpace(body.Query) == "":
		c.invalidArgument("queryError", "QUERY_ERROR", "The query is empty.")
		return
	}
	q, err := parseQuery(body.Query)
	if err == nil {
		if verr := q.validate(); verr != nil {
			err = verr
		}
	}
	var qe *queryError
	if errors.As(err, &qe) {
		c.invalidArgument("queryError", qe.code, qe.msg)
		return
	}
	offset := 0
	if body.PageToken != "" {
		s.mu.Lock()
		expired := s.faults.ExpiredPageTokens > 0
		if expired {
			s.faults.ExpiredPageTokens--
		}
		s.mu.Unlock()
		if expired {
			c.invalidArgument("requestError", "EXPIRED_PAGE_TOKEN", "Page token has expired.")
			return
		}
		n, ok := decodePageToken(body.PageToken, pageKey(cust.ID, body.Query))
		if !ok {
			c.invalidArgument("requestError", "INVALID_PAGE_TOKEN", "Page token is invalid.")
			return
		}
		offset = n
	}
	if body.ValidateOnly {
		c.writeJSON(http.StatusOK, map[string]any{"fieldMask": fieldMask(q.fields)})
		return
	}
	s.mu.Lock()
	empty := s.faults.EmptyReport
	s.mu.Unlock()
	histStart, today := s.history(cust, s.now())
	rows := run(cust, q, histStart, today, s.restated.Of(cust.ID), empty)
	if c.stream {
		c.writeStream(q, rows)
		return
	}
	if offset > len(rows) {
		c.invalidArgument("requestError", "INVALID_PAGE_TOKEN", "Page token is invalid.")
		return
	}
	end := min(offset+s.pageSize, len(rows))
	resp := map[string]any{
		"fieldMask":                fieldMask(q.fields),
		"queryResourceConsumption": strconv.Itoa(50 + len(rows)/10),
	}
	if end > offset {
		results := make([]map[string]any, 0, end-offset)
		for i := offset; i < end; i++ {
			results = append(results, rowJSON(&rows[i], q.fields))
		}
		resp["results"] = results
	}
	if end < len(rows) {
		resp["nextPageToken"] = encodePageToken(pageKey(cust.ID, body.Query), end)
	}
	if body.SearchSettings != nil && body.SearchSettings.ReturnTotalResultsCount {
		resp["totalResultsCount"] = strconv.Itoa(len(rows))
	}
	c.writeJSON(http.StatusOK, resp)
}

// writeStream answers searchStream: one JSON array of batches of up to PageSize rows.
func (c *call) writeStream(q *query, rows []reportRow) {
	mask := fieldMask(q.fields)
	var batches []map[string]any
	for start := 0; start < len(rows) || start == 0; start += c.s.pageSize {
		end := min(start+c.s.pageSize, len(rows))
		b := map[string]any{"fieldMask": mask, "requestId": c.requestID()}
		if end > start {
			results := make([]map[string]any, 0, end-start)
			for i := start; i < end; i++ {
				results = append(results, rowJSON(&rows[i], q.fields))
			}
			b["results"] = results
		}
		batches = append(batches, b)
		if end >= len(rows) {
			break
		}
	}
	batches[len(batches)-1]["queryResourceConsumption"] = strconv.Itoa(50 + len(rows)/10)
	c.writeJSON(http.StatusOK, batches)
}

func jsonProblem(err error) string {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		return "Unknown name " + name + ": Cannot find field."
	}
	return msg
}

// pageKey ties page tokens to one customer and query text.
func pageKey(customerID, query string) string {
	return strconv.FormatUint(kit.Hash64(customerID+"\x00"+query), 36)
}

func encodePageToken(key string, offset int) string {
	return base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "gads:%s:%d", key, offset))
}

func decodePageToken(tok, key string) (int, bool) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return 0, false
	}
	rest, ok := strings.CutPrefix(string(b), "gads:"+key+":")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(rest)
	return n, err == nil && n > 0
}
