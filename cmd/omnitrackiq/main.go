// Command omnitrackiq runs every OmniTrackIQ process: the API, the Temporal worker,
// migrations, the provider sandbox, one-off connector reads and the local dev stack.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/golang-migrate/migrate/v4"

	"github.com/omnitrackiq/omnitrackiq/internal/app"
	"github.com/omnitrackiq/omnitrackiq/internal/cli/admin"
	"github.com/omnitrackiq/omnitrackiq/internal/cli/billingcli"
	"github.com/omnitrackiq/omnitrackiq/internal/cli/connectorrun"
	"github.com/omnitrackiq/omnitrackiq/internal/cli/keys"
	"github.com/omnitrackiq/omnitrackiq/internal/config"
	"github.com/omnitrackiq/omnitrackiq/internal/dbmigrate"
	"github.com/omnitrackiq/omnitrackiq/internal/devstack"
	"github.com/omnitrackiq/omnitrackiq/internal/httpserver"
	"github.com/omnitrackiq/omnitrackiq/internal/sandbox"
	sandboxshopify "github.com/omnitrackiq/omnitrackiq/internal/sandbox/shopify"
	"github.com/omnitrackiq/omnitrackiq/internal/store"
)

const usage = `usage: omnitrackiq <command> [arguments]

commands:
  api                      serve the REST API (API_ADDR)
  worker                   run the Temporal workers
  migrate up|down|version  apply, roll back one, or show database migrations
  dev                      run the whole product locally (Temporal dev server, sandbox, API, worker, demo data);
                           refuses a DATABASE_URL on another machine unless DEV_ALLOW_REMOTE_DATABASE=true
  sandbox                  serve the fake provider APIs (SANDBOX_ADDR); its admin endpoints deliver
                           webhooks only to SANDBOX_API_URL (default PUBLIC_URL)
  keys rotate [--batch N]  re-seal every connection token under the current ENCRYPTION_KEY
  connector run ...        read one account of any channel (meta, google_ads, tiktok, shopify, ga4) and print rows as JSON Lines
  admin create-user ...    create a user and a workspace they own (the first owner when SIGNUP=invite-only)
  billing simulate ...     post a signed Stripe event to the local webhook (dunning by hand; see billing --help)
  billing state|extend-grace|advance ...
                           show a workspace's dunning workflow, or move it on by Update (support; audited)

configuration comes from environment variables; see .env.example.
`

