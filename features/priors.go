package features

import (
	"encoding/json"
	"fmt"

	"github.com/engagehq/engage/datasets"
)

// PriorsVersion is the format version of the Priors JSON. Version 2 added the
// send-slot response rates, version 3 the segments' channel engagement rates;
// version 1 and 2 priors still load (their slot rates read as the overall
// response rate, flat over the day; their segments' channel rates as the
// population's).
const PriorsVersion = 3

// Priors are the population numbers the per-debtor features shrink toward:
// engagement rate per channel, response and payment rate per message variant,
// and the local hour-of-week engagement profile of the whole population and of
// each (age band, region) segment. They are computed from the training history
// and saved with the model, so serving reads out with the very same numbers.
//
// Build them with a PriorCounter, or load saved ones with ParsePriors; a Priors
// value built by hand must go through Prepare before use.
type Priors struct {
	Version int `json:"version"`
	// RateStrength is the Beta prior's weight in pseudo-contacts: a rate is
	// (successes + RateStrength·prior) / (trials + RateStrength).
	RateStrength float64 `json:"rate_strength"`
	// ProfileStrength is the weight, in engagements, of the segment profile a
	// debtor's own hour-of-week profile is shrunk toward.
	ProfileStrength float64 `json:"profile_strength"`
	// ChannelRate is the population share of contacts on each channel that got
	// an engagement.
	ChannelRate map[string]float64 `json:"channel_engagement_rate"`
	// MessageResponse and MessagePayment are the population shares of contacts
	// with each message variant that got an engagement, or a payment within 7 days.
	MessageResponse map[string]float64 `json:"message_response_rate"`
	MessagePayment  map[string]float64 `json:"message_payment_rate"`
	// Population is the smoothed local hour-of-week engagement distribution of
	// everybody (168 values summing to 1, Sunday 00:00 first).
	Population []float64 `json:"population_profile"`
	// Segments holds the profile of each SegmentKey, already shrunk toward
	// Population; a segment not listed reads Population.
	Segments map[string][]float64 `json:"segment_profiles"`
	// SlotResponse is the population share of contacts sent in each local
	// hour of day (24 values, 00:00 first) that got an engagement, and
	// ResponseRate the share over all hours.
	SlotResponse []float64 `json:"slot_response_rate,omitempty"`
	ResponseRate float64   `json:"response_rate,omitempty"`
	// SlotStrength is the weight, in pseudo-contacts, of the prior a debtor's
	// own send-slot response rate is shrunk toward.
	SlotStrength float64 `json:"slot_strength,omitempty"`
	// SegmentChannelRate is, per SegmentKey, the share of the segment's
	// contacts on each channel that got an engagement, shrunk toward
	// ChannelRate: which channels debtors like this one answer (the favourite
	// channel varies with age and region). A segment or channel not listed
	// reads ChannelRate.
	SegmentChannelRate map[string]map[string]float64 `json:"segment_channel_rate,omitempty"`

	chRate   [numChannels]float64
	msgResp  [numMessages]float64
	msgPay   [numMessages]float64
	slotRate [24]float64 // SlotResponse / ResponseRate: the shape of response over the day
	pop      *profile
	segs     map[string]*profile
	prepared bool
}

// profile is a segment's priors: its hour-of-week distribution with its
// read-out precomputed, and its channel engagement rates.
type profile struct {
	p      [hoursOfWeek]float64
	view   profileView
	chRate [numChannels]float64
}

func newProfile(v []float64) (*profile, error) {
	if len(v) != hoursOfWeek {
		return nil, fmt.Errorf("profile has %d values, want %d", len(v), hoursOfWeek)
	}
	pr := &profile{}
	copy(pr.p[:], v)
	best := -1.0
	for h, x := range pr.p {
		pr.view.hod[h%24] += x
		pr.view.dow[h/24] += x
		if x > best {
			best, pr.view.peak = x, h
		}
	}
	return pr, nil
}

