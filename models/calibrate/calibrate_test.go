package calibrate

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestIsotonicHandComputed(t *testing.T) {
	// PAV by hand: (1:1) (2:0) violate -> block {1,2} mean 0.5; then (3:0)
	// violates -> block {1,2,3} mean 1/3 centre 2; (4:1) is above. Knots
	// (2, 1/3) and (4, 1).
	c, err := FitIsotonic([]float64{3, 1, 4, 2}, []float64{0, 1, 1, 0}, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if len(c.X) != 2 || c.X[0] != 2 || c.X[1] != 4 || math.Abs(c.Y[0]-1.0/3) > 1e-15 || c.Y[1] != 1 {
		t.Fatalf("knots %v %v", c.X, c.Y)
	}
	cases := []struct{ s, want float64 }{
		{0, 1.0 / 3}, {2, 1.0 / 3}, {3, 2.0 / 3}, {4, 1 - 1e-6}, {9, 1 - 1e-6},
	}
	for _, tc := range cases {
		if got := c.Calibrate(tc.s); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("Calibrate(%v) = %v, want %v", tc.s, got, tc.want)
		}
	}
	if !math.IsNaN(c.Calibrate(math.NaN())) {
		t.Error("NaN score should calibrate to NaN")
	}
}

func TestIsotonicTiesAndWeights(t *testing.T) {
	// Tied scores pool first; weight 3 on a row counts as three rows.
	c, err := FitIsotonic([]float64{1, 1, 2}, []float64{0, 1, 1}, Options{Eps: 0, Weights: []float64{3, 1, 1}})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.X) != 2 || c.Y[0] != 0.25 || c.Y[1] != 1 {
		t.Fatalf("knots %v %v", c.X, c.Y)
	}
}

func synth(n int, a, b float64, seed uint64) ([]float64, []float64) {
	rng := rand.New(rand.NewPCG(seed, 9))
	s := make([]float64, n)
	y := make([]float64, n)
	for i := range s {
		s[i] = rng.NormFloat64() * 2
		if rng.Float64() < 1/(1+math.Exp(-(a*s[i]+b))) {
			y[i] = 1
		}
	}
	return s, y
}

func TestPlattRecoversSigmoid(t *testing.T) {
	s, y := synth(40000, 0.7, -0.4, 1)
	p, err := FitPlatt(s, y, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(p.A-0.7) > 0.05 || math.Abs(p.B+0.4) > 0.05 {
		t.Errorf("A=%v B=%v, want 0.7, -0.4 (%d iterations)", p.A, p.B, p.Iterations)
	}
}

func TestIsotonicMonotoneAndCalibrated(t *testing.T) {
	s, y := synth(20000, 1.5, 0.2, 2)
	c, err := FitIsotonic(s, y, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	prev := -1.0
	for x := -8.0; x <= 8; x += 0.01 {
		v := c.Calibrate(x)
		if v < prev || v < 1e-6 || v > 1-1e-6 {
			t.Fatalf("Calibrate(%v)=%v after %v", x, v, prev)
		}
		prev = v
		if math.Abs(x) < 2 {
			if truth := 1 / (1 + math.Exp(-(1.5*x + 0.2))); math.Abs(v-truth) > 0.08 {
				t.Errorf("Calibrate(%v)=%v, true probability %v", x, v, truth)
			}
		}
	}
}

func TestSaveLoad(t *testing.T) {
	s, y := synth(2000, 1, 0, 3)
	p, err := FitPlatt(s, y, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	iso, err := FitIsotonic(s, y, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []Calibrator{p, iso} {
		b, err := Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		c2, err := Load(b)
		if err != nil {
			t.Fatal(err)
		}
		if c2.Kind() != c.Kind() {
			t.Fatalf("kind %s -> %s", c.Kind(), c2.Kind())
		}
		for _, x := range s {
			if math.Float64bits(c.Calibrate(x)) != math.Float64bits(c2.Calibrate(x)) {
				t.Fatalf("%s: Calibrate(%v) changed after reload", c.Kind(), x)
			}
		}
	}
	for _, bad := range []string{`{`, `{"kind":"x"}`, `{"kind":"platt"}`, `{"kind":"isotonic","isotonic":{"x":[1,0],"y":[0,1]}}`,
		`{"kind":"isotonic","isotonic":{"x":[0,1],"y":[1,0]}}`, `{"kind":"isotonic","isotonic":{"x":[],"y":[]}}`} {
		if _, err := Load([]byte(bad)); err == nil {
			t.Errorf("Load(%s) accepted a corrupt calibrator", bad)
		}
	}
}

func TestBadInput(t *testing.T) {
	cases := []struct {
		name   string
		s, y   []float64
		w      []float64
		errHas string
	}{
		{"empty", nil, nil, nil, "no calibration pairs"},
		{"length", []float64{1}, []float64{0, 1}, nil, "1 scores but 2 labels"},
		{"constant", []float64{1, 2}, []float64{1, 1}, nil, "constant"},
		{"nan label", []float64{1, 2}, []float64{math.NaN(), 1}, nil, "label"},
		{"nan score", []float64{math.NaN(), 2}, []float64{0, 1}, nil, "score"},
		{"bad weight", []float64{1, 2}, []float64{0, 1}, []float64{-1, 1}, "weight"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := DefaultOptions()
			o.Weights = c.w
			if _, err := FitPlatt(c.s, c.y, o); err == nil || !strings.Contains(err.Error(), c.errHas) {
				t.Errorf("platt: %v", err)
			}
			if _, err := FitIsotonic(c.s, c.y, o); err == nil || !strings.Contains(err.Error(), c.errHas) {
				t.Errorf("isotonic: %v", err)
			}
		})
	}
}
