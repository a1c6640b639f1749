package uplift

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/engagehq/engage/models"
	"github.com/engagehq/engage/models/linear"
)

// Predictor scores one row; a fitted base model. It must be able to save itself
// (Family names its decoder, MarshalJSON its payload) so an uplift model can be
// stored whole.
type Predictor interface {
	Predict(row []float64) (float64, error)
	Family() string
	json.Marshaler
}

// Learner fits a Predictor of y on X. Classifiers take 0/1 labels and predict
// P(y=1); regressors take real targets.
type Learner interface {
	Fit(ctx context.Context, X *models.Matrix, y []float64) (Predictor, error)
}

// Decoder rebuilds a Predictor from the payload its MarshalJSON wrote.
type Decoder func(payload []byte) (Predictor, error)

// LinearClassifier fits L2 logistic regression (linear.Fit).
type LinearClassifier struct{ Options linear.Options }

// LinearRegressor fits ridge least squares (linear.FitRegression); the
// X-learner's effect stage needs a regressor.
type LinearRegressor struct{ Options linear.Options }

// Fit implements Learner.
func (l LinearClassifier) Fit(ctx context.Context, X *models.Matrix, y []float64) (Predictor, error) {
	o := l.Options
	o.Weights = nil // rows are subsets; per-row weights cannot follow them
	m, err := linear.Fit(ctx, X, y, o)
	if err != nil {
		return nil, err
	}
	return LinearPredictor{m}, nil
}

// Fit implements Learner.
func (l LinearRegressor) Fit(ctx context.Context, X *models.Matrix, y []float64) (Predictor, error) {
	o := l.Options
	o.Weights = nil
	m, err := linear.FitRegression(ctx, X, y, o)
	if err != nil {
		return nil, err
	}
	return LinearPredictor{m}, nil
}

// LinearPredictor adapts a linear.Model to Predictor.
type LinearPredictor struct{ Model *linear.Model }

// Predict implements Predictor.
func (p LinearPredictor) Predict(row []float64) (float64, error) { return p.Model.Predict(row) }

// Family implements Predictor.
func (LinearPredictor) Family() string { return "linear" }

// MarshalJSON implements Predictor.
func (p LinearPredictor) MarshalJSON() ([]byte, error) { return json.Marshal(p.Model) }

func decodeLinear(b []byte) (Predictor, error) {
	m, err := linear.Load(b)
	if err != nil {
		return nil, err
	}
	return LinearPredictor{m}, nil
}

// constant is a fixed-value predictor: the propensity of a randomised arm.
type constant float64

func (c constant) Predict([]float64) (float64, error) { return float64(c), nil }
func (constant) Family() string                       { return "constant" }
func (c constant) MarshalJSON() ([]byte, error)       { return json.Marshal(float64(c)) }

func decodeConstant(b []byte) (Predictor, error) {
	var v float64
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, err
	}
	if !(v >= 0 && v <= 1) {
		return nil, fmt.Errorf("constant propensity %v outside [0,1]", v)
	}
	return constant(v), nil
}

// DefaultDecoders returns the decoders of every family this package adapts.
func DefaultDecoders() map[string]Decoder {
	return map[string]Decoder{
		"linear":   decodeLinear,
		"gbdt":     decodeGBDT,
		"constant": decodeConstant,
	}
}

var errNoLearner = errors.New("no base learner configured")
