package reports

import (
	"cmp"
	"slices"
	"time"

	"github.com/engagehq/engage/datasets"
)

// Funnel stages, in order.
var Stages = []string{"sent", "delivered", "engaged", "replied", "promised", "paid"}

// ChannelsReport is the contact funnel sent → delivered → opened/answered →
// replied → promised → paid, per channel and per channel × jurisdiction.
//
// The unit is a contact sent in the period, with everything that followed it
// (even after the period ends). Delivered: a delivered event, a call that
// rang (any outcome but call_not_connected) or a mailed letter. Engaged
// (opened/answered): opened, clicked, replied, a call conversation or an
// inbound call after a letter. Replied: a reply or a conversation. These four
// are nested. Promised and paid count contacts with a promise or a payment
// attributed to them (by decision id, else last touch), so they need not be
// nested in the stages before them (a reminder nobody opened can still be
// followed by a payment).
type ChannelsReport struct {
	Report  string    `json:"report"`
	Filter  Filter    `json:"filter"`
	From    time.Time `json:"from"`
	To      time.Time `json:"to"`
	Status  string    `json:"status"`
	Message string    `json:"message,omitempty"`
	// Stages names the funnel's stages in order.
	Stages []string `json:"stages"`
	// ByChannel has one funnel per channel (Jurisdiction empty).
	ByChannel []Funnel `json:"by_channel"`
	// ByChannelJurisdiction splits each channel by jurisdiction.
	ByChannelJurisdiction []Funnel `json:"by_channel_jurisdiction"`
}

// Funnel is the funnel of one channel (and jurisdiction).
type Funnel struct {
	Channel      string `json:"channel"`
	Jurisdiction string `json:"jurisdiction,omitempty"`
	// Counts[i] is the number of contacts that reached Stages[i].
	Counts []int `json:"counts"`
	// Rates[i] is Counts[i]/Counts[0] (share of contacts sent).
	Rates []*float64 `json:"rates"`
	// StepRates[i] is Counts[i]/Counts[i-1] (null for i = 0 or an empty
	// previous stage).
	StepRates []*float64 `json:"step_rates"`
}

var stageBits = []uint8{0, stageDelivered, stageEngaged, stageReplied, stagePromised, stagePaid}

// Channels computes the channel funnel report over the filter's slice.
func (b *Book) Channels(f Filter) *ChannelsReport {
	from, to := b.bounds(&f)
	r := &ChannelsReport{Report: "channels", Filter: f, From: time.UnixMicro(from).UTC(), To: time.UnixMicro(to).UTC(),
		Status: StatusOK, Stages: Stages}
	type key struct{ ch, jur string }
	counts := map[key][]int{}
	add := func(k key, st uint8) {
		c := counts[k]
		if c == nil {
			c = make([]int, len(Stages))
			counts[k] = c
		}
		for i, bit := range stageBits {
			if i == 0 || st&bit != 0 {
				c[i]++
			}
		}
	}
	for _, a := range b.population(&f, to) {
		for _, c := range a.contacts {
			if c.at < from || c.at >= to || !f.matchChannel(c.ch) {
				continue
			}
			ch := "unknown"
			if c.ch >= 0 {
				ch = datasets.Channels[c.ch]
			}
			add(key{ch, ""}, c.stages)
			add(key{ch, a.Jurisdiction}, c.stages)
		}
	}
	if len(counts) == 0 {
		r.Status = StatusNotEnoughData
		r.Message = "not enough data: no contacts in this period and slice"
	}
	r.ByChannel, r.ByChannelJurisdiction = []Funnel{}, []Funnel{}
	for k, c := range counts {
		fn := Funnel{Channel: k.ch, Jurisdiction: k.jur, Counts: c,
			Rates: make([]*float64, len(c)), StepRates: make([]*float64, len(c))}
		for i := range c {
			fn.Rates[i] = num(float64(c[i])/float64(c[0]), c[0] > 0)
			if i > 0 {
				fn.StepRates[i] = num(float64(c[i])/float64(c[i-1]), c[i-1] > 0)
			}
		}
		if k.jur == "" {
			r.ByChannel = append(r.ByChannel, fn)
		} else {
			r.ByChannelJurisdiction = append(r.ByChannelJurisdiction, fn)
		}
	}
	order := func(x, y Funnel) int {
		return cmp.Or(cmp.Compare(chanOrder(x.Channel), chanOrder(y.Channel)), cmp.Compare(x.Jurisdiction, y.Jurisdiction))
	}
	slices.SortFunc(r.ByChannel, order)
	slices.SortFunc(r.ByChannelJurisdiction, order)
	return r
}

func chanOrder(c string) int {
	if i := datasets.ChannelIndex(c); i >= 0 {
		return i
	}
	return len(datasets.Channels)
}
