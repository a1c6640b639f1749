package engine

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/engagehq/engage/compliance"
	"github.com/engagehq/engage/datasets"
	"github.com/engagehq/engage/features"
)

// Outcomes of a decision.
const (
	// OutcomeContact: send Decision.Action.
	OutcomeContact = "contact"
	// OutcomeWait: no channel is permitted within the slot window; ask again at
	// Decision.WaitUntil.
	OutcomeWait = "wait"
	// OutcomeNoContact: nothing may (or should) be sent within the horizon.
	OutcomeNoContact = "no_contact"
)

// Policies recorded on decisions; they match datasets' policy vocabulary so
// reports read them unchanged.
const (
	PolicyModel   = datasets.PolicyModel
	PolicyBAU     = datasets.PolicyBAU
	PolicyHoldout = datasets.PolicyHoldout
)

// Options are the engine's knobs. Start from DefaultOptions.
type Options struct {
	// HoldoutShare is the share of accounts (by a stable hash) on the BAU policy.
	HoldoutShare float64
	// Epsilon is the share of model decisions that explore uniformly.
	Epsilon float64
	// Horizon bounds the firewall's search for a permitted instant; an account
	// with none within it gets "no contact".
	Horizon time.Duration
	// SlotWindow is how far ahead of a channel's first permitted instant send
	// slots are considered; when every channel opens later than now+SlotWindow
	// the answer is "wait until".
	SlotWindow time.Duration
	// SlotsPerChannel is how many send slots per channel are scored (each with
	// every message), best hours of the debtor's profile first. Ignored when
	// AllHours is set.
	SlotsPerChannel int
	// AllHours makes every permitted whole local hour of the slot window a send
	// slot of each open channel (about 24 per channel instead of
	// SlotsPerChannel), so the model, not the hour profile alone, picks the
	// hour. The argmax is found by coordinate search, to keep scoring cheap:
	// every (channel, slot) is scored with ReferenceMessage, then every
	// message of the Shortlist best (channel, slot) pairs; exploration still
	// draws uniformly over the whole candidate set, so propensities stay
	// exact.
	AllHours bool
	// Shortlist is how many (channel, slot) pairs the coordinate search
	// scores with every message (AllHours only).
	Shortlist int
	// ReferenceMessage is the message the first stage of the coordinate
	// search scores every (channel, slot) with; empty means BAUMessage.
	ReferenceMessage string
	// MinP is the value threshold: when the best candidate's probability of
	// the scorer's target is below it, the decision is "no contact" (a contact
	// that will very likely be ignored only adds contact pressure, fatigue and
	// complaint risk). 0 disables it.
	MinP float64
	// MinEV is a second threshold, in minor units: no contact when the best
	// expected value is below it. 0 disables it (EV already nets out the
	// channel cost and the complaint cost).
	MinEV float64
	// Channels and Messages are the candidate channels and message variants.
	Channels []string
	Messages []string
	// Cost is the cost of one contact per channel, in minor units.
	Cost map[string]float64
	// ComplaintRate is the probability that a contact on a channel draws a
	// complaint, and ComplaintCost what a complaint costs, in minor units.
	ComplaintRate map[string]float64
	ComplaintCost float64
	// EngagementValue is the share of the remaining balance an engagement is
	// worth, used when the model predicts engagement rather than payment.
	EngagementValue float64
	// StaleAfter marks features stale when the latest event folded into them is
	// older than this at decision time.
	StaleAfter time.Duration
	// Top is how many runner-up actions a decision lists.
	Top int
	// BAUMessage is the message of the business-as-usual action.
	BAUMessage string
	// Seed seeds the exploration draws (with the decision id).
	Seed uint64
}

// DefaultOptions: 10% holdout, 5% exploration, 2 slots per channel over the next
// 24 hours, a 14-day horizon, costs of a typical collections operation (cents).
func DefaultOptions() Options {
	return Options{
		HoldoutShare:    0.10,
		Epsilon:         0.05,
		Horizon:         14 * 24 * time.Hour,
		SlotWindow:      24 * time.Hour,
		SlotsPerChannel: 2,
		Shortlist:       3,
		Channels:        slices.Clone(datasets.ContactChannels),
		Messages:        slices.Clone(datasets.Messages),
		Cost: map[string]float64{
			datasets.ChannelEmail: 1, datasets.ChannelPush: 1, datasets.ChannelSMS: 5,
			datasets.ChannelLetter: 80, datasets.ChannelCall: 150,
		},
		ComplaintRate: map[string]float64{
			datasets.ChannelEmail: 0.0005, datasets.ChannelPush: 0.001, datasets.ChannelSMS: 0.002,
			datasets.ChannelLetter: 0.0002, datasets.ChannelCall: 0.004,
		},
		ComplaintCost:   5000,
		EngagementValue: 0.2,
		StaleAfter:      7 * 24 * time.Hour,
		Top:             3,
		BAUMessage:      datasets.MessageFriendly,
		Seed:            1,
	}
}

