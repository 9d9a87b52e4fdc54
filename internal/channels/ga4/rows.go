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
		// A value that cannot be read fails the whole window, so the message names
		// everything support needs to find it in GA4: the row, the field and the value.
		bad := func(field, value string, err error) error {
			return fmt.Errorf("row %d (date %s, source %q, medium %q, campaign %q): %s %q: %v",
				n, d[0], d[1], d[2], d[3], field, value, err)
		}
		if row.Sessions, err = ParseCount(m[0]); err != nil {
			return nil, bad("sessions", m[0], err)
		}
		if row.ConversionsMicros, err = ParseDecimalMicros(m[1]); err != nil {
			return nil, bad(convName, m[1], err)
		}
		if row.RevenueMicros, err = ParseDecimalMicros(m[2]); err != nil {
			return nil, bad("totalRevenue", m[2], err)
		}
		out = append(out, row)
	}
	return out, nil
}

// ParseCount parses an integer metric. The Data API sometimes sends integers as decimals
// ("3.0", or "3.0000000000000004" from a float64 sum); those are accepted when they round
// to a whole number at micro precision, as is exponent notation ("1.2E7"). A value that
// is not whole ("2.5") is an error: it is not a count.
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

// ParseDecimalMicros parses a decimal metric into micros. GA4 computes metrics such as
// totalRevenue in floating point and renders them with up to 17 significant digits
// ("2046.3999999999999"), so digits beyond the micro are rounded half to even
// (money.ParseMicrosRounded) rather than refused: refusing would fail every later sync of
// the connection on a value that is correct to the micro. Exponent notation, which the
// API may use for large values, is rounded the same way.
func ParseDecimalMicros(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	m, err := money.ParseMicrosRounded(s)
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
	v, ok := roundHalfEven(r)
	if !ok {
		return 0, fmt.Errorf("parse %q: out of range", s)
	}
	return v, nil
}

// roundHalfEven rounds r to the nearest integer, ties to even, and reports whether the
// result fits in an int64.
func roundHalfEven(r *big.Rat) (int64, bool) {
	q, m := new(big.Int).QuoRem(r.Num(), r.Denom(), new(big.Int)) // truncates toward zero
	// Compare twice the remainder's magnitude with the denominator.
	c := new(big.Int).Abs(m)
	c.Lsh(c, 1)
	switch cmp := c.Cmp(r.Denom()); {
	case cmp > 0, cmp == 0 && q.Bit(0) == 1:
		if r.Sign() < 0 {
			q.Sub(q, big.NewInt(1))
		} else {
			q.Add(q, big.NewInt(1))
		}
	}
	if !q.IsInt64() {
		return 0, false
	}
	return q.Int64(), true
}
