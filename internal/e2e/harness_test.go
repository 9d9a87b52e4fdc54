package e2e

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/testsuite"

	"github.com/omnitrackiq/omnitrackiq/activities"
	"github.com/omnitrackiq/omnitrackiq/api"
	"github.com/omnitrackiq/omnitrackiq/internal/analytics"
	"github.com/omnitrackiq/omnitrackiq/internal/apikey"
	"github.com/omnitrackiq/omnitrackiq/internal/app"
	"github.com/omnitrackiq/omnitrackiq/internal/auth"
	"github.com/omnitrackiq/omnitrackiq/internal/billing"
	"github.com/omnitrackiq/omnitrackiq/internal/billingsvc"
	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	"github.com/omnitrackiq/omnitrackiq/internal/channels/ga4"
	"github.com/omnitrackiq/omnitrackiq/internal/channels/googleads"
	"github.com/omnitrackiq/omnitrackiq/internal/channels/meta"
	"github.com/omnitrackiq/omnitrackiq/internal/channels/shopify"
	"github.com/omnitrackiq/omnitrackiq/internal/channels/tiktok"
	"github.com/omnitrackiq/omnitrackiq/internal/config"
	"github.com/omnitrackiq/omnitrackiq/internal/mailpit"
	"github.com/omnitrackiq/omnitrackiq/internal/notify"
	"github.com/omnitrackiq/omnitrackiq/internal/oauth"
	"github.com/omnitrackiq/omnitrackiq/internal/report"
	"github.com/omnitrackiq/omnitrackiq/internal/report/render"
	"github.com/omnitrackiq/omnitrackiq/internal/reporting"
	"github.com/omnitrackiq/omnitrackiq/internal/reportsvc"
	"github.com/omnitrackiq/omnitrackiq/internal/safehttp"
	"github.com/omnitrackiq/omnitrackiq/internal/sandbox"
	sandboxgoogleads "github.com/omnitrackiq/omnitrackiq/internal/sandbox/googleads"
	sandboxmeta "github.com/omnitrackiq/omnitrackiq/internal/sandbox/meta"
	sandboxshopify "github.com/omnitrackiq/omnitrackiq/internal/sandbox/shopify"
	sandboxtiktok "github.com/omnitrackiq/omnitrackiq/internal/sandbox/tiktok"
	"github.com/omnitrackiq/omnitrackiq/internal/secretbox"
	"github.com/omnitrackiq/omnitrackiq/internal/store"
	"github.com/omnitrackiq/omnitrackiq/internal/stripeapi"
	"github.com/omnitrackiq/omnitrackiq/internal/stripemock"
	"github.com/omnitrackiq/omnitrackiq/internal/syncsvc"
	"github.com/omnitrackiq/omnitrackiq/internal/testdb"
	"github.com/omnitrackiq/omnitrackiq/internal/toolbin"
	"github.com/omnitrackiq/omnitrackiq/worker"
	"github.com/omnitrackiq/omnitrackiq/workflows"
)

// The Temporal dev server is shared by the package; each test gets its own namespace, so
// tests running in parallel never pick up each other's tasks.
var (
	devServer      *testsuite.DevServer
	mailServer     *mailpit.Process
	stripeMock     *stripemock.Process
	namespaces     = make(chan string, numNamespaces)
	namespaceCount atomic.Int32
)

