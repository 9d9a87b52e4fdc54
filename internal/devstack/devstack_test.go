package devstack

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/omnitrackiq/omnitrackiq/internal/auth"
	"github.com/omnitrackiq/omnitrackiq/internal/testdb"
)

func TestEnsureDemoUser(t *testing.T) {
	ctx := context.Background()
	st, _ := testdb.New(t)
	if err := st.EnsureWorkspace(ctx, DemoWorkspaceID, DemoWorkspaceName, "USD", "America/New_York"); err != nil {
		t.Fatal(err)
	}
	pwFile := filepath.Join(t.TempDir(), "demo-password")
	pw, err := devPassword(pwFile)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := devPassword(pwFile); again != pw || auth.ValidatePassword(pw) != nil {
		t.Fatalf("password %q then %q", pw, again)
	}
	// Twice is the same as once; a changed password file wins on the next run.
	for _, p := range []string{pw, pw, "a different demo password"} {
		if err := EnsureDemoUser(ctx, st, p); err != nil {
			t.Fatal(err)
		}
		u, err := st.UserByEmail(ctx, DemoUserEmail)
		if err != nil {
			t.Fatal(err)
		}
		if auth.CheckPassword(u.PasswordHash, p) != nil {
			t.Fatalf("demo user does not take %q", p)
		}
		if role, err := st.MembershipRole(ctx, u.ID, DemoWorkspaceID); err != nil || role != "owner" {
			t.Fatalf("role %q, %v", role, err)
		}
	}
	var users int
	if err := st.Pool.QueryRow(ctx, `SELECT count(*) FROM users`).Scan(&users); err != nil {
		t.Fatal(err)
	}
	if users != 1 {
		t.Fatalf("%d users after three seeds", users)
	}
	if fi, err := os.Stat(pwFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("password file %v %v", fi, err)
	}
}
