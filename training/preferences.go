package training

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/engagehq/engage/datasets"
	"github.com/engagehq/engage/datasets/synth"
	"github.com/engagehq/engage/features"
	"github.com/engagehq/engage/models"
	"github.com/engagehq/engage/models/action"
)

// PreferenceOptions configure EvaluatePreferences.
type PreferenceOptions struct {
	// Hours are the candidate local send hours (default 8..20, the hours the
	// world's logging policy ever used).
	Hours []int
	// ConsentedOnly restricts candidate channels to those the account consented
	// to (the hidden best channel may lie outside them).
	ConsentedOnly bool
	// Search is the scorer's search strategy.
	Search action.Search
	// MessageModel, when set, reads the preferred message out instead of the
	// evaluated model: its best message for the preferred channel and hour.
	// It is meant for a payment model fitted on engaged contacts: the tone
	// moves engagement by a few percent but payment by half, so an
	// engagement model barely sees it. It must take the features package's
	// columns and priors like the evaluated model.
	MessageModel *action.Model
	// Progress, when not nil, receives a progress bar.
	Progress io.Writer
	// RawChannel reads the preferred channel as the channel of the best
	// action (the expected-engagement argmax) instead of the de-mixed read-out
	// (see PreferenceReport.ChannelMix).
	RawChannel bool
	// ConsentedChannel reads the preferred channel among the channels the
	// account consented to (the "best allowed action"; a channel
	// without consent is never contacted, so the history holds no evidence
	// on it), the hour and message as before. Unlike ConsentedOnly, every
	// channel is still scored, and the report also gives the read-out over
	// every channel (AnyChannelHits).
	ConsentedChannel bool
}

// PreferenceBucket is the accuracy among accounts with a number of past
// contacts in [Lo, Hi] (Hi < 0: no upper bound).
type PreferenceBucket struct {
	Lo, Hi                int
	Accounts              int
	ChannelHits, HourHits int
	MessageHits           int
	HourReachable         int // accounts whose peak is within 1 h of a candidate hour
	HourBestHits          int // hits of the best action's hour, letters included
	HourBestRate          float64
	// SendTimeHits are hits of the dedicated send-time read-out
	// (features.State.SendHour: the candidate hour whose ±1 h window holds
	// most of the debtor's weekday engagement profile).
	SendTimeHits int
	SendTimeRate float64
	// ValueChannelHits are hits of the channel of the best action (the
	// expected-engagement argmax), whichever read-out ChannelHits uses.
	ValueChannelHits int
	ValueChannelRate float64
	// AnyChannelHits are hits of the de-mixed read-out over every scored
	// channel, consented or not (equal to ChannelHits unless
	// PreferenceOptions.ConsentedChannel is set).
	AnyChannelHits         int
	AnyChannelRate         float64
	BaseChannel, BaseHour  int // hits of the per-account empirical baseline
	PopularChannel         int // hits of always answering the most common best channel
	ChannelRate, HourRate  float64
	MessageRate            float64
	BaseChannelRate        float64
	BaseHourRate           float64
	PopularChannelRate     float64
	HourReachableRate      float64
	HourRateAmongReachable float64
}

// PreferenceReport is the known-truth evaluation of an action-value model on a
// synthetic world.
type PreferenceReport struct {
	Model          string
	Buckets        []PreferenceBucket // 0, 1-2, 3-4, 5-9, 10+
	AtLeast5       PreferenceBucket   // 5 or more past contacts
	All            PreferenceBucket
	PopularChannel string
	// Engagements counts accounts by engagements in their history (0, 1, 2,
	// 3+), the signal a per-account preference is learned from.
	Engagements [4]int
	ScoreTime   time.Duration // total scorer time
	Scored      int
	// Breakdowns among accounts with 5+ past contacts: channel hits by the
	// hidden best channel and by whether the hidden runner-up channel is close
	// (at least half the best's affinity), hour hits by the hidden active type.
	ChannelByBest   map[string]Tally
	ChannelByMargin map[string]Tally
	HourByActive    map[string]Tally
	HourByBest      map[string]Tally
	// ChannelByEvidence splits the accounts by what their history holds on
	// the hidden best channel: how many contacts it was sent and whether any
	// was engaged with. A favourite sent on at most twice without an answer
	// cannot be told from the other channels by any read-out.
	ChannelByEvidence map[string]Tally
	// ChannelMix is, per contact channel (datasets.ContactChannels order),
	// the typical best engagement probability of a debtor whose favourite the
	// channel is not (index 0: the median over the accounts whose best
	// action is on another channel) and of one whose favourite it is (index
	// 1: the median over the accounts whose best action is on it). The
	// de-mixed read-out prefers the channel maximising (p - mix0) / (mix1 -
	// mix0), the share of the way from "not the favourite" to "the
	// favourite": an expected-engagement argmax favours channels on which
	// engaging is easy (an email is opened more readily than a call is
	// answered) when the evidence is thin. No truth enters it.
	ChannelMix [][2]float64
	// HourError counts, among accounts with 5+ past contacts, the signed
	// distance (chosen - hidden weekday peak, -12..11) of the model's hour
	// (index 0), of the profile-peak baseline (index 1) and of the send-time
	// read-out (index 2).
	HourError [3][24]int
}

