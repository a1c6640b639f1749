package datasets

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/engagehq/engage/atomicfile"
)

// ImportOptions tunes Import.
type ImportOptions struct {
	// MaxErrors caps the row errors kept (all are counted).
	MaxErrors int
	// BatchRows is the number of rows buffered before a write.
	BatchRows int
	// Progress, when set, is called every few thousand rows with the rows
	// and input bytes consumed so far (during the writing pass).
	Progress func(rows, bytes int64)
	// Meta is added to the output's key/value metadata.
	Meta map[string]string
}

// DefaultImportOptions keeps 1000 errors and writes 64Ki-row batches.
func DefaultImportOptions() ImportOptions {
	return ImportOptions{MaxErrors: 1000, BatchRows: 1 << 16}
}

// Import turns the CSV file in into a logged-decisions table at out, per spec.
// Any bad row makes it fail with a *ValidationError naming every bad row, and
// then nothing is left at out. It returns the number of rows written.
func Import(ctx context.Context, spec *Spec, in, out string, opts ImportOptions) (int64, error) {
	f, err := os.Open(in)
	if err != nil {
		return 0, fmt.Errorf("import: %w", err)
	}
	defer f.Close()
	tf, err := atomicfile.Create(out)
	if err != nil {
		return 0, fmt.Errorf("import: %w", err)
	}
	meta := map[string]string{"engage.source": filepath.Base(in)}
	for k, v := range opts.Meta {
		meta[k] = v
	}
	opts.Meta = meta
	n, err := ImportCSV(ctx, spec, f, tf, opts)
	if err != nil {
		tf.Abort()
		return 0, err
	}
	if err := tf.Commit(nil); err != nil {
		return 0, err
	}
	return n, nil
}

// ImportCSV reads CSV from in (read twice when a column's kind must be
// inferred, hence the Seeker) and writes the logged table to out. On error
// out holds garbage; Import removes it.
func ImportCSV(ctx context.Context, spec *Spec, in io.ReadSeeker, out io.Writer, opts ImportOptions) (int64, error) {
	d := DefaultImportOptions()
	if opts.MaxErrors <= 0 {
		opts.MaxErrors = d.MaxErrors
	}
	if opts.BatchRows <= 0 {
		opts.BatchRows = d.BatchRows
	}
	im := &importer{spec: spec, opts: opts, verr: &ValidationError{Table: "import " + spec.Name}}
	cols := slices.Clone(spec.Columns)
	if needInference(cols) {
		if err := inferKinds(ctx, spec, cols, in); err != nil {
			return 0, err
		}
		if _, err := in.Seek(0, io.SeekStart); err != nil {
			return 0, fmt.Errorf("import: rewind input: %w", err)
		}
	}
	im.cols = cols
	return im.run(ctx, in, out)
}

type importer struct {
	spec *Spec
	opts ImportOptions
	cols []ColumnSpec
	verr *ValidationError
}

func (im *importer) bad(row int64, col, val, reason string) {
	im.verr.Total++
	if len(im.verr.Errors) < im.opts.MaxErrors {
		im.verr.Errors = append(im.verr.Errors, RowError{Row: row, Column: col, Value: val, Reason: reason})
	}
}

// outCol links an output column to its source.
type outCol struct {
	spec *ColumnSpec // nil for the row number
	src  int         // CSV field index; -1 when absent or constant
	set  map[string]bool
}

