package stripeapi

import (
	"context"

	"github.com/stripe/stripe-go/v76"
)

// PaymentMethodCustomer re-reads a payment method and returns the customer it is attached
// to ("" when it is attached to none). The webhook routes payment_method.attached by it,
// without trusting the customer named in the event's payload.
func (c *Client) PaymentMethodCustomer(ctx context.Context, id string) (string, error) {
	pm, err := c.api.PaymentMethods.Get(id, &stripe.PaymentMethodParams{Params: stripe.Params{Context: ctx}})
	if err != nil {
		return "", classify("get payment method "+id, err)
	}
	if pm.Customer == nil {
		return "", nil
	}
	return pm.Customer.ID, nil
}
