package api_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/omnitrackiq/omnitrackiq/api"
	"github.com/omnitrackiq/omnitrackiq/internal/auth"
)

func TestMembersList(t *testing.T) {
	te := newTeamEnv(t)
	for _, c := range te.callers() {
		rec := te.call(c, "GET", "/v1/members", "")
		if !c.allowed(auth.ReadMembers) {
			problem(t, rec, c.denial())
			continue
		}
		var l api.MemberList
		decode(t, rec, http.StatusOK, &l)
		roles := map[string]string{}
		for _, m := range l.Members {
			roles[m.Email] = m.Role
			if m.UserID == "" || m.JoinedAt.IsZero() || m.Name == "" {
				t.Fatalf("incomplete member %+v", m)
			}
		}
		want := map[string]string{"owner@example.com": "owner", "admin@example.com": "admin", "member@example.com": "member", "viewer@example.com": "viewer"}
		if fmt.Sprint(roles) != fmt.Sprint(want) {
			t.Fatalf("%s: members %v", c.name, roles)
		}
	}
}

func TestMemberRoleChange(t *testing.T) {
	te := newTeamEnv(t)
	path := func(c caller) string { return "/v1/members/" + c.userID }

	// Only admins and the owner reach the route; everyone else changes nothing.
	for _, c := range te.callers() {
		if c.allowed(auth.ManageMembers) {
			continue
		}
		te.unchanged(t, func() { problem(t, te.call(c, "PATCH", path(te.viewer), `{"role":"member"}`), c.denial()) })
	}

	// An admin promotes the viewer to admin, then demotes them back.
	var m api.MemberInfo
	decode(t, te.call(te.admin, "PATCH", path(te.viewer), `{"role":"admin"}`), http.StatusOK, &m)
	if m.Role != "admin" || m.UserID != te.viewer.userID || te.role(te.w1.ID, te.viewer.userID) != "admin" {
		t.Fatalf("promote: %+v, stored %q", m, te.role(te.w1.ID, te.viewer.userID))
	}
	decode(t, te.call(te.owner, "PATCH", path(te.viewer), `{"role":"viewer"}`), http.StatusOK, &m)
	if te.role(te.w1.ID, te.viewer.userID) != "viewer" || te.audits(te.w1.ID, "member.role_changed") != 2 {
		t.Fatal("demote not stored or not audited")
	}
	// Setting the same role again is a no-op without an audit entry.
	te.unchanged(t, func() { decode(t, te.call(te.owner, "PATCH", path(te.viewer), `{"role":"viewer"}`), http.StatusOK, &m) })

	cases := []struct {
		name   string
		by     caller
		target string
		body   string
		status int
		field  string
	}{
		{"admin demotes the owner", te.admin, te.owner.userID, `{"role":"member"}`, http.StatusForbidden, ""},
		{"owner changes own role", te.owner, te.owner.userID, `{"role":"admin"}`, http.StatusForbidden, ""},
		{"admin changes own role", te.admin, te.admin.userID, `{"role":"viewer"}`, http.StatusForbidden, ""},
		{"nobody sets owner here", te.owner, te.member.userID, `{"role":"owner"}`, http.StatusUnprocessableEntity, "role"},
		{"unknown role", te.owner, te.member.userID, `{"role":"god"}`, http.StatusUnprocessableEntity, "role"},
		{"missing role", te.owner, te.member.userID, `{}`, http.StatusUnprocessableEntity, "role"},
		{"unknown field", te.owner, te.member.userID, `{"role":"viewer","x":1}`, http.StatusBadRequest, ""},
		{"another workspace's user", te.owner, te.outside.userID, `{"role":"viewer"}`, http.StatusNotFound, ""},
		{"malformed id", te.owner, "nope", `{"role":"viewer"}`, http.StatusNotFound, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			te.unchanged(t, func() {
				p := problem(t, te.call(tc.by, "PATCH", "/v1/members/"+tc.target, tc.body), tc.status)
				if tc.field != "" && p.Errors[0].Field != tc.field {
					t.Fatalf("errors %+v", p.Errors)
				}
			})
		})
	}
	if te.role(te.w2.ID, te.outside.userID) != "owner" {
		t.Fatal("the other workspace's owner changed")
	}
}

