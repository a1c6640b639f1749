package datasets

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/engagehq/engage/atomicfile"
)

// csvField maps one struct field of a canonical row to its CSV column, named
// like the Parquet column so CSV and Parquet files of a table share a header.
type csvField struct {
	name  string
	index int
	kind  reflect.Kind
	time  bool // int64 microseconds written as RFC 3339
}

// fieldsOf lists T's columns in struct order.
func fieldsOf[T Row]() []csvField {
	t := reflect.TypeFor[T]()
	out := make([]csvField, 0, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("parquet")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" {
			name = f.Name
		}
		out = append(out, csvField{name: name, index: i, kind: f.Type.Kind(), time: strings.Contains(opts, "timestamp")})
	}
	return out
}

// ColumnNames returns the column names of canonical table T in file order.
func ColumnNames[T Row]() []string {
	fs := fieldsOf[T]()
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.name
	}
	return out
}

// FormatTime renders microseconds since the epoch as RFC 3339 UTC, the CSV
// form of every timestamp column.
func FormatTime(us int64) string {
	return time.UnixMicro(us).UTC().Format(time.RFC3339Nano)
}

// ParseTime parses an RFC 3339 timestamp into UTC microseconds.
func ParseTime(s string) (int64, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, errors.New("not an RFC 3339 time")
	}
	return t.UnixMicro(), nil
}

func (f csvField) format(v reflect.Value) string {
	switch f.kind {
	case reflect.String:
		return v.String()
	case reflect.Int64, reflect.Int32:
		if f.time {
			return FormatTime(v.Int())
		}
		return strconv.FormatInt(v.Int(), 10)
	case reflect.Float64:
		return strconv.FormatFloat(v.Float(), 'g', -1, 64)
	case reflect.Bool:
		return strconv.FormatBool(v.Bool())
	}
	return ""
}

func (f csvField) parse(s string, v reflect.Value) string {
	switch f.kind {
	case reflect.String:
		v.SetString(s)
	case reflect.Int64, reflect.Int32:
		if f.time {
			us, err := ParseTime(s)
			if err != nil {
				return err.Error()
			}
			v.SetInt(us)
			return ""
		}
		bits := 64
		if f.kind == reflect.Int32 {
			bits = 32
		}
		if s == "" {
			v.SetInt(0)
			return ""
		}
		n, err := strconv.ParseInt(s, 10, bits)
		if err != nil {
			return fmt.Sprintf("not an int%d", bits)
		}
		v.SetInt(n)
	case reflect.Float64:
		if s == "" {
			v.SetFloat(0)
			return ""
		}
		x, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return "not a number"
		}
		v.SetFloat(x)
	case reflect.Bool:
		if s == "" {
			v.SetBool(false)
			return ""
		}
		b, err := strconv.ParseBool(s)
		if err != nil {
			return "not a boolean (true/false)"
		}
		v.SetBool(b)
	}
	return ""
}

// CSVWriter writes canonical rows as CSV with a header of Parquet column names.
type CSVWriter[T Row] struct {
	cw     *csv.Writer
	bw     *bufio.Writer
	fields []csvField
	rec    []string
	header bool
	f      *atomicfile.File
	done   bool
}

// NewCSVWriter returns a CSV writer of T rows to w.
func NewCSVWriter[T Row](w io.Writer) *CSVWriter[T] {
	bw := bufio.NewWriterSize(w, 1<<16)
	fs := fieldsOf[T]()
	return &CSVWriter[T]{cw: csv.NewWriter(bw), bw: bw, fields: fs, rec: make([]string, len(fs))}
}

// CreateCSV writes T rows as CSV to path via a temp file renamed on Close.
func CreateCSV[T Row](path string) (*CSVWriter[T], error) {
	f, err := atomicfile.Create(path)
	if err != nil {
		return nil, err
	}
	w := NewCSVWriter[T](f)
	w.f = f
	return w, nil
}

// Write appends rows (the header goes first, once).
func (w *CSVWriter[T]) Write(rows []T) error {
	if w.done {
		return errors.New("write on a closed writer")
	}
	if !w.header {
		w.header = true
		for i, f := range w.fields {
			w.rec[i] = f.name
		}
		if err := w.cw.Write(w.rec); err != nil {
			return err
		}
	}
	for i := range rows {
		v := reflect.ValueOf(&rows[i]).Elem()
		for j, f := range w.fields {
			w.rec[j] = f.format(v.Field(f.index))
		}
		if err := w.cw.Write(w.rec); err != nil {
			return err
		}
	}
	return nil
}

