package connectorrun

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	"github.com/omnitrackiq/omnitrackiq/internal/channels/ga4"
	"github.com/omnitrackiq/omnitrackiq/internal/channels/googleads"
	"github.com/omnitrackiq/omnitrackiq/internal/channels/meta"
	"github.com/omnitrackiq/omnitrackiq/internal/channels/shopify"
	"github.com/omnitrackiq/omnitrackiq/internal/channels/tiktok"
)

// Retry limits: consecutive failures of one call before giving up.
const (
	maxRateLimitRetries = 5
	maxTransientRetries = 5
	firstBackoff        = time.Second
	maxBackoff          = 30 * time.Second
	minRateLimitWait    = time.Second
)

// runner reads one account and writes its lines.
type runner struct {
	log   *slog.Logger
	out   *json.Encoder
	sleep func(ctx context.Context, d time.Duration) error
	// Counters of the read, for the closing log line: page calls, lines printed, items
	// skipped (Shopify orders created outside the window).
	calls, rows, skipped int
}

func newRunner(log *slog.Logger, out io.Writer, sleep func(context.Context, time.Duration) error) *runner {
	return &runner{log: log, out: json.NewEncoder(out), sleep: sleep}
}

// run builds the channel's connector, checks the account and prints every line of the read.
func (r *runner) run(ctx context.Context, o options) error {
	start := time.Now()
	var err error
	switch o.kind {
	case adData:
		err = r.readAds(ctx, newAdReader(o, r.log), o)
	case orderData:
		err = r.readOrders(ctx, newOrderReader(o, r.log), o)
	case sessionData:
		err = r.readSessions(ctx, newSessionReader(o, r.log), o)
	}
	if err != nil {
		return err
	}
	attrs := []any{"rows", r.rows, "calls", r.calls, "window", o.window.String()}
	if o.kind == adData {
		attrs = append(attrs, "level", string(o.level))
	}
	if r.skipped > 0 {
		attrs = append(attrs, "skipped", r.skipped)
	}
	r.log.Info("done", append(attrs, "duration", time.Since(start).Round(time.Millisecond))...)
	return nil
}

func newAdReader(o options, log *slog.Logger) channels.AdReader {
	switch o.channel {
	case channels.GoogleAds:
		return googleads.New(googleads.Options{BaseURL: o.baseURL, APIVersion: o.apiVersion,
			DeveloperToken: o.developerToken, TokenURL: o.tokenURL, ClientID: o.clientID,
			ClientSecret: o.clientSecret, Logger: log})
	case channels.TikTok:
		return tiktok.New(tiktok.Options{BaseURL: o.baseURL, PageSize: o.pageSize, Logger: log})
	default:
		return meta.New(meta.Options{BaseURL: o.baseURL, APIVersion: o.apiVersion, PageSize: o.pageSize, Logger: log})
	}
}

func newOrderReader(o options, log *slog.Logger) channels.OrderReader {
	return shopify.New(shopify.Options{BaseURL: o.baseURL, APIVersion: o.apiVersion, PageSize: o.pageSize, Logger: log})
}

func newSessionReader(o options, log *slog.Logger) channels.SessionReader {
	return ga4.New(ga4.Options{BaseURL: o.baseURL, TokenURL: o.tokenURL, ClientID: o.clientID,
		ClientSecret: o.clientSecret, PageSize: o.pageSize, Logger: log})
}

func (r *runner) readAds(ctx context.Context, reader channels.AdReader, o options) error {
	if _, err := r.accountInfo(ctx, reader, o.acct); err != nil {
		return err
	}
	req := channels.ReadRequest{Window: o.window, Level: o.level}
	return drain(ctx, r, func(ctx context.Context, cursor string) ([]channels.AdRow, string, time.Duration, error) {
		p, err := reader.ReadPage(ctx, o.acct, req, cursor)
		return p.Rows, p.Next, p.Wait, err
	}, func(row channels.AdRow) (any, bool) { return adLineOf(row, o.level), true })
}

