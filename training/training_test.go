package training

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"testing"
	"time"

	"github.com/engagehq/engage/datasets"
	"github.com/engagehq/engage/features"
	"github.com/engagehq/engage/models/action"
	"github.com/engagehq/engage/models/registry"
)

func TestEndToEnd(t *testing.T) {
	for _, family := range []string{"gbdt", "logistic"} {
		t.Run(family, func(t *testing.T) {
			dir := t.TempDir()
			tab := genTable(4000, 1)
			path := writeTable(t, dir, tab, map[string]string{MetaPriors: `{"version":1}`})
			reg, err := action.Open(dir + "/reg")
			if err != nil {
				t.Fatal(err)
			}
			o := fastOptions("engaged")
			o.Family = family
			rep, err := Run(context.Background(), path, reg, o)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Version.Name != "v0001" || rep.Dropped != 4000/50 {
				t.Fatalf("version %s, dropped %d", rep.Version.Name, rep.Dropped)
			}
			if auc := rep.Metrics["auc"]; !(auc > 0.7) {
				t.Errorf("test AUC %v, want > 0.7 on a learnable table", auc)
			}
			if rep.Segment != "region" || len(rep.Segments) != 3 {
				t.Errorf("segments %q %v", rep.Segment, rep.Segments)
			}
			if string(rep.Artifact.Priors) != `{"version":1}` {
				t.Errorf("priors not copied: %s", rep.Artifact.Priors)
			}
			// split is by time and the test rows come last
			if rep.Split.By != "time:decided_at" || rep.Split.TestFrom <= rep.Split.ValidFrom {
				t.Errorf("split %+v", rep.Split.By)
			}
			mem, err := action.FromArtifact(rep.Artifact)
			if err != nil {
				t.Fatal(err)
			}
			began := time.Now()
			loaded, err := action.Load(reg, "")
			if err != nil {
				t.Fatal(err)
			}
			if el := time.Since(began); el > 100*time.Millisecond {
				t.Errorf("load took %s, want < 100 ms", el)
			}
			enc, err := NewEncoder(loaded.Features, tab.Columns)
			if err != nil {
				t.Fatal(err)
			}
			X, err := enc.Matrix(tab, nil)
			if err != nil {
				t.Fatal(err)
			}
			want, err := mem.PredictBatch(X)
			if err != nil {
				t.Fatal(err)
			}
			got, err := loaded.PredictBatch(X)
			if err != nil {
				t.Fatal(err)
			}
			for i := range want {
				if math.Float64bits(want[i]) != math.Float64bits(got[i]) {
					t.Fatalf("row %d: loaded model predicts %v, in-memory %v", i, got[i], want[i])
				}
			}
			// batch prediction: same rows, same order, same scores.
			out := dir + "/P.parquet"
			n, err := Predict(context.Background(), loaded, path, out, PredictOptions{Batch: 1000})
			if err != nil || n != int64(tab.Len()) {
				t.Fatalf("predict: %d rows, %v", n, err)
			}
			P, err := datasets.ReadLogged(out)
			if err != nil {
				t.Fatal(err)
			}
			sc := P.Index("score")
			if sc < 0 || P.Columns[sc].Role != datasets.RoleOutcome || P.Len() != tab.Len() {
				t.Fatalf("output columns %v, %d rows", P.Columns, P.Len())
			}
			id := P.Index("decision_id")
			for i := range want {
				if P.Strings[id][i] != tab.Strings[0][i] || P.Floats[sc][i] != want[i] {
					t.Fatalf("output row %d: id %s score %v, want %s %v", i, P.Strings[id][i], P.Floats[sc][i], tab.Strings[0][i], want[i])
				}
			}
			card, err := reg.Card("v0001")
			if err != nil || !bytes.Contains([]byte(card.Markdown()), []byte("Calibration")) {
				t.Errorf("card lacks the calibration table: %v", err)
			}
		})
	}
}