func TestMemberRemoval(t *testing.T) {
	te := newTeamEnv(t)
	ctx := context.Background()

	for _, c := range te.callers() {
		if c.allowed(auth.ManageMembers) {
			continue
		}
		te.unchanged(t, func() { problem(t, te.call(c, "DELETE", "/v1/members/"+te.viewer.userID, ""), c.denial()) })
	}
	te.unchanged(t, func() {
		problem(t, te.call(te.admin, "DELETE", "/v1/members/"+te.owner.userID, ""), http.StatusConflict)
		problem(t, te.call(te.owner, "DELETE", "/v1/members/"+te.owner.userID, ""), http.StatusConflict)
		problem(t, te.call(te.owner, "DELETE", "/v1/members/"+te.outside.userID, ""), http.StatusNotFound)
		problem(t, te.call(te.owner, "DELETE", "/v1/members/x", ""), http.StatusNotFound)
	})

	// The admin removes the member: the member's next request to w1 finds nothing, while
	// their account and session stay.
	if rec := te.call(te.admin, "DELETE", "/v1/members/"+te.member.userID, ""); rec.Code != http.StatusNoContent {
		t.Fatalf("remove: %d %s", rec.Code, rec.Body)
	}
	if te.role(te.w1.ID, te.member.userID) != "" || te.audits(te.w1.ID, "member.removed") != 1 {
		t.Fatal("member not removed or not audited")
	}
	problem(t, te.call(te.member, "GET", "/v1/connections", ""), http.StatusNotFound)
	if rec := te.call(caller{cred: te.member.cred}, "GET", "/v1/workspaces", ""); rec.Code != http.StatusOK {
		t.Fatalf("the removed member's session ended: %d", rec.Code)
	}
	problem(t, te.call(te.admin, "DELETE", "/v1/members/"+te.member.userID, ""), http.StatusNotFound)

	// Anyone but the owner may leave; a key cannot.
	te.unchanged(t, func() {
		problem(t, te.call(te.owner, "POST", "/v1/workspace/leave", ""), http.StatusConflict)
		problem(t, te.call(te.readKey, "POST", "/v1/workspace/leave", ""), http.StatusForbidden)
		problem(t, te.call(te.writeKey, "POST", "/v1/workspace/leave", ""), http.StatusForbidden)
		problem(t, te.call(te.outside, "POST", "/v1/workspace/leave", ""), http.StatusNotFound)
	})
	if rec := te.call(te.viewer, "POST", "/v1/workspace/leave", ""); rec.Code != http.StatusNoContent {
		t.Fatalf("leave: %d %s", rec.Code, rec.Body)
	}
	// An admin may also remove themselves through the members route.
	if rec := te.call(te.admin, "DELETE", "/v1/members/"+te.admin.userID, ""); rec.Code != http.StatusNoContent {
		t.Fatalf("admin leaves: %d %s", rec.Code, rec.Body)
	}
	var n int
	if err := te.st.Pool.QueryRow(ctx, `SELECT count(*) FROM memberships WHERE workspace_id = $1`, te.w1.ID).Scan(&n); err != nil || n != 1 {
		t.Fatalf("w1 has %d members, want the owner alone (%v)", n, err)
	}
	if te.count(`SELECT count(*) FROM audit_log WHERE action = 'member.removed' AND details->>'left' = 'true'`) != 2 {
		t.Fatal("leaving is not audited as such")
	}
}

