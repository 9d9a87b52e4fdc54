package oauth_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/omnitrackiq/omnitrackiq/internal/oauth"
	"github.com/omnitrackiq/omnitrackiq/internal/oauth/oauthtest"
)

// redirectingConfig points every provider endpoint of f's configuration at a server that
// redirects with a 307 (which would resend the form with the code and client secret) to a
// second server, and returns the count of requests the second server got.
func redirectingConfig(t *testing.T, f *oauthtest.Fake) (oauth.Config, *atomic.Int64) {
	var hits atomic.Int64
	second := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"access_token":"stolen","token_type":"bearer"}`))
	}))
	t.Cleanup(second.Close)
	first := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, second.URL+"/steal?client_secret=x", http.StatusTemporaryRedirect)
	}))
	t.Cleanup(first.Close)
	cfg := f.Config(public, []byte("0123456789abcdef0123456789abcdef"))
	cfg.MetaGraphURL = first.URL + "/meta"
	cfg.GoogleTokenURL = first.URL + "/google/token"
	cfg.TikTokBaseURL = first.URL + "/tiktok"
	cfg.ShopifyBaseURL = first.URL + "/shopify"
	return cfg, &hits
}

func TestExchangeRefusesRedirects(t *testing.T) {
	f := oauthtest.New(t)
	for _, p := range oauth.Providers {
		t.Run(p, func(t *testing.T) {
			cfg, hits := redirectingConfig(t, f)
			c, err := oauth.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			verifier, shop := "", ""
			if oauth.UsesPKCE(p) {
				verifier = oauth.NewVerifier()
			}
			if p == oauth.Shopify {
				shop = oauthtest.Shop
			}
			q := map[string][]string{"code": {"the-code"}, "auth_code": {"the-code"}}
			_, err = c.Exchange(context.Background(), p, q, verifier, shop)
			if n := hits.Load(); n != 0 {
				t.Fatalf("the second server got %d request(s): the redirect was followed", n)
			}
			var oe *oauth.Error
			if !errors.As(err, &oe) {
				t.Fatalf("got %v (%T), want *oauth.Error", err, err)
			}
			if oe.Retryable || oe.Status != http.StatusTemporaryRedirect || !strings.Contains(oe.Message, "refused to follow a redirect (HTTP 307)") {
				t.Errorf("got %+v, want a non-retryable refused 307 redirect", oe)
			}
			if strings.Contains(oe.Message, "client_secret") || strings.Contains(oe.Message, "the-code") {
				t.Errorf("message %q shows the query or the code", oe.Message)
			}
		})
	}
}

func TestRefreshRefusesRedirects(t *testing.T) {
	f := oauthtest.New(t)
	cfg, hits := redirectingConfig(t, f)
	c, err := oauth.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range []string{oauth.Meta, oauth.GoogleAds, oauth.GA4} {
		_, err := oauth.Refresher{Client: c}.Refresh(context.Background(), ch, "1", "old-access", "refresh-secret")
		if err == nil || !strings.Contains(err.Error(), "refused to follow a redirect") || strings.Contains(err.Error(), "refresh-secret") {
			t.Errorf("%s refresh: %v", ch, err)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the second server got %d request(s): a redirect was followed", n)
	}
}

// TestNetworkErrorsNameTheHost checks that a failure to reach a provider is told by its
// host and a generic cause, not by the address dialled nor the URL with its query.
func TestNetworkErrorsNameTheHost(t *testing.T) {
	f := oauthtest.New(t)
	cfg := f.Config(public, []byte("0123456789abcdef0123456789abcdef"))
	cfg.GoogleTokenURL = "https://oauth2.googleapis.test/token"
	cfg.MetaGraphURL = "https://graph.facebook.test"
	cfg.TikTokBaseURL = "https://business-api.tiktok.test"
	cfg.HTTPClient = &http.Client{Transport: &http.Transport{
		DialContext: func(context.Context, string, string) (net.Conn, error) {
			return nil, &net.OpError{Op: "dial", Net: "tcp", Addr: &net.TCPAddr{IP: net.IPv4(10, 0, 3, 7), Port: 443},
				Err: &os.SyscallError{Syscall: "connect", Err: syscall.ECONNREFUSED}}
		},
	}}
	c, err := oauth.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for p, host := range map[string]string{oauth.Meta: "graph.facebook.test", oauth.GoogleAds: "oauth2.googleapis.test", oauth.TikTok: "business-api.tiktok.test"} {
		verifier := ""
		if oauth.UsesPKCE(p) {
			verifier = oauth.NewVerifier()
		}
		_, err := c.Exchange(context.Background(), p, map[string][]string{"code": {"the-code"}, "auth_code": {"the-code"}}, verifier, "")
		var oe *oauth.Error
		if !errors.As(err, &oe) || !oe.Retryable {
			t.Fatalf("%s: got %v, want a retryable *oauth.Error", p, err)
		}
		if want := "could not reach " + host + ": connection refused"; !strings.Contains(oe.Message, want) {
			t.Errorf("%s: message %q lacks %q", p, oe.Message, want)
		}
		if strings.Contains(oe.Message, "10.0.3.7") || strings.Contains(oe.Message, "the-code") {
			t.Errorf("%s: message %q shows our address or the code", p, oe.Message)
		}
	}
}
