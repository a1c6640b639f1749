package ope

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"gonum.org/v1/gonum/stat/distuv"
)

// Estimator names, as they appear in reports.
const (
	IPS     = "IPS"
	SNIPS   = "SNIPS"
	DM      = "DM"
	DR      = "DR"
	IPSClip = "IPS-clip"
	DRClip  = "DR-clip"
)

// Sample is what the estimators need of one logged row once the target policy
// and the reward model have seen it. Keeping it this small lets one pass over a
// large table feed every estimator, the bootstrap and paired comparisons.
type Sample struct {
	// W is the importance weight π(a_i|x_i)/μ(a_i|x_i).
	W float64
	// R is the observed reward.
	R float64
	// DM is Σ_a π(a|x_i) q̂(x_i,a), the reward model's value of π at the row
	// (0 when there is no reward model).
	DM float64
	// Q is q̂(x_i,a_i), the reward model's prediction for the logged action.
	Q float64
}

// Options are the knobs of the estimators.
type Options struct {
	// Level is the confidence level of every interval (default 0.95).
	Level float64
	// Clip, when positive, adds IPS-clip and DR-clip with weights capped there.
	Clip float64
	// Bootstrap, when positive, is the number of resamples behind the
	// percentile intervals in Estimate.Boot.
	Bootstrap int
	// Seed drives the bootstrap resampling (PCG).
	Seed uint64
	// Workers bounds the goroutines of Evaluate (0 means GOMAXPROCS).
	Workers int
}

// DefaultOptions give 95% normal intervals, no clipping and no bootstrap.
func DefaultOptions() Options { return Options{Level: 0.95, Seed: 1} }

func (o *Options) check() error {
	if o.Level == 0 {
		o.Level = 0.95
	}
	switch {
	case !(o.Level > 0 && o.Level < 1):
		return fmt.Errorf("confidence level %g: must be in (0,1)", o.Level)
	case o.Clip < 0 || math.IsNaN(o.Clip):
		return fmt.Errorf("clip %g: must be 0 (off) or positive", o.Clip)
	case o.Bootstrap < 0:
		return fmt.Errorf("bootstrap %d: must not be negative", o.Bootstrap)
	case o.Workers < 0:
		return fmt.Errorf("workers %d: must not be negative", o.Workers)
	}
	return nil
}

// z returns the two-sided normal quantile of the level.
func (o *Options) z() float64 { return distuv.UnitNormal.Quantile(0.5 + o.Level/2) }

// Interval is a confidence interval.
type Interval struct {
	Lo, Hi float64
}

// Contains reports whether v lies in the closed interval.
func (i Interval) Contains(v float64) bool { return v >= i.Lo && v <= i.Hi }

// Estimate is one estimator's answer.
type Estimate struct {
	// Name is one of IPS, SNIPS, DM, DR, IPS-clip, DR-clip.
	Name string
	// Value is the point estimate of the policy's mean reward per decision.
	Value float64
	// SE is the standard error from the empirical variance of the per-row terms.
	SE float64
	// CI is the normal-approximation interval Value ± z·SE.
	CI Interval
	// Boot is the percentile bootstrap interval (NaN bounds without bootstrap).
	Boot Interval
}

// Diagnostics describe the importance weights: how much of the log really
// informs the estimate.
type Diagnostics struct {
	// N is the number of rows.
	N int
	// ESS is the effective sample size (Σw)²/Σw²: the number of on-policy rows
	// worth as much as this log.
	ESS float64
	// MaxWeight is the largest importance weight.
	MaxWeight float64
	// MeanWeight is the mean weight; about 1 when the logging policy covers the
	// target, clearly below 1 when the target acts where the log never did.
	MeanWeight float64
	// ZeroShare is the share of rows with weight 0 (actions π never takes).
	ZeroShare float64
	// Clipped is the number of rows whose weight exceeded Options.Clip.
	Clipped int
}

// Report is the evaluation of one policy on one log.
type Report struct {
	Estimates []Estimate
	Diagnostics
}

// Get returns the named estimate.
func (r Report) Get(name string) (Estimate, bool) {
	i := slices.IndexFunc(r.Estimates, func(e Estimate) bool { return e.Name == name })
	if i < 0 {
		return Estimate{}, false
	}
	return r.Estimates[i], true
}

// ErrEmpty is returned when there is no row to estimate from.
var ErrEmpty = errors.New("no logged rows to evaluate")

