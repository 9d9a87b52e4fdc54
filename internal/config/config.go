// Package config reads the process configuration from environment variables. Every
// variable is documented in .env.example.
package config

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Config is the configuration of every subcommand; each uses the fields it needs.
type Config struct {
	DatabaseURL       string
	TemporalAddress   string
	TemporalNamespace string
	// EncryptionKey seals provider tokens at rest (32 bytes, hex or base64).
	EncryptionKey string
	// EncryptionKeyID names EncryptionKey in what it seals ("k1" by default); rotating the key
	// means a new key with a new id, the old one moving to EncryptionOldKeys.
	EncryptionKeyID string
	// EncryptionOldKeys are keys that still open what they sealed: "id:key,id:key".
	EncryptionOldKeys string
	APIAddr           string
	SandboxAddr       string
	LogLevel          slog.Level
	LogFormat         string

	MetaBaseURL    string
	MetaAPIVersion string
	MetaPageSize   int
	// MetaActivitiesPerSecond is the server-side rate limit of the sync-meta task queue.
	MetaActivitiesPerSecond float64
	MetaPollInterval        time.Duration

	GoogleAdsBaseURL        string
	GoogleAdsAPIVersion     string
	GoogleAdsDeveloperToken string
	// Google OAuth client, shared by Google Ads and GA4, for minting access tokens from
	// connections' refresh tokens.
	GoogleOAuthClientID     string
	GoogleOAuthClientSecret string
	GoogleOAuthTokenURL     string
	// GoogleTokenCacheSize bounds the access tokens each Google connector keeps per worker
	// (least recently used evicted first).
	GoogleTokenCacheSize int
	TikTokBaseURL        string
	// ShopifyBaseURL replaces https://{shop}.myshopify.com for every shop when set (sandbox).
	ShopifyBaseURL    string
	ShopifyAPIVersion string
	// ShopifyWebhookSecret verifies webhook signatures (the Shopify app's client secret).
	ShopifyWebhookSecret string
	GA4BaseURL           string
	// GA4AdminBaseURL is the Analytics Admin API, which lists the properties a grant sees.
	GA4AdminBaseURL string
	// ActivitiesPerSecond is the server-side rate limit of each channel's task queue.
	ActivitiesPerSecond map[string]float64
	// BackfillActivitiesPerSecond is the rate of each channel's backfill queue
	// (sync-<channel>-backfill), by lower-case channel; absent means the channel's own rate.
	BackfillActivitiesPerSecond map[string]float64
	// MaxBackfillsPerWorkspace and MaxBackfillWindowsPerWorkspace cap the backfills a
	// workspace runs at once and the windows they read at once (0: the defaults, 3 and 6).
	MaxBackfillsPerWorkspace       int
	MaxBackfillWindowsPerWorkspace int

	Identity
	Billing
	Reports
	// DB sizes the database pools and bounds the API's statements.
	DB Database
	// API are the API's deadlines and its rate and concurrency limits.
	API APILimits
}

// Database sizes the connection pools of a process. Each replica opens MaxConns plus
// ControlConns connections at most; PostgreSQL's max_connections must cover every replica.
type Database struct {
	// MaxConns is the main pool's size (DB_MAX_CONNS, default max(8, 4 × CPUs)).
	MaxConns int
	// MinConns connections are kept open even when idle (DB_MIN_CONNS, default 0).
	MinConns int
	// ControlConns is the API's separate pool for /healthz, /readyz, authentication and
	// rate limits (DB_CONTROL_CONNS, default 4): analytics holding the main pool cannot
	// starve them. 0 serves them from the main pool.
	ControlConns int
	// StatementTimeout is PostgreSQL's statement_timeout on the API's connections
	// (DB_STATEMENT_TIMEOUT, default 15s; 0 turns it off). Workers are not bound by it.
	StatementTimeout time.Duration
}

