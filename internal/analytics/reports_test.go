package analytics_test

import (
	"cmp"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/analytics"
	"github.com/omnitrackiq/omnitrackiq/internal/channels"
)

// seedCampaigns builds the hand-worked attribution case of TestChannels and TestCampaigns.
func seedCampaigns(f *fixture) string {
	ws := f.workspace("Campaigns", "USD", "UTC")
	f.ads(ws,
		ad{channel: "meta", account: "A1", campaign: "c1", name: "Spring Sale", date: "2024-05-01", currency: "USD",
			spend: 100e6, impressions: 1000, clicks: 50, conversions: "2", value: 300e6},
		ad{channel: "meta", account: "A1", campaign: "c2", name: "Retargeting - 30d", date: "2024-05-01", currency: "USD", spend: 40e6},
		// Renamed: shown under its new name, and links tagged with either name match.
		ad{channel: "meta", account: "A1", campaign: "c3", name: "Old Name", date: "2024-05-01", currency: "USD", spend: 10e6},
		ad{channel: "meta", account: "A1", campaign: "c3", name: "New Name", date: "2024-05-02", currency: "USD", spend: 10e6},
		// One name in two accounts: the campaign with more spend gets the orders.
		ad{channel: "meta", account: "A1", campaign: "c4", name: "Dup", date: "2024-05-01", currency: "USD", spend: 5e6},
		ad{channel: "meta", account: "A2", campaign: "c5", name: "Dup", date: "2024-05-02", currency: "USD", spend: 20e6},
		ad{channel: "google_ads", account: "G1", campaign: "g1", name: "Brand Search", date: "2024-05-02", currency: "USD",
			spend: 60e6, impressions: 600, clicks: 30},
		ad{channel: "meta", account: "EU", campaign: "e1", name: "Spring Sale", date: "2024-05-01", currency: "EUR", spend: 999e6},
		ad{channel: "meta", account: "A1", campaign: "c1", name: "Spring Sale", date: "2024-05-03", currency: "USD", spend: 1e6},
	)
	at := func(i int) time.Time { return utc("2024-05-01T12:00:00Z").Add(time.Duration(i) * time.Minute) }
	f.orders(ws,
		order{id: "1", at: at(1), total: 50e6, source: "facebook", medium: "paid_social", campaign: "spring_sale"},
		order{id: "2", at: at(2), total: 30e6, source: "IG", medium: "cpc", campaign: "SPRING SALE"},
		order{id: "3", at: at(3), total: 25e6, source: "fb", campaign: "retargeting_30d"},
		order{id: "4", at: at(4), total: 15e6, source: "facebook", campaign: "old_name"},
		order{id: "5", at: at(5), total: 5e6, source: "facebook", campaign: "New-Name"},
		order{id: "6", at: at(6), total: 12e6, source: "meta", campaign: "dup"},
		order{id: "7", at: at(7), total: 9e6, source: "facebook", campaign: "unknown_campaign"},
		order{id: "8", at: at(8), total: 1e6, source: "facebook", campaign: "unknown_campaign"},
		order{id: "9", at: at(9), total: 40e6, source: "google", medium: "cpc", campaign: "Spring Sale"}, // no such Google campaign
		order{id: "10", at: at(10), total: 70e6, refunded: 20e6, source: "google", medium: "cpc", campaign: "brand_search"},
		order{id: "11", at: at(11), total: 100e6, source: "google", medium: "organic", campaign: "brand_search"},
		order{id: "12", at: at(12), total: 8e6, source: "tiktok"},
		order{id: "13", at: at(13), total: 6e6, source: "email", medium: "newsletter"},
		order{id: "14", at: at(14), total: 4e6},
		order{id: "15", at: at(15), total: 1000e6, source: "facebook", campaign: "spring_sale", test: true},
		order{id: "16", at: at(16), total: 1000e6, source: "facebook", campaign: "spring_sale", cancelled: true},
		order{id: "17", at: at(17), total: 77e6, source: "facebook", campaign: "spring_sale", currency: "EUR"},
		order{id: "18", at: utc("2024-05-03T00:00:00Z"), total: 1000e6, source: "facebook", campaign: "spring_sale"},
	)
	return ws
}

