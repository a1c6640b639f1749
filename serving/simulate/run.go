package simulate

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/engagehq/engage/compliance"
	"github.com/engagehq/engage/datasets"
	"github.com/engagehq/engage/datasets/synth"
	"github.com/engagehq/engage/progress"
	"github.com/engagehq/engage/serving/engine"
)

// Run plays every policy on every seed and returns the report. It stops at
// the next day boundary when ctx is cancelled, returning ctx's error.
func Run(ctx context.Context, o Options) (*Report, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	fw, err := compliance.Open(compliance.DefaultOptions())
	if err != nil {
		return nil, fmt.Errorf("simulate: firewall: %w", err)
	}
	// The independent check uses its own firewall instance.
	audit, err := compliance.Open(compliance.DefaultOptions())
	if err != nil {
		return nil, fmt.Errorf("simulate: audit firewall: %w", err)
	}
	pols := o.ordered()
	steps := int64(len(o.Seeds) * len(pols) * o.Days)
	if o.OPE {
		steps += int64(len(o.Seeds) * o.Days)
	}
	bar := newBar(o.Progress, steps)
	defer bar.Close()
	rep := &Report{Options: o, Started: time.Now().UTC()}
	began := time.Now()
	for _, seed := range o.Seeds {
		w, err := newWorld(&o, seed)
		if err != nil {
			return nil, err
		}
		truth := w.Truth()
		var base *Result
		for _, pol := range pols {
			s := &sim{o: &o, seed: seed, w: w, fw: fw, audit: audit, truth: truth, policy: pol, bar: bar}
			res, err := s.play(ctx)
			if err != nil {
				return nil, fmt.Errorf("simulate seed %d policy %s: %w", seed, pol, err)
			}
			if base == nil {
				base = res
			}
			res.uplift(base, o.Bootstrap, seed)
			rep.Results = append(rep.Results, res)
			slog.Debug("simulated", "seed", seed, "policy", pol, "liquidation", res.Liquidation, "wall", res.Wall)
		}
		if o.OPE {
			s := &sim{o: &o, seed: seed, w: w, fw: fw, audit: audit, truth: truth, policy: "ope", bar: bar}
			v, err := s.validate(ctx)
			if err != nil {
				return nil, fmt.Errorf("simulate seed %d OPE validation: %w", seed, err)
			}
			rep.OPE = append(rep.OPE, v)
		}
	}
	rep.Wall = time.Since(began)
	rep.summarise()
	return rep, nil
}

func newWorld(o *Options, seed uint64) (*synth.World, error) {
	wo := synth.DefaultOptions()
	wo.Accounts, wo.Days, wo.Seed, wo.Start, wo.Tenant = o.Accounts, o.Days, seed, o.Start, o.Tenant
	wo.ReferralSpread, wo.Workers = o.ReferralSpread, o.Workers
	w, err := synth.New(wo)
	if err != nil {
		return nil, fmt.Errorf("simulate: world seed %d: %w", seed, err)
	}
	return w, nil
}

func newBar(w interface{ Write([]byte) (int, error) }, total int64) *progressbar.ProgressBar {
	return progress.New(w, total, "simulate", "days")
}

// sim is one policy played on one world.
type sim struct {
	o      *Options
	seed   uint64
	w      *synth.World
	fw     *compliance.Firewall
	audit  *compliance.Firewall
	truth  []datasets.Truth
	policy string
	bar    *progressbar.ProgressBar
	accts  []*account
	end    int64 // micros, exclusive

	decisions atomic.Int64
	dropped   atomic.Int64 // denied by the send-time re-check
	decTime   atomic.Int64 // nanoseconds spent in policy decisions (all workers)
	onContact func(a *account, c *choice, id string, evs []datasets.Event)
}

