package ga4

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/sandbox/kit"
)

// Faults are the switchable failures. Counters count runReport calls (not token or admin
// calls) and run down as they fire.
type Faults struct {
	// RateLimit answers the next Times runReport calls with 429 RESOURCE_EXHAUSTED.
	RateLimit *RateLimitFault `json:"rate_limit,omitempty"`
	// ServerErrors answers the next N calls with 500 INTERNAL "Internal error encountered.".
	ServerErrors int `json:"server_errors,omitempty"`
	// ExpiredToken answers every call with 401 UNAUTHENTICATED, whatever the token (even a
	// freshly minted one).
	ExpiredToken bool `json:"expired_token,omitempty"`
	// ExpireNext answers the next N calls with 401 UNAUTHENTICATED as if the access token
	// had just expired: a connector with a refresh token mints a new one and goes on.
	ExpireNext int `json:"expire_next,omitempty"`
	// RevokeRefreshToken makes the token endpoint answer 400 invalid_grant "Token has been
	// expired or revoked.".
	RevokeRefreshToken bool `json:"revoke_refresh_token,omitempty"`
	// EmptyReport makes every report empty: no rows and no rowCount.
	EmptyReport bool `json:"empty_report,omitempty"`
	// RejectKeyEvents answers 400 INVALID_ARGUMENT for the keyEvents metric, as an API
	// that knows only the deprecated name conversions would.
	RejectKeyEvents bool `json:"reject_key_events,omitempty"`
	// LowQuota names a quota (e.g. "tokensPerProjectPerHour") that propertyQuota reports
	// with 5% remaining.
	LowQuota string `json:"low_quota,omitempty"`
	// PageDelayMS delays every runReport answer by this many milliseconds.
	PageDelayMS int `json:"page_delay_ms,omitempty"`
	// FloatRevenue renders every non-zero totalRevenue as GA4 renders a float64 sum that
	// is not exact, with 17 significant digits: 2046.40 becomes "2046.3999999999999".
	// Rounded to the micro, the value is the generated one, so Totals do not change.
	FloatRevenue bool `json:"float_revenue,omitempty"`
}

// RateLimitFault is a quota error to inject.
type RateLimitFault struct {
	// Quota names the exhausted quota (default concurrentRequests, whose message is
	// "Exhausted concurrent requests quota.").
	Quota string `json:"quota,omitempty"`
	// Message replaces the quota's message (to test unknown messages).
	Message string `json:"message,omitempty"`
	// Times is how many calls answer with the error (default 1).
	Times int `json:"times"`
}

func (rl *RateLimitFault) message() string {
	if rl.Message != "" {
		return rl.Message
	}
	return quotaMessages[rl.Quota]
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
		if rl.Quota == "" {
			rl.Quota = QuotaConcurrentRequests
		}
		if _, ok := quotaMessages[rl.Quota]; !ok {
			return fmt.Errorf("rate_limit.quota %q is not a propertyQuota name", rl.Quota)
		}
		if rl.Times == 0 {
			rl.Times = 1
		}
		if rl.Times < 0 {
			return errors.New("rate_limit.times must not be negative")
		}
	}
	if f.LowQuota != "" {
		if _, ok := quotaSize[f.LowQuota]; !ok {
			return fmt.Errorf("low_quota %q is not a propertyQuota name", f.LowQuota)
		}
	}
	if f.ServerErrors < 0 || f.ExpireNext < 0 || f.PageDelayMS < 0 {
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
	RateLimit          json.RawMessage `json:"rate_limit"` // not a pointer: see kit.PatchPointer
	ServerErrors       *int            `json:"server_errors"`
	ExpiredToken       *bool           `json:"expired_token"`
	ExpireNext         *int            `json:"expire_next"`
	RevokeRefreshToken *bool           `json:"revoke_refresh_token"`
	EmptyReport        *bool           `json:"empty_report"`
	RejectKeyEvents    *bool           `json:"reject_key_events"`
	LowQuota           *string         `json:"low_quota"`
	PageDelayMS        *int            `json:"page_delay_ms"`
	FloatRevenue       *bool           `json:"float_revenue"`
}

