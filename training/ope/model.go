package ope

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"

	"github.com/engagehq/engage/datasets"
	"github.com/engagehq/engage/models"
	"github.com/engagehq/engage/training"
)

// Model is what ModelScorer needs of a trained action-value model: a score for
// one encoded row in the order of its features. *action.Model satisfies it.
type Model interface {
	Predict(row []float64) (float64, error)
}

// ScorerOptions are the engage conventions ModelScorer applies to a logged
// table built by the features package.
type ScorerOptions struct {
	// ConsentPart names the categorical action part whose levels are contact
	// channels. A channel c is a candidate on a row only when the row's
	// consent_<c> column (if the table has one) is 1 and its <c>_opted_out
	// column (if any) is not 1, as the logging policy and the firewall
	// require. "" disables the rule.
	ConsentPart string
	// SlotFeature is the model feature holding the debtor's affinity to the
	// send slot (features.SlotName). It depends on the action, and the table
	// only holds it for the logged slot, so for a candidate hour h it is
	// approximated as logged × profile(h)/profile(logged hour), with the
	// hour-of-day profile columns of ProfileFormat: exact for the logged hour,
	// and exact for others when the debtor's hour-of-week profile separates
	// into day × hour. "" disables the feature (it is then the logged value).
	SlotFeature string
	// HourPart is the numeric action part holding the local send hour.
	HourPart string
	// ProfileFormat formats the hour-of-day profile column of an hour.
	ProfileFormat string
	// Allowed, when not nil, further filters the candidate actions of a row.
	Allowed func(row Row, a int) bool
}

// DefaultScorerOptions follow the features package's column names.
func DefaultScorerOptions() ScorerOptions {
	return ScorerOptions{
		ConsentPart:   "channel",
		SlotFeature:   "send_slot_affinity",
		HourPart:      "local_hour",
		ProfileFormat: "profile_hour_%02d",
	}
}

// ModelScorer scores every action of a log's space with a model, by encoding
// the row's context once and overwriting the model's action features per
// candidate. It is a Scorer (for Greedy) and a RewardModel (for DM and DR),
// bound to one log's table, and safe for concurrent use.
type ModelScorer struct {
	m     Model
	feats []models.Feature
	log   *Log
	o     ScorerOptions

	enc    *training.Encoder // the logged table's rows in the model's feature order
	parts  []partFeat        // per action part
	gate   []gateCols        // per level of the consent part
	gateP  int               // index of the consent part, -1 none
	slotF  int               // feature index of the slot affinity, -1 none
	hourP  int               // action part of the hour, -1 none
	prof   map[int]int       // hour → profile column
	pool   sync.Pool
	nFeats int
}

type partFeat struct {
	feat  int       // model feature index, -1 when the model ignores the part
	codes []float64 // encoded value per level
}

type gateCols struct{ consent, optout int }

// NewModelScorer prepares the encoding of log's table for a model with the
// given features (in its row order). A model feature missing from the table is
// an error naming it; an action part the model does not use is ignored by it.
func NewModelScorer(m Model, feats []models.Feature, log *Log, o ScorerOptions) (*ModelScorer, error) {
	if m == nil || log == nil {
		return nil, errors.New("model scorer: nil model or log")
	}
	t := log.Table
	s := &ModelScorer{m: m, feats: feats, log: log, o: o, nFeats: len(feats),
		gateP: -1, slotF: -1, hourP: -1}
	partIdx := func(name string) int {
		return slices.IndexFunc(log.Space.Parts, func(p Part) bool { return p.Name == name })
	}
	enc, err := training.NewEncoder(feats, t.Columns)
	if err != nil {
		return nil, fmt.Errorf("model scorer: %w", err)
	}
	s.enc = enc
	s.parts = make([]partFeat, len(log.Space.Parts))
	for p, part := range log.Space.Parts {
		pf := partFeat{feat: slices.IndexFunc(feats, func(f models.Feature) bool { return f.Name == part.Name })}
		if pf.feat >= 0 {
			f := feats[pf.feat]
			if part.Kind == datasets.KindCategorical {
				if f.Kind != models.Categorical {
					return nil, fmt.Errorf("action part %q is categorical, the model feature is %v", part.Name, f.Kind)
				}
				for _, lv := range part.Levels {
					v, ok := s.enc.Code(pf.feat, lv)
					if !ok {
						v = math.NaN() // a level the model never saw is missing
					}
					pf.codes = append(pf.codes, v)
				}
			} else {
				if f.Kind != models.Numeric {
					return nil, fmt.Errorf("action part %q is numeric, the model feature is %v", part.Name, f.Kind)
				}
				pf.codes = slices.Clone(part.Values)
			}
		}
		s.parts[p] = pf
	}
	if o.ConsentPart != "" {
		if p := partIdx(o.ConsentPart); p >= 0 && log.Space.Parts[p].Kind == datasets.KindCategorical {
			s.gateP = p
			for _, lv := range log.Space.Parts[p].Levels {
				s.gate = append(s.gate, gateCols{numCol(t, "consent_"+lv), numCol(t, lv+"_opted_out")})
			}
		}
	}
	if o.SlotFeature != "" && o.HourPart != "" && o.ProfileFormat != "" {
		s.slotF = slices.IndexFunc(feats, func(f models.Feature) bool { return f.Name == o.SlotFeature })
		s.hourP = partIdx(o.HourPart)
		if s.slotF >= 0 && s.hourP >= 0 && log.Space.Parts[s.hourP].Kind == datasets.KindNumeric {
			s.prof = map[int]int{}
			for h := 0; h < 24; h++ {
				if k := numCol(t, fmt.Sprintf(o.ProfileFormat, h)); k >= 0 {
					s.prof[h] = k
				}
			}
		} else {
			s.slotF = -1
		}
	}
	s.pool.New = func() any { v := make([]float64, len(feats)); return &v }
	return s, nil
}

