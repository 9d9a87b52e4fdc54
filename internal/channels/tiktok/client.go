// Package tiktok is the TikTok Business (Marketing) API v1.3 connector. It implements
// channels.AdReader with the synchronous integrated report:
//
//	GET /open_api/v1.3/advertiser/info/          name, currency and timezone of the advertiser
//	GET /open_api/v1.3/report/integrated/get/    daily BASIC report rows, paged with page/page_size
//
// Both paths keep their trailing slash (TikTok answers 404 without it) and the token travels
// in the Access-Token header, never in the URL. TikTok answers HTTP 200 even on failure; the
// envelope's code says what happened (see errors.go).
//
// A report request covers at most 30 days when stat_time_day is a dimension, so a longer
// window is read as consecutive 30-day slices. Every ReadPage call reads one page of one
// slice and returns an opaque cursor (JSON, without the token) holding the slice, the page and
// the advertiser's currency, so a read resumes after a process restart.
package tiktok

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	"github.com/omnitrackiq/omnitrackiq/internal/channels/cursorx"
	"github.com/omnitrackiq/omnitrackiq/internal/channels/httpx"
	"github.com/omnitrackiq/omnitrackiq/internal/channels/jsonx"
)

// Defaults of Options.
const (
	DefaultBaseURL = "https://business-api.tiktok.com"
	// DefaultPageSize is TikTok's maximum page_size, as Airbyte uses for reports.
	DefaultPageSize = 1000
	// MaxPageSize is the largest page_size TikTok accepts.
	MaxPageSize = 1000
	// DefaultRateLimitBackoff is the RetryAfter of a rate-limit error: TikTok sends no delay,
	// and recommends exponential backoff starting at about 5 s.
	DefaultRateLimitBackoff = 5 * time.Second
	DefaultHTTPTimeout      = 2 * time.Minute
)

// MaxSliceDays is the longest range (inclusive) of one report request with the stat_time_day
// dimension.
const MaxSliceDays = 30

const (
	apiPrefix          = "open_api/v1.3"
	pathReport         = "report/integrated/get/"
	pathAdvertiserInfo = "advertiser/info/"
	maxResponseBytes   = 64 << 20
	userAgent          = "omnitrackiq-tiktok-connector"
	defaultLevel       = channels.LevelCampaign
)

// Options configures a Client. Zero values take the defaults above.
type Options struct {
	// BaseURL replaces https://business-api.tiktok.com. It may carry a path prefix
	// (http://127.0.0.1:8090/tiktok); /open_api/v1.3/... is joined onto it.
	BaseURL string
	// HTTPClient defaults to a client with a DefaultHTTPTimeout timeout.
	HTTPClient *http.Client
	// PageSize is the page_size of each report page, at most MaxPageSize.
	PageSize int
	// DefaultRateLimitBackoff is the RetryAfter of rate-limit errors (40100, 40133, 40016).
	DefaultRateLimitBackoff time.Duration
	// Logger receives debug and info events; it never sees the access token.
	Logger *slog.Logger
}

// Client is the TikTok report connector. It is safe for concurrent use.
type Client struct {
	o       Options
	base    *url.URL
	baseErr error

	// currencies caches advertiser currencies, which TikTok fixes when an advertiser is
	// created, so a new read need not ask advertiser/info again.
	mu         sync.Mutex
	currencies map[string]string
}

var _ channels.AdReader = (*Client)(nil)

// New returns a Client; unset options take their defaults.
func New(o Options) *Client {
	if o.BaseURL == "" {
		o.BaseURL = DefaultBaseURL
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: DefaultHTTPTimeout}
	}
	if o.PageSize <= 0 || o.PageSize > MaxPageSize {
		o.PageSize = DefaultPageSize
	}
	if o.DefaultRateLimitBackoff <= 0 {
		o.DefaultRateLimitBackoff = DefaultRateLimitBackoff
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	c := &Client{o: o, currencies: map[string]string{}}
	c.base, c.baseErr = httpx.ParseBaseURL("base URL", o.BaseURL)
	return c
}

