//go:build cgo

package baseline

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/engagehq/engage/models"
)

func data(n int, seed uint64) (*models.Matrix, []float64) {
	rng := rand.New(rand.NewPCG(seed, 1))
	X := models.NewMatrix(n, []models.Feature{
		{Name: "x", Kind: models.Numeric},
		{Name: "c", Kind: models.Categorical, Levels: []string{"a", "b", "c"}},
	})
	y := make([]float64, n)
	for i := 0; i < n; i++ {
		x, c := rng.Float64(), rng.IntN(3)
		X.Set(i, 0, x)
		X.Set(i, 1, float64(c))
		p := 0.2
		if x > 0.5 {
			p += 0.4
		}
		if c == 2 {
			p += 0.3
		}
		if rng.Float64() < p {
			y[i] = 1
		}
	}
	return X, y
}

func TestRandomForest(t *testing.T) {
	X, y := data(600, 1)
	T, yt := data(300, 2)
	o := DefaultOptions()
	o.Trees, o.Features, o.Folds = 10, 2, 2
	res, err := RandomForest(context.Background(), X, y, T, yt, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Scores) != T.Rows || res.TrainRows != X.Rows {
		t.Fatalf("%d scores, %d train rows", len(res.Scores), res.TrainRows)
	}
	var tot int
	for _, row := range res.Confusion {
		for _, c := range row {
			tot += c
		}
	}
	if tot != T.Rows {
		t.Errorf("confusion matrix counts %d rows, want %d", tot, T.Rows)
	}
	// Vote shares must rank positives above negatives better than chance.
	var pos, neg, above float64
	for i := range yt {
		for j := range yt {
			if yt[i] == 1 && yt[j] == 0 {
				switch {
				case res.Scores[i] > res.Scores[j]:
					above++
				case res.Scores[i] == res.Scores[j]:
					above += 0.5
				}
			}
		}
		if yt[i] == 1 {
			pos++
		} else {
			neg++
		}
	}
	t.Logf("accuracy %.3f confusion %v scores %v", res.Accuracy, res.Confusion, res.Scores[:10])
	if auc := above / (pos * neg); auc < 0.6 {
		t.Errorf("golearn forest AUC %.3f, want > 0.6", auc)
	}
	if res.CVAccuracy <= 0 {
		t.Errorf("no cross-validated accuracy")
	}

	if _, err := RandomForest(context.Background(), X, y[:5], T, yt, o); err == nil {
		t.Error("accepted mismatched labels")
	}
	bad := o
	bad.Features = 9
	if _, err := RandomForest(context.Background(), X, y, T, yt, bad); err == nil {
		t.Error("accepted more features than columns")
	}
}
