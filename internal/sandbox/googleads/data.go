package googleads

import (
	"fmt"
	"strings"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/money"
	"github.com/omnitrackiq/omnitrackiq/internal/sandbox/catalog"
	"github.com/omnitrackiq/omnitrackiq/internal/sandbox/kit"
)

// DemoCustomerID is the customer of the default configuration.
const DemoCustomerID = "1234567890"

// Customer is a sandbox Google Ads customer (account) and its campaign tree.
type Customer struct {
	// ID is the customer id: 10 digits, no dashes.
	ID       string `json:"id"`
	Name     string `json:"descriptive_name"`
	Currency string `json:"currency_code"`
	// Timezone is an IANA name; "today" and the history end are computed in it.
	Timezone string `json:"time_zone"`
	// ManagerID, when set, is the manager (MCC) account the customer is reached through:
	// calls must then carry login-customer-id = ManagerID.
	ManagerID string `json:"manager_id,omitempty"`
	// Campaigns is the tree; when empty, New generates 3 campaigns x 2 ad groups x 2 ads.
	// Empty IDs are filled in deterministically from the customer id.
	Campaigns []Campaign `json:"campaigns"`
}

// Campaign is a sandbox campaign.
type Campaign struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// ChannelType is the advertising_channel_type: SEARCH, SHOPPING, PERFORMANCE_MAX...
	ChannelType string `json:"advertising_channel_type"`
	// AdGroups hold the ads of campaign types that have them. A PERFORMANCE_MAX campaign
	// has none: it serves from asset groups, and Google reports its delivery only FROM
	// campaign (and asset_group), never FROM ad_group or ad_group_ad.
	AdGroups []AdGroup `json:"ad_groups"`
}

// ChannelPerformanceMax is the advertising_channel_type of Performance Max campaigns.
const ChannelPerformanceMax = "PERFORMANCE_MAX"

// campaignLevelOnly reports whether a campaign's delivery exists only at campaign level.
func (c *Campaign) campaignLevelOnly() bool { return c.ChannelType == ChannelPerformanceMax }

// AdGroup is a sandbox ad group.
type AdGroup struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Ads  []Ad   `json:"ads"`
}

// Ad is a sandbox ad (ad_group_ad.ad): the unit whose daily delivery is generated.
type Ad struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// demoTree gives the catalog's Google Ads campaigns their ad groups and ads.
var demoTree = map[string]struct {
	channelType string
	adGroups    [2]string
	ads         [2]string
}{
	"Search - Brand":          {"SEARCH", [2]string{"Brand - Exact", "Brand - Phrase"}, [2]string{"RSA - Brand Core", "RSA - Brand Offer"}},
	"Search - Generic":        {"SEARCH", [2]string{"Generic - Bestsellers", "Generic - Gifts"}, [2]string{"RSA - Benefits", "RSA - Free Shipping"}},
	"Shopping - All Products": {"SHOPPING", [2]string{"All Products - High Margin", "All Products - Catch-all"}, [2]string{"Product Ad - Feed A", "Product Ad - Feed B"}},
	"Performance Max":         {ChannelPerformanceMax, [2]string{}, [2]string{}},
}

// DemoCustomer is the default customer: "Demo Store (sandbox)", USD, America/New_York, with
// the catalog's Google Ads campaigns, each of 2 ad groups of 2 ads except Performance Max,
// which has none and delivers at campaign level.
func DemoCustomer() Customer {
	c := Customer{ID: DemoCustomerID, Name: "Demo Store (sandbox)", Currency: "USD", Timezone: "America/New_York"}
	for _, ch := range catalog.AdChannels() {
		if ch.Channel != "google_ads" {
			continue
		}
		for _, cc := range ch.Campaigns {
			t, ok := demoTree[cc.Name]
			if !ok {
				t.channelType = "SEARCH"
				t.adGroups = [2]string{"Ad group 1", "Ad group 2"}
				t.ads = [2]string{"Ad 1", "Ad 2"}
			}
			camp := Campaign{Name: cc.Name, ChannelType: t.channelType}
			if camp.campaignLevelOnly() {
				c.Campaigns = append(c.Campaigns, camp)
				continue
			}
			for _, ag := range t.adGroups {
				g := AdGroup{Name: ag}
				for _, ad := range t.ads {
					g.Ads = append(g.Ads, Ad{Name: ad})
				}
				camp.AdGroups = append(camp.AdGroups, g)
			}
			c.Campaigns = append(c.Campaigns, camp)
		}
	}
	return fillIDs(c)
}

