package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/omnitrackiq/omnitrackiq/internal/analytics"
	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	"github.com/omnitrackiq/omnitrackiq/internal/money"
)

// The definitions of every measure below are in the analytics package documentation.

// Summary is the body of GET /v1/metrics/summary. Money is in Currency, days are in Timezone.
type Summary struct {
	From     string `json:"from"`
	To       string `json:"to"`
	Currency string `json:"currency"`
	Timezone string `json:"timezone"`
	// The current period's ad measures also sit at the top level, where clients of the
	// first version of this endpoint read them.
	analytics.AdMeasures
	Current            analytics.KPIs `json:"current"`
	Previous           analytics.KPIs `json:"previous"`
	PreviousFrom       string         `json:"previous_from"`
	PreviousTo         string         `json:"previous_to"`
	ExcludedCurrencies []string       `json:"excluded_currencies"`
	// OrderHistoryFrom is the workspace day of the earliest order held (null when none):
	// how far back the order history that orders, revenue and new customers rest on reaches.
	OrderHistoryFrom *string `json:"order_history_from"`
}

// Timeseries is the body of GET /v1/metrics/timeseries.
type Timeseries struct {
	From               string            `json:"from"`
	To                 string            `json:"to"`
	Granularity        string            `json:"granularity"`
	Currency           string            `json:"currency"`
	Timezone           string            `json:"timezone"`
	Metrics            []string          `json:"metrics"`
	Points             []TimeseriesPoint `json:"points"`
	ExcludedCurrencies []string          `json:"excluded_currencies"`
}

// TimeseriesPoint is one bucket. PeriodStart and PeriodEnd are its calendar bounds (Monday
// and Sunday, first and last of the month); Partial says the range cuts the bucket, so only
// part of it is counted.
type TimeseriesPoint struct {
	PeriodStart string `json:"period_start"`
	PeriodEnd   string `json:"period_end"`
	Partial     bool   `json:"partial"`
	// Values has each requested metric as it appears in the summary.
	Values map[string]json.RawMessage `json:"values"`
}

// Attributed are the sales the attribution model credits to a row. BlendedROAS is
// attributed revenue / spend.
type Attributed struct {
	PlatformROAS            *json.Number `json:"platform_roas"`
	AttributedOrders        int64        `json:"attributed_orders"`
	AttributedRevenue       string       `json:"attributed_revenue"`
	AttributedRevenueMicros int64        `json:"attributed_revenue_micros"`
	BlendedROAS             *json.Number `json:"blended_roas"`
}

// ChannelMetrics is one channel's row. Its roas is the platform ROAS, as in the summary's
// top level.
type ChannelMetrics struct {
	Channel string `json:"channel"`
	analytics.AdMeasures
	Attributed
}

// ChannelReport is the body of GET /v1/metrics/channels.
type ChannelReport struct {
	From               string                `json:"from"`
	To                 string                `json:"to"`
	Currency           string                `json:"currency"`
	Timezone           string                `json:"timezone"`
	Channels           []ChannelMetrics      `json:"channels"`
	Attribution        analytics.Attribution `json:"attribution"`
	ExcludedCurrencies []string              `json:"excluded_currencies"`
}

// CampaignMetrics is one campaign's row, or with Unmatched the revenue attributed to
// Channel under a UTMCampaign that matched none of its campaigns (ids and name empty, ad
// measures zero).
type CampaignMetrics struct {
	Channel      string `json:"channel"`
	AccountID    string `json:"account_id"`
	CampaignID   string `json:"campaign_id"`
	CampaignName string `json:"campaign_name"`
	Currency     string `json:"currency"`
	Unmatched    bool   `json:"unmatched"`
	UTMCampaign  string `json:"utm_campaign"`
	analytics.AdMeasures
	Attributed
}

// CampaignReport is the body of GET /v1/metrics/campaigns.
type CampaignReport struct {
	From               string                `json:"from"`
	To                 string                `json:"to"`
	Currency           string                `json:"currency"`
	Timezone           string                `json:"timezone"`
	Campaigns          []CampaignMetrics     `json:"campaigns"`
	Attribution        analytics.Attribution `json:"attribution"`
	ExcludedCurrencies []string              `json:"excluded_currencies"`
}

// analytics returns the KPI queries over the API's database.
func (s *server) analytics() *analytics.Queries { return analytics.New(s.Store.Pool) }

