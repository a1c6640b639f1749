package ope

import (
	"context"
	"errors"
	"fmt"

	"github.com/engagehq/engage/models"
)

// ModelSpec names a model for a comparison: Name labels it in reports (e.g. a
// registry version), Model and Features score rows.
type ModelSpec struct {
	Name     string
	Model    Model
	Features []models.Feature
}

// CompareOptions configure CompareModels.
type CompareOptions struct {
	// Epsilon is the exploration of both greedy policies.
	Epsilon float64
	// Estimate configures the estimators.
	Estimate Options
	// Scorer configures the model scorers.
	Scorer ScorerOptions
	// Progress, when not nil, receives rows done (safe for concurrent use).
	Progress func(int)
}

// Comparison is a candidate and a baseline evaluated on the same log.
type Comparison struct {
	// Names label the candidate and the baseline.
	Names [2]string
	// Reports are the candidate's and the baseline's.
	Reports [2]Report
	// Diff is the paired estimate of candidate − baseline (DR with a reward
	// model, IPS without).
	Diff Estimate
}

// CompareModels evaluates the ε-greedy policy of the candidate model against
// the ε-greedy policy of the baseline model (or, when base is nil, against
// the logging policy itself, whose value is the mean observed reward) on the
// log. reward, when not nil, is the reward model of DM and DR for both; the
// same reward model for both policies keeps the comparison fair. A spec whose
// Model is the same value as reward's shares its scores.
func CompareModels(ctx context.Context, log *Log, cand, base, reward *ModelSpec, o CompareOptions) (*Comparison, error) {
	if log == nil || cand == nil {
		return nil, errors.New("compare: a log and a candidate are required")
	}
	var scorers []*ModelScorer
	scorer := func(s *ModelSpec) (*ModelScorer, error) {
		for _, sc := range scorers {
			if sameModel(sc.m, s.Model) {
				return sc, nil
			}
		}
		sc, err := NewModelScorer(s.Model, s.Features, log, o.Scorer)
		if err != nil {
			return nil, fmt.Errorf("model %s: %w", s.Name, err)
		}
		scorers = append(scorers, sc)
		return sc, nil
	}
	var q RewardModel
	if reward != nil {
		sc, err := scorer(reward)
		if err != nil {
			return nil, err
		}
		q = sc
	}
	policy := func(s *ModelSpec) (Policy, error) {
		sc, err := scorer(s)
		if err != nil {
			return nil, err
		}
		return NewGreedy(sc, log.Space.Len(), o.Epsilon)
	}
	pc, err := policy(cand)
	if err != nil {
		return nil, err
	}
	pols := []Policy{pc}
	cmp := &Comparison{Names: [2]string{cand.Name, "logging policy"}}
	if base != nil {
		pb, err := policy(base)
		if err != nil {
			return nil, err
		}
		pols = append(pols, pb)
		cmp.Names[1] = base.Name
	}
	res, err := Evaluate(ctx, log.Rows, q, o.Estimate, o.Progress, pols...)
	if err != nil {
		return nil, err
	}
	cmp.Reports[0] = res.Reports[0]
	baseSamples := LoggingSamples(log.Rows)
	if base != nil {
		cmp.Reports[1] = res.Reports[1]
		baseSamples = res.Samples[1]
	} else {
		// The logging policy: every estimator is the observed mean reward.
		if cmp.Reports[1], err = EstimateSamples(baseSamples, q != nil, o.Estimate); err != nil {
			return nil, err
		}
	}
	name := DR
	if q == nil {
		name = IPS
	}
	if cmp.Diff, err = Difference(res.Samples[0], baseSamples, name, o.Estimate); err != nil {
		return nil, err
	}
	return cmp, nil
}

// sameModel compares two models without panicking on incomparable types.
func sameModel(a, b Model) (same bool) {
	defer func() {
		if recover() != nil {
			same = false
		}
	}()
	return a == b
}
