package training

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/engagehq/engage/datasets"
	"github.com/engagehq/engage/datasets/synth"
	"github.com/engagehq/engage/features"
)

func TestDbgSlot(t *testing.T) {
	if os.Getenv("ENGAGE_DBG") == "" {
		t.Skip()
	}
	dir := "/tmp/dbgw"
	world := filepath.Join(dir, "world")
	x := filepath.Join(dir, "X.parquet")
	if os.Getenv("ENGAGE_DBG") == "regen" {
		wo := synth.DefaultOptions()
		w, _ := synth.New(wo)
		if err := w.WriteDir(context.Background(), world, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := features.Build(context.Background(), features.Inputs{
			Accounts:  filepath.Join(world, synth.AccountsFile),
			Events:    filepath.Join(world, synth.EventsFile),
			Decisions: filepath.Join(world, synth.DecisionsFile),
		}, x, features.DefaultOptions()); err != nil {
			t.Fatal(err)
		}
	}
	tab, err := datasets.ReadLogged(x)
	if err != nil {
		t.Fatal(err)
	}
	y := tab.Floats[tab.Index("engaged_48h")]
	ca := tab.Floats[tab.Index("channel_affinity")]
	sa := tab.Floats[tab.Index("send_slot_affinity")]
	sr := tab.Floats[tab.Index("send_slot_relative")]
	pe := tab.Floats[tab.Index("profile_engagements")]
	ch := tab.Strings[tab.Index("channel")]
	type r struct{ x, y float64 }
	for _, f := range []struct {
		name string
		v    []float64
	}{{"slot_aff", sa}, {"slot_rel", sr}} {
		for _, hi := range []bool{false, true} {
			var rows []r
			for i := range y {
				if math.IsNaN(y[i]) || ch[i] == "letter" {
					continue
				}
				if hi != (ca[i] > 0.3) || pe[i] < 3 {
					continue
				}
				rows = append(rows, r{f.v[i], y[i]})
			}
			sort.Slice(rows, func(a, b int) bool { return rows[a].x < rows[b].x })
			q := len(rows) / 10
			for d := 0; d < 10; d++ {
				s, n, xs := 0.0, 0, 0.0
				for _, e := range rows[d*q : (d+1)*q] {
					s += e.y
					xs += e.x
					n++
				}
				t.Logf("%s chaff>0.3=%v decile %d: x %.3f rate %.3f (n %d)", f.name, hi, d, xs/float64(n), s/float64(n), n)
			}
		}
	}
}
