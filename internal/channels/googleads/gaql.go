package googleads

import (
	"strings"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
)

// customerQuery reads what AccountInfo returns.
const customerQuery = "SELECT customer.id, customer.descriptive_name, customer.currency_code, customer.time_zone FROM customer"

// metricFields are the metrics every report selects, after segments.date. The currency is
// selected on every row (customer is an attributed resource of campaign, ad_group and
// ad_group_ad), so no extra call is needed to learn it.
var metricFields = []string{
	"segments.date", "metrics.cost_micros", "metrics.impressions", "metrics.clicks",
	"metrics.conversions", "metrics.conversions_value", "customer.currency_code",
}

// adGroupChannelTypes are the advertising_channel_types whose whole delivery is reported
// FROM ad_group and FROM ad_group_ad.
//
// Performance Max has no ad groups (it serves from asset groups), so Google's reporting
// guide says ad_group and ad_group_ad return nothing for it; other types (LOCAL_SERVICES,
// SMART, TRAVEL, types added later) may be alike. Below the campaign level a read is
// therefore split by type into two queries that partition the campaigns:
//
//  1. FROM ad_group[_ad] WHERE campaign.advertising_channel_type IN (these types)
//  2. FROM campaign      WHERE campaign.advertising_channel_type NOT IN (these types)
//
// The second stores campaign-level rows (ad set and ad ids ""). Each campaign is read by
// exactly one query, so nothing is counted twice, and the account total equals the
// campaign-level report whatever types the account runs; an unknown type only loses its
// ad detail, never its spend. (Reading every campaign at campaign level next to the ad
// rows would count the same spend twice in ad_metrics_daily; Airbyte's connector leaves
// the choice to the user, who picks the campaign or the ad_group_ad stream.)
var adGroupChannelTypes = []string{"SEARCH", "DISPLAY", "SHOPPING", "HOTEL", "VIDEO", "MULTI_CHANNEL", "DEMAND_GEN"}

// Query phases of a read below the campaign level.
const (
	phaseAdGroups  = 0 // campaigns of adGroupChannelTypes, at the read's level
	phaseCampaigns = 1 // every other campaign, at campaign level
)

// phaseQuery is the GAQL of one phase of a read at level over w.
func phaseQuery(level channels.Level, w channels.Window, phase int) string {
	if level == channels.LevelCampaign {
		return ReportQuery(level, w)
	}
	types := "('" + strings.Join(adGroupChannelTypes, "', '") + "')"
	if phase == phaseCampaigns {
		return reportQuery(channels.LevelCampaign, w, "campaign.advertising_channel_type NOT IN "+types)
	}
	return reportQuery(level, w, "campaign.advertising_channel_type IN "+types)
}

// ReportQuery is the GAQL of a daily report at a level over a window, as Airbyte builds it:
// `WHERE segments.date BETWEEN '{from}' AND '{to}' ORDER BY segments.date ASC`. The ad set
// level is Google's ad_group, the ad level ad_group_ad. Below the campaign level it misses
// campaigns without ad groups; ReadPage reads those apart (see adGroupChannelTypes).
func ReportQuery(level channels.Level, w channels.Window) string { return reportQuery(level, w, "") }

// reportQuery is ReportQuery with an extra condition ANDed to the date range.
func reportQuery(level channels.Level, w channels.Window, cond string) string {
	var from string
	var fields []string
	switch level {
	case channels.LevelAd:
		from = "ad_group_ad"
		fields = []string{"campaign.id", "campaign.name", "ad_group.id", "ad_group.name",
			"ad_group_ad.ad.id", "ad_group_ad.ad.name"}
	case channels.LevelAdSet:
		from = "ad_group"
		fields = []string{"campaign.id", "campaign.name", "ad_group.id", "ad_group.name"}
	default:
		from = "campaign"
		fields = []string{"campaign.id", "campaign.name"}
	}
	fields = append(fields, metricFields...)
	where := "segments.date BETWEEN '" + w.From.Format(channels.DateLayout) + "' AND '" +
		w.To.Format(channels.DateLayout) + "'"
	if cond != "" {
		where += " AND " + cond
	}
	return "SELECT " + strings.Join(fields, ", ") + " FROM " + from + " WHERE " + where + " ORDER BY segments.date ASC"
}
