package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/store"
	"github.com/omnitrackiq/omnitrackiq/internal/testdb"
)

func newAccount(t *testing.T, st *store.Store, email string) (store.User, store.Workspace) {
	t.Helper()
	u, w, err := st.CreateAccount(context.Background(), store.NewAccount{Email: email, Name: "Ann",
		PasswordHash: "$2a$12$hash", Workspace: "Ann's", Currency: "EUR", Timezone: "Europe/Paris"})
	if err != nil {
		t.Fatal(err)
	}
	return u, w
}

func count(t *testing.T, st *store.Store, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := st.Pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestCreateAccount(t *testing.T) {
	ctx := context.Background()
	st, _ := testdb.New(t)
	u, w := newAccount(t, st, " Ann@Example.com ")
	if u.Email != "ann@example.com" || w.Currency != "EUR" {
		t.Fatalf("account %+v %+v", u, w)
	}
	if role, err := st.MembershipRole(ctx, u.ID, w.ID); err != nil || role != "owner" {
		t.Fatalf("role = %q, %v", role, err)
	}
	ms, err := st.MembershipsOfUser(ctx, u.ID)
	if err != nil || len(ms) != 1 || ms[0] != (store.UserMembership{WorkspaceID: w.ID, WorkspaceName: "Ann's", Role: "owner"}) {
		t.Fatalf("memberships %+v, %v", ms, err)
	}
	// A second account with the email writes nothing: no user, no workspace, no membership.
	before := count(t, st, `SELECT count(*) FROM workspaces`)
	_, _, err = st.CreateAccount(ctx, store.NewAccount{Email: "ANN@example.com", PasswordHash: "x", Workspace: "Other",
		Currency: "USD", Timezone: "UTC"})
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate email: %v", err)
	}
	for _, bad := range []store.NewAccount{
		{Email: "b@example.com", PasswordHash: "x", Workspace: "", Currency: "USD", Timezone: "UTC"},
		{Email: "b@example.com", PasswordHash: "x", Workspace: "B", Currency: "usd", Timezone: "UTC"},
		{Email: "b@example.com", PasswordHash: "x", Workspace: "B", Currency: "USD", Timezone: "Mars/Base"},
	} {
		if _, _, err := st.CreateAccount(ctx, bad); err == nil {
			t.Errorf("CreateAccount(%+v) accepted", bad)
		}
	}
	if n := count(t, st, `SELECT count(*) FROM workspaces`); n != before {
		t.Errorf("workspaces %d -> %d after refused accounts", before, n)
	}
	if n := count(t, st, `SELECT count(*) FROM users`); n != 1 {
		t.Errorf("users = %d, want 1", n)
	}
}

