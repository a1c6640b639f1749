package linear

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"github.com/engagehq/engage/models"
)

// Link names the model's response function as stored in artifacts.
type Link string

const (
	// Logit is binary logistic regression: P(y=1) = 1/(1+exp(-z)).
	Logit Link = "logit"
	// Softmax is multinomial logistic regression over Classes outputs.
	Softmax Link = "softmax"
	// Identity is ridge least squares: the prediction is z itself.
	Identity Link = "identity"
)

// Model is a fitted linear model together with its input encoding. It is
// immutable after fitting and safe for concurrent prediction.
type Model struct {
	Link     Link             `json:"link"`
	Classes  int              `json:"classes"` // 2 for Logit, k for Softmax, 0 for Identity
	Features []models.Feature `json:"features"`
	// Mean and Scale standardise numeric column j as (x-Mean[j])/Scale[j]; for
	// categorical columns they are 0 and 1 and unused.
	Mean  []float64 `json:"mean"`
	Scale []float64 `json:"scale"`
	// Missing[j] says numeric column j has a missing-indicator term.
	Missing []bool `json:"missing"`
	// Coef holds one row per output (1 for Logit and Identity, Classes for
	// Softmax): the intercept, then the weights of the encoded terms in column
	// order (numeric: value[, indicator]; categorical: one per level).
	Coef [][]float64 `json:"coef"`
	// Fit diagnostics.
	Lambda     float64 `json:"lambda"`
	Iterations int     `json:"iterations"`
	Status     string  `json:"status"`
	Loss       float64 `json:"loss"` // penalised objective at the optimum

	offset []int // start of column j's terms in Coef rows (after the intercept)
	width  int   // number of encoded terms
}

// layout derives the term offsets from the feature list and missing flags.
func (m *Model) layout() {
	m.offset = make([]int, len(m.Features))
	w := 0
	for j, f := range m.Features {
		m.offset[j] = w
		switch f.Kind {
		case models.Categorical:
			w += len(f.Levels)
		default:
			w++
			if m.Missing[j] {
				w++
			}
		}
	}
	m.width = w
}

