package billing

import "fmt"

// DunningState is where a workspace stands in a failed-payment episode. It is stored on
// the workspace's billing account (so every API request can read it) and mirrored into the
// DunningState search attribute of the dunning workflow (so operations can list, say, every
// suspended workspace in the Web UI).
type DunningState string

// Dunning states, in the order an unpaid episode walks them.
const (
	// DunningNone: no payment is failing.
	DunningNone DunningState = "none"
	// DunningGrace: a payment failed; full access, reminder emails (days 0 and 3).
	DunningGrace DunningState = "grace"
	// DunningRestricted: read-only from day 7: no new connections, reports or exports;
	// syncs go on.
	DunningRestricted DunningState = "restricted"
	// DunningSuspended: from day 14: schedules paused; the API answers 402 except billing,
	// billing reads and export of the workspace's own data.
	DunningSuspended DunningState = "suspended"
	// DunningCanceled: day 30: the subscription is canceled and the workspace is on free.
	// Data is kept. The episode is over; the account's state returns to none.
	DunningCanceled DunningState = "canceled"
	// DunningRecovered: the invoice was paid; access restored. The episode is over.
	DunningRecovered DunningState = "recovered"
)

// Gate is what a route needs from the workspace's standing, besides the role matrix.
// GateRead is the zero value, so a route that names no gate is never "always allowed":
// api.Policy derives the gate of such a route from its method and action instead.
type Gate int

const (
	// GateRead: reading the workspace's data. Refused while suspended.
	GateRead Gate = iota
	// GateWrite: changing something (rename, schedule, members). Refused while restricted
	// or suspended.
	GateWrite
	// GateCreate: adding something that costs (a connection, a report, an export). Refused
	// while restricted or suspended.
	GateCreate
	// GateSync: running syncs and backfills. Allowed while restricted ("syncs go on").
	GateSync
	// GateExport: export of the workspace's own data. Allowed whatever the standing.
	GateExport
	// GateBilling: billing itself. Always allowed, so a workspace can always pay.
	GateBilling
	// GateReduce: giving something up (disconnecting a connection, removing a member,
	// revoking an invite or an API key, leaving). Always allowed: shrinking its usage is
	// how a workspace gets back under a plan's limits, and it costs nothing.
	GateReduce
)

// Gates lists every gate, in the order the README's "Billing standing" table shows them.
var Gates = []Gate{GateRead, GateWrite, GateCreate, GateSync, GateExport, GateBilling, GateReduce}

// String names the gate as the README and the API's problems do.
func (g Gate) String() string {
	switch g {
	case GateRead:
		return "read"
	case GateWrite:
		return "write"
	case GateCreate:
		return "create"
	case GateSync:
		return "sync"
	case GateExport:
		return "export"
	case GateBilling:
		return "billing"
	case GateReduce:
		return "reduce"
	}
	return fmt.Sprintf("gate(%d)", int(g))
}

// Permits reports whether a workspace in state s may pass gate g.
func (s DunningState) Permits(g Gate) bool {
	switch g {
	case GateBilling, GateExport, GateReduce:
		return true
	}
	switch s {
	case DunningRestricted:
		return g == GateRead || g == GateSync
	case DunningSuspended:
		return false
	}
	return true
}

// Active reports whether an episode in state s is still running.
func (s DunningState) Active() bool {
	return s == DunningGrace || s == DunningRestricted || s == DunningSuspended
}

// SchedulesPaused reports whether connection schedules are paused in state s.
func (s DunningState) SchedulesPaused() bool { return s == DunningSuspended }
