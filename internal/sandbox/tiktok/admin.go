package tiktok

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/sandbox/kit"
)

// Faults are the switchable failures. Counters count API calls with a valid token (not
// admin calls) and run down as they fire. Every fault but GatewayErrors answers HTTP 200 with
// TikTok's envelope, as TikTok does.
type Faults struct {
	// RateLimit answers the next Times calls with a rate-limit code (TikTok gives no delay).
	RateLimit *CodeFault `json:"rate_limit,omitempty"`
	// ServiceError answers the next Times calls with a 5xxxx service error code.
	ServiceError *CodeFault `json:"service_error,omitempty"`
	// GatewayErrors answers the next N calls with HTTP 503 and a non-envelope body, as a load
	// balancer in front of the API would.
	GatewayErrors int `json:"gateway_errors,omitempty"`
	// ExpiredToken answers every call with code 40102 (access token expired).
	ExpiredToken bool `json:"expired_token,omitempty"`
	// EmptyReport makes every report answer an empty list (total_number 0, total_page 0).
	EmptyReport bool `json:"empty_report,omitempty"`
	// PageDelayMS delays every report response by this many milliseconds.
	PageDelayMS int `json:"page_delay_ms,omitempty"`
}

// CodeFault is an envelope error code to answer for a number of calls.
type CodeFault struct {
	// Code is the envelope code: for rate_limit 40100 (default), 40133 or 40016; for
	// service_error 50000-59999 (default 50002).
	Code int `json:"code"`
	// Times is how many calls answer with the code (default 1).
	Times int `json:"times"`
}

func (f Faults) clone() Faults {
	if f.RateLimit != nil {
		cp := *f.RateLimit
		f.RateLimit = &cp
	}
	if f.ServiceError != nil {
		cp := *f.ServiceError
		f.ServiceError = &cp
	}
	return f
}