// NormalizeAdvertiserID returns a TikTok advertiser id in canonical form: its digits, with
// surrounding space removed.
func NormalizeAdvertiserID(s string) (string, error) {
	id := strings.TrimSpace(s)
	if id == "" {
		return "", fmt.Errorf("tiktok advertiser id %q is empty", s)
	}
	if len(id) > 20 {
		return "", fmt.Errorf("tiktok advertiser id %q is longer than 20 digits", s)
	}
	for _, r := range id {
		if r < '0' || r > '9' {
			return "", fmt.Errorf("tiktok advertiser id %q must be digits", s)
		}
	}
	return id, nil
}

// AccountInfo reads the advertiser's name, currency and timezone from advertiser/info/.
func (c *Client) AccountInfo(ctx context.Context, acct channels.Account) (channels.AccountInfo, error) {
	id, err := c.prepare(acct)
	if err != nil {
		return channels.AccountInfo{}, err
	}
	return c.advertiserInfo(ctx, acct.Token, id)
}

func (c *Client) advertiserInfo(ctx context.Context, token, id string) (channels.AccountInfo, error) {
	ids, _ := json.Marshal([]string{id})
	// display_timezone is the IANA name (America/New_York); timezone may be an offset zone
	// (Etc/GMT+5) and is only the fallback.
	fields, _ := json.Marshal([]string{"advertiser_id", "name", "currency", "timezone", "display_timezone"})
	q := url.Values{"advertiser_ids": {string(ids)}, "fields": {string(fields)}}
	data, err := c.call(ctx, token, pathAdvertiserInfo, q)
	if err != nil {
		return channels.AccountInfo{}, err
	}
	var r struct {
		List []struct {
			AdvertiserID    jsonx.Text `json:"advertiser_id"`
			Name            string     `json:"name"`
			Currency        string     `json:"currency"`
			Timezone        string     `json:"timezone"`
			DisplayTimezone string     `json:"display_timezone"`
		} `json:"list"`
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return channels.AccountInfo{}, c.badResponse(token, pathAdvertiserInfo, err)
	}
	for _, a := range r.List {
		if string(a.AdvertiserID) != id {
			continue
		}
		tz := a.DisplayTimezone
		if tz == "" {
			tz = a.Timezone
		}
		if a.Currency != "" {
			c.mu.Lock()
			if _, known := c.currencies[id]; !known && len(c.currencies) >= maxCachedCurrencies {
				// Bounded: start over rather than grow with every advertiser ever read. Each
				// advertiser then costs one advertiser/info call again.
				clear(c.currencies)
			}
			c.currencies[id] = a.Currency
			c.mu.Unlock()
		}
		return channels.AccountInfo{ID: id, Name: a.Name, Currency: a.Currency, Timezone: tz}, nil
	}
	return channels.AccountInfo{}, &channels.Error{Channel: channels.TikTok, Kind: channels.KindBadRequest,
		Message: fmt.Sprintf("advertiser/info/ does not list advertiser %s", id)}
}

// maxCachedCurrencies bounds the advertiser currency cache.
const maxCachedCurrencies = 10_000

// currency is the advertiser's currency, from the cache or advertiser/info/.
func (c *Client) currency(ctx context.Context, token, id string) (string, error) {
	c.mu.Lock()
	cur, ok := c.currencies[id]
	c.mu.Unlock()
	if ok {
		return cur, nil
	}
	info, err := c.advertiserInfo(ctx, token, id)
	if err != nil {
		return "", err
	}
	if info.Currency == "" {
		return "", &channels.Error{Channel: channels.TikTok, Kind: channels.KindBadRequest,
			Message: fmt.Sprintf("advertiser/info/ gives no currency for advertiser %s", id)}
	}
	return info.Currency, nil
}

