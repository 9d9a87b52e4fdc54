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

// ReportQuery is the GAQL of a daily report at a level over a window, as Airbyte builds it:
// `WHERE segments.date BETWEEN '{from}' AND '{to}' ORDER BY segments.date ASC`. The ad set
// level is Google's ad_group, the ad level ad_group_ad.
func ReportQuery(level channels.Level, w channels.Window) string {
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
	return "SELECT " + strings.Join(fields, ", ") + " FROM " + from +
		" WHERE segments.date BETWEEN '" + w.From.Format(channels.DateLayout) + "' AND '" +
		w.To.Format(channels.DateLayout) + "' ORDER BY segments.date ASC"
}
