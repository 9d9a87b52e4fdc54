package shopify

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	"github.com/omnitrackiq/omnitrackiq/internal/channels/jsonx"
)

// wireOrder is the part of Shopify's order JSON the connector keeps. Ids are JSON numbers
// above 2^53 in places, money fields are strings: both decode as jsonx.Text, never float64.
type wireOrder struct {
	ID              jsonx.Text      `json:"id"`
	Name            string          `json:"name"`
	Email           string          `json:"email"`
	CreatedAt       string          `json:"created_at"`
	UpdatedAt       string          `json:"updated_at"`
	ProcessedAt     string          `json:"processed_at"`
	CancelledAt     string          `json:"cancelled_at"`
	Test            bool            `json:"test"`
	Currency        string          `json:"currency"`
	TotalPrice      jsonx.Text      `json:"total_price"`
	SubtotalPrice   jsonx.Text      `json:"subtotal_price"`
	TotalTax        jsonx.Text      `json:"total_tax"`
	TotalDiscounts  jsonx.Text      `json:"total_discounts"`
	FinancialStatus string          `json:"financial_status"`
	LandingSite     string          `json:"landing_site"`
	ReferringSite   string          `json:"referring_site"`
	NoteAttributes  []noteAttribute `json:"note_attributes"`
	Customer        *wireCustomer   `json:"customer"`
	LineItems       []wireLineItem  `json:"line_items"`
	Refunds         []wireRefund    `json:"refunds"`
}

type noteAttribute struct {
	Name  string     `json:"name"`
	Value jsonx.Text `json:"value"`
}

// wireCustomer may be null (guest checkout) or redacted to {} without Protected Customer
// Data access. Since API version 2022-04 the customer embedded in an order no longer
// carries orders_count, total_spent or last_order_id (they stay on the Customer resource
// only): the order gives the record's id, email, created_at and updated_at.
type wireCustomer struct {
	ID        jsonx.Text `json:"id"`
	Email     string     `json:"email"`
	CreatedAt string     `json:"created_at"`
	UpdatedAt string     `json:"updated_at"`
}

type wireLineItem struct {
	ID        jsonx.Text `json:"id"`
	ProductID jsonx.Text `json:"product_id"`
	VariantID jsonx.Text `json:"variant_id"`
	SKU       string     `json:"sku"`
	Title     string     `json:"title"`
	Quantity  jsonx.Text `json:"quantity"`
	Price     jsonx.Text `json:"price"`
}

// wireRefund is a refund inside an order, or the body of a refunds/create webhook.
type wireRefund struct {
	ID        jsonx.Text `json:"id"`
	OrderID   jsonx.Text `json:"order_id"`
	CreatedAt string     `json:"created_at"`
	// Transactions is nil when the key is absent or null, and empty for "[]": the
	// distinction decides whether refund_line_items are summed instead.
	Transactions     []wireTransaction     `json:"transactions"`
	RefundLineItems  []wireRefundLineItem  `json:"refund_line_items"`
	OrderAdjustments []wireOrderAdjustment `json:"order_adjustments"`
}

// wireTransaction's amount is in its own currency: the presentment currency of the order,
// which differs from the shop's when the buyer checked out in another one.
type wireTransaction struct {
	Kind      string        `json:"kind"`
	Status    string        `json:"status"`
	Amount    jsonx.Text    `json:"amount"`
	Currency  string        `json:"currency"`
	AmountSet *wireMoneySet `json:"amount_set"`
}

// wireMoneySet is an amount in the shop's and in the presentment currency.
type wireMoneySet struct {
	ShopMoney struct {
		Amount       jsonx.Text `json:"amount"`
		CurrencyCode string     `json:"currency_code"`
	} `json:"shop_money"`
}

// shopMicros is the shop-money amount, ok false when the set carries none.
func (m *wireMoneySet) shopMicros(field string) (int64, bool, error) {
	if m == nil || m.ShopMoney.Amount == "" {
		return 0, false, nil
	}
	v, err := m.ShopMoney.Amount.Micros(field + ".shop_money.amount")
	return v, err == nil, err
}

