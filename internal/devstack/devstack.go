// Package devstack runs the whole product on one machine for local development: the
// Temporal dev server with its Web UI, mailpit (which catches every email), the provider
// sandbox, stripe-mock behind the stripemock overlay (a local Stripe), migrations, the API, the worker, and a seeded demo workspace with its connections,
// their schedules and backfills, and a demo user who owns it.
package devstack

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/testsuite"

	"github.com/omnitrackiq/omnitrackiq/internal/app"
	"github.com/omnitrackiq/omnitrackiq/internal/auth"
	"github.com/omnitrackiq/omnitrackiq/internal/billing"
	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	"github.com/omnitrackiq/omnitrackiq/internal/config"
	"github.com/omnitrackiq/omnitrackiq/internal/dbmigrate"
	"github.com/omnitrackiq/omnitrackiq/internal/httpserver"
	"github.com/omnitrackiq/omnitrackiq/internal/mailpit"
	"github.com/omnitrackiq/omnitrackiq/internal/report"
	"github.com/omnitrackiq/omnitrackiq/internal/reporting"
	"github.com/omnitrackiq/omnitrackiq/internal/sandbox"
	sandboxga4 "github.com/omnitrackiq/omnitrackiq/internal/sandbox/ga4"
	sandboxgoogleads "github.com/omnitrackiq/omnitrackiq/internal/sandbox/googleads"
	sandboxmeta "github.com/omnitrackiq/omnitrackiq/internal/sandbox/meta"
	sandboxshopify "github.com/omnitrackiq/omnitrackiq/internal/sandbox/shopify"
	sandboxtiktok "github.com/omnitrackiq/omnitrackiq/internal/sandbox/tiktok"
	"github.com/omnitrackiq/omnitrackiq/internal/secretbox"
	"github.com/omnitrackiq/omnitrackiq/internal/store"
	"github.com/omnitrackiq/omnitrackiq/internal/stripemock"
	"github.com/omnitrackiq/omnitrackiq/workflows"
)

// Demo workspace identity. The key is derived, not random, so that re-running `make dev`
// keeps working with the key printed the first time. It is for local use only.
const (
	DemoWorkspaceID   = "00000000-0000-4000-8000-00000000d3e0"
	DemoWorkspaceName = "Demo Store"
	demoBackfillDays  = 90
	// DemoUserEmail signs in as the demo workspace's owner; the password is generated
	// once into .dev/demo-password and printed in the banner.
	DemoUserEmail = "demo@omnitrackiq.local"
	demoUserName  = "Demo Owner"
)

// Where `make dev` runs mailpit when SMTP_URL is left at its default.
const (
	mailpitSMTPAddr = "127.0.0.1:1025"
	mailpitHTTPAddr = "127.0.0.1:8025"
	defaultSMTPURL  = "smtp://" + mailpitSMTPAddr
)

// Where `make dev` runs the local Stripe when the ports are free (else on free ports):
// stripe-mock on its default ports (HTTP 12111, HTTPS 12112) and the overlay that keeps
// Stripe's state in front of it, which the API and the worker call.
const (
	stripeMockAddr    = "127.0.0.1:12111"
	stripeOverlayAddr = "127.0.0.1:12110"
	realStripeAPIBase = "https://api.stripe.com"
	// devStripeKey is the secret key the API and worker send to stripe-mock, which accepts
	// any key shaped sk_test_ plus letters and digits (no underscore after the prefix).
	devStripeKey = "sk_test_omnitrackiqdev"
)

// DemoAPIKey is the demo workspace's API key.
func DemoAPIKey() string {
	h := sha256.Sum256([]byte("omnitrackiq local demo workspace"))
	return "otq_" + base64.RawURLEncoding.EncodeToString(h[:])
}

