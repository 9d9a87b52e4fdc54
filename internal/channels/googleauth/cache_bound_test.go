package googleauth

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// TestCacheEvictsLeastRecentlyUsed fills a cache of three past its bound and checks which
// refresh tokens keep their access token (no new mint) and which were evicted (a mint).
func TestCacheEvictsLeastRecentlyUsed(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	c := NewCache("test", "client", 3, func() time.Time { return now })
	minted := map[string]int{}
	mint := func(refresh string) MintFunc {
		return func(context.Context) (string, time.Duration, error) {
			minted[refresh]++
			return fmt.Sprintf("access-%s-%d", refresh, minted[refresh]), time.Hour, nil
		}
	}
	get := func(refresh string) string {
		t.Helper()
		tok, err := c.Token(context.Background(), refresh, "", mint(refresh))
		if err != nil {
			t.Fatalf("Token(%s): %v", refresh, err)
		}
		return tok
	}
	for _, r := range []string{"a", "b", "c"} {
		get(r)
	}
	get("a") // a is now the most recently used; b the least
	get("d") // evicts b
	if n := c.Len(); n != 3 {
		t.Fatalf("Len = %d after 4 refresh tokens with a bound of 3", n)
	}
	if m := c.Minted("b"); m != nil {
		t.Errorf("b was not evicted: %q", m)
	}
	for _, r := range []string{"a", "c", "d"} {
		if got, want := get(r), fmt.Sprintf("access-%s-1", r); got != want {
			t.Errorf("%s: %q, want the cached %q", r, got, want)
		}
	}
	if got := get("b"); got != "access-b-2" {
		t.Errorf("b after eviction: %q, want a new mint", got)
	}
	if n := c.Len(); n != 3 {
		t.Errorf("Len = %d, want 3", n)
	}
	// a, c and d were each minted once; b twice.
	if want := map[string]int{"a": 1, "b": 2, "c": 1, "d": 1}; fmt.Sprint(minted) != fmt.Sprint(want) {
		t.Errorf("mints %v, want %v", minted, want)
	}
}

// TestCacheStaysBounded checks the bound under many distinct refresh tokens, as a worker
// that has served every Google connection of a large fleet would have seen.
func TestCacheStaysBounded(t *testing.T) {
	c := NewCache("test", "client", 100, time.Now)
	mint := func(context.Context) (string, time.Duration, error) { return "x", time.Hour, nil }
	for i := range 10_000 {
		if _, err := c.Token(context.Background(), fmt.Sprint("refresh-", i), "", mint); err != nil {
			t.Fatal(err)
		}
	}
	if n := c.Len(); n != 100 {
		t.Fatalf("Len = %d, want 100", n)
	}
	c.Forget("refresh-9999")
	if n := c.Len(); n != 99 {
		t.Fatalf("Len after Forget = %d, want 99", n)
	}
	if NewCache("test", "client", 0, time.Now).max != DefaultMaxEntries {
		t.Fatal("a zero bound is not the default")
	}
}
