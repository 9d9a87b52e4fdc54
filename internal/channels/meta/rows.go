package meta

import (
	"fmt"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	"github.com/omnitrackiq/omnitrackiq/internal/channels/jsonx"
)

// insightRow is one row of an insights page. Meta sends numbers as JSON strings.
type insightRow struct {
	AccountCurrency string       `json:"account_currency"`
	CampaignID      jsonx.Text   `json:"campaign_id"`
	CampaignName    string       `json:"campaign_name"`
	AdSetID         jsonx.Text   `json:"adset_id"`
	AdSetName       string       `json:"adset_name"`
	AdID            jsonx.Text   `json:"ad_id"`
	AdName          string       `json:"ad_name"`
	DateStart       string       `json:"date_start"`
	Spend           jsonx.Text   `json:"spend"`
	Impressions     jsonx.Text   `json:"impressions"`
	Clicks          jsonx.Text   `json:"clicks"`
	Actions         []actionStat `json:"actions"`
	ActionValues    []actionStat `json:"action_values"`
}

// actionStat is one entry of `actions` or `action_values` (AdsActionStats).
type actionStat struct {
	ActionType string     `json:"action_type"`
	Value      jsonx.Text `json:"value"`
}

// normalizeRow maps a row of the given level to an AdRow. Missing metrics are zero; a
// malformed one is an error naming the field.
func normalizeRow(accountID string, level channels.Level, r insightRow) (channels.AdRow, error) {
	row := channels.AdRow{
		Channel:   channels.Meta,
		AccountID: accountID,
		Currency:  r.AccountCurrency,
	}
	switch level {
	case channels.LevelAd:
		row.AdID, row.AdName = string(r.AdID), r.AdName
		fallthrough
	case channels.LevelAdSet:
		row.AdSetID, row.AdSetName = string(r.AdSetID), r.AdSetName
		fallthrough
	case channels.LevelCampaign:
		row.CampaignID, row.CampaignName = string(r.CampaignID), r.CampaignName
	}
	d, err := time.Parse(channels.DateLayout, r.DateStart)
	if err != nil {
		return channels.AdRow{}, fmt.Errorf("field date_start: %q is not a YYYY-MM-DD date", r.DateStart)
	}
	row.Date = d
	if row.SpendMicros, err = r.Spend.Micros("spend"); err != nil {
		return channels.AdRow{}, err
	}
	if row.Impressions, err = r.Impressions.Int("impressions"); err != nil {
		return channels.AdRow{}, err
	}
	if row.Clicks, err = r.Clicks.Int("clicks"); err != nil {
		return channels.AdRow{}, err
	}
	if row.ConversionsMicros, err = actionMicros("actions", r.Actions); err != nil {
		return channels.AdRow{}, err
	}
	if row.ConversionValueMicros, err = actionMicros("action_values", r.ActionValues); err != nil {
		return channels.AdRow{}, err
	}
	return row, nil
}

// actionMicros is the value of the entry whose action_type is exactly "purchase": not
// omni_purchase or offsite_conversion.fb_pixel_purchase, which count the same purchases again.
func actionMicros(field string, stats []actionStat) (int64, error) {
	for _, s := range stats {
		if s.ActionType == actionTypePurchase {
			return s.Value.Micros(field + "[purchase].value")
		}
	}
	return 0, nil
}
