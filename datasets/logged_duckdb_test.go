package datasets

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// TestDuckDBReadsLoggedEncodings checks DuckDB reads every page layout the
// logged writer produces: dictionary and PLAIN pages mixed in one chunk,
// RLE and bit-packed indices, nulls, each codec; and that its row-group
// statistics do not make DuckDB skip rows a filter wants.
func TestDuckDBReadsLoggedEncodings(t *testing.T) {
	tb := featureLikeTable(11, 30000)
	var sumF1, sumAt float64
	var nanF3, lastPaid, north, bigF2, late int64
	minF7, maxF7 := math.Inf(1), math.Inf(-1)
	accts := map[string]bool{}
	cut := t2020 + 20000*1e6
	for i := range tb.Len() {
		sumF1 += tb.Floats[6][i]
		if math.IsNaN(tb.Floats[8][i]) {
			nanF3++
		}
		if tb.Times[4][i] != MissingTime {
			lastPaid++
		}
		if tb.Strings[3][i] == "north" {
			north++
		}
		if tb.Floats[7][i] > 0.5 {
			bigF2++
		}
		if tb.Times[2][i] > cut {
			late++
		}
		if x := tb.Floats[12][i]; !math.IsNaN(x) {
			minF7, maxF7 = min(minF7, x), max(maxF7, x)
		}
		sumAt += float64(tb.Times[2][i])
		accts[tb.Strings[1][i]] = true
	}
	cases := []struct {
		name string
		opts LoggedOptions
	}{
		{"snappy mixed chunks", LoggedOptions{RowGroupRows: 7000, PageRows: 900, MaxDictionary: 60}},
		{"zstd", LoggedOptions{Compression: "zstd", RowGroupRows: 12000, PageRows: 4000}},
		{"none", LoggedOptions{Compression: "none", PageRows: 3000, MaxDictionary: 1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "x.parquet")
			if err := os.WriteFile(path, writeLogged(t, tb, c.opts, 4096), 0o644); err != nil {
				t.Fatal(err)
			}
			res := duck(t,
				fmt.Sprintf(`select count(*), sum(f1), count(*) filter (where isnan(f3)), count(last_paid),
					count(*) filter (where region = 'north'), count(distinct account_id), sum(epoch_us("at"))::double,
					min(f7) filter (where not isnan(f7)), max(f7) filter (where not isnan(f7)) from '%s'`, path),
				fmt.Sprintf(`select count(*) from '%s' where f2 > 0.5`, path),
				fmt.Sprintf(`select count(*) from '%s' where "at" > make_timestamptz(%d)`, path, cut),
				fmt.Sprintf(`select decision_id, account_id, epoch_us("at"), f1, p from '%s' where decision_id = 'd12345'`, path),
			)
			r := res[0][0]
			eqInt(t, "count", r[0], int64(tb.Len()))
			eqFloat(t, "sum(f1)", r[1], sumF1)
			eqInt(t, "NaN f3", r[2], nanF3)
			eqInt(t, "non-null last_paid", r[3], lastPaid)
			eqInt(t, "north", r[4], north)
			eqInt(t, "distinct accounts", r[5], int64(len(accts)))
			eqFloat(t, "sum(at)", r[6], sumAt)
			eqFloat(t, "min(f7)", r[7], minF7)
			eqFloat(t, "max(f7)", r[8], maxF7)
			eqInt(t, "f2 > 0.5 (row-group statistics)", one(t, res[1]), bigF2)
			eqInt(t, "at > cut (row-group statistics)", one(t, res[2]), late)
			row := res[3]
			if len(row) != 1 || row[0][0] != "d12345" || row[0][1] != tb.Strings[1][12345] || row[0][2] != fmt.Sprint(tb.Times[2][12345]) {
				t.Fatalf("row d12345: DuckDB %v", row)
			}
			eqFloat(t, "f1 of d12345", row[0][3], tb.Floats[6][12345])
			eqFloat(t, "p of d12345", row[0][4], tb.Floats[29][12345])
		})
	}
}
