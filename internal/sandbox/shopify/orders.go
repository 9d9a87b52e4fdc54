package shopify

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/money"
)

// overlay is what admin mutations changed on an order.
// Each change keeps its time, so the order can be seen as it stood before it.
type overlay struct {
	totalMicros *int64
	editedAt    time.Time
	refunds     []genRefund
	cancelledAt *time.Time
}

func (ov *overlay) clone() *overlay {
	c := *ov
	c.refunds = append([]genRefund(nil), ov.refunds...)
	return &c
}

// order is an order as it stands at some "now": the generated events that have happened,
// plus the admin mutations.
type order struct {
	g                 *genOrder
	updatedAt         time.Time
	cancelledAt       *time.Time
	closedAt          *time.Time
	refunds           []genRefund
	totalMicros       int64
	refundedMicros    int64
	financialStatus   string
	fulfillmentStatus string // "" renders as null
}

// view is the state of g at now, nil if it is not created yet.
func view(g *genOrder, now time.Time, ov *overlay) *order {
	if g.createdAt.After(now) {
		return nil
	}
	o := &order{g: g, updatedAt: g.createdAt, totalMicros: g.totalCents * centMicros}
	bump := func(t time.Time) {
		if t.After(o.updatedAt) {
			o.updatedAt = t
		}
	}
	settled := !g.settledAt.After(now)
	if settled {
		bump(g.settledAt)
	}
	if g.cancelAt != nil && !g.cancelAt.After(now) {
		o.cancelledAt = g.cancelAt
		bump(*g.cancelAt)
	}
	if g.fulfilledAt != nil && !g.fulfilledAt.After(now) {
		o.closedAt = g.fulfilledAt
		o.fulfillmentStatus = "fulfilled"
		bump(*g.fulfilledAt)
	}
	for _, rf := range g.refunds {
		if !rf.at.After(now) {
			o.refunds = append(o.refunds, rf)
			bump(rf.at)
		}
	}
	if ov != nil {
		if ov.totalMicros != nil && !ov.editedAt.After(now) {
			o.totalMicros = *ov.totalMicros
			bump(ov.editedAt)
		}
		if ov.cancelledAt != nil && o.cancelledAt == nil && !ov.cancelledAt.After(now) {
			o.cancelledAt = ov.cancelledAt
			bump(*ov.cancelledAt)
		}
		for _, rf := range ov.refunds {
			if !rf.at.After(now) {
				o.refunds = append(o.refunds, rf)
				bump(rf.at)
			}
		}
	}
	for _, rf := range o.refunds {
		o.refundedMicros += rf.amountMicros
	}
	switch {
	case o.refundedMicros > 0 && o.refundedMicros >= o.totalMicros:
		o.financialStatus = "refunded"
	case o.refundedMicros > 0:
		o.financialStatus = "partially_refunded"
	case o.cancelledAt != nil:
		o.financialStatus = "voided"
	case !settled:
		o.financialStatus = "pending"
	default:
		o.financialStatus = "paid"
	}
	return o
}

// ---- JSON, as the Admin REST API renders an order ----

