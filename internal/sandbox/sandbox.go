// Package sandbox serves fake provider APIs that speak the real wire formats, each under
// its own path prefix, so a connector pointed at "<sandbox>/meta" behaves as against
// https://graph.facebook.com.
//
// Every provider also runs its OAuth server (/work/oauth-contract.md), each with a
// sandbox client:
//
//	Meta        {sb}/meta/www/{ver}/dialog/oauth, {sb}/meta/{ver}/oauth/access_token
//	            app meta.OAuthAppID / meta.OAuthAppSecret
//	Google      {sb}/google/o/oauth2/v2/auth, {sb}/google/token (code and refresh grants)
//	            client GoogleClientID / GoogleClientSecret; Google Ads accounts at
//	            {sb}/googleads/{ver}/customers:listAccessibleCustomers, GA4 properties at
//	            {sb}/ga4admin/v1beta/accountSummaries
//	TikTok      {sb}/tiktok/portal/auth, {sb}/tiktok/open_api/v1.3/oauth2/access_token/
//	            app tiktok.OAuthAppID / tiktok.OAuthAppSecret
//	Shopify     {sb}/shopify/admin/oauth/authorize, {sb}/shopify/admin/oauth/access_token
//	            client shopify.OAuthClientID / shopify.OAuthClientSecret
//
// A consent URL shows an Approve/Deny page; a test POSTs decision=approve to it instead.
package sandbox

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/sandbox/ga4"
	"github.com/omnitrackiq/omnitrackiq/internal/sandbox/google"
	"github.com/omnitrackiq/omnitrackiq/internal/sandbox/googleads"
	"github.com/omnitrackiq/omnitrackiq/internal/sandbox/meta"
	"github.com/omnitrackiq/omnitrackiq/internal/sandbox/shopify"
	"github.com/omnitrackiq/omnitrackiq/internal/sandbox/tiktok"
)

// Config configures every fake provider.
type Config struct {
	// Now is the sandbox clock; nil means time.Now.
	Now func() time.Time
	// GoogleAdsPageSize overrides Google's fixed 10,000-row pages, so tests see paging.
	GoogleAdsPageSize int
	// API is the OmniTrackIQ API the sandbox serves: the only place its admin endpoints
	// that call out (Shopify's POST /shopify/_sandbox/webhooks and .../resend) deliver to.
	// The zero value refuses every delivery over HTTP.
	API shopify.WebhookTargets
}

// Server multiplexes the fake providers.
type Server struct {
	Meta      *meta.Server
	GoogleAds *googleads.Server
	TikTok    *tiktok.Server
	Shopify   *shopify.Server
	GA4       *ga4.Server
	// Google is the OAuth server Google Ads and GA4 share.
	Google *google.Server
	mux    *http.ServeMux
}

// Google OAuth endpoints and client of the sandbox. Google Ads and GA4 share Google's
// consent page and token endpoint; the sandbox routes a refresh to the provider that holds
// the refresh token (the one whose scope the consent granted).
const (
	GoogleAuthPath     = "/google/o/oauth2/v2/auth"
	GoogleTokenPath    = "/google/token"
	GoogleClientID     = google.ClientID
	GoogleClientSecret = google.ClientSecret
)