// The longest window of each analytics endpoint, in years (from plus the years, exclusive),
// so one request cannot scan a workspace's whole history. The campaign report joins every
// order to its campaign and the order list totals every order of the window, so they cost
// the most per day and get the shortest window; the README lists the same.
const (
	maxSummaryYears    = 3
	maxTimeseriesYears = 3
	maxChannelsYears   = 3
	maxCampaignsYears  = 1
	maxOrdersYears     = 1
)

// minMetricsYear is the earliest year a range may start in. It keeps the previous period
// and every SQL date in years PostgreSQL accepts (Go parses year 0000, which PostgreSQL
// rejects), so odd input is a 422 rather than a database error.
const minMetricsYear = 1970

// windowErrors reads the from and to query parameters: workspace calendar days, both
// inclusive, the window shorter than maxYears.
func windowErrors(c *gin.Context, maxYears int) (channels.Window, []FieldError) {
	from, ferr := parseDay("from", c.Query("from"))
	to, terr := parseDay("to", c.Query("to"))
	errs := appendErr(nil, ferr)
	errs = appendErr(errs, terr)
	if len(errs) == 0 {
		switch {
		case from.Year() < minMetricsYear:
			errs = append(errs, FieldError{"from", fmt.Sprintf("must not be before %d-01-01", minMetricsYear)})
		case from.After(to):
			errs = append(errs, FieldError{"from", fmt.Sprintf("must not be after to (%s)", c.Query("to"))})
		case !to.Before(from.AddDate(maxYears, 0, 0)):
			errs = append(errs, FieldError{"to", fmt.Sprintf("this endpoint's window must be shorter than %s: with from %s, to may be at most %s",
				plural(maxYears, "year"), c.Query("from"), formatDay(from.AddDate(maxYears, 0, -1)))})
		}
	}
	return channels.Window{From: from, To: to}, errs
}

// metricsWindow reads the window and checks it against the plan's history. On failure it
// has written the problem and returns false.
func (s *server) metricsWindow(c *gin.Context, maxYears int) (channels.Window, bool) {
	w, errs := windowErrors(c, maxYears)
	if len(errs) > 0 {
		validationProblem(c, errs)
		return channels.Window{}, false
	}
	if !s.checkHistory(c, w.From) {
		return channels.Window{}, false
	}
	return w, true
}

func (s *server) metricsSummary(c *gin.Context) {
	w, ok := s.metricsWindow(c, maxSummaryYears)
	if !ok {
		return
	}
	sum, err := s.analytics().Summary(c.Request.Context(), workspaceID(c), w)
	if err != nil {
		s.unavailable(c, "the database", err)
		return
	}
	c.JSON(http.StatusOK, Summary{
		From:               formatDay(sum.Window.From),
		To:                 formatDay(sum.Window.To),
		Currency:           sum.Workspace.Currency,
		Timezone:           sum.Workspace.Timezone,
		AdMeasures:         sum.Current.AdTotals.Measures(),
		Current:            sum.Current.KPIs(),
		Previous:           sum.Previous.KPIs(),
		PreviousFrom:       formatDay(sum.PreviousWindow.From),
		PreviousTo:         formatDay(sum.PreviousWindow.To),
		ExcludedCurrencies: sum.ExcludedCurrencies,
		OrderHistoryFrom:   optionalDay(sum.OrderHistoryFrom),
	})
}

// optionalDay formats a day, or returns nil for no day.
func optionalDay(d *time.Time) *string {
	if d == nil {
		return nil
	}
	s := formatDay(*d)
	return &s
}

func (s *server) metricsTimeseries(c *gin.Context) {
	w, errs := windowErrors(c, maxTimeseriesYears)
	g := analytics.Day
	if v, ok := c.GetQuery("granularity"); ok {
		var err error
		if g, err = analytics.ParseGranularity(v); err != nil {
			errs = append(errs, FieldError{"granularity", fmt.Sprintf("%q is not one of day, week, month", v)})
		}
	}
	metrics, merr := parseMetrics(c.QueryArray("metrics"))
	errs = appendErr(errs, merr)
	if len(errs) > 0 {
		validationProblem(c, errs)
		return
	}
	if !s.checkHistory(c, w.From) {
		return
	}
	ts, err := s.analytics().Timeseries(c.Request.Context(), workspaceID(c), w, g)
	if err != nil {
		s.unavailable(c, "the database", err)
		return
	}
	out := Timeseries{
		From: formatDay(w.From), To: formatDay(w.To), Granularity: string(g),
		Currency: ts.Workspace.Currency, Timezone: ts.Workspace.Timezone,
		Metrics: metrics, Points: make([]TimeseriesPoint, 0, len(ts.Points)),
		ExcludedCurrencies: ts.ExcludedCurrencies,
	}
	for _, p := range ts.Points {
		values, err := p.Totals.KPIs().Select(metrics)
		if err != nil {
			s.internal(c, "select metrics", err)
			return
		}
		out.Points = append(out.Points, TimeseriesPoint{
			PeriodStart: formatDay(p.Start), PeriodEnd: formatDay(p.End),
			Partial: p.Start.Before(w.From) || p.End.After(w.To),
			Values:  values,
		})
	}
	c.JSON(http.StatusOK, out)
}

