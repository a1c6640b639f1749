package reports

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/engagehq/engage/datasets"
)

// Options are the knobs shared by every report.
type Options struct {
	// MinAccounts is the smallest arm (treatment or holdout) for which uplift
	// figures are given; smaller arms report "not_enough_data".
	MinAccounts int
	// MinEvents is the fewest accounts with a non-zero numerator and with a
	// non-zero denominator (payers, say) each arm needs for a bootstrap
	// interval: with no payer in an arm, resampling that arm shows no
	// variance at all, and the interval would be falsely narrow.
	MinEvents int
	// MinCell flags liquidation cells with fewer accounts as small.
	MinCell int
	// Resamples is the number of bootstrap resamples of headline intervals.
	Resamples int
	// WeeklyResamples is the number of bootstrap resamples per week of the
	// weekly uplift series (fewer, so the series stays fast).
	WeeklyResamples int
	// Confidence is the level of every interval, e.g. 0.95.
	Confidence float64
	// Seed seeds the bootstrap; the same seed gives the same intervals.
	Seed uint64
	// AttributionWindow is how long after a contact an event without a
	// decision id is still attributed to it (last touch).
	AttributionWindow time.Duration
	// Holdout, when set, decides the arm of every account instead of the
	// Holdout flag of its decisions.
	Holdout func(*datasets.Account) bool
	// Uplift, when set, returns the uplift model the model-uplift report
	// evaluates on the logged decisions (nil, nil: there is none). It is
	// asked on every report, so a newly registered model is picked up.
	Uplift func() (UpliftScorer, error)
	// Scores, when set (and Uplift is not), gives an outside uplift score of
	// each account for the model-uplift report, evaluated per account against
	// the holdout; ok=false leaves the account out.
	Scores func(*datasets.Account) (score float64, ok bool)
	// ModelName labels the Scores in the model-uplift report.
	ModelName string
}

// DefaultOptions returns 95% intervals, 2,000 bootstrap resamples (500 per
// week), arms of at least 30 accounts with at least 10 "events" (payers,
// complainers, ...) for a bootstrap, small cells under 30 accounts and a
// 7-day attribution window.
func DefaultOptions() Options {
	return Options{
		MinAccounts:       30,
		MinEvents:         10,
		MinCell:           30,
		Resamples:         2000,
		WeeklyResamples:   500,
		Confidence:        0.95,
		Seed:              1,
		AttributionWindow: 7 * 24 * time.Hour,
	}
}

func (o Options) withDefaults() Options {
	d := DefaultOptions()
	if o.MinAccounts <= 0 {
		o.MinAccounts = d.MinAccounts
	}
	if o.MinEvents <= 0 {
		o.MinEvents = d.MinEvents
	}
	if o.MinCell <= 0 {
		o.MinCell = d.MinCell
	}
	if o.Resamples <= 0 {
		o.Resamples = d.Resamples
	}
	if o.WeeklyResamples <= 0 {
		o.WeeklyResamples = d.WeeklyResamples
	}
	if !(o.Confidence > 0 && o.Confidence < 1) {
		o.Confidence = d.Confidence
	}
	if o.AttributionWindow <= 0 {
		o.AttributionWindow = d.AttributionWindow
	}
	return o
}

// Contact stages a contact reached, as bits.
const (
	stageDelivered uint8 = 1 << iota
	stageEngaged
	stageReplied
	stagePromised
	stagePaid
)

// ev is an event in compact form; ch is the effective channel (own, else the
// attributed contact's; -1 none) and contact the index of the attributed
// contact in the account's contacts (-1 none).
type ev struct {
	at      int64
	amount  int64
	contact int32
	typ     int8
	ch      int8
}

// contact is one contact_sent with the stages it reached.
type contact struct {
	at     int64
	ch     int8
	stages uint8
}

type acct struct {
	datasets.Account
	loc        *time.Location
	decHoldout bool
	decAny     bool
	policies   map[string]int
	evs        []ev
	contacts   []contact
}

// Book is one tenant's data indexed for reporting: accounts with their events
// sorted by time, contacts with the stages they reached, and arms. Build it
// once with Load and run any number of reports on it; it is read-only and safe
// for concurrent use.
type Book struct {
	opts     Options
	accounts []*acct
	minAt    int64
	maxAt    int64
	// Orphans counts events and decisions of unknown accounts, skipped.
	orphans int
	// src is kept for the model-uplift report, which scores the decisions
	// with Options.Uplift on first use.
	src    Source
	upMu   sync.Mutex
	upName string
	up     map[bool]*scored
}

