// Package connectorrun is the `omnitrackiq connector run` subcommand: it runs one connector
// (meta, google_ads, tiktok, shopify or ga4) against any base URL and prints what it reads as
// JSON Lines, for debugging and support.
//
// Output, one JSON object per line on stdout:
//
//   - meta, google_ads, tiktok: daily ad rows {channel, account_id, campaign_id, campaign_name,
//     date, currency, spend_micros, impressions, clicks, conversions, conversion_value_micros},
//     plus adset_id (and ad_id) at --level adset (ad).
//   - shopify: orders {order_id, created_at, updated_at, currency, total_micros,
//     financial_status, customer_id, utm_source, utm_medium, utm_campaign, test, cancelled}.
//     The read asks for every order updated since 00:00 of --from and prints those created
//     from 00:00 of --from to the end of --to, both in the shop's timezone (UTC when the shop
//     reports none that this system knows): the orders of those days as they are now.
//   - ga4: daily session rows {property_id, date, source, medium, campaign, sessions,
//     conversions, revenue_micros}.
//
// Logs (slog text) and errors go to stderr. Credentials come from flags or, when no
// credential flag is given, from the channel's environment variables; they are never
// printed.
package connectorrun

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	"github.com/omnitrackiq/omnitrackiq/internal/channels/ga4"
	"github.com/omnitrackiq/omnitrackiq/internal/channels/googleads"
	"github.com/omnitrackiq/omnitrackiq/internal/channels/meta"
	"github.com/omnitrackiq/omnitrackiq/internal/channels/shopify"
	"github.com/omnitrackiq/omnitrackiq/internal/channels/tiktok"
)

// Exit codes.
const (
	ExitOK      = 0
	ExitFailure = 1 // the provider failed or refused (auth, bad request, retries exhausted)
	ExitUsage   = 2 // bad flags
)

// Environment variables read when the matching flag is not given.
const (
	envMetaToken          = "META_ACCESS_TOKEN"
	envGoogleAdsToken     = "GOOGLE_ADS_ACCESS_TOKEN"
	envGoogleAdsRefresh   = "GOOGLE_ADS_REFRESH_TOKEN"
	envGoogleAdsDevToken  = "GOOGLE_ADS_DEVELOPER_TOKEN"
	envTikTokToken        = "TIKTOK_ACCESS_TOKEN"
	envShopifyToken       = "SHOPIFY_ACCESS_TOKEN"
	envGA4Token           = "GA4_ACCESS_TOKEN"
	envGA4Refresh         = "GA4_REFRESH_TOKEN"
	envGoogleClientID     = "GOOGLE_OAUTH_CLIENT_ID"
	envGoogleClientSecret = "GOOGLE_OAUTH_CLIENT_SECRET"
	envGoogleTokenURL     = "GOOGLE_OAUTH_TOKEN_URL"
)

const supportedChannels = "meta, google_ads, tiktok, shopify, ga4"

// dataKind is the kind of data a channel's connector reads.
type dataKind int

const (
	adData dataKind = iota
	orderData
	sessionData
)

// channelSpec is how the command line of one channel differs from the others'.
type channelSpec struct {
	kind dataKind
	// tokenEnv and refreshEnv name the credential variables; refreshEnv is "" for channels
	// without OAuth refresh tokens.
	tokenEnv, refreshEnv string
	// normalize returns the canonical account id.
	normalize func(string) (string, error)
	// flags are the channel-specific flags the channel accepts.
	flags []string
	// maxPageSize caps --page-size; 0 means no cap.
	maxPageSize int
}

func specOf(c channels.Channel) channelSpec {
	oauth := []string{"refresh-token", "token-url", "client-id", "client-secret"}
	switch c {
	case channels.Meta:
		return channelSpec{kind: adData, tokenEnv: envMetaToken, normalize: meta.NormalizeAccountID,
			flags: []string{"level", "page-size", "api-version"}}
	case channels.GoogleAds:
		return channelSpec{kind: adData, tokenEnv: envGoogleAdsToken, refreshEnv: envGoogleAdsRefresh,
			normalize: googleads.NormalizeCustomerID,
			flags:     append([]string{"level", "api-version", "developer-token", "login-customer-id"}, oauth...)}
	case channels.TikTok:
		return channelSpec{kind: adData, tokenEnv: envTikTokToken, normalize: tiktok.NormalizeAdvertiserID,
			flags: []string{"level", "page-size"}, maxPageSize: tiktok.MaxPageSize}
	case channels.Shopify:
		return channelSpec{kind: orderData, tokenEnv: envShopifyToken, normalize: shopify.NormalizeShopDomain,
			flags: []string{"page-size", "api-version"}, maxPageSize: shopify.MaxPageSize}
	default: // channels.GA4
		return channelSpec{kind: sessionData, tokenEnv: envGA4Token, refreshEnv: envGA4Refresh,
			normalize: ga4.NormalizePropertyID, flags: append([]string{"page-size"}, oauth...),
			maxPageSize: ga4.MaxPageSize}
	}
}

