package shopify

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/sandbox/kit"
)

// Faults are the switchable failures. Counters count API calls (not admin calls) and run
// down as they fire.
type Faults struct {
	// RateLimit answers the next Times calls with HTTP 429, Retry-After and Shopify's
	// "Exceeded 2 calls per second" error.
	RateLimit *RateLimitFault `json:"rate_limit,omitempty"`
	// ServerErrors answers the next N calls with ServerStatus (default 500).
	ServerErrors int `json:"server_errors,omitempty"`
	ServerStatus int `json:"server_status,omitempty"`
	// InvalidToken answers every call with 401 and Shopify's invalid-token error.
	InvalidToken bool `json:"invalid_token,omitempty"`
	// ShopUnavailable answers every call with 402 (shop frozen for an unpaid bill) or 423
	// (shop locked) until cleared; 0 is off.
	ShopUnavailable int `json:"shop_unavailable,omitempty"`
	// EmptyStore makes the store have no orders (shop.json still answers).
	EmptyStore bool `json:"empty_store,omitempty"`
	// HighUsage reports the call-limit bucket at 36/40 (90%).
	HighUsage bool `json:"high_usage,omitempty"`
	// StaleReadsAsOf makes orders.json and orders/count.json answer as the store stood at
	// that time: a page read before later writes committed, which reaches the reader after
	// them (a refund's webhook, say).
	StaleReadsAsOf *time.Time `json:"stale_reads_as_of,omitempty"`
}

// RateLimitFault is a 429 to inject.
type RateLimitFault struct {
	// Times is how many calls answer 429 (default 1).
	Times int `json:"times"`
	// RetryAfter is the Retry-After header, seconds as Shopify writes them (default "1.0").
	RetryAfter string `json:"retry_after"`
}

func (f Faults) clone() Faults {
	if f.RateLimit != nil {
		rl := *f.RateLimit
		f.RateLimit = &rl
	}
	if f.StaleReadsAsOf != nil {
		t := *f.StaleReadsAsOf
		f.StaleReadsAsOf = &t
	}
	return f
}

func (f *Faults) validate() error {
	if rl := f.RateLimit; rl != nil {
		if rl.Times == 0 {
			rl.Times = 1
		}
		if rl.RetryAfter == "" {
			rl.RetryAfter = "1.0"
		}
		if rl.Times < 0 {
			return errors.New("rate_limit.times must not be negative")
		}
		if v, err := strconv.ParseFloat(rl.RetryAfter, 64); err != nil || v < 0 || v > 60 {
			return fmt.Errorf("rate_limit.retry_after %q must be seconds between 0 and 60", rl.RetryAfter)
		}
	}
	if f.ShopUnavailable != 0 && f.ShopUnavailable != http.StatusPaymentRequired && f.ShopUnavailable != http.StatusLocked {
		return fmt.Errorf("shop_unavailable %d is neither 402 nor 423", f.ShopUnavailable)
	}
	if f.ServerErrors < 0 {
		return errors.New("server_errors must not be negative")
	}
	if f.ServerStatus != 0 && (f.ServerStatus < 500 || f.ServerStatus > 599) {
		return fmt.Errorf("server_status %d is not a 5xx status", f.ServerStatus)
	}
	return nil
}

// faultSwitch arms and clears the faults under the server's lock, which the request
// paths also hold while they run fault counters down.
func (s *Server) faultSwitch() *kit.FaultSwitch[Faults] {
	return kit.NewFaultSwitch(&s.mu, &s.faults, Faults.clone, (*Faults).validate)
}

// SetFaults replaces all faults.
func (s *Server) SetFaults(f Faults) error { return s.faultSwitch().Set(f) }

// ClearFaults removes all faults.
func (s *Server) ClearFaults() { s.faultSwitch().Clear() }

// Faults returns the faults still armed.
func (s *Server) Faults() Faults { return s.faultSwitch().Get() }

// faultPatch is the body of POST /_sandbox/faults: keys present replace the current value,
// keys absent keep it (null clears rate_limit).
type faultPatch struct {
	RateLimit       json.RawMessage `json:"rate_limit"` // not a pointer: see kit.PatchPointer
	ServerErrors    *int            `json:"server_errors"`
	ServerStatus    *int            `json:"server_status"`
	InvalidToken    *bool           `json:"invalid_token"`
	ShopUnavailable *int            `json:"shop_unavailable"`
	EmptyStore      *bool           `json:"empty_store"`
	HighUsage       *bool           `json:"high_usage"`
	// StaleReadsAsOf is a JSON string, null clears it.
	StaleReadsAsOf json.RawMessage `json:"stale_reads_as_of"`
}

