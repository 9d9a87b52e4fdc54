package meta

import (
	"fmt"
	"math/big"
	"strconv"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/money"
	"github.com/omnitrackiq/omnitrackiq/internal/sandbox/kit"
)

// DemoAccountID is the ad account of the default configuration.
const DemoAccountID = "100200300"

// Account is a sandbox ad account and its campaign tree.
type Account struct {
	// ID is the account id in digits, without "act_".
	ID       string `json:"id"`
	Name     string `json:"name"`
	Currency string `json:"currency"`
	// Timezone is an IANA name; "today" and the history end are computed in it.
	Timezone string `json:"timezone_name"`
	// Campaigns is the tree; when empty, New generates 3 campaigns x 2 ad sets x 2 ads.
	// Empty IDs are filled in deterministically from the account id.
	Campaigns []Campaign `json:"campaigns"`
}

// Campaign is a sandbox campaign.
type Campaign struct {
	ID     string  `json:"id"`
	Name   string  `json:"name"`
	AdSets []AdSet `json:"adsets"`
}

// AdSet is a sandbox ad set.
type AdSet struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Ads  []Ad   `json:"ads"`
}

// Ad is a sandbox ad: the unit whose daily delivery is generated.
type Ad struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Status is the ad's effective status at start: ACTIVE (when empty), PAUSED, ARCHIVED
	// or DELETED; SetAdStatus changes it later.
	Status string `json:"effective_status,omitempty"`
}

// DemoAccount is the default account: "Demo Store (sandbox)", USD, America/New_York, with
// 3 campaigns of 2 ad sets of 2 ads each (12 ads).
func DemoAccount() Account {
	tree := []struct {
		name   string
		adsets [2]string
		ads    [2]string
	}{
		{"Prospecting - Broad", [2]string{"Broad - US 18-65", "Lookalike 1% - Purchasers"}, [2]string{"Video - Hero 15s", "Carousel - Bestsellers"}},
		{"Retargeting - 30d", [2]string{"Site Visitors 30d", "Add to Cart 14d"}, [2]string{"Dynamic Product Ad", "Static - 10% Off"}},
		{"Brand Awareness", [2]string{"Reach - US", "Video Views - US"}, [2]string{"Brand Film 30s", "Founder Story"}},
	}
	a := Account{ID: DemoAccountID, Name: "Demo Store (sandbox)", Currency: "USD", Timezone: "America/New_York"}
	for _, c := range tree {
		camp := Campaign{Name: c.name}
		for _, as := range c.adsets {
			set := AdSet{Name: c.name + " / " + as}
			for _, ad := range c.ads {
				set.Ads = append(set.Ads, Ad{Name: ad})
			}
			camp.AdSets = append(camp.AdSets, set)
		}
		a.Campaigns = append(a.Campaigns, camp)
	}
	return fillIDs(a)
}

// genericTree is the tree of an account configured without one.
func genericTree() []Campaign {
	var cs []Campaign
	for c := 1; c <= 3; c++ {
		camp := Campaign{Name: fmt.Sprintf("Campaign %d", c)}
		for s := 1; s <= 2; s++ {
			set := AdSet{Name: fmt.Sprintf("Campaign %d / Ad set %d", c, s)}
			for a := 1; a <= 2; a++ {
				set.Ads = append(set.Ads, Ad{Name: fmt.Sprintf("Ad %d.%d.%d", c, s, a)})
			}
			camp.AdSets = append(camp.AdSets, set)
		}
		cs = append(cs, camp)
	}
	return cs
}

// fillIDs gives every unnamed object a 16-digit id derived from the account id, the object
// kind (1 campaign, 2 ad set, 3 ad) and its position, so ids are stable across restarts.
func fillIDs(a Account) Account {
	base := kit.Hash64(a.ID) % 100_000_000
	id := func(kind, seq int) string { return fmt.Sprintf("238%08d%d%04d", base, kind, seq) }
	var nc, ns, na int
	cs := make([]Campaign, len(a.Campaigns))
	for i, c := range a.Campaigns {
		nc++
		if c.ID == "" {
			c.ID = id(1, nc)
		}
		sets := make([]AdSet, len(c.AdSets))
		for j, s := range c.AdSets {
			ns++
			if s.ID == "" {
				s.ID = id(2, ns)
			}
			ads := make([]Ad, len(s.Ads))
			for k, ad := range s.Ads {
				na++
				if ad.ID == "" {
					ad.ID = id(3, na)
				}
				ads[k] = ad
			}
			s.Ads = ads
			sets[j] = s
		}
		c.AdSets = sets
		cs[i] = c
	}
	a.Campaigns = cs
	return a
}

// stats is one ad-day (or an aggregate). Money and conversion counts are micros.
type stats struct {
	SpendMicros             int64
	Impressions             int64
	Clicks                  int64
	LinkClicks              int64
	PurchasesMicros         int64
	PurchaseValueMicros     int64
	OmniPurchasesMicros     int64
	OmniPurchaseValueMicros int64
}