type orderJSON struct {
	ID                    int64            `json:"id"`
	AdminGraphqlAPIID     string           `json:"admin_graphql_api_id"`
	AppID                 int64            `json:"app_id"`
	BrowserIP             *string          `json:"browser_ip"`
	BuyerAcceptsMarketing bool             `json:"buyer_accepts_marketing"`
	CancelReason          *string          `json:"cancel_reason"`
	CancelledAt           *string          `json:"cancelled_at"`
	CartToken             *string          `json:"cart_token"`
	ClosedAt              *string          `json:"closed_at"`
	Confirmed             bool             `json:"confirmed"`
	ContactEmail          *string          `json:"contact_email"`
	CreatedAt             string           `json:"created_at"`
	Currency              string           `json:"currency"`
	CurrentTotalPrice     string           `json:"current_total_price"`
	CurrentTotalPriceSet  moneySet         `json:"current_total_price_set"`
	CustomerLocale        string           `json:"customer_locale"`
	DiscountCodes         []discountCode   `json:"discount_codes"`
	Email                 *string          `json:"email"`
	FinancialStatus       string           `json:"financial_status"`
	FulfillmentStatus     *string          `json:"fulfillment_status"`
	LandingSite           *string          `json:"landing_site"`
	LandingSiteRef        *string          `json:"landing_site_ref"`
	Name                  string           `json:"name"`
	Note                  *string          `json:"note"`
	NoteAttributes        []nameValue      `json:"note_attributes"`
	Number                int64            `json:"number"`
	OrderNumber           int64            `json:"order_number"`
	PaymentGatewayNames   []string         `json:"payment_gateway_names"`
	PresentmentCurrency   string           `json:"presentment_currency"`
	ProcessedAt           string           `json:"processed_at"`
	ReferringSite         *string          `json:"referring_site"`
	SourceName            string           `json:"source_name"`
	SubtotalPrice         string           `json:"subtotal_price"`
	SubtotalPriceSet      moneySet         `json:"subtotal_price_set"`
	Tags                  string           `json:"tags"`
	TaxesIncluded         bool             `json:"taxes_included"`
	Test                  bool             `json:"test"`
	TotalDiscounts        string           `json:"total_discounts"`
	TotalDiscountsSet     moneySet         `json:"total_discounts_set"`
	TotalLineItemsPrice   string           `json:"total_line_items_price"`
	TotalLineItemsSet     moneySet         `json:"total_line_items_price_set"`
	TotalOutstanding      string           `json:"total_outstanding"`
	TotalPrice            string           `json:"total_price"`
	TotalPriceSet         moneySet         `json:"total_price_set"`
	TotalTax              string           `json:"total_tax"`
	TotalTaxSet           moneySet         `json:"total_tax_set"`
	TotalWeight           int64            `json:"total_weight"`
	UpdatedAt             string           `json:"updated_at"`
	UserID                *int64           `json:"user_id"`
	Customer              *customerJSON    `json:"customer"`
	LineItems             []lineItemJSON   `json:"line_items"`
	Refunds               []refundJSON     `json:"refunds"`
	ShippingLines         []shippingLineJS `json:"shipping_lines"`
}

// moneyJSON and moneySet are Shopify's amount pairs: every price of an order in the shop's
// currency (the unsuffixed fields) and in the currency the buyer checked out in.
type moneyJSON struct {
	Amount       string `json:"amount"`
	CurrencyCode string `json:"currency_code"`
}

type moneySet struct {
	ShopMoney        moneyJSON `json:"shop_money"`
	PresentmentMoney moneyJSON `json:"presentment_money"`
}

// presentmentCurrency is the currency the buyer of g paid in.
func (s *Server) presentmentCurrency(g *genOrder) string {
	if g.presentment == "" {
		return s.currency
	}
	return g.presentment
}

// presentmentMicros converts an amount of shop currency to g's presentment currency,
// rounded to the cent as Shopify rounds converted prices.
func presentmentMicros(g *genOrder, shopMicros int64) int64 {
	if g.presentment == "" {
		return shopMicros
	}
	v := shopMicros * g.rateBP / 10_000
	if v >= 0 {
		return (v + centMicros/2) / centMicros * centMicros
	}
	return -((-v + centMicros/2) / centMicros * centMicros)
}

func (s *Server) set(g *genOrder, shopMicros int64) moneySet {
	return moneySet{
		ShopMoney:        moneyJSON{Amount: moneyString(shopMicros), CurrencyCode: s.currency},
		PresentmentMoney: moneyJSON{Amount: moneyString(presentmentMicros(g, shopMicros)), CurrencyCode: s.presentmentCurrency(g)},
	}
}

// orderAdjustmentJSON is a refund's adjustment of the order's balance: refunded shipping
// ("shipping_refund") and the difference between the refunded line items and the amount
// actually paid back ("refund_discrepancy"). A negative amount is money refunded beyond the
// line items.
type orderAdjustmentJSON struct {
	ID           int64    `json:"id"`
	OrderID      int64    `json:"order_id"`
	RefundID     int64    `json:"refund_id"`
	Amount       string   `json:"amount"`
	TaxAmount    string   `json:"tax_amount"`
	Kind         string   `json:"kind"`
	Reason       string   `json:"reason"`
	AmountSet    moneySet `json:"amount_set"`
	TaxAmountSet moneySet `json:"tax_amount_set"`
}

type discountCode struct {
	Code   string `json:"code"`
	Amount string `json:"amount"`
	Type   string `json:"type"`
}

type nameValue struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type customerJSON struct {
	ID                int64  `json:"id"`
	Email             string `json:"email"`
	CreatedAt         string `json:"created_at"`
	UpdatedAt         string `json:"updated_at"`
	FirstName         string `json:"first_name"`
	LastName          string `json:"last_name"`
	State             string `json:"state"`
	VerifiedEmail     bool   `json:"verified_email"`
	Currency          string `json:"currency"`
	AdminGraphqlAPIID string `json:"admin_graphql_api_id"`
}

