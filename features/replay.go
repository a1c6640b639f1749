package features

import (
	"cmp"
	"math"
	"slices"

	"github.com/engagehq/engage/datasets"
)

// Outcome windows, measured from the send instant t0 = max(decision.At,
// decision.SendAt): an event counts when t0 < at <= t0 + window.
const (
	engageWindow     = 48 * usHour
	shortWindow      = 7 * usDay
	longWindow       = 30 * usDay
	maxOutcomeWindow = longWindow
)

// Outcome positions in OutcomeNames.
const (
	oEngaged48h = iota
	oPaid7d
	oPaid30d
	oAmount30d
	oComplaint7d
	oOptOut7d
	numOutcomes
)

// OutcomeNames lists the outcome columns of the logged table. Each is 0/1 except
// amount_30d (minor units), and NaN when its window reaches past the end of the
// history (censored: unknown, not negative).
var OutcomeNames = []string{"engaged_48h", "paid_7d", "paid_30d", "amount_30d", "complaint_7d", "optout_7d"}

// outcomeWindows is the window of each outcome, for censoring.
var outcomeWindows = [numOutcomes]int64{engageWindow, shortWindow, longWindow, longWindow, shortWindow, shortWindow}

// decision is a logged decision with its channel and message interned once,
// by the source that read it.
type decision struct {
	datasets.Decision
	ch, msg int8 // -1 none (or unknown, for decisions handed over in memory)
}

// newDecision interns d's channel and message; unknown vocabulary reads -1
// (none), as the in-memory driver always treated it.
func newDecision(d *datasets.Decision) decision {
	ch, _ := channelCode(d.Channel)
	msg, _ := messageCode(d.Message)
	return decision{Decision: *d, ch: ch, msg: msg}
}

// pendingRow is a decision read out, waiting for its outcomes.
type pendingRow struct {
	d    *decision
	ch   int8 // the decision's channel, -1 none
	t0   int64
	feat []float64 // NumericNames values then the ActionNames values of the logged action
	out  [numOutcomes]float64
}

// replayer is the point-in-time (batch) driver for one account at a time: it
// reads each decision out from the state holding exactly the events strictly
// before the decision instant, then watches the following events for outcomes.
type replayer struct {
	priors *Priors
	end    int64 // history end: outcome windows past it are censored

	st    State
	acct  *Account
	decs  []decision
	next  int // next decision to read out
	rows  []pendingRow
	open  int // first row whose outcome windows may still be open
	arena []float64
	width int

	// the account's hour-of-week profile, cached while no engagement arrives
	profOK bool
	profN  uint32
	prof   [hoursOfWeek]float64
	profV  profileView
}

func newReplayer(p *Priors, end int64) *replayer {
	return &replayer{priors: p, end: end, width: len(numericNames) + numAction}
}

// begin starts an account. decs are its decisions (sorted here by At, stable).
func (r *replayer) begin(a *Account, decs []decision) {
	r.st.Reset()
	r.acct = a
	r.decs = decs
	byAt := func(x, y decision) int { return cmp.Compare(x.At, y.At) }
	if !slices.IsSortedFunc(r.decs, byAt) { // files list them in time order
		slices.SortStableFunc(r.decs, byAt)
	}
	r.next, r.open = 0, 0
	r.profOK = false
	r.rows = r.rows[:0]
	if need := len(decs) * r.width; cap(r.arena) < need {
		r.arena = make([]float64, 0, need)
	}
	r.arena = r.arena[:0]
}

// readUntil reads out every decision at or before instant at: the state then
// holds exactly the events strictly before them.
func (r *replayer) readUntil(at int64) {
	for r.next < len(r.decs) && r.decs[r.next].At <= at {
		d := &r.decs[r.next]
		r.next++
		if !r.profOK || r.profN != r.st.nEng {
			r.profV = r.st.profile(r.acct, r.priors, &r.prof)
			r.profOK, r.profN = true, r.st.nEng
		}
		lo := len(r.arena)
		act := r.st.sentActive(activeWeights(&r.profV.hod))
		r.arena = r.st.read(d.At, r.acct, r.priors, &r.profV, &act, r.arena)
		send := d.SendAt
		if send < d.At {
			send = d.At
		}
		r.arena = r.st.actionValues(r.acct, r.priors, &r.prof, d.ch, d.msg, send, r.arena)
		r.rows = append(r.rows, pendingRow{d: d, ch: d.ch, t0: send, feat: r.arena[lo:len(r.arena):len(r.arena)]})
	}
}

// event feeds the account's next event (time order).
func (r *replayer) event(ev *event) {
	r.readUntil(ev.at)
	k := kinds[ev.typ]
	evCh := ev.ch
	if evCh < 0 && k&kCallChannel != 0 {
		evCh = chCall
	}
	if k&(kEngaged|kPayment|kComplaint|kOptOut) != 0 && r.open < len(r.rows) {
		for r.open < len(r.rows) && r.rows[r.open].t0+maxOutcomeWindow < ev.at {
			r.open++
		}
		for i := r.open; i < len(r.rows); i++ {
			p := &r.rows[i]
			dt := ev.at - p.t0
			if dt <= 0 || dt > maxOutcomeWindow {
				continue
			}
			switch {
			case k&kEngaged != 0:
				// the response to this contact: an engagement on its channel
				if dt <= engageWindow && (p.ch < 0 || evCh == p.ch) {
					p.out[oEngaged48h] = 1
				}
			case k&kPayment != 0:
				if dt <= shortWindow {
					p.out[oPaid7d] = 1
				}
				p.out[oPaid30d] = 1
				p.out[oAmount30d] += float64(ev.amount)
			case k&kComplaint != 0:
				if dt <= shortWindow {
					p.out[oComplaint7d] = 1
				}
			case k&kOptOut != 0:
				if dt <= shortWindow {
					p.out[oOptOut7d] = 1
				}
			}
		}
	}
	r.st.apply(ev, r.acct)
}

// finish reads out the remaining decisions, censors incomplete windows and
// returns the account's rows (valid until the next begin).
func (r *replayer) finish() []pendingRow {
	r.readUntil(math.MaxInt64)
	for i := range r.rows {
		p := &r.rows[i]
		for o, w := range outcomeWindows {
			if p.t0 > r.end-w {
				p.out[o] = math.NaN()
			}
		}
	}
	return r.rows
}
