package synth

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/engagehq/engage/datasets"
)

// Event type codes of the internal record, mapped to datasets event types.
const (
	evSent uint8 = iota
	evDelivered
	evBounced
	evOpened
	evClicked
	evReplied
	evNotConnected
	evNoAnswer
	evVoicemailNoMsg
	evVoicemailLeft
	evConversation
	evInbound
	evLetterMailed
	evPromise
	evPayment
	evComplaint
	evOptOut
)

var evNames = [...]string{
	evSent:           datasets.EventContactSent,
	evDelivered:      datasets.EventDelivered,
	evBounced:        datasets.EventBounced,
	evOpened:         datasets.EventOpened,
	evClicked:        datasets.EventClicked,
	evReplied:        datasets.EventReplied,
	evNotConnected:   datasets.EventCallNotConnected,
	evNoAnswer:       datasets.EventCallNoAnswer,
	evVoicemailNoMsg: datasets.EventCallVoicemailNoMsg,
	evVoicemailLeft:  datasets.EventCallVoicemailLeft,
	evConversation:   datasets.EventCallConversation,
	evInbound:        datasets.EventInboundCall,
	evLetterMailed:   datasets.EventLetterMailed,
	evPromise:        datasets.EventPromiseToPay,
	evPayment:        datasets.EventPayment,
	evComplaint:      datasets.EventComplaint,
	evOptOut:         datasets.EventOptOut,
}

// ev is the compact form of an event while an account is simulated; strings are
// attached once, when the account's rows are emitted.
type ev struct {
	at     int64 // Unix seconds
	amount int64
	dec    int32 // index of the causing decision in the account's decisions, -1 none
	typ    uint8
	ch     int8 // channel position in datasets.Channels, -1 none
	msg    int8 // message position, -1 none
}

// state is what a debtor's journey has changed so far: money committed, channels
// opted out, recent contact pressure, pauses after promises and complaints.
type state struct {
	remaining   int64 // balance not yet paid or committed
	paid        int64 // committed payments (some may lie in the future)
	closed      bool  // paid off or settled: no more contact
	optOut      uint8 // bit per channel position
	recent      [16]int64
	nRecent     int
	contacts    int
	lastEngaged int64 // Unix seconds, 0 when never
	// engagements the BAU has seen, per channel, and those drawn but dated
	// after its latest decision (letters are answered days later).
	seen       [nContact]int
	chSent     [nContact]int // contacts per channel (agent counts as call)
	seenAt     int64         // latest engagement the BAU has seen, 0 none
	seenHour   int8          // its local hour
	pendingAt  [16]int64
	pendingCh  [16]int8
	pendingH   [16]int8
	nPending   int
	pauseUntil int64 // BAU holds contact until then (promise, complaint)
	seq        int   // id counter of the play API
}

func newState(a *datasets.Account) *state { return &state{remaining: a.Balance} }

// pressure counts contacts sent in the 7 days before t.
func (s *state) pressure(t int64) int {
	n := 0
	for k := range min(s.nRecent, len(s.recent)) {
		if x := s.recent[k]; x > t-7*86400 && x <= t {
			n++
		}
	}
	return n
}

// since counts contacts sent at or after t.
func (s *state) since(t int64) int {
	n := 0
	for k := range min(s.nRecent, len(s.recent)) {
		if s.recent[k] >= t {
			n++
		}
	}
	return n
}

// engaged notes an engaged contact on channel ch (agent counts as call) for
// the BAU, which learns of it at instant at, local hour hour.
func (s *state) engaged(at int64, ch, hour int) {
	if ch == chAgent {
		ch = chCall
	}
	if s.nPending == len(s.pendingAt) {
		s.settle(s.pendingAt[0] + 1) // full: the oldest is surely known by now
	}
	s.pendingAt[s.nPending], s.pendingCh[s.nPending], s.pendingH[s.nPending] = at, int8(ch), int8(hour)
	s.nPending++
}