// Tally counts hits among accounts.
type Tally struct{ Accounts, Hits int }

func (t *Tally) add(hit bool) {
	t.Accounts++
	if hit {
		t.Hits++
	}
}

// Rate is Hits/Accounts (NaN without accounts).
func (t Tally) Rate() float64 {
	if t.Accounts == 0 {
		return math.NaN()
	}
	return float64(t.Hits) / float64(t.Accounts)
}

// EvaluatePreferences replays the world's history in dir (accounts, events,
// truth written by synth) into each account's online feature state, reads its
// features at the end of the history, asks the scorer for the preferred
// channel, send hour and message, and compares them with truth.parquet: the
// channel must equal BestChannel, the hour be within 1 hour (circularly) of
// the weekday PeakHour, the message equal BestMessage. Accounts are bucketed
// by their number of past contacts. The model must take the features
// package's columns (a model trained on its X.parquet).
func EvaluatePreferences(ctx context.Context, dir string, m *action.Model, o PreferenceOptions) (PreferenceReport, error) {
	rep := PreferenceReport{Model: m.Version, ChannelByBest: map[string]Tally{}, ChannelByMargin: map[string]Tally{}, HourByActive: map[string]Tally{}, HourByBest: map[string]Tally{}, ChannelByEvidence: map[string]Tally{}}
	if len(o.Hours) == 0 {
		for h := 8; h <= 20; h++ {
			o.Hours = append(o.Hours, h)
		}
	}
	priors := features.UniformPriors()
	if len(m.Priors) > 0 {
		p, err := features.ParsePriors(m.Priors)
		if err != nil {
			return rep, fmt.Errorf("model priors: %w", err)
		}
		priors = p
	}
	accts, err := readAll[datasets.Account](filepath.Join(dir, synth.AccountsFile))
	if err != nil {
		return rep, err
	}
	truth, err := readAll[datasets.Truth](filepath.Join(dir, synth.TruthFile))
	if err != nil {
		return rep, err
	}
	byID := make(map[string]int, len(accts))
	prepared := make([]*features.Account, len(accts))
	states := make([]*features.State, len(accts))
	for i := range accts {
		a, err := features.NewAccount(&accts[i])
		if err != nil {
			return rep, err
		}
		prepared[i], states[i], byID[accts[i].ID] = a, features.NewState(), i
	}
	end := int64(math.MinInt64)
	evr, err := datasets.Open[datasets.Event](filepath.Join(dir, synth.EventsFile))
	if err != nil {
		return rep, err
	}
	buf := make([]datasets.Event, 8192)
	for {
		n, rerr := evr.Next(buf)
		for k := 0; k < n; k++ {
			e := &buf[k]
			i, ok := byID[e.AccountID]
			if !ok {
				continue
			}
			if err := states[i].Apply(e, prepared[i]); err != nil {
				evr.Close()
				return rep, fmt.Errorf("replay events: %w", err)
			}
			end = max(end, e.At)
		}
		if errors.Is(rerr, io.EOF) || (rerr == nil && n == 0) {
			break
		}
		if rerr != nil {
			evr.Close()
			return rep, rerr
		}
	}
	evr.Close()
	if end == math.MinInt64 {
		return rep, badInput("%s holds no events", dir)
	}
	end++

	// Row layout: where each features column goes in the model's row.
	num := features.NumericNames()
	lay := newRowLayout(m)
	var msgLay *rowLayout
	var msgSc *action.Scorer
	if o.MessageModel != nil {
		msgLay = newRowLayout(o.MessageModel)
		if msgSc, err = action.NewScorer(o.MessageModel, action.Options{Channels: datasets.ContactChannels, Hours: o.Hours, Search: o.Search}); err != nil {
			return rep, fmt.Errorf("message model: %w", err)
		}
	}
	contactsK := slices.Index(num, "contacts_total")
	engK := slices.Index(num, "profile_engagements")
	rateK := make([]int, len(datasets.ContactChannels))
	for c, ch := range datasets.ContactChannels {
		rateK[c] = slices.Index(num, ch+"_engagement_rate")
	}
	hourK := slices.Index(num, "profile_hour_00")
	sentK := make(map[string][2]int, len(datasets.ContactChannels))
	for _, ch := range datasets.ContactChannels {
		sentK[ch] = [2]int{slices.Index(num, ch+"_sent"), slices.Index(num, ch+"_engagements")}
	}
	if contactsK < 0 || hourK < 0 || engK < 0 || slices.Contains(rateK, -1) {
		return rep, errors.New("features package layout changed: contacts_total, profile_hour_00 or <channel>_engagement_rate missing")
	}

	sc, err := action.NewScorer(m, action.Options{Channels: datasets.ContactChannels, Hours: o.Hours, Search: o.Search})
	if err != nil {
		return rep, err
	}
	// most common hidden best channel: the population answer.
	counts := map[string]int{}
	for _, t := range truth {
		counts[t.BestChannel]++
	}
	for _, ch := range datasets.ContactChannels {
		if counts[ch] > counts[rep.PopularChannel] {
			rep.PopularChannel = ch
		}
	}

	bounds := [][2]int{{0, 0}, {1, 2}, {3, 4}, {5, 9}, {10, -1}}
	rep.Buckets = make([]PreferenceBucket, len(bounds))
	for b, lh := range bounds {
		rep.Buckets[b].Lo, rep.Buckets[b].Hi = lh[0], lh[1]
	}
	rep.AtLeast5 = PreferenceBucket{Lo: 5, Hi: -1}
	rep.All = PreferenceBucket{Lo: 0, Hi: -1}

	// Accounts are scored first and tallied once every account's per-channel
	// best probability is known: the de-mixed channel read-out needs the
	// population's medians (ChannelMix).
	type scored struct {
		obs     PreferenceBucket
		n       int
		tr      *datasets.Truth
		ev      string // evidence on the hidden best channel
		hourErr [3]int
		chP     [numContactChannels]float64 // best probability per channel, NaN none allowed
		consent [numContactChannels]bool
	}
	var all []scored
	var vec features.Vector
	bar := newBar(o.Progress, int64(len(truth)), "preferences", "accounts")
	defer bar.Finish()
	for ti := range truth {
		if ti%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return rep, err
			}
			_ = bar.Set(ti)
		}
		tr := &truth[ti]
		i, ok := byID[tr.AccountID]
		if !ok {
			continue
		}
		a, st := prepared[i], states[i]
		vec = st.ReadVector(end, a, priors)
		// action-dependent features per candidate, through the features
		// package's Candidates (the code serving uses), on the next local
		// weekday (the hidden peak is the weekday one).
		cands := st.Candidates(a, priors)
		day := nextWeekday(end, a.Row.TimeZone)
		req := lay.request(&vec, cands, day)
		allowed := func(act action.Action) bool { return !o.ConsentedOnly || a.Row.Consent(act.Channel) }
		req.Allowed = allowed
		// The send hour matters for the channels that reach the debtor at the
		// send instant; a letter's hour does not, so the preferred hour is
		// read over the other channels.
		timed := req
		timed.Allowed = func(act action.Action) bool { return act.Channel != datasets.ChannelLetter && allowed(act) }
		var chP [numContactChannels]float64
		for c := range chP {
			chP[c] = math.NaN()
		}
		req.Value = func(act action.Action, p float64) float64 {
			if c := slices.Index(datasets.ContactChannels, act.Channel); c >= 0 && !(p <= chP[c]) {
				chP[c] = p
			}
			return p
		}
		began := time.Now()
		rk, err := sc.Rank(req)
		var rkTimed action.Ranking
		if err == nil {
			rkTimed, err = sc.Rank(timed)
		}
		rep.ScoreTime += time.Since(began)
		rep.Scored++
		if errors.Is(err, action.ErrNoCandidate) {
			continue
		}
		if err != nil {
			return rep, fmt.Errorf("account %s: %w", tr.AccountID, err)
		}
		bestMsg := rk.Message.Best
		if msgSc != nil {
			mreq := msgLay.request(&vec, cands, day)
			ch, hr := rk.Channel.Best, rkTimed.Hour.Best
			mreq.Allowed = func(act action.Action) bool { return act.Channel == ch && act.Hour == hr }
			mrk, err := msgSc.Rank(mreq)
			if err != nil {
				return rep, fmt.Errorf("account %s: message model: %w", tr.AccountID, err)
			}
			bestMsg = mrk.Message.Best
		}
		// empirical baseline: the channel with the best smoothed engagement
		// rate, the candidate hour with the most profile mass.
		bc := 0
		for c := range rateK {
			if vec.Numeric[rateK[c]] > vec.Numeric[rateK[bc]] {
				bc = c
			}
		}
		bh := o.Hours[0]
		for _, h := range o.Hours {
			if vec.Numeric[hourK+h] > vec.Numeric[hourK+bh] {
				bh = h
			}
		}
		peak := int(tr.PeakHour)
		hit := func(ok bool) int {
			if ok {
				return 1
			}
			return 0
		}
		sendHour := st.SendHour(a, priors, false, o.Hours)
		reach := slices.ContainsFunc(o.Hours, func(h int) bool { return hourDist(h, peak) <= 1 })
		obs := PreferenceBucket{
			Accounts:         1,
			ValueChannelHits: hit(rk.Channel.Best == tr.BestChannel),
			HourHits:         hit(hourDist(rkTimed.Hour.Best, peak) <= 1),
			HourBestHits:     hit(hourDist(rk.Best.Action.Hour, peak) <= 1),
			SendTimeHits:     hit(hourDist(sendHour, peak) <= 1),
			MessageHits:      hit(bestMsg == tr.BestMessage),
			HourReachable:    hit(reach),
			BaseChannel:      hit(datasets.ContactChannels[bc] == tr.BestChannel),
			BaseHour:         hit(hourDist(bh, peak) <= 1),
			PopularChannel:   hit(rep.PopularChannel == tr.BestChannel),
		}
		rep.Engagements[min(int(vec.Numeric[engK]), 3)]++
		sa := scored{obs: obs, n: int(vec.Numeric[contactsK]), tr: tr, chP: chP}
		for c, ch := range datasets.ContactChannels {
			sa.consent[c] = a.Row.Consent(ch)
		}
		if k := sentK[tr.BestChannel]; k[0] >= 0 && k[1] >= 0 {
			sa.ev = "sent 0-2 times, never engaged"
			switch sent, eng := vec.Numeric[k[0]], vec.Numeric[k[1]]; {
			case eng > 0:
				sa.ev = "engaged at least once"
			case sent > 2:
				sa.ev = "sent 3+ times, never engaged"
			}
		}
		sa.hourErr = [3]int{(rkTimed.Hour.Best - peak + 48) % 24, (bh - peak + 48) % 24, (sendHour - peak + 48) % 24}
		all = append(all, sa)
	}
	// The de-mixed read-out over every scored channel, and over the
	// consented ones when asked (its own medians: the population it ranks).
	anyP := make([][numContactChannels]float64, len(all))
	mainP := make([][numContactChannels]float64, len(all))
	for k := range all {
		anyP[k], mainP[k] = all[k].chP, all[k].chP
		if o.ConsentedChannel {
			for c, ok := range all[k].consent {
				if !ok {
					mainP[k][c] = math.NaN()
				}
			}
		}
	}
	anyMix := channelMix(anyP)
	rep.ChannelMix = channelMix(mainP)
	tally := func(m map[string]Tally, k string, hit int) {
		t := m[k]
		t.add(hit == 1)
		m[k] = t
	}
	for k := range all {
		sa := &all[k]
		obs, tr, n := sa.obs, sa.tr, sa.n
		pick, anyPick := demix(&mainP[k], rep.ChannelMix), demix(&anyP[k], anyMix)
		if o.RawChannel {
			pick, anyPick = argmax(&mainP[k]), argmax(&anyP[k])
		}
		hitCh := func(c int) int {
			if c >= 0 && datasets.ContactChannels[c] == tr.BestChannel {
				return 1
			}
			return 0
		}
		obs.ChannelHits, obs.AnyChannelHits = hitCh(pick), hitCh(anyPick)
		for b := range rep.Buckets {
			if n >= rep.Buckets[b].Lo && (rep.Buckets[b].Hi < 0 || n <= rep.Buckets[b].Hi) {
				rep.Buckets[b].add(obs)
			}
		}
		if n >= 5 {
			rep.AtLeast5.add(obs)
			tally(rep.ChannelByBest, tr.BestChannel, obs.ChannelHits)
			aff := []float64{tr.AffinityEmail, tr.AffinitySMS, tr.AffinityCall, tr.AffinityPush, tr.AffinityLetter}
			slices.Sort(aff)
			margin := "clear (runner-up < 1/2 of best)"
			if aff[len(aff)-2] >= aff[len(aff)-1]/2 {
				margin = "close (runner-up >= 1/2 of best)"
			}
			tally(rep.ChannelByMargin, margin, obs.ChannelHits)
			if sa.ev != "" {
				tally(rep.ChannelByEvidence, sa.ev, obs.ChannelHits)
			}
			tally(rep.HourByActive, tr.ActiveType, obs.SendTimeHits)
			tally(rep.HourByBest, tr.BestChannel, obs.SendTimeHits)
			for e := range sa.hourErr {
				rep.HourError[e][sa.hourErr[e]]++
			}
		}
		rep.All.add(obs)
	}
	for b := range rep.Buckets {
		rep.Buckets[b].rates()
	}
	rep.AtLeast5.rates()
	rep.All.rates()
	return rep, nil
}

