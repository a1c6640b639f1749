package gbdt

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"

	"github.com/engagehq/engage/models"
)

// Format names the artifact so a loader can refuse a file of another family.
const Format = "engage-gbdt"

// FormatVersion is bumped on any incompatible change of the saved layout.
const FormatVersion = 1

type modelJSON struct {
	Format   string           `json:"format"`
	Version  int              `json:"version"`
	Features []models.Feature `json:"features"`
	Base     float64          `json:"base"`
	Trees    []tree           `json:"trees"`
}

// MarshalJSON encodes the model; floats are written in shortest round-trip
// form, so a reloaded model predicts bit-identically.
func (m *Model) MarshalJSON() ([]byte, error) {
	return json.Marshal(modelJSON{Format: Format, Version: FormatVersion, Features: m.features, Base: m.base, Trees: m.trees})
}

// UnmarshalJSON decodes and fully checks a model, so that a corrupt or hostile
// file is an error here rather than a panic or endless loop at prediction.
func (m *Model) UnmarshalJSON(b []byte) error {
	var j modelJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return fmt.Errorf("gbdt model: %w", err)
	}
	if err := j.check(); err != nil {
		return fmt.Errorf("gbdt model: %w", err)
	}
	*m = Model{features: j.Features, base: j.Base, trees: j.Trees, flat: compile(j.Trees, len(j.Features))}
	return nil
}

func (j *modelJSON) check() error {
	if j.Format != Format {
		return fmt.Errorf("format %q, want %q", j.Format, Format)
	}
	if j.Version != FormatVersion {
		return fmt.Errorf("format version %d, this build reads %d", j.Version, FormatVersion)
	}
	if len(j.Features) == 0 {
		return fmt.Errorf("no features")
	}
	for i, f := range j.Features {
		if f.Kind != models.Numeric && f.Kind != models.Categorical {
			return fmt.Errorf("feature %d %q: unknown kind %d", i, f.Name, f.Kind)
		}
	}
	if !finite(j.Base) {
		return fmt.Errorf("base margin %v is not finite", j.Base)
	}
	var total float64 // sum of every tree's largest |leaf|
	for ti, t := range j.Trees {
		if len(t.Nodes) == 0 {
			return fmt.Errorf("tree %d: no nodes", ti)
		}
		mx := 0.0
		for ni, n := range t.Nodes {
			if err := checkNode(j.Features, t.Nodes, ni, n); err != nil {
				return fmt.Errorf("tree %d node %d: %w", ti, ni, err)
			}
			if n.Feature < 0 {
				mx = max(mx, math.Abs(n.Value))
			}
		}
		total += mx
	}
	if !finite(total) {
		// Margins are sums in fixed point (see compile): they must fit.
		return fmt.Errorf("leaf values too large")
	}
	return nil
}

func checkNode(features []models.Feature, nodes []node, i int, n node) error {
	if n.Count < 0 {
		return fmt.Errorf("negative count")
	}
	if !finite(n.Gain) {
		return fmt.Errorf("gain is not finite")
	}
	if n.Feature == -1 {
		if !finite(n.Value) {
			return fmt.Errorf("leaf value is not finite")
		}
		return nil
	}
	if n.Feature < 0 || n.Feature >= len(features) {
		return fmt.Errorf("feature index %d out of range", n.Feature)
	}
	// Children after the parent make every path strictly increasing, so
	// traversal ends.
	if n.Left <= i || n.Right <= i || n.Left >= len(nodes) || n.Right >= len(nodes) || n.Left == n.Right {
		return fmt.Errorf("children %d, %d invalid", n.Left, n.Right)
	}
	isCat := features[n.Feature].Kind == models.Categorical
	if isCat != (n.Cat != nil) {
		return fmt.Errorf("split type does not match feature %q kind", features[n.Feature].Name)
	}
	if !isCat && math.IsNaN(n.Threshold) {
		return fmt.Errorf("threshold is NaN")
	}
	return nil
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// Save writes the model as JSON.
func (m *Model) Save(w io.Writer) error {
	b, err := m.MarshalJSON()
	if err != nil {
		return fmt.Errorf("save gbdt model: %w", err)
	}
	bw := bufio.NewWriter(w)
	if _, err := bw.Write(b); err != nil {
		return fmt.Errorf("save gbdt model: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("save gbdt model: %w", err)
	}
	return nil
}

// Load reads a model written by Save.
func Load(r io.Reader) (*Model, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("load gbdt model: %w", err)
	}
	m := new(Model)
	if err := m.UnmarshalJSON(b); err != nil {
		return nil, fmt.Errorf("load gbdt model: %w", err)
	}
	return m, nil
}
