package datasets

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"reflect"
	"strconv"
	"strings"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/deprecated"
	"github.com/parquet-go/parquet-go/encoding"
	"github.com/parquet-go/parquet-go/format"
)

// Role is the part a column plays in a logged decision: what training may use
// as input, what it predicts, and what it must never see.
type Role string

// Column roles.
const (
	RoleID         Role = "id"         // row identity, e.g. decision_id, account_id (string)
	RoleTime       Role = "time"       // decision instant (TIMESTAMP micros UTC); used for time-based splits
	RoleContext    Role = "context"    // x: features known before the decision
	RoleAction     Role = "action"     // a: a part of the action taken (channel, hour, message, segment)
	RolePropensity Role = "propensity" // p: probability the logging policy chose this action (numeric)
	RoleOutcome    Role = "outcome"    // y: what followed
)

// Roles lists every role, in the order a reader would describe a table.
var Roles = []Role{RoleID, RoleTime, RoleContext, RoleAction, RolePropensity, RoleOutcome}

// Kind is a column's value type in a logged table.
type Kind string

// Column kinds.
const (
	KindNumeric     Kind = "numeric"     // Parquet DOUBLE; NaN = missing
	KindCategorical Kind = "categorical" // Parquet STRING (dictionary); "" = missing
	KindTime        Kind = "time"        // Parquet INT64 TIMESTAMP(MICROS, UTC)
)

// MissingTime marks a missing value in a time column; it is written as a
// Parquet null (time columns are OPTIONAL) and nulls read back as MissingTime.
const MissingTime int64 = math.MinInt64

// MetaColumns is the Parquet key/value metadata key holding the JSON array of
// Columns (roles and kinds), so plain readers see plain columns.
const MetaColumns = "engage.columns"

// Column describes one column of a logged table.
type Column struct {
	Name   string   `json:"name"`
	Role   Role     `json:"role"`
	Kind   Kind     `json:"kind"`
	Levels []string `json:"levels,omitempty"` // optional fixed level order for categoricals
}

// validColumns checks names are unique and non-empty and roles/kinds known.
func validColumns(cols []Column) error {
	seen := map[string]bool{}
	for i, c := range cols {
		if c.Name == "" || strings.ContainsAny(c.Name, ",\n") {
			return fmt.Errorf("column %d: bad name %q", i, c.Name)
		}
		if seen[c.Name] {
			return fmt.Errorf("column %s: duplicate name", c.Name)
		}
		seen[c.Name] = true
		switch c.Role {
		case RoleID, RoleTime, RoleContext, RoleAction, RolePropensity, RoleOutcome:
		default:
			return fmt.Errorf("column %s: unknown role %q", c.Name, c.Role)
		}
		switch c.Kind {
		case KindNumeric, KindCategorical, KindTime:
		default:
			return fmt.Errorf("column %s: unknown kind %q", c.Name, c.Kind)
		}
		if c.Role == RolePropensity && c.Kind != KindNumeric {
			return fmt.Errorf("column %s: propensity must be numeric", c.Name)
		}
	}
	return nil
}

// Table is a columnar batch: for column i exactly one of Floats[i] (numeric),
// Strings[i] (categorical or id), Times[i] (time) is non-nil, all of length Len().
type Table struct {
	Columns []Column
	Floats  [][]float64
	Strings [][]string
	Times   [][]int64
}

// NewTable returns an empty table with room for capacity rows per column.
func NewTable(cols []Column, capacity int) *Table {
	t := &Table{
		Columns: cols,
		Floats:  make([][]float64, len(cols)),
		Strings: make([][]string, len(cols)),
		Times:   make([][]int64, len(cols)),
	}
	for i, c := range cols {
		switch c.Kind {
		case KindNumeric:
			t.Floats[i] = make([]float64, 0, capacity)
		case KindTime:
			t.Times[i] = make([]int64, 0, capacity)
		default:
			t.Strings[i] = make([]string, 0, capacity)
		}
	}
	return t
}

