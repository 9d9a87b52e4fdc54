package googleads

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/sandbox/kit"
)

// Faults are the switchable failures. Counters count API calls (not token or admin calls)
// and run down as they fire.
type Faults struct {
	// RateLimit answers the next Times calls with HTTP 429 RESOURCE_EXHAUSTED and a
	// quotaError carrying a retryDelay.
	RateLimit *RateLimitFault `json:"rate_limit,omitempty"`
	// ServerErrors answers the next N calls with HTTP 500 INTERNAL.
	ServerErrors int `json:"server_errors,omitempty"`
	// Unavailable answers the next N calls with HTTP 503 UNAVAILABLE.
	Unavailable int `json:"unavailable,omitempty"`
	// ExpiredToken revokes the grant: the token endpoint answers 400 invalid_grant ("Token
	// has been expired or revoked.") and every API call 401 UNAUTHENTICATED.
	ExpiredToken bool `json:"expired_token,omitempty"`
	// EmptyReport makes every query that selects metrics return no rows.
	EmptyReport bool `json:"empty_report,omitempty"`
	// ExpiredPageTokens answers the next N calls that carry a pageToken with 400
	// EXPIRED_PAGE_TOKEN.
	ExpiredPageTokens int `json:"expired_page_tokens,omitempty"`
}

// RateLimitFault is a quota error to inject.
type RateLimitFault struct {
	// Times is how many calls answer with the error (default 1).
	Times int `json:"times"`
	// RetryDelay is the quotaErrorDetails.retryDelay, a protobuf Duration such as "1s"
	// (default "1s").
	RetryDelay string `json:"retry_delay"`
	// QuotaError is the quotaError enum value (default RESOURCE_EXHAUSTED; also
	// RESOURCE_TEMPORARILY_EXHAUSTED, EXCESSIVE_SHORT_TERM_QUERY_RESOURCE_CONSUMPTION, ...).
	QuotaError string `json:"quota_error"`
	// RateScope is the quotaErrorDetails.rateScope (default DEVELOPER).
	RateScope string `json:"rate_scope"`
}

func (f Faults) clone() Faults {
	if f.RateLimit != nil {
		rl := *f.RateLimit
		f.RateLimit = &rl
	}
	return f
}

func (f *Faults) validate() error {
	if rl := f.RateLimit; rl != nil {
		if rl.Times == 0 {
			rl.Times = 1
		}
		if rl.RetryDelay == "" {
			rl.RetryDelay = "1s"
		}
		if rl.QuotaError == "" {
			rl.QuotaError = "RESOURCE_EXHAUSTED"
		}
		if rl.RateScope == "" {
			rl.RateScope = "DEVELOPER"
		}
		if rl.Times < 0 {
			return errors.New("rate_limit.times must not be negative")
		}
		if d, err := time.ParseDuration(rl.RetryDelay); err != nil || d < 0 || !strings.HasSuffix(rl.RetryDelay, "s") ||
			strings.ContainsAny(rl.RetryDelay, "hmµun") {
			return fmt.Errorf("rate_limit.retry_delay %q must be seconds such as \"2s\" or \"0.5s\"", rl.RetryDelay)
		}
	}
	if f.ServerErrors < 0 || f.Unavailable < 0 || f.ExpiredPageTokens < 0 {
		return errors.New("fault counters must not be negative")
	}
	return nil
}

// faultSwitch arms and clears the faults under the server's lock, which the request
// paths also hold while they run fault counters down.
func (s *Server) faultSwitch() *kit.FaultSwitch[Faults] {
	return kit.NewFaultSwitch(&s.mu, &s.faults, Faults.clone, (*Faults).validate)
}

// SetFaults replaces all faults.
func (s *Server) SetFaults(f Faults) error { return s.faultSwitch().Set(f) }

// ClearFaults removes all faults.
func (s *Server) ClearFaults() { s.faultSwitch().Clear() }

// Faults returns the faults still armed.
func (s *Server) Faults() Faults { return s.faultSwitch().Get() }

// faultPatch is the body of POST /_sandbox/faults: keys present replace the current value,
// keys absent keep it (null clears rate_limit).
type faultPatch struct {
	RateLimit         json.RawMessage `json:"rate_limit"` // not a pointer: see kit.PatchPointer
	ServerErrors      *int            `json:"server_errors"`
	Unavailable       *int            `json:"unavailable"`
	ExpiredToken      *bool           `json:"expired_token"`
	EmptyReport       *bool           `json:"empty_report"`
	ExpiredPageTokens *int            `json:"expired_page_tokens"`
}

