// Package meta is the Meta (Facebook) Marketing API Ads Insights connector. It implements
// channels.AdReader with the asynchronous report flow of the Graph API:
//
//	POST /{ver}/act_{id}/insights           start a report run   -> {"report_run_id": ...}
//	GET  /{ver}/{report_run_id}              poll its async_status
//	GET  /{ver}/{report_run_id}/insights     read the rows, cursor-paginated with `after`
//
// Every ReadPage call makes at most one or two provider calls and returns an opaque cursor
// (JSON, without the access token) that lets a read resume after a process restart.
package meta

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	"github.com/omnitrackiq/omnitrackiq/internal/channels/cursorx"
	"github.com/omnitrackiq/omnitrackiq/internal/channels/httpx"
	"github.com/omnitrackiq/omnitrackiq/internal/channels/jsonx"
)

// Defaults of Options.
const (
	DefaultBaseURL          = "https://graph.facebook.com"
	DefaultAPIVersion       = "v23.0"
	DefaultPageSize         = 100
	DefaultPollInterval     = 5 * time.Second
	DefaultRateLimitBackoff = 60 * time.Second
	DefaultJobTimeout       = time.Hour
	DefaultHTTPTimeout      = 2 * time.Minute
)

// MaxReportRestarts is how many times a read starts a new report run after a run ends
// "Job Failed" or "Job Skipped" (or exceeds JobTimeout) before it gives up.
const MaxReportRestarts = 3

const (
	maxResponseBytes   = 64 << 20
	userAgent          = "omnitrackiq-meta-connector"
	statusJobCompleted = "Job Completed"
	statusJobFailed    = "Job Failed"
	statusJobSkipped   = "Job Skipped"
	reportStatusFields = "id,async_status,async_percent_completion"
	accountInfoFields  = "name,currency,timezone_name"
	actionTypePurchase = "purchase"
	defaultLevel       = channels.LevelCampaign
	// levelAccount is Meta's account level; channels has no constant for it.
	levelAccount channels.Level = "account"
)

// Options configures a Client. Zero values take the defaults above.
type Options struct {
	// BaseURL replaces https://graph.facebook.com. It may carry a path prefix
	// (http://127.0.0.1:8090/meta); API paths are joined onto it.
	BaseURL string
	// APIVersion is the Graph API version path segment, e.g. "v23.0".
	APIVersion string
	// HTTPClient defaults to a client with a DefaultHTTPTimeout timeout.
	HTTPClient *http.Client
	// PageSize is the `limit` of each rows page.
	PageSize int
	// PollInterval is how long ReadPage asks the caller to wait between report-status polls.
	PollInterval time.Duration
	// DefaultRateLimitBackoff is the RetryAfter of a rate-limit error whose response carries
	// no estimated_time_to_regain_access.
	DefaultRateLimitBackoff time.Duration
	// JobTimeout is how long a report run may stay unfinished before it counts as failed
	// and is restarted (Airbyte's insights_job_timeout). Default one hour.
	JobTimeout time.Duration
	// Logger receives debug and info events; it never sees the access token.
	Logger *slog.Logger
	// Now is the clock used for JobTimeout; default time.Now.
	Now func() time.Time
}

// Client is the Meta Ads Insights connector. It is safe for concurrent use.
type Client struct {
	o       Options
	base    *url.URL
	baseErr error
}

var _ channels.AdReader = (*Client)(nil)

// New returns a Client; unset options take their defaults.
func New(o Options) *Client {
	if o.BaseURL == "" {
		o.BaseURL = DefaultBaseURL
	}
	if o.APIVersion == "" {
		o.APIVersion = DefaultAPIVersion
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: DefaultHTTPTimeout}
	}
	if o.PageSize <= 0 {
		o.PageSize = DefaultPageSize
	}
	if o.PollInterval <= 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.DefaultRateLimitBackoff <= 0 {
		o.DefaultRateLimitBackoff = DefaultRateLimitBackoff
	}
	if o.JobTimeout <= 0 {
		o.JobTimeout = DefaultJobTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	c := &Client{o: o}
	c.base, c.baseErr = httpx.ParseBaseURL("base URL", o.BaseURL)
	return c
}

// NormalizeAccountID returns the digits of a Meta ad account id given with or without "act_".
func NormalizeAccountID(s string) (string, error) {
	id := strings.TrimPrefix(strings.TrimSpace(s), "act_")
	if id == "" {
		return "", fmt.Errorf("meta account id %q is empty", s)
	}
	for _, r := range id {
		if r < '0' || r > '9' {
			return "", fmt.Errorf("meta account id %q must be digits, optionally prefixed with act_", s)
		}
	}
	return id, nil
}

