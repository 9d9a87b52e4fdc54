package shopify

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// listFilter is the filters of a first orders.json call; page_info carries them on.
type listFilter struct {
	Status          string `json:"status,omitempty"`
	Order           string `json:"order,omitempty"`
	IDs             string `json:"ids,omitempty"`
	SinceID         int64  `json:"since_id,omitempty"`
	CreatedAtMin    string `json:"created_at_min,omitempty"`
	CreatedAtMax    string `json:"created_at_max,omitempty"`
	UpdatedAtMin    string `json:"updated_at_min,omitempty"`
	UpdatedAtMax    string `json:"updated_at_max,omitempty"`
	FinancialStatus string `json:"financial_status,omitempty"`
}

// pageInfo is the decoded page_info: the filters, the position and the direction.
type pageInfo struct {
	listFilter
	LastID    int64  `json:"last_id"`
	LastValue string `json:"last_value"`
	Direction string `json:"direction"`
}

func (p pageInfo) encode() string {
	b, _ := json.Marshal(p)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodePageInfo(s string) (pageInfo, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return pageInfo{}, false
	}
	var p pageInfo
	if json.Unmarshal(b, &p) != nil || (p.Direction != "next" && p.Direction != "prev") || p.LastID <= 0 {
		return pageInfo{}, false
	}
	if _, _, ok := parseOrderParam(p.Order); !ok {
		return pageInfo{}, false
	}
	return p, true
}

// filterParams are the orders.json parameters that cannot go with page_info.
var filterParams = []string{"status", "order", "ids", "since_id", "created_at_min", "created_at_max",
	"updated_at_min", "updated_at_max", "processed_at_min", "processed_at_max", "financial_status",
	"fulfillment_status", "attribution_app_id"}

// parseFilter reads the filters of a first call; ok false means a 400 was written.
func (c *call) parseFilter() (listFilter, bool) {
	q := c.r.URL.Query()
	f := listFilter{Status: q.Get("status"), Order: q.Get("order"), IDs: q.Get("ids"), FinancialStatus: q.Get("financial_status")}
	if f.Status == "" {
		f.Status = "open"
	}
	switch f.Status {
	case "open", "closed", "cancelled", "any":
	default:
		c.fail(http.StatusBadRequest, map[string]string{"status": "status is invalid"})
		return f, false
	}
	if f.Order == "" {
		f.Order = "id asc" // the sandbox's choice
	}
	if _, _, ok := parseOrderParam(f.Order); !ok {
		c.fail(http.StatusBadRequest, map[string]string{"order": "order must be one of id, created_at, updated_at, processed_at followed by asc or desc"})
		return f, false
	}
	f.Order = strings.ToLower(strings.Join(strings.Fields(f.Order), " "))
	if v := q.Get("since_id"); v != "" {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil || id < 0 {
			c.fail(http.StatusBadRequest, map[string]string{"since_id": "since_id is invalid"})
			return f, false
		}
		f.SinceID = id
	}
	for _, p := range []struct {
		name string
		dst  *string
	}{{"created_at_min", &f.CreatedAtMin}, {"created_at_max", &f.CreatedAtMax}, {"updated_at_min", &f.UpdatedAtMin}, {"updated_at_max", &f.UpdatedAtMax}} {
		v := q.Get(p.name)
		if v == "" {
			continue
		}
		t, ok := c.s.parseTimeParam(v)
		if !ok {
			c.fail(http.StatusBadRequest, map[string][]string{p.name: {"is invalid"}})
			return f, false
		}
		*p.dst = t.UTC().Format(pageInfoTime)
	}
	return f, true
}