// APILimits are the API's request deadlines and its rate and concurrency limits.
type APILimits struct {
	// Deadlines by route class: /healthz and /readyz; /v1/auth/*; the analytics routes
	// (/v1/metrics/*, /v1/orders, /v1/reports/preview); everything else.
	HealthTimeout    time.Duration // API_TIMEOUT_HEALTH, default 2s
	AuthTimeout      time.Duration // API_TIMEOUT_AUTH, default 10s
	AnalyticsTimeout time.Duration // API_TIMEOUT_ANALYTICS, default 15s
	DefaultTimeout   time.Duration // API_TIMEOUT_DEFAULT, default 30s
	// PerKey bounds the /v1 requests of one API key or signed-in user, PerIP those of one
	// client address (API_RATE_PER_KEY, API_RATE_PER_IP per API_RATE_WINDOW). They are
	// counted in PostgreSQL, so they hold across replicas.
	PerKey Limit
	PerIP  Limit
	// AnalyticsPerWorkspace is how many analytics requests of one workspace run at once on
	// one replica (API_ANALYTICS_CONCURRENCY_PER_WORKSPACE, default 2); AnalyticsPerReplica
	// how many of all workspaces together (API_ANALYTICS_CONCURRENCY, default half of
	// DB_MAX_CONNS). Past either, the request gets 429 at once.
	AnalyticsPerWorkspace int
	AnalyticsPerReplica   int
}

// DefaultMaxConns is DB_MAX_CONNS's default: max(8, 4 × CPUs).
func DefaultMaxConns() int { return max(8, 4*runtime.NumCPU()) }

// DefaultAPILimits are the limits a zero APILimits field takes; the analytics bound of a
// replica is half of maxConns, so analytics never holds more than half of the main pool.
func DefaultAPILimits(maxConns int) APILimits {
	return APILimits{
		HealthTimeout: 2 * time.Second, AuthTimeout: 10 * time.Second,
		AnalyticsTimeout: 15 * time.Second, DefaultTimeout: 30 * time.Second,
		PerKey:                Limit{Max: 600, Window: time.Minute},
		PerIP:                 Limit{Max: 1200, Window: time.Minute},
		AnalyticsPerWorkspace: 2,
		AnalyticsPerReplica:   max(1, maxConns/2),
	}
}

// WithDefaults fills every zero field from DefaultAPILimits(DefaultMaxConns()).
func (l APILimits) WithDefaults() APILimits {
	d := DefaultAPILimits(DefaultMaxConns())
	dur := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	dur(&l.HealthTimeout, d.HealthTimeout)
	dur(&l.AuthTimeout, d.AuthTimeout)
	dur(&l.AnalyticsTimeout, d.AnalyticsTimeout)
	dur(&l.DefaultTimeout, d.DefaultTimeout)
	if l.PerKey.Max <= 0 || l.PerKey.Window <= 0 {
		l.PerKey = d.PerKey
	}
	if l.PerIP.Max <= 0 || l.PerIP.Window <= 0 {
		l.PerIP = d.PerIP
	}
	if l.AnalyticsPerWorkspace <= 0 {
		l.AnalyticsPerWorkspace = d.AnalyticsPerWorkspace
	}
	if l.AnalyticsPerReplica <= 0 {
		l.AnalyticsPerReplica = d.AnalyticsPerReplica
	}
	return l
}

// Billing configures Stripe. An empty StripeSecretKey turns billing off (a self-hosted
// install): plan limits and dunning are not enforced and the billing routes answer 503.
type Billing struct {
	StripeSecretKey string
	// StripeWebhookSecret verifies Stripe-Signature on POST /webhooks/stripe (whsec_...).
	StripeWebhookSecret string
	// StripeAPIBase is https://api.stripe.com, or stripe-mock's URL locally.
	StripeAPIBase string
	// StripePrices are the monthly Price ids of the paid plans, by plan id.
	StripePrices map[string]string
}

// Reports configures report delivery.
type Reports struct {
	// WebhookAllowPrivate lets report webhooks reach private, loopback and link-local
	// addresses (development and tests only: in production it would let a tenant make the
	// worker call internal services).
	WebhookAllowPrivate bool
	// MaxTargetFailures is how many runs in a row may fail to reach one recipient before the
	// workspace admins are told and the report's schedule is paused.
	MaxTargetFailures int
}

