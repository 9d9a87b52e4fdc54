// Package channels defines what every provider connector speaks: the channel names, the
// normalized daily ad row, the page-by-page reader interface and the classified provider error.
package channels

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Channel names a provider. The values are stored in the database and used in search attributes.
type Channel string

const (
	Meta      Channel = "meta"
	GoogleAds Channel = "google_ads"
	TikTok    Channel = "tiktok"
	Shopify   Channel = "shopify"
	GA4       Channel = "ga4"
)

// All lists the channels in a fixed order.
var All = []Channel{Meta, GoogleAds, TikTok, Shopify, GA4}

// ParseChannel validates a channel name.
func ParseChannel(s string) (Channel, error) {
	for _, c := range All {
		if string(c) == s {
			return c, nil
		}
	}
	return "", fmt.Errorf("unknown channel %q (want one of meta, google_ads, tiktok, shopify, ga4)", s)
}

// DateLayout is the wire and storage layout of a calendar day.
const DateLayout = "2006-01-02"

// Window is an inclusive range of calendar days. Both ends are midnight UTC of their day.
type Window struct {
	From time.Time
	To   time.Time
}

// ParseWindow parses two YYYY-MM-DD days and checks that from <= to.
func ParseWindow(from, to string) (Window, error) {
	f, err := time.Parse(DateLayout, from)
	if err != nil {
		return Window{}, fmt.Errorf("from %q is not a YYYY-MM-DD date", from)
	}
	t, err := time.Parse(DateLayout, to)
	if err != nil {
		return Window{}, fmt.Errorf("to %q is not a YYYY-MM-DD date", to)
	}
	if f.After(t) {
		return Window{}, fmt.Errorf("from %s is after to %s", from, to)
	}
	return Window{From: f, To: t}, nil
}

// RetentionDays is how far back from today a backfill may reach, on every channel: Meta
// keeps ad insights for 37 months (1123 days) and refuses an older start date, and the sync
// activities never read further back than this on any channel. Shopify tokens without
// read_all_orders reach less far; the connector's History says so per token.
const RetentionDays = 1123

// EarliestBackfillDay is the first day a backfill may start on when today (any time of it,
// in UTC) is today: RetentionDays before it. Every day it allows is after 1970.
func EarliestBackfillDay(today time.Time) time.Time {
	y, m, d := today.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC).AddDate(0, 0, -RetentionDays)
}

// Days is the number of calendar days in the window.
func (w Window) Days() int { return int(w.To.Sub(w.From).Hours()/24) + 1 }

func (w Window) String() string {
	return w.From.Format(DateLayout) + ".." + w.To.Format(DateLayout)
}

// Level is the granularity of an ad report.
type Level string

const (
	LevelCampaign Level = "campaign"
	LevelAdSet    Level = "adset"
	LevelAd       Level = "ad"
)

// AdRow is one day of one ad object's delivery, normalized across providers.
// Money is integer micros of Currency; conversions are micros of a conversion count
// (providers report fractional conversions).
type AdRow struct {
	Channel               Channel
	AccountID             string
	CampaignID            string
	CampaignName          string
	AdSetID               string
	AdSetName             string
	AdID                  string
	AdName                string
	Date                  time.Time
	Currency              string
	SpendMicros           int64
	Impressions           int64
	Clicks                int64
	ConversionsMicros     int64
	ConversionValueMicros int64
}

// Account is what a connector needs to call the provider for one connected account.
type Account struct {
	// ID is the provider's account id in its canonical form (Meta: digits without "act_";
	// Google Ads: 10 digits without dashes; TikTok: advertiser id; Shopify: the shop's
	// myshopify.com domain; GA4: the numeric property id).
	ID    string
	Token string
	// RefreshToken lets OAuth channels (Google Ads, GA4) mint access tokens; Token may then
	// be empty or expired.
	RefreshToken string
	// LoginCustomerID is the Google Ads manager account acting for ID, if any (digits).
	LoginCustomerID string
}

// AccountInfo is the provider's description of an account.
type AccountInfo struct {
	ID       string
	Name     string
	Currency string
	Timezone string
}

// ReadRequest says what to read.
type ReadRequest struct {
	Window Window
	Level  Level
}