// Close flushes and, for CreateCSV, renames the temp file onto the path.
func (w *CSVWriter[T]) Close() error {
	if w.done {
		return nil
	}
	if !w.header {
		if err := w.Write(nil); err != nil {
			return err
		}
	}
	w.done = true
	w.cw.Flush()
	err := w.cw.Error()
	if err == nil {
		err = w.bw.Flush()
	}
	return w.f.Commit(err)
}

// Abort drops the output (temp file removed).
func (w *CSVWriter[T]) Abort() error {
	if w.done {
		return nil
	}
	w.done = true
	return w.f.Abort()
}

// CSVReader reads canonical rows from CSV with a header row naming the
// columns (any order; unknown columns are an error, missing ones read as zero
// values). A malformed cell stops reading with a *RowError.
type CSVReader[T Row] struct {
	cr     *csv.Reader
	c      io.Closer
	cols   []int // record position -> field index in fields
	fields []csvField
	row    int64
	err    error
}

// NewCSVReader reads T rows from r; the header is read on the first Next.
func NewCSVReader[T Row](r io.Reader) *CSVReader[T] {
	cr := csv.NewReader(bufio.NewReaderSize(r, 1<<16))
	cr.ReuseRecord = true
	cr.FieldsPerRecord = -1
	return &CSVReader[T]{cr: cr, fields: fieldsOf[T]()}
}

// OpenCSV opens a CSV file of T rows.
func OpenCSV[T Row](path string) (*CSVReader[T], error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	r := NewCSVReader[T](f)
	r.c = f
	return r, nil
}

func (r *CSVReader[T]) readHeader() error {
	rec, err := r.cr.Read()
	if err == io.EOF {
		return &RowError{Row: 0, Reason: "empty file: no header"}
	}
	if err != nil {
		return &RowError{Row: 0, Reason: "malformed header: " + err.Error()}
	}
	byName := map[string]int{}
	for i, f := range r.fields {
		byName[f.name] = i
	}
	r.cols = make([]int, len(rec))
	seen := map[string]bool{}
	for i, h := range rec {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		j, ok := byName[h]
		if !ok {
			return &RowError{Row: 0, Column: h, Value: h, Reason: fmt.Sprintf("unknown column for table %s", TableName[T]())}
		}
		if seen[h] {
			return &RowError{Row: 0, Column: h, Value: h, Reason: "duplicate column in header"}
		}
		seen[h] = true
		r.cols[i] = j
	}
	return nil
}

// Next fills buf with up to len(buf) rows; io.EOF at the end. Row numbers in
// errors count data rows from 1 (the header is row 0).
func (r *CSVReader[T]) Next(buf []T) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if r.cols == nil {
		if err := r.readHeader(); err != nil {
			r.err = err
			return 0, err
		}
	}
	clear(buf)
	n := 0
	for n < len(buf) {
		rec, err := r.cr.Read()
		if err == io.EOF {
			r.err = io.EOF
			break
		}
		r.row++
		if err != nil {
			var pe *csv.ParseError
			reason := err.Error()
			if errors.As(err, &pe) {
				reason = pe.Err.Error()
			}
			r.err = &RowError{Row: r.row, Reason: "malformed CSV: " + reason}
			return n, r.err
		}
		if len(rec) != len(r.cols) {
			r.err = &RowError{Row: r.row, Reason: fmt.Sprintf("has %d fields, header has %d", len(rec), len(r.cols))}
			return n, r.err
		}
		v := reflect.ValueOf(&buf[n]).Elem()
		for i, s := range rec {
			f := r.fields[r.cols[i]]
			if reason := f.parse(s, v.Field(f.index)); reason != "" {
				r.err = &RowError{Row: r.row, Column: f.name, Value: s, Reason: reason}
				return n, r.err
			}
		}
		n++
	}
	if n == 0 && r.err == io.EOF {
		return 0, io.EOF
	}
	return n, nil
}

// Close releases the file.
func (r *CSVReader[T]) Close() error {
	if r.c != nil {
		return r.c.Close()
	}
	return nil
}

// isNaNOrInf reports a float that has no place in a probability or amount.
func isNaNOrInf(x float64) bool { return math.IsNaN(x) || math.IsInf(x, 0) }
