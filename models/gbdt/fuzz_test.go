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
		}
		m.Importance()
		var out bytes.Buffer
		if err := m.Save(&out); err != nil {
			t.Fatalf("loaded model does not save: %v", err)
		}
	})
}