func (s *Server) patchFaults(p faultPatch) (Faults, error) {
	return s.faultSwitch().Patch(func(f *Faults) error {
		if err := kit.PatchPointer(&f.RateLimit, "rate_limit", p.RateLimit); err != nil {
			return err
		}
		kit.PatchValue(&f.ServerErrors, p.ServerErrors)
		kit.PatchValue(&f.Unavailable, p.Unavailable)
		kit.PatchValue(&f.ExpiredToken, p.ExpiredToken)
		kit.PatchValue(&f.EmptyReport, p.EmptyReport)
		kit.PatchValue(&f.ExpiredPageTokens, p.ExpiredPageTokens)
		return nil
	})
}

// RequestLog is one served request. It never holds a token.
type RequestLog struct {
	Time   time.Time `json:"time"`
	Method string    `json:"method"`
	Path   string    `json:"path"`
	// Query is the GAQL of a search call.
	Query     string `json:"query,omitempty"`
	PageToken string `json:"page_token,omitempty"`
	// LoginCustomerID is the login-customer-id header.
	LoginCustomerID string `json:"login_customer_id,omitempty"`
	// DeveloperToken tells whether a developer-token header was sent.
	DeveloperToken bool `json:"developer_token,omitempty"`
	// GrantType is the grant_type of a token call.
	GrantType string `json:"grant_type,omitempty"`
	Status    int    `json:"status"`
}

// Requests returns the log of served API and token requests, oldest first (the last 10,000).
func (s *Server) Requests() []RequestLog { return s.reqs.All() }

// ResetRequests empties the request log.
func (s *Server) ResetRequests() { s.reqs.Reset() }

// Restate changes a past day of a customer: cost, conversions and conversion values of every
// ad on that day become factorPercent percent of the generated values (100 undoes it), as
// Google restates conversions while they attribute. Queries made afterwards see the change.
func (s *Server) Restate(customerID, date string, factorPercent int) error {
	c, ok := s.customer(customerID)
	if !ok {
		return fmt.Errorf("unknown customer %q", customerID)
	}
	d, err := time.Parse(dateLayout, date)
	if err != nil {
		return fmt.Errorf("date %q is not YYYY-MM-DD", date)
	}
	if factorPercent < 0 || factorPercent > 10_000 {
		return fmt.Errorf("factor_percent %d is out of range 0..10000", factorPercent)
	}
	start, today := s.history(c, s.now())
	if d.Before(start) || d.After(today) {
		return fmt.Errorf("date %s is outside the customer's history %s..%s", date, start.Format(dateLayout), today.Format(dateLayout))
	}
	s.restated.Set(c.ID, date, factorPercent)
	return nil
}

// ClearRestatements undoes every restatement.
func (s *Server) ClearRestatements() { s.restated.Clear() }

// Totals sums what a daily report over [since, until] at a level returns, with the current
// restatements and faults: the number of rows and the metrics the connector keeps.
type Totals struct {
	Rows                   int   `json:"rows"`
	CostMicros             int64 `json:"cost_micros"`
	Impressions            int64 `json:"impressions"`
	Clicks                 int64 `json:"clicks"`
	ConversionsMicros      int64 `json:"conversions_micros"`
	ConversionsValueMicros int64 `json:"conversions_value_micros"`
}

// levelResource maps report levels (the connector's or Google's names) to the FROM resource.
var levelResource = map[string]string{
	"": "campaign", "campaign": "campaign", "adset": "ad_group", "ad_group": "ad_group",
	"ad": "ad_group_ad", "ad_group_ad": "ad_group_ad", "customer": "customer", "account": "customer",
}

// Totals computes the totals of a daily report (segments.date selected) at a level:
// campaign, adset (ad_group), ad (ad_group_ad) or customer. Like Google's reports, the
// adset and ad levels leave out campaigns without ad groups (Performance Max).
func (s *Server) Totals(customerID, since, until, level string) (Totals, error) {
	return s.totals(customerID, since, until, level, nil)
}

// CampaignTotals is Totals of one campaign at campaign level: what the campaign-level
// report says it delivered, whatever its type (a Performance Max campaign included).
func (s *Server) CampaignTotals(customerID, campaignID, since, until string) (Totals, error) {
	return s.totals(customerID, since, until, "campaign", []filter{{field: "campaign.id", op: "=", values: []string{campaignID}}})
}

func (s *Server) totals(customerID, since, until, level string, filters []filter) (Totals, error) {
	c, ok := s.customer(customerID)
	if !ok {
		return Totals{}, fmt.Errorf("unknown customer %q", customerID)
	}
	from, err1 := time.Parse(dateLayout, since)
	to, err2 := time.Parse(dateLayout, until)
	if err1 != nil || err2 != nil || from.After(to) {
		return Totals{}, errors.New("since/until must be YYYY-MM-DD with since <= until")
	}
	res, ok := levelResource[level]
	if !ok {
		return Totals{}, fmt.Errorf("level %q is not campaign, adset, ad or customer", level)
	}
	q := &query{from: res, since: from, until: to, dated: true,
		fields: []string{"segments.date", "metrics.cost_micros"}, filters: filters}
	s.mu.Lock()
	empty := s.faults.EmptyReport
	s.mu.Unlock()
	start, today := s.history(c, s.now())
	rows := run(c, q, start, today, s.restated.Of(c.ID), empty)
	t := Totals{Rows: len(rows)}
	for _, r := range rows {
		t.CostMicros += r.CostMicros
		t.Impressions += r.Impressions
		t.Clicks += r.Clicks
		t.ConversionsMicros += r.ConversionsMicros
		t.ConversionsValueMicros += r.ConversionsValueMicros
	}
	return t, nil
}