// Context is what a Scorer sees of one account at the decision instant.
type Context struct {
	Account *features.Account
	State   *features.State
	At      int64     // decision instant, UTC micros
	Numeric []float64 // State.Read(At, Account, Scorer.Priors()), NumericNames order
}

// Scorer estimates, for each candidate action, the probability of its Target
// outcome. It is declared here, by its consumer: serving adapts the registry's
// models to it (ModelScorer) and RateScorer needs no model at all. It must be
// safe for concurrent use.
type Scorer interface {
	// Version names the model in decisions and audits.
	Version() string
	// Target is the outcome the probabilities are of (features.OutcomeNames).
	Target() string
	// Priors are the population priors the features are read with.
	Priors() *features.Priors
	// Score writes P(Target | x, cands[i]) into p[i].
	Score(x *Context, cands []Candidate, p []float64) error
}

// Candidate is one allowed action: channel, send instant and message.
type Candidate struct {
	Channel   string
	Message   string
	SendAt    time.Time // UTC
	LocalHour int
	// Slot is the debtor's affinity to the send slot's local hour of week (1 =
	// average), features.SlotName.
	Slot float64
	// Moved is set when the firewall moved the slot from the preferred hour.
	Moved bool
}

// Input is one account to decide for.
type Input struct {
	Tenant     string
	DecisionID string
	Now        time.Time
	Account    *features.Account
	// State is the online feature state; nil for an account without events.
	State *features.State
	// Compliance and Ledger describe the account to the firewall (see
	// FromEvents); they are compiled into a Subject per decision unless
	// Subject is set.
	Compliance compliance.Account
	Ledger     []compliance.Entry
	// Subject, when not nil, is the account and ledger already compiled (a
	// Subject is read-only, so callers may cache and share it between
	// decisions until the account's next event); Compliance and Ledger are
	// then ignored.
	Subject *compliance.Subject
}

// Action is a scored, allowed action as answered.
type Action struct {
	Channel     string    `json:"channel"`
	Message     string    `json:"message"`
	SendAt      time.Time `json:"send_at"`
	SendAtLocal string    `json:"send_at_local"`
	LocalHour   int       `json:"local_hour"`
	// P is the model's probability of the target outcome (absent for an
	// unscored BAU action).
	P *float64 `json:"p,omitempty"`
	// ExpectedValue is in minor units of the account's currency.
	ExpectedValue   *float64 `json:"expected_value,omitempty"`
	MovedByFirewall bool     `json:"moved_by_firewall,omitempty"`
}

// ChannelVerdict is the firewall's answer for one channel.
type ChannelVerdict struct {
	Channel         string              `json:"channel"`
	AllowedNow      bool                `json:"allowed_now"`
	EarliestAllowed *time.Time          `json:"earliest_allowed"`
	Reasons         []compliance.Reason `json:"reasons,omitempty"`
}

// Compliance is the rules a decision applied: the jurisdictions consulted, the
// verdict per channel and the notices the chosen contact must carry.
type Compliance struct {
	Jurisdictions []string            `json:"jurisdictions"`
	Zones         []string            `json:"zones"`
	Channels      []ChannelVerdict    `json:"channels"`
	Notices       []compliance.Notice `json:"notices"`
	Warnings      []string            `json:"warnings,omitempty"`
}

// FeatureInfo says how fresh the features were.
type FeatureInfo struct {
	// AsOf is the latest event folded into the features (absent: none yet).
	AsOf *time.Time `json:"as_of,omitempty"`
	// AgeSeconds is the decision instant minus AsOf.
	AgeSeconds float64 `json:"age_seconds"`
	Stale      bool    `json:"stale"`
	// Hash is an FNV-1a hash of the numeric feature vector, for the audit.
	Hash string `json:"hash"`
}

