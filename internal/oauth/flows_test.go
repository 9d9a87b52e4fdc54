package oauth_test

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/omnitrackiq/omnitrackiq/internal/oauth"
	"github.com/omnitrackiq/omnitrackiq/internal/oauth/oauthtest"
	"github.com/omnitrackiq/omnitrackiq/internal/store"
)

const public = "https://api.example.test"

func newClient(t *testing.T, f *oauthtest.Fake) *oauth.Client {
	t.Helper()
	c, err := oauth.New(f.Config(public, []byte("0123456789abcdef0123456789abcdef")))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// consent runs start -> approve -> exchange for provider.
func consent(t *testing.T, f *oauthtest.Fake, c *oauth.Client, provider string) (oauth.Grant, error) {
	t.Helper()
	verifier := ""
	if oauth.UsesPKCE(provider) {
		verifier = oauth.NewVerifier()
	}
	shop := ""
	if provider == oauth.Shopify {
		shop = oauthtest.Shop
	}
	u, err := c.AuthorizeURL(provider, "st", verifier, shop)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(u, url.QueryEscape(c.RedirectURI(provider))) {
		t.Fatalf("%s authorize URL lacks the redirect URI: %s", provider, u)
	}
	q := f.Approve(provider, u)
	if provider == oauth.Shopify {
		if got, err := c.CheckShopifyCallback(q); err != nil || got != oauthtest.Shop {
			t.Fatalf("CheckShopifyCallback = %q, %v", got, err)
		}
	}
	return c.Exchange(context.Background(), provider, q, verifier, shop)
}

func ids(as []oauth.Account) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.ID)
	}
	return out
}

func TestExchangeEveryProvider(t *testing.T) {
	f := oauthtest.New(t)
	c := newClient(t, f)
	want := map[string][]string{
		oauth.Meta: oauthtest.MetaAccounts, oauth.GoogleAds: oauthtest.GoogleCustomers, oauth.GA4: oauthtest.GA4Properties,
		oauth.TikTok: oauthtest.TikTokIDs, oauth.Shopify: {oauthtest.Shop},
	}
	for _, p := range oauth.Providers {
		t.Run(p, func(t *testing.T) {
			g, err := consent(t, f, c, p)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ids(g.Accounts), want[p]) {
				t.Errorf("accounts %v, want %v", ids(g.Accounts), want[p])
			}
			if !f.Live(g.Token.Access) {
				t.Errorf("access token %q is not one the provider issued", g.Token.Access)
			}
			switch p {
			case oauth.Meta:
				// The short-lived token was traded for a long-lived one.
				if !strings.HasPrefix(g.Token.Access, "meta-long-") || g.Token.ExpiresAt.IsZero() {
					t.Errorf("meta token %+v", g.Token)
				}
			case oauth.GoogleAds, oauth.GA4:
				if g.Token.Refresh == "" || g.Token.ExpiresAt.IsZero() {
					t.Errorf("google token %+v", g.Token)
				}
			case oauth.Shopify:
				if !slices.Equal(g.Scopes, []string{"read_orders", "read_all_orders"}) || !g.Token.ExpiresAt.IsZero() {
					t.Errorf("shopify grant scopes %v token %+v", g.Scopes, g.Token)
				}
			}
		})
	}
}

