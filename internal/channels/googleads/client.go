// Package googleads is the Google Ads API (REST) connector. It implements channels.AdReader
// with GAQL queries sent to the paged search endpoint:
//
//	POST /{ver}/customers/{id}/googleAds:search   {"query": GAQL, "pageToken": ...}
//
// Access tokens are minted from the account's OAuth refresh token (and cached until shortly
// before they expire); a 401 refreshes the token once and retries the call once. Every
// ReadPage call makes one search call and returns an opaque cursor (JSON, holding Google's
// page token and never a credential) that lets a read resume after a process restart.
//
// Below the campaign level a read runs two queries one after the other, so that campaigns
// without ad groups (Performance Max) are read at campaign level; see adGroupChannelTypes.
package googleads

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	"github.com/omnitrackiq/omnitrackiq/internal/channels/cursorx"
	"github.com/omnitrackiq/omnitrackiq/internal/channels/googleauth"
	"github.com/omnitrackiq/omnitrackiq/internal/channels/httpx"
	"github.com/omnitrackiq/omnitrackiq/internal/channels/jsonx"
)

// Defaults of Options.
const (
	DefaultBaseURL = "https://googleads.googleapis.com"
	// DefaultAPIVersion is the version Airbyte's connector uses (channel-apis.md §2).
	DefaultAPIVersion       = "v23"
	DefaultTokenURL         = "https://oauth2.googleapis.com/token"
	DefaultRateLimitBackoff = 30 * time.Second
	DefaultHTTPTimeout      = 2 * time.Minute
)

// MaxPageTokenRestarts is how many times a read starts again from the first page after
// Google rejects its page token as expired before it gives up.
const MaxPageTokenRestarts = 2

const (
	maxResponseBytes = 64 << 20
	userAgent        = "omnitrackiq-googleads-connector"
	defaultLevel     = channels.LevelCampaign
)

// Options configures a Client. Zero values take the defaults above.
type Options struct {
	// BaseURL replaces https://googleads.googleapis.com. It may carry a path prefix
	// (http://127.0.0.1:8090/googleads); API paths are joined onto it.
	BaseURL string
	// APIVersion is the version path segment, e.g. "v23".
	APIVersion string
	// DeveloperToken is sent in the developer-token header (omitted when empty).
	DeveloperToken string
	// TokenURL is the OAuth token endpoint used with refresh tokens.
	TokenURL string
	// ClientID and ClientSecret identify the OAuth client the refresh tokens belong to.
	ClientID     string
	ClientSecret string
	// TokenCacheSize bounds how many refresh tokens' access tokens are kept; the least
	// recently used beyond it are evicted. 0 is googleauth.DefaultMaxEntries.
	TokenCacheSize int
	// HTTPClient defaults to a client with a DefaultHTTPTimeout timeout.
	HTTPClient *http.Client
	// DefaultRateLimitBackoff is the RetryAfter of a quota error without a retryDelay.
	DefaultRateLimitBackoff time.Duration
	// Logger receives debug and info events; it never sees a credential.
	Logger *slog.Logger
	// Now is the clock of the access-token cache; default time.Now.
	Now func() time.Time
}

// Client is the Google Ads connector. It is safe for concurrent use.
type Client struct {
	o        Options
	base     *url.URL
	baseErr  error
	tokenURL string
	tokens   *googleauth.Cache
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
	if o.TokenURL == "" {
		o.TokenURL = DefaultTokenURL
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: DefaultHTTPTimeout}
	}
	if o.DefaultRateLimitBackoff <= 0 {
		o.DefaultRateLimitBackoff = DefaultRateLimitBackoff
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	c := &Client{o: o, tokens: googleauth.NewCache("google ads", o.ClientID, o.TokenCacheSize, o.Now)}
	u, err := parseHTTPURL(o.BaseURL)
	if err != nil {
		c.baseErr = fmt.Errorf("invalid base URL: %w", err)
	} else {
		u.RawQuery, u.Fragment, u.RawPath = "", "", ""
		c.base = u
	}
	if tu, err := parseHTTPURL(o.TokenURL); err != nil {
		c.baseErr = errors.Join(c.baseErr, fmt.Errorf("invalid token URL: %w", err))
	} else {
		c.tokenURL = tu.String()
	}
	return c
}