// AccountInfo reads the account's name, currency and timezone.
func (c *Client) AccountInfo(ctx context.Context, acct channels.Account) (channels.AccountInfo, error) {
	id, err := c.prepare(acct)
	if err != nil {
		return channels.AccountInfo{}, err
	}
	q := url.Values{"fields": {accountInfoFields}}
	body, _, err := c.call(ctx, acct.Token, http.MethodGet, []string{"act_" + id}, q)
	if err != nil {
		return channels.AccountInfo{}, err
	}
	var r struct {
		ID           string `json:"id"`
		Name         string `json:"name"`
		Currency     string `json:"currency"`
		TimezoneName string `json:"timezone_name"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return channels.AccountInfo{}, c.badResponse(acct.Token, "account", err)
	}
	return channels.AccountInfo{ID: id, Name: r.Name, Currency: r.Currency, Timezone: r.TimezoneName}, nil
}

// ReadPage performs one step of the asynchronous report flow; see the package comment.
func (c *Client) ReadPage(ctx context.Context, acct channels.Account, req channels.ReadRequest, cur string) (channels.Page, error) {
	id, err := c.prepare(acct)
	if err != nil {
		return channels.Page{}, err
	}
	level, err := normalizeLevel(req.Level)
	if err != nil {
		return channels.Page{}, err
	}
	fp := cursorx.Fingerprint(level, req.Window)
	if cur == "" {
		return c.startRun(ctx, acct.Token, id, level, req.Window, fp, 0)
	}
	cs, err := decodeCursor(cur)
	if err != nil {
		return channels.Page{}, err
	}
	if cs.Req != fp {
		return channels.Page{}, cursorx.Mismatch(channels.Meta, cs.Req, fp)
	}
	if cs.Phase == phaseRows {
		return c.readRows(ctx, acct.Token, id, level, req.Window, cs)
	}
	return c.poll(ctx, acct.Token, id, level, req.Window, cs)
}

func (c *Client) prepare(acct channels.Account) (string, error) {
	if c.baseErr != nil {
		return "", &channels.Error{Channel: channels.Meta, Kind: channels.KindBadRequest, Message: c.baseErr.Error()}
	}
	id, err := NormalizeAccountID(acct.ID)
	if err != nil {
		return "", &channels.Error{Channel: channels.Meta, Kind: channels.KindBadRequest, Message: err.Error()}
	}
	if acct.Token == "" {
		return "", &channels.Error{Channel: channels.Meta, Kind: channels.KindAuth, Message: "no access token"}
	}
	return id, nil
}

func normalizeLevel(l channels.Level) (channels.Level, error) {
	switch l {
	case "":
		return defaultLevel, nil
	case levelAccount, channels.LevelCampaign, channels.LevelAdSet, channels.LevelAd:
		return l, nil
	}
	return "", &channels.Error{Channel: channels.Meta, Kind: channels.KindBadRequest,
		Message: fmt.Sprintf("unsupported level %q (want account, campaign, adset or ad)", l)}
}

// insightFields lists the fields requested at a level: the ids and names of the level and
// its parents, and the metrics.
func insightFields(level channels.Level) []string {
	var f []string
	switch level {
	case channels.LevelAd:
		f = append(f, "campaign_id", "campaign_name", "adset_id", "adset_name", "ad_id", "ad_name")
	case channels.LevelAdSet:
		f = append(f, "campaign_id", "campaign_name", "adset_id", "adset_name")
	case channels.LevelCampaign:
		f = append(f, "campaign_id", "campaign_name")
	}
	return append(f, "spend", "impressions", "clicks", "actions", "action_values",
		"date_start", "date_stop", "account_currency")
}

// AdEffectiveStatuses are every value of Ad.effective_status the Marketing API documents
// (the facebook_business SDK's Ad.EffectiveStatus).
var AdEffectiveStatuses = []string{
	"ACTIVE", "PAUSED", "DELETED", "PENDING_REVIEW", "DISAPPROVED", "PREAPPROVED",
	"PENDING_BILLING_INFO", "CAMPAIGN_PAUSED", "ARCHIVED", "ADSET_PAUSED", "IN_PROCESS", "WITH_ISSUES",
}

// everyStatusFilter is the filtering parameter of every report. Without it Insights leaves
// out ads that are DELETED or ARCHIVED now, although they spent within the window, and the
// account's spend comes out short. Airbyte's connector filters the same way for the same
// reason (it names every status of the level's object).
var everyStatusFilter = func() string {
	b, _ := json.Marshal([]map[string]any{{"field": "ad.effective_status", "operator": "IN", "value": AdEffectiveStatuses}})
	return string(b)
}()

func (c *Client) startRun(ctx context.Context, token, id string, level channels.Level, w channels.Window, fp string, restarts int) (channels.Page, error) {
	fields, _ := json.Marshal(insightFields(level))
	timeRange, _ := json.Marshal(map[string]string{
		"since": w.From.Format(channels.DateLayout),
		"until": w.To.Format(channels.DateLayout),
	})
	form := url.Values{
		"level":             {string(level)},
		"fields":            {string(fields)},
		"time_increment":    {"1"},
		"time_range":        {string(timeRange)},
		"action_breakdowns": {`["action_type"]`},
		"filtering":         {everyStatusFilter},
	}
	body, h, err := c.call(ctx, token, http.MethodPost, []string{"act_" + id, "insights"}, form)
	if err != nil {
		return channels.Page{}, err
	}
	var r struct {
		ReportRunID jsonx.Text `json:"report_run_id"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return channels.Page{}, c.badResponse(token, "report start", err)
	}
	if r.ReportRunID == "" {
		return channels.Page{}, c.badResponse(token, "report start", errors.New("no report_run_id"))
	}
	c.o.Logger.InfoContext(ctx, "meta report run started", "account_id", id, "report_run_id", string(r.ReportRunID),
		"level", string(level), "window", w.String(), "restarts", restarts)
	next := cursor{Run: string(r.ReportRunID), Phase: phasePoll, Restarts: restarts,
		Started: c.o.Now().Unix(), Req: fp}
	return channels.Page{Next: next.encode(), Wait: ParseUsage(h).Wait()}, nil
}

