package api

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/omnitrackiq/omnitrackiq/internal/billing"
	"github.com/omnitrackiq/omnitrackiq/internal/store"
)

// Plan limits and billing standing (README "Plans and limits"). Both are enforced only
// when billing is configured (Deps.Billing set): a self-hosted install without Stripe has
// no limits and no dunning.

// checkoutHint is how a workspace lifts a limit.
const checkoutHint = "upgrade with POST /v1/billing/checkout"

type standingKey struct{}

// enforcing reports whether plan limits and dunning standing apply.
func (s *server) enforcing() bool { return s.Billing != nil }

// admit checks the workspace's standing against the route's gate, and keeps the standing
// for the handler's limit checks. It writes the problem and returns false when the
// workspace may not pass.
func (s *server) admit(c *gin.Context, workspaceID string, gate billing.Gate) bool {
	if !s.enforcing() {
		return true
	}
	st, ok := s.loadStanding(c, workspaceID)
	if !ok {
		return false
	}
	if !st.DunningState.Permits(gate) {
		paymentRequired(c, st.DunningState)
		return false
	}
	return true
}

// loadStanding returns the workspace's standing, read once per request. On failure it has
// written the problem.
func (s *server) loadStanding(c *gin.Context, workspaceID string) (store.Standing, bool) {
	if v, ok := c.Get(standingKey{}); ok {
		if st, ok := v.(store.Standing); ok {
			return st, true
		}
	}
	st, err := s.Store.BillingStanding(c.Request.Context(), workspaceID)
	if errors.Is(err, store.ErrNotFound) {
		notFound(c, "workspace "+workspaceID)
		return store.Standing{}, false
	}
	if err != nil {
		s.unavailable(c, "the database", err)
		return store.Standing{}, false
	}
	c.Set(standingKey{}, st)
	return st, true
}

// paymentRequired answers a request the workspace's dunning state does not permit.
func paymentRequired(c *gin.Context, state billing.DunningState) {
	what := "restricted (read-only: syncs go on, but nothing new can be added or changed)"
	if state == billing.DunningSuspended {
		what = "suspended (only billing, the member list and the export of its orders remain)"
	}
	writeProblem(c, Problem{Type: typePaymentRequired, Title: "Payment required", Status: http.StatusPaymentRequired,
		Detail: "the workspace is " + what + " because an invoice is unpaid; " +
			"its owner can pay it in the billing portal (POST /v1/billing/portal), which restores everything at once",
		DunningState: string(state)})
}

// checkLimit reports whether the workspace's plan allows count of the counted limit l
// (connections, members, scheduled_reports): count is the usage the action would reach,
// e.g. the scheduled reports the workspace would have with this one. When it does not,
// checkLimit writes the 402 plan-limit problem and returns false. Without billing it
// allows everything. The scheduled reports code calls it with billing.LimitScheduledReports;
// to count and create without a race between two requests, it counts in a transaction
// that holds store.LockPlanLimit(ctx, tx, workspace, billing.LimitScheduledReports).
func (s *server) checkLimit(c *gin.Context, l billing.Limit, count int) bool {
	if !s.enforcing() {
		return true
	}
	st, ok := s.loadStanding(c, workspaceID(c))
	if !ok {
		return false
	}
	if st.Plan.Allows(l, count, 0) {
		return true
	}
	s.limitError(c, &store.LimitError{Limit: l, Plan: st.Plan, Usage: count - 1, Want: count}, checkoutHint)
	return false
}

// limitError answers a counted limit the action would exceed; hint says how to lift it.
func (s *server) limitError(c *gin.Context, e *store.LimitError, hint string) {
	usage := e.Usage
	planLimit(c, e.Plan, e.Limit, &usage, e.Want, 0, fmt.Sprintf(" and this workspace has %d", e.Usage), hint)
}

// planLimit writes the 402 of limit l of plan p. want (or interval, for the sync
// interval) is what the request needs; usage is set for counted limits; why is added to
// the plan's statement ("and this workspace has 2"); hint is how to lift the limit.
func planLimit(c *gin.Context, p billing.Plan, l billing.Limit, usage *int, want int, interval time.Duration, why, hint string) {
	detail := fmt.Sprintf("the %s plan %s%s; ", p.ID, limitWords(p, l), why)
	lift, ok := billing.LiftedBy(l, want, interval)
	upgrade := ""
	if ok {
		upgrade = string(lift.ID)
		detail += fmt.Sprintf("the %s plan %s: %s", lift.ID, limitWords(lift, l), hint)
	} else {
		detail += "no plan allows that: " + noPlanHint(l)
	}
	writeProblem(c, Problem{Type: typePlanLimit, Title: "Plan limit reached", Status: http.StatusPaymentRequired,
		Detail: detail, Limit: string(l), Plan: string(p.ID), LimitValue: p.Value(l), Usage: usage, UpgradeTo: upgrade})
}

