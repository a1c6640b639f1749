package action

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"sync"

	"github.com/engagehq/engage/models"
)

// Action is one candidate contact: a channel, a local send hour (0..23) and a
// message variant.
type Action struct {
	Channel string
	Hour    int
	Message string
}

// String formats an action for logs and reports.
func (a Action) String() string { return fmt.Sprintf("%s@%02d:00/%s", a.Channel, a.Hour, a.Message) }

// Scored is an action with its model probability and its value (the ranking
// key: the probability unless Request.Value says otherwise).
type Scored struct {
	Action Action
	P      float64
	Value  float64
}

// Pref is the preferred level of one action part: the level whose best action
// (maximised over the other parts) has the highest value, and the runner-up
// level. RunnerUpValue is NaN when only one level was allowed.
type Pref[T any] struct {
	Best          T
	Value         float64
	RunnerUp      T
	RunnerUpValue float64
}

// Ranking is the answer for one account.
type Ranking struct {
	// Best is the best allowed action, RunnerUp the second best (Value NaN when
	// there is none).
	Best, RunnerUp Scored
	// Top holds the best actions seen, best first (at most Options.Top).
	Top []Scored
	// Channel, Hour and Message are the preferred levels per part.
	Channel Pref[string]
	Hour    Pref[int]
	Message Pref[string]
	// Evaluated is how many rows the model scored.
	Evaluated int
}

// ErrNoCandidate is returned when every candidate action is disallowed.
var ErrNoCandidate = errors.New("no allowed candidate action")

// Search says how the candidate grid is explored.
type Search uint8

const (
	// Exhaustive scores every allowed action of the grid.
	Exhaustive Search = iota
	// Coordinate optimises one part at a time with the others fixed (channel,
	// then hour, then message, repeated until nothing changes, at most
	// MaxPasses). It scores about |channels|+|hours|+|messages| rows per pass
	// instead of their product; exact when the value is monotone in each part
	// separately (as for a multiplicative or additive effect), approximate
	// otherwise.
	Coordinate
)

// Options configure a Scorer.
type Options struct {
	// ChannelFeature, HourFeature and MessageFeature name the action columns of
	// the model's features (defaults "channel", "local_hour", "message"). A part
	// the model does not have is ranked by Value only (all levels tie on P).
	ChannelFeature, HourFeature, MessageFeature string
	// Channels, Hours and Messages are the candidate grid. Defaults: the
	// model's channel and message levels and the hours 8..20.
	Channels []string
	Hours    []int
	Messages []string
	// Search selects exhaustive or coordinate search.
	Search Search
	// MaxPasses caps coordinate-search passes (default 3).
	MaxPasses int
	// Top is how many ranked actions Ranking.Top keeps (default 3).
	Top int
}

// DefaultOptions score the full grid exhaustively.
func DefaultOptions() Options {
	return Options{ChannelFeature: "channel", HourFeature: "local_hour", MessageFeature: "message", MaxPasses: 3, Top: 3}
}

// part is one action column of the model row.
type part struct {
	col   int       // index in the row, -1 when the model lacks it
	codes []float64 // the encoded value of each candidate level
}

// Scorer ranks the candidate actions of one account with one model. It is safe
// for concurrent use.
type Scorer struct {
	m        *Model
	o        Options
	ch, h, g part
	pool     sync.Pool
}

type scratch struct {
	row    []float64
	values []key
	probs  []float64
}

// key orders candidates: by value, ties broken by the model's raw log-odds. A
// calibrator is monotone but an isotonic one is a step function, so many
// candidates of one account (neighbouring send hours, say) share a calibrated
// probability; without the raw score the first in grid order would win every
// such tie.
type key struct{ v, z float64 }

var noKey = key{math.Inf(-1), math.Inf(-1)}

func (a key) gt(b key) bool { return a.v > b.v || (a.v == b.v && a.z > b.z) }

func (a key) disallowed() bool { return math.IsInf(a.v, -1) }