// settle moves the engagements dated before t into what the BAU knows.
func (s *state) settle(t int64) {
	k := 0
	for j := range s.nPending {
		if s.pendingAt[j] < t {
			s.seen[s.pendingCh[j]]++
			if s.pendingAt[j] > s.seenAt {
				s.seenAt, s.seenHour = s.pendingAt[j], s.pendingH[j]
			}
			continue
		}
		s.pendingAt[k], s.pendingCh[k], s.pendingH[k] = s.pendingAt[j], s.pendingCh[j], s.pendingH[j]
		k++
	}
	s.nPending = k
}

// lastSeenHour is the local hour of the latest engagement the BAU has seen,
// -1 when none.
func (s *state) lastSeenHour() int {
	if s.seenAt == 0 {
		return -1
	}
	return int(s.seenHour)
}

func (s *state) record(t int64) {
	s.recent[s.nRecent%len(s.recent)] = t
	s.nRecent++
	s.contacts++
}

// contact is one send as the behaviour model sees it.
type contact struct {
	at      int64 // send instant, Unix seconds
	ch      int   // channel position in datasets.Channels
	msg     int
	hour    int // local hour of the send
	weekend bool
	season  float64
	dec     int32
}

// activity is the probability that the debtor is active (looks at the phone,
// the inbox, answers a call) in a local hour: 0.95 at the peak, falling off
// with the spread sigma to 0.01 (asleep, busy) away from it.
func activity(h, peak int, sigma float64) float64 {
	d := math.Abs(float64(h - peak))
	d = min(d, 24-d)
	return 0.01 + 0.94*math.Exp(-0.5*(d/sigma)*(d/sigma))
}

// activeAt is the activity in local hour h of a weekday or weekend day.
func (p *prefs) activeAt(h int, weekend bool) float64 {
	if weekend {
		return activity(h, p.peakWeekend, p.sigma)
	}
	return activity(h, p.peak, p.sigma)
}

// willing is the chance that a contact seen at once is engaged with (opened,
// clicked, replied, answered, called back): affinity to the channel, message
// tone, weekend mood and contact fatigue.
func (p *prefs) willing(c *contact, pressure int) float64 {
	ch := c.ch
	boost := 1.0
	if ch == chAgent {
		ch, boost = chCall, 1.2
	}
	wk := 1.0
	if c.weekend {
		wk = p.weekend
	}
	fatigue := 1 / (1 + 0.05*float64(pressure))
	msg := 0.75 + 0.25*p.response[c.msg]
	return min(0.97, p.affinity[ch]*boost*wk*msg*fatigue)
}

// stale is how much of its pull a message loses when the debtor only sees it
// at their next active period instead of when it arrives (it is buried under
// newer mail, the notification is gone): email, sms, push.
var stale = [...]float64{chEmail: 0.7, chSMS: 0.55, chPush: 0.45}

// quickLag is the mean delay, in seconds, between seeing a message and
// engaging with it.
var quickLag = [...]float64{chEmail: 600, chSMS: 180, chPush: 120}

// localDay returns the UTC instant of the local midnight of t's calendar day
// and whether that day is a weekend. Inside the simulated period it reads the
// zone table; outside (closed-loop play) it asks the zone.
func (e *env) localDay(t int64) (base int64, weekend bool) {
	zt := e.w.zones[e.p.zone]
	if d := int((t - e.w.start) / 86400); d >= 0 {
		for k := max(d-1, 0); k <= d+1 && k+1 < len(zt.base); k++ {
			if zt.base[k] <= t && t < zt.base[k+1] {
				return zt.base[k], e.w.cal[k].weekend
			}
		}
	}
	lt := time.Unix(t, 0).In(e.loc)
	y, m, d := lt.Date()
	base = time.Date(y, m, d, 12, 0, 0, 0, e.loc).Unix() - 12*3600
	wd := lt.Weekday()
	return base, wd == time.Saturday || wd == time.Sunday
}

// nextActive walks the local hours after t and returns an instant in the first
// one in which the debtor is active, or ok false when they are not within 47
// hours (the message is never seen in time).
func (e *env) nextActive(t int64, rng *rand.Rand) (at int64, ok bool) {
	base, weekend := e.localDay(t)
	h := int((t-base)/3600) + 1
	for range 47 {
		if h >= 24 {
			base, weekend = e.localDay(base + 36*3600)
			h -= 24
		}
		if bern(rng, e.p.activeAt(h, weekend)) {
			return base + int64(h)*3600 + rng.Int64N(3600), true
		}
		h++
	}
	return 0, false
}

