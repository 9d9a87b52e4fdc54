package shopify

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
)

func TestReadOrder(t *testing.T) {
	const path = "/pre/admin/api/2024-10/orders/450789469.json"
	tests := []struct {
		name     string
		id       string
		status   int
		body     string
		wantErr  func(error) bool
		wantCall bool
	}{
		{name: "found", id: "450789469", status: 200, body: `{"order":` + referenceOrder + `}`, wantCall: true},
		{name: "another shop's order", id: "450789469", status: 404, body: `{"errors":"Not Found"}`, wantCall: true,
			wantErr: func(err error) bool { return errors.Is(err, ErrOrderNotFound) }},
		{name: "refused token", id: "450789469", status: 401, body: `{"errors":"[API] Invalid API key or access token"}`, wantCall: true,
			wantErr: func(err error) bool { return kindOf(err) == channels.KindAuth }},
		{name: "rate limited", id: "450789469", status: 429, body: `{"errors":"Exceeded 2 calls per second"}`, wantCall: true,
			wantErr: func(err error) bool { return kindOf(err) == channels.KindRateLimited }},
		{name: "another order answered", id: "450789469", status: 200, body: `{"order":{"id":1,"created_at":"2024-01-10T11:00:00Z","updated_at":"2024-01-10T11:00:00Z"}}`,
			wantCall: true, wantErr: func(err error) bool { return err != nil && !errors.Is(err, ErrOrderNotFound) }},
		{name: "no order object", id: "450789469", status: 200, body: `{"order":null}`, wantCall: true,
			wantErr: func(err error) bool { return err != nil && !errors.Is(err, ErrOrderNotFound) }},
		{name: "malformed amount", id: "450789469", status: 200, body: `{"order":{"id":450789469,"created_at":"2024-01-10T11:00:00Z","updated_at":"2024-01-10T11:00:00Z","total_price":"1e9"}}`,
			wantCall: true, wantErr: func(err error) bool { return kindOf(err) == channels.KindBadRequest }},
		{name: "path in the id", id: "1/../../shop", wantErr: func(err error) bool { return kindOf(err) == channels.KindBadRequest }},
		{name: "id too long", id: strings.Repeat("9", 20), wantErr: func(err error) bool { return kindOf(err) == channels.KindBadRequest }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t)
			f.handle(path, func(w http.ResponseWriter, r *http.Request) {
				if got := r.Header.Get("X-Shopify-Access-Token"); got != testToken {
					t.Errorf("token header %q", got)
				}
				writeJSON(w, tc.status, tc.body)
			})
			o, err := f.client(Options{}).ReadOrder(context.Background(), testAcct, tc.id)
			if calls := len(f.reqs); (calls > 0) != tc.wantCall {
				t.Fatalf("%d calls, want a call: %v", calls, tc.wantCall)
			}
			if tc.wantErr != nil {
				if err == nil || !tc.wantErr(err) {
					t.Fatalf("err %v (kind %v)", err, kindOf(err))
				}
				if strings.Contains(err.Error(), testToken) {
					t.Fatalf("error carries the token: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if o.OrderID != "450789469" || o.ShopDomain != "demo-store.myshopify.com" || o.Currency != "USD" || o.TotalMicros != 598_940_000 {
				t.Fatalf("order %+v", o)
			}
		})
	}
}

// kindOf is the kind of a classified error, -1 for any other.
func kindOf(err error) channels.ErrorKind {
	var ce *channels.Error
	if errors.As(err, &ce) {
		return ce.Kind
	}
	return -1
}
