package linear

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/optimize"

	"github.com/engagehq/engage/models"
)

// Options are the knobs of a fit.
type Options struct {
	// Lambda is the L2 penalty on the standardised coefficients (intercepts are
	// free). The objective is mean loss + Lambda/2*||w||^2, so Lambda does not
	// need to change with the number of rows.
	Lambda float64
	// MaxIterations caps the L-BFGS major iterations.
	MaxIterations int
	// GradTolerance stops the fit when the largest absolute gradient component
	// of the objective falls below it.
	GradTolerance float64
	// Weights are optional per-row sample weights (nil means all 1). They must be
	// finite and non-negative with a positive sum.
	Weights []float64
	// Parallel evaluates the two halves of the rows on two goroutines. The result
	// is bit-identical either way.
	Parallel bool
}

// DefaultOptions suit standardised business features with thousands of rows:
// a light penalty that only matters for rare levels and separable columns.
func DefaultOptions() Options {
	return Options{Lambda: 1e-4, MaxIterations: 200, GradTolerance: 1e-6, Parallel: true}
}

func (o Options) check(rows int) error {
	if !finite(o.Lambda) || o.Lambda < 0 {
		return fmt.Errorf("lambda %v must be finite and >= 0", o.Lambda)
	}
	if o.MaxIterations < 1 {
		return fmt.Errorf("max iterations %d must be >= 1", o.MaxIterations)
	}
	if !finite(o.GradTolerance) || o.GradTolerance < 0 {
		return fmt.Errorf("gradient tolerance %v must be finite and >= 0", o.GradTolerance)
	}
	if o.Weights != nil {
		if len(o.Weights) != rows {
			return fmt.Errorf("%d weights for %d rows", len(o.Weights), rows)
		}
		s := 0.0
		for i, w := range o.Weights {
			if !finite(w) || w < 0 {
				return fmt.Errorf("row %d: weight %v must be finite and >= 0", i, w)
			}
			s += w
		}
		if s <= 0 {
			return errors.New("sample weights sum to zero")
		}
	}
	return nil
}

// Fit fits a binary logistic regression of y (0 or 1) on X.
func Fit(ctx context.Context, X *models.Matrix, y []float64, opts Options) (*Model, error) {
	if err := checkInput(X, len(y), opts); err != nil {
		return nil, fmt.Errorf("fit logistic: %w", err)
	}
	var seen [2]bool
	for i, v := range y {
		if v != 0 && v != 1 {
			return nil, fmt.Errorf("fit logistic: row %d: label %v is not 0 or 1", i, v)
		}
		if opts.Weights == nil || opts.Weights[i] > 0 {
			seen[int(v)] = true
		}
	}
	if !seen[0] || !seen[1] {
		return nil, errors.New("fit logistic: labels are constant; need both 0 and 1")
	}
	m, err := fit(ctx, X, Logit, 2, y, nil, opts)
	if err != nil {
		return nil, fmt.Errorf("fit logistic: %w", err)
	}
	return m, nil
}

// FitMultinomial fits a softmax regression of classes (each in 0..k-1, every
// class present) on X.
func FitMultinomial(ctx context.Context, X *models.Matrix, classes []int, k int, opts Options) (*Model, error) {
	if k < 2 {
		return nil, fmt.Errorf("fit multinomial: %d classes, need at least 2", k)
	}
	if err := checkInput(X, len(classes), opts); err != nil {
		return nil, fmt.Errorf("fit multinomial: %w", err)
	}
	seen := make([]bool, k)
	cls := make([]int32, len(classes))
	for i, c := range classes {
		if c < 0 || c >= k {
			return nil, fmt.Errorf("fit multinomial: row %d: class %d outside 0..%d", i, c, k-1)
		}
		if opts.Weights == nil || opts.Weights[i] > 0 {
			seen[c] = true
		}
		cls[i] = int32(c)
	}
	for c, ok := range seen {
		if !ok {
			return nil, fmt.Errorf("fit multinomial: class %d has no rows", c)
		}
	}
	m, err := fit(ctx, X, Softmax, k, nil, cls, opts)
	if err != nil {
		return nil, fmt.Errorf("fit multinomial: %w", err)
	}
	return m, nil
}