func (s *Server) patchFaults(p faultPatch) (Faults, error) {
	return s.faultSwitch().Patch(func(f *Faults) error {
		if err := kit.PatchPointer(&f.RateLimit, "rate_limit", p.RateLimit); err != nil {
			return err
		}
		kit.PatchValue(&f.ServerErrors, p.ServerErrors)
		kit.PatchValue(&f.ServerStatus, p.ServerStatus)
		kit.PatchValue(&f.InvalidToken, p.InvalidToken)
		kit.PatchValue(&f.ShopUnavailable, p.ShopUnavailable)
		kit.PatchValue(&f.EmptyStore, p.EmptyStore)
		kit.PatchValue(&f.HighUsage, p.HighUsage)
		return kit.PatchPointer(&f.StaleReadsAsOf, "stale_reads_as_of", p.StaleReadsAsOf)
	})
}

// RequestLog is one served API request. It never holds the access token (which travels in a
// header the log does not keep).
type RequestLog struct {
	Time   time.Time `json:"time"`
	Method string    `json:"method"`
	Path   string    `json:"path"`
	// Params are the names of the query parameters, sorted.
	Params       []string `json:"params"`
	PageInfo     string   `json:"page_info,omitempty"`
	Limit        string   `json:"limit,omitempty"`
	UpdatedAtMin string   `json:"updated_at_min,omitempty"`
	Status       int      `json:"status"`
	// Filter is the effective filter of an orders.json call: its own parameters, or those
	// its page_info carries on. Orders is how many orders it returned.
	Filter *listFilter `json:"filter,omitempty"`
	Orders int         `json:"orders"`
}

// Requests returns the log of served API requests, oldest first (the last 10,000).
func (s *Server) Requests() []RequestLog { return s.reqs.All() }

// ResetRequests empties the request log.
func (s *Server) ResetRequests() { s.reqs.Reset() }

// ---- admin HTTP ----

