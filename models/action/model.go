package action

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/engagehq/engage/models"
	"github.com/engagehq/engage/models/calibrate"
	"github.com/engagehq/engage/models/gbdt"
	"github.com/engagehq/engage/models/linear"
	"github.com/engagehq/engage/models/registry"
	"github.com/engagehq/engage/models/uplift"
)

// Family names as stored in registry artifacts.
const (
	FamilyGBDT   = "gbdt"
	FamilyLinear = "linear"
	FamilyUplift = "uplift"
)

// PayloadFormat tags the payload envelope of calibrated gbdt and linear
// artifacts.
const PayloadFormat = "engage.action/1"

// envelope is the artifact payload of a calibrated classifier: the family's own
// JSON plus the calibrator fitted on the validation split. The calibrator maps
// the family's raw log-odds to a probability.
type envelope struct {
	Format     string          `json:"format"`
	Model      json.RawMessage `json:"model"`
	Calibrator json.RawMessage `json:"calibrator,omitempty"`
}

// margin is what every classifier family gives: the raw log-odds of one row.
type margin func(row []float64) (float64, error)

// margins is a family's batch form of margin: len(out) rows back to back.
type margins func(rows, out []float64) error

// marginsVarying is margins for rows that differ only in the columns of
// varying, the others read from the first row (gbdt.Evaluator.MarginsVarying).
type marginsVarying func(rows, out []float64, varying []int) error

// Model is a loaded, calibrated model of one target. It is read-only and safe
// for concurrent use.
type Model struct {
	// Version is the registry version the model was loaded from ("" when built
	// in memory).
	Version string
	// Hash is the sha256 of the stored artifact, for logging with decisions.
	Hash string
	// Family is "gbdt", "linear" or "uplift".
	Family string
	// Target is the outcome the model predicts.
	Target string
	// Features are the columns a row must hold, in order.
	Features []models.Feature
	// Priors is the features package's priors blob the training table was
	// built with; serving reads features out with the same priors.
	Priors json.RawMessage

	margin  margin
	margins margins        // nil: margin row by row
	varying marginsVarying // nil: rows completed, then margins
	cal     calibrate.Calibrator
	up      *uplift.Model
}

// Calibrator returns the calibrator (nil for an uncalibrated or uplift model).
func (m *Model) Calibrator() calibrate.Calibrator { return m.cal }

// Uplift returns the uplift model of an uplift artifact, nil otherwise.
func (m *Model) Uplift() *uplift.Model { return m.up }

// Predict returns the model's score for one row in Features order: the
// calibrated probability of the target for a classifier, the estimated effect
// of the first treatment arm for an uplift model. NaN values are missing.
func (m *Model) Predict(row []float64) (float64, error) {
	if len(row) != len(m.Features) {
		return math.NaN(), fmt.Errorf("predict: row has %d values, model expects %d features", len(row), len(m.Features))
	}
	if m.up != nil {
		eff := make([]float64, len(m.up.Arms())-1)
		if err := m.up.Effects(row, eff); err != nil {
			return math.NaN(), err
		}
		return eff[0], nil
	}
	z, err := m.margin(row)
	if err != nil {
		return math.NaN(), err
	}
	return m.calibrated(z), nil
}

// PredictRows scores len(out) rows held back to back in rows (Features
// order each), exactly as Predict would one by one, in one call: a gbdt model
// walks its compact batch layout (gbdt.Evaluator), which is how serving
// scores the candidate actions of an account. Uplift models are refused.
func (m *Model) PredictRows(rows, out []float64) error {
	nf := len(m.Features)
	if len(rows) != nf*len(out) {
		return fmt.Errorf("predict: %d values for %d rows of %d features", len(rows), len(out), nf)
	}
	if m.up != nil {
		return errors.New("predict rows: uplift models score one row at a time (Predict)")
	}
	if m.margins != nil {
		if err := m.margins(rows, out); err != nil {
			return err
		}
	} else {
		for i := range out {
			z, err := m.margin(rows[i*nf : (i+1)*nf])
			if err != nil {
				return err
			}
			out[i] = z
		}
	}
	for i, z := range out {
		out[i] = m.calibrated(z)
	}
	return nil
}

