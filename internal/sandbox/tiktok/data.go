package tiktok

import (
	"fmt"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/money"
	"github.com/omnitrackiq/omnitrackiq/internal/sandbox/catalog"
	"github.com/omnitrackiq/omnitrackiq/internal/sandbox/kit"
)

// DemoAdvertiserID is the advertiser of the default configuration.
const DemoAdvertiserID = "7000000000000000001"

// Advertiser is a sandbox TikTok ad account and its campaign tree.
type Advertiser struct {
	// ID is the advertiser id, digits.
	ID       string `json:"advertiser_id"`
	Name     string `json:"name"`
	Currency string `json:"currency"`
	// Timezone is an IANA name (advertiser/info/ display_timezone); "today" and the history
	// end are computed in it, and stat_time_day is a day in it.
	Timezone  string     `json:"display_timezone"`
	Campaigns []Campaign `json:"campaigns"`
}

// Campaign is a sandbox campaign.
type Campaign struct {
	ID       string    `json:"campaign_id"`
	Name     string    `json:"campaign_name"`
	AdGroups []AdGroup `json:"adgroups"`
}

// AdGroup is a sandbox ad group (TikTok's ad set).
type AdGroup struct {
	ID   string `json:"adgroup_id"`
	Name string `json:"adgroup_name"`
	Ads  []Ad   `json:"ads"`
}

// Ad is a sandbox ad: the unit whose daily delivery is generated.
type Ad struct {
	ID   string `json:"ad_id"`
	Name string `json:"ad_name"`
}

// DemoAdvertiser is the default advertiser: "Demo Store (sandbox)", USD, America/New_York,
// running the catalog's TikTok campaigns with 2 ad groups of 2 ads each.
func DemoAdvertiser() Advertiser {
	adGroups := map[string][2]string{
		"TikTok - Spark Ads":   {"Creator Posts", "Brand Posts"},
		"TikTok - Prospecting": {"Broad - US 18-44", "Interest - Home & Lifestyle"},
	}
	ads := [2]string{"Hook A - Unboxing 15s", "Hook B - Review 30s"}
	a := Advertiser{ID: DemoAdvertiserID, Name: "Demo Store (sandbox)", Currency: "USD", Timezone: "America/New_York"}
	for _, ch := range catalog.AdChannels() {
		if ch.Channel != "tiktok" {
			continue
		}
		for _, c := range ch.Campaigns {
			camp := Campaign{Name: c.Name}
			groups, ok := adGroups[c.Name]
			if !ok {
				groups = [2]string{"Ad group 1", "Ad group 2"}
			}
			for _, g := range groups {
				ag := AdGroup{Name: c.Name + " / " + g}
				for _, ad := range ads {
					ag.Ads = append(ag.Ads, Ad{Name: ad})
				}
				camp.AdGroups = append(camp.AdGroups, ag)
			}
			a.Campaigns = append(a.Campaigns, camp)
		}
	}
	return fillIDs(a)
}

// genericTree is the tree of an advertiser configured without one.
func genericTree() []Campaign {
	var cs []Campaign
	for c := 1; c <= 2; c++ {
		camp := Campaign{Name: fmt.Sprintf("Campaign %d", c)}
		for g := 1; g <= 2; g++ {
			ag := AdGroup{Name: fmt.Sprintf("Campaign %d / Ad group %d", c, g)}
			for a := 1; a <= 2; a++ {
				ag.Ads = append(ag.Ads, Ad{Name: fmt.Sprintf("Ad %d.%d.%d", c, g, a)})
			}
			camp.AdGroups = append(camp.AdGroups, ag)
		}
		cs = append(cs, camp)
	}
	return cs
}

// fillIDs gives every object without an id a 16-digit one (TikTok's shape, "17..."), derived
// from the advertiser id, the object kind (1 campaign, 2 ad group, 3 ad) and its position, so
// ids are stable across restarts.
func fillIDs(a Advertiser) Advertiser {
	base := kit.Hash64(a.ID) % 100_000_000
	id := func(kind, seq int) string { return fmt.Sprintf("17%08d%d%05d", base, kind, seq) }
	var nc, ng, na int
	cs := make([]Campaign, len(a.Campaigns))
	for i, c := range a.Campaigns {
		nc++
		if c.ID == "" {
			c.ID = id(1, nc)
		}
		groups := make([]AdGroup, len(c.AdGroups))
		for j, g := range c.AdGroups {
			ng++
			if g.ID == "" {
				g.ID = id(2, ng)
			}
			ads := make([]Ad, len(g.Ads))
			for k, ad := range g.Ads {
				na++
				if ad.ID == "" {
					ad.ID = id(3, na)
				}
				ads[k] = ad
			}
			g.Ads = ads
			groups[j] = g
		}
		c.AdGroups = groups
		cs[i] = c
	}
	a.Campaigns = cs
	return a
}

// stats is one ad-day (or an aggregate). Money and conversion counts are micros.
type stats struct {
	SpendMicros int64
	Impressions int64
	Clicks      int64
	// ConversionsMicros counts the optimization event, Complete Payment for the demo store,
	// so it is also the complete_payment count.
	ConversionsMicros int64
	// PaymentValueMicros is total_complete_payment_rate, the value of those payments.
	PaymentValueMicros int64
}

