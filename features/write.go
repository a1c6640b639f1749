package features

import (
	"math"
	"slices"

	"github.com/engagehq/engage/datasets"
)

// tableRows is the number of rows per batch handed to the Parquet writer:
// enough that each column's dictionary stays warm in the core's cache over
// many values and the writer's per-batch fan-out over columns is noise, few
// enough that a batch (~8 MB of features) is still in the shared cache when
// the writer's workers gather it, and memory stays flat.
const tableRows = 8192

// batch is one table on its way to the writer: the features are kept row by
// row, as State.read gives them, and the writer's column workers gather them
// (datasets.RowMajor), so the driver's goroutine never transposes them.
type batch struct {
	t  *datasets.Table // every column but the features
	rm datasets.RowMajor
}

// tableWriter fills logged-table batches in the driver's goroutine and encodes
// them to Parquet in another, so writing overlaps reading.
type tableWriter struct {
	w     *datasets.LoggedWriter
	b     *batch
	full  chan *batch
	free  chan *batch
	done  chan error
	cats  []string
	nCat  int
	first int // column of the first numeric feature
	act   int // column of channel
	outc  int // column of the first outcome
	width int // feature values per row
}

func newTableWriter(w *datasets.LoggedWriter) *tableWriter {
	tw := &tableWriter{
		w:    w,
		full: make(chan *batch, 1),
		free: make(chan *batch, 2),
		done: make(chan error, 1),
		nCat: len(CategoricalNames),
	}
	tw.first = 3 + tw.nCat
	tw.act = tw.first + len(numericNames) + numAction
	tw.outc = tw.act + 4
	tw.width = len(numericNames) + numAction
	tw.b = tw.newBatch()
	tw.free <- tw.newBatch()
	full, free, done := tw.full, tw.free, tw.done // close and abort clear tw.full
	go func() {
		var err error
		for b := range full {
			if err == nil {
				err = w.WriteRowMajor(b.t, &b.rm)
			}
			b.t.Reset()
			b.rm.Values = b.rm.Values[:0]
			free <- b
		}
		done <- err
	}()
	return tw
}

func (tw *tableWriter) newBatch() *batch {
	t := datasets.NewTable(Columns(), tableRows)
	for j := tw.first; j < tw.first+tw.width; j++ {
		t.Floats[j] = []float64{} // held row by row in rm
	}
	return &batch{t: t, rm: datasets.RowMajor{First: tw.first, Width: tw.width,
		Values: make([]float64, 0, (tableRows+64)*tw.width)}}
}

// add appends an account's rows: the features row by row, the other columns
// column by column (one column's tail stays in cache while the account's few
// rows are written to it).
func (tw *tableWriter) add(a *Account, rows []pendingRow) error {
	if len(rows) == 0 {
		return nil
	}
	tw.cats = a.Categorical(tw.cats[:0])
	b := tw.b
	t := b.t
	n0, n := t.Len(), len(rows)
	for i := range rows {
		d := rows[i].d
		t.Strings[0] = append(t.Strings[0], d.DecisionID)
		t.Strings[1] = append(t.Strings[1], d.AccountID)
		t.Times[2] = append(t.Times[2], d.At)
		t.Strings[tw.act] = append(t.Strings[tw.act], d.Channel)
		t.Floats[tw.act+1] = append(t.Floats[tw.act+1], float64(d.LocalHour))
		t.Strings[tw.act+2] = append(t.Strings[tw.act+2], d.Message)
		p := d.Propensity
		if p <= 0 {
			p = math.NaN() // 0 means unknown in decisions.parquet
		}
		t.Floats[tw.act+3] = append(t.Floats[tw.act+3], p)
		b.rm.Values = append(b.rm.Values, rows[i].feat[:tw.width]...)
	}
	for j, c := range tw.cats {
		col := extend(t.Strings[3+j], n)
		for i := range col[n0:] {
			col[n0+i] = c
		}
		t.Strings[3+j] = col
	}
	for j := 0; j < numOutcomes; j++ {
		col := extend(t.Floats[tw.outc+j], n)
		dst := col[n0:]
		for i := range dst {
			dst[i] = rows[i].out[j]
		}
		t.Floats[tw.outc+j] = col
	}
	if t.Len() >= tableRows {
		return tw.flush()
	}
	return nil
}

// extend lengthens s by n elements (to be overwritten), growing it if needed.
func extend[T any](s []T, n int) []T {
	return slices.Grow(s, n)[:len(s)+n]
}

func (tw *tableWriter) flush() error {
	tw.full <- tw.b
	tw.b = <-tw.free
	return nil
}

// close writes the rest and the footer, renaming the output into place.
func (tw *tableWriter) close() error {
	if tw.b.t.Len() > 0 {
		tw.full <- tw.b
	}
	close(tw.full)
	tw.full = nil
	if err := <-tw.done; err != nil {
		tw.w.Abort()
		return err
	}
	return tw.w.Close()
}

// abort stops writing and removes the temp output.
func (tw *tableWriter) abort() {
	if tw.full != nil {
		close(tw.full)
		<-tw.done
		tw.full = nil
	}
	tw.w.Abort()
}
