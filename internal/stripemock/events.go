package stripemock

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/webhook"
)

// event is a Stripe Event as the API version stripe-go v76 pins (2023-10-16) delivers it,
// fields in Stripe's order.
type event struct {
	ID              string       `json:"id"`
	Object          string       `json:"object"`
	APIVersion      string       `json:"api_version"`
	Created         int64        `json:"created"`
	Data            eventData    `json:"data"`
	Livemode        bool         `json:"livemode"`
	PendingWebhooks int          `json:"pending_webhooks"`
	Request         eventRequest `json:"request"`
	Type            string       `json:"type"`
}

type eventData struct {
	Object             map[string]any `json:"object"`
	PreviousAttributes map[string]any `json:"previous_attributes,omitempty"`
}

type eventRequest struct {
	ID             *string `json:"id"`
	IdempotencyKey *string `json:"idempotency_key"`
}

// NewEvent returns the JSON of a test-mode Stripe event of type typ (e.g.
// "invoice.payment_failed") carrying object as data.object. It panics if object is not a
// JSON value, a bug in the caller.
func NewEvent(id, typ string, created time.Time, object map[string]any) []byte {
	return NewEventWithPrevious(id, typ, created, object, nil)
}

// NewEventWithPrevious is NewEvent with data.previous_attributes, which Stripe sends with
// *.updated events: the changed fields' values before the change.
func NewEventWithPrevious(id, typ string, created time.Time, object, previous map[string]any) []byte {
	b, err := json.Marshal(event{
		ID: id, Object: "event", APIVersion: stripe.APIVersion, Created: created.Unix(),
		Data:     eventData{Object: object, PreviousAttributes: previous},
		Livemode: false, PendingWebhooks: 1, Type: typ,
	})
	if err != nil {
		panic(fmt.Sprintf("stripemock: event %s %s: %v", id, typ, err))
	}
	return b
}

// Sign returns the Stripe-Signature header value of payload signed with the endpoint's
// secret (whsec_...) at time at, as Stripe computes it (t=<unix>,v1=<hex HMAC-SHA256>).
func Sign(payload []byte, secret string, at time.Time) string {
	return webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{
		Payload: payload, Secret: secret, Timestamp: at, Scheme: "v1",
	}).Header
}

// unixOrNil is a timestamp field: null when zero, as Stripe sends absent times.
func unixOrNil(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.Unix()
}

