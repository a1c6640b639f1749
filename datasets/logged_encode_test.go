package datasets

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

// decodeHybrid is a reference decoder of Parquet's RLE/bit-packing hybrid
// encoding (written from the spec, independent of the encoder).
func decodeHybrid(b []byte, bw, n int) ([]uint32, error) {
	var out []uint32
	for len(out) < n {
		h, k := binary.Uvarint(b)
		if k <= 0 {
			return nil, fmt.Errorf("bad run header after %d values", len(out))
		}
		b = b[k:]
		if h&1 == 1 {
			count := int(h>>1) * 8
			nb := int(h>>1) * bw
			if nb > len(b) {
				return nil, fmt.Errorf("bit-packed run of %d bytes, %d left", nb, len(b))
			}
			for i := range count {
				var v uint32
				for j := range bw {
					bit := i*bw + j
					v |= uint32(b[bit/8]>>(bit%8)&1) << j
				}
				out = append(out, v)
			}
			b = b[nb:]
			continue
		}
		w := (bw + 7) / 8
		if w > len(b) {
			return nil, errors.New("short RLE run")
		}
		var v uint32
		for j := range w {
			v |= uint32(b[j]) << (8 * j)
		}
		b = b[w:]
		for range int(h >> 1) {
			out = append(out, v)
		}
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("%d bytes left over", len(b))
	}
	return out[:n], nil
}

func toRuns(vals []uint32) (rv, rn []uint32) {
	for i, v := range vals {
		if i > 0 && v == vals[i-1] {
			rn[len(rn)-1]++
			continue
		}
		rv = append(rv, v)
		rn = append(rn, 1)
	}
	return rv, rn
}

// checkHybrid encodes vals both ways and decodes them back.
func checkHybrid(t *testing.T, vals []uint32, bw int) {
	t.Helper()
	a := appendHybrid(nil, vals, bw)
	rv, rn := toRuns(vals)
	b, _ := appendHybridRuns(nil, rv, rn, bw, nil)
	if !bytes.Equal(a, b) {
		t.Fatalf("bw %d, %d values: value and run encoders differ", bw, len(vals))
	}
	got, err := decodeHybrid(a, bw, len(vals))
	if err != nil {
		t.Fatalf("bw %d, %d values: %v", bw, len(vals), err)
	}
	for i := range vals {
		if got[i] != vals[i] {
			t.Fatalf("bw %d, %d values: value %d is %d, want %d", bw, len(vals), i, got[i], vals[i])
		}
	}
}

func TestHybridEncoding(t *testing.T) {
	r := newRand(3)
	for _, bw := range []int{1, 2, 3, 5, 7, 8, 9, 12, 16, 17, 24, 31} {
		for _, n := range []int{0, 1, 7, 8, 9, 15, 16, 17, 100, 1000, 5000} {
			for _, meanRun := range []int{1, 3, 8, 20, 500} {
				vals := make([]uint32, 0, n)
				for len(vals) < n {
					v := uint32(r.Uint64() & (1<<bw - 1))
					for range min(n-len(vals), 1+r.IntN(2*meanRun)) {
						vals = append(vals, v)
					}
				}
				checkHybrid(t, vals, bw)
			}
		}
	}
}

func FuzzHybridEncoding(f *testing.F) {
	f.Add([]byte{1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 3}, uint8(2))
	f.Add(bytes.Repeat([]byte{7}, 100), uint8(3))
	f.Fuzz(func(t *testing.T, raw []byte, w uint8) {
		bw := 1 + int(w)%20
		vals := make([]uint32, len(raw))
		for i, c := range raw {
			// few distinct values, so runs happen
			vals[i] = uint32(c%4) * (1<<bw - 1) / 3
		}
		checkHybrid(t, vals, bw)
	})
}

