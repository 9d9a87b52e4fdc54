package meta

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/sandbox/kit"
)

// Faults are the switchable failures. Counters count API calls (not admin calls) and
// run down as they fire.
type Faults struct {
	// RateLimit answers the next Times calls with HTTP 400 and a rate-limit error.
	RateLimit *RateLimitFault `json:"rate_limit,omitempty"`
	// ServerErrors answers the next N calls with HTTP 500 "An unknown error occurred"
	// (code 1, subcode 99).
	ServerErrors int `json:"server_errors,omitempty"`
	// PageDelayMS delays every rows page by this many milliseconds.
	PageDelayMS int `json:"page_delay_ms,omitempty"`
	// ExpiredToken answers every call with 400, code 190 subcode 463 (session expired).
	ExpiredToken bool `json:"expired_token,omitempty"`
	// FailReportJobs makes the next N report runs end "Job Failed".
	FailReportJobs int `json:"fail_report_jobs,omitempty"`
	// HighUsage reports 96% usage and estimated_time_to_regain_access 1 in the usage headers.
	HighUsage bool `json:"high_usage,omitempty"`
}

// RateLimitFault is a rate-limit error to inject.
type RateLimitFault struct {
	// Code is a Graph API rate-limit code: 4, 17, 32, 613 or 80000-80008 (default 17).
	Code int `json:"code"`
	// Times is how many calls answer with the error (default 1).
	Times int `json:"times"`
	// RegainMinutes is the estimated_time_to_regain_access in x-business-use-case-usage.
	RegainMinutes int `json:"regain_minutes"`
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
		if rl.Code == 0 {
			rl.Code = 17
		}
		if !(rl.Code == 4 || rl.Code == 17 || rl.Code == 32 || rl.Code == 613 || rl.Code >= 80000 && rl.Code <= 80008) {
			return fmt.Errorf("rate_limit.code %d is not a Meta rate-limit code (4, 17, 32, 613, 80000-80008)", rl.Code)
		}
		if rl.Times == 0 {
			rl.Times = 1
		}
		if rl.Times < 0 || rl.RegainMinutes < 0 {
			return errors.New("rate_limit.times and rate_limit.regain_minutes must not be negative")
		}
	}
	if f.ServerErrors < 0 || f.PageDelayMS < 0 || f.FailReportJobs < 0 {
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
	RateLimit      json.RawMessage `json:"rate_limit"` // not a pointer: see kit.PatchPointer
	ServerErrors   *int            `json:"server_errors"`
	PageDelayMS    *int            `json:"page_delay_ms"`
	ExpiredToken   *bool           `json:"expired_token"`
	FailReportJobs *int            `json:"fail_report_jobs"`
	HighUsage      *bool           `json:"high_usage"`
}

func (s *Server) patchFaults(p faultPatch) (Faults, error) {
	return s.faultSwitch().Patch(func(f *Faults) error {
		if err := kit.PatchPointer(&f.RateLimit, "rate_limit", p.RateLimit); err != nil {
			return err
		}
		kit.PatchValue(&f.ServerErrors, p.ServerErrors)
		kit.PatchValue(&f.PageDelayMS, p.PageDelayMS)
		kit.PatchValue(&f.ExpiredToken, p.ExpiredToken)
		kit.PatchValue(&f.FailReportJobs, p.FailReportJobs)
		kit.PatchValue(&f.HighUsage, p.HighUsage)
		return nil
	})
}

// RequestLog is one served API request. It never holds the access token.
type RequestLog struct {
	Time   time.Time `json:"time"`
	Method string    `json:"method"`
	Path   string    `json:"path"`
	After  string    `json:"after,omitempty"`
	Limit  string    `json:"limit,omitempty"`
	Level  string    `json:"level,omitempty"`
	Status int       `json:"status"`
}

// Requests returns the log of served API requests, oldest first (the last 10,000).
func (s *Server) Requests() []RequestLog { return s.reqs.All() }

// ResetRequests empties the request log.
func (s *Server) ResetRequests() { s.reqs.Reset() }

// Restate changes a past day of an account: spend, purchases and purchase values of every
// ad on that day become spendFactorPercent percent of the generated values (100 undoes it).
// Report runs started afterwards see the change.
func (s *Server) Restate(accountID, date string, spendFactorPercent int) error {
	a, ok := s.account(accountID)
	if !ok {
		return fmt.Errorf("unknown account %q", accountID)
	}
	d, err := time.Parse(dateLayout, date)
	if err != nil {
		return fmt.Errorf("date %q is not YYYY-MM-DD", date)
	}
	if spendFactorPercent < 0 || spendFactorPercent > 10_000 {
		return fmt.Errorf("spend_factor_percent %d is out of range 0..10000", spendFactorPercent)
	}
	start, today := s.history(a, s.now())
	if d.Before(start) || d.After(today) {
		return fmt.Errorf("date %s is outside the account's history %s..%s", date, start.Format(dateLayout), today.Format(dateLayout))
	}
	s.restated.Set(a.ID, date, spendFactorPercent)
	return nil
}

// ClearRestatements undoes every restatement.
func (s *Server) ClearRestatements() { s.restated.Clear() }

// Totals sums what a report over [since, until] at a level would return, with the current
// restatements: the number of daily rows and the metrics the connector keeps (conversions
// are the "purchase" action only).
type Totals struct {
	Rows                  int    `json:"rows"`
	SpendMicros           int64  `json:"spend_micros"`
	Spend                 string `json:"spend"`
	Impressions           int64  `json:"impressions"`
	Clicks                int64  `json:"clicks"`
	ConversionsMicros     int64  `json:"conversions_micros"`
	ConversionValueMicros int64  `json:"conversion_value_micros"`
}

