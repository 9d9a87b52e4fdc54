package tiktok

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	"github.com/omnitrackiq/omnitrackiq/internal/channels/httpx"
)

// IsRateLimitCode reports whether an envelope code is a rate limit: 40100 (app QPS), 40133
// (advertiser QPS) and 40016 (requests too frequent).
func IsRateLimitCode(code int) bool {
	return code == 40100 || code == 40133 || code == 40016
}

// IsAuthCode reports whether an envelope code says the token cannot be used: 40101-40199
// (40102 expired, 40104 missing, 40105 invalid, 40106 not authorized for the advertiser,
// 40107 refresh attempted, 40110 bad auth_code ...) except the rate limits 40100 and 40133.
func IsAuthCode(code int) bool {
	return code >= 40101 && code <= 40199 && !IsRateLimitCode(code)
}

// IsServiceErrorCode reports whether an envelope code is one of TikTok's 5xxxx service
// errors, which a retry may fix.
func IsServiceErrorCode(code int) bool { return code >= 50000 && code <= 59999 }

// ClassifyCode classifies a non-zero envelope code (TikTok answers HTTP 200 on failure):
//   - 40100, 40133, 40016: KindRateLimited, RetryAfter defaultBackoff (TikTok sends no delay);
//   - 4010x-401xx: KindAuth (expired, missing, invalid or unauthorized token);
//   - 5xxxx: KindTransient;
//   - anything else (40001 no permission, 40002 bad parameters ...): KindBadRequest.
//
// The message is TikTok's, with the request_id for support tickets.
func ClassifyCode(code int, message, requestID string, defaultBackoff time.Duration) *channels.Error {
	e := &channels.Error{Channel: channels.TikTok, Code: code, Message: describe(message, requestID)}
	switch {
	case IsRateLimitCode(code):
		e.Kind = channels.KindRateLimited
		e.RetryAfter = defaultBackoff
	case IsAuthCode(code):
		e.Kind = channels.KindAuth
	case IsServiceErrorCode(code):
		e.Kind = channels.KindTransient
	default:
		e.Kind = channels.KindBadRequest
	}
	return e
}

// ClassifyHTTP classifies a response whose HTTP status is not 200 (a gateway or a wrong
// path; TikTok itself answers 200). An envelope in the body is classified by its code, but
// a 5xx status stays transient; without one: 5xx is KindTransient, 429 KindRateLimited and
// anything else (404 for a path without its trailing slash) KindBadRequest.
func ClassifyHTTP(status int, body []byte, defaultBackoff time.Duration) *channels.Error {
	var env envelope
	if json.Unmarshal(body, &env) == nil && env.Code != nil && *env.Code != 0 {
		e := ClassifyCode(*env.Code, env.Message, env.RequestID, defaultBackoff)
		e.HTTPStatus = status
		if status >= 500 && e.Kind == channels.KindBadRequest {
			e.Kind = channels.KindTransient
		}
		return e
	}
	e := &channels.Error{Channel: channels.TikTok, HTTPStatus: status,
		Message: fmt.Sprintf("HTTP %d without a TikTok envelope: %s", status, httpx.Snippet(body))}
	switch {
	case status >= 500:
		e.Kind = channels.KindTransient
	case status == http.StatusTooManyRequests:
		e.Kind = channels.KindRateLimited
		e.RetryAfter = defaultBackoff
	default:
		e.Kind = channels.KindBadRequest
	}
	return e
}

func describe(message, requestID string) string {
	if message == "" {
		message = "no message"
	}
	if requestID != "" {
		message += " [request_id " + requestID + "]"
	}
	return message
}