func (s *stats) add(o stats) {
	s.SpendMicros += o.SpendMicros
	s.Impressions += o.Impressions
	s.Clicks += o.Clicks
	s.ConversionsMicros += o.ConversionsMicros
	s.PaymentValueMicros += o.PaymentValueMicros
}

const centMicros = 10_000

// adDay is the delivery of one ad on one day: a pure function of (ad id, date). Spend is a
// whole number of cents; payments are whole, and small ads have days without any.
func adDay(adID string, day time.Time) stats {
	seed := kit.Seed("tiktok|" + adID)
	scale := seed.Between(30, 200)   // percent: how big this ad is
	base := seed.Between(2000, 9000) // impressions on an average day
	cpm := seed.Between(400, 1000)   // cents per thousand impressions
	ctr := seed.Between(60, 160)     // basis points
	aovBase := seed.Between(35, 80)  // dollars per order
	cvrBase := seed.Between(80, 300) // basis points of clicks

	r := kit.Seed(adID + "|" + day.Format("2006-01-02"))
	impr := base * scale / 100 * r.Between(70, 130) / 100
	if wd := day.Weekday(); wd == time.Friday || wd == time.Saturday || wd == time.Sunday {
		impr = impr * 120 / 100
	}
	impr = max(impr, 1)
	cpmCents := cpm + r.Between(-100, 100)
	spendCents := max((impr*cpmCents+500)/1000, 1)
	clicks := impr * (ctr + r.Between(0, 40)) / 10_000
	payments := clicks * (cvrBase + r.Between(0, 120)) / 10_000
	aovCents := aovBase*100 + r.Between(-1000, 1000)
	return stats{
		SpendMicros:        spendCents * centMicros,
		Impressions:        impr,
		Clicks:             clicks,
		ConversionsMicros:  payments * money.MicrosPerUnit,
		PaymentValueMicros: payments * aovCents * centMicros,
	}
}

// restate scales spend, conversions and payment value by pct percent. Money is rounded half
// up to whole cents; counts stay exact in micros (an integer count times pct/100).
func (s stats) restate(pct int) stats {
	if pct == 100 {
		return s
	}
	p := int64(pct)
	cents := func(v int64) int64 { return (v*p + 50*centMicros) / (100 * centMicros) * centMicros }
	s.SpendMicros = cents(s.SpendMicros)
	s.PaymentValueMicros = cents(s.PaymentValueMicros)
	s.ConversionsMicros = s.ConversionsMicros * p / 100
	return s
}

// Data levels of the BASIC report, coarsest first.
const (
	levelAdvertiser = "AUCTION_ADVERTISER"
	levelCampaign   = "AUCTION_CAMPAIGN"
	levelAdGroup    = "AUCTION_ADGROUP"
	levelAd         = "AUCTION_AD"
)

// levelRank orders data levels; -1 is not a level.
func levelRank(level string) int {
	switch level {
	case levelAdvertiser:
		return 0
	case levelCampaign:
		return 1
	case levelAdGroup:
		return 2
	case levelAd:
		return 3
	}
	return -1
}

// idDimension is the id dimension a data level's report must be grouped by.
func idDimension(level string) string {
	switch level {
	case levelAdvertiser:
		return "advertiser_id"
	case levelCampaign:
		return "campaign_id"
	case levelAdGroup:
		return "adgroup_id"
	}
	return "ad_id"
}

// aggRow is one row of a daily report: one object of the level on one day.
type aggRow struct {
	day      time.Time
	campaign *Campaign
	adGroup  *AdGroup
	ad       *Ad
	stats
}

// computeRows aggregates the ad-days of [since, until] clipped to the history [histStart,
// today] at a data level, in a deterministic order: by day, then the campaign tree order.
// restated maps YYYY-MM-DD to a factor percent.
func computeRows(a *Advertiser, level string, since, until, histStart, today time.Time, restated map[string]int) []aggRow {
	from, to := since, until
	if from.Before(histStart) {
		from = histStart
	}
	if to.After(today) {
		to = today
	}
	rank := levelRank(level)
	var rows []aggRow
	for d := from; !d.After(to); d = d.AddDate(0, 0, 1) {
		pct, isRestated := restated[d.Format("2006-01-02")]
		index := map[string]int{}
		for ci := range a.Campaigns {
			c := &a.Campaigns[ci]
			for gi := range c.AdGroups {
				g := &c.AdGroups[gi]
				for ai := range g.Ads {
					ad := &g.Ads[ai]
					st := adDay(ad.ID, d)
					if isRestated {
						st = st.restate(pct)
					}
					key := []string{a.ID, c.ID, g.ID, ad.ID}[rank]
					i, ok := index[key]
					if !ok {
						i = len(rows)
						index[key] = i
						rows = append(rows, aggRow{day: d, campaign: c, adGroup: g, ad: ad})
					}
					rows[i].add(st)
				}
			}
		}
	}
	return rows
}
