package uplift

import (
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/engagehq/engage/models"
	"github.com/engagehq/engage/models/linear"
	"github.com/engagehq/engage/models/metrics"
)

// synth draws a 3-arm randomised experiment with known effects: arm 1 helps
// when b > 0, arm 2 helps when b < 0. It returns the true effects per action.
func synth(n int, seed uint64) (*models.Matrix, []int, []float64, [][]float64) {
	rng := rand.New(rand.NewPCG(seed, 4))
	feats := []models.Feature{{Name: "a"}, {Name: "b"}, {Name: "c", Kind: models.Categorical, Levels: []string{"x", "y"}}}
	X := models.NewMatrix(n, feats)
	arm := make([]int, n)
	y := make([]float64, n)
	tau := [][]float64{make([]float64, n), make([]float64, n)}
	sig := func(z float64) float64 { return 1 / (1 + math.Exp(-z)) }
	for i := 0; i < n; i++ {
		a, b, c := rng.NormFloat64(), rng.NormFloat64(), float64(rng.IntN(2))
		X.Set(i, 0, a)
		X.Set(i, 1, b)
		X.Set(i, 2, c)
		base := -0.5 + 0.8*a + 0.3*c
		z := []float64{base, base + 1.2*b, base - 1.0*b}
		arm[i] = rng.IntN(3)
		tau[0][i] = sig(z[1]) - sig(z[0])
		tau[1][i] = sig(z[2]) - sig(z[0])
		if rng.Float64() < sig(z[arm[i]]) {
			y[i] = 1
		}
	}
	return X, arm, y, tau
}

func corr(a, b []float64) float64 {
	var ma, mb float64
	for i := range a {
		ma += a[i]
		mb += b[i]
	}
	ma /= float64(len(a))
	mb /= float64(len(b))
	var sab, saa, sbb float64
	for i := range a {
		sab += (a[i] - ma) * (b[i] - mb)
		saa += (a[i] - ma) * (a[i] - ma)
		sbb += (b[i] - mb) * (b[i] - mb)
	}
	return sab / math.Sqrt(saa*sbb)
}

func opts() Options {
	lin := linear.DefaultOptions()
	return Options{Arms: []string{"none", "sms", "email"}, Outcome: LinearClassifier{lin}, Effect: LinearRegressor{lin}}
}

func TestLearnersRecoverEffects(t *testing.T) {
	X, arm, y, _ := synth(30000, 1)
	V, varm, vy, vtau := synth(20000, 2)
	withProp := opts()
	withProp.Propensity = LinearClassifier{linear.DefaultOptions()}
	cases := []struct {
		name string
		fit  func(context.Context, *models.Matrix, []int, []float64, Options) (*Model, error)
		o    Options
	}{
		{"t", FitT, opts()},
		{"x constant propensity", FitX, opts()},
		{"x fitted propensity", FitX, withProp},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := c.fit(context.Background(), X, arm, y, c.o)
			if err != nil {
				t.Fatal(err)
			}
			eff, err := m.EffectsBatch(V)
			if err != nil {
				t.Fatal(err)
			}
			for a := 0; a < 2; a++ {
				if r := corr(eff[a], vtau[a]); r < 0.9 {
					t.Errorf("action %d: correlation with the true effect %.3f", a+1, r)
				}
				var ys, sc []float64
				var tr []bool
				for i, va := range varm {
					if va == 0 || va == a+1 {
						ys, sc, tr = append(ys, vy[i]), append(sc, eff[a][i]), append(tr, va == a+1)
					}
				}
				q, err := metrics.QiniAUC(ys, sc, tr)
				if err != nil {
					t.Fatal(err)
				}
				if q < 0.1 {
					t.Errorf("action %d: held-out Qini coefficient %.3f, want a clearly positive ranking", a+1, q)
				}
			}
		})
	}
}

