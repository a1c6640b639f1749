package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"

	"github.com/engagehq/engage/datasets"
	"github.com/engagehq/engage/features"
	"github.com/engagehq/engage/models"
	"github.com/engagehq/engage/models/action"
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
	var mean float64
	for _, i := range s.msgIdx {
		mean += x.Numeric[i]
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
// columns channel, local_hour, message and send_slot_affinity per candidate.
type ModelScorer struct {
	m                               *action.Model
	priors                          *features.Priors
	numIdx                          []int // NumericNames position -> model column, -1 when absent
	catIdx                          []int // CategoricalNames position -> model column
	chCol, hourCol, msgCol, slotCol int
	rows                            sync.Pool
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
	s.chCol, s.hourCol, s.msgCol, s.slotCol = col("channel"), col("local_hour"), col("message"), col(features.SlotName)
	if s.chCol < 0 && s.hourCol < 0 && s.msgCol < 0 {
		return nil, fmt.Errorf("model scorer: %s has none of the action features channel, local_hour, message", m.Version)
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

// Score implements Scorer.
func (s *ModelScorer) Score(x *Context, cands []Candidate, p []float64) error {
	rp := s.rows.Get().(*[]float64)
	defer s.rows.Put(rp)
	row := *rp
	for i := range row {
		row[i] = math.NaN()
	}
	cats := x.Account.Categorical(make([]string, 0, len(features.CategoricalNames)))
	for k, v := range cats {
		if j := s.catIdx[k]; j >= 0 {
			row[j] = s.level(j, v)
		}
	}
	for k, v := range x.Numeric {
		if j := s.numIdx[k]; j >= 0 {
			row[j] = v
		}
	}
	for k := range cands {
		c := &cands[k]
		if s.chCol >= 0 {
			row[s.chCol] = s.level(s.chCol, c.Channel)
		}
		if s.msgCol >= 0 {
			row[s.msgCol] = s.level(s.msgCol, c.Message)
		}
		if s.hourCol >= 0 {
			row[s.hourCol] = float64(c.LocalHour)
		}
		if s.slotCol >= 0 {
			row[s.slotCol] = c.Slot
		}
		v, err := s.m.Predict(row)
		if err != nil {
			return fmt.Errorf("model %s: %w", s.m.Version, err)
		}
		p[k] = v
	}
	return nil
}
