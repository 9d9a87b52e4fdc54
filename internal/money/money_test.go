package money

import "testing"

func TestParseMicros(t *testing.T) {
	cases := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"14.35", 14_350_000, true},
		{"0", 0, true},
		{"120", 120_000_000, true},
		{"0.000001", 1, true},
		{"-0.5", -500_000, true},
		{"+3.1", 3_100_000, true},
		{".5", 500_000, true},
		{"7.", 7_000_000, true},
		{"1.2300000", 1_230_000, true},
		{"9223372036853.775807", 9_223_372_036_853_775_807, true},
		{"0.1234567", 0, false},
		{"1e3", 0, false},
		{"", 0, false},
		{".", 0, false},
		{"-", 0, false},
		{"1,000.00", 0, false},
		{" 1.00", 0, false},
		{"NaN", 0, false},
		{"99999999999999999999", 0, false},
	}
	for _, tc := range cases {
		got, err := ParseMicros(tc.in)
		if tc.ok && (err != nil || got != tc.want) {
			t.Errorf("ParseMicros(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
		if !tc.ok && err == nil {
			t.Errorf("ParseMicros(%q) = %d, want an error", tc.in, got)
		}
	}
}

func TestParseMicrosRounded(t *testing.T) {
	cases := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"14.35", 14_350_000, true},
		{"2046.3999999999999", 2_046_400_000, true}, // GA4's float64 rendering of 2046.40
		{"0.1234564", 123_456, true},
		{"0.1234566", 123_457, true},
		{"0.0000005", 0, true},       // tie, 0 is even
		{"0.0000015", 2, true},       // tie, 1 is odd: up to 2
		{"0.0000025", 2, true},       // tie, 2 is even: stays
		{"0.00000250000", 2, true},   // trailing zeros do not break the tie
		{"0.00000250001", 3, true},   // just over half
		{"0.0000024999999", 2, true}, // just under half
		{"-0.0000015", -2, true},     // ties are symmetric around zero
		{"-0.0000025", -2, true},
		{"-2046.3999999999999", -2_046_400_000, true},
		{"0.9999995", 1_000_000, true}, // carries into the whole part
		{"9223372036853.7758065", 9_223_372_036_853_775_806, true},
		{"1e3", 0, false},
		{"", 0, false},
		{"1.2.3", 0, false},
		{"0.12345x7", 0, false},
		{"99999999999999999999.5", 0, false},
	}
	for _, tc := range cases {
		got, err := ParseMicrosRounded(tc.in)
		if tc.ok && (err != nil || got != tc.want) {
			t.Errorf("ParseMicrosRounded(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
		if !tc.ok && err == nil {
			t.Errorf("ParseMicrosRounded(%q) = %d, want an error", tc.in, got)
		}
	}
	// Exact parsing still refuses what rounding accepts.
	if _, err := ParseMicros("2046.3999999999999"); err == nil {
		t.Error("ParseMicros accepted 13 decimal places")
	}
}

func TestFormatMicros(t *testing.T) {
	cases := map[int64]string{
		14_350_000: "14.35", 0: "0.00", 1: "0.000001", -500_000: "-0.50", 1_234_567: "1.234567", 120_000_000: "120.00",
	}
	for in, want := range cases {
		if got := FormatMicros(in); got != want {
			t.Errorf("FormatMicros(%d) = %q, want %q", in, got, want)
		}
	}
	dec := map[int64]string{2_000_000: "2", 2_500_000: "2.5", 0: "0", 1: "0.000001"}
	for in, want := range dec {
		if got := FormatDecimalMicros(in); got != want {
			t.Errorf("FormatDecimalMicros(%d) = %q, want %q", in, got, want)
		}
	}
}

func FuzzParseFormatRoundTrip(f *testing.F) {
	for _, s := range []string{"14.35", "0.000001", "-3", "120.5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseMicros(s)
		if err != nil {
			return
		}
		back, err := ParseMicros(FormatMicros(v))
		if err != nil || back != v {
			t.Fatalf("round trip of %q: %d -> %q -> %d, %v", s, v, FormatMicros(v), back, err)
		}
	})
}
