package features

import (
	"math"
	"slices"
	"time"

	"github.com/engagehq/engage/datasets"
)

// Action-dependent context features: they describe the debtor's history as it
// bears on one candidate action, so their value depends on the action. The
// batch driver fills them for the logged action; serving and the scorer fill
// them per candidate through Candidates, the same code.
const (
	// SlotName is 168 × the debtor's local hour-of-week engagement profile at
	// the send slot (1 = average): when the debtor engages.
	SlotName = "send_slot_affinity"
	// SlotRelativeName is the profile at the send slot over the profile at the
	// peak hour of the same local day (1 at the debtor's best hour of that
	// day): comparable across debtors whose profiles are more or less peaked.
	SlotRelativeName = "send_slot_relative"
	// SlotResponseName is the debtor's smoothed response rate to contacts sent
	// in the send slot's local hour of day: how sends at that hour worked.
	SlotResponseName = "send_slot_response"
	// ChannelAffinityName is the smoothed engagement rate of the candidate's
	// channel (the value of <channel>_engagement_rate).
	ChannelAffinityName = "channel_affinity"
	// MessageAffinityName is the smoothed response rate of the candidate's
	// message (the value of msg_<message>_response_rate).
	MessageAffinityName = "message_affinity"
	// ChannelSentName is the number of contacts on the candidate's channel
	// (the value of <channel>_sent): an untried channel is told apart from one
	// tried and ignored.
	ChannelSentName = "channel_sent"
	// ChannelSentActiveName is the candidate channel's contacts weighed by the
	// debtor's activity at their send hours (the value of
	// <channel>_sent_active).
	ChannelSentActiveName = "channel_sent_active"
	// ChannelActiveAffinityName is the candidate channel's engaged contacts
	// over its activity-weighed contacts, Beta-smoothed toward the
	// population rate like channel_affinity: calls left unanswered at hours
	// the debtor is never active do not count against the channel.
	ChannelActiveAffinityName = "channel_active_affinity"
	// ChannelActiveShareName is the candidate channel's
	// channel_active_affinity over the sum of every contact channel's: where
	// the others have been tried at good hours and ignored, an untried or
	// unlucky channel stands out.
	ChannelActiveShareName = "channel_active_share"
	// ChannelSegmentRateName is the engagement rate of the candidate's
	// channel among debtors of the account's segment (age band, region):
	// the prior a thin history is read against (Priors.SegmentChannelRate).
	ChannelSegmentRateName = "channel_segment_rate"
)

// actionNames lists the action-dependent features in the order they follow
// NumericNames in the logged table.
var actionNames = []string{SlotName, SlotRelativeName, SlotResponseName, ChannelAffinityName, MessageAffinityName,
	ChannelSentName, ChannelSentActiveName, ChannelActiveAffinityName, ChannelActiveShareName, ChannelSegmentRateName}

const numAction = 10

// ActionNames returns the action-dependent feature names, in the order they
// follow NumericNames in the logged table and Candidates.Values fills them.
// The slice is shared: do not modify it.
func ActionNames() []string { return actionNames }

// actionValues appends the action-dependent features of the action (ch, msg,
// sendAt) given the debtor's full hour-of-week profile; ch or msg -1 (none)
// read NaN. It is the single definition both drivers use.
func (s *State) actionValues(a *Account, p *Priors, prof *[hoursOfWeek]float64, ch, msg int8, sendAt int64, dst []float64) []float64 {
	how := a.clock.hourOfWeek(sendAt)
	slot := s.slotValues(p, prof, how)
	chA, msgA := s.rates(p, ch, msg)
	hod := hourOfDay(prof)
	act := s.sentActive(activeWeights(&hod))
	dst = append(dst, slot[0], slot[1], slot[2], chA, msgA)
	return s.channelEvidence(p, &act, &a.profileFor(p).chRate, ch, dst)
}

// hourOfDay sums a full hour-of-week profile by local hour of day, in the
// order profile fills profileView.hod (so the sums are the same bits).
func hourOfDay(prof *[hoursOfWeek]float64) [24]float64 {
	var hod [24]float64
	for d := range 7 {
		for h := range 24 {
			hod[h] += prof[d*24+h]
		}
	}
	return hod
}

