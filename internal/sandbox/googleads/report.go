package googleads

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Resources the sandbox serves in FROM, by rank: a resource may select the fields of the
// resources of lower rank (its attributed parents).
var resourceRank = map[string]int{"customer": 0, "campaign": 1, "ad_group": 2, "ad_group_ad": 3}

// reportRow is one result row: one object of the FROM resource, on one day if the query
// selects segments.date.
type reportRow struct {
	cust *customer
	camp *Campaign
	ag   *AdGroup
	ad   *Ad
	date time.Time
	stats
}

// fieldDef is a selectable field: the resource it belongs to and its proto3 JSON value
// (string, json.Number or bool).
type fieldDef struct {
	resource string
	get      func(r *reportRow) any
}

func int64Str(v int64) any { return strconv.FormatInt(v, 10) }

func campaignRN(r *reportRow) string { return "customers/" + r.cust.ID + "/campaigns/" + r.camp.ID }
func adGroupRN(r *reportRow) string  { return "customers/" + r.cust.ID + "/adGroups/" + r.ag.ID }

var fields = map[string]fieldDef{
	"customer.id":               {"customer", func(r *reportRow) any { return r.cust.ID }},
	"customer.resource_name":    {"customer", func(r *reportRow) any { return "customers/" + r.cust.ID }},
	"customer.descriptive_name": {"customer", func(r *reportRow) any { return r.cust.Name }},
	"customer.currency_code":    {"customer", func(r *reportRow) any { return r.cust.Currency }},
	"customer.time_zone":        {"customer", func(r *reportRow) any { return r.cust.Timezone }},
	"customer.manager":          {"customer", func(r *reportRow) any { return false }},
	"customer.test_account":     {"customer", func(r *reportRow) any { return false }},

	"campaign.id":                       {"campaign", func(r *reportRow) any { return r.camp.ID }},
	"campaign.resource_name":            {"campaign", func(r *reportRow) any { return campaignRN(r) }},
	"campaign.name":                     {"campaign", func(r *reportRow) any { return r.camp.Name }},
	"campaign.status":                   {"campaign", func(r *reportRow) any { return "ENABLED" }},
	"campaign.advertising_channel_type": {"campaign", func(r *reportRow) any { return r.camp.ChannelType }},

	"ad_group.id":            {"ad_group", func(r *reportRow) any { return r.ag.ID }},
	"ad_group.resource_name": {"ad_group", func(r *reportRow) any { return adGroupRN(r) }},
	"ad_group.name":          {"ad_group", func(r *reportRow) any { return r.ag.Name }},
	"ad_group.status":        {"ad_group", func(r *reportRow) any { return "ENABLED" }},
	"ad_group.campaign":      {"ad_group", func(r *reportRow) any { return campaignRN(r) }},

	"ad_group_ad.resource_name": {"ad_group_ad", func(r *reportRow) any {
		return "customers/" + r.cust.ID + "/adGroupAds/" + r.ag.ID + "~" + r.ad.ID
	}},
	"ad_group_ad.status":           {"ad_group_ad", func(r *reportRow) any { return "ENABLED" }},
	"ad_group_ad.ad_group":         {"ad_group_ad", func(r *reportRow) any { return adGroupRN(r) }},
	"ad_group_ad.ad.id":            {"ad_group_ad", func(r *reportRow) any { return r.ad.ID }},
	"ad_group_ad.ad.name":          {"ad_group_ad", func(r *reportRow) any { return r.ad.Name }},
	"ad_group_ad.ad.resource_name": {"ad_group_ad", func(r *reportRow) any { return "customers/" + r.cust.ID + "/ads/" + r.ad.ID }},

	"segments.date": {"segments", func(r *reportRow) any { return r.date.Format(dateLayout) }},

	"metrics.cost_micros":       {"metrics", func(r *reportRow) any { return int64Str(r.CostMicros) }},
	"metrics.impressions":       {"metrics", func(r *reportRow) any { return int64Str(r.Impressions) }},
	"metrics.clicks":            {"metrics", func(r *reportRow) any { return int64Str(r.Clicks) }},
	"metrics.conversions":       {"metrics", func(r *reportRow) any { return json.Number(formatDouble(r.ConversionsMicros)) }},
	"metrics.conversions_value": {"metrics", func(r *reportRow) any { return json.Number(formatDouble(r.ConversionsValueMicros)) }},
}

