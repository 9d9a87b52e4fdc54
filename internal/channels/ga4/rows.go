package ga4

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	"github.com/omnitrackiq/omnitrackiq/internal/money"
)

// gaDateLayout is the format of the date dimension.
const gaDateLayout = "20060102"

// sessionRows maps the rows of a sessions report to SessionRows. Columns are found by
// their header names, not their positions; the key-event column is keyEvents or
// conversions, whichever is present. An empty report has no headers to check.
func sessionRows(propertyID string, r *reportResponse) ([]channels.SessionRow, error) {
	if len(r.Rows) == 0 {
		return nil, nil
	}
	dimIdx := map[string]int{}
	for i, h := range r.DimensionHeaders {
		dimIdx[h.Name] = i
	}
	metIdx := map[string]int{}
	for i, h := range r.MetricHeaders {
		metIdx[h.Name] = i
	}
	convName := MetricKeyEvents
	if _, ok := metIdx[convName]; !ok {
		convName = MetricConversions
	}
	dimNames := [4]string{"date", "sessionSource", "sessionMedium", "sessionCampaignName"}
	metNames := [3]string{"sessions", convName, "totalRevenue"}
	var dims [4]int
	var mets [3]int
	for i, n := range dimNames {
		j, ok := dimIdx[n]
		if !ok {
			return nil, fmt.Errorf("no dimension header %s", n)
		}
		dims[i] = j
	}
	for i, n := range metNames {
		j, ok := metIdx[n]
		if !ok {
			if i == 1 {
				n = MetricKeyEvents + " or " + MetricConversions
			}
			return nil, fmt.Errorf("no metric header %s", n)
		}
		mets[i] = j
	}
	out := make([]channels.SessionRow, 0, len(r.Rows))
	for n, raw := range r.Rows {
		var d [4]string
		var m [3]string
		for i, j := range dims {
			if j >= len(raw.DimensionValues) {
				return nil, fmt.Errorf("row %d: no value for %s", n, dimNames[i])
			}
			d[i] = raw.DimensionValues[j].Value
		}
		for i, j := range mets {
			if j >= len(raw.MetricValues) {
				return nil, fmt.Errorf("row %d: no value for %s", n, metNames[i])
			}
			m[i] = raw.MetricValues[j].Value
		}
		date, err := time.Parse(gaDateLayout, d[0])
		if err != nil {
			return nil, fmt.Errorf("row %d: date %q is not YYYYMMDD", n, d[0])
		}
		row := channels.SessionRow{
			PropertyID: propertyID,
			Date:       date,
			Source:     d[1],
			Medium:     d[2],
			Campaign:   d[3],
			Currency:   r.Metadata.CurrencyCode,
		}
		if row.Sessions, err = ParseCount(m[0]); err != nil {
			return nil, fmt.Errorf("row %d: sessions: %v", n, err)
		}
		if row.ConversionsMicros, err = ParseDecimalMicros(m[1]); err != nil {
			return nil, fmt.Errorf("row %d: %s: %v", n, convName, err)
		}
		if row.RevenueMicros, err = ParseDecimalMicros(m[2]); err != nil {
			return nil, fmt.Errorf("row %d: totalRevenue: %v", n, err)
		}
		out = append(out, row)
	}
	return out, nil
}

// ParseCount parses an integer metric. The Data API sometimes sends integers as decimals
// ("3.0"); those are accepted when they are exactly integral, as is exponent notation
// ("1.2E7") of an exact integer. Anything that would need rounding is an error.
func ParseCount(s string) (int64, error) {
	if v, err := strconv.ParseInt(s, 10, 64); err == nil {
		return v, nil
	}
	m, err := ParseDecimalMicros(s)
	if err != nil {
		return 0, err
	}
	if m%money.MicrosPerUnit != 0 {
		return 0, fmt.Errorf("%q is not an integer", s)
	}
	return m / money.MicrosPerUnit, nil
}

// ParseDecimalMicros parses a decimal metric into micros exactly with money.ParseMicros;
// exponent notation, which the API may use for large values, is converted exactly too.
func ParseDecimalMicros(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	m, err := money.ParseMicros(s)
	if err == nil {
		return m, nil
	}
	if !strings.ContainsAny(s, "eE") || strings.ContainsAny(s, "/ \t") {
		return 0, err
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return 0, err
	}
	r.Mul(r, big.NewRat(money.MicrosPerUnit, 1))
	if !r.IsInt() || !r.Num().IsInt64() {
		return 0, fmt.Errorf("parse %q: not a whole number of micros in range", s)
	}
	return r.Num().Int64(), nil
}
