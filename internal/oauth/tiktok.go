package oauth

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
)

func (c *Client) tiktokAuthURL(state string) string {
	q := url.Values{"app_id": {c.c.TikTokAppID}, "state": {state}, "redirect_uri": {c.RedirectURI(TikTok)}}
	return c.c.TikTokAuthURL + "?" + q.Encode()
}

// tiktokEnvelope is TikTok's answer to every call: HTTP 200 with code 0 on success.
type tiktokEnvelope struct {
	Code    int             `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data"`
}

// tiktokCall sends req and decodes data of a code-0 answer into v. TikTok reports errors
// with HTTP 200 and a code: 40110 (auth_code used or expired), 40101 (app id/secret
// mismatch) are refusals; 40100 (rate limit) and 5xx codes (50000...) are retryable.
func (c *Client) tiktokCall(req *http.Request, what string, scrub scrubber, v any) error {
	var env tiktokEnvelope
	if _, _, err := c.call(req, TikTok, what, scrub, &env); err != nil {
		return err
	}
	if env.Code != 0 {
		return &Error{Provider: TikTok, Status: http.StatusOK, Code: strconv.Itoa(env.Code),
			Retryable: env.Code == 40100 || env.Code >= 50000,
			Message:   scrub.clean(what + ": " + env.Message)}
	}
	if err := json.Unmarshal(env.Data, v); err != nil {
		return &Error{Provider: TikTok, Status: http.StatusOK, Retryable: true, Message: what + ": unexpected data"}
	}
	return nil
}

// tiktokExchange trades the auth_code for a long-term token (no refresh flow exists for
// the Marketing API) and lists the advertisers it was granted.
func (c *Client) tiktokExchange(ctx context.Context, code string) (Grant, error) {
	scrub := scrubber{c.c.TikTokAppSecret, code}
	body, err := json.Marshal(map[string]string{"app_id": c.c.TikTokAppID, "secret": c.c.TikTokAppSecret, "auth_code": code})
	if err != nil {
		return Grant{}, fmt.Errorf("tiktok: encode token request: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost,
		c.c.TikTokBaseURL+"/open_api/v1.3/oauth2/access_token/", bytes.NewReader(body))
	if err != nil {
		return Grant{}, fmt.Errorf("tiktok: build token request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	var tok struct {
		AccessToken   string   `json:"access_token"`
		AdvertiserIDs []string `json:"advertiser_ids"`
		Scope         []int    `json:"scope"`
	}
	if err := c.tiktokCall(req, "exchange the auth_code", scrub, &tok); err != nil {
		return Grant{}, err
	}
	if tok.AccessToken == "" {
		return Grant{}, &Error{Provider: TikTok, Retryable: true, Message: "exchange the auth_code: no access_token"}
	}
	g := Grant{Token: Token{Access: tok.AccessToken}}
	for _, s := range tok.Scope {
		g.Scopes = append(g.Scopes, strconv.Itoa(s))
	}
	// Names come from the advertiser list; ids granted at consent but missing there are kept.
	scrub = append(scrub, tok.AccessToken)
	q := url.Values{"app_id": {c.c.TikTokAppID}, "secret": {c.c.TikTokAppSecret}}
	req, err = http.NewRequestWithContext(ctx, http.MethodGet,
		c.c.TikTokBaseURL+"/open_api/v1.3/oauth2/advertiser/get/?"+q.Encode(), nil)
	if err != nil {
		return Grant{}, fmt.Errorf("tiktok: build advertisers request: %w", err)
	}
	req.Header.Set("Access-Token", tok.AccessToken)
	var list struct {
		List []struct {
			ID   json.Number `json:"advertiser_id"`
			Name string      `json:"advertiser_name"`
		} `json:"list"`
	}
	if err := c.tiktokCall(req, "list advertisers", scrub, &list); err != nil {
		return Grant{}, err
	}
	seen := map[string]bool{}
	for _, a := range list.List {
		if id := a.ID.String(); id != "" && !seen[id] {
			seen[id] = true
			g.Accounts = append(g.Accounts, Account{ID: id, Name: a.Name})
		}
	}
	for _, id := range tok.AdvertiserIDs {
		if id != "" && !seen[id] {
			seen[id] = true
			g.Accounts = append(g.Accounts, Account{ID: id})
		}
	}
	return g, nil
}