func TestTransferOwnership(t *testing.T) {
	te := newTeamEnv(t)
	owners := func(ws string) int {
		return te.count(`SELECT count(*) FROM memberships WHERE workspace_id = $1 AND role = 'owner'`, ws)
	}
	body := func(c caller) string { return fmt.Sprintf(`{"user_id":%q}`, c.userID) }
	for _, c := range te.callers() {
		if c.allowed(auth.TransferOwnership) {
			continue
		}
		te.unchanged(t, func() {
			problem(t, te.call(c, "POST", "/v1/workspace/transfer-ownership", body(te.admin)), c.denial())
		})
	}
	for _, tc := range []struct{ body, why string }{
		{body(te.owner), "self"},
		{body(te.outside), "not a member"},
		{`{"user_id":"nope"}`, "malformed"},
		{`{}`, "missing"},
	} {
		te.unchanged(t, func() {
			p := problem(t, te.call(te.owner, "POST", "/v1/workspace/transfer-ownership", tc.body), http.StatusUnprocessableEntity)
			if p.Errors[0].Field != "user_id" {
				t.Fatalf("%s: %+v", tc.why, p.Errors)
			}
		})
	}

	var res api.TransferOwnershipResult
	decode(t, te.call(te.owner, "POST", "/v1/workspace/transfer-ownership", body(te.member)), http.StatusOK, &res)
	if res.OwnerUserID != te.member.userID || res.PreviousOwnerUserID != te.owner.userID {
		t.Fatalf("result %+v", res)
	}
	if te.role(te.w1.ID, te.member.userID) != "owner" || te.role(te.w1.ID, te.owner.userID) != "admin" || owners(te.w1.ID) != 1 {
		t.Fatal("roles after transfer are wrong")
	}
	if te.audits(te.w1.ID, "ownership.transferred") != 1 {
		t.Fatal("transfer not audited")
	}
	// The former owner is an admin now and can no longer transfer.
	te.unchanged(t, func() {
		problem(t, te.call(te.owner, "POST", "/v1/workspace/transfer-ownership", body(te.viewer)), http.StatusForbidden)
	})

	// Concurrent transfers by the owner to two members: exactly one wins, one owner remains.
	newOwner := te.member
	var wg sync.WaitGroup
	codes := make([]int, 2)
	for i, target := range []caller{te.admin, te.viewer} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = te.call(newOwner, "POST", "/v1/workspace/transfer-ownership", body(target)).Code
		}()
	}
	wg.Wait()
	wins := 0
	for _, c := range codes {
		switch c {
		case http.StatusOK:
			wins++
		case http.StatusConflict, http.StatusForbidden:
		default:
			t.Fatalf("concurrent transfer answered %d", c)
		}
	}
	if wins != 1 || owners(te.w1.ID) != 1 || te.role(te.w1.ID, newOwner.userID) != "admin" {
		t.Fatalf("concurrent transfers: codes %v, %d owners", codes, owners(te.w1.ID))
	}
	if owners(te.w2.ID) != 1 || te.role(te.w2.ID, te.outside.userID) != "owner" {
		t.Fatal("the other workspace's owner changed")
	}
}

// tokenIn finds the invite token in a mail body.
var tokenIn = regexp.MustCompile(`oti_[A-Za-z0-9_-]{43}`)

func (te *teamEnv) invite(by caller, email, role string) (api.InviteInfo, string) {
	te.t.Helper()
	n := len(te.mail.messages())
	var inv api.InviteInfo
	decode(te.t, te.call(by, "POST", "/v1/invites", fmt.Sprintf(`{"email":%q,"role":%q}`, email, role)), http.StatusCreated, &inv)
	msgs := te.mail.messages()
	if len(msgs) != n+1 {
		te.t.Fatalf("%d mails sent, want 1", len(msgs)-n)
	}
	tok := tokenIn.FindString(msgs[n].Text)
	if tok == "" {
		te.t.Fatalf("no token in the invite mail: %s", msgs[n].Text)
	}
	return inv, tok
}

