package billing

import (
	"strings"
	"testing"
)

func TestGateReduceAlwaysPasses(t *testing.T) {
	for _, s := range []DunningState{DunningNone, DunningGrace, DunningRestricted, DunningSuspended} {
		if !s.Permits(GateReduce) {
			t.Errorf("%s refuses %s: giving something up must always be allowed", s, GateReduce)
		}
	}
}

func TestGateNames(t *testing.T) {
	seen := map[string]bool{}
	for _, g := range Gates {
		name := g.String()
		if name == "" || seen[name] || strings.HasPrefix(name, "gate(") {
			t.Errorf("gate %d has name %q (empty, repeated or unnamed)", int(g), name)
		}
		seen[name] = true
	}
	if len(Gates) != int(GateReduce)+1 {
		t.Errorf("Gates lists %d gates, want every gate up to GateReduce (%d)", len(Gates), int(GateReduce)+1)
	}
	if got := Gate(99).String(); got != "gate(99)" {
		t.Errorf("Gate(99).String() = %q", got)
	}
}
