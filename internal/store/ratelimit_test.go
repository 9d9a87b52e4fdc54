package store_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/store"
	"github.com/omnitrackiq/omnitrackiq/internal/testdb"
)

// Two Stores on one database are two API replicas: their hits add up in one count.
func TestRateLimitAcrossReplicas(t *testing.T) {
	ctx := context.Background()
	a, dbURL := testdb.New(t)
	b, err := store.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	const n = 20
	var wg sync.WaitGroup
	counts := make(chan int, 2*n)
	for i := range 2 * n {
		st := a
		if i%2 == 1 {
			st = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := st.RateHit(ctx, "login:ip:10.0.0.1", time.Hour)
			if err != nil {
				t.Error(err)
				return
			}
			if c.ResetIn <= 0 || c.ResetIn > time.Hour {
				t.Errorf("ResetIn = %s", c.ResetIn)
			}
			counts <- c.Hits
		}()
	}
	wg.Wait()
	close(counts)
	// Every hit got its own number: none was lost to a race between the replicas.
	seen := map[int]bool{}
	for h := range counts {
		if seen[h] {
			t.Errorf("count %d returned twice", h)
		}
		seen[h] = true
	}
	for i := 1; i <= 2*n; i++ {
		if !seen[i] {
			t.Errorf("count %d never returned", i)
		}
	}
	for _, st := range []*store.Store{a, b} {
		c, err := st.RatePeek(ctx, "login:ip:10.0.0.1", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if c.Hits != 2*n {
			t.Errorf("peek = %d, want %d", c.Hits, 2*n)
		}
	}
	// Peeking adds nothing; another bucket is counted apart.
	if c, _ := a.RatePeek(ctx, "login:ip:10.0.0.1", time.Hour); c.Hits != 2*n {
		t.Errorf("peek after peek = %d", c.Hits)
	}
	if c, _ := b.RateHit(ctx, "login:ip:10.0.0.2", time.Hour); c.Hits != 1 {
		t.Errorf("other bucket = %d, want 1", c.Hits)
	}
	if c, _ := b.RatePeek(ctx, "nobody", time.Hour); c.Hits != 0 {
		t.Errorf("unknown bucket = %d, want 0", c.Hits)
	}
}

func TestRateLimitWindows(t *testing.T) {
	ctx := context.Background()
	st, _ := testdb.New(t)
	// A window from two days ago is pruned once new windows start (pruning is random, so
	// keep starting windows until it happens).
	if _, err := st.Pool.Exec(ctx, `INSERT INTO rate_limits (bucket, window_start, hits) VALUES ('old', now() - interval '2 days', 5)`); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		var n int
		if err := st.Pool.QueryRow(ctx, `SELECT count(*) FROM rate_limits WHERE bucket = 'old'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if i > 2000 {
			t.Fatal("old window never pruned")
		}
		// A one-second window starts anew every second; distinct buckets start new windows now.
		if _, err := st.RateHit(ctx, "new:"+time.Now().Format(time.RFC3339Nano), time.Second); err != nil {
			t.Fatal(err)
		}
	}
	// A window ends: after it, the count starts again.
	if _, err := st.RateHit(ctx, "short", time.Second); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		c, err := st.RateHit(ctx, "short", time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if c.Hits == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("one-second window never ended")
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, per := range []time.Duration{0, -time.Second, 25 * time.Hour} {
		if _, err := st.RateHit(ctx, "x", per); err == nil {
			t.Errorf("window %s accepted", per)
		}
	}
}