// wireRefundLineItem's subtotal is a JSON number in the REST API.
type wireRefundLineItem struct {
	Subtotal    jsonx.Text    `json:"subtotal"`
	SubtotalSet *wireMoneySet `json:"subtotal_set"`
	TotalTaxSet *wireMoneySet `json:"total_tax_set"`
}

// wireOrderAdjustment is refunded shipping or a refund discrepancy; negative amounts are
// money refunded beyond the line items.
type wireOrderAdjustment struct {
	AmountSet    *wireMoneySet `json:"amount_set"`
	TaxAmountSet *wireMoneySet `json:"tax_amount_set"`
}

// parseOrder decodes one order JSON object and normalizes it.
func parseOrder(raw []byte, shop string) (channels.Order, error) {
	var w wireOrder
	if err := json.Unmarshal(raw, &w); err != nil {
		return channels.Order{}, fmt.Errorf("decode order: %v", err)
	}
	o, err := normalizeOrder(shop, w)
	if err != nil && w.ID != "" {
		return channels.Order{}, fmt.Errorf("order %s: %w", string(w.ID), err)
	}
	return o, err
}

// normalizeOrder maps a wire order to a channels.Order. A malformed field is an error naming
// it; a missing optional field is zero.
func normalizeOrder(shop string, w wireOrder) (channels.Order, error) {
	if !isDigits(string(w.ID)) {
		return channels.Order{}, fmt.Errorf("field id: %q is not a numeric id", string(w.ID))
	}
	o := channels.Order{
		ShopDomain:      shop,
		OrderID:         string(w.ID),
		Name:            w.Name,
		Currency:        w.Currency,
		FinancialStatus: w.FinancialStatus,
		Test:            w.Test,
		LandingSite:     StripQuery(w.LandingSite),
		ReferringSite:   StripQuery(w.ReferringSite),
	}
	var err error
	if o.CreatedAt, err = parseTime("created_at", w.CreatedAt, true); err != nil {
		return channels.Order{}, err
	}
	if o.UpdatedAt, err = parseTime("updated_at", w.UpdatedAt, true); err != nil {
		return channels.Order{}, err
	}
	if o.ProcessedAt, err = parseTime("processed_at", w.ProcessedAt, false); err != nil {
		return channels.Order{}, err
	}
	if w.CancelledAt != "" {
		t, err := parseTime("cancelled_at", w.CancelledAt, true)
		if err != nil {
			return channels.Order{}, err
		}
		o.CancelledAt = &t
	}
	for _, f := range []struct {
		name string
		v    jsonx.Text
		dst  *int64
	}{
		{"total_price", w.TotalPrice, &o.TotalMicros},
		{"subtotal_price", w.SubtotalPrice, &o.SubtotalMicros},
		{"total_tax", w.TotalTax, &o.TaxMicros},
		{"total_discounts", w.TotalDiscounts, &o.DiscountsMicros},
	} {
		if *f.dst, err = f.v.Micros(f.name); err != nil {
			return channels.Order{}, err
		}
	}
	email := w.Email
	if w.Customer != nil {
		if w.Customer.ID != "" && !isDigits(string(w.Customer.ID)) {
			return channels.Order{}, fmt.Errorf("field customer.id: %q is not a numeric id", string(w.Customer.ID))
		}
		o.CustomerID = string(w.Customer.ID)
		if strings.TrimSpace(email) == "" {
			email = w.Customer.Email
		}
		if o.Customer, err = normalizeCustomer(*w.Customer); err != nil {
			return channels.Order{}, err
		}
	}
	o.EmailSHA256 = HashEmail(email)
	o.UTMSource, o.UTMMedium, o.UTMCampaign = orderUTMs(w.LandingSite, w.NoteAttributes)
	for i, li := range w.LineItems {
		l, err := normalizeLineItem(li)
		if err != nil {
			return channels.Order{}, fmt.Errorf("line_items[%d]: %w", i, err)
		}
		o.LineItems = append(o.LineItems, l)
	}
	for i, r := range w.Refunds {
		rf, err := normalizeRefund(r, w.Currency)
		if err != nil {
			return channels.Order{}, fmt.Errorf("refunds[%d]: %w", i, err)
		}
		o.Refunds = append(o.Refunds, rf)
		o.RefundedMicros += rf.AmountMicros
	}
	return o, nil
}

