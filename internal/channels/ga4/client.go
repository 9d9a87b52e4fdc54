// Package ga4 is the Google Analytics 4 Data API connector. It implements
// channels.SessionReader with one report:
//
//	POST /v1beta/properties/{id}:runReport
//	  dimensions date, sessionSource, sessionMedium, sessionCampaignName
//	  metrics    sessions, keyEvents (or the deprecated conversions), totalRevenue
//
// read page by page with offset paging. Each ReadSessions call makes one report call (two
// when the property rejects one name of the key-event metric and the other is tried) and
// returns an opaque cursor (JSON: offset and metric name, never a token) that lets a read
// resume after a process restart.
//
// Access tokens come from the account's refresh token through Google's OAuth token
// endpoint and are cached until shortly before they expire; an account without a refresh
// token uses its Token as is.
//
// Errors are *channels.Error: 429 RESOURCE_EXHAUSTED is KindRateLimited with the backoff of
// the exhausted quota (Airbyte's table; Options.QuotaBackoff overrides it); 400
// INVALID_ARGUMENT is KindBadRequest with Google's message; 401 UNAUTHENTICATED is retried
// once with a new access token, then KindAuth, as is invalid_grant from the token endpoint;
// 403 PERMISSION_DENIED is KindAuth too, because it means the user lost access to the
// property or revoked the grant and must reconnect; 5xx is KindTransient. A response whose
// propertyQuota shows a quota at or below 10% sets SessionsPage.Wait to that quota's
// backoff.
package ga4

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	"github.com/omnitrackiq/omnitrackiq/internal/channels/cursorx"
	"github.com/omnitrackiq/omnitrackiq/internal/channels/googleauth"
	"github.com/omnitrackiq/omnitrackiq/internal/channels/httpx"
)

// Defaults of Options.
const (
	DefaultBaseURL  = "https://analyticsdata.googleapis.com"
	DefaultTokenURL = "https://oauth2.googleapis.com/token"
	// DefaultPageSize is Airbyte's page_size.
	DefaultPageSize = 100_000
	// MaxPageSize is the most rows the Data API returns per request.
	MaxPageSize             = 250_000
	DefaultRateLimitBackoff = 60 * time.Second
	DefaultHTTPTimeout      = 2 * time.Minute
)

// Metric names of key events. GA renamed "conversions" to "key events" in 2024; the
// connector asks for keyEvents and falls back to conversions where keyEvents is rejected.
const (
	MetricKeyEvents   = "keyEvents"
	MetricConversions = "conversions"
)

const (
	apiVersion       = "v1beta"
	maxResponseBytes = 256 << 20
	userAgent        = "omnitrackiq-ga4-connector"
)

// Options configures a Client. Zero values take the defaults above.
type Options struct {
	// BaseURL replaces https://analyticsdata.googleapis.com. It may carry a path prefix
	// (http://127.0.0.1:8090/ga4); API paths are joined onto it.
	BaseURL string
	// TokenURL is the OAuth token endpoint used with refresh tokens.
	TokenURL string
	// ClientID and ClientSecret are the OAuth client that the refresh tokens were issued to.
	ClientID     string
	ClientSecret string
	// TokenCacheSize bounds how many refresh tokens' access tokens are kept; the least
	// recently used beyond it are evicted. 0 is googleauth.DefaultMaxEntries.
	TokenCacheSize int
	// HTTPClient defaults to a client with a DefaultHTTPTimeout timeout.
	HTTPClient *http.Client
	// Logger receives debug and info events; it never sees a token or the client secret.
	Logger *slog.Logger
	// PageSize is the `limit` of each report page (at most MaxPageSize).
	PageSize int
	// QuotaBackoff overrides the backoff of a quota, keyed by its propertyQuota name
	// (QuotaConcurrentRequests, ...). It applies both to a 429 naming the quota and to a
	// response whose propertyQuota shows the quota nearly used up.
	QuotaBackoff map[string]time.Duration
	// DefaultRateLimitBackoff is the RetryAfter of a 429 whose message names no known quota
	// and which carries no RetryInfo.
	DefaultRateLimitBackoff time.Duration
	// Now is the clock of the token cache and of the daily-quota backoff; default time.Now.
	Now func() time.Time
}