// Len returns the number of rows (the length of the first column).
func (t *Table) Len() int {
	if len(t.Columns) == 0 {
		return 0
	}
	return t.colLen(0)
}

func (t *Table) colLen(i int) int {
	switch {
	case t.Floats[i] != nil:
		return len(t.Floats[i])
	case t.Times[i] != nil:
		return len(t.Times[i])
	case t.Strings[i] != nil:
		return len(t.Strings[i])
	}
	return 0
}

// Index returns the position of the named column, -1 when absent.
func (t *Table) Index(name string) int {
	for i, c := range t.Columns {
		if c.Name == name {
			return i
		}
	}
	return -1
}

// Reset empties every column but keeps its capacity, so a streaming producer
// reuses one Table per batch.
func (t *Table) Reset() {
	for i := range t.Columns {
		if t.Floats[i] != nil {
			t.Floats[i] = t.Floats[i][:0]
		}
		if t.Strings[i] != nil {
			t.Strings[i] = t.Strings[i][:0]
		}
		if t.Times[i] != nil {
			t.Times[i] = t.Times[i][:0]
		}
	}
}

// AppendFloat appends v to numeric column col.
func (t *Table) AppendFloat(col int, v float64) { t.Floats[col] = append(t.Floats[col], v) }

// AppendString appends s to categorical or id column col.
func (t *Table) AppendString(col int, s string) { t.Strings[col] = append(t.Strings[col], s) }

// AppendTime appends us (UTC microseconds, or MissingTime) to time column col.
func (t *Table) AppendTime(col int, us int64) { t.Times[col] = append(t.Times[col], us) }

// Append appends all rows of u, which must have the same columns.
func (t *Table) Append(u *Table) error {
	if err := sameColumns(t.Columns, u.Columns); err != nil {
		return err
	}
	for i := range t.Columns {
		switch {
		case t.Floats[i] != nil:
			t.Floats[i] = append(t.Floats[i], u.Floats[i]...)
		case t.Times[i] != nil:
			t.Times[i] = append(t.Times[i], u.Times[i]...)
		default:
			t.Strings[i] = append(t.Strings[i], u.Strings[i]...)
		}
	}
	return nil
}

// check verifies the table is well formed: each column has the slice its kind
// asks for and all have the same length.
func (t *Table) check() error {
	if len(t.Floats) != len(t.Columns) || len(t.Strings) != len(t.Columns) || len(t.Times) != len(t.Columns) {
		return errors.New("table: column slices do not match Columns")
	}
	n := t.Len()
	for i, c := range t.Columns {
		var ok bool
		switch c.Kind {
		case KindNumeric:
			ok = t.Floats[i] != nil || n == 0
		case KindTime:
			ok = t.Times[i] != nil || n == 0
		default:
			ok = t.Strings[i] != nil || n == 0
		}
		if !ok {
			return fmt.Errorf("table: column %s (%s) has no %s slice", c.Name, c.Kind, c.Kind)
		}
		if l := t.colLen(i); l != n {
			return fmt.Errorf("table: column %s has %d rows, column %s has %d", c.Name, l, t.Columns[0].Name, n)
		}
	}
	return nil
}

func sameColumns(a, b []Column) error {
	if len(a) != len(b) {
		return fmt.Errorf("table has %d columns, want %d", len(b), len(a))
	}
	for i := range a {
		if a[i].Name != b[i].Name || a[i].Kind != b[i].Kind {
			return fmt.Errorf("column %d is %s (%s), want %s (%s)", i, b[i].Name, b[i].Kind, a[i].Name, a[i].Kind)
		}
	}
	return nil
}

// OrderedGroup returns a Parquet group node whose fields keep the given order
// (parquet.Group sorts them by name), so that files list their columns in table
// order for every reader. names[i] is the name of nodes[i].
func OrderedGroup(names []string, nodes []parquet.Node) parquet.Node {
	g := &orderedGroup{fields: make([]parquet.Field, len(names))}
	for i := range names {
		g.fields[i] = &namedField{Node: nodes[i], name: names[i]}
	}
	return g
}

