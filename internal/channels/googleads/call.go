package googleads

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	"github.com/omnitrackiq/omnitrackiq/internal/channels/httpx"
)

// searchRequest is the body of googleAds:search. pageSize is never sent: since v17 Google
// answers it with PAGE_SIZE_NOT_SUPPORTED.
type searchRequest struct {
	Query     string `json:"query"`
	PageToken string `json:"pageToken,omitempty"`
}

// search POSTs one googleAds:search call, authenticating as described in the package
// comment.
func (c *Client) search(ctx context.Context, acct channels.Account, id string, req searchRequest) ([]byte, failure, error) {
	payload, err := json.Marshal(req)
	if err != nil {
		return nil, failure{}, fmt.Errorf("google ads: encode search request: %w", err)
	}
	u := c.apiURL("customers", id, "googleAds:search")
	what := http.MethodPost + " " + u.Path // for errors and logs

	token, err := c.accessToken(ctx, acct, "")
	if err != nil {
		return nil, failure{}, err
	}
	body, f, err := c.post(ctx, acct, token, u, what, payload)
	pe, ok := channels.AsError(err)
	if !ok || pe.HTTPStatus != http.StatusUnauthorized || acct.RefreshToken == "" || pe.Kind != channels.KindAuth {
		return body, f, err
	}
	// The access token expired or was revoked before the cache thought so: mint a new one
	// and try once more. A second 401 stays KindAuth. (A 401 about the developer token is
	// KindBadRequest: a new access token cannot help.)
	c.o.Logger.InfoContext(ctx, "google ads access token rejected; refreshing once", "customer_id", id)
	if token, err = c.accessToken(ctx, acct, token); err != nil {
		return nil, failure{}, err
	}
	return c.post(ctx, acct, token, u, what, payload)
}

// apiURL joins the version and path segments onto the base URL, each segment escaped as
// one path element.
func (c *Client) apiURL(segs ...string) *url.URL {
	u := *c.base
	u.RawPath = c.base.EscapedPath()
	for _, s := range append([]string{c.o.APIVersion}, segs...) {
		u.Path += "/" + s
		u.RawPath += "/" + url.PathEscape(s)
	}
	return &u
}

// post makes one API call. On an error response it also returns what the response said.
func (c *Client) post(ctx context.Context, acct channels.Account, token string, u *url.URL, what string, payload []byte) ([]byte, failure, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(payload))
	if err != nil {
		return nil, failure{}, &channels.Error{Channel: channels.GoogleAds, Kind: channels.KindBadRequest,
			Message: c.scrub(acct, fmt.Sprintf("%s: build request: %v", what, err), token)}
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if c.o.DeveloperToken != "" {
		req.Header.Set("developer-token", c.o.DeveloperToken)
	}
	if acct.LoginCustomerID != "" {
		login, _ := NormalizeCustomerID(acct.LoginCustomerID) // validated by prepare
		req.Header.Set("login-customer-id", login)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)
	start := time.Now()
	resp, data, err := httpx.Do(c.o.HTTPClient, req, maxResponseBytes)
	if err != nil {
		return nil, failure{}, c.transportError(ctx, acct, what, err, token)
	}
	requestID := resp.Header.Get("request-id")
	c.o.Logger.DebugContext(ctx, "google ads call", "request", what, "status", resp.StatusCode,
		"request_id", requestID, "duration", time.Since(start).Round(time.Millisecond))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return data, failure{}, nil
	}
	e, f := classify(resp.StatusCode, data, c.o.DefaultRateLimitBackoff)
	e.Message = c.scrub(acct, e.Message, token)
	c.o.Logger.InfoContext(ctx, "google ads call failed", "request", what, "status", resp.StatusCode,
		"request_id", requestID, "kind", e.Kind.String(), "retry_after", e.RetryAfter)
	return nil, f, e
}

// transportError turns a client-side failure into a classified error without the URL.
func (c *Client) transportError(ctx context.Context, acct channels.Account, what string, err error, token string) error {
	return httpx.TransportError(ctx, channels.GoogleAds, "google ads", what, err, c.secrets(acct, token)...)
}
