package billing

import (
	"testing"
	"time"
)

func TestLiftedBy(t *testing.T) {
	tests := []struct {
		limit    Limit
		count    int
		interval time.Duration
		want     PlanID
		ok       bool
	}{
		{LimitConnections, 2, 0, Free, true},
		{LimitConnections, 3, 0, Starter, true},
		{LimitConnections, 16, 0, Agency, true},
		{LimitConnections, 101, 0, "", false},
		{LimitMembers, 6, 0, Pro, true},
		{LimitHistoryDays, 366, 0, Pro, true},
		{LimitScheduledReports, 2, 0, Starter, true},
		{LimitSyncInterval, 0, 6 * time.Hour, Free, true},
		{LimitSyncInterval, 0, time.Hour, Starter, true},
		{LimitSyncInterval, 0, 15 * time.Minute, Agency, true},
		{LimitSyncInterval, 0, time.Minute, "", false},
	}
	for _, tt := range tests {
		p, ok := LiftedBy(tt.limit, tt.count, tt.interval)
		if ok != tt.ok || p.ID != tt.want {
			t.Errorf("LiftedBy(%s, %d, %s) = %s, %v; want %s, %v", tt.limit, tt.count, tt.interval, p.ID, ok, tt.want, tt.ok)
		}
	}
}

// Every limit grows (or stays) from one plan to the next, which LiftedBy relies on.
func TestCatalogIsMonotonic(t *testing.T) {
	ps := Plans()
	for i := 1; i < len(ps); i++ {
		a, b := ps[i-1].Limits, ps[i].Limits
		if b.Connections < a.Connections || b.Members < a.Members || b.HistoryDays < a.HistoryDays ||
			b.ScheduledReports < a.ScheduledReports || b.MinSyncInterval > a.MinSyncInterval ||
			ps[i].MonthlyCents <= ps[i-1].MonthlyCents {
			t.Errorf("plan %s allows less than %s or costs no more", ps[i].ID, ps[i-1].ID)
		}
	}
}

func TestEffectivePlan(t *testing.T) {
	for status, want := range map[string]PlanID{
		"trialing": Pro, "active": Pro, "past_due": Pro, "unpaid": Pro,
		"paused": Free, "canceled": Free, "incomplete": Free, "incomplete_expired": Free, "": Free,
	} {
		if got := EffectivePlan(Pro, status); got != want {
			t.Errorf("EffectivePlan(pro, %q) = %s, want %s", status, got, want)
		}
	}
	if got := EffectivePlan("gold", "active"); got != Free {
		t.Errorf("unknown plan: got %s, want free", got)
	}
}

func TestDunningPermits(t *testing.T) {
	gates := []Gate{GateRead, GateWrite, GateCreate, GateSync, GateExport, GateBilling}
	want := map[DunningState][]bool{
		DunningNone:       {true, true, true, true, true, true},
		DunningGrace:      {true, true, true, true, true, true},
		DunningRestricted: {true, false, false, true, true, true},
		DunningSuspended:  {false, false, false, false, true, true},
	}
	for state, allowed := range want {
		for i, g := range gates {
			if got := state.Permits(g); got != allowed[i] {
				t.Errorf("%s.Permits(%d) = %v, want %v", state, g, got, allowed[i])
			}
		}
	}
}