// orderedGroup is the node behind OrderedGroup.
type orderedGroup struct{ fields []parquet.Field }

type namedField struct {
	parquet.Node
	name string
}

func (f *namedField) Name() string                           { return f.name }
func (f *namedField) Value(base reflect.Value) reflect.Value { return reflect.Value{} }

func (g *orderedGroup) ID() int                     { return 0 }
func (g *orderedGroup) String() string              { return "engage logged table" }
func (g *orderedGroup) Type() parquet.Type          { return parquet.Group{}.Type() }
func (g *orderedGroup) Optional() bool              { return false }
func (g *orderedGroup) Repeated() bool              { return false }
func (g *orderedGroup) Required() bool              { return true }
func (g *orderedGroup) Leaf() bool                  { return false }
func (g *orderedGroup) Fields() []parquet.Field     { return g.fields }
func (g *orderedGroup) Encoding() encoding.Encoding { return nil }
func (g *orderedGroup) Compression() compress.Codec { return nil }
func (g *orderedGroup) GoType() reflect.Type {
	sf := make([]reflect.StructField, len(g.fields))
	for i, f := range g.fields {
		sf[i] = reflect.StructField{Name: fmt.Sprintf("F%d", i), Type: f.GoType(), Tag: reflect.StructTag(`parquet:` + strconv.Quote(f.Name()))}
	}
	return reflect.StructOf(sf)
}

func loggedSchema(cols []Column) *parquet.Schema {
	g := &orderedGroup{fields: make([]parquet.Field, len(cols))}
	for i, c := range cols {
		var n parquet.Node
		switch {
		case c.Kind == KindNumeric:
			n = parquet.Leaf(parquet.DoubleType)
		case c.Kind == KindTime:
			n = parquet.Optional(parquet.Timestamp(parquet.Microsecond))
		case c.Role == RoleID:
			n = parquet.String() // ids are mostly unique: a dictionary only costs
		default:
			n = parquet.Encoded(parquet.String(), &parquet.RLEDictionary)
		}
		g.fields[i] = &namedField{Node: n, name: c.Name}
	}
	return parquet.NewSchema("engage", g)
}

// physical describes how to turn one file column's stored values into its
// Table kind.
type physical struct {
	kind     parquet.Kind
	maxDef   int
	unsigned bool
	scale    float64 // decimal divisor (1 for plain numbers)
	toMicros func(int64) int64
	date     bool
}

// LoggedReader streams a logged table back in column batches (one row group, or up
// to n rows, at a time). Works on files written by other tools too: without the
// engage.columns metadata, DOUBLE/INT/FLOAT/BOOLEAN columns are numeric context,
// STRING columns categorical context, TIMESTAMP columns time.
type LoggedReader struct {
	f      *os.File
	pf     *parquet.File
	cols   []Column
	leaf   []int
	phys   []physical
	meta   map[string]string
	rg     int
	rgLeft int64
	cur    []*cursor
}

// OpenLogged opens a logged table (or any flat Parquet file) for streaming.
func OpenLogged(path string) (*LoggedReader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	r := &LoggedReader{f: f, rg: -1}
	err = noPanic(func() error {
		pf, err := parquet.OpenFile(f, st.Size(), parquet.ReadBufferSize(1<<20), parquet.SkipBloomFilters(true))
		if err != nil {
			return err
		}
		r.pf = pf
		return r.describe()
	})
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return r, nil
}

