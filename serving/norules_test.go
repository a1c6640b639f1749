package serving

import (
	"strings"
	"testing"

	"github.com/engagehq/engage/serving/engine"
)

// TestNoRulePackFailsClosed: an account whose jurisdiction has no rule pack
// (CA-MB and CA-SK are unverified in the shared compliance facts) gets a normal answer, alone or in a batch: no contact, every
// channel denied, and the reason in plain words; it is audited like any
// other decision.
func TestNoRulePackFailsClosed(t *testing.T) {
	e := newEnv(t, "", DefaultOptions())
	accts := world(5, "N")
	for i, j := range []struct{ j, z string }{{"CA-MB", "America/Winnipeg"}, {"CA-SK", "America/Regina"}} {
		accts[i].Jurisdiction, accts[i].TimeZone, accts[i].Currency = j.j, j.z, "CAD"
	}
	seed(t, e, "a", accts)
	check := func(t *testing.T, d engine.Decision, j string) {
		t.Helper()
		if d.Outcome != engine.OutcomeNoContact || d.Action != nil || d.WaitUntil != nil {
			t.Fatalf("%s: outcome %s action %+v, want no contact", j, d.Outcome, d.Action)
		}
		if len(d.Reasons) == 0 || !strings.Contains(strings.Join(d.Reasons, " "), "no rule pack for the jurisdiction "+j) {
			t.Fatalf("%s: reasons %q", j, d.Reasons)
		}
		if len(d.Compliance.Channels) == 0 {
			t.Fatalf("%s: no channel verdicts", j)
		}
		for _, c := range d.Compliance.Channels {
			if c.AllowedNow || c.EarliestAllowed != nil || len(c.Reasons) == 0 {
				t.Fatalf("%s: channel %+v not denied with a reason", j, c)
			}
		}
	}
	for _, tc := range []struct{ id, j string }{{"N0000", "CA-MB"}, {"N0001", "CA-SK"}} {
		t.Run(tc.j, func(t *testing.T) {
			var dr DecisionsResponse
			if c := e.do("POST", "/v1/decisions", "a", DecisionsRequest{AccountID: tc.id}, &dr); c != 200 || len(dr.Decisions) != 1 {
				t.Fatalf("decide: %d %+v", c, dr)
			}
			check(t, dr.Decisions[0], tc.j)
			var audit struct {
				ID string `json:"decision_id"`
			}
			if c := e.do("GET", "/v1/decisions/"+dr.Decisions[0].DecisionID, "a", nil, &audit); c != 200 || audit.ID != dr.Decisions[0].DecisionID {
				t.Fatalf("audit: %d %+v", c, audit)
			}
		})
	}
	t.Run("batch", func(t *testing.T) {
		ids := idsOf(accts)
		var dr DecisionsResponse
		if c := e.do("POST", "/v1/decisions", "a", DecisionsRequest{AccountIDs: ids}, &dr); c != 200 || len(dr.Decisions) != len(ids) {
			t.Fatalf("batch: %d %d", c, len(dr.Decisions))
		}
		for i, d := range dr.Decisions {
			if i < 2 {
				check(t, d, accts[i].Jurisdiction)
			} else if strings.Contains(strings.Join(d.Reasons, " "), "no rule pack") {
				t.Fatalf("%s (%s) failed closed: %q", d.AccountID, accts[i].Jurisdiction, d.Reasons)
			}
		}
	})
}
