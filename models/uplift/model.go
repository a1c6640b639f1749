package uplift

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/engagehq/engage/models"
)

// Method names a meta-learner in saved models.
type Method string

const (
	// TLearner is one outcome model per arm.
	TLearner Method = "t-learner"
	// XLearner is Künzel's X-learner.
	XLearner Method = "x-learner"
)

// Options configure a fit.
type Options struct {
	// Arms names the arms; Arms[0] is the control. The arm codes passed to FitT /
	// FitX index this list, so len(Arms) fixes the number of actions.
	Arms []string
	// Outcome fits P(y | x) within one arm (both methods).
	Outcome Learner
	// Effect fits the imputed effects of the X-learner (a regressor).
	Effect Learner
	// Propensity, when set, fits P(arm a | x) on the rows in arm a or control
	// (labels 1 for arm a). When nil the X-learner uses the constant share of
	// arm a among those rows: right for a randomised experiment such as
	// Hillstrom, where it is about 1/2 for each email arm against control.
	Propensity Learner
}

// Model is a fitted uplift model: one effect estimate per non-control arm.
type Model struct {
	method   Method
	features []models.Feature
	arms     []string
	// T-learner: outcome[k] for arm k (k=0 control).
	outcome []Predictor
	// X-learner, per action a=1..A at index a-1.
	tau0, tau1, prop []Predictor
}

// Method returns the meta-learner used.
func (m *Model) Method() Method { return m.method }

// Arms returns the arm names, control first.
func (m *Model) Arms() []string { return slices.Clone(m.arms) }

// Features returns the columns the model expects.
func (m *Model) Features() []models.Feature { return slices.Clone(m.features) }

// Effects writes tau_a(row) for each action a=1..len(Arms)-1 into dst[a-1].
func (m *Model) Effects(row, dst []float64) error {
	A := len(m.arms) - 1
	if len(dst) != A {
		return fmt.Errorf("effects: dst has %d slots, model has %d actions", len(dst), A)
	}
	if len(row) != len(m.features) {
		return fmt.Errorf("effects: row has %d values, model expects %d features", len(row), len(m.features))
	}
	switch m.method {
	case TLearner:
		base, err := m.outcome[0].Predict(row)
		if err != nil {
			return fmt.Errorf("effects: control model: %w", err)
		}
		for a := 1; a <= A; a++ {
			p, err := m.outcome[a].Predict(row)
			if err != nil {
				return fmt.Errorf("effects: arm %q model: %w", m.arms[a], err)
			}
			dst[a-1] = p - base
		}
	case XLearner:
		for a := 0; a < A; a++ {
			g, err := m.prop[a].Predict(row)
			if err != nil {
				return fmt.Errorf("effects: arm %q propensity: %w", m.arms[a+1], err)
			}
			t0, err := m.tau0[a].Predict(row)
			if err != nil {
				return fmt.Errorf("effects: arm %q control-side effect: %w", m.arms[a+1], err)
			}
			t1, err := m.tau1[a].Predict(row)
			if err != nil {
				return fmt.Errorf("effects: arm %q treated-side effect: %w", m.arms[a+1], err)
			}
			dst[a] = g*t0 + (1-g)*t1
		}
	}
	return nil
}

// EffectsBatch scores every row of X, returning one slice per action.
func (m *Model) EffectsBatch(X *models.Matrix) ([][]float64, error) {
	if err := models.CheckSchema(m.features, X.Features); err != nil {
		return nil, fmt.Errorf("effects batch: %w", err)
	}
	A := len(m.arms) - 1
	out := make([][]float64, A)
	for a := range out {
		out[a] = make([]float64, X.Rows)
	}
	dst := make([]float64, A)
	for i := 0; i < X.Rows; i++ {
		if err := m.Effects(X.Row(i), dst); err != nil {
			return nil, fmt.Errorf("row %d: %w", i, err)
		}
		for a := range dst {
			out[a][i] = dst[a]
		}
	}
	return out, nil
}