// NewScorer prepares the candidate grid's encodings for the model.
func NewScorer(m *Model, o Options) (*Scorer, error) {
	if m == nil {
		return nil, errors.New("scorer: nil model")
	}
	if m.Uplift() != nil {
		return nil, errors.New("scorer: an uplift model scores treatment effects, not action values")
	}
	d := DefaultOptions()
	if o.ChannelFeature == "" {
		o.ChannelFeature = d.ChannelFeature
	}
	if o.HourFeature == "" {
		o.HourFeature = d.HourFeature
	}
	if o.MessageFeature == "" {
		o.MessageFeature = d.MessageFeature
	}
	if o.MaxPasses <= 0 {
		o.MaxPasses = d.MaxPasses
	}
	if o.Top <= 0 {
		o.Top = d.Top
	}
	idx := func(name string) int {
		return slices.IndexFunc(m.Features, func(f models.Feature) bool { return f.Name == name })
	}
	ci, hi, mi := idx(o.ChannelFeature), idx(o.HourFeature), idx(o.MessageFeature)
	if ci < 0 && hi < 0 && mi < 0 {
		return nil, fmt.Errorf("scorer: model has none of the action features %q, %q, %q", o.ChannelFeature, o.HourFeature, o.MessageFeature)
	}
	if o.Channels == nil && ci >= 0 {
		o.Channels = m.Features[ci].Levels
	}
	if o.Messages == nil && mi >= 0 {
		o.Messages = m.Features[mi].Levels
	}
	if o.Hours == nil {
		for h := 8; h <= 20; h++ {
			o.Hours = append(o.Hours, h)
		}
	}
	if len(o.Channels) == 0 || len(o.Hours) == 0 || len(o.Messages) == 0 {
		return nil, fmt.Errorf("scorer: empty candidate grid (%d channels, %d hours, %d messages)", len(o.Channels), len(o.Hours), len(o.Messages))
	}
	for _, h := range o.Hours {
		if h < 0 || h > 23 {
			return nil, fmt.Errorf("scorer: candidate hour %d outside 0..23", h)
		}
	}
	hours := make([]string, len(o.Hours))
	for i, h := range o.Hours {
		hours[i] = strconv.Itoa(h)
	}
	s := &Scorer{m: m, o: o}
	var err error
	if s.ch, err = encodePart(m.Features, ci, o.Channels, nil); err != nil {
		return nil, err
	}
	if s.h, err = encodePart(m.Features, hi, hours, o.Hours); err != nil {
		return nil, err
	}
	if s.g, err = encodePart(m.Features, mi, o.Messages, nil); err != nil {
		return nil, err
	}
	n := len(o.Channels) * len(o.Hours) * len(o.Messages)
	s.pool.New = func() any {
		return &scratch{row: make([]float64, len(m.Features)), values: make([]key, n), probs: make([]float64, n)}
	}
	return s, nil
}

// encodePart codes the candidate levels of one action column. A categorical
// column takes the level's code (NaN, i.e. missing, for a level the model never
// saw); a numeric column takes the number (nums, or the parsed level).
func encodePart(feats []models.Feature, col int, levels []string, nums []int) (part, error) {
	p := part{col: col, codes: make([]float64, len(levels))}
	if col < 0 {
		return p, nil
	}
	f := feats[col]
	for i, l := range levels {
		switch f.Kind {
		case models.Categorical:
			k := slices.Index(f.Levels, l)
			p.codes[i] = math.NaN()
			if k >= 0 {
				p.codes[i] = float64(k)
			}
		default:
			if nums != nil {
				p.codes[i] = float64(nums[i])
				continue
			}
			v, err := strconv.ParseFloat(l, 64)
			if err != nil {
				return p, fmt.Errorf("scorer: feature %q is numeric but candidate %q is not a number", f.Name, l)
			}
			p.codes[i] = v
		}
	}
	return p, nil
}

func (p *part) set(row []float64, i int) {
	if p.col >= 0 {
		row[p.col] = p.codes[i]
	}
}

// Request is one account's question.
type Request struct {
	// Context is the account's feature row in the model's Features order; the
	// action columns are overwritten per candidate. It is not modified.
	Context []float64
	// Allowed filters candidates (e.g. the compliance firewall); nil allows all.
	Allowed func(Action) bool
	// Fill writes action-dependent context features into row for action a, such
	// as features.SlotName (the debtor's affinity to the send slot), which
	// cannot be derived from the context vector. Exhaustive search calls it
	// with the hour changing slowest, so a caller may cache per hour.
	Fill func(a Action, row []float64)
	// Value turns a probability into the ranking key (e.g. p × amount − cost);
	// nil ranks by probability.
	Value func(a Action, p float64) float64
}

