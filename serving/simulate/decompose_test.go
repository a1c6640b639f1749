package simulate

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/engagehq/engage/datasets"

	"github.com/engagehq/engage/compliance"
	"github.com/engagehq/engage/serving/engine"
)

// TestDecompose measures where the model policy loses against the oracle:
// the model with one part of its action (message, send hour, channel) replaced
// by the hidden truth's. Slow: ENGAGE_SLOW=1; size by ENGAGE_DECOMPOSE_ACCOUNTS
// (default 10000) and ENGAGE_DECOMPOSE_DAYS (90); ENGAGE_DECOMPOSE_ONLY lists
// the variants to play (comma-separated names); ENGAGE_DECOMPOSE_SEED picks the
// world; ENGAGE_DECOMPOSE_MESSAGE_TARGET ("-": none), _BONUS, _LATE (a bool),
// _ALLHOURS, _ITER, _ROWS and _TRAIN_ACCOUNTS override the model policy's
// defaults.
func TestDecompose(t *testing.T) {
	if os.Getenv("ENGAGE_SLOW") == "" {
		t.Skip("slow: set ENGAGE_SLOW=1")
	}
	o := DefaultOptions()
	o.Accounts, o.Days = envInt("ENGAGE_DECOMPOSE_ACCOUNTS", 10000), envInt("ENGAGE_DECOMPOSE_DAYS", 90)
	o.PretrainAccounts = min(o.PretrainAccounts, o.Accounts)
	o.Bootstrap = 0
	if v, ok := os.LookupEnv("ENGAGE_DECOMPOSE_MESSAGE_TARGET"); ok {
		o.MessageTarget = strings.TrimPrefix(v, "-") // "-": none
	}
	if v, err := strconv.ParseFloat(os.Getenv("ENGAGE_DECOMPOSE_BONUS"), 64); err == nil {
		o.ExploreBonus = v
	}
	if v, err := strconv.ParseBool(os.Getenv("ENGAGE_DECOMPOSE_LATE")); err == nil {
		o.LateResponses = v
	}
	o.AllHours = os.Getenv("ENGAGE_DECOMPOSE_ALLHOURS") != ""
	o.Seeds = []uint64{uint64(envInt("ENGAGE_DECOMPOSE_SEED", 1))}
	o.GBDTIter = envInt("ENGAGE_DECOMPOSE_ITER", o.GBDTIter)
	o.TrainRows = envInt("ENGAGE_DECOMPOSE_ROWS", o.TrainRows)
	o.TrainAccounts = envInt("ENGAGE_DECOMPOSE_TRAIN_ACCOUNTS", o.TrainAccounts)
	w, err := newWorld(&o, o.Seeds[0])
	if err != nil {
		t.Fatal(err)
	}
	truth := w.Truth()
	variants := []struct {
		name                   string
		model                  bool
		channel, hour, message bool
	}{
		{"bau", false, false, false, false},
		{"model", true, false, false, false},
		{"model+true message", true, false, false, true},
		{"model+true hour+true message", true, false, true, true},
		{"model+true channel+true hour", true, true, true, false},
		{"oracle", false, true, true, true},
	}
	only := os.Getenv("ENGAGE_DECOMPOSE_ONLY")
	var b strings.Builder
	fmt.Fprintf(&b, "\n| variant | liquidation | engaged / contact | contacts / payment | complaints / M | contacts |\n|---|---:|---:|---:|---:|---:|\n")
	for _, v := range variants {
		if only != "" && !strings.Contains(","+only+",", ","+v.name+",") {
			continue
		}
		ctx := context.Background()
		s := &sim{o: &o, seed: o.Seeds[0], w: w, fw: nil, truth: truth, policy: PolicyModel, bar: newBar(nil, int64(o.Days))}
		s.fw, s.audit = testFirewall(t), testFirewall(t)
		if err := s.setup(); err != nil {
			t.Fatal(err)
		}
		or := &oraclePolicy{fw: s.fw, truth: truth, cost: engine.DefaultOptions().Cost}
		var dec decider = or
		var between func(int) error
		cadence := true
		switch {
		case v.name == "bau":
			dec, cadence = &bauPolicy{fw: s.fw, w: w}, false
		case v.model:
			mp, b, tr, err := s.modelDecider(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer tr.close()
			if tr.late != nil {
				t.Logf("late-response factors %v", tr.late)
			}
			between = b
			dec = mp
			if v.channel || v.hour || v.message {
				dec = &mixPolicy{model: mp, oracle: or, channel: v.channel, hour: v.hour, message: v.message}
			}
		}
		if cadence {
			dec = &tallyPolicy{inner: dec, truth: truth}
		}
		if err := s.days(ctx, dec, cadence, between); err != nil {
			t.Fatal(err)
		}
		r := s.measure()
		fmt.Fprintf(&b, "| %s | %.2f%% | %.3f | %.2f | %.0f | %d |\n", v.name, 100*r.Liquidation, r.EngagedRate, r.ContactsPerPayment, r.ComplaintsPerMillion, r.Contacts)
		t.Logf("%s: liquidation %.2f%%, engaged %.3f", v.name, 100*r.Liquidation, r.EngagedRate)
		if tp, ok := dec.(*tallyPolicy); ok {
			t.Logf("%s: choices matching the hidden truth by past contacts\n%s", v.name, tp.table())
		}
	}
	t.Log(b.String())
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func testFirewall(t *testing.T) *compliance.Firewall {
	t.Helper()
	fw, err := compliance.Open(compliance.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	return fw
}

// tallyPolicy counts how often a policy's contacts match the hidden truth:
// the best channel, an hour within 1 h of the day's peak, the best message,
// by the account's number of past contacts.
type tallyPolicy struct {
	inner decider
	truth []datasets.Truth
	mu    sync.Mutex
	n     [4][4]int // bucket x (contacts, channel, hour, message)
	conf  [5][5]int // 5+ past contacts: hidden best channel x chosen channel
}

func (p *tallyPolicy) decide(ctx context.Context, a *account, now time.Time, id string) (*choice, error) {
	c, err := p.inner.decide(ctx, a, now, id)
	if err != nil || c == nil {
		return c, err
	}
	tr := &p.truth[a.i]
	peak := int(tr.PeakHour)
	if wd := c.sendAt.In(a.loc).Weekday(); wd == time.Saturday || wd == time.Sunday {
		peak = int(tr.PeakHourWeekend)
	}
	d := c.hour - peak
	if d < 0 {
		d = -d
	}
	d = min(d, 24-d)
	b := 0
	switch past := len(a.decs); {
	case past >= 10:
		b = 3
	case past >= 5:
		b = 2
	case past >= 1:
		b = 1
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n[b][0]++
	if c.channel == tr.BestChannel {
		p.n[b][1]++
	}
	if bi, ci := datasets.ChannelIndex(tr.BestChannel), datasets.ChannelIndex(c.channel); b >= 2 && bi >= 0 && bi < 5 && ci >= 0 && ci < 5 {
		p.conf[bi][ci]++
	}
	if d <= 1 {
		p.n[b][2]++
	}
	if c.message == tr.BestMessage {
		p.n[b][3]++
	}
	return c, nil
}

func (p *tallyPolicy) table() string {
	var b strings.Builder
	b.WriteString("| past contacts | contacts | channel = best | hour within 1 h of peak | message = best |\n|---|---:|---:|---:|---:|\n")
	for k, name := range []string{"0", "1-4", "5-9", "10+"} {
		n := p.n[k]
		r := func(i int) float64 { return 100 * float64(n[i]) / float64(max(n[0], 1)) }
		fmt.Fprintf(&b, "| %s | %d | %.1f%% | %.1f%% | %.1f%% |\n", name, n[0], r(1), r(2), r(3))
	}
	b.WriteString("\nChannel chosen (columns) by hidden best channel (rows), 5+ past contacts:\n\n| best \\ chosen |")
	for _, c := range datasets.ContactChannels {
		b.WriteString(" " + c + " |")
	}
	b.WriteString("\n|---|---:|---:|---:|---:|---:|\n")
	for i, c := range datasets.ContactChannels {
		fmt.Fprintf(&b, "| %s |", c)
		tot := 0
		for _, n := range p.conf[i] {
			tot += n
		}
		for _, n := range p.conf[i] {
			fmt.Fprintf(&b, " %.1f%% |", 100*float64(n)/float64(max(tot, 1)))
		}
		b.WriteString("\n")
	}
	return b.String()
}

// mixPolicy plays the model policy with some parts of its action replaced by
// the oracle's: it measures what each part (channel, send hour, message) of
// the model's choice costs against the hidden truth. Parts are taken from
// the oracle when the corresponding flag is set; the send hour from the
// oracle is its best hour on the chosen channel.
type mixPolicy struct {
	model                  *modelPolicy
	oracle                 *oraclePolicy
	channel, hour, message bool
}

func (p *mixPolicy) decide(ctx context.Context, a *account, now time.Time, id string) (*choice, error) {
	mc, err := p.model.decide(ctx, a, now, id)
	if err != nil || mc == nil {
		return mc, err
	}
	if p.message {
		mc.message = p.oracle.truth[a.i].BestMessage
	}
	if !p.channel && !p.hour {
		return mc, nil
	}
	var buf [120]slot
	sub, slots, nch, err := permitted(p.oracle.fw, a, now, buf[:0])
	if err != nil || nch == 0 {
		return nil, err
	}
	ch := datasets.ChannelIndex(mc.channel)
	if p.channel {
		ch = slots[p.oracle.best(a, slots)].ch
	}
	var on []slot
	for _, s := range slots {
		if s.ch == ch {
			on = append(on, s)
		}
	}
	if len(on) == 0 {
		return mc, nil
	}
	s := on[0]
	if p.hour {
		s = on[p.oracle.best(a, on)]
	} else {
		for _, x := range on {
			if x.hour == mc.hour {
				s = x
				break
			}
		}
	}
	c := &choice{channel: datasets.ContactChannels[s.ch], message: mc.message, sendAt: s.at, hour: s.hour, prop: mc.prop, policy: mc.policy, model: mc.model}
	return withNotices(sub, c)
}
