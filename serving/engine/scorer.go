package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/engagehq/engage/datasets"
	"github.com/engagehq/engage/features"
	"github.com/engagehq/engage/models"
	"github.com/engagehq/engage/models/action"
	"github.com/engagehq/engage/models/gbdt"
)

// RateScorer needs no trained model: it scores a candidate by the debtor's own
// smoothed engagement rate on the channel (shrunk toward the population), times
// the message's smoothed response rate relative to the average message, times
// the square root of the send slot's affinity. It predicts engagement within
// 48 h (target engaged_48h). It is the engine's stand-in until a model is
// promoted and the scorer of the tests.
type RateScorer struct {
	priors *features.Priors
	chIdx  map[string]int // channel -> NumericNames index of <channel>_engagement_rate
	msgIdx map[string]int // message -> index of msg_<message>_response_rate
}

// NewRateScorer returns a RateScorer reading features with priors (nil means
// features.UniformPriors).
func NewRateScorer(priors *features.Priors) (*RateScorer, error) {
	if priors == nil {
		priors = features.UniformPriors()
	}
	num := features.NumericNames()
	s := &RateScorer{priors: priors, chIdx: map[string]int{}, msgIdx: map[string]int{}}
	for _, c := range datasets.Channels {
		i := slices.Index(num, c+"_engagement_rate")
		if i < 0 {
			return nil, fmt.Errorf("rate scorer: feature %s_engagement_rate missing", c)
		}
		s.chIdx[c] = i
	}
	for _, m := range datasets.Messages {
		i := slices.Index(num, "msg_"+m+"_response_rate")
		if i < 0 {
			return nil, fmt.Errorf("rate scorer: feature msg_%s_response_rate missing", m)
		}
		s.msgIdx[m] = i
	}
	return s, nil
}

// Version implements Scorer.
func (s *RateScorer) Version() string { return "rates/1" }

// Target implements Scorer.
func (s *RateScorer) Target() string { return "engaged_48h" }

// Priors implements Scorer.
func (s *RateScorer) Priors() *features.Priors { return s.priors }

// Score implements Scorer.
func (s *RateScorer) Score(x *Context, cands []Candidate, p []float64) error {
	// Summed in the messages' order: a map's order would change the last
	// bit from one decision to the next.
	var mean float64
	for _, m := range datasets.Messages {
		mean += x.Numeric[s.msgIdx[m]]
	}
	mean /= float64(len(s.msgIdx))
	for k := range cands {
		c := &cands[k]
		ci, ok1 := s.chIdx[c.Channel]
		mi, ok2 := s.msgIdx[c.Message]
		if !ok1 || !ok2 {
			return fmt.Errorf("rate scorer: unknown channel %q or message %q", c.Channel, c.Message)
		}
		rel := 1.0
		if mean > 0 {
			rel = x.Numeric[mi] / mean
		}
		v := x.Numeric[ci] * rel * math.Sqrt(max(c.Slot, 0))
		if math.IsNaN(v) {
			v = 0
		}
		p[k] = min(max(v, 0), 1)
	}
	return nil
}

// ModelScorer adapts a registry model (models/action) to the engine: it lays
// the features package's read-out into the model's row (by column name, so a
// model trained on any subset of the features works) and sets the action
// columns per candidate: channel, local_hour, message, and every
// action-dependent feature the model uses (features.ActionNames:
// send_slot_affinity, channel_affinity, message_affinity, ...), filled by the
// features package's own Candidates read-out, the code the batch driver uses
// for training rows.
type ModelScorer struct {
	m                      *action.Model
	priors                 *features.Priors
	numIdx                 []int // NumericNames position -> model column, -1 when absent
	catIdx                 []int // CategoricalNames position -> model column
	chCol, hourCol, msgCol int
	actCols                features.ActionColumns
	// varying are the model columns that differ between an account's
	// candidates (the action columns and the action-dependent features);
	// the others are the account's context, the same in every row.
	varying []int
	rows    sync.Pool

	// Partial evaluation (gbdt models, UseBound): the model bound to an
	// account's context once, then only the residual trees per candidate.
	g      *gbdt.Model
	free   []int     // model columns that vary between candidates
	bounds sync.Pool // *gbdt.Bound, one per goroutine at a time
}

