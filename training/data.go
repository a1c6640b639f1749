package training

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"

	"github.com/schollz/progressbar/v3"

	"github.com/engagehq/engage/datasets"
	"github.com/engagehq/engage/features"
	"github.com/engagehq/engage/models"
	"github.com/engagehq/engage/progress"
)

// ErrBadInput marks a table that cannot be trained on or scored (empty,
// missing columns, a constant label, infinite values, ...), as opposed to an
// I/O failure.
var ErrBadInput = errors.New("bad input")

func badInput(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrBadInput, fmt.Sprintf(format, a...))
}

// HashFile returns "sha256:<hex>" of a file's bytes, the training-data hash
// recorded in artifacts.
func HashFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("hash %s: %w", path, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hash %s: %w", path, err)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

// readBatch is how many rows a streaming read asks for at a time.
const readBatch = 1 << 16

// ReadTable reads a whole logged table with its metadata, showing a progress
// bar on progress when it is not nil. ctx cancels the read.
func ReadTable(ctx context.Context, path string, progress io.Writer) (*datasets.Table, map[string]string, error) {
	r, err := datasets.OpenLogged(path)
	if err != nil {
		return nil, nil, err
	}
	defer r.Close()
	bar := newBar(progress, r.NumRows(), "read "+path, "rows")
	defer bar.Finish()
	t := datasets.NewTable(r.Columns(), int(r.NumRows()))
	for {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		b, err := r.Next(readBatch)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("read %s: %w", path, err)
		}
		if err := t.Append(b); err != nil {
			return nil, nil, fmt.Errorf("read %s: %w", path, err)
		}
		_ = bar.Add(b.Len())
	}
	return t, r.Meta(), nil
}

// newBar returns a progress bar writing to w, or a silent one when w is nil.
func newBar(w io.Writer, total int64, desc, unit string) *progressbar.ProgressBar {
	return progress.New(w, total, desc, unit)
}

// selectFeatures derives the model's feature list from the table's roles. It
// returns the features and the names of usable-role columns it skipped (with
// no observed value).
func selectFeatures(t *datasets.Table, o *Options) ([]models.Feature, []string, error) {
	var feats []models.Feature
	var skipped []string
	for i, c := range t.Columns {
		if c.Role != datasets.RoleContext && c.Role != datasets.RoleAction {
			continue
		}
		if c.Name == o.Target || c.Name == o.Treatment || slices.Contains(o.Exclude, c.Name) {
			continue
		}
		if o.ContextOnly && (c.Role == datasets.RoleAction || slices.Contains(features.ActionNames(), c.Name)) {
			continue
		}
		switch c.Kind {
		case datasets.KindNumeric:
			seen := false
			for _, v := range t.Floats[i] {
				if !math.IsNaN(v) {
					seen = true
					break
				}
			}
			if !seen {
				skipped = append(skipped, c.Name)
				continue
			}
			feats = append(feats, models.Feature{Name: c.Name, Kind: models.Numeric})
		case datasets.KindCategorical:
			levels := slices.Clone(c.Levels)
			if len(levels) == 0 {
				set := map[string]bool{}
				for _, s := range t.Strings[i] {
					if s != "" {
						set[s] = true
					}
				}
				for s := range set {
					levels = append(levels, s)
				}
				slices.Sort(levels)
			}
			if len(levels) == 0 {
				skipped = append(skipped, c.Name)
				continue
			}
			feats = append(feats, models.Feature{Name: c.Name, Kind: models.Categorical, Levels: levels})
		}
	}
	if len(feats) == 0 {
		return nil, skipped, badInput("the table has no usable context or action column")
	}
	return feats, skipped, nil
}

// Encoder turns rows of logged tables into model rows in a model's feature
// order. Build it once per column layout (NewEncoder) and reuse it for every
// batch of that layout.
type Encoder struct {
	feats  []models.Feature
	src    []int
	levels []map[string]float64
}

