// Package catalog is the shared story of the sandbox providers: which campaigns each ad
// channel runs and which UTM tags their clicks carry, so that Shopify orders and GA4
// sessions in the sandbox attribute to the same campaigns the ad sandboxes report spend for.
package catalog

import "github.com/omnitrackiq/omnitrackiq/internal/channels"

// Campaign is one sandbox campaign of an ad channel.
type Campaign struct {
	Name string
	// UTMCampaign is the utm_campaign its links carry: Slug(Name).
	UTMCampaign string
}

// Channel is what one ad channel's traffic looks like in UTM tags.
type Channel struct {
	// Channel is the channels.Channel name.
	Channel    string
	UTMSources []string
	UTMMedium  string
	Campaigns  []Campaign
}

// AdChannels lists the sandbox ad channels in a fixed order.
func AdChannels() []Channel {
	return []Channel{
		{Channel: "meta", UTMSources: []string{"facebook", "ig", "fb"}, UTMMedium: "paid_social",
			Campaigns: campaigns("Prospecting - Broad", "Retargeting - 30d", "Brand Awareness")},
		{Channel: "google_ads", UTMSources: []string{"google"}, UTMMedium: "cpc",
			Campaigns: campaigns("Search - Brand", "Search - Generic", "Shopping - All Products", "Performance Max")},
		{Channel: "tiktok", UTMSources: []string{"tiktok"}, UTMMedium: "paid_social",
			Campaigns: campaigns("TikTok - Spark Ads", "TikTok - Prospecting")},
	}
}

// Unpaid traffic sources (source, medium) the store also gets.
var Unpaid = [][2]string{{"(direct)", "(none)"}, {"google", "organic"}, {"newsletter", "email"}}

func campaigns(names ...string) []Campaign {
	out := make([]Campaign, len(names))
	for i, n := range names {
		out[i] = Campaign{Name: n, UTMCampaign: Slug(n)}
	}
	return out
}

// Slug is the utm_campaign form of a campaign name (channels.CampaignSlug).
func Slug(name string) string { return channels.CampaignSlug(name) }