// featureLikeTable is a table shaped like X.parquet: ids, a time, low-cardinality
// counts repeated over each account's rows, rates, NaNs and unique values.
func featureLikeTable(seed uint64, n int) *Table {
	cols := []Column{
		{Name: "decision_id", Role: RoleID, Kind: KindCategorical},
		{Name: "account_id", Role: RoleID, Kind: KindCategorical},
		{Name: "at", Role: RoleTime, Kind: KindTime},
		{Name: "region", Role: RoleContext, Kind: KindCategorical},
		{Name: "last_paid", Role: RoleContext, Kind: KindTime},
	}
	for i := range 24 {
		cols = append(cols, Column{Name: "f" + strconv.Itoa(i), Role: RoleContext, Kind: KindNumeric})
	}
	cols = append(cols, Column{Name: "p", Role: RolePropensity, Kind: KindNumeric},
		Column{Name: "never", Role: RoleOutcome, Kind: KindTime}, Column{Name: "unknown", Role: RoleOutcome, Kind: KindNumeric})
	r := newRand(seed)
	t := NewTable(cols, n)
	acct, left := 0, 0
	feat := make([]float64, 24)
	for row := range n {
		if left == 0 {
			acct++
			left = 1 + r.IntN(30)
			for i := range feat {
				switch i % 4 {
				case 0:
					feat[i] = float64(r.IntN(3)) // flag-like
				case 1:
					feat[i] = float64(r.IntN(40)) // count-like
				case 2:
					feat[i] = math.Round(r.Float64()*1000) / 1000 // rate-like
				default:
					feat[i] = math.NaN()
					if r.IntN(3) == 0 {
						feat[i] = r.NormFloat64() * 100 // unique
					}
				}
			}
		}
		left--
		t.AppendString(0, "d"+strconv.Itoa(row))
		t.AppendString(1, "a"+strconv.Itoa(acct))
		t.AppendTime(2, t2020+int64(row)*1e6)
		t.AppendString(3, []string{"north", "south", "", "east"}[acct%4])
		lp := MissingTime
		if acct%3 != 0 {
			lp = t2020 - int64(acct%50)*86400e6
		}
		t.AppendTime(4, lp)
		for i, x := range feat {
			if i%4 == 3 && !math.IsNaN(x) {
				x += float64(row) // unique per row
			}
			t.AppendFloat(5+i, x)
		}
		t.AppendFloat(5+len(feat), float64(r.IntN(20))/20)
		t.AppendTime(6+len(feat), MissingTime)
		t.AppendFloat(7+len(feat), math.NaN())
	}
	return t
}

