// Package shopify is the sandbox Shopify Admin REST API: an http.Handler that speaks the
// wire format of shop.json and orders.json (Link-header cursor paging with an opaque
// page_info, the X-Shopify-Shop-Api-Call-Limit bucket header, the {"errors": ...} shape) over
// deterministic generated orders, with switchable faults, order mutations for incremental
// sync tests, and a webhook sender that signs its deliveries like Shopify.
//
// API endpoints, relative to where the handler is mounted (any version YYYY-MM; any shop:
// the host is not checked because the sandbox replaces it), token in X-Shopify-Access-Token:
//
//	GET /admin/api/{ver}/shop.json
//	GET /admin/api/{ver}/orders.json        status, order, limit, fields, ids, since_id,
//	                                         created_at_min/max, updated_at_min/max,
//	                                         financial_status; or limit, fields and page_info
//	GET /admin/api/{ver}/orders/count.json  the same filters
//	GET /admin/api/{ver}/orders/{id}.json
//	GET /admin/oauth/access_scopes.json      the token's granted scopes
//
// Tokens carry scopes. Config.Token (DefaultToken) is granted read_orders, read_all_orders
// and read_customers; LimitedToken lacks read_all_orders, and with it the order endpoints
// silently leave out the orders created more than 60 days ago, as Shopify does.
//
// A token belongs to one shop, as at Shopify, where every call is scoped to the token's
// shop. Every token but OtherShopToken is the demo shop's; OtherShopToken is the token of a
// second shop, OtherShopDomain, which has no orders: with it shop.json describes that shop,
// orders.json is empty and orders/{id}.json answers 404 for every demo-shop order.
//
//	POST|GET /admin/api/{ver}/webhooks.json, DELETE /admin/api/{ver}/webhooks/{id}.json
//
// OAuth (the authorize page with its HMAC-signed callback, the token endpoint with classic
// and expiring tokens, the sandbox app OAuthClientID / OAuthClientSecret): see oauth.go.
// Webhook subscriptions: see subscriptions.go.
//
// Admin endpoints (no token): see admin.go. Webhooks: see webhook.go.
package shopify

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/sandbox/kit"
)

// DefaultToken is the valid access token of the default configuration.
const DefaultToken = "sandbox-shopify-token"

// LimitedToken is a valid access token without the read_all_orders scope: it reads only the
// last 60 days of orders.
const LimitedToken = "sandbox-shopify-token-60-days"

// Scopes.
const (
	ScopeReadOrders    = "read_orders"
	ScopeReadAllOrders = "read_all_orders"
	ScopeReadCustomers = "read_customers"
)

// recentOrdersDays is how far back a token without read_all_orders reads orders.
const recentOrdersDays = 60

// DemoShopDomain is the shop of the default configuration.
const DemoShopDomain = "demo-store.myshopify.com"

// DemoShopName is the demo shop's name.
const DemoShopName = "Demo Store (sandbox)"

// The second shop: another merchant's store, with its own token and no orders. A workspace
// connected to it must never receive the demo shop's orders, whatever a webhook's
// X-Shopify-Shop-Domain header says.
const (
	OtherShopDomain = "other-store.myshopify.com"
	OtherShopName   = "Other Store (sandbox)"
	OtherShopToken  = "sandbox-shopify-token-other-store"
)

// DefaultDays is the default history length.
const DefaultDays = 120

// APIVersion is the version the sandbox reports in webhook headers.
const APIVersion = "2024-10"

// InvalidTokenMessage is Shopify's 401 message.
const InvalidTokenMessage = "[API] Invalid API key or access token (unrecognized login or wrong password)"

// FrozenShopMessage is Shopify's 402 message: the shop is frozen for an unpaid bill.
const FrozenShopMessage = "Unavailable Shop"

// LockedShopMessage is Shopify's 423 message: the shop is locked (by Shopify, or its
// owner paused it).
const LockedShopMessage = "This shop is unavailable"

// RateLimitMessage is Shopify's 429 message.
const RateLimitMessage = "Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service."

const (
	dateLayout       = "2006-01-02"
	defaultLimit     = 50
	maxLimit         = 250
	bucketCapacity   = 40
	pageInfoTime     = "2006-01-02 15:04:05 UTC"
	paginationDocURL = "https://shopify.dev/api/usage/pagination-rest"
)

