// Package app builds the long-lived dependencies of the api, worker and dev subcommands
// from the configuration.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/omnitrackiq/omnitrackiq/activities"
	"github.com/omnitrackiq/omnitrackiq/api"
	"github.com/omnitrackiq/omnitrackiq/internal/analytics"
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
	"github.com/omnitrackiq/omnitrackiq/internal/notify"
	"github.com/omnitrackiq/omnitrackiq/internal/oauth"
	"github.com/omnitrackiq/omnitrackiq/internal/report"
	"github.com/omnitrackiq/omnitrackiq/internal/report/render"
	"github.com/omnitrackiq/omnitrackiq/internal/reporting"
	"github.com/omnitrackiq/omnitrackiq/internal/reportsvc"
	"github.com/omnitrackiq/omnitrackiq/internal/safehttp"
	"github.com/omnitrackiq/omnitrackiq/internal/secretbox"
	"github.com/omnitrackiq/omnitrackiq/internal/store"
	"github.com/omnitrackiq/omnitrackiq/internal/stripeapi"
	"github.com/omnitrackiq/omnitrackiq/internal/syncsvc"
	"github.com/omnitrackiq/omnitrackiq/worker"
	"github.com/omnitrackiq/omnitrackiq/workflows"
)

// Deps are the shared dependencies of one process.
type Deps struct {
	Config     config.Config
	Logger     *slog.Logger
	Store      *store.Store
	Temporal   client.Client
	Box        *secretbox.Box
	Connectors channels.Registry
	// apiStore is the API's own store (APIHandler): its statements run under
	// DB_STATEMENT_TIMEOUT and its health checks and authentication have a pool of their
	// own. Workers use Store, whose statements have no timeout.
	apiStore *store.Store
}

// Open connects to PostgreSQL and Temporal and builds the connectors.
func Open(ctx context.Context, cfg config.Config, logger *slog.Logger) (*Deps, error) {
	box, err := NewBox(cfg)
	if err != nil {
		return nil, err
	}
	st, err := store.OpenWith(ctx, cfg.DatabaseURL, store.PoolOptions{
		MaxConns: int32(cfg.DB.MaxConns), MinConns: int32(cfg.DB.MinConns),
	})
	if err != nil {
		return nil, err
	}
	tc, err := DialTemporal(ctx, cfg, logger)
	if err != nil {
		st.Close()
		return nil, err
	}
	return &Deps{
		Config: cfg, Logger: logger, Store: st, Temporal: tc, Box: box,
		Connectors: Connectors(cfg, logger),
	}, nil
}

// NewBox is the token keyring of the configuration: ENCRYPTION_KEY (named
// ENCRYPTION_KEY_ID) seals, ENCRYPTION_OLD_KEYS still open.
func NewBox(cfg config.Config) (*secretbox.Box, error) {
	return secretbox.ParseKeyring(cfg.EncryptionKeyID, cfg.EncryptionKey, cfg.EncryptionOldKeys)
}

// DialTemporal connects to the Temporal frontend named by TEMPORAL_ADDRESS.
func DialTemporal(ctx context.Context, cfg config.Config, logger *slog.Logger) (client.Client, error) {
	tc, err := client.DialContext(ctx, client.Options{
		HostPort:  cfg.TemporalAddress,
		Namespace: cfg.TemporalNamespace,
		Logger:    sdklog.NewStructuredLogger(logger.With("component", "temporal")),
	})
	if err != nil {
		return nil, fmt.Errorf("connect to Temporal at %s: %w", cfg.TemporalAddress, err)
	}
	return tc, nil
}

// Connectors builds one connector per supported channel.
func Connectors(cfg config.Config, logger *slog.Logger) channels.Registry {
	httpClient := &http.Client{Timeout: 2 * time.Minute}
	return channels.Registry{
		Ads: map[channels.Channel]channels.AdReader{
			channels.Meta: meta.New(meta.Options{
				BaseURL: cfg.MetaBaseURL, APIVersion: cfg.MetaAPIVersion, HTTPClient: httpClient,
				PageSize: cfg.MetaPageSize, PollInterval: cfg.MetaPollInterval, Logger: logger.With("channel", "meta"),
			}),
			channels.GoogleAds: googleads.New(googleads.Options{
				BaseURL: cfg.GoogleAdsBaseURL, APIVersion: cfg.GoogleAdsAPIVersion, DeveloperToken: cfg.GoogleAdsDeveloperToken,
				TokenURL: cfg.GoogleOAuthTokenURL, ClientID: cfg.GoogleOAuthClientID, ClientSecret: cfg.GoogleOAuthClientSecret,
				HTTPClient: httpClient, Logger: logger.With("channel", "google_ads"), TokenCacheSize: cfg.GoogleTokenCacheSize,
			}),
			channels.TikTok: tiktok.New(tiktok.Options{
				BaseURL: cfg.TikTokBaseURL, HTTPClient: httpClient, Logger: logger.With("channel", "tiktok"),
			}),
		},
		Orders: map[channels.Channel]channels.OrderReader{
			channels.Shopify: shopify.New(shopify.Options{
				BaseURL: cfg.ShopifyBaseURL, APIVersion: cfg.ShopifyAPIVersion, HTTPClient: httpClient,
				Logger: logger.With("channel", "shopify"),
			}),
		},
		Sessions: map[channels.Channel]channels.SessionReader{
			channels.GA4: ga4.New(ga4.Options{
				BaseURL: cfg.GA4BaseURL, TokenURL: cfg.GoogleOAuthTokenURL, ClientID: cfg.GoogleOAuthClientID,
				ClientSecret: cfg.GoogleOAuthClientSecret, HTTPClient: httpClient, Logger: logger.With("channel", "ga4"),
				TokenCacheSize: cfg.GoogleTokenCacheSize,
			}),
		},
	}
}

