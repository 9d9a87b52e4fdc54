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