// Config configures a Server.
type Config struct {
	// Now is the clock; default time.Now. Orders exist once their creation time has passed,
	// and cancellations, fulfilments and refunds once theirs have.
	Now func() time.Time
	// Token is the one valid access token; default DefaultToken.
	Token string
	// Days is the history length, ending today in the shop's timezone; default 120.
	Days int
	// Timezone is the shop's IANA timezone; default America/New_York.
	Timezone string
	// Currency is the shop's currency; default USD.
	Currency string
	// HTTPClient delivers webhooks; default a client with a 10 s timeout.
	HTTPClient *http.Client
	// WebhookTargets are where the admin endpoints (POST /_sandbox/webhooks and
	// /_sandbox/webhooks/{id}/resend) may deliver: the API. The zero value refuses every
	// target. SendWebhook and the other Go methods are not bound by it: they are called by
	// the process's own code (tests), which names its own receivers.
	WebhookTargets WebhookTargets
}

// Server is the sandbox Shopify store. It is safe for concurrent use.
type Server struct {
	now      func() time.Time
	token    string
	days     int
	loc      *time.Location
	currency string
	hc       *http.Client
	targets  WebhookTargets

	reqs   kit.RequestLog[RequestLog]
	codes  *kit.CodeStore  // OAuth codes (oauth.go)
	tokens *kit.TokenStore // tokens minted by OAuth (oauth.go)

	genMu sync.Mutex
	gen   map[int64][]*genOrder // day number -> that day's generated orders

	mu          sync.Mutex
	faults      Faults
	overlays    map[int64]*overlay
	refundSeq   int64
	calls       int64
	deliveries  []WebhookDelivery
	deliveryIdx map[string]int
	subs        []WebhookSubscription // subscriptions.go
	subSeq      int64
}

// New builds a Server. It panics on an invalid timezone, a programming error in a sandbox.
func New(cfg Config) *Server {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Token == "" {
		cfg.Token = DefaultToken
	}
	if cfg.Days <= 0 {
		cfg.Days = DefaultDays
	}
	if cfg.Timezone == "" {
		cfg.Timezone = "America/New_York"
	}
	if cfg.Currency == "" {
		cfg.Currency = "USD"
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	loc, err := time.LoadLocation(cfg.Timezone)
	if err != nil {
		panic(fmt.Sprintf("sandbox shopify: %v", err))
	}
	return &Server{
		now: cfg.Now, token: cfg.Token, days: cfg.Days, loc: loc, currency: cfg.Currency, hc: cfg.HTTPClient,
		targets: cfg.WebhookTargets,
		gen:     map[int64][]*genOrder{}, overlays: map[int64]*overlay{}, deliveryIdx: map[string]int{},
		codes: kit.NewCodeStore(cfg.Now, ""), tokens: kit.NewTokenStore(cfg.Now),
	}
}

// Token is the valid access token.
func (s *Server) Token() string { return s.token }

// ShopDomain is the shop's myshopify.com domain.
func (s *Server) ShopDomain() string { return DemoShopDomain }

// Today is the current day (YYYY-MM-DD) in the shop's timezone.
func (s *Server) Today() string { return s.today(s.now()).Format(dateLayout) }

// today is the current calendar day in the shop's timezone, as UTC midnight.
func (s *Server) today(now time.Time) time.Time { return kit.Today(now, s.loc) }

func (s *Server) historyStart(now time.Time) time.Time {
	start, _ := kit.History(now, s.loc, s.days)
	return start
}

// day returns the generated orders of a day, cached: they are a pure function of the day.
func (s *Server) day(d time.Time) []*genOrder {
	dn := dayNumber(d)
	s.genMu.Lock()
	defer s.genMu.Unlock()
	if g, ok := s.gen[dn]; ok {
		return g
	}
	g := genDay(DemoShopDomain, d, s.loc)
	s.gen[dn] = g
	return g
}

// snapshot is every order that exists at now, by creation time.
func (s *Server) snapshot(now time.Time) []*order {
	s.mu.Lock()
	ovs := make(map[int64]*overlay, len(s.overlays))
	for id, ov := range s.overlays {
		ovs[id] = ov.clone()
	}
	s.mu.Unlock()
	var out []*order
	today := s.today(now)
	for d := s.historyStart(now); !d.After(today); d = d.AddDate(0, 0, 1) {
		for _, g := range s.day(d) {
			if o := view(g, now, ovs[g.id]); o != nil {
				out = append(out, o)
			}
		}
	}
	return out
}

// lookup finds an existing order by id.
func (s *Server) lookup(id int64, now time.Time) (*order, bool) {
	rel := id - orderIDBase
	if rel < 0 || rel/ordersPerDaySlot > 100_000 { // not an order id of this century
		return nil, false
	}
	d := epoch.AddDate(0, 0, int(rel/ordersPerDaySlot))
	if d.Before(s.historyStart(now)) || d.After(s.today(now)) {
		return nil, false
	}
	orders := s.day(d)
	i := int(rel % ordersPerDaySlot)
	if i >= len(orders) {
		return nil, false
	}
	s.mu.Lock()
	var ov *overlay
	if o, ok := s.overlays[id]; ok {
		ov = o.clone()
	}
	s.mu.Unlock()
	o := view(orders[i], now, ov)
	return o, o != nil
}

func parseOrderID(s string) (int64, bool) {
	id, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	return id, err == nil && id > 0
}

// ---- HTTP ----

var versionRE = regexp.MustCompile(`^(\d{4}-\d{2}|unstable)$`)

// ServeHTTP serves the Admin API endpoints and the /_sandbox admin endpoints.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/_sandbox" || strings.HasPrefix(r.URL.Path, "/_sandbox/") {
		s.serveAdmin(w, r)
		return
	}
	rec := kit.NewStatusRecorder(w)
	served := s.serveAPI(rec, r)
	q := r.URL.Query()
	params := make([]string, 0, len(q))
	for k := range q {
		params = append(params, k)
	}
	sort.Strings(params)
	s.reqs.Add(RequestLog{
		Time: s.now().UTC(), Method: r.Method, Path: r.URL.Path, Params: params,
		PageInfo: q.Get("page_info"), Limit: q.Get("limit"), UpdatedAtMin: q.Get("updated_at_min"),
		Status: rec.Status, Filter: served.filter, Orders: served.orders,
	})
}