func TestChannels(t *testing.T) {
	f := newFixture(t)
	ws := seedCampaigns(f)
	rep, err := f.q.Channels(f.ctx, ws, window(t, "2024-05-01", "2024-05-02"))
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		channel               string
		spend, clicks, orders int64
		revenue, value        int64
	}
	var got []row
	for _, r := range rep.Channels {
		got = append(got, row{r.Channel, r.SpendMicros, r.Clicks, r.Attributed.Orders, r.Attributed.RevenueMicros, r.ConversionValueMicros})
	}
	want := []row{
		{"meta", 185e6, 50, 8, 147e6, 300e6},
		{"google_ads", 60e6, 30, 2, 90e6, 0},
		{"tiktok", 0, 0, 1, 8e6, 0},
		{"unattributed", 0, 0, 3, 110e6, 0},
	}
	if !slices.Equal(got, want) {
		t.Errorf("channels\n got %+v\nwant %+v", got, want)
	}
	if !slices.Equal(rep.ExcludedCurrencies, []string{"EUR"}) {
		t.Errorf("excluded %v", rep.ExcludedCurrencies)
	}

	// No rows at all: still the four channels, all zero.
	rep, err = f.q.Channels(f.ctx, ws, window(t, "2020-01-01", "2020-01-01"))
	if err != nil || len(rep.Channels) != 4 || rep.Channels[3].Channel != analytics.Unattributed ||
		rep.Channels[0] != (analytics.ChannelRow{Channel: analytics.Meta}) {
		t.Errorf("empty channels %+v, %v", rep, err)
	}
}

func TestCampaigns(t *testing.T) {
	f := newFixture(t)
	ws := seedCampaigns(f)
	rep, err := f.q.Campaigns(f.ctx, ws, window(t, "2024-05-01", "2024-05-02"))
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		channel, account, campaign, name, utm string
		unmatched                             bool
		spend, orders, revenue                int64
	}
	var got []row
	for _, r := range rep.Campaigns {
		got = append(got, row{r.Channel, r.AccountID, r.CampaignID, r.CampaignName, r.UTMCampaign, r.Unmatched,
			r.SpendMicros, r.Attributed.Orders, r.Attributed.RevenueMicros})
	}
	want := []row{
		{"meta", "A1", "c1", "Spring Sale", "", false, 100e6, 2, 80e6},
		{"google_ads", "G1", "g1", "Brand Search", "", false, 60e6, 1, 50e6},
		{"meta", "A1", "c2", "Retargeting - 30d", "", false, 40e6, 1, 25e6},
		{"meta", "A1", "c3", "New Name", "", false, 20e6, 2, 20e6}, // ties c5 on spend, more revenue
		{"meta", "A2", "c5", "Dup", "", false, 20e6, 1, 12e6},
		{"meta", "A1", "c4", "Dup", "", false, 5e6, 0, 0},
		{"google_ads", "", "", "", "Spring Sale", true, 0, 1, 40e6},
		{"meta", "", "", "", "unknown_campaign", true, 0, 2, 10e6},
		{"tiktok", "", "", "", "", true, 0, 1, 8e6},
	}
	if !slices.Equal(got, want) {
		t.Errorf("campaigns\n got %+v\nwant %+v", got, want)
	}
	if !slices.Equal(rep.ExcludedCurrencies, []string{"EUR"}) {
		t.Errorf("excluded %v", rep.ExcludedCurrencies)
	}
	c1 := rep.Campaigns[0]
	if c1.Impressions != 1000 || c1.ConversionsMicros != 2e6 || c1.ConversionValueMicros != 300e6 {
		t.Errorf("platform measures of c1 %+v", c1)
	}

	rep, err = f.q.Campaigns(f.ctx, ws, window(t, "2020-01-01", "2020-01-01"))
	if err != nil || rep.Campaigns == nil || len(rep.Campaigns) != 0 {
		t.Errorf("empty campaigns %+v, %v", rep, err)
	}
}

// TestAttributionReconciles checks on random data that channels add up to the summary,
// campaigns add up to their channels, and each campaign's credit equals an independent Go
// computation with ChannelOf and channels.CampaignSlug.
func TestAttributionReconciles(t *testing.T) {
	f := newFixture(t)
	ws, today := seedRandom(f)
	for _, w := range []channels.Window{
		{From: today.AddDate(0, 0, -29), To: today},
		{From: today.AddDate(0, 0, -200), To: today.AddDate(0, 0, -100)},
		{From: today, To: today},
	} {
		t.Run(w.String(), func(t *testing.T) {
			f := f.with(t)
			sum, err := f.q.Summary(f.ctx, ws, w)
			if err != nil {
				t.Fatal(err)
			}
			chans, err := f.q.Channels(f.ctx, ws, w)
			if err != nil {
				t.Fatal(err)
			}
			camps, err := f.q.Campaigns(f.ctx, ws, w)
			if err != nil {
				t.Fatal(err)
			}
			var total analytics.Totals
			byChannel := map[string]analytics.ChannelRow{}
			for _, r := range chans.Channels {
				total.AdTotals = addAd(total.AdTotals, r.AdTotals)
				total.Orders += r.Attributed.Orders
				total.RevenueMicros += r.Attributed.RevenueMicros
				byChannel[r.Channel] = r
			}
			if total.AdTotals != sum.Current.AdTotals || total.Orders != sum.Current.Orders ||
				total.RevenueMicros != sum.Current.RevenueMicros {
				t.Errorf("channels add up to %+v, summary %+v", total, sum.Current)
			}
			campTotals := map[string]analytics.ChannelRow{}
			for _, r := range camps.Campaigns {
				c := campTotals[r.Channel]
				c.AdTotals = addAd(c.AdTotals, r.AdTotals)
				c.Attributed.Orders += r.Attributed.Orders
				c.Attributed.RevenueMicros += r.Attributed.RevenueMicros
				campTotals[r.Channel] = c
			}
			for _, ch := range []string{analytics.Meta, analytics.GoogleAds, analytics.TikTok} {
				c, want := campTotals[ch], byChannel[ch]
				c.Channel = ch
				if c != want {
					t.Errorf("%s: campaigns add up to %+v, channel %+v", ch, c, want)
				}
			}
			if got, want := creditMap(camps.Campaigns), f.expectCredit(ws, w); !mapsEqual(got, want) {
				t.Errorf("campaign credit\n got %v\nwant %v", got, want)
			}
		})
	}
}