// New builds the sandbox with every provider's deterministic demo data.
func New(cfg Config) *Server {
	s := &Server{
		Meta:      meta.New(meta.Config{Now: cfg.Now}),
		GoogleAds: googleads.New(googleads.Config{Now: cfg.Now, PageSize: cfg.GoogleAdsPageSize}),
		TikTok:    tiktok.New(tiktok.Config{Now: cfg.Now}),
		Shopify:   shopify.New(shopify.Config{Now: cfg.Now, WebhookTargets: cfg.API}),
		GA4:       ga4.New(ga4.Config{Now: cfg.Now}),
		mux:       http.NewServeMux(),
	}
	s.Google = google.New(google.Config{Now: cfg.Now, Audiences: map[string]google.Audience{
		google.ScopeAdWords:           s.GoogleAds,
		google.ScopeAnalyticsReadOnly: s.GA4,
	}})
	s.mux.Handle("/meta/", http.StripPrefix("/meta", s.Meta))
	s.mux.Handle("/googleads/", http.StripPrefix("/googleads", s.GoogleAds))
	s.mux.Handle("/tiktok/", http.StripPrefix("/tiktok", s.TikTok))
	s.mux.Handle("/shopify/", http.StripPrefix("/shopify", s.Shopify))
	s.mux.Handle("/ga4/", http.StripPrefix("/ga4", s.GA4))
	s.mux.Handle("/ga4admin/", http.StripPrefix("/ga4admin", s.GA4.AdminAPI()))
	s.mux.Handle("/google/o/", http.StripPrefix("/google", s.Google))
	s.mux.HandleFunc("POST "+GoogleTokenPath, s.googleToken)
	s.mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(index())
	})
	return s
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// index is the JSON served at GET /: the providers, and the OAuth endpoints with their
// sandbox clients.
func index() map[string]any {
	type oauth struct {
		Authorize    string `json:"authorize"`
		Token        string `json:"token"`
		Accounts     string `json:"accounts"`
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
		Note         string `json:"note,omitempty"`
	}
	return map[string]any{
		"providers": map[string]string{
			"meta":       "/meta (Graph API; token " + meta.DefaultToken + ", ad account act_" + meta.DemoAccountID + ")",
			"google_ads": "/googleads (customer " + googleads.DemoCustomerID + "; refresh token " + googleads.DefaultRefreshToken + ")",
			"tiktok":     "/tiktok (advertiser " + tiktok.DemoAdvertiserID + "; token " + tiktok.DefaultToken + ")",
			"shopify":    "/shopify (shop " + shopify.DemoShopDomain + "; token " + shopify.DefaultToken + ")",
			"ga4":        "/ga4 (property " + ga4.DemoPropertyID + "; refresh token " + ga4.DefaultRefreshToken + ")",
			"ga4admin":   "/ga4admin (Analytics Admin API: accountSummaries)",
			"oauth":      GoogleTokenPath + " (Google token endpoint, client " + GoogleClientID + ")",
		},
		"oauth": map[string]oauth{
			"meta": {Authorize: "/meta/www/{ver}/dialog/oauth", Token: "/meta/{ver}/oauth/access_token",
				Accounts: "/meta/{ver}/me/adaccounts", ClientID: meta.OAuthAppID, ClientSecret: meta.OAuthAppSecret,
				Note: "code exchange gives a 1-hour token; grant_type=fb_exchange_token a 60-day one"},
			"google": {Authorize: GoogleAuthPath, Token: GoogleTokenPath,
				Accounts: "/googleads/{ver}/customers:listAccessibleCustomers, /ga4admin/v1beta/accountSummaries",
				ClientID: GoogleClientID, ClientSecret: GoogleClientSecret,
				Note: "scope adwords -> Google Ads sandbox, analytics.readonly -> GA4 sandbox; PKCE S256 checked"},
			"tiktok": {Authorize: "/tiktok/portal/auth", Token: "/tiktok/open_api/v1.3/oauth2/access_token/",
				Accounts: "/tiktok/open_api/v1.3/oauth2/advertiser/get/", ClientID: tiktok.OAuthAppID, ClientSecret: tiktok.OAuthAppSecret},
			"shopify": {Authorize: "/shopify/admin/oauth/authorize", Token: "/shopify/admin/oauth/access_token",
				Accounts: "/shopify/admin/api/{ver}/shop.json", ClientID: shopify.OAuthClientID, ClientSecret: shopify.OAuthClientSecret,
				Note: "callback signed with HMAC-SHA256 of the client secret; expiring=1 for expiring tokens; webhooks at /shopify/admin/api/{ver}/webhooks.json"},
		},
		"consent":    "GET an authorize URL for the Approve/Deny page; POST it with decision=approve|deny for the 303 to the callback",
		"test_hooks": "POST {provider}/_sandbox/oauth/revoke {\"token\"} | {\"kind\":\"access\"|\"refresh\"} revokes minted tokens; GET {provider}/_sandbox/oauth/tokens lists them",
	}
}

// googleToken serves Google's token endpoint for both Google sandboxes: the
// authorization_code grant goes to the OAuth server, a refresh to the sandbox that holds
// the refresh token (Google Ads when neither does, as before consent existed).
func (s *Server) googleToken(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<16))
	if err != nil {
		http.Error(w, `{"error":"invalid_request"}`, http.StatusBadRequest)
		return
	}
	form, _ := url.ParseQuery(string(body))
	var target http.Handler = s.GoogleAds
	switch rt := form.Get("refresh_token"); {
	case form.Get("grant_type") == "authorization_code":
		target = s.Google
	case !s.GoogleAds.HasRefreshToken(rt) && s.GA4.HasRefreshToken(rt):
		target = s.GA4
	}
	r2 := r.Clone(r.Context())
	r2.URL.Path = "/token"
	r2.Body = io.NopCloser(bytes.NewReader(body))
	r2.ContentLength = int64(len(body))
	target.ServeHTTP(w, r2)
}
