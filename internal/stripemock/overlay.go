package stripemock

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// AdminPrefix starts every path of the Overlay's admin API; everything else is Stripe's.
const AdminPrefix = "/_overlay/"

// Request is one Stripe API request the Overlay forwarded to stripe-mock.
type Request struct {
	Method string `json:"method"`
	Path   string `json:"path"`
	// Query holds the parameters of a GET.
	Query url.Values `json:"query,omitempty"`
	// Form holds the form-encoded body of a POST.
	Form           url.Values `json:"form,omitempty"`
	IdempotencyKey string     `json:"idempotency_key,omitempty"`
	// Status is what the Overlay answered (stripe-mock's status, or 402 for a decline).
	Status int `json:"status"`
}

// Overlay is an http.Handler in front of stripe-mock that keeps the object state
// stripe-mock cannot (see the package doc). It is safe for concurrent use.
type Overlay struct {
	target *url.URL
	proxy  *httputil.ReverseProxy

	mu       sync.Mutex
	objects  map[string]map[string]any // by API path, e.g. /v1/invoices/in_1; never mutated once stored
	pay      map[string]bool           // invoice id -> the next payments succeed
	requests []Request
}

// NewOverlay returns an Overlay forwarding to the stripe-mock at stripeMockURL (its plain
// HTTP base URL, Process.URL).
func NewOverlay(stripeMockURL string) (*Overlay, error) {
	target, err := url.Parse(strings.TrimRight(stripeMockURL, "/"))
	if err != nil || (target.Scheme != "http" && target.Scheme != "https") || target.Host == "" {
		return nil, fmt.Errorf("stripe-mock URL %q: want http://host:port", stripeMockURL)
	}
	o := &Overlay{target: target, objects: map[string]map[string]any{}, pay: map[string]bool{}}
	o.proxy = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			// Let the proxy's transport negotiate (and undo) compression, so answers can be
			// read and patched here.
			pr.Out.Header.Del("Accept-Encoding")
		},
		ModifyResponse: o.modify,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			writeStripeError(w, http.StatusBadGateway, "api_error", "stripe-mock overlay: "+err.Error())
		},
	}
	return o, nil
}

// Set merges fields into the state of the object at path (an API path such as
// "/v1/invoices/in_1"): its top-level keys replace those already set. Every read of that
// path then answers stripe-mock's answer with these top-level keys replaced. Fields must
// be JSON values (they are stored as a JSON copy, so the caller may reuse the map); Set
// panics otherwise, as that is a bug in the caller.
func (o *Overlay) Set(path string, fields map[string]any) {
	c, err := jsonCopy(fields)
	if err != nil {
		panic(fmt.Sprintf("stripemock: state of %s is not JSON: %v", path, err))
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.mergeLocked(cleanPath(path), c)
}

// Get returns a copy of the state set for path, and whether any is.
func (o *Overlay) Get(path string) (map[string]any, bool) {
	o.mu.Lock()
	cur, ok := o.objects[cleanPath(path)]
	o.mu.Unlock()
	if !ok {
		return nil, false
	}
	c, _ := jsonCopy(cur) // stored state is JSON already
	return c, true
}

// SetPayOutcome programs POST /v1/invoices/{invoiceID}/pay, for every later attempt: once
// stripe-mock accepts the request, succeed marks the stored invoice paid and answers it;
// otherwise the answer is Stripe's 402 card_error for a generic decline. Without an
// outcome the answer is stripe-mock's own.
func (o *Overlay) SetPayOutcome(invoiceID string, succeed bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.pay[invoiceID] = succeed
}

// Requests returns the Stripe requests forwarded so far, oldest first (admin calls are not
// included).
func (o *Overlay) Requests() []Request {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]Request(nil), o.requests...)
}

func (o *Overlay) mergeLocked(path string, fields map[string]any) {
	next := make(map[string]any, len(o.objects[path])+len(fields))
	for k, v := range o.objects[path] {
		next[k] = v
	}
	for k, v := range fields {
		next[k] = v
	}
	o.objects[path] = next
}

func (o *Overlay) state(path string) (map[string]any, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	s, ok := o.objects[path]
	return s, ok
}

// ServeHTTP serves the admin API under AdminPrefix and forwards everything else.
func (o *Overlay) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, AdminPrefix) {
		o.serveAdmin(w, r)
		return
	}
	rec := Request{Method: r.Method, Path: r.URL.Path, IdempotencyKey: r.Header.Get("Idempotency-Key")}
	if len(r.URL.Query()) > 0 {
		rec.Query = r.URL.Query()
	}
	if r.Body != nil && r.Method != http.MethodGet {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		r.Body.Close()
		if err != nil {
			writeStripeError(w, http.StatusBadRequest, "invalid_request_error", "read body: "+err.Error())
			return
		}
		if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct == "application/x-www-form-urlencoded" {
			if form, err := url.ParseQuery(string(body)); err == nil && len(form) > 0 {
				rec.Form = form
			}
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
	}
	sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	o.proxy.ServeHTTP(sw, r)
	rec.Status = sw.status
	o.mu.Lock()
	o.requests = append(o.requests, rec)
	o.mu.Unlock()
}