// Client is the GA4 Data API connector. It is safe for concurrent use.
type Client struct {
	o        Options
	base     *url.URL
	tokenURL *url.URL
	baseErr  error
	tokens   *googleauth.Cache
}

var _ channels.SessionReader = (*Client)(nil)

// New returns a Client; unset options take their defaults.
func New(o Options) *Client {
	if o.BaseURL == "" {
		o.BaseURL = DefaultBaseURL
	}
	if o.TokenURL == "" {
		o.TokenURL = DefaultTokenURL
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: DefaultHTTPTimeout}
	}
	if o.PageSize <= 0 {
		o.PageSize = DefaultPageSize
	}
	o.PageSize = min(o.PageSize, MaxPageSize)
	if o.DefaultRateLimitBackoff <= 0 {
		o.DefaultRateLimitBackoff = DefaultRateLimitBackoff
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	c := &Client{o: o, tokens: googleauth.NewCache("ga4", o.ClientID, o.TokenCacheSize, o.Now)}
	var err error
	if c.base, err = httpx.ParseBaseURL("base URL", o.BaseURL); err != nil {
		c.baseErr = err
	} else if c.tokenURL, err = httpx.ParseBaseURL("token URL", o.TokenURL); err != nil {
		c.baseErr = err
	}
	return c
}

// NormalizePropertyID returns the numeric id of a GA4 property given as "123" or
// "properties/123".
func NormalizePropertyID(s string) (string, error) {
	id := strings.TrimPrefix(strings.TrimSpace(s), "properties/")
	if id == "" {
		return "", fmt.Errorf("ga4 property id %q is empty", s)
	}
	for _, r := range id {
		if r < '0' || r > '9' {
			return "", fmt.Errorf("ga4 property id %q must be digits, optionally prefixed with properties/", s)
		}
	}
	return id, nil
}

// AccountInfo reads the property's currency and time zone from the metadata of a
// one-row report of yesterday's sessions (the Data API has no cheaper call that returns
// both).
func (c *Client) AccountInfo(ctx context.Context, acct channels.Account) (channels.AccountInfo, error) {
	id, err := c.prepare(acct)
	if err != nil {
		return channels.AccountInfo{}, err
	}
	body := reportRequest{
		DateRanges: []dateRange{{StartDate: "yesterday", EndDate: "yesterday"}},
		Dimensions: []named{{Name: "date"}},
		Metrics:    []named{{Name: "sessions"}},
		Limit:      "1",
		Offset:     "0",
	}
	resp, err := c.runReport(ctx, acct, id, body)
	if err != nil {
		return channels.AccountInfo{}, err
	}
	if resp.Metadata.CurrencyCode == "" || resp.Metadata.TimeZone == "" {
		return channels.AccountInfo{}, c.badResponse(acct, "runReport", fmt.Errorf("metadata without currencyCode or timeZone"))
	}
	return channels.AccountInfo{
		ID:       id,
		Name:     "GA4 property " + id,
		Currency: resp.Metadata.CurrencyCode,
		Timezone: resp.Metadata.TimeZone,
	}, nil
}

