// Package connectorrun is the `omnitrackiq connector run` subcommand: it runs one connector
// against any base URL and prints the normalized daily rows as JSON Lines, for debugging
// and support.
package connectorrun

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	"github.com/omnitrackiq/omnitrackiq/internal/channels/meta"
	"github.com/omnitrackiq/omnitrackiq/internal/money"
)

// Exit codes.
const (
	ExitOK       = 0
	ExitFailure  = 1 // the provider failed or refused (auth, bad request, retries exhausted)
	ExitUsage    = 2 // bad flags
	tokenEnvMeta = "META_ACCESS_TOKEN"
)

// Retry limits: consecutive failures of one call before giving up.
const (
	maxRateLimitRetries = 5
	maxTransientRetries = 5
	firstBackoff        = time.Second
	maxBackoff          = 30 * time.Second
)

// sleep waits for d or until ctx ends; tests replace it.
var sleep = func(ctx context.Context, d time.Duration) error {
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

type options struct {
	channel    channels.Channel
	baseURL    string
	apiVersion string
	account    string
	token      string
	window     channels.Window
	level      channels.Level
	pageSize   int
}

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

func parseArgs(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("omnitrackiq connector run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	channel := fs.String("channel", "", "provider: meta (google_ads, tiktok, shopify and ga4 are not supported yet)")
	baseURL := fs.String("base-url", meta.DefaultBaseURL, "provider base URL (e.g. a sandbox: http://127.0.0.1:8090/meta)")
	apiVersion := fs.String("api-version", meta.DefaultAPIVersion, "Graph API version")
	account := fs.String("account", "", "ad account id, with or without act_")
	token := fs.String("token", "", "access token (prefer the "+tokenEnvMeta+" environment variable: flags show up in process lists)")
	from := fs.String("from", "", "first day, YYYY-MM-DD")
	to := fs.String("to", "", "last day, YYYY-MM-DD (inclusive)")
	level := fs.String("level", string(channels.LevelCampaign), "row granularity: campaign, adset or ad")
	pageSize := fs.Int("page-size", meta.DefaultPageSize, "rows per provider page")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: omnitrackiq connector run --channel meta --account ID --from YYYY-MM-DD --to YYYY-MM-DD [flags]\n\n"+
			"Reads daily ad metrics from one provider and prints one JSON object per row on stdout.\n"+
			"The token is read from --token or $%s.\n\nFlags:\n", tokenEnvMeta)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	if fs.NArg() > 0 {
		return options{}, usagef("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	var o options
	switch *channel {
	case "":
		return o, usagef("--channel is required (supported: meta)")
	case string(channels.Meta):
		o.channel = channels.Meta
	default:
		c, err := channels.ParseChannel(*channel)
		if err != nil {
			return o, usagef("%v", err)
		}
		return o, usagef("channel %s is not supported yet (supported: meta)", c)
	}
	o.baseURL, o.apiVersion = *baseURL, *apiVersion
	if *account == "" {
		return o, usagef("--account is required")
	}
	id, err := meta.NormalizeAccountID(*account)
	if err != nil {
		return o, usagef("--account: %v", err)
	}
	o.account = id
	o.token = *token
	if o.token == "" {
		o.token = os.Getenv(tokenEnvMeta)
	}
	if o.token == "" {
		return o, usagef("no access token: pass --token or set %s", tokenEnvMeta)
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
	if *pageSize < 1 {
		return o, usagef("--page-size must be positive")
	}
	o.pageSize = *pageSize
	return o, nil
}

// Run executes `omnitrackiq connector run` with args (after "connector run") and returns the
// exit code: 0 success, 1 provider failure, 2 usage error.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseArgs(args, stderr)
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
	reader := meta.New(meta.Options{
		BaseURL:    o.baseURL,
		APIVersion: o.apiVersion,
		HTTPClient: &http.Client{Timeout: meta.DefaultHTTPTimeout},
		PageSize:   o.pageSize,
		Logger:     log,
	})
	r := &runner{log: log, out: json.NewEncoder(stdout), level: o.level}
	if err := r.run(ctx, reader, channels.Account{ID: o.account, Token: o.token}, o.window); err != nil {
		// Provider errors never carry the token; scrub anyway, in case a proxy echoes it.
		fmt.Fprintln(stderr, strings.ReplaceAll(err.Error(), o.token, "[REDACTED]"))
		return ExitFailure
	}
	return ExitOK
}

type runner struct {
	log   *slog.Logger
	out   *json.Encoder
	level channels.Level
	rows  int
}

func (r *runner) run(ctx context.Context, reader channels.AdReader, acct channels.Account, w channels.Window) error {
	var info channels.AccountInfo
	err := r.retry(ctx, "account info", func() (err error) {
		info, err = reader.AccountInfo(ctx, acct)
		return err
	})
	if err != nil {
		return err
	}
	r.log.Info("account", "account_id", info.ID, "name", info.Name, "currency", info.Currency, "timezone", info.Timezone)
	req := channels.ReadRequest{Window: w, Level: r.level}
	start := time.Now()
	cursor, pages := "", 0
	for {
		var page channels.Page
		err := r.retry(ctx, "read page", func() (err error) {
			page, err = reader.ReadPage(ctx, acct, req, cursor)
			return err
		})
		if err != nil {
			return err
		}
		pages++
		for _, row := range page.Rows {
			if err := r.out.Encode(toLine(row, r.level)); err != nil {
				return fmt.Errorf("write output: %w", err)
			}
			r.rows++
		}
		if page.Next == "" {
			break
		}
		cursor = page.Next
		if page.Wait > 0 {
			r.log.Debug("waiting before the next call", "wait", page.Wait)
			if err := sleep(ctx, page.Wait); err != nil {
				return fmt.Errorf("interrupted: %w", err)
			}
		}
	}
	r.log.Info("done", "rows", r.rows, "calls", pages, "window", w.String(), "level", string(r.level),
		"duration", time.Since(start).Round(time.Millisecond))
	return nil
}

// retry calls f until it succeeds, retrying rate limits after their RetryAfter and transient
// errors with exponential backoff, a few times each; auth and bad-request errors return at once.
func (r *runner) retry(ctx context.Context, what string, f func() error) error {
	rateLimited, transient := 0, 0
	backoff := firstBackoff
	for {
		err := f()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted: %w", ctx.Err())
		}
		pe, ok := channels.AsError(err)
		if !ok {
			return err
		}
		var wait time.Duration
		switch pe.Kind {
		case channels.KindRateLimited:
			rateLimited++
			if rateLimited > maxRateLimitRetries {
				return err
			}
			wait = max(pe.RetryAfter, time.Second)
		case channels.KindTransient:
			transient++
			if transient > maxTransientRetries {
				return err
			}
			wait = backoff
			backoff = min(backoff*2, maxBackoff)
		default:
			return err
		}
		r.log.Warn("retrying", "call", what, "kind", pe.Kind.String(), "code", pe.Code, "wait", wait, "error", pe.Message)
		if err := sleep(ctx, wait); err != nil {
			return fmt.Errorf("interrupted: %w", err)
		}
	}
}

// line is one output row. Field order and names are part of the CLI's contract.
type line struct {
	Channel               string      `json:"channel"`
	AccountID             string      `json:"account_id"`
	CampaignID            string      `json:"campaign_id"`
	CampaignName          string      `json:"campaign_name"`
	AdSetID               *string     `json:"adset_id,omitempty"`
	AdID                  *string     `json:"ad_id,omitempty"`
	Date                  string      `json:"date"`
	Currency              string      `json:"currency"`
	SpendMicros           int64       `json:"spend_micros"`
	Impressions           int64       `json:"impressions"`
	Clicks                int64       `json:"clicks"`
	Conversions           json.Number `json:"conversions"`
	ConversionValueMicros int64       `json:"conversion_value_micros"`
}

func toLine(r channels.AdRow, level channels.Level) line {
	l := line{
		Channel:               string(r.Channel),
		AccountID:             r.AccountID,
		CampaignID:            r.CampaignID,
		CampaignName:          r.CampaignName,
		Date:                  r.Date.Format(channels.DateLayout),
		Currency:              r.Currency,
		SpendMicros:           r.SpendMicros,
		Impressions:           r.Impressions,
		Clicks:                r.Clicks,
		Conversions:           json.Number(money.FormatDecimalMicros(r.ConversionsMicros)),
		ConversionValueMicros: r.ConversionValueMicros,
	}
	if level == channels.LevelAdSet || level == channels.LevelAd {
		id := r.AdSetID
		l.AdSetID = &id
	}
	if level == channels.LevelAd {
		id := r.AdID
		l.AdID = &id
	}
	return l
}
