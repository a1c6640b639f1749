package ope

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/engagehq/engage/datasets"
)

// Part is one component of an action: a categorical part has Levels, a
// numeric part a finite sorted set of Values (e.g. local send hours).
type Part struct {
	Name   string
	Kind   datasets.Kind
	Levels []string
	Values []float64
}

// size is the number of levels of the part.
func (p *Part) size() int {
	if p.Kind == datasets.KindCategorical {
		return len(p.Levels)
	}
	return len(p.Values)
}

// Space is a finite action space: every combination of its parts' levels.
// Actions are numbered 0..Len()-1 in mixed radix, the last part varying
// fastest, so that a policy can hand out distributions as (index, probability)
// pairs whatever the parts are.
type Space struct {
	Parts  []Part
	stride []int
	n      int
}

// maxActions bounds a space so that dense per-row vectors stay small.
const maxActions = 1 << 16

// NewSpace checks the parts and numbers their combinations.
func NewSpace(parts []Part) (*Space, error) {
	if len(parts) == 0 {
		return nil, errors.New("action space: no action part")
	}
	s := &Space{Parts: parts, stride: make([]int, len(parts)), n: 1}
	for i := len(parts) - 1; i >= 0; i-- {
		p := &parts[i]
		switch p.Kind {
		case datasets.KindCategorical:
			if len(p.Values) > 0 {
				return nil, fmt.Errorf("action part %q: categorical with numeric values", p.Name)
			}
		case datasets.KindNumeric:
			if len(p.Levels) > 0 {
				return nil, fmt.Errorf("action part %q: numeric with string levels", p.Name)
			}
			for k, v := range p.Values {
				if math.IsNaN(v) || math.IsInf(v, 0) || (k > 0 && v <= p.Values[k-1]) {
					return nil, fmt.Errorf("action part %q: values must be finite and strictly increasing", p.Name)
				}
			}
		default:
			return nil, fmt.Errorf("action part %q: kind %q (want categorical or numeric)", p.Name, p.Kind)
		}
		if p.size() == 0 {
			return nil, fmt.Errorf("action part %q has no level", p.Name)
		}
		s.stride[i] = s.n
		s.n *= p.size()
		if s.n > maxActions {
			return nil, fmt.Errorf("action space has more than %d actions; evaluate fewer parts or levels", maxActions)
		}
	}
	return s, nil
}

// Len is the number of actions.
func (s *Space) Len() int { return s.n }

// Level returns the level index of part p in action a.
func (s *Space) Level(a, p int) int { return a / s.stride[p] % s.Parts[p].size() }

// Index returns the action with the given level index per part, or -1 when a
// level is out of range.
func (s *Space) Index(levels []int) int {
	if len(levels) != len(s.Parts) {
		return -1
	}
	a := 0
	for p, l := range levels {
		if l < 0 || l >= s.Parts[p].size() {
			return -1
		}
		a += l * s.stride[p]
	}
	return a
}

// Value returns the numeric value of numeric part p in action a (NaN for a
// categorical part).
func (s *Space) Value(a, p int) float64 {
	if s.Parts[p].Kind != datasets.KindNumeric {
		return math.NaN()
	}
	return s.Parts[p].Values[s.Level(a, p)]
}

// Format renders action a for reports: "channel=email local_hour=18 ...".
func (s *Space) Format(a int) string {
	if a < 0 || a >= s.n {
		return "action(" + strconv.Itoa(a) + ")"
	}
	var b strings.Builder
	for p := range s.Parts {
		if p > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(s.Parts[p].Name)
		b.WriteByte('=')
		l := s.Level(a, p)
		if s.Parts[p].Kind == datasets.KindCategorical {
			b.WriteString(s.Parts[p].Levels[l])
		} else {
			b.WriteString(strconv.FormatFloat(s.Parts[p].Values[l], 'g', -1, 64))
		}
	}
	return b.String()
}

// Row is one logged decision as policies and reward models see it.
type Row struct {
	// Table holds the row's columns (its context); nil when a policy keeps
	// its own per-row context and indexes it by I.
	Table *datasets.Table
	// I is the row's index in Table (and its position in the log).
	I int
	// Action is the logged action, an index in the Space.
	Action int
	// Propensity is the probability with which the logging policy took Action.
	Propensity float64
	// Reward is the observed outcome.
	Reward float64
}

// ActionProb is one action of a policy's distribution.
type ActionProb struct {
	Action int
	P      float64
}

// Policy is a target policy: the distribution over the action space it would
// play on a row's context. Implementations must be safe for concurrent use;
// dst may be reused to avoid allocation. Actions omitted have probability 0.
type Policy interface {
	Distribution(row Row, dst []ActionProb) ([]ActionProb, error)
}

// RewardModel predicts the expected reward q̂(x, a) of an action on a row's
// context; DM and DR need it. Implementations must be safe for concurrent use.
type RewardModel interface {
	Predict(row Row, action int) (float64, error)
}