func parseHTTPURL(s string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimRight(s, "/"))
	switch {
	case err != nil:
		return nil, err
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("%q: scheme must be http or https", s)
	case u.Host == "":
		return nil, fmt.Errorf("%q: no host", s)
	}
	return u, nil
}

// NormalizeCustomerID returns the 10 digits of a Google Ads customer id given as
// "123-456-7890" or "1234567890".
func NormalizeCustomerID(s string) (string, error) {
	id := strings.ReplaceAll(strings.TrimSpace(s), "-", "")
	if len(id) != 10 || !isDigits(id) {
		return "", fmt.Errorf("google ads customer id %q must be 10 digits, optionally as 123-456-7890", s)
	}
	return id, nil
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// AccountInfo reads the customer's descriptive name, currency and time zone.
func (c *Client) AccountInfo(ctx context.Context, acct channels.Account) (channels.AccountInfo, error) {
	id, err := c.prepare(acct)
	if err != nil {
		return channels.AccountInfo{}, err
	}
	body, _, err := c.search(ctx, acct, id, searchRequest{Query: customerQuery})
	if err != nil {
		return channels.AccountInfo{}, err
	}
	var r struct {
		Results []struct {
			Customer struct {
				ID              jsonx.Text `json:"id"`
				DescriptiveName string     `json:"descriptiveName"`
				CurrencyCode    string     `json:"currencyCode"`
				TimeZone        string     `json:"timeZone"`
			} `json:"customer"`
		} `json:"results"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return channels.AccountInfo{}, c.badResponse(acct, "customer", err)
	}
	if len(r.Results) == 0 {
		return channels.AccountInfo{}, &channels.Error{Channel: channels.GoogleAds, Kind: channels.KindBadRequest,
			Message: fmt.Sprintf("customer %s: the customer query returned no row", id)}
	}
	cu := r.Results[0].Customer
	return channels.AccountInfo{ID: id, Name: cu.DescriptiveName, Currency: cu.CurrencyCode, Timezone: cu.TimeZone}, nil
}

// ReadPage reads one page of the level's daily report over the window; see the package
// comment.
func (c *Client) ReadPage(ctx context.Context, acct channels.Account, req channels.ReadRequest, cur string) (channels.Page, error) {
	id, err := c.prepare(acct)
	if err != nil {
		return channels.Page{}, err
	}
	level, err := normalizeLevel(req.Level)
	if err != nil {
		return channels.Page{}, err
	}
	cs := cursor{Req: cursorx.Fingerprint(level, req.Window)}
	if cur != "" {
		if cs, err = decodeCursor(cur, cs.Req); err != nil {
			return channels.Page{}, err
		}
	}
	query := phaseQuery(level, req.Window, cs.Phase)
	body, f, err := c.search(ctx, acct, id, searchRequest{Query: query, PageToken: cs.PageToken})
	for err != nil && cs.PageToken != "" && f.pageTokenRejected() {
		if cs.Restarts >= MaxPageTokenRestarts {
			return channels.Page{}, &channels.Error{Channel: channels.GoogleAds, Kind: channels.KindTransient,
				Message: fmt.Sprintf("page token rejected %d times reading %s; giving up", cs.Restarts+1, cs.Req)}
		}
		// Page tokens do not live forever (a read resumed after a long pause) and belong to
		// one query text (a cursor saved by an older release): read the window again from its
		// first page. Rows already stored are upserted again unchanged.
		c.o.Logger.WarnContext(ctx, "google ads page token rejected; reading the window again",
			"customer_id", id, "request", cs.Req, "restarts", cs.Restarts+1)
		cs.PageToken, cs.Restarts = "", cs.Restarts+1
		body, f, err = c.search(ctx, acct, id, searchRequest{Query: query})
	}
	if err != nil {
		return channels.Page{}, err
	}
	var r searchResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return channels.Page{}, c.badResponse(acct, "search", err)
	}
	rowLevel := level
	if cs.Phase == phaseCampaigns {
		rowLevel = channels.LevelCampaign
	}
	rows := make([]channels.AdRow, 0, len(r.Results))
	missingCurrency := false
	for i, raw := range r.Results {
		row, err := normalizeRow(id, rowLevel, raw)
		if err != nil {
			return channels.Page{}, &channels.Error{Channel: channels.GoogleAds, Kind: channels.KindBadRequest,
				Message: c.scrub(acct, fmt.Sprintf("search %s row %d: %v", cs.Req, i, err))}
		}
		missingCurrency = missingCurrency || row.Currency == ""
		rows = append(rows, row)
	}
	if missingCurrency {
		// The query selects customer.currency_code; should a row come without it, ask once.
		info, err := c.AccountInfo(ctx, acct)
		if err != nil {
			return channels.Page{}, err
		}
		for i := range rows {
			if rows[i].Currency == "" {
				rows[i].Currency = info.Currency
			}
		}
	}
	page := channels.Page{Rows: rows}
	if r.NextPageToken == "" {
		if level != channels.LevelCampaign && cs.Phase == phaseAdGroups {
			// The next call reads the campaigns without ad groups, from their first page.
			page.Next = cursor{Req: cs.Req, Phase: phaseCampaigns, Restarts: cs.Restarts}.encode()
		}
		return page, nil
	}
	if r.NextPageToken == cs.PageToken {
		return channels.Page{}, c.badResponse(acct, "search", errors.New("nextPageToken did not advance"))
	}
	cs.PageToken = r.NextPageToken
	page.Next = cs.encode()
	return page, nil
}

// prepare validates the options and the account and returns the canonical customer id.
func (c *Client) prepare(acct channels.Account) (string, error) {
	if c.baseErr != nil {
		return "", &channels.Error{Channel: channels.GoogleAds, Kind: channels.KindBadRequest, Message: c.baseErr.Error()}
	}
	id, err := NormalizeCustomerID(acct.ID)
	if err != nil {
		return "", &channels.Error{Channel: channels.GoogleAds, Kind: channels.KindBadRequest, Message: err.Error()}
	}
	if acct.LoginCustomerID != "" {
		if _, err := NormalizeCustomerID(acct.LoginCustomerID); err != nil {
			return "", &channels.Error{Channel: channels.GoogleAds, Kind: channels.KindBadRequest,
				Message: "login customer id: " + err.Error()}
		}
	}
	if acct.Token == "" && acct.RefreshToken == "" {
		return "", &channels.Error{Channel: channels.GoogleAds, Kind: channels.KindAuth, Message: "no access token and no refresh token"}
	}
	return id, nil
}

func normalizeLevel(l channels.Level) (channels.Level, error) {
	switch l {
	case "":
		return defaultLevel, nil
	case channels.LevelCampaign, channels.LevelAdSet, channels.LevelAd:
		return l, nil
	}
	return "", &channels.Error{Channel: channels.GoogleAds, Kind: channels.KindBadRequest,
		Message: fmt.Sprintf("unsupported level %q (want campaign, adset or ad)", l)}
}

// badResponse is a 2xx answer that cannot be understood; a retry may get a whole one.
func (c *Client) badResponse(acct channels.Account, what string, err error) error {
	return httpx.BadResponse(channels.GoogleAds, what, err, c.secrets(acct)...)
}

// scrub removes every credential the client knows of from a message: Google echoes the
// developer token in some errors (DEVELOPER_TOKEN_PROHIBITED).
func (c *Client) scrub(acct channels.Account, msg string, more ...string) string {
	return httpx.Scrub(msg, c.secrets(acct, more...)...)
}

// secrets lists the credentials of acct and of the client, and more.
func (c *Client) secrets(acct channels.Account, more ...string) []string {
	return append([]string{acct.Token, acct.RefreshToken, c.o.ClientSecret, c.o.DeveloperToken}, more...)
}