// Rank scores the allowed candidates and returns the ranking.
func (s *Scorer) Rank(req Request) (Ranking, error) {
	if len(req.Context) != len(s.m.Features) {
		return Ranking{}, fmt.Errorf("rank: context has %d values, model expects %d features", len(req.Context), len(s.m.Features))
	}
	sc := s.pool.Get().(*scratch)
	defer s.pool.Put(sc)
	copy(sc.row, req.Context)
	var r Ranking
	var err error
	if s.o.Search == Coordinate {
		r, err = s.coordinate(req, sc)
	} else {
		r, err = s.exhaustive(req, sc)
	}
	return r, err
}

func (s *Scorer) action(c, h, g int) Action {
	return Action{Channel: s.o.Channels[c], Hour: s.o.Hours[h], Message: s.o.Messages[g]}
}

// score evaluates one cell; ok false marks a disallowed action.
func (s *Scorer) score(req *Request, row []float64, c, h, g int) (p float64, k key, ok bool) {
	a := s.action(c, h, g)
	if req.Allowed != nil && !req.Allowed(a) {
		return math.NaN(), noKey, false
	}
	s.ch.set(row, c)
	s.h.set(row, h)
	s.g.set(row, g)
	if req.Fill != nil {
		req.Fill(a, row)
	}
	p, z := s.m.predictUnchecked(row)
	v := p
	if req.Value != nil {
		v = req.Value(a, p)
	}
	if math.IsNaN(v) {
		return p, noKey, false
	}
	if math.IsNaN(z) {
		z = math.Inf(-1)
	}
	return p, key{v, z}, true
}

func (s *Scorer) exhaustive(req Request, sc *scratch) (Ranking, error) {
	C, H, M := len(s.o.Channels), len(s.o.Hours), len(s.o.Messages)
	vals, probs := sc.values, sc.probs
	n := 0
	for h := 0; h < H; h++ {
		for c := 0; c < C; c++ {
			for g := 0; g < M; g++ {
				k := (c*H+h)*M + g
				p, v, ok := s.score(&req, sc.row, c, h, g)
				vals[k], probs[k] = v, p
				if ok {
					n++
				}
			}
		}
	}
	if n == 0 {
		return Ranking{}, ErrNoCandidate
	}
	r := Ranking{Evaluated: n}
	r.Top = s.top(vals, probs, s.o.Top)
	r.Best = r.Top[0]
	r.RunnerUp = Scored{Value: math.NaN(), P: math.NaN()}
	if len(r.Top) > 1 {
		r.RunnerUp = r.Top[1]
	}
	// marginal bests: max over the other parts.
	chBest := make([]key, C)
	hBest := make([]key, H)
	gBest := make([]key, M)
	for i := range chBest {
		chBest[i] = noKey
	}
	for i := range hBest {
		hBest[i] = noKey
	}
	for i := range gBest {
		gBest[i] = noKey
	}
	for c := 0; c < C; c++ {
		for h := 0; h < H; h++ {
			for g := 0; g < M; g++ {
				v := vals[(c*H+h)*M+g]
				if v.gt(chBest[c]) {
					chBest[c] = v
				}
				if v.gt(hBest[h]) {
					hBest[h] = v
				}
				if v.gt(gBest[g]) {
					gBest[g] = v
				}
			}
		}
	}
	r.Channel = pref(s.o.Channels, chBest)
	r.Hour = pref(s.o.Hours, hBest)
	r.Message = pref(s.o.Messages, gBest)
	return r, nil
}

