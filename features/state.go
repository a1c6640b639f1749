package features

import (
	"errors"
	"fmt"
	"math"
	"math/bits"

	"github.com/engagehq/engage/datasets"
)

// Time constants in microseconds, the unit of every datasets time.
const (
	usHour = int64(3_600_000_000)
	usDay  = 24 * usHour
)

// Windows the state keeps facts for.
const (
	promiseWindow     = 14 * usDay // a promise is kept when paid in full within it
	attributionWindow = 7 * usDay  // a payment counts for the last contact's message within it
	pressureWindow    = 30 * usDay // longest contact-pressure window
	recentCap         = 64         // contact instants kept for the pressure windows
)

// ErrOutOfOrder is returned by State.Apply for an event older than one already
// applied: the state is a fold over time-ordered events, and accepting a late
// event silently would make online features differ from the batch ones.
var ErrOutOfOrder = errors.New("event out of time order")

// State is everything the features remember about one account: a fixed-size fold
// over its events. The batch driver and the online driver update it with the same
// apply and read it out with the same Read; its binary encoding holds every field,
// so a state that went through the store reads out exactly the same numbers.
type State struct {
	last int64 // latest applied event instant; 0 before any

	sent, delivered, engagements, engagedContacts [numChannels]uint32
	lastEngaged, lastContact                      [numChannels]int64
	lastContactMsg                                [numChannels]int8
	contactEngaged                                uint8 // bit c: the last contact on channel c has had an engagement
	optedOut                                      uint8 // bit c: opted out of channel c

	msgSent, msgResp, msgPaid [numMessages]uint32
	lastMsg                   int8 // message of the latest contact, -1 none
	lastMsgPaid               bool
	lastMsgAt                 int64

	how  [hoursOfWeek]uint32 // engagements per local hour of week
	nEng uint32              // sum of how

	// send-slot response: contacts per local hour of day of the send, and those
	// of them that got an engagement (attributed like engagedContacts).
	slotSent, slotResp [24]uint32
	lastContactSlot    [numChannels]uint8 // local hour of day + 1 of the latest contact per channel, 0 none
	// chSlotSent counts contacts per channel and local hour of day of the
	// send (index unknownSlot: hour not recorded, states decoded from format
	// version 2), so the channel evidence can be weighed by how active the
	// debtor is at the hours they were contacted (sentActive).
	chSlotSent [numChannels][25]uint32
	chSlotMask [numChannels]uint32 // bit h: chSlotSent[c][h] != 0

	payments    uint32
	paid        int64
	lastPayment int64
	promises    uint32
	kept        uint32
	promiseOpen bool
	promiseAt   int64
	promiseAmt  int64
	promisePaid int64

	contacts                                uint32
	lastContactAny                          int64
	recent                                  [recentCap]int64 // ring of the latest contact instants within pressureWindow
	recentHead, recentN                     uint8
	complaints, optOuts, disputes, cessions uint32
}

// Reset returns the state to the empty account, keeping no memory: the batch
// driver reuses one State for every account.
func (s *State) Reset() { *s = State{lastMsg: -1} }

// NewState returns the state of an account with no events.
func NewState() *State {
	s := &State{}
	s.Reset()
	return s
}

// Last returns the instant of the latest applied event (0 when none).
func (s *State) Last() int64 { return s.last }

// Apply folds one event into the state. a supplies the account's zone for the
// local hour-of-week profile. Events must come in time order per account (equal
// instants are fine); an older event returns ErrOutOfOrder and leaves the state
// unchanged.
func (s *State) Apply(e *datasets.Event, a *Account) error {
	ev, err := intern(e)
	if err != nil {
		return err
	}
	if ev.at < s.last {
		return fmt.Errorf("event %s at %d before %d: %w", e.EventID, ev.at, s.last, ErrOutOfOrder)
	}
	s.apply(&ev, a)
	return nil
}