func salt(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

// setup resets the world and creates the accounts.
func (s *sim) setup() error {
	s.w.Reset()
	accts := s.w.Accounts()
	s.accts = make([]*account, len(accts))
	for i := range accts {
		a, err := newAccount(i, &accts[i], s.w.Location(i), s.seed, salt(s.policy))
		if err != nil {
			return err
		}
		if _, err := s.fw.Chain(a.row.Jurisdiction); err != nil {
			a.unknown = true
		}
		s.accts[i] = a
	}
	s.end = s.o.Start.Add(time.Duration(s.o.Days) * 24 * time.Hour).UnixMicro()
	return nil
}

// morning is the decision instant of day d for an account: 07:00 local.
func morning(start time.Time, d int, loc *time.Location) time.Time {
	y, m, dd := start.Date()
	return time.Date(y, m, dd+d, 7, 0, 0, 0, loc)
}

// days runs the day loop with dec, calling between(d) before each day d
// (retraining). It returns the wall time.
func (s *sim) days(ctx context.Context, dec decider, cadence bool, between func(d int) error) error {
	for d := range s.o.Days {
		if err := ctx.Err(); err != nil {
			return err
		}
		if between != nil {
			if err := between(d); err != nil {
				return err
			}
		}
		err := s.shards(func(i int) error {
			if err := s.step(ctx, s.accts[i], d, dec, cadence); err != nil {
				return fmt.Errorf("day %d: %w", d, err)
			}
			return nil
		})
		if err != nil {
			return err
		}
		s.bar.Add(1)
	}
	// Everything dated within the period happens; the rest stays in the future.
	for _, a := range s.accts {
		if err := a.applyUntil(s.end); err != nil {
			return err
		}
	}
	return nil
}

// shards runs fn on every account, in parallel shards of consecutive
// accounts.
func (s *sim) shards(fn func(i int) error) error {
	workers := s.o.workers()
	n := len(s.accts)
	per := (n + workers - 1) / workers
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for k := range workers {
		lo, hi := k*per, min((k+1)*per, n)
		if lo >= hi {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := lo; i < hi; i++ {
				if err := fn(i); err != nil {
					errs[k] = fmt.Errorf("account %s: %w", s.accts[i].row.ID, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// step plays one account's day: apply what happened, ask the policy, send,
// draw the day's unprompted payments.
func (s *sim) step(ctx context.Context, a *account, d int, dec decider, cadence bool) error {
	now := morning(s.o.Start, d, a.loc)
	nowUS := now.UnixMicro()
	if nowUS < a.referred {
		return nil
	}
	if err := a.applyUntil(nowUS); err != nil {
		return err
	}
	ask := !a.done && !a.unknown
	if cadence {
		ask = a.eligible(nowUS, s.o.Cadence)
	}
	if ask {
		id := a.nextDecisionID(s.policy)
		t0 := time.Now()
		c, err := dec.decide(ctx, a, now, id)
		s.decTime.Add(int64(time.Since(t0)))
		s.decisions.Add(1)
		if err != nil {
			return err
		}
		if c != nil {
			if err := s.send(a, c, now, id); err != nil {
				return err
			}
		}
	}
	a.add(s.w.Spontaneous(a.i, now, a.rng))
	return nil
}

// send re-checks the contact at its send instant (and at the latest delivery
// the world may draw) against everything that happened by then, and plays it.
func (s *sim) send(a *account, c *choice, now time.Time, id string) error {
	ch, err := compliance.ParseChannel(c.channel)
	if err != nil {
		return err
	}
	ca, led := a.viewAt(c.sendAt.Add(lateDelivery).UnixMicro())
	sub, err := s.fw.Subject(ca, led)
	if err != nil {
		return err
	}
	for _, t := range []time.Time{c.sendAt, c.sendAt.Add(lateDelivery - time.Second)} {
		ok, err := sub.Allowed(ch, t, compliance.Personal)
		if err != nil {
			return err
		}
		if !ok {
			s.dropped.Add(1)
			return nil
		}
	}
	a.notices[id] = c.notices
	evs := s.w.Outcome(a.i, synth.Action{Channel: c.channel, SendAt: c.sendAt, Message: c.message, DecisionID: id}, a.rng)
	a.add(evs)
	a.lastContact = c.sendAt.UnixMicro()
	a.decs = append(a.decs, datasets.Decision{
		Tenant: s.o.Tenant, DecisionID: id, AccountID: a.row.ID, At: now.UnixMicro(), SendAt: c.sendAt.UnixMicro(),
		Channel: c.channel, LocalHour: int32(c.hour), Message: c.message, Propensity: c.prop, Policy: c.policy, Model: c.model,
	})
	if s.onContact != nil {
		s.onContact(a, c, id, evs)
	}
	return nil
}

// play runs the sim's policy and measures it.
func (s *sim) play(ctx context.Context) (*Result, error) {
	if s.policy == PolicyModel && s.o.Remote.URL != "" {
		return s.playRemote(ctx) // http.go: through a running server
	}
	if err := s.setup(); err != nil {
		return nil, err
	}
	began := time.Now()
	var dec decider
	var between func(int) error
	cadence := true
	var tr *trainer
	switch s.policy {
	case PolicyBAU:
		dec, cadence = &bauPolicy{fw: s.fw, w: s.w}, false
	case PolicyRandom:
		dec = &randomPolicy{fw: s.fw}
	case PolicyOracle:
		dec = &oraclePolicy{fw: s.fw, truth: s.truth, cost: engine.DefaultOptions().Cost}
	case PolicyModel:
		mp, b, t, err := s.modelDecider(ctx)
		if err != nil {
			return nil, err
		}
		defer t.close()
		dec, between, tr = mp, b, t
	default:
		return nil, fmt.Errorf("unknown policy %q", s.policy)
	}
	if err := s.days(ctx, dec, cadence, between); err != nil {
		return nil, err
	}
	wall := time.Since(began)
	res := s.measure()
	res.Wall = wall
	res.DecisionsPerSec = float64(res.Decisions) / (float64(s.decTime.Load()) / 1e9 / float64(s.o.workers()))
	if tr != nil {
		res.TrainTime, res.Models = tr.spent, tr.versions
	}
	began = time.Now()
	res.Violations, res.ViolationExamples, res.Checked = s.check()
	res.CheckTime = time.Since(began)
	return res, nil
}

// modelDecider builds the model policy: the engine, the pretrained model and
// the retraining hook the day loop calls before each day. The caller closes
// the trainer.
func (s *sim) modelDecider(ctx context.Context) (*modelPolicy, func(int) error, *trainer, error) {
	eo := engine.DefaultOptions()
	eo.HoldoutShare, eo.Epsilon, eo.Seed = 0, s.o.Epsilon, s.seed
	eo.AllHours, eo.MinP = s.o.AllHours, s.o.MinP
	eng, err := engine.New(s.fw, eo)
	if err != nil {
		return nil, nil, nil, err
	}
	mp := &modelPolicy{eng: eng, tenant: s.o.Tenant}
	tr, err := newTrainer(ctx, s.o, s.seed)
	if err != nil {
		return nil, nil, nil, err
	}
	wrap := func(sc engine.Scorer) (engine.Scorer, error) {
		if sc == nil {
			return nil, nil
		}
		if tr.late != nil {
			sc = &lateScorer{Scorer: sc, factor: tr.late}
		}
		if s.o.ExploreBonus <= 0 {
			return sc, nil
		}
		return newOptimistScorer(sc, s.o.ExploreBonus)
	}
	sc, err := tr.pretrain(ctx)
	if err == nil {
		mp.scorer, err = wrap(sc)
	}
	if err != nil {
		tr.close()
		return nil, nil, nil, err
	}
	between := func(d int) error {
		if s.o.RetrainEvery <= 0 || d == 0 || d%s.o.RetrainEvery != 0 {
			return nil
		}
		sc, err := tr.retrain(ctx, s, d)
		if err != nil {
			return err
		}
		if sc == nil {
			return nil
		}
		mp.scorer, err = wrap(sc)
		return err
	}
	return mp, between, tr, nil
}

// rngFor is a fresh stream for a purpose other than the accounts' own.
func rngFor(seed uint64, purpose string) *rand.Rand {
	return rand.New(rand.NewPCG(seed, salt(purpose)))
}