// Decision is the engine's answer; serving returns it as JSON and stores it as
// the audit record.
type Decision struct {
	DecisionID   string      `json:"decision_id"`
	AccountID    string      `json:"account_id"`
	DecidedAt    time.Time   `json:"decided_at"`
	Outcome      string      `json:"outcome"`
	Action       *Action     `json:"action,omitempty"`
	RunnersUp    []Action    `json:"runners_up"`
	Propensity   float64     `json:"propensity"`
	Policy       string      `json:"policy"`
	Explored     bool        `json:"explored"`
	Holdout      bool        `json:"holdout"`
	Fallback     string      `json:"fallback,omitempty"`
	ModelVersion string      `json:"model_version"`
	Target       string      `json:"target,omitempty"`
	WaitUntil    *time.Time  `json:"wait_until,omitempty"`
	TimeZone     string      `json:"time_zone"`
	Compliance   Compliance  `json:"compliance"`
	Reasons      []string    `json:"reasons"`
	Features     FeatureInfo `json:"features"`
	// Candidates is how many allowed actions were scored.
	Candidates int `json:"candidates_considered"`
}

// Logged returns the decision as a row of the logged-decisions table (the
// training and reporting format); ok is false when nothing is to be sent.
func (d *Decision) Logged(tenant string) (datasets.Decision, bool) {
	if d.Action == nil {
		return datasets.Decision{}, false
	}
	return datasets.Decision{
		Tenant: tenant, DecisionID: d.DecisionID, AccountID: d.AccountID,
		At: d.DecidedAt.UnixMicro(), SendAt: d.Action.SendAt.UnixMicro(),
		Channel: d.Action.Channel, LocalHour: int32(d.Action.LocalHour), Message: d.Action.Message,
		Propensity: d.Propensity, Policy: d.Policy, Holdout: d.Holdout, Model: d.ModelVersion,
	}, true
}

// Engine makes decisions. It is safe for concurrent use.
type Engine struct {
	fw       *compliance.Firewall
	o        Options
	chans    []compliance.Channel
	uniform  *features.Priors
	idxLeft  int // balance_remaining
	idxHour0 int // profile_hour_00
	refMsg   int // ReferenceMessage's position in Options.Messages
}

// New returns an engine over a compliance firewall.
func New(fw *compliance.Firewall, o Options) (*Engine, error) {
	if fw == nil {
		return nil, errors.New("engine: nil firewall")
	}
	d := DefaultOptions()
	if o.Horizon <= 0 {
		o.Horizon = d.Horizon
	}
	if o.SlotWindow <= 0 {
		o.SlotWindow = d.SlotWindow
	}
	if o.SlotsPerChannel <= 0 {
		o.SlotsPerChannel = d.SlotsPerChannel
	}
	if len(o.Channels) == 0 {
		o.Channels = d.Channels
	}
	if len(o.Messages) == 0 {
		o.Messages = d.Messages
	}
	if o.Top <= 0 {
		o.Top = d.Top
	}
	if o.Shortlist <= 0 {
		o.Shortlist = d.Shortlist
	}
	if o.MinP < 0 || o.MinP > 1 {
		return nil, fmt.Errorf("engine: min p %v must be in [0, 1]", o.MinP)
	}
	if o.BAUMessage == "" {
		o.BAUMessage = d.BAUMessage
	}
	if o.HoldoutShare < 0 || o.HoldoutShare > 1 || o.Epsilon < 0 || o.Epsilon > 1 {
		return nil, fmt.Errorf("engine: holdout share %v and epsilon %v must be in [0, 1]", o.HoldoutShare, o.Epsilon)
	}
	e := &Engine{fw: fw, o: o, uniform: features.UniformPriors()}
	for _, c := range o.Channels {
		ch, err := compliance.ParseChannel(c)
		if err != nil {
			return nil, fmt.Errorf("engine: channel %q: %w", c, err)
		}
		e.chans = append(e.chans, ch)
	}
	for _, m := range o.Messages {
		if datasets.MessageIndex(m) < 0 {
			return nil, fmt.Errorf("engine: unknown message %q", m)
		}
	}
	if o.ReferenceMessage == "" {
		o.ReferenceMessage = o.BAUMessage
	}
	e.refMsg = slices.Index(o.Messages, o.ReferenceMessage)
	if e.refMsg < 0 {
		e.refMsg = 0
	}
	// BAU tries channels cheapest first; ties keep the configured order.
	order := make([]int, len(o.Channels))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		ca, cb := o.Cost[o.Channels[a]], o.Cost[o.Channels[b]]
		switch {
		case ca < cb:
			return -1
		case ca > cb:
			return 1
		}
		return 0
	})
	chans, chs := make([]compliance.Channel, len(order)), make([]string, len(order))
	for i, k := range order {
		chans[i], chs[i] = e.chans[k], o.Channels[k]
	}
	e.chans, e.o.Channels = chans, chs
	num := features.NumericNames()
	e.idxLeft = slices.Index(num, "balance_remaining")
	e.idxHour0 = slices.Index(num, "profile_hour_00")
	if e.idxLeft < 0 || e.idxHour0 < 0 {
		return nil, errors.New("engine: features layout changed: balance_remaining or profile_hour_00 missing")
	}
	return e, nil
}

