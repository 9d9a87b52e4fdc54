package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/omnitrackiq/omnitrackiq/internal/apikey"
	"github.com/omnitrackiq/omnitrackiq/internal/auth"
	"github.com/omnitrackiq/omnitrackiq/internal/store"
)

// TestTeamInvite walks an invitation over HTTP with real mail: the owner invites a
// teammate, the mail arrives through mailpit, its link's token makes the teammate a member,
// and the teammate reads the workspace's metrics but may not invite anyone.
func TestTeamInvite(t *testing.T) {
	e := newEnv(t, envOptions{})
	suffix := randomHex(t, 4)
	owner := e.teamUser("owner-"+suffix+"@example.com", "Olivia Owner")
	if err := store.AddMember(e.ctx, e.Store.Pool, e.Workspace, owner, "owner"); err != nil {
		t.Fatal(err)
	}
	ownerTok := e.accessToken(owner)

	mate := "mate-" + suffix + "@example.com"
	status, body := e.teamCall(ownerTok, "POST", "/v1/invites", map[string]any{"email": mate, "role": "member"})
	if status != http.StatusCreated {
		t.Fatalf("invite: %d %v", status, body)
	}
	inviteID := body["id"].(string)

	msg, err := e.Mail.WaitFor(e.ctx, mate, "invited you to", 15*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(msg.Subject, "E2E Store") || !strings.Contains(msg.Subject, "Olivia Owner") {
		t.Fatalf("subject %q", msg.Subject)
	}
	link := regexp.MustCompile(regexp.QuoteMeta(e.Identity.AppURL) + `/invites/accept\?token=\S+`).FindString(msg.Text)
	if link == "" {
		t.Fatalf("no accept link in the mail: %s", msg.Text)
	}
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	token := u.Query().Get("token")
	if !strings.Contains(msg.Text, token) {
		t.Fatal("the mail does not show the token")
	}

	// The accept page looks the invite up, then the teammate chooses a name and password.
	status, body = e.teamCall("", "GET", "/v1/invites/lookup?token="+url.QueryEscape(token), nil)
	if status != http.StatusOK || body["workspace_name"] != "E2E Store" || body["email"] != mate || body["role"] != "member" || body["existing_user"] != false {
		t.Fatalf("lookup: %d %v", status, body)
	}
	status, body = e.teamCall("", "POST", "/v1/invites/accept", map[string]any{"token": token, "name": "Mate", "password": "correct horse battery"})
	if status != http.StatusCreated || body["workspace_id"] != e.Workspace || body["role"] != "member" {
		t.Fatalf("accept: %d %v", status, body)
	}
	mateID := body["user"].(map[string]any)["id"].(string)
	if status, _ := e.teamCall("", "POST", "/v1/invites/accept", map[string]any{"token": token, "name": "Again", "password": "correct horse battery"}); status != http.StatusGone {
		t.Fatalf("second accept: %d", status)
	}

	// The owner sees the teammate as a member; the invite is no longer pending.
	status, body = e.teamCall(ownerTok, "GET", "/v1/members", nil)
	if status != http.StatusOK {
		t.Fatalf("members: %d %v", status, body)
	}
	roles := map[string]string{}
	for _, m := range body["members"].([]any) {
		m := m.(map[string]any)
		roles[m["email"].(string)] = m["role"].(string)
	}
	if roles[mate] != "member" || roles["owner-"+suffix+"@example.com"] != "owner" {
		t.Fatalf("members %v", roles)
	}
	if _, body = e.teamCall(ownerTok, "GET", "/v1/invites", nil); len(body["invites"].([]any)) != 0 {
		t.Fatalf("pending invites %v", body)
	}

	// Sign-in belongs to the auth routes; here the teammate gets a session directly.
	mateTok := e.accessToken(mateID)
	status, body = e.teamCall(mateTok, "GET", "/v1/metrics/summary?from=2024-01-01&to=2024-01-07", nil)
	if status != http.StatusOK {
		t.Fatalf("teammate reads metrics: %d %v", status, body)
	}
	status, body = e.teamCall(mateTok, "POST", "/v1/invites", map[string]any{"email": "friend-" + suffix + "@example.com", "role": "viewer"})
	if status != http.StatusForbidden || body["type"] != "/problems/forbidden" {
		t.Fatalf("teammate invites: %d %v", status, body)
	}
	if msgs, err := e.Mail.To(e.ctx, "friend-"+suffix+"@example.com"); err != nil || len(msgs) != 0 {
		t.Fatalf("a refused invite was mailed: %v %v", msgs, err)
	}

	// The audit log, read by the owner, has the invite and its acceptance.
	status, body = e.teamCall(ownerTok, "GET", "/v1/audit", nil)
	if status != http.StatusOK {
		t.Fatalf("audit: %d %v", status, body)
	}
	seen := map[string]string{}
	for _, en := range body["entries"].([]any) {
		en := en.(map[string]any)
		seen[en["action"].(string)] = en["target_id"].(string)
	}
	if seen["invite.created"] != inviteID || seen["invite.accepted"] != inviteID {
		t.Fatalf("audit entries %v", seen)
	}

	// No token, secret or password is stored in plaintext.
	var leaks int
	if err := e.Store.Pool.QueryRow(e.ctx, `SELECT
		(SELECT count(*) FROM invites i WHERE position($1 in i::text) > 0) +
		(SELECT count(*) FROM users u WHERE position($2 in u::text) > 0) +
		(SELECT count(*) FROM audit_log a WHERE position($1 in a::text) > 0 OR position($2 in a::text) > 0)`,
		token, "correct horse battery").Scan(&leaks); err != nil || leaks != 0 {
		t.Fatalf("%d rows hold a secret (%v)", leaks, err)
	}
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// teamUser creates a user directly in the store (sign-up is another route's job).
func (e *env) teamUser(email, name string) string {
	e.t.Helper()
	u, err := store.CreateUser(e.ctx, e.Store.Pool, email, name, "not-a-real-hash")
	if err != nil {
		e.t.Fatal(err)
	}
	return u.ID
}

// accessToken starts a session (a refresh family) for the user and returns an access token.
func (e *env) accessToken(userID string) string {
	e.t.Helper()
	return e.sessionToken(userID)
}

// teamCall sends a request as a signed-in user acting on the env's workspace ("" token:
// anonymous) and decodes the JSON answer.
func (e *env) teamCall(token, method, path string, body any) (int, map[string]any) {
	e.t.Helper()
	c := creds{}
	if token != "" {
		c = creds{bearer: token, workspace: e.Workspace}
	}
	return e.request(method, path, c, body)
}

// teamIsolationCases are the tenant-isolation cases of the workspace, member, invite, API
// key and audit routes. Calls that consume their target get a fresh one each time; calls
// that change A undo it in after.
func teamIsolationCases() map[string]isoCase {
	freshInvite := func(f *isoFixture, email string) (id, token string) {
		f.e.t.Helper()
		secret, hash, err := auth.NewOpaque(auth.InvitePrefix)
		if err != nil {
			f.e.t.Fatal(err)
		}
		var inv store.Invite
		err = f.e.Store.InTx(f.e.ctx, func(tx pgx.Tx) error {
			inv, _, err = store.CreateInviteTx(f.e.ctx, tx, store.NewInvite{WorkspaceID: f.A, Email: email, Role: "viewer",
				TokenHash: hash, ExpiresAt: time.Now().Add(time.Hour)})
			return err
		})
		if err != nil {
			f.e.t.Fatal(err)
		}
		return inv.ID, secret
	}
	n := 0
	unique := func(prefix string) string { n++; return fmt.Sprintf("%s-%d@a.example", prefix, n) }
	return map[string]isoCase{
		"GET /v1/workspaces":  {own: path("/v1/workspaces")},
		"POST /v1/workspaces": {own: path("/v1/workspaces"), body: func(*isoFixture) any { return map[string]any{"name": "Iso new"} }},
		"GET /v1/workspace":   {own: path("/v1/workspace")},
		"PATCH /v1/workspace": {own: path("/v1/workspace"), body: func(*isoFixture) any { return map[string]any{"name": "E2E Store"} }},
		// The owner cannot leave (409); anyone else who leaves is added back.
		"POST /v1/workspace/leave": {own: path("/v1/workspace/leave"), ok: []int{409},
			after: func(f *isoFixture, a isoActor) {
				if a.role != auth.Owner {
					f.e.addMember(f.A, f.users[a.role].ID, a.role)
				}
			}},
		"POST /v1/workspace/transfer-ownership": {
			own:         path("/v1/workspace/transfer-ownership"),
			body:        func(f *isoFixture) any { return map[string]any{"user_id": f.users[auth.Admin].ID} },
			foreign:     path("/v1/workspace/transfer-ownership"),
			foreignBody: func(f *isoFixture) any { return map[string]any{"user_id": f.userB.ID} },
			after: func(f *isoFixture, _ isoActor) {
				if err := f.e.Store.TransferOwnership(f.e.ctx, f.A, f.users[auth.Admin].ID, f.users[auth.Owner].ID); err != nil {
					f.e.t.Fatal(err)
				}
			},
		},
		"GET /v1/members": {own: path("/v1/members")},
		"PATCH /v1/members/:user_id": {
			own:     func(f *isoFixture) string { return "/v1/members/" + f.users[auth.Viewer].ID },
			foreign: func(f *isoFixture) string { return "/v1/members/" + f.userB.ID },
			body:    func(*isoFixture) any { return map[string]any{"role": "viewer"} },
		},
		"DELETE /v1/members/:user_id": {
			own: func(f *isoFixture) string {
				u := f.e.newUser(unique("leaver"))
				f.e.addMember(f.A, u.ID, auth.Viewer)
				return "/v1/members/" + u.ID
			},
			foreign: func(f *isoFixture) string { return "/v1/members/" + f.userB.ID },
		},
		"POST /v1/invites": {own: path("/v1/invites"),
			body: func(*isoFixture) any { return map[string]any{"email": "iso-invitee@a.example", "role": "viewer"} }},
		"GET /v1/invites": {own: path("/v1/invites")},
		"DELETE /v1/invites/:id": {own: func(f *isoFixture) string {
			id, _ := freshInvite(f, unique("revoked"))
			return "/v1/invites/" + id
		}},
		"GET /v1/invites/lookup": {own: func(f *isoFixture) string {
			_, tok := freshInvite(f, unique("lookup"))
			return "/v1/invites/lookup?token=" + tok
		}},
		"POST /v1/invites/accept": {own: path("/v1/invites/accept"), body: func(f *isoFixture) any {
			_, tok := freshInvite(f, unique("joiner"))
			return map[string]any{"token": tok, "name": "Joiner", "password": isoPassword}
		}},
		// The invite is to someone else's address: a signed-in caller is refused (403).
		"POST /v1/invites/accept-as-me": {own: path("/v1/invites/accept-as-me"), ok: []int{403}, body: func(f *isoFixture) any {
			_, tok := freshInvite(f, unique("someone"))
			return map[string]any{"token": tok}
		}},
		"POST /v1/api-keys": {own: path("/v1/api-keys"), body: func(*isoFixture) any { return map[string]any{"name": "iso", "scope": "read"} }},
		"GET /v1/api-keys":  {own: path("/v1/api-keys")},
		"DELETE /v1/api-keys/:id": {
			own: func(f *isoFixture) string {
				_, k, err := apikey.Issue(f.e.ctx, f.e.Store, f.A, "doomed")
				if err != nil {
					f.e.t.Fatal(err)
				}
				return "/v1/api-keys/" + k.ID
			},
			foreign: func(f *isoFixture) string {
				var id string
				if err := f.e.Store.Pool.QueryRow(f.e.ctx, `SELECT id FROM api_keys WHERE key_hash = $1`, apikey.Hash(f.keyB)).Scan(&id); err != nil {
					f.e.t.Fatal(err)
				}
				return "/v1/api-keys/" + id
			},
		},
		"GET /v1/audit": {own: path("/v1/audit")},
	}
}
