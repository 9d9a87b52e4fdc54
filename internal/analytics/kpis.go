package analytics

import (
	"encoding/json"
	"fmt"
	"math/big"
	"reflect"
	"strings"

	"github.com/omnitrackiq/omnitrackiq/internal/money"
)

// KPIs are one period's measures as the API reports them. Money is a decimal string plus
// micros; ratios are numbers with at most 4 decimals; both are null when undefined.
type KPIs struct {
	Revenue               string       `json:"revenue"`
	RevenueMicros         int64        `json:"revenue_micros"`
	Orders                int64        `json:"orders"`
	AOV                   *string      `json:"aov"`
	AOVMicros             *int64       `json:"aov_micros"`
	Spend                 string       `json:"spend"`
	SpendMicros           int64        `json:"spend_micros"`
	BlendedROAS           *json.Number `json:"blended_roas"`
	PlatformROAS          *json.Number `json:"platform_roas"`
	NewCustomers          int64        `json:"new_customers"`
	NewCustomerCAC        *string      `json:"new_customer_cac"`
	NewCustomerCACMicros  *int64       `json:"new_customer_cac_micros"`
	Impressions           int64        `json:"impressions"`
	Clicks                int64        `json:"clicks"`
	CTR                   *json.Number `json:"ctr"`
	CPC                   *string      `json:"cpc"`
	CPCMicros             *int64       `json:"cpc_micros"`
	Conversions           string       `json:"conversions"`
	ConversionValue       string       `json:"conversion_value"`
	ConversionValueMicros int64        `json:"conversion_value_micros"`
	Sessions              int64        `json:"sessions"`
	ConversionRate        *json.Number `json:"conversion_rate"`
}

// KPIs derives the reported measures from t.
func (t Totals) KPIs() KPIs {
	aov, aovMicros := PerUnit(t.RevenueMicros, t.Orders)
	cac, cacMicros := PerUnit(t.SpendMicros, t.NewCustomers)
	cpc, cpcMicros := PerUnit(t.SpendMicros, t.Clicks)
	return KPIs{
		Revenue:               money.FormatMicros(t.RevenueMicros),
		RevenueMicros:         t.RevenueMicros,
		Orders:                t.Orders,
		AOV:                   aov,
		AOVMicros:             aovMicros,
		Spend:                 money.FormatMicros(t.SpendMicros),
		SpendMicros:           t.SpendMicros,
		BlendedROAS:           Ratio(t.RevenueMicros, 1, t.SpendMicros, 1),
		PlatformROAS:          Ratio(t.ConversionValueMicros, 1, t.SpendMicros, 1),
		NewCustomers:          t.NewCustomers,
		NewCustomerCAC:        cac,
		NewCustomerCACMicros:  cacMicros,
		Impressions:           t.Impressions,
		Clicks:                t.Clicks,
		CTR:                   Ratio(t.Clicks, 1, t.Impressions, 1),
		CPC:                   cpc,
		CPCMicros:             cpcMicros,
		Conversions:           money.FormatDecimalMicros(t.ConversionsMicros),
		ConversionValue:       money.FormatMicros(t.ConversionValueMicros),
		ConversionValueMicros: t.ConversionValueMicros,
		Sessions:              t.Sessions,
		ConversionRate:        Ratio(t.Orders, 1, t.Sessions, 1),
	}
}

// MetricNames lists the KPI names a time series can ask for: the JSON names of KPIs, in
// their order.
func MetricNames() []string {
	typ := reflect.TypeFor[KPIs]()
	names := make([]string, 0, typ.NumField())
	for f := range typ.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		names = append(names, name)
	}
	return names
}

