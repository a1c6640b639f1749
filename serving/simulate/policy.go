package simulate

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/engagehq/engage/compliance"
	"github.com/engagehq/engage/datasets"
	"github.com/engagehq/engage/datasets/synth"
	"github.com/engagehq/engage/serving/engine"
)

// choice is one contact a policy decided to make.
type choice struct {
	channel, message string
	sendAt           time.Time
	hour             int // local hour of sendAt
	prop             float64
	policy           string // logged policy
	model            string
	notices          []string
}

// decider is a policy as the day loop asks it; it returns nil for no contact.
// Calls for one account never overlap; calls for different accounts do.
type decider interface {
	decide(ctx context.Context, a *account, now time.Time, id string) (*choice, error)
}

// slot is one permitted (channel, send instant) in the next 24 hours.
type slot struct {
	ch   int // position in datasets.ContactChannels
	at   time.Time
	hour int
}

var contactChannels = func() []compliance.Channel {
	out := make([]compliance.Channel, len(datasets.ContactChannels))
	for i, c := range datasets.ContactChannels {
		ch, err := compliance.ParseChannel(c)
		if err != nil {
			panic("simulate: datasets contact channel unknown to compliance: " + c)
		}
		out[i] = ch
	}
	return out
}()

// permitted lists the whole local hours of the next 24 hours at which the
// firewall allows each channel (the action space of random and oracle), and
// how many channels have at least one, with the account's firewall Subject
// for the notices of the chosen contact.
func permitted(fw *compliance.Firewall, a *account, now time.Time, buf []slot) (*compliance.Subject, []slot, int, error) {
	sub, err := fw.Subject(a.ca, a.ledger)
	if err != nil {
		return nil, nil, 0, err
	}
	buf = buf[:0]
	nch := 0
	for c, ch := range contactChannels {
		first, ok, err := sub.Earliest(ch, now, compliance.Personal, 24*time.Hour)
		if err != nil {
			return nil, nil, 0, err
		}
		if !ok {
			continue
		}
		n := len(buf)
		for k := 1; k <= 24; k++ {
			t := now.Add(time.Duration(k) * time.Hour)
			if t.Before(first) {
				continue
			}
			ok, err := sub.Allowed(ch, t, compliance.Personal)
			if err != nil {
				return nil, nil, 0, err
			}
			if ok {
				buf = append(buf, slot{ch: c, at: t, hour: a.fa.HourOfWeek(t.UnixMicro()) % 24})
			}
		}
		if len(buf) > n {
			nch++
		}
	}
	return sub, buf, nch, nil
}

// drawRandom draws a channel uniformly among those with a permitted hour, one
// of its hours uniformly and a message uniformly; it returns the slot, the
// message and the exact probability of the draw.
func drawRandom(slots []slot, nch int, a *account) (slot, int, float64) {
	k := a.rng.IntN(nch)
	lo := 0
	for lo < len(slots) {
		hi := lo
		for hi < len(slots) && slots[hi].ch == slots[lo].ch {
			hi++
		}
		if k == 0 {
			j := lo + a.rng.IntN(hi-lo)
			msg := a.rng.IntN(len(datasets.Messages))
			return slots[j], msg, 1 / float64(nch) / float64(hi-lo) / float64(len(datasets.Messages))
		}
		k--
		lo = hi
	}
	panic("unreachable: nch counts the channel groups of slots")
}

// randomPolicy is the uniformly random permitted action.
type randomPolicy struct{ fw *compliance.Firewall }

func (p *randomPolicy) decide(_ context.Context, a *account, now time.Time, _ string) (*choice, error) {
	var buf [120]slot
	sub, slots, nch, err := permitted(p.fw, a, now, buf[:0])
	if err != nil || nch == 0 {
		return nil, err
	}
	s, msg, prop := drawRandom(slots, nch, a)
	return withNotices(sub, &choice{channel: datasets.ContactChannels[s.ch], message: datasets.Messages[msg], sendAt: s.at, hour: s.hour, prop: prop, policy: PolicyRandom})
}

// withNotices adds the notices the firewall says the contact must carry.
func withNotices(sub *compliance.Subject, c *choice) (*choice, error) {
	ch, _ := compliance.ParseChannel(c.channel)
	d, err := sub.Check(compliance.Contact{Channel: ch, At: c.sendAt})
	if err != nil {
		return nil, err
	}
	for _, n := range d.Notices {
		c.notices = append(c.notices, n.ID)
	}
	return c, nil
}

// oraclePolicy knows the hidden preferences.
type oraclePolicy struct {
	fw    *compliance.Firewall
	truth []datasets.Truth
	cost  map[string]float64
}

