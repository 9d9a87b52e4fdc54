package ga4

import (
	"strings"
	"time"
)

// Quota names of the Data API's propertyQuota.
const (
	QuotaTokensPerDay                          = "tokensPerDay"
	QuotaTokensPerHour                         = "tokensPerHour"
	QuotaConcurrentRequests                    = "concurrentRequests"
	QuotaServerErrorsPerProjectPerHour         = "serverErrorsPerProjectPerHour"
	QuotaPotentiallyThresholdedRequestsPerHour = "potentiallyThresholdedRequestsPerHour"
	QuotaTokensPerProjectPerHour               = "tokensPerProjectPerHour"
)

// quotaStatus is one quota of a propertyQuota: what this request consumed and what is
// left. Both are int32 on the wire (JSON numbers), omitted when zero.
type quotaStatus struct {
	Consumed  int64 `json:"consumed"`
	Remaining int64 `json:"remaining"`
}

// initialQuota is the full size of each quota of a standard property. (Analytics 360
// properties have ten times more; their remaining values then stay above the 10% threshold
// longer, so the connector pauses later, never earlier.)
var initialQuota = map[string]int64{
	QuotaTokensPerDay:                          200_000,
	QuotaTokensPerHour:                         40_000,
	QuotaConcurrentRequests:                    10,
	QuotaServerErrorsPerProjectPerHour:         10,
	QuotaPotentiallyThresholdedRequestsPerHour: 120,
	QuotaTokensPerProjectPerHour:               14_000,
}

// defaultQuotaBackoff is how long to pause when a quota is exhausted or nearly so: the
// backoffs of Airbyte's api_quota.py, and for the hourly and daily token quotas (which
// Airbyte does not handle) until the quota refills: an hour, or until midnight Pacific
// time (quotaBackoff computes that one).
var defaultQuotaBackoff = map[string]time.Duration{
	QuotaConcurrentRequests:                    30 * time.Second,
	QuotaTokensPerProjectPerHour:               1800 * time.Second,
	QuotaPotentiallyThresholdedRequestsPerHour: 1800 * time.Second,
	QuotaServerErrorsPerProjectPerHour:         3600 * time.Second,
	QuotaTokensPerHour:                         time.Hour,
}

// quotaThresholdPercent: at or below this share of a quota left, pause before the next call
// (Airbyte's treshold of 0.1).
const quotaThresholdPercent = 10

// QuotaForMessage names the quota a RESOURCE_EXHAUSTED message is about, or "". The first
// four messages are those Airbyte matches; the hourly and daily token messages have no
// confirmed wording, so they are recognized by "per hour" and "per day".
func QuotaForMessage(msg string) string {
	switch {
	case strings.Contains(msg, "Exhausted concurrent requests quota"):
		return QuotaConcurrentRequests
	case strings.Contains(msg, "Exhausted property tokens for a project per hour"):
		return QuotaTokensPerProjectPerHour
	case strings.Contains(msg, "Exhausted potentially thresholded requests quota"):
		return QuotaPotentiallyThresholdedRequestsPerHour
	case strings.Contains(msg, "Exhausted server errors quota"):
		return QuotaServerErrorsPerProjectPerHour
	}
	lower := strings.ToLower(msg)
	if strings.Contains(lower, "token") {
		switch {
		case strings.Contains(lower, "per day"):
			return QuotaTokensPerDay
		case strings.Contains(lower, "per hour"):
			return QuotaTokensPerHour
		}
	}
	return ""
}

// quotaBackoff is the pause for a quota: Options.QuotaBackoff, else the default.
func (c *Client) quotaBackoff(quota string) time.Duration {
	if d, ok := c.o.QuotaBackoff[quota]; ok && d > 0 {
		return d
	}
	if d, ok := defaultQuotaBackoff[quota]; ok {
		return d
	}
	if quota == QuotaTokensPerDay {
		return untilPacificMidnight(c.o.Now())
	}
	return c.o.DefaultRateLimitBackoff
}

// untilPacificMidnight: daily Data API quotas refill at midnight Pacific time.
func untilPacificMidnight(now time.Time) time.Duration {
	loc, err := time.LoadLocation("America/Los_Angeles")
	if err != nil {
		loc = time.FixedZone("PST", -8*3600)
	}
	t := now.In(loc)
	next := time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, loc)
	return max(next.Sub(now), time.Minute)
}

// quotaWait is the longest backoff among the quotas at or below the threshold, and the
// name of that quota.
func (c *Client) quotaWait(pq map[string]quotaStatus) (time.Duration, string) {
	var wait time.Duration
	var name string
	for q, st := range pq {
		initial, ok := initialQuota[q]
		if !ok || initial <= 0 {
			continue
		}
		if st.Remaining*100 > initial*quotaThresholdPercent {
			continue
		}
		if d := c.quotaBackoff(q); d > wait || (d == wait && q < name) {
			wait, name = d, q
		}
	}
	return wait, name
}
