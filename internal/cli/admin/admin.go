// Package admin is the `omnitrackiq admin` command: operator tasks run against the database
// directly, such as creating the first owner of a server whose sign-up is invite-only.
package admin

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/mail"
	"strings"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/auth"
	"github.com/omnitrackiq/omnitrackiq/internal/money"
	"github.com/omnitrackiq/omnitrackiq/internal/store"
)

// Exit codes.
const (
	ExitOK      = 0
	ExitFailure = 1 // the database refused or failed (e.g. the email is taken)
	ExitUsage   = 2 // bad arguments
)

const usage = `usage: omnitrackiq admin create-user --email E --name N --workspace W [--currency USD] [--timezone UTC] [--password-stdin]

create-user creates a user, a workspace and makes the user its owner. Without
--password-stdin a password is generated and printed once; with it, the first line of
standard input is the password. DATABASE_URL names the database.
`

// Opener connects to the database.
type Opener func(ctx context.Context) (*store.Store, error)

// Run runs `omnitrackiq admin <args>` and returns the exit code.
func Run(ctx context.Context, args []string, open Opener, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "create-user" {
		fmt.Fprint(stderr, usage)
		return ExitUsage
	}
	return createUser(ctx, args[1:], open, stdin, stdout, stderr)
}

func createUser(ctx context.Context, args []string, open Opener, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("admin create-user", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	email := fs.String("email", "", "the user's email (required)")
	name := fs.String("name", "", "the user's name (required)")
	workspace := fs.String("workspace", "", "the name of the workspace the user will own (required)")
	currency := fs.String("currency", "USD", "the workspace's ISO 4217 currency")
	timezone := fs.String("timezone", "UTC", "the workspace's IANA time zone")
	fromStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input")
	if err := fs.Parse(args); err != nil {
		return ExitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "unexpected arguments: %s\n\n%s", strings.Join(fs.Args(), " "), usage)
		return ExitUsage
	}
	var problems []string
	addr := store.NormalizeEmail(*email)
	if a, err := mail.ParseAddress(addr); addr == "" || err != nil || a.Address != addr || a.Name != "" {
		problems = append(problems, "--email must be an email address such as ann@example.com")
	}
	if strings.TrimSpace(*name) == "" {
		problems = append(problems, "--name is required")
	}
	if strings.TrimSpace(*workspace) == "" {
		problems = append(problems, "--workspace is required")
	}
	cur := strings.ToUpper(strings.TrimSpace(*currency))
	if !money.IsCurrencyCode(cur) {
		problems = append(problems, "--currency must be a 3-letter ISO 4217 code such as USD")
	}
	if _, err := time.LoadLocation(*timezone); err != nil || *timezone == "" || *timezone == "Local" {
		problems = append(problems, "--timezone must be an IANA time zone such as Europe/Paris")
	}
	password, generated := "", false
	if *fromStdin {
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			fmt.Fprintf(stderr, "read the password from standard input: %v\n", err)
			return ExitFailure
		}
		password = strings.TrimRight(line, "\r\n")
		if err := auth.ValidatePassword(password); err != nil {
			problems = append(problems, "the password "+err.Error())
		}
	} else {
		b := make([]byte, 18)
		if _, err := rand.Read(b); err != nil {
			fmt.Fprintf(stderr, "generate a password: %v\n", err)
			return ExitFailure
		}
		password, generated = base64.RawURLEncoding.EncodeToString(b), true
	}
	if len(problems) > 0 {
		fmt.Fprintf(stderr, "%s\n\n%s", strings.Join(problems, "\n"), usage)
		return ExitUsage
	}

	hash, err := auth.HashPassword(password)
	if err != nil {
		fmt.Fprintf(stderr, "hash the password: %v\n", err)
		return ExitFailure
	}
	st, err := open(ctx)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return ExitFailure
	}
	defer st.Close()
	u, w, err := st.CreateAccount(ctx, store.NewAccount{Email: addr, Name: strings.TrimSpace(*name), PasswordHash: hash,
		Workspace: strings.TrimSpace(*workspace), Currency: cur, Timezone: *timezone})
	if errors.Is(err, store.ErrConflict) {
		fmt.Fprintf(stderr, "a user with email %s already exists; nothing was created\n", addr)
		return ExitFailure
	}
	if err != nil {
		fmt.Fprintf(stderr, "create the user: %v\n", err)
		return ExitFailure
	}
	if err := store.AppendAudit(ctx, st.Pool, store.AuditEntry{WorkspaceID: w.ID, Actor: "omnitrackiq admin",
		Action: "admin.user_created", TargetType: "user", TargetID: u.ID}); err != nil {
		fmt.Fprintf(stderr, "warning: %v\n", err)
	}
	fmt.Fprintf(stdout, "created user %s (%s), owner of workspace %q (%s)\n", u.Email, u.ID, w.Name, w.ID)
	if generated {
		fmt.Fprintf(stdout, "password: %s\n(shown once; sign in and change it with POST /v1/me/password)\n", password)
	}
	return ExitOK
}