// ---- admin HTTP ----

// serveAdmin serves, without a token:
//
//	GET    /_sandbox/faults                the armed faults
//	POST   /_sandbox/faults                merge faults: {"rate_limit":{"times":1,"retry_delay":"1s",
//	                                       "quota_error":"RESOURCE_EXHAUSTED","rate_scope":"DEVELOPER"},
//	                                       "server_errors":N,"unavailable":N,"expired_token":true,
//	                                       "empty_report":true,"expired_page_tokens":N}
//	DELETE /_sandbox/faults                clear all faults
//	GET    /_sandbox/requests              [{"time","method","path","query","page_token",
//	                                       "login_customer_id","developer_token","grant_type","status"}]
//	DELETE /_sandbox/requests              empty the log
//	POST   /_sandbox/restate               {"customer_id","date":"YYYY-MM-DD" | "days_ago":N,"factor_percent":150}
//	DELETE /_sandbox/restate               undo all restatements
//	GET    /_sandbox/totals                ?customer_id&since&until&level -> Totals
//	GET    /_sandbox/customers             the customers and their campaign trees
//	POST   /_sandbox/expire_access_tokens  expire every minted access token -> {"expired":N}
//	GET    /_sandbox/oauth/tokens, POST /_sandbox/oauth/revoke   refresh tokens granted at consent
//	                                       (kit.TokenStore.ServeAdmin)
func (s *Server) serveAdmin(w http.ResponseWriter, r *http.Request) {
	if kit.IsOAuthAdmin(r.URL.Path) {
		s.grants.ServeAdmin(w, r)
		return
	}
	route := r.Method + " " + strings.TrimSuffix(r.URL.Path, "/")
	switch route {
	case "GET /_sandbox/faults", "POST /_sandbox/faults", "DELETE /_sandbox/faults":
		kit.ServeFaults(w, r, s.Faults, s.patchFaults, s.ClearFaults)
	case "GET /_sandbox/requests", "DELETE /_sandbox/requests":
		s.reqs.ServeHTTP(w, r)
	case "POST /_sandbox/restate":
		s.adminRestate(w, r)
	case "DELETE /_sandbox/restate":
		s.ClearRestatements()
		kit.WriteJSON(w, http.StatusOK, map[string]any{})
	case "GET /_sandbox/totals":
		q := r.URL.Query()
		id := q.Get("customer_id")
		if id == "" {
			id = DemoCustomerID
		}
		t, err := s.Totals(id, q.Get("since"), q.Get("until"), q.Get("level"))
		if err != nil {
			kit.WriteError(w, http.StatusBadRequest, err.Error())
			return
		}
		kit.WriteJSON(w, http.StatusOK, t)
	case "GET /_sandbox/customers":
		kit.WriteJSON(w, http.StatusOK, s.Customers())
	case "POST /_sandbox/expire_access_tokens":
		kit.WriteJSON(w, http.StatusOK, map[string]int{"expired": s.ExpireAccessTokens()})
	default:
		kit.WriteError(w, http.StatusNotFound, "unknown sandbox admin endpoint "+route)
	}
}

func (s *Server) adminRestate(w http.ResponseWriter, r *http.Request) {
	var body struct {
		CustomerID    string `json:"customer_id"`
		Date          string `json:"date"`
		DaysAgo       *int   `json:"days_ago"`
		FactorPercent *int   `json:"factor_percent"`
	}
	if err := kit.DecodeStrict(r.Body, &body); err != nil {
		kit.WriteError(w, http.StatusBadRequest, "restate: "+err.Error())
		return
	}
	if body.CustomerID == "" {
		body.CustomerID = DemoCustomerID
	}
	date, err := kit.RestateDay(body.Date, body.DaysAgo, body.FactorPercent, "factor_percent",
		func() (string, error) { return s.Today(body.CustomerID) })
	if err != nil {
		kit.WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	body.Date = date
	if err := s.Restate(body.CustomerID, body.Date, *body.FactorPercent); err != nil {
		kit.WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	kit.WriteJSON(w, http.StatusOK, map[string]any{
		"customer_id": strings.ReplaceAll(body.CustomerID, "-", ""), "date": body.Date,
		"factor_percent": *body.FactorPercent,
	})
}