// Options returns the options in effect.
func (e *Engine) Options() Options { return e.o }

// InHoldout reports whether an account is in the holdout: a stable hash of
// (tenant, account) below the share. The same account stays in or out for
// ever, across restarts and machines.
func InHoldout(tenant, account string, share float64) bool {
	if share <= 0 {
		return false
	}
	h := fnv.New64a()
	h.Write([]byte(tenant))
	h.Write([]byte{0})
	h.Write([]byte(account))
	return float64(h.Sum64()%1_000_000) < share*1_000_000
}

// channelPlan is one channel's firewall verdict and candidate slots.
type channelPlan struct {
	name     string
	ch       compliance.Channel
	earliest time.Time
	ok       bool
}

// Decide answers one account. scorer may be nil (no model): the answer is then
// the BAU action marked as a fallback with noModel as the reason. The context's
// deadline is the scoring budget. Errors are bugs or bad stored data (an
// unknown jurisdiction, say), never a denied contact.
func (e *Engine) Decide(ctx context.Context, in *Input, scorer Scorer, noModel string) (*Decision, error) {
	acct := in.Account
	now := in.Now.UTC()
	d := &Decision{
		DecisionID: in.DecisionID, AccountID: acct.Row.ID, DecidedAt: now,
		TimeZone: acct.Row.TimeZone, RunnersUp: []Action{}, Reasons: []string{},
		Holdout: InHoldout(in.Tenant, acct.Row.ID, e.o.HoldoutShare),
	}
	sub := in.Subject
	if sub == nil {
		var err error
		if sub, err = e.fw.Subject(in.Compliance, in.Ledger); err != nil {
			return nil, fmt.Errorf("decide %s: compliance: %w", acct.Row.ID, err)
		}
	}
	var err error
	priors := e.uniform
	if scorer != nil {
		priors = scorer.Priors()
	}
	state := in.State
	if state == nil {
		state = features.NewState()
	}
	at := now.UnixMicro()
	x := &Context{Account: acct, State: state, At: at}
	x.Numeric = state.Read(at, acct, priors, make([]float64, 0, len(features.NumericNames())))
	d.Features = featureInfo(state, now, x.Numeric, e.o.StaleAfter)
	if d.Features.Stale {
		d.Reasons = append(d.Reasons, fmt.Sprintf("features are stale: the latest event is %s old", fmtAge(d.Features.AgeSeconds)))
	}

	// Firewall first: every channel's earliest permitted instant.
	plans := make([]channelPlan, len(e.chans))
	var firstCheck *compliance.Decision
	for i, ch := range e.chans {
		p := channelPlan{name: e.o.Channels[i], ch: ch}
		p.earliest, p.ok, err = sub.Earliest(ch, now, compliance.Personal, e.o.Horizon)
		if err != nil {
			return nil, fmt.Errorf("decide %s: firewall %s: %w", acct.Row.ID, p.name, err)
		}
		plans[i] = p
		v := ChannelVerdict{Channel: p.name, AllowedNow: p.ok && !p.earliest.After(now)}
		if p.ok {
			t := p.earliest
			v.EarliestAllowed = &t
		}
		if !v.AllowedNow {
			c, err := sub.Check(compliance.Contact{Channel: ch, At: now})
			if err != nil {
				return nil, fmt.Errorf("decide %s: firewall %s: %w", acct.Row.ID, p.name, err)
			}
			v.Reasons = c.Reasons
			if firstCheck == nil {
				firstCheck = &c
			}
		}
		d.Compliance.Channels = append(d.Compliance.Channels, v)
	}
	d.Compliance.Notices = []compliance.Notice{}

	// Nothing to collect: no contact at all.
	left := x.Numeric[e.idxLeft]
	if !(left > 0) {
		d.Outcome, d.Policy, d.Propensity = OutcomeNoContact, PolicyModel, 1
		d.Reasons = append(d.Reasons, "nothing is left to collect: the balance is paid in full (or zero)")
		e.finishCompliance(d, sub, firstCheck, now)
		return d, nil
	}
	// Earliest channel opening decides between contact, wait and no contact.
	var open time.Time
	anyOpen := false
	for _, p := range plans {
		if p.ok && (!anyOpen || p.earliest.Before(open)) {
			open, anyOpen = p.earliest, true
		}
	}
	if !anyOpen {
		d.Outcome, d.Policy, d.Propensity = OutcomeNoContact, PolicyModel, 1
		d.Reasons = append(d.Reasons, fmt.Sprintf("no channel is permitted within %s; see compliance.channels for the rules", fmtDur(e.o.Horizon)))
		e.finishCompliance(d, sub, firstCheck, now)
		return d, nil
	}
	if open.Sub(now) > e.o.SlotWindow {
		d.Outcome, d.Policy, d.Propensity = OutcomeWait, PolicyModel, 1
		t := open
		d.WaitUntil = &t
		d.Reasons = append(d.Reasons, fmt.Sprintf("every channel is blocked for now; the first one opens at %s, so wait until then", open.Format(time.RFC3339)))
		e.finishCompliance(d, sub, firstCheck, now)
		return d, nil
	}

	if d.Holdout {
		d.Policy = PolicyHoldout
		d.Reasons = append(d.Reasons, fmt.Sprintf("account is in the %.0f%% holdout: business-as-usual policy (cheapest permitted channel, first permitted slot, %s)", e.o.HoldoutShare*100, e.o.BAUMessage))
		e.bau(d, plans, acct)
		e.finishCompliance(d, sub, nil, now)
		return d, nil
	}
	if scorer == nil {
		d.Policy, d.Fallback = PolicyBAU, noModel
		if d.Fallback == "" {
			d.Fallback = "no model is loaded"
		}
		d.Reasons = append(d.Reasons, "fallback to business as usual: "+d.Fallback)
		e.bau(d, plans, acct)
		e.finishCompliance(d, sub, nil, now)
		return d, nil
	}
	d.ModelVersion, d.Target = scorer.Version(), scorer.Target()

	cands, err := e.candidates(plans, sub, x, priors, now)
	if err != nil {
		return nil, fmt.Errorf("decide %s: %w", acct.Row.ID, err)
	}
	d.Candidates = len(cands)
	if len(cands) == 0 { // unreachable: an open channel always yields its earliest slot
		d.Policy, d.Fallback = PolicyBAU, "no candidate slot"
		e.bau(d, plans, acct)
		e.finishCompliance(d, sub, nil, now)
		return d, nil
	}
	if err := ctx.Err(); err != nil {
		return e.late(d, plans, acct, sub, now, err), nil
	}
	value := e.o.EngagementValue
	if t := scorer.Target(); t == "paid_7d" || t == "paid_30d" {
		value = 1
	}
	probs := make([]float64, len(cands))
	if err := e.score(scorer, x, cands, probs, left*value); err != nil {
		d.Policy, d.Fallback = PolicyBAU, fmt.Sprintf("model %s failed to score: %v", scorer.Version(), err)
		d.Reasons = append(d.Reasons, "fallback to business as usual: "+d.Fallback)
		e.bau(d, plans, acct)
		e.finishCompliance(d, sub, nil, now)
		return d, nil
	}
	if err := ctx.Err(); err != nil {
		return e.late(d, plans, acct, sub, now, err), nil
	}
	evs := make([]float64, len(cands))
	for i := range cands {
		p := probs[i]
		if math.IsNaN(p) {
			evs[i] = math.Inf(-1)
			continue
		}
		c := cands[i].Channel
		evs[i] = p*left*value - e.o.Cost[c] - e.o.ComplaintRate[c]*e.o.ComplaintCost
	}
	order := make([]int, len(cands))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		switch {
		case evs[a] > evs[b]:
			return -1
		case evs[a] < evs[b]:
			return 1
		}
		return 0
	})
	best := order[0]
	chosen := best
	if (e.o.MinP > 0 && !(probs[best] >= e.o.MinP)) || (e.o.MinEV != 0 && !(evs[best] >= e.o.MinEV)) {
		d.Outcome, d.Policy, d.Propensity = OutcomeNoContact, PolicyModel, 1
		d.Reasons = append(d.Reasons, fmt.Sprintf("no permitted action is worth a contact now: the best, %s at %02d:00 local with %q, has P(%s)=%.3f (threshold %.3f) and expected value %.0f (threshold %.0f)",
			cands[best].Channel, cands[best].LocalHour, cands[best].Message, d.Target, probs[best], e.o.MinP, evs[best], e.o.MinEV))
		e.finishCompliance(d, sub, firstCheck, now)
		return d, nil
	}
	d.Policy, d.Outcome = PolicyModel, OutcomeContact
	n := float64(len(cands))
	if e.o.Epsilon > 0 {
		r := rand.New(rand.NewPCG(e.o.Seed, idHash(in.DecisionID)))
		if r.Float64() < e.o.Epsilon {
			chosen = r.IntN(len(cands))
			d.Explored = true
		}
	}
	if math.IsNaN(probs[chosen]) { // explored outside the coordinate search's shortlist
		var one [1]float64
		if err := scorer.Score(x, cands[chosen:chosen+1], one[:]); err == nil {
			probs[chosen] = one[0]
			c := cands[chosen].Channel
			evs[chosen] = one[0]*left*value - e.o.Cost[c] - e.o.ComplaintRate[c]*e.o.ComplaintCost
		}
	}
	d.Propensity = e.o.Epsilon / n
	if chosen == best {
		d.Propensity += 1 - e.o.Epsilon
	}
	a := e.action(&cands[chosen], acct, probs[chosen], evs[chosen])
	d.Action = &a
	for _, k := range order {
		if k == chosen || math.IsInf(evs[k], -1) {
			continue
		}
		if len(d.RunnersUp) == e.o.Top {
			break
		}
		d.RunnersUp = append(d.RunnersUp, e.action(&cands[k], acct, probs[k], evs[k]))
	}
	if d.Explored {
		d.Reasons = append(d.Reasons, fmt.Sprintf("exploration (%.0f%% of decisions): a uniformly drawn permitted action instead of the best one, logged with its exact propensity", e.o.Epsilon*100))
	} else {
		d.Reasons = append(d.Reasons, fmt.Sprintf("%s at %02d:00 local with %q has the highest expected value among %d permitted actions (P(%s)=%.3f)",
			a.Channel, a.LocalHour, a.Message, len(cands), d.Target, probs[chosen]))
	}
	if len(d.RunnersUp) > 0 {
		r := d.RunnersUp[0]
		d.Reasons = append(d.Reasons, fmt.Sprintf("runner-up: %s at %02d:00 local with %q (expected value %.0f vs %.0f)", r.Channel, r.LocalHour, r.Message, *r.ExpectedValue, *a.ExpectedValue))
	}
	if a.MovedByFirewall {
		d.Reasons = append(d.Reasons, "the firewall moved the preferred send slot to the next permitted local hour")
	}
	e.finishCompliance(d, sub, nil, now)
	return d, nil
}