// options is a validated command line.
type options struct {
	channel    channels.Channel
	kind       dataKind
	baseURL    string // "" means the connector's default
	apiVersion string // "" means the connector's default
	acct       channels.Account
	window     channels.Window
	level      channels.Level
	pageSize   int // 0 means the connector's default
	// Google only.
	developerToken string
	tokenURL       string
	clientID       string
	clientSecret   string
}

// secrets are the values that must never reach the output.
func (o options) secrets() []string {
	return []string{o.acct.Token, o.acct.RefreshToken, o.clientSecret, o.developerToken}
}

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

const usageText = `Usage: omnitrackiq connector run --channel CHANNEL --account ID --from YYYY-MM-DD --to YYYY-MM-DD [flags]

Reads one provider account and prints one JSON object per line on stdout: daily ad rows
(meta, google_ads, tiktok), orders (shopify) or daily sessions (ga4).

Channels, their --account and their credentials (each flag falls back to the variable):
  meta        ad account id, with or without act_
              --token ($META_ACCESS_TOKEN)
  google_ads  customer id, 1234567890 or 123-456-7890
              --token ($GOOGLE_ADS_ACCESS_TOKEN) or --refresh-token ($GOOGLE_ADS_REFRESH_TOKEN);
              --developer-token ($GOOGLE_ADS_DEVELOPER_TOKEN), required;
              --login-customer-id when a manager account acts for the customer
  tiktok      advertiser id
              --token ($TIKTOK_ACCESS_TOKEN)
  shopify     shop: demo-store or demo-store.myshopify.com
              --token ($SHOPIFY_ACCESS_TOKEN)
  ga4         property id: 123 or properties/123
              --token ($GA4_ACCESS_TOKEN) or --refresh-token ($GA4_REFRESH_TOKEN)
A refresh token (google_ads, ga4) is used with the OAuth client: --client-id
($GOOGLE_OAUTH_CLIENT_ID), required, --client-secret ($GOOGLE_OAUTH_CLIENT_SECRET) and
--token-url ($GOOGLE_OAUTH_TOKEN_URL); with both tokens the refresh token wins. When --token or
--refresh-token is given, no token is read from the environment. Prefer the environment: flags
show up in process lists.

Shopify prints the orders created from 00:00 of --from to the end of --to in the shop's
timezone (UTC if it has none), as they are now.

Exit status: 0 success, 1 provider or auth failure, 2 usage error.

Flags:
`

