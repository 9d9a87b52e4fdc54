package googleauth

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestCacheMintsOncePerRefreshToken(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	c := NewCache("test", "client", 0, func() time.Time { return now })
	var mints atomic.Int32
	mint := func(context.Context) (string, time.Duration, error) {
		time.Sleep(10 * time.Millisecond)
		return "tok-" + string(rune('0'+mints.Add(1))), time.Minute, nil
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if tok, err := c.Token(context.Background(), "refresh", "", mint); err != nil || tok != "tok-1" {
				t.Errorf("Token = %q, %v", tok, err)
			}
		})
	}
	wg.Wait()
	if mints.Load() != 1 {
		t.Fatalf("%d mints; want 1", mints.Load())
	}
	// A stale token is never returned again; the one it replaced stays known for scrubbing.
	if tok, _ := c.Token(context.Background(), "refresh", "tok-1", mint); tok != "tok-2" {
		t.Errorf("after stale: %q", tok)
	}
	if m := c.Minted("refresh"); len(m) != 2 || m[0] != "tok-2" || m[1] != "tok-1" {
		t.Errorf("Minted = %q", m)
	}
	now = now.Add(time.Minute)
	if tok, _ := c.Token(context.Background(), "refresh", "", mint); tok != "tok-3" {
		t.Errorf("after renewal time: %q", tok)
	}
	boom := errors.New("boom")
	c.Forget("refresh")
	if _, err := c.Token(context.Background(), "refresh", "", func(context.Context) (string, time.Duration, error) {
		return "", 0, boom
	}); !errors.Is(err, boom) {
		t.Errorf("mint error = %v", err)
	}
}