func numCol(t *datasets.Table, name string) int {
	k := t.Index(name)
	if k < 0 || t.Floats[k] == nil {
		return -1
	}
	return k
}

// Len is the number of actions scored per row.
func (s *ModelScorer) Len() int { return s.log.Space.Len() }

// encode writes the row's context into dst.
func (s *ModelScorer) encode(row Row, dst []float64) error {
	if row.Table != s.log.Table {
		return errors.New("model scorer: row from another table than the scorer's log")
	}
	if err := s.enc.Row(row.Table, row.I, dst); err != nil {
		return fmt.Errorf("model scorer: %w", err)
	}
	return nil
}

// allowed applies the consent rule and Options.Allowed.
func (s *ModelScorer) allowed(row Row, a int) bool {
	if s.gateP >= 0 {
		g := s.gate[s.log.Space.Level(a, s.gateP)]
		t := row.Table
		if g.consent >= 0 && !(t.Floats[g.consent][row.I] > 0.5) {
			return false
		}
		if g.optout >= 0 && t.Floats[g.optout][row.I] > 0.5 {
			return false
		}
	}
	return s.o.Allowed == nil || s.o.Allowed(row, a)
}

// setAction writes action a's parts (and its slot affinity) into x, a row
// holding the encoded context.
func (s *ModelScorer) setAction(row Row, a int, x []float64, slot0 float64, p0 float64) {
	sp := s.log.Space
	for p, pf := range s.parts {
		if pf.feat >= 0 {
			x[pf.feat] = pf.codes[sp.Level(a, p)]
		}
	}
	if s.slotF >= 0 {
		x[s.slotF] = s.slotAt(row, sp.Value(a, s.hourP), slot0, p0)
	}
}

// slotAt approximates the slot affinity at hour h from the logged one.
func (s *ModelScorer) slotAt(row Row, h, slot0, p0 float64) float64 {
	if math.IsNaN(slot0) || math.IsNaN(p0) || p0 <= 0 {
		return slot0
	}
	hi := int(h)
	k, ok := s.prof[hi]
	if !ok || float64(hi) != h {
		return math.NaN()
	}
	return slot0 * row.Table.Floats[k][row.I] / p0
}

// loggedSlot returns the row's logged slot affinity and the profile at the
// logged hour (NaN when unavailable).
func (s *ModelScorer) loggedSlot(row Row, x []float64) (slot0, p0 float64) {
	if s.slotF < 0 {
		return math.NaN(), math.NaN()
	}
	slot0 = x[s.slotF]
	h := s.log.Space.Value(row.Action, s.hourP)
	k, ok := s.prof[int(h)]
	if !ok || float64(int(h)) != h {
		return slot0, math.NaN()
	}
	return slot0, row.Table.Floats[k][row.I]
}

// Scores implements Scorer: the model's score of every allowed action, NaN
// for the others.
func (s *ModelScorer) Scores(row Row, dst []float64) error {
	if len(dst) != s.Len() {
		return fmt.Errorf("model scorer: %d scores for %d actions", len(dst), s.Len())
	}
	xp := s.pool.Get().(*[]float64)
	defer s.pool.Put(xp)
	x := *xp
	if err := s.encode(row, x); err != nil {
		return err
	}
	slot0, p0 := s.loggedSlot(row, x)
	for a := range dst {
		if !s.allowed(row, a) {
			dst[a] = math.NaN()
			continue
		}
		s.setAction(row, a, x, slot0, p0)
		v, err := s.m.Predict(x)
		if err != nil {
			return fmt.Errorf("row %d, action %s: %w", row.I, s.log.Space.Format(a), err)
		}
		if math.IsNaN(v) {
			return fmt.Errorf("row %d, action %s: model score is NaN", row.I, s.log.Space.Format(a))
		}
		dst[a] = v
	}
	return nil
}

// Predict implements RewardModel for one action (allowed or not).
func (s *ModelScorer) Predict(row Row, a int) (float64, error) {
	if a < 0 || a >= s.Len() {
		return math.NaN(), fmt.Errorf("action %d outside the space", a)
	}
	xp := s.pool.Get().(*[]float64)
	defer s.pool.Put(xp)
	x := *xp
	if err := s.encode(row, x); err != nil {
		return math.NaN(), err
	}
	slot0, p0 := s.loggedSlot(row, x)
	s.setAction(row, a, x, slot0, p0)
	return s.m.Predict(x)
}