// Close releases the connections.
func (d *Deps) Close() {
	d.Temporal.Close()
	d.Store.Close()
	if d.apiStore != nil {
		d.apiStore.Close()
	}
}

// apiOpenTimeout bounds connecting the API's pools.
const apiOpenTimeout = 30 * time.Second

// OpenAPIStore opens the API's store: DB_MAX_CONNS connections whose statements run
// under DB_STATEMENT_TIMEOUT, and DB_CONTROL_CONNS more for health checks, authentication
// and rate limits, so analytics cannot starve them.
func OpenAPIStore(ctx context.Context, cfg config.Config) (*store.Store, error) {
	return store.OpenWith(ctx, cfg.DatabaseURL, store.PoolOptions{
		MaxConns: int32(cfg.DB.MaxConns), MinConns: int32(cfg.DB.MinConns),
		ControlConns: int32(cfg.DB.ControlConns), StatementTimeout: cfg.DB.StatementTimeout,
	})
}

// SyncService is the API's view of the sync workflows.
func (d *Deps) SyncService() *syncsvc.Service {
	return &syncsvc.Service{Temporal: d.Temporal, Store: d.Store, Logger: d.Logger,
		MaxBackfills: d.Config.MaxBackfillsPerWorkspace, MaxBackfillWindows: d.Config.MaxBackfillWindowsPerWorkspace}
}

// Workers builds the Temporal workers of this process.
func (d *Deps) Workers() *worker.Workers {
	acts := &activities.Sync{
		Store: d.Store, Connectors: d.Connectors, Box: d.Box, Temporal: d.Temporal,
		Logger: d.Logger.With("component", "activities"),
		AppURL: d.Config.Identity.AppURL,
	}
	if mailer, err := d.Mailer(); err != nil {
		d.Logger.Warn("no mailer: needs_reauth notices will not be sent", "err", err)
	} else {
		acts.Mailer = mailer
	}
	if oc, err := OAuthClient(d.Config, &http.Client{Timeout: 30 * time.Second}); err != nil {
		d.Logger.Warn("no OAuth client: tokens will not be refreshed", "err", err)
	} else {
		acts.Refresher = TokenRefresher{Refresher: oauth.Refresher{Client: oc}}
	}
	opts := worker.Options{
		EnsureSchedules: d.SyncService().EnsureTokenRefreshSchedule,
		ChannelActivitiesPerSecond: map[channels.Channel]float64{
			channels.Meta:      d.Config.MetaActivitiesPerSecond,
			channels.GoogleAds: d.Config.ActivitiesPerSecond["google_ads"],
			channels.TikTok:    d.Config.ActivitiesPerSecond["tiktok"],
			channels.Shopify:   d.Config.ActivitiesPerSecond["shopify"],
			channels.GA4:       d.Config.ActivitiesPerSecond["ga4"],
		},
		BackfillActivitiesPerSecond: map[channels.Channel]float64{
			channels.Meta:      d.Config.BackfillActivitiesPerSecond["meta"],
			channels.GoogleAds: d.Config.BackfillActivitiesPerSecond["google_ads"],
			channels.TikTok:    d.Config.BackfillActivitiesPerSecond["tiktok"],
			channels.Shopify:   d.Config.BackfillActivitiesPerSecond["shopify"],
			channels.GA4:       d.Config.BackfillActivitiesPerSecond["ga4"],
		},
	}
	// Plans and dunning are enforced only where billing is configured.
	if sc := d.StripeClient(); sc != nil {
		acts.EnforcePlans = true
		opts.Billing = &activities.Billing{
			Store: d.Store, Stripe: sc, Mailer: acts.Mailer, Schedules: d.SyncService(),
			AppURL: d.Config.AppURL, Logger: d.Logger.With("component", "billing"),
		}
	}
	opts.Reports = d.ReportActivities(acts.Mailer)
	return worker.New(d.Temporal, acts, opts)
}

