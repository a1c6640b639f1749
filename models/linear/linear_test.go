package linear

import (
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/engagehq/engage/models"
)

// truth is a generating model in original units.
type truth struct {
	intercept float64
	num       []float64 // per numeric column
	miss      float64   // added when the last numeric column is missing
	levels    []float64 // per level of the one categorical column
}

// synth draws n rows: numeric columns with assorted means and scales (the last
// one 10% missing), one categorical column with len(levels) levels, and returns
// the matrix with the true linear predictor per row.
func synth(n int, tr truth, seed uint64) (*models.Matrix, []float64) {
	rng := rand.New(rand.NewPCG(seed, 1))
	var feats []models.Feature
	for j := range tr.num {
		feats = append(feats, models.Feature{Name: "x" + string(rune('a'+j)), Kind: models.Numeric})
	}
	lv := make([]string, len(tr.levels))
	for l := range lv {
		lv[l] = "L" + string(rune('0'+l))
	}
	feats = append(feats, models.Feature{Name: "cat", Kind: models.Categorical, Levels: lv})
	X := models.NewMatrix(n, feats)
	eta := make([]float64, n)
	means := []float64{0, 10, -3, 2, 100}
	scales := []float64{1, 5, 0.5, 1, 20}
	last := len(tr.num) - 1
	for i := 0; i < n; i++ {
		z := tr.intercept
		for j, w := range tr.num {
			v := means[j%len(means)] + scales[j%len(scales)]*rng.NormFloat64()
			if j == last && rng.Float64() < 0.1 {
				X.Set(i, j, math.NaN())
				z += w*means[j%len(means)] + tr.miss
				continue
			}
			X.Set(i, j, v)
			z += w * v
		}
		l := rng.IntN(len(tr.levels))
		X.Set(i, len(tr.num), float64(l))
		z += tr.levels[l]
		eta[i] = z
	}
	return X, eta
}

func bernoulli(eta []float64, seed uint64) []float64 {
	rng := rand.New(rand.NewPCG(seed, 2))
	y := make([]float64, len(eta))
	for i, z := range eta {
		if rng.Float64() < sigmoid(z) {
			y[i] = 1
		}
	}
	return y
}