func (s *stats) add(o stats) {
	s.SpendMicros += o.SpendMicros
	s.Impressions += o.Impressions
	s.Clicks += o.Clicks
	s.LinkClicks += o.LinkClicks
	s.PurchasesMicros += o.PurchasesMicros
	s.PurchaseValueMicros += o.PurchaseValueMicros
	s.OmniPurchasesMicros += o.OmniPurchasesMicros
	s.OmniPurchaseValueMicros += o.OmniPurchaseValueMicros
}

const centMicros = 10_000

// adDay is the delivery of one ad on one day: a pure function of (ad id, date).
// Spend is a whole number of cents; purchases are whole; omni_purchase counts the same
// purchases plus sometimes one more (other surfaces), as Meta's omni_ metrics do.
func adDay(adID string, day time.Time) stats {
	seed := kit.Seed(adID)
	scale := seed.Between(50, 200)    // percent: how big this ad is
	base := seed.Between(1500, 7500)  // impressions on an average day
	cpm := seed.Between(500, 1500)    // cents per thousand impressions
	ctr := seed.Between(50, 250)      // basis points
	aovBase := seed.Between(40, 120)  // dollars per order
	cvrBase := seed.Between(100, 450) // basis points of clicks

	r := kit.Seed(adID + "|" + day.Format("2006-01-02"))
	impr := base * scale / 100 * r.Between(70, 130) / 100
	if wd := day.Weekday(); wd == time.Saturday || wd == time.Sunday {
		impr = impr * 115 / 100
	}
	impr = max(impr, 1)
	cpmCents := cpm + r.Between(-150, 150)
	spendCents := max((impr*cpmCents+500)/1000, 1)
	clicks := impr * (ctr + r.Between(0, 50)) / 10_000
	linkClicks := clicks * r.Between(70, 95) / 100
	purchases := clicks * (cvrBase + r.Between(0, 150)) / 10_000
	aovCents := aovBase*100 + r.Between(-1500, 1500)
	extra := int64(0)
	if purchases > 0 && r.Next()%3 == 0 {
		extra = 1
	}
	return stats{
		SpendMicros:             spendCents * centMicros,
		Impressions:             impr,
		Clicks:                  clicks,
		LinkClicks:              linkClicks,
		PurchasesMicros:         purchases * money.MicrosPerUnit,
		PurchaseValueMicros:     purchases * aovCents * centMicros,
		OmniPurchasesMicros:     (purchases + extra) * money.MicrosPerUnit,
		OmniPurchaseValueMicros: (purchases + extra) * aovCents * centMicros,
	}
}

// restate scales spend and purchases (counts and values) by pct percent. Money is rounded
// half up to whole cents; counts stay exact in micros (an integer count times pct/100).
func (s stats) restate(pct int) stats {
	if pct == 100 {
		return s
	}
	p := int64(pct)
	cents := func(v int64) int64 { return (v*p + 50*centMicros) / (100 * centMicros) * centMicros }
	s.SpendMicros = cents(s.SpendMicros)
	s.PurchaseValueMicros = cents(s.PurchaseValueMicros)
	s.OmniPurchaseValueMicros = cents(s.OmniPurchaseValueMicros)
	s.PurchasesMicros = s.PurchasesMicros * p / 100
	s.OmniPurchasesMicros = s.OmniPurchasesMicros * p / 100
	return s
}

// Levels of the insights API.
const (
	levelAccount  = "account"
	levelCampaign = "campaign"
	levelAdSet    = "adset"
	levelAd       = "ad"
)

func levelRank(level string) int {
	switch level {
	case levelCampaign:
		return 1
	case levelAdSet:
		return 2
	case levelAd:
		return 3
	}
	return 0
}

// aggRow is one row of a report: one object of the level over one time bucket.
type aggRow struct {
	start, stop time.Time
	campaign    *Campaign
	adset       *AdSet
	ad          *Ad
	stats
}

// reportSpec is what a report computes.
type reportSpec struct {
	level string
	since time.Time // UTC midnight
	until time.Time
	// incr is the time_increment in days; 0 means all_days.
	incr int
	// keep is the filter on ad.effective_status; nil keeps Meta's default.
	keep statusFilter
}