// FitRegression fits ridge least squares of a real-valued y on X. The uplift
// X-learner uses it to model imputed treatment effects.
func FitRegression(ctx context.Context, X *models.Matrix, y []float64, opts Options) (*Model, error) {
	if err := checkInput(X, len(y), opts); err != nil {
		return nil, fmt.Errorf("fit regression: %w", err)
	}
	for i, v := range y {
		if !finite(v) {
			return nil, fmt.Errorf("fit regression: row %d: target %v is not finite", i, v)
		}
	}
	m, err := fit(ctx, X, Identity, 0, y, nil, opts)
	if err != nil {
		return nil, fmt.Errorf("fit regression: %w", err)
	}
	return m, nil
}

func checkInput(X *models.Matrix, n int, opts Options) error {
	if X == nil || X.Rows == 0 {
		return errors.New("no rows")
	}
	if X.Cols == 0 {
		return errors.New("no feature columns")
	}
	if err := X.Validate(); err != nil {
		return err
	}
	if n != X.Rows {
		return fmt.Errorf("%d targets for %d rows", n, X.Rows)
	}
	return opts.check(X.Rows)
}

// design is the encoded training data: dense numeric terms and, per categorical
// column, the global index of the active level (-1 when missing).
type design struct {
	n, D, C, L int
	dense      []float64 // n x D
	cats       []int32   // n x C
	denseTerm  []int     // model term index of dense column d
	levelTerm  []int     // model term index of global level g
}

func encode(X *models.Matrix, weights []float64) (*Model, *design) {
	p := X.Cols
	m := &Model{
		Features: slices.Clone(X.Features),
		Mean:     make([]float64, p),
		Scale:    make([]float64, p),
		Missing:  make([]bool, p),
	}
	for j, f := range X.Features {
		m.Scale[j] = 1
		if f.Kind == models.Categorical {
			continue
		}
		var sw, s float64
		for i := 0; i < X.Rows; i++ {
			v := X.Data[i*p+j]
			if math.IsNaN(v) {
				m.Missing[j] = true
				continue
			}
			w := weightAt(weights, i)
			sw += w
			s += w * v
		}
		if sw == 0 {
			continue // all missing: the value term stays 0, the indicator carries it
		}
		mean := s / sw
		var ss float64
		for i := 0; i < X.Rows; i++ {
			if v := X.Data[i*p+j]; !math.IsNaN(v) {
				d := v - mean
				ss += weightAt(weights, i) * d * d
			}
		}
		m.Mean[j] = mean
		if sd := math.Sqrt(ss / sw); sd > 1e-12*math.Max(1, math.Abs(mean)) {
			m.Scale[j] = sd
		}
	}
	m.layout()

	d := &design{n: X.Rows}
	for j, f := range X.Features {
		off := m.offset[j]
		if f.Kind == models.Categorical {
			d.C++
			for l := range f.Levels {
				d.levelTerm = append(d.levelTerm, off+l)
			}
			continue
		}
		d.denseTerm = append(d.denseTerm, off)
		if m.Missing[j] {
			d.denseTerm = append(d.denseTerm, off+1)
		}
	}
	d.D, d.L = len(d.denseTerm), len(d.levelTerm)
	d.dense = make([]float64, d.n*d.D)
	d.cats = make([]int32, d.n*d.C)
	for i := 0; i < X.Rows; i++ {
		row := X.Row(i)
		dr := d.dense[i*d.D : (i+1)*d.D]
		cr := d.cats[i*d.C : (i+1)*d.C]
		k, c, g := 0, 0, 0
		for j, f := range X.Features {
			v := row[j]
			if f.Kind == models.Categorical {
				cr[c] = -1
				if !math.IsNaN(v) {
					cr[c] = int32(g + int(v))
				}
				c++
				g += len(f.Levels)
				continue
			}
			if math.IsNaN(v) {
				dr[k] = 0
			} else {
				dr[k] = (v - m.Mean[j]) / m.Scale[j]
			}
			k++
			if m.Missing[j] {
				if math.IsNaN(v) {
					dr[k] = 1
				}
				k++
			}
		}
	}
	return m, d
}

func weightAt(w []float64, i int) float64 {
	if w == nil {
		return 1
	}
	return w[i]
}