// score writes P(target) of the candidates into p. Without AllHours every
// candidate is scored. With it, the coordinate search scores every (channel,
// slot) with the reference message, ranks them by expected value (gain is the
// value of the target outcome, so the channel's cost counts), and scores every
// message of the Shortlist best; the candidates it skips are NaN.
func (e *Engine) score(sc Scorer, x *Context, cands []Candidate, p []float64, gain float64) error {
	nm := len(e.o.Messages)
	nslots := len(cands) / nm
	if !e.o.AllHours || nslots <= e.o.Shortlist || nslots*nm != len(cands) {
		return sc.Score(x, cands, p)
	}
	for i := range p {
		p[i] = math.NaN()
	}
	ref := make([]Candidate, nslots)
	rp := make([]float64, nslots)
	for k := range ref {
		ref[k] = cands[k*nm+e.refMsg]
	}
	if err := sc.Score(x, ref, rp); err != nil {
		return err
	}
	order := make([]int, nslots)
	ev := make([]float64, nslots)
	for k := range order {
		order[k] = k
		p[k*nm+e.refMsg] = rp[k]
		c := ref[k].Channel
		ev[k] = rp[k]*gain - e.o.Cost[c] - e.o.ComplaintRate[c]*e.o.ComplaintCost
		if math.IsNaN(ev[k]) {
			ev[k] = math.Inf(-1)
		}
	}
	slices.SortStableFunc(order, func(a, b int) int {
		switch {
		case ev[a] > ev[b]:
			return -1
		case ev[a] < ev[b]:
			return 1
		}
		return 0
	})
	short := make([]Candidate, 0, e.o.Shortlist*(nm-1))
	at := make([]int, 0, cap(short))
	for _, k := range order[:e.o.Shortlist] {
		for m := range nm {
			if m != e.refMsg {
				short = append(short, cands[k*nm+m])
				at = append(at, k*nm+m)
			}
		}
	}
	sp := make([]float64, len(short))
	if err := sc.Score(x, short, sp); err != nil {
		return err
	}
	for i, j := range at {
		p[j] = sp[i]
	}
	return nil
}

