package datasets

import (
	"bytes"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"
)

func randLoggedColumns(seed uint64) []Column {
	r := newRand(seed)
	cols := []Column{{Name: "decision_id", Role: RoleID, Kind: KindCategorical}, {Name: "at", Role: RoleTime, Kind: KindTime}}
	n := 1 + r.IntN(8)
	for i := range n {
		kind := []Kind{KindNumeric, KindCategorical, KindTime}[r.IntN(3)]
		role := []Role{RoleContext, RoleAction, RoleOutcome}[r.IntN(3)]
		cols = append(cols, Column{Name: "c" + strconv.Itoa(i), Role: role, Kind: kind})
	}
	return append(cols, Column{Name: "p", Role: RolePropensity, Kind: KindNumeric})
}

func randTable(seed uint64, cols []Column, n int) *Table {
	r := newRand(seed)
	t := NewTable(cols, n)
	for row := range n {
		for i, c := range cols {
			switch c.Kind {
			case KindNumeric:
				x := r.NormFloat64() * 1e3
				if r.IntN(20) == 0 {
					x = math.NaN()
				}
				t.AppendFloat(i, x)
			case KindTime:
				us := randTime(r)
				if r.IntN(20) == 0 && c.Role != RoleTime {
					us = MissingTime
				}
				t.AppendTime(i, us)
			default:
				s := pick(r, []string{"", "email", "sms", "call", "ä漢"})
				if c.Role == RoleID {
					s = "d" + strconv.Itoa(row)
				}
				t.AppendString(i, s)
			}
		}
	}
	return t
}

// sameTable compares tables treating NaN as equal to NaN.
func sameTable(t *testing.T, got, want *Table) {
	t.Helper()
	if !reflect.DeepEqual(got.Columns, want.Columns) {
		t.Fatalf("columns: got %+v want %+v", got.Columns, want.Columns)
	}
	if got.Len() != want.Len() {
		t.Fatalf("len: got %d want %d", got.Len(), want.Len())
	}
	for i, c := range want.Columns {
		for row := range want.Len() {
			switch c.Kind {
			case KindNumeric:
				g, w := got.Floats[i][row], want.Floats[i][row]
				if g != w && !(math.IsNaN(g) && math.IsNaN(w)) {
					t.Fatalf("%s row %d: got %v want %v", c.Name, row, g, w)
				}
			case KindTime:
				if got.Times[i][row] != want.Times[i][row] {
					t.Fatalf("%s row %d: got %v want %v", c.Name, row, got.Times[i][row], want.Times[i][row])
				}
			default:
				if got.Strings[i][row] != want.Strings[i][row] {
					t.Fatalf("%s row %d: got %q want %q", c.Name, row, got.Strings[i][row], want.Strings[i][row])
				}
			}
		}
	}
}