func (s *Server) patchFaults(p faultPatch) (Faults, error) {
	return s.faultSwitch().Patch(func(f *Faults) error {
		if err := kit.PatchPointer(&f.RateLimit, "rate_limit", p.RateLimit); err != nil {
			return err
		}
		kit.PatchValue(&f.ServerErrors, p.ServerErrors)
		kit.PatchValue(&f.ExpireNext, p.ExpireNext)
		kit.PatchValue(&f.PageDelayMS, p.PageDelayMS)
		kit.PatchValue(&f.ExpiredToken, p.ExpiredToken)
		kit.PatchValue(&f.RevokeRefreshToken, p.RevokeRefreshToken)
		kit.PatchValue(&f.EmptyReport, p.EmptyReport)
		kit.PatchValue(&f.RejectKeyEvents, p.RejectKeyEvents)
		kit.PatchValue(&f.LowQuota, p.LowQuota)
		kit.PatchValue(&f.FloatRevenue, p.FloatRevenue)
		return nil
	})
}

// RequestLog is one served API or token request. It never holds a token or secret.
type RequestLog struct {
	Time   time.Time `json:"time"`
	Method string    `json:"method"`
	Path   string    `json:"path"`
	// Offset and Limit are the report's, as sent (without the quotes of a JSON string).
	Offset  string   `json:"offset,omitempty"`
	Limit   string   `json:"limit,omitempty"`
	Metrics []string `json:"metrics,omitempty"`
	// Grant is the token request's grant_type.
	Grant  string `json:"grant,omitempty"`
	Status int    `json:"status"`
}

// Requests returns the log of served requests, oldest first (the last 10,000).
func (s *Server) Requests() []RequestLog { return s.reqs.All() }

// ResetRequests empties the request log.
func (s *Server) ResetRequests() { s.reqs.Reset() }

// Restate changes a past day of a property: sessions, key events and revenue of every
// source on that day become percent percent of the generated values (100 undoes it), as
// GA4 does when late hits are processed. Reports run afterwards see the change.
func (s *Server) Restate(propertyID, date string, percent int) error {
	p, ok := s.property(propertyID)
	if !ok {
		return fmt.Errorf("unknown property %q", propertyID)
	}
	d, err := time.Parse(dateLayout, date)
	if err != nil {
		return fmt.Errorf("date %q is not YYYY-MM-DD", date)
	}
	if percent < 0 || percent > 10_000 {
		return fmt.Errorf("percent %d is out of range 0..10000", percent)
	}
	start, today := s.history(p, s.now())
	if d.Before(start) || d.After(today) {
		return fmt.Errorf("date %s is outside the property's history %s..%s", date, start.Format(dateLayout), today.Format(dateLayout))
	}
	s.restated.Set(p.ID, date, percent)
	return nil
}

// ClearRestatements undoes every restatement.
func (s *Server) ClearRestatements() { s.restated.Clear() }

// Totals sums what a daily report by date, source, medium and campaign over [since, until]
// returns with the current restatements (and the empty_report fault): its number of rows
// and its metrics, money and key events in micros.
type Totals struct {
	Rows              int    `json:"rows"`
	Sessions          int64  `json:"sessions"`
	ConversionsMicros int64  `json:"conversions_micros"`
	RevenueMicros     int64  `json:"revenue_micros"`
	Revenue           string `json:"revenue"`
}

// Totals computes the totals of the sessions report the connector reads.
func (s *Server) Totals(propertyID, since, until string) (Totals, error) {
	p, ok := s.property(propertyID)
	if !ok {
		return Totals{}, fmt.Errorf("unknown property %q", propertyID)
	}
	from, err1 := time.Parse(dateLayout, since)
	to, err2 := time.Parse(dateLayout, until)
	if err1 != nil || err2 != nil || from.After(to) {
		return Totals{}, errors.New("since/until must be YYYY-MM-DD with since <= until")
	}
	var t Totals
	if s.Faults().EmptyReport {
		t.Revenue = "0.00"
		return t, nil
	}
	start, today := s.history(p, s.now())
	for _, d := range computeDays(p.ID, from, to, start, today, s.restated.Of(p.ID), s.foldsOf(p.ID)) {
		if d.zero() {
			continue
		}
		t.Rows++
		t.Sessions += d.Sessions
		t.ConversionsMicros += d.KeyEvents * 1_000_000
		t.RevenueMicros += d.RevenueCents * centMicros
	}
	t.Revenue = fmt.Sprintf("%d.%02d", t.RevenueMicros/1_000_000, t.RevenueMicros%1_000_000/centMicros)
	return t, nil
}

