package api

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/omnitrackiq/omnitrackiq/internal/billing"
	"github.com/omnitrackiq/omnitrackiq/internal/billingsvc"
	"github.com/omnitrackiq/omnitrackiq/internal/store"
)

// maxStripeWebhookBytes bounds a Stripe webhook body. Events carry one object; the largest
// (an invoice with many lines) stays far below.
const maxStripeWebhookBytes = 64 << 10

// billingsvc.Service is the program's Billing.
var _ Billing = (*billingsvc.Service)(nil)

// typeBadWebhook is a webhook delivery that is not a valid signed Stripe event.
const typeBadWebhook = "/problems/invalid-webhook"

// CheckoutRequest is the body of POST /v1/billing/checkout.
type CheckoutRequest struct {
	Plan string `json:"plan"`
}

// PortalRequest is the optional body of POST /v1/billing/portal.
type PortalRequest struct {
	// Flow is "" (the portal's home) or "payment_method_update" (straight to the card form).
	Flow string `json:"flow"`
}

// PortalResponse is the answer of POST /v1/billing/portal.
type PortalResponse struct {
	URL string `json:"url"`
}

// StripeWebhookResponse is the answer to a delivery Stripe should not retry.
type StripeWebhookResponse struct {
	Received bool   `json:"received"`
	Outcome  string `json:"outcome"`
}

// billingOff answers when the program runs without Stripe; false if billing is on.
func (s *server) billingOff(c *gin.Context) bool {
	if s.Billing != nil {
		return false
	}
	writeProblem(c, Problem{Type: typeUnavailable, Title: "Service unavailable", Status: http.StatusServiceUnavailable,
		Detail: "billing is not configured (STRIPE_SECRET_KEY)"})
	return true
}

// billingError answers an error of the billing service; field names the request field a
// *billingsvc.ValidationError is about.
func (s *server) billingError(c *gin.Context, field string, err error) {
	var verr *billingsvc.ValidationError
	switch {
	case errors.As(err, &verr):
		validationProblem(c, []FieldError{{field, verr.Msg}})
	case errors.Is(err, billingsvc.ErrAlreadySubscribed), errors.Is(err, billingsvc.ErrNoCustomer):
		writeProblem(c, Problem{Type: typeConflict, Title: "Conflict", Status: http.StatusConflict, Detail: err.Error()})
	case errors.Is(err, store.ErrNotFound):
		notFound(c, "workspace "+workspaceID(c))
	default:
		s.unavailable(c, "billing (Stripe or the database)", err)
	}
}

// createCheckout starts a Stripe Checkout for a paid plan and returns the URL to send the
// browser to. The owner's email prefills the Stripe customer of the first checkout.
func (s *server) createCheckout(c *gin.Context) {
	if s.billingOff(c) {
		return
	}
	var req CheckoutRequest
	if !decodeJSON(c, &req) {
		return
	}
	req.Plan = strings.ToLower(strings.TrimSpace(req.Plan))
	if req.Plan == "" {
		validationProblem(c, []FieldError{{"plan", "is required: one of starter, pro, agency"}})
		return
	}
	ctx := c.Request.Context()
	p := principal(c)
	email := ""
	if u, err := s.Store.GetUser(ctx, p.UserID); err == nil {
		email = u.Email
	} else if !errors.Is(err, store.ErrNotFound) {
		s.unavailable(c, "the database", err)
		return
	}
	res, err := s.Billing.Checkout(ctx, billingsvc.CheckoutRequest{
		WorkspaceID: p.WorkspaceID, Plan: billing.PlanID(req.Plan), Email: email,
	})
	if err != nil {
		s.billingError(c, "plan", err)
		return
	}
	s.audit(c, "billing.checkout", "workspace", p.WorkspaceID, map[string]any{
		"plan": res.Plan, "session_id": res.SessionID, "trial_days": res.TrialDays,
	})
	c.JSON(http.StatusCreated, res)
}