// readOrders prints the orders created on the window's days in the shop's timezone. Shopify
// filters by update time, so it asks for every order updated since the first day began and
// skips those created after the last day.
func (r *runner) readOrders(ctx context.Context, reader channels.OrderReader, o options) error {
	info, err := r.accountInfo(ctx, reader, o.acct)
	if err != nil {
		return err
	}
	loc := time.UTC
	if info.Timezone != "" {
		if l, err := time.LoadLocation(info.Timezone); err == nil {
			loc = l
		} else {
			r.log.Warn("unknown shop timezone: the window's days are UTC days", "timezone", info.Timezone)
		}
	}
	from := time.Date(o.window.From.Year(), o.window.From.Month(), o.window.From.Day(), 0, 0, 0, 0, loc)
	end := time.Date(o.window.To.Year(), o.window.To.Month(), o.window.To.Day()+1, 0, 0, 0, 0, loc)
	r.log.Info("orders", "created_from", from.Format(time.RFC3339), "created_before", end.Format(time.RFC3339))
	req := channels.OrdersRequest{UpdatedMin: from}
	return drain(ctx, r, func(ctx context.Context, cursor string) ([]channels.Order, string, time.Duration, error) {
		p, err := reader.ReadOrders(ctx, o.acct, req, cursor)
		return p.Orders, p.Next, p.Wait, err
	}, func(ord channels.Order) (any, bool) {
		if ord.CreatedAt.Before(from) || !ord.CreatedAt.Before(end) {
			return nil, false
		}
		return orderLineOf(ord), true
	})
}

func (r *runner) readSessions(ctx context.Context, reader channels.SessionReader, o options) error {
	if _, err := r.accountInfo(ctx, reader, o.acct); err != nil {
		return err
	}
	req := channels.ReadRequest{Window: o.window}
	return drain(ctx, r, func(ctx context.Context, cursor string) ([]channels.SessionRow, string, time.Duration, error) {
		p, err := reader.ReadSessions(ctx, o.acct, req, cursor)
		return p.Rows, p.Next, p.Wait, err
	}, func(row channels.SessionRow) (any, bool) { return sessionLineOf(row), true })
}

// accountInfo reads and logs the account's description, which also proves the credentials.
func (r *runner) accountInfo(ctx context.Context, reader channels.AccountReader, acct channels.Account) (channels.AccountInfo, error) {
	var info channels.AccountInfo
	err := r.retry(ctx, "account info", func() (err error) {
		info, err = reader.AccountInfo(ctx, acct)
		return err
	})
	if err != nil {
		return info, err
	}
	r.log.Info("account", "account_id", info.ID, "name", info.Name, "currency", info.Currency, "timezone", info.Timezone)
	return info, nil
}

// readFunc reads one page at cursor: its items, the next cursor ("" at the end) and how
// long to wait before the next call.
type readFunc[T any] func(ctx context.Context, cursor string) (items []T, next string, wait time.Duration, err error)

// drain reads every page, with retries, waiting between pages as the provider asks, and
// prints the line of each item; lineOf returns false for items to skip.
func drain[T any](ctx context.Context, r *runner, read readFunc[T], lineOf func(T) (any, bool)) error {
	cursor := ""
	for {
		var (
			items []T
			next  string
			wait  time.Duration
		)
		err := r.retry(ctx, "read page", func() (err error) {
			items, next, wait, err = read(ctx, cursor)
			return err
		})
		if err != nil {
			return err
		}
		r.calls++
		for _, it := range items {
			l, ok := lineOf(it)
			if !ok {
				r.skipped++
				continue
			}
			if err := r.out.Encode(l); err != nil {
				return fmt.Errorf("write output: %w", err)
			}
			r.rows++
		}
		if next == "" {
			return nil
		}
		cursor = next
		if wait > 0 {
			r.log.Debug("waiting before the next call", "wait", wait)
			if err := r.sleep(ctx, wait); err != nil {
				return fmt.Errorf("interrupted: %w", err)
			}
		}
	}
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
			wait = max(pe.RetryAfter, minRateLimitWait)
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
		if err := r.sleep(ctx, wait); err != nil {
			return fmt.Errorf("interrupted: %w", err)
		}
	}
}
