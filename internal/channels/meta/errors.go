package meta

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	"github.com/omnitrackiq/omnitrackiq/internal/channels/httpx"
)

// graphError is the Graph API error envelope's "error" object.
type graphError struct {
	Message      string `json:"message"`
	Type         string `json:"type"`
	Code         int    `json:"code"`
	ErrorSubcode int    `json:"error_subcode"`
	IsTransient  bool   `json:"is_transient"`
	UserTitle    string `json:"error_user_title"`
	UserMsg      string `json:"error_user_msg"`
	FBTraceID    string `json:"fbtrace_id"`
}

// IsRateLimitCode reports whether a Graph API error code is a rate limit
// (FACEBOOK_RATE_LIMIT_ERROR_CODES in Airbyte, plus the whole 80000-80008 BUC range).
func IsRateLimitCode(code int) bool {
	switch code {
	case 4, 17, 32, 613:
		return true
	}
	return code >= 80000 && code <= 80008
}

// isTransientCode: errors Meta documents as temporary (1 unknown, 2 service, 960 batch
// timeout, 104 as Airbyte retries it).
func isTransientCode(code int) bool {
	switch code {
	case 1, 2, 104, 960:
		return true
	}
	return false
}

// isAuthCode: 190 invalid or expired token, 102 invalid session.
// isMissingObject reports Meta's "Unsupported get request. Object with ID ... does not
// exist" (code 100, subcode 33): for a report run, it has expired or was never ours.
func isMissingObject(err error) bool {
	pe, ok := channels.AsError(err)
	return ok && pe.Code == 100 && pe.Subcode == 33
}

func isAuthCode(code int) bool { return code == 190 || code == 102 }

// ClassifyError turns a non-2xx Graph API response into a classified error:
//   - 190 (and 102): KindAuth;
//   - 4, 17, 32, 613, 80000-80008: KindRateLimited, RetryAfter = the usage headers'
//     estimated_time_to_regain_access, or defaultBackoff without one;
//   - 1, 2, 104, 960 and any HTTP 5xx: KindTransient;
//   - any other error with is_transient:true, and HTTP 429: KindRateLimited;
//   - anything else: KindBadRequest with Meta's message.
func ClassifyError(status int, h http.Header, body []byte, defaultBackoff time.Duration) *channels.Error {
	e := &channels.Error{Channel: channels.Meta, HTTPStatus: status}
	var env struct {
		Error *graphError `json:"error"`
	}
	if json.Unmarshal(body, &env) != nil || env.Error == nil {
		env.Error = nil
	}
	g := env.Error
	rateLimited := func() *channels.Error {
		e.Kind = channels.KindRateLimited
		e.RetryAfter = defaultBackoff
		if d := ParseUsage(h).RegainAccess; d > 0 {
			e.RetryAfter = d
		}
		return e
	}
	if g == nil {
		e.Message = fmt.Sprintf("HTTP %d without a Graph API error: %s", status, httpx.Snippet(body))
		switch {
		case status == http.StatusTooManyRequests:
			return rateLimited()
		case status >= 500:
			e.Kind = channels.KindTransient
		case status == http.StatusUnauthorized:
			e.Kind = channels.KindAuth
		default:
			e.Kind = channels.KindBadRequest
		}
		return e
	}
	e.Code = g.Code
	e.Subcode = g.ErrorSubcode
	e.Message = describe(g)
	switch {
	case isAuthCode(g.Code):
		e.Kind = channels.KindAuth
	case IsRateLimitCode(g.Code):
		return rateLimited()
	case isTransientCode(g.Code) || status >= 500:
		e.Kind = channels.KindTransient
	case g.IsTransient || status == http.StatusTooManyRequests:
		return rateLimited()
	default:
		e.Kind = channels.KindBadRequest
	}
	return e
}

func describe(g *graphError) string {
	msg := g.Message
	if msg == "" {
		msg = "no message"
	}
	if g.UserMsg != "" && g.UserMsg != g.Message {
		msg += " — " + g.UserMsg
	}
	var extra []string
	if g.Type != "" {
		extra = append(extra, "type "+g.Type)
	}
	if g.ErrorSubcode != 0 {
		extra = append(extra, fmt.Sprintf("subcode %d", g.ErrorSubcode))
	}
	if g.FBTraceID != "" {
		extra = append(extra, "fbtrace_id "+g.FBTraceID)
	}
	if len(extra) > 0 {
		msg += " [" + strings.Join(extra, ", ") + "]"
	}
	return msg
}