// ReportService runs report schedules and on-demand runs on Temporal.
func (d *Deps) ReportService() *reportsvc.Service {
	return &reportsvc.Service{Temporal: d.Temporal, Logger: d.Logger.With("component", "reports")}
}

// webhookPolicy is where report webhooks may go: the public internet, and private
// networks only when REPORT_WEBHOOK_ALLOW_PRIVATE says so.
func (d *Deps) webhookPolicy() safehttp.Policy {
	return safehttp.Policy{AllowPrivate: d.Config.WebhookAllowPrivate}
}

// CheckWebhookURL refuses a report webhook URL the worker would not call.
func (d *Deps) CheckWebhookURL(ctx context.Context, raw string) error {
	return safehttp.CheckURL(ctx, raw, d.webhookPolicy())
}

// ReportActivities are the ReportRun activities: the KPIs of the analytics package,
// the renderers, mail through mailer and webhooks through a client that refuses private
// addresses unless configured.
func (d *Deps) ReportActivities(mailer notify.Mailer) *activities.Reports {
	p := d.webhookPolicy()
	return &activities.Reports{
		Store: d.Store, Box: d.Box, Mailer: mailer,
		Webhooks:  &safehttp.Poster{Client: safehttp.NewClient(p, 30*time.Second), Policy: p, UserAgent: "OmniTrackIQ-Webhooks/1"},
		Schedules: d.ReportService(),
		Build: func(ctx context.Context, in report.BuildInput) (report.Document, error) {
			return reporting.Build(ctx, analytics.New(d.Store.Pool), in)
		},
		Render: render.Render, Email: render.Email,
		PublicURL: d.Config.PublicURL, MaxTargetFailures: d.Config.MaxTargetFailures,
		Logger: d.Logger.With("component", "reports"),
	}
}

// TokenRefresher gives the token-refresh activities the providers' refresh flows.
type TokenRefresher struct{ oauth.Refresher }

// Refresh refreshes one connection's token; a dead grant is an *oauth.ReauthError.
func (t TokenRefresher) Refresh(ctx context.Context, channel, account, access, refresh string) (activities.RefreshedToken, error) {
	tok, err := t.Refresher.Refresh(ctx, channel, account, access, refresh)
	if err != nil {
		return activities.RefreshedToken{}, err
	}
	return activities.RefreshedToken{Access: tok.Access, Refresh: tok.Refresh, ExpiresAt: tok.ExpiresAt}, nil
}

// TemporalReady checks that the Temporal frontend answers.
func (d *Deps) TemporalReady(ctx context.Context) error {
	_, err := d.Temporal.CheckHealth(ctx, &client.CheckHealthRequest{})
	if err != nil {
		return fmt.Errorf("temporal: %w", err)
	}
	return nil
}

// Mailer is the SMTP sender of SMTP_URL and MAIL_FROM.
func (d *Deps) Mailer() (*notify.SMTP, error) {
	return notify.NewSMTP(d.Config.SMTPURL, d.Config.MailFrom)
}

// APIHandler is the REST API wired to these dependencies. It needs JWT_SECRET to sign
// users' access tokens.
func (d *Deps) APIHandler() (http.Handler, error) {
	if d.Config.JWTSecret == "" {
		return nil, errors.New("JWT_SECRET is empty: set it to at least 32 random bytes (openssl rand -hex 32)")
	}
	tokens, err := auth.NewTokens([]byte(d.Config.JWTSecret), nil)
	if err != nil {
		return nil, err
	}
	mailer, err := d.Mailer()
	if err != nil {
		return nil, err
	}
	oauthClient, err := OAuthClient(d.Config, &http.Client{Timeout: 30 * time.Second})
	if err != nil {
		return nil, err
	}
	if d.apiStore == nil {
		ctx, cancel := context.WithTimeout(context.Background(), apiOpenTimeout)
		defer cancel()
		if d.apiStore, err = OpenAPIStore(ctx, d.Config); err != nil {
			return nil, err
		}
		d.Logger.Info("API database pools", "max_conns", d.Config.DB.MaxConns, "control_conns", d.Config.DB.ControlConns,
			"statement_timeout", d.Config.DB.StatementTimeout)
	}
	st := d.apiStore
	syncs := d.SyncService()
	syncs.Store = st
	return api.NewRouter(api.Deps{
		Store: st, Syncs: syncs, Connectors: d.Connectors, Box: d.Box, Limits: d.Config.API,
		Ready: d.TemporalReady, Logger: d.Logger.With("component", "api"),
		ShopifyWebhookSecret: []byte(d.Config.ShopifyWebhookSecret),
		Tokens:               tokens, Mailer: mailer, Identity: d.Config.Identity,
		OAuth: oauthClient, Disconnector: oauth.Disconnector{Client: oauthClient, StillConnected: st.AccountConnectedElsewhere},
		Billing: billingAPI(d.BillingService(mailer)),
		Reports: d.ReportService(), CheckWebhookURL: d.CheckWebhookURL,
	}), nil
}