// Prepare checks the priors and builds their lookup tables. ParsePriors and
// PriorCounter.Priors call it; call it after building Priors by hand.
func (p *Priors) Prepare() error {
	if p.Version < 1 || p.Version > PriorsVersion {
		return fmt.Errorf("priors version %d: this build reads versions 1 to %d", p.Version, PriorsVersion)
	}
	if p.RateStrength < 0 || p.ProfileStrength <= 0 || p.SlotStrength < 0 {
		return fmt.Errorf("priors: rate_strength %g and slot_strength %g must be >= 0 and profile_strength %g > 0", p.RateStrength, p.SlotStrength, p.ProfileStrength)
	}
	switch {
	case len(p.SlotResponse) == 0:
		for h := range p.slotRate {
			p.slotRate[h] = 1
		}
	case len(p.SlotResponse) != 24:
		return fmt.Errorf("priors: slot_response_rate has %d values, want 24", len(p.SlotResponse))
	default:
		for h, r := range p.SlotResponse {
			p.slotRate[h] = 1
			if p.ResponseRate > 0 {
				p.slotRate[h] = r / p.ResponseRate
			}
		}
	}
	for i, c := range datasets.Channels {
		p.chRate[i] = p.ChannelRate[c]
	}
	for i, m := range datasets.Messages {
		p.msgResp[i] = p.MessageResponse[m]
		p.msgPay[i] = p.MessagePayment[m]
	}
	var err error
	if p.pop, err = newProfile(p.Population); err != nil {
		return fmt.Errorf("priors population: %w", err)
	}
	p.pop.chRate = p.chRate
	p.segs = make(map[string]*profile, len(p.Segments))
	for k, v := range p.Segments {
		if p.segs[k], err = newProfile(v); err != nil {
			return fmt.Errorf("priors segment %q: %w", k, err)
		}
		p.segs[k].chRate = p.chRate
	}
	for k, rates := range p.SegmentChannelRate {
		seg := p.segs[k]
		if seg == nil {
			cp := *p.pop // the population's hours
			seg = &cp
			p.segs[k] = seg
		}
		for i, c := range datasets.Channels {
			if r, ok := rates[c]; ok {
				if !(r >= 0 && r <= 1) {
					return fmt.Errorf("priors segment %q: %s rate %v outside [0, 1]", k, c, r)
				}
				seg.chRate[i] = r
			}
		}
	}
	return nil
}

func (p *Priors) segmentProfile(key string) *profile {
	if s, ok := p.segs[key]; ok {
		return s
	}
	return p.pop
}

// JSON returns the priors as JSON, the form stored in X.parquet's metadata under
// MetaPriors and embedded in model artifacts. Floats round-trip exactly.
func (p *Priors) JSON() ([]byte, error) { return json.Marshal(p) }

// ParsePriors reads priors saved by Priors.JSON, rejecting other versions.
func ParsePriors(b []byte) (*Priors, error) {
	var p Priors
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("parse priors: %w", err)
	}
	if err := p.Prepare(); err != nil {
		return nil, err
	}
	return &p, nil
}

// PriorOptions are the smoothing strengths written into computed priors.
type PriorOptions struct {
	RateStrength    float64 // see Priors.RateStrength
	ProfileStrength float64 // see Priors.ProfileStrength
	// SegmentStrength is the weight, in engagements, of the population profile a
	// segment's profile is shrunk toward, and in contacts, of the population
	// channel rates a segment's are shrunk toward.
	SegmentStrength float64
	SlotStrength    float64 // see Priors.SlotStrength
}

// DefaultPriorOptions returns strengths that let about three contacts, or four
// engagements, outweigh the population: debtors' preferences are individual
// (one who answers texts ignores letters), so a few observations say more
// about them than their segment does.
func DefaultPriorOptions() PriorOptions {
	return PriorOptions{RateStrength: 3, ProfileStrength: 4, SegmentStrength: 200, SlotStrength: 3}
}

// PriorCounter accumulates population counts from final account states; the
// batch driver feeds it every account of the training history in a first pass.
type PriorCounter struct {
	sent, engaged    [numChannels]float64
	msgSent, msgResp [numMessages]float64
	msgPaid          [numMessages]float64
	all              [hoursOfWeek]float64
	segs             map[string]*[hoursOfWeek]float64
	slotSent         [24]float64
	slotResp         [24]float64
	// segCh holds per segment the contacts and engaged contacts per channel.
	segCh map[string]*[2][numChannels]float64
}

// NewPriorCounter returns an empty counter.
func NewPriorCounter() *PriorCounter {
	return &PriorCounter{segs: map[string]*[hoursOfWeek]float64{}, segCh: map[string]*[2][numChannels]float64{}}
}

// Add counts one account's final state.
func (c *PriorCounter) Add(s *State, a *Account) {
	for i := 0; i < numChannels; i++ {
		c.sent[i] += float64(s.sent[i])
		c.engaged[i] += float64(s.engagedContacts[i])
	}
	for i := 0; i < numMessages; i++ {
		c.msgSent[i] += float64(s.msgSent[i])
		c.msgResp[i] += float64(s.msgResp[i])
		c.msgPaid[i] += float64(s.msgPaid[i])
	}
	for h := range c.slotSent {
		c.slotSent[h] += float64(s.slotSent[h])
		c.slotResp[h] += float64(s.slotResp[h])
	}
	if s.contacts > 0 {
		ch := c.segCh[a.segment]
		if ch == nil {
			ch = new([2][numChannels]float64)
			c.segCh[a.segment] = ch
		}
		for i := range numChannels {
			ch[0][i] += float64(s.sent[i])
			ch[1][i] += float64(s.engagedContacts[i])
		}
	}
	if s.nEng == 0 {
		return
	}
	seg := c.segs[a.segment]
	if seg == nil {
		seg = new([hoursOfWeek]float64)
		c.segs[a.segment] = seg
	}
	for h, n := range s.how {
		if n != 0 {
			c.all[h] += float64(n)
			seg[h] += float64(n)
		}
	}
}

