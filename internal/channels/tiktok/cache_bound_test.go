package tiktok

import (
	"context"
	"fmt"
	"testing"
)

// TestCurrencyCacheIsBounded checks that a full currency cache starts over instead of
// growing, and still serves the advertiser just read.
func TestCurrencyCacheIsBounded(t *testing.T) {
	f := newFake(t, "")
	f.routes["/open_api/v1.3/advertiser/info/"] = infoHandler("EUR")
	c := f.client(Options{})
	for i := range maxCachedCurrencies {
		c.currencies[fmt.Sprint("other-", i)] = "USD"
	}
	if _, err := c.AccountInfo(context.Background(), acct); err != nil {
		t.Fatal(err)
	}
	if n := len(c.currencies); n != 1 || c.currencies["7000000000000000001"] != "EUR" {
		t.Fatalf("cache holds %d entries (advertiser: %q), want only the advertiser just read", n, c.currencies["7000000000000000001"])
	}
	// A known advertiser updates in place without clearing the others.
	c.currencies["other"] = "USD"
	if _, err := c.AccountInfo(context.Background(), acct); err != nil {
		t.Fatal(err)
	}
	if n := len(c.currencies); n != 2 {
		t.Fatalf("cache holds %d entries, want 2", n)
	}
}
