package analytics

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"regexp"
	"slices"
	"testing"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	"github.com/omnitrackiq/omnitrackiq/internal/testdb"
)

func TestChannelOf(t *testing.T) {
	cases := []struct {
		source, medium, want string
	}{
		{"facebook", "paid_social", Meta},
		{"fb", "", Meta},
		{"IG", "cpc", Meta},
		{" Instagram\t", "social", Meta},
		{"meta", "paid", Meta},
		{"an", "", Meta},
		{"messenger", "", Meta},
		{"facebook.com", "referral", Unattributed}, // a referral link, not an ad
		{"google", "cpc", GoogleAds},
		{"Google", " CPC ", GoogleAds},
		{"adwords", "ppc", GoogleAds},
		{"youtube", "video", GoogleAds},
		{"gdn", "display", GoogleAds},
		{"google", "paidsearch", GoogleAds},
		{"google", "paid_search", GoogleAds},
		{"google", "paid", GoogleAds},
		{"google", "organic", Unattributed},
		{"google", "", Unattributed},
		{"google", "paid_social", Unattributed},
		{"youtube", "referral", Unattributed},
		{"tiktok", "paid_social", TikTok},
		{"TikTok", "", TikTok},
		{"tik tok", "", Unattributed},
		{"email", "newsletter", Unattributed},
		{"", "", Unattributed},
		{"direct", "(none)", Unattributed},
		{"bing", "cpc", Unattributed},
		{"\u212Aiktok", "", Unattributed}, // the Kelvin sign is not folded to k, in Go or SQL
	}
	for _, tc := range cases {
		if got := ChannelOf(tc.source, tc.medium); got != tc.want {
			t.Errorf("ChannelOf(%q, %q) = %q, want %q", tc.source, tc.medium, got, tc.want)
		}
	}
}

func TestRules(t *testing.T) {
	seen := map[string]bool{}
	valid := regexp.MustCompile(`^[a-z0-9_]+$`)
	for _, r := range Rules() {
		if !slices.Contains(AttributionChannels(), r.Channel) || r.Channel == Unattributed {
			t.Errorf("rule channel %q", r.Channel)
		}
		for _, v := range append(slices.Clone(r.Sources), r.Mediums...) {
			// Normalized inputs can only equal normalized values.
			if !valid.MatchString(v) || normalizeUTM(v) != v {
				t.Errorf("rule value %q is not lower-case ASCII", v)
			}
		}
		for _, s := range r.Sources {
			if seen[s] {
				t.Errorf("source %q is in two rules", s)
			}
			seen[s] = true
		}
	}
	b, err := json.Marshal(AttributionModel())
	if err != nil {
		t.Fatal(err)
	}
	var back Attribution
	if err := json.Unmarshal(b, &back); err != nil || back.Model != "last_click_utm" || len(back.Mapping) != 3 ||
		back.Mapping[Meta].Mediums != nil || len(back.Mapping[GoogleAds].Mediums) != 7 || back.Default != Unattributed {
		t.Errorf("attribution model JSON %s (%v)", b, err)
	}
}

// TestSQLMatchesGo checks that the SQL compiled from the rules maps exactly as ChannelOf, and
// that the SQL slug is channels.CampaignSlug, over hand-picked and random ASCII inputs.
func TestSQLMatchesGo(t *testing.T) {
	st, _ := testdb.New(t)
	ctx := context.Background()

	var sources, mediums []string
	for _, r := range Rules() {
		for _, s := range r.Sources {
			sources = append(sources, s, " "+s+"\t", titleASCII(s), s+"x")
		}
		mediums = append(mediums, r.Mediums...)
	}
	sources = append(sources, "", "email", "google.com", "\u212Aiktok", "Ｆacebook", " \r\nfb\n ")
	mediums = append(mediums, "", "organic", "CPC", " cpc ", "referral", "paid-search")
	var pairs [][2]string
	for _, s := range sources {
		for _, m := range mediums {
			pairs = append(pairs, [2]string{s, m})
		}
	}
	var src, med []string
	for _, p := range pairs {
		src, med = append(src, p[0]), append(med, p[1])
	}
	rows, err := st.Pool.Query(ctx, `SELECT `+channelSQL("s", "m")+` FROM unnest($1::text[], $2::text[]) AS u(s, m)`, src, med)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var ch string
		if err := rows.Scan(&ch); err != nil {
			t.Fatal(err)
		}
		got = append(got, ch)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(pairs) {
		t.Fatalf("%d results for %d pairs", len(got), len(pairs))
	}
	counts := map[string]int{}
	for i, p := range pairs {
		want := ChannelOf(p[0], p[1])
		counts[want]++
		if got[i] != want {
			t.Errorf("(%q, %q): SQL %q, Go %q", p[0], p[1], got[i], want)
		}
	}
	for _, ch := range AttributionChannels() {
		if counts[ch] == 0 {
			t.Errorf("no input maps to %s", ch)
		}
	}

	names := []string{"Spring Sale", "Retargeting - 30d", "retargeting_30d", "__a__b__", "", "---", "Q4/2024: BFCM!!",
		"already_slug", "MiXeD 123 abc", "  padded  "}
	r := rand.New(rand.NewPCG(3, 4))
	const alphabet = "aZ09 _-./!:Qx\t"
	for range 300 {
		b := make([]byte, r.IntN(12))
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		names = append(names, string(b))
	}
	rows, err = st.Pool.Query(ctx, `SELECT n, `+slugSQL("n")+` FROM unnest($1::text[]) AS u(n)`, names)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n, slug string
		if err := rows.Scan(&n, &slug); err != nil {
			t.Fatal(err)
		}
		if want := channels.CampaignSlug(n); slug != want {
			t.Errorf("slug(%q): SQL %q, Go %q", n, slug, want)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
}

func titleASCII(s string) string {
	b := []byte(s)
	if len(b) > 0 && 'a' <= b[0] && b[0] <= 'z' {
		b[0] -= 'a' - 'A'
	}
	return string(b)
}
