package engine

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"slices"
	"strconv"
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

	// acts is the action-dependent read-out (the hour-of-week profile
	// computed once) shared by the engine's slot affinities and the
	// scorers of one decision; nil until first asked for.
	acts *features.Candidates
}

// Actions returns the action-dependent read-out of the account
// (features.Candidates) with priors p, computed once per decision and
// shared by the scorers that read with the same priors. Like the Context, it
// is for one goroutine.
func (x *Context) Actions(p *features.Priors) *features.Candidates {
	if x.acts != nil && x.acts.Priors() == p {
		return x.acts
	}
	c := x.State.Candidates(x.Account, p)
	if x.acts == nil {
		x.acts = c
	}
	return c
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
	// Score writes P(Target | x, cands[i]) into p[i]. x and cands are the
	// engine's working memory: valid during the call only.
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
	// NoRules, when not empty, says why the firewall has no rule pack for the
	// account's jurisdiction (an unverified or unknown one): the decision
	// then fails closed, no contact, with that reason. A caller that compiles
	// Subjects itself sets it instead of Subject; Decide finds it on its own
	// when it compiles one.
	NoRules string
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
	h := fnvString(fnvOffset, tenant)
	h = (h ^ 0) * fnvPrime
	h = fnvString(h, account)
	return float64(h%1_000_000) < share*1_000_000
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
// deadline is the scoring budget. An account in a jurisdiction without a rule
// pack fails closed (no contact, with the reason; see NoRules). Errors are
// bugs or bad stored data (an unknown time zone, say), never a denied contact.
func (e *Engine) Decide(ctx context.Context, in *Input, scorer Scorer, noModel string) (*Decision, error) {
	acct := in.Account
	now := in.Now.UTC()
	ans := new(answer)
	d := &ans.d
	*d = Decision{
		DecisionID: in.DecisionID, AccountID: acct.Row.ID, DecidedAt: now,
		TimeZone: acct.Row.TimeZone, RunnersUp: []Action{}, Reasons: ans.reasons[:0],
		Holdout: InHoldout(in.Tenant, acct.Row.ID, e.o.HoldoutShare),
	}
	buf := scratchPool.Get().(*scratch)
	defer buf.release()
	sub := in.Subject
	noRules := in.NoRules
	if noRules == "" && sub == nil {
		noRules = e.NoRules(in.Compliance.Jurisdiction)
	}
	if noRules != "" {
		e.failClosed(d, noRules)
		return d, nil
	}
	if sub == nil {
		var err error
		if sub, err = e.fw.Subject(in.Compliance, in.Ledger); err != nil {
			return nil, fmt.Errorf("decide %s: compliance: %w", acct.Row.ID, err)
		}
	}
	// Every firewall question of the decision goes through one session,
	// which evaluates the rules that do not depend on the channel once per
	// instant.
	ses := &buf.ses
	ses.Reset(sub)
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
	x := &buf.ctx
	*x = Context{Account: acct, State: state, At: at}
	x.Numeric = state.ReadCandidates(at, acct, priors, buf.num[:0], &buf.acts)
	buf.num, x.acts = x.Numeric, &buf.acts
	d.Features = featureInfo(state, now, x.Numeric, e.o.StaleAfter, &ans.asOf)
	if d.Features.Stale {
		var sb [80]byte
		b := append(sb[:0], "features are stale: the latest event is "...)
		b = appendDur(b, time.Duration(d.Features.AgeSeconds*float64(time.Second)))
		d.Reasons = append(d.Reasons, string(append(b, " old"...)))
	}

	// Firewall first: every channel's earliest permitted instant.
	// A channel allowed now opens now; a denied one is checked in full for
	// its reasons, whose search gives its earliest permitted instant too
	// when the firewall searches as far as the engine. One firewall
	// evaluation answers both (Subject.Verdict), but for a zero instant,
	// which Check refuses and Allowed does not.
	plans := buf.plans(len(e.chans))
	d.Compliance.Channels = ans.channels(len(e.chans))
	scoped := false // a denied channel's check succeeded: Subject.Scope is the decision's
	for i, ch := range e.chans {
		p := channelPlan{name: e.o.Channels[i], ch: ch}
		now1, reasons, earliest, err := e.verdict(ses, ch, now)
		if err != nil {
			return nil, fmt.Errorf("decide %s: firewall %s: %w", acct.Row.ID, p.name, err)
		}
		v := ChannelVerdict{Channel: p.name, AllowedNow: now1}
		if now1 {
			p.earliest, p.ok = now, true
		} else {
			v.Reasons = reasons
			scoped = true
			switch {
			case e.fw.Horizon() != e.o.Horizon:
				if p.earliest, p.ok, err = ses.Earliest(ch, now, compliance.Personal, e.o.Horizon); err != nil {
					return nil, fmt.Errorf("decide %s: firewall %s: %w", acct.Row.ID, p.name, err)
				}
			case earliest != nil:
				p.earliest, p.ok = *earliest, true
			}
		}
		plans[i] = p
		if p.ok {
			v.EarliestAllowed = ans.instant(i, p.earliest)
		}
		d.Compliance.Channels = append(d.Compliance.Channels, v)
	}
	d.Compliance.Notices = []compliance.Notice{}

	// Nothing to collect: no contact at all.
	left := x.Numeric[e.idxLeft]
	if !(left > 0) {
		d.Outcome, d.Policy, d.Propensity = OutcomeNoContact, PolicyModel, 1
		d.Reasons = append(d.Reasons, "nothing is left to collect: the balance is paid in full (or zero)")
		e.finishCompliance(d, ses, scoped, now)
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
		e.finishCompliance(d, ses, scoped, now)
		return d, nil
	}
	if open.Sub(now) > e.o.SlotWindow {
		d.Outcome, d.Policy, d.Propensity = OutcomeWait, PolicyModel, 1
		t := open
		d.WaitUntil = &t
		d.Reasons = append(d.Reasons, fmt.Sprintf("every channel is blocked for now; the first one opens at %s, so wait until then", open.Format(time.RFC3339)))
		e.finishCompliance(d, ses, scoped, now)
		return d, nil
	}

	if d.Holdout {
		d.Policy = PolicyHoldout
		d.Reasons = append(d.Reasons, fmt.Sprintf("account is in the %.0f%% holdout: business-as-usual policy (cheapest permitted channel, first permitted slot, %s)", e.o.HoldoutShare*100, e.o.BAUMessage))
		e.bau(d, plans, acct)
		e.finishCompliance(d, ses, false, now)
		return d, nil
	}
	if scorer == nil {
		d.Policy, d.Fallback = PolicyBAU, noModel
		if d.Fallback == "" {
			d.Fallback = "no model is loaded"
		}
		d.Reasons = append(d.Reasons, "fallback to business as usual: "+d.Fallback)
		e.bau(d, plans, acct)
		e.finishCompliance(d, ses, false, now)
		return d, nil
	}
	d.ModelVersion, d.Target = scorer.Version(), scorer.Target()

	cands, err := e.candidates(buf.cands[:0], plans, ses, x, priors, now)
	buf.cands = cands
	if err != nil {
		return nil, fmt.Errorf("decide %s: %w", acct.Row.ID, err)
	}
	d.Candidates = len(cands)
	if len(cands) == 0 { // unreachable: an open channel always yields its earliest slot
		d.Policy, d.Fallback = PolicyBAU, "no candidate slot"
		e.bau(d, plans, acct)
		e.finishCompliance(d, ses, false, now)
		return d, nil
	}
	if err := ctx.Err(); err != nil {
		return e.late(d, plans, acct, ses, now, err), nil
	}
	value := e.o.EngagementValue
	if t := scorer.Target(); t == "paid_7d" || t == "paid_30d" {
		value = 1
	}
	probs, evs := buf.floats(len(cands))
	if err := e.score(scorer, x, cands, probs, left*value, buf); err != nil {
		d.Policy, d.Fallback = PolicyBAU, fmt.Sprintf("model %s failed to score: %v", scorer.Version(), err)
		d.Reasons = append(d.Reasons, "fallback to business as usual: "+d.Fallback)
		e.bau(d, plans, acct)
		e.finishCompliance(d, ses, false, now)
		return d, nil
	}
	if err := ctx.Err(); err != nil {
		return e.late(d, plans, acct, ses, now, err), nil
	}
	var lastCh string
	var cost, complaint float64 // of lastCh: candidates come grouped by channel
	for i := range cands {
		p := probs[i]
		if math.IsNaN(p) {
			evs[i] = math.Inf(-1)
			continue
		}
		if c := cands[i].Channel; i == 0 || c != lastCh {
			lastCh, cost, complaint = c, e.o.Cost[c], e.o.ComplaintRate[c]
		}
		evs[i] = p*left*value - cost - complaint*e.o.ComplaintCost
	}
	// The best Top+1 candidates by expected value, ties in candidate order
	// (what a stable sort would put first): the best, and the runners-up
	// whichever of them is chosen.
	order := topByValue(evs, e.o.Top+1, buf.ints(e.o.Top+1))
	best := order[0]
	chosen := best
	if (e.o.MinP > 0 && !(probs[best] >= e.o.MinP)) || (e.o.MinEV != 0 && !(evs[best] >= e.o.MinEV)) {
		d.Outcome, d.Policy, d.Propensity = OutcomeNoContact, PolicyModel, 1
		d.Reasons = append(d.Reasons, fmt.Sprintf("no permitted action is worth a contact now: the best, %s at %02d:00 local with %q, has P(%s)=%.3f (threshold %.3f) and expected value %.0f (threshold %.0f)",
			cands[best].Channel, cands[best].LocalHour, cands[best].Message, d.Target, probs[best], e.o.MinP, evs[best], e.o.MinEV))
		e.finishCompliance(d, ses, scoped, now)
		return d, nil
	}
	d.Policy, d.Outcome = PolicyModel, OutcomeContact
	n := float64(len(cands))
	if e.o.Epsilon > 0 {
		// The scratch's generator reseeded (a Rand holds nothing but its
		// source): the decision's draws without allocating one.
		buf.pcg.Seed(e.o.Seed, idHash(in.DecisionID))
		r := buf.rand()
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
	// The answer's numbers, in one allocation: chosen, then runners-up.
	vals := ans.numbers(2 * (1 + e.o.Top))
	ans.action = e.action(&cands[chosen], acct, probs[chosen], evs[chosen], vals[0:2], nil)
	a := &ans.action
	d.Action = a
	d.RunnersUp = ans.runnersUp(e.o.Top)
	for _, k := range order {
		if k == chosen || math.IsInf(evs[k], -1) {
			continue
		}
		if len(d.RunnersUp) == e.o.Top {
			break
		}
		j := 2 * (1 + len(d.RunnersUp))
		same := a
		if n := len(d.RunnersUp); n > 0 {
			same = &d.RunnersUp[n-1]
		}
		d.RunnersUp = append(d.RunnersUp, e.action(&cands[k], acct, probs[k], evs[k], vals[j:j+2], same))
	}
	if d.Explored {
		d.Reasons = append(d.Reasons, fmt.Sprintf("exploration (%.0f%% of decisions): a uniformly drawn permitted action instead of the best one, logged with its exact propensity", e.o.Epsilon*100))
	} else {
		// fmt's "%s at %02d:00 local with %q has the highest expected value
		// among %d permitted actions (P(%s)=%.3f)", built without fmt.
		var sb [160]byte
		b := appendSlot(sb[:0], a.Channel, a.LocalHour, a.Message)
		b = append(b, " has the highest expected value among "...)
		b = strconv.AppendInt(b, int64(len(cands)), 10)
		b = append(b, " permitted actions (P("...)
		b = append(b, d.Target...)
		b = append(b, ")="...)
		b = strconv.AppendFloat(b, probs[chosen], 'f', 3, 64)
		b = append(b, ')')
		d.Reasons = append(d.Reasons, string(b))
	}
	if len(d.RunnersUp) > 0 {
		r := d.RunnersUp[0]
		// fmt's "runner-up: %s at %02d:00 local with %q (expected value
		// %.0f vs %.0f)", built without fmt.
		var sb [160]byte
		b := append(sb[:0], "runner-up: "...)
		b = appendSlot(b, r.Channel, r.LocalHour, r.Message)
		b = append(b, " (expected value "...)
		b = strconv.AppendFloat(b, *r.ExpectedValue, 'f', 0, 64)
		b = append(b, " vs "...)
		b = strconv.AppendFloat(b, *a.ExpectedValue, 'f', 0, 64)
		b = append(b, ')')
		d.Reasons = append(d.Reasons, string(b))
	}
	if a.MovedByFirewall {
		d.Reasons = append(d.Reasons, "the firewall moved the preferred send slot to the next permitted local hour")
	}
	e.finishCompliance(d, ses, false, now)
	return d, nil
}

// score writes P(target) of the candidates into p. Without AllHours every
// candidate is scored. With it, the coordinate search scores every (channel,
// slot) with the reference message, ranks them by expected value (gain is the
// value of the target outcome, so the channel's cost counts), and scores every
// message of the Shortlist best; the candidates it skips are NaN.
func (e *Engine) score(sc Scorer, x *Context, cands []Candidate, p []float64, gain float64, buf *scratch) error {
	nm := len(e.o.Messages)
	nslots := len(cands) / nm
	if !e.o.AllHours || nslots <= e.o.Shortlist || nslots*nm != len(cands) {
		return sc.Score(x, cands, p)
	}
	for i := range p {
		p[i] = math.NaN()
	}
	cs := &buf.search
	ref := grow(&cs.ref, nslots)
	rp := grow(&cs.rp, nslots)
	for k := range ref {
		ref[k] = cands[k*nm+e.refMsg]
	}
	if err := sc.Score(x, ref, rp); err != nil {
		return err
	}
	order := grow(&cs.order, nslots)
	ev := grow(&cs.ev, nslots)
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
	short := grow(&cs.short, e.o.Shortlist*(nm-1))[:0]
	at := grow(&cs.at, cap(short))[:0]
	for _, k := range order[:e.o.Shortlist] {
		for m := range nm {
			if m != e.refMsg {
				short = append(short, cands[k*nm+m])
				at = append(at, k*nm+m)
			}
		}
	}
	sp := grow(&cs.sp, len(short))
	if err := sc.Score(x, short, sp); err != nil {
		return err
	}
	for i, j := range at {
		p[j] = sp[i]
	}
	return nil
}

// late answers with BAU when the scoring budget ran out.
func (e *Engine) late(d *Decision, plans []channelPlan, acct *features.Account, ses *compliance.Session, now time.Time, err error) *Decision {
	d.Policy = PolicyBAU
	d.Fallback = "the decision could not be scored within its budget"
	if !errors.Is(err, context.DeadlineExceeded) {
		d.Fallback = "the request was cancelled before scoring finished"
	}
	d.Reasons = append(d.Reasons, "fallback to business as usual: "+d.Fallback)
	d.ModelVersion, d.Target = "", ""
	e.bau(d, plans, acct)
	e.finishCompliance(d, ses, false, now)
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
		a := e.action(&c, acct, math.NaN(), math.NaN(), nil, nil)
		d.Action = &a
		return
	}
}

// NoRules returns why the firewall cannot judge contacts in jurisdiction j
// (no rule pack for it: unknown, unverified, or not specific enough), or ""
// when it can.
func (e *Engine) NoRules(j string) string {
	if _, err := e.fw.Chain(j); err != nil {
		if j == "" {
			return "the account has no jurisdiction, so no rule pack applies"
		}
		return fmt.Sprintf("there is no rule pack for the jurisdiction %s (its rules are not verified or it is unknown), so no contact is allowed", j)
	}
	return ""
}

// failClosed answers "no contact" for an account the firewall cannot judge:
// every channel denied, with why in plain words.
func (e *Engine) failClosed(d *Decision, why string) {
	d.Outcome, d.Policy, d.Propensity = OutcomeNoContact, PolicyModel, 1
	d.Reasons = append(d.Reasons, why)
	r := []compliance.Reason{{Rule: "no-rule-pack", Text: why, Status: "policy"}}
	d.Compliance = Compliance{Jurisdictions: []string{}, Zones: []string{}, Channels: make([]ChannelVerdict, len(e.o.Channels)), Notices: []compliance.Notice{}}
	for i, name := range e.o.Channels {
		d.Compliance.Channels[i] = ChannelVerdict{Channel: name, Reasons: r}
	}
}

// finishCompliance fills the jurisdictions and the notices the chosen contact
// must carry (from a full firewall check of it). Without a chosen contact
// (or when its check fails) the jurisdictions, zones and warnings are those
// every successful check of the subject reports: scoped says one already
// succeeded at the decision instant, else a letter is checked then.
func (e *Engine) finishCompliance(d *Decision, ses *compliance.Session, scoped bool, now time.Time) {
	if d.Action != nil {
		ch, _ := compliance.ParseChannel(d.Action.Channel)
		full, err := ses.Check(compliance.Contact{Channel: ch, At: d.Action.SendAt})
		if err == nil {
			d.Compliance.Notices = full.Notices
			if len(full.Notices) > 0 {
				// "the message must carry: [" + the ids joined by spaces + "]".
				var sb [256]byte
				b := append(sb[:0], "the message must carry: ["...)
				for i, n := range full.Notices {
					if i > 0 {
						b = append(b, ' ')
					}
					b = append(b, n.ID...)
				}
				d.Reasons = append(d.Reasons, string(append(b, ']')))
			}
			d.Compliance.Jurisdictions, d.Compliance.Zones, d.Compliance.Warnings = full.Jurisdictions, full.Zones, full.Warnings
			return
		}
	}
	if scoped {
		d.Compliance.Jurisdictions, d.Compliance.Zones, d.Compliance.Warnings = ses.Subject().Scope()
	} else if full, err := ses.Check(compliance.Contact{Channel: compliance.Letter, At: now}); err == nil {
		d.Compliance.Jurisdictions, d.Compliance.Zones, d.Compliance.Warnings = full.Jurisdictions, full.Zones, full.Warnings
	}
	if d.Compliance.Notices == nil {
		d.Compliance.Notices = []compliance.Notice{}
	}
}

// verdict is the firewall's answer for channel ch at the decision instant:
// Subject.Verdict, or for a zero instant (which Check refuses) Allowed and
// then, when denied, Check, as asked before Verdict existed.
func (e *Engine) verdict(ses *compliance.Session, ch compliance.Channel, now time.Time) (bool, []compliance.Reason, *time.Time, error) {
	if !now.IsZero() {
		return ses.Verdict(ch, now, compliance.Personal)
	}
	ok, err := ses.Allowed(ch, now, compliance.Personal)
	if err != nil || ok {
		return ok, nil, nil, err
	}
	c, err := ses.Check(compliance.Contact{Channel: ch, At: now})
	return false, c.Reasons, c.EarliestAllowed, err
}

// candidates appends to out the allowed actions: per open channel the best
// slots of the debtor's hour-of-day profile within the slot window, moved by
// the firewall when denied, each with every message.
func (e *Engine) candidates(out []Candidate, plans []channelPlan, ses *compliance.Session, x *Context, p *features.Priors, now time.Time) ([]Candidate, error) {
	// Rank local hours by the debtor's hour-of-day profile, best first.
	hod := x.Numeric[e.idxHour0 : e.idxHour0+24]
	// (A stable insertion sort: equal shares keep the earlier hour first.)
	var hours [24]int
	for h := range hours {
		k := h
		for k > 0 && hod[hours[k-1]] < hod[h] {
			hours[k] = hours[k-1]
			k--
		}
		hours[k] = h
	}
	limit := now.Add(e.o.SlotWindow)
	type slot struct {
		t     time.Time
		moved bool
	}
	acts := x.Actions(p)
	// The channels open at the same instants (now, mostly) and try the same
	// hours: remember the local hours of the instants seen, and the slot
	// of each local hour from the last start.
	hw := localHours{acct: x.Account}
	var hs hourSlots
	// The slots taken on a channel: at most one per local hour (and the
	// start); one buffer for every channel, zeroed once per decision.
	var buf [25]slot
	for _, pl := range plans {
		if !pl.ok || pl.earliest.After(limit) {
			continue
		}
		start := pl.earliest
		startHour := hw.of(start.UnixMicro())
		taken := buf[:0]
		var used [24]bool
		var gaps deniedSpans
		if e.o.AllHours {
			// The first permitted instant, then every whole hour after it
			// within the window that the firewall allows (one per local hour).
			used[startHour] = true
			taken = append(taken, slot{t: start})
			for t := start.Truncate(time.Hour).Add(time.Hour); !t.After(limit); t = t.Add(time.Hour) {
				lh := hw.of(t.UnixMicro())
				if used[lh] {
					continue
				}
				// The first permitted instant at or after t is t itself
				// exactly when t is permitted; when it is later, every hour
				// before it is denied and needs no question of its own.
				u, ok, err := gaps.earliest(ses, pl.ch, t, e.o.Horizon)
				if err != nil {
					return nil, fmt.Errorf("firewall %s: %w", pl.name, err)
				}
				if ok && u.Equal(t) {
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
			t, ok := hs.at(start, startHour, h, limit, &hw)
			if !ok {
				continue
			}
			tries++
			// The channel's first permitted instant needs no second look:
			// the firewall's search just allowed it. Any other slot moves to
			// the first permitted instant at or after it: itself when it is
			// permitted (one firewall question, as Allowed), else the end of
			// its denied stretch, remembered for the slots inside it.
			moved := false
			if !t.Equal(start) {
				u, ok, err := gaps.earliest(ses, pl.ch, t, e.o.Horizon)
				if err != nil {
					return nil, fmt.Errorf("firewall %s: %w", pl.name, err)
				}
				if !ok {
					continue
				}
				t, moved = u, !u.Equal(t)
			}
			lh := hw.of(t.UnixMicro())
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
			us := s.t.UnixMicro()
			aff := acts.SlotAffinity(us)
			lh := hw.of(us)
			c := Candidate{Channel: pl.name, SendAt: s.t.UTC(), LocalHour: lh, Slot: aff, Moved: s.moved}
			for _, m := range e.o.Messages {
				c.Message = m
				out = append(out, c)
			}
		}
	}
	return out, nil
}

// hourSlots remembers, for one channel opening (start, in local hour
// startHour), the slot the profile search tries for each local hour h: the
// start itself for its own hour, else the whole hour h local after it
// (ok false when a DST jump skips that hour or it ends past the slot
// window): the same for every channel opening at the same instant.
type hourSlots struct {
	start time.Time
	known bool
	done  [24]bool
	ok    [24]bool
	t     [24]time.Time
}

// at returns the slot of local hour h from start (startHour its local hour)
// and whether the search may try it, as the search would compute it.
func (c *hourSlots) at(start time.Time, startHour, h int, limit time.Time, hw *localHours) (time.Time, bool) {
	if !c.known || !c.start.Equal(start) || c.start.Location() != start.Location() {
		c.start, c.known, c.done = start, true, [24]bool{}
	}
	if !c.done[h] {
		t, ok := start, true
		if h != startHour {
			t = start.Truncate(time.Hour).Add(time.Duration((h-startHour+24)%24) * time.Hour)
			ok = hw.of(t.UnixMicro()) == h // a DST jump skips the hour
		}
		if ok && t.After(limit.Add(time.Hour)) {
			ok = false
		}
		c.t[h], c.ok[h], c.done[h] = t, ok, true
	}
	return c.t[h], c.ok[h]
}

// localHours remembers the local hour of day (Account.HourOfWeek % 24) of
// the instants a decision asked about, one per hour of the next 32 (the
// slots are whole hours, the same for every channel).
type localHours struct {
	acct *features.Account
	us   [32]int64
	hour [32]int8 // 0: not known, else hour + 1
}

// of returns the local hour of day of instant us (UTC microseconds).
func (c *localHours) of(us int64) int {
	i := uint64(us/int64(time.Hour/time.Microsecond)) % uint64(len(c.us))
	if c.hour[i] != 0 && c.us[i] == us {
		return int(c.hour[i]) - 1
	}
	h := c.acct.HourOfWeek(us) % 24
	c.us[i], c.hour[i] = us, int8(h+1)
	return h
}

// deniedSpans are stretches [from, to) of one channel's time the firewall
// denies throughout, to being the first permitted instant after them (as
// Subject.Earliest answered from from).
type deniedSpans struct {
	n          int
	from, upto [8]time.Time
}

// find returns the end of the denied stretch holding t, if one is known.
func (g *deniedSpans) find(t time.Time) (time.Time, bool) {
	for i := range g.n {
		if !t.Before(g.from[i]) && t.Before(g.upto[i]) {
			return g.upto[i], true
		}
	}
	return time.Time{}, false
}

// add records that [from, to) is denied and to permitted.
func (g *deniedSpans) add(from, to time.Time) {
	if g.n < len(g.from) && from.Before(to) {
		g.from[g.n], g.upto[g.n] = from, to
		g.n++
	}
}

// earliest is Subject.Earliest(ch, t, Personal, horizon), from the denied
// stretches already known when t is inside one: Earliest(t) is the first
// permitted instant at or after t, so every instant between t and it is
// denied and has the same answer. (A stretch with no permitted instant
// within the horizon is not remembered: a later t searches further.)
func (g *deniedSpans) earliest(ses *compliance.Session, ch compliance.Channel, t time.Time, horizon time.Duration) (time.Time, bool, error) {
	if u, hit := g.find(t); hit {
		return u, true, nil
	}
	u, ok, err := ses.Earliest(ch, t, compliance.Personal, horizon)
	if err == nil && ok {
		g.add(t, u)
	}
	return u, ok, err
}

// topByValue writes into top (len k) the indices of the k largest values of
// ev (fewer when ev is shorter), largest first, equal values in index order:
// the first k of a stable sort by decreasing value. ev holds no NaN.
func topByValue(ev []float64, k int, top []int) []int {
	n := 0
	for i, v := range ev {
		if n == k {
			if !(v > ev[top[k-1]]) {
				continue
			}
			n--
		}
		j := n
		for j > 0 && ev[top[j-1]] < v {
			top[j] = top[j-1]
			j--
		}
		top[j] = i
		n++
	}
	return top[:n]
}

// scratch is one decision's working memory, pooled: a decision allocates
// only what its answer keeps.
type scratch struct {
	search searchScratch
	ses    compliance.Session
	ctx    Context
	acts   features.Candidates
	num    []float64
	plan   []channelPlan
	cands  []Candidate
	f      []float64
	i      []int
	// pcg and rng are exploration's generator: rng draws from pcg, which
	// each decision reseeds.
	pcg rand.PCG
	rng *rand.Rand
}

// rand returns the generator drawing from s.pcg.
func (s *scratch) rand() *rand.Rand {
	if s.rng == nil {
		s.rng = rand.New(&s.pcg)
	}
	return s.rng
}

// searchScratch is the coordinate search's working memory (Engine.score).
type searchScratch struct {
	ref, short []Candidate
	rp, ev, sp []float64
	order, at  []int
}

// grow returns (*b)[:n], reallocating *b when it is shorter.
func grow[T any](b *[]T, n int) []T {
	if cap(*b) < n {
		*b = make([]T, n)
	}
	return (*b)[:n]
}

// plans returns n channel plans.
func (s *scratch) plans(n int) []channelPlan {
	if cap(s.plan) < n {
		s.plan = make([]channelPlan, n)
	}
	return s.plan[:n]
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// release returns the working memory to the pool, without the decision's
// subject and answers.
func (s *scratch) release() {
	s.ses.Reset(nil)
	scratchPool.Put(s)
}

// answer is the memory of one decision's answer in one allocation: the
// Decision and the usual number of its channel verdicts, their earliest
// instants, reasons, actions and the actions' numbers. A decision with more
// channels or runners-up than the arrays hold gets its own slices.
type answer struct {
	d        Decision
	reasons  [6]string
	verdicts [5]ChannelVerdict
	earliest [5]time.Time
	asOf     time.Time
	action   Action
	runners  [3]Action
	vals     [8]float64
}

// channels returns an empty slice for n channel verdicts.
func (a *answer) channels(n int) []ChannelVerdict {
	if n <= len(a.verdicts) {
		return a.verdicts[:0:n]
	}
	return make([]ChannelVerdict, 0, n)
}

// instant returns a pointer to t, the earliest instant of channel i.
func (a *answer) instant(i int, t time.Time) *time.Time {
	if i < len(a.earliest) {
		a.earliest[i] = t
		return &a.earliest[i]
	}
	p := new(time.Time)
	*p = t
	return p
}

// numbers returns n values for the answer's probabilities and expected values.
func (a *answer) numbers(n int) []float64 {
	if n <= len(a.vals) {
		return a.vals[:n:n]
	}
	return make([]float64, n)
}

// runnersUp returns an empty slice for n runners-up.
func (a *answer) runnersUp(n int) []Action {
	if n <= len(a.runners) {
		return a.runners[:0:n]
	}
	return make([]Action, 0, n)
}

// floats returns two slices of n values (probabilities, expected values).
func (s *scratch) floats(n int) ([]float64, []float64) {
	if cap(s.f) < 2*n {
		s.f = make([]float64, 2*n)
	}
	return s.f[:n:n], s.f[n : 2*n : 2*n]
}

// ints returns a slice of n ints.
func (s *scratch) ints(n int) []int {
	if cap(s.i) < n {
		s.i = make([]int, n)
	}
	return s.i[:n]
}

// action formats a candidate for the answer; NaN p or ev are left out.
// store (two values, or nil when both are NaN) holds the numbers the answer
// points to.
//
// same, when not nil, is an action of the same answer: when it is sent at
// the same instant (runners-up often share the chosen slot) its local time
// is the same string.
func (e *Engine) action(c *Candidate, acct *features.Account, p, ev float64, store []float64, same *Action) Action {
	a := Action{Channel: c.Channel, Message: c.Message, SendAt: c.SendAt.UTC(), LocalHour: c.LocalHour, MovedByFirewall: c.Moved}
	if same != nil && same.SendAt.Equal(c.SendAt) {
		a.SendAtLocal = same.SendAtLocal
	} else {
		a.SendAtLocal = localString(c.SendAt, acct.Row.TimeZone)
	}
	if !math.IsNaN(p) {
		store[0] = p
		a.P = &store[0]
	}
	if !math.IsNaN(ev) && !math.IsInf(ev, 0) {
		store[1] = ev
		a.ExpectedValue = &store[1]
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

// featureInfo describes the feature vector num read from s at now; asOf
// holds the instant the answer points to.
func featureInfo(s *features.State, now time.Time, num []float64, staleAfter time.Duration, asOf *time.Time) FeatureInfo {
	fi := FeatureInfo{Hash: vectorHash(num)}
	if last := s.Last(); last != 0 {
		*asOf = time.UnixMicro(last).UTC()
		t := *asOf
		fi.AsOf = asOf
		fi.AgeSeconds = now.Sub(t).Seconds()
		fi.Stale = staleAfter > 0 && now.Sub(t) > staleAfter
	}
	return fi
}

// vectorHash is an FNV-1a hash of the float bits (little-endian), so an
// audit can tell whether two decisions saw the same features; 16 hex digits.
//
// A zero byte leaves FNV-1a's xor step unchanged, so the hash of k zero
// bytes is one multiplication by the prime's k-th power: the low zero bytes
// of a float (counts, halves, NaN, zero itself) cost one multiplication, not
// eight steps. The value is FNV-1a's to the bit (TestVectorHash).
func vectorHash(v []float64) string {
	h := uint64(fnvOffset)
	for _, x := range v {
		b := math.Float64bits(x)
		if b == 0 {
			h *= fnvPow[8]
			continue
		}
		z := bits.TrailingZeros64(b) >> 3
		h *= fnvPow[z]
		for b >>= 8 * z; b != 0; b >>= 8 {
			h ^= b & 0xff
			h *= fnvPrime
		}
		// b's high zero bytes, after its last non-zero one.
		h *= fnvPow[7-(63-bits.LeadingZeros64(math.Float64bits(x)))>>3]
	}
	const digits = "0123456789abcdef"
	var out [16]byte
	for i := range out {
		out[i] = digits[h>>(60-4*i)&0xf]
	}
	return string(out[:])
}

// fnvPow[k] is fnvPrime to the k-th power (mod 2^64): FNV-1a over k zero
// bytes.
var fnvPow = func() (p [9]uint64) {
	p[0] = 1
	for k := 1; k < len(p); k++ {
		p[k] = p[k-1] * fnvPrime
	}
	return p
}()

// FNV-1a's 64-bit parameters (hash/fnv), inlined so hashing allocates nothing.
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// fnvString continues an FNV-1a hash over s.
func fnvString(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return h
}

func idHash(id string) uint64 { return fnvString(fnvOffset, id) }

// appendSlot appends fmt's "%s at %02d:00 local with %q" of an action.
func appendSlot(b []byte, channel string, hour int, message string) []byte {
	b = append(b, channel...)
	b = append(b, " at "...)
	if hour >= 0 && hour < 10 {
		b = append(b, '0')
	}
	b = strconv.AppendInt(b, int64(hour), 10)
	b = append(b, ":00 local with "...)
	return strconv.AppendQuote(b, message)
}

func fmtDur(d time.Duration) string { return string(appendDur(nil, d)) }

// appendDur appends a duration in words: whole days from two days on, else
// rounded to the minute (time.Duration's form).
func appendDur(b []byte, d time.Duration) []byte {
	if d >= 48*time.Hour {
		b = strconv.AppendFloat(b, d.Hours()/24, 'f', 0, 64)
		return append(b, " days"...)
	}
	return append(b, d.Round(time.Minute).String()...)
}