// Select returns the named KPIs in their JSON form. Going through JSON keeps a metric's
// value exactly what the summary shows for it. Names must come from MetricNames.
func (k KPIs) Select(names []string) (map[string]json.RawMessage, error) {
	b, err := json.Marshal(k)
	if err != nil {
		return nil, fmt.Errorf("encode KPIs: %w", err)
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(b, &all); err != nil {
		return nil, fmt.Errorf("decode KPIs: %w", err)
	}
	out := make(map[string]json.RawMessage, len(names))
	for _, n := range names {
		v, ok := all[n]
		if !ok {
			return nil, fmt.Errorf("unknown metric %q", n)
		}
		out[n] = v
	}
	return out, nil
}

// AdMeasures are summed ad-platform measures with their ratios, in the shape the metrics
// API has always reported them. Conversions are a decimal string because providers report
// fractional conversions.
type AdMeasures struct {
	Spend                 string       `json:"spend"`
	SpendMicros           int64        `json:"spend_micros"`
	Impressions           int64        `json:"impressions"`
	Clicks                int64        `json:"clicks"`
	Conversions           string       `json:"conversions"`
	ConversionValue       string       `json:"conversion_value"`
	ConversionValueMicros int64        `json:"conversion_value_micros"`
	ROAS                  *json.Number `json:"roas"` // platform ROAS: conversion value / spend
	// CPC is spend / clicks, per-unit money like the KPIs' cpc: a decimal string and micros.
	CPC       *string      `json:"cpc"`
	CPCMicros *int64       `json:"cpc_micros"`
	CPA       *json.Number `json:"cpa"` // spend / platform conversions
	CTR       *json.Number `json:"ctr"` // clicks / impressions
}

// Measures derives the reported ad measures from t.
func (t AdTotals) Measures() AdMeasures {
	cpc, cpcMicros := PerUnit(t.SpendMicros, t.Clicks)
	return AdMeasures{
		Spend:                 money.FormatMicros(t.SpendMicros),
		SpendMicros:           t.SpendMicros,
		Impressions:           t.Impressions,
		Clicks:                t.Clicks,
		Conversions:           money.FormatDecimalMicros(t.ConversionsMicros),
		ConversionValue:       money.FormatMicros(t.ConversionValueMicros),
		ConversionValueMicros: t.ConversionValueMicros,
		ROAS:                  Ratio(t.ConversionValueMicros, 1, t.SpendMicros, 1),
		CPC:                   cpc,
		CPCMicros:             cpcMicros,
		CPA:                   Ratio(t.SpendMicros, 1, t.ConversionsMicros, 1),
		CTR:                   Ratio(t.Clicks, 1, t.Impressions, 1),
	}
}

// Ratio is (num/numScale) / (den/denScale) rounded half away from zero to 4 decimals,
// computed exactly so that no float rounding shows; nil when den is 0.
func Ratio(num, numScale, den, denScale int64) *json.Number {
	if den == 0 {
		return nil
	}
	r := new(big.Rat).SetFrac(
		new(big.Int).Mul(big.NewInt(num), big.NewInt(denScale)),
		new(big.Int).Mul(big.NewInt(den), big.NewInt(numScale)))
	s := r.FloatString(4) // rounds half away from zero
	if strings.Contains(s, ".") {
		s = strings.TrimSuffix(strings.TrimRight(s, "0"), ".")
	}
	if s == "-0" {
		s = "0"
	}
	n := json.Number(s)
	return &n
}

// PerUnit is money per unit, numMicros / den rounded half away from zero to whole micros,
// as a decimal string and as micros; both nil when den is 0.
func PerUnit(numMicros, den int64) (*string, *int64) {
	if den == 0 {
		return nil, nil
	}
	q, r := numMicros/den, numMicros%den
	absR, absDen := r, den
	if absR < 0 {
		absR = -absR
	}
	if absDen < 0 {
		absDen = -absDen
	}
	// |r| >= |den| - |r| is 2|r| >= |den| without the overflow.
	if absR != 0 && absR >= absDen-absR {
		if (numMicros < 0) != (den < 0) {
			q--
		} else {
			q++
		}
	}
	s := money.FormatMicros(q)
	return &s, &q
}