func fit(ctx context.Context, X *models.Matrix, link Link, classes int, y []float64, cls []int32, opts Options) (*Model, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m, d := encode(X, opts.Weights)
	m.Link, m.Classes, m.Lambda = link, classes, opts.Lambda
	K := 1
	if link == Softmax {
		K = classes
	}
	pr := newProblem(d, link, K, y, cls, opts)
	defer pr.close()

	x0 := make([]float64, K*pr.P)
	switch link {
	case Logit:
		mu := pr.weightedMean(y)
		x0[0] = math.Log(mu / (1 - mu))
	case Identity:
		x0[0] = pr.weightedMean(y)
	case Softmax:
		freq := make([]float64, K)
		for i, c := range cls {
			freq[c] += weightAt(opts.Weights, i)
		}
		for k := range freq {
			x0[k*pr.P] = math.Log(freq[k] / pr.wsum)
		}
	}

	problem := optimize.Problem{
		Func: pr.Func,
		Grad: pr.Grad,
		Status: func() (optimize.Status, error) {
			if err := ctx.Err(); err != nil {
				return optimize.Failure, err
			}
			return optimize.NotTerminated, nil
		},
	}
	settings := &optimize.Settings{
		GradientThreshold: opts.GradTolerance,
		MajorIterations:   opts.MaxIterations,
		Converger:         &optimize.FunctionConverge{Absolute: 1e-14, Relative: 1e-12, Iterations: 20},
	}
	res, err := optimize.Minimize(problem, x0, settings, &optimize.LBFGS{})
	if cerr := ctx.Err(); cerr != nil {
		return nil, cerr
	}
	if res == nil {
		return nil, fmt.Errorf("l-bfgs: %w", err)
	}
	// A line search that can no longer make progress ends with an error but a
	// usable optimum; accept it when the location is finite and record why.
	status := res.Status.String()
	if err != nil {
		status += ": " + err.Error()
	}
	for _, v := range res.X {
		if !finite(v) {
			return nil, fmt.Errorf("l-bfgs diverged (%s)", status)
		}
	}
	m.Iterations, m.Status, m.Loss = res.MajorIterations, status, res.F

	m.Coef = make([][]float64, K)
	for k := range m.Coef {
		th := res.X[k*pr.P : (k+1)*pr.P]
		c := make([]float64, m.width+1)
		c[0] = th[0]
		for j, t := range d.denseTerm {
			c[1+t] = th[1+j]
		}
		for g, t := range d.levelTerm {
			c[1+t] = th[1+d.D+g]
		}
		m.Coef[k] = c
	}
	return m, nil
}

// problem evaluates the penalised objective and its gradient. Parameters are
// laid out per output k as [intercept, dense weights (D), level weights (L)].
type problem struct {
	d      *design
	link   Link
	K, P   int // outputs, parameters per output
	y      []float64
	cls    []int32
	w      []float64
	wsum   float64
	lambda float64

	chunks [2]chunk
	x      []float64 // parameters being evaluated (read by the worker)

	cacheX, cacheG []float64
	cacheF         float64
	cached         bool

	work chan struct{}
	done chan struct{}
}

// chunk is the scratch space of one half of the rows.
type chunk struct {
	lo, hi int
	loss   float64
	grad   []float64
	z      []float64 // softmax margins
}

func newProblem(d *design, link Link, K int, y []float64, cls []int32, opts Options) *problem {
	pr := &problem{d: d, link: link, K: K, P: 1 + d.D + d.L, y: y, cls: cls, w: opts.Weights, lambda: opts.Lambda}
	for i := 0; i < d.n; i++ {
		pr.wsum += weightAt(pr.w, i)
	}
	half := d.n / 2
	bounds := [2][2]int{{0, half}, {half, d.n}}
	for c := range pr.chunks {
		pr.chunks[c] = chunk{lo: bounds[c][0], hi: bounds[c][1], grad: make([]float64, K*pr.P), z: make([]float64, K)}
	}
	pr.cacheX = make([]float64, K*pr.P)
	pr.cacheG = make([]float64, K*pr.P)
	if opts.Parallel && half > 0 {
		pr.work, pr.done = make(chan struct{}), make(chan struct{})
		go func() {
			for range pr.work {
				pr.run(&pr.chunks[1])
				pr.done <- struct{}{}
			}
		}()
	}
	return pr
}

func (pr *problem) close() {
	if pr.work != nil {
		close(pr.work)
	}
}

func (pr *problem) weightedMean(y []float64) float64 {
	s := 0.0
	for i, v := range y {
		s += weightAt(pr.w, i) * v
	}
	return s / pr.wsum
}