// Scorer scores every action of the space for one row: dst (len Space.Len())
// receives each action's score, NaN for an action not allowed on the row.
// Implementations must be safe for concurrent use. A RewardModel that is also
// a Scorer is asked once per row for every action instead of per action.
type Scorer interface {
	Scores(row Row, dst []float64) error
}

// ErrNoCandidate is returned when a row allows no action at all.
var ErrNoCandidate = errors.New("no allowed candidate action")

// Greedy is the ε-greedy policy of a Scorer: the best allowed action (the
// first in action order on ties) with probability 1−ε, and a uniform draw over
// the allowed actions with probability ε. Exploration keeps its probabilities
// positive wherever the logging policy acts, so it can be evaluated off-policy
// and logged when served.
type Greedy struct {
	scorer  Scorer
	epsilon float64
	n       int
	pool    sync.Pool
}

// NewGreedy builds the ε-greedy policy of s over a space of n actions.
func NewGreedy(s Scorer, n int, epsilon float64) (*Greedy, error) {
	if s == nil {
		return nil, errors.New("greedy policy: nil scorer")
	}
	if !(epsilon >= 0 && epsilon <= 1) {
		return nil, fmt.Errorf("greedy policy: epsilon %g must be in [0,1]", epsilon)
	}
	if n <= 0 {
		return nil, fmt.Errorf("greedy policy: %d actions", n)
	}
	g := &Greedy{scorer: s, epsilon: epsilon, n: n}
	g.pool.New = func() any { v := make([]float64, n); return &v }
	return g, nil
}

// Epsilon returns the exploration probability.
func (g *Greedy) Epsilon() float64 { return g.epsilon }

// Distribution scores the row's actions and returns the ε-greedy distribution.
func (g *Greedy) Distribution(row Row, dst []ActionProb) ([]ActionProb, error) {
	sp := g.pool.Get().(*[]float64)
	defer g.pool.Put(sp)
	scores := *sp
	if err := g.scorer.Scores(row, scores); err != nil {
		return dst[:0], err
	}
	return g.fromScores(scores, dst)
}

// fromScores turns dense scores (NaN = not allowed) into the distribution.
func (g *Greedy) fromScores(scores []float64, dst []ActionProb) ([]ActionProb, error) {
	dst = dst[:0]
	best, k := -1, 0
	for a, v := range scores {
		if math.IsNaN(v) {
			continue
		}
		k++
		if best < 0 || v > scores[best] {
			best = a
		}
	}
	if k == 0 {
		return dst, ErrNoCandidate
	}
	u := g.epsilon / float64(k)
	if g.epsilon == 0 {
		return append(dst, ActionProb{best, 1}), nil
	}
	for a, v := range scores {
		if math.IsNaN(v) {
			continue
		}
		p := u
		if a == best {
			p += 1 - g.epsilon
		}
		dst = append(dst, ActionProb{a, p})
	}
	return dst, nil
}

// Result is the evaluation of several policies on one log.
type Result struct {
	// Reports holds one report per policy, in the order given.
	Reports []Report
	// Samples holds each policy's per-row samples, in the order of the rows, for
	// paired comparisons (Difference) between policies.
	Samples [][]Sample
}

