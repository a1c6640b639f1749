package ope

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/engagehq/engage/datasets"
	"github.com/engagehq/engage/datasets/synth"
)

// The validation of issue 8: in the synthetic world, the off-policy estimate
// of a policy from the logs of another must land within 10% (relative) of the
// value measured by actually playing that policy against the world.

const (
	worldFirstHour = 8 // the hours the BAU policy sends in: 8..20 local
	worldHours     = 13
)

// worldCtx is what a policy may know at a decision: which channels it may use.
type worldCtx struct {
	allowed [5]bool // by position in datasets.ContactChannels
	account int
	weekend bool // the local send day is a Saturday or Sunday
}

func worldSpace(t testing.TB) *Space {
	hours := make([]float64, worldHours)
	for h := range hours {
		hours[h] = float64(worldFirstHour + h)
	}
	sp, err := NewSpace([]Part{
		{Name: "channel", Kind: datasets.KindCategorical, Levels: datasets.ContactChannels},
		{Name: "local_hour", Kind: datasets.KindNumeric, Values: hours},
		{Name: "message", Kind: datasets.KindCategorical, Levels: datasets.Messages},
	})
	if err != nil {
		t.Fatal(err)
	}
	return sp
}

// eveningEmail is the target: email (or the first allowed channel of a fixed
// order when email is not allowed) at 18:00 local with a friendly reminder,
// with ε of uniform exploration over the allowed grid.
type eveningEmail struct {
	sp  *Space
	ctx *[]worldCtx
	eps float64
}

func (p eveningEmail) Distribution(row Row, dst []ActionProb) ([]ActionProb, error) {
	c := (*p.ctx)[row.I]
	best := slices.Index(c.allowed[:], true)
	if c.allowed[0] {
		best = 0 // email
	}
	greedy := -1
	if best >= 0 {
		greedy = p.sp.Index([]int{best, 18 - worldFirstHour, 0})
	}
	return exploreAround(p.sp, c, greedy, p.eps, dst)
}

// oracle is the target that knows each debtor's hidden preferences: the best
// channel when allowed (else the first allowed), the peak local hour of the
// day type clamped to the sending hours, the best message; with ε of uniform
// exploration over the allowed grid. Truth defines this test policy only; no
// estimator sees it.
type oracle struct {
	sp    *Space
	ctx   *[]worldCtx
	truth []datasets.Truth
	eps   float64
}

func (p oracle) Distribution(row Row, dst []ActionProb) ([]ActionProb, error) {
	c := (*p.ctx)[row.I]
	tr := &p.truth[c.account]
	best := slices.Index(datasets.ContactChannels, tr.BestChannel)
	if best < 0 || !c.allowed[best] {
		best = slices.Index(c.allowed[:], true)
	}
	h := int(tr.PeakHour)
	if c.weekend {
		h = int(tr.PeakHourWeekend)
	}
	h = min(max(h, worldFirstHour), worldFirstHour+worldHours-1)
	greedy := p.sp.Index([]int{best, h - worldFirstHour, slices.Index(datasets.Messages, tr.BestMessage)})
	return exploreAround(p.sp, c, greedy, p.eps, dst)
}

// exploreAround is the ε-greedy distribution around one action over the
// allowed grid of a decision.
func exploreAround(sp *Space, c worldCtx, greedy int, eps float64, dst []ActionProb) ([]ActionProb, error) {
	dst = dst[:0]
	n := 0
	for _, ok := range c.allowed {
		if ok {
			n++
		}
	}
	if n == 0 || greedy < 0 {
		return dst, ErrNoCandidate
	}
	u := eps / float64(n*worldHours*len(datasets.Messages))
	for ch, ok := range c.allowed {
		if !ok {
			continue
		}
		for h := range worldHours {
			for m := range datasets.Messages {
				a := sp.Index([]int{ch, h, m})
				pr := u
				if a == greedy {
					pr += 1 - eps
				}
				dst = append(dst, ActionProb{a, pr})
			}
		}
	}
	return dst, nil
}

// draw samples an action from a distribution.
func drawAction(d []ActionProb, rng *rand.Rand) int {
	u := rng.Float64()
	for _, ap := range d {
		if u < ap.P {
			return ap.Action
		}
		u -= ap.P
	}
	return d[len(d)-1].Action
}

// engaged48h reports whether the contact's events include an engagement within
// 48 hours of the send: an open, a reply, an SMS click, a conversation.
func engaged48h(evs []datasets.Event, sendAt time.Time) bool {
	end := sendAt.Add(48 * time.Hour).UnixMicro()
	for _, e := range evs {
		if e.At > end {
			continue
		}
		switch e.Type {
		case datasets.EventOpened, datasets.EventReplied, datasets.EventCallConversation, datasets.EventInboundCall:
			return true
		case datasets.EventClicked:
			if e.Channel == datasets.ChannelSMS {
				return true
			}
		}
	}
	return false
}

// cellModel is a context-free reward model fitted on the log: the mean reward
// of each (channel, hour, message) cell, shrunk toward the channel's mean.
type cellModel []float64

func fitCells(sp *Space, rows []Row) cellModel {
	sum, cnt := make([]float64, sp.Len()), make([]float64, sp.Len())
	chSum, chCnt := make([]float64, 5), make([]float64, 5)
	for _, r := range rows {
		sum[r.Action] += r.Reward
		cnt[r.Action]++
		ch := sp.Level(r.Action, 0)
		chSum[ch] += r.Reward
		chCnt[ch]++
	}
	m := make(cellModel, sp.Len())
	const k = 20 // pseudo-rows of the channel mean
	for a := range m {
		ch := sp.Level(a, 0)
		prior := chSum[ch] / max(chCnt[ch], 1)
		m[a] = (sum[a] + k*prior) / (cnt[a] + k)
	}
	return m
}

