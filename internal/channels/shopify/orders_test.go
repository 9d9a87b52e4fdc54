package shopify

import (
	"strings"
	"testing"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	"github.com/omnitrackiq/omnitrackiq/internal/channels/jsonx"
)

// referenceOrder is Shopify's documented order, with a customer email in mixed case, a note
// attribute completing the UTMs, and refunds with a failed and a successful transaction.
const referenceOrder = `{"id":450789469,"admin_graphql_api_id":"gid://shopify/Order/450789469","name":"#1001","order_number":1001,
  "email":"  Bob@Example.com ","created_at":"2024-01-10T11:00:00-05:00","updated_at":"2024-01-10T11:05:00-05:00",
  "processed_at":"2024-01-10T11:00:00-05:00","cancelled_at":null,"test":false,
  "currency":"USD","presentment_currency":"USD","total_price":"598.94","subtotal_price":"597.00",
  "total_tax":"11.94","total_discounts":"10.00","financial_status":"partially_refunded","fulfillment_status":null,
  "source_name":"web","landing_site":"/?utm_source=facebook&utm_medium=cpc&fbclid=abc","landing_site_ref":null,
  "referring_site":"https://www.google.com/search?q=secret+stuff&utm_source=google","tags":"",
  "note_attributes":[{"name":"utm_source","value":"instagram"},{"name":"UTM Campaign","value":"spring_sale"},{"name":"gclid","value":"x"}],
  "customer":{"id":207119551,"email":"bob@example.com","created_at":"2023-12-01T10:00:00-05:00"},
  "line_items":[{"id":466157049,"product_id":632910392,"variant_id":39072856,"quantity":1,"price":"199.00","sku":"IPOD2008GREEN","title":"IPod Nano - 8gb"},
                {"id":518995019,"product_id":null,"variant_id":null,"quantity":3,"price":"132.666667","sku":null,"title":"Custom"}],
  "refunds":[
    {"id":509562969,"order_id":450789469,"created_at":"2024-01-12T09:00:00-05:00",
     "transactions":[{"id":1,"kind":"refund","status":"failure","amount":"41.94"},
                     {"id":2,"kind":"refund","status":"success","amount":"41.94"},
                     {"id":3,"kind":"sale","status":"success","amount":"598.94"}],
     "refund_line_items":[{"subtotal":195.66}]},
    {"id":509562970,"order_id":450789469,"created_at":"2024-01-13T09:00:00-05:00",
     "refund_line_items":[{"subtotal":10.5},{"subtotal":"0.25"}]},
    {"id":509562971,"order_id":450789469,"created_at":"2024-01-14T09:00:00-05:00","transactions":[],
     "refund_line_items":[{"subtotal":99}]}]}`

func TestParseReferenceOrder(t *testing.T) {
	o, err := parseOrder([]byte(referenceOrder), "shop.myshopify.com")
	if err != nil {
		t.Fatal(err)
	}
	ny := time.FixedZone("", -5*3600)
	checks := []struct {
		name      string
		got, want any
	}{
		{"shop", o.ShopDomain, "shop.myshopify.com"},
		{"id", o.OrderID, "450789469"},
		{"name", o.Name, "#1001"},
		{"created", o.CreatedAt.Equal(time.Date(2024, 1, 10, 11, 0, 0, 0, ny)), true},
		{"updated", o.UpdatedAt.Equal(time.Date(2024, 1, 10, 11, 5, 0, 0, ny)), true},
		{"processed", o.ProcessedAt.Equal(o.CreatedAt), true},
		{"cancelled", o.CancelledAt == nil, true},
		{"currency", o.Currency, "USD"},
		{"total", o.TotalMicros, int64(598_940_000)},
		{"subtotal", o.SubtotalMicros, int64(597_000_000)},
		{"tax", o.TaxMicros, int64(11_940_000)},
		{"discounts", o.DiscountsMicros, int64(10_000_000)},
		{"financial", o.FinancialStatus, "partially_refunded"},
		{"customer", o.CustomerID, "207119551"},
		// sha256("bob@example.com")
		{"email", o.EmailSHA256, "5ff860bf1190596c7188ab851db691f0f3169c453936e9e1eba2f9a47f7a0018"},
		{"utm_source", o.UTMSource, "facebook"},        // landing_site wins
		{"utm_medium", o.UTMMedium, "cpc"},             // landing_site
		{"utm_campaign", o.UTMCampaign, "spring_sale"}, // note attribute "UTM Campaign"
		{"landing", o.LandingSite, "/?utm_source=facebook&utm_medium=cpc"},
		{"referring", o.ReferringSite, "https://www.google.com/search?utm_source=google"},
		{"lines", len(o.LineItems), 2},
		{"refunds", len(o.Refunds), 3},
		// 41.94 (successful refund transaction only) + 10.75 (no transactions key: line
		// subtotals) + 0 (empty transactions: nothing paid back)
		{"refunded", o.RefundedMicros, int64(41_940_000 + 10_750_000)},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v; want %v", c.name, c.got, c.want)
		}
	}
	if strings.Contains(strings.ToLower(o.LandingSite+o.ReferringSite), "clid") || strings.Contains(o.ReferringSite, "secret") {
		t.Errorf("click ids or search terms kept: %q %q", o.LandingSite, o.ReferringSite)
	}
	want := []channels.LineItem{
		{LineItemID: "466157049", ProductID: "632910392", VariantID: "39072856", SKU: "IPOD2008GREEN", Title: "IPod Nano - 8gb", Quantity: 1, PriceMicros: 199_000_000},
		{LineItemID: "518995019", Title: "Custom", Quantity: 3, PriceMicros: 132_666_667},
	}
	for i := range want {
		if o.LineItems[i] != want[i] {
			t.Errorf("line %d = %+v; want %+v", i, o.LineItems[i], want[i])
		}
	}
	r := o.Refunds[0]
	if r.RefundID != "509562969" || r.AmountMicros != 41_940_000 || !r.CreatedAt.Equal(time.Date(2024, 1, 12, 9, 0, 0, 0, ny)) {
		t.Errorf("refund 0 = %+v", r)
	}
}