// activeAffinity is channel c's engaged contacts over its activity-weighed
// contacts act[c], Beta-smoothed toward the population rate.
func (s *State) activeAffinity(p *Priors, act *[numChannels]float64, c int) float64 {
	m := p.RateStrength
	return (float64(s.engagedContacts[c]) + m*p.chRate[c]) / (act[c] + m)
}

// channelEvidence appends the last five ActionNames of channel ch (NaN for
// -1) given every channel's activity-weighed contacts act and the segment's
// channel rates seg.
func (s *State) channelEvidence(p *Priors, act, seg *[numChannels]float64, ch int8, dst []float64) []float64 {
	if ch < 0 {
		return append(dst, math.NaN(), math.NaN(), math.NaN(), math.NaN(), math.NaN())
	}
	aff := s.activeAffinity(p, act, int(ch))
	tot := 0.0
	for c := range numContact {
		tot += s.activeAffinity(p, act, c)
	}
	share := math.NaN()
	if tot > 0 {
		share = aff / tot
	}
	return append(dst, float64(s.sent[ch]), act[ch], aff, share, seg[ch])
}

// slotValues are the features of the send slot (local hour of week how):
// affinity, relative affinity and response, the first three ActionNames.
func (s *State) slotValues(p *Priors, prof *[hoursOfWeek]float64, how int) [3]float64 {
	day := prof[how/24*24 : how/24*24+24]
	top := day[0]
	for _, x := range day[1:] {
		top = max(top, x)
	}
	return [3]float64{hoursOfWeek * prof[how], prof[how] / top, s.slotResponse(how%24, p)}
}

// rates are the smoothed rates of channel ch and message msg (NaN for -1).
func (s *State) rates(p *Priors, ch, msg int8) (chA, msgA float64) {
	m := p.RateStrength
	chA, msgA = math.NaN(), math.NaN()
	if ch >= 0 {
		chA = (float64(s.engagedContacts[ch]) + m*p.chRate[ch]) / (float64(s.sent[ch]) + m)
	}
	if msg >= 0 {
		msgA = (float64(s.msgResp[msg]) + m*p.msgResp[msg]) / (float64(s.msgSent[msg]) + m)
	}
	return chA, msgA
}

// slotResponse is the debtor's response rate to sends in local hour h: own
// responses and sends in h, smoothed over the neighbouring hours (1/4, 1/2,
// 1/4), shrunk with weight SlotStrength toward the debtor's overall response
// rate (itself shrunk toward the population's) shaped by the population's
// response over the day.
func (s *State) slotResponse(h int, p *Priors) float64 {
	var sent, resp uint32
	for c := range s.sent {
		sent += s.sent[c]
		resp += s.engagedContacts[c]
	}
	m := p.RateStrength
	overall := (float64(resp) + m*p.ResponseRate) / (float64(sent) + m)
	prev, next := (h+23)%24, (h+1)%24
	own := float64(s.slotResp[prev]+2*s.slotResp[h]+s.slotResp[next]) / 4
	n := float64(s.slotSent[prev]+2*s.slotSent[h]+s.slotSent[next]) / 4
	k := p.SlotStrength
	if n+k == 0 {
		return overall * p.slotRate[h]
	}
	return (own + k*overall*p.slotRate[h]) / (n + k)
}

// Candidates reads the action-dependent features of one account at one
// instant for many candidate actions: the profile and rates are computed once.
// It reads the state as it is when Candidates is called.
//
// A Candidates is not safe for concurrent use, and the state must not change
// while it is in use: it remembers the values it computed, by part (the send
// slot's, each channel's, each message's), so a candidate costs the parts it
// does not share with an earlier one.
type Candidates struct {
	s    *State
	a    *Account
	p    *Priors
	prof [hoursOfWeek]float64
	// act: every channel's activity-weighed contacts (sentActive).
	act [numChannels]float64
	// The send slots seen (local hours of week) and their slotValues; nslot
	// of them, the oldest replaced first when full.
	nslot, nextSlot int
	slotHow         [8]int
	slot            [8][3]float64
	// lastAt is the last send instant asked about (valid once nslot > 0)
	// and lastHow its local hour of week.
	lastAt  int64
	lastHow int
	// chDone and msgDone flag the channels and messages whose part is
	// computed: chPart holds channel_affinity then the five channelEvidence
	// values, msgPart message_affinity.
	chDone, msgDone uint8
	chPart          [numChannels][6]float64
	msgPart         [numMessages]float64
	// The last channel name's index (unknownIdx: none yet) and the message
	// names seen with their indices.
	chName  string
	chIdx   int8
	nmsg    int
	msgName [8]string
	msgIdx  [8]int8
}

