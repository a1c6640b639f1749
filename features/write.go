package features

import (
	"math"
	"slices"

	"github.com/engagehq/engage/datasets"
)

// tableRows is the number of rows per table handed to the Parquet writer:
// enough that the writer's per-batch fan-out over columns is noise (2Ki-row
// tables cost ~8% more CPU), few enough to keep memory flat (~18 MB a table).
const tableRows = 16384

// tableWriter fills logged-table batches in the driver's goroutine and encodes
// them to Parquet in another, so writing overlaps reading.
type tableWriter struct {
	w     *datasets.LoggedWriter
	t     *datasets.Table
	full  chan *datasets.Table
	free  chan *datasets.Table
	done  chan error
	cats  []string
	nCat  int
	first int // column of the first numeric feature
	act   int // column of channel
	outc  int // column of the first outcome
}

func newTableWriter(w *datasets.LoggedWriter) *tableWriter {
	cols := Columns()
	tw := &tableWriter{
		w:    w,
		full: make(chan *datasets.Table, 1),
		free: make(chan *datasets.Table, 2),
		done: make(chan error, 1),
		nCat: len(CategoricalNames),
	}
	tw.first = 3 + tw.nCat
	tw.act = tw.first + len(numericNames) + numAction
	tw.outc = tw.act + 4
	tw.t = datasets.NewTable(cols, tableRows)
	tw.free <- datasets.NewTable(cols, tableRows)
	full, free, done := tw.full, tw.free, tw.done // close and abort clear tw.full
	go func() {
		var err error
		for t := range full {
			if err == nil {
				err = w.Write(t)
			}
			t.Reset()
			free <- t
		}
		done <- err
	}()
	return tw
}

// add appends an account's rows, column by column (one column's tail stays in
// cache while the account's few rows are written to it).
func (tw *tableWriter) add(a *Account, rows []pendingRow) error {
	if len(rows) == 0 {
		return nil
	}
	tw.cats = a.Categorical(tw.cats[:0])
	t := tw.t
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
	}
	for j, c := range tw.cats {
		col := extend(t.Strings[3+j], n)
		for i := range col[n0:] {
			col[n0+i] = c
		}
		t.Strings[3+j] = col
	}
	for j := range rows[0].feat {
		col := extend(t.Floats[tw.first+j], n)
		dst := col[n0:]
		for i := range dst {
			dst[i] = rows[i].feat[j]
		}
		t.Floats[tw.first+j] = col
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
	tw.full <- tw.t
	tw.t = <-tw.free
	return nil
}

// close writes the rest and the footer, renaming the output into place.
func (tw *tableWriter) close() error {
	if tw.t.Len() > 0 {
		tw.full <- tw.t
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
