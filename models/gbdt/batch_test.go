package gbdt

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/engagehq/engage/cputime"
	"github.com/engagehq/engage/models"
)

// TestEvaluatorMatchesPredictMargin: Evaluator.Margins gives PredictMargin's
// margin bit for bit on random models and rows (missing values, codes out of
// range and fractional codes, thresholds hit exactly), for several batch
// sizes, and on blocks of rows that share most of their values.
func TestEvaluatorMatchesPredictMargin(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 8))
	for trial := range 40 {
		feats := randomFeatures(rng, 1+rng.IntN(12))
		m := randomModel(rng, feats, 1+rng.IntN(30), 1+rng.IntN(9))
		e := m.Evaluator()
		n := []int{1, 7, 8, 9, 50}[trial%5]
		rows := make([]float64, n*len(feats))
		for i := range rows {
			rows[i] = randomValue(rng, feats[i%len(feats)])
		}
		checkMargins(t, m, e, feats, rows, fmt.Sprintf("trial %d", trial))
	}
	// Grouped rows, as an account's candidates: a shared context, groups
	// that differ in a few columns (missing values included), groups longer
	// than a block, single rows, duplicates.
	for trial := range 60 {
		feats := randomFeatures(rng, 2+rng.IntN(80))
		m := randomModel(rng, feats, 1+rng.IntN(30), 1+rng.IntN(9))
		e := m.Evaluator()
		base := make([]float64, len(feats))
		for j, f := range feats {
			base[j] = randomValue(rng, f)
		}
		var rows []float64
		for range 1 + rng.IntN(6) {
			cols := rng.Perm(len(feats))[:1+rng.IntN(min(3, len(feats)))]
			group := append([]float64(nil), base...)
			for _, j := range cols[1:] {
				group[j] = randomValue(rng, feats[j])
			}
			for range []int{1, 5, 64, 70, 3}[rng.IntN(5)] {
				row := append([]float64(nil), group...)
				if rng.IntN(8) > 0 {
					row[cols[0]] = randomValue(rng, feats[cols[0]])
				}
				rows = append(rows, row...)
			}
		}
		checkMargins(t, m, e, feats, rows, fmt.Sprintf("grouped trial %d", trial))
	}
	m := randomModel(rng, randomFeatures(rng, 3), 2, 2)
	if err := m.Evaluator().Margins(make([]float64, 5), make([]float64, 2)); err == nil {
		t.Fatal("5 values for 2 rows of 3 features accepted")
	}
	if err := m.Evaluator().Margins(nil, nil); err != nil {
		t.Fatalf("no rows: %v", err)
	}
}

// TestEvaluatorValueTables: a chunk's columns that take a few values are
// routed value by value (sorted tables, NaN apart) and the others row by row;
// each way must give PredictMargin's margin bit for bit, on values that
// stress the tables: thresholds and their neighbours one ulp away (a distinct
// value whose bits differ by one), -0 and +0, NaNs with different payloads,
// infinities, fractional and out-of-range categorical codes, columns with
// exactly maxDistinct values and one more, and rows repeating the previous
// row's value or not.
func TestEvaluatorValueTables(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 13))
	nan2 := math.Float64frombits(math.Float64bits(math.NaN()) ^ 1)
	for trial := range 300 {
		feats := randomFeatures(rng, 1+rng.IntN(8))
		m := randomModel(rng, feats, 1+rng.IntN(25), 1+rng.IntN(7))
		e := m.Evaluator()
		// Per column a pool of values; a chunk draws each row's value from
		// its column's pool (sizes around maxDistinct).
		pools := make([][]float64, len(feats))
		for j, f := range feats {
			size := []int{1, 2, 5, maxDistinct, maxDistinct + 1, 40}[rng.IntN(6)]
			for range size {
				var v float64
				switch rng.IntN(9) {
				case 0:
					v = math.Round(rng.NormFloat64()*4) / 4 // a threshold
				case 1:
					v = math.Nextafter(math.Round(rng.NormFloat64()*4)/4, math.Inf(1))
				case 2:
					v = math.Nextafter(math.Round(rng.NormFloat64()*4)/4, math.Inf(-1))
				case 3:
					v = []float64{math.Copysign(0, -1), 0, math.NaN(), nan2, math.Inf(1), math.Inf(-1)}[rng.IntN(6)]
				case 4:
					v = []float64{-1, 63, 63.5, 64, 64.5, 1e300, -0.5}[rng.IntN(7)]
				default:
					v = randomValue(rng, f)
				}
				pools[j] = append(pools[j], v)
			}
		}
		n := []int{2, 3, 17, 50, 64, 65, 130}[trial%7]
		rows := make([]float64, n*len(feats))
		for i := range n {
			for j := range feats {
				switch {
				case i > 0 && rng.IntN(3) == 0: // repeat the previous row's value
					rows[i*len(feats)+j] = rows[(i-1)*len(feats)+j]
				default:
					rows[i*len(feats)+j] = pools[j][rng.IntN(len(pools[j]))]
				}
			}
		}
		checkMargins(t, m, e, feats, rows, fmt.Sprintf("trial %d", trial))
	}
}

