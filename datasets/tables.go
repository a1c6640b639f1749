package datasets

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/engagehq/engage/atomicfile"
	"github.com/parquet-go/parquet-go"
)

// Row is the set of canonical row types; the generic readers and writers accept
// exactly these so that every canonical file has one known schema.
type Row interface {
	Account | Event | Decision | Truth
}

// TableName returns the canonical table name of row type T ("accounts",
// "events", "decisions", "truth"), the stem of its file in a world folder.
func TableName[T Row]() string {
	var z T
	switch any(z).(type) {
	case Account:
		return "accounts"
	case Event:
		return "events"
	case Decision:
		return "decisions"
	default:
		return "truth"
	}
}

// Options tunes the canonical Parquet writers. Row groups bound the writer's
// memory: pages of the open row group are buffered until it is flushed.
type Options struct {
	// RowGroupRows is the number of rows per row group (and the most rows held
	// in memory while writing).
	RowGroupRows int
	// Compression is "zstd", "snappy" or "none".
	Compression string
	// Meta is extra key/value metadata stored in the file footer.
	Meta map[string]string
}

// DefaultOptions returns 128Ki-row groups with zstd compression: small enough to
// keep memory flat, large enough for fast column scans in DuckDB and pandas.
func DefaultOptions() Options {
	return Options{RowGroupRows: 1 << 17, Compression: "zstd"}
}

func (o Options) withDefaults() Options {
	d := DefaultOptions()
	if o.RowGroupRows <= 0 {
		o.RowGroupRows = d.RowGroupRows
	}
	if o.Compression == "" {
		o.Compression = d.Compression
	}
	return o
}

func (o Options) writerOptions() ([]parquet.WriterOption, error) {
	var opts []parquet.WriterOption
	switch strings.ToLower(o.Compression) {
	case "zstd":
		opts = append(opts, parquet.Compression(&parquet.Zstd))
	case "snappy":
		opts = append(opts, parquet.Compression(&parquet.Snappy))
	case "none", "uncompressed":
	default:
		return nil, fmt.Errorf("unknown compression %q (want zstd, snappy or none)", o.Compression)
	}
	// Fixed CreatedBy: the same rows always give the same bytes, whatever the
	// build, so worlds generated from one seed compare equal with cmp.
	opts = append(opts, parquet.CreatedBy("engage", "1", ""))
	for k, v := range o.Meta {
		opts = append(opts, parquet.KeyValueMetadata(k, v))
	}
	return opts, nil
}

// Writer streams rows of one canonical table to Parquet, flushing a row group
// every Options.RowGroupRows rows so memory stays flat however large the file.
type Writer[T Row] struct {
	pw      *parquet.GenericWriter[T]
	opts    Options
	pending int
	rows    int64
	// set when the writer owns a temp file that becomes its path on Close.
	f    *atomicfile.File
	done bool
}

// NewWriter returns a writer of T rows to w. The caller closes w after Close.
func NewWriter[T Row](w io.Writer, opts Options) (*Writer[T], error) {
	opts = opts.withDefaults()
	po, err := opts.writerOptions()
	if err != nil {
		return nil, err
	}
	return &Writer[T]{pw: parquet.NewGenericWriter[T](w, po...), opts: opts}, nil
}

// Create writes T rows to path through a temp file in the same folder, renamed
// onto path by Close; Abort (or a failed Close) removes it, so a failed command
// never leaves a partial table behind.
func Create[T Row](path string, opts Options) (*Writer[T], error) {
	f, err := atomicfile.Create(path)
	if err != nil {
		return nil, err
	}
	w, err := NewWriter[T](f, opts)
	if err != nil {
		f.Abort()
		return nil, err
	}
	w.f = f
	return w, nil
}

// Write appends rows, flushing full row groups as it goes.
func (w *Writer[T]) Write(rows []T) error {
	if w.done {
		return errors.New("write on a closed writer")
	}
	for len(rows) > 0 {
		n := min(len(rows), w.opts.RowGroupRows-w.pending)
		if _, err := w.pw.Write(rows[:n]); err != nil {
			return fmt.Errorf("write %s: %w", TableName[T](), err)
		}
		rows = rows[n:]
		w.pending += n
		w.rows += int64(n)
		if w.pending >= w.opts.RowGroupRows {
			if err := w.pw.Flush(); err != nil {
				return fmt.Errorf("flush %s row group: %w", TableName[T](), err)
			}
			w.pending = 0
		}
	}
	return nil
}

// Rows returns the number of rows written so far.
func (w *Writer[T]) Rows() int64 { return w.rows }