func TestLoggedRoundTrip(t *testing.T) {
	for seed := uint64(1); seed <= 8; seed++ {
		cols := randLoggedColumns(seed)
		n := int(seed*seed*1013) % 20000
		want := randTable(seed, cols, n)
		path := filepath.Join(t.TempDir(), "x.parquet")
		w, err := CreateLogged(path, cols, map[string]string{"engage.source": "test"})
		if err != nil {
			t.Fatal(err)
		}
		w.rgRows = 3000 // several row groups
		// write in uneven batches
		for lo := 0; lo < n; lo += 4999 {
			hi := min(n, lo+4999)
			b := NewTable(cols, hi-lo)
			for i := range cols {
				switch cols[i].Kind {
				case KindNumeric:
					b.Floats[i] = want.Floats[i][lo:hi]
				case KindTime:
					b.Times[i] = want.Times[i][lo:hi]
				default:
					b.Strings[i] = want.Strings[i][lo:hi]
				}
			}
			if err := w.Write(b); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		got, err := ReadLogged(path)
		if err != nil {
			t.Fatal(err)
		}
		sameTable(t, got, want)

		// streaming in small batches gives the same rows, never crossing a row group
		r, err := OpenLogged(path)
		if err != nil {
			t.Fatal(err)
		}
		if r.NumRows() != int64(n) || r.Meta()["engage.source"] != "test" {
			t.Fatalf("NumRows %d (want %d), meta %v", r.NumRows(), n, r.Meta())
		}
		all := NewTable(r.Columns(), n)
		for {
			b, err := r.Next(1234)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if b.Len() == 0 || b.Len() > 1234 {
				t.Fatalf("batch of %d rows", b.Len())
			}
			if err := all.Append(b); err != nil {
				t.Fatal(err)
			}
		}
		r.Close()
		sameTable(t, all, want)
	}
}

func TestLoggedWriterRejects(t *testing.T) {
	cols := []Column{{Name: "x", Role: RoleContext, Kind: KindNumeric}, {Name: "a", Role: RoleAction, Kind: KindCategorical}}
	bad := []struct {
		name string
		cols []Column
	}{
		{"duplicate", []Column{cols[0], cols[0]}},
		{"empty name", []Column{{Role: RoleContext, Kind: KindNumeric}}},
		{"bad role", []Column{{Name: "x", Role: "feature", Kind: KindNumeric}}},
		{"bad kind", []Column{{Name: "x", Role: RoleContext, Kind: "int"}}},
		{"categorical propensity", []Column{{Name: "p", Role: RolePropensity, Kind: KindCategorical}}},
	}
	for _, c := range bad {
		if _, err := NewLoggedWriter(io.Discard, c.cols, nil); err == nil {
			t.Errorf("%s: no error", c.name)
		}
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "x.parquet")
	w, err := CreateLogged(path, cols, nil)
	if err != nil {
		t.Fatal(err)
	}
	ragged := NewTable(cols, 2)
	ragged.AppendFloat(0, 1)
	ragged.AppendFloat(0, 2)
	ragged.AppendString(1, "a")
	if err := w.Write(ragged); err == nil {
		t.Error("ragged table written")
	}
	other := NewTable([]Column{cols[1], cols[0]}, 0)
	if err := w.Write(other); err == nil {
		t.Error("table with other columns written")
	}
	w.Abort()
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("abort left %s", ents[0].Name())
	}
}

func TestLoggedReadsForeignParquet(t *testing.T) {
	// Canonical events written by the row writer: no engage.columns, so kinds
	// come from the Parquet types.
	rows := randRows[Event](5, 3000)
	var buf bytes.Buffer
	w, _ := NewWriter[Event](&buf, Options{RowGroupRows: 1000})
	w.Write(rows)
	w.Close()
	path := filepath.Join(t.TempDir(), "events.parquet")
	os.WriteFile(path, buf.Bytes(), 0o644)
	tb, err := ReadLogged(path)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Kind{"event_id": KindCategorical, "type": KindCategorical, "at": KindTime, "amount": KindNumeric}
	for name, kind := range want {
		i := tb.Index(name)
		if i < 0 || tb.Columns[i].Kind != kind || tb.Columns[i].Role != RoleContext {
			t.Fatalf("column %s: %+v", name, tb.Columns)
		}
	}
	at, amt, typ := tb.Index("at"), tb.Index("amount"), tb.Index("type")
	for i, e := range rows {
		if tb.Times[at][i] != e.At || tb.Floats[amt][i] != float64(e.Amount) || tb.Strings[typ][i] != e.Type {
			t.Fatalf("row %d differs", i)
		}
	}
}

func TestOpenLoggedErrors(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "g.parquet")
	os.WriteFile(garbage, []byte("not parquet at all"), 0o644)
	if _, err := OpenLogged(garbage); err == nil {
		t.Fatal("garbage opened")
	}
	if _, err := OpenLogged(filepath.Join(dir, "missing.parquet")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
}
