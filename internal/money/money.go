// Package money converts between decimal strings and integer micros without floating point.
package money

import (
	"fmt"
	"strconv"
	"strings"
)

// MicrosPerUnit is the number of micros in one currency unit.
const MicrosPerUnit = 1_000_000

// ParseMicros parses a decimal string such as "14.35", "-0.5" or "120" into micros.
// It accepts at most six fractional digits (more would lose precision) and rejects
// exponents, spaces and anything a float parser would round. Use it where an amount
// must be exact: a price, a refund, a budget.
func ParseMicros(s string) (int64, error) {
	return parseMicros(s, false)
}

// ParseMicrosRounded is ParseMicros for amounts a provider computed in floating point
// (GA4 sends "2046.3999999999999"): digits beyond the sixth decimal are rounded half to
// even, so the value stored is the nearest micro and the exact ties do not drift upward
// when summed. Anything else ParseMicros rejects is still rejected.
func ParseMicrosRounded(s string) (int64, error) {
	return parseMicros(s, true)
}

func parseMicros(s string, round bool) (int64, error) {
	if s == "" {
		return 0, fmt.Errorf("parse amount: empty string")
	}
	neg := false
	body := s
	switch body[0] {
	case '-':
		neg = true
		body = body[1:]
	case '+':
		body = body[1:]
	}
	whole, frac, hasDot := strings.Cut(body, ".")
	if whole == "" && (!hasDot || frac == "") {
		return 0, fmt.Errorf("parse amount %q: no digits", s)
	}
	if hasDot && frac == "" && whole == "" {
		return 0, fmt.Errorf("parse amount %q: no digits", s)
	}
	for _, part := range []string{whole, frac} {
		for _, r := range part {
			if r < '0' || r > '9' {
				return 0, fmt.Errorf("parse amount %q: unexpected character %q", s, r)
			}
		}
	}
	// Trailing zeros beyond micros carry no value; anything else would be rounded away.
	frac = strings.TrimRight(frac, "0")
	up := false // round the magnitude up by one micro
	if len(frac) > 6 {
		if !round {
			return 0, fmt.Errorf("parse amount %q: more than 6 decimal places", s)
		}
		// frac has no trailing zeros, so anything after a leading 5 makes it more than half.
		rest := frac[6:]
		frac = frac[:6]
		switch {
		case rest[0] > '5', rest[0] == '5' && len(rest) > 1:
			up = true
		case rest[0] == '5':
			up = (frac[5]-'0')%2 == 1 // a tie goes to the even micro
		}
	}
	frac += strings.Repeat("0", 6-len(frac))
	if whole == "" {
		whole = "0"
	}
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || w > (1<<63-1)/MicrosPerUnit-1 {
		return 0, fmt.Errorf("parse amount %q: out of range", s)
	}
	f, _ := strconv.ParseInt(frac, 10, 64)
	v := w*MicrosPerUnit + f
	if up {
		v++ // cannot overflow: w is at most (2^63-1)/10^6 - 1
	}
	if neg {
		v = -v
	}
	return v, nil
}

// FormatMicros renders micros as a decimal string with at least two fractional digits
// and no trailing zeros beyond them: 14350000 -> "14.35", 1234567 -> "1.234567".
func FormatMicros(v int64) string {
	neg := v < 0
	u := uint64(v)
	if neg {
		u = uint64(-v)
	}
	whole := u / MicrosPerUnit
	frac := fmt.Sprintf("%06d", u%MicrosPerUnit)
	frac = strings.TrimRight(frac, "0")
	for len(frac) < 2 {
		frac += "0"
	}
	s := strconv.FormatUint(whole, 10) + "." + frac
	if neg {
		s = "-" + s
	}
	return s
}

// FormatDecimalMicros renders micros of a plain quantity (a conversion count) with no
// trailing zeros: 2000000 -> "2", 2500000 -> "2.5".
func FormatDecimalMicros(v int64) string {
	s := FormatMicros(v)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// IsCurrencyCode reports whether s has the shape of an ISO 4217 code: three letters A-Z.
func IsCurrencyCode(s string) bool {
	if len(s) != 3 {
		return false
	}
	for _, r := range s {
		if r < 'A' || r > 'Z' {
			return false
		}
	}
	return true
}