// late answers with BAU when the scoring budget ran out.
func (e *Engine) late(d *Decision, plans []channelPlan, acct *features.Account, sub *compliance.Subject, now time.Time, err error) *Decision {
	d.Policy = PolicyBAU
	d.Fallback = "the decision could not be scored within its budget"
	if !errors.Is(err, context.DeadlineExceeded) {
		d.Fallback = "the request was cancelled before scoring finished"
	}
	d.Reasons = append(d.Reasons, "fallback to business as usual: "+d.Fallback)
	d.ModelVersion, d.Target = "", ""
	e.bau(d, plans, acct)
	e.finishCompliance(d, sub, nil, now)
	return d
}

// bau sets the business-as-usual action: the cheapest channel open within the
// slot window, at its first permitted instant, with the BAU message.
func (e *Engine) bau(d *Decision, plans []channelPlan, acct *features.Account) {
	d.Outcome, d.Propensity = OutcomeContact, 1
	for _, p := range plans { // plans are cheapest first
		if !p.ok || p.earliest.Sub(d.DecidedAt) > e.o.SlotWindow {
			continue
		}
		c := Candidate{Channel: p.name, Message: e.o.BAUMessage, SendAt: p.earliest, LocalHour: acct.HourOfWeek(p.earliest.UnixMicro()) % 24}
		a := e.action(&c, acct, math.NaN(), math.NaN())
		d.Action = &a
		return
	}
}

