package models

import (
	"fmt"
	"math"
)

// Kind says how a family must treat a feature column.
type Kind uint8

const (
	// Numeric columns are ordered real values; NaN means missing.
	Numeric Kind = iota
	// Categorical columns hold a level code 0..len(Levels)-1 stored as a float64;
	// NaN means missing. Codes carry no order: tree learners split on sets of
	// levels and linear learners one-hot encode them.
	Categorical
)

// String returns the kind's name as stored in artifacts.
func (k Kind) String() string {
	switch k {
	case Numeric:
		return "numeric"
	case Categorical:
		return "categorical"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Feature describes one column, so that a saved model can check at prediction time
// that it is given the columns it was trained on, in the same order and coding.
type Feature struct {
	Name   string   `json:"name"`
	Kind   Kind     `json:"kind"`
	Levels []string `json:"levels,omitempty"`
}

// Matrix is a dense row-major table of float64 features. It is the one input type
// of every family: row i is Data[i*Cols : (i+1)*Cols].
type Matrix struct {
	Rows, Cols int
	Data       []float64
	Features   []Feature
}

// NewMatrix allocates a rows x len(features) matrix filled with zeros.
func NewMatrix(rows int, features []Feature) *Matrix {
	return &Matrix{Rows: rows, Cols: len(features), Data: make([]float64, rows*len(features)), Features: features}
}

// Row returns row i as a slice that aliases the matrix.
func (m *Matrix) Row(i int) []float64 { return m.Data[i*m.Cols : (i+1)*m.Cols] }

// At returns the value at row i, column j.
func (m *Matrix) At(i, j int) float64 { return m.Data[i*m.Cols+j] }

// Set stores v at row i, column j.
func (m *Matrix) Set(i, j int, v float64) { m.Data[i*m.Cols+j] = v }

// Validate reports the first structural problem: a shape that does not match the
// data, a categorical code outside its levels, or an infinite value. NaN is allowed
// (missing); families that cannot take missing values say so themselves.
func (m *Matrix) Validate() error {
	if m.Cols != len(m.Features) {
		return fmt.Errorf("matrix has %d columns but %d feature descriptions", m.Cols, len(m.Features))
	}
	if len(m.Data) != m.Rows*m.Cols {
		return fmt.Errorf("matrix data has %d values, want %d x %d", len(m.Data), m.Rows, m.Cols)
	}
	for i := 0; i < m.Rows; i++ {
		row := m.Row(i)
		for j, v := range row {
			if math.IsInf(v, 0) {
				return fmt.Errorf("row %d, feature %q: infinite value", i, m.Features[j].Name)
			}
			if f := m.Features[j]; f.Kind == Categorical && !math.IsNaN(v) {
				if v != math.Trunc(v) || v < 0 || int(v) >= len(f.Levels) {
					return fmt.Errorf("row %d, feature %q: level code %v outside 0..%d", i, f.Name, v, len(f.Levels)-1)
				}
			}
		}
	}
	return nil
}

// CheckSchema reports whether got matches the features a model was trained on, so
// that a model is never silently applied to shifted or re-coded columns.
func CheckSchema(want, got []Feature) error {
	if len(want) != len(got) {
		return fmt.Errorf("model expects %d features, input has %d", len(want), len(got))
	}
	for i := range want {
		if want[i].Name != got[i].Name {
			return fmt.Errorf("feature %d: model expects %q, input has %q", i, want[i].Name, got[i].Name)
		}
		if want[i].Kind != got[i].Kind {
			return fmt.Errorf("feature %q: model expects %s, input has %s", want[i].Name, want[i].Kind, got[i].Kind)
		}
		if want[i].Kind == Categorical {
			if len(want[i].Levels) != len(got[i].Levels) {
				return fmt.Errorf("feature %q: model expects %d levels, input has %d", want[i].Name, len(want[i].Levels), len(got[i].Levels))
			}
			for k := range want[i].Levels {
				if want[i].Levels[k] != got[i].Levels[k] {
					return fmt.Errorf("feature %q: level %d is %q in the model, %q in the input", want[i].Name, k, want[i].Levels[k], got[i].Levels[k])
				}
			}
		}
	}
	return nil
}