// apply is the single definition of how an event changes the features.
func (s *State) apply(ev *event, a *Account) {
	at := ev.at
	s.last = at
	k := kinds[ev.typ]
	ch := ev.ch
	if ch < 0 {
		if k&kCallChannel != 0 {
			ch = chCall
		} else if ev.typ == evLetter {
			ch = chLetter
		}
	}
	if k&kContact != 0 {
		s.contacts++
		s.lastContactAny = at
		s.pushRecent(at)
		s.lastMsg, s.lastMsgAt, s.lastMsgPaid = ev.msg, at, false
		if ev.msg >= 0 {
			s.msgSent[ev.msg]++
		}
		if ch >= 0 {
			s.sent[ch]++
			s.lastContact[ch] = at
			s.lastContactMsg[ch] = ev.msg
			s.contactEngaged &^= 1 << ch
			h := a.clock.hourOfWeek(at) % 24
			s.slotSent[h]++
			s.chSlotSent[ch][h]++
			s.chSlotMask[ch] |= 1 << h
			s.lastContactSlot[ch] = uint8(h + 1)
		}
	}
	if k&kDelivered != 0 && ch >= 0 {
		s.delivered[ch]++
	}
	if k&kEngaged != 0 {
		h := a.clock.hourOfWeek(at)
		s.how[h]++
		s.nEng++
		if ch >= 0 {
			s.engagements[ch]++
			s.lastEngaged[ch] = at
			if (k&kInbound == 0 || ev.ch >= 0) && s.lastContact[ch] != 0 && s.contactEngaged&(1<<ch) == 0 {
				s.contactEngaged |= 1 << ch
				s.engagedContacts[ch]++
				if m := s.lastContactMsg[ch]; m >= 0 {
					s.msgResp[m]++
				}
				if h := s.lastContactSlot[ch]; h > 0 {
					s.slotResp[h-1]++
				}
			}
		}
	}
	if k&(kPayment|kPromise|kComplaint|kOptOut|kDispute|kCease) == 0 {
		return
	}
	switch {
	case k&kPayment != 0:
		s.payments++
		s.paid += ev.amount
		s.lastPayment = at
		if s.lastMsg >= 0 && !s.lastMsgPaid && at-s.lastMsgAt <= attributionWindow {
			s.msgPaid[s.lastMsg]++
			s.lastMsgPaid = true
		}
		if s.promiseOpen {
			if at-s.promiseAt <= promiseWindow {
				s.promisePaid += ev.amount
				if s.promisePaid >= s.promiseAmt {
					s.kept++
					s.promiseOpen = false
				}
			} else {
				s.promiseOpen = false
			}
		}
	case k&kPromise != 0:
		s.promises++
		s.promiseOpen, s.promiseAt, s.promiseAmt, s.promisePaid = true, at, ev.amount, 0
	case k&kComplaint != 0:
		s.complaints++
	case k&kOptOut != 0:
		s.optOuts++
		if ch >= 0 {
			s.optedOut |= 1 << ch
		} else {
			s.optedOut = 1<<numChannels - 1
		}
	case k&kDispute != 0:
		s.disputes++
	case k&kCease != 0:
		s.cessions++
	}
}

// pushRecent records a contact instant, forgetting those older than the longest
// pressure window (they can no longer count: reads happen after the last event).
func (s *State) pushRecent(at int64) {
	for s.recentN > 0 && s.recent[s.recentHead] <= at-pressureWindow {
		s.recentHead = (s.recentHead + 1) % recentCap
		s.recentN--
	}
	if s.recentN < recentCap {
		s.recent[(int(s.recentHead)+int(s.recentN))%recentCap] = at
		s.recentN++
		return
	}
	s.recent[s.recentHead] = at
	s.recentHead = (s.recentHead + 1) % recentCap
}

// contactsWithin counts recorded contacts in (at-w, at).
func (s *State) contactsWithin(at, w int64) float64 {
	n := 0
	for i := 0; i < int(s.recentN); i++ {
		t := s.recent[(int(s.recentHead)+i)%recentCap]
		if t > at-w && t < at {
			n++
		}
	}
	return float64(n)
}

// NumNumeric is the length of the vector Read fills.
func NumNumeric() int { return len(numericNames) }