type lineItemJSON struct {
	ID                  int64    `json:"id"`
	AdminGraphqlAPIID   string   `json:"admin_graphql_api_id"`
	FulfillableQuantity int64    `json:"fulfillable_quantity"`
	FulfillmentService  string   `json:"fulfillment_service"`
	FulfillmentStatus   *string  `json:"fulfillment_status"`
	GiftCard            bool     `json:"gift_card"`
	Grams               int64    `json:"grams"`
	Name                string   `json:"name"`
	Price               string   `json:"price"`
	PriceSet            moneySet `json:"price_set"`
	ProductExists       bool     `json:"product_exists"`
	ProductID           int64    `json:"product_id"`
	Properties          []string `json:"properties"`
	Quantity            int64    `json:"quantity"`
	RequiresShipping    bool     `json:"requires_shipping"`
	SKU                 string   `json:"sku"`
	Taxable             bool     `json:"taxable"`
	Title               string   `json:"title"`
	TotalDiscount       string   `json:"total_discount"`
	TotalDiscountSet    moneySet `json:"total_discount_set"`
	VariantID           int64    `json:"variant_id"`
	VariantTitle        string   `json:"variant_title"`
	Vendor              string   `json:"vendor"`
}

type refundJSON struct {
	ID                int64                 `json:"id"`
	AdminGraphqlAPIID string                `json:"admin_graphql_api_id"`
	CreatedAt         string                `json:"created_at"`
	Note              *string               `json:"note"`
	OrderID           int64                 `json:"order_id"`
	ProcessedAt       string                `json:"processed_at"`
	Restock           bool                  `json:"restock"`
	UserID            *int64                `json:"user_id"`
	OrderAdjustments  []orderAdjustmentJSON `json:"order_adjustments"`
	Transactions      []transactionJSON     `json:"transactions"`
	RefundLineItems   []refundLineItemJSON  `json:"refund_line_items"`
}

type transactionJSON struct {
	ID                int64   `json:"id"`
	AdminGraphqlAPIID string  `json:"admin_graphql_api_id"`
	Amount            string  `json:"amount"`
	Authorization     *string `json:"authorization"`
	CreatedAt         string  `json:"created_at"`
	Currency          string  `json:"currency"`
	ErrorCode         *string `json:"error_code"`
	Gateway           string  `json:"gateway"`
	Kind              string  `json:"kind"`
	Message           string  `json:"message"`
	OrderID           int64   `json:"order_id"`
	ProcessedAt       string  `json:"processed_at"`
	SourceName        string  `json:"source_name"`
	Status            string  `json:"status"`
	Test              bool    `json:"test"`
}

// refundLineItemJSON's subtotal and total_tax are JSON numbers in the REST API.
type refundLineItemJSON struct {
	ID          int64        `json:"id"`
	LineItemID  int64        `json:"line_item_id"`
	LocationID  *int64       `json:"location_id"`
	Quantity    int64        `json:"quantity"`
	RestockType string       `json:"restock_type"`
	Subtotal    json.Number  `json:"subtotal"`
	SubtotalSet moneySet     `json:"subtotal_set"`
	TotalTax    json.Number  `json:"total_tax"`
	TotalTaxSet moneySet     `json:"total_tax_set"`
	LineItem    lineItemJSON `json:"line_item"`
}

type shippingLineJS struct {
	ID     int64  `json:"id"`
	Code   string `json:"code"`
	Price  string `json:"price"`
	Source string `json:"source"`
	Title  string `json:"title"`
}

