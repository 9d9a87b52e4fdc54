package safehttp

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxResponseBody bounds what is read of a receiver's answer: enough for an error message,
// never a tenant-controlled amount of memory.
const maxResponseBody = 4 << 10

// Poster posts signed JSON deliveries (activities.WebhookPoster).
type Poster struct {
	// Client should come from NewClient, whose dialer refuses non-public addresses.
	Client *http.Client
	// Policy checks the URL's form again before each post (a URL stored under a looser
	// configuration); the Client's dialer checks the addresses.
	Policy    Policy
	UserAgent string
	// Now stamps the signature; time.Now when nil.
	Now func() time.Time
}

// StatusError is a receiver's answer other than 2xx, with the start of its body.
type StatusError struct {
	Status int
	Body   string
}

func (e *StatusError) Error() string {
	if e.Body == "" {
		return fmt.Sprintf("webhook answered %d %s", e.Status, http.StatusText(e.Status))
	}
	return fmt.Sprintf("webhook answered %d %s: %s", e.Status, http.StatusText(e.Status), e.Body)
}

// Post sends body to url as JSON with the signature headers of secret. status is the
// answer's HTTP status (0 when there was none), retryAfter its Retry-After (0 when absent).
// A non-2xx answer is a *StatusError; a refused URL or address matches ErrRefused.
func (p *Poster) Post(ctx context.Context, url string, secret, body []byte) (status int, retryAfter time.Duration, err error) {
	if _, err := checkForm(url, p.Policy); err != nil {
		return 0, 0, err
	}
	now := time.Now()
	if p.Now != nil {
		now = p.Now()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, 0, fmt.Errorf("webhook request: %w", err)
	}
	ts := now.Unix()
	req.Header.Set("Content-Type", "application/json")
	if p.UserAgent != "" {
		req.Header.Set("User-Agent", p.UserAgent)
	}
	req.Header.Set(TimestampHeader, strconv.FormatInt(ts, 10))
	req.Header.Set(SignatureHeader, SignatureValue(Sign(secret, ts, body)))
	client := p.Client
	if client == nil {
		client = NewClient(p.Policy, 30*time.Second)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, 0, fmt.Errorf("post webhook: %w", err)
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	// Drain a little more so the connection can be reused, but never a large body.
	_, _ = io.CopyN(io.Discard, resp.Body, 64<<10)
	retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), now)
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp.StatusCode, retryAfter, nil
	}
	text := strings.TrimSpace(string(snippet))
	if len(text) > 200 {
		text = text[:200] + "…"
	}
	text = strings.ToValidUTF8(text, "")
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		text = strings.TrimSpace("redirect to " + resp.Header.Get("Location") + " not followed; " + text)
	}
	return resp.StatusCode, retryAfter, &StatusError{Status: resp.StatusCode, Body: text}
}

// parseRetryAfter reads Retry-After as seconds or an HTTP date; 0 when absent or past.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		return time.Duration(n) * time.Second
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0
	}
	if d := t.Sub(now); d > 0 {
		return d.Round(time.Second)
	}
	return 0
}