// NewModelScorer prepares a loaded model for serving. The model must predict a
// probability (uplift models are refused).
func NewModelScorer(m *action.Model) (*ModelScorer, error) {
	if m == nil {
		return nil, errors.New("model scorer: nil model")
	}
	if m.Uplift() != nil {
		return nil, fmt.Errorf("model scorer: %s is an uplift model; serve an action-value model", m.Version)
	}
	s := &ModelScorer{m: m, priors: features.UniformPriors()}
	if len(m.Priors) > 0 && string(m.Priors) != "null" {
		p, err := features.ParsePriors(json.RawMessage(m.Priors))
		if err != nil {
			return nil, fmt.Errorf("model scorer: %s priors: %w", m.Version, err)
		}
		s.priors = p
	}
	col := func(name string) int {
		return slices.IndexFunc(m.Features, func(f models.Feature) bool { return f.Name == name })
	}
	for _, n := range features.NumericNames() {
		s.numIdx = append(s.numIdx, col(n))
	}
	for _, n := range features.CategoricalNames {
		s.catIdx = append(s.catIdx, col(n))
	}
	s.chCol, s.hourCol, s.msgCol = col("channel"), col("local_hour"), col("message")
	names := make([]string, len(m.Features))
	for i, f := range m.Features {
		names[i] = f.Name
	}
	s.actCols = features.NewActionColumns(names)
	if s.chCol < 0 && s.hourCol < 0 && s.msgCol < 0 {
		return nil, fmt.Errorf("model scorer: %s has none of the action features channel, local_hour, message", m.Version)
	}
	for _, c := range []int{s.chCol, s.hourCol, s.msgCol} {
		if c >= 0 {
			s.varying = append(s.varying, c)
		}
	}
	for _, c := range s.actCols {
		if c >= 0 && !slices.Contains(s.varying, c) {
			s.varying = append(s.varying, c)
		}
	}
	n := len(m.Features)
	s.rows.New = func() any { b := make([]float64, n); return &b }
	return s, nil
}

// Version implements Scorer.
func (s *ModelScorer) Version() string { return s.m.Version }

// Target implements Scorer.
func (s *ModelScorer) Target() string { return s.m.Target }

// Priors implements Scorer.
func (s *ModelScorer) Priors() *features.Priors { return s.priors }

// Model returns the wrapped model.
func (s *ModelScorer) Model() *action.Model { return s.m }

// level encodes a categorical value as its level index, NaN when unseen.
func (s *ModelScorer) level(col int, v string) float64 {
	if i := slices.Index(s.m.Features[col].Levels, v); i >= 0 {
		return float64(i)
	}
	return math.NaN()
}