func TestFitRecoversCoefficients(t *testing.T) {
	// The intercept centres the linear predictor near -0.5 (xb, xc and xd have
	// means 10, -3 and 2), so both classes are common and standard errors small.
	tr := truth{intercept: 3.8, num: []float64{0.8, -0.1, 1.2, 0.4}, miss: 0.6, levels: []float64{0, 0.7, -0.5}}
	X, eta := synth(50000, tr, 7)
	y := bernoulli(eta, 8)
	opts := DefaultOptions()
	opts.Lambda = 1e-7
	m, err := Fit(context.Background(), X, y, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("iterations=%d status=%s", m.Iterations, m.Status)
	co := m.Coefficients()[0]
	got := map[string]float64{}
	for _, term := range co.Terms {
		key := term.Feature + "/" + term.Level
		if term.Missing {
			key += "missing"
		}
		got[key] = term.Weight
	}
	checks := []struct {
		name      string
		got, want float64
	}{
		{"xa", got["xa/"], tr.num[0]},
		{"xb", got["xb/"], tr.num[1]},
		{"xc", got["xc/"], tr.num[2]},
		{"xd", got["xd/"], tr.num[3]},
		{"xd missing", got["xd/missing"], tr.miss},
		{"L1-L0", got["cat/L1"] - got["cat/L0"], tr.levels[1] - tr.levels[0]},
		{"L2-L0", got["cat/L2"] - got["cat/L0"], tr.levels[2] - tr.levels[0]},
		{"intercept+L0", co.Intercept + got["cat/L0"], tr.intercept + tr.levels[0]},
	}
	for _, c := range checks {
		// Standard errors at n=50k are about 0.01-0.03 here; 0.1 is >= 4 s.e.
		tol := 0.1
		if c.name == "intercept+L0" {
			tol = 0.25 // carries the uncertainty of xb times its mean (10) and of xc times -3
		}
		if math.Abs(c.got-c.want) > tol {
			t.Errorf("%s = %.4f, want %.4f ± %v", c.name, c.got, c.want, tol)
		}
	}
}

func TestFitMultinomialRecoversCoefficients(t *testing.T) {
	// Class 0 is the reference with zero coefficients; compare differences.
	n := 50000
	rng := rand.New(rand.NewPCG(11, 3))
	feats := []models.Feature{{Name: "a", Kind: models.Numeric}, {Name: "b", Kind: models.Numeric}}
	X := models.NewMatrix(n, feats)
	W := [][]float64{{0, 0, 0}, {0.3, 1.0, -0.5}, {-0.2, -0.7, 0.9}} // intercept, a, b
	cls := make([]int, n)
	p := make([]float64, 3)
	for i := 0; i < n; i++ {
		a, b := rng.NormFloat64()*2+1, rng.NormFloat64()
		X.Set(i, 0, a)
		X.Set(i, 1, b)
		s := 0.0
		for k := range W {
			p[k] = math.Exp(W[k][0] + W[k][1]*a + W[k][2]*b)
			s += p[k]
		}
		u := rng.Float64() * s
		for k := range p {
			u -= p[k]
			if u <= 0 || k == len(p)-1 {
				cls[i] = k
				break
			}
		}
	}
	opts := DefaultOptions()
	opts.Lambda = 1e-7
	m, err := FitMultinomial(context.Background(), X, cls, 3, opts)
	if err != nil {
		t.Fatal(err)
	}
	co := m.Coefficients()
	for k := 1; k < 3; k++ {
		got := []float64{co[k].Intercept - co[0].Intercept}
		for j := range co[k].Terms {
			got = append(got, co[k].Terms[j].Weight-co[0].Terms[j].Weight)
		}
		for j, g := range got {
			if math.Abs(g-W[k][j]) > 0.08 {
				t.Errorf("class %d coef %d = %.4f, want %.4f", k, j, g, W[k][j])
			}
		}
	}
	dst := make([]float64, 3)
	if err := m.PredictClassProba(X.Row(0), dst); err != nil {
		t.Fatal(err)
	}
	if s := dst[0] + dst[1] + dst[2]; math.Abs(s-1) > 1e-12 {
		t.Errorf("class probabilities sum to %v", s)
	}
}

func TestFitRegression(t *testing.T) {
	tr := truth{intercept: 1, num: []float64{2, -0.3}, miss: -1, levels: []float64{0, 0.5}}
	X, eta := synth(20000, tr, 3)
	rng := rand.New(rand.NewPCG(5, 5))
	y := make([]float64, len(eta))
	for i := range y {
		y[i] = eta[i] + 0.1*rng.NormFloat64()
	}
	opts := DefaultOptions()
	opts.Lambda = 0
	m, err := FitRegression(context.Background(), X, y, opts)
	if err != nil {
		t.Fatal(err)
	}
	co := m.Coefficients()[0]
	if math.Abs(co.Terms[0].Weight-2) > 0.01 || math.Abs(co.Terms[1].Weight+0.3) > 0.01 || math.Abs(co.Terms[2].Weight+1) > 0.02 {
		t.Errorf("coefficients %+v", co.Terms)
	}
}

func TestSaveLoadIdentical(t *testing.T) {
	tr := truth{intercept: 0.2, num: []float64{0.5, 0.1, -0.4}, miss: 0.3, levels: []float64{0, 1, -1, 0.2}}
	X, eta := synth(3000, tr, 21)
	y := bernoulli(eta, 22)
	m, err := Fit(context.Background(), X, y, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := Load(b)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < X.Rows; i++ {
		p1, err1 := m.PredictProba(X.Row(i))
		p2, err2 := m2.PredictProba(X.Row(i))
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		if math.Float64bits(p1) != math.Float64bits(p2) {
			t.Fatalf("row %d: %v before save, %v after", i, p1, p2)
		}
	}
	b2, _ := json.Marshal(m2)
	if string(b) != string(b2) {
		t.Error("re-encoding a loaded model changed its JSON")
	}
}

func TestDeterministic(t *testing.T) {
	tr := truth{intercept: 0.2, num: []float64{0.5, 0.1, -0.4}, miss: 0.3, levels: []float64{0, 1, -1}}
	X, eta := synth(5001, tr, 31)
	y := bernoulli(eta, 32)
	seq := DefaultOptions()
	seq.Parallel = false
	var ref []byte
	for i, o := range []Options{DefaultOptions(), DefaultOptions(), seq} {
		m, err := Fit(context.Background(), X, y, o)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(m)
		if i == 0 {
			ref = b
		} else if string(b) != string(ref) {
			t.Errorf("fit %d differs from fit 0", i)
		}
	}
}

func TestWeightsEqualDuplication(t *testing.T) {
	tr := truth{intercept: 0.2, num: []float64{0.5, -0.4}, miss: 0.3, levels: []float64{0, 1}}
	X, eta := synth(2000, tr, 41)
	y := bernoulli(eta, 42)
	w := make([]float64, X.Rows)
	dup := models.NewMatrix(0, X.Features)
	var ydup []float64
	for i := range w {
		w[i] = float64(1 + i%3)
		for r := 0; r < int(w[i]); r++ {
			dup.Data = append(dup.Data, X.Row(i)...)
			dup.Rows++
			ydup = append(ydup, y[i])
		}
	}
	ow := DefaultOptions()
	ow.Weights = w
	mw, err := Fit(context.Background(), X, y, ow)
	if err != nil {
		t.Fatal(err)
	}
	md, err := Fit(context.Background(), dup, ydup, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	for k := range mw.Coef[0] {
		if math.Abs(mw.Coef[0][k]-md.Coef[0][k]) > 1e-4 {
			t.Errorf("coef %d: weighted %v, duplicated %v", k, mw.Coef[0][k], md.Coef[0][k])
		}
	}
}

func TestBadInput(t *testing.T) {
	feats := []models.Feature{{Name: "a"}, {Name: "c", Kind: models.Categorical, Levels: []string{"x", "y"}}}
	good := &models.Matrix{Rows: 4, Cols: 2, Features: feats, Data: []float64{1, 0, 2, 1, 3, 0, 4, 1}}
	ctx := context.Background()
	cases := []struct {
		name string
		X    *models.Matrix
		y    []float64
		opts func(*Options)
		want string
	}{
		{"nil matrix", nil, nil, nil, "no rows"},
		{"empty", models.NewMatrix(0, feats), nil, nil, "no rows"},
		{"constant label", good, []float64{1, 1, 1, 1}, nil, "constant"},
		{"nan label", good, []float64{0, math.NaN(), 1, 0}, nil, "not 0 or 1"},
		{"label 2", good, []float64{0, 2, 1, 0}, nil, "not 0 or 1"},
		{"length mismatch", good, []float64{0, 1}, nil, "2 targets for 4 rows"},
		{"bad level", &models.Matrix{Rows: 2, Cols: 2, Features: feats, Data: []float64{1, 5, 2, 0}}, []float64{0, 1}, nil, "level code"},
		{"inf value", &models.Matrix{Rows: 2, Cols: 2, Features: feats, Data: []float64{math.Inf(1), 0, 2, 0}}, []float64{0, 1}, nil, "infinite"},
		{"negative lambda", good, []float64{0, 1, 0, 1}, func(o *Options) { o.Lambda = -1 }, "lambda"},
		{"bad weights", good, []float64{0, 1, 0, 1}, func(o *Options) { o.Weights = []float64{1, 1} }, "weights"},
		{"zero weights", good, []float64{0, 1, 0, 1}, func(o *Options) { o.Weights = make([]float64, 4) }, "sum to zero"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := DefaultOptions()
			if c.opts != nil {
				c.opts(&o)
			}
			_, err := Fit(ctx, c.X, c.y, o)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to mention %q", err, c.want)
			}
		})
	}
	if _, err := FitMultinomial(ctx, good, []int{0, 1, 1, 0}, 3, DefaultOptions()); err == nil || !strings.Contains(err.Error(), "class 2 has no rows") {
		t.Errorf("missing class: %v", err)
	}
	if _, err := FitRegression(ctx, good, []float64{0, math.NaN(), 1, 0}, DefaultOptions()); err == nil {
		t.Error("regression accepted a NaN target")
	}

	m, err := Fit(ctx, good, []float64{0, 1, 0, 1}, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range [][]float64{{1}, {1, 0, 0}, {1, 7}, {math.Inf(-1), 0}, {1, 0.5}} {
		if _, err := m.PredictProba(row); err == nil {
			t.Errorf("PredictProba(%v) accepted a bad row", row)
		}
	}
	if p, err := m.PredictProba([]float64{math.NaN(), math.NaN()}); err != nil || math.IsNaN(p) {
		t.Errorf("all-missing row: p=%v err=%v", p, err)
	}
	other := []models.Feature{{Name: "b"}, feats[1]}
	if _, err := m.PredictBatch(&models.Matrix{Rows: 1, Cols: 2, Features: other, Data: []float64{1, 0}}); err == nil {
		t.Error("PredictBatch accepted a different schema")
	}
	for _, bad := range []string{`{`, `{"link":"logit","classes":2}`, `{"link":"probit"}`,
		`{"link":"logit","classes":2,"features":[{"name":"a"}],"mean":[0],"scale":[0],"missing":[false],"coef":[[0,1]]}`,
		`{"link":"logit","classes":2,"features":[{"name":"a"}],"mean":[0],"scale":[1],"missing":[false],"coef":[[0]]}`} {
		if _, err := Load([]byte(bad)); err == nil {
			t.Errorf("Load(%s) accepted a corrupt model", bad)
		}
	}
}

func TestCancel(t *testing.T) {
	tr := truth{intercept: 0.2, num: []float64{0.5}, miss: 0.3, levels: []float64{0, 1}}
	X, eta := synth(1000, tr, 51)
	y := bernoulli(eta, 52)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Fit(ctx, X, y, DefaultOptions()); err == nil {
		t.Error("fit ignored a cancelled context")
	}
}

func benchData(n, p int) (*models.Matrix, []float64) {
	rng := rand.New(rand.NewPCG(1, 1))
	feats := make([]models.Feature, p)
	for j := range feats {
		feats[j] = models.Feature{Name: "f" + string(rune('a'+j))}
	}
	X := models.NewMatrix(n, feats)
	y := make([]float64, n)
	for i := 0; i < n; i++ {
		z := -1.0
		for j := 0; j < p; j++ {
			v := rng.NormFloat64()
			X.Set(i, j, v)
			z += v * float64(j%5-2) * 0.2
		}
		if rng.Float64() < sigmoid(z) {
			y[i] = 1
		}
	}
	return X, y
}

func BenchmarkFit40kx20(b *testing.B) {
	X, y := benchData(40000, 20)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Fit(context.Background(), X, y, DefaultOptions()); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFit40kx20Sequential(b *testing.B) {
	X, y := benchData(40000, 20)
	o := DefaultOptions()
	o.Parallel = false
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Fit(context.Background(), X, y, o); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPredict(b *testing.B) {
	X, y := benchData(4000, 20)
	m, err := Fit(context.Background(), X, y, DefaultOptions())
	if err != nil {
		b.Fatal(err)
	}
	row := X.Row(3)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.PredictProba(row); err != nil {
			b.Fatal(err)
		}
	}
}
