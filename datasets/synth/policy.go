package synth

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/engagehq/engage/datasets"
)

// Sink receives the history's rows. History calls it from one goroutine, per
// account in account order, each stream sorted by (account, time, id).
type Sink interface {
	Decision(datasets.Decision) error
	Event(datasets.Event) error
}

// bauCycle is the BAU's multi-channel cadence: the default channel of the n-th
// contact is the first allowed channel from position n%len.
var bauCycle = []int{chEmail, chSMS, chCall, chLetter, chEmail, chCall, chSMS, chPush}

// bauHour is the BAU's default local send hour per channel.
var bauHour = [nContact]int{chEmail: 9, chSMS: 12, chCall: 17, chPush: 19, chLetter: 10}

// Contact hours of the plain BAU rule: sends start in [firstHour, lastHour].
const (
	firstHour = 8
	lastHour  = 20 // a send in the 20:00 slot ends before 21:00
	nHours    = lastHour - firstHour + 1
)

// bauMessage is the BAU's default tone: it hardens as the debt ages.
func bauMessage(p *prefs, balance int64, dpd int) int {
	switch {
	case p.hardship:
		return msgPlan
	case balance >= 200000 && dpd >= 150:
		return msgDiscount
	case dpd < 60:
		return msgFriendly
	case dpd < 120:
		return msgEmpathetic
	}
	return msgFirm
}

// decRec is a decision while an account is simulated.
type decRec struct {
	at, sendAt int64
	ch, msg    int
	hour       int
	prop       float64
}

// simulator holds one worker's reusable buffers.
type simulator struct {
	w     *World
	src   *rand.PCG
	rng   *rand.Rand
	evs   []ev
	decs  []decRec
	idbuf []byte
}

func newSimulator(w *World) *simulator {
	src := rand.NewPCG(0, 0)
	return &simulator{w: w, src: src, rng: rand.New(src)}
}

// play runs the BAU policy over account i and appends its rows, sorted.
func (s *simulator) play(i int, events []datasets.Event, decisions []datasets.Decision) ([]datasets.Event, []datasets.Decision) {
	w := s.w
	o := &w.opts
	e := w.env(i)
	p, a := e.p, e.a
	s.src.Seed(o.Seed^saltHistory, uint64(i))
	rng := s.rng
	st := state{remaining: a.Balance}
	s.evs, s.decs = s.evs[:0], s.decs[:0]
	zt := w.zones[p.zone]
	referred := a.ReferredAt / 1e6
	var buf [nContact]int
	next := 0
	for d := 0; d <= o.Days; d++ {
		base := zt.base[d]
		open, shut := base+firstHour*3600, base+(lastHour+1)*3600
		if !p.noContact && !st.closed && d >= next && open >= referred && shut <= w.end && st.pauseUntil <= open {
			next = d + 1
			// Conservative rolling cap: every earlier send that could share a
			// 7-day window with any slot of today counts.
			allowed := allowedChannels(a, &st, buf[:0])
			if len(allowed) > 0 && st.since(open-7*86400) < o.WeeklyCap {
				s.decide(&e, &st, d, base, referred, allowed, rng)
				next = d + p.gap
			}
		}
		if base+7*3600 >= referred {
			s.evs = e.spontaneous(&st, base, w.cal[d], rng, s.evs)
		}
	}
	return s.emit(i, events, decisions)
}

// choice is one BAU action and the probability with which it was chosen.
type choice struct {
	ch, hour, msg int
	prop          float64
}

// bauChannel is the BAU's default channel: the allowed channel with the best
// response so far, (engaged + 1) / (sent + 3), as collections teams route to
// the channel that answers. The optimistic prior makes it try every channel
// before settling; ties go to the earliest in the cadence from the current
// position, so before any contact it follows the cadence.
func bauChannel(sent, seen *[nContact]int, contacts int, allowed []int) int {
	def := -1
	for k := range bauCycle {
		c := bauCycle[(contacts+k)%len(bauCycle)]
		if !slices.Contains(allowed, c) {
			continue
		}
		// (seen+1)/(sent+3) compared exactly, in integers
		if def < 0 || (seen[c]+1)*(sent[def]+3) > (seen[def]+1)*(sent[c]+3) {
			def = c
		}
	}
	if def < 0 {
		return allowed[0]
	}
	return def
}

// bauDefaultHour is the BAU's default send hour: the local hour of the
// debtor's latest engagement it has seen when that hour is a permitted send
// hour (send-time optimisation, as marketing tools do), else the channel's
// batch hour. seenHour is -1 before any engagement.
func bauDefaultHour(ch, seenHour int) int {
	if seenHour >= firstHour && seenHour <= lastHour {
		return seenHour
	}
	return bauHour[ch]
}