func (f *Faults) validate() error {
	if rl := f.RateLimit; rl != nil {
		if rl.Code == 0 {
			rl.Code = CodeRateLimit
		}
		if rl.Code != CodeRateLimit && rl.Code != CodeAdvertiserQPS && rl.Code != CodeTooFrequent {
			return fmt.Errorf("rate_limit.code %d is not a TikTok rate-limit code (40100, 40133, 40016)", rl.Code)
		}
		if rl.Times == 0 {
			rl.Times = 1
		}
	}
	if se := f.ServiceError; se != nil {
		if se.Code == 0 {
			se.Code = CodeServiceError
		}
		if se.Code < 50000 || se.Code > 59999 {
			return fmt.Errorf("service_error.code %d is not a TikTok service error code (50000-59999)", se.Code)
		}
		if se.Times == 0 {
			se.Times = 1
		}
	}
	if (f.RateLimit != nil && f.RateLimit.Times < 0) || (f.ServiceError != nil && f.ServiceError.Times < 0) ||
		f.GatewayErrors < 0 || f.PageDelayMS < 0 {
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
// keys absent keep it (null clears rate_limit or service_error).
type faultPatch struct {
	RateLimit     json.RawMessage `json:"rate_limit"` // not pointers: see kit.PatchPointer
	ServiceError  json.RawMessage `json:"service_error"`
	GatewayErrors *int            `json:"gateway_errors"`
	ExpiredToken  *bool           `json:"expired_token"`
	EmptyReport   *bool           `json:"empty_report"`
	PageDelayMS   *int            `json:"page_delay_ms"`
}

func (s *Server) patchFaults(p faultPatch) (Faults, error) {
	return s.faultSwitch().Patch(func(f *Faults) error {
		if err := kit.PatchPointer(&f.RateLimit, "rate_limit", p.RateLimit); err != nil {
			return err
		}
		if err := kit.PatchPointer(&f.ServiceError, "service_error", p.ServiceError); err != nil {
			return err
		}
		kit.PatchValue(&f.GatewayErrors, p.GatewayErrors)
		kit.PatchValue(&f.ExpiredToken, p.ExpiredToken)
		kit.PatchValue(&f.EmptyReport, p.EmptyReport)
		kit.PatchValue(&f.PageDelayMS, p.PageDelayMS)
		return nil
	})
}

// RequestLog is one served API request. It never holds the access token (which travels in a
// header the log does not read).
type RequestLog struct {
	Time   time.Time `json:"time"`
	Method string    `json:"method"`
	Path   string    `json:"path"`
	// Status is the HTTP status; Code the envelope code (-1 when the answer had none).
	Status       int    `json:"status"`
	Code         int    `json:"code"`
	AdvertiserID string `json:"advertiser_id,omitempty"`
	DataLevel    string `json:"data_level,omitempty"`
	StartDate    string `json:"start_date,omitempty"`
	EndDate      string `json:"end_date,omitempty"`
	Page         string `json:"page,omitempty"`
	PageSize     string `json:"page_size,omitempty"`
}

// Requests returns the log of served API requests, oldest first (the last 10,000).
func (s *Server) Requests() []RequestLog { return s.reqs.All() }

// ResetRequests empties the request log.
func (s *Server) ResetRequests() { s.reqs.Reset() }

// Restate changes a past day of an advertiser: spend, conversions and payment value of every
// ad on that day become factorPercent percent of the generated values (100 undoes it). Reports
// served afterwards see the change.
func (s *Server) Restate(advertiserID, date string, factorPercent int) error {
	a, ok := s.advertisers[advertiserID]
	if !ok {
		return fmt.Errorf("unknown advertiser %q", advertiserID)
	}
	d, err := time.Parse(dateLayout, date)
	if err != nil {
		return fmt.Errorf("date %q is not YYYY-MM-DD", date)
	}
	if factorPercent < 0 || factorPercent > 10_000 {
		return fmt.Errorf("factor_percent %d is out of range 0..10000", factorPercent)
	}
	start, today := s.history(a, s.now())
	if d.Before(start) || d.After(today) {
		return fmt.Errorf("date %s is outside the advertiser's history %s..%s", date,
			start.Format(dateLayout), today.Format(dateLayout))
	}
	s.restated.Set(a.ID, date, factorPercent)
	return nil
}

// ClearRestatements undoes every restatement.
func (s *Server) ClearRestatements() { s.restated.Clear() }

// Totals sums what daily reports over [since, until] at a level return, with the current
// restatements: the number of rows and the metrics a connector keeps (conversions are
// "conversion", the value "total_complete_payment_rate").
type Totals struct {
	Rows                  int    `json:"rows"`
	SpendMicros           int64  `json:"spend_micros"`
	Spend                 string `json:"spend"`
	Impressions           int64  `json:"impressions"`
	Clicks                int64  `json:"clicks"`
	ConversionsMicros     int64  `json:"conversions_micros"`
	ConversionValueMicros int64  `json:"conversion_value_micros"`
}

// NormalizeLevel accepts a data level (AUCTION_AD) or its short form (advertiser, campaign,
// adgroup or adset, ad) and returns the data level.
func NormalizeLevel(level string) (string, error) {
	switch strings.ToLower(level) {
	case "", "advertiser", "auction_advertiser":
		return levelAdvertiser, nil
	case "campaign", "auction_campaign":
		return levelCampaign, nil
	case "adgroup", "adset", "auction_adgroup":
		return levelAdGroup, nil
	case "ad", "auction_ad":
		return levelAd, nil
	}
	return "", fmt.Errorf("level %q is not advertiser, campaign, adgroup or ad", level)
}

// Totals computes the totals of a daily report over any range (the 30-day limit of the API
// does not apply).
func (s *Server) Totals(advertiserID, since, until, level string) (Totals, error) {
	a, ok := s.advertisers[advertiserID]
	if !ok {
		return Totals{}, fmt.Errorf("unknown advertiser %q", advertiserID)
	}
	from, err1 := time.Parse(dateLayout, since)
	to, err2 := time.Parse(dateLayout, until)
	if err1 != nil || err2 != nil || from.After(to) {
		return Totals{}, fmt.Errorf("since/until must be YYYY-MM-DD with since <= until")
	}
	dl, err := NormalizeLevel(level)
	if err != nil {
		return Totals{}, err
	}
	start, today := s.history(a, s.now())
	rows := computeRows(&a.Advertiser, dl, from, to, start, today, s.restated.Of(a.ID))
	t := Totals{Rows: len(rows)}
	for _, r := range rows {
		t.SpendMicros += r.SpendMicros
		t.Impressions += r.Impressions
		t.Clicks += r.Clicks
		t.ConversionsMicros += r.ConversionsMicros
		t.ConversionValueMicros += r.PaymentValueMicros
	}
	t.Spend = formatMoney(t.SpendMicros)
	return t, nil
}

// ---- admin HTTP ----

// serveAdmin serves, without a token:
//
//	GET    /_sandbox/faults       the armed faults
//	POST   /_sandbox/faults       merge faults: {"rate_limit":{"code":40100,"times":2},
//	                              "service_error":{"code":50002,"times":1},"gateway_errors":N,
//	                              "expired_token":true,"empty_report":true,"page_delay_ms":N}
//	DELETE /_sandbox/faults       clear all faults
//	GET    /_sandbox/requests     [{"time","method","path","status","code","advertiser_id",
//	                              "data_level","start_date","end_date","page","page_size"}]
//	DELETE /_sandbox/requests     empty the log
//	POST   /_sandbox/restate      {"advertiser_id","date":"YYYY-MM-DD" | "days_ago":N,"factor_percent":150}
//	DELETE /_sandbox/restate      undo all restatements
//	GET    /_sandbox/totals       ?advertiser_id&since&until&level -> Totals
//	GET    /_sandbox/advertisers  the advertisers and their campaign trees
//	GET    /_sandbox/oauth/tokens, POST /_sandbox/oauth/revoke|expire   minted tokens (kit.TokenStore.ServeAdmin)
func (s *Server) serveAdmin(w http.ResponseWriter, r *http.Request) {
	if kit.IsOAuthAdmin(r.URL.Path) {
		s.tokens.ServeAdmin(w, r)
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
		id := q.Get("advertiser_id")
		if id == "" {
			id = DemoAdvertiserID
		}
		t, err := s.Totals(id, q.Get("since"), q.Get("until"), q.Get("level"))
		if err != nil {
			kit.WriteError(w, http.StatusBadRequest, err.Error())
			return
		}
		kit.WriteJSON(w, http.StatusOK, t)
	case "GET /_sandbox/advertisers":
		kit.WriteJSON(w, http.StatusOK, s.Advertisers())
	default:
		kit.WriteError(w, http.StatusNotFound, "unknown sandbox admin endpoint "+route)
	}
}

func (s *Server) adminRestate(w http.ResponseWriter, r *http.Request) {
	var body struct {
		AdvertiserID  string `json:"advertiser_id"`
		Date          string `json:"date"`
		DaysAgo       *int   `json:"days_ago"`
		FactorPercent *int   `json:"factor_percent"`
	}
	if err := kit.DecodeStrict(r.Body, &body); err != nil {
		kit.WriteError(w, http.StatusBadRequest, "restate: "+err.Error())
		return
	}
	if body.AdvertiserID == "" {
		body.AdvertiserID = DemoAdvertiserID
	}
	date, err := kit.RestateDay(body.Date, body.DaysAgo, body.FactorPercent, "factor_percent",
		func() (string, error) { return s.Today(body.AdvertiserID) })
	if err != nil {
		kit.WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	body.Date = date
	if err := s.Restate(body.AdvertiserID, body.Date, *body.FactorPercent); err != nil {
		kit.WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	kit.WriteJSON(w, http.StatusOK, map[string]any{
		"advertiser_id": body.AdvertiserID, "date": body.Date, "factor_percent": *body.FactorPercent,
	})
}
