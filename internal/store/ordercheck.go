package store

import (
	"fmt"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	"github.com/omnitrackiq/omnitrackiq/internal/money"
)

// Bounds of ValidateOrder.
const (
	// MaxClockSkew is how far after now a timestamp may lie: clocks disagree by seconds,
	// never by minutes. A later one would win every newer-version comparison until then.
	MaxClockSkew = 5 * time.Minute
	// MaxAmountMicros bounds every amount of an order: 10^11 currency units, far above any
	// real order even in currencies of small units, and far enough below int64's limit
	// that sums over millions of orders cannot overflow.
	MaxAmountMicros = 100_000_000_000 * money.MicrosPerUnit
	// MaxQuantity bounds a line item's quantity.
	MaxQuantity = 1_000_000_000
)

// minOrderTime is before any e-commerce platform existed: an earlier timestamp is garbage
// (a zero date, a year 0000) that would put revenue in another millennium.
var minOrderTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// ValidateOrder checks what an order upsert must never store: a currency that is not an
// ISO 4217 code, an amount that is negative or beyond MaxAmountMicros, a timestamp before
// 2000 or more than MaxClockSkew after now (an updated_at in year 9999 would make every
// later, legitimate version look older and freeze the order). The error names the field.
func ValidateOrder(o channels.Order, now time.Time) error {
	if o.ShopDomain == "" || o.OrderID == "" {
		return fmt.Errorf("order has no shop or id")
	}
	if !money.IsCurrencyCode(o.Currency) {
		return fmt.Errorf("field currency: %q is not an ISO 4217 currency code", o.Currency)
	}
	cancelled := time.Time{}
	if o.CancelledAt != nil {
		cancelled = *o.CancelledAt
	}
	for _, f := range []struct {
		name     string
		t        time.Time
		required bool
	}{
		{"created_at", o.CreatedAt, true}, {"updated_at", o.UpdatedAt, true},
		{"processed_at", o.ProcessedAt, false}, {"cancelled_at", cancelled, o.CancelledAt != nil},
	} {
		if err := checkTime(f.name, f.t, f.required, now); err != nil {
			return err
		}
	}
	for _, f := range []struct {
		name string
		m    int64
	}{
		{"total_price", o.TotalMicros}, {"subtotal_price", o.SubtotalMicros}, {"total_tax", o.TaxMicros},
		{"total_discounts", o.DiscountsMicros}, {"refunded", o.RefundedMicros},
	} {
		if err := checkAmount(f.name, f.m); err != nil {
			return err
		}
	}
	for i, li := range o.LineItems {
		if err := checkAmount(fmt.Sprintf("line_items[%d].price", i), li.PriceMicros); err != nil {
			return err
		}
		if li.Quantity < 0 || li.Quantity > MaxQuantity {
			return fmt.Errorf("field line_items[%d].quantity: %d is not between 0 and %d", i, li.Quantity, MaxQuantity)
		}
	}
	for i, r := range o.Refunds {
		if err := ValidateRefund(r, now); err != nil {
			return fmt.Errorf("refunds[%d]: %w", i, err)
		}
	}
	if c := o.Customer; c != nil {
		if err := checkTime("customer.created_at", c.CreatedAt, true, now); err != nil {
			return err
		}
		if err := checkTime("customer.updated_at", c.UpdatedAt, false, now); err != nil {
			return err
		}
	}
	return nil
}

// ValidateRefund checks a refund's amount and creation time by ValidateOrder's bounds.
func ValidateRefund(r channels.Refund, now time.Time) error {
	if err := checkAmount("amount", r.AmountMicros); err != nil {
		return err
	}
	return checkTime("created_at", r.CreatedAt, true, now)
}

// checkTime refuses a timestamp before 2000 or more than MaxClockSkew after now, and a
// missing one when it is required.
func checkTime(field string, t time.Time, required bool, now time.Time) error {
	switch {
	case t.IsZero() && required:
		return fmt.Errorf("field %s: is required", field)
	case t.IsZero():
		return nil
	case t.Before(minOrderTime):
		return fmt.Errorf("field %s: %s is before %s", field, t.UTC().Format(time.RFC3339), minOrderTime.Format("2006"))
	case t.After(now.Add(MaxClockSkew)):
		return fmt.Errorf("field %s: %s is in the future", field, t.UTC().Format(time.RFC3339))
	}
	return nil
}

// checkAmount refuses an amount below 0 or above MaxAmountMicros.
func checkAmount(field string, m int64) error {
	if m < 0 || m > MaxAmountMicros {
		return fmt.Errorf("field %s: %s is not between 0 and %s", field, money.FormatMicros(m), money.FormatMicros(MaxAmountMicros))
	}
	return nil
}