// unknownIdx marks Candidates.chIdx as not yet looked up.
const unknownIdx = -2

// Candidates prepares the action-dependent read-out of the account. Like
// Read, the state must hold exactly the account's events before the decision.
func (s *State) Candidates(a *Account, p *Priors) *Candidates {
	c := &Candidates{s: s, a: a, p: p, chIdx: unknownIdx}
	v := s.profile(a, p, &c.prof)
	c.act = s.sentActive(activeWeights(&v.hod))
	return c
}

// ReadCandidates is Read, and also prepares c exactly as s.Candidates(a, p)
// would, from the one hour-of-week profile both need: serving reads an
// account's features and then scores its candidate actions. c may be a
// Candidates reused from an earlier decision.
func (s *State) ReadCandidates(at int64, a *Account, p *Priors, dst []float64, c *Candidates) []float64 {
	c.reset(s, a, p)
	v := s.profile(a, p, &c.prof)
	c.act = s.sentActive(activeWeights(&v.hod))
	return s.read(at, a, p, &v, &c.act, dst)
}

// reset forgets every remembered value (the profile is overwritten by its
// caller) without clearing the profile's memory.
func (c *Candidates) reset(s *State, a *Account, p *Priors) {
	c.s, c.a, c.p = s, a, p
	c.nslot, c.nextSlot = 0, 0
	c.chDone, c.msgDone = 0, 0
	c.chName, c.chIdx, c.nmsg = "", unknownIdx, 0
	c.msgName = [8]string{}
}

// Priors returns the priors the read-out was prepared with.
func (c *Candidates) Priors() *Priors { return c.p }

// slotOf returns the slotValues of local hour of week how, computed once.
func (c *Candidates) slotOf(how int) *[3]float64 {
	for i := range c.nslot {
		if c.slotHow[i] == how {
			return &c.slot[i]
		}
	}
	i := c.nextSlot
	c.nextSlot = (i + 1) % len(c.slotHow)
	if c.nslot < len(c.slotHow) {
		c.nslot++
	}
	c.slotHow[i], c.slot[i] = how, c.s.slotValues(c.p, &c.prof, how)
	return &c.slot[i]
}

// channelPart returns channel ch's values (ch >= 0), computed once: its
// rate as rates gives it, then channelEvidence's five.
func (c *Candidates) channelPart(ch int8) *[6]float64 {
	v := &c.chPart[ch]
	if c.chDone&(1<<ch) == 0 {
		v[0], _ = c.s.rates(c.p, ch, -1)
		c.s.channelEvidence(c.p, &c.act, &c.a.profileFor(c.p).chRate, ch, v[1:1])
		c.chDone |= 1 << ch
	}
	return v
}

// messagePart returns message msg's rate (msg >= 0), computed once.
func (c *Candidates) messagePart(msg int8) float64 {
	if c.msgDone&(1<<msg) == 0 {
		_, c.msgPart[msg] = c.s.rates(c.p, -1, msg)
		c.msgDone |= 1 << msg
	}
	return c.msgPart[msg]
}

// Values appends the ActionNames features of the action (channel, send
// instant sendAt in UTC microseconds, message) to dst. An unknown or empty
// channel or message reads NaN for its feature. The values are
// actionValues' (the batch driver's) to the bit.
func (c *Candidates) Values(channel string, sendAt int64, message string, dst []float64) []float64 {
	n := len(dst)
	dst = slices.Grow(dst, numAction)[:n+numAction]
	c.Fill(allActionColumns, channel, sendAt, message, dst[n:])
	return dst
}

// allActionColumns reads every ActionNames feature, in order.
var allActionColumns = func() (cols ActionColumns) {
	for i := range cols {
		cols[i] = i
	}
	return cols
}()

// SlotAffinity is State.SlotAffinity (the send_slot_affinity feature) of send
// instant sendAt, from the profile computed once for every candidate.
func (c *Candidates) SlotAffinity(sendAt int64) float64 {
	return hoursOfWeek * c.prof[c.a.clock.hourOfWeek(sendAt)]
}

// ActionColumns maps the ActionNames features into a model's row: entry i is
// the position of ActionNames()[i] among the model's feature names, -1 when
// the model does not use it.
type ActionColumns [numAction]int