// Identity configures people, sessions, email and OAuth connect.
type Identity struct {
	// JWTSecret signs access tokens (HS256, at least 32 bytes). Required by `api`.
	JWTSecret string
	// PublicURL is where people reach the API: links in emails and OAuth redirect URIs.
	PublicURL string
	// AppURL is the web app that opens invite and reset links; PublicURL when empty.
	AppURL string
	// SMTPURL is smtp://[user:pass@]host:port (smtps:// for implicit TLS).
	SMTPURL  string
	MailFrom string
	// Signup is "open" or "invite-only".
	Signup string
	// TrustedProxies are the proxies (IPs or CIDRs) whose X-Forwarded-For names the client,
	// for rate limits and the audit log. Empty trusts none: the peer address is the client.
	TrustedProxies []string
	// Limits bound sign-in, sign-up and reset attempts; zero fields take the defaults.
	Limits RateLimits

	// OAuth clients of the providers; an empty client id means the provider cannot be
	// connected by OAuth. The URLs default to the real providers.
	MetaAppID           string
	MetaAppSecret       string
	MetaOAuthDialogURL  string
	GoogleOAuthAuthURL  string
	TikTokAppID         string
	TikTokAppSecret     string
	TikTokOAuthURL      string
	ShopifyClientID     string
	ShopifyClientSecret string
}

// Signup modes.
const (
	SignupOpen       = "open"
	SignupInviteOnly = "invite-only"
)