func addAd(a, b analytics.AdTotals) analytics.AdTotals {
	a.SpendMicros += b.SpendMicros
	a.Impressions += b.Impressions
	a.Clicks += b.Clicks
	a.ConversionsMicros += b.ConversionsMicros
	a.ConversionValueMicros += b.ConversionValueMicros
	return a
}

// creditMap keys attributed sales by campaign, or by channel and utm_campaign when unmatched.
func creditMap(rows []analytics.CampaignRow) map[string]analytics.Attributed {
	out := map[string]analytics.Attributed{}
	for _, r := range rows {
		if r.Attributed.Orders == 0 {
			continue
		}
		key := r.Channel + "/" + r.AccountID + "/" + r.CampaignID
		if r.Unmatched {
			key = r.Channel + " unmatched " + r.UTMCampaign
		}
		out[key] = r.Attributed
	}
	return out
}

func mapsEqual(a, b map[string]analytics.Attributed) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// expectCredit attributes the range's orders to campaigns in Go.
func (f *fixture) expectCredit(ws string, w channels.Window) map[string]analytics.Attributed {
	f.t.Helper()
	from, to := w.From.Format(time.DateOnly), w.To.Format(time.DateOnly)
	type camp struct {
		key   string
		spend int64
	}
	campaigns := map[string]*camp{}
	slugs := map[string][]*camp{} // channel/slug -> campaigns with a name of that slug
	rows, err := f.pool.Query(f.ctx, `SELECT channel, account_id, campaign_id, campaign_name, spend_micros
		FROM ad_metrics_daily WHERE workspace_id = $1 AND currency = 'USD' AND date >= $2::date AND date <= $3::date`, ws, from, to)
	if err != nil {
		f.t.Fatal(err)
	}
	for rows.Next() {
		var ch, acct, id, name string
		var spend int64
		if err := rows.Scan(&ch, &acct, &id, &name, &spend); err != nil {
			f.t.Fatal(err)
		}
		key := ch + "/" + acct + "/" + id
		c := campaigns[key]
		if c == nil {
			c = &camp{key: key}
			campaigns[key] = c
		}
		c.spend += spend
		if s := channels.CampaignSlug(name); s != "" && !slices.Contains(slugs[ch+"/"+s], c) {
			slugs[ch+"/"+s] = append(slugs[ch+"/"+s], c)
		}
	}
	if err := rows.Err(); err != nil {
		f.t.Fatal(err)
	}
	out := map[string]analytics.Attributed{}
	rows, err = f.pool.Query(f.ctx, `SELECT utm_source, utm_medium, utm_campaign, total_micros - refunded_micros
		FROM orders o JOIN workspaces w ON w.id = o.workspace_id
		WHERE o.workspace_id = $1 AND NOT o.test AND o.cancelled_at IS NULL AND o.currency = 'USD'
			AND timezone(w.timezone, o.created_at) >= $2::timestamp
			AND timezone(w.timezone, o.created_at) < $3::timestamp + interval '1 day'`, ws, from, to)
	if err != nil {
		f.t.Fatal(err)
	}
	for rows.Next() {
		var src, med, utm string
		var net int64
		if err := rows.Scan(&src, &med, &utm, &net); err != nil {
			f.t.Fatal(err)
		}
		ch := analytics.ChannelOf(src, med)
		if ch == analytics.Unattributed {
			continue
		}
		key := ch + " unmatched " + utm
		if cands := slugs[ch+"/"+channels.CampaignSlug(utm)]; len(cands) > 0 {
			best := slices.MinFunc(cands, func(a, b *camp) int {
				return cmp.Or(cmp.Compare(b.spend, a.spend), cmp.Compare(a.key, b.key))
			})
			key = best.key
		}
		a := out[key]
		a.Orders++
		a.RevenueMicros += net
		out[key] = a
	}
	if err := rows.Err(); err != nil {
		f.t.Fatal(err)
	}
	if w.Days() > 20 && len(out) < 3 {
		f.t.Errorf("thin attribution data: %v", fmt.Sprint(out))
	}
	return out
}