func TestParseOrderEdgeCases(t *testing.T) {
	base := func(extra string) string {
		return `{"id":820982911946154508,"created_at":"2024-01-10T11:00:00Z","updated_at":"2024-01-10T11:00:00Z"` + extra + `}`
	}
	t.Run("big id, guest, email from customer, cancelled, test", func(t *testing.T) {
		o, err := parseOrder([]byte(base(`,"email":null,"customer":{"id":null,"email":"A@B.C"},"test":true,"cancelled_at":"2024-01-11T00:00:00+00:00","total_price":"10.00"`)), "s.myshopify.com")
		if err != nil {
			t.Fatal(err)
		}
		if o.OrderID != "820982911946154508" || o.CustomerID != "" || o.EmailSHA256 != HashEmail("a@b.c") || !o.Test ||
			o.CancelledAt == nil || o.TotalMicros != 10_000_000 || o.ProcessedAt != (time.Time{}) {
			t.Errorf("order = %+v", o)
		}
	})
	t.Run("null customer and no email", func(t *testing.T) {
		o, err := parseOrder([]byte(base(`,"customer":null,"email":""`)), "s.myshopify.com")
		if err != nil || o.CustomerID != "" || o.EmailSHA256 != "" || o.LineItems != nil || o.Refunds != nil {
			t.Errorf("order = %+v, %v", o, err)
		}
	})
	for _, tc := range []struct{ name, json, field string }{
		{"float total", base(`,"total_price":"1e3"`), "total_price"},
		{"too precise", base(`,"total_tax":"0.0000001"`), "total_tax"},
		{"bad date", base(`,"processed_at":"10/01/2024"`), "processed_at"},
		{"no updated_at", `{"id":1,"created_at":"2024-01-10T11:00:00Z"}`, "updated_at"},
		{"id not digits", `{"id":"abc"}`, "id"},
		{"bad quantity", base(`,"line_items":[{"id":1,"quantity":1.5,"price":"1"}]`), "quantity"},
		{"bad refund amount", base(`,"refunds":[{"id":2,"created_at":"2024-01-10T11:00:00Z","transactions":[{"kind":"refund","status":"success","amount":"x"}]}]`), "transactions[0].amount"},
		{"bad customer id", base(`,"customer":{"id":"x"}`), "customer.id"},
	} {
		_, err := parseOrder([]byte(tc.json), "s.myshopify.com")
		if err == nil || !strings.Contains(err.Error(), "field "+tc.field) {
			t.Errorf("%s: err = %v; want one naming field %s", tc.name, err, tc.field)
		}
	}
}

func TestStripQuery(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"/", "/"},
		{"/products/x?fbclid=1&gclid=2", "/products/x"},
		{"/?utm_source=fb&fbclid=abc&UTM_Medium=cpc#frag", "/?utm_source=fb&UTM_Medium=cpc"},
		{"https://shop.example/p?a=1&utm_campaign=spring%20sale&ttclid=9", "https://shop.example/p?utm_campaign=spring%20sale"},
		{"https://www.google.com/", "https://www.google.com/"},
		{"/p#x?utm_source=no", "/p"},
		{"/p?%zz=1&utm_source=ok", "/p?utm_source=ok"},
	} {
		if got := StripQuery(tc.in); got != tc.want {
			t.Errorf("StripQuery(%q) = %q; want %q", tc.in, got, tc.want)
		}
	}
}