// numContactChannels is len(datasets.ContactChannels).
const numContactChannels = 5

// channelMix computes PreferenceReport.ChannelMix from every account's best
// probability per channel (NaN: not a candidate): per channel, the median
// best probability of the accounts whose best channel (argmax) is another,
// and of those whose best channel it is. A channel no account prefers, or
// that none leaves aside, reads NaN (demix then takes its raw probability).
func channelMix(accounts [][numContactChannels]float64) [][2]float64 {
	var on, off [numContactChannels][]float64
	for k := range accounts {
		chP := &accounts[k]
		best := argmax(chP)
		for c, p := range chP {
			if math.IsNaN(p) {
				continue
			}
			if c == best {
				on[c] = append(on[c], p)
			} else {
				off[c] = append(off[c], p)
			}
		}
	}
	mix := make([][2]float64, numContactChannels)
	for c := range mix {
		mix[c] = [2]float64{median(off[c]), median(on[c])}
	}
	return mix
}

// argmax is the channel with the highest probability (the earlier on ties),
// -1 when every entry is NaN.
func argmax(chP *[numContactChannels]float64) int {
	best := -1
	for c, p := range chP {
		if !math.IsNaN(p) && (best < 0 || p > chP[best]) {
			best = c
		}
	}
	return best
}