// normalizeCustomer is the store's record of the order's customer, nil when the order
// carries none usable (redacted, or without a creation time). The orders count is unknown
// (-1): the embedded customer no longer carries it.
func normalizeCustomer(w wireCustomer) (*channels.Customer, error) {
	if w.ID == "" || w.CreatedAt == "" {
		return nil, nil
	}
	c := &channels.Customer{ID: string(w.ID), EmailSHA256: HashEmail(w.Email), OrdersCount: -1}
	var err error
	if c.CreatedAt, err = parseTime("customer.created_at", w.CreatedAt, true); err != nil {
		return nil, err
	}
	if c.UpdatedAt, err = parseTime("customer.updated_at", w.UpdatedAt, false); err != nil {
		return nil, err
	}
	if c.UpdatedAt.IsZero() {
		c.UpdatedAt = c.CreatedAt
	}
	return c, nil
}

func normalizeLineItem(li wireLineItem) (channels.LineItem, error) {
	l := channels.LineItem{
		LineItemID: string(li.ID),
		ProductID:  string(li.ProductID),
		VariantID:  string(li.VariantID),
		SKU:        li.SKU,
		Title:      li.Title,
	}
	for _, f := range []struct{ name, v string }{{"id", l.LineItemID}, {"product_id", l.ProductID}, {"variant_id", l.VariantID}} {
		if f.v != "" && !isDigits(f.v) {
			return channels.LineItem{}, fmt.Errorf("field %s: %q is not a numeric id", f.name, f.v)
		}
	}
	if li.Quantity != "" {
		q, err := strconv.ParseInt(string(li.Quantity), 10, 64)
		if err != nil {
			return channels.LineItem{}, fmt.Errorf("field quantity: %q is not an integer", string(li.Quantity))
		}
		l.Quantity = q
	}
	var err error
	if l.PriceMicros, err = li.Price.Micros("price"); err != nil {
		return channels.LineItem{}, err
	}
	return l, nil
}

// normalizeRefund sums what a refund gave back, in the shop's currency (shopCurrency, ""
// if unknown), the currency of every other amount of the order:
//   - successful "refund" transactions, by their amount_set.shop_money when they carry it,
//     else by their amount when it is in the shop's currency;
//   - when a transaction moved presentment money only (a buyer who checked out in another
//     currency), the refund's shop money from its refund_line_items (subtotal_set + total_tax_set)
//     less its order_adjustments (refunded shipping and discrepancies are negative);
//   - when the refund has no transactions key at all, its refund_line_items subtotals.
//
// An empty transactions array means nothing was paid back (a restock-only refund).
func normalizeRefund(r wireRefund, shopCurrency string) (channels.Refund, error) {
	if !isDigits(string(r.ID)) {
		return channels.Refund{}, fmt.Errorf("field id: %q is not a numeric id", string(r.ID))
	}
	rf := channels.Refund{RefundID: string(r.ID)}
	var err error
	if rf.CreatedAt, err = parseTime("created_at", r.CreatedAt, true); err != nil {
		return channels.Refund{}, err
	}
	if r.Transactions == nil {
		for i, li := range r.RefundLineItems {
			m, err := li.Subtotal.Micros(fmt.Sprintf("refund_line_items[%d].subtotal", i))
			if err != nil {
				return channels.Refund{}, err
			}
			rf.AmountMicros += m
		}
		return rf, nil
	}
	foreign := false
	for i, t := range r.Transactions {
		if t.Kind != "refund" || t.Status != "success" {
			continue
		}
		field := fmt.Sprintf("transactions[%d].amount", i)
		m, ok, err := t.AmountSet.shopMicros(field + "_set")
		if err != nil {
			return channels.Refund{}, err
		}
		if !ok {
			if t.Currency != "" && shopCurrency != "" && !strings.EqualFold(t.Currency, shopCurrency) {
				foreign = true
				continue
			}
			if m, err = t.Amount.Micros(field); err != nil {
				return channels.Refund{}, err
			}
		}
		rf.AmountMicros += m
	}
	if !foreign {
		return rf, nil
	}
	shop, ok, err := refundShopMoney(r)
	if err != nil {
		return channels.Refund{}, err
	}
	if !ok {
		return channels.Refund{}, fmt.Errorf("refund paid back in a currency other than the shop's %s, without shop money amounts", shopCurrency)
	}
	rf.AmountMicros = shop
	return rf, nil
}