func TestOrderUTMs(t *testing.T) {
	notes := func(kv ...string) []noteAttribute {
		var out []noteAttribute
		for i := 0; i < len(kv); i += 2 {
			out = append(out, noteAttribute{Name: kv[i], Value: jsonx.Text(kv[i+1])})
		}
		return out
	}
	for _, tc := range []struct {
		name    string
		landing string
		notes   []noteAttribute
		want    [3]string
	}{
		{"path query", "/?utm_source=google&utm_medium=cpc&utm_campaign=search_brand", nil, [3]string{"google", "cpc", "search_brand"}},
		{"full URL", "https://demo.example/products/x?utm_source=tiktok&utm_medium=paid_social&utm_campaign=TikTok+-+Spark", nil, [3]string{"tiktok", "paid_social", "TikTok - Spark"}},
		{"notes only", "/products/x?fbclid=1", notes("utm_source", "ig", "utm_medium", "paid_social", "utm_campaign", "retargeting_30d"), [3]string{"ig", "paid_social", "retargeting_30d"}},
		{"per-field fallback", "/?utm_source=google", notes("utm_source", "bing", "utm-medium", "cpc"), [3]string{"google", "cpc", ""}},
		{"none", "/", nil, [3]string{}},
		{"empty landing value falls back", "/?utm_source=&utm_medium=email", notes("utm_source", " newsletter "), [3]string{"newsletter", "email", ""}},
		{"malformed pair skipped", "/?utm_source=%zz&utm_medium=cpc", nil, [3]string{"", "cpc", ""}},
	} {
		s, m, c := orderUTMs(tc.landing, tc.notes)
		if [3]string{s, m, c} != tc.want {
			t.Errorf("%s: got %q %q %q; want %q", tc.name, s, m, c, tc.want)
		}
	}
}

func TestHashEmail(t *testing.T) {
	if HashEmail("") != "" || HashEmail("   ") != "" {
		t.Error("empty email hashed")
	}
	if HashEmail(" Bob@Example.COM\t") != HashEmail("bob@example.com") || len(HashEmail("x")) != 64 {
		t.Error("email not normalized before hashing")
	}
}

// TestRefundInShopCurrency: a refund is summed in the shop's currency whatever currency the
// buyer paid in, from the transaction's shop money, or else the refund's line items and
// adjustments.
func TestRefundInShopCurrency(t *testing.T) {
	const lines = `"refund_line_items":[{"subtotal":50.0,"subtotal_set":{"shop_money":{"amount":"50.00","currency_code":"USD"},"presentment_money":{"amount":"46.05","currency_code":"EUR"}},"total_tax_set":{"shop_money":{"amount":"4.44","currency_code":"USD"},"presentment_money":{"amount":"4.09","currency_code":"EUR"}}}],` +
		`"order_adjustments":[{"amount":"-6.95","amount_set":{"shop_money":{"amount":"-6.95","currency_code":"USD"},"presentment_money":{"amount":"-6.40","currency_code":"EUR"}},"tax_amount_set":{"shop_money":{"amount":"0.00","currency_code":"USD"},"presentment_money":{"amount":"0.00","currency_code":"EUR"}}}]`
	for _, tc := range []struct {
		name, txs string
		want      int64
	}{
		{"shop currency", `[{"kind":"refund","status":"success","amount":"61.39","currency":"USD"}]`, 61_390_000},
		{"presentment currency, shop money from lines and adjustments", `[{"kind":"refund","status":"success","amount":"56.54","currency":"EUR"}]`, 61_390_000},
		{"transaction shop money", `[{"kind":"refund","status":"success","amount":"56.54","currency":"EUR","amount_set":{"shop_money":{"amount":"61.40","currency_code":"USD"}}}]`, 61_400_000},
		{"failed transaction ignored", `[{"kind":"refund","status":"failure","amount":"56.54","currency":"EUR"}]`, 0},
		{"restock only", `[]`, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := `{"id":1,"order_id":2,"created_at":"2026-11-01T10:00:00-05:00","transactions":` + tc.txs + `,` + lines + `}`
			_, r, err := ParseRefundWebhook([]byte(body), "USD")
			if err != nil {
				t.Fatal(err)
			}
			if r.AmountMicros != tc.want {
				t.Errorf("refunded %d micros, want %d", r.AmountMicros, tc.want)
			}
		})
	}
	body := `{"id":1,"order_id":2,"created_at":"2026-11-01T10:00:00-05:00","transactions":[{"kind":"refund","status":"success","amount":"5.00","currency":"EUR"}]}`
	if _, _, err := ParseRefundWebhook([]byte(body), "USD"); err == nil {
		t.Error("a foreign-currency refund without shop money was summed")
	}
}