func main() {
	// gin prints its route table in its default debug mode; GIN_MODE=debug brings it back.
	if os.Getenv("GIN_MODE") == "" {
		gin.SetMode(gin.ReleaseMode)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	if args[0] == "connector" {
		if len(args) < 2 || args[1] != "run" {
			fmt.Fprintln(stderr, "usage: omnitrackiq connector run --channel meta|google_ads|tiktok|shopify|ga4 --base-url URL --account ID --token T --from YYYY-MM-DD --to YYYY-MM-DD (see --help)")
			return 2
		}
		return connectorrun.Run(ctx, args[2:], stdout, stderr)
	}
	cfg, err := config.FromEnv()
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	if args[0] == "admin" {
		open := func(ctx context.Context) (*store.Store, error) { return store.Open(ctx, cfg.DatabaseURL) }
		return admin.Run(ctx, args[1:], open, os.Stdin, stdout, stderr)
	}
	logger := cfg.Logger()
	switch args[0] {
	case "api":
		err = runAPI(ctx, cfg, logger)
	case "worker":
		err = runWorker(ctx, cfg, logger)
	case "migrate":
		err = runMigrate(cfg, args[1:], stdout)
	case "sandbox":
		err = runSandbox(ctx, cfg, logger)
	case "keys":
		return keys.Run(ctx, cfg, args[1:], stdout, stderr)
	case "billing":
		return billingcli.Run(ctx, billingcli.Options{Config: cfg}, args[1:], stdout, stderr)
	case "dev":
		var httpOpts httpserver.Options
		if httpOpts, err = httpOptions(logger); err == nil {
			err = devstack.Run(ctx, devstack.Options{Config: cfg, Logger: logger, Out: stdout, HTTP: httpOpts})
		}
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if err != nil {
		logger.Error("exiting", "command", args[0], "err", err)
		return 1
	}
	return 0
}

func runAPI(ctx context.Context, cfg config.Config, logger *slog.Logger) error {
	deps, err := app.Open(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer deps.Close()
	h, err := deps.APIHandler()
	if err != nil {
		return err
	}
	return serve(ctx, logger, cfg.APIAddr, h)
}

// httpOptions reads the servers' timeouts and header limit (HTTP_READ_HEADER_TIMEOUT,
// HTTP_READ_TIMEOUT, HTTP_WRITE_TIMEOUT, HTTP_IDLE_TIMEOUT, HTTP_MAX_HEADER_BYTES).
func httpOptions(logger *slog.Logger) (httpserver.Options, error) {
	o, err := httpserver.OptionsFromEnv(os.LookupEnv)
	if err != nil {
		return httpserver.Options{}, err
	}
	o.Logger = logger
	return o, nil
}

func runWorker(ctx context.Context, cfg config.Config, logger *slog.Logger) error {
	deps, err := app.Open(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer deps.Close()
	logger.Info("worker started", "temporal", cfg.TemporalAddress, "namespace", cfg.TemporalNamespace)
	return deps.Workers().Run(ctx)
}

// envSandboxAPIURL names the API the sandbox's admin endpoints may deliver webhooks to
// (comma-separated base URLs); PUBLIC_URL when unset.
const envSandboxAPIURL = "SANDBOX_API_URL"

func runSandbox(ctx context.Context, cfg config.Config, logger *slog.Logger) error {
	raw := []string{cfg.PublicURL}
	if v := os.Getenv(envSandboxAPIURL); v != "" {
		raw = strings.Split(v, ",")
	}
	api, err := sandboxshopify.ParseWebhookTargets(raw...)
	if err != nil {
		return fmt.Errorf("%s: %w", envSandboxAPIURL, err)
	}
	logger.Info("sandbox admin webhooks deliver only to the API", "api", api.String())
	return serve(ctx, logger, cfg.SandboxAddr, sandbox.New(sandbox.Config{API: api}))
}

func runMigrate(cfg config.Config, args []string, stdout io.Writer) error {
	if len(args) != 1 {
		return errors.New("usage: omnitrackiq migrate up|down|version")
	}
	m, err := dbmigrate.New(cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer m.Close()
	switch args[0] {
	case "up":
		err = m.Up()
	case "down":
		err = m.Steps(-1)
	case "version":
		v, dirty, verr := m.Version()
		if errors.Is(verr, migrate.ErrNilVersion) {
			fmt.Fprintln(stdout, "no migration applied")
			return nil
		}
		if verr != nil {
			return fmt.Errorf("read migration version: %w", verr)
		}
		fmt.Fprintf(stdout, "version %d (dirty: %t)\n", v, dirty)
		return nil
	default:
		return fmt.Errorf("unknown migrate command %q: want up, down or version", args[0])
	}
	if errors.Is(err, migrate.ErrNoChange) {
		fmt.Fprintln(stdout, "no change")
		return nil
	}
	if err != nil {
		return fmt.Errorf("migrate %s: %w", args[0], err)
	}
	fmt.Fprintf(stdout, "migrate %s: done\n", args[0])
	return nil
}

// serve runs an HTTP server with httpserver's limits until ctx is done, then drains it.
func serve(ctx context.Context, logger *slog.Logger, addr string, h http.Handler) error {
	o, err := httpOptions(logger)
	if err != nil {
		return err
	}
	srv := httpserver.New(addr, h, o)
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	logger.Info("listening", "addr", addr)
	select {
	case err := <-errc:
		return fmt.Errorf("serve %s: %w", addr, err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(shutdownCtx)
}
