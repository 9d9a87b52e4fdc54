package api

import (
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	"github.com/omnitrackiq/omnitrackiq/internal/money"
	"github.com/omnitrackiq/omnitrackiq/internal/store"
)

// Measures are summed metrics in one currency with their derived ratios. Money is both a
// decimal string (exact) and integer micros; conversions are a decimal string because
// providers report fractional conversions. A ratio is null when its denominator is 0.
type Measures struct {
	Currency              string       `json:"currency"`
	Spend                 string       `json:"spend"`
	SpendMicros           int64        `json:"spend_micros"`
	Impressions           int64        `json:"impressions"`
	Clicks                int64        `json:"clicks"`
	Conversions           string       `json:"conversions"`
	ConversionValue       string       `json:"conversion_value"`
	ConversionValueMicros int64        `json:"conversion_value_micros"`
	ROAS                  *json.Number `json:"roas"` // conversion value / spend
	CPC                   *json.Number `json:"cpc"`  // spend / clicks
	CPA                   *json.Number `json:"cpa"`  // spend / conversions
	CTR                   *json.Number `json:"ctr"`  // clicks / impressions
}

// Summary is the body of GET /v1/metrics/summary. Its top-level measures are in the
// workspace currency, or in the currency with the most spend if the workspace has no rows
// in its own; the other currencies follow separately, since they cannot be added.
type Summary struct {
	From string `json:"from"`
	To   string `json:"to"`
	Measures
	OtherCurrencies []Measures `json:"other_currencies"`
}

// CampaignMeasures are one campaign's measures in one currency.
type CampaignMeasures struct {
	Channel      string `json:"channel"`
	AccountID    string `json:"account_id"`
	CampaignID   string `json:"campaign_id"`
	CampaignName string `json:"campaign_name"`
	Measures
}

// CampaignReport is the body of GET /v1/metrics/campaigns.
type CampaignReport struct {
	From      string             `json:"from"`
	To        string             `json:"to"`
	Campaigns []CampaignMeasures `json:"campaigns"`
}

func measures(currency string, t store.MetricTotals) Measures {
	const perUnit = money.MicrosPerUnit
	return Measures{
		Currency:              currency,
		Spend:                 money.FormatMicros(t.SpendMicros),
		SpendMicros:           t.SpendMicros,
		Impressions:           t.Impressions,
		Clicks:                t.Clicks,
		Conversions:           money.FormatDecimalMicros(t.ConversionsMicros),
		ConversionValue:       money.FormatMicros(t.ConversionValueMicros),
		ConversionValueMicros: t.ConversionValueMicros,
		ROAS:                  ratio(t.ConversionValueMicros, 1, t.SpendMicros, 1),
		CPC:                   ratio(t.SpendMicros, perUnit, t.Clicks, 1),
		CPA:                   ratio(t.SpendMicros, 1, t.ConversionsMicros, 1),
		CTR:                   ratio(t.Clicks, 1, t.Impressions, 1),
	}
}

// ratio is (num/numScale) / (den/denScale) rounded half away from zero to 4 decimals,
// computed exactly so that no float rounding shows; nil when den is 0.
func ratio(num, numScale, den, denScale int64) *json.Number {
	if den == 0 {
		return nil
	}
	r := new(big.Rat).SetFrac(
		new(big.Int).Mul(big.NewInt(num), big.NewInt(denScale)),
		new(big.Int).Mul(big.NewInt(den), big.NewInt(numScale)))
	s := r.FloatString(4)
	if strings.Contains(s, ".") {
		s = strings.TrimSuffix(strings.TrimRight(s, "0"), ".")
	}
	if s == "-0" {
		s = "0"
	}
	n := json.Number(s)
	return &n
}

// maxMetricsYears bounds a metrics query so one request cannot scan all history.
const maxMetricsYears = 3

// metricsWindow reads the from and to query parameters. On failure it has written the
// problem and returns false.
func metricsWindow(c *gin.Context) (channels.Window, bool) {
	from, ferr := parseDay("from", c.Query("from"))
	to, terr := parseDay("to", c.Query("to"))
	errs := appendErr(nil, ferr)
	errs = appendErr(errs, terr)
	if len(errs) == 0 {
		switch {
		case from.After(to):
			errs = append(errs, FieldError{"from", fmt.Sprintf("must not be after to (%s)", c.Query("to"))})
		case !to.Before(from.AddDate(maxMetricsYears, 0, 0)):
			errs = append(errs, FieldError{"to", fmt.Sprintf("the window must be shorter than %d years", maxMetricsYears)})
		}
	}
	if len(errs) > 0 {
		validationProblem(c, errs)
		return channels.Window{}, false
	}
	return channels.Window{From: from, To: to}, true
}

func (s *server) metricsSummary(c *gin.Context) {
	w, ok := metricsWindow(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	ws := workspaceID(c)
	workspace, err := s.Store.GetWorkspace(ctx, ws)
	if err != nil {
		s.unavailable(c, "the database", err)
		return
	}
	rows, err := s.Store.MetricsSummary(ctx, ws, w.From, w.To)
	if err != nil {
		s.unavailable(c, "the database", err)
		return
	}
	c.JSON(http.StatusOK, buildSummary(w, workspace.Currency, rows))
}

// buildSummary picks the top-level currency. rows come most spend first.
func buildSummary(w channels.Window, workspaceCurrency string, rows []store.CurrencyMetrics) Summary {
	top := -1
	for i, r := range rows {
		if r.Currency == workspaceCurrency {
			top = i
			break
		}
	}
	if top < 0 && len(rows) > 0 {
		top = 0
	}
	out := Summary{
		From:            w.From.Format(channels.DateLayout),
		To:              w.To.Format(channels.DateLayout),
		Measures:        measures(workspaceCurrency, store.MetricTotals{}),
		OtherCurrencies: []Measures{},
	}
	for i, r := range rows {
		if i == top {
			out.Measures = measures(r.Currency, r.MetricTotals)
			continue
		}
		out.OtherCurrencies = append(out.OtherCurrencies, measures(r.Currency, r.MetricTotals))
	}
	return out
}

func (s *server) metricsCampaigns(c *gin.Context) {
	w, ok := metricsWindow(c)
	if !ok {
		return
	}
	rows, err := s.Store.MetricsCampaigns(c.Request.Context(), workspaceID(c), w.From, w.To)
	if err != nil {
		s.unavailable(c, "the database", err)
		return
	}
	out := CampaignReport{
		From:      w.From.Format(channels.DateLayout),
		To:        w.To.Format(channels.DateLayout),
		Campaigns: make([]CampaignMeasures, 0, len(rows)),
	}
	for _, r := range rows {
		out.Campaigns = append(out.Campaigns, CampaignMeasures{
			Channel: r.Channel, AccountID: r.AccountID, CampaignID: r.CampaignID, CampaignName: r.CampaignName,
			Measures: measures(r.Currency, r.MetricTotals),
		})
	}
	c.JSON(http.StatusOK, out)
}