// ReadPage reads one page of one 30-day slice of the window; see the package comment.
func (c *Client) ReadPage(ctx context.Context, acct channels.Account, req channels.ReadRequest, cur string) (channels.Page, error) {
	id, err := c.prepare(acct)
	if err != nil {
		return channels.Page{}, err
	}
	level, err := normalizeLevel(req.Level)
	if err != nil {
		return channels.Page{}, err
	}
	if req.Window.From.IsZero() || req.Window.To.Before(req.Window.From) {
		return channels.Page{}, &channels.Error{Channel: channels.TikTok, Kind: channels.KindBadRequest,
			Message: fmt.Sprintf("invalid window %s", req.Window)}
	}
	fp := cursorx.Fingerprint(level, req.Window)
	cs := cursor{Page: 1, Size: c.o.PageSize, Req: fp}
	if cur != "" {
		if cs, err = decodeCursor(cur); err != nil {
			return channels.Page{}, err
		}
		if cs.Req != fp {
			return channels.Page{}, cursorx.Mismatch(channels.TikTok, cs.Req, fp)
		}
	}
	from, to, ok := slice(req.Window, cs.Slice)
	if !ok {
		return channels.Page{}, &channels.Error{Channel: channels.TikTok, Kind: channels.KindBadRequest,
			Message: fmt.Sprintf("cursor slice %d is past the window %s", cs.Slice, req.Window)}
	}
	if cs.Currency == "" {
		if cs.Currency, err = c.currency(ctx, acct.Token, id); err != nil {
			return channels.Page{}, err
		}
	}

	spec, _ := specOf(level)
	dims, _ := json.Marshal([]string{spec.idDimension, dimensionDay})
	metrics, _ := json.Marshal(spec.metrics())
	q := url.Values{
		"advertiser_id": {id},
		"service_type":  {"AUCTION"},
		"report_type":   {"BASIC"},
		"data_level":    {spec.dataLevel},
		"dimensions":    {string(dims)},
		"metrics":       {string(metrics)},
		"start_date":    {from.Format(channels.DateLayout)},
		"end_date":      {to.Format(channels.DateLayout)},
		"page":          {fmt.Sprint(cs.Page)},
		"page_size":     {fmt.Sprint(cs.Size)},
	}
	data, err := c.call(ctx, acct.Token, pathReport, q)
	if err != nil {
		return channels.Page{}, err
	}
	var r struct {
		List     []reportRow `json:"list"`
		PageInfo struct {
			Page        int `json:"page"`
			PageSize    int `json:"page_size"`
			TotalNumber int `json:"total_number"`
			TotalPage   int `json:"total_page"`
		} `json:"page_info"`
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return channels.Page{}, c.badResponse(acct.Token, pathReport, err)
	}
	rows := make([]channels.AdRow, 0, len(r.List))
	for i, raw := range r.List {
		row, err := normalizeRow(id, cs.Currency, level, raw)
		if err != nil {
			return channels.Page{}, &channels.Error{Channel: channels.TikTok, Kind: channels.KindBadRequest,
				Message: httpx.Scrub(fmt.Sprintf("report %s..%s page %d row %d: %v", from.Format(channels.DateLayout),
					to.Format(channels.DateLayout), cs.Page, i, err), acct.Token)}
		}
		rows = append(rows, row)
	}
	c.o.Logger.DebugContext(ctx, "tiktok report page", "advertiser_id", id, "level", string(level),
		"slice", from.Format(channels.DateLayout)+".."+to.Format(channels.DateLayout), "page", cs.Page,
		"total_page", r.PageInfo.TotalPage, "rows", len(rows))

	page := channels.Page{Rows: rows}
	switch {
	case cs.Page < r.PageInfo.TotalPage && len(r.List) > 0:
		// An empty page before total_page (rows that vanished between calls) ends the
		// slice instead of looping.
		cs.Page++
	case to.Before(req.Window.To):
		cs.Slice++
		cs.Page = 1
	default:
		return page, nil
	}
	page.Next = cs.encode()
	return page, nil
}

func (c *Client) prepare(acct channels.Account) (string, error) {
	if c.baseErr != nil {
		return "", &channels.Error{Channel: channels.TikTok, Kind: channels.KindBadRequest, Message: c.baseErr.Error()}
	}
	id, err := NormalizeAdvertiserID(acct.ID)
	if err != nil {
		return "", &channels.Error{Channel: channels.TikTok, Kind: channels.KindBadRequest, Message: err.Error()}
	}
	if acct.Token == "" {
		return "", &channels.Error{Channel: channels.TikTok, Kind: channels.KindAuth, Message: "no access token"}
	}
	return id, nil
}