func parseArgs(args []string, stderr io.Writer, getenv func(string) string) (options, error) {
	fs := flag.NewFlagSet("omnitrackiq connector run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	channel := fs.String("channel", "", "provider: "+supportedChannels)
	baseURL := fs.String("base-url", "", "provider base URL, e.g. a sandbox's http://127.0.0.1:8090/meta (default: meta "+
		meta.DefaultBaseURL+", google_ads "+googleads.DefaultBaseURL+", tiktok "+tiktok.DefaultBaseURL+
		", ga4 "+ga4.DefaultBaseURL+", shopify https://{shop}.myshopify.com)")
	account := fs.String("account", "", "account id (see above)")
	token := fs.String("token", "", "access token")
	from := fs.String("from", "", "first day, YYYY-MM-DD")
	to := fs.String("to", "", "last day, YYYY-MM-DD (inclusive)")
	level := fs.String("level", string(channels.LevelCampaign), "ad channels: row granularity, campaign, adset or ad")
	pageSize := fs.Int("page-size", 0, "meta, tiktok, shopify, ga4: rows per provider page (default: the connector's)")
	apiVersion := fs.String("api-version", "", "meta, google_ads, shopify: API version (default: the connector's)")
	refreshToken := fs.String("refresh-token", "", "google_ads, ga4: OAuth refresh token")
	tokenURL := fs.String("token-url", "", "google_ads, ga4: OAuth token endpoint (default "+googleads.DefaultTokenURL+")")
	clientID := fs.String("client-id", "", "google_ads, ga4: OAuth client id")
	clientSecret := fs.String("client-secret", "", "google_ads, ga4: OAuth client secret")
	developerToken := fs.String("developer-token", "", "google_ads: developer token")
	loginCustomerID := fs.String("login-customer-id", "", "google_ads: manager account acting for --account")
	fs.Usage = func() {
		fmt.Fprint(stderr, usageText)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	if fs.NArg() > 0 {
		return options{}, usagef("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	var o options
	if *channel == "" {
		return o, usagef("--channel is required (%s)", supportedChannels)
	}
	c, err := channels.ParseChannel(*channel)
	if err != nil {
		return o, usagef("%v", err)
	}
	spec := specOf(c)
	o.channel, o.kind = c, spec.kind
	common := []string{"channel", "base-url", "account", "token", "from", "to"}
	given := map[string]bool{}
	var misplaced []string
	fs.Visit(func(f *flag.Flag) {
		given[f.Name] = true
		if !slices.Contains(common, f.Name) && !slices.Contains(spec.flags, f.Name) {
			misplaced = append(misplaced, "--"+f.Name)
		}
	})
	if len(misplaced) > 0 {
		return o, usagef("%s: not a flag of channel %s", strings.Join(misplaced, ", "), c)
	}
	flagOrEnv := func(v, env string) string {
		if v != "" {
			return v
		}
		return getenv(env)
	}

	if o.baseURL, err = checkURL("--base-url", *baseURL); err != nil {
		return o, err
	}
	o.apiVersion = *apiVersion
	if *account == "" {
		return o, usagef("--account is required")
	}
	if o.acct.ID, err = spec.normalize(*account); err != nil {
		return o, usagef("--account: %v", err)
	}

	// Credentials: the flags, or else the environment, never a mix of both.
	o.acct.Token, o.acct.RefreshToken = *token, *refreshToken
	if o.acct.Token == "" && o.acct.RefreshToken == "" {
		o.acct.Token = getenv(spec.tokenEnv)
		if spec.refreshEnv != "" {
			o.acct.RefreshToken = getenv(spec.refreshEnv)
		}
	}
	switch {
	case o.acct.Token != "" || o.acct.RefreshToken != "":
	case spec.refreshEnv != "":
		return o, usagef("no access token: pass --token or --refresh-token, or set %s or %s", spec.tokenEnv, spec.refreshEnv)
	default:
		return o, usagef("no access token: pass --token or set %s", spec.tokenEnv)
	}
	if spec.refreshEnv != "" {
		o.clientID = flagOrEnv(*clientID, envGoogleClientID)
		o.clientSecret = flagOrEnv(*clientSecret, envGoogleClientSecret)
		if o.tokenURL, err = checkURL("--token-url", flagOrEnv(*tokenURL, envGoogleTokenURL)); err != nil {
			return o, err
		}
		if o.acct.RefreshToken != "" && o.clientID == "" {
			return o, usagef("a refresh token needs the OAuth client: pass --client-id or set %s", envGoogleClientID)
		}
	}
	if c == channels.GoogleAds {
		if o.developerToken = flagOrEnv(*developerToken, envGoogleAdsDevToken); o.developerToken == "" {
			return o, usagef("no developer token: pass --developer-token or set %s", envGoogleAdsDevToken)
		}
		if *loginCustomerID != "" {
			if o.acct.LoginCustomerID, err = googleads.NormalizeCustomerID(*loginCustomerID); err != nil {
				return o, usagef("--login-customer-id: %v", err)
			}
		}
	}

	if *from == "" || *to == "" {
		return o, usagef("--from and --to are required (YYYY-MM-DD)")
	}
	if o.window, err = channels.ParseWindow(*from, *to); err != nil {
		return o, usagef("%v", err)
	}
	switch l := channels.Level(*level); l {
	case channels.LevelCampaign, channels.LevelAdSet, channels.LevelAd:
		o.level = l
	default:
		return o, usagef("--level %q is not one of campaign, adset, ad", *level)
	}
	if given["page-size"] {
		if *pageSize < 1 {
			return o, usagef("--page-size must be positive")
		}
		if spec.maxPageSize > 0 && *pageSize > spec.maxPageSize {
			return o, usagef("--page-size %d is above the %s maximum %d", *pageSize, c, spec.maxPageSize)
		}
		o.pageSize = *pageSize
	}
	return o, nil
}

// checkURL validates an optional http(s) URL flag.
func checkURL(name, s string) (string, error) {
	if s == "" {
		return "", nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", usagef("%s %q is not an http or https URL", name, s)
	}
	return s, nil
}

// env is what Run takes from the process; tests replace it.
type env struct {
	getenv func(string) string
	// sleep waits for d or until ctx ends.
	sleep func(ctx context.Context, d time.Duration) error
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Run executes `omnitrackiq connector run` with args (after "connector run") and returns the
// exit code: 0 success, 1 provider failure, 2 usage error.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return run(ctx, args, stdout, stderr, env{getenv: os.Getenv, sleep: sleepCtx})
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer, e env) int {
	o, err := parseArgs(args, stderr, e.getenv)
	if errors.Is(err, flag.ErrHelp) {
		return ExitOK
	}
	if err != nil {
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(stderr, "connector run: %s\n", ue.msg)
		}
		// flag parse errors are already printed by the flag set.
		return ExitUsage
	}
	log := slog.New(slog.NewTextHandler(stderr, nil)).With("channel", string(o.channel))
	r := newRunner(log, stdout, e.sleep)
	if err := r.run(ctx, o); err != nil {
		fmt.Fprintln(stderr, redact(err.Error(), o.secrets()))
		return ExitFailure
	}
	return ExitOK
}

// minRedactLen is the shortest secret redact replaces: real credentials are far longer, and
// replacing a short value such as "d" everywhere would garble the message.
const minRedactLen = 8

// redact replaces the secrets in msg. Provider errors never carry a credential; this is in
// case a proxy echoes one.
func redact(msg string, secrets []string) string {
	for _, s := range secrets {
		if len(s) >= minRedactLen {
			msg = strings.ReplaceAll(msg, s, "[REDACTED]")
		}
	}
	return msg
}
