package connectorrun

import (
	"encoding/json"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	"github.com/omnitrackiq/omnitrackiq/internal/money"
)

// The output lines. Field order and names are part of the CLI's contract.

// adLine is one daily ad row of meta, google_ads or tiktok.
type adLine struct {
	Channel               string      `json:"channel"`
	AccountID             string      `json:"account_id"`
	CampaignID            string      `json:"campaign_id"`
	CampaignName          string      `json:"campaign_name"`
	AdSetID               *string     `json:"adset_id,omitempty"`
	AdID                  *string     `json:"ad_id,omitempty"`
	Date                  string      `json:"date"`
	Currency              string      `json:"currency"`
	SpendMicros           int64       `json:"spend_micros"`
	Impressions           int64       `json:"impressions"`
	Clicks                int64       `json:"clicks"`
	Conversions           json.Number `json:"conversions"`
	ConversionValueMicros int64       `json:"conversion_value_micros"`
}

func adLineOf(r channels.AdRow, level channels.Level) adLine {
	l := adLine{
		Channel:               string(r.Channel),
		AccountID:             r.AccountID,
		CampaignID:            r.CampaignID,
		CampaignName:          r.CampaignName,
		Date:                  r.Date.Format(channels.DateLayout),
		Currency:              r.Currency,
		SpendMicros:           r.SpendMicros,
		Impressions:           r.Impressions,
		Clicks:                r.Clicks,
		Conversions:           decimal(r.ConversionsMicros),
		ConversionValueMicros: r.ConversionValueMicros,
	}
	if level == channels.LevelAdSet || level == channels.LevelAd {
		id := r.AdSetID
		l.AdSetID = &id
	}
	if level == channels.LevelAd {
		id := r.AdID
		l.AdID = &id
	}
	return l
}

// orderLine is one Shopify order. Timestamps keep the offset Shopify sent them with.
type orderLine struct {
	OrderID         string `json:"order_id"`
	CreatedAt       string `json:"created_at"`
	UpdatedAt       string `json:"updated_at"`
	Currency        string `json:"currency"`
	TotalMicros     int64  `json:"total_micros"`
	FinancialStatus string `json:"financial_status"`
	CustomerID      string `json:"customer_id"`
	UTMSource       string `json:"utm_source"`
	UTMMedium       string `json:"utm_medium"`
	UTMCampaign     string `json:"utm_campaign"`
	Test            bool   `json:"test"`
	Cancelled       bool   `json:"cancelled"`
}

func orderLineOf(o channels.Order) orderLine {
	return orderLine{
		OrderID:         o.OrderID,
		CreatedAt:       o.CreatedAt.Format(time.RFC3339),
		UpdatedAt:       o.UpdatedAt.Format(time.RFC3339),
		Currency:        o.Currency,
		TotalMicros:     o.TotalMicros,
		FinancialStatus: o.FinancialStatus,
		CustomerID:      o.CustomerID,
		UTMSource:       o.UTMSource,
		UTMMedium:       o.UTMMedium,
		UTMCampaign:     o.UTMCampaign,
		Test:            o.Test,
		Cancelled:       o.CancelledAt != nil,
	}
}

// sessionLine is one day of GA4 sessions of one source, medium and campaign.
type sessionLine struct {
	PropertyID    string      `json:"property_id"`
	Date          string      `json:"date"`
	Source        string      `json:"source"`
	Medium        string      `json:"medium"`
	Campaign      string      `json:"campaign"`
	Sessions      int64       `json:"sessions"`
	Conversions   json.Number `json:"conversions"`
	RevenueMicros int64       `json:"revenue_micros"`
}

func sessionLineOf(r channels.SessionRow) sessionLine {
	return sessionLine{
		PropertyID:    r.PropertyID,
		Date:          r.Date.Format(channels.DateLayout),
		Source:        r.Source,
		Medium:        r.Medium,
		Campaign:      r.Campaign,
		Sessions:      r.Sessions,
		Conversions:   decimal(r.ConversionsMicros),
		RevenueMicros: r.RevenueMicros,
	}
}

// decimal prints micros of a count as a JSON number without trailing zeros ("2", "1.5").
func decimal(micros int64) json.Number { return json.Number(money.FormatDecimalMicros(micros)) }
