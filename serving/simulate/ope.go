package simulate

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/engagehq/engage/compliance"
	"github.com/engagehq/engage/datasets"
	"github.com/engagehq/engage/serving/engine"
	"github.com/engagehq/engage/training/ope"
)

// Validation is the off-policy check of one seed: the target policy's value
// estimated from the logger's rows against its value measured by running it.
type Validation struct {
	Seed    uint64  `json:"seed"`
	Logger  string  `json:"logger"`
	Target  string  `json:"target"`
	Reward  string  `json:"reward"`
	Epsilon float64 `json:"target_epsilon"`
	// LoggerRows and TargetRows are the contacts each side made.
	LoggerRows int `json:"logger_rows"`
	TargetRows int `json:"target_rows"`
	// Measured is the target's mean reward over its own contacts, with its
	// 95% normal interval; LoggerValue the logger's own mean reward.
	Measured    float64    `json:"measured"`
	MeasuredCI  [2]float64 `json:"measured_ci95"`
	LoggerValue float64    `json:"logger_value"`
	// Estimates are the estimators' values on the logger's rows, and
	// RelError their relative distance to Measured.
	Estimates []ope.Estimate     `json:"estimates"`
	RelError  map[string]float64 `json:"relative_error"`
	Diag      ope.Diagnostics    `json:"diagnostics"`
	Wall      time.Duration      `json:"wall_ns"`
}

// opeRow is what one contact of the validation run leaves.
type opeRow struct {
	logger bool
	w      float64 // importance weight π/μ (logger rows)
	r      float64 // reward
}

// opePolicy gives each decision, by a seeded coin on its id, to the logger
// (uniformly random permitted action) or to the target ((1−ε) oracle + ε
// random), and remembers what the estimators need.
type opePolicy struct {
	fw     *compliance.Firewall
	oracle *oraclePolicy
	eps    float64
	seed   uint64
	last   []opeRow   // per account: the row of the decision being sent
	rows   [][]opeRow // per account: rows of contacts made
}

// engaged are the event types that count as engagement (features' engaged_48h).
var engaged = map[string]bool{
	datasets.EventOpened: true, datasets.EventClicked: true, datasets.EventReplied: true,
	datasets.EventCallConversation: true, datasets.EventInboundCall: true,
}

func (p *opePolicy) decide(_ context.Context, a *account, now time.Time, id string) (*choice, error) {
	var buf [120]slot
	sub, slots, nch, err := permitted(p.fw, a, now, buf[:0])
	if err != nil || nch == 0 {
		return nil, err
	}
	coin := rngFor(p.seed, "ope-coin-"+id).Float64() < 0.5
	best := slots[p.oracle.best(a, slots)]
	bestMsg := p.oracle.truth[a.i].BestMessage
	s, msg, prop := drawRandom(slots, nch, a)
	explore := a.rng.Float64() < p.eps
	c := &choice{policy: "ope-target", prop: 1}
	row := opeRow{logger: coin}
	switch {
	case coin:
		c.policy, c.prop = "ope-logger", prop
		c.channel, c.message, c.sendAt, c.hour = datasets.ContactChannels[s.ch], datasets.Messages[msg], s.at, s.hour
		row.w = p.eps
		if s.ch == best.ch && s.hour == best.hour && datasets.Messages[msg] == bestMsg {
			row.w += (1 - p.eps) / prop
		}
	case explore:
		c.channel, c.message, c.sendAt, c.hour = datasets.ContactChannels[s.ch], datasets.Messages[msg], s.at, s.hour
	default:
		c.channel, c.message, c.sendAt, c.hour = datasets.ContactChannels[best.ch], bestMsg, best.at, best.hour
	}
	p.last[a.i] = row
	return withNotices(sub, c)
}

// contact records the reward of a contact made: an engagement within 48
// hours of its send instant.
func (p *opePolicy) contact(a *account, c *choice, _ string, evs []datasets.Event) {
	row := p.last[a.i]
	t0 := c.sendAt.UnixMicro()
	for k := range evs {
		if engaged[evs[k].Type] && evs[k].At > t0 && evs[k].At <= t0+48*3600e6 {
			row.r = 1
			break
		}
	}
	p.rows[a.i] = append(p.rows[a.i], row)
}

// validate runs the off-policy validation on the sim's world.
func (s *sim) validate(ctx context.Context) (*Validation, error) {
	if err := s.setup(); err != nil {
		return nil, err
	}
	began := time.Now()
	orc := &oraclePolicy{fw: s.fw, truth: s.truth, cost: engine.DefaultOptions().Cost}
	p := &opePolicy{fw: s.fw, oracle: orc, eps: s.o.OPEEpsilon, seed: s.seed,
		last: make([]opeRow, len(s.accts)), rows: make([][]opeRow, len(s.accts))}
	s.onContact = p.contact
	if err := s.days(ctx, p, true, nil); err != nil {
		return nil, err
	}
	v := &Validation{Seed: s.seed, Logger: "random (uniform over permitted channel x hour x message)",
		Target: fmt.Sprintf("(1-ε)·oracle + ε·random, ε = %g", s.o.OPEEpsilon), Reward: "engaged_48h of the contact", Epsilon: s.o.OPEEpsilon}
	var samples []ope.Sample
	var tSum, tSq, lSum float64
	for _, rows := range p.rows {
		for _, r := range rows {
			if r.logger {
				samples = append(samples, ope.Sample{W: r.w, R: r.r})
				lSum += r.r
				continue
			}
			v.TargetRows++
			tSum += r.r
			tSq += r.r * r.r
		}
	}
	v.LoggerRows = len(samples)
	if v.LoggerRows == 0 || v.TargetRows < 2 {
		return nil, fmt.Errorf("too few contacts (%d logged, %d target) to validate", v.LoggerRows, v.TargetRows)
	}
	n := float64(v.TargetRows)
	v.Measured = tSum / n
	se := math.Sqrt(max(tSq/n-v.Measured*v.Measured, 0) / (n - 1))
	v.MeasuredCI = [2]float64{v.Measured - 1.96*se, v.Measured + 1.96*se}
	v.LoggerValue = lSum / float64(v.LoggerRows)
	o := ope.DefaultOptions()
	rep, err := ope.EstimateSamples(samples, false, o)
	if err != nil {
		return nil, err
	}
	v.Estimates, v.Diag = rep.Estimates, rep.Diagnostics
	for k := range v.Estimates { // no bootstrap: JSON has no NaN
		if e := &v.Estimates[k]; math.IsNaN(e.Boot.Lo) || math.IsNaN(e.Boot.Hi) {
			e.Boot = e.CI
		}
	}
	v.RelError = map[string]float64{}
	for _, e := range rep.Estimates {
		if v.Measured == 0 || math.IsNaN(e.Value) {
			continue
		}
		v.RelError[e.Name] = math.Abs(e.Value-v.Measured) / v.Measured
	}
	v.Wall = time.Since(began)
	return v, nil
}
