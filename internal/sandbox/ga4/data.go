package ga4

import (
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/sandbox/catalog"
	"github.com/omnitrackiq/omnitrackiq/internal/sandbox/kit"
)

// DemoPropertyID is the property of the default configuration.
const DemoPropertyID = "400500600"

// Property is a sandbox GA4 property.
type Property struct {
	// ID is the numeric property id.
	ID string `json:"id"`
	// Name is shown by the admin endpoints only: runReport does not return it.
	Name         string `json:"name"`
	CurrencyCode string `json:"currency_code"`
	// TimeZone is an IANA name; "today" and the history end are computed in it.
	TimeZone string `json:"time_zone"`
}

// DemoProperty is the default property: the demo store's web analytics, USD,
// America/New_York.
func DemoProperty() Property {
	return Property{ID: DemoPropertyID, Name: "Demo Store (sandbox)", CurrencyCode: "USD", TimeZone: "America/New_York"}
}

// Source is one traffic source as GA4 reports it: the session's source, medium and
// campaign name.
type Source struct {
	Source   string `json:"source"`
	Medium   string `json:"medium"`
	Campaign string `json:"campaign"`
	// Channel is the ad channel that pays for the traffic ("" for unpaid traffic).
	Channel string `json:"channel,omitempty"`
}

// profile is what a source's traffic looks like.
type profile struct {
	sessLo, sessHi int64 // sessions on an average day
	cvrLo, cvrHi   int64 // key events per 10,000 sessions
	social         bool  // busier on weekends
	sparse         bool  // a trickle: many days without a session
	weekday        time.Weekday
	spike          int64 // multiplier on weekday (0: none)
}

// sourceWeight scales a paid source's share of its channel's clicks, in percent: Meta's
// in-app browsers tag clicks "facebook" or "ig"; "fb" is a rare legacy tag.
var sourceWeight = map[string]int64{"facebook": 100, "ig": 55, "fb": 3}

// Sources lists the traffic sources of every property in a fixed order: each ad channel's
// campaigns under each of its UTM sources (utm_campaign = the catalog slug), then the
// unpaid sources with the campaign names GA4 gives untagged traffic.
func Sources() []Source {
	var out []Source
	for _, ch := range catalog.AdChannels() {
		for _, src := range ch.UTMSources {
			for _, c := range ch.Campaigns {
				out = append(out, Source{Source: src, Medium: ch.UTMMedium, Campaign: c.UTMCampaign, Channel: ch.Channel})
			}
		}
	}
	for _, u := range catalog.Unpaid {
		out = append(out, Source{Source: u[0], Medium: u[1], Campaign: unpaidCampaign(u[0], u[1])})
	}
	return out
}

// unpaidCampaign is GA4's sessionCampaignName of untagged traffic.
func unpaidCampaign(source, medium string) string {
	switch {
	case source == "(direct)":
		return "(direct)"
	case medium == "organic":
		return "(organic)"
	case medium == "referral":
		return "(referral)"
	}
	return "(not set)"
}

func profileOf(s Source) profile {
	switch {
	case s.Channel == "":
		switch s.Medium {
		case "(none)":
			return profile{sessLo: 350, sessHi: 650, cvrLo: 250, cvrHi: 400}
		case "organic":
			return profile{sessLo: 450, sessHi: 900, cvrLo: 150, cvrHi: 250}
		}
		// The newsletter goes out on Tuesdays.
		return profile{sessLo: 15, sessHi: 40, cvrLo: 300, cvrHi: 550, weekday: time.Tuesday, spike: 8}
	case s.Medium == "paid_social":
		w, ok := sourceWeight[s.Source]
		if !ok {
			w = 60
		}
		if w < 10 {
			return profile{sessLo: 2, sessHi: 6, cvrLo: 80, cvrHi: 200, social: true, sparse: true}
		}
		return profile{sessLo: 80 * w / 100, sessHi: 260 * w / 100, cvrLo: 80, cvrHi: 250, social: true}
	}
	return profile{sessLo: 90, sessHi: 320, cvrLo: 150, cvrHi: 350}
}

// stats is one source-day (or an aggregate). Revenue is in cents.
type stats struct {
	Sessions     int64
	KeyEvents    int64
	RevenueCents int64
}

func (s *stats) add(o stats) {
	s.Sessions += o.Sessions
	s.KeyEvents += o.KeyEvents
	s.RevenueCents += o.RevenueCents
}

func (s stats) zero() bool { return s == stats{} }

// sourceDay is the traffic of one source on one day of a property: a pure function of
// (property id, source, date). Key events are purchases; revenue is their order value.
func sourceDay(propertyID string, src Source, day time.Time) stats {
	p := profileOf(src)
	key := propertyID + "|" + src.Source + "|" + src.Medium + "|" + src.Campaign
	seed := kit.Seed(key)
	base := seed.Between(p.sessLo, p.sessHi)
	cvr := seed.Between(p.cvrLo, p.cvrHi)
	aov := seed.Between(4500, 11000) // cents

	r := kit.Seed(key + "|" + day.Format("2006-01-02"))
	var sessions int64
	if p.sparse {
		sessions = r.Between(0, 2*base) / 2
	} else {
		sessions = base * r.Between(75, 125) / 100
	}
	wd := day.Weekday()
	weekend := wd == time.Saturday || wd == time.Sunday
	switch {
	case p.social && weekend:
		sessions = sessions * 115 / 100
	case weekend:
		sessions = sessions * 90 / 100
	}
	if p.spike > 0 && wd == p.weekday {
		sessions *= p.spike
	}
	keyEvents := (sessions*(cvr+r.Between(-cvr/4, cvr/4)) + r.Between(0, 9_999)) / 10_000
	var revenue int64
	for range keyEvents {
		revenue += max(aov+r.Between(-2_000, 2_000), 500)
	}
	return stats{Sessions: sessions, KeyEvents: keyEvents, RevenueCents: revenue}
}

// restate scales a day by pct percent: sessions and key events stay whole (truncated),
// revenue is rounded half up to whole cents.
func (s stats) restate(pct int) stats {
	if pct == 100 {
		return s
	}
	p := int64(pct)
	return stats{
		Sessions:     s.Sessions * p / 100,
		KeyEvents:    s.KeyEvents * p / 100,
		RevenueCents: (s.RevenueCents*p + 50) / 100,
	}
}

// dayRow is one source on one day.
type dayRow struct {
	date time.Time
	src  Source
	stats
}

// computeDays lists the source-days of [from, to] clipped to [histStart, today], by date
// then Sources order, with restatements (YYYY-MM-DD -> percent) applied, then folds
// (YYYY-MM-DD -> rows kept, see foldDay).
func computeDays(propertyID string, from, to, histStart, today time.Time, restated, folds map[string]int) []dayRow {
	if from.Before(histStart) {
		from = histStart
	}
	if to.After(today) {
		to = today
	}
	srcs := Sources()
	var out []dayRow
	for d := from; !d.After(to); d = d.AddDate(0, 0, 1) {
		pct, isRestated := restated[d.Format("2006-01-02")]
		day := make([]dayRow, 0, len(srcs))
		for _, src := range srcs {
			st := sourceDay(propertyID, src, d)
			if isRestated {
				st = st.restate(pct)
			}
			day = append(day, dayRow{date: d, src: src, stats: st})
		}
		if keep, ok := folds[d.Format("2006-01-02")]; ok {
			day = foldDay(day, keep)
		}
		out = append(out, day...)
	}
	return out
}