// staleShare is the share of a message's pull that survives until the
// debtor's next active period (synth's behaviour model).
var staleShare = [...]float64{0.8, 0.6, 0, 0.5, 0} // email, sms, call, push, letter

// activity is synth's activity curve with the population's mean spread (the
// per-debtor spread is not part of Truth).
func activity(h, peak int) float64 {
	const sigma = 1.35
	d := math.Abs(float64(h - peak))
	d = min(d, 24-d)
	return 0.02 + 0.93*math.Exp(-0.5*(d/sigma)*(d/sigma))
}

// value is the truth's expected value of a contact on slot s.
func (p *oraclePolicy) value(t *datasets.Truth, a *account, s slot, left float64) float64 {
	aff := [...]float64{t.AffinityEmail, t.AffinitySMS, t.AffinityCall, t.AffinityPush, t.AffinityLetter}[s.ch]
	peak := int(t.PeakHour)
	wd := s.at.In(a.loc).Weekday()
	if wd == time.Saturday || wd == time.Sunday {
		peak = int(t.PeakHourWeekend)
	}
	act := activity(s.hour, peak)
	var pe float64
	switch datasets.ContactChannels[s.ch] {
	case datasets.ChannelCall:
		pe = aff * (0.3 + 0.7*act) * 1.5 // answered: a conversation converts 1.5x
	case datasets.ChannelLetter:
		pe = aff * 1.5 // answered by a call-back
	default:
		pe = aff * (act + (1-act)*0.9*staleShare[s.ch])
	}
	return pe*left - p.cost[datasets.ContactChannels[s.ch]]
}

// best returns the oracle's argmax slot among slots.
func (p *oraclePolicy) best(a *account, slots []slot) int {
	t := &p.truth[a.i]
	left := float64(max(a.row.Balance-a.paid, 0))
	bi, bv := -1, math.Inf(-1)
	for k, s := range slots {
		if v := p.value(t, a, s, left); v > bv {
			bi, bv = k, v
		}
	}
	return bi
}

func (p *oraclePolicy) decide(_ context.Context, a *account, now time.Time, _ string) (*choice, error) {
	var buf [120]slot
	sub, slots, nch, err := permitted(p.fw, a, now, buf[:0])
	if err != nil || nch == 0 {
		return nil, err
	}
	s := slots[p.best(a, slots)]
	return withNotices(sub, &choice{channel: datasets.ContactChannels[s.ch], message: p.truth[a.i].BestMessage, sendAt: s.at, hour: s.hour, prop: 1, policy: PolicyOracle})
}

// bauPolicy is synth's business-as-usual schedule through the firewall.
type bauPolicy struct {
	fw *compliance.Firewall
	w  *synth.World
}

func (p *bauPolicy) decide(_ context.Context, a *account, now time.Time, _ string) (*choice, error) {
	act, prop, ok := p.w.BAU(a.i, now, a.rng)
	if !ok {
		return nil, nil
	}
	ch, err := compliance.ParseChannel(act.Channel)
	if err != nil {
		return nil, fmt.Errorf("bau channel %q: %w", act.Channel, err)
	}
	sub, err := p.fw.Subject(a.ca, a.ledger)
	if err != nil {
		return nil, err
	}
	at := act.SendAt
	if at.Before(now) {
		at = now
	}
	t, ok, err := sub.Earliest(ch, at, compliance.Personal, 24*time.Hour)
	if err != nil || !ok {
		return nil, err
	}
	return withNotices(sub, &choice{channel: act.Channel, message: act.Message, sendAt: t, hour: a.fa.HourOfWeek(t.UnixMicro()) % 24, prop: prop, policy: PolicyBAU})
}

// modelPolicy is the decision engine with the promoted model.
type modelPolicy struct {
	eng    *engine.Engine
	scorer engine.Scorer // swapped between days only
	tenant string
}

func (p *modelPolicy) decide(ctx context.Context, a *account, now time.Time, id string) (*choice, error) {
	in := &engine.Input{Tenant: p.tenant, DecisionID: id, Now: now, Account: a.fa, State: a.st, Compliance: a.ca, Ledger: a.ledger}
	d, err := p.eng.Decide(ctx, in, p.scorer, "no model promoted yet")
	if err != nil {
		return nil, err
	}
	if d.Outcome != engine.OutcomeContact || d.Action == nil {
		return nil, nil
	}
	c := &choice{channel: d.Action.Channel, message: d.Action.Message, sendAt: d.Action.SendAt, hour: d.Action.LocalHour,
		prop: d.Propensity, policy: d.Policy, model: d.ModelVersion}
	for _, n := range d.Compliance.Notices {
		c.notices = append(c.notices, n.ID)
	}
	return c, nil
}
