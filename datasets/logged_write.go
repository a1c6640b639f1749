package datasets

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/klauspost/compress/s2"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/compress/zstd"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"

	"github.com/engagehq/engage/atomicfile"
)

// LoggedOptions tunes how a LoggedWriter lays out and compresses a logged
// table. The defaults favour write speed on wide feature tables (X.parquet:
// 100+ columns, millions of rows) over file size.
type LoggedOptions struct {
	// RowGroupRows is the number of rows per row group. Memory does not grow
	// with it (pages are encoded as they fill), only the compressed row group
	// is held until it is written.
	RowGroupRows int
	// PageRows is the number of rows per data page.
	PageRows int
	// Compression is "snappy", "zstd" (fastest level) or "none".
	Compression string
	// MaxDictionary is the most distinct values a column chunk's dictionary
	// takes before the chunk's next pages (and the column's next chunks) are
	// written PLAIN: a dictionary of mostly unique values only costs, and a
	// lookup in a table too big for the core's cache costs more than the
	// PLAIN value it replaces.
	MaxDictionary int
	// Workers is the number of goroutines encoding columns in parallel; <= 0
	// means GOMAXPROCS.
	Workers int
}

// DefaultLoggedOptions returns 128Ki-row groups of 16Ki-row pages, snappy, and
// dictionaries of up to 4Ki values, encoded on every core. Measured on the
// features benchmark (X.parquet, 136 columns): encoding with snappy took
// about 60% of the CPU of zstd's fastest level, for a file a third larger
// (snappy is also what pandas writes by default); 4Ki-value dictionaries
// took ~7% less CPU for the whole build than 32Ki, for an ~11% larger file.
// Use CreateLoggedWith for smaller files (zstd, larger MaxDictionary).
func DefaultLoggedOptions() LoggedOptions {
	return LoggedOptions{RowGroupRows: 1 << 17, PageRows: 1 << 14, Compression: "snappy", MaxDictionary: 1 << 12}
}

