package analytics

import (
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
)

// Attributed is what the attribution model credits to a channel or campaign.
type Attributed struct {
	Orders        int64
	RevenueMicros int64
}

// ChannelRow is one channel's spend and attributed sales.
type ChannelRow struct {
	Channel string
	AdTotals
	Attributed Attributed
}

// ChannelReport is spend and attributed sales per channel.
type ChannelReport struct {
	Workspace Workspace
	Window    channels.Window
	// Channels has a row for each of AttributionChannels, in that order, and before
	// unattributed a row for any other channel that has spend.
	Channels           []ChannelRow
	ExcludedCurrencies []string
}

// Channels computes spend and last-click UTM attributed sales per channel over w.
func (q *Queries) Channels(ctx context.Context, workspaceID string, w channels.Window) (ChannelReport, error) {
	ws, err := q.workspace(ctx, workspaceID)
	if err != nil {
		return ChannelReport{}, err
	}
	rows, err := q.db.Query(ctx, `
		WITH ads AS (
			SELECT channel, sum(spend_micros)::bigint AS spend, sum(impressions)::bigint AS impressions,
				sum(clicks)::bigint AS clicks, (sum(conversions) * 1000000)::bigint AS conversions,
				sum(conversion_value_micros)::bigint AS value
			FROM ad_metrics_daily
			WHERE workspace_id = $1 AND currency = $4 AND date BETWEEN $2::date AND $3::date
			GROUP BY channel
		), sales AS (
			SELECT `+orderChannelSQL("o")+` AS channel, count(*) AS orders,
				sum(o.total_micros - o.refunded_micros)::bigint AS revenue
			FROM orders o
			WHERE o.workspace_id = $1 AND o.currency = $4 AND `+validOrder("o")+`
				AND `+createdInDays("o", "$2", "$3", "$5::text")+`
			GROUP BY 1
		)
		SELECT channel, coalesce(a.spend, 0), coalesce(a.impressions, 0), coalesce(a.clicks, 0),
			coalesce(a.conversions, 0), coalesce(a.value, 0), coalesce(s.orders, 0), coalesce(s.revenue, 0)
		FROM ads a FULL JOIN sales s USING (channel)
		ORDER BY channel`,
		ws.ID, day(w.From), day(w.To), ws.Currency, ws.Timezone)
	if err != nil {
		return ChannelReport{}, fmt.Errorf("channels %s: %w", w, err)
	}
	found, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (ChannelRow, error) {
		var r ChannelRow
		err := row.Scan(&r.Channel, &r.SpendMicros, &r.Impressions, &r.Clicks, &r.ConversionsMicros,
			&r.ConversionValueMicros, &r.Attributed.Orders, &r.Attributed.RevenueMicros)
		return r, err
	})
	if err != nil {
		return ChannelReport{}, fmt.Errorf("channels %s: %w", w, err)
	}
	rep := ChannelReport{Workspace: ws, Window: w}
	rep.Channels = orderChannels(found)
	if rep.ExcludedCurrencies, err = q.excludedCurrencies(ctx, ws, w); err != nil {
		return ChannelReport{}, err
	}
	return rep, nil
}

// orderChannels puts rows (sorted by channel) in report order: the attribution channels,
// zero rows for missing ones, and other ad channels before unattributed.
func orderChannels(found []ChannelRow) []ChannelRow {
	fixed := AttributionChannels()
	out := make([]ChannelRow, 0, len(fixed)+len(found))
	pick := func(ch string) ChannelRow {
		for _, r := range found {
			if r.Channel == ch {
				return r
			}
		}
		return ChannelRow{Channel: ch}
	}
	for _, ch := range fixed[:len(fixed)-1] {
		out = append(out, pick(ch))
	}
	for _, r := range found {
		if !slices.Contains(fixed, r.Channel) {
			out = append(out, r)
		}
	}
	return append(out, pick(Unattributed))
}

// CampaignRow is one ad campaign's spend and attributed sales, or (Unmatched) the sales
// attributed to a channel under a utm_campaign that matched none of its campaigns.
type CampaignRow struct {
	Channel      string
	AccountID    string
	CampaignID   string
	CampaignName string
	// UTMCampaign is the orders' utm_campaign of an unmatched row ("" otherwise).
	UTMCampaign string
	Unmatched   bool
	AdTotals
	Attributed Attributed
}

// CampaignReport is spend and attributed sales per ad campaign.
type CampaignReport struct {
	Workspace Workspace
	Window    channels.Window
	// Campaigns are the campaigns with ad rows in the range, most spend first, then the
	// unmatched rows, most revenue first.
	Campaigns          []CampaignRow
	ExcludedCurrencies []string
}

