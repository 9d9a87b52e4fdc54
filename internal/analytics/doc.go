// Package analytics computes the marketing KPIs the API reports, from ad spend
// (ad_metrics_daily), store orders (orders, order_line_items) and web sessions
// (sessions_daily). All KPI SQL and the attribution model live here, so that every endpoint
// counts the same things the same way.
//
// # Days
//
// A date range is a pair of calendar days in the WORKSPACE's time zone
// (workspaces.timezone), and both ends are inclusive: from=2024-03-01&to=2024-03-31 is all
// of March. An order counts on the day (created_at AT TIME ZONE workspace timezone)::date,
// so an order placed at 23:30 in New York on March 31st is a March order even though it is
// April 1st in UTC. ad_metrics_daily.date and sessions_daily.date are already the day in
// the ad account's or property's own time zone and are used as they are.
//
// # Currency
//
// Money is reported in the WORKSPACE's currency (workspaces.currency). There is no FX
// conversion in this version, so only ad rows and orders in that currency are summed; the
// other currencies present in the range are listed as excluded_currencies so that nothing is
// silently mixed or silently dropped. Money is integer micros internally and a decimal
// string (money.FormatMicros) plus an integer *_micros field on the wire.
//
// # Orders and revenue
//
//   - Valid orders are those with test = false AND cancelled_at IS NULL.
//   - Orders = the number of valid orders created in the range.
//   - Revenue = net sales = sum(total_micros - refunded_micros) of those orders. A refund
//     reduces the revenue of the order's own day, not the day it was issued, so the
//     revenue of a past period can go down when a late refund is synced.
//   - AOV = revenue / orders.
//   - New customers = distinct customers whose FIRST valid order ever (all history, any
//     currency, not only the range) was created in the range. A customer is customer_id, or
//     email_sha256 when customer_id is empty; guest orders with neither are not customers.
//     A person's currency does not change whether they are new, so the first order may be
//     in a currency that is excluded from revenue.
//   - New-customer CAC = spend / new customers.
//
// # Ads and sessions
//
//   - Spend, impressions, clicks, platform conversions and platform conversion value are
//     the sums of ad_metrics_daily over the range (workspace currency rows only).
//   - Blended ROAS = revenue / spend; platform ROAS = conversion value / spend.
//   - CTR = clicks / impressions; CPC = spend / clicks; CPA = spend / platform conversions.
//   - Sessions = sum(sessions_daily.sessions) (a count, so every row counts whatever its
//     currency). Conversion rate = orders / sessions.
//
// # Ratios and per-unit money
//
// Ratios (ROAS, CTR, conversion rate) are exact decimals rounded half away from zero to 4
// places and are null when the denominator is 0. Per-unit money (AOV, CAC, CPC) is rounded
// half away from zero to whole micros and is null when the denominator is 0.
//
// # Previous period
//
// The previous period of [from, to] is the range of the same number of days that ends the
// day before from.
//
// # Attribution
//
// The model is last click by UTM ("last_click_utm"): each valid order is credited in full
// to the channel its own utm_source and utm_medium map to (see [Rules]; compared after
// trimming and lower-casing ASCII letters); anything no rule matches (organic search,
// direct, email, no UTM) is "unattributed". A channel's blended ROAS is its attributed
// revenue / its spend.
//
// An order is credited to an ad campaign when its channel is the campaign's channel and
// the slug of its utm_campaign (channels.CampaignSlug) equals the slug of one of the names
// the campaign had in the range. When several campaigns of the channel match, the one with
// the most spend in the range gets the order, so an order is never counted twice. Attributed
// orders that match no campaign are reported per (channel, utm_campaign) as unmatched, so
// campaign rows add up to the channel totals.
package analytics
