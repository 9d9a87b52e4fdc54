// Package ga4 is the sandbox Google Analytics 4 Data API: an http.Handler that speaks the
// wire format of runReport (proto3 JSON: int64 as strings, metric values as strings, rows
// and rowCount omitted when empty, Google's RPC error envelope, propertyQuota) over
// deterministic generated sessions, plus the Google OAuth token endpoint for the
// refresh_token grant, with switchable faults and restatements.
//
// Endpoints, relative to where the handler is mounted:
//
//	POST /v1beta/properties/{id}:runReport   Authorization: Bearer <access token>
//	POST /token                              grant_type=refresh_token (form)
//
// Admin endpoints (no token): see admin.go.
package ga4

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Credentials of the default configuration.
const (
	// DefaultToken is an access token that never expires (for curl and tests).
	DefaultToken = "sandbox-ga4-token"
	// DefaultRefreshToken is the refresh token the token endpoint accepts.
	DefaultRefreshToken = "sandbox-ga4-refresh-token"
	// DefaultClientID and DefaultClientSecret are the OAuth client the dev stack uses. The
	// token endpoint only checks them when Config.ClientID / ClientSecret are set.
	DefaultClientID     = "sandbox-ga4-client"
	DefaultClientSecret = "sandbox-ga4-client-secret"
)

// DefaultDays is the default history length.
const DefaultDays = 120

// DefaultTokenTTL is the lifetime of minted access tokens (Google's expires_in).
const DefaultTokenTTL = 3599 * time.Second

const (
	dateLayout     = "2006-01-02"
	gaDateLayout   = "20060102"
	defaultLimit   = 10_000
	maxLimit       = 250_000
	maxRequestLog  = 10_000
	maxMinted      = 10_000
	analyticsScope = "https://www.googleapis.com/auth/analytics.readonly"
)

// Config configures a Server.
type Config struct {
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Token is an access token that is always valid (unless a fault says otherwise);
	// default DefaultToken.
	Token string
	// RefreshToken is the refresh token the token endpoint accepts; default
	// DefaultRefreshToken.
	RefreshToken string
	// ClientID and ClientSecret, when set, must match the token request's; when empty any
	// non-empty client_id is accepted.
	ClientID     string
	ClientSecret string
	// TokenTTL is the lifetime of minted access tokens; default DefaultTokenTTL.
	TokenTTL time.Duration
	// Properties default to []Property{DemoProperty()}.
	Properties []Property
	// Days is the history length, ending today in each property's time zone; default 120.
	Days int
}

type property struct {
	Property
	loc *time.Location
}

// Server is the sandbox GA4 provider. It is safe for concurrent use.
type Server struct {
	now          func() time.Time
	token        string
	refreshToken string
	clientID     string
	clientSecret string
	tokenTTL     time.Duration
	days         int
	props        map[string]*property
	order        []string

	mu       sync.Mutex
	faults   Faults
	restated map[string]map[string]int // property id -> date -> percent
	minted   map[string]time.Time      // access token -> expiry
	mintSeq  int64
	usage    map[string]*usage // property id -> token usage
	reqs     []RequestLog
}

// New builds a Server. It panics on an invalid configuration (a bad time zone, a non-digit
// or duplicate property id), which is a programming error in a sandbox.
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
	if cfg.TokenTTL <= 0 {
		cfg.TokenTTL = DefaultTokenTTL
	}
	if len(cfg.Properties) == 0 {
		cfg.Properties = []Property{DemoProperty()}
	}
	if cfg.Days <= 0 {
		cfg.Days = DefaultDays
	}
	s := &Server{
		now: cfg.Now, token: cfg.Token, refreshToken: cfg.RefreshToken,
		clientID: cfg.ClientID, clientSecret: cfg.ClientSecret, tokenTTL: cfg.TokenTTL, days: cfg.Days,
		props:    map[string]*property{},
		restated: map[string]map[string]int{},
		minted:   map[string]time.Time{},
		usage:    map[string]*usage{},
	}
	for _, p := range cfg.Properties {
		p.ID = strings.TrimPrefix(p.ID, "properties/")
		if !isDigits(p.ID) {
			panic(fmt.Sprintf("sandbox ga4: property id %q is not digits", p.ID))
		}
		if _, dup := s.props[p.ID]; dup {
			panic(fmt.Sprintf("sandbox ga4: duplicate property %s", p.ID))
		}
		if p.TimeZone == "" {
			p.TimeZone = "UTC"
		}
		loc, err := time.LoadLocation(p.TimeZone)
		if err != nil {
			panic(fmt.Sprintf("sandbox ga4: property %s: %v", p.ID, err))
		}
		if p.CurrencyCode == "" {
			p.CurrencyCode = "USD"
		}
		if p.Name == "" {
			p.Name = "Sandbox property " + p.ID
		}
		s.props[p.ID] = &property{Property: p, loc: loc}
		s.order = append(s.order, p.ID)
	}
	return s
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// Properties lists the properties.
func (s *Server) Properties() []Property {
	out := make([]Property, 0, len(s.order))
	for _, id := range s.order {
		out = append(out, s.props[id].Property)
	}
	return out
}

func (s *Server) property(id string) (*property, bool) {
	p, ok := s.props[strings.TrimPrefix(id, "properties/")]
	return p, ok
}

// today is the current calendar day in the property's time zone, as UTC midnight.
func (p *property) today(now time.Time) time.Time {
	y, m, d := now.In(p.loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

func (s *Server) history(p *property, now time.Time) (start, today time.Time) {
	today = p.today(now)
	return today.AddDate(0, 0, -(s.days - 1)), today
}

// Today is the current day (YYYY-MM-DD) in the property's time zone.
func (s *Server) Today(propertyID string) (string, error) {
	p, ok := s.property(propertyID)
	if !ok {
		return "", fmt.Errorf("unknown property %q", propertyID)
	}
	return p.today(s.now()).Format(dateLayout), nil
}

func (s *Server) restatedCopy(propertyID string) map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.restated[propertyID]))
	for k, v := range s.restated[propertyID] {
		out[k] = v
	}
	return out
}

// ---- HTTP ----

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// ServeHTTP serves the Data API, the token endpoint and the /_sandbox admin endpoints.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/_sandbox" || strings.HasPrefix(r.URL.Path, "/_sandbox/") {
		s.serveAdmin(w, r)
		return
	}
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	l := RequestLog{Method: r.Method, Path: r.URL.Path}
	switch {
	case r.URL.Path == "/token":
		s.serveToken(rec, r, &l)
	case strings.HasPrefix(r.URL.Path, "/v1beta/properties/") && strings.HasSuffix(r.URL.Path, ":runReport"):
		id := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/v1beta/properties/"), ":runReport")
		s.serveRunReport(rec, r, id, &l)
	default:
		writeRPCError(rec, http.StatusNotFound, "NOT_FOUND", "Method not found.")
	}
	l.Time = s.now().UTC()
	l.Status = rec.status
	s.logRequest(l)
}

// rpcError is Google's RPC error envelope.
type rpcError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Status  string `json:"status"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeRPCError(w http.ResponseWriter, status int, rpcStatus, msg string) {
	writeJSON(w, status, map[string]rpcError{"error": {Code: status, Message: msg, Status: rpcStatus}})
}

func invalidArgument(w http.ResponseWriter, msg string) {
	writeRPCError(w, http.StatusBadRequest, "INVALID_ARGUMENT", msg)
}
