package googleads

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	"github.com/omnitrackiq/omnitrackiq/internal/channels/googleauth"
	"github.com/omnitrackiq/omnitrackiq/internal/channels/httpx"
)

// rpcStatus is the "error" object of Google's RPC error envelope.
type rpcStatus struct {
	Code    int               `json:"code"`
	Message string            `json:"message"`
	Status  string            `json:"status"`
	Details []json.RawMessage `json:"details"`
}

// errorDetail is one entry of error.details: a GoogleAdsFailure (errors, requestId) or a
// google.rpc.RetryInfo (retryDelay).
type errorDetail struct {
	Type       string     `json:"@type"`
	Errors     []adsError `json:"errors"`
	RequestID  string     `json:"requestId"`
	RetryDelay string     `json:"retryDelay"`
}

// adsError is one GoogleAdsError: errorCode is a one-key object such as
// {"quotaError":"RESOURCE_EXHAUSTED"}.
type adsError struct {
	ErrorCode map[string]json.RawMessage `json:"errorCode"`
	Message   string                     `json:"message"`
	Details   struct {
		QuotaErrorDetails *struct {
			RateScope  string `json:"rateScope"`
			RateName   string `json:"rateName"`
			RetryDelay string `json:"retryDelay"`
		} `json:"quotaErrorDetails"`
	} `json:"details"`
}

// failure is what an error response says, flattened.
type failure struct {
	status     rpcStatus
	found      bool
	codes      []string // "quotaError=RESOURCE_EXHAUSTED", ...
	messages   []string // the GoogleAdsError messages, each prefixed with its code
	requestID  string
	retryDelay time.Duration
}

func (f failure) has(code string) bool { return slices.Contains(f.codes, code) }

func (f failure) hasKind(kind string) bool {
	return slices.ContainsFunc(f.codes, func(c string) bool { return strings.HasPrefix(c, kind+"=") })
}

// pageTokenRejected: the pageToken expired or does not belong to the query.
func (f failure) pageTokenRejected() bool {
	return f.has("requestError=EXPIRED_PAGE_TOKEN") || f.has("requestError=INVALID_PAGE_TOKEN")
}

// developerTokenProblem: the developer token is missing, unapproved or not allowed. A new
// access token or re-consent cannot fix that; the operator must.
func (f failure) developerTokenProblem() bool {
	return slices.ContainsFunc(f.codes, func(c string) bool { return strings.Contains(c, "=DEVELOPER_TOKEN_") })
}

// parseFailure reads the envelope, bare or wrapped in the array searchStream answers with.
func parseFailure(body []byte) failure {
	var f failure
	var env struct {
		Error *rpcStatus `json:"error"`
	}
	body = bytes.TrimSpace(body)
	if len(body) > 0 && body[0] == '[' {
		var arr []json.RawMessage
		if json.Unmarshal(body, &arr) != nil || len(arr) == 0 {
			return f
		}
		body = arr[0]
	}
	if json.Unmarshal(body, &env) != nil || env.Error == nil {
		return f
	}
	f.status, f.found = *env.Error, true
	for _, raw := range env.Error.Details {
		var d errorDetail
		if json.Unmarshal(raw, &d) != nil {
			continue
		}
		if d.RequestID != "" {
			f.requestID = d.RequestID
		}
		f.noteDelay(d.RetryDelay)
		for _, e := range d.Errors {
			var code string
			for k, v := range e.ErrorCode {
				var s string
				if json.Unmarshal(v, &s) != nil {
					s = string(v)
				}
				code = k + "=" + s
				f.codes = append(f.codes, code)
			}
			if q := e.Details.QuotaErrorDetails; q != nil {
				f.noteDelay(q.RetryDelay)
			}
			msg := e.Message
			if code != "" {
				msg = strings.TrimSpace(code + " " + msg)
			}
			if msg != "" {
				f.messages = append(f.messages, msg)
			}
		}
	}
	return f
}

// noteDelay keeps the longest retry delay, a protobuf Duration in JSON ("2s", "1.5s").
func (f *failure) noteDelay(s string) {
	if s == "" {
		return
	}
	if d, err := time.ParseDuration(s); err == nil && d > f.retryDelay {
		f.retryDelay = d
	}
}