func (o LoggedOptions) withDefaults() LoggedOptions {
	d := DefaultLoggedOptions()
	if o.RowGroupRows <= 0 {
		o.RowGroupRows = d.RowGroupRows
	}
	if o.PageRows <= 0 {
		o.PageRows = d.PageRows
	}
	o.PageRows = min(o.PageRows, o.RowGroupRows)
	if o.Compression == "" {
		o.Compression = d.Compression
	}
	if o.MaxDictionary <= 0 {
		o.MaxDictionary = d.MaxDictionary
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	return o
}

// codec returns the page compressor for name; nil means uncompressed.
func codec(name string) (compress.Codec, error) {
	switch strings.ToLower(name) {
	case "snappy":
		return fastSnappy{}, nil
	case "zstd":
		return &zstd.Codec{Level: zstd.SpeedFastest}, nil
	case "none", "uncompressed":
		return nil, nil
	}
	return nil, fmt.Errorf("unknown compression %q (want snappy, zstd or none)", name)
}

// fastSnappy is the SNAPPY codec at klauspost/s2's fast level; parquet-go's
// codec uses the "better" level, which cost noticeably more CPU on X.parquet
// for pages ~8% smaller.
type fastSnappy struct{}

func (fastSnappy) String() string                            { return "SNAPPY" }
func (fastSnappy) CompressionCodec() format.CompressionCodec { return format.Snappy }
func (fastSnappy) Encode(dst, src []byte) ([]byte, error) {
	return s2.EncodeSnappy(dst[:cap(dst)], src), nil
}
func (fastSnappy) Decode(dst, src []byte) ([]byte, error) { return s2.Decode(dst[:cap(dst)], src) }

// LoggedWriter streams Tables to Parquet (one or more row groups per Write call,
// flat memory). CreateLogged writes to a temp file in the same folder and renames it
// on Close; Abort removes the temp file, so a failed command leaves no partial output.
//
// The writer encodes pages itself, column by column on every core: numeric,
// time and categorical chunks are dictionary encoded (RLE/bit-packed indices)
// while their dictionary stays small, else PLAIN; pages are DATA_PAGE (v1).
// The same rows always give the same bytes, whatever the number of workers.
type LoggedWriter struct {
	w       io.Writer
	off     int64
	cols    []Column
	opts    LoggedOptions
	enc     []*colEnc
	rgRows  int
	pending int
	rows    int64
	foot    format.FileMetaData
	err     error                    // sticky: the file is unusable after a failed write
	scratch [][gatherGroup][]float64 // per worker: gathered row-major columns
	f       *atomicfile.File
	synced  int64 // bytes of f handed to startWriteback
	done    bool
}

// NewLoggedWriter returns a writer of a logged table with columns cols to w,
// with DefaultLoggedOptions. meta is added to the file's key/value metadata
// beside engage.columns.
func NewLoggedWriter(w io.Writer, cols []Column, meta map[string]string) (*LoggedWriter, error) {
	return NewLoggedWriterWith(w, cols, meta, DefaultLoggedOptions())
}

// NewLoggedWriterWith is NewLoggedWriter with explicit options.
func NewLoggedWriterWith(w io.Writer, cols []Column, meta map[string]string, opts LoggedOptions) (*LoggedWriter, error) {
	if err := validColumns(cols); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	cdc, err := codec(opts.Compression)
	if err != nil {
		return nil, err
	}
	js, err := json.Marshal(cols)
	if err != nil {
		return nil, err
	}
	foot, err := footerTemplate(cols)
	if err != nil {
		return nil, err
	}
	kv := map[string]string{}
	for k, v := range meta {
		kv[k] = v
	}
	kv[MetaColumns] = string(js)
	for _, k := range slices.Sorted(maps.Keys(kv)) { // deterministic footer
		foot.KeyValueMetadata = append(foot.KeyValueMetadata, format.KeyValue{Key: k, Value: kv[k]})
	}
	lw := &LoggedWriter{w: w, cols: cols, opts: opts, rgRows: opts.RowGroupRows, foot: foot}
	for _, c := range cols {
		lw.enc = append(lw.enc, newColEnc(c, opts, cdc))
	}
	if err := lw.write([]byte("PAR1")); err != nil {
		return nil, err
	}
	return lw, nil
}

// footerTemplate returns the file metadata parquet-go writes for the logged
// schema of cols (schema elements, column orders, created-by), so the footer
// describes the columns exactly as parquet-go's own writer would.
func footerTemplate(cols []Column) (format.FileMetaData, error) {
	var buf bytes.Buffer
	err := noPanic(func() error {
		pw := parquet.NewWriter(&buf, loggedSchema(cols), parquet.CreatedBy("engage", "1", ""))
		return pw.Close()
	})
	if err != nil {
		return format.FileMetaData{}, fmt.Errorf("logged schema: %w", err)
	}
	var pf *parquet.File
	err = noPanic(func() (err error) {
		pf, err = parquet.OpenFile(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
		return err
	})
	if err != nil {
		return format.FileMetaData{}, fmt.Errorf("logged schema: %w", err)
	}
	m := pf.Metadata()
	if len(m.Schema) != len(cols)+1 {
		return format.FileMetaData{}, fmt.Errorf("logged schema: %d schema elements for %d columns", len(m.Schema), len(cols))
	}
	return format.FileMetaData{
		Version:      2,
		Schema:       slices.Clone(m.Schema),
		CreatedBy:    m.CreatedBy,
		ColumnOrders: slices.Clone(m.ColumnOrders),
	}, nil
}

// CreateLogged writes a logged table to path via a temp file renamed on Close.
func CreateLogged(path string, cols []Column, meta map[string]string) (*LoggedWriter, error) {
	return CreateLoggedWith(path, cols, meta, DefaultLoggedOptions())
}

// CreateLoggedWith is CreateLogged with explicit options.
func CreateLoggedWith(path string, cols []Column, meta map[string]string, opts LoggedOptions) (*LoggedWriter, error) {
	f, err := atomicfile.Create(path)
	if err != nil {
		return nil, err
	}
	w, err := NewLoggedWriterWith(f, cols, meta, opts)
	if err != nil {
		f.Abort()
		return nil, err
	}
	w.f = f
	return w, nil
}

// Columns returns the writer's columns.
func (w *LoggedWriter) Columns() []Column { return w.cols }

// Rows returns the number of rows written so far.
func (w *LoggedWriter) Rows() int64 { return w.rows }

// Write appends all rows of t, whose columns must match the writer's. t is
// not retained: the caller may reuse it once Write returns.
func (w *LoggedWriter) Write(t *Table) error {
	if err := w.accepts(t); err != nil {
		return err
	}
	if err := t.check(); err != nil {
		return fmt.Errorf("write logged table: %w", err)
	}
	return w.inRowGroups(t.Len(), func(lo, hi int) {
		w.each(func(i int) { w.enc[i].add(t, i, lo, hi) })
	})
}

// accepts refuses a write on a closed or failed writer, or of a table whose
// columns are not the writer's.
func (w *LoggedWriter) accepts(t *Table) error {
	if w.done {
		return errors.New("write on a closed logged writer")
	}
	if w.err != nil {
		return w.err
	}
	if err := sameColumns(w.cols, t.Columns); err != nil {
		return fmt.Errorf("write logged table: %w", err)
	}
	return nil
}

// inRowGroups has encode add n more rows in ranges [lo, hi) of the table
// that never cross a row-group boundary, flushing each row group it fills.
func (w *LoggedWriter) inRowGroups(n int, encode func(lo, hi int)) error {
	for done := 0; done < n; {
		k := min(n-done, w.rgRows-w.pending)
		encode(done, done+k)
		done += k
		w.pending += k
		w.rows += int64(k)
		if w.pending >= w.rgRows {
			if err := w.flushRowGroup(); err != nil {
				return err
			}
		}
	}
	return nil
}

// RowMajor holds the numeric columns First .. First+Width-1 of a table row
// by row: Values[r*Width+j] is column First+j of row r. It is the layout in
// which a feature read-out produces its values; WriteRowMajor encodes them
// without first copying them into one slice per column.
type RowMajor struct {
	First, Width int
	Values       []float64
}

// Rows returns the number of rows held.
func (m *RowMajor) Rows() int {
	if m.Width <= 0 {
		return 0
	}
	return len(m.Values) / m.Width
}

// gatherGroup is the number of row-major columns an encoding worker gathers
// together: one pass over the rows reads each cache line of the block once
// for all of them.
const gatherGroup = 8

// gatherRows is the number of rows gathered at a time: gatherGroup columns
// of them (128 KiB) stay in the worker core's L2 cache.
const gatherRows = 2048

// WriteRowMajor is Write for a table whose numeric columns m.First ..
// m.First+m.Width-1 are given row by row in m rather than in t.Floats (which
// are ignored for them and may be empty). The file is the same as Write's of
// the transposed table. Neither t nor m is retained.
func (w *LoggedWriter) WriteRowMajor(t *Table, m *RowMajor) error {
	if err := w.accepts(t); err != nil {
		return err
	}
	if m.Width <= 0 || m.First < 0 || m.First+m.Width > len(w.cols) || len(m.Values)%m.Width != 0 {
		return fmt.Errorf("write logged table: row-major block of columns [%d, %d) with %d values does not fit %d columns",
			m.First, m.First+m.Width, len(m.Values), len(w.cols))
	}
	for j := m.First; j < m.First+m.Width; j++ {
		if w.cols[j].Kind != KindNumeric {
			return fmt.Errorf("write logged table: row-major column %s is %s, not numeric", w.cols[j].Name, w.cols[j].Kind)
		}
	}
	n := m.Rows()
	// check the other columns as Table.check does, against the block's rows
	for i, c := range w.cols {
		if i >= m.First && i < m.First+m.Width {
			continue
		}
		if l := t.colLen(i); l != n {
			return fmt.Errorf("write logged table: column %s has %d rows, the row-major block %d", c.Name, l, n)
		}
	}
	groups := (m.Width + gatherGroup - 1) / gatherGroup
	// work items: the other columns one by one, then the block's groups
	others := make([]int, 0, len(w.cols)-m.Width)
	for i := range w.cols {
		if i < m.First || i >= m.First+m.Width {
			others = append(others, i)
		}
	}
	return w.inRowGroups(n, func(lo, hi int) {
		w.eachN(len(others)+groups, func(worker, item int) {
			if item < len(others) {
				i := others[item]
				w.enc[i].add(t, i, lo, hi)
				return
			}
			g := item - len(others)
			j0 := g * gatherGroup
			j1 := min(j0+gatherGroup, m.Width)
			w.gather(worker, m, j0, j1, lo, hi)
		})
	})
}

// gather encodes rows [lo, hi) of the block's columns j0 .. j1-1, copying
// them out gatherRows rows at a time into the worker's scratch columns.
func (w *LoggedWriter) gather(worker int, m *RowMajor, j0, j1, lo, hi int) {
	sc := &w.scratch[worker]
	if len(sc[0]) < gatherRows {
		for c := range sc {
			sc[c] = make([]float64, gatherRows)
		}
	}
	W, nc := m.Width, j1-j0
	for r0 := lo; r0 < hi; r0 += gatherRows {
		r1 := min(r0+gatherRows, hi)
		rows := m.Values[r0*W : r1*W]
		k := r1 - r0
		if nc == gatherGroup {
			s0, s1, s2, s3 := sc[0][:k], sc[1][:k], sc[2][:k], sc[3][:k]
			s4, s5, s6, s7 := sc[4][:k], sc[5][:k], sc[6][:k], sc[7][:k]
			for r := range k {
				v := rows[r*W+j0 : r*W+j0+gatherGroup : r*W+j0+gatherGroup]
				s0[r], s1[r], s2[r], s3[r] = v[0], v[1], v[2], v[3]
				s4[r], s5[r], s6[r], s7[r] = v[4], v[5], v[6], v[7]
			}
		} else {
			for r := range k {
				v := rows[r*W+j0 : r*W+j1]
				for c, x := range v {
					sc[c][r] = x
				}
			}
		}
		for c := range nc {
			w.enc[m.First+j0+c].addFloats(sc[c][:k])
		}
	}
}

// each runs fn for every column on up to Workers goroutines, columns handed
// out one at a time so a slow column (strings, PLAIN pages) does not hold up
// the others.
func (w *LoggedWriter) each(fn func(i int)) {
	w.eachN(len(w.enc), func(_, i int) { fn(i) })
}

// eachN runs fn for items 0 .. n-1 on up to Workers goroutines, handed out
// one at a time; worker (0 .. Workers-1) names the goroutine, for scratch
// space.
func (w *LoggedWriter) eachN(n int, fn func(worker, item int)) {
	k := min(w.opts.Workers, n)
	if len(w.scratch) < max(k, 1) {
		w.scratch = make([][gatherGroup][]float64, max(k, 1))
	}
	if k <= 1 {
		for i := range n {
			fn(0, i)
		}
		return
	}
	var next atomic.Int64
	work := func(worker int) {
		for {
			i := int(next.Add(1) - 1)
			if i >= n {
				return
			}
			fn(worker, i)
		}
	}
	var wg sync.WaitGroup
	for g := range k - 1 {
		wg.Go(func() { work(g + 1) })
	}
	work(0)
	wg.Wait()
}

func (w *LoggedWriter) write(b []byte) error {
	n, err := w.w.Write(b)
	w.off += int64(n)
	if err != nil {
		w.err = fmt.Errorf("write logged table: %w", err)
		return w.err
	}
	return nil
}

// flushRowGroup finishes every column chunk (in parallel) and appends them to
// the file in column order.
func (w *LoggedWriter) flushRowGroup() error {
	if w.pending == 0 {
		return nil
	}
	w.each(func(i int) { w.enc[i].finishChunk() })
	rg := format.RowGroup{NumRows: int64(w.pending), FileOffset: w.off}
	if n := len(w.foot.RowGroups); n <= math.MaxInt16 {
		rg.Ordinal = int16(n)
	}
	for i, e := range w.enc {
		if e.err != nil {
			w.err = fmt.Errorf("write logged table: column %s: %w", w.cols[i].Name, e.err)
			return w.err
		}
		start := w.off
		md := e.meta
		md.PathInSchema = []string{w.cols[i].Name}
		if len(e.dictPage) > 0 {
			md.DictionaryPageOffset = w.off
			if err := w.write(e.dictPage); err != nil {
				return err
			}
		}
		md.DataPageOffset = w.off
		if err := w.write(e.data); err != nil {
			return err
		}
		rg.Columns = append(rg.Columns, format.ColumnChunk{FileOffset: start, MetaData: md})
		rg.TotalByteSize += md.TotalUncompressedSize
		rg.TotalCompressedSize += md.TotalCompressedSize
		e.resetChunk()
	}
	w.foot.RowGroups = append(w.foot.RowGroups, rg)
	w.foot.NumRows += rg.NumRows
	w.pending = 0
	w.startWriteback()
	return nil
}

// Close writes the last row group and the footer and, for CreateLogged,
// renames the temp file onto the final path.
func (w *LoggedWriter) Close() error {
	if w.done {
		return nil
	}
	w.done = true
	err := w.err
	if err == nil {
		err = w.finish()
	}
	return w.f.Commit(err)
}

func (w *LoggedWriter) finish() error {
	if err := w.flushRowGroup(); err != nil {
		return err
	}
	b, err := thrift.Marshal(new(thrift.CompactProtocol), &w.foot)
	if err != nil {
		return fmt.Errorf("write logged table footer: %w", err)
	}
	b = binary.LittleEndian.AppendUint32(b, uint32(len(b)))
	b = append(b, "PAR1"...)
	return w.write(b)
}

// Abort drops the output; for CreateLogged the temp file is removed.
func (w *LoggedWriter) Abort() error {
	if w.done {
		return nil
	}
	w.done = true
	return w.f.Abort()
}
