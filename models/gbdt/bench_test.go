package gbdt

import (
	"context"
	"math"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/engagehq/engage/models"
)

// benchData is 40k rows x 20 features: 16 numeric (some with missing values)
// and 4 categorical.
func benchData(n int) (*models.Matrix, []float64) {
	rng := rand.New(rand.NewPCG(1, 2))
	feats := make([]models.Feature, 20)
	for j := range feats {
		feats[j] = models.Feature{Name: "x" + string(rune('a'+j)), Kind: models.Numeric}
		if j >= 16 {
			feats[j].Kind = models.Categorical
			feats[j].Levels = make([]string, 12)
			for k := range feats[j].Levels {
				feats[j].Levels[k] = string(rune('A' + k))
			}
		}
	}
	X := models.NewMatrix(n, feats)
	y := make([]float64, n)
	for i := 0; i < n; i++ {
		var f float64
		for j := 0; j < 20; j++ {
			var v float64
			if j < 16 {
				v = rng.NormFloat64()
				if j < 8 {
					f += v * float64(j%3-1) * 0.5
				}
				if j%5 == 0 && rng.IntN(10) == 0 {
					v = math.NaN()
				}
			} else {
				c := rng.IntN(12)
				v = float64(c)
				f += float64(c%4-2) * 0.3
			}
			X.Set(i, j, v)
		}
		f += X.At(i, 1) * X.At(i, 2)
		if rng.Float64() < sigmoid(f-1.5) {
			y[i] = 1
		}
	}
	return X, y
}

func BenchmarkFit(b *testing.B) {
	X, y := benchData(40000)
	o := DefaultOptions()
	o.MaxIter, o.EarlyStoppingRounds = 100, 0
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Fit(context.Background(), X, y, nil, nil, o); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(X.Rows*o.MaxIter)*float64(b.N)/b.Elapsed().Seconds(), "row-rounds/s")
}