// ReadSessions reads one page of daily sessions by source, medium and campaign. req.Level
// is ignored: sessions have no levels.
func (c *Client) ReadSessions(ctx context.Context, acct channels.Account, req channels.ReadRequest, cur string) (channels.SessionsPage, error) {
	id, err := c.prepare(acct)
	if err != nil {
		return channels.SessionsPage{}, err
	}
	w := req.Window
	if w.From.IsZero() || w.To.IsZero() || w.From.After(w.To) {
		return channels.SessionsPage{}, &channels.Error{Channel: channels.GA4, Kind: channels.KindBadRequest,
			Message: fmt.Sprintf("invalid window %s", w)}
	}
	cs := cursor{Metric: MetricKeyEvents, Req: w.String()}
	if cur != "" {
		if cs, err = decodeCursor(cur); err != nil {
			return channels.SessionsPage{}, err
		}
		if cs.Req != w.String() {
			return channels.SessionsPage{}, cursorx.Mismatch(channels.GA4, cs.Req, w.String())
		}
	}
	log := c.o.Logger.With("property_id", id, "window", w.String())

	resp, err := c.runReport(ctx, acct, id, c.sessionsRequest(w, cs))
	if rejectsMetric(err, cs.Metric) {
		// The property (or API version) does not know this name of the key-event metric:
		// ask again with the other one and keep it for the rest of the read.
		other := otherMetric(cs.Metric)
		log.WarnContext(ctx, "ga4 rejected the key-event metric; trying the other name",
			"rejected", cs.Metric, "trying", other)
		cs.Metric = other
		resp, err = c.runReport(ctx, acct, id, c.sessionsRequest(w, cs))
	}
	if err != nil {
		return channels.SessionsPage{}, err
	}
	rows, err := sessionRows(id, resp)
	if err != nil {
		return channels.SessionsPage{}, &channels.Error{Channel: channels.GA4, Kind: channels.KindBadRequest,
			Message: c.scrub(acct, fmt.Sprintf("runReport offset %d: %v", cs.Offset, err))}
	}
	wait, quota := c.quotaWait(resp.PropertyQuota)
	if wait > 0 {
		log.InfoContext(ctx, "ga4 property quota nearly used up; pausing", "quota", quota, "wait", wait)
	}
	if resp.Metadata.DataLossFromOtherRow {
		log.WarnContext(ctx, "ga4 report folded rows into (other): cardinality limits reached")
	}
	page := channels.SessionsPage{Rows: rows, Wait: wait}
	total := int64(0)
	if resp.RowCount != nil {
		total = int64(*resp.RowCount)
	}
	next := cs.Offset + int64(len(resp.Rows))
	log.DebugContext(ctx, "ga4 report page", "offset", cs.Offset, "rows", len(rows), "row_count", total,
		"metric", cs.Metric)
	// rows and rowCount are absent when the report is empty; an empty page past the end
	// also ends the read, so a shrinking report cannot loop.
	if len(resp.Rows) > 0 && next < total {
		cs.Offset = next
		page.Next = cs.encode()
	}
	return page, nil
}

// sessionsRequest is the report body of one page. The ordering on every dimension makes
// offset paging stable between calls.
func (c *Client) sessionsRequest(w channels.Window, cs cursor) reportRequest {
	dims := []named{{Name: "date"}, {Name: "sessionSource"}, {Name: "sessionMedium"}, {Name: "sessionCampaignName"}}
	var order []orderBy
	for _, d := range dims {
		order = append(order, orderBy{Dimension: &dimensionOrder{DimensionName: d.Name}})
	}
	f := false
	return reportRequest{
		DateRanges: []dateRange{{
			StartDate: w.From.Format(channels.DateLayout),
			EndDate:   w.To.Format(channels.DateLayout),
		}},
		Dimensions:          dims,
		Metrics:             []named{{Name: "sessions"}, {Name: cs.Metric}, {Name: "totalRevenue"}},
		OrderBys:            order,
		Limit:               strconv.Itoa(c.o.PageSize),
		Offset:              strconv.FormatInt(cs.Offset, 10),
		ReturnPropertyQuota: true,
		KeepEmptyRows:       &f,
	}
}

func otherMetric(m string) string {
	if m == MetricKeyEvents {
		return MetricConversions
	}
	return MetricKeyEvents
}

// rejectsMetric reports whether err is a 400 INVALID_ARGUMENT that names the metric.
func rejectsMetric(err error, metric string) bool {
	pe, ok := channels.AsError(err)
	return ok && pe.Kind == channels.KindBadRequest && pe.HTTPStatus == http.StatusBadRequest &&
		strings.Contains(pe.Message, statusInvalidArgument) && strings.Contains(pe.Message, metric)
}

func (c *Client) prepare(acct channels.Account) (string, error) {
	if c.baseErr != nil {
		return "", &channels.Error{Channel: channels.GA4, Kind: channels.KindBadRequest, Message: c.baseErr.Error()}
	}
	id, err := NormalizePropertyID(acct.ID)
	if err != nil {
		return "", &channels.Error{Channel: channels.GA4, Kind: channels.KindBadRequest, Message: err.Error()}
	}
	if acct.Token == "" && acct.RefreshToken == "" {
		return "", &channels.Error{Channel: channels.GA4, Kind: channels.KindAuth, Message: "no access token or refresh token"}
	}
	return id, nil
}
