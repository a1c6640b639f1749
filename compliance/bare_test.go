package compliance

import (
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

// TestBareRulesMatchFullRules: questions without a message (Verdict,
// Allowed, Earliest, plain and through a Session) answer exactly as when
// every planned rule runs, notice rules included, on the property test's
// random accounts and ledgers, at instants around the notices' deadlines.
func TestBareRulesMatchFullRules(t *testing.T) {
	fw := mustOpen(t)
	rng := rand.New(rand.NewPCG(20261123, 7))
	skipped, compared := 0, 0
	for i := range 1500 {
		a, ledger, _, at, kind := randomCase(rng, fw)
		s, err := fw.Subject(a, ledger)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		full, err := fw.Subject(a, ledger)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		full.bare, full.bareEnd = full.rules, full.rulesEnd // the reference: no rule left out
		skipped += len(s.rules) - len(s.bare)
		ts := []time.Time{at, at.Add(90 * time.Minute), at.Add(26 * time.Hour)}
		if s.firstCommOK {
			for _, l := range s.layers {
				for _, r := range l.rules {
					if r.deadline > 0 {
						d := time.Unix(0, s.firstComm+r.deadline)
						ts = append(ts, d.Add(-time.Hour), d, d.Add(time.Nanosecond), d.Add(3*time.Hour))
					}
				}
			}
		}
		var s1, s2 Session
		s1.Reset(s)
		s2.Reset(full)
		for _, x := range ts {
			for _, ch := range Channels {
				ok1, r1, e1, err1 := s.Verdict(ch, x, kind)
				ok2, r2, e2, err2 := full.Verdict(ch, x, kind)
				same(t, i, "verdict", []any{ok1, r1, e1, err1}, []any{ok2, r2, e2, err2})
				ok1, r1, e1, err1 = s1.Verdict(ch, x, kind)
				ok2, r2, e2, err2 = s2.Verdict(ch, x, kind)
				same(t, i, "session verdict", []any{ok1, r1, e1, err1}, []any{ok2, r2, e2, err2})
				a1, err1 := s1.Allowed(ch, x, Work)
				a2, err2 := s2.Allowed(ch, x, Work)
				same(t, i, "allowed", []any{a1, err1}, []any{a2, err2})
				u1, f1, err1 := s1.Earliest(ch, x, kind, 14*24*time.Hour)
				u2, f2, err2 := s2.Earliest(ch, x, kind, 14*24*time.Hour)
				same(t, i, "earliest", []any{u1, f1, err1}, []any{u2, f2, err2})
				compared++
			}
		}
	}
	if skipped == 0 {
		t.Fatal("no notice rule was left out of a bare list: the test compares nothing")
	}
	t.Logf("%d rules left out over the cases, %d comparisons", skipped, compared)
}

func same(t *testing.T, i int, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("case %d %s: bare %+v, full %+v", i, what, got, want)
	}
}