// top returns the k best cells, exact ties broken by grid order for
// determinism.
func (s *Scorer) top(vals []key, probs []float64, k int) []Scored {
	H, M := len(s.o.Hours), len(s.o.Messages)
	type cell struct {
		k int
		v key
	}
	best := make([]cell, 0, k+1)
	for i, v := range vals {
		if v.disallowed() {
			continue
		}
		if len(best) == k && !v.gt(best[k-1].v) {
			continue
		}
		pos := len(best)
		for pos > 0 && v.gt(best[pos-1].v) {
			pos--
		}
		best = slices.Insert(best, pos, cell{i, v})
		if len(best) > k {
			best = best[:k]
		}
	}
	out := make([]Scored, len(best))
	for i, b := range best {
		c, rest := b.k/(H*M), b.k%(H*M)
		out[i] = Scored{Action: s.action(c, rest/M, rest%M), P: probs[b.k], Value: b.v.v}
	}
	return out
}

// pref picks the best and runner-up level from per-level keys (noKey for a
// level with no allowed action).
func pref[T any](levels []T, vals []key) Pref[T] {
	var p Pref[T]
	b, r := -1, -1
	for i, v := range vals {
		if v.disallowed() {
			continue
		}
		switch {
		case b < 0 || v.gt(vals[b]):
			b, r = i, b
		case r < 0 || v.gt(vals[r]):
			r = i
		}
	}
	p.Value, p.RunnerUpValue = math.NaN(), math.NaN()
	if b >= 0 {
		p.Best, p.Value = levels[b], vals[b].v
	}
	if r >= 0 {
		p.RunnerUp, p.RunnerUpValue = levels[r], vals[r].v
	}
	return p
}

func (s *Scorer) coordinate(req Request, sc *scratch) (Ranking, error) {
	C, H, M := len(s.o.Channels), len(s.o.Hours), len(s.o.Messages)
	vals, probs := sc.values, sc.probs
	done := make([]bool, len(vals)) // evaluated
	n := 0
	eval := func(c, h, g int) key {
		k := (c*H+h)*M + g
		if done[k] {
			return vals[k]
		}
		p, v, ok := s.score(&req, sc.row, c, h, g)
		if ok {
			n++
		}
		vals[k], probs[k], done[k] = v, p, true
		return v
	}
	// Start from the first allowed cell in grid order; the passes improve it.
	bc, bh, bg, found := 0, 0, 0, false
	for c := 0; c < C && !found; c++ {
		for h := 0; h < H && !found; h++ {
			for g := 0; g < M && !found; g++ {
				if !eval(c, h, g).disallowed() {
					bc, bh, bg, found = c, h, g, true
				}
			}
		}
	}
	if !found {
		return Ranking{}, ErrNoCandidate
	}
	chV, hV, gV := make([]key, C), make([]key, H), make([]key, M)
	for pass := 0; pass < s.o.MaxPasses; pass++ {
		changed := false
		for c := range chV {
			chV[c] = eval(c, bh, bg)
		}
		if c := argmax(chV); c != bc && chV[c].gt(chV[bc]) {
			bc, changed = c, true
		}
		for h := range hV {
			hV[h] = eval(bc, h, bg)
		}
		if h := argmax(hV); h != bh && hV[h].gt(hV[bh]) {
			bh, changed = h, true
		}
		for g := range gV {
			gV[g] = eval(bc, bh, g)
		}
		if g := argmax(gV); g != bg && gV[g].gt(gV[bg]) {
			bg, changed = g, true
		}
		if !changed {
			break
		}
	}
	// Final per-part values with the other parts at the optimum.
	for c := range chV {
		chV[c] = eval(c, bh, bg)
	}
	for h := range hV {
		hV[h] = eval(bc, h, bg)
	}
	masked := make([]key, len(vals))
	for i, v := range vals {
		masked[i] = v
		if !done[i] {
			masked[i] = noKey
		}
	}
	r := Ranking{Evaluated: n}
	r.Top = s.top(masked, probs, s.o.Top)
	r.Best = r.Top[0]
	r.RunnerUp = Scored{Value: math.NaN(), P: math.NaN()}
	if len(r.Top) > 1 {
		r.RunnerUp = r.Top[1]
	}
	r.Channel = pref(s.o.Channels, chV)
	r.Hour = pref(s.o.Hours, hV)
	r.Message = pref(s.o.Messages, gV)
	return r, nil
}

func argmax(v []key) int {
	b := 0
	for i := range v {
		if v[i].gt(v[b]) {
			b = i
		}
	}
	return b
}