// FromEnv reads the configuration, applying defaults for local development.
func FromEnv() (Config, error) {
	c := Config{
		DatabaseURL:       env("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/omnitrackiq?sslmode=disable"),
		TemporalAddress:   env("TEMPORAL_ADDRESS", "127.0.0.1:7233"),
		TemporalNamespace: env("TEMPORAL_NAMESPACE", "default"),
		EncryptionKey:     os.Getenv("ENCRYPTION_KEY"),
		EncryptionKeyID:   env("ENCRYPTION_KEY_ID", "k1"),
		EncryptionOldKeys: os.Getenv("ENCRYPTION_OLD_KEYS"),
		APIAddr:           env("API_ADDR", ":8080"),
		SandboxAddr:       env("SANDBOX_ADDR", "127.0.0.1:8090"),
		LogFormat:         env("LOG_FORMAT", "text"),
		MetaBaseURL:       env("META_BASE_URL", "https://graph.facebook.com"),
		MetaAPIVersion:    env("META_API_VERSION", "v23.0"),

		GoogleAdsBaseURL:        env("GOOGLE_ADS_BASE_URL", "https://googleads.googleapis.com"),
		GoogleAdsAPIVersion:     env("GOOGLE_ADS_API_VERSION", "v23"),
		GoogleAdsDeveloperToken: os.Getenv("GOOGLE_ADS_DEVELOPER_TOKEN"),
		GoogleOAuthClientID:     os.Getenv("GOOGLE_OAUTH_CLIENT_ID"),
		GoogleOAuthClientSecret: os.Getenv("GOOGLE_OAUTH_CLIENT_SECRET"),
		GoogleOAuthTokenURL:     env("GOOGLE_OAUTH_TOKEN_URL", "https://oauth2.googleapis.com/token"),
		TikTokBaseURL:           env("TIKTOK_BASE_URL", "https://business-api.tiktok.com"),
		ShopifyBaseURL:          os.Getenv("SHOPIFY_BASE_URL"),
		ShopifyAPIVersion:       env("SHOPIFY_API_VERSION", "2024-10"),
		ShopifyWebhookSecret:    os.Getenv("SHOPIFY_WEBHOOK_SECRET"),
		GA4BaseURL:              env("GA4_BASE_URL", "https://analyticsdata.googleapis.com"),
		GA4AdminBaseURL:         env("GA4_ADMIN_BASE_URL", "https://analyticsadmin.googleapis.com"),
		ActivitiesPerSecond:     map[string]float64{},
		Identity: Identity{
			JWTSecret:           os.Getenv("JWT_SECRET"),
			PublicURL:           strings.TrimRight(env("PUBLIC_URL", "http://127.0.0.1:8080"), "/"),
			AppURL:              strings.TrimRight(os.Getenv("APP_URL"), "/"),
			SMTPURL:             env("SMTP_URL", "smtp://127.0.0.1:1025"),
			MailFrom:            env("MAIL_FROM", "OmniTrackIQ <no-reply@omnitrackiq.local>"),
			Signup:              env("SIGNUP", SignupOpen),
			TrustedProxies:      splitList(os.Getenv("TRUSTED_PROXIES")),
			MetaAppID:           os.Getenv("META_APP_ID"),
			MetaAppSecret:       os.Getenv("META_APP_SECRET"),
			MetaOAuthDialogURL:  env("META_OAUTH_DIALOG_URL", "https://www.facebook.com"),
			GoogleOAuthAuthURL:  env("GOOGLE_OAUTH_AUTH_URL", "https://accounts.google.com/o/oauth2/v2/auth"),
			TikTokAppID:         os.Getenv("TIKTOK_APP_ID"),
			TikTokAppSecret:     os.Getenv("TIKTOK_APP_SECRET"),
			TikTokOAuthURL:      env("TIKTOK_OAUTH_URL", "https://business-api.tiktok.com/portal/auth"),
			ShopifyClientID:     os.Getenv("SHOPIFY_CLIENT_ID"),
			ShopifyClientSecret: os.Getenv("SHOPIFY_CLIENT_SECRET"),
		},
		Billing: Billing{
			StripeSecretKey:     os.Getenv("STRIPE_SECRET_KEY"),
			StripeWebhookSecret: os.Getenv("STRIPE_WEBHOOK_SECRET"),
			StripeAPIBase:       strings.TrimRight(env("STRIPE_API_BASE", "https://api.stripe.com"), "/"),
			StripePrices: map[string]string{
				"starter": env("STRIPE_PRICE_STARTER", "price_omnitrackiq_starter_monthly"),
				"pro":     env("STRIPE_PRICE_PRO", "price_omnitrackiq_pro_monthly"),
				"agency":  env("STRIPE_PRICE_AGENCY", "price_omnitrackiq_agency_monthly"),
			},
		},
	}
	// Shopify signs webhooks with the app's client secret: one secret unless told otherwise.
	if c.ShopifyWebhookSecret == "" {
		c.ShopifyWebhookSecret = c.ShopifyClientSecret
	}
	if c.AppURL == "" {
		c.AppURL = c.PublicURL
	}
	if c.Signup != SignupOpen && c.Signup != SignupInviteOnly {
		return Config{}, fmt.Errorf("configuration: SIGNUP must be %q or %q, not %q", SignupOpen, SignupInviteOnly, c.Signup)
	}
	var errs []string
	for _, p := range c.TrustedProxies {
		if _, _, err := net.ParseCIDR(p); err != nil && net.ParseIP(p) == nil {
			errs = append(errs, fmt.Sprintf("TRUSTED_PROXIES: %q is not an IP address or CIDR", p))
		}
	}
	if err := c.LogLevel.UnmarshalText([]byte(env("LOG_LEVEL", "info"))); err != nil {
		errs = append(errs, fmt.Sprintf("LOG_LEVEL: %v", err))
	}
	var err error
	if c.WebhookAllowPrivate, err = boolEnv("REPORT_WEBHOOK_ALLOW_PRIVATE", false); err != nil {
		errs = append(errs, "REPORT_WEBHOOK_ALLOW_PRIVATE must be true or false")
	}
	if c.MaxTargetFailures, err = intEnv("REPORT_MAX_TARGET_FAILURES", 3); err != nil || c.MaxTargetFailures < 1 || c.MaxTargetFailures > 100 {
		errs = append(errs, "REPORT_MAX_TARGET_FAILURES must be an integer from 1 to 100")
	}
	if c.MetaPageSize, err = intEnv("META_PAGE_SIZE", 100); err != nil || c.MetaPageSize < 1 || c.MetaPageSize > 500 {
		errs = append(errs, "META_PAGE_SIZE must be an integer from 1 to 500")
	}
	if c.MetaActivitiesPerSecond, err = floatEnv("META_ACTIVITIES_PER_SECOND", 2); err != nil || c.MetaActivitiesPerSecond <= 0 {
		errs = append(errs, "META_ACTIVITIES_PER_SECOND must be a positive number")
	}
	if c.MetaPollInterval, err = time.ParseDuration(env("META_POLL_INTERVAL", "5s")); err != nil || c.MetaPollInterval <= 0 {
		errs = append(errs, "META_POLL_INTERVAL must be a positive duration such as 5s")
	}
	for _, ch := range []string{"GOOGLE_ADS", "TIKTOK", "SHOPIFY", "GA4"} {
		key := ch + "_ACTIVITIES_PER_SECOND"
		v, err := floatEnv(key, 2)
		if err != nil || v <= 0 {
			errs = append(errs, key+" must be a positive number")
		}
		c.ActivitiesPerSecond[strings.ToLower(ch)] = v
	}
	c.BackfillActivitiesPerSecond = map[string]float64{}
	for _, ch := range []string{"META", "GOOGLE_ADS", "TIKTOK", "SHOPIFY", "GA4"} {
		key := ch + "_BACKFILL_ACTIVITIES_PER_SECOND"
		if os.Getenv(key) == "" {
			continue
		}
		v, err := floatEnv(key, 0)
		if err != nil || v <= 0 {
			errs = append(errs, key+" must be a positive number")
		}
		c.BackfillActivitiesPerSecond[strings.ToLower(ch)] = v
	}
	if c.GoogleTokenCacheSize, err = intEnv("GOOGLE_TOKEN_CACHE_SIZE", 10000); err != nil || c.GoogleTokenCacheSize < 1 {
		errs = append(errs, "GOOGLE_TOKEN_CACHE_SIZE must be a positive integer")
	}
	if c.MaxBackfillsPerWorkspace, err = intEnv("MAX_BACKFILLS_PER_WORKSPACE", 3); err != nil || c.MaxBackfillsPerWorkspace < 1 {
		errs = append(errs, "MAX_BACKFILLS_PER_WORKSPACE must be a positive integer")
	}
	if c.MaxBackfillWindowsPerWorkspace, err = intEnv("MAX_BACKFILL_WINDOWS_PER_WORKSPACE", 6); err != nil || c.MaxBackfillWindowsPerWorkspace < 1 {
		errs = append(errs, "MAX_BACKFILL_WINDOWS_PER_WORKSPACE must be a positive integer")
	}
	errs = append(errs, c.readLimits()...)
	if len(errs) > 0 {
		return Config{}, fmt.Errorf("configuration: %s", strings.Join(errs, "; "))
	}
	return c, nil
}

