package gbdt

import "math"

// expTable[j] is 2^(j/32).
var expTable = func() (t [32]float64) {
	for j := range t {
		t[j] = math.Exp2(float64(j) / 32)
	}
	return t
}()

// expFast is e^x to within a few units in the last place, for the gradient
// and validation-loss passes that call it once per row per round (math.Exp
// is several times slower there). It is pure arithmetic and a table lookup,
// so a build computes the same value on every run. Inputs beyond ±708
// saturate.
func expFast(x float64) float64 {
	const (
		inv    = 32 / math.Ln2
		ln2hi  = 6.93147180369123816490e-01 / 32
		ln2lo  = 1.90821492927058770002e-10 / 32
		rounds = 6755399441055744.0 // 1.5 * 2^52: adding it rounds to an integer
	)
	switch {
	case x > 708:
		return math.Inf(1)
	case x < -708:
		return 0
	case x != x:
		return x
	}
	k := (x*inv + rounds) - rounds
	r := (x - k*ln2hi) - k*ln2lo // |r| <= ln2/64
	ki := int64(k)
	// exp(r) by its Taylor series to r^6 (remainder below 1e-17), evaluated
	// in two independent halves to shorten the dependency chain.
	r2 := r * r
	lo := 1 + r + r2*0.5
	hi := 1.0/6 + r*(1.0/24) + r2*(1.0/120+r*(1.0/720))
	p := lo + r2*r*hi
	return p * expTable[ki&31] * math.Float64frombits(uint64((ki>>5)+1023)<<52)
}

// gradients fills gh[i] with the log-loss gradient and hessian at margin
// F[i] for label y[i]; it is gradHess with expFast written inline (the
// compiler does not inline it), the loop the root pass runs over every row
// every round.
func gradients(gh []gradPair, F, y []float64) {
	const (
		inv    = 32 / math.Ln2
		ln2hi  = 6.93147180369123816490e-01 / 32
		ln2lo  = 1.90821492927058770002e-10 / 32
		rounds = 6755399441055744.0
	)
	F = F[:len(gh)]
	y = y[:len(gh)]
	for i := range gh {
		x := -F[i]
		var e float64
		switch {
		case x > 708:
			e = math.Inf(1)
		case x < -708:
			e = 0
		case x != x:
			e = x
		default:
			k := (x*inv + rounds) - rounds
			r := (x - k*ln2hi) - k*ln2lo
			ki := int64(k)
			r2 := r * r
			lo := 1 + r + r2*0.5
			hi := 1.0/6 + r*(1.0/24) + r2*(1.0/120+r*(1.0/720))
			e = (lo + r2*r*hi) * expTable[ki&31] * math.Float64frombits(uint64((ki>>5)+1023)<<52)
		}
		p := 1 / (1 + e)
		h := p * (1 - p)
		if h < 1e-16 {
			h = 1e-16
		}
		gh[i] = gradPair{p - y[i], h}
	}
}