// checkField reports whether a field may be used in a query FROM from.
func checkField(name, from string) *queryError {
	def, ok := fields[name]
	if !ok {
		return qerr("UNRECOGNIZED_FIELD", "Unrecognized field in the query: '%s'.", name)
	}
	if rank, isResource := resourceRank[def.resource]; isResource && rank > resourceRank[from] {
		return qerr("PROHIBITED_RESOURCE_TYPE_IN_SELECT_CLAUSE",
			"Cannot select or filter on the following fields: '%s', since the resource is '%s'.", name, from)
	}
	return nil
}

// validate checks the query against the field catalog.
func (q *query) validate() *queryError {
	if _, ok := resourceRank[q.from]; !ok {
		return qerr("BAD_RESOURCE_TYPE_IN_FROM_CLAUSE",
			"The sandbox serves FROM customer, campaign, ad_group and ad_group_ad, not '%s'.", q.from)
	}
	for _, f := range q.fields {
		if err := checkField(f, q.from); err != nil {
			return err
		}
	}
	for _, f := range q.filters {
		if err := checkField(f.field, q.from); err != nil {
			return err
		}
	}
	for _, k := range q.order {
		if err := checkField(k.field, q.from); err != nil {
			return err
		}
	}
	if q.selects("segments.date") && (q.since.IsZero() || q.until.IsZero()) {
		return qerr("EXPECTED_FILTERS_ON_DATE_RANGE",
			"Filters on date/week/month/quarter/year date segments must be present when selecting core date segments: segments.date needs a finite date range.")
	}
	return nil
}

func (q *query) selects(field string) bool { return slices.Contains(q.fields, field) }

func (q *query) selectsMetrics() bool {
	return slices.ContainsFunc(q.fields, func(f string) bool { return strings.HasPrefix(f, "metrics.") })
}

// run computes the rows of a validated query for a customer whose history is
// [histStart, today], with restated days (date -> percent) applied.
func run(c *customer, q *query, histStart, today time.Time, restated map[string]int, empty bool) []reportRow {
	metrics := q.selectsMetrics()
	if metrics && empty {
		return nil
	}
	daily := q.selects("segments.date")
	from, to := histStart, today
	if !q.since.IsZero() && q.since.After(from) {
		from = q.since
	}
	if !q.until.IsZero() && q.until.Before(to) {
		to = q.until
	}
	rank := resourceRank[q.from]
	objects := c.objects(rank)
	var rows []reportRow
	switch {
	case daily:
		for d := from; !d.After(to); d = d.AddDate(0, 0, 1) {
			for _, o := range objects {
				o.date = d
				o.stats = c.sum(o, rank, d, d, restated)
				rows = append(rows, o)
			}
		}
	case metrics || q.dated:
		if from.After(to) {
			return nil
		}
		for _, o := range objects {
			o.stats = c.sum(o, rank, from, to, restated)
			rows = append(rows, o)
		}
	default:
		rows = objects
	}
	out := rows[:0]
	for i := range rows {
		r := &rows[i]
		// Google leaves out rows without any activity when metrics are selected.
		if metrics && r.stats == (stats{}) {
			continue
		}
		if r.matches(q.filters) {
			out = append(out, *r)
		}
	}
	rows = out
	if len(q.order) > 0 {
		slices.SortStableFunc(rows, func(a, b reportRow) int {
			for _, k := range q.order {
				c := compareValues(fields[k.field].get(&a), fields[k.field].get(&b))
				if k.desc {
					c = -c
				}
				if c != 0 {
					return c
				}
			}
			return 0
		})
	}
	if q.limit > 0 && len(rows) > q.limit {
		rows = rows[:q.limit]
	}
	return rows
}

