package engine

import (
	"context"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/engagehq/engage/compliance"
)

// TestNoRulePackFailsClosed: an account in a jurisdiction the firewall has no
// rule pack for (unverified, unknown, or too coarse) is answered "no contact"
// with the reason, whether the caller compiles nothing (Decide finds out) or
// says so (Input.NoRules); it is never an error and never a contact.
func TestNoRulePackFailsClosed(t *testing.T) {
	fw, err := compliance.Open(compliance.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	eng, err := New(fw, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	sc, err := NewRateScorer(nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 10, 15, 0, 0, 0, time.UTC)
	rng := rand.New(rand.NewPCG(5, 6))
	for i, tc := range []struct {
		name, jurisdiction string
		told               bool
	}{
		{"unverified CA-MB", "CA-MB", false},
		{"unverified CA-SK", "CA-SK", false},
		{"unknown", "ZZ", false},
		{"empty", "", false},
		{"told by caller", "CA-MB", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := randomInput(t, rng, fw, now, i)
			in.Compliance.Jurisdiction = tc.jurisdiction
			in.Account.Row.Jurisdiction = tc.jurisdiction
			if tc.told {
				in.NoRules = eng.NoRules(tc.jurisdiction)
				if in.NoRules == "" {
					t.Fatalf("NoRules(%q) is empty", tc.jurisdiction)
				}
			}
			d, err := eng.Decide(context.Background(), in, sc, "")
			if err != nil {
				t.Fatal(err)
			}
			if d.Outcome != OutcomeNoContact || d.Action != nil || len(d.RunnersUp) != 0 || d.Propensity != 1 {
				t.Fatalf("outcome %s action %+v runners-up %d propensity %v", d.Outcome, d.Action, len(d.RunnersUp), d.Propensity)
			}
			if !strings.Contains(strings.Join(d.Reasons, " "), "rule pack") {
				t.Fatalf("reasons %q", d.Reasons)
			}
			if len(d.Compliance.Channels) != len(DefaultOptions().Channels) {
				t.Fatalf("%d channel verdicts", len(d.Compliance.Channels))
			}
			for _, c := range d.Compliance.Channels {
				if c.AllowedNow || c.EarliestAllowed != nil || len(c.Reasons) == 0 {
					t.Fatalf("channel %+v not denied with a reason", c)
				}
			}
			if _, ok := d.Logged("t"); ok {
				t.Fatal("a no-contact decision has a logged row")
			}
		})
	}
	// A jurisdiction with a pack is judged as usual.
	if r := eng.NoRules("US-TX"); r != "" {
		t.Fatalf("NoRules(US-TX) = %q", r)
	}
}
