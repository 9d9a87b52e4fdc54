// Package billing is the pure part of subscriptions: the plan catalog and its limits, the
// dunning states and what each allows, and the cron arithmetic that checks a sync schedule
// against a plan. Stripe calls live in internal/stripeapi, storage in internal/store.
package billing

import (
	"fmt"
	"time"
)

// PlanID names a plan of the catalog.
type PlanID string

// The plans, cheapest first.
const (
	Free    PlanID = "free"
	Starter PlanID = "starter"
	Pro     PlanID = "pro"
	Agency  PlanID = "agency"
)

// TrialDays is the trial every paid plan starts with.
const TrialDays = 14

// Limit names a plan limit, as 402 problems and GET /v1/billing name it.
type Limit string

// The limits of a plan.
const (
	LimitConnections      Limit = "connections"
	LimitMembers          Limit = "members"
	LimitHistoryDays      Limit = "history_days"
	LimitScheduledReports Limit = "scheduled_reports"
	LimitSyncInterval     Limit = "min_sync_interval"
)

// Limits are what a plan allows.
type Limits struct {
	// Connections counts connections that are not disconnected.
	Connections int `json:"connections"`
	// Members counts members plus pending invites.
	Members int `json:"members"`
	// HistoryDays is how far back from today metrics and orders may be read.
	HistoryDays int `json:"history_days"`
	// ScheduledReports counts reports with an active schedule.
	ScheduledReports int `json:"scheduled_reports"`
	// MinSyncInterval is the shortest gap a connection's sync schedule may have.
	MinSyncInterval time.Duration `json:"-"`
}

// Plan is one entry of the catalog.
type Plan struct {
	ID   PlanID `json:"id"`
	Name string `json:"name"`
	// MonthlyCents is the price in US cents per month; 0 for free.
	MonthlyCents int64  `json:"monthly_cents"`
	Limits       Limits `json:"limits"`
}

// Paid reports whether the plan is bought through Stripe.
func (p Plan) Paid() bool { return p.MonthlyCents > 0 }

// catalog lists the plans cheapest first; every limit grows (or stays) from one plan to the
// next, which LiftedBy relies on. README "Plans and limits" shows the same table, and a
// test keeps the two equal.
var catalog = []Plan{
	{ID: Free, Name: "Free", MonthlyCents: 0, Limits: Limits{
		Connections: 2, Members: 2, HistoryDays: 90, ScheduledReports: 1, MinSyncInterval: 6 * time.Hour}},
	{ID: Starter, Name: "Starter", MonthlyCents: 4900, Limits: Limits{
		Connections: 5, Members: 5, HistoryDays: 365, ScheduledReports: 5, MinSyncInterval: time.Hour}},
	{ID: Pro, Name: "Pro", MonthlyCents: 14900, Limits: Limits{
		Connections: 15, Members: 15, HistoryDays: 3 * 365, ScheduledReports: 25, MinSyncInterval: 30 * time.Minute}},
	{ID: Agency, Name: "Agency", MonthlyCents: 39900, Limits: Limits{
		Connections: 100, Members: 50, HistoryDays: 5 * 365, ScheduledReports: 200, MinSyncInterval: 15 * time.Minute}},
}

// Plans returns the catalog, cheapest first.
func Plans() []Plan { return append([]Plan(nil), catalog...) }

// PlanByID returns the plan of the catalog named id.
func PlanByID(id PlanID) (Plan, bool) {
	for _, p := range catalog {
		if p.ID == id {
			return p, true
		}
	}
	return Plan{}, false
}

// ParsePlan accepts a plan name.
func ParsePlan(s string) (Plan, error) {
	if p, ok := PlanByID(PlanID(s)); ok {
		return p, nil
	}
	return Plan{}, fmt.Errorf("plan %q is not one of free, starter, pro, agency", s)
}

// Allows reports whether the plan allows a value of the limit: a count after the action
// (connections, members, scheduled reports), a number of days back (history_days), or a
// schedule's shortest gap (min_sync_interval, passed as a duration in Interval).
func (p Plan) Allows(l Limit, count int, interval time.Duration) bool {
	switch l {
	case LimitConnections:
		return count <= p.Limits.Connections
	case LimitMembers:
		return count <= p.Limits.Members
	case LimitHistoryDays:
		return count <= p.Limits.HistoryDays
	case LimitScheduledReports:
		return count <= p.Limits.ScheduledReports
	case LimitSyncInterval:
		return interval >= p.Limits.MinSyncInterval
	}
	return false
}

// LiftedBy returns the cheapest plan that allows the value, and false when none does.
func LiftedBy(l Limit, count int, interval time.Duration) (Plan, bool) {
	for _, p := range catalog {
		if p.Allows(l, count, interval) {
			return p, true
		}
	}
	return Plan{}, false
}

// Value is the plan's value of a limit, for messages: a number, or a duration's text.
func (p Plan) Value(l Limit) string {
	switch l {
	case LimitConnections:
		return fmt.Sprint(p.Limits.Connections)
	case LimitMembers:
		return fmt.Sprint(p.Limits.Members)
	case LimitHistoryDays:
		return fmt.Sprint(p.Limits.HistoryDays)
	case LimitScheduledReports:
		return fmt.Sprint(p.Limits.ScheduledReports)
	case LimitSyncInterval:
		return p.Limits.MinSyncInterval.String()
	}
	return ""
}

// EffectivePlan is the plan a subscription of plan paid grants in Stripe status status.
// past_due and unpaid keep the plan: dunning restricts access, step by step, instead.
// A trial that ended without a payment method (paused), a canceled or never-paid
// subscription, or none at all, grant free.
func EffectivePlan(paid PlanID, status string) PlanID {
	switch status {
	case "trialing", "active", "past_due", "unpaid":
		if _, ok := PlanByID(paid); ok {
			return paid
		}
	}
	return Free
}
