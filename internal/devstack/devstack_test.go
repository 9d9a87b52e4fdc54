package devstack

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/omnitrackiq/omnitrackiq/internal/auth"
	"github.com/omnitrackiq/omnitrackiq/internal/config"
	"github.com/omnitrackiq/omnitrackiq/internal/stripeapi"
	"github.com/omnitrackiq/omnitrackiq/internal/stripemock"
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

// TestEnsureStripe: `make dev` puts a working local Stripe into the configuration it hands
// the API and the worker.
func TestEnsureStripe(t *testing.T) {
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	o := Options{DataDir: t.TempDir()}
	cfg := config.Config{Billing: config.Billing{StripeAPIBase: realStripeAPIBase}}

	s, stop, err := ensureStripe(ctx, o, &cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.StripeAPIBase != s.OverlayURL || !strings.HasPrefix(s.OverlayURL, "http://127.0.0.1:") ||
		!strings.HasPrefix(s.MockURL, "http://127.0.0.1:") {
		t.Fatalf("STRIPE_API_BASE %q, local stripe %+v", cfg.StripeAPIBase, s)
	}
	if cfg.StripeSecretKey != devStripeKey {
		t.Fatalf("STRIPE_SECRET_KEY %q", cfg.StripeSecretKey)
	}
	secretFile := filepath.Join(o.DataDir, stripemock.DevWebhookSecretFile)
	b, err := os.ReadFile(secretFile)
	if err != nil || strings.TrimSpace(string(b)) != cfg.StripeWebhookSecret || !strings.HasPrefix(cfg.StripeWebhookSecret, "whsec_") {
		t.Fatalf("webhook secret %q, file %q %v", cfg.StripeWebhookSecret, b, err)
	}
	if fi, _ := os.Stat(secretFile); fi.Mode().Perm() != 0o600 {
		t.Fatalf("secret file mode %v", fi.Mode())
	}
	baseFile := filepath.Join(o.DataDir, stripemock.DevAPIBaseFile)
	if b, _ := os.ReadFile(baseFile); strings.TrimSpace(string(b)) != s.OverlayURL {
		t.Fatalf("%s holds %q", baseFile, b)
	}
	// The configuration works: the overlay answers its admin API, and stripe-mock takes the
	// key and answers reads with the state set in the overlay.
	if err := (stripemock.Admin{BaseURL: cfg.StripeAPIBase}).Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if err := (stripemock.Admin{BaseURL: cfg.StripeAPIBase}).Set(ctx, "/v1/subscriptions/sub_dev",
		map[string]any{"status": "past_due"}); err != nil {
		t.Fatal(err)
	}
	sc, err := stripeapi.New(stripeapi.Config{SecretKey: cfg.StripeSecretKey, BaseURL: cfg.StripeAPIBase})
	if err != nil {
		t.Fatal(err)
	}
	if sub, err := sc.GetSubscription(ctx, "sub_dev"); err != nil || sub.Status != "past_due" {
		t.Fatalf("subscription through the dev config: %+v %v", sub, err)
	}

	// A second stack while the first runs: other ports, the same secret; settings given in
	// the environment are kept.
	cfg2 := config.Config{Billing: config.Billing{StripeAPIBase: realStripeAPIBase, StripeSecretKey: "sk_test_fromenv"}}
	s2, stop2, err := ensureStripe(ctx, o, &cfg2, log)
	if err != nil {
		t.Fatal(err)
	}
	if s2.OverlayURL == s.OverlayURL || s2.MockURL == s.MockURL {
		t.Fatalf("two stacks share %+v", s2)
	}
	if cfg2.StripeWebhookSecret != cfg.StripeWebhookSecret || cfg2.StripeSecretKey != "sk_test_fromenv" {
		t.Fatalf("second run: secret kept %t, key %q", cfg2.StripeWebhookSecret == cfg.StripeWebhookSecret, cfg2.StripeSecretKey)
	}
	stop2()
	stop()
	if _, err := os.Stat(baseFile); !os.IsNotExist(err) {
		t.Fatalf("%s left after stop: %v", baseFile, err)
	}
	if err := (stripemock.Admin{BaseURL: s.OverlayURL}).Ping(ctx); err == nil {
		t.Fatal("the overlay still answers after stop")
	}

	// STRIPE_API_BASE naming another server: nothing started, the given settings kept.
	cfg3 := config.Config{Billing: config.Billing{StripeAPIBase: "http://127.0.0.1:1", StripeWebhookSecret: "whsec_given"}}
	s3, stop3, err := ensureStripe(ctx, Options{DataDir: t.TempDir()}, &cfg3, log)
	if err != nil {
		t.Fatal(err)
	}
	defer stop3()
	if s3 != (localStripe{}) || cfg3.StripeAPIBase != "http://127.0.0.1:1" || cfg3.StripeWebhookSecret != "whsec_given" || cfg3.StripeSecretKey != "" {
		t.Fatalf("with STRIPE_API_BASE set: %+v %+v", s3, cfg3.Billing)
	}
}

func TestLocalURL(t *testing.T) {
	for addr, want := range map[string]string{
		":8080":          "http://127.0.0.1:8080",
		"0.0.0.0:8080":   "http://127.0.0.1:8080",
		"[::]:8080":      "http://127.0.0.1:8080",
		"127.0.0.1:9000": "http://127.0.0.1:9000",
		"localhost:8080": "http://localhost:8080",
		"[::1]:8080":     "http://[::1]:8080",
	} {
		if got := localURL(addr); got != want {
			t.Errorf("localURL(%q) = %q, want %q", addr, got, want)
		}
	}
}
