package serving

import (
	"fmt"
	"math"
	"testing"
)

// TestLargeBatch: a batch large enough to be stored in chunks while it is
// decided (pipeChunk) answers every account in order and audits every
// decision; one bad row anywhere in it refuses the whole request with the
// row named, and stores nothing.
func TestLargeBatch(t *testing.T) {
	e := newEnv(t, "", DefaultOptions())
	n := 3*pipeChunk + 17
	accts := world(n, "L")
	seed(t, e, "a", accts)
	ids := idsOf(accts)
	for _, tc := range []struct {
		name   string
		row    int
		id     string
		status int
	}{
		{"unknown account last", n - 1, "nobody", 404},
		{"unknown account first", 0, "nobody", 404},
		{"bad id mid chunk", pipeChunk + 3, " padded", 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := append([]string(nil), ids...)
			bad[tc.row] = tc.id
			var ae struct {
				Error struct {
					Field string `json:"field"`
				} `json:"error"`
			}
			if c := e.do("POST", "/v1/decisions", "a", DecisionsRequest{AccountIDs: bad}, &ae); c != tc.status {
				t.Fatalf("status %d, want %d (%+v)", c, tc.status, ae)
			}
			if want := fmt.Sprintf("account_ids[%d]", tc.row); ae.Error.Field != want {
				t.Fatalf("field %q, want %q", ae.Error.Field, want)
			}
			for _, id := range []string{ids[0], ids[n/2], ids[n-2]} {
				if recs, err := e.db.Decisions("a", id, math.MinInt64, math.MaxInt64); err != nil || len(recs) != 0 {
					t.Fatalf("refused batch stored %d decisions of %s (%v)", len(recs), id, err)
				}
			}
		})
	}
	var dr DecisionsResponse
	if c := e.do("POST", "/v1/decisions", "a", DecisionsRequest{AccountIDs: ids}, &dr); c != 200 || len(dr.Decisions) != n {
		t.Fatalf("batch: %d %d", c, len(dr.Decisions))
	}
	for i, d := range dr.Decisions {
		if d.AccountID != ids[i] {
			t.Fatalf("row %d is %s, want %s", i, d.AccountID, ids[i])
		}
		if i%97 == 0 {
			if r, err := e.db.Decision("a", d.DecisionID); err != nil || r.AccountID != ids[i] {
				t.Fatalf("audit of row %d: %v", i, err)
			}
		}
	}
}