// objects lists the objects of a resource rank in tree order.
func (c *customer) objects(rank int) []reportRow {
	var out []reportRow
	if rank == 0 {
		return []reportRow{{cust: c}}
	}
	for ci := range c.Campaigns {
		camp := &c.Campaigns[ci]
		if rank == 1 {
			out = append(out, reportRow{cust: c, camp: camp})
			continue
		}
		for gi := range camp.AdGroups {
			ag := &camp.AdGroups[gi]
			if rank == 2 {
				out = append(out, reportRow{cust: c, camp: camp, ag: ag})
				continue
			}
			for ai := range ag.Ads {
				out = append(out, reportRow{cust: c, camp: camp, ag: ag, ad: &ag.Ads[ai]})
			}
		}
	}
	return out
}

// sum adds up the ad-days under an object over [from, to].
func (c *customer) sum(o reportRow, rank int, from, to time.Time, restated map[string]int) stats {
	var total stats
	for d := from; !d.After(to); d = d.AddDate(0, 0, 1) {
		pct, isRestated := restated[d.Format(dateLayout)]
		for ci := range c.Campaigns {
			camp := &c.Campaigns[ci]
			if rank >= 1 && camp != o.camp {
				continue
			}
			if camp.campaignLevelOnly() {
				if rank <= 1 {
					st := campaignDay(camp.ID, d)
					if isRestated {
						st = st.restate(pct)
					}
					total.add(st)
				}
				continue
			}
			for gi := range camp.AdGroups {
				ag := &camp.AdGroups[gi]
				if rank >= 2 && ag != o.ag {
					continue
				}
				for ai := range ag.Ads {
					ad := &ag.Ads[ai]
					if rank >= 3 && ad != o.ad {
						continue
					}
					st := adDay(ad.ID, d)
					if isRestated {
						st = st.restate(pct)
					}
					total.add(st)
				}
			}
		}
	}
	return total
}

func (r *reportRow) matches(filters []filter) bool {
	for _, f := range filters {
		v := fields[f.field].get(r)
		ok := false
		switch f.op {
		case "IN", "NOT IN":
			for _, want := range f.values {
				ok = ok || valueText(v) == want
			}
			if f.op == "NOT IN" {
				ok = !ok
			}
		default:
			c := compareValues(v, f.values[0])
			switch f.op {
			case "=":
				ok = c == 0
			case "!=":
				ok = c != 0
			case "<":
				ok = c < 0
			case "<=":
				ok = c <= 0
			case ">":
				ok = c > 0
			case ">=":
				ok = c >= 0
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

func valueText(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case json.Number:
		return string(t)
	case bool:
		return strconv.FormatBool(t)
	}
	return ""
}

// compareValues orders two values numerically when both are numbers, else as text.
func compareValues(a, b any) int {
	as, bs := valueText(a), valueText(b)
	af, errA := strconv.ParseFloat(as, 64)
	bf, errB := strconv.ParseFloat(bs, 64)
	if errA == nil && errB == nil {
		switch {
		case af < bf:
			return -1
		case af > bf:
			return 1
		}
		return 0
	}
	return strings.Compare(as, bs)
}

// rowJSON renders a row as a GoogleAdsRow: the selected fields nested by resource in
// lowerCamelCase, plus the resourceName of every resource a field was selected from.
func rowJSON(r *reportRow, selected []string) map[string]any {
	m := map[string]any{}
	for _, f := range selected {
		path := camel(f)
		setPath(m, path, fields[f].get(r))
		if res := fields[f].resource; res != "segments" && res != "metrics" {
			setPath(m, []string{path[0], "resourceName"}, fields[res+".resource_name"].get(r))
		}
	}
	return m
}

func setPath(m map[string]any, path []string, v any) {
	for _, p := range path[:len(path)-1] {
		child, ok := m[p].(map[string]any)
		if !ok {
			child = map[string]any{}
			m[p] = child
		}
		m = child
	}
	m[path[len(path)-1]] = v
}

// fieldMask is the response's fieldMask: the selected fields in lowerCamelCase.
func fieldMask(selected []string) string {
	out := make([]string, len(selected))
	for i, f := range selected {
		out[i] = strings.Join(camel(f), ".")
	}
	return strings.Join(out, ",")
}
