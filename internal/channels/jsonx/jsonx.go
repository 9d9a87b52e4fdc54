// Package jsonx decodes the loosely typed JSON values of provider APIs, which send the same
// number as a string in one answer and as a number in the next.
package jsonx

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/omnitrackiq/omnitrackiq/internal/money"
)

// Text decodes a JSON string, or the raw text of any other JSON value (ids and int64
// metrics arrive as strings or as numbers beyond float64 precision, decimals as numbers
// whose exact text matters); null decodes to "".
type Text string

// UnmarshalJSON implements json.Unmarshaler.
func (t *Text) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*t = ""
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*t = Text(s)
	default:
		*t = Text(b)
	}
	return nil
}

// Int parses the value as a base-10 int64; a missing value ("") is 0. The error names the
// field.
func (t Text) Int(field string) (int64, error) {
	if t == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(string(t), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("field %s: %q is not an integer", field, string(t))
	}
	return n, nil
}

// Micros parses the value as a decimal into micros, exactly (money.ParseMicros); a missing
// value ("") is 0. The error names the field.
func (t Text) Micros(field string) (int64, error) {
	if t == "" {
		return 0, nil
	}
	m, err := money.ParseMicros(string(t))
	if err != nil {
		return 0, fmt.Errorf("field %s: %v", field, err)
	}
	return m, nil
}