// callBack returns when a debtor who decided to answer a letter calls in: on
// one of the 1-3 days after it was mailed, in an hour of the inbound line
// (08:00-21:00) drawn by the debtor's activity.
func (e *env) callBack(t int64, rng *rand.Rand) int64 {
	base, _ := e.localDay(t)
	base, weekend := e.localDay(base + int64(1+rng.IntN(3))*86400 + 12*3600)
	var w [nHours]float64
	for k := range w {
		w[k] = e.p.activeAt(firstHour+k, weekend)
	}
	h := firstHour + pick(rng, w[:])
	return base + int64(h)*3600 + rng.Int64N(3600)
}

// env gives the behaviour model the world facts it needs about an account.
type env struct {
	w   *World
	i   int
	a   *datasets.Account
	p   *prefs
	loc *time.Location
}

// outcome draws everything that follows one contact and updates the state. It
// appends to out and returns it.
func (e *env) outcome(st *state, c *contact, rng *rand.Rand, out []ev) []ev {
	p := e.p
	pressure := st.pressure(c.at - 1)
	st.record(c.at)
	if c.ch == chAgent {
		st.chSent[chCall]++
	} else {
		st.chSent[c.ch]++
	}
	mk := func(typ uint8, at int64) ev {
		return ev{at: at, typ: typ, ch: int8(c.ch), msg: int8(c.msg), dec: c.dec}
	}
	t0 := c.at + rng.Int64N(900)
	out = append(out, mk(evSent, t0))

	optedOut := st.optOut&(1<<c.ch) != 0
	// Engagement happens when the debtor is active: at the send instant if they
	// are active then, else at their next active period (calls only at once,
	// letters by a call-back during active hours days later).
	willing := 0.0
	if !optedOut {
		willing = p.willing(c, pressure)
	}
	active := bern(rng, p.activeAt(c.hour, c.weekend))
	var engagedAt int64
	engaged := false
	conversation := false
	switch c.ch {
	case chEmail, chSMS, chPush:
		fail := [...]float64{chEmail: 0.03, chSMS: 0.02, chPush: 0.06}[c.ch]
		if bern(rng, fail) {
			out = append(out, mk(evBounced, t0+1+rng.Int64N(120)))
			break
		}
		out = append(out, mk(evDelivered, t0+1+rng.Int64N(120)))
		seen := t0 + 1
		if active {
			engaged = bern(rng, willing)
		} else if bern(rng, willing*stale[c.ch]) {
			seen, engaged = e.nextActive(t0, rng)
		}
		if !engaged {
			break
		}
		engagedAt = seen + int64(rng.ExpFloat64()*quickLag[c.ch]) + 1
		switch c.ch {
		case chEmail:
			out = append(out, mk(evOpened, engagedAt))
			if bern(rng, 0.45) {
				out = append(out, mk(evClicked, engagedAt+5+rng.Int64N(600)))
			}
			if bern(rng, 0.07) {
				out = append(out, mk(evReplied, engagedAt+60+rng.Int64N(3600)))
			}
		case chSMS:
			if bern(rng, 0.6) {
				out = append(out, mk(evClicked, engagedAt))
			} else {
				out = append(out, mk(evReplied, engagedAt))
			}
		case chPush:
			out = append(out, mk(evOpened, engagedAt))
			if bern(rng, 0.5) {
				out = append(out, mk(evClicked, engagedAt+2+rng.Int64N(300)))
			}
		}
	case chCall, chAgent:
		// A phone rings wherever the debtor is; they pick up far more often
		// in their active hours.
		at := t0 + 20 + rng.Int64N(40)
		if bern(rng, willing*(0.15+0.85*p.activeAt(c.hour, c.weekend))) {
			engaged, engagedAt, conversation = true, at, true
			out = append(out, mk(evConversation, at))
			break
		}
		var typ uint8
		switch u := rng.Float64(); {
		case u < 0.06:
			typ = evNotConnected
		case u < 0.51:
			typ = evNoAnswer
		case u < 0.65:
			typ = evVoicemailNoMsg
		default:
			typ = evVoicemailLeft
		}
		out = append(out, mk(typ, at))
	case chLetter:
		out = append(out, mk(evLetterMailed, t0+1))
		if bern(rng, willing) {
			// The debtor calls back once the letter has arrived.
			engaged, engagedAt, conversation = true, e.callBack(t0, rng), true
			out = append(out, mk(evInbound, engagedAt))
		}
	}

	firm := c.msg == msgFirm
	if engaged {
		st.lastEngaged = max(st.lastEngaged, engagedAt)
		base, _ := e.localDay(engagedAt)
		st.engaged(engagedAt, c.ch, int((engagedAt-base)/3600))
		pc := p.convert * p.response[c.msg] * c.season
		if conversation {
			pc *= 1.5
		}
		if p.hardship {
			pc *= 0.6
		}
		if !st.closed && bern(rng, min(pc, 0.9)) {
			out = e.pay(st, c, engagedAt, rng, out)
		}
	} else if !st.closed && !optedOut && bern(rng, 0.003*c.season) {
		// A reminder works now and then even when nobody reacts to it.
		out = e.payment(st, t0+3600+rng.Int64N(6*86400), st.remaining, out)
	}

	// Complaints rise with pressure, firm tones, calls and hardship.
	pc := p.complaint * math.Pow(1+0.5*float64(pressure), 2)
	if firm {
		pc *= 2.5
	}
	switch c.ch {
	case chCall, chAgent:
		pc *= 1.5
	case chLetter:
		pc *= 0.5
	}
	if optedOut {
		pc = max(pc, 0.25)
	}
	if bern(rng, min(pc, 0.9)) {
		at := t0 + 600 + rng.Int64N(36*3600)
		out = append(out, mk(evComplaint, at))
		st.pauseUntil = max(st.pauseUntil, at+14*86400)
	}
	if c.ch != chLetter && !optedOut {
		po := 0.003 * (1 + 0.6*float64(pressure))
		if firm {
			po *= 1.5
		}
		if engaged {
			po *= 0.5
		}
		if c.ch == chSMS {
			po *= 2
		}
		if bern(rng, po) {
			out = append(out, mk(evOptOut, t0+60+rng.Int64N(6*3600)))
			st.optOut |= 1 << c.ch
		}
	}
	return out
}