func strp(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func cents(c int64) string { return moneyString(c * centMicros) }

func moneyString(micros int64) string { return money.FormatMicros(micros) }

func (s *Server) ts(t time.Time) string { return t.In(s.loc).Format(time.RFC3339) }

func (s *Server) tsp(t *time.Time) *string {
	if t == nil {
		return nil
	}
	v := s.ts(*t)
	return &v
}

func gid(kind string, id int64) string {
	return "gid://shopify/" + kind + "/" + strconv.FormatInt(id, 10)
}

func (s *Server) renderOrder(o *order) orderJSON {
	g := o.g
	gateway := "shopify_payments"
	if g.test {
		gateway = "bogus"
	}
	j := orderJSON{
		ID:                   g.id,
		AdminGraphqlAPIID:    gid("Order", g.id),
		AppID:                580111,
		Confirmed:            true,
		ContactEmail:         strp(g.email),
		CreatedAt:            s.ts(g.createdAt),
		Currency:             s.currency,
		CurrentTotalPrice:    money.FormatMicros(o.totalMicros - o.refundedMicros),
		CurrentTotalPriceSet: s.set(g, o.totalMicros-o.refundedMicros),
		CustomerLocale:       "en",
		DiscountCodes:        []discountCode{},
		Email:                strp(g.email),
		FinancialStatus:      o.financialStatus,
		FulfillmentStatus:    strp(o.fulfillmentStatus),
		LandingSite:          strp(g.landingSite),
		Name:                 "#" + strconv.FormatInt(g.number, 10),
		NoteAttributes:       []nameValue{},
		Number:               g.number - 1000,
		OrderNumber:          g.number,
		PaymentGatewayNames:  []string{gateway},
		PresentmentCurrency:  s.presentmentCurrency(g),
		ProcessedAt:          s.ts(g.createdAt),
		ReferringSite:        strp(g.referringSite),
		SourceName:           "web",
		SubtotalPrice:        cents(g.subtotalCents),
		SubtotalPriceSet:     s.set(g, g.subtotalCents*centMicros),
		Test:                 g.test,
		TotalDiscounts:       cents(g.discountCents),
		TotalDiscountsSet:    s.set(g, g.discountCents*centMicros),
		TotalLineItemsPrice:  cents(g.linesCents),
		TotalLineItemsSet:    s.set(g, g.linesCents*centMicros),
		TotalOutstanding:     "0.00",
		TotalPrice:           money.FormatMicros(o.totalMicros),
		TotalPriceSet:        s.set(g, o.totalMicros),
		TotalTax:             cents(g.taxCents),
		TotalTaxSet:          s.set(g, g.taxCents*centMicros),
		UpdatedAt:            s.ts(o.updatedAt),
		LineItems:            []lineItemJSON{},
		Refunds:              []refundJSON{},
		ShippingLines:        []shippingLineJS{},
	}
	if o.cancelledAt != nil {
		j.CancelledAt = s.tsp(o.cancelledAt)
		j.CancelReason = strp("customer")
	}
	j.ClosedAt = s.tsp(o.closedAt)
	if g.discountCode != "" {
		j.DiscountCodes = append(j.DiscountCodes, discountCode{Code: g.discountCode, Amount: cents(g.discountCents), Type: "percentage"})
	}
	for _, n := range g.notes {
		j.NoteAttributes = append(j.NoteAttributes, nameValue{Name: n[0], Value: n[1]})
	}
	if c := g.customer; c != nil {
		j.Customer = &customerJSON{
			ID: c.id, Email: c.email, CreatedAt: s.ts(c.createdAt), UpdatedAt: s.ts(g.createdAt),
			FirstName: c.first, LastName: c.last, State: "enabled", VerifiedEmail: true,
			Currency: s.currency, AdminGraphqlAPIID: gid("Customer", c.id),
		}
		j.BuyerAcceptsMarketing = c.id%3 == 0
	}
	for _, l := range g.lines {
		li := s.renderLine(g, l, o.fulfillmentStatus)
		j.LineItems = append(j.LineItems, li)
		j.TotalWeight += li.Grams * li.Quantity
	}
	if g.shippingCents > 0 || g.linesCents > 0 {
		j.ShippingLines = append(j.ShippingLines, shippingLineJS{ID: g.id + 1_000_000_000_000, Code: "Standard",
			Price: cents(g.shippingCents), Source: "shopify", Title: "Standard Shipping"})
	}
	for _, rf := range o.refunds {
		j.Refunds = append(j.Refunds, s.renderRefund(g, rf, gateway))
	}
	return j
}

func (s *Server) renderLine(g *genOrder, l genLine, fulfillment string) lineItemJSON {
	fulfillable := l.qty
	if fulfillment != "" {
		fulfillable = 0
	}
	return lineItemJSON{
		ID: l.id, AdminGraphqlAPIID: gid("LineItem", l.id), FulfillableQuantity: fulfillable,
		FulfillmentService: "manual", FulfillmentStatus: strp(fulfillment), GiftCard: l.p.grams == 0,
		Grams: l.p.grams, Name: l.p.title + " - " + l.p.variantTitle, Price: cents(l.p.priceCents),
		PriceSet: s.set(g, l.p.priceCents*centMicros), TotalDiscountSet: s.set(g, 0),
		ProductExists: true, ProductID: l.p.id, Properties: []string{}, Quantity: l.qty,
		RequiresShipping: l.p.grams > 0, SKU: l.p.sku, Taxable: true, Title: l.p.title,
		TotalDiscount: "0.00", VariantID: l.p.variantID, VariantTitle: l.p.variantTitle, Vendor: "Demo Store",
	}
}

// renderRefund renders a refund as the REST API does. Its transactions move presentment
// money (the buyer's currency); refund_line_items and order_adjustments carry both amounts
// in their *_set fields, and in shop money they add up to what the refund gave back:
// line items (subtotal + tax) minus the adjustments (shipping refunded, discrepancy).
func (s *Server) renderRefund(g *genOrder, rf genRefund, gateway string) refundJSON {
	r := refundJSON{
		ID: rf.id, AdminGraphqlAPIID: gid("Refund", rf.id), CreatedAt: s.ts(rf.at), Note: strp(rf.note),
		OrderID: g.id, ProcessedAt: s.ts(rf.at), Restock: len(rf.lines) > 0,
		OrderAdjustments: []orderAdjustmentJSON{}, Transactions: []transactionJSON{}, RefundLineItems: []refundLineItemJSON{},
	}
	tx := func(k int64, status, message string) transactionJSON {
		id := transactionIDBase + (rf.id-refundIDBase)*4 + k
		t := transactionJSON{
			ID: id, AdminGraphqlAPIID: gid("OrderTransaction", id), Amount: moneyString(presentmentMicros(g, rf.amountMicros)),
			CreatedAt: s.ts(rf.at), Currency: s.presentmentCurrency(g), Gateway: gateway, Kind: "refund", Message: message,
			OrderID: g.id, ProcessedAt: s.ts(rf.at), SourceName: "web", Status: status, Test: g.test,
		}
		if status != "success" {
			t.ErrorCode = strp("processing_error")
		}
		return t
	}
	if rf.failedFirst {
		r.Transactions = append(r.Transactions, tx(0, "failure", "Refund could not be processed; retrying"))
	}
	r.Transactions = append(r.Transactions, tx(1, "success", "Transaction approved"))
	var linesMicros int64
	for k, idx := range rf.lines {
		l := g.lines[idx]
		sub := l.p.priceCents * l.qty
		tax := (sub*taxRate + 50_000) / 100_000
		linesMicros += (sub + tax) * centMicros
		r.RefundLineItems = append(r.RefundLineItems, refundLineItemJSON{
			ID: rf.id + int64(k) + 1, LineItemID: l.id, Quantity: l.qty, RestockType: "return",
			Subtotal: json.Number(cents(sub)), SubtotalSet: s.set(g, sub*centMicros),
			TotalTax: json.Number(cents(tax)), TotalTaxSet: s.set(g, tax*centMicros),
			LineItem: s.renderLine(g, l, "fulfilled"),
		})
	}
	adjust := func(k int64, kind, reason string, micros int64) {
		r.OrderAdjustments = append(r.OrderAdjustments, orderAdjustmentJSON{
			ID: rf.id + 100 + k, OrderID: g.id, RefundID: rf.id, Amount: moneyString(micros), TaxAmount: "0.00",
			Kind: kind, Reason: reason, AmountSet: s.set(g, micros), TaxAmountSet: s.set(g, 0),
		})
	}
	rest := rf.amountMicros - linesMicros // refunded beyond the line items
	if len(rf.lines) == len(g.lines) && g.shippingCents > 0 && rest >= g.shippingCents*centMicros {
		adjust(0, "shipping_refund", "Shipping refund", -g.shippingCents*centMicros)
		rest -= g.shippingCents * centMicros
	}
	if rest != 0 {
		adjust(1, "refund_discrepancy", "Refund discrepancy", -rest)
	}
	return r
}

// refundWebhookJSON is the body of refunds/create: the refund object with its order_id.
func (s *Server) refundWebhookJSON(o *order, rf genRefund) refundJSON {
	gateway := "shopify_payments"
	if o.g.test {
		gateway = "bogus"
	}
	return s.renderRefund(o.g, rf, gateway)
}

// selectFields keeps the top-level keys listed in fields, as ?fields= does.
func selectFields(v any, fields []string) (map[string]json.RawMessage, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(b, &all); err != nil {
		return nil, fmt.Errorf("select fields: %w", err)
	}
	out := make(map[string]json.RawMessage, len(fields))
	for _, f := range fields {
		if raw, ok := all[f]; ok {
			out[f] = raw
		}
	}
	return out, nil
}
