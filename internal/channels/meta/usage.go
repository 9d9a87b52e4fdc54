package meta

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Usage headers Meta attaches to Graph API responses, each a JSON string.
var usageHeaders = []string{
	"X-App-Usage",
	"X-Ad-Account-Usage",
	"X-Business-Use-Case-Usage",
	"X-Fb-Ads-Insights-Throttle",
}

// usagePercentKeys are the keys of the usage headers that hold a percent of a quota.
var usagePercentKeys = map[string]bool{
	"call_count":      true,
	"total_time":      true,
	"total_cputime":   true,
	"acc_id_util_pct": true,
	"app_id_util_pct": true,
}

// UsageThresholdPercent is the usage above which callers should pause.
const UsageThresholdPercent = 95

// Usage is what the usage headers of one response say.
type Usage struct {
	// MaxPercent is the highest usage percent in any header.
	MaxPercent float64
	// RegainAccess is the highest estimated_time_to_regain_access (sent in minutes).
	RegainAccess time.Duration
}

// ParseUsage reads x-app-usage, x-ad-account-usage, x-business-use-case-usage and
// x-fb-ads-insights-throttle. Missing or malformed headers count as zero usage.
func ParseUsage(h http.Header) Usage {
	var u Usage
	for _, name := range usageHeaders {
		for _, v := range h.Values(name) {
			dec := json.NewDecoder(strings.NewReader(v))
			dec.UseNumber()
			var doc any
			if dec.Decode(&doc) != nil {
				continue
			}
			u.walk(doc)
		}
	}
	return u
}

func (u *Usage) walk(v any) {
	switch t := v.(type) {
	case map[string]any:
		for k, child := range t {
			switch {
			case usagePercentKeys[k]:
				if f, ok := number(child); ok && f > u.MaxPercent {
					u.MaxPercent = f
				}
			case k == "estimated_time_to_regain_access":
				if f, ok := number(child); ok && f > 0 {
					if d := time.Duration(f * float64(time.Minute)); d > u.RegainAccess {
						u.RegainAccess = d
					}
				}
			default:
				u.walk(child)
			}
		}
	case []any:
		for _, child := range t {
			u.walk(child)
		}
	}
}

func number(v any) (float64, bool) {
	var s string
	switch t := v.(type) {
	case json.Number:
		s = string(t)
	case string:
		s = t
	default:
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil
}

// Wait is how long to pause before the next call: zero while usage is at most 95% and no
// estimate is given, else the estimate with a floor of one minute (as Airbyte does).
func (u Usage) Wait() time.Duration {
	if u.MaxPercent <= UsageThresholdPercent && u.RegainAccess <= 0 {
		return 0
	}
	return max(u.RegainAccess, time.Minute)
}
