package shopify

import (
	"errors"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// CallLimitHeader reports the REST leaky bucket as "used/capacity".
const CallLimitHeader = "X-Shopify-Shop-Api-Call-Limit"

// CallLimitThresholdPercent is the bucket fill above which callers should slow down.
const CallLimitThresholdPercent = 80

// CallLimit is the REST leaky bucket of a shop after a call.
type CallLimit struct {
	Used     int
	Capacity int
}

// ParseCallLimit reads X-Shopify-Shop-Api-Call-Limit; ok is false when it is absent or
// malformed.
func ParseCallLimit(h http.Header) (CallLimit, bool) {
	v := strings.TrimSpace(h.Get(CallLimitHeader))
	u, c, found := strings.Cut(v, "/")
	if !found {
		return CallLimit{}, false
	}
	used, err1 := strconv.Atoi(strings.TrimSpace(u))
	capacity, err2 := strconv.Atoi(strings.TrimSpace(c))
	if err1 != nil || err2 != nil || used < 0 || capacity <= 0 {
		return CallLimit{}, false
	}
	return CallLimit{Used: used, Capacity: capacity}, true
}

// Wait is how long to pause before the next call: zero up to 80% of the bucket, else the time
// the bucket needs to leak back to 80% and at least one second. Buckets leak capacity/20 calls
// per second (40 at 2/s on standard shops, 400 at 20/s on Plus).
func (l CallLimit) Wait() time.Duration {
	if l.Capacity <= 0 || l.Used*100 <= l.Capacity*CallLimitThresholdPercent {
		return 0
	}
	excess := float64(l.Used) - float64(l.Capacity)*CallLimitThresholdPercent/100
	leak := max(float64(l.Capacity)/20, 1)
	d := time.Duration(math.Ceil(excess / leak * float64(time.Second)))
	return max(d, time.Second)
}

// ParseRetryAfter reads Retry-After as (possibly fractional) seconds, as Shopify sends it
// ("2.0"), or as an HTTP date.
func ParseRetryAfter(h http.Header) (time.Duration, bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		if f < 0 || math.IsNaN(f) || f > 24*3600 {
			return 0, false
		}
		return time.Duration(f * float64(time.Second)), true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0), true
	}
	return 0, false
}

// NextPageInfo returns the page_info of the Link header's rel="next" URL, "" when there is
// no next page. Only page_info is taken: the host of that URL is not followed and its other
// parameters (limit) are set by the client.
func NextPageInfo(h http.Header) (string, error) {
	for _, v := range h.Values("Link") {
		for _, l := range parseLinks(v) {
			if !hasRel(l.params, "next") {
				continue
			}
			u, err := url.Parse(l.target)
			if err != nil {
				return "", errors.New("malformed Link next URL")
			}
			pi := u.Query().Get("page_info")
			if pi == "" {
				return "", errors.New("Link next URL without page_info")
			}
			return pi, nil
		}
	}
	return "", nil
}

type link struct {
	target string
	params []string
}

// parseLinks splits an RFC 8288 Link value. URLs are delimited by <>, so commas inside them
// (fields=id,name) do not split links.
func parseLinks(v string) []link {
	var out []link
	for {
		open := strings.IndexByte(v, '<')
		if open < 0 {
			return out
		}
		end := strings.IndexByte(v[open:], '>')
		if end < 0 {
			return out
		}
		l := link{target: v[open+1 : open+end]}
		v = v[open+end+1:]
		rest := v
		if next := strings.IndexByte(v, '<'); next >= 0 {
			rest = v[:next]
		}
		for _, p := range strings.Split(rest, ";") {
			if p = strings.Trim(strings.TrimSpace(p), ","); p != "" {
				l.params = append(l.params, strings.TrimSpace(p))
			}
		}
		out = append(out, l)
	}
}

// hasRel reports whether params contain rel="...rel..." (the value may list several).
func hasRel(params []string, rel string) bool {
	for _, p := range params {
		k, v, ok := strings.Cut(p, "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), "rel") {
			continue
		}
		for _, r := range strings.Fields(strings.Trim(strings.TrimSpace(v), `"`)) {
			if strings.EqualFold(r, rel) {
				return true
			}
		}
	}
	return false
}