// slice returns the i-th 30-day slice of w; ok is false when w has fewer slices.
func slice(w channels.Window, i int) (from, to time.Time, ok bool) {
	if i < 0 {
		return time.Time{}, time.Time{}, false
	}
	from = w.From.AddDate(0, 0, i*MaxSliceDays)
	if from.After(w.To) {
		return time.Time{}, time.Time{}, false
	}
	to = from.AddDate(0, 0, MaxSliceDays-1)
	if to.After(w.To) {
		to = w.To
	}
	return from, to, true
}

// call makes one GET to /open_api/v1.3/{path} and returns the envelope's data. Errors never
// contain the token (it travels in the Access-Token header, but TikTok messages are scrubbed
// anyway) nor the query.
func (c *Client) call(ctx context.Context, token, path string, q url.Values) (json.RawMessage, error) {
	u := *c.base
	u.Path = strings.TrimRight(c.base.Path, "/") + "/" + apiPrefix + "/" + path
	u.RawQuery = q.Encode()
	what := "GET " + u.Path // for errors and logs: never the query
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, &channels.Error{Channel: channels.TikTok, Kind: channels.KindBadRequest,
			Message: httpx.Scrub(fmt.Sprintf("%s: build request: %v", what, err), token)}
	}
	req.Header.Set("Access-Token", token)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)
	start := time.Now()
	resp, body, err := httpx.Do(c.o.HTTPClient, req, maxResponseBytes)
	if err != nil {
		return nil, c.transportError(ctx, what, err, token)
	}
	var env envelope
	envErr := json.Unmarshal(body, &env)
	log := c.o.Logger.With("request", what, "status", resp.StatusCode)
	if resp.StatusCode != http.StatusOK {
		e := ClassifyHTTP(resp.StatusCode, body, c.o.DefaultRateLimitBackoff)
		e.Message = httpx.Scrub(e.Message, token)
		log.InfoContext(ctx, "tiktok call failed", "kind", e.Kind.String(), "code", e.Code)
		return nil, e
	}
	if envErr != nil || env.Code == nil {
		return nil, c.badResponse(token, path, fmt.Errorf("no code/message envelope: %s", httpx.Snippet(body)))
	}
	if *env.Code != 0 {
		e := ClassifyCode(*env.Code, env.Message, env.RequestID, c.o.DefaultRateLimitBackoff)
		e.HTTPStatus = resp.StatusCode
		e.Message = httpx.Scrub(e.Message, token)
		log.InfoContext(ctx, "tiktok call failed", "kind", e.Kind.String(), "code", e.Code,
			"request_id", env.RequestID, "retry_after", e.RetryAfter)
		return nil, e
	}
	log.DebugContext(ctx, "tiktok call", "request_id", env.RequestID,
		"duration", time.Since(start).Round(time.Millisecond))
	if len(bytes.TrimSpace(env.Data)) == 0 || bytes.Equal(bytes.TrimSpace(env.Data), []byte("null")) {
		return json.RawMessage("{}"), nil
	}
	return env.Data, nil
}

// envelope is TikTok's response wrapper. Code is a pointer so a body without one is told
// apart from success.
type envelope struct {
	Code      *int            `json:"code"`
	Message   string          `json:"message"`
	RequestID string          `json:"request_id"`
	Data      json.RawMessage `json:"data"`
}

// transportError turns a client-side failure into an error without the request URL.
func (c *Client) transportError(ctx context.Context, what string, err error, token string) error {
	return httpx.TransportError(ctx, channels.TikTok, "tiktok", what, err, token)
}

// badResponse is an HTTP 200 answer that cannot be understood: a gateway's error page or a
// truncated body, which a retry fixes.
func (c *Client) badResponse(token, what string, err error) error {
	return httpx.BadResponse(channels.TikTok, what, err, token)
}