// pay turns an engaged contact into money: a settlement after a discount offer,
// an instalment plan, a promise kept (or not), or a payment on the spot.
func (e *env) pay(st *state, c *contact, at int64, rng *rand.Rand, out []ev) []ev {
	promise := func(t int64, amount int64) {
		out = append(out, ev{at: t, typ: evPromise, amount: amount, ch: int8(c.ch), msg: int8(c.msg), dec: c.dec})
	}
	major := float64(st.remaining) / 100
	switch {
	case c.msg == msgDiscount && bern(rng, 0.7):
		amount := int64(float64(st.remaining) * uniform(rng, 0.6, 0.85))
		t := at + 300 + rng.Int64N(3600)
		promise(t, amount)
		out = e.payment(st, e.payLag(t, rng), amount, out)
		st.closed, st.remaining = true, 0 // settled
	case c.msg == msgPlan || e.p.hardship || (major > 1500 && bern(rng, 0.5)):
		k := int64(3 + rng.IntN(4))
		inst := (st.remaining + k - 1) / k
		t := at + 300 + rng.Int64N(3600)
		promise(t, inst)
		due := e.payLag(t, rng)
		for range k {
			if !bern(rng, 0.9) || st.remaining == 0 {
				break
			}
			out = e.payment(st, due, inst, out)
			due = e.nextPayday(due+10*86400, rng)
		}
		st.pauseUntil = max(st.pauseUntil, due+2*86400)
	case bern(rng, 0.55):
		t := at + 300 + rng.Int64N(3600)
		promise(t, st.remaining)
		due := e.payLag(t+86400, rng)
		if bern(rng, 0.75) {
			out = e.payment(st, due, st.remaining, out)
		}
		st.pauseUntil = max(st.pauseUntil, due+2*86400)
	default:
		amount := st.remaining
		if bern(rng, 0.4) {
			amount = int64(float64(amount) * uniform(rng, 0.25, 0.6))
		}
		out = e.payment(st, at+600+rng.Int64N(4*3600), amount, out)
	}
	return out
}

