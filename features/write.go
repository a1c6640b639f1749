package features

import (
	"math"

	"github.com/engagehq/engage/datasets"
)

// tableRows is the number of rows per table handed to the Parquet writer.
const tableRows = 8192

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
	tw.act = tw.first + len(numericNames) + 1
	tw.outc = tw.act + 4
	tw.t = datasets.NewTable(cols, tableRows)
	tw.free <- datasets.NewTable(cols, tableRows)
	go func() {
		var err error
		for t := range tw.full {
			if err == nil {
				err = w.Write(t)
			}
			t.Reset()
			tw.free <- t
		}
		tw.done <- err
	}()
	return tw
}

// add appends an account's rows.
func (tw *tableWriter) add(a *Account, rows []pendingRow) error {
	if len(rows) == 0 {
		return nil
	}
	tw.cats = a.Categorical(tw.cats[:0])
	t := tw.t
	for i := range rows {
		r := &rows[i]
		d := r.d
		t.AppendString(0, d.DecisionID)
		t.AppendString(1, d.AccountID)
		t.AppendTime(2, d.At)
		for j, c := range tw.cats {
			t.AppendString(3+j, c)
		}
		for j, v := range r.feat {
			t.AppendFloat(tw.first+j, v)
		}
		t.AppendString(tw.act, d.Channel)
		t.AppendFloat(tw.act+1, float64(d.LocalHour))
		t.AppendString(tw.act+2, d.Message)
		p := d.Propensity
		if p <= 0 {
			p = math.NaN() // 0 means unknown in decisions.parquet
		}
		t.AppendFloat(tw.act+3, p)
		for j, v := range r.out {
			t.AppendFloat(tw.outc+j, v)
		}
		if t.Len() >= tableRows {
			if err := tw.flush(); err != nil {
				return err
			}
			t = tw.t
		}
	}
	return nil
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