// serveAdmin serves, without a token:
//
//	GET    /_sandbox/faults                  the armed faults
//	POST   /_sandbox/faults                  merge faults: {"rate_limit":{"times":2,"retry_after":"1.0"},
//	                                         "server_errors":N,"server_status":503,"invalid_token":true,"shop_unavailable":402,
//	                                         "empty_store":true,"high_usage":true,
//	                                         "stale_reads_as_of":"2026-01-02T15:04:05Z"}
//	DELETE /_sandbox/faults                  clear all faults
//	GET    /_sandbox/requests                [{"time","method","path","params","page_info","limit","updated_at_min","status",
//	                                         "filter","orders"}]
//	DELETE /_sandbox/requests                empty the log
//	GET    /_sandbox/today                   {"today":"YYYY-MM-DD","shop":...}
//	GET    /_sandbox/totals?from&to          Totals (days inclusive, shop timezone)
//	GET    /_sandbox/orders?date=YYYY-MM-DD  the day's orders (id, name, times, total)
//	GET    /_sandbox/orders/{id}             the order JSON
//	POST   /_sandbox/orders/{id}/edit        {"total_price":"123.45"}
//	POST   /_sandbox/orders/{id}/refund      {"amount":"10.00"} (optional: default the rest)
//	POST   /_sandbox/orders/{id}/cancel
//	DELETE /_sandbox/orders                  undo every mutation
//	GET    /_sandbox/webhooks                the deliveries made
//	POST   /_sandbox/webhooks                {"url","topic","order_id","secret","webhook_id"} -> {"webhook_id","status"}
//	                                         (403 unless url is under Config.WebhookTargets, the API)
//	POST   /_sandbox/webhooks/{id}/resend    deliver webhook {id} again, same id and body (403 unless
//	                                         it went to the API; 404 if never sent)
//	GET    /_sandbox/webhook_subscriptions   the webhooks registered over webhooks.json
//	DELETE /_sandbox/webhook_subscriptions   remove them all
//	GET    /_sandbox/oauth/tokens, POST /_sandbox/oauth/revoke|expire   minted tokens (kit.TokenStore.ServeAdmin)
func (s *Server) serveAdmin(w http.ResponseWriter, r *http.Request) {
	if kit.IsOAuthAdmin(r.URL.Path) {
		s.tokens.ServeAdmin(w, r)
		return
	}
	path := strings.TrimSuffix(r.URL.Path, "/")
	segs := strings.Split(strings.TrimPrefix(path, "/_sandbox/"), "/")
	route := r.Method + " " + path
	switch {
	case route == "GET /_sandbox/faults", route == "POST /_sandbox/faults", route == "DELETE /_sandbox/faults":
		kit.ServeFaults(w, r, s.Faults, s.patchFaults, s.ClearFaults)
	case route == "GET /_sandbox/requests", route == "DELETE /_sandbox/requests":
		s.reqs.ServeHTTP(w, r)
	case route == "GET /_sandbox/today":
		kit.WriteJSON(w, http.StatusOK, map[string]string{"today": s.Today(), "shop": DemoShopDomain, "timezone": s.loc.String()})
	case route == "GET /_sandbox/totals":
		t, err := s.Totals(r.URL.Query().Get("from"), r.URL.Query().Get("to"))
		if err != nil {
			kit.WriteError(w, http.StatusBadRequest, err.Error())
			return
		}
		kit.WriteJSON(w, http.StatusOK, t)
	case route == "GET /_sandbox/orders":
		date := r.URL.Query().Get("date")
		if date == "" {
			date = s.Today()
		}
		l, err := s.Orders(date)
		if err != nil {
			kit.WriteError(w, http.StatusBadRequest, err.Error())
			return
		}
		kit.WriteJSON(w, http.StatusOK, l)
	case route == "DELETE /_sandbox/orders":
		s.ResetMutations()
		kit.WriteJSON(w, http.StatusOK, map[string]any{})
	case r.Method == http.MethodGet && len(segs) == 2 && segs[0] == "orders":
		b, err := s.OrderJSON(segs[1])
		if err != nil {
			kit.WriteError(w, http.StatusNotFound, err.Error())
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(b)
	case r.Method == http.MethodPost && len(segs) == 3 && segs[0] == "orders":
		s.adminMutation(w, r, segs[1], segs[2])
	case route == "GET /_sandbox/webhook_subscriptions":
		kit.WriteJSON(w, http.StatusOK, s.WebhookSubscriptions())
	case route == "DELETE /_sandbox/webhook_subscriptions":
		s.ResetWebhookSubscriptions()
		kit.WriteJSON(w, http.StatusOK, []WebhookSubscription{})
	case route == "GET /_sandbox/webhooks":
		d := s.Webhooks()
		if d == nil {
			d = []WebhookDelivery{}
		}
		kit.WriteJSON(w, http.StatusOK, d)
	case route == "POST /_sandbox/webhooks":
		var body struct {
			URL       string `json:"url"`
			Topic     string `json:"topic"`
			OrderID   string `json:"order_id"`
			Secret    string `json:"secret"`
			WebhookID string `json:"webhook_id"`
		}
		if err := kit.DecodeStrict(r.Body, &body); err != nil {
			kit.WriteError(w, http.StatusBadRequest, "webhooks: "+err.Error())
			return
		}
		if body.Secret == "" {
			body.Secret = DefaultWebhookSecret
		}
		if err := s.targets.Check(body.URL); err != nil {
			kit.WriteError(w, http.StatusForbidden, "webhooks: "+err.Error())
			return
		}
		d, err := s.deliver(r.Context(), body.URL, body.Topic, body.OrderID, []byte(body.Secret), body.WebhookID)
		s.webhookResult(w, d, err)
	case r.Method == http.MethodPost && len(segs) == 3 && segs[0] == "webhooks" && segs[2] == "resend":
		s.adminResend(w, r, segs[1])
	default:
		kit.WriteError(w, http.StatusNotFound, "unknown sandbox admin endpoint "+route)
	}
}

func (s *Server) adminMutation(w http.ResponseWriter, r *http.Request, id, action string) {
	var body struct {
		TotalPrice string `json:"total_price"`
		Amount     string `json:"amount"`
	}
	if err := kit.DecodeStrict(r.Body, &body); err != nil && !errors.Is(err, io.EOF) {
		kit.WriteError(w, http.StatusBadRequest, action+": "+err.Error())
		return
	}
	var err error
	resp := map[string]any{"order_id": id}
	switch action {
	case "edit":
		if body.TotalPrice == "" {
			kit.WriteError(w, http.StatusBadRequest, "edit: total_price is required")
			return
		}
		err = s.EditOrder(id, body.TotalPrice)
	case "refund":
		var rid string
		rid, err = s.RefundOrder(id, body.Amount)
		resp["refund_id"] = rid
	case "cancel":
		err = s.CancelOrder(id)
	default:
		kit.WriteError(w, http.StatusNotFound, "unknown order action "+action)
		return
	}
	if err != nil {
		kit.WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	b, _ := s.OrderJSON(id)
	resp["order"] = json.RawMessage(b)
	kit.WriteJSON(w, http.StatusOK, resp)
}

// adminResend resends a delivery over the admin endpoint, only to the configured API: a
// delivery the Go API sent elsewhere stays there.
func (s *Server) adminResend(w http.ResponseWriter, r *http.Request, webhookID string) {
	s.mu.Lock()
	i, ok := s.deliveryIdx[webhookID]
	var target string
	if ok {
		target = s.deliveries[i].URL
	}
	s.mu.Unlock()
	if !ok {
		kit.WriteError(w, http.StatusNotFound, fmt.Sprintf("no webhook %q was sent", webhookID))
		return
	}
	if err := s.targets.Check(target); err != nil {
		kit.WriteError(w, http.StatusForbidden, "resend: "+err.Error())
		return
	}
	d, err := s.redeliver(r.Context(), webhookID)
	s.webhookResult(w, d, err)
}

func (s *Server) webhookResult(w http.ResponseWriter, d WebhookDelivery, err error) {
	if err != nil && d.ID == "" {
		kit.WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	resp := map[string]any{"webhook_id": d.ID, "status": d.Status}
	if err != nil {
		resp["error"] = err.Error()
	}
	kit.WriteJSON(w, http.StatusOK, resp)
}