func (im *importer) run(ctx context.Context, in io.Reader, out io.Writer) (int64, error) {
	cr := &countingReader{r: in}
	rd := newRecordReader(im.spec, cr)
	header, err := rd.read()
	if err == io.EOF {
		return 0, &ValidationError{Table: "import " + im.spec.Name, Errors: []RowError{{Reason: "empty file: no header"}}, Total: 1}
	}
	if err != nil {
		return 0, &ValidationError{Table: "import " + im.spec.Name, Errors: []RowError{{Reason: "malformed header: " + err.Error()}}, Total: 1}
	}
	header = slices.Clone(header)
	pos := map[string]int{}
	for i, h := range header {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		header[i] = h
		if _, dup := pos[h]; dup {
			im.bad(0, h, h, "duplicate column in the CSV header")
			continue
		}
		pos[h] = i
	}
	listed := map[string]bool{}
	var cols []Column
	var outs []outCol
	if im.spec.RowNumber != "" {
		cols = append(cols, Column{Name: im.spec.RowNumber, Role: RoleID, Kind: KindNumeric})
		outs = append(outs, outCol{src: -1})
	}
	for i := range im.cols {
		c := &im.cols[i]
		src := -1
		if c.Constant == nil {
			listed[c.Name] = true
			p, ok := pos[c.Name]
			if !ok {
				im.bad(0, c.Name, "", "column named in the spec is missing from the CSV header")
			}
			if ok {
				src = p
			}
		} else if _, clash := pos[c.Name]; clash {
			im.bad(0, c.Name, c.Name, "constant column also present in the CSV")
		}
		if c.Role == RoleIgnore {
			continue
		}
		oc := outCol{spec: c, src: src}
		if len(c.Levels) > 0 {
			oc.set = map[string]bool{}
			for _, l := range c.Levels {
				oc.set[l] = true
			}
		}
		cols = append(cols, Column{Name: c.OutName(), Role: c.Role, Kind: c.Kind, Levels: c.Levels})
		outs = append(outs, oc)
	}
	if im.spec.Unlisted == "error" {
		for _, h := range header {
			if !listed[h] {
				im.bad(0, h, h, "CSV column not in the spec (list it, with role: ignore to drop it)")
			}
		}
	}
	meta := map[string]string{"engage.spec": im.spec.Name}
	if len(im.spec.raw) > 0 {
		meta["engage.spec_yaml"] = string(im.spec.raw)
	}
	for k, v := range im.opts.Meta {
		meta[k] = v
	}
	w, err := NewLoggedWriter(out, cols, meta)
	if err != nil {
		return 0, fmt.Errorf("import: %w", err)
	}
	t := NewTable(cols, im.opts.BatchRows)
	var (
		row     int64
		written int64
		fl      = make([]float64, len(outs))
		st      = make([]string, len(outs))
		tm      = make([]int64, len(outs))
	)
	for {
		rec, err := rd.read()
		if err == io.EOF {
			break
		}
		row++
		if row%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return 0, err
			}
			if im.opts.Progress != nil {
				im.opts.Progress(row, cr.n)
			}
		}
		if err != nil {
			im.bad(row, "", "", "malformed CSV: "+err.Error())
			continue
		}
		if len(rec) != len(header) {
			im.bad(row, "", strings.Join(rec, string(im.spec.comma())), fmt.Sprintf("has %d fields, header has %d", len(rec), len(header)))
			continue
		}
		ok := true
		for j, oc := range outs {
			if oc.spec == nil {
				fl[j] = float64(row - 1)
				continue
			}
			c := oc.spec
			if c.Constant != nil {
				fl[j] = *c.Constant
				continue
			}
			if oc.src < 0 {
				continue // reported in the header check
			}
			v := rec[oc.src]
			if im.spec.TrimSpace {
				v = strings.TrimSpace(v)
			}
			if reason := convert(c, oc.set, v, &fl[j], &st[j], &tm[j]); reason != "" {
				im.bad(row, c.Name, v, reason)
				ok = false
			}
		}
		if !ok || im.verr.Total > 0 {
			continue // keep scanning to report every bad row, but write nothing more
		}
		for j, c := range cols {
			switch c.Kind {
			case KindNumeric:
				t.AppendFloat(j, fl[j])
			case KindTime:
				t.AppendTime(j, tm[j])
			default:
				t.AppendString(j, st[j]) // csv gives each record its own backing string
			}
		}
		if t.Len() >= im.opts.BatchRows {
			if err := w.Write(t); err != nil {
				return 0, fmt.Errorf("import: %w", err)
			}
			written += int64(t.Len())
			t.Reset()
		}
	}
	if im.verr.Total > 0 {
		return 0, im.verr
	}
	if err := w.Write(t); err != nil {
		return 0, fmt.Errorf("import: %w", err)
	}
	written += int64(t.Len())
	if err := w.Close(); err != nil {
		return 0, fmt.Errorf("import: %w", err)
	}
	if im.opts.Progress != nil {
		im.opts.Progress(row, cr.n)
	}
	return written, nil
}