// Page is the result of one provider call.
type Page struct {
	Rows []AdRow
	// Next is the opaque cursor of the next call; "" means the read is complete.
	Next string
	// Wait asks the caller to wait at least this long before the next call: a report
	// that is still running, or provider usage close to its limit.
	Wait time.Duration
}

// AdReader reads daily ad metrics from one provider, one page per call. Cursors are opaque
// strings that survive a process restart, so a read can resume where it stopped.
type AdReader interface {
	AccountInfo(ctx context.Context, acct Account) (AccountInfo, error)
	ReadPage(ctx context.Context, acct Account, req ReadRequest, cursor string) (Page, error)
}

// ErrorKind classifies a provider failure by what the caller should do about it.
type ErrorKind int

const (
	// KindTransient: retry with backoff (5xx, timeouts, transient provider errors).
	KindTransient ErrorKind = iota
	// KindRateLimited: retry after RetryAfter.
	KindRateLimited
	// KindAuth: the token is expired or revoked; retrying cannot help.
	KindAuth
	// KindBadRequest: the provider rejected the request; retrying cannot help.
	KindBadRequest
	// KindUnavailable: the account itself is out of service (a Shopify shop frozen for an
	// unpaid bill, or locked). The token is fine and nothing the caller can do helps now;
	// the account comes back by itself once its owner acts.
	KindUnavailable
)

func (k ErrorKind) String() string {
	switch k {
	case KindRateLimited:
		return "rate_limited"
	case KindAuth:
		return "auth"
	case KindBadRequest:
		return "bad_request"
	case KindUnavailable:
		return "unavailable"
	default:
		return "transient"
	}
}

// Error is a classified provider failure.
type Error struct {
	Channel    Channel
	Kind       ErrorKind
	HTTPStatus int
	// Code is the provider's own error code (Meta error.code), 0 if none.
	Code int
	// Subcode refines Code where the provider has one (Meta error_subcode), 0 if none.
	Subcode    int
	Message    string
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("%s %s error", e.Channel, e.Kind)
	if e.HTTPStatus != 0 {
		msg += fmt.Sprintf(" (HTTP %d", e.HTTPStatus)
		if e.Code != 0 {
			msg += fmt.Sprintf(", code %d", e.Code)
		}
		msg += ")"
	}
	if e.Message != "" {
		msg += ": " + e.Message
	}
	if e.RetryAfter > 0 {
		msg += fmt.Sprintf(" (retry after %s)", e.RetryAfter)
	}
	return msg
}

// AsError returns the classified provider error inside err, if any.
func AsError(err error) (*Error, bool) {
	var pe *Error
	if errors.As(err, &pe) {
		return pe, true
	}
	return nil, false
}

// Order is one store order, normalized. Money is integer micros of Currency.
type Order struct {
	ShopDomain      string
	OrderID         string
	Name            string
	CreatedAt       time.Time
	UpdatedAt       time.Time
	ProcessedAt     time.Time
	CancelledAt     *time.Time
	Currency        string
	TotalMicros     int64
	SubtotalMicros  int64
	TaxMicros       int64
	DiscountsMicros int64
	// RefundedMicros is the sum of the order's refund transactions.
	RefundedMicros  int64
	FinancialStatus string
	Test            bool
	// CustomerID is the provider's customer id ("" for guest checkouts).
	CustomerID string
	// EmailSHA256 is the hex SHA-256 of the trimmed, lower-cased email; the email itself is
	// never kept.
	EmailSHA256   string
	UTMSource     string
	UTMMedium     string
	UTMCampaign   string
	LandingSite   string
	ReferringSite string
	LineItems     []LineItem
	Refunds       []Refund
	// Customer is the store's own record of the order's customer, when the order has one.
	Customer *Customer
}

// Customer is a store's record of a customer as read with one of their orders: what the
// store knows of the customer's whole history, beyond the orders we happen to hold.
type Customer struct {
	ID string
	// EmailSHA256 is the hex SHA-256 of the trimmed, lower-cased email ("" if none).
	EmailSHA256 string
	// CreatedAt is when the store created the customer record.
	CreatedAt time.Time
	// UpdatedAt orders versions of the record: an older one never replaces a newer one.
	UpdatedAt time.Time
	// OrdersCount is the store's count of the customer's orders when read; -1 if unknown.
	OrdersCount int64
}

