package datasets

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// roundTrip writes rows to Parquet and CSV (small row groups, so several are
// used) and reads both back, for every canonical table and several seeds.
func roundTrip[T Row](t *testing.T) {
	for seed := uint64(1); seed <= 5; seed++ {
		n := int(seed*seed*97) % 1500
		rows := randRows[T](seed, n)
		if es, ok := any(rows).([]Event); ok {
			weirdEvents(newRand(seed), es)
		}
		dir := t.TempDir()
		pq := filepath.Join(dir, TableName[T]()+".parquet")
		w, err := Create[T](pq, Options{RowGroupRows: 100})
		if err != nil {
			t.Fatal(err)
		}
		// uneven batches across row-group boundaries
		for i := 0; i < len(rows); i += 77 {
			if err := w.Write(rows[i:min(len(rows), i+77)]); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		got, err := ReadAll[T](pq)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(rows) || (n > 0 && !reflect.DeepEqual(got, rows)) {
			t.Fatalf("seed %d: parquet round trip differs (%d rows back of %d)", seed, len(got), len(rows))
		}
		if vr, err := ValidateFile[T](pq, ValidateOptions{}); err != nil || vr != int64(n) {
			t.Fatalf("seed %d: random valid rows fail validation (%d rows): %v", seed, vr, err)
		}

		csvPath := filepath.Join(dir, TableName[T]()+".csv")
		cw, err := CreateCSV[T](csvPath)
		if err != nil {
			t.Fatal(err)
		}
		if err := cw.Write(rows); err != nil {
			t.Fatal(err)
		}
		if err := cw.Close(); err != nil {
			t.Fatal(err)
		}
		r, err := OpenRows[T](csvPath)
		if err != nil {
			t.Fatal(err)
		}
		var back []T
		buf := make([]T, 50)
		for {
			k, err := r.Next(buf)
			back = append(back, buf[:k]...)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		r.Close()
		if len(back) != len(rows) || (n > 0 && !reflect.DeepEqual(back, rows)) {
			for i := range min(len(back), len(rows)) {
				if !reflect.DeepEqual(back[i], rows[i]) {
					t.Fatalf("seed %d: csv row %d: got %+v want %+v", seed, i, back[i], rows[i])
				}
			}
			t.Fatalf("seed %d: csv round trip: %d rows back of %d", seed, len(back), len(rows))
		}
	}
}

func TestRoundTripAccounts(t *testing.T)  { roundTrip[Account](t) }
func TestRoundTripEvents(t *testing.T)    { roundTrip[Event](t) }
func TestRoundTripDecisions(t *testing.T) { roundTrip[Decision](t) }
func TestRoundTripTruth(t *testing.T)     { roundTrip[Truth](t) }

func TestCreateAbortLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "events.parquet")
	w, err := Create[Event](path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(randRows[Event](1, 10)); err != nil {
		t.Fatal(err)
	}
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 0 {
		t.Fatalf("abort left %d files: %v", len(ents), ents[0].Name())
	}
}

func TestSameRowsSameBytes(t *testing.T) {
	rows := randRows[Event](3, 5000)
	var a, b bytes.Buffer
	for _, buf := range []*bytes.Buffer{&a, &b} {
		w, err := NewWriter[Event](buf, Options{RowGroupRows: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Write(rows); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("same rows gave different bytes")
	}
}

func TestOpenWrongTable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "truth.parquet")
	if err := WriteAll(path, randRows[Truth](1, 10), Options{}); err != nil {
		t.Fatal(err)
	}
	// truth shares only account_id with events: readable, but decisions
	// share it too; a file with no shared column must be refused.
	bad := filepath.Join(t.TempDir(), "x.parquet")
	w, err := CreateLogged(bad, []Column{{Name: "foo", Role: RoleContext, Kind: KindNumeric}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(&Table{Columns: w.Columns(), Floats: [][]float64{{1}}, Strings: make([][]string, 1), Times: make([][]int64, 1)})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := Open[Event](bad); err == nil || !strings.Contains(err.Error(), "no events columns") {
		t.Fatalf("opening a foreign file as events: err = %v", err)
	}
	garbage := filepath.Join(t.TempDir(), "g.parquet")
	os.WriteFile(garbage, []byte("PAR1 not really parquet PAR1"), 0o644)
	if _, err := Open[Event](garbage); err == nil {
		t.Fatal("garbage file opened without error")
	}
}

func TestCSVReaderErrors(t *testing.T) {
	cases := []struct{ name, csv, want string }{
		{"unknown column", "event_id,bogus\nx,y\n", "unknown column"},
		{"bad time", "event_id,at\ne1,yesterday\n", "row 1, column at"},
		{"bad int", "event_id,amount\ne1,12.5\n", "not an int64"},
		{"field count", "event_id,amount\ne1,1,2\n", "has 3 fields"},
		{"empty", "", "no header"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := NewCSVReader[Event](strings.NewReader(c.csv))
			_, err := r.Next(make([]Event, 4))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want %q", err, c.want)
			}
		})
	}
}