// NewEncoder maps each model feature to the table column of the same name. It
// fails, naming the feature, when a column is absent or of the wrong kind.
func NewEncoder(feats []models.Feature, cols []datasets.Column) (*Encoder, error) {
	e := &Encoder{feats: feats, src: make([]int, len(feats)), levels: make([]map[string]float64, len(feats))}
	for j, f := range feats {
		k := slices.IndexFunc(cols, func(c datasets.Column) bool { return c.Name == f.Name })
		if k < 0 {
			return nil, badInput("feature %q (%s) is missing from the input table", f.Name, f.Kind)
		}
		c := cols[k]
		switch f.Kind {
		case models.Numeric:
			if c.Kind != datasets.KindNumeric {
				return nil, badInput("feature %q: the model expects a numeric column, the input column is %s", f.Name, c.Kind)
			}
		case models.Categorical:
			if c.Kind != datasets.KindCategorical {
				return nil, badInput("feature %q: the model expects a categorical column, the input column is %s", f.Name, c.Kind)
			}
			m := make(map[string]float64, len(f.Levels))
			for l, s := range f.Levels {
				m[s] = float64(l)
			}
			e.levels[j] = m
		default:
			return nil, badInput("feature %q: unknown kind %v", f.Name, f.Kind)
		}
		e.src[j] = k
	}
	return e, nil
}

// Row writes row i of t into dst (len(dst) == number of features). A level the
// model never saw, and the empty string, become NaN (missing). Infinite values
// are an error naming the feature.
func (e *Encoder) Row(t *datasets.Table, i int, dst []float64) error {
	for j, k := range e.src {
		if m := e.levels[j]; m != nil {
			v, ok := m[t.Strings[k][i]]
			if !ok {
				v = math.NaN()
			}
			dst[j] = v
			continue
		}
		v := t.Floats[k][i]
		if math.IsInf(v, 0) {
			return badInput("row %d, feature %q: infinite value", i, e.feats[j].Name)
		}
		dst[j] = v
	}
	return nil
}

// Code returns the code of level lv of feature j, a categorical feature; ok
// is false for a level the model never saw (or a numeric feature), which
// Row encodes as missing (NaN).
func (e *Encoder) Code(j int, lv string) (v float64, ok bool) {
	v, ok = e.levels[j][lv]
	return v, ok
}

// Matrix encodes the given rows of t (all rows when rows is nil).
func (e *Encoder) Matrix(t *datasets.Table, rows []int) (*models.Matrix, error) {
	n := t.Len()
	if rows != nil {
		n = len(rows)
	}
	X := models.NewMatrix(n, e.feats)
	for r := 0; r < n; r++ {
		i := r
		if rows != nil {
			i = rows[r]
		}
		if err := e.Row(t, i, X.Row(r)); err != nil {
			return nil, err
		}
	}
	return X, nil
}

// segmentValues returns the segment label of each row of column k.
func segmentValues(t *datasets.Table, k int, rows []int) []string {
	out := make([]string, len(rows))
	for r, i := range rows {
		switch {
		case t.Strings[k] != nil:
			out[r] = t.Strings[k][i]
		case t.Floats[k] != nil:
			out[r] = strconv.FormatFloat(t.Floats[k][i], 'g', -1, 64)
		}
		if out[r] == "" || out[r] == "NaN" {
			out[r] = "(missing)"
		}
	}
	return out
}

// pickSegment chooses the segment column: the option, or the first of the
// usual business segments present, or the first categorical context column.
func pickSegment(t *datasets.Table, o *Options) (int, error) {
	if o.Segment != "" {
		k := t.Index(o.Segment)
		if k < 0 {
			return -1, badInput("segment column %q is not in the table", o.Segment)
		}
		if t.Columns[k].Kind == datasets.KindTime {
			return -1, badInput("segment column %q is a time column", o.Segment)
		}
		return k, nil
	}
	for _, name := range []string{"region", "jurisdiction", "age_band"} {
		if k := t.Index(name); k >= 0 && t.Columns[k].Kind == datasets.KindCategorical {
			return k, nil
		}
	}
	for k, c := range t.Columns {
		if c.Role == datasets.RoleContext && c.Kind == datasets.KindCategorical {
			return k, nil
		}
	}
	return -1, nil
}
