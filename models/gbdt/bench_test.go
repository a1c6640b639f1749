package gbdt

import (
	"context"
	"math"
	"math/rand/v2"
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