// createPortal opens a Billing Portal session (plan changes, payment methods, invoices).
func (s *server) createPortal(c *gin.Context) {
	if s.billingOff(c) {
		return
	}
	var req PortalRequest
	if !decodeOptionalJSON(c, &req) {
		return
	}
	p := principal(c)
	url, err := s.Billing.Portal(c.Request.Context(), p.WorkspaceID, strings.TrimSpace(req.Flow))
	if err != nil {
		s.billingError(c, "flow", err)
		return
	}
	s.audit(c, "billing.portal", "workspace", p.WorkspaceID, map[string]any{"flow": req.Flow})
	c.JSON(http.StatusCreated, PortalResponse{URL: url})
}

// decodeOptionalJSON is decodeJSON for a body that may be absent: an empty body leaves dst
// as it is.
func decodeOptionalJSON(c *gin.Context, dst any) bool {
	if c.Request.Body == nil || c.Request.Body == http.NoBody {
		return true
	}
	raw, err := io.ReadAll(c.Request.Body)
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		writeProblem(c, Problem{Type: typeTooLarge, Title: "Request too large", Status: http.StatusRequestEntityTooLarge,
			Detail: "the request body is too large"})
		return false
	}
	if err != nil {
		malformed(c, "could not read the request body")
		return false
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return true
	}
	c.Request.Body = io.NopCloser(bytes.NewReader(raw))
	return decodeJSON(c, dst)
}

// getBilling answers the workspace's plan, subscription, dunning standing, limits, usage
// and the catalog.
func (s *server) getBilling(c *gin.Context) {
	if s.billingOff(c) {
		return
	}
	ov, err := s.Billing.Overview(c.Request.Context(), workspaceID(c))
	if err != nil {
		s.billingError(c, "", err)
		return
	}
	c.JSON(http.StatusOK, ov)
}

// stripeWebhook receives Stripe's events. The raw body is read under its own limit and
// verified before anything is parsed; a delivery that is not a valid signed event gets 400
// and nothing is stored. A verified event is recorded and applied in one transaction: a
// failure answers 503 so Stripe redelivers it, and the redelivery applies it.
func (s *server) stripeWebhook(c *gin.Context) {
	if s.billingOff(c) {
		return
	}
	if c.Request.Body == nil {
		c.Request.Body = http.NoBody
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, maxStripeWebhookBytes))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		writeProblem(c, Problem{Type: typeTooLarge, Title: "Request too large", Status: http.StatusRequestEntityTooLarge,
			Detail: "Stripe webhook bodies are limited to 64 KiB"})
		return
	}
	if err != nil {
		malformed(c, "could not read the request body")
		return
	}
	ev, err := s.Billing.VerifyEvent(body, c.GetHeader("Stripe-Signature"))
	var bad *billingsvc.BadEventError
	if errors.As(err, &bad) {
		writeProblem(c, Problem{Type: typeBadWebhook, Title: "Invalid webhook", Status: http.StatusBadRequest, Detail: bad.Msg})
		return
	}
	if err != nil {
		s.unavailable(c, "Stripe event verification", err)
		return
	}
	ctx := c.Request.Context()
	outcome, err := s.Billing.ApplyEvent(ctx, ev)
	if err != nil {
		// The error names the event and what failed; the signature is never logged.
		s.log.ErrorContext(ctx, "stripe event not applied; Stripe will redeliver it", "event", ev.ID, "type", ev.Type, "err", err)
		c.Header("Retry-After", "5")
		writeProblem(c, Problem{Type: typeUnavailable, Title: "Service unavailable", Status: http.StatusServiceUnavailable,
			Detail: "the event could not be processed now; redeliver it"})
		return
	}
	s.log.InfoContext(ctx, "stripe event", "event", ev.ID, "type", ev.Type, "object", ev.ObjectID, "outcome", outcome)
	c.JSON(http.StatusOK, StripeWebhookResponse{Received: true, Outcome: outcome})
}
