package training

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/engagehq/engage/datasets"
)

// genTable makes a logged table with a known logistic truth: two numeric
// context features, a categorical region, a channel action part with a
// channel × x1 interaction, a time column and a binary outcome; censored
// (NaN) outcomes on the last few rows.
func genTable(n int, seed uint64) *datasets.Table {
	cols := []datasets.Column{
		{Name: "decision_id", Role: datasets.RoleID, Kind: datasets.KindCategorical},
		{Name: "decided_at", Role: datasets.RoleTime, Kind: datasets.KindTime},
		{Name: "x1", Role: datasets.RoleContext, Kind: datasets.KindNumeric},
		{Name: "x2", Role: datasets.RoleContext, Kind: datasets.KindNumeric},
		{Name: "region", Role: datasets.RoleContext, Kind: datasets.KindCategorical},
		{Name: "channel", Role: datasets.RoleAction, Kind: datasets.KindCategorical, Levels: []string{"email", "sms", "call"}},
		{Name: "local_hour", Role: datasets.RoleAction, Kind: datasets.KindNumeric},
		{Name: "propensity", Role: datasets.RolePropensity, Kind: datasets.KindNumeric},
		{Name: "engaged", Role: datasets.RoleOutcome, Kind: datasets.KindNumeric},
		{Name: "treated", Role: datasets.RoleContext, Kind: datasets.KindCategorical},
	}
	t := datasets.NewTable(cols, n)
	rng := rand.New(rand.NewPCG(seed, 7))
	regions := []string{"US", "CA", "GB"}
	channels := []string{"email", "sms", "call"}
	for i := 0; i < n; i++ {
		x1, x2 := rng.NormFloat64(), rng.NormFloat64()
		r := rng.IntN(3)
		c := rng.IntN(3)
		h := 8 + rng.IntN(13)
		tr := rng.IntN(2)
		z := -1 + 0.8*x1 - 0.5*x2 + []float64{0, 0.4, -0.3}[r] + []float64{0, 0.5, -0.5}[c]*x1 - 0.05*math.Abs(float64(h-14))
		z += 0.6 * float64(tr) * b2f(x2 > 0)
		y := b2f(rng.Float64() < 1/(1+math.Exp(-z)))
		if i >= n-n/50 {
			y = math.NaN()
		}
		t.AppendString(0, "d"+itoa(i))
		t.AppendTime(1, int64(i)*60_000_000+1_700_000_000_000_000)
		t.AppendFloat(2, x1)
		t.AppendFloat(3, x2)
		t.AppendString(4, regions[r])
		t.AppendString(5, channels[c])
		t.AppendFloat(6, float64(h))
		t.AppendFloat(7, 1.0/3)
		t.AppendFloat(8, y)
		t.AppendString(9, []string{"control", "treat"}[tr])
	}
	return t
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func itoa(i int) string {
	const d = "0123456789"
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{d[i%10]}, b...)
	}
	return string(b)
}

// writeTable writes t as a logged Parquet file in dir and returns its path.
func writeTable(tb testing.TB, dir string, t *datasets.Table, meta map[string]string) string {
	tb.Helper()
	path := filepath.Join(dir, "X.parquet")
	w, err := datasets.CreateLogged(path, t.Columns, meta)
	if err != nil {
		tb.Fatal(err)
	}
	if err := w.Write(t); err != nil {
		tb.Fatal(err)
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	return path
}

// fastOptions keep test fits short.
func fastOptions(target string) Options {
	o := DefaultOptions()
	o.Target = target
	o.GBDT.MaxIter = 60
	o.GBDT.LearningRate = 0.1
	o.Exclude = []string{"treated"}
	return o
}