// readLimits reads the pool sizes, deadlines and API limits, returning what is invalid.
func (c *Config) readLimits() []string {
	var errs []string
	intIn := func(key string, def, lo, hi int, dst *int) {
		v, err := intEnv(key, def)
		if err != nil || v < lo || v > hi {
			errs = append(errs, fmt.Sprintf("%s must be an integer from %d to %d", key, lo, hi))
			return
		}
		*dst = v
	}
	durIn := func(key string, def, lo, hi time.Duration, dst *time.Duration) {
		v, err := time.ParseDuration(env(key, def.String()))
		if err != nil || v < lo || v > hi {
			errs = append(errs, fmt.Sprintf("%s must be a duration from %s to %s, such as %s", key, lo, hi, def))
			return
		}
		*dst = v
	}
	intIn("DB_MAX_CONNS", DefaultMaxConns(), 2, 1000, &c.DB.MaxConns)
	intIn("DB_MIN_CONNS", 0, 0, 1000, &c.DB.MinConns)
	intIn("DB_CONTROL_CONNS", 4, 0, 100, &c.DB.ControlConns)
	durIn("DB_STATEMENT_TIMEOUT", 15*time.Second, 0, time.Hour, &c.DB.StatementTimeout)
	if c.DB.MinConns > c.DB.MaxConns {
		errs = append(errs, "DB_MIN_CONNS must not exceed DB_MAX_CONNS")
	}

	d := DefaultAPILimits(c.DB.MaxConns)
	durIn("API_TIMEOUT_HEALTH", d.HealthTimeout, 100*time.Millisecond, time.Minute, &c.API.HealthTimeout)
	durIn("API_TIMEOUT_AUTH", d.AuthTimeout, time.Second, 10*time.Minute, &c.API.AuthTimeout)
	durIn("API_TIMEOUT_ANALYTICS", d.AnalyticsTimeout, time.Second, 10*time.Minute, &c.API.AnalyticsTimeout)
	durIn("API_TIMEOUT_DEFAULT", d.DefaultTimeout, time.Second, 10*time.Minute, &c.API.DefaultTimeout)
	var window time.Duration
	durIn("API_RATE_WINDOW", d.PerKey.Window, time.Second, time.Hour, &window)
	c.API.PerKey.Window, c.API.PerIP.Window = window, window
	intIn("API_RATE_PER_KEY", d.PerKey.Max, 1, 1_000_000, &c.API.PerKey.Max)
	intIn("API_RATE_PER_IP", d.PerIP.Max, 1, 1_000_000, &c.API.PerIP.Max)
	intIn("API_ANALYTICS_CONCURRENCY_PER_WORKSPACE", d.AnalyticsPerWorkspace, 1, 1000, &c.API.AnalyticsPerWorkspace)
	intIn("API_ANALYTICS_CONCURRENCY", d.AnalyticsPerReplica, 1, 1000, &c.API.AnalyticsPerReplica)
	if c.API.AnalyticsPerReplica >= c.DB.MaxConns && c.DB.MaxConns >= 2 {
		errs = append(errs, "API_ANALYTICS_CONCURRENCY must be below DB_MAX_CONNS, or analytics can hold the whole pool")
	}
	return errs
}