// convert parses cell v of column c into the slot of its kind; it returns the
// reason when v is bad.
func convert(c *ColumnSpec, levels map[string]bool, v string, f *float64, s *string, t *int64) string {
	if c.isMissing(v) {
		*f, *s, *t = math.NaN(), "", MissingTime
		return ""
	}
	switch c.Kind {
	case KindNumeric:
		if c.Map != nil {
			x, ok := c.Map[v]
			if !ok {
				return "value not in the mapping (want one of " + strings.Join(mapKeys(c.Map), ", ") + ")"
			}
			*f = x
			return ""
		}
		x, ok := parseFinite(v)
		if !ok {
			if v == "" {
				return "empty cell in a numeric column"
			}
			return "not a number in a numeric column"
		}
		if c.Role == RolePropensity && (x <= 0 || x > 1) {
			return "propensity not in (0, 1]"
		}
		*f = x
	case KindTime:
		us, reason := c.parseTime(v)
		if reason != "" {
			return reason
		}
		*t = us
	default:
		if v == "" && (c.Role == RoleID || c.Role == RoleOutcome) {
			return "empty cell"
		}
		if levels != nil && !levels[v] {
			return "value not in the listed levels (want one of " + strings.Join(c.Levels, ", ") + ")"
		}
		*s = v
	}
	return ""
}

func parseFinite(v string) (float64, bool) {
	x, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
		return 0, false
	}
	return x, true
}

func mapKeys(m map[string]float64) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func needInference(cols []ColumnSpec) bool {
	for _, c := range cols {
		if c.Role != RoleIgnore && c.Kind == "" {
			return true
		}
	}
	return false
}

// inferKinds sets the kind of every column that has none: numeric when every
// non-missing value parses as a finite number (and there is one), else
// categorical. Malformed rows are skipped here; the writing pass reports them.
func inferKinds(ctx context.Context, spec *Spec, cols []ColumnSpec, in io.Reader) error {
	rd := newRecordReader(spec, in)
	header, err := rd.read()
	if err != nil {
		return nil // the writing pass reports it
	}
	pos := map[string]int{}
	for i, h := range header {
		pos[strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))] = i
	}
	type state struct {
		src     int
		numeric bool
		seen    bool
	}
	st := map[int]*state{}
	for i, c := range cols {
		if c.Role == RoleIgnore || c.Kind != "" {
			continue
		}
		p, ok := pos[c.Name]
		if !ok {
			p = -1
		}
		st[i] = &state{src: p, numeric: true}
	}
	n := 0
	for {
		rec, err := rd.read()
		if err == io.EOF {
			break
		}
		if n++; n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if err != nil || len(rec) != len(header) {
			continue
		}
		for i, s := range st {
			if s.src < 0 || !s.numeric {
				continue
			}
			v := rec[s.src]
			if spec.TrimSpace {
				v = strings.TrimSpace(v)
			}
			if cols[i].isMissing(v) {
				continue
			}
			if _, ok := parseFinite(v); !ok {
				s.numeric = false
			}
			s.seen = true
		}
	}
	for i, s := range st {
		if s.numeric && s.seen {
			cols[i].Kind = KindNumeric
		} else {
			cols[i].Kind = KindCategorical
		}
	}
	return nil
}

// recordReader yields CSV records, quoted (encoding/csv) or split plainly.
type recordReader struct {
	cr    *csv.Reader
	br    *bufio.Reader
	comma string
	rec   []string
}

func newRecordReader(spec *Spec, r io.Reader) *recordReader {
	if spec.quoted() {
		cr := csv.NewReader(bufio.NewReaderSize(r, 1<<16))
		cr.Comma = spec.comma()
		cr.FieldsPerRecord = -1
		cr.ReuseRecord = true
		return &recordReader{cr: cr}
	}
	return &recordReader{br: bufio.NewReaderSize(r, 1<<16), comma: string(spec.comma())}
}

// read returns the next record; empty lines are skipped.
func (r *recordReader) read() ([]string, error) {
	if r.cr != nil {
		rec, err := r.cr.Read()
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return nil, pe.Err
		}
		return rec, err
	}
	for {
		line, err := r.br.ReadString('\n')
		if err != nil && (err != io.EOF || line == "") {
			return nil, err
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			if err == io.EOF {
				return nil, io.EOF
			}
			continue
		}
		r.rec = append(r.rec[:0], strings.Split(line, r.comma)...)
		return r.rec, nil
	}
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