// checkFit validates the shared inputs and returns the row indices per arm.
func checkFit(X *models.Matrix, arm []int, y []float64, o Options) ([][]int, error) {
	if X == nil || X.Rows == 0 {
		return nil, errors.New("no rows")
	}
	if err := X.Validate(); err != nil {
		return nil, err
	}
	if len(arm) != X.Rows || len(y) != X.Rows {
		return nil, fmt.Errorf("%d rows but %d arm codes and %d outcomes", X.Rows, len(arm), len(y))
	}
	if len(o.Arms) < 2 {
		return nil, fmt.Errorf("need a control and at least one action, have %d arms", len(o.Arms))
	}
	if o.Outcome == nil {
		return nil, fmt.Errorf("outcome: %w", errNoLearner)
	}
	rows := make([][]int, len(o.Arms))
	for i, a := range arm {
		if a < 0 || a >= len(o.Arms) {
			return nil, fmt.Errorf("row %d: arm %d outside 0..%d", i, a, len(o.Arms)-1)
		}
		if math.IsNaN(y[i]) || math.IsInf(y[i], 0) {
			return nil, fmt.Errorf("row %d: outcome %v is not finite", i, y[i])
		}
		rows[a] = append(rows[a], i)
	}
	for a, r := range rows {
		if len(r) == 0 {
			return nil, fmt.Errorf("arm %q has no rows", o.Arms[a])
		}
	}
	return rows, nil
}

func subset(X *models.Matrix, idx []int) *models.Matrix {
	S := models.NewMatrix(len(idx), X.Features)
	for k, i := range idx {
		copy(S.Row(k), X.Row(i))
	}
	return S
}

func pick(y []float64, idx []int) []float64 {
	out := make([]float64, len(idx))
	for k, i := range idx {
		out[k] = y[i]
	}
	return out
}

func fitOutcomes(ctx context.Context, X *models.Matrix, y []float64, rows [][]int, o Options) ([]Predictor, error) {
	out := make([]Predictor, len(rows))
	for a, r := range rows {
		p, err := o.Outcome.Fit(ctx, subset(X, r), pick(y, r))
		if err != nil {
			return nil, fmt.Errorf("outcome model of arm %q: %w", o.Arms[a], err)
		}
		out[a] = p
	}
	return out, nil
}

// FitT fits a T-learner: arm[i] in 0..len(Arms)-1 is row i's arm (0 control),
// y[i] its outcome.
func FitT(ctx context.Context, X *models.Matrix, arm []int, y []float64, o Options) (*Model, error) {
	rows, err := checkFit(X, arm, y, o)
	if err != nil {
		return nil, fmt.Errorf("fit t-learner: %w", err)
	}
	out, err := fitOutcomes(ctx, X, y, rows, o)
	if err != nil {
		return nil, fmt.Errorf("fit t-learner: %w", err)
	}
	return &Model{method: TLearner, features: slices.Clone(X.Features), arms: slices.Clone(o.Arms), outcome: out}, nil
}

// FitX fits an X-learner with the same inputs as FitT.
func FitX(ctx context.Context, X *models.Matrix, arm []int, y []float64, o Options) (*Model, error) {
	rows, err := checkFit(X, arm, y, o)
	if err != nil {
		return nil, fmt.Errorf("fit x-learner: %w", err)
	}
	if o.Effect == nil {
		return nil, fmt.Errorf("fit x-learner: effect: %w", errNoLearner)
	}
	mu, err := fitOutcomes(ctx, X, y, rows, o)
	if err != nil {
		return nil, fmt.Errorf("fit x-learner: %w", err)
	}
	A := len(o.Arms) - 1
	m := &Model{method: XLearner, features: slices.Clone(X.Features), arms: slices.Clone(o.Arms),
		tau0: make([]Predictor, A), tau1: make([]Predictor, A), prop: make([]Predictor, A)}
	ctrl := subset(X, rows[0])
	for a := 1; a <= A; a++ {
		name := o.Arms[a]
		treat := subset(X, rows[a])
		// Treated side: D1 = y - mu_0(x).
		d1 := make([]float64, treat.Rows)
		for k, i := range rows[a] {
			p, err := mu[0].Predict(treat.Row(k))
			if err != nil {
				return nil, fmt.Errorf("fit x-learner: arm %q: %w", name, err)
			}
			d1[k] = y[i] - p
		}
		// Control side: D0 = mu_a(x) - y.
		d0 := make([]float64, ctrl.Rows)
		for k, i := range rows[0] {
			p, err := mu[a].Predict(ctrl.Row(k))
			if err != nil {
				return nil, fmt.Errorf("fit x-learner: arm %q: %w", name, err)
			}
			d0[k] = p - y[i]
		}
		if m.tau1[a-1], err = o.Effect.Fit(ctx, treat, d1); err != nil {
			return nil, fmt.Errorf("fit x-learner: treated-side effect of %q: %w", name, err)
		}
		if m.tau0[a-1], err = o.Effect.Fit(ctx, ctrl, d0); err != nil {
			return nil, fmt.Errorf("fit x-learner: control-side effect of %q: %w", name, err)
		}
		if o.Propensity == nil {
			m.prop[a-1] = constant(float64(len(rows[a])) / float64(len(rows[a])+len(rows[0])))
			continue
		}
		both := append(slices.Clone(rows[a]), rows[0]...)
		lab := make([]float64, len(both))
		for k := range rows[a] {
			lab[k] = 1
		}
		if m.prop[a-1], err = o.Propensity.Fit(ctx, subset(X, both), lab); err != nil {
			return nil, fmt.Errorf("fit x-learner: propensity of %q: %w", name, err)
		}
	}
	return m, nil
}

