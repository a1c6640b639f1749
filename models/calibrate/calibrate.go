package calibrate

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
)

// Calibrator turns a raw score into a calibrated probability.
type Calibrator interface {
	// Calibrate maps a score to P(y=1). A NaN score maps to NaN.
	Calibrate(score float64) float64
	// Kind names the calibrator in saved files ("platt" or "isotonic").
	Kind() string
}

// Options are the knobs of both calibrators.
type Options struct {
	// Eps clips isotonic outputs to [Eps, 1-Eps]; a calibrated probability of
	// exactly 0 or 1 would make one surprising outcome cost infinite log-loss.
	Eps float64
	// MaxIterations caps Platt's Newton iterations.
	MaxIterations int
	// Weights are optional per-pair weights (nil means 1).
	Weights []float64
}

// DefaultOptions clip at 1e-6 and allow 100 Newton steps (Platt converges in
// under 20 on any sensible input).
func DefaultOptions() Options { return Options{Eps: 1e-6, MaxIterations: 100} }

func check(scores, labels []float64, o Options) error {
	if len(scores) != len(labels) {
		return fmt.Errorf("%d scores but %d labels", len(scores), len(labels))
	}
	if len(scores) == 0 {
		return errors.New("no calibration pairs")
	}
	if o.Weights != nil && len(o.Weights) != len(scores) {
		return fmt.Errorf("%d weights for %d pairs", len(o.Weights), len(scores))
	}
	if !(o.Eps >= 0 && o.Eps < 0.5) {
		return fmt.Errorf("eps %v must be in [0, 0.5)", o.Eps)
	}
	var pos, neg float64
	for i, s := range scores {
		if math.IsNaN(s) || math.IsInf(s, 0) {
			return fmt.Errorf("pair %d: score %v is not finite", i, s)
		}
		y := labels[i]
		if y != 0 && y != 1 {
			return fmt.Errorf("pair %d: label %v is not 0 or 1", i, y)
		}
		w := wt(o.Weights, i)
		if math.IsNaN(w) || math.IsInf(w, 0) || w < 0 {
			return fmt.Errorf("pair %d: weight %v must be finite and >= 0", i, w)
		}
		if y == 1 {
			pos += w
		} else {
			neg += w
		}
	}
	if pos == 0 || neg == 0 {
		return errors.New("labels are constant; need both 0 and 1")
	}
	return nil
}

func wt(w []float64, i int) float64 {
	if w == nil {
		return 1
	}
	return w[i]
}

// Platt is a fitted sigmoid P(y=1|s) = 1/(1+exp(-(A*s+B))).
type Platt struct {
	A          float64 `json:"a"`
	B          float64 `json:"b"`
	Iterations int     `json:"iterations"`
}

// Kind returns "platt".
func (*Platt) Kind() string { return "platt" }

// Calibrate maps a score to a probability.
func (p *Platt) Calibrate(s float64) float64 {
	z := p.A*s + p.B
	if z >= 0 {
		return 1 / (1 + math.Exp(-z))
	}
	e := math.Exp(z)
	return e / (1 + e)
}

// FitPlatt fits Platt scaling by Newton's method with step halving.
func FitPlatt(scores, labels []float64, o Options) (*Platt, error) {
	if err := check(scores, labels, o); err != nil {
		return nil, fmt.Errorf("fit platt: %w", err)
	}
	if o.MaxIterations < 1 {
		return nil, fmt.Errorf("fit platt: max iterations %d must be >= 1", o.MaxIterations)
	}
	var pos, neg float64
	for i, y := range labels {
		if y == 1 {
			pos += wt(o.Weights, i)
		} else {
			neg += wt(o.Weights, i)
		}
	}
	hi, lo := (pos+1)/(pos+2), 1/(neg+2)
	target := func(i int) float64 {
		if labels[i] == 1 {
			return hi
		}
		return lo
	}
	loss := func(a, b float64) float64 {
		l := 0.0
		for i, s := range scores {
			z := a*s + b
			t := target(i)
			// -t log p - (1-t) log(1-p) = softplus(z) - t z
			sp := math.Max(z, 0) + math.Log1p(math.Exp(-math.Abs(z)))
			l += wt(o.Weights, i) * (sp - t*z)
		}
		return l
	}
	p := &Platt{A: 0, B: math.Log((pos + 1) / (neg + 1))}
	f := loss(p.A, p.B)
	for it := 1; it <= o.MaxIterations; it++ {
		p.Iterations = it
		var ga, gb, haa, hab, hbb float64
		for i, s := range scores {
			q := p.Calibrate(s)
			w := wt(o.Weights, i)
			r := w * (q - target(i))
			ga += r * s
			gb += r
			h := w * q * (1 - q)
			haa += h * s * s
			hab += h * s
			hbb += h
		}
		haa += 1e-12
		hbb += 1e-12
		det := haa*hbb - hab*hab
		if det <= 0 {
			break
		}
		da := (hbb*ga - hab*gb) / det
		db := (haa*gb - hab*ga) / det
		step := 1.0
		improved := false
		for range 40 {
			a, b := p.A-step*da, p.B-step*db
			if nf := loss(a, b); nf <= f {
				p.A, p.B, f = a, b, nf
				improved = true
				break
			}
			step /= 2
		}
		if !improved || math.Abs(step*da)+math.Abs(step*db) < 1e-12 {
			break
		}
	}
	if math.IsNaN(p.A) || math.IsNaN(p.B) {
		return nil, errors.New("fit platt: diverged")
	}
	return p, nil
}