// Func is the objective for gonum; it also computes and caches the gradient,
// because L-BFGS nearly always asks for both at the same point.
func (pr *problem) Func(x []float64) float64 {
	pr.eval(x)
	return pr.cacheF
}

// Grad is the gradient for gonum, served from the cache when possible.
func (pr *problem) Grad(grad, x []float64) {
	if !pr.cached || !slices.Equal(x, pr.cacheX) {
		pr.eval(x)
	}
	copy(grad, pr.cacheG)
}

func (pr *problem) eval(x []float64) {
	pr.x = x
	if pr.work != nil {
		pr.work <- struct{}{}
		pr.run(&pr.chunks[0])
		<-pr.done
	} else {
		pr.run(&pr.chunks[0])
		pr.run(&pr.chunks[1])
	}
	c0, c1 := &pr.chunks[0], &pr.chunks[1]
	f := (c0.loss + c1.loss) / pr.wsum
	g := pr.cacheG
	for i := range g {
		g[i] = (c0.grad[i] + c1.grad[i]) / pr.wsum
		if i%pr.P != 0 { // intercepts are not penalised
			f += 0.5 * pr.lambda * x[i] * x[i]
			g[i] += pr.lambda * x[i]
		}
	}
	copy(pr.cacheX, x)
	pr.cacheF = f
	pr.cached = true
}

// run accumulates the loss and gradient of rows [lo, hi). It allocates nothing.
func (pr *problem) run(c *chunk) {
	d := pr.d
	x := pr.x
	clear(c.grad)
	c.loss = 0
	D, C, P := d.D, d.C, pr.P
	switch pr.link {
	case Logit, Identity:
		b := x[0]
		wd := x[1 : 1+D]
		wl := x[1+D : P]
		gd := c.grad[1 : 1+D]
		gl := c.grad[1+D : P]
		var gb, loss float64
		for i := c.lo; i < c.hi; i++ {
			xr := d.dense[i*D : i*D+D]
			cr := d.cats[i*C : i*C+C]
			z := b
			for k, v := range xr {
				z += v * wd[k]
			}
			for _, l := range cr {
				if l >= 0 {
					z += wl[l]
				}
			}
			wi := 1.0
			if pr.w != nil {
				wi = pr.w[i]
			}
			yi := pr.y[i]
			var r float64
			if pr.link == Logit {
				e := math.Exp(-math.Abs(z))
				var p float64
				if z >= 0 {
					p = 1 / (1 + e)
				} else {
					p = e / (1 + e)
				}
				loss += wi * (math.Max(z, 0) + math.Log1p(e) - yi*z)
				r = wi * (p - yi)
			} else {
				res := z - yi
				loss += wi * 0.5 * res * res
				r = wi * res
			}
			gb += r
			for k, v := range xr {
				gd[k] += r * v
			}
			for _, l := range cr {
				if l >= 0 {
					gl[l] += r
				}
			}
		}
		c.grad[0] = gb
		c.loss = loss
	case Softmax:
		K := pr.K
		z := c.z
		var loss float64
		for i := c.lo; i < c.hi; i++ {
			xr := d.dense[i*D : i*D+D]
			cr := d.cats[i*C : i*C+C]
			zmax := math.Inf(-1)
			for k := 0; k < K; k++ {
				th := x[k*P : k*P+P]
				zk := th[0]
				wd := th[1 : 1+D]
				for j, v := range xr {
					zk += v * wd[j]
				}
				for _, l := range cr {
					if l >= 0 {
						zk += th[1+D+int(l)]
					}
				}
				z[k] = zk
				zmax = math.Max(zmax, zk)
			}
			s := 0.0
			for k := 0; k < K; k++ {
				s += math.Exp(z[k] - zmax)
			}
			lse := zmax + math.Log(s)
			wi := 1.0
			if pr.w != nil {
				wi = pr.w[i]
			}
			yc := int(pr.cls[i])
			loss += wi * (lse - z[yc])
			for k := 0; k < K; k++ {
				r := math.Exp(z[k] - lse)
				if k == yc {
					r--
				}
				r *= wi
				g := c.grad[k*P : k*P+P]
				g[0] += r
				gd := g[1 : 1+D]
				for j, v := range xr {
					gd[j] += r * v
				}
				for _, l := range cr {
					if l >= 0 {
						g[1+D+int(l)] += r
					}
				}
			}
		}
		c.loss = loss
	}
}