// call is one API request being served.
type call struct {
	s    *Server
	w    http.ResponseWriter
	r    *http.Request
	seq  int64
	used int // call-limit bucket level reported
	// version is the API version of the path.
	version string
	// scopes are the access token's, and shop the domain of the shop it belongs to.
	scopes []string
	shop   string
	// filter and orders are what an orders.json call read, for the request log.
	filter *listFilter
	orders int
}

// served is what the request log keeps of a call beyond the request.
type served struct {
	filter *listFilter
	orders int
}

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) served {
	c := s.newCall(w, r)
	c.serve()
	return served{filter: c.filter, orders: c.orders}
}

func (s *Server) newCall(w http.ResponseWriter, r *http.Request) *call {
	s.mu.Lock()
	s.calls++
	c := &call{s: s, w: w, r: r, seq: s.calls}
	s.mu.Unlock()
	return c
}

func (c *call) serve() {
	s, w, r := c.s, c.w, c.r
	c.used = 1 + int(c.seq%4)
	if c.serveOAuth() {
		return
	}
	segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if r.URL.Path == "/admin/oauth/access_scopes.json" && r.Method == http.MethodGet {
		if c.authorize() && !c.faulted() {
			handles := make([]map[string]string, 0, len(c.scopes))
			for _, sc := range c.scopes {
				handles = append(handles, map[string]string{"handle": sc})
			}
			c.json(http.StatusOK, map[string]any{"access_scopes": handles})
		}
		return
	}
	if len(segs) < 4 || segs[0] != "admin" || segs[1] != "api" || !versionRE.MatchString(segs[2]) {
		c.fail(http.StatusNotFound, "Not Found")
		return
	}
	c.version = segs[2]
	w.Header().Set("X-Shopify-API-Version", segs[2])
	if !c.authorize() {
		return
	}

	if c.faulted() {
		return
	}
	// The other shop has no orders; the demo shop's are out of its token's reach.
	empty := s.Faults().EmptyStore || c.shop != DemoShopDomain

	if res := strings.Join(segs[3:], "/"); res == "webhooks.json" || strings.HasPrefix(res, "webhooks/") {
		c.webhooks(res)
		return
	}
	if r.Method != http.MethodGet {
		c.fail(http.StatusNotFound, "Not Found")
		return
	}
	switch res := strings.Join(segs[3:], "/"); {
	case res == "shop.json":
		c.shopInfo()
	case res == "orders.json":
		c.listOrders(empty)
	case res == "orders/count.json":
		c.countOrders(empty)
	case len(segs) == 5 && segs[3] == "orders" && strings.HasSuffix(segs[4], ".json"):
		id, ok := parseOrderID(strings.TrimSuffix(segs[4], ".json"))
		var o *order
		if ok && !empty {
			o, ok = s.lookup(id, s.now())
			ok = ok && c.readable(o)
		}
		if !ok || empty {
			c.fail(http.StatusNotFound, "Not Found")
			return
		}
		v, ok := c.withFields(s.renderOrder(o))
		if !ok {
			return
		}
		c.json(http.StatusOK, map[string]any{"order": v})
	default:
		c.fail(http.StatusNotFound, "Not Found")
	}
}