// Campaigns computes spend and UTM-attributed sales per ad campaign over w.
func (q *Queries) Campaigns(ctx context.Context, workspaceID string, w channels.Window) (CampaignReport, error) {
	ws, err := q.workspace(ctx, workspaceID)
	if err != nil {
		return CampaignReport{}, err
	}
	rows, err := q.db.Query(ctx, `
		WITH ad AS (
			SELECT * FROM ad_metrics_daily
			WHERE workspace_id = $1 AND currency = $4 AND date BETWEEN $2::date AND $3::date
		), camp AS (
			-- The name shown is the newest non-empty one, so a renamed campaign is one row.
			SELECT channel, account_id, campaign_id,
				(array_agg(campaign_name ORDER BY campaign_name = '', date DESC, synced_at DESC))[1] AS campaign_name,
				sum(spend_micros)::bigint AS spend, sum(impressions)::bigint AS impressions,
				sum(clicks)::bigint AS clicks, (sum(conversions) * 1000000)::bigint AS conversions,
				sum(conversion_value_micros)::bigint AS value
			FROM ad
			GROUP BY channel, account_id, campaign_id
		), best AS (
			-- Each (channel, slug) goes to one campaign: the one with most spend among those that
			-- had a name with that slug in the range (links tagged before a rename still match).
			SELECT DISTINCT ON (n.channel, n.slug) n.channel, n.slug, c.account_id, c.campaign_id
			FROM (SELECT DISTINCT channel, account_id, campaign_id, `+slugSQL("campaign_name")+` AS slug FROM ad) n
			JOIN camp c USING (channel, account_id, campaign_id)
			WHERE n.slug <> ''
			ORDER BY n.channel, n.slug, c.spend DESC, c.account_id, c.campaign_id
		), sales AS (
			SELECT `+orderChannelSQL("o")+` AS channel, o.utm_campaign, `+slugSQL("o.utm_campaign")+` AS slug,
				o.total_micros - o.refunded_micros AS net
			FROM orders o
			WHERE o.workspace_id = $1 AND o.currency = $4 AND `+validOrder("o")+`
				AND `+createdInDays("o", "$2", "$3", "$5::text")+`
		), credited AS (
			SELECT s.channel, s.utm_campaign, s.net, b.account_id, b.campaign_id
			FROM sales s LEFT JOIN best b ON b.channel = s.channel AND b.slug = s.slug
			WHERE s.channel <> `+sqlString(Unattributed)+`
		), matched AS (
			SELECT channel, account_id, campaign_id, count(*) AS orders, sum(net)::bigint AS revenue
			FROM credited WHERE campaign_id IS NOT NULL
			GROUP BY channel, account_id, campaign_id
		)
		SELECT * FROM (
			SELECT c.channel, c.account_id, c.campaign_id, c.campaign_name, '' AS utm_campaign, false AS unmatched,
				c.spend, c.impressions, c.clicks, c.conversions, c.value,
				coalesce(m.orders, 0) AS orders, coalesce(m.revenue, 0) AS revenue
			FROM camp c LEFT JOIN matched m USING (channel, account_id, campaign_id)
			UNION ALL
			SELECT channel, '', '', '', utm_campaign, true, 0, 0, 0, 0, 0, count(*), sum(net)::bigint
			FROM credited WHERE campaign_id IS NULL
			GROUP BY channel, utm_campaign
		) r
		ORDER BY unmatched, spend DESC, revenue DESC, channel, account_id, campaign_id, utm_campaign`,
		ws.ID, day(w.From), day(w.To), ws.Currency, ws.Timezone)
	if err != nil {
		return CampaignReport{}, fmt.Errorf("campaigns %s: %w", w, err)
	}
	camps, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (CampaignRow, error) {
		var r CampaignRow
		err := row.Scan(&r.Channel, &r.AccountID, &r.CampaignID, &r.CampaignName, &r.UTMCampaign, &r.Unmatched,
			&r.SpendMicros, &r.Impressions, &r.Clicks, &r.ConversionsMicros, &r.ConversionValueMicros,
			&r.Attributed.Orders, &r.Attributed.RevenueMicros)
		return r, err
	})
	if err != nil {
		return CampaignReport{}, fmt.Errorf("campaigns %s: %w", w, err)
	}
	if camps == nil {
		camps = []CampaignRow{}
	}
	rep := CampaignReport{Workspace: ws, Window: w, Campaigns: camps}
	if rep.ExcludedCurrencies, err = q.excludedCurrencies(ctx, ws, w); err != nil {
		return CampaignReport{}, err
	}
	return rep, nil
}
