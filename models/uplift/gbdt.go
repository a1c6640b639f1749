package uplift

import (
	"context"
	"encoding/json"
	"math/rand/v2"

	"github.com/engagehq/engage/models"
	"github.com/engagehq/engage/models/gbdt"
)

// GBDTClassifier fits gradient-boosted trees (gbdt.Fit) on 0/1 labels. When
// Options.EarlyStoppingRounds > 0 it holds out ValidFraction of the rows (a
// seeded random choice) as gbdt's early-stopping set.
type GBDTClassifier struct {
	Options       gbdt.Options
	ValidFraction float64 // 0 means 0.2
}

// Fit implements Learner.
func (g GBDTClassifier) Fit(ctx context.Context, X *models.Matrix, y []float64) (Predictor, error) {
	o := g.Options
	if o.EarlyStoppingRounds <= 0 {
		m, err := gbdt.Fit(ctx, X, y, nil, nil, o)
		if err != nil {
			return nil, err
		}
		return GBDTPredictor{m}, nil
	}
	frac := g.ValidFraction
	if frac <= 0 || frac >= 1 {
		frac = 0.2
	}
	perm := rand.New(rand.NewPCG(o.Seed, 0x9e3779b97f4a7c15)).Perm(X.Rows)
	nv := int(float64(X.Rows) * frac)
	tr, va := subset(X, perm[nv:]), subset(X, perm[:nv])
	ytr, yva := pick(y, perm[nv:]), pick(y, perm[:nv])
	m, err := gbdt.Fit(ctx, tr, ytr, va, yva, o)
	if err != nil {
		return nil, err
	}
	return GBDTPredictor{m}, nil
}

// GBDTPredictor adapts a gbdt.Model to Predictor.
type GBDTPredictor struct{ Model *gbdt.Model }

// Predict implements Predictor.
func (p GBDTPredictor) Predict(row []float64) (float64, error) { return p.Model.PredictProba(row) }

// Family implements Predictor.
func (GBDTPredictor) Family() string { return "gbdt" }

// MarshalJSON implements Predictor.
func (p GBDTPredictor) MarshalJSON() ([]byte, error) { return json.Marshal(p.Model) }

func decodeGBDT(b []byte) (Predictor, error) {
	m := new(gbdt.Model)
	if err := m.UnmarshalJSON(b); err != nil {
		return nil, err
	}
	return GBDTPredictor{m}, nil
}
