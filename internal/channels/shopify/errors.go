package shopify

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	"github.com/omnitrackiq/omnitrackiq/internal/channels/httpx"
)

// ClassifyError turns a non-2xx Admin API response into a classified error:
//   - 429: KindRateLimited, RetryAfter from Retry-After (seconds, may be fractional), else
//     DefaultRateLimitBackoff;
//   - 401 and 403 (a scope is missing, or the app lost access): KindAuth: the token must be
//     replaced;
//   - 402 (shop frozen for an unpaid bill) and 423 (shop locked): KindUnavailable, with a
//     message naming the cause. The token is fine: the shop comes back once its owner pays
//     or unlocks it, and the connection with it;
//   - 408 and 5xx: KindTransient;
//   - anything else (400, 404, 406, 422, a 3xx we do not follow): KindBadRequest.
//
// The message is Shopify's `errors` value (a string, an array or a field map), or a snippet
// of the body.
func ClassifyError(status int, h http.Header, body []byte) *channels.Error {
	e := &channels.Error{Channel: channels.Shopify, HTTPStatus: status, Message: errorMessage(body)}
	switch {
	case status == http.StatusTooManyRequests:
		e.Kind = channels.KindRateLimited
		e.RetryAfter = DefaultRateLimitBackoff
		if d, ok := ParseRetryAfter(h); ok {
			e.RetryAfter = d
		}
	case status == http.StatusUnauthorized, status == http.StatusForbidden:
		e.Kind = channels.KindAuth
	case status == http.StatusPaymentRequired:
		e.Kind = channels.KindUnavailable
		e.Message = "shop frozen (unpaid Shopify bill): " + e.Message
	case status == http.StatusLocked:
		e.Kind = channels.KindUnavailable
		e.Message = "shop locked: " + e.Message
	case status == http.StatusRequestTimeout || status >= 500:
		e.Kind = channels.KindTransient
		// A 503 during maintenance may say when to come back; keep it as a hint.
		if d, ok := ParseRetryAfter(h); ok {
			e.RetryAfter = d
		}
	case status >= 300 && status < 400:
		e.Kind = channels.KindBadRequest
		e.Message = fmt.Sprintf("unexpected redirect (HTTP %d) to %s", status, redirectTarget(h))
	default:
		e.Kind = channels.KindBadRequest
	}
	return e
}

// redirectTarget names a redirect's host and path, never its query.
func redirectTarget(h http.Header) string {
	loc := h.Get("Location")
	if loc == "" {
		return "(no Location)"
	}
	loc, _, _ = strings.Cut(loc, "?")
	loc, _, _ = strings.Cut(loc, "#")
	return loc
}

// errorMessage renders {"errors": ...} as Shopify sends it: "Not Found",
// {"field":["message", ...]}, {"field":"message"} or ["message", ...]. OAuth-style
// {"error": "...", "error_description": "..."} bodies are understood too.
func errorMessage(body []byte) string {
	var env struct {
		Errors           json.RawMessage `json:"errors"`
		Error            string          `json:"error"`
		ErrorDescription string          `json:"error_description"`
	}
	if json.Unmarshal(body, &env) == nil {
		if msg := renderErrors(env.Errors); msg != "" {
			return msg
		}
		if env.Error != "" {
			if env.ErrorDescription != "" {
				return env.Error + ": " + env.ErrorDescription
			}
			return env.Error
		}
	}
	return httpx.Snippet(body)
}

func renderErrors(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var list []any
	if json.Unmarshal(raw, &list) == nil {
		return joinValues(list)
	}
	var fields map[string]any
	if json.Unmarshal(raw, &fields) == nil && len(fields) > 0 {
		keys := make([]string, 0, len(fields))
		for k := range fields {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, 0, len(keys))
		for _, k := range keys {
			v := fields[k]
			if l, ok := v.([]any); ok {
				parts = append(parts, k+": "+joinValues(l))
			} else {
				parts = append(parts, k+": "+fmt.Sprint(v))
			}
		}
		return strings.Join(parts, "; ")
	}
	return ""
}

func joinValues(l []any) string {
	parts := make([]string, 0, len(l))
	for _, v := range l {
		parts = append(parts, fmt.Sprint(v))
	}
	return strings.Join(parts, ", ")
}