type component struct {
	Family  string          `json:"family"`
	Payload json.RawMessage `json:"payload"`
}

type modelJSON struct {
	Format     string           `json:"format"`
	Method     Method           `json:"method"`
	Features   []models.Feature `json:"features"`
	Arms       []string         `json:"arms"`
	Outcome    []component      `json:"outcome,omitempty"`
	Tau0       []component      `json:"tau0,omitempty"`
	Tau1       []component      `json:"tau1,omitempty"`
	Propensity []component      `json:"propensity,omitempty"`
}

const format = "engage.uplift/1"

func encodeAll(ps []Predictor) ([]component, error) {
	out := make([]component, len(ps))
	for i, p := range ps {
		b, err := p.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("%s component %d: %w", p.Family(), i, err)
		}
		out[i] = component{Family: p.Family(), Payload: b}
	}
	return out, nil
}

// MarshalJSON saves the model with each base model tagged by its family.
func (m *Model) MarshalJSON() ([]byte, error) {
	j := modelJSON{Format: format, Method: m.method, Features: m.features, Arms: m.arms}
	var err error
	if j.Outcome, err = encodeAll(m.outcome); err != nil {
		return nil, err
	}
	if j.Tau0, err = encodeAll(m.tau0); err != nil {
		return nil, err
	}
	if j.Tau1, err = encodeAll(m.tau1); err != nil {
		return nil, err
	}
	if j.Propensity, err = encodeAll(m.prop); err != nil {
		return nil, err
	}
	return json.Marshal(j)
}

func decodeAll(cs []component, want int, what string, dec map[string]Decoder) ([]Predictor, error) {
	if len(cs) != want {
		return nil, fmt.Errorf("%d %s models, want %d", len(cs), what, want)
	}
	out := make([]Predictor, len(cs))
	for i, c := range cs {
		d, ok := dec[c.Family]
		if !ok {
			return nil, fmt.Errorf("%s model %d: no decoder for family %q", what, i, c.Family)
		}
		p, err := d(c.Payload)
		if err != nil {
			return nil, fmt.Errorf("%s model %d (%s): %w", what, i, c.Family, err)
		}
		out[i] = p
	}
	return out, nil
}

// Load rebuilds a model saved with json.Marshal; decoders maps each family name
// to its decoder (nil means DefaultDecoders()).
func Load(b []byte, decoders map[string]Decoder) (*Model, error) {
	if decoders == nil {
		decoders = DefaultDecoders()
	}
	var j modelJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, fmt.Errorf("load uplift model: %w", err)
	}
	if j.Format != format {
		return nil, fmt.Errorf("load uplift model: format %q, want %q", j.Format, format)
	}
	if len(j.Arms) < 2 {
		return nil, fmt.Errorf("load uplift model: %d arms", len(j.Arms))
	}
	m := &Model{method: j.Method, features: j.Features, arms: j.Arms}
	A := len(j.Arms) - 1
	var err error
	switch j.Method {
	case TLearner:
		if m.outcome, err = decodeAll(j.Outcome, A+1, "outcome", decoders); err == nil && (len(j.Tau0)+len(j.Tau1)+len(j.Propensity)) > 0 {
			err = errors.New("t-learner with effect models")
		}
	case XLearner:
		if len(j.Outcome) != 0 {
			err = errors.New("x-learner with stored outcome models")
		}
		if err == nil {
			m.tau0, err = decodeAll(j.Tau0, A, "tau0", decoders)
		}
		if err == nil {
			m.tau1, err = decodeAll(j.Tau1, A, "tau1", decoders)
		}
		if err == nil {
			m.prop, err = decodeAll(j.Propensity, A, "propensity", decoders)
		}
	default:
		err = fmt.Errorf("unknown method %q", j.Method)
	}
	if err != nil {
		return nil, fmt.Errorf("load uplift model: %w", err)
	}
	return m, nil
}
