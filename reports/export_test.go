package reports

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"strconv"
	"testing"

	"github.com/parquet-go/parquet-go"
)

// TestExportMatchesJSON writes every table of every fixture report as CSV
// and Parquet and checks each value against the report's JSON at the cell's
// pointer: the three outputs are one set of numbers.
func TestExportMatchesJSON(t *testing.T) {
	b := loadFixture(t, fixtureOptions())
	for _, name := range Names {
		rep, err := b.Run(name, Filter{})
		if err != nil {
			t.Fatal(err)
		}
		js, _ := json.Marshal(rep)
		var doc any
		if err := json.Unmarshal(js, &doc); err != nil {
			t.Fatal(err)
		}
		for _, tab := range rep.Tables() {
			var cb, pb bytes.Buffer
			if err := WriteCSV(&cb, tab); err != nil {
				t.Fatal(err)
			}
			if err := WriteParquet(&pb, tab); err != nil {
				t.Fatal(err)
			}
			recs, err := csv.NewReader(&cb).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != len(tab.Rows)+1 {
				t.Fatalf("%s/%s: %d CSV records for %d rows", name, tab.Name, len(recs), len(tab.Rows))
			}
			pf, err := parquet.OpenFile(bytes.NewReader(pb.Bytes()), int64(pb.Len()))
			if err != nil {
				t.Fatalf("%s/%s: parquet: %v", name, tab.Name, err)
			}
			fields := pf.Schema().Fields()
			for i, c := range tab.Columns {
				if recs[0][i] != c.Name || fields[i].Name() != c.Name {
					t.Fatalf("%s/%s: column %d is %q (csv) / %q (parquet), want %q", name, tab.Name, i, recs[0][i], fields[i].Name(), c.Name)
				}
			}
			rows := make([]parquet.Row, len(tab.Rows))
			if len(rows) > 0 {
				rr := pf.RowGroups()[0].Rows()
				n, _ := rr.ReadRows(rows)
				rr.Close()
				if n != len(rows) {
					t.Fatalf("%s/%s: read %d parquet rows, want %d", name, tab.Name, n, len(rows))
				}
			}
			for r, row := range tab.Rows {
				for i, c := range row {
					want := jsonAt(t, doc, c.Ptr)
					got := recs[r+1][i]
					pv := rows[r][i]
					switch w := want.(type) {
					case nil:
						if got != "" || !pv.IsNull() {
							t.Errorf("%s/%s %s: csv %q parquet %v, want null", name, tab.Name, c.Ptr, got, pv)
						}
					case float64:
						f, err := strconv.ParseFloat(got, 64)
						var p float64
						switch pv.Kind() {
						case parquet.Int64:
							p = float64(pv.Int64())
						default:
							p = pv.Double()
						}
						if err != nil || f != w || p != w {
							t.Errorf("%s/%s %s: csv %q parquet %v, want %v", name, tab.Name, c.Ptr, got, p, w)
						}
					case string:
						if tab.Columns[i].Kind == KindTime {
							continue
						}
						if got != w || string(pv.ByteArray()) != w {
							t.Errorf("%s/%s %s: csv %q parquet %q, want %q", name, tab.Name, c.Ptr, got, pv.ByteArray(), w)
						}
					case bool:
						if got != strconv.FormatBool(w) || pv.Boolean() != w {
							t.Errorf("%s/%s %s: csv %q, want %v", name, tab.Name, c.Ptr, got, w)
						}
					}
				}
			}
		}
	}
}

func jsonAt(t *testing.T, doc any, ptr string) any {
	t.Helper()
	cur := doc
	for _, part := range splitPtr(ptr) {
		switch x := cur.(type) {
		case map[string]any:
			cur = x[part] // omitted keys read as null / zero
			if cur == nil {
				return zeroFor(part)
			}
		case []any:
			i, err := strconv.Atoi(part)
			if err != nil || i >= len(x) {
				t.Fatalf("pointer %s: bad index %s", ptr, part)
			}
			cur = x[i]
		}
	}
	return cur
}

// zeroFor is what an omitempty field stands for.
func zeroFor(field string) any {
	switch field {
	case "currency", "age_band", "region", "jurisdiction", "label":
		return ""
	}
	return nil
}

func splitPtr(p string) []string {
	var out []string
	for _, s := range bytes.Split([]byte(p), []byte("/"))[1:] {
		out = append(out, string(s))
	}
	return out
}