func BenchmarkPredict(b *testing.B) {
	X, y := benchData(40000)
	o := DefaultOptions()
	o.MaxIter, o.EarlyStoppingRounds = 100, 0
	m, err := Fit(context.Background(), X, y, nil, nil, o)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := m.PredictProba(X.Row(i % X.Rows)); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// actionData is a serving-like table: 96 context columns (numeric, some
// categorical, some missing) and 4 action columns at the end -- channel (5
// levels), local_hour (numeric), message (5 levels) and send_slot_affinity
// (numeric, depends on channel and hour) -- with effects that interact with
// the context.
func actionData(n int) (*models.Matrix, []float64) {
	const nctx = 96
	rng := rand.New(rand.NewPCG(7, 7))
	feats := make([]models.Feature, nctx+4)
	five := []string{"a", "b", "c", "d", "e"}
	for j := range nctx {
		feats[j] = models.Feature{Name: "ctx" + string(rune('A'+j/26)) + string(rune('a'+j%26)), Kind: models.Numeric}
		if j%8 == 7 {
			feats[j].Kind, feats[j].Levels = models.Categorical, []string{"p", "q", "r", "s", "t", "u", "v", "w", "x", "y"}
		}
	}
	feats[nctx] = models.Feature{Name: "channel", Kind: models.Categorical, Levels: five}
	feats[nctx+1] = models.Feature{Name: "local_hour", Kind: models.Numeric}
	feats[nctx+2] = models.Feature{Name: "message", Kind: models.Categorical, Levels: five}
	feats[nctx+3] = models.Feature{Name: "send_slot_affinity", Kind: models.Numeric}
	X := models.NewMatrix(n, feats)
	y := make([]float64, n)
	for i := range n {
		row := X.Row(i)
		for j := range nctx {
			if feats[j].Kind == models.Categorical {
				row[j] = float64(rng.IntN(10))
			} else {
				row[j] = rng.NormFloat64()
				if j%11 == 0 && rng.IntN(8) == 0 {
					row[j] = math.NaN()
				}
			}
		}
		ch, hr, msg := rng.IntN(5), 8+rng.IntN(13), rng.IntN(5)
		aff := actionAffinity(ch, hr, row[0])
		row[nctx], row[nctx+1], row[nctx+2], row[nctx+3] = float64(ch), float64(hr), float64(msg), aff
		f := 0.6*row[0] - 0.4*row[1] + 0.3*row[2]*row[3] + 0.2*row[7] - 1.5
		f += []float64{0, 0.4, -0.3, 0.2, -0.6}[ch] * (1 + row[4])
		f += 0.8*aff - 0.05*math.Abs(float64(hr)-13+2*row[5])
		f += []float64{0.1, -0.2, 0.3, 0, -0.1}[msg] * row[6]
		if rng.Float64() < sigmoid(f) {
			y[i] = 1
		}
	}
	return X, y
}

func actionAffinity(ch, hr int, ctx float64) float64 {
	return math.Sin(float64(hr)/3+float64(ch)) * (0.5 + 0.2*ctx)
}

// actionBench fits the ~150-tree, 100-feature action model once per process.
var actionBench = sync.OnceValues(func() (*Model, *models.Matrix) {
	X, y := actionData(20000)
	o := DefaultOptions()
	o.MaxIter, o.EarlyStoppingRounds, o.LearningRate = 150, 0, 0.1
	m, err := Fit(context.Background(), X, y, nil, nil, o)
	if err != nil {
		panic(err)
	}
	return m, X
})

// candidates fills the 325 actions (5 channels x 13 hours x 5 messages) of
// one account as rows of (channel, hour, message, affinity).
func candidates(ctx float64) []float64 {
	var out []float64
	for ch := range 5 {
		for hr := 8; hr <= 20; hr++ {
			for msg := range 5 {
				out = append(out, float64(ch), float64(hr), float64(msg), actionAffinity(ch, hr, ctx))
			}
		}
	}
	return out
}

var actionCols = []int{96, 97, 98, 99}

// BenchmarkRankFull scores the 325 candidates of one account with
// PredictMargin on full rows.
func BenchmarkRankFull(b *testing.B) {
	m, X := actionBench()
	row := append([]float64(nil), X.Row(0)...)
	cands := candidates(row[0])
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		copy(row, X.Row(i%X.Rows))
		for c := 0; c < len(cands); c += 4 {
			copy(row[96:], cands[c:c+4])
			if _, err := m.PredictMargin(row); err != nil {
				b.Fatal(err)
			}
		}
		i++
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1e3, "µs/ranking")
}

// BenchmarkBind is the per-account cost of Bound.Reset (Bind without
// allocating).
func BenchmarkBind(b *testing.B) {
	m, X := actionBench()
	bd, err := m.Bind(X.Row(0), actionCols)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	i, trees, nodes := 0, 0, 0
	for b.Loop() {
		if err := bd.Reset(X.Row(i % X.Rows)); err != nil {
			b.Fatal(err)
		}
		t, n := bd.Residual()
		trees, nodes = trees+t, nodes+n
		i++
	}
	b.ReportMetric(float64(trees)/float64(b.N), "residual-trees")
	b.ReportMetric(float64(nodes)/float64(b.N), "residual-nodes")
}

// BenchmarkRankBound is the whole ranking with partial evaluation: Reset to
// the account, then 325 candidate margins.
func BenchmarkRankBound(b *testing.B) {
	m, X := actionBench()
	bd, err := m.Bind(X.Row(0), actionCols)
	if err != nil {
		b.Fatal(err)
	}
	cands := candidates(X.At(0, 0))
	out := make([]float64, len(cands)/4)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := bd.Reset(X.Row(i % X.Rows)); err != nil {
			b.Fatal(err)
		}
		if err := bd.Margins(cands, out); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1e3, "µs/ranking")
}
