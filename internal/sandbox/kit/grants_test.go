package kit

import (
	"testing"
	"time"
)

func TestGoogleGrants(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	g := NewGoogleGrants(func() time.Time { return now }, "1//fixed", "scope")
	g.Grant("c1", "1//granted", "ya29.granted", now.Add(time.Hour))

	for _, tc := range []struct{ rt, client, code, desc string }{
		{"1//fixed", "anyone", "", ""},
		{"1//granted", "c1", "", ""},
		{"1//granted", "c2", "unauthorized_client", "Unauthorized"},
		{"1//unknown", "c1", "invalid_grant", "Bad Request"},
	} {
		if code, desc := g.CheckRefresh(tc.rt, tc.client); code != tc.code || desc != tc.desc {
			t.Errorf("CheckRefresh(%q, %q) = %q %q, want %q %q", tc.rt, tc.client, code, desc, tc.code, tc.desc)
		}
	}
	if !g.HasRefreshToken("1//fixed") || !g.HasRefreshToken("1//granted") || g.HasRefreshToken("1//unknown") {
		t.Error("HasRefreshToken")
	}
	if exp, ok := g.Access("ya29.granted"); !ok || !exp.Equal(now.Add(time.Hour)) {
		t.Errorf("Access = %v %v", exp, ok)
	}

	// A revoked refresh token stays known, so the shared token endpoint still routes it here
	// and answers it as revoked rather than unknown.
	if !g.RevokeToken("1//granted") || !g.HasRefreshToken("1//granted") {
		t.Error("revoked refresh token")
	}
	if code, desc := g.CheckRefresh("1//granted", "c1"); code != "invalid_grant" || desc != "Token has been expired or revoked." {
		t.Errorf("revoked: %q %q", code, desc)
	}
	if !g.RevokeToken("ya29.granted") || g.RevokeToken("ya29.granted") || g.RevokeToken("nope") {
		t.Error("RevokeToken of an access token")
	}
	if _, ok := g.Access("ya29.granted"); ok {
		t.Error("revoked access token still minted")
	}
}