// finishCompliance fills the jurisdictions and the notices the chosen contact
// must carry (from a full firewall check of it).
func (e *Engine) finishCompliance(d *Decision, sub *compliance.Subject, c *compliance.Decision, now time.Time) {
	if d.Action != nil {
		ch, _ := compliance.ParseChannel(d.Action.Channel)
		full, err := sub.Check(compliance.Contact{Channel: ch, At: d.Action.SendAt})
		if err == nil {
			c = &full
			d.Compliance.Notices = full.Notices
			if len(full.Notices) > 0 {
				ids := make([]string, len(full.Notices))
				for i, n := range full.Notices {
					ids[i] = n.ID
				}
				d.Reasons = append(d.Reasons, fmt.Sprintf("the message must carry: %v", ids))
			}
		}
	}
	if c == nil {
		full, err := sub.Check(compliance.Contact{Channel: compliance.Letter, At: now})
		if err == nil {
			c = &full
		}
	}
	if c != nil {
		d.Compliance.Jurisdictions, d.Compliance.Zones, d.Compliance.Warnings = c.Jurisdictions, c.Zones, c.Warnings
	}
	if d.Compliance.Notices == nil {
		d.Compliance.Notices = []compliance.Notice{}
	}
}

// candidates builds the allowed actions: per open channel the best slots of the
// debtor's hour-of-day profile within the slot window, moved by the firewall
// when denied, each with every message.
func (e *Engine) candidates(plans []channelPlan, sub *compliance.Subject, x *Context, p *features.Priors, now time.Time) ([]Candidate, error) {
	// Rank local hours by the debtor's hour-of-day profile, best first.
	hod := x.Numeric[e.idxHour0 : e.idxHour0+24]
	var hours [24]int
	for h := range hours {
		hours[h] = h
	}
	slices.SortStableFunc(hours[:], func(a, b int) int {
		switch {
		case hod[a] > hod[b]:
			return -1
		case hod[a] < hod[b]:
			return 1
		}
		return 0
	})
	limit := now.Add(e.o.SlotWindow)
	var out []Candidate
	type slot struct {
		t     time.Time
		moved bool
	}
	for _, pl := range plans {
		if !pl.ok || pl.earliest.After(limit) {
			continue
		}
		start := pl.earliest
		startHour := x.Account.HourOfWeek(start.UnixMicro()) % 24
		var taken []slot
		var used [24]bool
		if e.o.AllHours {
			// The first permitted instant, then every whole hour after it
			// within the window that the firewall allows (one per local hour).
			used[startHour] = true
			taken = append(taken, slot{t: start})
			for t := start.Truncate(time.Hour).Add(time.Hour); !t.After(limit); t = t.Add(time.Hour) {
				lh := x.Account.HourOfWeek(t.UnixMicro()) % 24
				if used[lh] {
					continue
				}
				ok, err := sub.Allowed(pl.ch, t, compliance.Personal)
				if err != nil {
					return nil, fmt.Errorf("firewall %s: %w", pl.name, err)
				}
				if ok {
					used[lh] = true
					taken = append(taken, slot{t: t})
				}
			}
		}
		tries := 0
		for _, h := range hours {
			if e.o.AllHours {
				break
			}
			if len(taken) == e.o.SlotsPerChannel || tries >= 4*e.o.SlotsPerChannel+4 {
				break
			}
			if used[h] {
				continue
			}
			t := start
			if h != startHour {
				t = start.Truncate(time.Hour).Add(time.Duration((h-startHour+24)%24) * time.Hour)
				if x.Account.HourOfWeek(t.UnixMicro())%24 != h { // a DST jump: skip the hour
					continue
				}
			}
			if t.After(limit.Add(time.Hour)) {
				continue
			}
			tries++
			ok, err := sub.Allowed(pl.ch, t, compliance.Personal)
			if err != nil {
				return nil, fmt.Errorf("firewall %s: %w", pl.name, err)
			}
			moved := false
			if !ok {
				t2, ok2, err := sub.Earliest(pl.ch, t, compliance.Personal, e.o.Horizon)
				if err != nil {
					return nil, fmt.Errorf("firewall %s: %w", pl.name, err)
				}
				if !ok2 {
					continue
				}
				t, moved = t2, true
			}
			lh := x.Account.HourOfWeek(t.UnixMicro()) % 24
			if used[lh] {
				continue
			}
			used[lh] = true
			taken = append(taken, slot{t, moved})
		}
		if len(taken) == 0 {
			taken = append(taken, slot{t: start})
		}
		for _, s := range taken {
			aff := x.State.SlotAffinity(s.t.UnixMicro(), x.Account, p)
			lh := x.Account.HourOfWeek(s.t.UnixMicro()) % 24
			for _, m := range e.o.Messages {
				out = append(out, Candidate{Channel: pl.name, Message: m, SendAt: s.t.UTC(), LocalHour: lh, Slot: aff, Moved: s.moved})
			}
		}
	}
	return out, nil
}