// limitWords says what plan p allows of limit l.
func limitWords(p billing.Plan, l billing.Limit) string {
	switch l {
	case billing.LimitConnections:
		return "allows " + plural(p.Limits.Connections, "connection")
	case billing.LimitMembers:
		return "allows " + plural(p.Limits.Members, "member") + ", pending invites included"
	case billing.LimitHistoryDays:
		return "reads " + plural(p.Limits.HistoryDays, "day") + " of history"
	case billing.LimitScheduledReports:
		return "allows " + plural(p.Limits.ScheduledReports, "scheduled report")
	case billing.LimitSyncInterval:
		return "syncs a connection at most every " + shortDuration(p.Limits.MinSyncInterval)
	}
	return fmt.Sprintf("limits %s to %s", l, p.Value(l))
}

// plural writes "1 connection" or "2 connections".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// noPlanHint says what to do when no plan lifts the limit far enough.
func noPlanHint(l billing.Limit) string {
	switch l {
	case billing.LimitConnections:
		return "disconnect a connection first (DELETE /v1/connections/{id})"
	case billing.LimitMembers:
		return "remove a member or revoke an invite first"
	case billing.LimitHistoryDays:
		return "ask for a later from"
	case billing.LimitScheduledReports:
		return "remove the schedule of another report first (PUT /v1/reports/{id} without schedule)"
	case billing.LimitSyncInterval:
		return "choose a cron that fires less often"
	}
	return "reduce the request"
}

// shortDuration writes 6h, 30m or 1h30m rather than 6h0m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// checkHistory refuses a read from a day before the plan's history: today in the
// workspace's timezone minus HistoryDays. On refusal it has written the problem.
func (s *server) checkHistory(c *gin.Context, from time.Time) bool {
	if !s.enforcing() {
		return true
	}
	ws := workspaceID(c)
	st, ok := s.loadStanding(c, ws)
	if !ok {
		return false
	}
	workspace, err := s.Store.GetWorkspace(c.Request.Context(), ws)
	if err != nil {
		s.unavailable(c, "the database", err)
		return false
	}
	loc, err := time.LoadLocation(workspace.Timezone)
	if err != nil {
		loc = time.UTC
	}
	y, m, d := time.Now().In(loc).Date()
	today := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	earliest := today.AddDate(0, 0, -st.Plan.Limits.HistoryDays)
	day := time.Date(from.Year(), from.Month(), from.Day(), 0, 0, 0, 0, time.UTC)
	if !day.Before(earliest) {
		return true
	}
	back := int(today.Sub(day).Hours() / 24)
	planLimit(c, st.Plan, billing.LimitHistoryDays, nil, back, 0,
		fmt.Sprintf(" (from %s on) and from %s is %d days back", formatDay(earliest), formatDay(day), back), checkoutHint)
	return false
}

// checkSyncInterval refuses a schedule whose cron fires more often than the plan allows.
// On refusal it has written the problem.
func (s *server) checkSyncInterval(c *gin.Context, cron string) bool {
	if !s.enforcing() {
		return true
	}
	gap, err := billing.CronMinInterval(cron)
	if err != nil {
		validationProblem(c, []FieldError{{"cron", err.Error()}})
		return false
	}
	st, ok := s.loadStanding(c, workspaceID(c))
	if !ok {
		return false
	}
	if st.Plan.Allows(billing.LimitSyncInterval, 0, gap) {
		return true
	}
	planLimit(c, st.Plan, billing.LimitSyncInterval, nil, 0, gap,
		fmt.Sprintf(" and %q fires every %s at the shortest", cron, shortDuration(gap)), checkoutHint)
	return false
}

// connectionRoom checks, before any provider call, that the workspace can take the
// accounts as live connections: accounts already connected (and not disconnected) are
// renewals, not new ones. The creating transaction checks again under a lock; this is the
// early answer. On refusal it has written the problem.
func (s *server) connectionRoom(c *gin.Context, workspaceID, channel string, accounts []string, hint string) bool {
	if !s.enforcing() {
		return true
	}
	st, ok := s.loadStanding(c, workspaceID)
	if !ok {
		return false
	}
	conns, err := s.Store.ListConnections(c.Request.Context(), workspaceID)
	if err != nil {
		s.unavailable(c, "the database", err)
		return false
	}
	live := map[string]bool{}
	for _, conn := range conns {
		if conn.Status != store.ConnectionDisconnected {
			live[conn.Channel+"/"+conn.ExternalAccountID] = true
		}
	}
	adding := 0
	for _, a := range accounts {
		if !live[channel+"/"+a] {
			adding++
		}
	}
	if adding == 0 || st.Plan.Allows(billing.LimitConnections, len(live)+adding, 0) {
		return true
	}
	s.limitError(c, &store.LimitError{Limit: billing.LimitConnections, Plan: st.Plan, Usage: len(live), Want: len(live) + adding}, hint)
	return false
}
