package compliance

import (
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
)

// TestVerdictMatchesCheck: Verdict gives Check's allowed, reasons and
// earliest instant, and Scope Check's jurisdictions, zones and warnings, on
// the property test's random accounts, ledgers and contacts (every channel of
// each case, as the decision engine asks).
func TestVerdictMatchesCheck(t *testing.T) {
	fw := mustOpen(t)
	rng := rand.New(rand.NewPCG(20260102, 9))
	var denied, allowed int
	for i := range 1500 {
		a, ledger, _, at, kind := randomCase(rng, fw)
		s, err := fw.Subject(a, ledger)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		for _, ch := range Channels {
			want, err := s.Check(Contact{Channel: ch, At: at, AddressKind: kind})
			if err != nil {
				t.Fatalf("case %d: %v", i, err)
			}
			ok, reasons, earliest, err := s.Verdict(ch, at, kind)
			if err != nil {
				t.Fatalf("case %d: %v", i, err)
			}
			if ok && earliest == nil { // Check answers at itself
				earliest = want.EarliestAllowed
			}
			if ok != want.Allowed || !reflect.DeepEqual(earliest, want.EarliestAllowed) {
				t.Fatalf("case %d %s: verdict %v %v, check %v %v", i, ch, ok, earliest, want.Allowed, want.EarliestAllowed)
			}
			if ok {
				allowed++
				if reasons != nil {
					t.Fatalf("case %d %s: allowed with reasons %+v", i, ch, reasons)
				}
			} else {
				denied++
				if len(reasons) == 0 || !reflect.DeepEqual(reasons, want.Reasons) {
					t.Fatalf("case %d %s: verdict reasons %+v, check %+v", i, ch, reasons, want.Reasons)
				}
			}
			js, zs, ws := s.Scope()
			if !slices.Equal(js, want.Jurisdictions) || !slices.Equal(zs, want.Zones) || !slices.Equal(ws, want.Warnings) {
				t.Fatalf("case %d: scope %v %v %v, check %v %v %v", i, js, zs, ws, want.Jurisdictions, want.Zones, want.Warnings)
			}
		}
	}
	if allowed < 500 || denied < 500 {
		t.Fatalf("lopsided cases: %d allowed, %d denied", allowed, denied)
	}
	a, ledger, _, at, kind := randomCase(rng, fw)
	s, err := fw.Subject(a, ledger)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := s.Verdict(noChannel, at, kind); err == nil {
		t.Fatal("unknown channel accepted")
	}
}
