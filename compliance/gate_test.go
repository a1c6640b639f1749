package compliance

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

// scanGate is evalGate as it was before Subject.gates: the ledger read at
// every question. TestGateMatchesScan holds the remembered evidence to it.
func scanGate(s *Subject, v *verdict, l *layer, r *rule, t int64, msg *Message) {
	if msg != nil && r.notice != "" && containsString(msg.Notices, r.notice) {
		return
	}
	var next int64
	found := false
	for i := range s.at {
		if !s.isEvidence(r, i) {
			continue
		}
		found = true
		o := s.gateOpen(r, s.at[i])
		if o <= t {
			return
		}
		if next == 0 || o < next {
			next = o
		}
	}
	text := ""
	if v.collect {
		if found {
			text = fmt.Sprintf("%s: the notice on the ledger is too recent; allowed from %s", r.meta.Text, time.Unix(0, next).UTC().Format(time.RFC3339))
		} else {
			text = fmt.Sprintf("%s: no such notice on the ledger", r.meta.Text)
		}
	}
	v.deny(l, &r.meta, text, next, !found)
}

func containsString(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// TestGateMatchesScan: evalGate from the subject's remembered evidence
// gives exactly the verdict (allowed, bound, never, reasons) of scanning
// the ledger, for every gate rule of the property test's random accounts
// and ledgers, at instants around every evidence's opening.
func TestGateMatchesScan(t *testing.T) {
	fw := mustOpen(t)
	rng := rand.New(rand.NewPCG(20261123, 6))
	gates, compared := 0, 0
	for i := range 1500 {
		a, ledger, _, at, _ := randomCase(rng, fw)
		s, err := fw.Subject(a, ledger)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		for _, l := range s.layers {
			for _, r := range l.rules {
				if r.kind != kindGate {
					continue
				}
				gates++
				ts := []int64{at.UnixNano(), at.Add(-48 * time.Hour).UnixNano(), at.Add(20 * 24 * time.Hour).UnixNano()}
				for k := range s.at {
					o := s.gateOpen(r, s.at[k])
					ts = append(ts, o-1, o, o+1)
				}
				for _, tt := range ts {
					for _, msg := range []*Message{nil, {Notices: []string{r.notice}}} {
						for _, collect := range []bool{false, true} {
							got := verdict{allowed: true, collect: collect}
							s.evalGate(&got, l, r, tt, msg)
							// The reference: the old scan, verbatim.
							want := verdict{allowed: true, collect: collect}
							scanGate(s, &want, l, r, tt, msg)
							if !reflect.DeepEqual(got, want) {
								t.Fatalf("case %d rule %s at %s: got %+v, scan %+v", i, r.meta.ID, time.Unix(0, tt).UTC(), got, want)
							}
							compared++
						}
					}
				}
			}
		}
	}
	if gates == 0 || compared < 1000 {
		t.Fatalf("only %d gate rules, %d comparisons: the random cases do not reach gates", gates, compared)
	}
	t.Logf("%d gate rules, %d comparisons", gates, compared)
}