// CheckSample reports why a sample cannot be used, or nil.
func CheckSample(s Sample) error {
	switch {
	case math.IsNaN(s.W) || math.IsInf(s.W, 0) || s.W < 0:
		return fmt.Errorf("importance weight %g: must be finite and not negative", s.W)
	case math.IsNaN(s.R) || math.IsInf(s.R, 0):
		return fmt.Errorf("reward %g: must be finite (drop censored rows first)", s.R)
	case math.IsNaN(s.DM) || math.IsInf(s.DM, 0) || math.IsNaN(s.Q) || math.IsInf(s.Q, 0):
		return fmt.Errorf("reward model value %g / %g: must be finite", s.DM, s.Q)
	}
	return nil
}

// term computes an estimator's per-row term; SNIPS is handled apart.
type term func(s *Sample, clip float64) float64

func ipsTerm(s *Sample, _ float64) float64 { return s.W * s.R }
func dmTerm(s *Sample, _ float64) float64  { return s.DM }
func drTerm(s *Sample, _ float64) float64  { return s.DM + s.W*(s.R-s.Q) }
func ipsClipTerm(s *Sample, c float64) float64 {
	return min(s.W, c) * s.R
}
func drClipTerm(s *Sample, c float64) float64 {
	return s.DM + min(s.W, c)*(s.R-s.Q)
}

type estimator struct {
	name string
	t    term // nil for SNIPS
}

func estimators(o *Options, withModel bool) []estimator {
	es := []estimator{{IPS, ipsTerm}, {SNIPS, nil}}
	if withModel {
		es = append(es, estimator{DM, dmTerm}, estimator{DR, drTerm})
	}
	if o.Clip > 0 {
		es = append(es, estimator{IPSClip, ipsClipTerm})
		if withModel {
			es = append(es, estimator{DRClip, drClipTerm})
		}
	}
	return es
}

// EstimateSamples computes every estimator, its interval and the weight diagnostics.
// withModel says whether the samples carry a reward model (DM and Q); without
// one DM and DR are left out rather than reported as the model-free IPS.
func EstimateSamples(samples []Sample, withModel bool, o Options) (Report, error) {
	if err := o.check(); err != nil {
		return Report{}, err
	}
	n := len(samples)
	if n == 0 {
		return Report{}, ErrEmpty
	}
	for i := range samples {
		if err := CheckSample(samples[i]); err != nil {
			return Report{}, fmt.Errorf("row %d: %w", i, err)
		}
	}
	var rep Report
	rep.N = n
	var sw, sw2 float64
	zeros := 0
	for i := range samples {
		w := samples[i].W
		sw += w
		sw2 += w * w
		rep.MaxWeight = max(rep.MaxWeight, w)
		if w == 0 {
			zeros++
		}
		if o.Clip > 0 && w > o.Clip {
			rep.Clipped++
		}
	}
	rep.MeanWeight = sw / float64(n)
	rep.ZeroShare = float64(zeros) / float64(n)
	if sw2 > 0 {
		rep.ESS = sw * sw / sw2
	}
	z := o.z()
	es := estimators(&o, withModel)
	for _, e := range es {
		var est Estimate
		if e.t == nil {
			est = snips(samples, z)
		} else {
			est = meanTerm(samples, e.t, o.Clip, z)
		}
		est.Name = e.name
		est.Boot = Interval{math.NaN(), math.NaN()}
		rep.Estimates = append(rep.Estimates, est)
	}
	if o.Bootstrap > 0 {
		bootstrap(samples, es, &o, rep.Estimates)
	}
	return rep, nil
}

// meanTerm is the mean of per-row terms with its normal interval. Sums use
// the shifted (Welford) form so that large rewards do not lose precision.
func meanTerm(samples []Sample, t term, clip, z float64) Estimate {
	var mean, m2 float64
	for i := range samples {
		x := t(&samples[i], clip)
		d := x - mean
		mean += d / float64(i+1)
		m2 += d * (x - mean)
	}
	return withSE(mean, m2, len(samples), z)
}

func withSE(mean, m2 float64, n int, z float64) Estimate {
	se := 0.0
	if n > 1 {
		se = math.Sqrt(m2 / float64(n-1) / float64(n))
	}
	return Estimate{Value: mean, SE: se, CI: Interval{mean - z*se, mean + z*se}}
}