// describe works out the columns: from engage.columns when present, else from
// the Parquet types.
func (r *LoggedReader) describe() error {
	r.meta = map[string]string{}
	for _, kv := range r.pf.Metadata().KeyValueMetadata {
		r.meta[kv.Key] = kv.Value
	}
	fields := r.pf.Schema().Fields()
	byName := map[string]int{}
	inferred := make([]Column, len(fields))
	phys := make([]physical, len(fields))
	for i, fd := range fields {
		if !fd.Leaf() || fd.Repeated() {
			return fmt.Errorf("column %s: nested or repeated columns are not supported", fd.Name())
		}
		byName[fd.Name()] = i
		p, kind, err := physicalOf(fd)
		if err != nil {
			return fmt.Errorf("column %s: %w", fd.Name(), err)
		}
		if fd.Optional() {
			p.maxDef = 1
		}
		phys[i] = p
		inferred[i] = Column{Name: fd.Name(), Role: RoleContext, Kind: kind}
	}
	var cols []Column
	if js, ok := r.meta[MetaColumns]; ok {
		if err := json.Unmarshal([]byte(js), &cols); err != nil {
			return fmt.Errorf("metadata %s: %w", MetaColumns, err)
		}
		if err := validColumns(cols); err != nil {
			return fmt.Errorf("metadata %s: %w", MetaColumns, err)
		}
		listed := map[string]bool{}
		for _, c := range cols {
			i, ok := byName[c.Name]
			if !ok {
				return fmt.Errorf("metadata %s names column %s, which the file lacks", MetaColumns, c.Name)
			}
			if !compatible(c.Kind, inferred[i].Kind) {
				return fmt.Errorf("column %s: metadata says %s, file stores %s", c.Name, c.Kind, fields[i].Type())
			}
			listed[c.Name] = true
		}
		// Columns added by another tool after engage wrote the file: keep them,
		// as context of their inferred kind.
		for _, c := range inferred {
			if !listed[c.Name] {
				cols = append(cols, c)
			}
		}
	} else {
		cols = inferred
	}
	r.cols = cols
	r.leaf = make([]int, len(cols))
	r.phys = make([]physical, len(cols))
	for i, c := range cols {
		r.leaf[i] = byName[c.Name]
		r.phys[i] = phys[r.leaf[i]]
	}
	return nil
}

func compatible(want, have Kind) bool {
	return want == have || want == KindCategorical
}

// physicalOf maps a Parquet leaf to its reading recipe and natural kind.
func physicalOf(fd parquet.Field) (physical, Kind, error) {
	t := fd.Type()
	p := physical{kind: t.Kind(), scale: 1}
	lt := t.LogicalType()
	var ct deprecated.ConvertedType = -1
	if c := t.ConvertedType(); c != nil {
		ct = *c
	}
	var lv format.LogicalTypeValue
	if lt != nil {
		lv = lt.Value
	}
	switch p.kind {
	case parquet.Boolean, parquet.Float, parquet.Double:
		return p, KindNumeric, nil
	case parquet.Int32, parquet.Int64:
		switch v := lv.(type) {
		case *format.TimestampType:
			if p.kind != parquet.Int64 {
				return p, "", errors.New("INT32 timestamp")
			}
			p.toMicros = unitToMicros(v.Unit.Value)
			return p, KindTime, nil
		case *format.DateType:
			p.date = true
			return p, KindTime, nil
		case *format.DecimalType:
			p.scale = math.Pow10(int(v.Scale))
			return p, KindNumeric, nil
		case *format.IntType:
			p.unsigned = !v.IsSigned
			return p, KindNumeric, nil
		}
		switch ct {
		case deprecated.TimestampMillis:
			p.toMicros = func(x int64) int64 { return x * 1000 }
			return p, KindTime, nil
		case deprecated.TimestampMicros:
			p.toMicros = func(x int64) int64 { return x }
			return p, KindTime, nil
		case deprecated.Date:
			p.date = true
			return p, KindTime, nil
		case deprecated.Uint8, deprecated.Uint16, deprecated.Uint32, deprecated.Uint64:
			p.unsigned = true
		case deprecated.Decimal:
			return p, "", errors.New("legacy DECIMAL without logical type")
		}
		return p, KindNumeric, nil
	case parquet.Int96:
		p.toMicros = func(x int64) int64 { return x }
		return p, KindTime, nil
	case parquet.ByteArray, parquet.FixedLenByteArray:
		if _, ok := lv.(*format.DecimalType); ok || ct == deprecated.Decimal {
			return p, "", errors.New("byte-array DECIMAL is not supported; cast to DOUBLE")
		}
		return p, KindCategorical, nil
	}
	return p, "", fmt.Errorf("unsupported type %s", t)
}

