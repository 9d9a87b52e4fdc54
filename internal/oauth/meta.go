package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/omnitrackiq/omnitrackiq/internal/channels/httpx"
)

// metaMaxPages bounds the /me/adaccounts pages followed (100 accounts each).
const metaMaxPages = 50

func (c *Client) metaConfig() *oauth2.Config {
	return &oauth2.Config{
		ClientID: c.c.MetaAppID, ClientSecret: c.c.MetaAppSecret,
		Endpoint: oauth2.Endpoint{
			AuthURL:   c.c.MetaDialogURL + "/" + c.c.MetaAPIVersion + "/dialog/oauth",
			TokenURL:  c.c.MetaGraphURL + "/" + c.c.MetaAPIVersion + "/oauth/access_token",
			AuthStyle: oauth2.AuthStyleInParams,
		},
		RedirectURL: c.RedirectURI(Meta),
		// Meta separates scopes with commas; oauth2 joins Scopes with spaces.
		Scopes: []string{metaScopes},
	}
}

// getForm sends oauth2's form-encoded token POST as the GET with query parameters that
// Meta documents (§6) and the sandbox implements; grant_type=authorization_code, which
// Meta's code exchange does not take, is dropped.
type getForm struct{ base http.RoundTripper }

func (t getForm) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method != http.MethodPost || r.Body == nil {
		return t.base.RoundTrip(r)
	}
	raw, err := io.ReadAll(r.Body)
	r.Body.Close()
	if err != nil {
		return nil, err
	}
	form, err := url.ParseQuery(string(raw))
	if err != nil {
		return nil, err
	}
	if form.Get("grant_type") == "authorization_code" {
		form.Del("grant_type")
	}
	u := *r.URL
	u.RawQuery = form.Encode()
	g, err := http.NewRequestWithContext(r.Context(), http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	g.Header.Set("Accept", "application/json")
	return t.base.RoundTrip(g)
}

func (c *Client) metaHTTP() *http.Client {
	base := c.c.HTTPClient.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	return &http.Client{Timeout: c.c.HTTPClient.Timeout, Transport: getForm{base: base}, CheckRedirect: httpx.RefuseRedirect}
}

// metaError is Graph's error envelope.
type metaError struct {
	Error struct {
		Message string `json:"message"`
		Type    string `json:"type"`
		Code    int    `json:"code"`
		Subcode int    `json:"error_subcode"`
	} `json:"error"`
}

func (c *Client) metaExchange(ctx context.Context, code string) (Grant, error) {
	scrub := scrubber{c.c.MetaAppSecret, code}
	ctx = context.WithValue(ctx, oauth2.HTTPClient, c.metaHTTP())
	short, err := c.metaConfig().Exchange(ctx, code)
	if err != nil {
		return Grant{}, c.metaTokenError("exchange the authorization code", err, scrub)
	}
	tok, err := c.metaLongLived(ctx, short.AccessToken)
	if err != nil {
		return Grant{}, err
	}
	accounts, err := c.metaAccounts(ctx, tok.Access)
	if err != nil {
		return Grant{}, err
	}
	return Grant{Token: tok, Accounts: accounts}, nil
}

// metaTokenError classifies a failed oauth2 exchange: Graph's OAuthException codes are in
// a nested error object oauth2 does not parse.
func (c *Client) metaTokenError(what string, err error, scrub scrubber) error {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		return networkError(Meta, what, err, scrub)
	}
	e := &Error{Provider: Meta, Status: re.Response.StatusCode,
		Retryable: re.Response.StatusCode >= 500 || re.Response.StatusCode == http.StatusTooManyRequests}
	var me metaError
	if json.Unmarshal(re.Body, &me) == nil && me.Error.Message != "" {
		e.Code = strconv.Itoa(me.Error.Code)
		e.Message = scrub.clean(what + ": " + me.Error.Message)
	} else {
		e.Message = scrub.clean(fmt.Sprintf("%s: HTTP %d: %s", what, re.Response.StatusCode, snippet(re.Body)))
	}
	return e
}

// metaLongLived exchanges a token for a long-lived one (about 60 days). It also renews a
// long-lived token that is still valid, which is how Meta tokens are refreshed.
func (c *Client) metaLongLived(ctx context.Context, access string) (Token, error) {
	scrub := scrubber{c.c.MetaAppSecret, access}
	q := url.Values{
		"grant_type": {"fb_exchange_token"}, "client_id": {c.c.MetaAppID},
		"client_secret": {c.c.MetaAppSecret}, "fb_exchange_token": {access},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet,
		c.c.MetaGraphURL+"/"+c.c.MetaAPIVersion+"/oauth/access_token?"+q.Encode(), nil)
	if err != nil {
		return Token{}, fmt.Errorf("meta: build long-lived token request: %w", err)
	}
	var r struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int64  `json:"expires_in"`
	}
	start := c.c.Now()
	_, body, err := c.call(req, Meta, "exchange for a long-lived token", scrub, &r)
	if err != nil {
		var me metaError
		if json.Unmarshal(body, &me) == nil && me.Error.Code != 0 {
			msg := scrub.clean(me.Error.Message)
			// 190: the token is expired or revoked; only a new consent helps.
			if me.Error.Code == 190 {
				return Token{}, &ReauthError{Provider: Meta, Message: msg}
			}
			var pe *Error
			if errors.As(err, &pe) {
				pe.Code, pe.Message = strconv.Itoa(me.Error.Code), "exchange for a long-lived token: "+msg
			}
		}
		return Token{}, err
	}
	if r.AccessToken == "" {
		return Token{}, &Error{Provider: Meta, Retryable: true, Message: "exchange for a long-lived token: no access_token"}
	}
	t := Token{Access: r.AccessToken}
	if r.ExpiresIn > 0 {
		t.ExpiresAt = start.Add(time.Duration(r.ExpiresIn) * time.Second).UTC()
	}
	return t, nil
}

func (c *Client) metaAccounts(ctx context.Context, access string) ([]Account, error) {
	scrub := scrubber{c.c.MetaAppSecret, access}
	graph, err := url.Parse(c.c.MetaGraphURL)
	if err != nil {
		return nil, fmt.Errorf("meta: graph URL: %w", err)
	}
	next := c.c.MetaGraphURL + "/" + c.c.MetaAPIVersion + "/me/adaccounts?" +
		url.Values{"fields": {"account_id,name,currency,timezone_name"}, "limit": {"100"}}.Encode()
	var out []Account
	for page := 0; next != "" && page < metaMaxPages; page++ {
		u, err := url.Parse(next)
		// The token goes only to the Graph host, whatever the paging link says.
		if err != nil || u.Host != graph.Host {
			return nil, &Error{Provider: Meta, Message: "list ad accounts: the paging link leaves the Graph API host"}
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, next, nil)
		if err != nil {
			return nil, fmt.Errorf("meta: build accounts request: %w", err)
		}
		req.Header.Set("Authorization", "Bearer "+access)
		var r struct {
			Data []struct {
				AccountID string `json:"account_id"`
				ID        string `json:"id"`
				Name      string `json:"name"`
			} `json:"data"`
			Paging struct {
				Next string `json:"next"`
			} `json:"paging"`
		}
		if _, _, err := c.call(req, Meta, "list ad accounts", scrub, &r); err != nil {
			return nil, err
		}
		for _, a := range r.Data {
			id := firstNonEmpty(a.AccountID, strings.TrimPrefix(a.ID, "act_"))
			if id != "" {
				out = append(out, Account{ID: id, Name: a.Name})
			}
		}
		next = r.Paging.Next
	}
	return out, nil
}