// Options configures Run.
type Options struct {
	Config config.Config
	Logger *slog.Logger
	Out    io.Writer
	// TemporalBin is the Temporal CLI; default ./bin/temporal.
	TemporalBin string
	// MailpitBin is mailpit; default $MAILPIT, else ./bin/mailpit.
	MailpitBin string
	// StripeMockBin is stripe-mock; default $STRIPE_MOCK, else ./bin/stripe-mock.
	StripeMockBin string
	// DataDir holds the dev server database, logs and generated secrets; default ./.dev.
	DataDir string
	// AllowRemoteDatabase lets DATABASE_URL name another machine (so does
	// DEV_ALLOW_REMOTE_DATABASE=true); without it Run refuses before it starts anything.
	AllowRemoteDatabase bool
	// HTTP sets the timeouts and header limit of the servers Run starts (the sandbox, the
	// API and the stripe-mock overlay); zero fields take httpserver's defaults.
	HTTP httpserver.Options
}

// Run starts everything not already running, seeds the demo workspace and blocks until
// ctx is done, then stops what it started. It refuses a DATABASE_URL that is not on this
// machine unless told otherwise (CheckLocalDatabase).
func Run(ctx context.Context, o Options) error {
	// Before anything is created or started: the demo key must not land in a shared database.
	if err := checkDatabaseGuard(o, o.Config.DatabaseURL); err != nil {
		return err
	}
	if o.TemporalBin == "" {
		o.TemporalBin = filepath.Join("bin", "temporal")
	}
	if o.DataDir == "" {
		o.DataDir = ".dev"
	}
	if err := os.MkdirAll(o.DataDir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", o.DataDir, err)
	}
	cfg := o.Config
	log := o.Logger

	if cfg.EncryptionKey == "" {
		key, err := devSecret(filepath.Join(o.DataDir, "encryption.key"))
		if err != nil {
			return err
		}
		cfg.EncryptionKey = key
	}
	if cfg.JWTSecret == "" {
		key, err := devSecret(filepath.Join(o.DataDir, "jwt.key"))
		if err != nil {
			return err
		}
		cfg.JWTSecret = key
	}

	// Report webhooks may reach local receivers in development (REPORT_WEBHOOK_ALLOW_PRIVATE
	// unset means allowed here, never in `omnitrackiq api`/`worker`).
	if _, set := os.LookupEnv("REPORT_WEBHOOK_ALLOW_PRIVATE"); !set {
		cfg.WebhookAllowPrivate = true
	}

	demoPassword, err := devPassword(filepath.Join(o.DataDir, "demo-password"))
	if err != nil {
		return err
	}

	stopTemporal, err := ensureTemporal(ctx, o, cfg, log)
	if err != nil {
		return err
	}
	defer stopTemporal()

	mailUI, stopMail, err := ensureMailpit(ctx, o, cfg, log)
	if err != nil {
		return err
	}
	defer stopMail()

	stripe, stopStripe, err := ensureStripe(ctx, o, &cfg, log)
	if err != nil {
		return err
	}
	defer stopStripe()

	if err := ensureDatabase(ctx, cfg.DatabaseURL); err != nil {
		return err
	}
	if err := dbmigrate.Up(cfg.DatabaseURL); err != nil {
		return err
	}

	sandboxURL := "http://" + cfg.SandboxAddr
	apiURL := localURL(cfg.APIAddr)
	targets, err := sandboxshopify.ParseWebhookTargets(apiURL, cfg.PublicURL)
	if err != nil {
		return fmt.Errorf("sandbox webhook targets: %w", err)
	}
	sb := httpserver.New(cfg.SandboxAddr, sandbox.New(sandbox.Config{API: targets}), o.HTTP)
	if err := listen(sb); err != nil {
		return fmt.Errorf("start sandbox on %s: %w", cfg.SandboxAddr, err)
	}
	defer sb.Close()
	pointAtSandbox(&cfg, sandboxURL)

	deps, err := app.Open(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer deps.Close()
	// A server started elsewhere may not know our search attributes yet.
	if err := app.EnsureSearchAttributes(ctx, deps.Temporal, cfg.TemporalNamespace); err != nil {
		return err
	}
	workers := deps.Workers()
	if err := workers.Start(); err != nil {
		return err
	}
	defer workers.Stop()
	apiHandler, err := deps.APIHandler()
	if err != nil {
		return err
	}
	apiSrv := httpserver.New(cfg.APIAddr, apiHandler, o.HTTP)
	if err := listen(apiSrv); err != nil {
		return fmt.Errorf("start API on %s: %w", cfg.APIAddr, err)
	}
	defer apiSrv.Close()

	seeded, err := Seed(ctx, deps)
	if err != nil {
		return fmt.Errorf("seed demo workspace: %w", err)
	}
	if err := EnsureDemoUser(ctx, deps.Store, demoPassword); err != nil {
		return fmt.Errorf("seed demo user: %w", err)
	}
	printBanner(o.Out, cfg, seeded, sandboxURL, demoPassword, mailUI, stripe)
	<-ctx.Done()
	log.Info("stopping dev stack")
	return nil
}

// SeedResult names what Seed created or found; ConnectionID and Backfill are the Meta
// connection's, which the banner's examples use.
type SeedResult struct {
	ConnectionID string
	Backfill     string
	Connections  []SeededConnection
	// ReportID is the demo weekly report (mailed to the demo user on Mondays at 08:00).
	ReportID string
}

// Seed makes sure the demo workspace, its API key, its Meta connection to the sandbox and
// the connection's schedule exist, and starts a 90-day backfill. Running it again reuses
// what exists.
func Seed(ctx context.Context, d *app.Deps) (SeedResult, error) {
	st := d.Store
	if err := st.EnsureWorkspace(ctx, DemoWorkspaceID, DemoWorkspaceName, "USD", "America/New_York"); err != nil {
		return SeedResult{}, err
	}
	// The demo has a connection per channel, more than the free plan allows: it starts on
	// pro without a subscription, so its schedules run. A simulated checkout replaces that.
	acc, err := st.GetBillingAccount(ctx, DemoWorkspaceID)
	if err != nil {
		return SeedResult{}, err
	}
	if acc.StripeSubscriptionID == "" && acc.Plan == billing.Free {
		if err := st.SetPlan(ctx, DemoWorkspaceID, billing.Pro, ""); err != nil {
			return SeedResult{}, err
		}
	}
	key := DemoAPIKey()
	sum := sha256.Sum256([]byte(key))
	if err := st.EnsureAPIKey(ctx, DemoWorkspaceID, "demo", key[:12], sum[:]); err != nil {
		return SeedResult{}, err
	}
	svc := d.SyncService()
	// The demo backfills every connection at once, past a workspace's usual caps.
	demos := demoConnections()
	svc.MaxBackfills, svc.MaxBackfillWindows = len(demos), len(demos)*workflows.DefaultBackfillConcurrency
	var out SeedResult
	for _, demo := range demos {
		conn, err := st.FindConnection(ctx, DemoWorkspaceID, string(demo.channel), demo.account.ID)
		if errors.Is(err, store.ErrNotFound) {
			conn, err = connect(ctx, d, demo)
		}
		if err != nil {
			return SeedResult{}, err
		}
		if err := svc.EnsureSchedule(ctx, conn); err != nil {
			return SeedResult{}, err
		}
		today := time.Now().In(location(conn.Timezone))
		from := today.AddDate(0, 0, -(demoBackfillDays - 1)).Format(channels.DateLayout)
		h, _, err := svc.StartBackfill(ctx, conn, from, today.Format(channels.DateLayout))
		if err != nil {
			return SeedResult{}, err
		}
		out.Connections = append(out.Connections, SeededConnection{Channel: string(demo.channel), ConnectionID: conn.ID, Backfill: h.WorkflowID})
		if demo.channel == channels.Meta {
			out.ConnectionID, out.Backfill = conn.ID, h.WorkflowID
		}
	}
	if out.ReportID, err = seedDemoReport(ctx, d); err != nil {
		return SeedResult{}, fmt.Errorf("seed demo report: %w", err)
	}
	return out, nil
}

// DemoReportID is the demo workspace's weekly report.
const DemoReportID = "00000000-0000-4000-8000-0000000d3e90"

// seedDemoReport makes sure the demo workspace has its weekly report and that the report's
// Temporal Schedule exists (a fresh Temporal dev server has none).
func seedDemoReport(ctx context.Context, d *app.Deps) (string, error) {
	svc := d.ReportService()
	existing, err := d.Store.GetReport(ctx, DemoWorkspaceID, DemoReportID)
	if err == nil {
		return existing.ID, svc.Apply(ctx, report.ScheduleRequest{WorkspaceID: DemoWorkspaceID, ReportID: existing.ID,
			Timezone: existing.Timezone, Schedule: existing.Definition.Schedule, Paused: existing.Paused, Note: existing.PausedReason})
	}
	if !errors.Is(err, store.ErrNotFound) {
		return "", err
	}
	def := report.Definition{
		Name:       "Weekly performance (demo)",
		Metrics:    []string{"revenue", "orders", "aov", "spend", "blended_roas", "new_customers", "new_customer_cac"},
		Dimensions: []string{report.DimDay}, Range: report.Range{Relative: report.RangeLastWeek},
		ComparePrevious: true, Formats: report.AllFormats(),
		Schedule:   &report.Schedule{Frequency: report.Weekly, Weekday: "monday", Time: "08:00"},
		Recipients: report.Recipients{Emails: []string{DemoUserEmail}},
	}
	if errs := (reporting.Validator{DefaultTimezone: "America/New_York"}).Validate(ctx, &def); len(errs) > 0 {
		return "", fmt.Errorf("demo report definition: %v", errs)
	}
	r, err := d.Store.CreateReport(ctx, store.SaveReport{ID: DemoReportID, WorkspaceID: DemoWorkspaceID, Definition: def},
		func(ctx context.Context, r store.Report) error {
			return svc.Apply(ctx, report.ScheduleRequest{WorkspaceID: r.WorkspaceID, ReportID: r.ID,
				Timezone: r.Timezone, Schedule: r.Definition.Schedule})
		})
	if err != nil {
		return "", err
	}
	return r.ID, nil
}

// EnsureDemoUser makes sure DemoUserEmail exists with the password and owns the demo
// workspace (which Seed creates). Running it again resets a password that differs, so the
// one printed always works, and leaves the membership alone if it exists or the workspace
// has another owner.
func EnsureDemoUser(ctx context.Context, st *store.Store, password string) error {
	u, err := st.UserByEmail(ctx, DemoUserEmail)
	switch {
	case errors.Is(err, store.ErrNotFound):
		hash, herr := auth.HashPassword(password)
		if herr != nil {
			return herr
		}
		if u, err = store.CreateUser(ctx, st.Pool, DemoUserEmail, demoUserName, hash); err != nil {
			return err
		}
	case err != nil:
		return err
	case auth.CheckPassword(u.PasswordHash, password) != nil:
		hash, herr := auth.HashPassword(password)
		if herr != nil {
			return herr
		}
		if _, err := store.SetPassword(ctx, st.Pool, u.ID, hash); err != nil {
			return err
		}
	}
	err = store.AddMember(ctx, st.Pool, DemoWorkspaceID, u.ID, string(auth.Owner))
	if err != nil && !errors.Is(err, store.ErrConflict) {
		return err
	}
	return nil
}

// SeededConnection is one demo connection and its backfill.
type SeededConnection struct {
	Channel      string
	ConnectionID string
	Backfill     string
}

type demoConnection struct {
	channel channels.Channel
	account channels.Account
}

// demoConnections are the sandbox's demo accounts with the credentials the sandbox accepts.
func demoConnections() []demoConnection {
	return []demoConnection{
		{channels.Meta, channels.Account{ID: sandboxmeta.DemoAccountID, Token: sandboxmeta.DefaultToken}},
		{channels.GoogleAds, channels.Account{ID: sandboxgoogleads.DemoCustomerID, RefreshToken: sandboxgoogleads.DefaultRefreshToken}},
		{channels.TikTok, channels.Account{ID: sandboxtiktok.DemoAdvertiserID, Token: sandboxtiktok.DefaultToken}},
		{channels.Shopify, channels.Account{ID: sandboxshopify.DemoShopDomain, Token: sandboxshopify.DefaultToken}},
		{channels.GA4, channels.Account{ID: sandboxga4.DemoPropertyID, RefreshToken: sandboxga4.DefaultRefreshToken}},
	}
}

// connect connects a sandbox demo account the way the API does: read the account with the
// credentials, seal them, store the connection.
func connect(ctx context.Context, d *app.Deps, demo demoConnection) (store.Connection, error) {
	reader, ok := d.Connectors.Account(demo.channel)
	if !ok {
		return store.Connection{}, fmt.Errorf("no connector for %s", demo.channel)
	}
	info, err := reader.AccountInfo(ctx, demo.account)
	if err != nil {
		return store.Connection{}, fmt.Errorf("read sandbox %s account: %w", demo.channel, err)
	}
	ch, id := string(demo.channel), demo.account.ID
	sealed, err := d.Box.Seal([]byte(demo.account.Token), secretbox.ConnectionTokenAAD(DemoWorkspaceID, ch, id))
	if err != nil {
		return store.Connection{}, err
	}
	var sealedRefresh []byte
	if demo.account.RefreshToken != "" {
		if sealedRefresh, err = d.Box.Seal([]byte(demo.account.RefreshToken), secretbox.ConnectionRefreshTokenAAD(DemoWorkspaceID, ch, id)); err != nil {
			return store.Connection{}, err
		}
	}
	name := info.Name
	if name == "" {
		name = ch + " " + id
	}
	return d.Store.CreateConnection(ctx, store.NewConnection{
		WorkspaceID: DemoWorkspaceID, Channel: ch, ExternalAccountID: id, DisplayName: name,
		TokenCiphertext: sealed, RefreshTokenCiphertext: sealedRefresh, Timezone: info.Timezone, Currency: info.Currency,
	})
}

// pointAtSandbox points every provider setting still at its real default to the sandbox,
// and fills the credentials the sandbox expects. Settings given in the environment win.
func pointAtSandbox(cfg *config.Config, sandboxURL string) {
	set := func(v *string, real, sandbox string) {
		if *v == real {
			*v = sandbox
		}
	}
	set(&cfg.MetaBaseURL, "https://graph.facebook.com", sandboxURL+"/meta")
	set(&cfg.GoogleAdsBaseURL, "https://googleads.googleapis.com", sandboxURL+"/googleads")
	set(&cfg.GoogleOAuthTokenURL, "https://oauth2.googleapis.com/token", sandboxURL+sandbox.GoogleTokenPath)
	set(&cfg.GoogleAdsDeveloperToken, "", sandboxgoogleads.DefaultDeveloperToken)
	set(&cfg.GoogleOAuthClientID, "", sandbox.GoogleClientID)
	set(&cfg.GoogleOAuthClientSecret, "", sandbox.GoogleClientSecret)
	set(&cfg.TikTokBaseURL, "https://business-api.tiktok.com", sandboxURL+"/tiktok")
	set(&cfg.ShopifyBaseURL, "", sandboxURL+"/shopify")
	set(&cfg.ShopifyWebhookSecret, "", sandboxshopify.DefaultWebhookSecret)
	set(&cfg.GA4BaseURL, "https://analyticsdata.googleapis.com", sandboxURL+"/ga4")
	set(&cfg.GA4AdminBaseURL, "https://analyticsadmin.googleapis.com", sandboxURL+"/ga4admin")
	// OAuth connect: the sandbox's consent pages approve with one click.
	set(&cfg.MetaAppID, "", sandboxmeta.OAuthAppID)
	set(&cfg.MetaAppSecret, "", sandboxmeta.OAuthAppSecret)
	set(&cfg.MetaOAuthDialogURL, "https://www.facebook.com", sandboxURL+"/meta/www")
	set(&cfg.GoogleOAuthAuthURL, "https://accounts.google.com/o/oauth2/v2/auth", sandboxURL+"/google/o/oauth2/v2/auth")
	set(&cfg.TikTokAppID, "", sandboxtiktok.OAuthAppID)
	set(&cfg.TikTokAppSecret, "", sandboxtiktok.OAuthAppSecret)
	set(&cfg.TikTokOAuthURL, "https://business-api.tiktok.com/portal/auth", sandboxURL+"/tiktok/portal/auth")
	set(&cfg.ShopifyClientID, "", sandboxshopify.OAuthClientID)
	set(&cfg.ShopifyClientSecret, "", sandboxshopify.OAuthClientSecret)
}

func location(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		return time.UTC
	}
	return loc
}

