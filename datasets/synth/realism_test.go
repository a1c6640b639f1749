package synth

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/engagehq/engage/datasets"
)

// realism summarises a history the way a collections team reads its own:
// engagement within 48 h per channel, money, complaints, and when engagement
// happens relative to the debtor's hidden active hours.
type realism struct {
	sent, engaged        [nContact]int
	wSent, wEngaged      [nContact]float64 // weighted by 1/propensity: an untargeted campaign
	contacts, accounts   int
	referred, collected  int64
	payers               int
	complaints, optOuts  int
	engagements, inPeak  int // engagement events; those within 2 h of the day's peak
	closeShare, clearGap float64
}

func measure(w *World, c *collect) realism {
	var r realism
	idx := map[string]int{}
	for i, a := range w.Accounts() {
		idx[a.ID] = i
		r.referred += a.Balance
	}
	r.accounts = w.Len()
	type dec struct {
		ch   int
		send int64
		w    float64
		done bool
	}
	decs := map[string]*dec{}
	for _, d := range c.decisions {
		ch := datasets.ChannelIndex(d.Channel)
		decs[d.DecisionID] = &dec{ch: ch, send: d.SendAt, w: 1 / d.Propensity}
		r.sent[ch]++
		r.wSent[ch] += 1 / d.Propensity
		r.contacts++
	}
	paid := map[string]bool{}
	for _, e := range c.events {
		switch e.Type {
		case datasets.EventOpened, datasets.EventClicked, datasets.EventReplied,
			datasets.EventCallConversation, datasets.EventInboundCall:
			i := idx[e.AccountID]
			p := &w.prefs[i]
			lt := time.UnixMicro(e.At).In(w.Location(i))
			peak := p.peak
			if wd := lt.Weekday(); wd == time.Saturday || wd == time.Sunday {
				peak = p.peakWeekend
			}
			r.engagements++
			if d := abs(float64(lt.Hour() - peak)); min(d, 24-d) <= 2 {
				r.inPeak++
			}
			if d := decs[e.DecisionID]; d != nil && !d.done && e.At-d.send <= 48*3600*1e6 {
				d.done = true
				r.engaged[d.ch]++
				r.wEngaged[d.ch] += d.w
			}
		case datasets.EventPayment:
			r.collected += e.Amount
			paid[e.AccountID] = true
		case datasets.EventComplaint:
			r.complaints++
		case datasets.EventOptOut:
			r.optOuts++
		}
	}
	r.payers = len(paid)
	close := 0
	for i := range w.prefs {
		if w.prefs[i].close {
			close++
		}
	}
	r.closeShare = float64(close) / float64(len(w.prefs))
	return r
}

func (r realism) rate(c int) float64 { return float64(r.engaged[c]) / float64(max(r.sent[c], 1)) }

// untargeted is the engagement rate of channel c had every contact chosen its
// channel, hour and message at random (self-normalised inverse propensity):
// what a campaign that does not target would see, the number industry
// benchmarks quote.
func (r realism) untargeted(c int) float64 { return r.wEngaged[c] / max(r.wSent[c], 1e-9) }

func (r realism) overall() float64 {
	n := 0
	for _, k := range r.engaged {
		n += k
	}
	return float64(n) / float64(max(r.contacts, 1))
}

func (r realism) String() string {
	var s strings.Builder
	fmt.Fprintf(&s, "%d accounts, %.1f contacts each; engaged within 48 h: %.1f%% overall", r.accounts,
		float64(r.contacts)/float64(r.accounts), 100*r.overall())
	for c := range nContact {
		fmt.Fprintf(&s, ", %s %.1f%% (%d sent)", datasets.ContactChannels[c], 100*r.rate(c), r.sent[c])
	}
	s.WriteString("\nuntargeted (inverse-propensity weighted):")
	for c := range nContact {
		fmt.Fprintf(&s, " %s %.1f%%", datasets.ContactChannels[c], 100*r.untargeted(c))
	}
	fmt.Fprintf(&s, "\nliquidation %.1f%%, %.1f%% of accounts paid something; complaints %.2f, opt-outs %.2f per 1000 contacts",
		100*float64(r.collected)/float64(r.referred), 100*float64(r.payers)/float64(r.accounts),
		1000*float64(r.complaints)/float64(r.contacts), 1000*float64(r.optOuts)/float64(r.contacts))
	fmt.Fprintf(&s, "\n%.1f%% of engagement events within 2 h of the debtor's peak; %.1f%% of debtors have a close runner-up channel",
		100*float64(r.inPeak)/float64(max(r.engagements, 1)), 100*r.closeShare)
	return s.String()
}

// TestRealism checks the world against what real collections see: email open
// rates of 20-40%, SMS response of 5-15% (of untargeted sends), 15-25% of contacts engaged within
// 48 h overall, engagement happening in the debtor's active hours, and a
// liquidation rate of a few to a few tens of percent over 90 days.
func TestRealism(t *testing.T) {
	w, c := world()
	r := measure(w, c)
	t.Log(r)
	check := func(what string, v, lo, hi float64) {
		t.Helper()
		if v < lo || v > hi {
			t.Errorf("%s %.3f outside [%g, %g]", what, v, lo, hi)
		}
	}
	check("overall engagement", r.overall(), 0.15, 0.25)
	check("email engagement", r.untargeted(chEmail), 0.20, 0.40)
	check("sms engagement", r.untargeted(chSMS), 0.05, 0.15)
	check("call engagement", r.untargeted(chCall), 0.05, 0.25)
	check("push engagement", r.untargeted(chPush), 0.05, 0.30)
	check("letter engagement", r.untargeted(chLetter), 0.01, 0.12)
	check("engagement in active hours", float64(r.inPeak)/float64(r.engagements), 0.75, 1)
	check("liquidation", float64(r.collected)/float64(r.referred), 0.03, 0.40)
	check("payers", float64(r.payers)/float64(r.accounts), 0.10, 0.60)
	check("close runner-up share", r.closeShare, CloseShare-0.02, CloseShare+0.02)
	check("complaints per contact", float64(r.complaints)/float64(r.contacts), 0.0002, 0.01)
}