// authorize checks the access token and keeps its scopes; false means a 401 was written.
func (c *call) authorize() bool {
	tok := c.r.Header.Get("X-Shopify-Access-Token")
	scopes, ok := c.s.tokenScopes(tok)
	if !ok {
		c.fail(http.StatusUnauthorized, InvalidTokenMessage)
		return false
	}
	c.scopes, c.shop = scopes, DemoShopDomain
	if tok == OtherShopToken {
		c.shop = OtherShopDomain
	}
	return true
}

// readable reports whether the token may see o: without read_all_orders, Shopify leaves
// out, silently, the orders created more than 60 days ago.
func (c *call) readable(o *order) bool {
	for _, sc := range c.scopes {
		if sc == ScopeReadAllOrders {
			return true
		}
	}
	return !o.g.createdAt.Before(c.s.now().AddDate(0, 0, -recentOrdersDays))
}

// faulted serves the armed faults that answer in place of the API; true means it wrote the
// answer.
func (c *call) faulted() bool {
	s, w := c.s, c.w
	s.mu.Lock()
	f := &s.faults
	if f.HighUsage {
		c.used = bucketCapacity * 9 / 10
	}
	invalid, unavailable := f.InvalidToken, f.ShopUnavailable
	var rl *RateLimitFault
	serverStatus := 0
	switch {
	case invalid || unavailable != 0:
	case f.RateLimit != nil && f.RateLimit.Times > 0:
		cp := *f.RateLimit
		rl = &cp
		if f.RateLimit.Times--; f.RateLimit.Times == 0 {
			f.RateLimit = nil
		}
	case f.ServerErrors > 0:
		f.ServerErrors--
		serverStatus = f.ServerStatus
		if serverStatus == 0 {
			serverStatus = http.StatusInternalServerError
		}
	}
	s.mu.Unlock()
	switch {
	case invalid:
		c.fail(http.StatusUnauthorized, InvalidTokenMessage)
	case unavailable == http.StatusPaymentRequired:
		c.fail(http.StatusPaymentRequired, FrozenShopMessage)
	case unavailable == http.StatusLocked:
		c.fail(http.StatusLocked, LockedShopMessage)
	case rl != nil:
		c.used = bucketCapacity
		w.Header().Set("Retry-After", rl.RetryAfter)
		c.fail(http.StatusTooManyRequests, RateLimitMessage)
	case serverStatus != 0:
		c.fail(serverStatus, http.StatusText(serverStatus))
	default:
		return false
	}
	return true
}

func (c *call) json(status int, v any) {
	h := c.w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set(callLimitHeader, fmt.Sprintf("%d/%d", c.used, bucketCapacity))
	h.Set("X-Request-Id", fmt.Sprintf("sbx-%08d", c.seq))
	c.w.WriteHeader(status)
	enc := json.NewEncoder(c.w)
	enc.SetEscapeHTML(false) // Shopify writes landing_site's '&' as is
	_ = enc.Encode(v)
}

// fail writes {"errors": v}: a string, or a field map for validation errors.
func (c *call) fail(status int, v any) { c.json(status, map[string]any{"errors": v}) }

const callLimitHeader = "X-Shopify-Shop-Api-Call-Limit"

// shopCreatedAt is when the demo shop opened, before any history.
var shopCreatedAt = time.Date(2019, 6, 3, 14, 0, 0, 0, time.UTC)

func (c *call) shopInfo() {
	id, name, owner := int64(shopID), DemoShopName, "owner@demo-store.example.com"
	if c.shop == OtherShopDomain {
		id, name, owner = shopID+1, OtherShopName, "owner@other-store.example.com"
	}
	c.json(http.StatusOK, map[string]any{"shop": map[string]any{
		"id":                             id,
		"name":                           name,
		"email":                          owner,
		"domain":                         c.shop,
		"myshopify_domain":               c.shop,
		"country_code":                   "US",
		"currency":                       c.s.currency,
		"enabled_presentment_currencies": []string{c.s.currency},
		"iana_timezone":                  c.s.loc.String(),
		"timezone":                       fmt.Sprintf("(GMT%s) %s", c.s.now().In(c.s.loc).Format("-07:00"), c.s.loc.String()),
		"money_format":                   "${{amount}}",
		"plan_name":                      "basic",
		"plan_display_name":              "Basic",
		"primary_locale":                 "en",
		"taxes_included":                 false,
		"created_at":                     c.s.ts(shopCreatedAt),
	}})
}
