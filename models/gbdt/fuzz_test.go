package gbdt

import (
	"bytes"
	"math"
	"testing"
)

func FuzzLoad(f *testing.F) {
	X, y, _ := synth(500, 1)
	o := DefaultOptions()
	o.MaxIter, o.EarlyStoppingRounds, o.MaxLeaves = 3, 0, 4
	m := mustFit(f, X, y, nil, nil, o)
	var buf bytes.Buffer
	if err := m.Save(&buf); err != nil {
		f.Fatal(err)
	}
	valid := buf.Bytes()
	f.Add(valid)
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"format":"engage-gbdt","version":1,"features":[{"name":"a","kind":0}],"base":0,"trees":[{"nodes":[{"f":0,"t":1,"l":0,"r":0,"n":1}]}]}`))
	f.Add([]byte(`{"format":"engage-gbdt","version":1,"features":[{"name":"a","kind":1,"levels":["x"]}],"base":0,"trees":[{"nodes":[{"f":0,"c":[1],"l":1,"r":2,"n":1},{"f":-1,"v":1},{"f":-1,"v":-1}]}]}`))
	f.Add(valid[:len(valid)/2])
	rows := [][]float64{
		{0, 0, 0, 0, 0, 0},
		{math.NaN(), math.NaN(), math.NaN(), math.NaN(), math.NaN(), math.NaN()},
		{1e300, -1e300, 3, 1, 99, -5},
		{0},
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Load(bytes.NewReader(data))
		if err != nil {
			return
		}
		for _, r := range rows {
			m.PredictProba(r) // must not panic
			if len(r) != len(m.features) {
				continue
			}
			// Partial evaluation must agree with the full walk.
			b, err := m.Bind(r, []int{0})
			if err != nil {
				t.Fatalf("bind: %v", err)
			}
			for _, v := range []float64{r[0], 0, 1, math.NaN(), -3} {
				full := append([]float64(nil), r...)
				full[0] = v
				want, _ := m.PredictMargin(full)
				got, _ := b.Margin([]float64{v})
				if math.Float64bits(got) != math.Float64bits(want) {
					t.Fatalf("bound margin %v, full %v", got, want)
				}
			}
		}
		m.Importance()
		var out bytes.Buffer
		if err := m.Save(&out); err != nil {
			t.Fatalf("loaded model does not save: %v", err)
		}
	})
}