// parseTimeParam accepts ISO 8601 with an offset, or a local date-time or date in the shop's
// timezone.
func (s *Server) parseTimeParam(v string) (time.Time, bool) {
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, true
	}
	for _, layout := range []string{"2006-01-02T15:04:05", "2006-01-02 15:04:05", dateLayout} {
		if t, err := time.ParseInLocation(layout, v, s.loc); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

func parseOrderParam(v string) (field string, desc bool, ok bool) {
	parts := strings.Fields(strings.ToLower(v))
	if len(parts) != 2 {
		return "", false, false
	}
	switch parts[0] {
	case "id", "created_at", "updated_at", "processed_at":
	default:
		return "", false, false
	}
	switch parts[1] {
	case "asc":
	case "desc":
		desc = true
	default:
		return "", false, false
	}
	return parts[0], desc, true
}

func (f listFilter) match(o *order) bool {
	switch f.Status {
	case "open":
		if o.cancelledAt != nil || o.closedAt != nil {
			return false
		}
	case "closed":
		if o.closedAt == nil {
			return false
		}
	case "cancelled":
		if o.cancelledAt == nil {
			return false
		}
	}
	if f.SinceID > 0 && o.g.id <= f.SinceID {
		return false
	}
	if f.IDs != "" {
		found := false
		for _, id := range strings.Split(f.IDs, ",") {
			if n, ok := parseOrderID(id); ok && n == o.g.id {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	if f.FinancialStatus != "" && f.FinancialStatus != "any" && f.FinancialStatus != o.financialStatus {
		return false
	}
	within := func(t time.Time, min, max string) bool {
		if min != "" {
			if m, _ := time.Parse(pageInfoTime, min); t.Before(m) {
				return false
			}
		}
		if max != "" {
			if m, _ := time.Parse(pageInfoTime, max); t.After(m) {
				return false
			}
		}
		return true
	}
	return within(o.g.createdAt, f.CreatedAtMin, f.CreatedAtMax) && within(o.updatedAt, f.UpdatedAtMin, f.UpdatedAtMax)
}

// sortKey is the order's value of the sort field: a unix second, or the id.
func sortKey(o *order, field string) int64 {
	switch field {
	case "created_at", "processed_at":
		return o.g.createdAt.Unix()
	case "updated_at":
		return o.updatedAt.Unix()
	}
	return o.g.id
}

func keyString(key int64, field string) string {
	if field == "id" {
		return strconv.FormatInt(key, 10)
	}
	return time.Unix(key, 0).UTC().Format(pageInfoTime)
}

func parseKey(v, field string) (int64, bool) {
	if field == "id" {
		n, err := strconv.ParseInt(v, 10, 64)
		return n, err == nil
	}
	t, err := time.Parse(pageInfoTime, v)
	return t.Unix(), err == nil
}

// matching returns the orders matching f, sorted by f.Order with the id breaking ties.
func (c *call) matching(f listFilter, empty bool) ([]*order, string, bool) {
	field, desc, _ := parseOrderParam(f.Order)
	if empty {
		return nil, field, desc
	}
	var out []*order
	at := c.s.now()
	if asOf := c.s.Faults().StaleReadsAsOf; asOf != nil && asOf.Before(at) {
		at = *asOf
	}
	for _, o := range c.s.snapshot(at) {
		if f.match(o) && c.readable(o) {
			out = append(out, o)
		}
	}
	less := func(a, b *order) bool {
		ka, kb := sortKey(a, field), sortKey(b, field)
		if ka != kb {
			return (ka < kb) != desc
		}
		return (a.g.id < b.g.id) != desc
	}
	sort.Slice(out, func(i, j int) bool { return less(out[i], out[j]) })
	return out, field, desc
}

func (c *call) limit() (int, bool) {
	v := c.r.URL.Query().Get("limit")
	if v == "" {
		return defaultLimit, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		c.fail(http.StatusBadRequest, map[string]string{"limit": "limit is invalid"})
		return 0, false
	}
	return min(n, maxLimit), true // Shopify caps larger limits at 250
}

func (c *call) fields() []string {
	v := c.r.URL.Query().Get("fields")
	if v == "" {
		return nil
	}
	var out []string
	for _, f := range strings.Split(v, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func (c *call) withFields(o orderJSON) (any, bool) {
	fields := c.fields()
	if len(fields) == 0 {
		return o, true
	}
	v, err := selectFields(o, fields)
	if err != nil {
		c.fail(http.StatusInternalServerError, "Internal Server Error")
		return nil, false
	}
	return v, true
}

func (c *call) listOrders(empty bool) {
	q := c.r.URL.Query()
	limit, ok := c.limit()
	if !ok {
		return
	}
	var f listFilter
	var pi *pageInfo
	if raw := q.Get("page_info"); raw != "" {
		for _, name := range filterParams {
			if q.Has(name) {
				c.fail(http.StatusBadRequest, map[string]string{name: fmt.Sprintf(
					"%s cannot be passed when page_info is present. See %s for more information.", name, paginationDocURL)})
				return
			}
		}
		p, ok := decodePageInfo(raw)
		if !ok {
			c.fail(http.StatusBadRequest, map[string]string{"page_info": "Invalid value."})
			return
		}
		pi, f = &p, p.listFilter
	} else if f, ok = c.parseFilter(); !ok {
		return
	}
	all, field, desc := c.matching(f, empty)
	start, end := 0, min(limit, len(all))
	if pi != nil {
		key, ok := parseKey(pi.LastValue, field)
		if !ok {
			c.fail(http.StatusBadRequest, map[string]string{"page_info": "Invalid value."})
			return
		}
		// after reports whether o comes strictly after the position in the sort order.
		after := func(o *order) bool {
			k := sortKey(o, field)
			if k != key {
				return (k > key) != desc
			}
			return (o.g.id > pi.LastID) != desc
		}
		if pi.Direction == "next" {
			start = len(all)
			for i, o := range all {
				if after(o) {
					start = i
					break
				}
			}
			end = min(start+limit, len(all))
		} else {
			end = 0
			for i, o := range all {
				if !after(o) && !(sortKey(o, field) == key && o.g.id == pi.LastID) {
					end = i + 1
				}
			}
			start = max(end-limit, 0)
		}
	}
	page := all[start:end]
	c.filter, c.orders = &f, len(page)
	orders := make([]any, 0, len(page))
	for _, o := range page {
		v, ok := c.withFields(c.s.renderOrder(o))
		if !ok {
			return
		}
		orders = append(orders, v)
	}
	var links []string
	if len(page) > 0 && start > 0 {
		first := page[0]
		p := pageInfo{listFilter: f, LastID: first.g.id, LastValue: keyString(sortKey(first, field), field), Direction: "prev"}
		links = append(links, fmt.Sprintf(`<%s>; rel="previous"`, c.pageURL(limit, p.encode())))
	}
	if len(page) > 0 && end < len(all) {
		last := page[len(page)-1]
		p := pageInfo{listFilter: f, LastID: last.g.id, LastValue: keyString(sortKey(last, field), field), Direction: "next"}
		links = append(links, fmt.Sprintf(`<%s>; rel="next"`, c.pageURL(limit, p.encode())))
	}
	if len(links) > 0 {
		c.w.Header().Set("Link", strings.Join(links, ", "))
	}
	c.json(http.StatusOK, map[string]any{"orders": orders})
}

// pageURL is this endpoint's URL as the client called it (mount prefix included) with only
// limit, fields and page_info, as Shopify builds Link URLs.
func (c *call) pageURL(limit int, pageInfo string) string {
	r := c.r
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	} else if p := r.Header.Get("X-Forwarded-Proto"); p == "http" || p == "https" {
		scheme = p
	}
	path := r.URL.EscapedPath()
	if r.RequestURI != "" {
		if p, _, _ := strings.Cut(r.RequestURI, "?"); strings.HasPrefix(p, "/") {
			path = p
		}
	}
	u := fmt.Sprintf("%s://%s%s?limit=%d", scheme, r.Host, path, limit)
	if fields := c.r.URL.Query().Get("fields"); fields != "" {
		u += "&fields=" + strings.ReplaceAll(fields, " ", "")
	}
	return u + "&page_info=" + pageInfo
}

func (c *call) countOrders(empty bool) {
	f, ok := c.parseFilter()
	if !ok {
		return
	}
	all, _, _ := c.matching(f, empty)
	c.json(http.StatusOK, map[string]int{"count": len(all)})
}
