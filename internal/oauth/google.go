package oauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/oauth2"
)

// ga4MaxPages bounds the accountSummaries pages followed.
const ga4MaxPages = 50

// GoogleConfig is the OAuth client of the Google connectors for scope: the authorize URL,
// the code exchange with PKCE, and the refresh grant through TokenSource. The client
// credentials go in the form body (AuthStyleInParams), as Google documents.
func GoogleConfig(clientID, clientSecret, authURL, tokenURL, redirectURL string, scopes ...string) *oauth2.Config {
	return &oauth2.Config{
		ClientID: clientID, ClientSecret: clientSecret,
		Endpoint:    oauth2.Endpoint{AuthURL: authURL, TokenURL: tokenURL, AuthStyle: oauth2.AuthStyleInParams},
		RedirectURL: redirectURL,
		Scopes:      scopes,
	}
}

func googleScope(provider string) string {
	if provider == GA4 {
		return ga4Scope
	}
	return googleAdsScope
}

func (c *Client) googleConfig(provider string) *oauth2.Config {
	return GoogleConfig(c.c.GoogleClientID, c.c.GoogleClientSecret, c.c.GoogleAuthURL, c.c.GoogleTokenURL,
		c.RedirectURI(provider), googleScope(provider))
}

// NewVerifier returns a PKCE verifier (RFC 7636, 32 random bytes).
func NewVerifier() string { return oauth2.GenerateVerifier() }

func (c *Client) googleAuthURL(provider, state, verifier string) string {
	// prompt=consent makes Google return a refresh token even to a user who consented before.
	return c.googleConfig(provider).AuthCodeURL(state, oauth2.AccessTypeOffline, oauth2.ApprovalForce,
		oauth2.SetAuthURLParam("include_granted_scopes", "true"), oauth2.S256ChallengeOption(verifier))
}

func (c *Client) googleContext(ctx context.Context) context.Context {
	return context.WithValue(ctx, oauth2.HTTPClient, c.c.HTTPClient)
}

func (c *Client) googleExchange(ctx context.Context, provider, code, verifier string) (Grant, error) {
	if verifier == "" {
		return Grant{}, &Error{Provider: provider, Message: "the consent has no PKCE verifier"}
	}
	scrub := scrubber{c.c.GoogleClientSecret, code, verifier}
	tok, err := c.googleConfig(provider).Exchange(c.googleContext(ctx), code, oauth2.VerifierOption(verifier))
	if err != nil {
		return Grant{}, googleTokenError(provider, "exchange the authorization code", err, scrub)
	}
	g := Grant{Token: Token{Access: tok.AccessToken, Refresh: tok.RefreshToken, ExpiresAt: tok.Expiry.UTC()}}
	if s, ok := tok.Extra("scope").(string); ok && s != "" {
		g.Scopes = strings.Fields(s)
	}
	if g.Token.Refresh == "" {
		// Without a refresh token the connection would die within the hour.
		return Grant{}, &Error{Provider: provider, Message: "Google granted no refresh token (offline access was not given)"}
	}
	if provider == GA4 {
		g.Accounts, err = c.ga4Properties(ctx, tok.AccessToken)
	} else {
		g.Accounts, err = c.googleAdsCustomers(ctx, tok.AccessToken)
	}
	return g, err
}

// googleTokenError classifies a failed token call: invalid_grant (code used, PKCE or
// redirect mismatch at exchange; refresh token revoked at refresh) is a refusal; 5xx and
// network failures are retryable.
func googleTokenError(provider, what string, err error, scrub scrubber) error {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		return networkError(provider, what, err, scrub)
	}
	status := 0
	if re.Response != nil {
		status = re.Response.StatusCode
	}
	msg := what + ": " + re.ErrorCode
	if re.ErrorDescription != "" {
		msg += ": " + re.ErrorDescription
	}
	if re.ErrorCode == "" {
		msg = fmt.Sprintf("%s: HTTP %d: %s", what, status, snippet(re.Body))
	}
	return &Error{Provider: provider, Status: status, Code: re.ErrorCode, Message: scrub.clean(msg),
		Retryable: status >= 500 || status == http.StatusTooManyRequests || re.ErrorCode == "temporarily_unavailable"}
}

func (c *Client) googleAdsCustomers(ctx context.Context, access string) ([]Account, error) {
	scrub := scrubber{access, c.c.GoogleAdsDeveloperToken}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet,
		c.c.GoogleAdsBaseURL+"/"+c.c.GoogleAdsAPIVersion+"/customers:listAccessibleCustomers", nil)
	if err != nil {
		return nil, fmt.Errorf("google ads: build customers request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+access)
	req.Header.Set("developer-token", c.c.GoogleAdsDeveloperToken)
	var r struct {
		ResourceNames []string `json:"resourceNames"`
	}
	if _, _, err := c.call(req, GoogleAds, "list accessible customers", scrub, &r); err != nil {
		return nil, err
	}
	out := make([]Account, 0, len(r.ResourceNames))
	for _, rn := range r.ResourceNames {
		if id, ok := strings.CutPrefix(rn, "customers/"); ok && id != "" {
			out = append(out, Account{ID: id})
		}
	}
	return out, nil
}

func (c *Client) ga4Properties(ctx context.Context, access string) ([]Account, error) {
	scrub := scrubber{access}
	var out []Account
	pageToken := ""
	for page := 0; page < ga4MaxPages; page++ {
		q := url.Values{"pageSize": {"200"}}
		if pageToken != "" {
			q.Set("pageToken", pageToken)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet,
			c.c.GA4AdminBaseURL+"/v1beta/accountSummaries?"+q.Encode(), nil)
		if err != nil {
			return nil, fmt.Errorf("ga4: build account summaries request: %w", err)
		}
		req.Header.Set("Authorization", "Bearer "+access)
		var r struct {
			AccountSummaries []struct {
				PropertySummaries []struct {
					Property    string `json:"property"`
					DisplayName string `json:"displayName"`
				} `json:"propertySummaries"`
			} `json:"accountSummaries"`
			NextPageToken string `json:"nextPageToken"`
		}
		if _, _, err := c.call(req, GA4, "list account summaries", scrub, &r); err != nil {
			return nil, err
		}
		for _, a := range r.AccountSummaries {
			for _, p := range a.PropertySummaries {
				if id, ok := strings.CutPrefix(p.Property, "properties/"); ok && id != "" {
					out = append(out, Account{ID: id, Name: p.DisplayName})
				}
			}
		}
		if pageToken = r.NextPageToken; pageToken == "" {
			break
		}
	}
	return out, nil
}
