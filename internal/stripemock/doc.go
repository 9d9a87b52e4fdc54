// Package stripemock is OmniTrackIQ's local Stripe: the real stripe-mock process for the
// wire, an Overlay in front of it for the state, and real signed Stripe events.
//
// Why two layers. stripe-mock (github.com/stripe/stripe-mock v0.162.0, which `make tools`
// installs) validates every request against Stripe's OpenAPI spec: a wrong path, a missing
// or unknown parameter is refused exactly as Stripe would refuse it. That is the point of
// using it, so every call of internal/stripeapi goes through it. But it is stateless: it
// answers every read with the same fixture (any subscription is "active", any invoice
// "draft"), never declines a payment, and sends no webhooks. Billing cannot be exercised
// against that alone, because the webhook re-reads the subscription or invoice from Stripe
// before acting, and the dunning workflow's whole story is "the invoice is still open" until
// it is "paid".
//
// The Overlay is the test double for Stripe's STATE, layered on the real stripe-mock for the
// WIRE: it reverse-proxies every request to stripe-mock (so validation is stripe-mock's),
// then merges the fields set for that object over stripe-mock's answer to a read, answers
// invoice payments with a programmed outcome (paid, or a card_error decline), records a
// cancel, and records every request with its Idempotency-Key so tests can assert on them.
// An admin HTTP API on the same handler (under /_overlay/) lets `make dev` and
// `omnitrackiq billing simulate` give objects state from another process.
//
// Events: NewEvent and the object helpers build event payloads in the shape of Stripe's API
// version 2023-10-16 (the one stripe-go v76 pins), and Sign makes the Stripe-Signature
// header for them with stripe-go's own webhook.GenerateTestSignedPayload.
package stripemock

// Files `make dev` keeps in its data directory (.dev) for the local Stripe, which
// `omnitrackiq billing simulate` reads when STRIPE_WEBHOOK_SECRET or STRIPE_API_BASE is not
// set in its own environment.
const (
	// DevWebhookSecretFile holds the generated STRIPE_WEBHOOK_SECRET (whsec_...), kept
	// across runs.
	DevWebhookSecretFile = "stripe-webhook-secret"
	// DevAPIBaseFile holds the Overlay's URL while `make dev` runs.
	DevAPIBaseFile = "stripe-api-base"
)