// ensureTemporal reuses a Temporal server already answering at TEMPORAL_ADDRESS, or starts
// the dev server with a persistent SQLite file and the search attributes registered.
func ensureTemporal(ctx context.Context, o Options, cfg config.Config, log *slog.Logger) (func(), error) {
	if reachable(cfg.TemporalAddress) {
		log.Info("using the Temporal server already running", "address", cfg.TemporalAddress)
		return func() {}, nil
	}
	if _, err := os.Stat(o.TemporalBin); err != nil {
		return nil, fmt.Errorf("temporal CLI not found at %s: run `make tools`", o.TemporalBin)
	}
	logFile, err := os.OpenFile(filepath.Join(o.DataDir, "temporal.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	srv, err := testsuite.StartDevServer(ctx, testsuite.DevServerOptions{
		ExistingPath:     o.TemporalBin,
		ClientOptions:    &client.Options{HostPort: cfg.TemporalAddress, Namespace: cfg.TemporalNamespace},
		DBFilename:       filepath.Join(o.DataDir, "temporal.db"),
		EnableUI:         true,
		UIPort:           "8233",
		LogLevel:         "warn",
		SearchAttributes: workflows.AllSearchAttributes(),
		Stdout:           logFile,
		Stderr:           logFile,
	})
	if err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start Temporal dev server (log: %s): %w", logFile.Name(), err)
	}
	log.Info("started Temporal dev server", "address", cfg.TemporalAddress, "ui", "http://localhost:8233")
	return func() {
		_ = srv.Stop()
		logFile.Close()
	}, nil
}