func (m cellModel) Predict(_ Row, a int) (float64, error) { return m[a], nil }

// playWorld plays a policy in closed loop over the world: every day, when BAU
// would contact an account, the policy picks the action instead (pol nil plays
// BAU itself and logs its propensity). It returns one row per contact.
func playWorld(t testing.TB, w *synth.World, sp *Space, days int, pol func(ctx *[]worldCtx) Policy, seed uint64) ([]Row, []worldCtx) {
	w.Reset()
	var rows []Row
	var ctxs []worldCtx
	var p Policy
	if pol != nil {
		p = pol(&ctxs)
	}
	start := w.Options().Start
	var dist []ActionProb
	for i := range w.Len() {
		rng := rand.New(rand.NewPCG(seed, uint64(i)))
		acct := &w.Accounts()[i]
		loc := w.Location(i)
		for d := range days {
			day := start.AddDate(0, 0, d).Add(12 * time.Hour)
			act, prop, ok := w.BAU(i, day, rng)
			if ok {
				var c worldCtx
				st := w.Status(i)
				for ch, name := range datasets.ContactChannels {
					c.allowed[ch] = acct.Consent(name) && !slices.Contains(st.OptedOut, name)
				}
				lt := act.SendAt.In(loc)
				c.account, c.weekend = i, lt.Weekday() == time.Saturday || lt.Weekday() == time.Sunday
				row := Row{I: len(rows), Propensity: prop}
				ctxs = append(ctxs, c)
				if p != nil {
					var err error
					if dist, err = p.Distribution(row, dist); err != nil {
						t.Fatal(err)
					}
					a := drawAction(dist, rng)
					act.Channel = sp.Parts[0].Levels[sp.Level(a, 0)]
					act.Message = sp.Parts[2].Levels[sp.Level(a, 2)]
					h := int(sp.Value(a, 1))
					act.SendAt = time.Date(lt.Year(), lt.Month(), lt.Day(), h, 0, 0, 0, loc).UTC()
					row.Action = a
				} else {
					ch := slices.Index(datasets.ContactChannels, act.Channel)
					m := slices.Index(datasets.Messages, act.Message)
					row.Action = sp.Index([]int{ch, lt.Hour() - worldFirstHour, m})
					if row.Action < 0 || !c.allowed[ch] {
						t.Fatalf("BAU action %+v outside the grid or not allowed", act)
					}
				}
				evs := w.Outcome(i, act, rng)
				if engaged48h(evs, act.SendAt) {
					row.Reward = 1
				}
				rows = append(rows, row)
			}
			w.Spontaneous(i, day, rng)
		}
	}
	return rows, ctxs
}

func TestWorldValidation(t *testing.T) {
	accounts, days := 20000, 90
	if envSlow {
		accounts = 60000
	}
	o := synth.DefaultOptions()
	o.Accounts, o.Days, o.Seed = accounts, days, 8
	// The logging policy explores every part uniformly, so the targets'
	// actions all have propensities they can be weighted by.
	o.EpsilonChannel, o.EpsilonHour, o.EpsilonMessage = 1, 1, 1
	w, err := synth.New(o)
	if err != nil {
		t.Fatal(err)
	}
	sp := worldSpace(t)
	truth := w.Truth()
	logged, ctxs := playWorld(t, w, sp, days, nil, 1)
	var onPolicy float64
	for _, r := range logged {
		onPolicy += r.Reward
	}
	onPolicy /= float64(len(logged))
	t.Logf("logging policy (uniform BAU): %d decisions, engagement within 48h %.4f", len(logged), onPolicy)
	q := fitCells(sp, logged)
	targets := []struct {
		name string
		pol  func(ctx *[]worldCtx) Policy
	}{
		{"evening email ε=0.5", func(ctx *[]worldCtx) Policy { return eveningEmail{sp, ctx, 0.5} }},
		{"oracle ε=0.3", func(ctx *[]worldCtx) Policy { return oracle{sp, ctx, truth, 0.3} }},
		{"oracle ε=0.1", func(ctx *[]worldCtx) Policy { return oracle{sp, ctx, truth, 0.1} }},
	}
	for k, tg := range targets {
		est, err := Evaluate(context.Background(), logged, q, DefaultOptions(), nil, tg.pol(&ctxs))
		if err != nil {
			t.Fatal(err)
		}
		played, _ := playWorld(t, w, sp, days, tg.pol, uint64(100+k))
		var value float64
		for _, r := range played {
			value += r.Reward
		}
		value /= float64(len(played))
		rep := est.Reports[0]
		t.Logf("%s: played %d decisions, value %.4f ± %.4f (1.96 se); ESS %.0f, max weight %.0f, mean weight %.3f",
			tg.name, len(played), value, 1.96*math.Sqrt(value*(1-value)/float64(len(played))), rep.ESS, rep.MaxWeight, rep.MeanWeight)
		for _, name := range []string{IPS, SNIPS, DR} {
			e, _ := rep.Get(name)
			rel := (e.Value - value) / value
			t.Logf("  %-5s %.4f  95%% CI [%.4f, %.4f] (±%.1f%%)  relative error %+.1f%%", name, e.Value, e.CI.Lo, e.CI.Hi, 100*(e.CI.Hi-e.Value)/value, 100*rel)
			if math.Abs(rel) > 0.10 {
				t.Errorf("%s: %s estimate %.4f is %.1f%% from the played value %.4f (limit 10%%)", tg.name, name, e.Value, 100*rel, value)
			}
		}
		if math.Abs(value-onPolicy) < 0.1*value {
			t.Errorf("%s: value %.4f too close to the logging value %.4f for the test to tell OPE from the on-policy mean", tg.name, value, onPolicy)
		}
	}
}