func TestInvites(t *testing.T) {
	te := newTeamEnv(t)
	ctx := context.Background()

	t.Run("only admins invite", func(t *testing.T) {
		for _, c := range te.callers() {
			if c.allowed(auth.ManageMembers) {
				continue
			}
			te.unchanged(t, func() {
				problem(t, te.call(c, "POST", "/v1/invites", `{"email":"x@example.com","role":"member"}`), c.denial())
			})
		}
		if len(te.mail.messages()) != 0 {
			t.Fatal("a refused invite sent mail")
		}
	})

	t.Run("bad input writes and sends nothing", func(t *testing.T) {
		for _, tc := range []struct{ body, field string }{
			{`{"role":"member"}`, "email"},
			{`{"email":"not an email","role":"member"}`, "email"},
			{`{"email":"Bob <bob@example.com>","role":"member"}`, "email"},
			{`{"email":"bob@localhost","role":"member"}`, "email"},
			{`{"email":"bob@example.com"}`, "role"},
			{`{"email":"bob@example.com","role":"owner"}`, "role"},
			{`{"email":"bob@example.com","role":"root"}`, "role"},
		} {
			te.unchanged(t, func() {
				p := problem(t, te.call(te.admin, "POST", "/v1/invites", tc.body), http.StatusUnprocessableEntity)
				if p.Errors[0].Field != tc.field {
					t.Fatalf("%s: %+v", tc.body, p.Errors)
				}
			})
		}
		te.unchanged(t, func() {
			problem(t, te.call(te.admin, "POST", "/v1/invites", `{"email":"bob@example.com","role":"member","x":1}`), http.StatusBadRequest)
			// An existing member cannot be invited, whatever the case of the address.
			problem(t, te.call(te.admin, "POST", "/v1/invites", `{"email":"Viewer@Example.com","role":"admin"}`), http.StatusConflict)
		})
		if len(te.mail.messages()) != 0 {
			t.Fatal("a refused invite sent mail")
		}
	})

	t.Run("a failed mail leaves no invite", func(t *testing.T) {
		te.mail.err = errors.New("smtp down")
		defer func() { te.mail.err = nil }()
		te.unchanged(t, func() {
			problem(t, te.call(te.admin, "POST", "/v1/invites", `{"email":"bob@example.com","role":"member"}`), http.StatusServiceUnavailable)
		})
	})

	var first api.InviteInfo
	var firstTok string
	t.Run("invite mails a link and stores only a hash", func(t *testing.T) {
		first, firstTok = te.invite(te.admin, " New.Person@Example.com ", "member")
		if first.Email != "new.person@example.com" || first.Role != "member" || first.InvitedBy == nil || *first.InvitedBy != te.admin.userID {
			t.Fatalf("invite %+v", first)
		}
		if d := time.Until(first.ExpiresAt); d < 7*24*time.Hour-time.Minute || d > 7*24*time.Hour+time.Minute {
			t.Fatalf("expires in %v, want 7 days", d)
		}
		m := te.mail.messages()[0]
		if len(m.To) != 1 || m.To[0] != "new.person@example.com" || !strings.Contains(m.Subject, "invited you to") || !strings.Contains(m.Subject, "One") {
			t.Fatalf("mail %q to %v", m.Subject, m.To)
		}
		if !strings.Contains(m.Text, te.appURL+"/invites/accept?token="+url.QueryEscape(firstTok)) {
			t.Fatalf("mail lacks the accept link: %s", m.Text)
		}
		if te.count(`SELECT count(*) FROM invites WHERE token_hash = $1`, auth.HashOpaque(firstTok)) != 1 {
			t.Fatal("the invite is not stored by its token's hash")
		}
		if te.count(`SELECT count(*) FROM invites i WHERE position($1 in i::text) > 0`, firstTok) != 0 {
			t.Fatal("the token is stored in plaintext")
		}
		if te.audits(te.w1.ID, "invite.created") != 1 {
			t.Fatal("invite not audited")
		}
		if strings.Contains(te.logs.String(), firstTok) {
			t.Fatal("the invite token was logged")
		}
	})

	t.Run("list shows pending invites to readers, never the token", func(t *testing.T) {
		for _, c := range te.callers() {
			rec := te.call(c, "GET", "/v1/invites", "")
			if !c.allowed(auth.ReadMembers) {
				problem(t, rec, c.denial())
				continue
			}
			if strings.Contains(rec.Body.String(), "oti_") {
				t.Fatal("the list shows a token")
			}
			var l api.InviteList
			decode(t, rec, http.StatusOK, &l)
			if len(l.Invites) != 1 || l.Invites[0].ID != first.ID {
				t.Fatalf("%s: invites %+v", c.name, l.Invites)
			}
		}
	})

	t.Run("re-inviting replaces the pending invite", func(t *testing.T) {
		second, tok := te.invite(te.owner, "new.person@example.com", "viewer")
		var l api.InviteList
		decode(t, te.call(te.viewer, "GET", "/v1/invites", ""), http.StatusOK, &l)
		if len(l.Invites) != 1 || l.Invites[0].ID != second.ID || l.Invites[0].Role != "viewer" {
			t.Fatalf("invites %+v", l.Invites)
		}
		te.unchanged(t, func() {
			p := problem(t, te.call(anonymous, "GET", "/v1/invites/lookup?token="+firstTok, ""), http.StatusGone)
			if !strings.Contains(p.Detail, "revoked") {
				t.Fatalf("detail %q", p.Detail)
			}
		})
		if te.audits(te.w1.ID, "invite.revoked") != 1 {
			t.Fatal("the replaced invite's revocation is not audited")
		}
		first, firstTok = second, tok
	})

	t.Run("lookup", func(t *testing.T) {
		var lk api.InviteLookup
		decode(t, te.call(anonymous, "GET", "/v1/invites/lookup?token="+firstTok, ""), http.StatusOK, &lk)
		if lk.WorkspaceName != "One" || lk.Email != "new.person@example.com" || lk.Role != "viewer" || lk.ExistingUser || !lk.ExpiresAt.Equal(first.ExpiresAt) {
			t.Fatalf("lookup %+v", lk)
		}
		problem(t, te.call(anonymous, "GET", "/v1/invites/lookup", ""), http.StatusUnprocessableEntity)
		problem(t, te.call(anonymous, "GET", "/v1/invites/lookup?token=garbage", ""), http.StatusNotFound)
		other, _, _ := auth.NewOpaque(auth.InvitePrefix)
		problem(t, te.call(anonymous, "GET", "/v1/invites/lookup?token="+other, ""), http.StatusNotFound)
	})

	t.Run("accept as a new user, once", func(t *testing.T) {
		for _, tc := range []struct{ body, field string }{
			{`{"name":"New","password":"long enough pw"}`, "token"},
			{fmt.Sprintf(`{"token":%q,"password":"long enough pw"}`, firstTok), "name"},
			{fmt.Sprintf(`{"token":%q,"name":"New","password":"short"}`, firstTok), "password"},
		} {
			te.unchanged(t, func() {
				p := problem(t, te.call(anonymous, "POST", "/v1/invites/accept", tc.body), http.StatusUnprocessableEntity)
				if p.Errors[0].Field != tc.field {
					t.Fatalf("%s: %+v", tc.body, p.Errors)
				}
			})
		}
		te.unchanged(t, func() {
			problem(t, te.call(anonymous, "POST", "/v1/invites/accept", `{"token":"oti_nope","name":"New","password":"long enough pw"}`), http.StatusNotFound)
		})

		body := fmt.Sprintf(`{"token":%q,"name":"New Person","password":"long enough pw"}`, firstTok)
		var acc api.AcceptedInvite
		decode(t, te.call(anonymous, "POST", "/v1/invites/accept", body), http.StatusCreated, &acc)
		if acc.User == nil || acc.User.Email != "new.person@example.com" || acc.User.Name != "New Person" || acc.WorkspaceID != te.w1.ID || acc.Role != "viewer" {
			t.Fatalf("accepted %+v", acc)
		}
		u, err := te.st.UserByEmail(ctx, "new.person@example.com")
		if err != nil || auth.CheckPassword(u.PasswordHash, "long enough pw") != nil {
			t.Fatalf("user not created with the password: %v", err)
		}
		if te.role(te.w1.ID, u.ID) != "viewer" {
			t.Fatal("membership not created")
		}
		if te.count(`SELECT count(*) FROM audit_log WHERE action = 'invite.accepted' AND actor_user_id = $1 AND workspace_id = $2`, u.ID, te.w1.ID) != 1 {
			t.Fatal("acceptance not audited")
		}
		// The token is single-use, and the pending list no longer has it.
		te.unchanged(t, func() {
			problem(t, te.call(anonymous, "POST", "/v1/invites/accept", body), http.StatusGone)
			problem(t, te.call(anonymous, "GET", "/v1/invites/lookup?token="+firstTok, ""), http.StatusGone)
		})
		var l api.InviteList
		decode(t, te.call(te.owner, "GET", "/v1/invites", ""), http.StatusOK, &l)
		if len(l.Invites) != 0 {
			t.Fatalf("pending %+v", l.Invites)
		}
		// An accepted invite cannot be revoked; the member is removed instead.
		te.unchanged(t, func() { problem(t, te.call(te.admin, "DELETE", "/v1/invites/"+first.ID, ""), http.StatusConflict) })
	})

	t.Run("concurrent accepts use the token once", func(t *testing.T) {
		_, tok := te.invite(te.admin, "racer@example.com", "member")
		body := fmt.Sprintf(`{"token":%q,"name":"Racer","password":"long enough pw"}`, tok)
		var wg sync.WaitGroup
		codes := make([]int, 3)
		for i := range codes {
			wg.Add(1)
			go func() { defer wg.Done(); codes[i] = te.call(anonymous, "POST", "/v1/invites/accept", body).Code }()
		}
		wg.Wait()
		created := 0
		for _, c := range codes {
			if c == http.StatusCreated {
				created++
			} else if c != http.StatusGone {
				t.Fatalf("codes %v", codes)
			}
		}
		if created != 1 || te.count(`SELECT count(*) FROM users WHERE email = 'racer@example.com'`) != 1 {
			t.Fatalf("codes %v", codes)
		}
	})

	t.Run("an existing account accepts signed in", func(t *testing.T) {
		// The outsider owns w2 and is invited to w1.
		_, tok := te.invite(te.admin, "OUTSIDER@example.com", "admin")
		var lk api.InviteLookup
		decode(t, te.call(anonymous, "GET", "/v1/invites/lookup?token="+tok, ""), http.StatusOK, &lk)
		if !lk.ExistingUser {
			t.Fatal("lookup does not say the account exists")
		}
		te.unchanged(t, func() {
			// The new-user path refuses an email with an account.
			p := problem(t, te.call(anonymous, "POST", "/v1/invites/accept",
				fmt.Sprintf(`{"token":%q,"name":"X","password":"long enough pw"}`, tok)), http.StatusConflict)
			if !strings.Contains(p.Detail, "sign in") {
				t.Fatalf("detail %q", p.Detail)
			}
			// Another signed-in user cannot take it.
			problem(t, te.call(caller{cred: te.viewer.cred}, "POST", "/v1/invites/accept-as-me", fmt.Sprintf(`{"token":%q}`, tok)), http.StatusForbidden)
			// Keys and anonymous callers cannot use accept-as-me.
			problem(t, te.call(te.writeKey, "POST", "/v1/invites/accept-as-me", fmt.Sprintf(`{"token":%q}`, tok)), http.StatusForbidden)
			problem(t, te.call(anonymous, "POST", "/v1/invites/accept-as-me", fmt.Sprintf(`{"token":%q}`, tok)), http.StatusUnauthorized)
			problem(t, te.call(caller{cred: te.outside.cred}, "POST", "/v1/invites/accept-as-me", `{}`), http.StatusUnprocessableEntity)
		})
		var acc api.AcceptedInvite
		decode(t, te.call(caller{cred: te.outside.cred}, "POST", "/v1/invites/accept-as-me", fmt.Sprintf(`{"token":%q}`, tok)), http.StatusOK, &acc)
		if acc.WorkspaceID != te.w1.ID || acc.Role != "admin" || acc.User != nil || te.role(te.w1.ID, te.outside.userID) != "admin" {
			t.Fatalf("accepted %+v", acc)
		}
		// Now a member of both, the outsider reads w1 by naming it.
		if rec := te.call(te.outside, "GET", "/v1/members", ""); rec.Code != http.StatusOK {
			t.Fatalf("new member reads members: %d", rec.Code)
		}
		te.unchanged(t, func() {
			problem(t, te.call(caller{cred: te.outside.cred}, "POST", "/v1/invites/accept-as-me", fmt.Sprintf(`{"token":%q}`, tok)), http.StatusGone)
		})
		// The outsider leaves again, so the later cases see them as no member.
		if rec := te.call(te.outside, "POST", "/v1/workspace/leave", ""); rec.Code != http.StatusNoContent || te.role(te.w1.ID, te.outside.userID) != "" {
			t.Fatalf("leave: %d %s", rec.Code, rec.Body)
		}
	})

	t.Run("expired and revoked invites are refused", func(t *testing.T) {
		inv, tok := te.invite(te.admin, "late@example.com", "member")
		if _, err := te.st.Pool.Exec(ctx, `UPDATE invites SET expires_at = now() - interval '1 second' WHERE id = $1`, inv.ID); err != nil {
			t.Fatal(err)
		}
		te.unchanged(t, func() {
			problem(t, te.call(anonymous, "GET", "/v1/invites/lookup?token="+tok, ""), http.StatusGone)
			problem(t, te.call(anonymous, "POST", "/v1/invites/accept", fmt.Sprintf(`{"token":%q,"name":"L","password":"long enough pw"}`, tok)), http.StatusGone)
		})

		inv, tok = te.invite(te.admin, "revoked@example.com", "member")
		for _, c := range te.callers() {
			if c.allowed(auth.ManageMembers) {
				continue
			}
			te.unchanged(t, func() { problem(t, te.call(c, "DELETE", "/v1/invites/"+inv.ID, ""), c.denial()) })
		}
		// Another workspace's owner cannot revoke it through their own workspace.
		o2 := te.outside
		o2.ws = te.w2.ID
		te.unchanged(t, func() { problem(t, te.call(o2, "DELETE", "/v1/invites/"+inv.ID, ""), http.StatusNotFound) })
		for range 2 {
			if rec := te.call(te.admin, "DELETE", "/v1/invites/"+inv.ID, ""); rec.Code != http.StatusNoContent {
				t.Fatalf("revoke: %d %s", rec.Code, rec.Body)
			}
		}
		if te.count(`SELECT count(*) FROM audit_log WHERE action = 'invite.revoked' AND target_id = $1`, inv.ID) != 1 {
			t.Fatal("revocation audited other than once")
		}
		te.unchanged(t, func() {
			problem(t, te.call(anonymous, "POST", "/v1/invites/accept", fmt.Sprintf(`{"token":%q,"name":"R","password":"long enough pw"}`, tok)), http.StatusGone)
			problem(t, te.call(te.admin, "DELETE", "/v1/invites/"+"00000000-0000-0000-0000-000000000000", ""), http.StatusNotFound)
			problem(t, te.call(te.admin, "DELETE", "/v1/invites/x", ""), http.StatusNotFound)
		})
	})
}

