package connectorrun

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	ga4sb "github.com/omnitrackiq/omnitrackiq/internal/sandbox/ga4"
	gadssb "github.com/omnitrackiq/omnitrackiq/internal/sandbox/googleads"
	metasb "github.com/omnitrackiq/omnitrackiq/internal/sandbox/meta"
	shopsb "github.com/omnitrackiq/omnitrackiq/internal/sandbox/shopify"
	tiktoksb "github.com/omnitrackiq/omnitrackiq/internal/sandbox/tiktok"
)

// managedCustomerID is a Google Ads customer reachable only through managerID.
const (
	managedCustomerID = "2223334445"
	managerID         = "9998887776"
)

// fixture serves every sandbox under its usual prefix (/meta, /googleads, /tiktok, /shopify,
// /ga4) and runs the command with a fake environment and instant, recorded sleeps.
type fixture struct {
	meta    *metasb.Server
	gads    *gadssb.Server
	tiktok  *tiktoksb.Server
	shopify *shopsb.Server
	ga4     *ga4sb.Server
	url     string
	env     map[string]string

	mu    sync.Mutex
	slept []time.Duration
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	now := func() time.Time { return time.Date(2025, 3, 15, 12, 0, 0, 0, time.UTC) }
	managed := gadssb.DemoCustomer()
	managed.ID, managed.Name, managed.ManagerID = managedCustomerID, "Managed client (sandbox)", managerID
	f := &fixture{
		meta:    metasb.New(metasb.Config{Now: now}),
		gads:    gadssb.New(gadssb.Config{Now: now, PageSize: 7, Customers: []gadssb.Customer{gadssb.DemoCustomer(), managed}}),
		tiktok:  tiktoksb.New(tiktoksb.Config{Now: now}),
		shopify: shopsb.New(shopsb.Config{Now: now}),
		ga4:     ga4sb.New(ga4sb.Config{Now: now}),
		env:     map[string]string{},
	}
	mux := http.NewServeMux()
	for prefix, h := range map[string]http.Handler{"/meta": f.meta, "/googleads": f.gads, "/tiktok": f.tiktok,
		"/shopify": f.shopify, "/ga4": f.ga4} {
		mux.Handle(prefix+"/", http.StripPrefix(prefix, h))
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	f.url = srv.URL
	return f
}

func (f *fixture) sleeps() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.slept)
}

func (f *fixture) resetSleeps() {
	f.mu.Lock()
	f.slept = nil
	f.mu.Unlock()
}

func (f *fixture) runCtx(ctx context.Context, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(ctx, args, &out, &errb, env{
		getenv: func(k string) string { return f.env[k] },
		sleep: func(ctx context.Context, d time.Duration) error {
			f.mu.Lock()
			f.slept = append(f.slept, d)
			f.mu.Unlock()
			return ctx.Err()
		},
	})
	return code, out.String(), errb.String()
}

func (f *fixture) run(args ...string) (int, string, string) {
	return f.runCtx(context.Background(), args...)
}

// Arguments of a working read of each channel's demo account over 2025-03-01..03.
func (f *fixture) metaArgs() []string {
	return []string{"--channel", "meta", "--base-url", f.url + "/meta", "--account", "act_" + metasb.DemoAccountID,
		"--token", metasb.DefaultToken, "--from", "2025-03-01", "--to", "2025-03-03"}
}

func (f *fixture) googleAdsArgs() []string {
	return []string{"--channel", "google_ads", "--base-url", f.url + "/googleads", "--account", "123-456-7890",
		"--refresh-token", gadssb.DefaultRefreshToken, "--client-id", "cli-client", "--client-secret", "cli-secret",
		"--token-url", f.url + "/googleads/token", "--developer-token", gadssb.DefaultDeveloperToken,
		"--from", "2025-03-01", "--to", "2025-03-03"}
}

func (f *fixture) tiktokArgs() []string {
	return []string{"--channel", "tiktok", "--base-url", f.url + "/tiktok", "--account", tiktoksb.DemoAdvertiserID,
		"--token", tiktoksb.DefaultToken, "--from", "2025-03-01", "--to", "2025-03-03"}
}

func (f *fixture) shopifyArgs() []string {
	return []string{"--channel", "shopify", "--base-url", f.url + "/shopify", "--account", "demo-store",
		"--token", shopsb.DefaultToken, "--from", "2025-03-01", "--to", "2025-03-03"}
}