func TestDeterministicBySeed(t *testing.T) {
	tab := genTable(3000, 2)
	o := fastOptions("engaged")
	o.TestFraction, o.ValidFraction = 0.2, 0.2
	var first []byte
	for i := 0; i < 2; i++ {
		rep, err := Fit(context.Background(), tab, nil, "sha256:test", o)
		if err != nil {
			t.Fatal(err)
		}
		h := []byte(registry.HashBytes(rep.Artifact.Payload))
		if i == 0 {
			first = h
		} else if !bytes.Equal(first, h) {
			t.Fatalf("two fits with seed %d differ: %s vs %s", o.Seed, first, h)
		}
	}
	// and a different seed with a random split gives a different model.
	noTime := dropColumn(tab, "decided_at")
	a, err := Fit(context.Background(), noTime, nil, "sha256:test", o)
	if err != nil {
		t.Fatal(err)
	}
	o.Seed = 2
	b, err := Fit(context.Background(), noTime, nil, "sha256:test", o)
	if err != nil {
		t.Fatal(err)
	}
	if a.Split.By != "random" || bytes.Equal(a.Artifact.Payload, b.Artifact.Payload) {
		t.Errorf("random split %q: seeds 1 and 2 gave the same model", a.Split.By)
	}
}

func dropColumn(t *datasets.Table, name string) *datasets.Table {
	k := t.Index(name)
	out := &datasets.Table{}
	for i := range t.Columns {
		if i == k {
			continue
		}
		out.Columns = append(out.Columns, t.Columns[i])
		out.Floats = append(out.Floats, t.Floats[i])
		out.Strings = append(out.Strings, t.Strings[i])
		out.Times = append(out.Times, t.Times[i])
	}
	return out
}

func TestBadInput(t *testing.T) {
	good := genTable(600, 3)
	constant := genTable(600, 3)
	for i := range constant.Floats[8] {
		constant.Floats[8][i] = 0
	}
	allNaN := genTable(600, 3)
	for i := range allNaN.Floats[8] {
		allNaN.Floats[8][i] = math.NaN()
	}
	inf := genTable(600, 3)
	inf.Floats[2][10] = math.Inf(1)
	nonBinary := genTable(600, 3)
	nonBinary.Floats[8][3] = 0.5
	cases := []struct {
		name   string
		tab    *datasets.Table
		target string
	}{
		{"empty table", datasets.NewTable(good.Columns, 0), "engaged"},
		{"nil table", nil, "engaged"},
		{"constant label", constant, "engaged"},
		{"target all NaN", allNaN, "engaged"},
		{"unknown target", good, "paid"},
		{"categorical target", good, "region"},
		{"infinite feature", inf, "engaged"},
		{"non-binary target", nonBinary, "engaged"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Fit(context.Background(), c.tab, nil, "sha256:x", fastOptions(c.target))
			if !errors.Is(err, ErrBadInput) {
				t.Fatalf("got %v, want a bad-input error", err)
			}
			t.Log(err)
		})
	}
	if _, err := Fit(context.Background(), good, nil, "h", Options{}); err == nil {
		t.Error("zero options accepted")
	}
}