func (c *Client) poll(ctx context.Context, token, id string, level channels.Level, w channels.Window, cs cursor) (channels.Page, error) {
	q := url.Values{"fields": {reportStatusFields}}
	body, h, err := c.call(ctx, token, http.MethodGet, []string{cs.Run}, q)
	if isMissingObject(err) {
		return c.restart(ctx, token, id, level, w, cs, "expired or unknown")
	}
	if err != nil {
		return channels.Page{}, err
	}
	var st struct {
		AsyncStatus            string     `json:"async_status"`
		AsyncPercentCompletion jsonx.Text `json:"async_percent_completion"`
	}
	if err := json.Unmarshal(body, &st); err != nil {
		return channels.Page{}, c.badResponse(token, "report status", err)
	}
	usageWait := ParseUsage(h).Wait()
	log := c.o.Logger.With("account_id", id, "report_run_id", cs.Run)
	switch st.AsyncStatus {
	case statusJobCompleted:
		log.DebugContext(ctx, "meta report run completed")
		cs.Phase = phaseRows
		cs.After = ""
		p, err := c.readRows(ctx, token, id, level, w, cs)
		if err == nil {
			p.Wait = max(p.Wait, usageWait)
		}
		return p, err
	case statusJobFailed, statusJobSkipped:
		return c.restart(ctx, token, id, level, w, cs, st.AsyncStatus)
	}
	if started := time.Unix(cs.Started, 0); cs.Started > 0 && c.o.Now().Sub(started) > c.o.JobTimeout {
		return c.restart(ctx, token, id, level, w, cs,
			fmt.Sprintf("still %q after %s", st.AsyncStatus, c.o.JobTimeout))
	}
	log.DebugContext(ctx, "meta report run not complete", "async_status", st.AsyncStatus,
		"percent", string(st.AsyncPercentCompletion))
	return channels.Page{Next: cs.encode(), Wait: max(c.o.PollInterval, usageWait)}, nil
}

func (c *Client) restart(ctx context.Context, token, id string, level channels.Level, w channels.Window, cs cursor, why string) (channels.Page, error) {
	if cs.Restarts >= MaxReportRestarts {
		return channels.Page{}, &channels.Error{Channel: channels.Meta, Kind: channels.KindTransient,
			Message: fmt.Sprintf("report run %s ended %s after %d restarts; giving up", cs.Run, why, cs.Restarts)}
	}
	c.o.Logger.WarnContext(ctx, "meta report run failed; starting a new one", "account_id", id,
		"report_run_id", cs.Run, "status", why, "restarts", cs.Restarts+1)
	return c.startRun(ctx, token, id, level, w, cs.Req, cs.Restarts+1)
}