// bauChoose draws the BAU action: a default channel (bauChannel), a default
// hour (bauDefaultHour) and a default tone by debt age, each replaced by a uniform
// draw with its epsilon. prop is the product of the three component
// probabilities, so it is exact.
func (o *Options) bauChoose(p *prefs, a *datasets.Account, sent, seen *[nContact]int, seenHour, contacts, dpd int, allowed []int, rng *rand.Rand) choice {
	n := len(allowed)
	def := bauChannel(sent, seen, contacts, allowed)
	ch := def
	if rng.Float64() < o.EpsilonChannel {
		ch = allowed[rng.IntN(n)]
	}
	pc := o.EpsilonChannel / float64(n)
	if ch == def {
		pc += 1 - o.EpsilonChannel
	}

	defHour := bauDefaultHour(ch, seenHour)
	hour := defHour
	if rng.Float64() < o.EpsilonHour {
		hour = firstHour + rng.IntN(nHours)
	}
	ph := o.EpsilonHour / nHours
	if hour == defHour {
		ph += 1 - o.EpsilonHour
	}

	defMsg := bauMessage(p, a.Balance, dpd)
	msg := defMsg
	if rng.Float64() < o.EpsilonMessage {
		msg = rng.IntN(nMessage)
	}
	pm := o.EpsilonMessage / nMessage
	if msg == defMsg {
		pm += 1 - o.EpsilonMessage
	}
	return choice{ch: ch, hour: hour, msg: msg, prop: pc * ph * pm}
}

// allowedChannels lists the channels the account consented to and did not opt
// out of, into buf.
func allowedChannels(a *datasets.Account, st *state, buf []int) []int {
	buf = buf[:0]
	for c := range nContact {
		if a.Consent(datasets.Channels[c]) && st.optOut&(1<<c) == 0 {
			buf = append(buf, c)
		}
	}
	return buf
}

// decide makes one BAU decision on local day d and draws its outcome.
func (s *simulator) decide(e *env, st *state, d int, base, referred int64, allowed []int, rng *rand.Rand) {
	dpd := int(e.a.DaysPastDue) + int((base-referred)/86400)
	at := max(base+7*3600, referred)
	st.settle(at)
	ch := s.w.opts.bauChoose(e.p, e.a, &st.chSent, &st.seen, st.lastSeenHour(), st.contacts, dpd, allowed, rng)
	sendAt := base + int64(ch.hour)*3600
	s.decs = append(s.decs, decRec{
		at:     at,
		sendAt: sendAt,
		ch:     ch.ch,
		msg:    ch.msg,
		hour:   ch.hour,
		prop:   ch.prop,
	})
	cd := s.w.cal[d]
	c := contact{at: sendAt, ch: ch.ch, msg: ch.msg, hour: ch.hour, weekend: cd.weekend, season: cd.season, dec: int32(len(s.decs) - 1)}
	s.evs = e.outcome(st, &c, rng, s.evs)
}

// BAU returns the action the business-as-usual policy takes for account i on
// the local calendar day of day, given the closed-loop state, and the
// probability with which it chose it; ok is false when BAU would not contact
// (flags, paid off, paused, cadence, weekly cap, no allowed channel). Playing
// the returned action through Outcome reproduces BAU in a closed loop.
func (w *World) BAU(i int, day time.Time, rng *rand.Rand) (a Action, propensity float64, ok bool) {
	if i < 0 || i >= len(w.accounts) || rng == nil {
		return Action{}, 0, false
	}
	e := w.env(i)
	st := w.playState(i)
	lt := day.In(e.loc)
	y, m, d := lt.Date()
	base := time.Date(y, m, d, 12, 0, 0, 0, e.loc).Unix() - 12*3600
	open := base + firstHour*3600
	referred := e.a.ReferredAt / 1e6
	if e.p.noContact || st.closed || open < referred || st.pauseUntil > open {
		return Action{}, 0, false
	}
	if st.nRecent > 0 {
		last := st.recent[(st.nRecent-1)%len(st.recent)]
		if last >= base-int64(e.p.gap-1)*86400 {
			return Action{}, 0, false
		}
	}
	if st.since(open-7*86400) >= w.opts.WeeklyCap {
		return Action{}, 0, false
	}
	var buf [nContact]int
	allowed := allowedChannels(e.a, st, buf[:0])
	if len(allowed) == 0 {
		return Action{}, 0, false
	}
	dpd := int(e.a.DaysPastDue) + int((base-referred)/86400)
	st.settle(max(base+7*3600, referred))
	c := w.opts.bauChoose(e.p, e.a, &st.chSent, &st.seen, st.lastSeenHour(), st.contacts, dpd, allowed, rng)
	return Action{
		Channel: datasets.Channels[c.ch],
		SendAt:  time.Unix(base+int64(c.hour)*3600, 0).UTC(),
		Message: datasets.Messages[c.msg],
	}, c.prop, true
}