func TestRefreshRotation(t *testing.T) {
	ctx := context.Background()
	st, _ := testdb.New(t)
	u, _ := newAccount(t, st, "ann@example.com")
	exp := time.Now().Add(time.Hour).Truncate(time.Microsecond)
	s1, err := store.StartSession(ctx, st.Pool, u.ID, []byte("h1"), exp)
	if err != nil {
		t.Fatal(err)
	}
	other, err := store.StartSession(ctx, st.Pool, u.ID, []byte("o1"), exp)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := st.RotateRefresh(ctx, []byte("h1"), []byte("h2"))
	if err != nil {
		t.Fatal(err)
	}
	if s2.FamilyID != s1.FamilyID || s2.UserID != u.ID || !s2.ExpiresAt.Equal(exp) {
		t.Fatalf("rotated %+v, want family %s expiring %s", s2, s1.FamilyID, exp)
	}
	if _, err := st.RotateRefresh(ctx, []byte("h2"), []byte("h3")); err != nil {
		t.Fatal(err)
	}
	if _, err := st.RotateRefresh(ctx, []byte("nope"), []byte("x")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown token: %v", err)
	}
	// h1 was rotated long ago: presenting it revokes the family, live token h3 included.
	if _, err := st.RotateRefresh(ctx, []byte("h1"), []byte("h4")); !errors.Is(err, store.ErrRefreshReused) {
		t.Fatalf("reused token: %v", err)
	}
	if ok, _ := st.SessionActive(ctx, u.ID, s1.FamilyID); ok {
		t.Fatal("family still active after reuse")
	}
	if n := count(t, st, `SELECT count(*) FROM refresh_tokens WHERE family_id = $1 AND revoked_at IS NULL`, s1.FamilyID); n != 0 {
		t.Fatalf("%d tokens of the family not revoked", n)
	}
	if _, err := st.RotateRefresh(ctx, []byte("h3"), []byte("h5")); !errors.Is(err, store.ErrRefreshRevoked) {
		t.Fatalf("token of a revoked family: %v", err)
	}
	if n := count(t, st, `SELECT count(*) FROM refresh_tokens WHERE token_hash IN ('\x6834', '\x6835')`); n != 0 {
		t.Fatalf("refused rotations stored %d tokens", n)
	}
	// The other session is untouched.
	if ok, _ := st.SessionActive(ctx, u.ID, other.FamilyID); !ok {
		t.Fatal("other session revoked")
	}

	// Expired.
	if _, err := store.StartSession(ctx, st.Pool, u.ID, []byte("e1"), time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := st.RotateRefresh(ctx, []byte("e1"), []byte("e2")); !errors.Is(err, store.ErrRefreshExpired) {
		t.Fatalf("expired token: %v", err)
	}

	// Logout by family, by token (only the user's own), and all sessions.
	stranger, _ := newAccount(t, st, "bob@example.com")
	if err := st.RevokeSessionByToken(ctx, stranger.ID, []byte("o1")); err != nil {
		t.Fatal(err)
	}
	if ok, _ := st.SessionActive(ctx, u.ID, other.FamilyID); !ok {
		t.Fatal("another user's token revoked the session")
	}
	if err := st.RevokeSessionByToken(ctx, u.ID, []byte("o1")); err != nil {
		t.Fatal(err)
	}
	if ok, _ := st.SessionActive(ctx, u.ID, other.FamilyID); ok {
		t.Fatal("session still active after logout by token")
	}
	s3, _ := store.StartSession(ctx, st.Pool, u.ID, []byte("s3"), exp)
	if err := st.RevokeSession(ctx, stranger.ID, s3.FamilyID); err != nil {
		t.Fatal(err)
	}
	if ok, _ := st.SessionActive(ctx, u.ID, s3.FamilyID); !ok {
		t.Fatal("another user ended the session")
	}
	if err := st.RevokeSession(ctx, u.ID, s3.FamilyID); err != nil {
		t.Fatal(err)
	}
	if ok, _ := st.SessionActive(ctx, u.ID, s3.FamilyID); ok {
		t.Fatal("session active after logout")
	}
	s4, _ := store.StartSession(ctx, st.Pool, u.ID, []byte("s4"), exp)
	b1, _ := store.StartSession(ctx, st.Pool, stranger.ID, []byte("b1"), exp)
	if err := store.RevokeUserSessions(ctx, st.Pool, u.ID); err != nil {
		t.Fatal(err)
	}
	if ok, _ := st.SessionActive(ctx, u.ID, s4.FamilyID); ok {
		t.Fatal("session active after RevokeUserSessions")
	}
	if ok, _ := st.SessionActive(ctx, stranger.ID, b1.FamilyID); !ok {
		t.Fatal("RevokeUserSessions ended another user's session")
	}
}

func TestResetPassword(t *testing.T) {
	ctx := context.Background()
	st, _ := testdb.New(t)
	u, _ := newAccount(t, st, "ann@example.com")
	sess, _ := store.StartSession(ctx, st.Pool, u.ID, []byte("r1"), time.Now().Add(time.Hour))
	if err := st.CreatePasswordReset(ctx, u.ID, []byte("t1"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := st.CreatePasswordReset(ctx, u.ID, []byte("t2"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := st.CreatePasswordReset(ctx, u.ID, []byte("old"), -time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ResetPassword(ctx, []byte("old"), "new-hash"); !errors.Is(err, store.ErrResetExpired) {
		t.Fatalf("expired: %v", err)
	}
	if _, err := st.ResetPassword(ctx, []byte("zzz"), "new-hash"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown: %v", err)
	}
	if got, _ := st.GetUser(ctx, u.ID); got.PasswordHash != u.PasswordHash {
		t.Fatal("refused reset changed the password")
	}
	got, err := st.ResetPassword(ctx, []byte("t1"), "new-hash")
	if err != nil {
		t.Fatal(err)
	}
	if got.PasswordHash != "new-hash" || !got.PasswordChangedAt.After(u.PasswordChangedAt) {
		t.Fatalf("after reset %+v", got)
	}
	if ok, _ := st.SessionActive(ctx, u.ID, sess.FamilyID); ok {
		t.Fatal("session survived the reset")
	}
	// Spent, and so is the other link sent before it.
	for _, tok := range []string{"t1", "t2"} {
		if _, err := st.ResetPassword(ctx, []byte(tok), "again"); !errors.Is(err, store.ErrResetUsed) {
			t.Fatalf("%s after reset: %v", tok, err)
		}
	}
	if got, _ := st.GetUser(ctx, u.ID); got.PasswordHash != "new-hash" {
		t.Fatal("used token changed the password")
	}
}
