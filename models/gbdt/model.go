package gbdt

import (
	"fmt"
	"math"
	"slices"

	"github.com/engagehq/engage/models"
)

// Model is a fitted ensemble. It is read-only after Fit or Load and safe for
// concurrent prediction.
type Model struct {
	features []models.Feature
	// base is the log-odds of the training positive rate, the margin before
	// any tree.
	base  float64
	trees []tree
	// flat is the trees' prediction layout, built by Fit and Load.
	flat flat
}

// Features returns the columns the model expects, in order, for checking a
// serving-time feature vector.
func (m *Model) Features() []models.Feature { return slices.Clone(m.features) }

// NumTrees is the number of boosting rounds kept (after early stopping).
func (m *Model) NumTrees() int { return len(m.trees) }

// PredictMargin returns the log-odds for one row in the model's feature order.
// The row must have one value per feature; NaN means missing. It walks the
// flat node layout without allocating; leaf outputs are added exactly (in
// fixed point, see the package doc), so Bound.Margin reproduces it bit for
// bit.
func (m *Model) PredictMargin(row []float64) (float64, error) {
	if len(row) != len(m.features) {
		return math.NaN(), fmt.Errorf("gbdt predict: row has %d values, model expects %d features", len(row), len(m.features))
	}
	return m.margin(row), nil
}

func (m *Model) margin(row []float64) float64 {
	return m.base + float64(m.flat.sum(row))*m.flat.unit
}

// PredictProba returns the probability of the positive class for one row.
func (m *Model) PredictProba(row []float64) (float64, error) {
	f, err := m.PredictMargin(row)
	if err != nil {
		return math.NaN(), err
	}
	return sigmoid(f), nil
}

// PredictBatch returns the positive-class probability of every row of X after
// checking that X has the columns the model was trained on.
func (m *Model) PredictBatch(X *models.Matrix) ([]float64, error) {
	out, err := m.PredictMarginBatch(X)
	for i, f := range out {
		out[i] = sigmoid(f)
	}
	return out, err
}

// PredictMarginBatch returns the log-odds of every row of X after checking
// that X has the columns the model was trained on.
func (m *Model) PredictMarginBatch(X *models.Matrix) ([]float64, error) {
	if X == nil {
		return nil, fmt.Errorf("gbdt predict: nil matrix")
	}
	if err := models.CheckSchema(m.features, X.Features); err != nil {
		return nil, fmt.Errorf("gbdt predict: %w", err)
	}
	if X.Cols != len(X.Features) || len(X.Data) != X.Rows*X.Cols {
		return nil, fmt.Errorf("gbdt predict: matrix shape %d x %d does not match its %d values", X.Rows, X.Cols, len(X.Data))
	}
	out := make([]float64, X.Rows)
	for i := range out {
		out[i] = m.margin(X.Row(i))
	}
	return out, nil
}

// Importance is one feature's share in the model: the total loss reduction of
// its splits (gain) and how many splits use it.
type Importance struct {
	Feature string
	Gain    float64
	Splits  int
}

// Importance returns every feature's gain and split count, in feature order.
func (m *Model) Importance() []Importance {
	out := make([]Importance, len(m.features))
	for j, f := range m.features {
		out[j].Feature = f.Name
	}
	for _, t := range m.trees {
		for _, n := range t.Nodes {
			if n.Feature >= 0 {
				out[n.Feature].Gain += n.Gain
				out[n.Feature].Splits++
			}
		}
	}
	return out
}
