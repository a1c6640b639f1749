package gbdt

import (
	"math"
	"testing"
)

func BenchmarkGradHess(b *testing.B) {
	n := 32768
	F := make([]float64, n)
	y := make([]float64, n)
	gh := make([]gradPair, n)
	for i := range F {
		F[i] = math.Sin(float64(i)) * 3
		y[i] = float64(i % 7 / 6)
	}
	for b.Loop() {
		for i := range gh {
			gh[i].g, gh[i].h = gradHess(F[i], y[i])
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/row")
}

func BenchmarkExp(b *testing.B) {
	n := 32768
	F := make([]float64, n)
	for i := range F {
		F[i] = math.Sin(float64(i)) * 3
	}
	var s float64
	for b.Loop() {
		for i := range F {
			s += math.Exp(F[i])
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/row")
}

func BenchmarkExpFast(b *testing.B) {
	n := 32768
	F := make([]float64, n)
	for i := range F {
		F[i] = math.Sin(float64(i)) * 3
	}
	var s float64
	for b.Loop() {
		for i := range F {
			s += expFast(F[i])
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/row")
}

func TestExpFast(t *testing.T) {
	worst := 0.0
	for i := -200000; i <= 200000; i++ {
		x := float64(i) / 1000 * 3.7
		if x < -700 || x > 700 {
			continue
		}
		want, got := math.Exp(x), expFast(x)
		if rel := math.Abs(got-want) / want; rel > worst {
			worst = rel
		}
	}
	t.Logf("worst relative error %.3g", worst)
	if worst > 1e-15 {
		t.Errorf("expFast worst relative error %.3g > 1e-15", worst)
	}
	if expFast(800) != math.Inf(1) || expFast(-800) != 0 || !math.IsNaN(expFast(math.NaN())) {
		t.Error("expFast limits")
	}
}

// gradHess is the reference for gradients: the log-loss gradient and
// hessian at margin f for label y.
func gradHess(f, y float64) (float64, float64) {
	p := 1 / (1 + expFast(-f))
	h := p * (1 - p)
	if h < 1e-16 {
		h = 1e-16
	}
	return p - y, h
}

func TestGradientsMatchGradHess(t *testing.T) {
	n := 5000
	F := make([]float64, n)
	y := make([]float64, n)
	for i := range F {
		F[i] = math.Sin(float64(i)) * 40
		y[i] = float64(i % 3 / 2)
	}
	F[0], F[1], F[2] = 800, -800, 0
	gh := make([]gradPair, n)
	gradients(gh, F, y)
	for i := range gh {
		g, h := gradHess(F[i], y[i])
		if gh[i].g != g || gh[i].h != h {
			t.Fatalf("row %d: gradients (%v, %v), gradHess (%v, %v)", i, gh[i].g, gh[i].h, g, h)
		}
	}
}
