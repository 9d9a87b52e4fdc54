package meta

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Effective statuses of an ad, as the Marketing API documents Ad.effective_status (and the
// facebook_business SDK's Ad.EffectiveStatus lists them). The sandbox lets an ad be set to
// the four configured statuses; the others exist so that filters naming them are accepted.
const (
	StatusActive   = "ACTIVE"
	StatusPaused   = "PAUSED"
	StatusArchived = "ARCHIVED"
	StatusDeleted  = "DELETED"
)

// AdEffectiveStatuses are every documented value of Ad.effective_status.
var AdEffectiveStatuses = []string{
	"ACTIVE", "PAUSED", "DELETED", "PENDING_REVIEW", "DISAPPROVED", "PREAPPROVED",
	"PENDING_BILLING_INFO", "CAMPAIGN_PAUSED", "ARCHIVED", "ADSET_PAUSED", "IN_PROCESS", "WITH_ISSUES",
}

// settableStatuses are the statuses an ad can be given through SetAdStatus: the configured
// statuses of Meta's Ad.status; the others are derived by Meta (review, billing, parents).
var settableStatuses = []string{StatusActive, StatusPaused, StatusArchived, StatusDeleted}

// hiddenByDefault are the statuses Insights leaves out unless a filter on
// ad.effective_status asks for them: deleted and archived ads still delivered in the past,
// but a report without the filter does not show it.
var hiddenByDefault = []string{StatusArchived, StatusDeleted}

// filterOperators are the operators Meta accepts in a filtering entry.
var filterOperators = []string{
	"EQUAL", "NOT_EQUAL", "GREATER_THAN", "GREATER_THAN_OR_EQUAL", "LESS_THAN", "LESS_THAN_OR_EQUAL",
	"IN_RANGE", "NOT_IN_RANGE", "CONTAIN", "NOT_CONTAIN", "IN", "NOT_IN", "STARTS_WITH", "ENDS_WITH",
	"ANY", "ALL", "AFTER", "BEFORE", "ON_OR_AFTER", "ON_OR_BEFORE", "NONE", "TOP",
}

// filterField is the one filtering field the sandbox evaluates.
const filterField = "ad.effective_status"

// statusFilter is what a report keeps by effective status: nil keeps Meta's default (every
// status but ARCHIVED and DELETED).
type statusFilter func(status string) bool

func defaultStatusFilter(status string) bool { return !slices.Contains(hiddenByDefault, status) }

// filterEntry is one element of the filtering parameter.
type filterEntry struct {
	Field    string          `json:"field"`
	Operator string          `json:"operator"`
	Value    json.RawMessage `json:"value"`
}

// parseFiltering reads the filtering parameter as Meta does: a JSON-encoded list of
// {field, operator, value}. Entries on ad.effective_status narrow the statuses kept (all
// of them must hold); other fields are not supported by the sandbox. The error text is the
// message of a code 100 error.
func parseFiltering(v string) (statusFilter, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return defaultStatusFilter, nil
	}
	var entries []filterEntry
	if err := json.Unmarshal([]byte(v), &entries); err != nil {
		return nil, fmt.Errorf("param filtering must be an array of objects with field, operator and value: %v", err)
	}
	keep := []statusFilter{}
	for i, e := range entries {
		if e.Field == "" || e.Operator == "" || len(e.Value) == 0 {
			return nil, fmt.Errorf("param filtering[%d] must have field, operator and value", i)
		}
		op := strings.ToUpper(e.Operator)
		if !slices.Contains(filterOperators, op) {
			return nil, fmt.Errorf("param filtering[%d][operator] must be one of the following values: %s", i, strings.Join(filterOperators, ", "))
		}
		if e.Field != filterField {
			return nil, fmt.Errorf("the sandbox supports filtering only on %s, not %s", filterField, e.Field)
		}
		f, err := statusEntry(op, e.Value)
		if err != nil {
			return nil, fmt.Errorf("filtering field %s with operation %s: %v", e.Field, strings.ToLower(op), err)
		}
		keep = append(keep, f)
	}
	if len(keep) == 0 {
		return defaultStatusFilter, nil
	}
	return func(status string) bool {
		for _, f := range keep {
			if !f(status) {
				return false
			}
		}
		return true
	}, nil
}

// statusEntry evaluates one ad.effective_status entry: IN and NOT_IN take a list of
// statuses, EQUAL and NOT_EQUAL one.
func statusEntry(op string, raw json.RawMessage) (statusFilter, error) {
	var values []string
	switch op {
	case "IN", "NOT_IN":
		if err := json.Unmarshal(raw, &values); err != nil {
			return nil, fmt.Errorf("value %s is not a list of statuses", raw)
		}
	case "EQUAL", "NOT_EQUAL":
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, fmt.Errorf("value %s is not a status", raw)
		}
		values = []string{s}
	default:
		return nil, fmt.Errorf("operation is not supported")
	}
	for _, s := range values {
		if !slices.Contains(AdEffectiveStatuses, s) {
			return nil, fmt.Errorf("value %q is not one of %s", s, strings.Join(AdEffectiveStatuses, ", "))
		}
	}
	negate := op == "NOT_IN" || op == "NOT_EQUAL"
	return func(status string) bool { return slices.Contains(values, status) != negate }, nil
}

// SetAdStatus gives an ad (of any account) an effective status: ACTIVE, PAUSED, ARCHIVED or
// DELETED. Its delivery history does not change, so Totals still counts it; reports show it
// only while their filter keeps its status. Report runs started afterwards see the change.
func (s *Server) SetAdStatus(adID, status string) error {
	if !slices.Contains(settableStatuses, status) {
		return fmt.Errorf("effective_status %q is not one of %s", status, strings.Join(settableStatuses, ", "))
	}
	if !s.hasAd(adID) {
		return fmt.Errorf("unknown ad %q", adID)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.adStatus[adID] = status
	return nil
}

// AdStatus is the effective status of an ad; ACTIVE unless set otherwise.
func (s *Server) AdStatus(adID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.adStatusLocked(adID)
}

func (s *Server) adStatusLocked(adID string) string {
	if st, ok := s.adStatus[adID]; ok {
		return st
	}
	return StatusActive
}

func (s *Server) hasAd(adID string) bool {
	for _, id := range s.order {
		for _, c := range s.accounts[id].Campaigns {
			for _, set := range c.AdSets {
				for _, ad := range set.Ads {
					if ad.ID == adID {
						return true
					}
				}
			}
		}
	}
	return false
}

// hiddenAds lists the ads of an account a report with filter keep leaves out; nil when it
// shows them all.
func (s *Server) hiddenAds(a *Account, keep statusFilter) map[string]bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	var hidden map[string]bool
	for _, c := range a.Campaigns {
		for _, set := range c.AdSets {
			for _, ad := range set.Ads {
				if !keep(s.adStatusLocked(ad.ID)) {
					if hidden == nil {
						hidden = map[string]bool{}
					}
					hidden[ad.ID] = true
				}
			}
		}
	}
	return hidden
}