func (f *fixture) ga4Args() []string {
	return []string{"--channel", "ga4", "--base-url", f.url + "/ga4", "--account", "properties/" + ga4sb.DemoPropertyID,
		"--refresh-token", ga4sb.DefaultRefreshToken, "--client-id", ga4sb.DefaultClientID,
		"--client-secret", ga4sb.DefaultClientSecret, "--token-url", f.url + "/ga4/token",
		"--from", "2025-03-01", "--to", "2025-03-03"}
}

// with returns args with flag k set to v (replaced, or appended).
func with(args []string, k, v string) []string {
	out := slices.Clone(args)
	for i := 0; i+1 < len(out); i += 2 {
		if out[i] == k {
			out[i+1] = v
			return out
		}
	}
	return append(out, k, v)
}

// without returns args without flag k.
func without(args []string, k string) []string {
	var out []string
	for i := 0; i+1 < len(args); i += 2 {
		if args[i] != k {
			out = append(out, args[i], args[i+1])
		}
	}
	return out
}

func lines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var res []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		dec := json.NewDecoder(strings.NewReader(sc.Text()))
		dec.UseNumber()
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("not JSON: %q", sc.Text())
		}
		res = append(res, m)
	}
	return res
}

func keys(m map[string]any) string { return strings.Join(slices.Sorted(maps.Keys(m)), ",") }

func num(t *testing.T, v any) int64 {
	t.Helper()
	n, ok := v.(json.Number)
	if !ok {
		t.Fatalf("%v (%T) is not a JSON number", v, v)
	}
	i, err := n.Int64()
	if err != nil {
		t.Fatalf("%v is not an integer", v)
	}
	return i
}

// micros parses a decimal JSON number (conversions) into micros.
func micros(t *testing.T, v any) int64 {
	t.Helper()
	s := v.(json.Number).String()
	whole, frac, _ := strings.Cut(s, ".")
	if len(frac) > 6 || strings.HasSuffix(frac, "0") {
		t.Fatalf("conversions %q: not a trimmed decimal of micros", s)
	}
	n, err := json.Number(whole + (frac + "000000")[:6]).Int64()
	if err != nil {
		t.Fatalf("conversions %q: %v", s, err)
	}
	return n
}

// Every record names its channel and its account (account_id, shop_domain or
// property_id), and has the same keys whatever the level: an absent id is null.
const (
	adKeys      = "account_id,ad_id,adset_id,campaign_id,campaign_name,channel,clicks,conversion_value_micros,conversions,currency,date,impressions,spend_micros"
	orderKeys   = "cancelled,channel,created_at,currency,customer_id,financial_status,order_id,shop_domain,test,total_micros,updated_at,utm_campaign,utm_medium,utm_source"
	sessionKeys = "campaign,channel,conversions,date,medium,property_id,revenue_micros,sessions,source"
)

// adTotals is what the ad sandboxes report for a window and level.
type adTotals struct {
	rows                             int
	spend, impr, clicks, conv, value int64
}

// checkAdRows checks the keys, channel, account and totals of ad rows.
func checkAdRows(t *testing.T, rows []map[string]any, channel, account, level string, want adTotals) {
	t.Helper()
	var got adTotals
	for _, r := range rows {
		if keys(r) != adKeys {
			t.Fatalf("%s %s keys = %s", channel, level, keys(r))
		}
		if r["channel"] != channel || r["account_id"] != account || r["currency"] != "USD" || r["campaign_id"] == "" {
			t.Fatalf("%s row = %v", channel, r)
		}
		// An id the level does not have is null; one it has is a non-empty string.
		for key, present := range map[string]bool{"adset_id": level != "campaign", "ad_id": level == "ad"} {
			if id, ok := r[key].(string); present != ok || ok && id == "" || !ok && r[key] != nil {
				t.Fatalf("%s %s row %s = %#v: %v", channel, level, key, r[key], r)
			}
		}
		got.rows++
		got.spend += num(t, r["spend_micros"])
		got.impr += num(t, r["impressions"])
		got.clicks += num(t, r["clicks"])
		got.conv += micros(t, r["conversions"])
		got.value += num(t, r["conversion_value_micros"])
	}
	if got != want || got.rows == 0 || got.spend == 0 {
		t.Errorf("%s %s totals %+v; want %+v", channel, level, got, want)
	}
}

