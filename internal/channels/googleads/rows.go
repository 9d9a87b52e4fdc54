package googleads

import (
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	"github.com/omnitrackiq/omnitrackiq/internal/channels/jsonx"
	"github.com/omnitrackiq/omnitrackiq/internal/money"
)

// searchResponse is a googleAds:search page. nextPageToken is absent on the last page.
type searchResponse struct {
	Results       []searchRow `json:"results"`
	NextPageToken string      `json:"nextPageToken"`
}

// searchRow is one GoogleAdsRow in proto3 JSON: lowerCamelCase keys, int64 values as
// strings, doubles as numbers, zero values possibly omitted.
type searchRow struct {
	Customer struct {
		CurrencyCode string `json:"currencyCode"`
	} `json:"customer"`
	Campaign struct {
		ID   jsonx.Text `json:"id"`
		Name string     `json:"name"`
	} `json:"campaign"`
	AdGroup struct {
		ID   jsonx.Text `json:"id"`
		Name string     `json:"name"`
	} `json:"adGroup"`
	AdGroupAd struct {
		Ad struct {
			ID   jsonx.Text `json:"id"`
			Name string     `json:"name"`
		} `json:"ad"`
	} `json:"adGroupAd"`
	Metrics struct {
		CostMicros       jsonx.Text `json:"costMicros"`
		Impressions      jsonx.Text `json:"impressions"`
		Clicks           jsonx.Text `json:"clicks"`
		Conversions      jsonx.Text `json:"conversions"`
		ConversionsValue jsonx.Text `json:"conversionsValue"`
	} `json:"metrics"`
	Segments struct {
		Date string `json:"date"`
	} `json:"segments"`
}

// normalizeRow maps a row of the given level to an AdRow. Missing metrics are zero; a
// malformed one is an error naming the field.
func normalizeRow(customerID string, level channels.Level, r searchRow) (channels.AdRow, error) {
	row := channels.AdRow{
		Channel:      channels.GoogleAds,
		AccountID:    customerID,
		Currency:     r.Customer.CurrencyCode,
		CampaignID:   string(r.Campaign.ID),
		CampaignName: r.Campaign.Name,
	}
	switch level {
	case channels.LevelAd:
		row.AdID, row.AdName = string(r.AdGroupAd.Ad.ID), r.AdGroupAd.Ad.Name
		fallthrough
	case channels.LevelAdSet:
		row.AdSetID, row.AdSetName = string(r.AdGroup.ID), r.AdGroup.Name
	}
	if row.CampaignID == "" {
		return channels.AdRow{}, errors.New("field campaign.id: missing")
	}
	d, err := time.Parse(channels.DateLayout, r.Segments.Date)
	if err != nil {
		return channels.AdRow{}, fmt.Errorf("field segments.date: %q is not a YYYY-MM-DD date", r.Segments.Date)
	}
	row.Date = d
	m := r.Metrics
	if row.SpendMicros, err = m.CostMicros.Int("metrics.costMicros"); err != nil {
		return channels.AdRow{}, err
	}
	if row.Impressions, err = m.Impressions.Int("metrics.impressions"); err != nil {
		return channels.AdRow{}, err
	}
	if row.Clicks, err = m.Clicks.Int("metrics.clicks"); err != nil {
		return channels.AdRow{}, err
	}
	if row.ConversionsMicros, err = decimalMicros("metrics.conversions", m.Conversions); err != nil {
		return channels.AdRow{}, err
	}
	if row.ConversionValueMicros, err = decimalMicros("metrics.conversionsValue", m.ConversionsValue); err != nil {
		return channels.AdRow{}, err
	}
	return row, nil
}

var microsPerUnit = big.NewInt(money.MicrosPerUnit)

// decimalMicros converts the JSON text of a double to micros without floating point. Most
// values are plain decimals with at most six places (money.ParseMicros). Data-driven
// attribution produces fractions such as 0.33333333333333331, and proto3 JSON may write
// 1.5E-7; those are parsed exactly as decimals and rounded half away from zero to micros.
func decimalMicros(field string, v jsonx.Text) (int64, error) {
	s := string(v)
	if s == "" {
		return 0, nil
	}
	if m, err := money.ParseMicros(s); err == nil {
		return m, nil
	}
	bad := func(why string) (int64, error) {
		return 0, fmt.Errorf("field %s: %q %s", field, s, why)
	}
	if strings.Trim(s, "0123456789.eE+-") != "" {
		return bad("is not a decimal number")
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return bad("is not a decimal number")
	}
	r.Mul(r, new(big.Rat).SetInt(microsPerUnit))
	num, den := r.Num(), r.Denom()
	q, rem := new(big.Int).QuoRem(num, den, new(big.Int))
	// Round half away from zero: |rem|*2 >= den.
	if rem.Abs(rem).Lsh(rem, 1).Cmp(den) >= 0 {
		if num.Sign() < 0 {
			q.Sub(q, big.NewInt(1))
		} else {
			q.Add(q, big.NewInt(1))
		}
	}
	if !q.IsInt64() {
		return bad("is out of range")
	}
	return q.Int64(), nil
}