// Totals computes the totals of a daily (time_increment=1) report.
func (s *Server) Totals(accountID, since, until, level string) (Totals, error) {
	a, ok := s.account(accountID)
	if !ok {
		return Totals{}, fmt.Errorf("unknown account %q", accountID)
	}
	from, err1 := time.Parse(dateLayout, since)
	to, err2 := time.Parse(dateLayout, until)
	if err1 != nil || err2 != nil || from.After(to) {
		return Totals{}, fmt.Errorf("since/until must be YYYY-MM-DD with since <= until")
	}
	if level == "" {
		level = levelAccount
	}
	if level != levelAccount && level != levelCampaign && level != levelAdSet && level != levelAd {
		return Totals{}, fmt.Errorf("level %q is not account, campaign, adset or ad", level)
	}
	start, today := s.history(a, s.now())
	// Every ad counts, whatever its status: Meta still reports a deleted or archived ad's
	// delivery to a report that asks for every status.
	rows := computeRows(&a.Account, reportSpec{level: level, since: from, until: to, incr: 1}, start, today, s.restated.Of(a.ID), nil)
	t := Totals{Rows: len(rows)}
	for _, r := range rows {
		t.SpendMicros += r.SpendMicros
		t.Impressions += r.Impressions
		t.Clicks += r.Clicks
		t.ConversionsMicros += r.PurchasesMicros
		t.ConversionValueMicros += r.PurchaseValueMicros
	}
	t.Spend = formatCents(t.SpendMicros)
	return t, nil
}

func formatCents(micros int64) string {
	return fmt.Sprintf("%d.%02d", micros/1_000_000, micros%1_000_000/centMicros)
}

// ---- admin HTTP ----

// serveAdmin serves, without a token:
//
//	GET    /_sandbox/faults     the armed faults
//	POST   /_sandbox/faults     merge faults: {"rate_limit":{"code":17,"times":1,"regain_minutes":1},
//	                            "server_errors":N,"page_delay_ms":N,"expired_token":true,
//	                            "fail_report_jobs":N,"high_usage":true}
//	DELETE /_sandbox/faults     clear all faults
//	GET    /_sandbox/requests   [{"time","method","path","after","limit","level","status"}]
//	DELETE /_sandbox/requests   empty the log
//	POST   /_sandbox/restate    {"account_id","date":"YYYY-MM-DD" | "days_ago":N,"spend_factor_percent":150}
//	DELETE /_sandbox/restate    undo all restatements
//	GET    /_sandbox/totals     ?account_id&since&until&level -> Totals
//	GET    /_sandbox/accounts   the accounts and their campaign trees, with every ad's effective_status
//	POST   /_sandbox/ad_status  {"ad_id","effective_status":"DELETED"|"ARCHIVED"|"PAUSED"|"ACTIVE"}
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
		var body struct {
			AccountID          string `json:"account_id"`
			Date               string `json:"date"`
			DaysAgo            *int   `json:"days_ago"`
			SpendFactorPercent *int   `json:"spend_factor_percent"`
		}
		if err := kit.DecodeStrict(r.Body, &body); err != nil {
			kit.WriteError(w, http.StatusBadRequest, "restate: "+err.Error())
			return
		}
		if body.AccountID == "" {
			body.AccountID = DemoAccountID
		}
		date, err := kit.RestateDay(body.Date, body.DaysAgo, body.SpendFactorPercent, "spend_factor_percent",
			func() (string, error) { return s.Today(body.AccountID) })
		if err != nil {
			kit.WriteError(w, http.StatusBadRequest, err.Error())
			return
		}
		body.Date = date
		if err := s.Restate(body.AccountID, body.Date, *body.SpendFactorPercent); err != nil {
			kit.WriteError(w, http.StatusBadRequest, err.Error())
			return
		}
		kit.WriteJSON(w, http.StatusOK, map[string]any{
			"account_id": strings.TrimPrefix(body.AccountID, "act_"), "date": body.Date,
			"spend_factor_percent": *body.SpendFactorPercent,
		})
	case "DELETE /_sandbox/restate":
		s.ClearRestatements()
		kit.WriteJSON(w, http.StatusOK, map[string]any{})
	case "GET /_sandbox/totals":
		q := r.URL.Query()
		acct := q.Get("account_id")
		if acct == "" {
			acct = DemoAccountID
		}
		t, err := s.Totals(acct, q.Get("since"), q.Get("until"), q.Get("level"))
		if err != nil {
			kit.WriteError(w, http.StatusBadRequest, err.Error())
			return
		}
		kit.WriteJSON(w, http.StatusOK, t)
	case "GET /_sandbox/accounts":
		kit.WriteJSON(w, http.StatusOK, s.Accounts())
	case "POST /_sandbox/ad_status":
		var body struct {
			AdID            string `json:"ad_id"`
			EffectiveStatus string `json:"effective_status"`
		}
		if err := kit.DecodeStrict(r.Body, &body); err != nil {
			kit.WriteError(w, http.StatusBadRequest, "ad_status: "+err.Error())
			return
		}
		if err := s.SetAdStatus(body.AdID, body.EffectiveStatus); err != nil {
			kit.WriteError(w, http.StatusBadRequest, err.Error())
			return
		}
		kit.WriteJSON(w, http.StatusOK, map[string]string{"ad_id": body.AdID, "effective_status": body.EffectiveStatus})
	default:
		kit.WriteError(w, http.StatusNotFound, "unknown sandbox admin endpoint "+route)
	}
}