// validate checks a decoded model for internal consistency, so that a corrupt or
// hand-edited artifact fails at load time rather than at prediction time.
func (m *Model) validate() error {
	p := len(m.Features)
	if len(m.Mean) != p || len(m.Scale) != p || len(m.Missing) != p {
		return fmt.Errorf("model has %d features but %d means, %d scales, %d missing flags", p, len(m.Mean), len(m.Scale), len(m.Missing))
	}
	for j, f := range m.Features {
		if f.Kind != models.Numeric && f.Kind != models.Categorical {
			return fmt.Errorf("feature %q: unknown kind %d", f.Name, f.Kind)
		}
		if f.Kind == models.Categorical && m.Missing[j] {
			return fmt.Errorf("feature %q: categorical columns have no missing indicator", f.Name)
		}
		if !finite(m.Mean[j]) || !finite(m.Scale[j]) || m.Scale[j] <= 0 {
			return fmt.Errorf("feature %q: bad standardisation mean=%v scale=%v", f.Name, m.Mean[j], m.Scale[j])
		}
	}
	outputs := 1
	switch m.Link {
	case Logit:
		if m.Classes != 2 {
			return fmt.Errorf("logit model with %d classes", m.Classes)
		}
	case Identity:
		if m.Classes != 0 {
			return fmt.Errorf("identity model with %d classes", m.Classes)
		}
	case Softmax:
		if m.Classes < 2 {
			return fmt.Errorf("softmax model with %d classes", m.Classes)
		}
		outputs = m.Classes
	default:
		return fmt.Errorf("unknown link %q", m.Link)
	}
	m.layout()
	if len(m.Coef) != outputs {
		return fmt.Errorf("%s model has %d coefficient rows, want %d", m.Link, len(m.Coef), outputs)
	}
	for k, row := range m.Coef {
		if len(row) != m.width+1 {
			return fmt.Errorf("coefficient row %d has %d values, want %d", k, len(row), m.width+1)
		}
		for _, v := range row {
			if !finite(v) {
				return fmt.Errorf("coefficient row %d holds %v", k, v)
			}
		}
	}
	return nil
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

type modelJSON Model

// MarshalJSON encodes the model. Go prints float64 in the shortest form that
// parses back to the same bits, so a reloaded model predicts identically.
func (m *Model) MarshalJSON() ([]byte, error) { return json.Marshal((*modelJSON)(m)) }

// UnmarshalJSON decodes and validates a model written by MarshalJSON.
func (m *Model) UnmarshalJSON(b []byte) error {
	var d modelJSON
	if err := json.Unmarshal(b, &d); err != nil {
		return fmt.Errorf("decode linear model: %w", err)
	}
	mm := Model(d)
	if err := mm.validate(); err != nil {
		return fmt.Errorf("decode linear model: %w", err)
	}
	*m = mm
	return nil
}

// Load decodes a model saved with json.Marshal.
func Load(b []byte) (*Model, error) {
	m := new(Model)
	if err := json.Unmarshal(b, m); err != nil {
		return nil, err
	}
	return m, nil
}

// margin computes z for output k on a raw row. It is the one place rows are
// encoded at prediction time, so every predictor agrees bit for bit.
func (m *Model) margin(row []float64, k int) float64 {
	c := m.Coef[k]
	z := c[0]
	for j, v := range row {
		off := 1 + m.offset[j]
		if m.Features[j].Kind == models.Categorical {
			if !math.IsNaN(v) {
				z += c[off+int(v)]
			}
			continue
		}
		if math.IsNaN(v) {
			if m.Missing[j] {
				z += c[off+1]
			}
			continue
		}
		z += c[off] * ((v - m.Mean[j]) / m.Scale[j])
	}
	return z
}

// checkRow rejects a row the model cannot score: wrong length, infinite values
// or categorical codes outside the training levels.
func (m *Model) checkRow(row []float64) error {
	if len(row) != len(m.Features) {
		return fmt.Errorf("row has %d values, model expects %d features", len(row), len(m.Features))
	}
	for j, v := range row {
		if math.IsInf(v, 0) {
			return fmt.Errorf("feature %q: infinite value", m.Features[j].Name)
		}
		if f := m.Features[j]; f.Kind == models.Categorical && !math.IsNaN(v) {
			if v != math.Trunc(v) || v < 0 || int(v) >= len(f.Levels) {
				return fmt.Errorf("feature %q: level code %v outside 0..%d", f.Name, v, len(f.Levels)-1)
			}
		}
	}
	return nil
}

// ErrNotBinary is returned by PredictProba on a model that is not a binary
// logistic regression.
var ErrNotBinary = errors.New("not a binary logistic model")

// PredictProba returns P(y=1 | row) of a binary model.
func (m *Model) PredictProba(row []float64) (float64, error) {
	if m.Link != Logit {
		return 0, fmt.Errorf("predict proba of a %s model: %w", m.Link, ErrNotBinary)
	}
	if err := m.checkRow(row); err != nil {
		return 0, fmt.Errorf("predict: %w", err)
	}
	return sigmoid(m.margin(row, 0)), nil
}

// Predict returns the model's natural scalar: P(y=1) for a logit model, the
// fitted value for an identity model. Softmax models need PredictClassProba.
func (m *Model) Predict(row []float64) (float64, error) {
	if err := m.checkRow(row); err != nil {
		return 0, fmt.Errorf("predict: %w", err)
	}
	switch m.Link {
	case Logit:
		return sigmoid(m.margin(row, 0)), nil
	case Identity:
		return m.margin(row, 0), nil
	}
	return 0, fmt.Errorf("predict: a %s model has %d outputs; use PredictClassProba", m.Link, m.Classes)
}

// PredictClassProba writes the class probabilities of row into dst, which must
// have length Classes (2 for a binary model: P(y=0), P(y=1)).
func (m *Model) PredictClassProba(row, dst []float64) error {
	if m.Link == Identity {
		return errors.New("predict class proba: identity model has no classes")
	}
	if len(dst) != m.Classes {
		return fmt.Errorf("predict class proba: dst has %d slots, model has %d classes", len(dst), m.Classes)
	}
	if err := m.checkRow(row); err != nil {
		return fmt.Errorf("predict: %w", err)
	}
	if m.Link == Logit {
		p := sigmoid(m.margin(row, 0))
		dst[0], dst[1] = 1-p, p
		return nil
	}
	zmax := math.Inf(-1)
	for k := range dst {
		dst[k] = m.margin(row, k)
		zmax = max(zmax, dst[k])
	}
	s := 0.0
	for k := range dst {
		dst[k] = math.Exp(dst[k] - zmax)
		s += dst[k]
	}
	for k := range dst {
		dst[k] /= s
	}
	return nil
}

// PredictBatch scores every row of X with Predict after checking that X has the
// columns the model was trained on.
func (m *Model) PredictBatch(X *models.Matrix) ([]float64, error) {
	if err := models.CheckSchema(m.Features, X.Features); err != nil {
		return nil, fmt.Errorf("predict batch: %w", err)
	}
	if len(X.Data) != X.Rows*X.Cols {
		return nil, fmt.Errorf("predict batch: matrix data has %d values, want %d x %d", len(X.Data), X.Rows, X.Cols)
	}
	out := make([]float64, X.Rows)
	for i := range out {
		p, err := m.Predict(X.Row(i))
		if err != nil {
			return nil, fmt.Errorf("row %d: %w", i, err)
		}
		out[i] = p
	}
	return out, nil
}

// Term is one coefficient in the original units of its column.
type Term struct {
	Feature string `json:"feature"`
	// Level is set for a categorical level's term.
	Level string `json:"level,omitempty"`
	// Missing marks a missing-indicator term: what a missing value adds on top
	// of imputing the training mean.
	Missing bool    `json:"missing,omitempty"`
	Weight  float64 `json:"weight"`
}

// Coefficients is one output's linear predictor in original units:
// z = Intercept + sum of Weight*x over numeric terms (x imputed with the
// training mean when missing) + the Weight of each active level / indicator.
type Coefficients struct {
	Intercept float64 `json:"intercept"`
	Terms     []Term  `json:"terms"`
}

// Coefficients undoes the standardisation so the weights can be read per unit of
// each raw column. It returns one entry per output (Classes for softmax).
func (m *Model) Coefficients() []Coefficients {
	out := make([]Coefficients, len(m.Coef))
	for k, c := range m.Coef {
		co := Coefficients{Intercept: c[0]}
		for j, f := range m.Features {
			off := 1 + m.offset[j]
			if f.Kind == models.Categorical {
				for l, lv := range f.Levels {
					co.Terms = append(co.Terms, Term{Feature: f.Name, Level: lv, Weight: c[off+l]})
				}
				continue
			}
			w := c[off] / m.Scale[j]
			co.Intercept -= w * m.Mean[j]
			co.Terms = append(co.Terms, Term{Feature: f.Name, Weight: w})
			if m.Missing[j] {
				co.Terms = append(co.Terms, Term{Feature: f.Name, Missing: true, Weight: c[off+1]})
			}
		}
		out[k] = co
	}
	return out
}

func sigmoid(z float64) float64 {
	if z >= 0 {
		return 1 / (1 + math.Exp(-z))
	}
	e := math.Exp(z)
	return e / (1 + e)
}