// snips is the self-normalised estimate with its delta-method interval. When
// every weight is 0 the policy never agrees with the log and the estimate is
// undefined (NaN).
func snips(samples []Sample, z float64) Estimate {
	v, sw := snipsValue(samples, nil)
	n := len(samples)
	if sw == 0 {
		nan := math.NaN()
		return Estimate{Value: nan, SE: nan, CI: Interval{nan, nan}}
	}
	wbar := sw / float64(n)
	var ss float64
	for i := range samples {
		d := samples[i].W * (samples[i].R - v) / wbar
		ss += d * d
	}
	se := 0.0
	if n > 1 {
		se = math.Sqrt(ss / float64(n-1) / float64(n))
	}
	return Estimate{Value: v, SE: se, CI: Interval{v - z*se, v + z*se}}
}

// snipsValue returns Σ w r / Σ w over the rows idx (all rows when idx is nil).
func snipsValue(samples []Sample, idx []int32) (v, sw float64) {
	var swr float64
	if idx == nil {
		for i := range samples {
			swr += samples[i].W * samples[i].R
			sw += samples[i].W
		}
	} else {
		for _, i := range idx {
			swr += samples[i].W * samples[i].R
			sw += samples[i].W
		}
	}
	if sw == 0 {
		return math.NaN(), 0
	}
	return swr / sw, sw
}

// bootstrap fills the percentile intervals of ests (in the order of es).
func bootstrap(samples []Sample, es []estimator, o *Options, ests []Estimate) {
	n := len(samples)
	rng := rand.New(rand.NewPCG(o.Seed, 0x6f7065)) // "ope"
	idx := make([]int32, n)
	vals := make([][]float64, len(es))
	for b := 0; b < o.Bootstrap; b++ {
		for k := range idx {
			idx[k] = int32(rng.IntN(n))
		}
		for j, e := range es {
			var v float64
			if e.t == nil {
				v, _ = snipsValue(samples, idx)
			} else {
				for _, i := range idx {
					v += e.t(&samples[i], o.Clip)
				}
				v /= float64(n)
			}
			if !math.IsNaN(v) {
				vals[j] = append(vals[j], v)
			}
		}
	}
	alpha := (1 - o.Level) / 2
	for j := range es {
		if len(vals[j]) == 0 {
			continue
		}
		slices.Sort(vals[j])
		ests[j].Boot = Interval{quantile(vals[j], alpha), quantile(vals[j], 1-alpha)}
	}
}

// quantile of sorted values with linear interpolation between order statistics.
func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 1 {
		return sorted[0]
	}
	h := q * float64(len(sorted)-1)
	lo := int(math.Floor(h))
	hi := min(lo+1, len(sorted)-1)
	return sorted[lo] + (h-float64(lo))*(sorted[hi]-sorted[lo])
}

// Difference estimates V(a) − V(b) for two policies evaluated on the same rows
// (a[i] and b[i] are the same logged row) with the named estimator (IPS, DM,
// DR, or their clipped forms). Because both estimates share the rows, the
// paired per-row differences give a much tighter interval than two separate
// intervals would; this is the comparison a promotion gate should trust.
func Difference(a, b []Sample, name string, o Options) (Estimate, error) {
	if err := o.check(); err != nil {
		return Estimate{}, err
	}
	if len(a) != len(b) {
		return Estimate{}, fmt.Errorf("difference: %d and %d rows; both policies must be evaluated on the same log", len(a), len(b))
	}
	if len(a) == 0 {
		return Estimate{}, ErrEmpty
	}
	var t term
	switch name {
	case IPS:
		t = ipsTerm
	case DM:
		t = dmTerm
	case DR:
		t = drTerm
	case IPSClip:
		t = ipsClipTerm
	case DRClip:
		t = drClipTerm
	default:
		return Estimate{}, fmt.Errorf("difference: estimator %q has no per-row form (use IPS, DM, DR, IPS-clip or DR-clip)", name)
	}
	var mean, m2 float64
	for i := range a {
		if a[i].R != b[i].R {
			return Estimate{}, fmt.Errorf("difference: row %d has rewards %g and %g; the two sample sets are not the same log", i, a[i].R, b[i].R)
		}
		x := t(&a[i], o.Clip) - t(&b[i], o.Clip)
		d := x - mean
		mean += d / float64(i+1)
		m2 += d * (x - mean)
	}
	e := withSE(mean, m2, len(a), o.z())
	e.Name = name
	e.Boot = Interval{math.NaN(), math.NaN()}
	return e, nil
}
