package connectorrun

import (
	"encoding/json"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	"github.com/omnitrackiq/omnitrackiq/internal/money"
)

// The output lines. Field order and names are part of the CLI's contract. Every line names
// its channel and its account (account_id, shop_domain or property_id), has the same keys
// whatever the level, and gives an id that is absent (a campaign row's ad set, a guest
// order's customer) as null, never "", so that a reader cannot take "" for a real id.

// adLine is one daily ad row of meta, google_ads or tiktok.
type adLine struct {
	Channel               string      `json:"channel"`
	AccountID             string      `json:"account_id"`
	CampaignID            string      `json:"campaign_id"`
	CampaignName          string      `json:"campaign_name"`
	AdSetID               *string     `json:"adset_id"`
	AdID                  *string     `json:"ad_id"`
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
		l.AdSetID = optionalID(r.AdSetID)
	}
	if level == channels.LevelAd {
		l.AdID = optionalID(r.AdID)
	}
	return l
}

// orderLine is one Shopify order. Timestamps keep the offset Shopify sent them with.
type orderLine struct {
	Channel         string  `json:"channel"`
	ShopDomain      string  `json:"shop_domain"`
	OrderID         string  `json:"order_id"`
	CreatedAt       string  `json:"created_at"`
	UpdatedAt       string  `json:"updated_at"`
	Currency        string  `json:"currency"`
	TotalMicros     int64   `json:"total_micros"`
	FinancialStatus string  `json:"financial_status"`
	CustomerID      *string `json:"customer_id"` // null for a guest checkout
	UTMSource       string  `json:"utm_source"`
	UTMMedium       string  `json:"utm_medium"`
	UTMCampaign     string  `json:"utm_campaign"`
	Test            bool    `json:"test"`
	Cancelled       bool    `json:"cancelled"`
}

func orderLineOf(o channels.Order) orderLine {
	return orderLine{
		Channel:         string(channels.Shopify),
		ShopDomain:      o.ShopDomain,
		OrderID:         o.OrderID,
		CreatedAt:       o.CreatedAt.Format(time.RFC3339),
		UpdatedAt:       o.UpdatedAt.Format(time.RFC3339),
		Currency:        o.Currency,
		TotalMicros:     o.TotalMicros,
		FinancialStatus: o.FinancialStatus,
		CustomerID:      optionalID(o.CustomerID),
		UTMSource:       o.UTMSource,
		UTMMedium:       o.UTMMedium,
		UTMCampaign:     o.UTMCampaign,
		Test:            o.Test,
		Cancelled:       o.CancelledAt != nil,
	}
}

// sessionLine is one day of GA4 sessions of one source, medium and campaign.
type sessionLine struct {
	Channel       string      `json:"channel"`
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
		Channel:       string(channels.GA4),
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

// optionalID is an id as a JSON string, or nil (null) when the provider gave none.
func optionalID(id string) *string {
	if id == "" {
		return nil
	}
	return &id
}