// computeRows aggregates ad-days of [since, until] clipped to the account's history
// [histStart, today] at the spec's level, in a deterministic order: by time bucket, then
// the campaign tree order. restated maps YYYY-MM-DD to a spend factor percent; the ads in
// hidden are left out, as Meta leaves out ads whose status the report's filter excludes.
func computeRows(a *Account, spec reportSpec, histStart, today time.Time, restated map[string]int, hidden map[string]bool) []aggRow {
	from, to := spec.since, spec.until
	if from.Before(histStart) {
		from = histStart
	}
	if to.After(today) {
		to = today
	}
	var rows []aggRow
	index := map[[2]string]int{}
	for d := from; !d.After(to); d = d.AddDate(0, 0, 1) {
		bucket, bStart, bStop := 0, spec.since, spec.until
		if spec.incr > 0 {
			bucket = int(d.Sub(spec.since).Hours()/24) / spec.incr
			bStart = spec.since.AddDate(0, 0, bucket*spec.incr)
			bStop = bStart.AddDate(0, 0, spec.incr-1)
			if bStop.After(spec.until) {
				bStop = spec.until
			}
		}
		date := d.Format("2006-01-02")
		pct, isRestated := restated[date]
		for ci := range a.Campaigns {
			c := &a.Campaigns[ci]
			for si := range c.AdSets {
				s := &c.AdSets[si]
				for ai := range s.Ads {
					ad := &s.Ads[ai]
					if hidden[ad.ID] {
						continue
					}
					st := adDay(ad.ID, d)
					if isRestated {
						st = st.restate(pct)
					}
					var objID string
					switch spec.level {
					case levelAccount:
						objID = a.ID
					case levelCampaign:
						objID = c.ID
					case levelAdSet:
						objID = s.ID
					default:
						objID = ad.ID
					}
					key := [2]string{strconv.Itoa(bucket), objID}
					i, ok := index[key]
					if !ok {
						i = len(rows)
						index[key] = i
						rows = append(rows, aggRow{start: bStart, stop: bStop, campaign: c, adset: s, ad: ad})
					}
					rows[i].add(st)
				}
			}
		}
	}
	return rows
}

// rowJSON renders a row as Meta does: numbers as strings, only the requested fields (plus
// date_start and date_stop, which Meta always returns), ids only down to the level.
func rowJSON(a *Account, level string, fields map[string]bool, r aggRow) map[string]any {
	m := map[string]any{
		"date_start": r.start.Format("2006-01-02"),
		"date_stop":  r.stop.Format("2006-01-02"),
	}
	set := func(k string, v any) {
		if fields[k] {
			m[k] = v
		}
	}
	rank := levelRank(level)
	set("account_id", a.ID)
	set("account_name", a.Name)
	set("account_currency", a.Currency)
	if rank >= 1 {
		set("campaign_id", r.campaign.ID)
		set("campaign_name", r.campaign.Name)
	}
	if rank >= 2 {
		set("adset_id", r.adset.ID)
		set("adset_name", r.adset.Name)
	}
	if rank >= 3 {
		set("ad_id", r.ad.ID)
		set("ad_name", r.ad.Name)
	}
	set("spend", money.FormatMicros(r.SpendMicros))
	set("impressions", strconv.FormatInt(r.Impressions, 10))
	set("clicks", strconv.FormatInt(r.Clicks, 10))
	type stat struct {
		ActionType string `json:"action_type"`
		Value      string `json:"value"`
	}
	var actions, values []stat
	addAction := func(t string, micros int64) {
		if micros > 0 {
			actions = append(actions, stat{t, money.FormatDecimalMicros(micros)})
		}
	}
	addValue := func(t string, micros int64) {
		if micros > 0 {
			values = append(values, stat{t, money.FormatMicros(micros)})
		}
	}
	// omni_purchase and the pixel purchase come before purchase on purpose: a connector
	// must take exactly "purchase", not the first purchase-like entry.
	addAction("link_click", r.LinkClicks*money.MicrosPerUnit)
	addAction("omni_purchase", r.OmniPurchasesMicros)
	addAction("offsite_conversion.fb_pixel_purchase", r.PurchasesMicros)
	addAction("purchase", r.PurchasesMicros)
	addValue("omni_purchase", r.OmniPurchaseValueMicros)
	addValue("offsite_conversion.fb_pixel_purchase", r.PurchaseValueMicros)
	addValue("purchase", r.PurchaseValueMicros)
	if len(actions) > 0 {
		set("actions", actions)
	}
	if len(values) > 0 {
		set("action_values", values)
	}
	if r.SpendMicros > 0 && r.OmniPurchaseValueMicros > 0 {
		// ROAS with six decimals, truncated; big.Int because value*10^6 overflows int64
		// over long ranges.
		q := new(big.Int).Mul(big.NewInt(r.OmniPurchaseValueMicros), big.NewInt(money.MicrosPerUnit))
		roas := q.Quo(q, big.NewInt(r.SpendMicros)).Int64()
		set("purchase_roas", []stat{{"omni_purchase", money.FormatDecimalMicros(roas)}})
	}
	return m
}

// insightFields are the fields the sandbox can serve.
var insightFields = map[string]bool{
	"account_id": true, "account_name": true, "account_currency": true,
	"campaign_id": true, "campaign_name": true, "adset_id": true, "adset_name": true,
	"ad_id": true, "ad_name": true, "spend": true, "impressions": true, "clicks": true,
	"actions": true, "action_values": true, "purchase_roas": true,
	"date_start": true, "date_stop": true,
}

// defaultInsightFields is what the sandbox returns when no fields are asked for.
var defaultInsightFields = map[string]bool{"account_id": true, "spend": true, "impressions": true, "clicks": true}