func TestSaveLoadIdentical(t *testing.T) {
	X, arm, y, _ := synth(4000, 3)
	withProp := opts()
	withProp.Propensity = LinearClassifier{linear.DefaultOptions()}
	for _, fit := range []struct {
		name string
		f    func(context.Context, *models.Matrix, []int, []float64, Options) (*Model, error)
		o    Options
	}{{"t", FitT, opts()}, {"x", FitX, opts()}, {"x+prop", FitX, withProp}} {
		m, err := fit.f(context.Background(), X, arm, y, fit.o)
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		m2, err := Load(b, nil)
		if err != nil {
			t.Fatalf("%s: %v", fit.name, err)
		}
		e1, _ := m.EffectsBatch(X)
		e2, err := m2.EffectsBatch(X)
		if err != nil {
			t.Fatal(err)
		}
		for a := range e1 {
			for i := range e1[a] {
				if math.Float64bits(e1[a][i]) != math.Float64bits(e2[a][i]) {
					t.Fatalf("%s: action %d row %d: %v before save, %v after", fit.name, a, i, e1[a][i], e2[a][i])
				}
			}
		}
		if m2.Method() != m.Method() || len(m2.Arms()) != 3 {
			t.Errorf("%s: metadata lost", fit.name)
		}
		if _, err := Load(b, map[string]Decoder{}); err == nil || !strings.Contains(err.Error(), "no decoder") {
			t.Errorf("%s: load without decoders: %v", fit.name, err)
		}
	}
	for _, bad := range []string{`{`, `{"format":"x"}`, `{"format":"engage.uplift/1","method":"s","arms":["a","b"]}`,
		`{"format":"engage.uplift/1","method":"t-learner","arms":["a","b"],"outcome":[]}`} {
		if _, err := Load([]byte(bad), nil); err == nil {
			t.Errorf("Load(%s) accepted a corrupt model", bad)
		}
	}
}

func TestBadInput(t *testing.T) {
	X, arm, y, _ := synth(300, 5)
	ctx := context.Background()
	noEffect := opts()
	noEffect.Effect = nil
	cases := []struct {
		name   string
		X      *models.Matrix
		arm    []int
		y      []float64
		o      Options
		errHas string
	}{
		{"empty", models.NewMatrix(0, X.Features), nil, nil, opts(), "no rows"},
		{"arm out of range", X, append([]int{7}, arm[1:]...), y, opts(), "arm 7"},
		{"missing arm", X, make([]int, len(arm)), y, opts(), "has no rows"},
		{"nan outcome", X, arm, append([]float64{math.NaN()}, y[1:]...), opts(), "not finite"},
		{"short outcome", X, arm, y[:5], opts(), "outcomes"},
		{"one arm", X, arm, y, Options{Arms: []string{"only"}, Outcome: LinearClassifier{linear.DefaultOptions()}}, "at least one action"},
		{"no learner", X, arm, y, Options{Arms: []string{"a", "b", "c"}}, "no base learner"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, f := range []func(context.Context, *models.Matrix, []int, []float64, Options) (*Model, error){FitT, FitX} {
				if _, err := f(ctx, c.X, c.arm, c.y, c.o); err == nil || !strings.Contains(err.Error(), c.errHas) {
					t.Errorf("err %v, want %q", err, c.errHas)
				}
			}
		})
	}
	if _, err := FitX(ctx, X, arm, y, noEffect); err == nil {
		t.Error("x-learner without an effect learner")
	}
	// A constant outcome within an arm is an error of the base learner, reported
	// with the arm's name.
	yc := make([]float64, len(y))
	if _, err := FitT(ctx, X, arm, yc, opts()); err == nil || !strings.Contains(err.Error(), "arm") {
		t.Errorf("constant outcome: %v", err)
	}
	m, err := FitT(ctx, X, arm, y, opts())
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Effects([]float64{1, 2}, make([]float64, 2)); err == nil {
		t.Error("Effects accepted a short row")
	}
	if err := m.Effects([]float64{1, 2, 0}, make([]float64, 1)); err == nil {
		t.Error("Effects accepted a short dst")
	}
}
