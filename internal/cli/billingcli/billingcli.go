// Package billingcli is the `omnitrackiq billing` command: `simulate` posts correctly signed
// Stripe events to the local webhook (giving Stripe's side the matching state when Stripe is
// the stripemock overlay of `make dev`), so a person can watch dunning unfold; `state`,
// `extend-grace` and `advance` are support's window on a running dunning workflow, the last
// two audited.
package billingcli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/omnitrackiq/omnitrackiq/internal/config"
	"github.com/omnitrackiq/omnitrackiq/internal/store"
	"github.com/omnitrackiq/omnitrackiq/internal/stripemock"
)

// Exit codes.
const (
	ExitOK      = 0
	ExitFailure = 1 // the webhook, the database, Temporal or the workflow refused or failed
	ExitUsage   = 2 // bad arguments
)

const usage = `usage: omnitrackiq billing <command> [flags]

commands:
  simulate --workspace ID --event E [--plan P] [--api URL] [--event-id evt_...]
      post a signed Stripe event to {api}/webhooks/stripe (api defaults to PUBLIC_URL). E is one of
        checkout_completed (needs --plan starter|pro|agency), subscription_updated ([--plan P]),
        trial_will_end, trial_ended, payment_failed, action_required, paid,
        payment_method_updated, subscription_canceled.
      When STRIPE_API_BASE is the stripe-mock overlay of ` + "`make dev`" + `, the subscription, invoice and
      customer are first given the state the event describes, so the webhook's re-read agrees.
      --event-id resends an event id (a duplicate delivery).
  state --workspace ID
      print the running dunning workflow's state (its "state" query) as JSON.
  extend-grace --workspace ID --days N --reason R --by NAME
      push every later step of the dunning episode back by N days (audited).
  advance --workspace ID --reason R --by NAME
      move the dunning episode to its next step now (audited).

configuration: DATABASE_URL, TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, STRIPE_API_BASE,
STRIPE_WEBHOOK_SECRET, STRIPE_PRICE_*, PUBLIC_URL. Under ` + "`make dev`" + `, STRIPE_WEBHOOK_SECRET and
STRIPE_API_BASE are read from .dev/ when not set.
`

// Options configures Run.
type Options struct {
	Config config.Config
	// DevDir is `make dev`'s data directory (default .dev). simulate reads the webhook
	// secret and the overlay's URL there when the configuration leaves them unset.
	DevDir string
	// HTTP calls the webhook and the overlay; default a client with a 30 s timeout.
	HTTP *http.Client
}

// Run runs `omnitrackiq billing <args>` and returns the exit code.
func Run(ctx context.Context, o Options, args []string, stdout, stderr io.Writer) int {
	if o.DevDir == "" {
		o.DevDir = ".dev"
	}
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return ExitUsage
	}
	switch args[0] {
	case "simulate":
		return simulate(ctx, o, args[1:], stdout, stderr)
	case "state":
		return state(ctx, o, args[1:], stdout, stderr)
	case "extend-grace":
		return extendGrace(ctx, o, args[1:], stdout, stderr)
	case "advance":
		return advance(ctx, o, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return ExitOK
	}
	fmt.Fprintf(stderr, "unknown billing command %q\n\n%s", args[0], usage)
	return ExitUsage
}

// fail prints a one-line failure and returns ExitFailure.
func fail(stderr io.Writer, cmd string, err error) int {
	fmt.Fprintf(stderr, "billing %s: %v\n", cmd, err)
	return ExitFailure
}

// usageError prints problems and the usage and returns ExitUsage.
func usageError(stderr io.Writer, problems ...string) int {
	fmt.Fprintf(stderr, "%s\n\n%s", strings.Join(problems, "\n"), usage)
	return ExitUsage
}

// loadAccount opens the database and reads the workspace's billing account.
func loadAccount(ctx context.Context, cfg config.Config, workspaceID string) (*store.Store, store.BillingAccount, error) {
	st, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, store.BillingAccount{}, err
	}
	acct, err := st.GetBillingAccount(ctx, workspaceID)
	if errors.Is(err, store.ErrNotFound) {
		st.Close()
		return nil, store.BillingAccount{}, fmt.Errorf("no workspace %s", workspaceID)
	}
	if err != nil {
		st.Close()
		return nil, store.BillingAccount{}, err
	}
	return st, acct, nil
}

// devValue reads a setting `make dev` keeps in a file of DevDir; "" when there is none.
func devValue(o Options, name string) string {
	b, err := os.ReadFile(filepath.Join(o.DevDir, name))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// webhookSecret is STRIPE_WEBHOOK_SECRET, else the one `make dev` generated.
func webhookSecret(o Options) (string, error) {
	if s := o.Config.StripeWebhookSecret; s != "" {
		return s, nil
	}
	if s := devValue(o, stripemock.DevWebhookSecretFile); s != "" {
		return s, nil
	}
	return "", fmt.Errorf("STRIPE_WEBHOOK_SECRET is not set, and %s holds none (`make dev` generates it there)",
		filepath.Join(o.DevDir, stripemock.DevWebhookSecretFile))
}

// realStripeAPIBase is STRIPE_API_BASE's default.
const realStripeAPIBase = "https://api.stripe.com"

// stripeBase is STRIPE_API_BASE, or the overlay `make dev` runs when STRIPE_API_BASE is
// left at its default (simulating against real Stripe could not give objects state).
func stripeBase(o Options) string {
	if o.Config.StripeAPIBase == realStripeAPIBase || o.Config.StripeAPIBase == "" {
		if s := devValue(o, stripemock.DevAPIBaseFile); s != "" {
			return s
		}
	}
	if o.Config.StripeAPIBase == "" {
		return realStripeAPIBase
	}
	return o.Config.StripeAPIBase
}