// billingAPI keeps a nil service a nil interface, which the API reads as "billing off".
func billingAPI(s *billingsvc.Service) api.Billing {
	if s == nil {
		return nil
	}
	return s
}

// StripeClient is the Stripe client of the configuration; nil when STRIPE_SECRET_KEY is
// empty (billing off).
func (d *Deps) StripeClient() *stripeapi.Client {
	if d.Config.StripeSecretKey == "" {
		return nil
	}
	sc, err := stripeapi.New(stripeapi.Config{SecretKey: d.Config.StripeSecretKey, BaseURL: d.Config.StripeAPIBase})
	if err != nil {
		d.Logger.Error("stripe client", "err", err)
		return nil
	}
	return sc
}

// BillingService is checkout, portal, overview and the Stripe webhook; nil when billing
// is off.
func (d *Deps) BillingService(mailer notify.Mailer) *billingsvc.Service {
	sc := d.StripeClient()
	if sc == nil {
		return nil
	}
	prices := map[billing.PlanID]string{}
	for plan, price := range d.Config.StripePrices {
		prices[billing.PlanID(plan)] = price
	}
	return &billingsvc.Service{
		Store: d.Store, Stripe: sc, Dunning: billingsvc.TemporalDunning{Client: d.Temporal}, Mailer: mailer,
		Prices: prices, WebhookSecret: d.Config.StripeWebhookSecret, AppURL: d.Config.AppURL,
		Logger: d.Logger.With("component", "billing"),
	}
}

// OAuthClient is the OAuth connect client of the configuration (also what a
// oauth.Refresher or oauth.Disconnector wraps).
func OAuthClient(cfg config.Config, httpClient *http.Client) (*oauth.Client, error) {
	return oauth.New(oauth.Config{
		PublicURL: cfg.PublicURL, StateSecret: []byte(cfg.JWTSecret),
		MetaAppID: cfg.MetaAppID, MetaAppSecret: cfg.MetaAppSecret, MetaDialogURL: cfg.MetaOAuthDialogURL,
		MetaGraphURL: cfg.MetaBaseURL, MetaAPIVersion: cfg.MetaAPIVersion,
		GoogleClientID: cfg.GoogleOAuthClientID, GoogleClientSecret: cfg.GoogleOAuthClientSecret,
		GoogleAuthURL: cfg.GoogleOAuthAuthURL, GoogleTokenURL: cfg.GoogleOAuthTokenURL,
		GoogleAdsBaseURL: cfg.GoogleAdsBaseURL, GoogleAdsAPIVersion: cfg.GoogleAdsAPIVersion,
		GoogleAdsDeveloperToken: cfg.GoogleAdsDeveloperToken, GA4AdminBaseURL: cfg.GA4AdminBaseURL,
		TikTokAppID: cfg.TikTokAppID, TikTokAppSecret: cfg.TikTokAppSecret, TikTokAuthURL: cfg.TikTokOAuthURL,
		TikTokBaseURL:   cfg.TikTokBaseURL,
		ShopifyClientID: cfg.ShopifyClientID, ShopifyClientSecret: cfg.ShopifyClientSecret,
		ShopifyBaseURL: cfg.ShopifyBaseURL, ShopifyAPIVersion: cfg.ShopifyAPIVersion,
		HTTPClient: httpClient,
	})
}

// EnsureSearchAttributes registers the custom search attributes on the namespace; ones
// that already exist are left alone.
func EnsureSearchAttributes(ctx context.Context, tc client.Client, namespace string) error {
	list, err := tc.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return fmt.Errorf("list search attributes of %s: %w", namespace, err)
	}
	missing := map[string]enumspb.IndexedValueType{}
	for _, name := range workflows.SearchAttributeNames {
		if _, ok := list.GetCustomAttributes()[name]; !ok {
			missing[name] = enumspb.INDEXED_VALUE_TYPE_KEYWORD
		}
	}
	if len(missing) == 0 {
		return nil
	}
	_, err = tc.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace: namespace, SearchAttributes: missing,
	})
	if err != nil {
		return fmt.Errorf("add search attributes to %s: %w", namespace, err)
	}
	return nil
}
