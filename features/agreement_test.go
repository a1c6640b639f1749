package features

import (
	"context"
	"math"
	"path/filepath"
	"slices"
	"testing"

	"github.com/engagehq/engage/datasets"
)

// close9 reports whether a and b agree to 1e-9 (relative for large values);
// NaN (missing) agrees only with NaN.
func close9(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return math.Abs(a-b) <= 1e-9*max(1, math.Abs(a), math.Abs(b))
}

// TestAgreement replays the synthetic world's events through the online driver,
// encoding and decoding the state between every two events as the store does,
// and compares every feature of every row with the batch driver's X.parquet.
func TestAgreement(t *testing.T) {
	w := smallWorld(t)
	out := filepath.Join(t.TempDir(), "x.parquet")
	sum, err := Build(context.Background(), w.inputs(), out, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if sum.Decisions != int64(len(w.decisions)) {
		t.Fatalf("rows %d, want one per decision (%d)", sum.Decisions, len(w.decisions))
	}
	r, err := datasets.OpenLogged(out)
	if err != nil {
		t.Fatal(err)
	}
	meta := r.Meta()
	r.Close()
	p, err := ParsePriors([]byte(meta[MetaPriors]))
	if err != nil {
		t.Fatalf("priors from X.parquet metadata: %v", err)
	}
	tab, err := datasets.ReadLogged(out)
	if err != nil {
		t.Fatal(err)
	}
	idCol := tab.Index("decision_id")
	byID := make(map[string]int, tab.Len())
	for i, id := range tab.Strings[idCol] {
		byID[id] = i
	}
	numCols := make([]int, 0, len(numericNames)+numAction)
	for _, n := range append(slices.Clone(numericNames), actionNames...) {
		c := tab.Index(n)
		if c < 0 {
			t.Fatalf("X.parquet lacks column %s", n)
		}
		numCols = append(numCols, c)
	}
	catCols := make([]int, len(CategoricalNames))
	for i, n := range CategoricalNames {
		catCols[i] = tab.Index(n)
	}

	evByAcct := map[string][]datasets.Event{}
	for _, e := range w.events {
		evByAcct[e.AccountID] = append(evByAcct[e.AccountID], e)
	}
	decByAcct := map[string][]datasets.Decision{}
	for _, d := range w.decisions {
		decByAcct[d.AccountID] = append(decByAcct[d.AccountID], d)
	}
	compared, bad := 0, 0
	var maxBytes int
	for i := range w.accounts {
		acct, err := NewAccount(&w.accounts[i])
		if err != nil {
			t.Fatal(err)
		}
		evs := evByAcct[acct.Row.ID]
		decs := decByAcct[acct.Row.ID]
		slices.SortStableFunc(decs, func(x, y datasets.Decision) int { return int(x.At - y.At) })
		var stored []byte // the store's value: nil for a new account
		k := 0
		for _, d := range decs {
			for k < len(evs) && evs[k].At < d.At {
				if stored, err = Update(stored, acct, evs[k:k+1]); err != nil {
					t.Fatal(err)
				}
				maxBytes = max(maxBytes, len(stored))
				k++
			}
			st := NewState()
			if stored != nil {
				if err := st.UnmarshalBinary(stored); err != nil {
					t.Fatal(err)
				}
			}
			v := st.ReadVector(d.At, acct, p)
			send := max(d.SendAt, d.At)
			online := st.Candidates(acct, p).Values(d.Channel, send, d.Message, v.Numeric)
			if slot := st.SlotAffinity(send, acct, p); slot != online[len(numericNames)] {
				t.Fatalf("decision %s: SlotAffinity %v, Candidates %v", d.DecisionID, slot, online[len(numericNames)])
			}
			row, ok := byID[d.DecisionID]
			if !ok {
				t.Fatalf("decision %s missing from X.parquet", d.DecisionID)
			}
			for j, c := range numCols {
				if got := tab.Floats[c][row]; !close9(got, online[j]) {
					bad++
					if bad < 10 {
						t.Errorf("decision %s %s: batch %v, online %v", d.DecisionID, tab.Columns[c].Name, got, online[j])
					}
				}
			}
			for j, c := range catCols {
				if got := tab.Strings[c][row]; got != v.Categorical[j] {
					t.Errorf("decision %s %s: batch %q, online %q", d.DecisionID, tab.Columns[c].Name, got, v.Categorical[j])
				}
			}
			compared++
		}
	}
	if compared != len(w.decisions) || compared == 0 {
		t.Fatalf("compared %d rows of %d", compared, len(w.decisions))
	}
	t.Logf("compared %d rows x %d features; largest encoded state %d bytes", compared, len(numCols)+len(catCols), maxBytes)
}

// TestReplayMatchesBuild checks the in-memory driver against the file driver,
// outcomes included.
func TestReplayMatchesBuild(t *testing.T) {
	w := smallWorld(t)
	out := filepath.Join(t.TempDir(), "x.parquet")
	if _, err := Build(context.Background(), w.inputs(), out, DefaultOptions()); err != nil {
		t.Fatal(err)
	}
	tab, err := datasets.ReadLogged(out)
	if err != nil {
		t.Fatal(err)
	}
	rows, _, err := Replay(w.accounts, w.events, w.decisions, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != tab.Len() {
		t.Fatalf("replay %d rows, build %d", len(rows), tab.Len())
	}
	idCol := tab.Index("decision_id")
	byID := map[string]int{}
	for i, id := range tab.Strings[idCol] {
		byID[id] = i
	}
	positives := make([]int, numOutcomes)
	for _, r := range rows {
		i := byID[r.Decision.DecisionID]
		for j, n := range OutcomeNames {
			got := tab.Floats[tab.Index(n)][i]
			if !close9(got, r.Outcomes[j]) {
				t.Fatalf("decision %s %s: build %v, replay %v", r.Decision.DecisionID, n, got, r.Outcomes[j])
			}
			if got > 0 {
				positives[j]++
			}
		}
		for j, n := range numericNames {
			if got := tab.Floats[tab.Index(n)][i]; !close9(got, r.Numeric[j]) {
				t.Fatalf("decision %s %s: build %v, replay %v", r.Decision.DecisionID, n, got, r.Numeric[j])
			}
		}
	}
	// The synthetic world has engagements and payments: an all-zero outcome
	// column would mean the outcome windows are broken.
	for j, n := range OutcomeNames[:3] {
		if positives[j] == 0 {
			t.Errorf("no positive %s in %d rows", n, len(rows))
		}
	}
}

// TestAggregate checks the Go side of the DuckDB comparison against a plain map
// over the same events.
func TestAggregate(t *testing.T) {
	w := smallWorld(t)
	type key struct{ acct, ch string }
	want := map[key]bool{}
	for _, e := range w.events {
		want[key{e.AccountID, e.Channel}] = true
	}
	got, err := Aggregate(context.Background(), w.inputs().Events)
	if err != nil {
		t.Fatal(err)
	}
	if got != int64(len(want)) {
		t.Fatalf("%d (account, channel) groups, want %d", got, len(want))
	}
}