// PredictRowsVarying is PredictRows for rows that differ only in the
// columns listed in varying (the candidate actions of one account): every
// other column is read from the first row, and the other rows' values there
// are ignored, so a caller fills only the varying columns after the first
// row. The probabilities are PredictRows' on the completed rows, bit for bit.
// A family without a batch form completes the rows in place first.
func (m *Model) PredictRowsVarying(rows, out []float64, varying []int) error {
	nf := len(m.Features)
	if len(rows) != nf*len(out) {
		return fmt.Errorf("predict: %d values for %d rows of %d features", len(rows), len(out), nf)
	}
	if m.up != nil {
		return errors.New("predict rows: uplift models score one row at a time (Predict)")
	}
	if m.varying == nil {
		for _, c := range varying {
			if c < 0 || c >= nf {
				return fmt.Errorf("predict: varying column %d outside 0..%d", c, nf-1)
			}
		}
		return m.completeRows(rows, out, varying)
	}
	if err := m.varying(rows, out, varying); err != nil {
		return err
	}
	for i, z := range out {
		out[i] = m.calibrated(z)
	}
	return nil
}

// completeRows copies the first row's values outside varying into the
// other rows, then predicts them (families without MarginsVarying).
func (m *Model) completeRows(rows, out []float64, varying []int) error {
	nf := len(m.Features)
	keep := make([]float64, len(varying))
	for i := 1; i < len(out); i++ {
		r := rows[i*nf : (i+1)*nf]
		for k, c := range varying {
			keep[k] = r[c]
		}
		copy(r, rows[:nf])
		for k, c := range varying {
			r[c] = keep[k]
		}
	}
	return m.PredictRows(rows, out)
}

// predictUnchecked is Predict for the scorer's hot loop: the row length was
// checked once and classifiers never fail on a row of the right length. It
// also returns the raw log-odds z, which the scorer uses to break ties.
func (m *Model) predictUnchecked(row []float64) (p, z float64) {
	z, err := m.margin(row)
	if err != nil {
		return math.NaN(), math.NaN()
	}
	return m.calibrated(z), z
}

func (m *Model) calibrated(z float64) float64 {
	if m.cal == nil {
		return sigmoid(z)
	}
	// A logistic model's probability of exactly 0 or 1 has an infinite
	// log-odds; training calibrated on the same clamp.
	return m.cal.Calibrate(max(min(z, 700), -700))
}

// PredictRaw returns the family's uncalibrated probability (classifiers only).
func (m *Model) PredictRaw(row []float64) (float64, error) {
	if m.up != nil {
		return math.NaN(), errors.New("predict raw: uplift models have no raw probability")
	}
	if len(row) != len(m.Features) {
		return math.NaN(), fmt.Errorf("predict: row has %d values, model expects %d features", len(row), len(m.Features))
	}
	z, err := m.margin(row)
	if err != nil {
		return math.NaN(), err
	}
	return sigmoid(z), nil
}

// PredictBatch scores every row of X after checking its columns.
func (m *Model) PredictBatch(X *models.Matrix) ([]float64, error) {
	if err := models.CheckSchema(m.Features, X.Features); err != nil {
		return nil, fmt.Errorf("predict: %w", err)
	}
	out := make([]float64, X.Rows)
	for i := range out {
		p, err := m.Predict(X.Row(i))
		if err != nil {
			return nil, fmt.Errorf("predict row %d: %w", i, err)
		}
		out[i] = p
	}
	return out, nil
}

func sigmoid(z float64) float64 {
	if z >= 0 {
		return 1 / (1 + math.Exp(-z))
	}
	e := math.Exp(z)
	return e / (1 + e)
}

// Logit is the calibrators' input scale: the log-odds of a probability.
func Logit(p float64) float64 { return math.Log(p / (1 - p)) }

// family is a decoded payload, before it is joined with its artifact.
type family struct {
	name    string
	margin  margin
	margins margins
	varying marginsVarying
	cal     calibrate.Calibrator
	up      *uplift.Model
	feats   []models.Feature
}

// Decoders returns the registry decoders of every family this package serves.
// Open a registry with them (registry.Options{Decoders: action.Decoders()})
// so that Load works for any artifact training writes.
func Decoders() map[string]registry.Decoder {
	return map[string]registry.Decoder{
		FamilyGBDT:   func(p json.RawMessage) (any, error) { return decodeClassifier(FamilyGBDT, p) },
		FamilyLinear: func(p json.RawMessage) (any, error) { return decodeClassifier(FamilyLinear, p) },
		FamilyUplift: decodeUplift,
	}
}

// unwrap splits a payload into its envelope and the family model's JSON. A bare
// family model (as other tools may register) has an empty envelope: its own
// decoder checks it.
func unwrap(payload []byte) (envelope, json.RawMessage) {
	var env envelope
	if err := json.Unmarshal(payload, &env); err == nil && env.Format == PayloadFormat {
		return env, env.Model
	}
	return envelope{}, payload
}

// DecodeGBDT returns the gbdt model inside an artifact payload (the
// PayloadFormat envelope or a bare gbdt model), for callers that bind the tree
// model directly (gbdt.Model.Bind) to score many action candidates at once.
func DecodeGBDT(payload []byte) (*gbdt.Model, error) {
	_, body := unwrap(payload)
	g := new(gbdt.Model)
	if err := json.Unmarshal(body, g); err != nil {
		return nil, fmt.Errorf("decode gbdt: %w", err)
	}
	return g, nil
}