func TestExchangeFailures(t *testing.T) {
	f := oauthtest.New(t)
	c := newClient(t, f)
	ctx := context.Background()

	// A used code is refused, not retried.
	u, _ := c.AuthorizeURL(oauth.Meta, "st", "", "")
	q := f.Approve(oauth.Meta, u)
	if _, err := c.Exchange(ctx, oauth.Meta, q, "", ""); err != nil {
		t.Fatal(err)
	}
	_, err := c.Exchange(ctx, oauth.Meta, q, "", "")
	var pe *oauth.Error
	if !errors.As(err, &pe) || pe.Retryable || pe.Code != "100" || strings.Contains(pe.Message, oauthtest.MetaAppSecret) {
		t.Fatalf("reused meta code: %#v", err)
	}

	// Google checks PKCE: another verifier than the challenge's is invalid_grant.
	u, _ = c.AuthorizeURL(oauth.GoogleAds, "st", oauth.NewVerifier(), "")
	q = f.Approve(oauth.GoogleAds, u)
	_, err = c.Exchange(ctx, oauth.GoogleAds, q, oauth.NewVerifier(), "")
	if !errors.As(err, &pe) || pe.Code != "invalid_grant" || pe.Retryable {
		t.Fatalf("PKCE mismatch: %#v", err)
	}

	// TikTok's envelope errors.
	u, _ = c.AuthorizeURL(oauth.TikTok, "st", "", "")
	q = f.Approve(oauth.TikTok, u)
	q.Set("auth_code", "not-issued")
	if _, err = c.Exchange(ctx, oauth.TikTok, q, "", ""); !errors.As(err, &pe) || pe.Code != "40110" || pe.Retryable {
		t.Fatalf("tiktok bad code: %#v", err)
	}

	// The user denied consent.
	_, err = c.Exchange(ctx, oauth.Meta, url.Values{"error": {"access_denied"}, "error_reason": {"user_denied"}, "state": {"st"}}, "", "")
	var de *oauth.DeniedError
	if !errors.As(err, &de) || de.Code != "access_denied" {
		t.Fatalf("denied: %#v", err)
	}

	// 5xx is retryable.
	f.Fail5xx = true
	u, _ = c.AuthorizeURL(oauth.Shopify, "st", "", oauthtest.Shop)
	q = f.Approve(oauth.Shopify, u)
	if _, err = c.Exchange(ctx, oauth.Shopify, q, "", oauthtest.Shop); !errors.As(err, &pe) || !pe.Retryable {
		t.Fatalf("shopify 503: %#v", err)
	}
	f.Fail5xx = false

	// A Shopify callback must carry a valid hmac, shop and timestamp.
	q = f.Approve(oauth.Shopify, u)
	for name, mutate := range map[string]func(url.Values){
		"foreign shop": func(v url.Values) { v.Set("shop", "evil.myshopify.com") },
		"bad hmac":     func(v url.Values) { v.Set("hmac", strings.Repeat("0", 64)) },
		"bad shop": func(v url.Values) {
			v.Set("shop", "evil.example.com")
			v.Set("hmac", oauth.SignShopifyQuery([]byte(oauthtest.ShopifySecret), v))
		},
		"old timestamp": func(v url.Values) {
			v.Set("timestamp", "1337178173")
			v.Set("hmac", oauth.SignShopifyQuery([]byte(oauthtest.ShopifySecret), v))
		},
	} {
		v := url.Values{}
		for k, vs := range q {
			v[k] = append([]string(nil), vs...)
		}
		mutate(v)
		if _, err := c.CheckShopifyCallback(v); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestShopifyWebhooksAndDisconnect(t *testing.T) {
	f := oauthtest.New(t)
	c := newClient(t, f)
	ctx := context.Background()
	g, err := consent(t, f, c, oauth.Shopify)
	if err != nil {
		t.Fatal(err)
	}
	first, err := c.RegisterShopifyWebhooks(ctx, oauthtest.Shop, g.Token.Access)
	if err != nil || len(first) != 4 {
		t.Fatalf("register: %v, %v", first, err)
	}
	hooks := f.Webhooks()
	for _, topic := range oauth.ShopifyWebhookTopics {
		if hooks[topic] != public+"/webhooks/shopify" {
			t.Errorf("topic %s at %q", topic, hooks[topic])
		}
	}
	// Registering again (a reconnect) meets 422 duplicates and finds the same ids.
	again, err := c.RegisterShopifyWebhooks(ctx, oauthtest.Shop, g.Token.Access)
	if err != nil || !slices.Equal(again, first) {
		t.Fatalf("re-register: %v (first %v), %v", again, first, err)
	}

	conn := store.Connection{ID: "c1", Channel: oauth.Shopify, ExternalAccountID: oauthtest.Shop}
	shared := oauth.Disconnector{Client: c, StillConnected: func(context.Context, store.Connection) (bool, error) { return true, nil }}
	if err := shared.Disconnect(ctx, conn, g.Token.Access); err != nil || len(f.Webhooks()) != 4 {
		t.Fatalf("a shop still used elsewhere lost its webhooks: %v, %v", f.Webhooks(), err)
	}
	if err := (oauth.Disconnector{Client: c}).Disconnect(ctx, conn, g.Token.Access); err != nil {
		t.Fatal(err)
	}
	if len(f.Webhooks()) != 0 {
		t.Fatalf("webhooks left: %v", f.Webhooks())
	}
	// Other channels register nothing.
	if err := (oauth.Disconnector{Client: c}).Disconnect(ctx, store.Connection{Channel: oauth.Meta}, "tok"); err != nil {
		t.Fatal(err)
	}
}

func TestRefresh(t *testing.T) {
	f := oauthtest.New(t)
	cfg := f.Config(public, []byte("0123456789abcdef0123456789abcdef"))
	cfg.ShopifyExpiringTokens = true
	c, err := oauth.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := oauth.Refresher{Client: c}
	ctx := context.Background()

	meta, err := consent(t, f, c, oauth.Meta)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := r.Refresh(ctx, oauth.Meta, "1111", meta.Token.Access, "")
	if err != nil || tok.Access == meta.Token.Access || tok.ExpiresAt.IsZero() {
		t.Fatalf("meta refresh: %+v, %v", tok, err)
	}
	f.Revoke(tok.Access)
	if _, err := r.Refresh(ctx, oauth.Meta, "1111", tok.Access, ""); !isReauth(err) {
		t.Fatalf("meta expired token: %#v", err)
	}

	shop, err := consent(t, f, c, oauth.Shopify)
	if err != nil || shop.Token.Refresh == "" || shop.Token.ExpiresAt.IsZero() {
		t.Fatalf("expiring shopify grant: %+v, %v", shop.Token, err)
	}
	tok, err = r.Refresh(ctx, oauth.Shopify, oauthtest.Shop, shop.Token.Access, shop.Token.Refresh)
	if err != nil || tok.Refresh == "" || tok.Refresh == shop.Token.Refresh {
		t.Fatalf("shopify refresh did not rotate: %+v, %v", tok, err)
	}
	// The rotated-out refresh token is dead.
	if _, err := r.Refresh(ctx, oauth.Shopify, oauthtest.Shop, "", shop.Token.Refresh); !isReauth(err) {
		t.Fatalf("shopify old refresh token: %#v", err)
	}
	if _, err := r.Refresh(ctx, oauth.Shopify, oauthtest.Shop, "a", ""); !errors.Is(err, oauth.ErrNotRefreshable) {
		t.Fatalf("classic shopify token: %v", err)
	}

	gads, err := consent(t, f, c, oauth.GoogleAds)
	if err != nil {
		t.Fatal(err)
	}
	tok, err = r.Refresh(ctx, oauth.GoogleAds, "1234567890", gads.Token.Access, gads.Token.Refresh)
	// Google answers without refresh_token: the old one is kept.
	if err != nil || tok.Refresh != gads.Token.Refresh || tok.Access == gads.Token.Access {
		t.Fatalf("google refresh: %+v, %v", tok, err)
	}
	f.Revoke(gads.Token.Refresh)
	_, err = r.Refresh(ctx, oauth.GoogleAds, "1234567890", "", gads.Token.Refresh)
	if !isReauth(err) || strings.Contains(err.Error(), gads.Token.Refresh) {
		t.Fatalf("google revoked: %#v", err)
	}
	f.Fail5xx = true
	_, err = r.Refresh(ctx, oauth.GA4, "1", "", "1//whatever")
	var pe *oauth.Error
	if !errors.As(err, &pe) || !pe.Retryable {
		t.Fatalf("google 503: %#v", err)
	}
	if _, err := r.Refresh(ctx, oauth.TikTok, "1", "a", ""); !errors.Is(err, oauth.ErrNotRefreshable) {
		t.Fatalf("tiktok: %v", err)
	}
}

func isReauth(err error) bool { _, ok := oauth.AsReauth(err); return ok }