// parseMetrics reads metrics=a,b (or repeated metrics=a&metrics=b); none means all of them.
func parseMetrics(params []string) ([]string, *FieldError) {
	allowed := analytics.MetricNames()
	var out []string
	for _, p := range params {
		for name := range strings.SplitSeq(p, ",") {
			name = strings.TrimSpace(name)
			if !slices.Contains(allowed, name) {
				return nil, &FieldError{"metrics", fmt.Sprintf("unknown metric %q; allowed: %s", name, strings.Join(allowed, ", "))}
			}
			if !slices.Contains(out, name) {
				out = append(out, name)
			}
		}
	}
	if len(out) == 0 {
		return allowed, nil
	}
	return out, nil
}

func (s *server) metricsChannels(c *gin.Context) {
	w, ok := s.metricsWindow(c, maxChannelsYears)
	if !ok {
		return
	}
	rep, err := s.analytics().Channels(c.Request.Context(), workspaceID(c), w)
	if err != nil {
		s.unavailable(c, "the database", err)
		return
	}
	out := ChannelReport{
		From: formatDay(w.From), To: formatDay(w.To), Currency: rep.Workspace.Currency, Timezone: rep.Workspace.Timezone,
		Channels:           make([]ChannelMetrics, 0, len(rep.Channels)),
		Attribution:        analytics.AttributionModel(),
		ExcludedCurrencies: rep.ExcludedCurrencies,
	}
	for _, r := range rep.Channels {
		out.Channels = append(out.Channels, ChannelMetrics{
			Channel: r.Channel, AdMeasures: r.AdTotals.Measures(), Attributed: attributed(r.AdTotals, r.Attributed),
		})
	}
	c.JSON(http.StatusOK, out)
}

func (s *server) metricsCampaigns(c *gin.Context) {
	w, ok := s.metricsWindow(c, maxCampaignsYears)
	if !ok {
		return
	}
	rep, err := s.analytics().Campaigns(c.Request.Context(), workspaceID(c), w)
	if err != nil {
		s.unavailable(c, "the database", err)
		return
	}
	out := CampaignReport{
		From: formatDay(w.From), To: formatDay(w.To), Currency: rep.Workspace.Currency, Timezone: rep.Workspace.Timezone,
		Campaigns:          make([]CampaignMetrics, 0, len(rep.Campaigns)),
		Attribution:        analytics.AttributionModel(),
		ExcludedCurrencies: rep.ExcludedCurrencies,
	}
	for _, r := range rep.Campaigns {
		out.Campaigns = append(out.Campaigns, CampaignMetrics{
			Channel: r.Channel, AccountID: r.AccountID, CampaignID: r.CampaignID, CampaignName: r.CampaignName,
			Currency: rep.Workspace.Currency, Unmatched: r.Unmatched, UTMCampaign: r.UTMCampaign,
			AdMeasures: r.AdTotals.Measures(), Attributed: attributed(r.AdTotals, r.Attributed),
		})
	}
	c.JSON(http.StatusOK, out)
}

func attributed(ad analytics.AdTotals, a analytics.Attributed) Attributed {
	return Attributed{
		PlatformROAS:            analytics.Ratio(ad.ConversionValueMicros, 1, ad.SpendMicros, 1),
		AttributedOrders:        a.Orders,
		AttributedRevenue:       money.FormatMicros(a.RevenueMicros),
		AttributedRevenueMicros: a.RevenueMicros,
		BlendedROAS:             analytics.Ratio(a.RevenueMicros, 1, ad.SpendMicros, 1),
	}
}

// day formats a calendar day for the wire.
func formatDay(t time.Time) string { return t.Format(channels.DateLayout) }