var (
	evContact   = int8(datasets.EventIndex(datasets.EventContactSent))
	evPayment   = int8(datasets.EventIndex(datasets.EventPayment))
	evComplaint = int8(datasets.EventIndex(datasets.EventComplaint))
	evOptOut    = int8(datasets.EventIndex(datasets.EventOptOut))
	evPromise   = int8(datasets.EventIndex(datasets.EventPromiseToPay))
)

// stageOf maps an event type index to the contact stages it proves.
var stageOf = func() []uint8 {
	s := make([]uint8, len(datasets.EventTypes))
	set := func(t string, bits uint8) { s[datasets.EventIndex(t)] = bits }
	for _, t := range []string{datasets.EventDelivered, datasets.EventCallNoAnswer, datasets.EventCallVoicemailNoMsg,
		datasets.EventCallVoicemailLeft, datasets.EventLetterMailed} {
		set(t, stageDelivered)
	}
	for _, t := range []string{datasets.EventOpened, datasets.EventClicked} {
		set(t, stageDelivered|stageEngaged)
	}
	for _, t := range []string{datasets.EventReplied, datasets.EventCallConversation, datasets.EventInboundCall} {
		set(t, stageDelivered|stageEngaged|stageReplied)
	}
	set(datasets.EventPromiseToPay, stagePromised)
	set(datasets.EventPayment, stagePaid)
	return s
}()