const numNamespaces = 12

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	code, err := runWithDevServer(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func runWithDevServer(m *testing.M) (int, error) {
	bin, err := temporalCLI()
	if err != nil {
		return 0, err
	}
	args := []string{}
	for i := 1; i <= numNamespaces; i++ {
		ns := fmt.Sprintf("e2e-%d", i)
		args = append(args, "--namespace", ns)
		namespaces <- ns
	}
	logFile, err := os.CreateTemp("", "omnitrackiq-e2e-temporal-*.log")
	if err != nil {
		return 0, err
	}
	defer logFile.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	devServer, err = testsuite.StartDevServer(ctx, testsuite.DevServerOptions{
		ExistingPath:     bin,
		ClientOptions:    &client.Options{Logger: quietLogger()},
		LogLevel:         "error",
		SearchAttributes: workflows.AllSearchAttributes(),
		ExtraArgs:        args,
		Stdout:           logFile,
		Stderr:           logFile,
	})
	if err != nil {
		return 0, fmt.Errorf("start Temporal dev server from %s: %w", bin, err)
	}
	defer devServer.Stop()
	mailBin, err := mailpit.Bin()
	if err != nil {
		return 0, err
	}
	mailServer, err = mailpit.Start(ctx, mailBin, "127.0.0.1:0", "127.0.0.1:0", logFile)
	if err != nil {
		return 0, err
	}
	defer mailServer.Stop()
	stripeBin, err := stripemock.Bin()
	if err != nil {
		return 0, err
	}
	stripeMock, err = stripemock.Start(ctx, stripeBin, "127.0.0.1:0", logFile)
	if err != nil {
		return 0, err
	}
	defer stripeMock.Stop()
	return m.Run(), nil
}

// temporalCLI finds the Temporal CLI that `make tools` installs into ./bin.
func temporalCLI() (string, error) { return toolbin.Find("TEMPORAL_CLI", "temporal") }

func quietLogger() *slog.Logger {
	if os.Getenv("E2E_VERBOSE") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// env is one test's world: a database, a Temporal namespace, a sandbox, workers and the API.
type env struct {
	t          *testing.T
	ctx        context.Context
	Store      *store.Store
	Temporal   client.Client
	Sandbox    *sandboxmeta.Server
	SB         *sandbox.Server
	SandboxTS  *httptest.Server
	Box        *secretbox.Box
	Connectors channels.Registry
	Syncs      *syncsvc.Service
	API        *httptest.Server
	Router     *api.Router
	Workspace  string
	APIKey     string
	// Mail reads what the API sent, from the package's mailpit.
	Mail     *mailpit.Client
	Tokens   *auth.Tokens
	Identity config.Identity
	workers  *worker.Workers
	logger   *slog.Logger
	mailer   *notify.SMTP
	oauth    *oauth.Client
	// Stripe is the overlay (Stripe's state) in front of the package's stripe-mock, and
	// Billing the service the API uses; both nil unless envOptions.billing.
	Stripe    *stripemock.Overlay
	StripeURL string
	Billing   *billingsvc.Service
	stripeAPI *stripeapi.Client
	// interceptors wrap the next workers StartWorkers starts.
	interceptors []interceptor.WorkerInterceptor
	// Reports runs report schedules; webhookPolicy and maxTargetFailures configure the
	// report workers.
	Reports           *reportsvc.Service
	webhookPolicy     safehttp.Policy
	maxTargetFailures int
}

type envOptions struct {
	pageSize  int
	sandboxAt time.Time
	// logSink receives every log line of the API and workers, as JSON.
	logSink io.Writer
	// billing configures Stripe (stripe-mock behind an overlay): the billing routes work
	// and plan limits and dunning are enforced. The env's own workspace is put on the
	// agency plan, so fixtures sized for a paying customer fit.
	billing bool
	// strictWebhooks refuses report webhooks to private and loopback addresses, as
	// production does; by default the env allows them so a local receiver can be the target.
	strictWebhooks bool
	// maxTargetFailures is REPORT_MAX_TARGET_FAILURES (0: 3).
	maxTargetFailures int
	// apiPools, when set, gives the API a store of its own with these pools, as
	// `omnitrackiq api` has (app.OpenAPIStore); by default it shares the test's store.
	apiPools *store.PoolOptions
	// apiLimits are the API's deadlines and limits. Zero rate limits are lifted far out of
	// reach: tests poll faster than any client should, all from one address.
	apiLimits config.APILimits
}

// e2eWebhookSecret signs the Stripe events of billing tests.
const e2eWebhookSecret = "whsec_e2eomnitrackiq"

// e2eStripeKey is a test-mode key of the shape stripe-mock accepts.
const e2eStripeKey = "sk_test_omnitrackiqetoe"

func newEnv(t *testing.T, o envOptions) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	t.Cleanup(cancel)
	var ns string
	select {
	case ns = <-namespaces:
	default:
		t.Fatal("out of Temporal namespaces: raise numNamespaces")
	}
	t.Cleanup(func() { namespaces <- ns })

	st, dbURL := testdb.New(t)
	logger := quietLogger()
	if o.logSink != nil {
		// Debug level, so a test scanning the logs for secrets sees everything logged.
		logger = slog.New(slog.NewJSONHandler(o.logSink, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	tc, err := client.Dial(client.Options{HostPort: devServer.FrontendHostPort(), Namespace: ns, Logger: logger})
	if err != nil {
		t.Fatalf("dial temporal: %v", err)
	}
	t.Cleanup(tc.Close)

	now := time.Now
	if !o.sandboxAt.IsZero() {
		at := o.sandboxAt
		now = func() time.Time { return at }
	}
	sbAll := sandbox.New(sandbox.Config{Now: now, GoogleAdsPageSize: 40})
	sb := sbAll.Meta
	sbts := httptest.NewServer(sbAll)
	t.Cleanup(sbts.Close)

	key := make([]byte, 32)
	for i := range key {
		key[i] = byte(i + 1)
	}
	box, err := secretbox.New(key)
	if err != nil {
		t.Fatal(err)
	}
	pageSize := o.pageSize
	if pageSize == 0 {
		pageSize = 100
	}
	// Every connector points at the sandbox, with small pages so every read spans several,
	// and the providers' retry delays scaled down where the connector allows it.
	readers := channels.Registry{
		Ads: map[channels.Channel]channels.AdReader{
			channels.Meta: meta.New(meta.Options{
				BaseURL: sbts.URL + "/meta", PageSize: pageSize, PollInterval: 100 * time.Millisecond,
				DefaultRateLimitBackoff: 60 * time.Second, Logger: logger,
			}),
			channels.GoogleAds: googleads.New(googleads.Options{
				BaseURL: sbts.URL + "/googleads", DeveloperToken: sandboxgoogleads.DefaultDeveloperToken,
				TokenURL: sbts.URL + sandbox.GoogleTokenPath, ClientID: sandbox.GoogleClientID,
				ClientSecret: sandbox.GoogleClientSecret, Logger: logger,
			}),
			channels.TikTok: tiktok.New(tiktok.Options{
				BaseURL: sbts.URL + "/tiktok", PageSize: 50, DefaultRateLimitBackoff: 2 * time.Second, Logger: logger,
			}),
		},
		Orders: map[channels.Channel]channels.OrderReader{
			channels.Shopify: shopify.New(shopify.Options{BaseURL: sbts.URL + "/shopify", PageSize: 250, Logger: logger}),
		},
		Sessions: map[channels.Channel]channels.SessionReader{
			channels.GA4: ga4.New(ga4.Options{
				BaseURL: sbts.URL + "/ga4", TokenURL: sbts.URL + sandbox.GoogleTokenPath, ClientID: sandbox.GoogleClientID,
				ClientSecret: sandbox.GoogleClientSecret, PageSize: 20, Logger: logger,
				QuotaBackoff: map[string]time.Duration{ga4.QuotaConcurrentRequests: 2 * time.Second},
			}),
		},
	}
	e := &env{t: t, ctx: ctx, Store: st, Temporal: tc, Sandbox: sb, SB: sbAll, SandboxTS: sbts, Box: box, Connectors: readers,
		Syncs: &syncsvc.Service{Temporal: tc, Store: st, Logger: logger}, logger: logger}

	tokens, err := auth.NewTokens([]byte("e2e-jwt-signing-key-0123456789abcdef"), nil)
	if err != nil {
		t.Fatal(err)
	}
	mailer, err := notify.NewSMTP(mailServer.SMTPURL(), "OmniTrackIQ <no-reply@omnitrackiq.test>")
	if err != nil {
		t.Fatal(err)
	}
	e.Mail = &mailpit.Client{BaseURL: mailServer.HTTPURL}
	e.Tokens = tokens
	// The API's own URL goes into emails and redirect URIs, so the server starts first and
	// gets its handler once the URL is known.
	e.API = httptest.NewUnstartedServer(nil)
	e.API.Start()
	t.Cleanup(e.API.Close)
	e.Identity = config.Identity{
		PublicURL: e.API.URL, AppURL: e.API.URL, Signup: config.SignupOpen,
		SMTPURL: mailServer.SMTPURL(), MailFrom: "OmniTrackIQ <no-reply@omnitrackiq.test>",
	}
	oauthClient, err := oauth.New(oauth.Config{
		PublicURL: e.API.URL, StateSecret: []byte("e2e-jwt-signing-key-0123456789abcdef"),
		MetaAppID: sandboxmeta.OAuthAppID, MetaAppSecret: sandboxmeta.OAuthAppSecret,
		MetaDialogURL: sbts.URL + "/meta/www", MetaGraphURL: sbts.URL + "/meta",
		GoogleClientID: sandbox.GoogleClientID, GoogleClientSecret: sandbox.GoogleClientSecret,
		GoogleAuthURL: sbts.URL + "/google/o/oauth2/v2/auth", GoogleTokenURL: sbts.URL + sandbox.GoogleTokenPath,
		GoogleAdsBaseURL: sbts.URL + "/googleads", GoogleAdsDeveloperToken: sandboxgoogleads.DefaultDeveloperToken,
		GA4AdminBaseURL: sbts.URL + "/ga4admin",
		TikTokAppID:     sandboxtiktok.OAuthAppID, TikTokAppSecret: sandboxtiktok.OAuthAppSecret,
		TikTokAuthURL: sbts.URL + "/tiktok/portal/auth", TikTokBaseURL: sbts.URL + "/tiktok",
		ShopifyClientID: sandboxshopify.OAuthClientID, ShopifyClientSecret: sandboxshopify.OAuthClientSecret,
		ShopifyBaseURL: sbts.URL + "/shopify",
	})
	if err != nil {
		t.Fatal(err)
	}
	var billingDep api.Billing
	if o.billing {
		ov, err := stripemock.NewOverlay(stripeMock.URL)
		if err != nil {
			t.Fatal(err)
		}
		ots := httptest.NewServer(ov)
		t.Cleanup(ots.Close)
		sc, err := stripeapi.New(stripeapi.Config{SecretKey: e2eStripeKey, BaseURL: ots.URL})
		if err != nil {
			t.Fatal(err)
		}
		e.Stripe, e.StripeURL, e.stripeAPI = ov, ots.URL, sc
		e.Billing = &billingsvc.Service{
			Store: st, Stripe: sc, Dunning: billingsvc.TemporalDunning{Client: tc}, Mailer: mailer,
			Prices: map[billing.PlanID]string{
				billing.Starter: "price_e2e_starter", billing.Pro: "price_e2e_pro", billing.Agency: "price_e2e_agency",
			},
			WebhookSecret: e2eWebhookSecret, AppURL: e.API.URL, Logger: logger,
		}
		billingDep = e.Billing
	}
	e.Reports = &reportsvc.Service{Temporal: tc, Logger: logger}
	e.webhookPolicy = safehttp.Policy{AllowPrivate: !o.strictWebhooks}
	e.maxTargetFailures = o.maxTargetFailures
	if e.maxTargetFailures == 0 {
		e.maxTargetFailures = 3
	}
	apiStore := st
	if o.apiPools != nil {
		if apiStore, err = store.OpenWith(ctx, dbURL, *o.apiPools); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(apiStore.Close)
	}
	limits := o.apiLimits
	if limits.PerKey.Max == 0 {
		limits.PerKey = config.Limit{Max: 1_000_000, Window: time.Minute}
	}
	if limits.PerIP.Max == 0 {
		limits.PerIP = config.Limit{Max: 1_000_000, Window: time.Minute}
	}
	e.Router = api.NewRouter(api.Deps{
		Limits:  limits,
		Billing: billingDep,
		Reports: e.Reports,
		CheckWebhookURL: func(ctx context.Context, raw string) error {
			return safehttp.CheckURL(ctx, raw, e.webhookPolicy)
		},
		Store: apiStore, Syncs: e.Syncs, Connectors: readers, Box: box, Logger: logger,
		ShopifyWebhookSecret: []byte(sandboxshopify.DefaultWebhookSecret),
		Ready: func(ctx context.Context) error {
			_, err := tc.CheckHealth(ctx, &client.CheckHealthRequest{})
			return err
		},
		Tokens: tokens, Mailer: mailer, Identity: e.Identity, OAuth: oauthClient,
		Disconnector: oauth.Disconnector{Client: oauthClient, StillConnected: st.AccountConnectedElsewhere},
	})
	e.API.Config.Handler = e.Router
	e.mailer, e.oauth = mailer, oauthClient
	e.StartWorkers()
	t.Cleanup(func() { e.StopWorkers() })

	ws, err := st.CreateWorkspace(ctx, "E2E Store", "USD", "America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	e.Workspace = ws.ID
	if o.billing {
		if err := st.SetPlan(ctx, ws.ID, billing.Agency, "active"); err != nil {
			t.Fatal(err)
		}
	}
	secret, _, err := apikey.Issue(ctx, st, ws.ID, "e2e")
	if err != nil {
		t.Fatal(err)
	}
	e.APIKey = secret
	return e
}

// StartWorkers starts a fresh set of workers (a "new worker process").
func (e *env) StartWorkers() {
	e.t.Helper()
	acts := &activities.Sync{
		Store: e.Store, Connectors: e.Connectors, Box: e.Box, Temporal: e.Temporal, Logger: e.logger,
		MaxPagesPerCall: 5, Mailer: e.mailer, AppURL: e.Identity.AppURL,
		Refresher: app.TokenRefresher{Refresher: oauth.Refresher{Client: e.oauth}},
	}
	opts := worker.Options{
		EnsureSchedules:            e.Syncs.EnsureTokenRefreshSchedule,
		ChannelActivitiesPerSecond: map[channels.Channel]float64{channels.Meta: 50},
		Interceptors:               e.interceptors,
	}
	if e.Billing != nil {
		acts.EnforcePlans = true
		opts.Billing = &activities.Billing{
			Store: e.Store, Stripe: e.stripeAPI, Mailer: e.mailer, Schedules: e.Syncs,
			AppURL: e.Identity.AppURL, Logger: e.logger,
		}
	}
	opts.Reports = &activities.Reports{
		Store: e.Store, Box: e.Box, Mailer: e.mailer,
		Webhooks:  &safehttp.Poster{Client: safehttp.NewClient(e.webhookPolicy, 10*time.Second), Policy: e.webhookPolicy},
		Schedules: e.Reports,
		Build: func(ctx context.Context, in report.BuildInput) (report.Document, error) {
			return reporting.Build(ctx, analytics.New(e.Store.Pool), in)
		},
		Render: render.Render, Email: render.Email,
		PublicURL: e.API.URL, MaxTargetFailures: e.maxTargetFailures, Logger: e.logger,
	}
	e.workers = worker.New(e.Temporal, acts, opts)
	if err := e.workers.Start(); err != nil {
		e.t.Fatalf("start workers: %v", err)
	}
}

// StopWorkers stops the workers, cancelling whatever activity they run.
func (e *env) StopWorkers() {
	if e.workers != nil {
		e.workers.Stop()
		e.workers = nil
	}
}