// merge adds the counts of o, which counted other accounts. The counts are
// whole numbers, exact in float64, so merging is exact in any order.
func (c *PriorCounter) merge(o *PriorCounter) {
	for i := range c.sent {
		c.sent[i] += o.sent[i]
		c.engaged[i] += o.engaged[i]
	}
	for i := range c.msgSent {
		c.msgSent[i] += o.msgSent[i]
		c.msgResp[i] += o.msgResp[i]
		c.msgPaid[i] += o.msgPaid[i]
	}
	for h := range c.all {
		c.all[h] += o.all[h]
	}
	for h := range c.slotSent {
		c.slotSent[h] += o.slotSent[h]
		c.slotResp[h] += o.slotResp[h]
	}
	for k, v := range o.segCh {
		ch := c.segCh[k]
		if ch == nil {
			ch = new([2][numChannels]float64)
			c.segCh[k] = ch
		}
		for j := range ch {
			for i := range ch[j] {
				ch[j][i] += v[j][i]
			}
		}
	}
	for k, v := range o.segs {
		seg := c.segs[k]
		if seg == nil {
			seg = new([hoursOfWeek]float64)
			c.segs[k] = seg
		}
		for h := range seg {
			seg[h] += v[h]
		}
	}
}

// Priors turns the counts into prepared Priors. Rates with no trials are 0; the
// population profile is smoothed over neighbouring hours and add-one (per hour)
// regularised, so it is never zero anywhere; each segment's smoothed profile is
// shrunk toward it with weight SegmentStrength.
func (c *PriorCounter) Priors(o PriorOptions) (*Priors, error) {
	p := &Priors{
		Version:         PriorsVersion,
		RateStrength:    o.RateStrength,
		ProfileStrength: o.ProfileStrength,
		SlotStrength:    o.SlotStrength,
		ChannelRate:     map[string]float64{},
		MessageResponse: map[string]float64{},
		MessagePayment:  map[string]float64{},
		Segments:        map[string][]float64{},
	}
	rate := func(k, n float64) float64 {
		if n == 0 {
			return 0
		}
		return k / n
	}
	for i, ch := range datasets.Channels {
		p.ChannelRate[ch] = rate(c.engaged[i], c.sent[i])
	}
	if len(c.segCh) > 0 {
		p.SegmentChannelRate = make(map[string]map[string]float64, len(c.segCh))
	}
	for k, n := range c.segCh {
		rates := make(map[string]float64, numChannels)
		for i, ch := range datasets.Channels {
			rates[ch] = (n[1][i] + o.SegmentStrength*p.ChannelRate[ch]) / (n[0][i] + o.SegmentStrength)
		}
		p.SegmentChannelRate[k] = rates
	}
	for i, m := range datasets.Messages {
		p.MessageResponse[m] = rate(c.msgResp[i], c.msgSent[i])
		p.MessagePayment[m] = rate(c.msgPaid[i], c.msgSent[i])
	}
	var sent, resp float64
	for h := range c.slotSent {
		sent += c.slotSent[h]
		resp += c.slotResp[h]
	}
	p.ResponseRate = rate(resp, sent)
	p.SlotResponse = make([]float64, 24)
	for h := range p.SlotResponse {
		// an hour without sends reads the overall rate
		p.SlotResponse[h] = (c.slotResp[h] + p.ResponseRate) / (c.slotSent[h] + 1)
	}
	sm, n := smooth(&c.all)
	pop := make([]float64, hoursOfWeek)
	for h := range pop {
		pop[h] = (sm[h] + 1) / (n + hoursOfWeek)
	}
	p.Population = pop
	for k, counts := range c.segs {
		sm, n := smooth(counts)
		v := make([]float64, hoursOfWeek)
		for h := range v {
			v[h] = (sm[h] + o.SegmentStrength*pop[h]) / (n + o.SegmentStrength)
		}
		p.Segments[k] = v
	}
	if err := p.Prepare(); err != nil {
		return nil, err
	}
	return p, nil
}

// smooth spreads counts over neighbouring hours with weights 1/4, 1/2, 1/4
// (wrapping around the week), keeping their sum.
func smooth(c *[hoursOfWeek]float64) ([hoursOfWeek]float64, float64) {
	var out [hoursOfWeek]float64
	var n float64
	for h := range c {
		prev, next := (h+hoursOfWeek-1)%hoursOfWeek, (h+1)%hoursOfWeek
		out[h] = (c[prev] + 2*c[h] + c[next]) / 4
		n += c[h]
	}
	return out, n
}

// UniformPriors returns priors with no population information (every rate 0,
// flat profiles), for an account read before any history exists.
func UniformPriors() *Priors {
	p, err := NewPriorCounter().Priors(DefaultPriorOptions())
	if err != nil {
		panic(err) // unreachable: the defaults are valid
	}
	return p
}