// Load reads a Source into a Book. It fails on a source error or a
// cancelled context; rows of unknown accounts and unknown event types are
// skipped (and counted).
func Load(ctx context.Context, src Source, opts Options) (*Book, error) {
	opts = opts.withDefaults()
	b := &Book{opts: opts, minAt: math.MaxInt64, maxAt: math.MinInt64, src: src}
	byID := map[string]*acct{}
	zones := map[string]*time.Location{}
	err := src.Accounts(func(a *datasets.Account) error {
		if _, dup := byID[a.ID]; dup {
			return nil
		}
		x := &acct{Account: *a}
		x.ID = strings.Clone(a.ID)
		for _, s := range []*string{&x.Currency, &x.Product, &x.Jurisdiction, &x.TimeZone, &x.AgeBand, &x.Language, &x.Flags, &x.Tenant} {
			*s = strings.Clone(*s)
		}
		loc, ok := zones[x.TimeZone]
		if !ok {
			var err error
			if loc, err = time.LoadLocation(x.TimeZone); err != nil || x.TimeZone == "" {
				loc = time.UTC
			}
			zones[x.TimeZone] = loc
		}
		x.loc = loc
		byID[x.ID] = x
		b.accounts = append(b.accounts, x)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load accounts: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	err = src.Decisions(func(d *datasets.Decision) error {
		x := byID[d.AccountID]
		if x == nil {
			b.orphans++
			return nil
		}
		x.decAny = true
		if d.Holdout || d.Policy == datasets.PolicyHoldout {
			x.decHoldout = true
		}
		if x.policies == nil {
			x.policies = map[string]int{}
		}
		if _, ok := x.policies[d.Policy]; !ok {
			x.policies[strings.Clone(d.Policy)]++
		} else {
			x.policies[d.Policy]++
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load decisions: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	decIDs := map[*acct][]string{}
	n := 0
	err = src.Events(func(e *datasets.Event) error {
		if n++; n%65536 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		x := byID[e.AccountID]
		t := datasets.EventIndex(e.Type)
		if x == nil || t < 0 {
			b.orphans++
			return nil
		}
		amount := e.Amount
		if e.Type == datasets.EventPayment && e.Currency != "" && e.Currency != x.Currency {
			amount = 0 // another currency than the account's: not counted
		}
		x.evs = append(x.evs, ev{at: e.At, amount: amount, typ: int8(t), ch: int8(datasets.ChannelIndex(e.Channel)), contact: -1})
		ids := decIDs[x]
		if e.DecisionID != "" && ids == nil {
			ids = make([]string, len(x.evs)-1, cap(x.evs))
		}
		if ids != nil {
			ids = append(ids, strings.Clone(e.DecisionID))
			decIDs[x] = ids
		}
		b.minAt = min(b.minAt, e.At)
		b.maxAt = max(b.maxAt, e.At)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load events: %w", err)
	}
	win := opts.AttributionWindow.Microseconds()
	for _, x := range b.accounts {
		x.index(decIDs[x], win)
	}
	if b.minAt > b.maxAt {
		b.minAt, b.maxAt = 0, 0
	}
	return b, nil
}

// index sorts the account's events, builds its contacts and attributes every
// other event to a contact.
func (x *acct) index(ids []string, win int64) {
	order := make([]int, len(x.evs))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(i, j int) int {
		a, b := &x.evs[i], &x.evs[j]
		if a.at != b.at {
			return cmpInt(a.at, b.at)
		}
		return cmpInt(int64(a.typ), int64(b.typ)) // contact_sent first
	})
	evs := make([]ev, len(x.evs))
	var sortedIDs []string
	if ids != nil {
		sortedIDs = make([]string, len(ids))
	}
	for k, i := range order {
		evs[k] = x.evs[i]
		if ids != nil {
			sortedIDs[k] = ids[i]
		}
	}
	x.evs = evs
	var byDec map[string]int32
	for k := range x.evs {
		e := &x.evs[k]
		if e.typ != evContact {
			continue
		}
		e.contact = int32(len(x.contacts))
		x.contacts = append(x.contacts, contact{at: e.at, ch: e.ch})
		if sortedIDs != nil && sortedIDs[k] != "" {
			if byDec == nil {
				byDec = map[string]int32{}
			}
			byDec[sortedIDs[k]] = e.contact
		}
	}
	last := int32(-1) // latest contact at or before the current event
	for k := range x.evs {
		e := &x.evs[k]
		if e.typ == evContact {
			last = e.contact
			continue
		}
		c := int32(-1)
		if sortedIDs != nil && sortedIDs[k] != "" {
			if i, ok := byDec[sortedIDs[k]]; ok {
				c = i
			}
		}
		if c < 0 && last >= 0 && e.at-x.contacts[last].at <= win {
			c = last
		}
		e.contact = c
		if c >= 0 {
			if e.ch < 0 {
				e.ch = x.contacts[c].ch
			}
			x.contacts[c].stages |= stageOf[e.typ]
		}
	}
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Accounts returns the number of accounts in the book.
func (b *Book) Accounts() int { return len(b.accounts) }

// Span returns the first and last event instants (zero times when empty).
func (b *Book) Span() (first, last time.Time) {
	if len(b.accounts) == 0 || b.minAt == 0 && b.maxAt == 0 {
		return time.Time{}, time.Time{}
	}
	return time.UnixMicro(b.minAt).UTC(), time.UnixMicro(b.maxAt).UTC()
}

// Skipped returns the number of events and decisions skipped because their
// account is unknown or their type is not one engage accepts.
func (b *Book) Skipped() int { return b.orphans }

// Options returns the options the book was loaded with.
func (b *Book) Options() Options { return b.opts }

// bounds returns the period as µs [from, to), closing open ends on the
// book's span.
func (b *Book) bounds(f *Filter) (int64, int64) {
	from, to := b.minAt, b.maxAt+1
	if !f.From.IsZero() {
		from = f.From.UnixMicro()
	}
	if !f.To.IsZero() {
		to = f.To.UnixMicro()
	}
	return from, to
}

// population returns the accounts of the filter's slice referred before to.
func (b *Book) population(f *Filter, to int64) []*acct {
	var out []*acct
	for _, a := range b.accounts {
		if a.ReferredAt < to && f.matchAccount(&a.Account) {
			out = append(out, a)
		}
	}
	return out
}

// Arm is the experiment arm of an account.
type Arm int8

// Arms.
const (
	Unassigned Arm = iota
	Treatment
	Holdout
)

func (b *Book) arm(a *acct) Arm {
	if b.opts.Holdout != nil {
		if b.opts.Holdout(&a.Account) {
			return Holdout
		}
		return Treatment
	}
	switch {
	case a.decHoldout:
		return Holdout
	case a.decAny:
		return Treatment
	}
	return Unassigned
}

// acctStats are one account's figures over a window.
type acctStats struct {
	collected  int64
	payments   int
	contacts   int
	complaints int
	optOut     bool
}

// stats sums an account's events in [from, to) that pass the channel filter.
func (a *acct) stats(f *Filter, from, to int64) acctStats {
	var s acctStats
	i, _ := slices.BinarySearchFunc(a.evs, from, func(e ev, t int64) int { return cmpInt(e.at, t) })
	for ; i < len(a.evs) && a.evs[i].at < to; i++ {
		e := &a.evs[i]
		if !f.matchChannel(e.ch) {
			continue
		}
		switch e.typ {
		case evPayment:
			s.payments++
			s.collected += e.amount
		case evContact:
			s.contacts++
		case evComplaint:
			s.complaints++
		case evOptOut:
			s.optOut = true
		}
	}
	return s
}
