package training

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"path/filepath"

	"github.com/engagehq/engage/datasets"
	"github.com/engagehq/engage/models/action"
)

// MetaModel is the output metadata key naming the model that wrote the score
// column (JSON: version, hash, family, target).
const MetaModel = "engage.model"

// PredictOptions tune batch prediction.
type PredictOptions struct {
	// Column is the name of the score column added to the output (default
	// "score"). It gets role outcome, so a later training run never takes a
	// score as a feature.
	Column string
	// Batch is the rows read and written at a time (default 65536).
	Batch int
	// Progress, when not nil, receives a progress bar.
	Progress io.Writer
}

// DefaultPredictOptions write a "score" column in batches of 65536 rows.
func DefaultPredictOptions() PredictOptions { return PredictOptions{Column: "score", Batch: readBatch} }

// Predict streams the logged table at in through m and writes every input row,
// in the same order and with all its columns, plus the score column to out. The
// output appears only when complete: a failure or a cancelled ctx leaves
// nothing at out. It returns the number of rows written.
func Predict(ctx context.Context, m *action.Model, in, out string, o PredictOptions) (int64, error) {
	if o.Column == "" {
		o.Column = "score"
	}
	if o.Batch <= 0 {
		o.Batch = readBatch
	}
	if a, b := filepath.Clean(in), filepath.Clean(out); a == b {
		return 0, fmt.Errorf("predict: output %s would overwrite the input", out)
	}
	r, err := datasets.OpenLogged(in)
	if err != nil {
		return 0, fmt.Errorf("predict: %w", err)
	}
	defer r.Close()
	cols := r.Columns()
	for _, c := range cols {
		if c.Name == o.Column {
			return 0, badInput("input %s already has a column %q; choose another score column name", in, o.Column)
		}
	}
	enc, err := NewEncoder(m.Features, cols)
	if err != nil {
		return 0, fmt.Errorf("predict with %s: %w", m.Version, err)
	}
	outCols := append(append([]datasets.Column(nil), cols...), datasets.Column{Name: o.Column, Role: datasets.RoleOutcome, Kind: datasets.KindNumeric})
	meta := maps.Clone(r.Meta())
	if meta == nil {
		meta = map[string]string{}
	}
	delete(meta, datasets.MetaColumns)
	meta[MetaModel] = fmt.Sprintf(`{"version":%q,"hash":%q,"family":%q,"target":%q}`, m.Version, m.Hash, m.Family, m.Target)
	w, err := datasets.CreateLogged(out, outCols, meta)
	if err != nil {
		return 0, fmt.Errorf("predict: %w", err)
	}
	bar := newBar(o.Progress, r.NumRows(), "predict", "rows")
	defer bar.Finish()
	var n int64
	fail := func(err error) (int64, error) {
		_ = w.Abort()
		return 0, err
	}
	row := make([]float64, len(m.Features))
	for {
		if err := ctx.Err(); err != nil {
			return fail(err)
		}
		b, err := r.Next(o.Batch)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fail(fmt.Errorf("predict: read %s: %w", in, err))
		}
		scores := make([]float64, b.Len())
		for i := range scores {
			if err := enc.Row(b, i, row); err != nil {
				return fail(fmt.Errorf("predict: row %d: %w", n+int64(i), err))
			}
			if scores[i], err = m.Predict(row); err != nil {
				return fail(fmt.Errorf("predict: row %d: %w", n+int64(i), err))
			}
		}
		ob := &datasets.Table{
			Columns: outCols,
			Floats:  append(b.Floats[:len(cols):len(cols)], scores),
			Strings: append(b.Strings[:len(cols):len(cols)], nil),
			Times:   append(b.Times[:len(cols):len(cols)], nil),
		}
		if err := w.Write(ob); err != nil {
			return fail(fmt.Errorf("predict: write %s: %w", out, err))
		}
		n += int64(b.Len())
		_ = bar.Add(b.Len())
	}
	if err := w.Close(); err != nil {
		return 0, fmt.Errorf("predict: write %s: %w", out, err)
	}
	return n, nil
}