// TestREADMEPermissions checks the README's permission matrix against auth.Allowed and
// auth.KeyAllowed, cell by cell, so neither can change without the other.
func TestREADMEPermissions(t *testing.T) {
	f, err := os.Open("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var header []string
	rows := map[auth.Action][]string{}
	var order []auth.Action
	inSection := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "## ") {
			if inSection {
				break
			}
			inSection = line == "## Permissions"
			continue
		}
		if !inSection || !strings.HasPrefix(line, "|") {
			if inSection && header != nil && len(rows) > 0 && !strings.HasPrefix(line, "|") {
				break // the end of the first table
			}
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		switch {
		case header == nil:
			header = cells
		case strings.HasPrefix(cells[0], "---") || strings.HasPrefix(cells[0], ":--"):
		default:
			a := auth.Action(strings.Trim(cells[0], "`"))
			if _, dup := rows[a]; dup {
				t.Fatalf("action %s appears twice", a)
			}
			rows[a] = cells
			order = append(order, a)
		}
	}
	if header == nil {
		t.Fatal(`README has no table under "## Permissions"`)
	}
	if fmt.Sprint(order) != fmt.Sprint(auth.Actions) {
		t.Fatalf("README actions %v, want auth.Actions %v", order, auth.Actions)
	}
	type column struct {
		idx     int
		allowed func(auth.Action) bool
	}
	var cols []column
	for _, r := range auth.Roles {
		cols = append(cols, column{-1, func(a auth.Action) bool { return auth.Allowed(r, a) }})
		for i, h := range header {
			if strings.EqualFold(strings.Trim(h, "`"), string(r)) {
				cols[len(cols)-1].idx = i
			}
		}
	}
	for _, s := range []auth.KeyScope{auth.ScopeRead, auth.ScopeWrite} {
		cols = append(cols, column{-1, func(a auth.Action) bool { return auth.KeyAllowed(s, a) }})
		for i, h := range header {
			if strings.EqualFold(h, "API key `"+string(s)+"`") {
				cols[len(cols)-1].idx = i
			}
		}
	}
	for i, c := range cols {
		if c.idx < 0 {
			t.Fatalf("README matrix lacks column %d (roles, then API key `read` and `write`): header %v", i, header)
		}
	}
	for _, a := range auth.Actions {
		for _, c := range cols {
			cell := rows[a][c.idx]
			var got bool
			switch cell {
			case "yes":
				got = true
			case "no", "":
			default:
				t.Fatalf("%s / %s: cell %q is not yes or no", a, header[c.idx], cell)
			}
			if got != c.allowed(a) {
				t.Errorf("README says %s / %s = %q, the code says %v", a, header[c.idx], cell, c.allowed(a))
			}
		}
	}
}