func TestMissingFeatureAtPrediction(t *testing.T) {
	dir := t.TempDir()
	tab := genTable(2000, 4)
	rep, err := Fit(context.Background(), tab, nil, "sha256:x", fastOptions("engaged"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := action.FromArtifact(rep.Artifact)
	if err != nil {
		t.Fatal(err)
	}
	path := writeTable(t, dir, dropColumn(tab, "x2"), nil)
	out := dir + "/P.parquet"
	_, err = Predict(context.Background(), m, path, out, DefaultPredictOptions())
	if !errors.Is(err, ErrBadInput) || !bytes.Contains([]byte(err.Error()), []byte(`"x2"`)) {
		t.Fatalf("got %v, want a bad-input error naming x2", err)
	}
	if _, statErr := datasets.OpenLogged(out); statErr == nil {
		t.Error("a failed prediction left an output file")
	}
	// unseen categorical level and wrong row length: missing, and an error.
	tab.Strings[4][0] = "NZ"
	enc, err := NewEncoder(m.Features, tab.Columns)
	if err != nil {
		t.Fatal(err)
	}
	row := make([]float64, len(m.Features))
	if err := enc.Row(tab, 0, row); err != nil {
		t.Fatal(err)
	}
	for j, f := range m.Features {
		if f.Name == "region" && !math.IsNaN(row[j]) {
			t.Errorf("unseen level coded %v, want NaN", row[j])
		}
	}
	if p, err := m.Predict(row); err != nil || math.IsNaN(p) {
		t.Errorf("prediction with a missing level: %v, %v", p, err)
	}
	if _, err := m.Predict(row[:2]); err == nil {
		t.Error("short row accepted")
	}
}

func TestCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	o := fastOptions("engaged")
	_, err := Fit(ctx, genTable(2000, 5), nil, "h", o)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}

// TestCalibration checks the ECE <= 0.02 target on a well-specified table
// large enough for the test split's bins to be measured precisely.
func TestCalibration(t *testing.T) {
	tab := genTable(60000, 6)
	for _, family := range []string{"logistic", "gbdt"} {
		o := fastOptions("engaged")
		o.Family = family
		o.GBDT.MaxIter = 200
		rep, err := Fit(context.Background(), tab, nil, "h", o)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: ECE %.4f (raw %.4f), AUC %.4f, fit %s", family, rep.Metrics["ece"], rep.Metrics["ece_raw"], rep.Metrics["auc"], rep.FitTime)
		if ece := rep.Metrics["ece"]; ece > 0.02 {
			t.Errorf("%s: test ECE %.4f > 0.02", family, ece)
		}
	}
}

func TestUplift(t *testing.T) {
	tab := genTable(8000, 8)
	o := fastOptions("engaged")
	o.Exclude = nil
	o.Treatment, o.Control = "treated", "control"
	o.Family = "logistic"
	rep, err := Fit(context.Background(), tab, nil, "h", o)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Artifact.Family != action.FamilyUplift {
		t.Fatalf("family %s", rep.Artifact.Family)
	}
	q := rep.Metrics["qini"]
	t.Logf("qini %.4f auuc %.4f", q, rep.Metrics["auuc"])
	if !(q > 0) {
		t.Errorf("qini %v: the treatment effect is real (x2 > 0), want > 0", q)
	}
	m, err := action.FromArtifact(rep.Artifact)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range m.Features {
		if f.Name == "treated" {
			t.Error("the treatment column is a feature of its own uplift model")
		}
	}
	o.Control = "nobody"
	if _, err := Fit(context.Background(), tab, nil, "h", o); !errors.Is(err, ErrBadInput) {
		t.Errorf("unknown control level: %v", err)
	}
}

func BenchmarkLoad(b *testing.B) {
	dir := b.TempDir()
	path := writeTable(b, dir, genTable(20000, 9), nil)
	reg, err := action.Open(dir + "/reg")
	if err != nil {
		b.Fatal(err)
	}
	o := fastOptions("engaged")
	o.GBDT.MaxIter = 300
	o.GBDT.EarlyStoppingRounds = 0
	if _, err := Run(context.Background(), path, reg, o); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := action.Load(reg, "v0001"); err != nil {
			b.Fatal(err)
		}
	}
}

var _ = io.EOF

// TestContextOnly checks that a context-only fit never sees an action part
// or an action-dependent feature (they would carry an uplift model's arm),
// while every other context column stays.
func TestContextOnly(t *testing.T) {
	cols := features.Columns()
	tb := &datasets.Table{Columns: cols, Floats: make([][]float64, len(cols)), Strings: make([][]string, len(cols))}
	for i, c := range cols {
		switch c.Kind {
		case datasets.KindCategorical:
			tb.Strings[i] = []string{"a", "b"}
		default:
			tb.Floats[i] = []float64{0, 1}
		}
	}
	for _, tc := range []struct {
		contextOnly bool
		wantAction  bool
	}{{false, true}, {true, false}} {
		o := DefaultOptions()
		o.Target, o.Treatment, o.Control, o.ContextOnly = "paid_7d", "channel", "email", tc.contextOnly
		feats, _, err := selectFeatures(tb, &o)
		if err != nil {
			t.Fatal(err)
		}
		names := map[string]bool{}
		for _, f := range feats {
			names[f.Name] = true
		}
		for _, n := range append([]string{"message", "local_hour"}, features.ActionNames()...) {
			if names[n] != tc.wantAction {
				t.Errorf("context-only %v: feature %q used = %v", tc.contextOnly, n, names[n])
			}
		}
		for _, n := range []string{"balance", "days_past_due", "call_sent"} {
			if !names[n] {
				t.Errorf("context-only %v: context feature %q missing", tc.contextOnly, n)
			}
		}
		if names["channel"] {
			t.Errorf("context-only %v: the treatment column is a feature", tc.contextOnly)
		}
	}
}