func (f failure) describe() string {
	msg := f.status.Message
	if msg == "" {
		msg = "no message"
	}
	if f.status.Status != "" {
		msg = f.status.Status + ": " + msg
	}
	if len(f.messages) > 0 {
		msg += " — " + strings.Join(f.messages, "; ")
	}
	if f.requestID != "" {
		msg += " [request_id " + f.requestID + "]"
	}
	return msg
}

// ClassifyError turns a non-2xx Google Ads API response into a classified error:
//   - RESOURCE_EXHAUSTED, HTTP 429 or any quotaError: KindRateLimited, RetryAfter = the
//     longest retryDelay (quotaErrorDetails or RetryInfo), defaultBackoff without one;
//   - errors about the developer token (DEVELOPER_TOKEN_*): KindBadRequest, whatever the
//     status, because neither a new access token nor re-consent fixes them;
//   - UNAUTHENTICATED / 401: KindAuth (the caller refreshes once first);
//   - PERMISSION_DENIED / 403: KindAuth. The authorized user cannot read the customer (access
//     removed, wrong or missing login-customer-id, customer not enabled): retrying cannot help
//     and the connection needs the user's attention, as with a revoked token;
//   - 5xx, UNAVAILABLE, INTERNAL, DEADLINE_EXCEEDED, ABORTED, UNKNOWN or an internalError:
//     KindTransient;
//   - anything else (INVALID_ARGUMENT, NOT_FOUND, ...): KindBadRequest with Google's messages.
func ClassifyError(status int, body []byte, defaultBackoff time.Duration) *channels.Error {
	e, _ := classify(status, body, defaultBackoff)
	return e
}

func classify(status int, body []byte, defaultBackoff time.Duration) (*channels.Error, failure) {
	f := parseFailure(body)
	e := &channels.Error{Channel: channels.GoogleAds, HTTPStatus: status, Code: f.status.Code}
	if f.found {
		e.Message = f.describe()
	} else {
		e.Message = fmt.Sprintf("HTTP %d without a Google error envelope: %s", status, httpx.Snippet(body))
	}
	switch st := f.status.Status; {
	case st == "RESOURCE_EXHAUSTED" || status == http.StatusTooManyRequests || f.hasKind("quotaError"):
		e.Kind = channels.KindRateLimited
		e.RetryAfter = defaultBackoff
		if f.retryDelay > 0 {
			e.RetryAfter = f.retryDelay
		}
	case f.developerTokenProblem():
		e.Kind = channels.KindBadRequest
	case st == "UNAUTHENTICATED" || st == "PERMISSION_DENIED" ||
		status == http.StatusUnauthorized || status == http.StatusForbidden:
		e.Kind = channels.KindAuth
	case st == "UNAVAILABLE" || st == "INTERNAL" || st == "DEADLINE_EXCEEDED" || st == "ABORTED" ||
		st == "UNKNOWN" || status >= 500 || f.hasKind("internalError"):
		e.Kind = channels.KindTransient
	default:
		e.Kind = channels.KindBadRequest
	}
	return e, f
}

// ClassifyTokenError turns a failed OAuth token response ({"error":"invalid_grant",
// "error_description":...}) into a classified error:
//   - invalid_grant (refresh token expired or revoked) and unauthorized_client (the token
//     belongs to another client): KindAuth, the user must connect again;
//   - HTTP 429 or slow_down: KindRateLimited (Retry-After, else defaultBackoff);
//   - 5xx or temporarily_unavailable: KindTransient;
//   - anything else (invalid_client, invalid_request, ...): KindBadRequest, a configuration
//     problem of ours.
func ClassifyTokenError(status int, h http.Header, body []byte, defaultBackoff time.Duration) *channels.Error {
	code, msg := googleauth.ErrorResponse(status, body)
	e := &channels.Error{Channel: channels.GoogleAds, HTTPStatus: status, Message: msg}
	switch {
	case code == "invalid_grant" || code == "unauthorized_client":
		e.Kind = channels.KindAuth
	case status == http.StatusTooManyRequests || code == "slow_down":
		e.Kind = channels.KindRateLimited
		e.RetryAfter = defaultBackoff
		if d := httpx.RetryAfter(h); d > 0 {
			e.RetryAfter = d
		}
	case status >= 500 || code == "temporarily_unavailable":
		e.Kind = channels.KindTransient
	default:
		e.Kind = channels.KindBadRequest
	}
	return e
}