// action formats a candidate for the answer; NaN p or ev are left out.
func (e *Engine) action(c *Candidate, acct *features.Account, p, ev float64) Action {
	a := Action{Channel: c.Channel, Message: c.Message, SendAt: c.SendAt.UTC(), LocalHour: c.LocalHour, MovedByFirewall: c.Moved}
	a.SendAtLocal = localString(c.SendAt, acct.Row.TimeZone)
	if !math.IsNaN(p) {
		a.P = &p
	}
	if !math.IsNaN(ev) && !math.IsInf(ev, 0) {
		a.ExpectedValue = &ev
	}
	return a
}

// localString formats t in the zone (RFC 3339 with the zone's offset).
func localString(t time.Time, zone string) string {
	loc, ok := zones.Load(zone)
	if !ok {
		l, err := time.LoadLocation(zone)
		if err != nil {
			return t.UTC().Format(time.RFC3339)
		}
		loc, _ = zones.LoadOrStore(zone, l)
	}
	return t.In(loc.(*time.Location)).Format(time.RFC3339)
}

// zones caches loaded locations: LoadLocation parses the tz database each call.
var zones sync.Map

func featureInfo(s *features.State, now time.Time, num []float64, staleAfter time.Duration) FeatureInfo {
	fi := FeatureInfo{Hash: vectorHash(num)}
	if last := s.Last(); last != 0 {
		t := time.UnixMicro(last).UTC()
		fi.AsOf = &t
		fi.AgeSeconds = now.Sub(t).Seconds()
		fi.Stale = staleAfter > 0 && now.Sub(t) > staleAfter
	}
	return fi
}

// vectorHash is an FNV-1a hash of the float bits, so an audit can tell whether
// two decisions saw the same features.
func vectorHash(v []float64) string {
	h := fnv.New64a()
	var b [8]byte
	for _, x := range v {
		binary.LittleEndian.PutUint64(b[:], math.Float64bits(x))
		h.Write(b[:])
	}
	return fmt.Sprintf("%016x", h.Sum64())
}

func idHash(id string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(id))
	return h.Sum64()
}

func fmtAge(sec float64) string { return fmtDur(time.Duration(sec * float64(time.Second))) }

func fmtDur(d time.Duration) string {
	if d >= 48*time.Hour {
		return fmt.Sprintf("%.0f days", d.Hours()/24)
	}
	return d.Round(time.Minute).String()
}