// since returns (at - t) in the given unit, NaN when t is 0 (never happened).
func since(at, t, unit int64) float64 {
	if t == 0 {
		return math.NaN()
	}
	return float64(at-t) / float64(unit)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Read appends the numeric features of the account as of instant at (UTC
// microseconds) to dst, in NumericNames order, and returns the extended slice.
// The state must hold exactly the account's events before at: the batch driver
// guarantees it, the online driver reads at "now". Priors supply the population
// numbers the smoothed rates and the profile shrink toward.
func (s *State) Read(at int64, a *Account, p *Priors, dst []float64) []float64 {
	v := s.profile(a, p, nil)
	act := s.sentActive(activeWeights(&v.hod))
	return s.read(at, a, p, &v, &act, dst)
}

// read is Read with the hour-of-week profile already computed (the batch driver
// caches it while an account has no new engagement) and the channels'
// activity-weighed contacts act (sentActive of the profile's weights).
func (s *State) read(at int64, a *Account, p *Priors, pr *profileView, act *[numChannels]float64, dst []float64) []float64 {
	r := &a.Row
	days := float64(at-r.ReferredAt) / float64(usDay)
	dst = append(dst,
		float64(r.Balance),
		float64(r.DaysPastDue)+days,
		days,
		b2f(r.ConsentEmail), b2f(r.ConsentSMS), b2f(r.ConsentCall), b2f(r.ConsentPush), b2f(r.ConsentLetter),
		b2f(a.flags&flagDispute != 0), b2f(a.flags&flagCease != 0), b2f(a.flags&flagHardship != 0),
	)
	m := p.RateStrength
	for c := 0; c < numChannels; c++ {
		dst = append(dst,
			float64(s.sent[c]),
			float64(s.delivered[c]),
			float64(s.engagements[c]),
			(float64(s.engagedContacts[c])+m*p.chRate[c])/(float64(s.sent[c])+m),
			since(at, s.lastEngaged[c], usHour),
			b2f(s.optedOut&(1<<c) != 0),
		)
	}
	dst = append(dst, pr.hod[:]...)
	dst = append(dst, pr.dow[:]...)
	k := p.ProfileStrength
	dst = append(dst, float64(pr.peak), float64(s.nEng), float64(s.nEng)/(float64(s.nEng)+k))
	for i := 0; i < numMessages; i++ {
		n := float64(s.msgSent[i])
		dst = append(dst,
			n,
			(float64(s.msgResp[i])+m*p.msgResp[i])/(n+m),
			(float64(s.msgPaid[i])+m*p.msgPay[i])/(n+m),
		)
	}
	frac, remaining := math.NaN(), math.NaN()
	if r.Balance > 0 {
		frac = math.Min(float64(s.paid)/float64(r.Balance), 1)
		remaining = float64(max(r.Balance-s.paid, 0))
	}
	dst = append(dst,
		float64(s.payments),
		float64(s.paid),
		frac,
		remaining,
		since(at, s.lastPayment, usDay),
		float64(s.promises),
		float64(s.kept),
		b2f(s.promiseOpen && at-s.promiseAt <= promiseWindow),
	)
	dst = append(dst,
		s.contactsWithin(at, usDay),
		s.contactsWithin(at, 7*usDay),
		s.contactsWithin(at, pressureWindow),
		float64(s.contacts),
		since(at, s.lastContactAny, usHour),
		float64(s.complaints),
		float64(s.optOuts),
		float64(s.disputes),
		float64(s.cessions),
	)
	return append(dst, act[:]...)
}

// unknownSlot is the chSlotSent index of contacts whose send hour is not
// known (counted before the state format recorded it); they weigh fully.
const unknownSlot = 24

// activeWeights turns the profile's 24 hour-of-day shares into how active
// the debtor is in each hour relative to their busiest hour (1 there).
func activeWeights(hod *[24]float64) [25]float64 {
	var w [25]float64
	top := 0.0
	for _, x := range hod {
		top = max(top, x)
	}
	for h, x := range hod {
		if top > 0 {
			w[h] = x / top
		} else {
			w[h] = 1
		}
	}
	w[unknownSlot] = 1
	return w
}

// sentActive is, per channel, the contacts weighed by the debtor's activity
// at their send hour as the profile sees it now: a call at an hour the debtor
// is never active counts little, one at their peak fully. Unanswered calls
// outside the active window say little about the channel (a phone rings
// wherever the debtor is, they pick up in their active hours), and the
// profile learnt later re-weighs contacts made before it was known.
func (s *State) sentActive(w [25]float64) [numChannels]float64 {
	var out [numChannels]float64
	for c, mask := range s.chSlotMask {
		x := 0.0
		for ; mask != 0; mask &= mask - 1 {
			h := bits.TrailingZeros32(mask)
			x += float64(s.chSlotSent[c][h]) * w[h]
		}
		out[c] = x
	}
	return out
}

// profileView is the read-out of an hour-of-week profile.
type profileView struct {
	hod  [24]float64
	dow  [7]float64
	peak int
}

// profile computes the debtor's local hour-of-week engagement profile. A
// debtor has a handful of engagements, too few for 168 bins, so their own
// counts are pooled by hour of day over weekdays and over weekend days (a
// Tuesday 19:00 engagement says the same about Wednesday 19:00), spread over
// the days of each kind, smoothed over neighbouring hours (1/4, 1/2, 1/4), and
// shrunk toward the segment's profile with weight ProfileStrength/(n +
// ProfileStrength). The full 168 values go to full when it is not nil.
func (s *State) profile(a *Account, p *Priors, full *[hoursOfWeek]float64) profileView {
	q := a.profileFor(p)
	if s.nEng == 0 {
		if full != nil {
			*full = q.p
		}
		return q.view
	}
	// pooled[0] weekdays, pooled[1] weekend (Saturday, Sunday), per local
	// hour: hour hr at index hr+1, with hour 23 also at 0 and hour 0 at 25
	// so the smoothing below reads its neighbours without wrapping.
	var pooled [2][26]float64
	for d := range 7 {
		pk := &pooled[weekendDay(d)]
		for hr, n := range s.how[d*24 : d*24+24] {
			if n != 0 {
				pk[hr+1] += float64(n)
			}
		}
	}
	for k := range pooled {
		pooled[k][0], pooled[k][25] = pooled[k][24], pooled[k][1]
	}
	// Each kind's smoothed counts spread over its days: 5 weekdays, 2
	// weekend days (4 × days: the weights sum to 4).
	var own [2][24]float64
	for hr := range 24 {
		own[0][hr] = (pooled[0][hr] + 2*pooled[0][hr+1] + pooled[0][hr+2]) / 20
		own[1][hr] = (pooled[1][hr] + 2*pooled[1][hr+1] + pooled[1][hr+2]) / 8
	}
	n := float64(s.nEng)
	k := p.ProfileStrength
	den := n + k
	var v profileView
	best := -1.0
	h := 0
	for d := 0; d < 7; d++ {
		o := &own[weekendDay(d)]
		var day float64
		for hr := 0; hr < 24; hr++ {
			x := (o[hr] + k*q.p[h]) / den
			if full != nil {
				full[h] = x
			}
			v.hod[hr] += x
			day += x
			if x > best {
				best, v.peak = x, h
			}
			h++
		}
		v.dow[d] = day
	}
	return v
}

// weekendDay is 1 for Saturday and Sunday (day of week 6 and 0), else 0.
func weekendDay(d int) int {
	if d == 0 || d == 6 {
		return 1
	}
	return 0
}

// Profile fills dst with the debtor's smoothed, shrunk local hour-of-week
// engagement profile (168 shares summing to 1, Sunday 00:00 local first), the
// one SlotAffinity reads: SlotAffinity(t) = 168 × dst[a.HourOfWeek(t)]. Serving
// scoring many candidate slots computes it once.
func (s *State) Profile(a *Account, p *Priors, dst *[168]float64) { s.profile(a, p, dst) }

// SlotAffinity returns how much more than average the debtor engages in the local
// hour of week of the send instant sendAt: 168 × profile(hour), 1 = average. It
// depends on the action's send slot, so serving calls it per candidate slot and
// the batch driver for the slot actually chosen.
func (s *State) SlotAffinity(sendAt int64, a *Account, p *Priors) float64 {
	var full [hoursOfWeek]float64
	s.profile(a, p, &full)
	return hoursOfWeek * full[a.clock.hourOfWeek(sendAt)]
}

// SendHour is the dedicated send-time read-out: among hours (local hours of
// day), the one whose ±1 h window holds the most of the debtor's smoothed,
// shrunk engagement profile on weekdays (weekend false) or on Saturdays and
// Sundays. A send within an hour of the debtor's peak is what counts, so the
// window mass, not the single busiest hour, is maximised; the weekday and
// weekend profiles are kept apart because the active hours shift on weekends.
// It returns -1 when hours is empty.
func (s *State) SendHour(a *Account, p *Priors, weekend bool, hours []int) int {
	var prof [hoursOfWeek]float64
	s.profile(a, p, &prof)
	var day [24]float64
	for d := range 7 {
		if (weekendDay(d) == 1) != weekend {
			continue
		}
		for h := range 24 {
			day[h] += prof[d*24+h]
		}
	}
	best, bv := -1, math.Inf(-1)
	for _, h := range hours {
		if h < 0 || h > 23 {
			continue
		}
		if v := day[(h+23)%24] + day[h] + day[(h+1)%24]; v > bv {
			best, bv = h, v
		}
	}
	return best
}