func orNil(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// suffix is the part of a Stripe id after its prefix, to name related objects.
func suffix(id string) string {
	if i := strings.IndexByte(id, '_'); i >= 0 {
		return id[i+1:]
	}
	return id
}

// InvoiceObject is a subscription invoice: status draft|open|paid|uncollectible|void,
// attempt the payment attempts so far. Empty ids are null.
func InvoiceObject(id, customer, subscription, status string, paid bool, attempt int64) map[string]any {
	const amount = 4900
	remaining := int64(amount)
	if paid {
		remaining = 0
	}
	return map[string]any{
		"id":                   id,
		"object":               "invoice",
		"amount_due":           amount,
		"amount_paid":          amount - remaining,
		"amount_remaining":     remaining,
		"attempt_count":        attempt,
		"attempted":            attempt > 0,
		"auto_advance":         !paid && status == "open",
		"billing_reason":       "subscription_cycle",
		"collection_method":    "charge_automatically",
		"currency":             "usd",
		"customer":             orNil(customer),
		"hosted_invoice_url":   "https://invoice.stripe.com/i/acct_omnitrackiq_test/test_" + suffix(id),
		"invoice_pdf":          "https://pay.stripe.com/invoice/acct_omnitrackiq_test/test_" + suffix(id) + "/pdf",
		"livemode":             false,
		"metadata":             map[string]any{},
		"next_payment_attempt": nil,
		"paid":                 paid,
		"paid_out_of_band":     false,
		"payment_intent":       "pi_" + suffix(id),
		"status":               status,
		"subscription":         orNil(subscription),
	}
}

// SubscriptionObject is a monthly subscription of one price: status trialing|active|
// past_due|unpaid|paused|canceled|incomplete; a zero trialEnd is no trial. The workspace is
// in metadata.workspace_id, as checkout puts it there. It ends its trial by pausing when no
// payment method is set, as OmniTrackIQ's checkout asks.
func SubscriptionObject(id, customer, status, priceID string, trialEnd, periodEnd time.Time, workspaceID string) map[string]any {
	periodStart := time.Time{}
	if !periodEnd.IsZero() {
		periodStart = periodEnd.AddDate(0, -1, 0)
	}
	metadata := map[string]any{}
	if workspaceID != "" {
		metadata["workspace_id"] = workspaceID
	}
	return map[string]any{
		"id":                     id,
		"object":                 "subscription",
		"billing_cycle_anchor":   unixOrNil(periodEnd),
		"cancel_at":              nil,
		"cancel_at_period_end":   false,
		"canceled_at":            nil,
		"collection_method":      "charge_automatically",
		"currency":               "usd",
		"current_period_end":     unixOrNil(periodEnd),
		"current_period_start":   unixOrNil(periodStart),
		"customer":               orNil(customer),
		"default_payment_method": nil,
		"ended_at":               nil,
		"items": map[string]any{
			"object": "list",
			"data": []any{map[string]any{
				"id":       "si_" + suffix(id),
				"object":   "subscription_item",
				"metadata": map[string]any{},
				"price": map[string]any{
					"id":             priceID,
					"object":         "price",
					"active":         true,
					"billing_scheme": "per_unit",
					"currency":       "usd",
					"livemode":       false,
					"metadata":       map[string]any{},
					"recurring": map[string]any{
						"interval": "month", "interval_count": 1, "usage_type": "licensed",
						"aggregate_usage": nil, "trial_period_days": nil,
					},
					"type": "recurring",
				},
				"quantity":     1,
				"subscription": id,
			}},
			"has_more":    false,
			"total_count": 1,
			"url":         "/v1/subscription_items?subscription=" + id,
		},
		"latest_invoice":   nil,
		"livemode":         false,
		"metadata":         metadata,
		"pause_collection": nil,
		"status":           status,
		"trial_end":        unixOrNil(trialEnd),
		"trial_settings": map[string]any{
			"end_behavior": map[string]any{"missing_payment_method": "pause"},
		},
		"trial_start": nil,
	}
}

// CheckoutSessionObject is a completed subscription-mode Checkout Session of the
// workspace (client_reference_id), as checkout.session.completed carries it.
func CheckoutSessionObject(id, customer, subscription, workspaceID string) map[string]any {
	return map[string]any{
		"id":                  id,
		"object":              "checkout.session",
		"cancel_url":          nil,
		"client_reference_id": orNil(workspaceID),
		"currency":            "usd",
		"customer":            orNil(customer),
		"livemode":            false,
		"metadata":            map[string]any{"workspace_id": workspaceID},
		"mode":                "subscription",
		"payment_status":      "no_payment_required",
		"status":              "complete",
		"subscription":        orNil(subscription),
		"success_url":         nil,
		"url":                 nil,
	}
}

// CustomerObject is the workspace's customer; an empty defaultPaymentMethod is none.
func CustomerObject(id, email, workspaceID, defaultPaymentMethod string) map[string]any {
	metadata := map[string]any{}
	if workspaceID != "" {
		metadata["workspace_id"] = workspaceID
	}
	return map[string]any{
		"id":             id,
		"object":         "customer",
		"default_source": nil,
		"delinquent":     false,
		"email":          orNil(email),
		"invoice_settings": map[string]any{
			"custom_fields":          nil,
			"default_payment_method": orNil(defaultPaymentMethod),
			"footer":                 nil,
			"rendering_options":      nil,
		},
		"livemode": false,
		"metadata": metadata,
	}
}

// PaymentMethodObject is a test Visa card attached to the customer.
func PaymentMethodObject(id, customer string) map[string]any {
	return map[string]any{
		"id":     id,
		"object": "payment_method",
		"billing_details": map[string]any{
			"address": nil, "email": nil, "name": nil, "phone": nil,
		},
		"card": map[string]any{
			"brand": "visa", "country": "US", "exp_month": 12, "exp_year": 2034,
			"funding": "credit", "last4": "4242",
		},
		"customer": orNil(customer),
		"livemode": false,
		"metadata": map[string]any{},
		"type":     "card",
	}
}