// median of v (sorted in place), NaN when empty.
func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	slices.Sort(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

// demix returns the channel whose best probability lies furthest of the way
// from the population's "not the favourite" level to its "favourite" level
// (ChannelMix), -1 when no channel is allowed. Ties go to the earlier channel.
func demix(chP *[numContactChannels]float64, mix [][2]float64) int {
	best, bv := -1, math.Inf(-1)
	for c, p := range chP {
		if math.IsNaN(p) {
			continue
		}
		v := p
		if lo, hi := mix[c][0], mix[c][1]; hi > lo {
			v = (p - lo) / (hi - lo)
		}
		if v > bv {
			best, bv = c, v
		}
	}
	return best
}

// rowLayout places the features package's read-out in one model's row.
type rowLayout struct {
	m              *action.Model
	catIdx, numIdx []int
	actCols        features.ActionColumns
}

func newRowLayout(m *action.Model) *rowLayout {
	col := func(name string) int {
		return slices.IndexFunc(m.Features, func(f models.Feature) bool { return f.Name == name })
	}
	l := &rowLayout{m: m}
	for _, n := range features.CategoricalNames {
		l.catIdx = append(l.catIdx, col(n))
	}
	for _, n := range features.NumericNames() {
		l.numIdx = append(l.numIdx, col(n))
	}
	names := make([]string, len(m.Features))
	for j, f := range m.Features {
		names[j] = f.Name
	}
	l.actCols = features.NewActionColumns(names)
	return l
}

// request lays the account's context into a new row and fills the action
// features per candidate on the local date day.
func (l *rowLayout) request(vec *features.Vector, cands *features.Candidates, day time.Time) action.Request {
	row := make([]float64, len(l.m.Features))
	for j := range row {
		row[j] = math.NaN()
	}
	for k, v := range vec.Categorical {
		if j := l.catIdx[k]; j >= 0 {
			if lv := slices.Index(l.m.Features[j].Levels, v); lv >= 0 {
				row[j] = float64(lv)
			}
		}
	}
	for k, v := range vec.Numeric {
		if j := l.numIdx[k]; j >= 0 {
			row[j] = v
		}
	}
	fill := cands.FillLocal(l.actCols, day)
	return action.Request{Context: row, Fill: func(act action.Action, r []float64) {
		fill(act.Channel, act.Hour, act.Message, r)
	}}
}

func (b *PreferenceBucket) add(o PreferenceBucket) {
	b.Accounts += o.Accounts
	b.ChannelHits += o.ChannelHits
	b.HourHits += o.HourHits
	b.MessageHits += o.MessageHits
	b.HourReachable += o.HourReachable
	b.HourBestHits += o.HourBestHits
	b.SendTimeHits += o.SendTimeHits
	b.ValueChannelHits += o.ValueChannelHits
	b.AnyChannelHits += o.AnyChannelHits
	b.BaseChannel += o.BaseChannel
	b.BaseHour += o.BaseHour
	b.PopularChannel += o.PopularChannel
}

func (b *PreferenceBucket) rates() {
	r := func(k, n int) float64 {
		if n == 0 {
			return math.NaN()
		}
		return float64(k) / float64(n)
	}
	b.ChannelRate, b.HourRate, b.MessageRate = r(b.ChannelHits, b.Accounts), r(b.HourHits, b.Accounts), r(b.MessageHits, b.Accounts)
	b.BaseChannelRate, b.BaseHourRate = r(b.BaseChannel, b.Accounts), r(b.BaseHour, b.Accounts)
	b.PopularChannelRate = r(b.PopularChannel, b.Accounts)
	b.HourReachableRate = r(b.HourReachable, b.Accounts)
	b.HourBestRate = r(b.HourBestHits, b.Accounts)
	b.SendTimeRate = r(b.SendTimeHits, b.Accounts)
	b.ValueChannelRate = r(b.ValueChannelHits, b.Accounts)
	b.AnyChannelRate = r(b.AnyChannelHits, b.Accounts)
	b.HourRateAmongReachable = r(b.HourHits, b.HourReachable)
}

// Label names the bucket ("0", "1-2", "10+").
func (b PreferenceBucket) Label() string {
	switch {
	case b.Hi < 0:
		return fmt.Sprintf("%d+", b.Lo)
	case b.Lo == b.Hi:
		return fmt.Sprint(b.Lo)
	}
	return fmt.Sprintf("%d-%d", b.Lo, b.Hi)
}

// Markdown renders the report as tables.
func (r PreferenceReport) Markdown() string {
	var s strings.Builder
	tot := r.Engagements[0] + r.Engagements[1] + r.Engagements[2] + r.Engagements[3]
	if tot > 0 {
		fmt.Fprintf(&s, "Engagements per account over the whole history: 0 for %s, 1 for %s, 2 for %s, 3+ for %s of %d accounts.\n\n",
			pct(float64(r.Engagements[0])/float64(tot)), pct(float64(r.Engagements[1])/float64(tot)),
			pct(float64(r.Engagements[2])/float64(tot)), pct(float64(r.Engagements[3])/float64(tot)), tot)
	}
	s.WriteString("| past contacts | accounts | channel = hidden best | channel: de-mixed over every channel | channel of the best action | baseline: best engagement rate | baseline: most common (" + r.PopularChannel + ") | hour within ±1 h of peak: send-time read-out | hour: action-value argmax | baseline: profile peak | hour of the best action (letters too) | peak reachable (8–20 ±1) | message = hidden best |\n")
	s.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	rows := append(slices.Clone(r.Buckets), r.AtLeast5, r.All)
	for k, b := range rows {
		label := b.Label()
		if k == len(rows)-2 {
			label = "**5+**"
		} else if k == len(rows)-1 {
			label = "**all**"
		}
		fmt.Fprintf(&s, "| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", label, b.Accounts,
			pct(b.ChannelRate), pct(b.AnyChannelRate), pct(b.ValueChannelRate), pct(b.BaseChannelRate), pct(b.PopularChannelRate), pct(b.SendTimeRate), pct(b.HourRate), pct(b.BaseHourRate),
			pct(b.HourBestRate), pct(b.HourReachableRate), pct(b.MessageRate))
	}
	if len(r.ChannelMix) == numContactChannels {
		s.WriteString("\nDe-mixed channel read-out: per channel, the median best engagement probability of the accounts whose best action is on another channel (not the favourite) and on it (the favourite); the preferred channel maximises (p − not) / (favourite − not).\n\n| channel | not the favourite | the favourite |\n|---|---:|---:|\n")
		for c, ch := range datasets.ContactChannels {
			fmt.Fprintf(&s, "| %s | %.4f | %.4f |\n", ch, r.ChannelMix[c][0], r.ChannelMix[c][1])
		}
	}
	return s.String()
}

// Breakdown renders the 5+ contacts breakdowns as a table.
func (r PreferenceReport) Breakdown() string {
	var s strings.Builder
	s.WriteString("| accounts with 5+ past contacts | accounts | hits | rate |\n|---|---:|---:|---:|\n")
	rows := func(what string, m map[string]Tally) {
		for _, k := range slices.Sorted(maps.Keys(m)) {
			t := m[k]
			fmt.Fprintf(&s, "| %s %s | %d | %d | %s |\n", what, k, t.Accounts, t.Hits, pct(t.Rate()))
		}
	}
	rows("channel, hidden best", r.ChannelByBest)
	rows("channel, hidden margin", r.ChannelByMargin)
	rows("channel, hidden best", r.ChannelByEvidence)
	rows("hour (send-time read-out), active type", r.HourByActive)
	rows("hour (send-time read-out), hidden best channel", r.HourByBest)
	s.WriteString("\nSigned hour error (chosen − hidden weekday peak), accounts with 5+ past contacts:\n\n| error (h) |")
	for d := -6; d <= 6; d++ {
		fmt.Fprintf(&s, " %+d |", d)
	}
	s.WriteString("\n|---|")
	for d := -6; d <= 6; d++ {
		s.WriteString("---:|")
	}
	for k, name := range []string{"action-value argmax", "baseline: profile peak", "send-time read-out"} {
		tot := 0
		for _, n := range r.HourError[k] {
			tot += n
		}
		fmt.Fprintf(&s, "\n| %s |", name)
		for d := -6; d <= 6; d++ {
			fmt.Fprintf(&s, " %s |", pct(float64(r.HourError[k][(d+24)%24])/float64(max(tot, 1))))
		}
	}
	s.WriteString("\n")
	return s.String()
}

func pct(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100*v)
}

func hourDist(a, b int) int {
	d := a - b
	if d < 0 {
		d = -d
	}
	return min(d, 24-d)
}

// nextWeekday is the first Monday..Friday local date strictly after the
// instant us in zone.
func nextWeekday(us int64, zone string) time.Time {
	loc, err := time.LoadLocation(zone)
	if err != nil {
		loc = time.UTC
	}
	t := time.UnixMicro(us).In(loc)
	d := time.Date(t.Year(), t.Month(), t.Day(), 12, 0, 0, 0, loc).AddDate(0, 0, 1)
	for d.Weekday() == time.Saturday || d.Weekday() == time.Sunday {
		d = d.AddDate(0, 0, 1)
	}
	return d
}

// readAll reads a canonical table whole.
func readAll[T datasets.Row](path string) ([]T, error) {
	r, err := datasets.Open[T](path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	out := make([]T, 0, r.NumRows())
	buf := make([]T, 4096)
	for {
		n, err := r.Next(buf)
		out = append(out, buf[:n]...)
		if errors.Is(err, io.EOF) || (err == nil && n == 0) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
	}
}