// genericTree is the tree of a customer configured without one.
func genericTree() []Campaign {
	var cs []Campaign
	for c := 1; c <= 3; c++ {
		camp := Campaign{Name: fmt.Sprintf("Campaign %d", c), ChannelType: "SEARCH"}
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

// fillIDs gives every object without an id one derived from the customer id and its
// position, shaped like Google's (11-digit campaign ids, 12-digit ad group and ad ids), so
// ids are stable across restarts.
func fillIDs(c Customer) Customer {
	base := kit.Hash64(c.ID) % 100_000
	var nc, ng, na int
	cs := make([]Campaign, len(c.Campaigns))
	for i, camp := range c.Campaigns {
		nc++
		if camp.ID == "" {
			camp.ID = fmt.Sprintf("2%05d%05d", base, nc)
		}
		if camp.ChannelType == "" {
			camp.ChannelType = "SEARCH"
		}
		groups := make([]AdGroup, len(camp.AdGroups))
		for j, g := range camp.AdGroups {
			ng++
			if g.ID == "" {
				g.ID = fmt.Sprintf("15%05d%05d", base, ng)
			}
			ads := make([]Ad, len(g.Ads))
			for k, ad := range g.Ads {
				na++
				if ad.ID == "" {
					ad.ID = fmt.Sprintf("70%05d%05d", base, na)
				}
				ads[k] = ad
			}
			g.Ads = ads
			groups[j] = g
		}
		camp.AdGroups = groups
		cs[i] = camp
	}
	c.Campaigns = cs
	return c
}

// stats is one ad-day (or an aggregate). Cost and values are micros of the currency;
// conversions are micros of a (fractional) count.
type stats struct {
	CostMicros             int64
	Impressions            int64
	Clicks                 int64
	ConversionsMicros      int64
	ConversionsValueMicros int64
}

func (s *stats) add(o stats) {
	s.CostMicros += o.CostMicros
	s.Impressions += o.Impressions
	s.Clicks += o.Clicks
	s.ConversionsMicros += o.ConversionsMicros
	s.ConversionsValueMicros += o.ConversionsValueMicros
}

// adDay is the delivery of one ad on one day: a pure function of (ad id, date). Search-like
// volumes: hundreds to a few thousand impressions, CTR 2-8%, CPC $0.40-$2.50 in whole
// micros (Google does not round cost to cents). Conversions are data-driven: fractional,
// two decimals.
func adDay(adID string, day time.Time) stats {
	seed := kit.Seed(adID)
	scale := seed.Between(50, 200)  // percent: how big this ad is
	base := seed.Between(400, 3000) // impressions on an average day
	ctr := seed.Between(200, 800)   // basis points
	cpc := seed.Between(400_000, 2_500_000)
	cvr := seed.Between(200, 600) // basis points of clicks
	aovCents := seed.Between(4000, 12000)

	r := kit.Seed(adID + "|" + day.Format(dateLayout))
	impr := base * scale / 100 * r.Between(70, 130) / 100
	if wd := day.Weekday(); wd == time.Saturday || wd == time.Sunday {
		impr = impr * 90 / 100
	}
	impr = max(impr, 1)
	clicks := impr * (ctr + r.Between(-100, 100)) / 10_000
	cost := clicks * (cpc + r.Between(-150_000, 150_000))
	if clicks == 0 {
		cost = 0
	}
	// Conversions in hundredths: clicks x cvr, plus a fractional data-driven share.
	convCents := clicks * (cvr + r.Between(0, 150)) / 100
	convCents += r.Between(0, 99)
	if clicks == 0 {
		convCents = 0
	}
	value := convCents * (aovCents + r.Between(-1500, 1500)) / 100 // cents
	return stats{
		CostMicros:             cost,
		Impressions:            impr,
		Clicks:                 clicks,
		ConversionsMicros:      convCents * (money.MicrosPerUnit / 100),
		ConversionsValueMicros: value * (money.MicrosPerUnit / 100),
	}
}

// campaignDay is the delivery of a campaign without ad groups (Performance Max) on one day:
// a pure function of (campaign id, date), about the size of four ads.
func campaignDay(campaignID string, day time.Time) stats {
	var total stats
	for part := 1; part <= 4; part++ {
		total.add(adDay(fmt.Sprintf("%s/part%d", campaignID, part), day))
	}
	return total
}

// restate scales cost, conversions and conversion values by pct percent, rounded half up to
// whole micros (cost) and hundredths (conversions, values).
func (s stats) restate(pct int) stats {
	if pct == 100 {
		return s
	}
	p := int64(pct)
	const hundredth = money.MicrosPerUnit / 100
	s.CostMicros = (s.CostMicros*p + 50) / 100
	s.ConversionsMicros = (s.ConversionsMicros*p + 50*hundredth) / (100 * hundredth) * hundredth
	s.ConversionsValueMicros = (s.ConversionsValueMicros*p + 50*hundredth) / (100 * hundredth) * hundredth
	return s
}

// formatDouble renders micros as proto3 JSON renders a double of that value: the shortest
// decimal, with ".0" on whole numbers (4.0, 250.5).
func formatDouble(micros int64) string {
	s := money.FormatDecimalMicros(micros)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}
