package kit

import "hash/fnv"

// Hash64 is the FNV-1a hash of s. Sandboxes derive ids and generated data from it, so the
// same names give the same data on every run and machine.
func Hash64(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

// RNG is splitmix64: a tiny deterministic generator. Seeding it from a Hash64 of what a value
// describes (an ad and a day) makes generated data a pure function of it, with no state.
type RNG uint64

// Seed is an RNG seeded with Hash64(s).
func Seed(s string) RNG { return RNG(Hash64(s)) }

// Next returns the next value.
func (r *RNG) Next() uint64 {
	*r += 0x9e3779b97f4a7c15
	z := uint64(*r)
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// Between returns a value in [lo, hi].
func (r *RNG) Between(lo, hi int64) int64 { return lo + int64(r.Next()%uint64(hi-lo+1)) }

// Percent reports true p times in 100.
func (r *RNG) Percent(p uint64) bool { return r.Next()%100 < p }
