package ga4

import "time"

// Quota names and the sizes of a standard property's quotas.
const (
	QuotaTokensPerDay                          = "tokensPerDay"
	QuotaTokensPerHour                         = "tokensPerHour"
	QuotaConcurrentRequests                    = "concurrentRequests"
	QuotaServerErrorsPerProjectPerHour         = "serverErrorsPerProjectPerHour"
	QuotaPotentiallyThresholdedRequestsPerHour = "potentiallyThresholdedRequestsPerHour"
	QuotaTokensPerProjectPerHour               = "tokensPerProjectPerHour"
)

var quotaSize = map[string]int64{
	QuotaTokensPerDay:                          200_000,
	QuotaTokensPerHour:                         40_000,
	QuotaConcurrentRequests:                    10,
	QuotaServerErrorsPerProjectPerHour:         10,
	QuotaPotentiallyThresholdedRequestsPerHour: 120,
	QuotaTokensPerProjectPerHour:               14_000,
}

// quotaMessages are the RESOURCE_EXHAUSTED messages of each quota: the first four as
// Airbyte matches them; the hourly and daily token wording is the sandbox's own.
var quotaMessages = map[string]string{
	QuotaConcurrentRequests:                    "Exhausted concurrent requests quota.",
	QuotaTokensPerProjectPerHour:               "Exhausted property tokens for a project per hour.",
	QuotaPotentiallyThresholdedRequestsPerHour: "Exhausted potentially thresholded requests quota.",
	QuotaServerErrorsPerProjectPerHour:         "Exhausted server errors quota.",
	QuotaTokensPerHour:                         "Exhausted property tokens per hour.",
	QuotaTokensPerDay:                          "Exhausted property tokens per day.",
}

// quotaStatus is one quota of propertyQuota. Zero values are omitted, as proto3 JSON does.
type quotaStatus struct {
	Consumed  int64 `json:"consumed,omitempty"`
	Remaining int64 `json:"remaining,omitempty"`
}

type propertyQuota struct {
	TokensPerDay                          quotaStatus `json:"tokensPerDay"`
	TokensPerHour                         quotaStatus `json:"tokensPerHour"`
	ConcurrentRequests                    quotaStatus `json:"concurrentRequests"`
	ServerErrorsPerProjectPerHour         quotaStatus `json:"serverErrorsPerProjectPerHour"`
	PotentiallyThresholdedRequestsPerHour quotaStatus `json:"potentiallyThresholdedRequestsPerHour"`
	TokensPerProjectPerHour               quotaStatus `json:"tokensPerProjectPerHour"`
}

// usage is a property's token and server-error use in the current hour and day. The
// sandbox reports it but never enforces it (a long-lived dev sandbox would otherwise stall
// test runs); the low_quota and rate_limit faults exercise the limits.
type usage struct {
	hour         time.Time
	hourTokens   int64
	serverErrors int64
	day          string
	dayTokens    int64
}

// roll starts a new hour or day when the clock has moved on. Daily quotas refill at
// midnight Pacific time.
func (u *usage) roll(now time.Time) {
	if h := now.UTC().Truncate(time.Hour); !h.Equal(u.hour) {
		u.hour, u.hourTokens, u.serverErrors = h, 0, 0
	}
	if d := now.In(pacific()).Format(dateLayout); d != u.day {
		u.day, u.dayTokens = d, 0
	}
}

func pacific() *time.Location {
	loc, err := time.LoadLocation("America/Los_Angeles")
	if err != nil {
		return time.FixedZone("PST", -8*3600)
	}
	return loc
}

func (s *Server) usageOf(p *property, now time.Time) *usage {
	u := s.usage[p.ID]
	if u == nil {
		u = &usage{}
		s.usage[p.ID] = u
	}
	u.roll(now)
	return u
}

func (s *Server) countServerError(p *property, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.usageOf(p, now).serverErrors++
}

// consume charges a request's tokens and returns the property's quota state after it.
func (s *Server) consume(p *property, tokens int64, now time.Time) *propertyQuota {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.usageOf(p, now)
	u.hourTokens += tokens
	u.dayTokens += tokens
	left := func(name string, used int64) int64 { return max(quotaSize[name]-used, 0) }
	pq := &propertyQuota{
		TokensPerDay:                          quotaStatus{tokens, left(QuotaTokensPerDay, u.dayTokens)},
		TokensPerHour:                         quotaStatus{tokens, left(QuotaTokensPerHour, u.hourTokens)},
		ConcurrentRequests:                    quotaStatus{0, quotaSize[QuotaConcurrentRequests]},
		ServerErrorsPerProjectPerHour:         quotaStatus{0, left(QuotaServerErrorsPerProjectPerHour, u.serverErrors)},
		PotentiallyThresholdedRequestsPerHour: quotaStatus{0, quotaSize[QuotaPotentiallyThresholdedRequestsPerHour]},
		TokensPerProjectPerHour:               quotaStatus{tokens, left(QuotaTokensPerProjectPerHour, u.hourTokens)},
	}
	if low := s.faults.LowQuota; low != "" {
		remaining := quotaSize[low] * 5 / 100
		switch low {
		case QuotaTokensPerDay:
			pq.TokensPerDay.Remaining = remaining
		case QuotaTokensPerHour:
			pq.TokensPerHour.Remaining = remaining
		case QuotaConcurrentRequests:
			pq.ConcurrentRequests.Remaining = remaining
		case QuotaServerErrorsPerProjectPerHour:
			pq.ServerErrorsPerProjectPerHour.Remaining = remaining
		case QuotaPotentiallyThresholdedRequestsPerHour:
			pq.PotentiallyThresholdedRequestsPerHour.Remaining = remaining
		case QuotaTokensPerProjectPerHour:
			pq.TokensPerProjectPerHour.Remaining = remaining
		}
	}
	return pq
}
