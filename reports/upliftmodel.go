package reports

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/engagehq/engage/datasets"
)

// UpliftDesc says what an uplift model estimates, so that the model-uplift
// report can tell treated decisions from controls and fitted ones from new.
type UpliftDesc struct {
	// Name identifies the model in the report, e.g. the registry version.
	Name string
	// Method is the meta-learner, e.g. "t-learner".
	Method string
	// Treatment is the logged-decision field whose levels are the arms
	// ("message", "channel", ...); Arms are those levels, control first.
	Treatment string
	Arms      []string
	// Outcome is the logged outcome whose change the model estimates
	// ("paid_7d").
	Outcome string
	// FittedThrough is the last decision instant the model may have been
	// fitted on: decisions after it are out of sample. Zero when unknown
	// (a random split), and then every figure may be in-sample.
	FittedThrough time.Time
}

// UpliftScorer scores a tenant's logged decisions with an uplift model. It is
// declared here, by its consumer; reports/scoring implements it over a model
// registry with the features package's point-in-time driver.
type UpliftScorer interface {
	// Desc describes the model.
	Desc() UpliftDesc
	// ScoreDecisions reads src and calls emit once per logged decision with
	// its arm (an index into Desc().Arms, -1 when its treatment value is none
	// of them), its outcome (0 or 1, NaN while the outcome window is still
	// open) and, when score(d) is true, the model's effect of each
	// non-control arm (len(Arms)-1 values) computed from the decision's
	// point-in-time features; effects is nil for the others (scoring is the
	// costly part). d and effects are only valid during the call.
	ScoreDecisions(ctx context.Context, src Source, score func(d *datasets.Decision) bool,
		emit func(d *datasets.Decision, arm int, outcome float64, effects []float64) error) error
}

// scoredDecision is one logged decision as the model-uplift report keeps it;
// e is the offset of its effects in scored.eff, -1 when not scored.
type scoredDecision struct {
	at   int64
	e    int32
	acct int32
	ch   int8
	arm  int8
	y    int8 // 0, 1; -1 censored
}

// scored are a Book's decisions as one model sees them.
type scored struct {
	desc UpliftDesc
	rows []scoredDecision
	// eff holds len(Arms)-1 effects per scored row.
	eff []float64
	err error
}

// uplift returns the Book's decisions with the model's effects of those
// after its training cut-off (of all, when the cut-off is unknown), scoring
// them on first use and again when the model changes. With fitted=true it
// returns, scored, only the decisions on or before the cut-off instead (the
// in-sample fallback), also computed once.
func (b *Book) uplift(sc UpliftScorer, fitted bool) *scored {
	desc := sc.Desc()
	b.upMu.Lock()
	defer b.upMu.Unlock()
	if b.upName != desc.Name || b.up == nil {
		b.upName, b.up = desc.Name, map[bool]*scored{}
	}
	if s := b.up[fitted]; s != nil {
		return s
	}
	s := &scored{desc: desc}
	b.up[fitted] = s
	if b.src == nil {
		s.err = fmt.Errorf("the book has no source to score")
		return s
	}
	if len(desc.Arms) < 2 || len(desc.Arms) > math.MaxInt8 {
		s.err = fmt.Errorf("model %s has %d arms", desc.Name, len(desc.Arms))
		return s
	}
	idx := make(map[string]int32, len(b.accounts))
	for i, a := range b.accounts {
		idx[a.ID] = int32(i)
	}
	cut, known := desc.FittedThrough.UnixMicro(), !desc.FittedThrough.IsZero()
	score := func(d *datasets.Decision) bool { return !known || d.At > cut }
	if fitted {
		score = func(d *datasets.Decision) bool { return known && d.At <= cut }
	}
	na := len(desc.Arms) - 1
	s.err = sc.ScoreDecisions(context.Background(), b.src, score, func(d *datasets.Decision, arm int, y float64, eff []float64) error {
		i, ok := idx[d.AccountID]
		if !ok || arm < 0 || (fitted && eff == nil) {
			return nil
		}
		r := scoredDecision{at: d.At, acct: i, ch: int8(datasets.ChannelIndex(d.Channel)), arm: int8(arm), y: -1, e: -1}
		switch y {
		case 0, 1:
			r.y = int8(y)
		}
		if eff != nil {
			if len(eff) != na {
				return fmt.Errorf("model %s gave %d effects for %d arms", desc.Name, len(eff), na)
			}
			r.e = int32(len(s.eff))
			s.eff = append(s.eff, eff...)
		}
		s.rows = append(s.rows, r)
		return nil
	})
	return s
}
