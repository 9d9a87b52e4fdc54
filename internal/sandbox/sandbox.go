// Package sandbox serves fake provider APIs that speak the real wire formats, each under
// its own path prefix, so a connector pointed at "<sandbox>/meta" behaves as against
// https://graph.facebook.com.
package sandbox

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/sandbox/ga4"
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
}

// Server multiplexes the fake providers.
type Server struct {
	Meta      *meta.Server
	GoogleAds *googleads.Server
	TikTok    *tiktok.Server
	Shopify   *shopify.Server
	GA4       *ga4.Server
	mux       *http.ServeMux
}

// Google OAuth endpoint and client of the sandbox. Google Ads and GA4 share Google's token
// endpoint; the sandbox routes a refresh to the provider that issued the refresh token.
const (
	GoogleTokenPath    = "/google/token"
	GoogleClientID     = "sandbox-google-client"
	GoogleClientSecret = "sandbox-google-client-secret"
)

// New builds the sandbox with every provider's deterministic demo data.
func New(cfg Config) *Server {
	s := &Server{
		Meta:      meta.New(meta.Config{Now: cfg.Now}),
		GoogleAds: googleads.New(googleads.Config{Now: cfg.Now, PageSize: cfg.GoogleAdsPageSize}),
		TikTok:    tiktok.New(tiktok.Config{Now: cfg.Now}),
		Shopify:   shopify.New(shopify.Config{Now: cfg.Now}),
		GA4:       ga4.New(ga4.Config{Now: cfg.Now}),
		mux:       http.NewServeMux(),
	}
	s.mux.Handle("/meta/", http.StripPrefix("/meta", s.Meta))
	s.mux.Handle("/googleads/", http.StripPrefix("/googleads", s.GoogleAds))
	s.mux.Handle("/tiktok/", http.StripPrefix("/tiktok", s.TikTok))
	s.mux.Handle("/shopify/", http.StripPrefix("/shopify", s.Shopify))
	s.mux.Handle("/ga4/", http.StripPrefix("/ga4", s.GA4))
	s.mux.HandleFunc("POST "+GoogleTokenPath, s.googleToken)
	s.mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"providers": map[string]string{
			"meta":       "/meta (Graph API; token " + meta.DefaultToken + ", ad account act_" + meta.DemoAccountID + ")",
			"google_ads": "/googleads (customer " + googleads.DemoCustomerID + "; refresh token " + googleads.DefaultRefreshToken + ")",
			"tiktok":     "/tiktok (advertiser " + tiktok.DemoAdvertiserID + "; token " + tiktok.DefaultToken + ")",
			"shopify":    "/shopify (shop " + shopify.DemoShopDomain + "; token " + shopify.DefaultToken + ")",
			"ga4":        "/ga4 (property " + ga4.DemoPropertyID + "; refresh token " + ga4.DefaultRefreshToken + ")",
			"oauth":      GoogleTokenPath + " (Google token endpoint, client " + GoogleClientID + ")",
		}})
	})
	return s
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// googleToken serves Google's token endpoint for both Google sandboxes.
func (s *Server) googleToken(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<16))
	if err != nil {
		http.Error(w, `{"error":"invalid_request"}`, http.StatusBadRequest)
		return
	}
	form, _ := url.ParseQuery(string(body))
	var target http.Handler = s.GoogleAds
	if form.Get("refresh_token") == ga4.DefaultRefreshToken {
		target = s.GA4
	}
	r2 := r.Clone(r.Context())
	r2.URL.Path = "/token"
	r2.Body = io.NopCloser(bytes.NewReader(body))
	r2.ContentLength = int64(len(body))
	target.ServeHTTP(w, r2)
}