// payment appends a payment of at most the remaining balance and commits it.
func (e *env) payment(st *state, at, amount int64, out []ev) []ev {
	amount = min(amount, st.remaining)
	if amount <= 0 {
		return out
	}
	st.remaining -= amount
	st.paid += amount
	if st.remaining == 0 {
		st.closed = true
	}
	// Payments are not attributed to a contact: the payer does not say why.
	return append(out, ev{at: at, typ: evPayment, amount: amount, ch: -1, msg: -1, dec: -1})
}

// payLag draws when promised money arrives: half the time on the next payday,
// otherwise within a few days.
func (e *env) payLag(t int64, rng *rand.Rand) int64 {
	if bern(rng, 0.5) {
		return e.nextPayday(t, rng)
	}
	return t + 3600 + rng.Int64N(5*86400)
}

// nextPayday returns a local daytime instant on the first payday at or after t.
func (e *env) nextPayday(t int64, rng *rand.Rand) int64 {
	lt := time.Unix(t, 0).In(e.loc)
	y, m, d := lt.Date()
	for k := range 40 {
		day := time.Date(y, m, d+k, 0, 0, 0, 0, time.UTC)
		if day.Day() == min(e.p.payday, daysIn(day.Year(), day.Month())) {
			at := time.Date(day.Year(), day.Month(), day.Day(), 7+rng.IntN(15), rng.IntN(60), rng.IntN(60), 0, e.loc).Unix()
			if at >= t {
				return at
			}
		}
	}
	return t + 3600
}

// spontaneous draws a payment nobody asked for that day: baseline propensity,
// lifted around payday, after recent engagement, and by the season.
func (e *env) spontaneous(st *state, base int64, cd calDay, rng *rand.Rand, out []ev) []ev {
	if st.closed {
		return out
	}
	p := e.p
	pr := p.payProp * cd.season
	if since := cd.dom - min(p.payday, cd.dim); since >= 0 && since <= 2 {
		pr *= 2.2
	}
	if st.lastEngaged > 0 && st.lastEngaged < base+12*3600 {
		days := float64(base+12*3600-st.lastEngaged) / 86400
		pr *= 1 + 3*math.Exp(-days/5)
	}
	if p.hardship {
		pr *= 0.6
	}
	if !bern(rng, pr) {
		return out
	}
	at := base + 7*3600 + rng.Int64N(16*3600)
	amount := st.remaining
	if bern(rng, 0.35) {
		amount = max(int64(float64(amount)*uniform(rng, 0.2, 0.5)), min(amount, 1000))
	}
	return e.payment(st, at, amount, out)
}

// Action is one contact a policy plays against the world.
type Action struct {
	Channel string    // a datasets contact channel, or agent
	SendAt  time.Time // when the contact goes out
	Message string    // a datasets message variant
	// DecisionID, when set, is carried on the contact's events.
	DecisionID string
}

// Status is the evolving side of an account under closed-loop play.
type Status struct {
	Remaining int64 // balance not yet paid or committed
	Paid      int64 // payments drawn so far, including ones dated in the future
	Closed    bool  // paid off or settled
	Contacts  int
	OptedOut  []string // channels the debtor opted out of
}

func (w *World) playState(i int) *state {
	w.stateMu.Lock()
	defer w.stateMu.Unlock()
	if w.state[i] == nil {
		w.state[i] = newState(&w.accounts[i])
	}
	return w.state[i]
}