// Isotonic is a fitted monotone calibration map: knots X (increasing block
// centres) with values Y (non-decreasing), linear in between.
type Isotonic struct {
	X   []float64 `json:"x"`
	Y   []float64 `json:"y"`
	Eps float64   `json:"eps"`
}

// Kind returns "isotonic".
func (*Isotonic) Kind() string { return "isotonic" }

// Calibrate maps a score to a probability by interpolating between knots.
func (c *Isotonic) Calibrate(s float64) float64 {
	if math.IsNaN(s) {
		return math.NaN()
	}
	n := len(c.X)
	var v float64
	switch {
	case s <= c.X[0]:
		v = c.Y[0]
	case s >= c.X[n-1]:
		v = c.Y[n-1]
	default:
		k := sort.SearchFloat64s(c.X, s) // c.X[k-1] < s <= c.X[k]
		x0, x1 := c.X[k-1], c.X[k]
		v = c.Y[k-1] + (c.Y[k]-c.Y[k-1])*(s-x0)/(x1-x0)
	}
	return min(max(v, c.Eps), 1-c.Eps)
}

// FitIsotonic fits an increasing isotonic regression of labels on scores.
func FitIsotonic(scores, labels []float64, o Options) (*Isotonic, error) {
	if err := check(scores, labels, o); err != nil {
		return nil, fmt.Errorf("fit isotonic: %w", err)
	}
	idx := make([]int, len(scores))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return scores[idx[a]] < scores[idx[b]] })
	type block struct{ w, wy, wx float64 }
	var stack []block
	for k := 0; k < len(idx); {
		// Tied scores form one point: isotonic regression cannot separate them.
		var b block
		s := scores[idx[k]]
		for ; k < len(idx) && scores[idx[k]] == s; k++ {
			w := wt(o.Weights, idx[k])
			b.w += w
			b.wy += w * labels[idx[k]]
			b.wx += w * s
		}
		if b.w == 0 {
			continue
		}
		stack = append(stack, b)
		for len(stack) > 1 {
			top, prev := stack[len(stack)-1], stack[len(stack)-2]
			if prev.wy/prev.w < top.wy/top.w {
				break
			}
			stack = stack[:len(stack)-1]
			stack[len(stack)-1] = block{prev.w + top.w, prev.wy + top.wy, prev.wx + top.wx}
		}
	}
	c := &Isotonic{Eps: o.Eps, X: make([]float64, len(stack)), Y: make([]float64, len(stack))}
	for i, b := range stack {
		c.X[i], c.Y[i] = b.wx/b.w, b.wy/b.w
	}
	return c, nil
}

type envelope struct {
	Kind     string    `json:"kind"`
	Platt    *Platt    `json:"platt,omitempty"`
	Isotonic *Isotonic `json:"isotonic,omitempty"`
}

// Marshal encodes a calibrator with its kind so Load can rebuild it.
func Marshal(c Calibrator) ([]byte, error) {
	switch c := c.(type) {
	case *Platt:
		return json.Marshal(envelope{Kind: c.Kind(), Platt: c})
	case *Isotonic:
		return json.Marshal(envelope{Kind: c.Kind(), Isotonic: c})
	}
	return nil, fmt.Errorf("marshal calibrator: unknown type %T", c)
}

// Load decodes a calibrator written by Marshal and checks it can be evaluated.
func Load(b []byte) (Calibrator, error) {
	var e envelope
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, fmt.Errorf("load calibrator: %w", err)
	}
	switch e.Kind {
	case "platt":
		if e.Platt == nil || !finite(e.Platt.A) || !finite(e.Platt.B) {
			return nil, errors.New("load calibrator: platt parameters missing or not finite")
		}
		return e.Platt, nil
	case "isotonic":
		c := e.Isotonic
		if c == nil || len(c.X) == 0 || len(c.X) != len(c.Y) {
			return nil, errors.New("load calibrator: isotonic knots missing or mismatched")
		}
		if !(c.Eps >= 0 && c.Eps < 0.5) {
			return nil, fmt.Errorf("load calibrator: eps %v outside [0, 0.5)", c.Eps)
		}
		for i := range c.X {
			if !finite(c.X[i]) || !finite(c.Y[i]) || (i > 0 && (c.X[i] <= c.X[i-1] || c.Y[i] < c.Y[i-1])) {
				return nil, fmt.Errorf("load calibrator: isotonic knot %d is not finite and increasing", i)
			}
		}
		return c, nil
	}
	return nil, fmt.Errorf("load calibrator: unknown kind %q", e.Kind)
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
