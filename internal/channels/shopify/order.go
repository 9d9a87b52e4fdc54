package shopify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	"github.com/omnitrackiq/omnitrackiq/internal/channels/httpx"
)

// ErrOrderNotFound is ReadOrder's answer to Shopify's 404: the shop has no order of that
// id. Order ids are unique across Shopify, so an order of another shop is not found, and
// a token without read_all_orders does not find the orders created more than 60 days ago.
var ErrOrderNotFound = errors.New("shopify: order not found")

// maxOrderIDLen is the longest order id ReadOrder puts in a path: an int64 in decimal.
const maxOrderIDLen = 19

// ReadOrder reads one order of the account's shop:
//
//	GET /admin/api/{ver}/orders/{id}.json   {"order": {...}}
//
// Webhooks use it to apply the order as the shop's own API returns it with the
// connection's token, not the delivered body, whose shop the signature does not cover.
// A 404 is ErrOrderNotFound; other failures are classified *channels.Error values.
func (c *Client) ReadOrder(ctx context.Context, acct channels.Account, orderID string) (channels.Order, error) {
	shop, base, err := c.prepare(acct)
	if err != nil {
		return channels.Order{}, err
	}
	if !isDigits(orderID) || len(orderID) > maxOrderIDLen {
		return channels.Order{}, &channels.Error{Channel: channels.Shopify, Kind: channels.KindBadRequest,
			Message: fmt.Sprintf("order id %q is not a numeric id", orderID)}
	}
	body, _, err := c.call(ctx, acct.Token, base, "orders/"+orderID+".json", nil)
	var ce *channels.Error
	if errors.As(err, &ce) && ce.HTTPStatus == http.StatusNotFound {
		return channels.Order{}, fmt.Errorf("order %s of %s: %w", orderID, shop, ErrOrderNotFound)
	}
	if err != nil {
		return channels.Order{}, err
	}
	var r struct {
		Order json.RawMessage `json:"order"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return channels.Order{}, badResponse(acct.Token, "order", err)
	}
	if len(r.Order) == 0 || string(r.Order) == "null" {
		return channels.Order{}, badResponse(acct.Token, "order", errors.New("no order object"))
	}
	o, err := parseOrder(r.Order, shop)
	if err != nil {
		return channels.Order{}, &channels.Error{Channel: channels.Shopify, Kind: channels.KindBadRequest,
			Message: httpx.Scrub(fmt.Sprintf("order %s: %v", orderID, err), acct.Token)}
	}
	if o.OrderID != orderID {
		return channels.Order{}, badResponse(acct.Token, "order", fmt.Errorf("asked for order %s, got order %s", orderID, o.OrderID))
	}
	return o, nil
}
