package ope

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/engagehq/engage/datasets"
)

// bandit is a synthetic contextual bandit with a known reward function: a
// 2-d Gaussian context, an action space of 3 channels × 3 hours, a softmax
// logging policy with exact propensities, and Bernoulli rewards.
type bandit struct {
	space *Space
	ctx   [][2]float64 // per row
}

func newBanditSpace(t testing.TB) *Space {
	sp, err := NewSpace([]Part{
		{Name: "channel", Kind: datasets.KindCategorical, Levels: []string{"email", "sms", "call"}},
		{Name: "hour", Kind: datasets.KindNumeric, Values: []float64{9, 13, 18}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return sp
}

// truthReward is f(x, a) = P(reward | x, a).
func truthReward(sp *Space, x [2]float64, a int) float64 {
	c, h := sp.Level(a, 0), sp.Level(a, 1)
	base := [3]float64{-1.2, -1.6, -2.0}[c]
	slope := [3][2]float64{{0.8, -0.3}, {-0.5, 0.9}, {0.3, 0.3}}[c]
	hour := [3]float64{0, 0.3, -0.2}[h] * (1 + 0.5*x[1])
	z := base + slope[0]*x[0] + slope[1]*x[1] + hour
	return 1 / (1 + math.Exp(-z))
}

// loggingDist is the logging policy: a softmax over a (different) linear
// score, so that every action has a known positive propensity.
func loggingDist(sp *Space, x [2]float64, dst []float64) {
	total := 0.0
	for a := range dst {
		c, h := sp.Level(a, 0), sp.Level(a, 1)
		s := 0.4*float64(c)*x[0] - 0.3*float64(h)*x[1] + 0.2*float64(c*h)
		dst[a] = math.Exp(s)
		total += dst[a]
	}
	for a := range dst {
		dst[a] /= total
	}
}

// targetScore ranks actions for the target policy.
type targetScorer struct {
	sp  *Space
	ctx *[][2]float64
}

func (s targetScorer) Scores(row Row, dst []float64) error {
	x := (*s.ctx)[row.I]
	for a := range dst {
		c, h := s.sp.Level(a, 0), s.sp.Level(a, 1)
		dst[a] = float64(c)*x[1] - float64(h)*x[0] // some rule, not the truth
		if c == 2 && h == 0 {
			dst[a] = math.NaN() // never allowed: calls at 9
		}
	}
	return nil
}

// trueModel is the oracle reward model f; biasModel is a poor constant one.
type trueModel struct {
	sp  *Space
	ctx *[][2]float64
}

func (m trueModel) Predict(row Row, a int) (float64, error) {
	return truthReward(m.sp, (*m.ctx)[row.I], a), nil
}

type constModel float64

func (c constModel) Predict(Row, int) (float64, error) { return float64(c), nil }

// draw generates n logged rows.
func (b *bandit) draw(n int, rng *rand.Rand) []Row {
	b.ctx = b.ctx[:0]
	rows := make([]Row, n)
	mu := make([]float64, b.space.Len())
	for i := range rows {
		x := [2]float64{rng.NormFloat64(), rng.NormFloat64()}
		b.ctx = append(b.ctx, x)
		loggingDist(b.space, x, mu)
		u, a := rng.Float64(), 0
		for a = 0; a < len(mu)-1; a++ {
			if u < mu[a] {
				break
			}
			u -= mu[a]
		}
		r := 0.0
		if rng.Float64() < truthReward(b.space, x, a) {
			r = 1
		}
		rows[i] = Row{I: i, Action: a, Propensity: mu[a], Reward: r}
	}
	return rows
}

// trueValue is V(π) = E_x Σ_a π(a|x) f(x,a), by Monte Carlo over x with the
// exact inner sum.
func trueValue(t testing.TB, sp *Space, pol func(*[][2]float64) Policy, n int) float64 {
	rng := rand.New(rand.NewPCG(12345, 1))
	ctx := make([][2]float64, n)
	for i := range ctx {
		ctx[i] = [2]float64{rng.NormFloat64(), rng.NormFloat64()}
	}
	p := pol(&ctx)
	var sum float64
	var dist []ActionProb
	for i := range ctx {
		var err error
		dist, err = p.Distribution(Row{I: i}, dist)
		if err != nil {
			t.Fatal(err)
		}
		for _, ap := range dist {
			sum += ap.P * truthReward(sp, ctx[i], ap.Action)
		}
	}
	return sum / float64(n)
}

func slowTests() bool { return envSlow }

// TestCoverageAndBias: on 200 independent logs, each estimator's 95% interval
// covers the true value about 95% of the time, the estimates average to the
// truth, and DR with a good reward model has less spread than IPS.
func TestCoverageAndBias(t *testing.T) {
	sp := newBanditSpace(t)
	const eps = 0.2
	mk := func(ctx *[][2]float64) Policy {
		g, err := NewGreedy(targetScorer{sp, ctx}, sp.Len(), eps)
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	truth := trueValue(t, sp, mk, 400_000)
	seeds, n := 500, 2000
	if slowTests() {
		seeds = 2000
	}
	type acc struct {
		covered, count int
		sum, sum2      float64
	}
	stats := map[string]*acc{}
	add := func(tag string, e Estimate) {
		a := stats[tag]
		if a == nil {
			a = &acc{}
			stats[tag] = a
		}
		a.count++
		if e.CI.Contains(truth) {
			a.covered++
		}
		d := e.Value - truth
		a.sum += d
		a.sum2 += d * d
	}
	b := &bandit{space: sp}
	o := DefaultOptions()
	o.Workers = 1
	for seed := range seeds {
		rng := rand.New(rand.NewPCG(uint64(seed), 7))
		rows := b.draw(n, rng)
		pol := mk(&b.ctx)
		good, err := Evaluate(context.Background(), rows, trueModel{sp, &b.ctx}, o, nil, pol)
		if err != nil {
			t.Fatal(err)
		}
		bad, err := Evaluate(context.Background(), rows, constModel(0.5), o, nil, pol)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{IPS, SNIPS, DR} {
			e, _ := good.Reports[0].Get(name)
			add(name, e)
		}
		e, _ := bad.Reports[0].Get(DR)
		add("DR(bad model)", e)
	}
	t.Logf("true value %.5f (n=%d rows per log, %d logs)", truth, n, seeds)
	for _, name := range []string{IPS, SNIPS, DR, "DR(bad model)"} {
		a := stats[name]
		cov := float64(a.covered) / float64(a.count)
		bias := a.sum / float64(a.count)
		sd := math.Sqrt(a.sum2/float64(a.count) - bias*bias)
		t.Logf("%-14s coverage %.3f  bias %+.5f  (±%.5f)  sd %.5f", name, cov, bias, sd/math.Sqrt(float64(a.count)), sd)
		if cov < 0.90 || cov > 0.99 {
			t.Errorf("%s: coverage %.3f of the 95%% interval, want about 0.95", name, cov)
		}
		if math.Abs(bias) > 3.5*sd/math.Sqrt(float64(a.count)) {
			t.Errorf("%s: bias %.5f is more than 3.5 standard errors (%.5f)", name, bias, sd/math.Sqrt(float64(a.count)))
		}
	}
	ips, dr := stats[IPS], stats[DR]
	sdIPS := math.Sqrt(ips.sum2 / float64(ips.count))
	sdDR := math.Sqrt(dr.sum2 / float64(dr.count))
	if sdDR > 0.85*sdIPS {
		t.Errorf("DR with the true reward model has spread %.5f, IPS %.5f: want DR clearly tighter", sdDR, sdIPS)
	}
}

// TestBootstrapAgreesWithNormal: with plenty of rows the percentile bootstrap
// and the normal interval nearly coincide, and the bootstrap is reproducible.
func TestBootstrapAgreesWithNormal(t *testing.T) {
	sp := newBanditSpace(t)
	b := &bandit{space: sp}
	rows := b.draw(5000, rand.New(rand.NewPCG(3, 3)))
	g, err := NewGreedy(targetScorer{sp, &b.ctx}, sp.Len(), 0.3)
	if err != nil {
		t.Fatal(err)
	}
	o := DefaultOptions()
	o.Bootstrap, o.Seed = 400, 9
	run := func() Report {
		res, err := Evaluate(context.Background(), rows, trueModel{sp, &b.ctx}, o, nil, g)
		if err != nil {
			t.Fatal(err)
		}
		return res.Reports[0]
	}
	r1, r2 := run(), run()
	for _, e := range r1.Estimates {
		e2, _ := r2.Get(e.Name)
		if e.Boot != e2.Boot {
			t.Errorf("%s: bootstrap differs between runs with one seed: %v vs %v", e.Name, e.Boot, e2.Boot)
		}
		wn, wb := e.CI.Hi-e.CI.Lo, e.Boot.Hi-e.Boot.Lo
		if !(wb > 0.75*wn && wb < 1.33*wn) {
			t.Errorf("%s: bootstrap width %.5f vs normal width %.5f", e.Name, wb, wn)
		}
		if !e.Boot.Contains(e.Value) {
			t.Errorf("%s: bootstrap interval %v misses the estimate %.5f", e.Name, e.Boot, e.Value)
		}
	}
}

// TestOnPolicyIsMean: evaluating the logging policy itself gives weights 1,
// ESS = n, and every estimator equals the mean reward.
func TestOnPolicyIsMean(t *testing.T) {
	sp := newBanditSpace(t)
	b := &bandit{space: sp}
	rows := b.draw(3000, rand.New(rand.NewPCG(5, 5)))
	pol := policyFunc(func(row Row, dst []ActionProb) ([]ActionProb, error) {
		mu := make([]float64, sp.Len())
		loggingDist(sp, b.ctx[row.I], mu)
		dst = dst[:0]
		for a, p := range mu {
			dst = append(dst, ActionProb{a, p})
		}
		return dst, nil
	})
	res, err := Evaluate(context.Background(), rows, constModel(0.2), DefaultOptions(), nil, pol)
	if err != nil {
		t.Fatal(err)
	}
	mean := 0.0
	for _, r := range rows {
		mean += r.Reward
	}
	mean /= float64(len(rows))
	rep := res.Reports[0]
	if math.Abs(rep.ESS-3000) > 1e-6 || math.Abs(rep.MeanWeight-1) > 1e-12 || rep.MaxWeight != 1 {
		t.Errorf("on-policy diagnostics %+v", rep.Diagnostics)
	}
	for _, name := range []string{IPS, SNIPS, DR} {
		if e, _ := rep.Get(name); math.Abs(e.Value-mean) > 1e-12 {
			t.Errorf("%s = %.6f, mean reward %.6f", name, e.Value, mean)
		}
	}
	logging, err := EstimateSamples(LoggingSamples(rows), true, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range logging.Estimates {
		if math.Abs(e.Value-mean) > 1e-12 {
			t.Errorf("LoggingSamples %s = %.6f, mean reward %.6f", e.Name, e.Value, mean)
		}
	}
}

type policyFunc func(Row, []ActionProb) ([]ActionProb, error)

func (f policyFunc) Distribution(r Row, dst []ActionProb) ([]ActionProb, error) { return f(r, dst) }