// refundShopMoney is a refund's amount in shop money from its line items and adjustments;
// ok is false when no line item or adjustment carries a shop-money amount.
func refundShopMoney(r wireRefund) (int64, bool, error) {
	var total int64
	found := false
	add := func(set *wireMoneySet, field string, sign int64) error {
		m, ok, err := set.shopMicros(field)
		if err != nil {
			return err
		}
		found = found || ok
		total += sign * m
		return nil
	}
	for i, li := range r.RefundLineItems {
		if err := add(li.SubtotalSet, fmt.Sprintf("refund_line_items[%d].subtotal_set", i), 1); err != nil {
			return 0, false, err
		}
		if err := add(li.TotalTaxSet, fmt.Sprintf("refund_line_items[%d].total_tax_set", i), 1); err != nil {
			return 0, false, err
		}
	}
	for i, a := range r.OrderAdjustments {
		if err := add(a.AmountSet, fmt.Sprintf("order_adjustments[%d].amount_set", i), -1); err != nil {
			return 0, false, err
		}
		if err := add(a.TaxAmountSet, fmt.Sprintf("order_adjustments[%d].tax_amount_set", i), -1); err != nil {
			return 0, false, err
		}
	}
	return total, found, nil
}

// HashEmail is the hex SHA-256 of the trimmed, lower-cased email, "" for no email. The
// plaintext is never kept.
func HashEmail(email string) string {
	e := strings.ToLower(strings.TrimSpace(email))
	if e == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(e))
	return hex.EncodeToString(sum[:])
}

var utmKeys = [3]string{"utm_source", "utm_medium", "utm_campaign"}

// orderUTMs takes utm_source, utm_medium and utm_campaign from the landing_site query and,
// field by field, falls back to note_attributes, where storefront scripts stash them.
func orderUTMs(landingSite string, notes []noteAttribute) (source, medium, campaign string) {
	var vals [3]string
	q := siteQuery(landingSite)
	for i, k := range utmKeys {
		vals[i] = strings.TrimSpace(q.Get(k))
	}
	for _, n := range notes {
		name := strings.NewReplacer(" ", "_", "-", "_").Replace(strings.ToLower(strings.TrimSpace(n.Name)))
		for i, k := range utmKeys {
			if name == k && vals[i] == "" {
				vals[i] = strings.TrimSpace(string(n.Value))
			}
		}
	}
	return vals[0], vals[1], vals[2]
}

// siteQuery parses the query of a landing_site path or URL. Malformed pairs are skipped.
func siteQuery(s string) url.Values {
	s, _, _ = strings.Cut(s, "#")
	_, q, ok := strings.Cut(s, "?")
	if !ok {
		return url.Values{}
	}
	v, _ := url.ParseQuery(q) // keeps the well-formed pairs even when some are not
	return v
}

// StripQuery drops a landing or referring site's fragment and every query parameter but
// utm_*: click ids (fbclid, gclid, ttclid), search terms and tokens are not kept. Kept
// parameters stay as they were written, in their order.
func StripQuery(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "#")
	base, q, hasQuery := strings.Cut(s, "?")
	if !hasQuery {
		return base
	}
	var kept []string
	for _, pair := range strings.Split(q, "&") {
		k, _, _ := strings.Cut(pair, "=")
		if uk, err := url.QueryUnescape(k); err == nil && strings.HasPrefix(strings.ToLower(uk), "utm_") {
			kept = append(kept, pair)
		}
	}
	if len(kept) == 0 {
		return base
	}
	return base + "?" + strings.Join(kept, "&")
}

func parseTime(field, v string, required bool) (time.Time, error) {
	if v == "" {
		if required {
			return time.Time{}, fmt.Errorf("field %s: missing", field)
		}
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("field %s: %q is not an ISO-8601 timestamp", field, v)
	}
	return t, nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