// modify applies the state to stripe-mock's answer. Only answers stripe-mock accepted are
// touched: a request it refused is refused as it said.
func (o *Overlay) modify(resp *http.Response) error {
	if resp.StatusCode != http.StatusOK {
		return nil
	}
	req := resp.Request
	path := cleanPath(req.URL.Path)
	switch {
	case req.Method == http.MethodGet:
		if st, ok := o.state(path); ok {
			return mergeBody(resp, st)
		}
	case req.Method == http.MethodPost && isInvoicePay(path):
		invoicePath := strings.TrimSuffix(path, "/pay")
		invoiceID := strings.TrimPrefix(invoicePath, "/v1/invoices/")
		o.mu.Lock()
		succeed, programmed := o.pay[invoiceID]
		if programmed && succeed {
			o.mergeLocked(invoicePath, map[string]any{
				"status": "paid", "paid": true, "attempted": true, "amount_remaining": 0, "next_payment_attempt": nil,
			})
		}
		st := o.objects[invoicePath]
		o.mu.Unlock()
		switch {
		case !programmed:
			return nil
		case succeed:
			return mergeBody(resp, st)
		default:
			return decline(resp)
		}
	case req.Method == http.MethodDelete && isSubscription(path):
		now := time.Now().Unix()
		o.mu.Lock()
		o.mergeLocked(path, map[string]any{"status": "canceled", "canceled_at": now, "ended_at": now})
		st := o.objects[path]
		o.mu.Unlock()
		return mergeBody(resp, st)
	}
	return nil
}

// mergeBody replaces the top-level keys of the JSON answer with state's.
func mergeBody(resp *http.Response, state map[string]any) error {
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return fmt.Errorf("read stripe-mock answer: %w", err)
	}
	var obj map[string]any
	if err := json.Unmarshal(body, &obj); err != nil {
		return fmt.Errorf("decode stripe-mock answer to %s %s: %w", resp.Request.Method, resp.Request.URL.Path, err)
	}
	for k, v := range state {
		obj[k] = v
	}
	out, err := json.Marshal(obj)
	if err != nil {
		return fmt.Errorf("encode patched answer: %w", err)
	}
	setBody(resp, out)
	return nil
}

// declineBody is Stripe's answer to a payment the card issuer declined.
const declineBody = `{"error":{"type":"card_error","code":"card_declined","decline_code":"generic_decline","message":"Your card was declined."}}`

func decline(resp *http.Response) error {
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	resp.StatusCode, resp.Status = http.StatusPaymentRequired, "402 Payment Required"
	setBody(resp, []byte(declineBody))
	return nil
}

func setBody(resp *http.Response, b []byte) {
	resp.Body = io.NopCloser(bytes.NewReader(b))
	resp.ContentLength = int64(len(b))
	resp.Header.Set("Content-Length", strconv.Itoa(len(b)))
	resp.Header.Set("Content-Type", "application/json")
	resp.Header.Del("Content-Encoding")
}

// serveAdmin is the admin API:
//
//	GET /_overlay/ping                               {"overlay":"stripemock","stripe_mock":URL}
//	PUT /_overlay/v1/...       JSON object body      Set; answers the whole state
//	GET /_overlay/v1/...                             the state, or 404
//	PUT /_overlay/pay/{invoice}?outcome=succeed|decline
//	GET /_overlay/requests                           Requests()
func (o *Overlay) serveAdmin(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(r.URL.Path, AdminPrefix)
	switch {
	case rest == "ping" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, map[string]string{"overlay": "stripemock", "stripe_mock": o.target.String()})
	case rest == "requests" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, o.Requests())
	case strings.HasPrefix(rest, "v1/") && r.Method == http.MethodPut:
		var fields map[string]any
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&fields); err != nil || fields == nil {
			writeStripeError(w, http.StatusBadRequest, "invalid_request_error", "the body must be a JSON object of fields")
			return
		}
		o.Set("/"+rest, fields)
		st, _ := o.Get("/" + rest)
		writeJSON(w, http.StatusOK, st)
	case strings.HasPrefix(rest, "v1/") && r.Method == http.MethodGet:
		st, ok := o.Get("/" + rest)
		if !ok {
			writeStripeError(w, http.StatusNotFound, "invalid_request_error", "no state set for /"+rest)
			return
		}
		writeJSON(w, http.StatusOK, st)
	case strings.HasPrefix(rest, "pay/") && r.Method == http.MethodPut:
		id := strings.TrimPrefix(rest, "pay/")
		outcome := r.URL.Query().Get("outcome")
		if id == "" || strings.Contains(id, "/") || (outcome != "succeed" && outcome != "decline") {
			writeStripeError(w, http.StatusBadRequest, "invalid_request_error", "want PUT /_overlay/pay/{invoice}?outcome=succeed|decline")
			return
		}
		o.SetPayOutcome(id, outcome == "succeed")
		writeJSON(w, http.StatusOK, map[string]string{"invoice": id, "outcome": outcome})
	default:
		writeStripeError(w, http.StatusNotFound, "invalid_request_error", "unknown overlay admin call "+r.Method+" "+r.URL.Path)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeStripeError(w http.ResponseWriter, status int, typ, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]string{"type": typ, "message": msg}})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func cleanPath(p string) string {
	if i := strings.IndexByte(p, '?'); i >= 0 {
		p = p[:i]
	}
	if len(p) > 1 {
		p = strings.TrimRight(p, "/")
	}
	return p
}

// isInvoicePay matches /v1/invoices/{id}/pay.
func isInvoicePay(p string) bool {
	id, ok := strings.CutPrefix(p, "/v1/invoices/")
	if !ok {
		return false
	}
	id, ok = strings.CutSuffix(id, "/pay")
	return ok && id != "" && !strings.Contains(id, "/")
}

// isSubscription matches /v1/subscriptions/{id}.
func isSubscription(p string) bool {
	id, ok := strings.CutPrefix(p, "/v1/subscriptions/")
	return ok && id != "" && !strings.Contains(id, "/")
}

func jsonCopy(m map[string]any) (map[string]any, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	if out == nil {
		out = map[string]any{}
	}
	return out, nil
}
