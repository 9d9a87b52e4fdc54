package stripemock

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Admin drives an Overlay served by another process (`make dev`'s) through its admin API.
type Admin struct {
	// BaseURL is the Overlay's URL, the STRIPE_API_BASE that points at it.
	BaseURL string
	HTTP    *http.Client
}

// ErrNotOverlay: BaseURL answers, but it is not an Overlay (real Stripe, or bare stripe-mock).
var ErrNotOverlay = errors.New("not a stripe-mock overlay")

// Ping checks that BaseURL is an Overlay: nil if it is, ErrNotOverlay if something else
// answers there, another error if nothing does.
func (a Admin) Ping(ctx context.Context) error {
	var out struct {
		Overlay string `json:"overlay"`
	}
	status, err := a.do(ctx, http.MethodGet, AdminPrefix+"ping", nil, &out)
	if err != nil && status == 0 {
		return err
	}
	if err != nil || status != http.StatusOK || out.Overlay != "stripemock" {
		return fmt.Errorf("%s: %w", a.BaseURL, ErrNotOverlay)
	}
	return nil
}

// Set merges fields into the state of the object at path, as Overlay.Set.
func (a Admin) Set(ctx context.Context, path string, fields map[string]any) error {
	status, err := a.do(ctx, http.MethodPut, AdminPrefix+strings.TrimPrefix(cleanPath(path), "/"), fields, nil)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return fmt.Errorf("set overlay state of %s: HTTP %d", path, status)
	}
	return nil
}

// Get returns the state set for path, and whether any is.
func (a Admin) Get(ctx context.Context, path string) (map[string]any, bool, error) {
	var out map[string]any
	status, err := a.do(ctx, http.MethodGet, AdminPrefix+strings.TrimPrefix(cleanPath(path), "/"), nil, &out)
	switch {
	case err != nil:
		return nil, false, err
	case status == http.StatusNotFound:
		return nil, false, nil
	case status != http.StatusOK:
		return nil, false, fmt.Errorf("get overlay state of %s: HTTP %d", path, status)
	}
	return out, true, nil
}

// SetPayOutcome programs the invoice's payments, as Overlay.SetPayOutcome.
func (a Admin) SetPayOutcome(ctx context.Context, invoiceID string, succeed bool) error {
	outcome := "decline"
	if succeed {
		outcome = "succeed"
	}
	status, err := a.do(ctx, http.MethodPut, AdminPrefix+"pay/"+url.PathEscape(invoiceID)+"?outcome="+outcome, nil, nil)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return fmt.Errorf("set pay outcome of %s: HTTP %d", invoiceID, status)
	}
	return nil
}

func (a Admin) do(ctx context.Context, method, path string, in, out any) (int, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return 0, fmt.Errorf("encode overlay %s: %w", path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(a.BaseURL, "/")+path, body)
	if err != nil {
		return 0, fmt.Errorf("overlay %s %s: %w", method, path, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	hc := a.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("overlay %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK && out != nil {
		if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(out); err != nil {
			// Something that is not an Overlay answered 200 with another body.
			return resp.StatusCode, fmt.Errorf("decode overlay %s %s: %w", method, path, err)
		}
	}
	return resp.StatusCode, nil
}
