package oauth

import (
	"errors"
	"fmt"
	"strings"
)

// Error is a provider's failure during consent, code exchange, account listing or webhook
// registration. Message is safe to show: tokens and client secrets are scrubbed from it.
type Error struct {
	Provider string
	// Status is the provider's HTTP status, 0 for a network failure.
	Status int
	// Code is the provider's error code ("invalid_grant", "100", "40110"), if any.
	Code    string
	Message string
	// Retryable is true for network failures, 5xx and rate limits: the same call may
	// succeed later. Otherwise the request itself was refused.
	Retryable bool
}

func (e *Error) Error() string {
	s := e.Provider + ": " + e.Message
	if e.Code != "" {
		s += " (" + e.Code + ")"
	}
	return s
}

// ReauthError says the provider considers the grant dead (Meta 190, Google invalid_grant,
// Shopify's refresh token refused): only a new consent fixes it, so retrying is pointless.
type ReauthError struct {
	Provider string
	Message  string
}

// NeedsReauth marks the error as a dead grant for the token-refresh activities.
func (e *ReauthError) NeedsReauth() bool { return true }

func (e *ReauthError) Error() string {
	return e.Provider + ": the grant is no longer valid, reconnect the account: " + e.Message
}

// DeniedError is a callback whose consent was refused (error=access_denied), or that the
// provider answered with another error instead of a code.
type DeniedError struct {
	Provider    string
	Code        string
	Description string
}

func (e *DeniedError) Error() string {
	s := e.Provider + " consent was not granted (" + e.Code + ")"
	if e.Description != "" {
		s += ": " + e.Description
	}
	return s
}

// ErrNotRefreshable is returned by Refresh for a channel whose tokens cannot be refreshed
// (TikTok's long-term tokens, Shopify's classic offline tokens without a refresh token).
var ErrNotRefreshable = errors.New("this token cannot be refreshed")

// AsReauth reports whether err says the grant is dead.
func AsReauth(err error) (*ReauthError, bool) {
	var r *ReauthError
	ok := errors.As(err, &r)
	return r, ok
}

// scrubber removes secrets from provider messages before they reach errors or logs.
type scrubber []string

func (s scrubber) clean(msg string) string {
	for _, secret := range s {
		if len(secret) >= 4 {
			msg = strings.ReplaceAll(msg, secret, "[redacted]")
		}
	}
	return msg
}

func (s scrubber) errorf(provider string, format string, args ...any) string {
	return s.clean(fmt.Sprintf(format, args...))
}
