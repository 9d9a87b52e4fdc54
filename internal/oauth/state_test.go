package oauth

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"
)

var testSecret = []byte("0123456789abcdef0123456789abcdef")

func TestStateSignVerify(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	s, err := NewStateSigner(testSecret, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	claims := StateClaims{ID: "11111111-1111-1111-1111-111111111111", WorkspaceID: "ws-1", UserID: "user-1",
		Provider: Meta, ExpiresAt: now.Add(StateTTL)}
	state, err := s.Sign(claims)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Verify(state, Meta)
	if err != nil || got.ID != claims.ID || got.WorkspaceID != "ws-1" || got.UserID != "user-1" || !got.ExpiresAt.Equal(claims.ExpiresAt) {
		t.Fatalf("Verify = %+v, %v", got, err)
	}

	// Another key (another deployment, or an attacker) cannot sign states.
	other, _ := NewStateSigner([]byte("another-secret-another-secret-xx"), func() time.Time { return now })
	forged, _ := other.Sign(claims)
	// A state whose payload is edited keeps its old signature.
	body, sig, _ := strings.Cut(strings.TrimPrefix(state, statePrefix), ".")
	swapped, _ := s.Sign(StateClaims{ID: claims.ID, WorkspaceID: "ws-2", UserID: "user-1", Provider: Meta, ExpiresAt: claims.ExpiresAt})
	swappedBody, _, _ := strings.Cut(strings.TrimPrefix(swapped, statePrefix), ".")
	for name, bad := range map[string]string{
		"forged":           forged,
		"tampered payload": statePrefix + swappedBody + "." + sig,
		"flipped sig":      statePrefix + body + "." + flip(sig),
		"no signature":     statePrefix + body,
		"empty":            "",
		"garbage":          "s1.%%%.%%%",
		"old version":      "s0." + body + "." + sig,
		"too long":         state + strings.Repeat("A", 1100),
	} {
		if _, err := s.Verify(bad, Meta); !errors.Is(err, ErrStateInvalid) {
			t.Errorf("%s: Verify err = %v, want ErrStateInvalid", name, err)
		}
	}
	// A state issued for one provider is not accepted by another's callback.
	if _, err := s.Verify(state, Shopify); !errors.Is(err, ErrStateInvalid) {
		t.Errorf("cross-provider: %v", err)
	}
	// Expired ten minutes after issue.
	now = now.Add(StateTTL)
	if _, err := s.Verify(state, Meta); !errors.Is(err, ErrStateExpired) {
		t.Errorf("expired: %v", err)
	}
	if _, err := NewStateSigner([]byte("short"), nil); err == nil {
		t.Error("a short secret was accepted")
	}
}

func flip(s string) string {
	b := []byte(s)
	if b[0] == 'A' {
		b[0] = 'B'
	} else {
		b[0] = 'A'
	}
	return string(b)
}

func TestShopifyHMAC(t *testing.T) {
	// Shopify's own example (channel-apis.md §6).
	q := url.Values{
		"code":      {"0907a61c0c8d55e99db179b68161bc00"},
		"shop":      {"some-shop.myshopify.com"},
		"state":     {"0.6784241404160823"},
		"timestamp": {"1337178173"},
		"hmac":      {"700e2dadb827fcc8609e9d5ce208b2e9cdaab9df07390d2cbca10d7c328fc4bf"},
	}
	if !VerifyShopifyQuery([]byte("hush"), q) {
		t.Fatal("the hush vector does not verify")
	}
	if got := SignShopifyQuery([]byte("hush"), q); got != q.Get("hmac") {
		t.Fatalf("SignShopifyQuery = %s", got)
	}
	// The legacy signature parameter is not part of the message.
	withSig := cloneValues(q)
	withSig.Set("signature", "legacy")
	if !VerifyShopifyQuery([]byte("hush"), withSig) {
		t.Error("signature parameter changed the message")
	}
	for name, mutate := range map[string]func(url.Values){
		"other shop":      func(v url.Values) { v.Set("shop", "evil.myshopify.com") },
		"added parameter": func(v url.Values) { v.Set("host", "x") },
		"upper-case hmac": func(v url.Values) { v.Set("hmac", strings.ToUpper(v.Get("hmac"))[:63]+"0") },
		"no hmac":         func(v url.Values) { v.Del("hmac") },
		"two hmacs":       func(v url.Values) { v.Add("hmac", v.Get("hmac")) },
		"not hex":         func(v url.Values) { v.Set("hmac", "zz") },
	} {
		v := cloneValues(q)
		mutate(v)
		if VerifyShopifyQuery([]byte("hush"), v) {
			t.Errorf("%s: verified", name)
		}
	}
	if VerifyShopifyQuery([]byte("wrong"), q) || VerifyShopifyQuery(nil, q) {
		t.Error("verified with the wrong secret")
	}
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

func TestValidShop(t *testing.T) {
	for _, ok := range []string{"demo-store.myshopify.com", "a.myshopify.com", "Shop1.myshopify.com"} {
		if !ValidShop(ok) {
			t.Errorf("%q refused", ok)
		}
	}
	for _, bad := range []string{"", "myshopify.com", ".myshopify.com", "-shop.myshopify.com", "shop.myshopify.com.evil.com",
		"evil.com", "shop.myshopify.com/", "https://shop.myshopify.com", "sh_op.myshopify.com", "a.b.myshopify.com",
		"shop.myshopify.com\n", "shop.myshopify.com?x=1", "shop.myshopify.co"} {
		if ValidShop(bad) {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestShopifyTimestamp(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	for ts, want := range map[string]bool{"1700000000": true, "1699990000": true, "1600000000": false, "1700001000": false, "": false, "x": false} {
		if got := shopifyTimestampFresh(ts, now); got != want {
			t.Errorf("%q: %v", ts, got)
		}
	}
}