// NewActionColumns finds the action-dependent features among a model's
// feature names.
func NewActionColumns(names []string) ActionColumns {
	var cols ActionColumns
	for i, n := range actionNames {
		cols[i] = -1
		for j, f := range names {
			if f == n {
				cols[i] = j
				break
			}
		}
	}
	return cols
}

// Any reports whether the model uses any action-dependent feature.
func (cols ActionColumns) Any() bool {
	for _, c := range cols {
		if c >= 0 {
			return true
		}
	}
	return false
}

// Fill writes the action's features into row at cols: the per-candidate step
// of serving and of the scorer's Fill callback. Only the parts the columns
// read are computed (a model reading the send slot's affinity alone costs no
// channel or message read-out); Values is Fill of every column.
func (c *Candidates) Fill(cols ActionColumns, channel string, sendAt int64, message string, row []float64) {
	slot := cols[0] >= 0 || cols[1] >= 0 || cols[2] >= 0
	chRate := cols[3] >= 0
	msgRate := cols[4] >= 0
	chEv := cols[5] >= 0 || cols[6] >= 0 || cols[7] >= 0 || cols[8] >= 0 || cols[9] >= 0
	if slot {
		if c.nslot == 0 || sendAt != c.lastAt {
			c.lastAt, c.lastHow = sendAt, c.a.clock.hourOfWeek(sendAt)
		}
		if cols[1] < 0 && cols[2] < 0 {
			// The affinity alone (slotValues' first value): no day peak
			// nor response rate to compute.
			row[cols[0]] = hoursOfWeek * c.prof[c.lastHow]
		} else {
			v := c.slotOf(c.lastHow)
			for i := range 3 {
				if j := cols[i]; j >= 0 {
					row[j] = v[i]
				}
			}
		}
	}
	if chRate || chEv {
		if channel != c.chName || c.chIdx == unknownIdx {
			c.chName, c.chIdx = channel, int8(datasets.ChannelIndex(channel))
		}
		if ch := c.chIdx; ch < 0 {
			for i := 3; i < numAction; i++ {
				if j := cols[i]; j >= 0 && i != 4 {
					row[j] = math.NaN()
				}
			}
		} else {
			v := c.channelPart(ch)
			if j := cols[3]; j >= 0 {
				row[j] = v[0]
			}
			for i := 5; i < numAction; i++ {
				if j := cols[i]; j >= 0 {
					row[j] = v[i-4]
				}
			}
		}
	}
	if msgRate {
		row[cols[4]] = c.messageRate(message)
	}
}

// messageRate is message_affinity of the message named (NaN when unknown),
// its index remembered across the candidates.
func (c *Candidates) messageRate(message string) float64 {
	k := 0
	for k < c.nmsg && c.msgName[k] != message {
		k++
	}
	var msg int8
	if k < c.nmsg {
		msg = c.msgIdx[k]
	} else {
		msg = int8(datasets.MessageIndex(message))
		if c.nmsg < len(c.msgName) {
			c.msgName[c.nmsg], c.msgIdx[c.nmsg] = message, msg
			c.nmsg++
		}
	}
	if msg < 0 {
		return math.NaN()
	}
	return c.messagePart(msg)
}

// LocalSend returns the instant (UTC microseconds) of local hour:00 on the
// calendar date of day in the account's zone; a candidate's send slot on a
// given day.
func (a *Account) LocalSend(day time.Time, hour int) int64 {
	y, m, d := day.Date()
	return time.Date(y, m, d, hour, 0, 0, 0, a.clock.loc).UnixMicro()
}

// FillLocal returns a callback that fills the action features of a candidate
// given by its local send hour on the account's local date of day: the shape
// of models/action's Request.Fill once wrapped, so the scorer's candidates go
// through Candidates.Fill.
func (c *Candidates) FillLocal(cols ActionColumns, day time.Time) func(channel string, hour int, message string, row []float64) {
	var at [24]int64
	for h := range at {
		at[h] = c.a.LocalSend(day, h)
	}
	return func(channel string, hour int, message string, row []float64) {
		if hour < 0 || hour > 23 {
			for _, j := range cols {
				if j >= 0 {
					row[j] = math.NaN()
				}
			}
			return
		}
		c.Fill(cols, channel, at[hour], message, row)
	}
}