// emit turns the account's records into rows with ids, dropping what falls after
// the end of the history, and appends them sorted by (time, id).
func (s *simulator) emit(i int, events []datasets.Event, decisions []datasets.Decision) ([]datasets.Event, []datasets.Decision) {
	w := s.w
	a := &w.accounts[i]
	digits := a.ID[1:]
	evs := s.evs[:0]
	for _, x := range s.evs {
		if x.at < w.end {
			evs = append(evs, x)
		}
	}
	slices.SortStableFunc(evs, func(x, y ev) int { return cmp.Compare(x.at, y.at) })

	// All ids of the account share one string: D<digits>-00001..., E<digits>-000001...
	const decW, evW = 5, 6
	b := s.idbuf[:0]
	for k := range s.decs {
		b = appendID(b, 'D', digits, k+1, decW)
	}
	for k := range evs {
		b = appendID(b, 'E', digits, k+1, evW)
	}
	s.idbuf = b
	ids := string(b)
	dl, el := 1+len(digits)+1+decW, 1+len(digits)+1+evW
	decID := func(k int) string { return ids[k*dl : (k+1)*dl] }

	p := &w.prefs[i]
	for k, d := range s.decs {
		decisions = append(decisions, datasets.Decision{
			Tenant:     a.Tenant,
			DecisionID: decID(k),
			AccountID:  a.ID,
			At:         d.at * 1e6,
			SendAt:     d.sendAt * 1e6,
			Channel:    datasets.Channels[d.ch],
			LocalHour:  int32(d.hour),
			Message:    datasets.Messages[d.msg],
			Propensity: d.prop,
			Policy:     datasets.PolicyBAU,
			Holdout:    p.holdout,
		})
	}
	off := len(s.decs) * dl
	for k := range evs {
		r := w.row(a, &evs[k], ids[off+k*el:off+(k+1)*el])
		if evs[k].dec >= 0 {
			r.DecisionID = decID(int(evs[k].dec))
		}
		events = append(events, r)
	}
	return events, decisions
}

func appendID(b []byte, prefix byte, digits string, n, width int) []byte {
	b = append(b, prefix)
	b = append(b, digits...)
	b = append(b, '-')
	var tmp [20]byte
	s := strconv.AppendInt(tmp[:0], int64(n), 10)
	for range width - len(s) {
		b = append(b, '0')
	}
	return append(b, s...)
}

// chunk is the output of a shard of consecutive accounts.
type chunk struct {
	hi        int
	events    []datasets.Event
	decisions []datasets.Decision
}

const chunkAccounts = 1024

// History plays the business-as-usual policy over every account and hands the
// rows to sink in account order: for each shard of accounts its decisions, then
// its events, each sorted by (account_id, at, id). Shards are simulated in
// parallel, but the rows are the same for any number of workers. History does
// not touch the closed-loop state of Outcome.
func (w *World) History(ctx context.Context, sink Sink) error {
	return w.history(ctx, sink, nil)
}

func (w *World) history(ctx context.Context, sink Sink, progress func(done, total int)) error {
	n := len(w.accounts)
	nChunks := (n + chunkAccounts - 1) / chunkAccounts
	workers := w.opts.workers()
	ctx, cancel := context.WithCancel(ctx)

	results := make([]chan *chunk, nChunks)
	for c := range results {
		results[c] = make(chan *chunk, 1)
	}
	tokens := make(chan struct{}, 2*workers)
	// Chunks are recycled once the sink has seen them, so their row buffers are
	// reused instead of regrown for every shard.
	pool := make(chan *chunk, 2*workers+1)
	var nextChunk atomic.Int64
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sim := newSimulator(w)
			for {
				select {
				case tokens <- struct{}{}:
				case <-ctx.Done():
					return
				}
				c := int(nextChunk.Add(1) - 1)
				if c >= nChunks {
					return
				}
				lo, hi := c*chunkAccounts, min((c+1)*chunkAccounts, n)
				var out *chunk
				select {
				case out = <-pool:
					out.events, out.decisions = out.events[:0], out.decisions[:0]
				default:
					out = &chunk{}
				}
				out.hi = hi
				for i := lo; i < hi; i++ {
					out.events, out.decisions = sim.play(i, out.events, out.decisions)
				}
				results[c] <- out
			}
		}()
	}

	for c := range nChunks {
		var out *chunk
		select {
		case out = <-results[c]:
		case <-ctx.Done():
			return ctx.Err()
		}
		for k := range out.decisions {
			if err := sink.Decision(out.decisions[k]); err != nil {
				return fmt.Errorf("history sink: %w", err)
			}
		}
		for k := range out.events {
			if err := sink.Event(out.events[k]); err != nil {
				return fmt.Errorf("history sink: %w", err)
			}
		}
		hi := out.hi
		clear(out.events) // drop string references before reuse
		clear(out.decisions)
		select {
		case pool <- out:
		default:
		}
		<-tokens
		if progress != nil {
			progress(hi, n)
		}
	}
	return ctx.Err()
}