// Status returns the closed-loop state of account i.
func (w *World) Status(i int) Status {
	if i < 0 || i >= len(w.accounts) {
		return Status{}
	}
	st := w.playState(i)
	s := Status{Remaining: st.remaining, Paid: st.paid, Closed: st.closed, Contacts: st.contacts}
	for c := range nContact {
		if st.optOut&(1<<c) != 0 {
			s.OptedOut = append(s.OptedOut, datasets.Channels[c])
		}
	}
	return s
}

// Reset forgets all closed-loop state, so another policy can be played against
// the same world from the referral.
func (w *World) Reset() {
	w.stateMu.Lock()
	defer w.stateMu.Unlock()
	clear(w.state)
}

func (w *World) env(i int) env {
	return env{w: w, i: i, a: &w.accounts[i], p: &w.prefs[i], loc: w.zones[w.prefs[i].zone].loc}
}

// Outcome draws what follows one contact with account i — engagement within 48
// hours, the call outcome, a promise, payments within 30 days, a complaint, an
// opt-out — and updates the account's state (money committed, pressure, opt-outs).
// Events are sorted by time; some lie in the future of SendAt. It returns nil
// for an unknown account, channel or message. Calls for the same account must
// not run concurrently; the result depends only on the state and rng.
func (w *World) Outcome(i int, a Action, rng *rand.Rand) []datasets.Event {
	if i < 0 || i >= len(w.accounts) || rng == nil {
		return nil
	}
	ch, msg := datasets.ChannelIndex(a.Channel), datasets.MessageIndex(a.Message)
	if ch < 0 || msg < 0 {
		return nil
	}
	e := w.env(i)
	st := w.playState(i)
	lt := a.SendAt.In(e.loc)
	c := contact{
		at:      a.SendAt.Unix(),
		ch:      ch,
		msg:     msg,
		hour:    lt.Hour(),
		weekend: lt.Weekday() == time.Saturday || lt.Weekday() == time.Sunday,
		season:  seasonal(lt.Month()),
		dec:     -1,
	}
	if a.DecisionID != "" {
		c.dec = 0
	}
	evs := e.outcome(st, &c, rng, nil)
	return w.playEvents(i, st, evs, a.DecisionID)
}

// Spontaneous draws the payments account i makes on the local calendar day of
// day without being contacted that day, and updates its state.
func (w *World) Spontaneous(i int, day time.Time, rng *rand.Rand) []datasets.Event {
	if i < 0 || i >= len(w.accounts) || rng == nil {
		return nil
	}
	e := w.env(i)
	st := w.playState(i)
	lt := day.In(e.loc)
	y, m, d := lt.Date()
	base := time.Date(y, m, d, 12, 0, 0, 0, e.loc).Unix() - 12*3600
	cd := calDay{dom: d, dim: daysIn(y, m), season: seasonal(m)}
	evs := e.spontaneous(st, base, cd, rng, nil)
	return w.playEvents(i, st, evs, "")
}

// playEvents turns play-API records into rows with ids E<account>-p<seq>.
func (w *World) playEvents(i int, st *state, evs []ev, decisionID string) []datasets.Event {
	if len(evs) == 0 {
		return nil
	}
	slices.SortStableFunc(evs, func(a, b ev) int { return cmp.Compare(a.at, b.at) })
	a := &w.accounts[i]
	out := make([]datasets.Event, len(evs))
	for k := range evs {
		st.seq++
		out[k] = w.row(a, &evs[k], "E"+a.ID[1:]+"-p"+strconv.Itoa(st.seq))
		if evs[k].dec >= 0 {
			out[k].DecisionID = decisionID
		}
	}
	return out
}

// row converts an internal record into an events.parquet row (without decision id).
func (w *World) row(a *datasets.Account, e *ev, id string) datasets.Event {
	r := datasets.Event{
		Tenant:    a.Tenant,
		EventID:   id,
		AccountID: a.ID,
		Type:      evNames[e.typ],
		At:        e.at * 1e6,
	}
	if e.ch >= 0 {
		r.Channel = datasets.Channels[e.ch]
	}
	if e.msg >= 0 {
		r.Message = datasets.Messages[e.msg]
	}
	if e.typ == evPayment || e.typ == evPromise {
		r.Amount, r.Currency = e.amount, a.Currency
	}
	return r
}
