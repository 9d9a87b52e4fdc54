package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/omnitrackiq/omnitrackiq/api"
	"github.com/omnitrackiq/omnitrackiq/internal/auth"
)

func TestAPIKeyManagement(t *testing.T) {
	te := newTeamEnv(t)

	t.Run("only admins and the owner manage keys; keys never do", func(t *testing.T) {
		for _, c := range te.callers() {
			if c.allowed(auth.ManageAPIKeys) {
				continue
			}
			te.unchanged(t, func() {
				problem(t, te.call(c, "POST", "/v1/api-keys", `{"name":"x","scope":"write"}`), c.denial())
				problem(t, te.call(c, "GET", "/v1/api-keys", ""), c.denial())
				problem(t, te.call(c, "DELETE", "/v1/api-keys/"+te.w1.ID, ""), c.denial())
			})
		}
	})

	t.Run("bad input writes nothing", func(t *testing.T) {
		for _, tc := range []struct{ body, field string }{
			{`{"scope":"read"}`, "name"},
			{`{"name":"ci"}`, "scope"},
			{`{"name":"ci","scope":"admin"}`, "scope"},
			{`{"name":"ci","scope":"READ"}`, "scope"},
		} {
			te.unchanged(t, func() {
				p := problem(t, te.call(te.admin, "POST", "/v1/api-keys", tc.body), http.StatusUnprocessableEntity)
				if p.Errors[0].Field != tc.field {
					t.Fatalf("%s: %+v", tc.body, p.Errors)
				}
			})
		}
		te.unchanged(t, func() {
			problem(t, te.call(te.admin, "POST", "/v1/api-keys", `{"name":"ci","scope":"read","secret":"mine"}`), http.StatusBadRequest)
		})
	})

	var created api.CreatedAPIKey
	t.Run("create shows the secret once, with its scope", func(t *testing.T) {
		decode(t, te.call(te.admin, "POST", "/v1/api-keys", `{"name":" dashboard ","scope":"read"}`), http.StatusCreated, &created)
		if created.Name != "dashboard" || created.Scope != "read" || !strings.HasPrefix(created.Secret, "otq_") ||
			created.Prefix != created.Secret[:12] || created.CreatedBy == nil || *created.CreatedBy != te.admin.userID {
			t.Fatalf("created %+v", created.APIKey)
		}
		if te.audits(te.w1.ID, "apikey.created") != 1 {
			t.Fatal("not audited")
		}
		if te.count(`SELECT count(*) FROM audit_log a WHERE position($1 in a::text) > 0`, created.Secret) != 0 ||
			te.count(`SELECT count(*) FROM api_keys k WHERE position($1 in k::text) > 0`, created.Secret) != 0 {
			t.Fatal("the secret is stored")
		}
		// The read key reads w1 but cannot run syncs, and sees w1 only.
		k := caller{name: "new read key", cred: created.Secret, scope: auth.ScopeRead}
		if rec := te.call(k, "GET", "/v1/connections", ""); rec.Code != http.StatusOK {
			t.Fatalf("read key reads: %d %s", rec.Code, rec.Body)
		}
		problem(t, te.call(k, "POST", "/v1/syncs", ""), http.StatusForbidden)
		k.ws = te.w2.ID
		problem(t, te.call(k, "GET", "/v1/connections", ""), http.StatusForbidden)
	})

	t.Run("list shows prefix, scope, creator and last use, never the secret", func(t *testing.T) {
		for _, c := range []caller{te.owner, te.admin} {
			rec := te.call(c, "GET", "/v1/api-keys", "")
			if strings.Contains(rec.Body.String(), created.Secret) || strings.Contains(rec.Body.String(), "hash") {
				t.Fatal("the list shows a secret")
			}
			var l api.APIKeyList
			decode(t, rec, http.StatusOK, &l)
			byID := map[string]api.APIKey{}
			for _, k := range l.APIKeys {
				byID[k.ID] = k
			}
			// w1's seeded key (write by default), the read and write keys of the env, and the new one.
			if len(l.APIKeys) != 4 {
				t.Fatalf("%d keys: %+v", len(l.APIKeys), l.APIKeys)
			}
			got := byID[created.ID]
			if got.Scope != "read" || got.LastUsedAt == nil || got.RevokedAt != nil || got.Prefix != created.Prefix {
				t.Fatalf("listed %+v", got)
			}
			for _, k := range l.APIKeys {
				if k.Name == "one" && (k.Scope != "write" || k.CreatedBy != nil) {
					t.Fatalf("the seeded key %+v", k)
				}
			}
		}
		// w2's owner sees only w2's key.
		o2 := te.outside
		o2.ws = te.w2.ID
		var l api.APIKeyList
		decode(t, te.call(o2, "GET", "/v1/api-keys", ""), http.StatusOK, &l)
		if len(l.APIKeys) != 1 || l.APIKeys[0].Name != "two" {
			t.Fatalf("w2 keys %+v", l.APIKeys)
		}
	})

	t.Run("revoke is idempotent, scoped and immediate", func(t *testing.T) {
		o2 := te.outside
		o2.ws = te.w2.ID
		te.unchanged(t, func() {
			problem(t, te.call(o2, "DELETE", "/v1/api-keys/"+created.ID, ""), http.StatusNotFound)
			problem(t, te.call(te.admin, "DELETE", "/v1/api-keys/nope", ""), http.StatusNotFound)
		})
		for range 2 {
			if rec := te.call(te.owner, "DELETE", "/v1/api-keys/"+created.ID, ""); rec.Code != http.StatusNoContent {
				t.Fatalf("revoke: %d %s", rec.Code, rec.Body)
			}
		}
		if te.audits(te.w1.ID, "apikey.revoked") != 1 {
			t.Fatal("revocation audited other than once")
		}
		problem(t, te.call(caller{cred: created.Secret}, "GET", "/v1/connections", ""), http.StatusUnauthorized)
		var l api.APIKeyList
		decode(t, te.call(te.admin, "GET", "/v1/api-keys", ""), http.StatusOK, &l)
		for _, k := range l.APIKeys {
			if (k.ID == created.ID) != (k.RevokedAt != nil) {
				t.Fatalf("revoked_at of %s: %v", k.Name, k.RevokedAt)
			}
		}
	})

	if strings.Contains(te.logs.String(), created.Secret) {
		t.Fatal("a key secret was logged")
	}
}
