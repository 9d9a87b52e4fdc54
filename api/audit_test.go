package api_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/omnitrackiq/omnitrackiq/api"
	"github.com/omnitrackiq/omnitrackiq/internal/auth"
)

func TestAuditLog(t *testing.T) {
	te := newTeamEnv(t)

	// Actions by a user, by a key, and one in the other workspace.
	te.call(te.admin, "PATCH", "/v1/workspace", `{"name":"Audited"}`)
	te.call(te.admin, "PATCH", "/v1/members/"+te.viewer.userID, `{"role":"member"}`)
	te.call(te.owner, "POST", "/v1/api-keys", `{"name":"ci","scope":"write"}`)
	conn := te.connect(te.key1, "111")
	o2 := te.outside
	o2.ws = te.w2.ID
	te.call(o2, "PATCH", "/v1/workspace", `{"name":"Other"}`)

	for _, c := range te.callers() {
		if c.allowed(auth.ReadAudit) {
			continue
		}
		problem(t, te.call(c, "GET", "/v1/audit", ""), c.denial())
	}

	var page api.AuditPage
	decode(t, te.call(te.owner, "GET", "/v1/audit", ""), http.StatusOK, &page)
	var actions []string
	for _, e := range page.Entries {
		actions = append(actions, e.Action)
	}
	want := []string{"connection.connected", "apikey.created", "member.role_changed", "workspace.updated"}
	if fmt.Sprint(actions) != fmt.Sprint(want) || page.NextBefore != nil {
		t.Fatalf("entries %v (next %v), want %v", actions, page.NextBefore, want)
	}
	cc := page.Entries[0]
	if cc.ActorAPIKeyID == nil || cc.ActorUserID != nil || cc.Actor != te.key1[:12] || cc.TargetType != "connection" ||
		cc.TargetID != conn.ID || cc.Details["channel"] != "meta" || cc.IP == "" || cc.At.IsZero() {
		t.Fatalf("connection entry %+v", cc)
	}
	rc := page.Entries[2]
	if rc.ActorUserID == nil || *rc.ActorUserID != te.admin.userID || rc.TargetID != te.viewer.userID ||
		rc.Details["from"] != "viewer" || rc.Details["to"] != "member" {
		t.Fatalf("role change entry %+v", rc)
	}

	// Keyset pages of 3 and 1 walk the same entries.
	decode(t, te.call(te.admin, "GET", "/v1/audit?limit=3", ""), http.StatusOK, &page)
	if len(page.Entries) != 3 || page.NextBefore == nil || *page.NextBefore != page.Entries[2].ID {
		t.Fatalf("first page %+v", page)
	}
	decode(t, te.call(te.admin, "GET", fmt.Sprintf("/v1/audit?limit=3&before=%d", *page.NextBefore), ""), http.StatusOK, &page)
	if len(page.Entries) != 1 || page.Entries[0].Action != "workspace.updated" || page.NextBefore != nil {
		t.Fatalf("second page %+v", page)
	}

	// w2 sees only its own entry.
	decode(t, te.call(o2, "GET", "/v1/audit", ""), http.StatusOK, &page)
	if len(page.Entries) != 1 || page.Entries[0].Details["name"] == nil {
		t.Fatalf("w2 entries %+v", page.Entries)
	}

	for _, q := range []string{"limit=0", "limit=201", "limit=x", "before=0", "before=-3", "before=x"} {
		te.unchanged(t, func() {
			p := problem(t, te.call(te.admin, "GET", "/v1/audit?"+q, ""), http.StatusUnprocessableEntity)
			if len(p.Errors) != 1 {
				t.Fatalf("%s: %+v", q, p.Errors)
			}
		})
	}
}
