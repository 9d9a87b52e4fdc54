package analytics

import (
	"slices"
	"strings"
)

// Attribution channels. The ad channels use the names of channels.Channel.
const (
	Meta         = "meta"
	GoogleAds    = "google_ads"
	TikTok       = "tiktok"
	Unattributed = "unattributed"
)

// ModelLastClickUTM names the attribution model: each order is credited in full to the
// channel of its own UTM tags.
const ModelLastClickUTM = "last_click_utm"

// Rule maps orders to a channel: an order whose normalized utm_source is one of Sources
// and, when Mediums is not nil, whose normalized utm_medium is one of Mediums.
type Rule struct {
	Channel string   `json:"-"`
	Sources []string `json:"utm_source"`
	// Mediums nil means any medium (null in JSON).
	Mediums []string `json:"utm_medium"`
}

// Rules is the UTM to channel mapping, first match wins. It is the one definition of the
// mapping: ChannelOf applies it in Go and channelSQL compiles it to SQL. Values are
// lower-case ASCII since inputs are normalized before comparing.
func Rules() []Rule {
	return []Rule{
		// Meta's own auto-tagging uses fb/ig/an (Audience Network)/messenger.
		{Channel: Meta, Sources: []string{"facebook", "fb", "ig", "instagram", "meta", "an", "messenger"}},
		// google/cpc is a paid click; google/organic is search and stays unattributed.
		{Channel: GoogleAds, Sources: []string{"google", "adwords", "youtube", "gdn"},
			Mediums: []string{"cpc", "ppc", "paid", "paidsearch", "paid_search", "display", "video"}},
		{Channel: TikTok, Sources: []string{"tiktok"}},
	}
}

// AttributionChannels lists the channels orders can be attributed to, in report order.
func AttributionChannels() []string {
	return []string{Meta, GoogleAds, TikTok, Unattributed}
}

// Attribution describes the model for clients.
type Attribution struct {
	Model   string          `json:"model"`
	Mapping map[string]Rule `json:"mapping"`
	// Default is the channel of orders no rule matches.
	Default string `json:"default"`
}

// AttributionModel returns the description of the model in use.
func AttributionModel() Attribution {
	a := Attribution{Model: ModelLastClickUTM, Mapping: map[string]Rule{}, Default: Unattributed}
	for _, r := range Rules() {
		a.Mapping[r.Channel] = r
	}
	return a
}

// utmSpace is what normalization trims. Go and SQL must trim the same set, so it is spelled
// out rather than left to strings.TrimSpace (which knows Unicode spaces) and btrim (which
// trims only ' ' by default).
const utmSpace = " \t\r\n"

// normalizeUTM trims utmSpace and lower-cases ASCII letters only. Only ASCII is folded so
// that Go and PostgreSQL agree whatever the database collation; every rule value is ASCII.
func normalizeUTM(s string) string {
	s = strings.Trim(s, utmSpace)
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// ChannelOf maps an order's UTM source and medium to its attribution channel.
func ChannelOf(source, medium string) string {
	src, med := normalizeUTM(source), normalizeUTM(medium)
	for _, r := range Rules() {
		if slices.Contains(r.Sources, src) && (r.Mediums == nil || slices.Contains(r.Mediums, med)) {
			return r.Channel
		}
	}
	return Unattributed
}

// normalizeUTMSQL is normalizeUTM in SQL. translate folds exactly A-Z, unlike lower(),
// whose result for other letters depends on the collation.
func normalizeUTMSQL(expr string) string {
	return "translate(btrim(" + expr + `, E' \t\r\n'), 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')`
}

// channelSQL is ChannelOf as a SQL expression over the given source and medium columns.
func channelSQL(source, medium string) string {
	src, med := normalizeUTMSQL(source), normalizeUTMSQL(medium)
	var b strings.Builder
	b.WriteString("(CASE")
	for _, r := range Rules() {
		b.WriteString(" WHEN " + src + " IN (" + sqlList(r.Sources) + ")")
		if r.Mediums != nil {
			b.WriteString(" AND " + med + " IN (" + sqlList(r.Mediums) + ")")
		}
		b.WriteString(" THEN " + sqlString(r.Channel))
	}
	b.WriteString(" ELSE " + sqlString(Unattributed) + " END)")
	return b.String()
}

// orderChannelSQL is the attribution channel of the orders row alias.
func orderChannelSQL(alias string) string {
	return channelSQL(alias+".utm_source", alias+".utm_medium")
}

// slugSQL is channels.CampaignSlug in SQL. It agrees with the Go function on ASCII; for
// other letters lower() follows the database collation.
func slugSQL(expr string) string {
	return "btrim(regexp_replace(lower(" + expr + "), '[^a-z0-9]+', '_', 'g'), '_')"
}

// sqlString quotes s as a SQL string literal (standard_conforming_strings, the default
// since PostgreSQL 9.1). Only constants from this package are quoted; user input is always
// a bind parameter.
func sqlString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func sqlList(vs []string) string {
	q := make([]string, len(vs))
	for i, v := range vs {
		q[i] = sqlString(v)
	}
	return strings.Join(q, ", ")
}
