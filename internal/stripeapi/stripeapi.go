// Package stripeapi is OmniTrackIQ's Stripe client: the few calls billing makes, through
// stripe-go v76 against a configurable base URL (stripe-mock in development and tests),
// each POST with a deterministic idempotency key so a retried activity or request never
// applies twice. It returns plain structs, so callers never handle stripe-go types.
package stripeapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/client"
)

// Config says how to reach Stripe.
type Config struct {
	SecretKey string
	// BaseURL is https://api.stripe.com in production; stripe-mock's URL locally.
	BaseURL    string
	HTTPClient *http.Client
}

// Client calls Stripe.
type Client struct {
	api *client.API
}

// New returns a Client. stripe-go's own network retries are off: the callers (Temporal
// activities, Stripe's webhook redelivery) retry with their own policies.
func New(cfg Config) (*Client, error) {
	if cfg.SecretKey == "" {
		return nil, errors.New("STRIPE_SECRET_KEY is empty")
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	bc := &stripe.BackendConfig{
		HTTPClient:        hc,
		MaxNetworkRetries: stripe.Int64(0),
		LeveledLogger:     &stripe.LeveledLogger{Level: stripe.LevelNull},
	}
	if cfg.BaseURL != "" {
		bc.URL = stripe.String(cfg.BaseURL)
	}
	return &Client{api: client.New(cfg.SecretKey, stripe.NewBackendsWithConfig(bc))}, nil
}

// Errors callers branch on. Anything else is transient (network, 5xx, 429) or a bug.
var (
	// ErrNotFound: the object does not exist.
	ErrNotFound = errors.New("stripe: no such object")
	// ErrDeclined: a payment attempt was declined or needs the customer (3DS).
	ErrDeclined = errors.New("stripe: payment declined")
	// ErrPermanent: Stripe refused the request itself (bad key, invalid parameters); a retry
	// cannot succeed.
	ErrPermanent = errors.New("stripe: request refused")
)

func classify(what string, err error) error {
	var se *stripe.Error
	if errors.As(err, &se) {
		switch {
		case se.HTTPStatusCode == http.StatusNotFound || se.Code == stripe.ErrorCodeResourceMissing:
			return fmt.Errorf("%s: %w: %s", what, ErrNotFound, se.Msg)
		case se.Type == stripe.ErrorTypeCard || se.HTTPStatusCode == http.StatusPaymentRequired:
			return fmt.Errorf("%s: %w: %s", what, ErrDeclined, se.Msg)
		case se.HTTPStatusCode == http.StatusBadRequest || se.HTTPStatusCode == http.StatusUnauthorized ||
			se.HTTPStatusCode == http.StatusForbidden:
			return fmt.Errorf("%s: %w: %s", what, ErrPermanent, se.Msg)
		}
	}
	return fmt.Errorf("%s: %w", what, err)
}

// idempotent returns request params with ctx and the idempotency key set.
func idempotent(ctx context.Context, key string) stripe.Params {
	p := stripe.Params{Context: ctx}
	if key != "" {
		if len(key) > 255 {
			key = key[:255]
		}
		p.IdempotencyKey = stripe.String(key)
	}
	return p
}

// CreateCustomer creates the workspace's customer. The key makes a retried creation
// return the first customer instead of a second one.
func (c *Client) CreateCustomer(ctx context.Context, workspaceID, name, email, idempotencyKey string) (string, error) {
	p := &stripe.CustomerParams{Params: idempotent(ctx, idempotencyKey), Name: stripe.String(name)}
	if email != "" {
		p.Email = stripe.String(email)
	}
	p.AddMetadata("workspace_id", workspaceID)
	cus, err := c.api.Customers.New(p)
	if err != nil {
		return "", classify("create customer of workspace "+workspaceID, err)
	}
	return cus.ID, nil
}

// Checkout is a subscription-mode Checkout Session to create.
type Checkout struct {
	CustomerID  string
	WorkspaceID string
	PriceID     string
	TrialDays   int64 // 0: no trial
	SuccessURL  string
	CancelURL   string
}

// CheckoutSession is a Checkout Session as Stripe returns it.
type CheckoutSession struct {
	ID                string
	URL               string
	CustomerID        string
	SubscriptionID    string
	ClientReferenceID string
	Status            string
	Mode              string
}

// CreateCheckout creates a subscription-mode Checkout Session for the workspace's customer.
// A trial ending without a payment method pauses the subscription, which billing maps to
// the free plan.
func (c *Client) CreateCheckout(ctx context.Context, in Checkout, idempotencyKey string) (CheckoutSession, error) {
	p := &stripe.CheckoutSessionParams{
		Params:            idempotent(ctx, idempotencyKey),
		Mode:              stripe.String(string(stripe.CheckoutSessionModeSubscription)),
		Customer:          stripe.String(in.CustomerID),
		ClientReferenceID: stripe.String(in.WorkspaceID),
		SuccessURL:        stripe.String(in.SuccessURL),
		CancelURL:         stripe.String(in.CancelURL),
		LineItems:         []*stripe.CheckoutSessionLineItemParams{{Price: stripe.String(in.PriceID), Quantity: stripe.Int64(1)}},
		SubscriptionData: &stripe.CheckoutSessionSubscriptionDataParams{
			Metadata: map[string]string{"workspace_id": in.WorkspaceID},
		},
	}
	if in.TrialDays > 0 {
		p.SubscriptionData.TrialPeriodDays = stripe.Int64(in.TrialDays)
		p.SubscriptionData.TrialSettings = &stripe.CheckoutSessionSubscriptionDataTrialSettingsParams{
			EndBehavior: &stripe.CheckoutSessionSubscriptionDataTrialSettingsEndBehaviorParams{
				MissingPaymentMethod: stripe.String("pause"),
			},
		}
		p.PaymentMethodCollection = stripe.String("if_required")
	}
	p.AddMetadata("workspace_id", in.WorkspaceID)
	s, err := c.api.CheckoutSessions.New(p)
	if err != nil {
		return CheckoutSession{}, classify("create checkout session of workspace "+in.WorkspaceID, err)
	}
	return sessionOf(s), nil
}

// GetCheckoutSession re-reads a Checkout Session.
func (c *Client) GetCheckoutSession(ctx context.Context, id string) (CheckoutSession, error) {
	s, err := c.api.CheckoutSessions.Get(id, &stripe.CheckoutSessionParams{Params: stripe.Params{Context: ctx}})
	if err != nil {
		return CheckoutSession{}, classify("get checkout session "+id, err)
	}
	return sessionOf(s), nil
}

func sessionOf(s *stripe.CheckoutSession) CheckoutSession {
	out := CheckoutSession{ID: s.ID, URL: s.URL, ClientReferenceID: s.ClientReferenceID, Status: string(s.Status), Mode: string(s.Mode)}
	if s.Customer != nil {
		out.CustomerID = s.Customer.ID
	}
	if s.Subscription != nil {
		out.SubscriptionID = s.Subscription.ID
	}
	return out
}

// Portal flows (deep links into one task of the Billing Portal).
const (
	PortalFlowNone                = ""
	PortalFlowPaymentMethodUpdate = "payment_method_update"
)

// CreatePortal creates a Billing Portal session for the customer and returns its URL.
func (c *Client) CreatePortal(ctx context.Context, customerID, returnURL, flow string) (string, error) {
	p := &stripe.BillingPortalSessionParams{
		Params:    stripe.Params{Context: ctx},
		Customer:  stripe.String(customerID),
		ReturnURL: stripe.String(returnURL),
	}
	if flow != PortalFlowNone {
		p.FlowData = &stripe.BillingPortalSessionFlowDataParams{Type: stripe.String(flow)}
	}
	s, err := c.api.BillingPortalSessions.New(p)
	if err != nil {
		return "", classify("create billing portal session of customer "+customerID, err)
	}
	return s.URL, nil
}

// Subscription is a subscription as Stripe returns it.
type Subscription struct {
	ID                string
	CustomerID        string
	Status            string
	PriceID           string
	TrialEnd          *time.Time
	CurrentPeriodEnd  *time.Time
	CancelAtPeriodEnd bool
	HasPaymentMethod  bool
	LatestInvoiceID   string
	WorkspaceID       string // metadata.workspace_id
	Created           time.Time
}

// GetSubscription re-reads a subscription.
func (c *Client) GetSubscription(ctx context.Context, id string) (Subscription, error) {
	s, err := c.api.Subscriptions.Get(id, &stripe.SubscriptionParams{Params: stripe.Params{Context: ctx}})
	if err != nil {
		return Subscription{}, classify("get subscription "+id, err)
	}
	out := Subscription{
		ID: s.ID, Status: string(s.Status), CancelAtPeriodEnd: s.CancelAtPeriodEnd,
		TrialEnd: unixTime(s.TrialEnd), CurrentPeriodEnd: unixTime(s.CurrentPeriodEnd),
		HasPaymentMethod: s.DefaultPaymentMethod != nil || s.DefaultSource != nil,
		WorkspaceID:      s.Metadata["workspace_id"], Created: time.Unix(s.Created, 0).UTC(),
	}
	if s.Customer != nil {
		out.CustomerID = s.Customer.ID
		if s.Customer.InvoiceSettings != nil && s.Customer.InvoiceSettings.DefaultPaymentMethod != nil {
			out.HasPaymentMethod = true
		}
	}
	if s.LatestInvoice != nil {
		out.LatestInvoiceID = s.LatestInvoice.ID
	}
	if s.Items != nil {
		for _, it := range s.Items.Data {
			if it.Price != nil {
				out.PriceID = it.Price.ID
				break
			}
		}
	}
	return out, nil
}

// CancelSubscription cancels a subscription now, without proration.
func (c *Client) CancelSubscription(ctx context.Context, id, idempotencyKey string) error {
	_, err := c.api.Subscriptions.Cancel(id, &stripe.SubscriptionCancelParams{
		Params: idempotent(ctx, idempotencyKey), Prorate: stripe.Bool(false),
	})
	if err != nil {
		return classify("cancel subscription "+id, err)
	}
	return nil
}

// Invoice is an invoice as Stripe returns it.
type Invoice struct {
	ID                 string
	CustomerID         string
	SubscriptionID     string
	Status             string // draft | open | paid | uncollectible | void
	Paid               bool
	AttemptCount       int64
	HostedInvoiceURL   string
	NextPaymentAttempt *time.Time
	BillingReason      string
	Created            time.Time
}

// Settled reports whether nothing is owed on the invoice any more.
func (i Invoice) Settled() bool { return i.Paid || i.Status == "paid" || i.Status == "void" }

// GetInvoice re-reads an invoice.
func (c *Client) GetInvoice(ctx context.Context, id string) (Invoice, error) {
	inv, err := c.api.Invoices.Get(id, &stripe.InvoiceParams{Params: stripe.Params{Context: ctx}})
	if err != nil {
		return Invoice{}, classify("get invoice "+id, err)
	}
	return invoiceOf(inv), nil
}

// PayInvoice attempts to pay an open invoice with the customer's default payment method. A
// decline is ErrDeclined.
func (c *Client) PayInvoice(ctx context.Context, id, idempotencyKey string) (Invoice, error) {
	inv, err := c.api.Invoices.Pay(id, &stripe.InvoicePayParams{Params: idempotent(ctx, idempotencyKey)})
	if err != nil {
		return Invoice{}, classify("pay invoice "+id, err)
	}
	return invoiceOf(inv), nil
}

func invoiceOf(inv *stripe.Invoice) Invoice {
	out := Invoice{
		ID: inv.ID, Status: string(inv.Status), Paid: inv.Paid, AttemptCount: inv.AttemptCount,
		HostedInvoiceURL: inv.HostedInvoiceURL, NextPaymentAttempt: unixTime(inv.NextPaymentAttempt),
		BillingReason: string(inv.BillingReason), Created: time.Unix(inv.Created, 0).UTC(),
	}
	if inv.Customer != nil {
		out.CustomerID = inv.Customer.ID
	}
	if inv.Subscription != nil {
		out.SubscriptionID = inv.Subscription.ID
	}
	return out
}

func unixTime(sec int64) *time.Time {
	if sec == 0 {
		return nil
	}
	t := time.Unix(sec, 0).UTC()
	return &t
}