func unitToMicros(u format.TimeUnitValue) func(int64) int64 {
	switch u.(type) {
	case *format.MilliSeconds:
		return func(x int64) int64 { return x * 1000 }
	case *format.NanoSeconds:
		return func(x int64) int64 { return floorDiv(x, 1000) }
	}
	return func(x int64) int64 { return x }
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// Columns returns the table's columns with their roles and kinds.
func (r *LoggedReader) Columns() []Column { return r.cols }

// Meta returns the file's key/value metadata (engage.columns included).
func (r *LoggedReader) Meta() map[string]string { return r.meta }

// NumRows returns the number of rows in the file.
func (r *LoggedReader) NumRows() int64 { return r.pf.NumRows() }

// Next returns the next batch: up to n rows, never crossing a row group; n <= 0
// means the rest of the current row group. io.EOF at the end.
func (r *LoggedReader) Next(n int) (t *Table, err error) {
	err = noPanic(func() error {
		var e error
		t, e = r.next(n)
		return e
	})
	if err != nil && err != io.EOF {
		return nil, fmt.Errorf("read logged table: %w", err)
	}
	return t, err
}

func (r *LoggedReader) next(n int) (*Table, error) {
	for r.rgLeft == 0 {
		if err := r.nextRowGroup(); err != nil {
			return nil, err
		}
	}
	want := r.rgLeft
	if n > 0 && int64(n) < want {
		want = int64(n)
	}
	t := NewTable(r.cols, int(want))
	for i := range r.cols {
		if err := r.cur[i].fill(t, i, int(want)); err != nil {
			return nil, fmt.Errorf("column %s: %w", r.cols[i].Name, err)
		}
	}
	r.rgLeft -= want
	return t, nil
}

func (r *LoggedReader) nextRowGroup() error {
	r.closeCursors()
	groups := r.pf.RowGroups()
	r.rg++
	if r.rg >= len(groups) {
		return io.EOF
	}
	g := groups[r.rg]
	chunks := g.ColumnChunks()
	r.cur = make([]*cursor, len(r.cols))
	for i := range r.cols {
		r.cur[i] = &cursor{pages: chunks[r.leaf[i]].Pages(), phys: r.phys[i], kind: r.cols[i].Kind}
	}
	r.rgLeft = g.NumRows()
	return nil
}

func (r *LoggedReader) closeCursors() {
	for _, c := range r.cur {
		if c != nil && c.pages != nil {
			c.pages.Close()
		}
	}
	r.cur = nil
}

// Close releases the file.
func (r *LoggedReader) Close() error {
	r.closeCursors()
	return r.f.Close()
}

// ReadLogged reads a whole logged table; convenience for training.
func ReadLogged(path string) (*Table, error) {
	r, err := OpenLogged(path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	all := NewTable(r.Columns(), int(min(r.NumRows(), 1<<28)))
	for {
		t, err := r.Next(0)
		if err == io.EOF {
			return all, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if err := all.Append(t); err != nil {
			return nil, err
		}
	}
}

// cursor decodes one column chunk page by page, holding the decoded rows of
// the current page until the batches consume them.
type cursor struct {
	pages parquet.Pages
	phys  physical
	kind  Kind
	// decoded, not yet returned values of the current page (one of these)
	f   []float64
	s   []string
	t   []int64
	off int
	// converted dictionary of the current chunk
	dict  parquet.Dictionary
	dictF []float64
	dictS []string
	dictT []int64
	vals  []parquet.Value
}

func (c *cursor) pending() int {
	switch c.kind {
	case KindNumeric:
		return len(c.f) - c.off
	case KindTime:
		return len(c.t) - c.off
	}
	return len(c.s) - c.off
}

// fill appends want values to column i of t.
func (c *cursor) fill(t *Table, i, want int) error {
	for want > 0 {
		if c.pending() == 0 {
			if err := c.readPage(); err != nil {
				if err == io.EOF {
					return io.ErrUnexpectedEOF
				}
				return err
			}
			continue
		}
		m := min(want, c.pending())
		switch c.kind {
		case KindNumeric:
			t.Floats[i] = append(t.Floats[i], c.f[c.off:c.off+m]...)
		case KindTime:
			t.Times[i] = append(t.Times[i], c.t[c.off:c.off+m]...)
		default:
			t.Strings[i] = append(t.Strings[i], c.s[c.off:c.off+m]...)
		}
		c.off += m
		want -= m
	}
	return nil
}

func (c *cursor) readPage() error {
	page, err := c.pages.ReadPage()
	if err != nil {
		return err
	}
	defer parquet.Release(page)
	c.f, c.s, c.t, c.off = c.f[:0], c.s[:0], c.t[:0], 0
	defs := page.DefinitionLevels()
	if dict := page.Dictionary(); dict != nil {
		data := page.Data()
		if data.Kind() != encoding.Int32 {
			return c.slowPage(page)
		}
		if dict != c.dict {
			if err := c.convertDict(dict); err != nil {
				return err
			}
		}
		idx := data.Int32()
		switch c.kind {
		case KindNumeric:
			for _, j := range idx {
				c.f = append(c.f, c.dictF[j])
			}
		case KindTime:
			for _, j := range idx {
				c.t = append(c.t, c.dictT[j])
			}
		default:
			for _, j := range idx {
				c.s = append(c.s, c.dictS[j])
			}
		}
	} else if !c.plain(page.Data()) {
		return c.slowPage(page)
	}
	if c.phys.maxDef > 0 && len(defs) > 0 {
		c.expand(defs)
	}
	return nil
}

// convertDict decodes a chunk's dictionary once, so dictionary pages become a
// lookup per value (and categorical strings are shared, not reallocated).
func (c *cursor) convertDict(dict parquet.Dictionary) error {
	c.dict = dict
	sf, ss, st := c.f, c.s, c.t
	c.f, c.s, c.t = nil, nil, nil
	if !c.plain(dict.Page().Data()) {
		c.vals = c.vals[:0]
		for k := range dict.Len() {
			c.vals = append(c.vals, dict.Index(int32(k)))
		}
		c.convertValues(c.vals)
	}
	c.dictF, c.dictS, c.dictT = c.f, c.s, c.t
	c.f, c.s, c.t = sf[:0], ss[:0], st[:0]
	return nil
}

// plain decodes the non-null values of a plain page straight from its buffers;
// false when the type needs the slow path.
func (c *cursor) plain(data encoding.Values) bool {
	p := c.phys
	switch c.kind {
	case KindNumeric:
		switch data.Kind() {
		case encoding.Double:
			c.f = append(c.f, data.Double()...)
		case encoding.Float:
			for _, x := range data.Float() {
				c.f = append(c.f, float64(x))
			}
		case encoding.Int32:
			for _, x := range data.Int32() {
				if p.unsigned {
					c.f = append(c.f, float64(uint32(x))/p.scale)
				} else {
					c.f = append(c.f, float64(x)/p.scale)
				}
			}
		case encoding.Int64:
			for _, x := range data.Int64() {
				if p.unsigned {
					c.f = append(c.f, float64(uint64(x))/p.scale)
				} else {
					c.f = append(c.f, float64(x)/p.scale)
				}
			}
		default:
			return false
		}
	case KindTime:
		switch {
		case data.Kind() == encoding.Int64 && p.toMicros != nil:
			for _, x := range data.Int64() {
				c.t = append(c.t, p.toMicros(x))
			}
		case data.Kind() == encoding.Int32 && p.date:
			for _, x := range data.Int32() {
				c.t = append(c.t, int64(x)*86400e6)
			}
		default:
			return false
		}
	default:
		if data.Kind() != encoding.ByteArray {
			return false
		}
		b, offs := data.ByteArray()
		if len(offs) == 0 {
			return true
		}
		all := string(b) // one allocation per page; values are substrings
		for k := 0; k+1 < len(offs); k++ {
			c.s = append(c.s, all[offs[k]:offs[k+1]])
		}
	}
	return true
}

// expand spreads the decoded non-null values over the rows, inserting the
// kind's missing value where the definition level says null.
func (c *cursor) expand(defs []byte) {
	switch c.kind {
	case KindNumeric:
		c.f = spread(c.f, defs, c.phys.maxDef, math.NaN())
	case KindTime:
		c.t = spread(c.t, defs, c.phys.maxDef, MissingTime)
	default:
		c.s = spread(c.s, defs, c.phys.maxDef, "")
	}
}

func spread[V any](vals []V, defs []byte, maxDef int, missing V) []V {
	nn := len(vals)
	n := len(defs)
	if nn == n {
		return vals
	}
	out := make([]V, n)
	j := 0
	for k, d := range defs {
		if int(d) == maxDef && j < nn {
			out[k] = vals[j]
			j++
		} else {
			out[k] = missing
		}
	}
	return out
}

// slowPage decodes a page value by value; for types without a fast path
// (BOOLEAN, INT96, FIXED_LEN_BYTE_ARRAY, unusual encodings).
func (c *cursor) slowPage(page parquet.Page) error {
	c.f, c.s, c.t, c.off = c.f[:0], c.s[:0], c.t[:0], 0
	vr := page.Values()
	if cap(c.vals) < 1024 {
		c.vals = make([]parquet.Value, 1024)
	}
	buf := c.vals[:1024]
	for {
		n, err := vr.ReadValues(buf)
		c.convertValues(buf[:n])
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if n == 0 {
			return errors.New("page reader made no progress")
		}
	}
}

func (c *cursor) convertValues(vs []parquet.Value) {
	p := c.phys
	for _, v := range vs {
		null := v.IsNull()
		switch c.kind {
		case KindNumeric:
			x := math.NaN()
			if !null {
				switch v.Kind() {
				case parquet.Boolean:
					x = 0
					if v.Boolean() {
						x = 1
					}
				case parquet.Int32:
					x = float64(v.Int32())
					if p.unsigned {
						x = float64(uint32(v.Int32()))
					}
					x /= p.scale
				case parquet.Int64:
					x = float64(v.Int64())
					if p.unsigned {
						x = float64(uint64(v.Int64()))
					}
					x /= p.scale
				case parquet.Float:
					x = float64(v.Float())
				case parquet.Double:
					x = v.Double()
				}
			}
			c.f = append(c.f, x)
		case KindTime:
			us := MissingTime
			if !null {
				switch {
				case v.Kind() == parquet.Int96:
					i96 := v.Int96()
					nanos := int64(uint64(i96[1])<<32 | uint64(i96[0]))
					us = (int64(i96[2])-2440588)*86400e6 + nanos/1000
				case v.Kind() == parquet.Int32 && p.date:
					us = int64(v.Int32()) * 86400e6
				case v.Kind() == parquet.Int64 && p.toMicros != nil:
					us = p.toMicros(v.Int64())
				}
			}
			c.t = append(c.t, us)
		default:
			s := ""
			if !null {
				switch v.Kind() {
				case parquet.ByteArray, parquet.FixedLenByteArray:
					s = string(v.ByteArray())
				default:
					s = v.String()
				}
			}
			c.s = append(c.s, s)
		}
	}
}