// TestEvaluatorFitted checks a fitted model (categorical and numeric splits
// as Fit lays them out) on its own training rows.
func TestEvaluatorFitted(t *testing.T) {
	m, X := actionBench()
	n := 200
	rows := append([]float64(nil), X.Data[:n*len(X.Features)]...)
	got := make([]float64, n)
	if err := m.Evaluator().Margins(rows, got); err != nil {
		t.Fatal(err)
	}
	for i := range got {
		want, _ := m.PredictMargin(X.Row(i))
		if math.Float64bits(got[i]) != math.Float64bits(want) {
			t.Fatalf("row %d: evaluator %v, PredictMargin %v", i, got[i], want)
		}
	}
}

// BenchmarkRankEvaluator scores the 325 candidates of one account as full
// rows with Evaluator.Margins (compare BenchmarkRankFull and
// BenchmarkRankBound).
func BenchmarkRankEvaluator(b *testing.B) {
	m, X := actionBench()
	e := m.Evaluator()
	cands := candidates(X.At(0, 0))
	nf := len(X.Features)
	rows := make([]float64, len(cands)/4*nf)
	out := make([]float64, len(cands)/4)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		for c := range out {
			r := rows[c*nf : (c+1)*nf]
			copy(r, X.Row(i%X.Rows))
			copy(r[96:], cands[c*4:c*4+4])
		}
		if err := e.Margins(rows, out); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1e3, "µs/ranking")
}

// worldRows fits a small serving-shaped model (channel, local hour, message,
// an engagement rate, the slot affinity, the jurisdiction; 21 trees of 31
// leaves, as serving's benchmarks) and lays out one account's 50 candidates:
// 5 channels x 2 slots x 5 messages.
func worldRows(tb testing.TB) (*Model, []float64) {
	tb.Helper()
	five := []string{"a", "b", "c", "d", "e"}
	feats := []models.Feature{
		{Name: "channel", Kind: models.Categorical, Levels: five},
		{Name: "local_hour", Kind: models.Numeric},
		{Name: "message", Kind: models.Categorical, Levels: five},
		{Name: "rate", Kind: models.Numeric},
		{Name: "affinity", Kind: models.Numeric},
		{Name: "jurisdiction", Kind: models.Categorical, Levels: []string{"p", "q", "r", "s"}},
	}
	rng := rand.New(rand.NewPCG(1, 7))
	X := models.NewMatrix(2000, feats)
	y := make([]float64, X.Rows)
	for i := range y {
		r := X.Row(i)
		r[0], r[1], r[2] = float64(rng.IntN(5)), float64(8+rng.IntN(13)), float64(rng.IntN(5))
		r[3], r[4], r[5] = rng.Float64(), rng.Float64()*2, float64(rng.IntN(4))
		p := 0.05 + 0.2*indicator(r[0] == 0) + 0.1*indicator(r[1] >= 17) + 0.1*indicator(r[2] == 2)
		if rng.Float64() < p {
			y[i] = 1
		}
	}
	o := DefaultOptions()
	o.MaxIter, o.EarlyStoppingRounds = 21, 0
	m, err := Fit(context.Background(), X, y, nil, nil, o)
	if err != nil {
		tb.Fatal(err)
	}
	var rows []float64
	for ch := range 5 {
		for slot := range 2 {
			for msg := range 5 {
				rows = append(rows, float64(ch), float64(9+7*slot), float64(msg), 0.3, 0.5+float64(slot), 2)
			}
		}
	}
	return m, rows
}