// ---- admin HTTP ----

// serveAdmin serves, without a token:
//
//	GET    /_sandbox/faults      the armed faults
//	POST   /_sandbox/faults      merge faults: {"rate_limit":{"quota":"concurrentRequests","times":2},
//	                             "server_errors":N,"expired_token":true,"expire_next":N,
//	                             "revoke_refresh_token":true,"empty_report":true,
//	                             "reject_key_events":true,"low_quota":"tokensPerProjectPerHour",
//	                             "page_delay_ms":N,"float_revenue":true}
//	DELETE /_sandbox/faults      clear all faults
//	GET    /_sandbox/requests    [{"time","method","path","offset","limit","metrics","grant","status"}]
//	DELETE /_sandbox/requests    empty the log
//	POST   /_sandbox/restate     {"property_id","date":"YYYY-MM-DD" | "days_ago":N,"percent":150}
//	DELETE /_sandbox/restate     undo all restatements
//	POST   /_sandbox/fold_other  {"property_id","date":"YYYY-MM-DD" | "days_ago":N,"keep":5}:
//	                             fold the day's rare rows into one (other) row (see FoldOther)
//	DELETE /_sandbox/fold_other  undo all folds
//	GET    /_sandbox/totals      ?property_id&since&until -> Totals
//	GET    /_sandbox/properties  the properties and their traffic sources
//	GET    /_sandbox/oauth/tokens, POST /_sandbox/oauth/revoke   refresh tokens granted at consent
//	                             (kit.TokenStore.ServeAdmin)
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
	case "POST /_sandbox/fold_other":
		s.adminFoldOther(w, r)
	case "DELETE /_sandbox/fold_other":
		s.ClearFolds()
		kit.WriteJSON(w, http.StatusOK, map[string]any{})
	case "GET /_sandbox/totals":
		q := r.URL.Query()
		id := q.Get("property_id")
		if id == "" {
			id = DemoPropertyID
		}
		t, err := s.Totals(id, q.Get("since"), q.Get("until"))
		if err != nil {
			kit.WriteError(w, http.StatusBadRequest, err.Error())
			return
		}
		kit.WriteJSON(w, http.StatusOK, t)
	case "GET /_sandbox/properties":
		kit.WriteJSON(w, http.StatusOK, map[string]any{"properties": s.Properties(), "sources": Sources()})
	default:
		kit.WriteError(w, http.StatusNotFound, "unknown sandbox admin endpoint "+route)
	}
}

func (s *Server) adminRestate(w http.ResponseWriter, r *http.Request) {
	var body struct {
		PropertyID string `json:"property_id"`
		Date       string `json:"date"`
		DaysAgo    *int   `json:"days_ago"`
		Percent    *int   `json:"percent"`
	}
	if err := kit.DecodeStrict(r.Body, &body); err != nil {
		kit.WriteError(w, http.StatusBadRequest, "restate: "+err.Error())
		return
	}
	if body.PropertyID == "" {
		body.PropertyID = DemoPropertyID
	}
	date, err := kit.RestateDay(body.Date, body.DaysAgo, body.Percent, "percent",
		func() (string, error) { return s.Today(body.PropertyID) })
	if err != nil {
		kit.WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	body.Date = date
	if err := s.Restate(body.PropertyID, body.Date, *body.Percent); err != nil {
		kit.WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	kit.WriteJSON(w, http.StatusOK, map[string]any{
		"property_id": strings.TrimPrefix(body.PropertyID, "properties/"), "date": body.Date, "percent": *body.Percent,
	})
}