// Evaluate estimates the value of each policy on the logged rows. q may be nil
// (then only IPS and SNIPS are reported). Every row must have a valid
// propensity and a finite reward (ReadLog drops or rejects the others). The
// rows are spread over Options.Workers goroutines; progress, when not nil,
// receives the number of rows done at a time and must be safe for concurrent
// use.
func Evaluate(ctx context.Context, rows []Row, q RewardModel, o Options, progress func(int), policies ...Policy) (*Result, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, ErrEmpty
	}
	if len(policies) == 0 {
		return nil, errors.New("evaluate: no policy")
	}
	for i := range rows {
		if err := checkRow(&rows[i]); err != nil {
			return nil, fmt.Errorf("row %d: %w", rows[i].I, err)
		}
	}
	res := &Result{Samples: make([][]Sample, len(policies))}
	for k := range policies {
		res.Samples[k] = make([]Sample, len(rows))
	}
	qs, dense := q.(Scorer)
	// A Greedy policy over the reward model's own scorer reuses its scores.
	same := make([]bool, len(policies))
	if dense {
		for k, p := range policies {
			if g, ok := p.(*Greedy); ok {
				same[k] = sameScorer(g.scorer, qs)
			}
		}
	}
	const chunk = 256
	var next atomic.Int64
	var firstErr error
	var errOnce sync.Once
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	fail := func(err error) { errOnce.Do(func() { firstErr = err; cancel() }) }
	workers := o.Workers
	if workers == 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var dist []ActionProb
			var qv []float64
			for {
				if ctx.Err() != nil {
					return
				}
				lo := int(next.Add(chunk)) - chunk
				if lo >= len(rows) {
					return
				}
				hi := min(lo+chunk, len(rows))
				for i := lo; i < hi; i++ {
					row := rows[i]
					if dense {
						if len(qv) == 0 {
							qv = make([]float64, qvLen(policies, q))
						}
						if err := qs.Scores(row, qv); err != nil {
							fail(fmt.Errorf("reward model, row %d: %w", row.I, err))
							return
						}
					}
					for k, p := range policies {
						var err error
						if same[k] {
							dist, err = p.(*Greedy).fromScores(qv, dist)
						} else {
							dist, err = p.Distribution(row, dist)
						}
						if err != nil {
							fail(fmt.Errorf("policy %d, row %d: %w", k, row.I, err))
							return
						}
						s, err := sample(row, dist, q, qv)
						if err != nil {
							fail(fmt.Errorf("policy %d, row %d: %w", k, row.I, err))
							return
						}
						res.Samples[k][i] = s
					}
				}
				if progress != nil {
					progress(hi - lo)
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for k := range policies {
		rep, err := EstimateSamples(res.Samples[k], q != nil, o)
		if err != nil {
			return nil, fmt.Errorf("policy %d: %w", k, err)
		}
		res.Reports = append(res.Reports, rep)
	}
	return res, nil
}

// qvLen finds the space size for the dense reward vector from a Greedy
// policy, or from the largest action any policy may name (Space.Len()).
func qvLen(policies []Policy, q RewardModel) int {
	for _, p := range policies {
		if g, ok := p.(*Greedy); ok {
			return g.n
		}
	}
	if s, ok := q.(interface{ Len() int }); ok {
		return s.Len()
	}
	return maxActions
}

// sameScorer compares two scorers without panicking on incomparable types.
func sameScorer(a, b Scorer) (same bool) {
	defer func() {
		if recover() != nil {
			same = false
		}
	}()
	return a == b
}

func checkRow(r *Row) error {
	switch {
	case !(r.Propensity > 0 && r.Propensity <= 1):
		return fmt.Errorf("propensity %g: must be in (0,1]", r.Propensity)
	case math.IsNaN(r.Reward) || math.IsInf(r.Reward, 0):
		return fmt.Errorf("reward %g: must be finite", r.Reward)
	case r.Action < 0:
		return fmt.Errorf("logged action %d: not in the action space", r.Action)
	}
	return nil
}

// probTolerance is how far a distribution's total may stray from 1.
const probTolerance = 1e-6

// sample builds one row's Sample from the policy's distribution and the
// reward model (dense scores qv when not nil).
func sample(row Row, dist []ActionProb, q RewardModel, qv []float64) (Sample, error) {
	s := Sample{R: row.Reward}
	var total, pa float64
	for _, ap := range dist {
		if !(ap.P >= 0 && ap.P <= 1+probTolerance) {
			return s, fmt.Errorf("policy probability %g of action %d: must be in [0,1]", ap.P, ap.Action)
		}
		if ap.Action < 0 || (qv != nil && ap.Action >= len(qv)) {
			return s, fmt.Errorf("policy names action %d outside the action space", ap.Action)
		}
		total += ap.P
		if ap.Action == row.Action {
			pa += ap.P
		}
		if q == nil || ap.P == 0 {
			continue
		}
		var v float64
		if qv != nil {
			v = qv[ap.Action]
		} else {
			var err error
			if v, err = q.Predict(row, ap.Action); err != nil {
				return s, fmt.Errorf("reward model: %w", err)
			}
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return s, fmt.Errorf("reward model gives %g for action %d, which the policy may take", v, ap.Action)
		}
		s.DM += ap.P * v
	}
	if math.Abs(total-1) > probTolerance {
		return s, fmt.Errorf("policy probabilities sum to %g, not 1", total)
	}
	s.W = pa / row.Propensity
	if q != nil {
		var v float64
		if qv != nil && row.Action < len(qv) {
			v = qv[row.Action]
		} else {
			var err error
			if v, err = q.Predict(row, row.Action); err != nil {
				return s, fmt.Errorf("reward model: %w", err)
			}
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			if s.W != 0 {
				return s, fmt.Errorf("reward model gives %g for the logged action", v)
			}
			v = 0 // w = 0: the logged action's prediction does not enter DR
		}
		s.Q = v
	}
	return s, nil
}

// LoggingSamples are the samples of the logging policy itself (weight 1, and
// DM = Q = R so that DM and DR reduce to the on-policy mean reward). They let
// the logging policy stand as the baseline of a comparison when no model is
// promoted: every estimator then equals the observed mean reward, and
// Difference(candidate, logging, DR) is the paired estimate of the
// improvement over what was actually done.
func LoggingSamples(rows []Row) []Sample {
	out := make([]Sample, len(rows))
	for i, r := range rows {
		out[i] = Sample{W: 1, R: r.Reward, DM: r.Reward, Q: r.Reward}
	}
	return out
}