// LineItem is one line of an order.
type LineItem struct {
	LineItemID  string
	ProductID   string
	VariantID   string
	SKU         string
	Title       string
	Quantity    int64
	PriceMicros int64
}

// Refund is one refund of an order.
type Refund struct {
	RefundID     string
	CreatedAt    time.Time
	AmountMicros int64
}

// OrdersRequest asks for the orders updated at or after UpdatedMin (an incremental read,
// which follows every change), or, when CreatedMin is set, for the orders created from
// CreatedMin to CreatedMax inclusive, whatever their updates (a backfill window, which
// reads each order once however often it changed later).
type OrdersRequest struct {
	UpdatedMin time.Time
	CreatedMin time.Time
	CreatedMax time.Time
}

// OrdersPage is one page of orders.
type OrdersPage struct {
	Orders []Order
	Next   string
	Wait   time.Duration
}

// History is how far back an account's token reads a provider's data.
type History struct {
	// From is the earliest creation time the token reads; zero means all history.
	From time.Time
	// Scope is the permission that would lift the limit, "" when there is none.
	Scope string
	// Scopes are the token's granted scopes, as the provider names them.
	Scopes []string
}

// HistoryReader is a connector whose provider limits, by the token's scopes, how far back
// the token reads, silently (Shopify serves 60 days of orders without read_all_orders).
type HistoryReader interface {
	History(ctx context.Context, acct Account, now time.Time) (History, error)
}

// OrderReader reads a store's orders incrementally by update time, one page per call.
type OrderReader interface {
	AccountInfo(ctx context.Context, acct Account) (AccountInfo, error)
	ReadOrders(ctx context.Context, acct Account, req OrdersRequest, cursor string) (OrdersPage, error)
}

// SessionRow is one day of web sessions for a traffic source, normalized.
type SessionRow struct {
	PropertyID        string
	Date              time.Time
	Source            string
	Medium            string
	Campaign          string
	Sessions          int64
	ConversionsMicros int64
	RevenueMicros     int64
	Currency          string
}

// SessionsPage is one page of session rows.
type SessionsPage struct {
	Rows []SessionRow
	Next string
	Wait time.Duration
}

// SessionReader reads daily sessions by source/medium/campaign, one page per call.
type SessionReader interface {
	AccountInfo(ctx context.Context, acct Account) (AccountInfo, error)
	ReadSessions(ctx context.Context, acct Account, req ReadRequest, cursor string) (SessionsPage, error)
}

// CampaignSlug is the form in which campaign names and utm_campaign values are compared:
// lower case, runs of anything but ASCII letters and digits replaced by one underscore,
// none at the ends ("Retargeting - 30d" and "retargeting_30d" both give "retargeting_30d").
func CampaignSlug(name string) string {
	var b strings.Builder
	pending := false
	for _, r := range strings.ToLower(name) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			if pending && b.Len() > 0 {
				b.WriteByte('_')
			}
			pending = false
			b.WriteRune(r)
			continue
		}
		pending = true
	}
	return b.String()
}

// AccountReader is what every connector offers: a description of the account, which also
// proves that the credentials work.
type AccountReader interface {
	AccountInfo(ctx context.Context, acct Account) (AccountInfo, error)
}

// Registry holds the connector of each channel, by the kind of data it reads.
type Registry struct {
	Ads      map[Channel]AdReader
	Orders   map[Channel]OrderReader
	Sessions map[Channel]SessionReader
}

// Account returns the channel's connector as an AccountReader.
func (r Registry) Account(ch Channel) (AccountReader, bool) {
	if c, ok := r.Ads[ch]; ok {
		return c, true
	}
	if c, ok := r.Orders[ch]; ok {
		return c, true
	}
	if c, ok := r.Sessions[ch]; ok {
		return c, true
	}
	return nil, false
}

// Channels lists the channels that have a connector, in the order of All.
func (r Registry) Channels() []Channel {
	var out []Channel
	for _, ch := range All {
		if _, ok := r.Account(ch); ok {
			out = append(out, ch)
		}
	}
	return out
}
