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
// AdminAPI serves the Admin API's accountSummaries (accounts.go), mounted apart as Google
// serves it from analyticsadmin.googleapis.com. Refresh and access tokens granted by the
// sandbox Google OAuth consent work too (kit.GoogleGrants).
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

	"github.com/omnitrackiq/omnitrackiq/internal/sandbox/kit"
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
	clientID     string
	clientSecret string
	tokenTTL     time.Duration
	days         int
	props        map[string]*property
	order        []string

	restated kit.Restatements // percents
	reqs     kit.RequestLog[RequestLog]
	grants   *kit.GoogleGrants

	mu      sync.Mutex
	faults  Faults
	mintSeq int64
	usage   map[string]*usage         // property id -> token usage
	folds   map[string]map[string]int // property id -> YYYY-MM-DD -> rows kept
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
		now: cfg.Now, token: cfg.Token,
		clientID: cfg.ClientID, clientSecret: cfg.ClientSecret, tokenTTL: cfg.TokenTTL, days: cfg.Days,
		props:  map[string]*property{},
		usage:  map[string]*usage{},
		grants: kit.NewGoogleGrants(cfg.Now, cfg.RefreshToken, analyticsScope),
	}
	for _, p := range cfg.Properties {
		p.ID = strings.TrimPrefix(p.ID, "properties/")
		if !kit.IsDigits(p.ID) {
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
func (p *property) today(now time.Time) time.Time { return kit.Today(now, p.loc) }

func (s *Server) history(p *property, now time.Time) (start, today time.Time) {
	return kit.History(now, p.loc, s.days)
}

// Today is the current day (YYYY-MM-DD) in the property's time zone.
func (s *Server) Today(propertyID string) (string, error) {
	p, ok := s.property(propertyID)
	if !ok {
		return "", fmt.Errorf("unknown property %q", propertyID)
	}
	return p.today(s.now()).Format(dateLayout), nil
}

// ---- HTTP ----

// ServeHTTP serves the Data API, the token endpoint and the /_sandbox admin endpoints.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/_sandbox" || strings.HasPrefix(r.URL.Path, "/_sandbox/") {
		s.serveAdmin(w, r)
		return
	}
	rec := kit.NewStatusRecorder(w)
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
	l.Status = rec.Status
	s.reqs.Add(l)
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