func (c *Client) readRows(ctx context.Context, token, id string, level channels.Level, w channels.Window, cs cursor) (channels.Page, error) {
	q := url.Values{"limit": {fmt.Sprint(c.o.PageSize)}}
	if cs.After != "" {
		q.Set("after", cs.After)
	}
	body, h, err := c.call(ctx, token, http.MethodGet, []string{cs.Run, "insights"}, q)
	if isMissingObject(err) {
		// A run's results do not live forever (and a sandbox restart forgets them): read the
		// window again from a new run. Rows already stored are upserted again unchanged.
		return c.restart(ctx, token, id, level, w, cs, "expired before all pages were read")
	}
	if err != nil {
		return channels.Page{}, err
	}
	var r struct {
		Data   []insightRow `json:"data"`
		Paging *struct {
			Cursors struct {
				After string `json:"after"`
			} `json:"cursors"`
			Next string `json:"next"`
		} `json:"paging"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return channels.Page{}, c.badResponse(token, "insights page", err)
	}
	rows := make([]channels.AdRow, 0, len(r.Data))
	for i, raw := range r.Data {
		row, err := normalizeRow(id, level, raw)
		if err != nil {
			return channels.Page{}, &channels.Error{Channel: channels.Meta, Kind: channels.KindBadRequest,
				Message: httpx.Scrub(fmt.Sprintf("report run %s row %d: %v", cs.Run, i, err), token)}
		}
		rows = append(rows, row)
	}
	page := channels.Page{Rows: rows, Wait: ParseUsage(h).Wait()}
	if r.Paging == nil || r.Paging.Next == "" || len(r.Data) == 0 {
		// No next page (or an empty page after the last one): the read is complete.
		return page, nil
	}
	after := r.Paging.Cursors.After
	if after == "" {
		return channels.Page{}, c.badResponse(token, "insights page", errors.New("paging.next without paging.cursors.after"))
	}
	if after == cs.After {
		return channels.Page{}, c.badResponse(token, "insights page", errors.New("paging cursor did not advance"))
	}
	cs.After = after
	page.Next = cs.encode()
	return page, nil
}

// call makes one Graph API call. GET parameters go in the query, POST parameters in a
// form-urlencoded body; the token is added to either. Errors never contain the token or a URL
// with a query.
func (c *Client) call(ctx context.Context, token, method string, segs []string, params url.Values) ([]byte, http.Header, error) {
	u := *c.base
	u.RawPath = c.base.EscapedPath()
	for _, s := range append([]string{c.o.APIVersion}, segs...) {
		// Each segment is one path element even if it holds '/', '?' or '%'.
		u.Path += "/" + s
		u.RawPath += "/" + url.PathEscape(s)
	}
	p := url.Values{}
	for k, v := range params {
		p[k] = v
	}
	p.Set("access_token", token)
	var body io.Reader
	if method == http.MethodGet {
		u.RawQuery = p.Encode()
	} else {
		body = strings.NewReader(p.Encode())
	}
	what := method + " " + u.Path // for errors and logs: never the query
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, nil, &channels.Error{Channel: channels.Meta, Kind: channels.KindBadRequest,
			Message: httpx.Scrub(fmt.Sprintf("%s: build request: %v", what, err), token)}
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)
	start := time.Now()
	resp, data, err := httpx.Do(c.o.HTTPClient, req, maxResponseBytes)
	if err != nil {
		return nil, nil, c.transportError(ctx, what, err, token)
	}
	c.o.Logger.DebugContext(ctx, "meta call", "request", what, "status", resp.StatusCode,
		"duration", time.Since(start).Round(time.Millisecond))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return data, resp.Header, nil
	}
	e := ClassifyError(resp.StatusCode, resp.Header, data, c.o.DefaultRateLimitBackoff)
	e.Message = httpx.Scrub(e.Message, token)
	c.o.Logger.InfoContext(ctx, "meta call failed", "request", what, "status", resp.StatusCode,
		"kind", e.Kind.String(), "code", e.Code, "retry_after", e.RetryAfter)
	return nil, resp.Header, e
}

// transportError turns a client-side failure into an error without the request URL:
// *url.Error prints the full URL, query (and token) included.
func (c *Client) transportError(ctx context.Context, what string, err error, token string) error {
	return httpx.TransportError(ctx, channels.Meta, "meta", what, err, token)
}

// badResponse is a 2xx answer that cannot be understood. Meta sometimes sends corrupt JSON
// with a 200 (the Python SDK's FacebookBadObjectError), which a retry fixes.
func (c *Client) badResponse(token, what string, err error) error {
	return httpx.BadResponse(channels.Meta, what, err, token)
}
