package ga4

import (
	"cmp"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/money"
	"github.com/omnitrackiq/omnitrackiq/internal/sandbox/kit"
)

// OtherRow is the dimension value GA4 gives the row that rare values are folded into.
const OtherRow = "(other)"

// DefaultFoldKeep is how many rows of a day FoldOther keeps when not told.
const DefaultFoldKeep = 5

// FoldOther makes a past day of a property look as it does once GA4 has processed it
// under its cardinality limits: the keep source/medium/campaign rows with the most
// sessions stay, and every other row of the day is summed into one row whose source,
// medium and campaign are "(other)". The day's totals do not change; it has fewer rows,
// and reports over it set metadata.dataLossFromOtherRow. Folds apply after restatements.
func (s *Server) FoldOther(propertyID, date string, keep int) error {
	p, ok := s.property(propertyID)
	if !ok {
		return fmt.Errorf("unknown property %q", propertyID)
	}
	d, err := time.Parse(dateLayout, date)
	if err != nil {
		return fmt.Errorf("date %q is not YYYY-MM-DD", date)
	}
	if keep < 0 {
		return fmt.Errorf("keep %d must not be negative", keep)
	}
	start, today := s.history(p, s.now())
	if d.Before(start) || d.After(today) {
		return fmt.Errorf("date %s is outside the property's history %s..%s", date, start.Format(dateLayout), today.Format(dateLayout))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.folds == nil {
		s.folds = map[string]map[string]int{}
	}
	if s.folds[p.ID] == nil {
		s.folds[p.ID] = map[string]int{}
	}
	s.folds[p.ID][date] = keep
	return nil
}

// ClearFolds undoes every fold.
func (s *Server) ClearFolds() {
	s.mu.Lock()
	s.folds = nil
	s.mu.Unlock()
}

// foldsOf returns a copy of a property's folds, for a report to read without the lock.
func (s *Server) foldsOf(id string) map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.folds[id])
}

// foldDay keeps the keep rows of one day with the most sessions (then revenue, then the
// Sources order) in their order and sums the others into one (other) row, if they have
// any traffic.
func foldDay(day []dayRow, keep int) []dayRow {
	if keep >= len(day) {
		return day
	}
	idx := make([]int, len(day))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		if c := cmp.Compare(day[b].Sessions, day[a].Sessions); c != 0 {
			return c
		}
		return cmp.Compare(day[b].RevenueCents, day[a].RevenueCents)
	})
	kept := make([]bool, len(day))
	for _, i := range idx[:keep] {
		kept[i] = true
	}
	out := make([]dayRow, 0, keep+1)
	other := dayRow{date: day[0].date, src: Source{Source: OtherRow, Medium: OtherRow, Campaign: OtherRow}}
	for i, r := range day {
		if kept[i] {
			out = append(out, r)
		} else {
			other.add(r.stats)
		}
	}
	if !other.zero() {
		out = append(out, other)
	}
	return out
}

// anyOther reports whether a fold touched the days of a report.
func anyOther(days []dayRow) bool {
	return slices.ContainsFunc(days, func(d dayRow) bool { return d.src.Source == OtherRow })
}

// floatRevenue rewrites the totalRevenue cells of rendered rows as GA4 renders a float64
// sum just below the exact amount, with 17 significant digits: "2046.4" becomes
// "2046.3999999999999". Each such value is within 10^-13 of the exact one.
func floatRevenue(rows []reportRow, metrics []string) {
	col := slices.Index(metrics, "totalRevenue")
	if col < 0 {
		return
	}
	for _, r := range rows {
		c := &r.MetricValues[col]
		m, err := money.ParseMicros(c.Value)
		if err != nil || m <= 0 {
			continue
		}
		cents := m/centMicros - 1 // the cent below, then nines
		v := fmt.Sprintf("%d.%02d", cents/100, cents%100)
		whole, _, _ := strings.Cut(v, ".")
		digits := max(17-len(whole), 7)
		c.Value = v + strings.Repeat("9", digits-2)
	}
}

func (s *Server) adminFoldOther(w http.ResponseWriter, r *http.Request) {
	var body struct {
		PropertyID string `json:"property_id"`
		Date       string `json:"date"`
		DaysAgo    *int   `json:"days_ago"`
		Keep       *int   `json:"keep"`
	}
	if err := kit.DecodeStrict(r.Body, &body); err != nil {
		kit.WriteError(w, http.StatusBadRequest, "fold_other: "+err.Error())
		return
	}
	if body.PropertyID == "" {
		body.PropertyID = DemoPropertyID
	}
	date, err := kit.AdminDay("fold_other", body.Date, body.DaysAgo, func() (string, error) { return s.Today(body.PropertyID) })
	if err != nil {
		kit.WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	body.Date = date
	keep := DefaultFoldKeep
	if body.Keep != nil {
		keep = *body.Keep
	}
	if err := s.FoldOther(body.PropertyID, body.Date, keep); err != nil {
		kit.WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	kit.WriteJSON(w, http.StatusOK, map[string]any{
		"property_id": strings.TrimPrefix(body.PropertyID, "properties/"), "date": body.Date, "keep": keep,
	})
}