// UseBound scores with gbdt partial evaluation (gbdt.Model.Bind): the model
// is evaluated once on the account's context and each candidate costs only
// the trees that split on action columns. g must be the family model inside
// the scorer's action.Model (serving decodes it from the same artifact).
// UseBound checks on probe rows that the bound path gives exactly
// Model.Predict's probability, and refuses otherwise, so the ranking is the
// one the plain path would give. Unless always is set it also times both
// paths and refuses (ErrBoundSlower) when partial evaluation is not faster.
func (s *ModelScorer) UseBound(g *gbdt.Model, always bool) error {
	if g == nil {
		return errors.New("use bound: nil model")
	}
	free := s.varying
	n := len(s.m.Features)
	row := make([]float64, n)
	rng := rand.New(rand.NewPCG(1, 2))
	b, err := g.Bind(row, free)
	if err != nil {
		return fmt.Errorf("use bound: %w", err)
	}
	act := make([]float64, len(free))
	for probe := 0; probe < 64; probe++ {
		for i := range row {
			row[i] = rng.NormFloat64() * 10
			if probe%4 == 0 && i%3 == 0 {
				row[i] = math.NaN()
			}
			if lv := s.m.Features[i].Levels; len(lv) > 0 {
				row[i] = float64(rng.IntN(len(lv)))
			}
		}
		if err := b.Reset(row); err != nil {
			return fmt.Errorf("use bound: %w", err)
		}
		for k, c := range free {
			act[k] = row[c]
		}
		z, err := b.Margin(act)
		if err != nil {
			return fmt.Errorf("use bound: %w", err)
		}
		want, err := s.m.Predict(row)
		if err != nil {
			return fmt.Errorf("use bound: %w", err)
		}
		if got := s.calibrated(z); got != want && !(math.IsNaN(got) && math.IsNaN(want)) {
			return fmt.Errorf("use bound: partial evaluation gives %v where the model predicts %v; not the same model", got, want)
		}
	}
	// Partial evaluation pays off when most of the model splits on context
	// columns (large production models); on a small model whose trees mostly
	// split on the action it can be slower. Time both on the probe rows with
	// 50 candidates each, shaped like an account's (10 send slots sharing
	// their numeric action values, categorical values drawn per candidate),
	// and keep the faster (the answers are identical).
	const probes, cands = 16, 50
	acts := make([][]float64, cands)
	for j := range acts {
		acts[j] = make([]float64, len(free))
		for k, c := range free {
			switch lv := s.m.Features[c].Levels; {
			case len(lv) > 0:
				acts[j][k] = float64(rng.IntN(len(lv)))
			case j%5 > 0:
				acts[j][k] = acts[j-1][k]
			case c == s.hourCol:
				acts[j][k] = float64(rng.IntN(24))
			default:
				acts[j][k] = rng.Float64() * 2
			}
		}
	}
	// Alternate the two timings a few times and keep each one's fastest
	// round: a busy machine slows rounds down, never speeds them up.
	rows, out := make([]float64, n*cands), make([]float64, cands)
	tBound, tPlain := time.Duration(math.MaxInt64), time.Duration(math.MaxInt64)
	for range 5 {
		start := time.Now()
		for probe := 0; probe < probes; probe++ {
			if err := b.Reset(row); err != nil {
				return fmt.Errorf("use bound: %w", err)
			}
			for _, a := range acts {
				z, _ := b.Margin(a)
				_ = s.calibrated(z)
			}
		}
		tBound = min(tBound, time.Since(start))
		start = time.Now()
		for probe := 0; probe < probes; probe++ {
			for j, a := range acts {
				r := rows[j*n : (j+1)*n]
				if j == 0 {
					copy(r, row)
				}
				for k, c := range free {
					r[c] = a[k]
				}
			}
			_ = s.m.PredictRowsVarying(rows, out, free)
		}
		tPlain = min(tPlain, time.Since(start))
	}
	if tBound >= tPlain && !always {
		return fmt.Errorf("%w: %s per account bound, %s plain", ErrBoundSlower, tBound/probes, tPlain/probes)
	}
	s.g, s.free = g, free
	s.bounds.Put(b)
	return nil
}

// ErrBoundSlower is UseBound's answer when partial evaluation measured slower
// than plain prediction for this model; the scorer then keeps predicting row
// by row (same answers).
var ErrBoundSlower = errors.New("partial evaluation is slower than plain prediction for this model")

// calibrated maps a margin to the model's probability exactly as
// action.Model.Predict does (UseBound verifies it).
func (s *ModelScorer) calibrated(z float64) float64 {
	cal := s.m.Calibrator()
	if cal == nil {
		if z >= 0 {
			return 1 / (1 + math.Exp(-z))
		}
		e := math.Exp(z)
		return e / (1 + e)
	}
	return cal.Calibrate(max(min(z, 700), -700))
}

// Bound reports whether the scorer uses partial evaluation.
func (s *ModelScorer) Bound() bool { return s.g != nil }

