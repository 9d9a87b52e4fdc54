package tiktok

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	"github.com/omnitrackiq/omnitrackiq/internal/channels/jsonx"
	"github.com/omnitrackiq/omnitrackiq/internal/money"
)

// Report metrics read into every AdRow.
//
// Conversions are "conversion", the count of the optimization event of each ad group (for a
// store's campaigns optimized for Complete Payment, the purchases). The conversion value is
// "total_complete_payment_rate", which despite its name is the total value of web Complete
// Payment events ("Total complete payment value" in Ads Manager); TikTok has no value for the
// generic "conversion" event.
const (
	metricSpend        = "spend"
	metricImpressions  = "impressions"
	metricClicks       = "clicks"
	metricConversion   = "conversion"
	metricPaymentValue = "total_complete_payment_rate"
	dimensionDay       = "stat_time_day"
	// nullMetric is how TikTok writes a missing value.
	nullMetric = "-"
)

// levelSpec is how a channels.Level maps onto TikTok's report: the data_level, the id
// dimension and the attribute metrics that carry the names and parent ids.
type levelSpec struct {
	dataLevel   string
	idDimension string
	attributes  []string
}

// specOf returns the report shape of a level; ok is false for levels TikTok has no report for.
func specOf(l channels.Level) (spec levelSpec, ok bool) {
	switch l {
	case channels.LevelCampaign:
		return levelSpec{"AUCTION_CAMPAIGN", "campaign_id", []string{"campaign_name"}}, true
	case channels.LevelAdSet:
		return levelSpec{"AUCTION_ADGROUP", "adgroup_id", []string{"campaign_id", "campaign_name", "adgroup_name"}}, true
	case channels.LevelAd:
		return levelSpec{"AUCTION_AD", "ad_id", []string{"campaign_id", "campaign_name", "adgroup_id",
			"adgroup_name", "ad_name"}}, true
	}
	return levelSpec{}, false
}

// metrics is the metrics parameter of the level's report.
func (s levelSpec) metrics() []string {
	m := append([]string{}, s.attributes...)
	return append(m, metricSpend, metricImpressions, metricClicks, metricConversion, metricPaymentValue)
}

func normalizeLevel(l channels.Level) (channels.Level, error) {
	if l == "" {
		return defaultLevel, nil
	}
	if _, ok := specOf(l); ok {
		return l, nil
	}
	return "", &channels.Error{Channel: channels.TikTok, Kind: channels.KindBadRequest,
		Message: fmt.Sprintf("unsupported level %q (want campaign, adset or ad)", l)}
}

// reportRow is one entry of data.list: dimensions and metrics, values mostly strings.
type reportRow struct {
	Dimensions map[string]jsonx.Text `json:"dimensions"`
	Metrics    map[string]jsonx.Text `json:"metrics"`
}

// normalizeRow maps a report row of the given level to an AdRow. Missing metrics and "-"
// are zero; a malformed value is an error naming the field.
func normalizeRow(advertiserID, currency string, level channels.Level, r reportRow) (channels.AdRow, error) {
	row := channels.AdRow{Channel: channels.TikTok, AccountID: advertiserID, Currency: currency}
	spec, _ := specOf(level)
	attr := func(k string) string { return strings.TrimSpace(string(r.Metrics[k])) }
	id := strings.TrimSpace(string(r.Dimensions[spec.idDimension]))
	if id == "" || id == nullMetric {
		return channels.AdRow{}, fmt.Errorf("dimension %s is missing", spec.idDimension)
	}
	switch level {
	case channels.LevelAd:
		row.AdID, row.AdName = id, attr("ad_name")
		row.AdSetID, row.AdSetName = attr("adgroup_id"), attr("adgroup_name")
		row.CampaignID, row.CampaignName = attr("campaign_id"), attr("campaign_name")
	case channels.LevelAdSet:
		row.AdSetID, row.AdSetName = id, attr("adgroup_name")
		row.CampaignID, row.CampaignName = attr("campaign_id"), attr("campaign_name")
	default:
		row.CampaignID, row.CampaignName = id, attr("campaign_name")
	}
	d, err := parseDay(string(r.Dimensions[dimensionDay]))
	if err != nil {
		return channels.AdRow{}, err
	}
	row.Date = d
	if row.SpendMicros, err = parseDecimal(metricSpend, r.Metrics[metricSpend]); err != nil {
		return channels.AdRow{}, err
	}
	if row.Impressions, err = parseCount(metricImpressions, r.Metrics[metricImpressions]); err != nil {
		return channels.AdRow{}, err
	}
	if row.Clicks, err = parseCount(metricClicks, r.Metrics[metricClicks]); err != nil {
		return channels.AdRow{}, err
	}
	if row.ConversionsMicros, err = parseDecimal(metricConversion, r.Metrics[metricConversion]); err != nil {
		return channels.AdRow{}, err
	}
	if row.ConversionValueMicros, err = parseDecimal(metricPaymentValue, r.Metrics[metricPaymentValue]); err != nil {
		return channels.AdRow{}, err
	}
	return row, nil
}

// parseDay reads stat_time_day, "YYYY-MM-DD 00:00:00" (a bare date is accepted too).
func parseDay(s string) (time.Time, error) {
	day, _, _ := strings.Cut(strings.TrimSpace(s), " ")
	d, err := time.Parse(channels.DateLayout, day)
	if err != nil {
		return time.Time{}, fmt.Errorf("dimension %s: %q is not a \"YYYY-MM-DD HH:MM:SS\" time", dimensionDay, s)
	}
	return d, nil
}

func isNull(v jsonx.Text) bool {
	s := strings.TrimSpace(string(v))
	return s == "" || s == nullMetric
}

// parseDecimal reads money or a fractional count into micros, exactly.
func parseDecimal(field string, v jsonx.Text) (int64, error) {
	if isNull(v) {
		return 0, nil
	}
	m, err := money.ParseMicros(strings.TrimSpace(string(v)))
	if err != nil {
		return 0, fmt.Errorf("metric %s: %v", field, err)
	}
	return m, nil
}

// parseCount reads an integer count. TikTok writes counts as integers, but "12.0" is
// accepted as long as it is whole.
func parseCount(field string, v jsonx.Text) (int64, error) {
	if isNull(v) {
		return 0, nil
	}
	s := strings.TrimSpace(string(v))
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, nil
	}
	m, err := money.ParseMicros(s)
	if err != nil || m%money.MicrosPerUnit != 0 {
		return 0, fmt.Errorf("metric %s: %q is not an integer", field, s)
	}
	return m / money.MicrosPerUnit, nil
}