func TestMetaCampaignRows(t *testing.T) {
	f := newFixture(t)
	code, out, errOut := f.run(with(with(f.metaArgs(), "--to", "2025-03-07"), "--page-size", "5")...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	want, _ := f.meta.Totals(metasb.DemoAccountID, "2025-03-01", "2025-03-07", "campaign")
	checkAdRows(t, lines(t, out), "meta", metasb.DemoAccountID, "campaign", adTotals{want.Rows, want.SpendMicros,
		want.Impressions, want.Clicks, want.ConversionsMicros, want.ConversionValueMicros})
	if want.Rows != 21 {
		t.Errorf("sandbox totals %d rows; want 7 days x 3 campaigns", want.Rows)
	}
	// The first status poll answers "Job Running": the command waits the poll interval.
	if s := f.sleeps(); len(s) != 1 || s[0] != 5*time.Second {
		t.Errorf("slept %v; want one 5s poll wait", s)
	}
	if strings.Contains(out+errOut, metasb.DefaultToken) {
		t.Error("output shows the token")
	}
	if !strings.Contains(errOut, "level=INFO") || !strings.Contains(errOut, "rows=21") {
		t.Errorf("stderr lacks the slog summary: %s", errOut)
	}
}

func TestMetaFinerLevelsAndFractionalConversions(t *testing.T) {
	f := newFixture(t)
	// 150% of whole purchases makes halves.
	if err := f.meta.Restate(metasb.DemoAccountID, "2025-03-10", 150); err != nil {
		t.Fatal(err)
	}
	f.env[envMetaToken] = metasb.DefaultToken
	args := with(with(without(f.metaArgs(), "--token"), "--from", "2025-03-10"), "--to", "2025-03-10")
	code, out, errOut := f.run(with(args, "--level", "ad")...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	rows := lines(t, out)
	want, _ := f.meta.Totals(metasb.DemoAccountID, "2025-03-10", "2025-03-10", "ad")
	checkAdRows(t, rows, "meta", metasb.DemoAccountID, "ad", adTotals{want.Rows, want.SpendMicros,
		want.Impressions, want.Clicks, want.ConversionsMicros, want.ConversionValueMicros})
	half := false
	for _, r := range rows {
		half = half || strings.HasSuffix(r["conversions"].(json.Number).String(), ".5")
	}
	if len(rows) != 12 || !half {
		t.Errorf("%d ad rows, fractional conversions %v; want 12 and some halves", len(rows), half)
	}
	// The raw line uses a JSON number for conversions, not a string.
	if !strings.Contains(out, `"conversions":`) || strings.Contains(out, `"conversions":"`) {
		t.Errorf("conversions not a JSON number: %s", strings.SplitN(out, "\n", 2)[0])
	}
	code, out, errOut = f.run(with(args, "--level", "adset")...)
	if rows := lines(t, out); code != 0 || len(rows) != 6 || keys(rows[0]) != adKeys {
		t.Fatalf("adset: exit %d, %d rows: %s", code, len(rows), errOut)
	}
}

func TestGoogleAdsAndTikTokLevels(t *testing.T) {
	f := newFixture(t)
	for _, level := range []string{"", "campaign", "adset", "ad"} {
		wantLevel := level
		if level == "" {
			wantLevel = "campaign" // the default
		}
		t.Run("google_ads/"+wantLevel+map[bool]string{true: "-default"}[level == ""], func(t *testing.T) {
			args := f.googleAdsArgs()
			if level != "" {
				args = with(args, "--level", level)
			}
			f.gads.ResetRequests()
			code, out, errOut := f.run(args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			// Below the campaign level, Performance Max (no ad groups) comes as campaign rows.
			var pmax string
			for _, c := range f.gads.Customers()[0].Campaigns {
				if c.ChannelType == gadssb.ChannelPerformanceMax {
					pmax = c.ID
				}
			}
			var detail, pmaxRows []map[string]any
			for _, r := range lines(t, out) {
				if wantLevel != "campaign" && r["campaign_id"] == pmax {
					pmaxRows = append(pmaxRows, r)
					continue
				}
				detail = append(detail, r)
			}
			w, _ := f.gads.Totals(gadssb.DemoCustomerID, "2025-03-01", "2025-03-03", wantLevel)
			checkAdRows(t, detail, "google_ads", gadssb.DemoCustomerID, wantLevel,
				adTotals{w.Rows, w.CostMicros, w.Impressions, w.Clicks, w.ConversionsMicros, w.ConversionsValueMicros})
			if wantLevel != "campaign" {
				p, _ := f.gads.CampaignTotals(gadssb.DemoCustomerID, pmax, "2025-03-01", "2025-03-03")
				for _, r := range pmaxRows {
					// Campaign-level rows have no ad set or ad: JSON null, never "".
					if r["adset_id"] != nil || r["ad_id"] != nil {
						t.Fatalf("Performance Max row with ids: %v", r)
					}
				}
				checkAdRows(t, pmaxRows, "google_ads", gadssb.DemoCustomerID, "campaign",
					adTotals{p.Rows, p.CostMicros, p.Impressions, p.Clicks, p.ConversionsMicros, p.ConversionsValueMicros})
			}
			from := map[string]string{"campaign": "FROM campaign", "adset": "FROM ad_group ", "ad": "FROM ad_group_ad"}[wantLevel]
			searches, grants := 0, 0
			for _, r := range f.gads.Requests() {
				if r.GrantType == "refresh_token" {
					grants++
				}
				if r.Query != "" && strings.Contains(r.Query, "segments.date") {
					searches++
					if !strings.Contains(r.Query, from) && !strings.Contains(r.Query, "FROM campaign WHERE") || !r.DeveloperToken {
						t.Errorf("query %q (developer token %v); want %q", r.Query, r.DeveloperToken, from)
					}
				}
			}
			if grants != 1 || searches < 2 {
				t.Errorf("%d token grants, %d paged searches; want 1 and several pages", grants, searches)
			}
			if strings.Contains(out+errOut, gadssb.DefaultRefreshToken) || strings.Contains(errOut, "cli-secret") {
				t.Error("output shows a credential")
			}
		})
		t.Run("tiktok/"+wantLevel, func(t *testing.T) {
			args := with(f.tiktokArgs(), "--page-size", "4")
			if level != "" {
				args = with(args, "--level", level)
			}
			f.tiktok.ResetRequests()
			code, out, errOut := f.run(args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			w, _ := f.tiktok.Totals(tiktoksb.DemoAdvertiserID, "2025-03-01", "2025-03-03", wantLevel)
			checkAdRows(t, lines(t, out), "tiktok", tiktoksb.DemoAdvertiserID, wantLevel,
				adTotals{w.Rows, w.SpendMicros, w.Impressions, w.Clicks, w.ConversionsMicros, w.ConversionValueMicros})
			dataLevel := map[string]string{"campaign": "AUCTION_CAMPAIGN", "adset": "AUCTION_ADGROUP", "ad": "AUCTION_AD"}[wantLevel]
			for _, r := range f.tiktok.Requests() {
				if r.DataLevel != "" && r.DataLevel != dataLevel {
					t.Errorf("data_level %s; want %s", r.DataLevel, dataLevel)
				}
			}
		})
	}
}

func TestGoogleAdsCredentials(t *testing.T) {
	f := newFixture(t)
	// A long-lived access token and the developer token from the environment.
	f.env[envGoogleAdsToken] = gadssb.DefaultToken
	f.env[envGoogleAdsDevToken] = gadssb.DefaultDeveloperToken
	args := []string{"--channel", "google_ads", "--base-url", f.url + "/googleads", "--account", gadssb.DemoCustomerID,
		"--from", "2025-03-02", "--to", "2025-03-02"}
	code, out, errOut := f.run(args...)
	w, _ := f.gads.Totals(gadssb.DemoCustomerID, "2025-03-02", "2025-03-02", "campaign")
	if code != 0 || len(lines(t, out)) != w.Rows {
		t.Fatalf("env token: exit %d, %d rows, want %d: %s", code, len(lines(t, out)), w.Rows, errOut)
	}

	// A refresh token from the environment with the OAuth client from the environment.
	f.env = map[string]string{envGoogleAdsRefresh: gadssb.DefaultRefreshToken, envGoogleClientID: "c",
		envGoogleTokenURL: f.url + "/googleads/token", envGoogleAdsDevToken: "d"}
	if code, out, errOut := f.run(args...); code != 0 || len(lines(t, out)) != w.Rows {
		t.Fatalf("env refresh token: exit %d: %s", code, errOut)
	}

	// A client account reached through its manager needs --login-customer-id.
	managed := with(args, "--account", managedCustomerID)
	code, out, errOut = f.run(managed...)
	if code != 1 || out != "" || !strings.Contains(errOut, "google_ads auth error (HTTP 403") {
		t.Errorf("without login customer: exit %d, %q", code, errOut)
	}
	f.gads.ResetRequests()
	code, out, errOut = f.run(with(managed, "--login-customer-id", "999-888-7776")...)
	if code != 0 || len(lines(t, out)) != w.Rows || !strings.Contains(out, `"account_id":"`+managedCustomerID+`"`) {
		t.Fatalf("with login customer: exit %d: %s", code, errOut)
	}
	for _, r := range f.gads.Requests() {
		if r.GrantType == "" && r.LoginCustomerID != managerID {
			t.Errorf("call %s without login-customer-id %s: %+v", r.Path, managerID, r)
		}
	}
}

func TestShopifyOrders(t *testing.T) {
	f := newFixture(t)
	// An order from before the window, edited now: Shopify returns it (updated since
	// --from), the command skips it (created before --from).
	old, err := f.shopify.Orders("2025-02-20")
	if err != nil || len(old) == 0 {
		t.Fatalf("orders of 2025-02-20: %v, %v", old, err)
	}
	if err := f.shopify.EditOrder(old[0].ID, "10.00"); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := f.run(with(f.shopifyArgs(), "--page-size", "10")...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	want, err := f.shopify.Totals("2025-03-01", "2025-03-03")
	if err != nil {
		t.Fatal(err)
	}
	ny, _ := time.LoadLocation("America/New_York")
	from, end := time.Date(2025, 3, 1, 0, 0, 0, 0, ny), time.Date(2025, 3, 4, 0, 0, 0, 0, ny)
	rows := lines(t, out)
	var revenue int64
	tests, cancelled, guests := 0, 0, 0
	ids := map[any]bool{}
	for _, r := range rows {
		if keys(r) != orderKeys {
			t.Fatalf("order keys = %s", keys(r))
		}
		created, err := time.Parse(time.RFC3339, r["created_at"].(string))
		if err != nil || created.Before(from) || !created.Before(end) {
			t.Errorf("order %v created %v: outside the window (%v)", r["order_id"], r["created_at"], err)
		}
		if _, err := time.Parse(time.RFC3339, r["updated_at"].(string)); err != nil || r["currency"] != "USD" || r["order_id"] == "" {
			t.Errorf("order = %v", r)
		}
		ids[r["order_id"]] = true
		switch {
		case r["test"] == true:
			tests++
		case r["cancelled"] == true:
			cancelled++
		default:
			revenue += num(t, r["total_micros"])
		}
		if r["channel"] != "shopify" || r["shop_domain"] != "demo-store.myshopify.com" {
			t.Errorf("order without its channel and shop: %v", r)
		}
		// A guest's customer is null, never "".
		switch id := r["customer_id"].(type) {
		case nil:
			guests++
		case string:
			if id == "" {
				t.Errorf("customer_id \"\" in %v", r)
			}
		default:
			t.Errorf("customer_id %#v", id)
		}
	}
	if len(rows) != want.Orders || len(ids) != want.Orders || revenue != want.RevenueMicros || tests != want.TestOrders ||
		guests != want.GuestOrders {
		t.Errorf("%d orders (%d ids), revenue %d, %d test, %d guests; want %+v", len(rows), len(ids), revenue, tests, guests, want)
	}
	// Orders created before --from but updated since (the edit, fulfilments, refunds) and
	// orders created after --to are read and skipped.
	if ids[old[0].ID] || !strings.Contains(errOut, "skipped=") {
		t.Errorf("the edited older order is not skipped: %s", errOut)
	}
	if !strings.Contains(out, `"utm_source":"`) || strings.Contains(out+errOut, shopsb.DefaultToken) {
		t.Errorf("utm fields missing or token shown")
	}

	// A full bucket asks the command to slow down between pages.
	f.resetSleeps()
	if err := f.shopify.SetFaults(shopsb.Faults{HighUsage: true}); err != nil {
		t.Fatal(err)
	}
	f.env[envShopifyToken] = shopsb.DefaultToken
	code, out, errOut = f.run(with(without(f.shopifyArgs(), "--token"), "--page-size", "10")...)
	if code != 0 || len(lines(t, out)) != want.Orders || len(f.sleeps()) == 0 {
		t.Errorf("high usage: exit %d, %d orders, slept %v: %s", code, len(lines(t, out)), f.sleeps(), errOut)
	}
}

func TestGA4Sessions(t *testing.T) {
	f := newFixture(t)
	want, err := f.ga4.Totals(ga4sb.DemoPropertyID, "2025-03-01", "2025-03-03")
	if err != nil {
		t.Fatal(err)
	}
	check := func(name, out string) {
		t.Helper()
		rows := lines(t, out)
		var sessions, conv, revenue int64
		for _, r := range rows {
			if keys(r) != sessionKeys || r["property_id"] != ga4sb.DemoPropertyID || r["channel"] != "ga4" {
				t.Fatalf("%s: row = %v", name, r)
			}
			if d := r["date"].(string); d < "2025-03-01" || d > "2025-03-03" {
				t.Errorf("%s: date %s outside the window", name, d)
			}
			sessions += num(t, r["sessions"])
			conv += micros(t, r["conversions"])
			revenue += num(t, r["revenue_micros"])
		}
		if len(rows) != want.Rows || sessions != want.Sessions || conv != want.ConversionsMicros || revenue != want.RevenueMicros {
			t.Errorf("%s: %d rows, %d sessions, %d conv, %d revenue; want %+v", name, len(rows), sessions, conv, revenue, want)
		}
	}
	code, out, errOut := f.run(with(f.ga4Args(), "--page-size", "25")...)
	if code != 0 {
		t.Fatalf("refresh token: exit %d: %s", code, errOut)
	}
	check("refresh token", out)
	if strings.Contains(out+errOut, ga4sb.DefaultRefreshToken) || strings.Contains(errOut, ga4sb.DefaultClientSecret) {
		t.Error("output shows a credential")
	}

	f.env[envGA4Token] = ga4sb.DefaultToken
	code, out, errOut = f.run("--channel", "ga4", "--base-url", f.url+"/ga4", "--account", ga4sb.DemoPropertyID,
		"--from", "2025-03-01", "--to", "2025-03-03")
	if code != 0 {
		t.Fatalf("env access token: exit %d: %s", code, errOut)
	}
	check("env access token", out)
}

func TestUsageErrors(t *testing.T) {
	f := newFixture(t)
	m, g, tt, s, a := f.metaArgs(), f.googleAdsArgs(), f.tiktokArgs(), f.shopifyArgs(), f.ga4Args()
	for _, tc := range []struct {
		name string
		args []string
		msg  string
	}{
		{"bad from", with(m, "--from", "2025-3-1"), `from "2025-3-1" is not a YYYY-MM-DD date`},
		{"bad to", with(g, "--to", "tomorrow"), `to "tomorrow" is not a YYYY-MM-DD date`},
		{"from after to", with(s, "--from", "2025-03-05"), "from 2025-03-05 is after to 2025-03-03"},
		{"missing from", without(a, "--from"), "--from and --to are required"},
		{"unknown channel", with(m, "--channel", "snapchat"), "want one of meta, google_ads, tiktok, shopify, ga4"},
		{"no channel", without(m, "--channel"), "--channel is required"},
		{"bad meta account", with(m, "--account", "act_12x"), "--account"},
		{"bad customer id", with(g, "--account", "123"), "--account: google ads customer id"},
		{"bad shop", with(s, "--account", "shop.example.com"), "--account: shopify shop"},
		{"bad property", with(a, "--account", "abc"), "--account"},
		{"no account", without(tt, "--account"), "--account is required"},
		{"no meta token", without(m, "--token"), "no access token: pass --token or set META_ACCESS_TOKEN"},
		{"no tiktok token", without(tt, "--token"), "no access token: pass --token or set TIKTOK_ACCESS_TOKEN"},
		{"no shopify token", without(s, "--token"), "no access token: pass --token or set SHOPIFY_ACCESS_TOKEN"},
		{"no google ads token", without(g, "--refresh-token"), "set GOOGLE_ADS_ACCESS_TOKEN or GOOGLE_ADS_REFRESH_TOKEN"},
		{"no ga4 token", without(a, "--refresh-token"), "set GA4_ACCESS_TOKEN or GA4_REFRESH_TOKEN"},
		{"refresh without client", without(a, "--client-id"), "pass --client-id or set GOOGLE_OAUTH_CLIENT_ID"},
		{"no developer token", without(g, "--developer-token"), "pass --developer-token or set GOOGLE_ADS_DEVELOPER_TOKEN"},
		{"bad login customer", with(g, "--login-customer-id", "12"), "--login-customer-id"},
		{"flag of another channel", with(m, "--developer-token", "x"), "--developer-token: not a flag of channel meta"},
		{"level on shopify", with(s, "--level", "ad"), "--level: not a flag of channel shopify"},
		{"page size on google ads", with(g, "--page-size", "5"), "--page-size: not a flag of channel google_ads"},
		{"refresh token on tiktok", with(tt, "--refresh-token", "x"), "--refresh-token: not a flag of channel tiktok"},
		{"bad level", with(tt, "--level", "creative"), `--level "creative"`},
		{"bad page size", with(m, "--page-size", "0"), "--page-size must be positive"},
		{"page size above max", with(s, "--page-size", "251"), "--page-size 251 is above the shopify maximum 250"},
		{"bad base url", with(tt, "--base-url", "127.0.0.1:8090/tiktok"), `--base-url "127.0.0.1:8090/tiktok" is not an http or https URL`},
		{"bad token url", with(a, "--token-url", "ftp://x/token"), "--token-url"},
		{"unknown flag", with(m, "--nope", "1"), "flag provided but not defined"},
		{"extra args", append(slices.Clone(m), "extra"), "unexpected arguments: extra"},
	} {
		code, out, errOut := f.run(tc.args...)
		if code != 2 || out != "" || !strings.Contains(errOut, tc.msg) {
			t.Errorf("%s: exit %d, stderr %q; want 2 and %q", tc.name, code, errOut, tc.msg)
		}
		if strings.Contains(errOut, "level=") {
			t.Errorf("%s: a usage error reached a provider: %s", tc.name, errOut)
		}
	}
	if code, _, errOut := f.run("-h"); code != 0 || !strings.Contains(errOut, "GOOGLE_ADS_DEVELOPER_TOKEN") {
		t.Errorf("-h exit %d: %s", code, errOut)
	}
}

// lastLine is the last line of stderr: the command's one-line error.
func lastLine(s string) string {
	ls := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return ls[len(ls)-1]
}

func TestExpiredTokens(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		name   string
		args   []string
		secret string
		fault  func() error
		msg    string
	}{
		{"meta", f.metaArgs(), metasb.DefaultToken, func() error { return f.meta.SetFaults(metasb.Faults{ExpiredToken: true}) },
			"meta auth error (HTTP 400, code 190): Error validating access token: Session has expired"},
		{"google_ads refresh token", f.googleAdsArgs(), gadssb.DefaultRefreshToken,
			func() error { return f.gads.SetFaults(gadssb.Faults{ExpiredToken: true}) }, "google_ads auth error"},
		{"google_ads access token", with(without(f.googleAdsArgs(), "--refresh-token"), "--token", gadssb.DefaultToken),
			gadssb.DefaultToken, func() error { return f.gads.SetFaults(gadssb.Faults{ExpiredToken: true}) }, "google_ads auth error (HTTP 401"},
		{"tiktok", f.tiktokArgs(), tiktoksb.DefaultToken,
			func() error { return f.tiktok.SetFaults(tiktoksb.Faults{ExpiredToken: true}) }, "tiktok auth error"},
		{"shopify", f.shopifyArgs(), shopsb.DefaultToken,
			func() error { return f.shopify.SetFaults(shopsb.Faults{InvalidToken: true}) }, "shopify auth error (HTTP 401)"},
		{"ga4 access token", with(without(f.ga4Args(), "--refresh-token"), "--token", ga4sb.DefaultToken), ga4sb.DefaultToken,
			func() error { return f.ga4.SetFaults(ga4sb.Faults{ExpiredToken: true}) }, "ga4 auth error (HTTP 401"},
		{"ga4 revoked refresh token", f.ga4Args(), ga4sb.DefaultRefreshToken,
			func() error { return f.ga4.SetFaults(ga4sb.Faults{RevokeRefreshToken: true}) }, "ga4 auth error"},
	} {
		if err := tc.fault(); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		f.resetSleeps()
		code, out, errOut := f.run(tc.args...)
		if code != 1 || out != "" || len(f.sleeps()) != 0 {
			t.Errorf("%s: exit %d, out %q, slept %v; want 1, nothing, no retries", tc.name, code, out, f.sleeps())
		}
		if l := lastLine(errOut); !strings.HasPrefix(l, tc.msg) {
			t.Errorf("%s: last stderr line %q; want %q", tc.name, l, tc.msg)
		}
		if strings.Contains(errOut, tc.secret) {
			t.Errorf("%s: stderr shows the token", tc.name)
		}
	}

	// A wrong token.
	f.meta.ClearFaults()
	code, _, errOut := f.run(with(f.metaArgs(), "--token", "wrong-secret-token")...)
	if code != 1 || !strings.Contains(errOut, "meta auth error (HTTP 400, code 190)") || strings.Contains(errOut, "wrong-secret-token") {
		t.Errorf("wrong token: exit %d, %q", code, errOut)
	}
}

// TestRetries: every channel retries rate limits after their delay and server errors with
// backoff through the one retry loop, and the rows still arrive.
func TestRetries(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		name  string
		args  []string
		fault func() error
		waits []time.Duration // the first waits
	}{
		{"meta rate limit", f.metaArgs(), func() error {
			return f.meta.SetFaults(metasb.Faults{RateLimit: &metasb.RateLimitFault{Code: 80004, Times: 2, RegainMinutes: 3}})
		}, []time.Duration{3 * time.Minute, 3 * time.Minute}},
		{"meta server errors", f.metaArgs(), func() error { return f.meta.SetFaults(metasb.Faults{ServerErrors: 3}) },
			[]time.Duration{time.Second, 2 * time.Second, 4 * time.Second}},
		{"google_ads quota", f.googleAdsArgs(), func() error {
			return f.gads.SetFaults(gadssb.Faults{RateLimit: &gadssb.RateLimitFault{Times: 1, RetryDelay: "7s"}, Unavailable: 1})
		}, []time.Duration{7 * time.Second, time.Second}},
		{"tiktok rate limit", f.tiktokArgs(), func() error {
			return f.tiktok.SetFaults(tiktoksb.Faults{RateLimit: &tiktoksb.CodeFault{Times: 1}, GatewayErrors: 1})
		}, []time.Duration{5 * time.Second, time.Second}},
		{"shopify 429", f.shopifyArgs(), func() error {
			return f.shopify.SetFaults(shopsb.Faults{RateLimit: &shopsb.RateLimitFault{Times: 2, RetryAfter: "2.0"}})
		}, []time.Duration{2 * time.Second, 2 * time.Second}},
		{"ga4 quota", f.ga4Args(), func() error {
			return f.ga4.SetFaults(ga4sb.Faults{RateLimit: &ga4sb.RateLimitFault{Times: 1}, ServerErrors: 2})
		}, []time.Duration{30 * time.Second, time.Second}},
	} {
		code, clean, errOut := f.run(tc.args...)
		if code != 0 {
			t.Fatalf("%s: clean run: exit %d: %s", tc.name, code, errOut)
		}
		if err := tc.fault(); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		f.resetSleeps()
		code, out, errOut := f.run(tc.args...)
		if code != 0 || out != clean {
			t.Errorf("%s: exit %d, output differs from a clean run: %s", tc.name, code, errOut)
		}
		if s := f.sleeps(); len(s) < len(tc.waits) || !slices.Equal(s[:len(tc.waits)], tc.waits) {
			t.Errorf("%s: slept %v; want %v first", tc.name, s, tc.waits)
		}
		if !strings.Contains(errOut, "level=WARN msg=retrying") {
			t.Errorf("%s: retries not logged: %s", tc.name, errOut)
		}
	}

	// Too many server errors: give up with exit 1.
	if err := f.meta.SetFaults(metasb.Faults{ServerErrors: 100}); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := f.run(f.metaArgs()...)
	if code != 1 || !strings.HasPrefix(lastLine(errOut), "meta transient error (HTTP 500, code 1): An unknown error occurred") {
		t.Errorf("persistent server errors: exit %d, %q", code, errOut)
	}
	f.meta.ClearFaults()

	// An unreachable base URL: a transient error without the token or a query string.
	code, _, errOut = f.run(with(with(f.metaArgs(), "--base-url", "http://127.0.0.1:1/meta"), "--token", "secret-xyz")...)
	if code != 1 || strings.Contains(errOut, "secret-xyz") || strings.Contains(errOut, "access_token") {
		t.Errorf("unreachable: exit %d, %q", code, errOut)
	}
}

func TestMetaHighUsageWaits(t *testing.T) {
	f := newFixture(t)
	if err := f.meta.SetFaults(metasb.Faults{HighUsage: true}); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := f.run(with(f.metaArgs(), "--to", "2025-03-01")...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	s := f.sleeps()
	if len(s) == 0 {
		t.Fatal("no waits")
	}
	for _, d := range s {
		if d < time.Minute {
			t.Errorf("wait %v under high usage; want >= 1m", d)
		}
	}
}

func TestCancelled(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, args := range [][]string{f.metaArgs(), f.googleAdsArgs(), f.tiktokArgs(), f.shopifyArgs(), f.ga4Args()} {
		code, out, errOut := f.runCtx(ctx, args...)
		if code != 1 || out != "" || !strings.Contains(lastLine(errOut), "context canceled") {
			t.Errorf("%s cancelled: exit %d, %q", args[1], code, errOut)
		}
	}
}
