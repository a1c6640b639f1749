package reports

import (
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"

	"gonum.org/v1/gonum/stat/distuv"
)

// zFor returns the two-sided standard normal quantile for a confidence level.
func zFor(conf float64) float64 {
	return distuv.UnitNormal.Quantile(1 - (1-conf)/2)
}

// Wilson returns the Wilson score interval of a proportion x/n at normal
// quantile z; (0, 1) when n is 0.
func Wilson(x, n int, z float64) (lo, hi float64) {
	if n <= 0 {
		return 0, 1
	}
	nf := float64(n)
	p := float64(x) / nf
	z2 := z * z
	den := 1 + z2/nf
	center := (p + z2/(2*nf)) / den
	half := z / den * math.Sqrt(p*(1-p)/nf+z2/(4*nf*nf))
	return max(0, center-half), min(1, center+half)
}

// Newcombe returns Newcombe's hybrid score interval (method 10, from two
// Wilson intervals) of the difference x1/n1 - x2/n2.
func Newcombe(x1, n1, x2, n2 int, z float64) (lo, hi float64) {
	p1, p2 := float64(x1)/float64(n1), float64(x2)/float64(n2)
	l1, u1 := Wilson(x1, n1, z)
	l2, u2 := Wilson(x2, n2, z)
	d := p1 - p2
	lo = d - math.Sqrt((p1-l1)*(p1-l1)+(u2-p2)*(u2-p2))
	hi = d + math.Sqrt((u1-p1)*(u1-p1)+(p2-l2)*(p2-l2))
	return lo, hi
}

// unit is one resampling unit (an account): the fields that ratio statistics
// sum, indexed by the f* constants.
type unit [nFields]float64

const (
	fBalance = iota
	fCollected
	fOne
	fContacts
	fPayments
	fComplaintsM // complaints × 1e6
	nFields
)

// ratioDef is a ratio-of-sums statistic sum(num)/sum(den) over units.
type ratioDef struct{ num, den int }

// ratioOf returns the statistic over all units; ok is false on a zero
// denominator.
func ratioOf(us []unit, d ratioDef) (float64, bool) {
	var n, s float64
	for i := range us {
		n += us[i][d.num]
		s += us[i][d.den]
	}
	if s == 0 {
		return 0, false
	}
	return n / s, true
}

// support counts the units with a non-zero numerator and with a non-zero
// denominator.
func support(us []unit, d ratioDef) (num, den int) {
	for i := range us {
		if us[i][d.num] != 0 {
			num++
		}
		if us[i][d.den] != 0 {
			den++
		}
	}
	return num, den
}

// interval is a bootstrap interval; ok is false when more than half of the
// resamples had a zero denominator.
type interval struct {
	lo, hi float64
	ok     bool
}

// bootstrapDiffs returns, for each statistic, the percentile bootstrap
// interval of stat(a) - stat(b), resampling each arm's units with
// replacement. The statistics share each resample's draws, which is what
// keeps the bootstrap fast. Resamples with a zero denominator are dropped.
func bootstrapDiffs(a, b []unit, defs []ratioDef, resamples int, conf float64, rng *rand.Rand) []interval {
	diffs := make([][]float64, len(defs))
	for j := range diffs {
		diffs[j] = make([]float64, 0, resamples)
	}
	var sa, sb unit
	draw := func(us []unit, s *unit) {
		*s = unit{}
		m := len(us)
		for range m {
			u := &us[rng.IntN(m)]
			for k := range nFields {
				s[k] += u[k]
			}
		}
	}
	for range resamples {
		draw(a, &sa)
		draw(b, &sb)
		for j, d := range defs {
			if sa[d.den] != 0 && sb[d.den] != 0 {
				diffs[j] = append(diffs[j], sa[d.num]/sa[d.den]-sb[d.num]/sb[d.den])
			}
		}
	}
	out := make([]interval, len(defs))
	alpha := (1 - conf) / 2
	for j, ds := range diffs {
		if len(ds) == 0 || len(ds)*2 < resamples {
			continue
		}
		slices.Sort(ds)
		out[j] = interval{quantile(ds, alpha), quantile(ds, 1-alpha), true}
	}
	return out
}

// quantile is the type-7 (linear interpolation) quantile of sorted xs.
func quantile(xs []float64, p float64) float64 {
	h := p * float64(len(xs)-1)
	i := int(math.Floor(h))
	if i >= len(xs)-1 {
		return xs[len(xs)-1]
	}
	return xs[i] + (h-float64(i))*(xs[i+1]-xs[i])
}

// rngFor returns a PCG stream for one named statistic: the same seed and name
// always give the same draws, and statistics do not share draws.
func rngFor(seed uint64, name string) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(name))
	return rand.New(rand.NewPCG(seed, h.Sum64()))
}

// num is a nullable number: JSON null instead of NaN or Inf.
func num(x float64, ok bool) *float64 {
	if !ok || math.IsNaN(x) || math.IsInf(x, 0) {
		return nil
	}
	return &x
}