// Logger builds the process logger on stderr.
func (c Config) Logger() *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.LogLevel}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

func env(key, def string) string {
	if v, ok := os.LookupEnv(key); ok && v != "" {
		return v
	}
	return def
}

func intEnv(key string, def int) (int, error) {
	v := os.Getenv(key)
	if v == "" {
		return def, nil
	}
	return strconv.Atoi(v)
}

func floatEnv(key string, def float64) (float64, error) {
	v := os.Getenv(key)
	if v == "" {
		return def, nil
	}
	return strconv.ParseFloat(v, 64)
}

func splitList(v string) []string {
	var out []string
	for _, f := range strings.Split(v, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// Limit allows Max events per fixed Window.
type Limit struct {
	Max    int
	Window time.Duration
}

// RateLimits are the per-IP and per-email limits of the unauthenticated identity routes.
// They are counted in PostgreSQL, so they hold across API replicas.
type RateLimits struct {
	// LoginPerIP counts every sign-in attempt from an address.
	LoginPerIP Limit
	// LoginFailuresPerEmail counts failed sign-ins to one email; at Max, that email cannot
	// sign in (even with the right password) until the window ends.
	LoginFailuresPerEmail Limit
	SignupPerIP           Limit
	ResetPerIP            Limit
	ResetPerEmail         Limit
}

// DefaultRateLimits are the limits a zero RateLimits field takes.
func DefaultRateLimits() RateLimits {
	return RateLimits{
		LoginPerIP:            Limit{Max: 20, Window: time.Minute},
		LoginFailuresPerEmail: Limit{Max: 10, Window: 15 * time.Minute},
		SignupPerIP:           Limit{Max: 10, Window: time.Hour},
		ResetPerIP:            Limit{Max: 10, Window: time.Hour},
		ResetPerEmail:         Limit{Max: 3, Window: time.Hour},
	}
}

// WithDefaults fills every zero limit from DefaultRateLimits.
func (r RateLimits) WithDefaults() RateLimits {
	fill := func(l *Limit, d Limit) {
		if l.Max <= 0 || l.Window <= 0 {
			*l = d
		}
	}
	d := DefaultRateLimits()
	fill(&r.LoginPerIP, d.LoginPerIP)
	fill(&r.LoginFailuresPerEmail, d.LoginFailuresPerEmail)
	fill(&r.SignupPerIP, d.SignupPerIP)
	fill(&r.ResetPerIP, d.ResetPerIP)
	fill(&r.ResetPerEmail, d.ResetPerEmail)
	return r
}

func boolEnv(key string, def bool) (bool, error) {
	v := os.Getenv(key)
	if v == "" {
		return def, nil
	}
	return strconv.ParseBool(v)
}
