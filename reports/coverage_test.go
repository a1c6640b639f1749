package reports

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestNewcombeCoverage draws 1,000 pairs of binomial samples with a known
// difference of proportions and checks that the 95% Newcombe interval holds
// the true difference about 95% of the time.
func TestNewcombeCoverage(t *testing.T) {
	z := zFor(0.95)
	for _, c := range []struct {
		p1, p2 float64
		n1, n2 int
	}{
		{0.30, 0.20, 200, 200},
		{0.05, 0.04, 2000, 300}, // rare events, unequal arms (a 13% holdout)
		{0.50, 0.50, 100, 100},
	} {
		rng := rand.New(rand.NewPCG(7, uint64(c.n2)))
		const draws = 1000
		hit := 0
		for range draws {
			x1, x2 := binomial(rng, c.n1, c.p1), binomial(rng, c.n2, c.p2)
			lo, hi := Newcombe(x1, c.n1, x2, c.n2, z)
			if d := c.p1 - c.p2; lo <= d && d <= hi {
				hit++
			}
		}
		cov := float64(hit) / draws
		t.Logf("p1=%v p2=%v n=%d/%d: coverage %.3f", c.p1, c.p2, c.n1, c.n2, cov)
		if cov < 0.93 || cov > 0.97 {
			t.Errorf("p1=%v p2=%v n=%d/%d: coverage %.3f outside [0.93, 0.97]", c.p1, c.p2, c.n1, c.n2, cov)
		}
	}
}

// TestBootstrapCoverage does the same for the percentile bootstrap of a
// difference in mean amount per account, amounts being zero for most accounts
// and log-normal for payers (the shape of collections data).
func TestBootstrapCoverage(t *testing.T) {
	draws, resamples := 1000, 400
	if testing.Short() {
		draws = 200
	}
	const n1, n2 = 400, 300
	const pay1, pay2, mu, sigma = 0.30, 0.25, 8.0, 0.8
	mean := func(p float64) float64 { return p * math.Exp(mu+sigma*sigma/2) }
	truth := mean(pay1) - mean(pay2)
	rng := rand.New(rand.NewPCG(11, 12))
	sample := func(n int, p float64) []unit {
		us := make([]unit, n)
		for i := range us {
			us[i][fOne] = 1
			if rng.Float64() < p {
				us[i][fCollected] = math.Exp(mu + sigma*rng.NormFloat64())
			}
		}
		return us
	}
	hit := 0
	for d := range draws {
		a, b := sample(n1, pay1), sample(n2, pay2)
		iv := bootstrapDiffs(a, b, []ratioDef{{fCollected, fOne}}, resamples, 0.95, rand.New(rand.NewPCG(3, uint64(d))))[0]
		if iv.ok && iv.lo <= truth && truth <= iv.hi {
			hit++
		}
	}
	cov := float64(hit) / float64(draws)
	t.Logf("bootstrap coverage %.3f over %d draws", cov, draws)
	lo := 0.92
	if testing.Short() {
		lo = 0.90
	}
	if cov < lo || cov > 0.975 {
		t.Errorf("bootstrap coverage %.3f outside [%v, 0.975]", cov, lo)
	}
}

func binomial(rng *rand.Rand, n int, p float64) int {
	x := 0
	for range n {
		if rng.Float64() < p {
			x++
		}
	}
	return x
}

func TestWilsonEdges(t *testing.T) {
	z := zFor(0.95)
	for _, c := range []struct{ x, n int }{{0, 10}, {10, 10}, {0, 0}, {1, 1}, {5, 10}} {
		lo, hi := Wilson(c.x, c.n, z)
		if math.IsNaN(lo) || math.IsNaN(hi) || lo < 0 || hi > 1 || lo > hi {
			t.Errorf("Wilson(%d, %d) = [%v, %v]", c.x, c.n, lo, hi)
		}
		if c.n > 0 {
			if p := float64(c.x) / float64(c.n); p < lo-1e-12 || p > hi+1e-12 {
				t.Errorf("Wilson(%d, %d) = [%v, %v] misses %v", c.x, c.n, lo, hi, p)
			}
		}
	}
	// Reference: Wilson(5, 10) at 95% is [0.2366, 0.7634] (Newcombe 1998, table I style).
	if lo, hi := Wilson(5, 10, z); math.Abs(lo-0.2366) > 1e-4 || math.Abs(hi-0.7634) > 1e-4 {
		t.Errorf("Wilson(5,10) = [%.4f, %.4f], want [0.2366, 0.7634]", lo, hi)
	}
	// Newcombe 1998 example: 56/70 vs 48/80 gives [0.0524, 0.3339].
	if lo, hi := Newcombe(56, 70, 48, 80, z); math.Abs(lo-0.0524) > 1e-4 || math.Abs(hi-0.3339) > 1e-4 {
		t.Errorf("Newcombe(56/70, 48/80) = [%.4f, %.4f], want [0.0524, 0.3339]", lo, hi)
	}
}