// ensureMailpit reuses a mailpit (or any mail catcher) already serving :1025 and :8025, or
// starts ./bin/mailpit there. With SMTP_URL set to another relay, mail goes there and no
// mailpit runs. It returns the web UI's URL ("" when mail goes elsewhere).
func ensureMailpit(ctx context.Context, o Options, cfg config.Config, log *slog.Logger) (string, func(), error) {
	ui := "http://localhost" + portOf(mailpitHTTPAddr)
	if cfg.SMTPURL != defaultSMTPURL {
		log.Info("sending mail through SMTP_URL; not starting mailpit")
		return "", func() {}, nil
	}
	smtpUp, httpUp := reachable(mailpitSMTPAddr), reachable(mailpitHTTPAddr)
	if smtpUp && httpUp {
		log.Info("using the mailpit already running", "smtp", mailpitSMTPAddr, "ui", ui)
		return ui, func() {}, nil
	}
	if smtpUp || httpUp {
		return "", nil, fmt.Errorf("only one of %s and %s answers: stop what holds it, or set SMTP_URL to your mail relay",
			mailpitSMTPAddr, mailpitHTTPAddr)
	}
	bin := o.MailpitBin
	if bin == "" {
		var err error
		if bin, err = mailpit.Bin(); err != nil {
			return "", nil, err
		}
	}
	logFile, err := os.OpenFile(filepath.Join(o.DataDir, "mailpit.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return "", nil, err
	}
	p, err := mailpit.Start(ctx, bin, mailpitSMTPAddr, mailpitHTTPAddr, logFile)
	if err != nil {
		logFile.Close()
		return "", nil, fmt.Errorf("start mailpit (log: %s): %w", logFile.Name(), err)
	}
	log.Info("started mailpit", "smtp", mailpitSMTPAddr, "ui", ui)
	return ui, func() {
		p.Stop()
		logFile.Close()
	}, nil
}

// localStripe says where the local Stripe listens; empty when STRIPE_API_BASE names
// another server.
type localStripe struct {
	MockURL    string // stripe-mock's HTTP listener
	OverlayURL string // the overlay in front of it: STRIPE_API_BASE
}

// ensureStripe gives the API and the worker a Stripe: unless STRIPE_API_BASE names a
// server, it starts stripe-mock and serves a stripemock.Overlay in front of it, and points
// STRIPE_API_BASE at the overlay with a test key (unless STRIPE_SECRET_KEY is set). A
// webhook signing secret is generated once into DataDir unless STRIPE_WEBHOOK_SECRET is
// set. The overlay's URL is written to DataDir while it runs, for `omnitrackiq billing
// simulate` in another shell.
func ensureStripe(ctx context.Context, o Options, cfg *config.Config, log *slog.Logger) (localStripe, func(), error) {
	if cfg.StripeWebhookSecret == "" {
		secret, err := devWebhookSecret(filepath.Join(o.DataDir, stripemock.DevWebhookSecretFile))
		if err != nil {
			return localStripe{}, nil, err
		}
		cfg.StripeWebhookSecret = secret
	}
	if cfg.StripeAPIBase != realStripeAPIBase {
		log.Info("calling Stripe at STRIPE_API_BASE; not starting stripe-mock", "url", cfg.StripeAPIBase)
		return localStripe{}, func() {}, nil
	}
	bin := o.StripeMockBin
	if bin == "" {
		var err error
		if bin, err = stripemock.Bin(); err != nil {
			return localStripe{}, nil, err
		}
	}
	logFile, err := os.OpenFile(filepath.Join(o.DataDir, "stripe-mock.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return localStripe{}, nil, err
	}
	addr := stripeMockAddr
	if reachable(addr) {
		addr = "127.0.0.1:0"
	}
	p, err := stripemock.Start(ctx, bin, addr, logFile)
	if err != nil && addr != "127.0.0.1:0" {
		// Taken between the check and the start: any free port will do.
		p, err = stripemock.Start(ctx, bin, "127.0.0.1:0", logFile)
	}
	if err != nil {
		logFile.Close()
		return localStripe{}, nil, fmt.Errorf("start stripe-mock (log: %s): %w", logFile.Name(), err)
	}
	overlay, err := stripemock.NewOverlay(p.URL)
	if err != nil {
		p.Stop()
		logFile.Close()
		return localStripe{}, nil, err
	}
	ln, err := net.Listen("tcp", stripeOverlayAddr)
	if err != nil {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		p.Stop()
		logFile.Close()
		return localStripe{}, nil, fmt.Errorf("listen for the stripe-mock overlay: %w", err)
	}
	srv := httpserver.New("", overlay, o.HTTP)
	go func() { _ = srv.Serve(ln) }()
	s := localStripe{MockURL: p.URL, OverlayURL: "http://" + ln.Addr().String()}
	stop := func() {
		_ = srv.Close()
		p.Stop()
		logFile.Close()
	}
	baseFile := filepath.Join(o.DataDir, stripemock.DevAPIBaseFile)
	if err := os.WriteFile(baseFile, []byte(s.OverlayURL+"\n"), 0o600); err != nil {
		stop()
		return localStripe{}, nil, fmt.Errorf("write %s: %w", baseFile, err)
	}
	cfg.StripeAPIBase = s.OverlayURL
	if cfg.StripeSecretKey == "" {
		cfg.StripeSecretKey = devStripeKey
	}
	log.Info("started stripe-mock behind the overlay", "stripe_mock", s.MockURL, "overlay", s.OverlayURL)
	return s, func() {
		_ = os.Remove(baseFile)
		stop()
	}, nil
}

// ensureDatabase creates the database named in DATABASE_URL if it does not exist.
func ensureDatabase(ctx context.Context, databaseURL string) error {
	u, err := url.Parse(databaseURL)
	if err != nil {
		return fmt.Errorf("parse DATABASE_URL: %w", err)
	}
	name := strings.TrimPrefix(u.Path, "/")
	if name == "" || name == "postgres" {
		return nil
	}
	admin := *u
	admin.Path = "/postgres"
	conn, err := pgx.Connect(ctx, admin.String())
	if err != nil {
		return fmt.Errorf("connect to PostgreSQL at %s (is it running?): %w", u.Host, err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return fmt.Errorf("look up database %s: %w", name, err)
	}
	if exists {
		return nil
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	return nil
}

// devSecret reads a 32-byte hex secret kept in path, or makes one there on the first run,
// so restarts keep opening the same tokens and sessions.
func devSecret(path string) (string, error) {
	if b, err := os.ReadFile(path); err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return "", err
	}
	s := hex.EncodeToString(k)
	if err := os.WriteFile(path, []byte(s+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	return s, nil
}

// devWebhookSecret reads the Stripe webhook signing secret from path, generating a
// whsec_ secret there the first time, so the API and `billing simulate` agree across runs.
func devWebhookSecret(path string) (string, error) {
	if b, err := os.ReadFile(path); err == nil {
		if s := strings.TrimSpace(string(b)); strings.HasPrefix(s, "whsec_") && len(s) > len("whsec_") {
			return s, nil
		}
	}
	k := make([]byte, 24)
	if _, err := rand.Read(k); err != nil {
		return "", err
	}
	s := "whsec_" + hex.EncodeToString(k)
	if err := os.WriteFile(path, []byte(s+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	return s, nil
}

// devPassword reads the demo user's password from path, generating it the first time.
func devPassword(path string) (string, error) {
	if b, err := os.ReadFile(path); err == nil {
		if pw := strings.TrimSpace(string(b)); auth.ValidatePassword(pw) == nil {
			return pw, nil
		}
	}
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	pw := base64.RawURLEncoding.EncodeToString(b)
	if err := os.WriteFile(path, []byte(pw+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	return pw, nil
}

func reachable(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 500*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// listen binds srv's address now, so a port conflict is reported before anything else
// starts, and serves in the background.
func listen(srv *http.Server) error {
	ln, err := net.Listen("tcp", srv.Addr)
	if err != nil {
		return err
	}
	go func() { _ = srv.Serve(ln) }()
	return nil
}

// localURL is how a process on this machine reaches a server listening on addr: its
// host, or 127.0.0.1 when addr binds every interface (":8080", "0.0.0.0:8080").
func localURL(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://127.0.0.1" + portOf(addr)
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

func printBanner(w io.Writer, cfg config.Config, s SeedResult, sandboxURL, demoPassword, mailUI string, stripe localStripe) {
	apiURL := "http://localhost" + portOf(cfg.APIAddr)
	key := DemoAPIKey()
	today := time.Now().Format(channels.DateLayout)
	from := time.Now().AddDate(0, 0, -29).Format(channels.DateLayout)
	fmt.Fprintf(w, `
OmniTrackIQ is running.

  API            %s
  API key        %s   (demo workspace %q)
  Demo sign-in   %s / %s   (owner of the demo workspace; .dev/demo-password)
  Mail           %s
  Temporal UI    http://localhost:8233/namespaces/%s/workflows
  Sandbox        %s (fake Meta, Google Ads, TikTok, Shopify and GA4 APIs)
  Stripe         %s
  Demo data      90-day backfills of five sandbox connections:
`, apiURL, key, DemoWorkspaceName, DemoUserEmail, demoPassword, mailText(mailUI), cfg.TemporalNamespace, sandboxURL,
		stripeText(cfg, stripe))
	for _, c := range s.Connections {
		fmt.Fprintf(w, "                   %-10s %s\n", c.Channel, c.Backfill)
	}
	fmt.Fprintf(w, `
Try:
  curl -s -H 'Authorization: Bearer %s' '%s/v1/metrics/summary?from=%s&to=%s'
  curl -s -X POST -H 'Authorization: Bearer %s' %s/v1/syncs
  curl -s -H 'Authorization: Bearer %s' '%s/v1/metrics/channels?from=%s&to=%s'
  curl -s -X POST -H 'Content-Type: application/json' -d '{"email":"%s","password":"%s"}' %s/v1/auth/login
  curl -s -X POST -H 'Authorization: Bearer %s' %s/v1/reports/%s/run   (the weekly demo report, mailed to %s)
  ./bin/omnitrackiq billing simulate --workspace %s --event checkout_completed --plan starter
  ./bin/omnitrackiq billing simulate --workspace %s --event payment_failed   (then: billing state, README "Billing locally")

Ctrl-C stops everything started here.
`, key, apiURL, from, today, key, apiURL, key, apiURL, from, today, DemoUserEmail, demoPassword, apiURL,
		key, apiURL, s.ReportID, DemoUserEmail, DemoWorkspaceID, DemoWorkspaceID)
}

func stripeText(cfg config.Config, s localStripe) string {
	if s.OverlayURL == "" {
		return cfg.StripeAPIBase + " (STRIPE_API_BASE)"
	}
	return s.OverlayURL + " (state overlay; `billing simulate` sets it) over stripe-mock " + s.MockURL
}

func mailText(ui string) string {
	if ui == "" {
		return "sent through SMTP_URL"
	}
	return ui + " (mailpit: invites, password resets, billing emails and reports land here)"
}

func portOf(addr string) string {
	if i := strings.LastIndex(addr, ":"); i >= 0 {
		return addr[i:]
	}
	return ":" + addr
}
