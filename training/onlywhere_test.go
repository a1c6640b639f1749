package training

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/engagehq/engage/datasets"
)

// TestOnlyWhere: a model fitted only on the rows where a 0/1 column is 1
// drops the other rows (and the censored ones), never uses that column as a
// feature, and a missing or non-numeric column is a clear error.
func TestOnlyWhere(t *testing.T) {
	tab := genTable(3000, 5)
	cols := append(tab.Columns, datasets.Column{Name: "engaged_first", Role: datasets.RoleContext, Kind: datasets.KindNumeric})
	u := datasets.NewTable(cols, tab.Len())
	for i := range tab.Columns {
		u.Floats[i], u.Strings[i], u.Times[i] = tab.Floats[i], tab.Strings[i], tab.Times[i]
	}
	keep, censored := 0, 0
	y := tab.Floats[tab.Index("engaged")]
	for r := range tab.Len() {
		v := float64(r % 3 % 2) // 1 on a third of the rows
		u.AppendFloat(len(cols)-1, v)
		if v == 1 {
			if math.IsNaN(y[r]) {
				censored++
			} else {
				keep++
			}
		}
	}
	o := DefaultOptions()
	o.Target, o.OnlyWhere = "engaged", "engaged_first"
	o.GBDT.MaxIter = 20
	rep, err := Fit(context.Background(), u, nil, "test", o)
	if err != nil {
		t.Fatal(err)
	}
	if got := rep.Rows - rep.Dropped; got != keep {
		t.Errorf("fitted on %d rows, want %d (the rows where engaged_first = 1, %d censored of them dropped)", got, keep, censored)
	}
	for _, f := range rep.Artifact.Features {
		if f.Name == "engaged_first" {
			t.Error("the only-where column is a feature")
		}
	}
	for _, bad := range []string{"nope", "region"} {
		o.OnlyWhere = bad
		if _, err := Fit(context.Background(), u, nil, "test", o); err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("only-where %q: error %v, want one naming the column", bad, err)
		}
	}
}