// decodeClassifier reads an envelope, or a bare family model (no calibrator)
// as other tools may register.
func decodeClassifier(name string, payload json.RawMessage) (any, error) {
	env, body := unwrap(payload)
	f := &family{name: name}
	switch name {
	case FamilyGBDT:
		gm := new(gbdt.Model)
		if err := json.Unmarshal(body, gm); err != nil {
			return nil, err
		}
		ev := gm.Evaluator()
		f.margin, f.margins, f.varying, f.feats = gm.PredictMargin, ev.Margins, ev.MarginsVarying, gm.Features()
	case FamilyLinear:
		lm, err := linear.Load(body)
		if err != nil {
			return nil, err
		}
		if lm.Link != linear.Logit {
			return nil, fmt.Errorf("linear model has link %q, want %q", lm.Link, linear.Logit)
		}
		f.margin = func(row []float64) (float64, error) {
			p, err := lm.PredictProba(row)
			return Logit(p), err
		}
		f.feats = lm.Features
	default:
		return nil, fmt.Errorf("unknown classifier family %q", name)
	}
	if len(env.Calibrator) > 0 && string(env.Calibrator) != "null" {
		c, err := calibrate.Load(env.Calibrator)
		if err != nil {
			return nil, err
		}
		f.cal = c
	}
	return f, nil
}

func decodeUplift(payload json.RawMessage) (any, error) {
	m, err := uplift.Load(payload, uplift.DefaultDecoders())
	if err != nil {
		return nil, err
	}
	if len(m.Arms()) < 2 {
		return nil, errors.New("uplift model has no treatment arm")
	}
	return &family{name: FamilyUplift, up: m, feats: m.Features()}, nil
}

// EncodePayload builds the artifact payload of a calibrated classifier: fam is
// a *gbdt.Model or *linear.Model, cal may be nil.
func EncodePayload(fam json.Marshaler, cal calibrate.Calibrator) (json.RawMessage, error) {
	mb, err := fam.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("encode model: %w", err)
	}
	env := envelope{Format: PayloadFormat, Model: mb}
	if cal != nil {
		if env.Calibrator, err = calibrate.Marshal(cal); err != nil {
			return nil, err
		}
	}
	b, err := json.Marshal(env)
	if err != nil {
		return nil, fmt.Errorf("encode payload: %w", err)
	}
	return b, nil
}

// FromLoaded joins a registry load with its artifact and checks that the
// family's features are the artifact's, so the declared schema is the one the
// model really uses.
func FromLoaded(l *registry.Loaded) (*Model, error) {
	f, ok := l.Model.(*family)
	if !ok {
		return nil, fmt.Errorf("version %s: decoded %T, want an action-package family (open the registry with action.Decoders())", l.Version.Name, l.Model)
	}
	if err := models.CheckSchema(l.Artifact.Features, f.feats); err != nil {
		return nil, fmt.Errorf("version %s: artifact features and %s payload disagree: %w", l.Version.Name, f.name, err)
	}
	m := &Model{
		Version: l.Version.Name, Hash: l.Version.Hash, Family: l.Artifact.Family, Target: l.Artifact.Target,
		Features: slices.Clone(l.Artifact.Features), Priors: l.Artifact.Priors,
		margin: f.margin, margins: f.margins, varying: f.varying, cal: f.cal, up: f.up,
	}
	return m, nil
}

// FromArtifact decodes an artifact held in memory (e.g. right after training).
func FromArtifact(a *registry.Artifact) (*Model, error) {
	dec, ok := Decoders()[a.Family]
	if !ok {
		return nil, fmt.Errorf("no decoder for family %q", a.Family)
	}
	v, err := dec(a.Payload)
	if err != nil {
		return nil, fmt.Errorf("decode %s payload: %w", a.Family, err)
	}
	return FromLoaded(&registry.Loaded{Artifact: a, Model: v})
}

// Open opens the registry at dir with every family decoder registered.
func Open(dir string) (*registry.Registry, error) {
	o := registry.DefaultOptions()
	o.Decoders = Decoders()
	return registry.Open(dir, o)
}

// Load loads a version ("" means the promoted one, or the latest when none was
// ever promoted).
func Load(r *registry.Registry, version string) (*Model, error) {
	if version == "" {
		v, err := r.Promoted()
		if err != nil {
			return nil, fmt.Errorf("load promoted model: %w", err)
		}
		version = v.Name
	}
	l, err := r.Load(version)
	if err != nil {
		return nil, err
	}
	return FromLoaded(l)
}
