package compliance

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestSharedPlansMatchOwnPlans: a subject whose rule lists come from an
// earlier subject with the same jurisdiction, flags and consents (sharePlan)
// has exactly the lists it plans on a firewall that has planned nothing
// yet (the lists of another firewall, compared by rule id), on the property test's random accounts; and subjects with the same
// key share one backing array.
func TestSharedPlansMatchOwnPlans(t *testing.T) {
	shared, fresh := mustOpen(t), mustOpen(t)
	rng := rand.New(rand.NewPCG(20261123, 11))
	seen := map[planKey]*layerRule{}
	for i := range 600 {
		a, ledger, _, _, _ := randomCase(rng, shared)
		s, err := shared.Subject(a, ledger)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		fresh.plans.Clear() // nothing planned: the subject keeps its own lists
		own, err := fresh.Subject(a, ledger)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		// The other firewall compiled its own packs: rules compare by
		// layer and id.
		if !slices.Equal(ruleIDs(s.rules), ruleIDs(own.rules)) || !slices.Equal(ruleIDs(s.bare), ruleIDs(own.bare)) ||
			s.rulesEnd != own.rulesEnd || s.bareEnd != own.bareEnd {
			t.Fatalf("case %d: shared plan differs from the subject's own", i)
		}
		k := planKey{leaf: s.layers[len(s.layers)-1], flags: s.flags, optIn: s.optIn}
		if len(s.rules) == 0 {
			continue
		}
		if p, ok := seen[k]; ok && p != &s.rules[0] {
			t.Fatalf("case %d: subjects with the same key do not share their rules", i)
		}
		seen[k] = &s.rules[0]
	}
	if len(seen) < 2 {
		t.Fatalf("only %d plan keys among the cases: the test compares nothing", len(seen))
	}
}

// ruleIDs names each listed rule by its layer and id.
func ruleIDs(rs []layerRule) []string {
	out := make([]string, len(rs))
	for i, rr := range rs {
		out[i] = rr.l.code + "/" + rr.r.meta.ID
	}
	return out
}
