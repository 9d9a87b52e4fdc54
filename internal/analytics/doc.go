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
// conversion in this version, so only ad rows and orders in that currency are summed, and
// only sessions of GA4 properties that report in it (see Conversion rate); the other
// currencies present in the range are listed as excluded_currencies so that nothing is
// silently mixed or silently dropped. Money is integer micros internally and, on the wire,
// a decimal string (money.FormatMicros) plus an integer *_micros field. Each measure has
// one representation wherever it appears: CPC, money per click, is "cpc" (decimal string)
// and "cpc_micros" at the summary's top level, in current and previous, and per channel
// and campaign alike; it used to be a 4-decimal number at the top level.
//
// # Orders and revenue
//
//   - Valid orders are those with test = false AND cancelled_at IS NULL.
//   - Orders = the number of valid orders created in the range.
//   - Revenue = net sales = sum(total_micros - refunded_micros) of those orders. A refund
//     reduces the revenue of the order's own day, not the day it was issued, so the
//     revenue of a past period can go down when a late refund is synced.
//   - AOV = revenue / orders.
//   - New-customer CAC = spend / new customers.
//
// # New customers
//
// New customers rest on what the store knows (the customers table, the store's record of
// each customer), not only on the orders a sync happens to hold: after a 90-day sync most
// returning customers would otherwise look new and new-customer CAC would look cheap.
//
//   - A person is a store's customer: (shop_domain, customer_id); ids of two shops are two
//     people. A guest order (customer_id ”) with an email hash belongs to the customer of
//     its shop with that email_sha256: the store's customer record first, else a customer
//     of an account order we hold with that hash (the smallest id when several). A guest
//     order whose hash matches no customer belongs to the email itself; an order with
//     neither id nor hash belongs to nobody and makes no one new.
//   - A person's first order is their earliest valid order we hold, in any currency (a
//     person's currency does not decide whether they are new, so the first order may be
//     in a currency excluded from revenue).
//   - A person is returning, never new, when the store's record says they ordered before
//     what we hold: its orders_count (when known, >= 0) is greater than the number of the
//     person's orders we hold of any status (guest orders merged in included, since the
//     store counts cancelled and guest-checkout orders of the customer too); or, when
//     orders_count is unknown (-1), the customer was created before our order history
//     starts (our earliest order of the workspace, shown as order_history_from), so orders
//     before it cannot be ruled out. The second rule errs toward "returning": a new
//     customer counted as returning makes CAC look dearer, the safe side for spend
//     decisions. A person without a store record (guests, customers not yet read) is judged
//     on the orders we hold alone. For Shopify the second rule is the one that applies:
//     the customer embedded in an order has carried no orders_count since API 2022-04, so
//     the connector stores -1 and the customer's created_at decides.
//   - New customers of a range = the persons, not returning, whose first order was created
//     in the range. Each person is new at most once, so buckets of a time series add up.
//
// The summary reports order_history_from, the workspace day of the earliest order held: a
// range that starts before it, or shortly after it, rests on a partial order history.
//
// # Ads and sessions
//
//   - Spend, impressions, clicks, platform conversions and platform conversion value are
//     the sums of ad_metrics_daily over the range (workspace currency rows only).
//   - Blended ROAS = revenue / spend; platform ROAS = conversion value / spend.
//   - CTR = clicks / impressions; CPC = spend / clicks; CPA = spend / platform conversions.
//   - Sessions = sum(sessions_daily.sessions) of the GA4 properties whose currency
//     (sessions_daily.currency) is the workspace currency.
//   - Conversion rate = orders / sessions, both of the workspace currency. Orders are
//     counted in the workspace currency only (their revenue cannot be added otherwise), so
//     the sessions are those of the properties that track the storefront selling in that
//     currency: dividing those orders by the sessions of every property would put the
//     visitors of, say, a EUR storefront in the denominator while its orders are left out
//     of the numerator, and the rate would fall whenever a second storefront is connected.
//     Sessions of other properties are left out like the orders, and their currency is
//     listed in excluded_currencies.
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