// writeLogged writes t with opts in batches of batch rows and returns the file bytes.
func writeLogged(t *testing.T, tb *Table, opts LoggedOptions, batch int) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewLoggedWriterWith(&buf, tb.Columns, map[string]string{"engage.source": "test", "b": "2", "a": "1"}, opts)
	if err != nil {
		t.Fatal(err)
	}
	for lo := 0; lo < tb.Len(); lo += batch {
		if err := w.Write(sliceTable(tb, lo, min(tb.Len(), lo+batch))); err != nil {
			t.Fatal(err)
		}
	}
	if w.Rows() != int64(tb.Len()) {
		t.Fatalf("Rows %d, want %d", w.Rows(), tb.Len())
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func sliceTable(tb *Table, lo, hi int) *Table {
	b := &Table{Columns: tb.Columns, Floats: make([][]float64, len(tb.Columns)), Strings: make([][]string, len(tb.Columns)), Times: make([][]int64, len(tb.Columns))}
	for i := range tb.Columns {
		switch {
		case tb.Floats[i] != nil:
			b.Floats[i] = tb.Floats[i][lo:hi]
		case tb.Times[i] != nil:
			b.Times[i] = tb.Times[i][lo:hi]
		default:
			b.Strings[i] = tb.Strings[i][lo:hi]
		}
	}
	return b
}

func readLoggedBytes(t *testing.T, b []byte) *Table {
	t.Helper()
	path := filepath.Join(t.TempDir(), "x.parquet")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := ReadLogged(path)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestLoggedWriterOptions(t *testing.T) {
	want := featureLikeTable(5, 23456)
	cases := []struct {
		name  string
		opts  LoggedOptions
		batch int
	}{
		{"defaults", LoggedOptions{}, 8192},
		{"small pages and groups", LoggedOptions{RowGroupRows: 5000, PageRows: 333}, 1000},
		{"dictionary overflow mid-chunk", LoggedOptions{RowGroupRows: 9000, PageRows: 700, MaxDictionary: 40}, 777},
		{"no dictionary room", LoggedOptions{RowGroupRows: 4096, PageRows: 512, MaxDictionary: 1}, 4096},
		{"zstd", LoggedOptions{Compression: "zstd", RowGroupRows: 10000, PageRows: 1000, MaxDictionary: 100}, 3000},
		{"none", LoggedOptions{Compression: "none", RowGroupRows: 10000, PageRows: 1000, MaxDictionary: 100}, 3000},
		{"one row batches", LoggedOptions{RowGroupRows: 1000, PageRows: 64}, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tb := want
			if c.batch == 1 {
				tb = sliceTable(want, 0, 2500)
			}
			var first []byte
			for _, workers := range []int{1, 3} {
				o := c.opts
				o.Workers = workers
				b := writeLogged(t, tb, o, c.batch)
				if first == nil {
					first = b
					sameTable(t, readLoggedBytes(t, b), tb)
				} else if !bytes.Equal(first, b) {
					t.Fatalf("%d workers wrote other bytes than 1 worker", workers)
				}
			}
			// Same rows in other batches: same bytes.
			if c.batch != 1 && !bytes.Equal(first, writeLogged(t, tb, func() LoggedOptions { o := c.opts; o.Workers = 2; return o }(), 1234)) {
				t.Fatal("other batch sizes wrote other bytes")
			}
		})
	}
}

func TestLoggedWriterStatistics(t *testing.T) {
	tb := featureLikeTable(9, 20000)
	b := writeLogged(t, tb, LoggedOptions{RowGroupRows: 6000, PageRows: 1000, MaxDictionary: 50}, 2500)
	pf, err := parquet.OpenFile(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	if got := len(pf.Metadata().RowGroups); got != 4 {
		t.Fatalf("%d row groups, want 4", got)
	}
	if kv := pf.Metadata().KeyValueMetadata; len(kv) != 4 || !slices.IsSortedFunc(kv, func(a, b format.KeyValue) int { return strings.Compare(a.Key, b.Key) }) {
		t.Fatalf("key/value metadata not sorted: %+v", kv)
	}
	row := 0
	for g, rg := range pf.Metadata().RowGroups {
		n := int(rg.NumRows)
		for i, c := range tb.Columns {
			st := rg.Columns[i].MetaData.Statistics
			var nulls int64
			lo, hi, have := 0.0, 0.0, false
			for r := row; r < row+n; r++ {
				var x float64
				switch c.Kind {
				case KindNumeric:
					x = tb.Floats[i][r]
					if math.IsNaN(x) {
						continue
					}
				case KindTime:
					if tb.Times[i][r] == MissingTime {
						nulls++
						continue
					}
					x = float64(tb.Times[i][r])
				default:
					continue
				}
				if !have {
					lo, hi, have = x, x, true
				}
				lo, hi = min(lo, x), max(hi, x)
			}
			if st.NullCount != nulls {
				t.Errorf("group %d %s: null count %d, want %d", g, c.Name, st.NullCount, nulls)
			}
			if !have {
				if st.MinValue != nil && c.Kind != KindCategorical {
					t.Errorf("group %d %s: bounds without values", g, c.Name)
				}
				continue
			}
			gotLo, gotHi := decodeBound(c.Kind, st.MinValue), decodeBound(c.Kind, st.MaxValue)
			if gotLo != lo || gotHi != hi {
				t.Errorf("group %d %s: bounds [%v, %v], want [%v, %v]", g, c.Name, gotLo, gotHi, lo, hi)
			}
		}
		row += n
	}
}

func decodeBound(k Kind, b []byte) float64 {
	if len(b) != 8 {
		return math.NaN()
	}
	u := binary.LittleEndian.Uint64(b)
	if k == KindNumeric {
		return math.Float64frombits(u)
	}
	return float64(int64(u))
}

func TestLoggedWriterEmptyAndAbort(t *testing.T) {
	tb := featureLikeTable(1, 100)
	// No rows: a valid file with the columns and no row group.
	got := readLoggedBytes(t, writeLogged(t, sliceTable(tb, 0, 0), LoggedOptions{}, 10))
	if got.Len() != 0 || len(got.Columns) != len(tb.Columns) {
		t.Fatalf("empty file: %d rows, %d columns", got.Len(), len(got.Columns))
	}
	for _, name := range []string{"gzip", "lz4"} {
		if _, err := NewLoggedWriterWith(&bytes.Buffer{}, tb.Columns, nil, LoggedOptions{Compression: name}); err == nil {
			t.Errorf("compression %s accepted", name)
		}
	}
	dir := t.TempDir()
	w, err := CreateLoggedWith(filepath.Join(dir, "x.parquet"), tb.Columns, nil, LoggedOptions{RowGroupRows: 30})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(tb); err != nil {
		t.Fatal(err)
	}
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("abort left %s", ents[0].Name())
	}
	if err := w.Write(tb); err == nil {
		t.Fatal("write after abort")
	}
}

// failWriter fails after n bytes.
type failWriter struct{ n int }

func (f *failWriter) Write(b []byte) (int, error) {
	if len(b) > f.n {
		return 0, errors.New("disk full")
	}
	f.n -= len(b)
	return len(b), nil
}

func TestLoggedWriterWriteError(t *testing.T) {
	tb := featureLikeTable(2, 5000)
	w, err := NewLoggedWriterWith(&failWriter{n: 1000}, tb.Columns, nil, LoggedOptions{RowGroupRows: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(tb); err == nil {
		t.Fatal("no error from a failing writer")
	}
	if err := w.Write(tb); err == nil {
		t.Fatal("write after a failed write")
	}
	if err := w.Close(); err == nil {
		t.Fatal("close after a failed write")
	}
}

// BenchmarkLoggedWriter measures encoding a feature-like table (cells/s).
func BenchmarkLoggedWriter(b *testing.B) {
	tb := featureLikeTable(7, 1<<18)
	cells := float64(tb.Len() * len(tb.Columns))
	for _, comp := range []string{"snappy", "zstd", "none"} {
		b.Run(comp, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				w, err := NewLoggedWriterWith(discard{}, tb.Columns, nil, LoggedOptions{Compression: comp})
				if err != nil {
					b.Fatal(err)
				}
				for lo := 0; lo < tb.Len(); lo += 8192 {
					if err := w.Write(sliceTable(tb, lo, min(tb.Len(), lo+8192))); err != nil {
						b.Fatal(err)
					}
				}
				if err := w.Close(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(cells*float64(b.N)/b.Elapsed().Seconds()/1e6, "Mcells/s")
		})
	}
}

type discard struct{}

func (discard) Write(b []byte) (int, error) { return len(b), nil }

// rowMajorOf splits the numeric columns first .. first+width-1 of tb out
// into a row-major block, leaving them empty in the returned table.
func rowMajorOf(tb *Table, first, width int) (*Table, *RowMajor) {
	n := tb.Len()
	m := &RowMajor{First: first, Width: width, Values: make([]float64, 0, n*width)}
	for r := range n {
		for j := range width {
			m.Values = append(m.Values, tb.Floats[first+j][r])
		}
	}
	u := sliceTable(tb, 0, n)
	for j := range width {
		u.Floats[first+j] = nil
	}
	return u, m
}

// TestWriteRowMajor: a table written with some numeric columns given row by
// row is byte for byte the file Write makes of the same table, for blocks
// whose width is and is not a multiple of the gather group, batches that
// cross pages and row groups, and any number of workers.
func TestWriteRowMajor(t *testing.T) {
	tb := featureLikeTable(9, 5000)
	cases := []struct {
		first, width, batch, workers int
	}{
		{5, 24, 1000, 2}, // f0..f23
		{5, 25, 777, 3},  // f0..f23 and p: a partial group
		{7, 3, 5000, 1},
		{12, 8, 64, 2},
	}
	opts := DefaultLoggedOptions()
	opts.RowGroupRows, opts.PageRows = 1500, 400
	for _, c := range cases {
		t.Run(fmt.Sprintf("first%d_width%d_batch%d_workers%d", c.first, c.width, c.batch, c.workers), func(t *testing.T) {
			o := opts
			o.Workers = c.workers
			want := writeLogged(t, tb, o, c.batch)
			var buf bytes.Buffer
			w, err := NewLoggedWriterWith(&buf, tb.Columns, map[string]string{"engage.source": "test", "b": "2", "a": "1"}, o)
			if err != nil {
				t.Fatal(err)
			}
			for lo := 0; lo < tb.Len(); lo += c.batch {
				u, m := rowMajorOf(sliceTable(tb, lo, min(tb.Len(), lo+c.batch)), c.first, c.width)
				if err := w.WriteRowMajor(u, m); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf.Bytes(), want) {
				t.Fatalf("WriteRowMajor wrote %d bytes that differ from Write's %d", buf.Len(), len(want))
			}
		})
	}
}

// TestWriteRowMajorErrors: blocks that do not fit the columns are refused.
func TestWriteRowMajorErrors(t *testing.T) {
	tb := featureLikeTable(3, 100)
	cases := []struct {
		name string
		m    func() (*Table, *RowMajor)
	}{
		{"not numeric", func() (*Table, *RowMajor) {
			return tb, &RowMajor{First: 3, Width: 4, Values: make([]float64, 4*tb.Len())}
		}},
		{"past the last column", func() (*Table, *RowMajor) {
			u, m := rowMajorOf(tb, 5, 24)
			m.Width = 40
			return u, m
		}},
		{"ragged values", func() (*Table, *RowMajor) {
			u, m := rowMajorOf(tb, 5, 24)
			m.Values = m.Values[:len(m.Values)-1]
			return u, m
		}},
		{"rows differ", func() (*Table, *RowMajor) {
			u, m := rowMajorOf(tb, 5, 24)
			m.Values = m.Values[:len(m.Values)-24]
			return u, m
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w, err := NewLoggedWriter(discard{}, tb.Columns, nil)
			if err != nil {
				t.Fatal(err)
			}
			u, m := c.m()
			if err := w.WriteRowMajor(u, m); err == nil {
				t.Fatal("no error")
			}
		})
	}
}
