package store

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// RateCount is a bucket's count in its current window and how long until the window ends.
type RateCount struct {
	Hits    int
	ResetIn time.Duration
}

// rateWindowStart is the start of the fixed window of $2 seconds holding the database's now().
// The database clock decides, so every API replica agrees on the window whatever its own clock.
const rateWindowStart = `to_timestamp(floor(extract(epoch FROM now())::float8 / $2::float8) * $2::float8)`

// rateRetention is how long old windows are kept before pruning; no window may be longer.
const rateRetention = 24 * time.Hour

// RateHit counts one hit against bucket in the current fixed window of length per and
// returns the count including it. The upsert is atomic, so concurrent replicas never lose a
// hit. Now and then a new window also prunes windows older than a day.
func (s *Store) RateHit(ctx context.Context, bucket string, per time.Duration) (RateCount, error) {
	if per <= 0 || per > rateRetention {
		return RateCount{}, fmt.Errorf("rate limit %s: window %s is not within (0, %s]", bucket, per, rateRetention)
	}
	var c RateCount
	var resetSecs float64
	err := s.ctl().QueryRow(ctx, `
		INSERT INTO rate_limits AS r (bucket, window_start, hits) VALUES ($1, `+rateWindowStart+`, 1)
		ON CONFLICT (bucket, window_start) DO UPDATE SET hits = r.hits + 1
		RETURNING hits, extract(epoch FROM r.window_start + make_interval(secs => $2::float8) - now())::float8`,
		bucket, per.Seconds()).Scan(&c.Hits, &resetSecs)
	if err != nil {
		return RateCount{}, fmt.Errorf("rate limit %s: count hit: %w", bucket, err)
	}
	c.ResetIn = secs(resetSecs)
	// Pruning on a small share of new windows keeps the table bounded without a job.
	if c.Hits == 1 && rand.IntN(32) == 0 {
		if _, err := s.ctl().Exec(ctx, `DELETE FROM rate_limits WHERE window_start < now() - make_interval(secs => $1::float8)`,
			rateRetention.Seconds()); err != nil {
			return RateCount{}, fmt.Errorf("rate limit: prune old windows: %w", err)
		}
	}
	return c, nil
}

// RatePeek returns the bucket's count in the current window without adding a hit.
func (s *Store) RatePeek(ctx context.Context, bucket string, per time.Duration) (RateCount, error) {
	if per <= 0 || per > rateRetention {
		return RateCount{}, fmt.Errorf("rate limit %s: window %s is not within (0, %s]", bucket, per, rateRetention)
	}
	var c RateCount
	var resetSecs float64
	err := s.ctl().QueryRow(ctx, `
		SELECT coalesce((SELECT hits FROM rate_limits WHERE bucket = $1 AND window_start = `+rateWindowStart+`), 0),
			extract(epoch FROM `+rateWindowStart+` + make_interval(secs => $2::float8) - now())::float8`,
		bucket, per.Seconds()).Scan(&c.Hits, &resetSecs)
	if err != nil {
		return RateCount{}, fmt.Errorf("rate limit %s: read count: %w", bucket, err)
	}
	c.ResetIn = secs(resetSecs)
	return c, nil
}

func secs(f float64) time.Duration {
	return time.Duration(math.Max(f, 0) * float64(time.Second))
}
