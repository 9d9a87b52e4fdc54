package admin_test

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/omnitrackiq/omnitrackiq/internal/auth"
	"github.com/omnitrackiq/omnitrackiq/internal/cli/admin"
	"github.com/omnitrackiq/omnitrackiq/internal/store"
	"github.com/omnitrackiq/omnitrackiq/internal/testdb"
)

func TestCreateUser(t *testing.T) {
	ctx := context.Background()
	st, dbURL := testdb.New(t)
	open := func(ctx context.Context) (*store.Store, error) { return store.Open(ctx, dbURL) }
	run := func(stdin string, args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := admin.Run(ctx, args, open, strings.NewReader(stdin), &out, &errOut)
		return code, out.String(), errOut.String()
	}
	count := func(table string) int {
		var n int
		if err := st.Pool.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	// A generated password, printed once, that signs in.
	code, out, errOut := run("", "create-user", "--email", "Owner@Example.com", "--name", "Olive", "--workspace", "Acme",
		"--currency", "eur", "--timezone", "Europe/Paris")
	if code != admin.ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	pw := regexp.MustCompile(`password: (\S+)`).FindStringSubmatch(out)
	if pw == nil {
		t.Fatalf("no password printed: %s", out)
	}
	u, err := st.UserByEmail(ctx, "owner@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if auth.CheckPassword(u.PasswordHash, pw[1]) != nil || u.Name != "Olive" {
		t.Fatalf("user %+v does not take the printed password", u)
	}
	ms, err := st.MembershipsOfUser(ctx, u.ID)
	if err != nil || len(ms) != 1 || ms[0].Role != "owner" || ms[0].WorkspaceName != "Acme" {
		t.Fatalf("memberships %+v %v", ms, err)
	}
	w, _ := st.GetWorkspace(ctx, ms[0].WorkspaceID)
	if w.Currency != "EUR" || w.Timezone != "Europe/Paris" {
		t.Fatalf("workspace %+v", w)
	}

	// The password from standard input, never echoed.
	code, out, errOut = run("a long chosen password\n", "create-user", "--email", "two@example.com", "--name", "Two",
		"--workspace", "Two Co", "--password-stdin")
	if code != admin.ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if strings.Contains(out, "a long chosen password") || strings.Contains(out, "password:") {
		t.Fatalf("the password was printed: %s", out)
	}
	two, _ := st.UserByEmail(ctx, "two@example.com")
	if auth.CheckPassword(two.PasswordHash, "a long chosen password") != nil {
		t.Fatal("stdin password not set")
	}

	users, workspaces := count("users"), count("workspaces")
	for _, tc := range []struct {
		name  string
		stdin string
		args  []string
		code  int
		says  string
	}{
		{"no command", "", nil, admin.ExitUsage, "usage"},
		{"unknown command", "", []string{"delete-user"}, admin.ExitUsage, "usage"},
		{"taken email", "", []string{"create-user", "--email", "OWNER@example.com", "--name", "X", "--workspace", "X"}, admin.ExitFailure, "already exists"},
		{"no email", "", []string{"create-user", "--name", "X", "--workspace", "X"}, admin.ExitUsage, "--email"},
		{"bad email", "", []string{"create-user", "--email", "x", "--name", "X", "--workspace", "X"}, admin.ExitUsage, "--email"},
		{"no workspace", "", []string{"create-user", "--email", "x@example.com", "--name", "X"}, admin.ExitUsage, "--workspace"},
		{"bad currency", "", []string{"create-user", "--email", "x@example.com", "--name", "X", "--workspace", "X", "--currency", "EURO"}, admin.ExitUsage, "--currency"},
		{"bad timezone", "", []string{"create-user", "--email", "x@example.com", "--name", "X", "--workspace", "X", "--timezone", "Nowhere"}, admin.ExitUsage, "--timezone"},
		{"short stdin password", "short\n", []string{"create-user", "--email", "x@example.com", "--name", "X", "--workspace", "X", "--password-stdin"}, admin.ExitUsage, "password must be at least"},
		{"stray argument", "", []string{"create-user", "--email", "x@example.com", "--name", "X", "--workspace", "X", "extra"}, admin.ExitUsage, "unexpected"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := run(tc.stdin, tc.args...)
			if code != tc.code || !strings.Contains(errOut, tc.says) {
				t.Fatalf("exit %d, stderr %q; want %d saying %q", code, errOut, tc.code, tc.says)
			}
		})
	}
	if count("users") != users || count("workspaces") != workspaces {
		t.Fatal("a refused create-user wrote rows")
	}
}