// Score implements Scorer. The account's part of the row is laid out once;
// each candidate then sets only its action columns. Without partial
// evaluation every candidate's row goes to the model in one batch
// (action.Model.PredictRowsVarying: the first row holds the context, the
// others only their action columns; the same numbers as Predict row by row).
func (s *ModelScorer) Score(x *Context, cands []Candidate, p []float64) error {
	n := len(s.m.Features)
	rp := s.rows.Get().(*[]float64)
	defer s.rows.Put(rp)
	need := n
	if s.g == nil {
		need = n * (len(cands) + 1)
	}
	if cap(*rp) < need {
		*rp = make([]float64, need)
	}
	row := (*rp)[:n]
	for i := range row {
		row[i] = math.NaN()
	}
	var cb [8]string
	for k, v := range x.Account.Categorical(cb[:0]) {
		if j := s.catIdx[k]; j >= 0 {
			row[j] = s.level(j, v)
		}
	}
	for k, v := range x.Numeric {
		if j := s.numIdx[k]; j >= 0 {
			row[j] = v
		}
	}
	var bd *gbdt.Bound
	var act []float64
	if s.g != nil {
		// The context columns are final here; Bind (or Reset) fixes them.
		if v := s.bounds.Get(); v != nil {
			bd = v.(*gbdt.Bound)
			if err := bd.Reset(row); err != nil {
				return fmt.Errorf("model %s: %w", s.m.Version, err)
			}
		} else {
			var err error
			if bd, err = s.g.Bind(row, s.free); err != nil {
				return fmt.Errorf("model %s: %w", s.m.Version, err)
			}
		}
		defer s.bounds.Put(bd)
		var ab [16]float64
		act = ab[:0]
		for range s.free {
			act = append(act, 0)
		}
	}
	var acts *features.Candidates
	if s.actCols.Any() {
		acts = x.Actions(s.priors)
	}
	var rows []float64
	if bd == nil {
		rows = (*rp)[n:need]
	}
	var chName string
	var chLevel float64
	var msgName [8]string
	var msgLevel [8]float64
	nmsg := 0
	for k := range cands {
		c := &cands[k]
		r := row
		if bd == nil {
			// Only the first row needs the context: PredictRowsVarying
			// reads the other rows' varying columns alone.
			r = rows[k*n : (k+1)*n]
			if k == 0 {
				copy(r, row)
			}
		}
		if s.chCol >= 0 {
			if k == 0 || c.Channel != chName {
				chName, chLevel = c.Channel, s.level(s.chCol, c.Channel)
			}
			r[s.chCol] = chLevel
		}
		if s.msgCol >= 0 {
			// The same few messages repeat for every slot.
			m := 0
			for m < nmsg && msgName[m] != c.Message {
				m++
			}
			if m == nmsg {
				m = min(nmsg, len(msgName)-1)
				msgName[m], msgLevel[m] = c.Message, s.level(s.msgCol, c.Message)
				nmsg = m + 1
			}
			r[s.msgCol] = msgLevel[m]
		}
		if s.hourCol >= 0 {
			r[s.hourCol] = float64(c.LocalHour)
		}
		if acts != nil {
			// Only the action features the model reads are computed.
			acts.Fill(s.actCols, c.Channel, c.SendAt.UnixMicro(), c.Message, r)
		}
		if bd != nil {
			for i, c := range s.free {
				act[i] = r[c]
			}
			z, err := bd.Margin(act)
			if err != nil {
				return fmt.Errorf("model %s: %w", s.m.Version, err)
			}
			p[k] = s.calibrated(z)
		}
	}
	if bd != nil {
		return nil
	}
	if err := s.m.PredictRowsVarying(rows, p[:len(cands)], s.varying); err != nil {
		return fmt.Errorf("model %s: %w", s.m.Version, err)
	}
	return nil
}

// ChainScorer predicts payment as engagement times conversion:
// P(pay | x, a) = P(engaged | x, a) × P(pay | engaged, x, a). Engagement is
// frequent and tied to the channel and the send hour; conversion is rarer and
// tied to the message and the kind of contact (a conversation converts
// better), so two models each see the signal they can learn, and the engine
// ranks by money (its target is Convert's, a payment target, valued at the
// whole remaining balance) instead of by engagement at a fixed value.
type ChainScorer struct {
	// Engage predicts engagement (engaged_48h) on every contact; Convert
	// predicts payment given engagement (trained on engaged contacts only).
	Engage, Convert Scorer
}

// NewChainScorer chains an engagement and a conversion scorer; both must read
// the features with the same priors.
func NewChainScorer(engage, convert Scorer) (*ChainScorer, error) {
	if engage == nil || convert == nil {
		return nil, errors.New("chain scorer: nil scorer")
	}
	if engage.Priors() != convert.Priors() {
		pe, _ := engage.Priors().JSON()
		pc, _ := convert.Priors().JSON()
		if string(pe) != string(pc) {
			return nil, fmt.Errorf("chain scorer: %s and %s read the features with different priors", engage.Version(), convert.Version())
		}
	}
	return &ChainScorer{Engage: engage, Convert: convert}, nil
}

// Version implements Scorer: both versions.
func (s *ChainScorer) Version() string { return s.Engage.Version() + "*" + s.Convert.Version() }

// Target implements Scorer: the conversion model's (payment) target.
func (s *ChainScorer) Target() string { return s.Convert.Target() }

// Priors implements Scorer.
func (s *ChainScorer) Priors() *features.Priors { return s.Engage.Priors() }

// Score implements Scorer.
func (s *ChainScorer) Score(x *Context, cands []Candidate, p []float64) error {
	if err := s.Engage.Score(x, cands, p); err != nil {
		return err
	}
	q := make([]float64, len(cands))
	if err := s.Convert.Score(x, cands, q); err != nil {
		return err
	}
	for i := range p {
		p[i] *= q[i]
	}
	return nil
}