// Close writes the footer and, for Create, syncs and renames the temp file
// onto the final path. On error the temp file is removed.
func (w *Writer[T]) Close() error {
	if w.done {
		return nil
	}
	w.done = true
	err := w.pw.Close()
	return w.f.Commit(err)
}

// Abort drops everything written; for Create the temp file is removed and the
// final path is left untouched.
func (w *Writer[T]) Abort() error {
	if w.done {
		return nil
	}
	w.done = true
	return w.f.Abort()
}

// RowReader is what the readers of canonical tables share, Parquet or CSV:
// batched reads into a caller-owned buffer so memory stays flat.
type RowReader[T Row] interface {
	// Next fills buf from the start and returns how many rows it filled;
	// io.EOF (with n == 0) at the end.
	Next(buf []T) (int, error)
	Close() error
}

// Reader streams rows of one canonical table from Parquet. Files written by
// other tools are read too: columns are matched by name, optional columns
// read as zero values when null, and missing columns as zero values.
type Reader[T Row] struct {
	f  *os.File
	pr *parquet.GenericReader[T]
}

// Open opens a Parquet file of T rows.
func Open[T Row](path string) (*Reader[T], error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	pf, err := parquet.OpenFile(f, st.Size(), parquet.ReadBufferSize(1<<20))
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if err := checkSchema[T](pf.Schema()); err != nil {
		f.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	var pr *parquet.GenericReader[T]
	if err := noPanic(func() error { pr = parquet.NewGenericReader[T](pf); return nil }); err != nil {
		f.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return &Reader[T]{f: f, pr: pr}, nil
}

// noPanic runs fn and turns a panic inside the Parquet library (which it may
// raise on corrupt or unexpected files) into an error: bad input never crashes
// a command.
func noPanic(fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("malformed parquet: %v", r)
		}
	}()
	return fn()
}

// checkSchema refuses files that share no column with T, which are almost
// certainly the wrong table (a decisions file opened as events, say), and
// files whose shared columns have incompatible physical types.
func checkSchema[T Row](s *parquet.Schema) error {
	var z T
	want := parquet.SchemaOf(z)
	have := map[string]parquet.Field{}
	for _, f := range s.Fields() {
		have[f.Name()] = f
	}
	shared := 0
	for _, f := range want.Fields() {
		g, ok := have[f.Name()]
		if !ok {
			continue
		}
		shared++
		if !g.Leaf() {
			return fmt.Errorf("column %s is nested, want %s", f.Name(), f.Type())
		}
		wk, hk := f.Type().Kind(), g.Type().Kind()
		if wk != hk && !(wk == parquet.Int64 && hk == parquet.Int32) && !(wk == parquet.Double && hk == parquet.Float) {
			return fmt.Errorf("column %s has type %s, want %s", f.Name(), g.Type(), f.Type())
		}
	}
	if shared == 0 {
		return fmt.Errorf("no %s columns in file", TableName[T]())
	}
	return nil
}

// NumRows returns the number of rows in the file.
func (r *Reader[T]) NumRows() int64 { return r.pr.NumRows() }

// Next reads up to len(buf) rows into buf; io.EOF at the end.
func (r *Reader[T]) Next(buf []T) (int, error) {
	if len(buf) == 0 {
		return 0, nil
	}
	clear(buf)
	var n int
	err := noPanic(func() (err error) { n, err = r.pr.Read(buf); return err })
	if err == io.EOF {
		if n > 0 {
			return n, nil
		}
		return 0, io.EOF
	}
	if err != nil {
		return n, fmt.Errorf("read %s: %w", TableName[T](), err)
	}
	return n, nil
}

// Close releases the file.
func (r *Reader[T]) Close() error {
	r.pr.Close()
	return r.f.Close()
}

// ReadAll reads a whole Parquet file of T rows; for small tables and tests.
func ReadAll[T Row](path string) ([]T, error) {
	r, err := Open[T](path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	out := make([]T, 0, r.NumRows())
	buf := make([]T, 4096)
	for {
		n, err := r.Next(buf)
		out = append(out, buf[:n]...)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// WriteAll writes rows to path (temp file + rename).
func WriteAll[T Row](path string, rows []T, opts Options) error {
	w, err := Create[T](path, opts)
	if err != nil {
		return err
	}
	if err := w.Write(rows); err != nil {
		w.Abort()
		return err
	}
	return w.Close()
}

// OpenRows opens a canonical table as Parquet or, when the name ends in .csv,
// as CSV.
func OpenRows[T Row](path string) (RowReader[T], error) {
	if strings.EqualFold(filepath.Ext(path), ".csv") {
		return OpenCSV[T](path)
	}
	return Open[T](path)
}