func indicator(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// BenchmarkCandidates scores one account's 50 candidates on the small
// serving-shaped model: row by row with PredictMargin, and in one call to
// Evaluator.Margins.
func BenchmarkCandidates(b *testing.B) {
	m, rows := worldRows(b)
	nf := len(m.features)
	out := make([]float64, len(rows)/nf)
	cpu := func(b *testing.B) func() {
		start := cputime.Process()
		return func() {
			if c := cputime.Process() - start; c > 0 {
				b.ReportMetric(float64(c.Nanoseconds())/float64(b.N), "cpu-ns/op")
			}
		}
	}
	b.Run("predict", func(b *testing.B) {
		b.ReportAllocs()
		defer cpu(b)()
		for b.Loop() {
			for i := range out {
				out[i], _ = m.PredictMargin(rows[i*nf : (i+1)*nf])
			}
		}
	})
	b.Run("evaluator", func(b *testing.B) {
		e := m.Evaluator()
		b.ReportAllocs()
		defer cpu(b)()
		for b.Loop() {
			if err := e.Margins(rows, out); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestMarginsVarying: MarginsVarying on rows whose columns outside varying
// hold garbage after the first row gives PredictMargin's margin of each row
// completed with the first row's values there, bit for bit, for batch sizes
// across the 64-row chunks (a lone last row included).
func TestMarginsVarying(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	for trial := range 120 {
		feats := randomFeatures(rng, 2+rng.IntN(60))
		m := randomModel(rng, feats, 1+rng.IntN(30), 1+rng.IntN(9))
		e := m.Evaluator()
		nf := len(feats)
		varying := rng.Perm(nf)[:rng.IntN(min(5, nf)+1)]
		n := []int{1, 2, 7, 50, 64, 65, 129}[trial%7]
		rows := make([]float64, n*nf)
		for i := range rows {
			rows[i] = randomValue(rng, feats[i%nf])
		}
		got := make([]float64, n)
		if err := e.MarginsVarying(rows, got, varying); err != nil {
			t.Fatal(err)
		}
		full := make([]float64, nf)
		for i := range got {
			copy(full, rows[:nf])
			for _, c := range varying {
				full[c] = rows[i*nf+c]
			}
			want, err := m.PredictMargin(full)
			if err != nil {
				t.Fatal(err)
			}
			if math.Float64bits(got[i]) != math.Float64bits(want) {
				t.Fatalf("trial %d row %d of %d (varying %v): evaluator %v, PredictMargin %v", trial, i, n, varying, got[i], want)
			}
		}
	}
	e := randomModel(rng, randomFeatures(rng, 3), 2, 2).Evaluator()
	if err := e.MarginsVarying(make([]float64, 6), make([]float64, 2), []int{3}); err == nil {
		t.Error("a varying column outside the row was accepted")
	}
}

// checkMargins fails the test unless the evaluator's margins of rows (one
// after another, len(feats) values each) equal PredictMargin's bit for bit.
func checkMargins(t *testing.T, m *Model, e *Evaluator, feats []models.Feature, rows []float64, what string) {
	t.Helper()
	nf := len(feats)
	got := make([]float64, len(rows)/nf)
	if err := e.Margins(rows, got); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	for i := range got {
		row := rows[i*nf : (i+1)*nf]
		want, err := m.PredictMargin(row)
		if err != nil {
			t.Fatalf("%s row %d: %v", what, i, err)
		}
		if math.Float64bits(got[i]) != math.Float64bits(want) {
			t.Fatalf("%s row %d of %d: evaluator %v, PredictMargin %v (row %v)", what, i, len(got), got[i], want, row)
		}
	}
}
