package synth

import (
	"bytes"
	"cmp"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"

	"github.com/engagehq/engage/datasets"
)

// collect is a Sink that keeps every row.
type collect struct {
	events    []datasets.Event
	decisions []datasets.Decision
}

func (c *collect) Decision(d datasets.Decision) error {
	c.decisions = append(c.decisions, d)
	return nil
}
func (c *collect) Event(e datasets.Event) error { c.events = append(c.events, e); return nil }

func smallOptions(accounts, days int, seed uint64) Options {
	o := DefaultOptions()
	o.Accounts, o.Days, o.Seed = accounts, days, seed
	return o
}

// world caches one 90-day world and its history for the invariant tests.
var world = sync.OnceValues(func() (*World, *collect) {
	w, err := New(smallOptions(6000, 90, 3))
	if err != nil {
		panic(err)
	}
	var c collect
	if err := w.History(context.Background(), &c); err != nil {
		panic(err)
	}
	return w, &c
})

func readFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, name := range []string{AccountsFile, EventsFile, DecisionsFile, TruthFile} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		out[name] = b
	}
	return out
}

func TestDeterminism(t *testing.T) {
	write := func(seed uint64, workers int) map[string][]byte {
		o := smallOptions(3000, 30, seed)
		o.Workers = workers
		w, err := New(o)
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		if err := w.WriteDir(context.Background(), dir, nil); err != nil {
			t.Fatal(err)
		}
		entries, _ := os.ReadDir(dir)
		if len(entries) != 4 {
			t.Fatalf("%d files in out dir, want 4 (temp files left?)", len(entries))
		}
		return readFiles(t, dir)
	}
	a, b, c := write(7, 1), write(7, 3), write(8, 2)
	for name := range a {
		if !bytes.Equal(a[name], b[name]) {
			t.Errorf("%s: same seed, different bytes (1 vs 3 workers)", name)
		}
		if bytes.Equal(a[name], c[name]) {
			t.Errorf("%s: seeds 7 and 8 give identical bytes", name)
		}
	}
}

func TestWriteDirReadsBack(t *testing.T) {
	w, err := New(smallOptions(500, 20, 11))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	st, err := w.WriteDirStats(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	evs, err := parquet.ReadFile[datasets.Event](filepath.Join(dir, EventsFile))
	if err != nil {
		t.Fatal(err)
	}
	var c collect
	if err := w.History(context.Background(), &c); err != nil {
		t.Fatal(err)
	}
	if len(evs) != st.Events || !slices.Equal(evs, c.events) {
		t.Fatalf("events.parquet has %d rows (stats %d) and differs from History's %d", len(evs), st.Events, len(c.events))
	}
	accs, err := parquet.ReadFile[datasets.Account](filepath.Join(dir, AccountsFile))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(accs, w.Accounts()) {
		t.Fatal("accounts.parquet differs from Accounts()")
	}
	truth, err := parquet.ReadFile[datasets.Truth](filepath.Join(dir, TruthFile))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(truth, w.Truth()) {
		t.Fatal("truth.parquet differs from Truth()")
	}
	// Times are stored as UTC-adjusted timestamps.
	f, err := os.Open(filepath.Join(dir, EventsFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	pf, err := parquet.OpenFile(f, fi.Size())
	if err != nil {
		t.Fatal(err)
	}
	col, ok := pf.Schema().Lookup("at")
	if !ok {
		t.Fatal("no at column")
	}
	lt := col.Node.Type().LogicalType()
	ts, _ := lt.Value.(*format.TimestampType)
	if ts == nil || !ts.IsAdjustedToUTC {
		t.Fatalf("at column logical type %v, want UTC timestamp", lt)
	}
}

func TestCancelLeavesNothing(t *testing.T) {
	w, err := New(smallOptions(5000, 30, 1))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	err = w.WriteDir(ctx, dir, func(done, _ int) {
		if done >= 2*chunkAccounts {
			cancel()
		}
	})
	if err == nil {
		t.Fatal("cancelled WriteDir returned nil")
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		t.Errorf("left %s behind", e.Name())
	}
}

func TestOptionsRejected(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Options)
	}{
		{"negative accounts", func(o *Options) { o.Accounts = -1 }},
		{"zero days", func(o *Options) { o.Days = 0 }},
		{"start not midnight", func(o *Options) { o.Start = o.Start.Add(time.Hour) }},
		{"start not UTC", func(o *Options) { o.Start = time.Date(2026, 1, 5, 0, 0, 0, 0, time.FixedZone("x", 3600)) }},
		{"no tenant", func(o *Options) { o.Tenant = "" }},
		{"holdout above 1", func(o *Options) { o.HoldoutShare = 1.5 }},
		{"no exploration", func(o *Options) { o.EpsilonHour = 0 }},
		{"cap zero", func(o *Options) { o.WeeklyCap = 0 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := smallOptions(10, 10, 1)
			tc.edit(&o)
			if _, err := New(o); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func TestAccounts(t *testing.T) {
	w, _ := world()
	accs, truth := w.Accounts(), w.Truth()
	seenZone := map[string]bool{}
	holdout := 0
	for i := range accs {
		a := &accs[i]
		if i > 0 && accs[i-1].ID >= a.ID {
			t.Fatalf("account ids not increasing: %s then %s", accs[i-1].ID, a.ID)
		}
		if truth[i].AccountID != a.ID {
			t.Fatalf("truth %d is %s, account %s", i, truth[i].AccountID, a.ID)
		}
		if a.Balance <= 0 || a.DaysPastDue < 30 || datasets.AgeBandIndex(a.AgeBand) < 0 || !slices.Contains(datasets.Products, a.Product) {
			t.Fatalf("bad account %+v", a)
		}
		if _, err := time.LoadLocation(a.TimeZone); err != nil {
			t.Fatalf("zone %s: %v", a.TimeZone, err)
		}
		seenZone[a.Jurisdiction+" "+a.TimeZone] = true
		if w.Holdout(i) {
			holdout++
		}
		tr := &truth[i]
		aff := []float64{tr.AffinityEmail, tr.AffinitySMS, tr.AffinityCall, tr.AffinityPush, tr.AffinityLetter}
		best := datasets.ContactChannels[slices.Index(aff, slices.Max(aff))]
		if best != tr.BestChannel {
			t.Fatalf("%s: best channel %s but argmax affinity is %s", a.ID, tr.BestChannel, best)
		}
	}
	for _, want := range []string{"US-MA America/New_York", "US-NY America/New_York", "CA-NL America/St_Johns", "AU-SA Australia/Adelaide", "NZ Pacific/Auckland", "GB Europe/London"} {
		if !seenZone[want] {
			t.Errorf("no account in %s", want)
		}
	}
	if share := float64(holdout) / float64(len(accs)); share < 0.08 || share > 0.12 {
		t.Errorf("holdout share %.3f, want about 0.1", share)
	}
}

func TestHistoryInvariants(t *testing.T) {
	w, c := world()
	o := w.Options()
	start, end := o.Start.UnixMicro(), o.Start.AddDate(0, 0, o.Days).UnixMicro()
	accIdx := map[string]int{}
	for i, a := range w.Accounts() {
		accIdx[a.ID] = i
	}
	decs := map[string]*datasets.Decision{}
	for k := range c.decisions {
		d := &c.decisions[k]
		if _, dup := decs[d.DecisionID]; dup {
			t.Fatalf("duplicate decision id %s", d.DecisionID)
		}
		decs[d.DecisionID] = d
		if k > 0 {
			p := &c.decisions[k-1]
			if cmp.Or(cmp.Compare(p.AccountID, d.AccountID), cmp.Compare(p.At, d.At), cmp.Compare(p.DecisionID, d.DecisionID)) >= 0 {
				t.Fatalf("decisions not sorted: %s then %s", p.DecisionID, d.DecisionID)
			}
		}
	}
	ids := map[string]bool{}
	paid := map[string]int64{}
	for k := range c.events {
		e := &c.events[k]
		i, ok := accIdx[e.AccountID]
		if !ok {
			t.Fatalf("event %s refers to unknown account %s", e.EventID, e.AccountID)
		}
		a := &w.Accounts()[i]
		if ids[e.EventID] {
			t.Fatalf("duplicate event id %s", e.EventID)
		}
		ids[e.EventID] = true
		if k > 0 {
			p := &c.events[k-1]
			if cmp.Or(cmp.Compare(p.AccountID, e.AccountID), cmp.Compare(p.At, e.At), cmp.Compare(p.EventID, e.EventID)) >= 0 {
				t.Fatalf("events not sorted: %s then %s", p.EventID, e.EventID)
			}
		}
		if e.At < start || e.At >= end || e.At < a.ReferredAt {
			t.Fatalf("event %s at %s outside [referral, end)", e.EventID, e.Time())
		}
		if e.Time().Location() != time.UTC {
			t.Fatalf("event %s time not UTC", e.EventID)
		}
		if datasets.EventIndex(e.Type) < 0 {
			t.Fatalf("event %s has unknown type %q", e.EventID, e.Type)
		}
		switch e.Type {
		case datasets.EventPayment:
			if e.Amount <= 0 || e.Currency != a.Currency {
				t.Fatalf("payment %s: amount %d %s (account %s)", e.EventID, e.Amount, e.Currency, a.Currency)
			}
			paid[a.ID] += e.Amount
		case datasets.EventPromiseToPay, datasets.EventComplaint, datasets.EventOptOut:
		default:
			d := decs[e.DecisionID]
			if d == nil || d.AccountID != e.AccountID || d.Channel != e.Channel || d.Message != e.Message {
				t.Fatalf("contact event %+v does not match its decision %+v", e, d)
			}
			if e.At < d.SendAt {
				t.Fatalf("event %s before its send slot", e.EventID)
			}
		}
	}
	for _, a := range w.Accounts() {
		if paid[a.ID] > a.Balance {
			t.Fatalf("%s paid %d of a %d balance", a.ID, paid[a.ID], a.Balance)
		}
	}
	if len(paid) == 0 {
		t.Fatal("nobody paid")
	}
}

// TestPropensitiesFollowPolicy recomputes, from the account and the logged rows
// only, the propensity with which BAU chose each decision.
func TestPropensitiesFollowPolicy(t *testing.T) {
	w, c := world()
	o := w.Options()
	byAcc := map[string][]datasets.Event{}
	for _, e := range c.events {
		byAcc[e.AccountID] = append(byAcc[e.AccountID], e)
	}
	accIdx := map[string]int{}
	for i, a := range w.Accounts() {
		accIdx[a.ID] = i
	}
	// what the BAU knew: contacts per channel, and engaged contacts by the
	// instant of their first engagement.
	firstEng := map[string]int64{}
	for _, e := range c.events {
		switch e.Type {
		case datasets.EventOpened, datasets.EventClicked, datasets.EventReplied,
			datasets.EventCallConversation, datasets.EventInboundCall:
			if at, ok := firstEng[e.DecisionID]; e.DecisionID != "" && (!ok || e.At < at) {
				firstEng[e.DecisionID] = e.At
			}
		}
	}
	decsOf := map[string][]*datasets.Decision{}
	count := map[string]int{}
	for k := range c.decisions {
		d := &c.decisions[k]
		i := accIdx[d.AccountID]
		a := &w.Accounts()[i]
		if d.Propensity <= 0 || d.Propensity > 1 {
			t.Fatalf("%s propensity %g", d.DecisionID, d.Propensity)
		}
		if d.Policy != datasets.PolicyBAU || d.Holdout != w.Holdout(i) {
			t.Fatalf("%s policy %s holdout %v", d.DecisionID, d.Policy, d.Holdout)
		}
		if a.Flags != "" && a.Flags != datasets.FlagHardship {
			t.Fatalf("%s contacted with flags %s", a.ID, a.Flags)
		}
		// Channels allowed: consented and not opted out before the decision.
		var allowed []int
		for ch := range nContact {
			if !a.Consent(datasets.Channels[ch]) {
				continue
			}
			out := false
			for _, e := range byAcc[a.ID] {
				if e.Type == datasets.EventOptOut && e.Channel == datasets.Channels[ch] && e.At < d.At {
					out = true
				}
			}
			if !out {
				allowed = append(allowed, ch)
			}
		}
		var sent, seen [nContact]int
		seenHour, seenAt := -1, int64(0)
		for _, p := range decsOf[a.ID] {
			pc := datasets.ChannelIndex(p.Channel)
			sent[pc]++
			if at, ok := firstEng[p.DecisionID]; ok && at < d.At {
				seen[pc]++
				if at > seenAt {
					seenAt, seenHour = at, time.UnixMicro(at).In(w.Location(i)).Hour()
				}
			}
		}
		def := bauChannel(&sent, &seen, count[a.ID], allowed)
		if !slices.Contains(allowed, def) {
			t.Fatalf("%s: default channel %d not allowed", d.DecisionID, def)
		}
		count[a.ID]++
		decsOf[a.ID] = append(decsOf[a.ID], d)
		ch := datasets.ChannelIndex(d.Channel)
		if !slices.Contains(allowed, ch) {
			t.Fatalf("%s chose %s, not allowed", d.DecisionID, d.Channel)
		}
		pc := o.EpsilonChannel / float64(len(allowed))
		if ch == def {
			pc += 1 - o.EpsilonChannel
		}
		ph := o.EpsilonHour / 13
		if int(d.LocalHour) == bauDefaultHour(ch, seenHour) {
			ph += 1 - o.EpsilonHour
		}
		dpd := int(a.DaysPastDue) + int((d.SendAt/1e6-int64(d.LocalHour)*3600-a.ReferredAt/1e6)/86400)
		pm := o.EpsilonMessage / 5
		if datasets.MessageIndex(d.Message) == bauMessage(&w.prefs[i], a.Balance, dpd) {
			pm += 1 - o.EpsilonMessage
		}
		if want := pc * ph * pm; abs(want-d.Propensity) > 1e-12 {
			t.Fatalf("%s propensity %g, policy gives %g", d.DecisionID, d.Propensity, want)
		}
	}
}

func abs(x float64) float64 { return max(x, -x) }

func TestContactRules(t *testing.T) {
	w, c := world()
	o := w.Options()
	accIdx := map[string]int{}
	for i, a := range w.Accounts() {
		accIdx[a.ID] = i
	}
	sends := map[string][]int64{}
	halfHour := 0
	for _, d := range c.decisions {
		i := accIdx[d.AccountID]
		lt := time.UnixMicro(d.SendAt).In(w.Location(i))
		if lt.Hour() != int(d.LocalHour) || lt.Minute() != 0 {
			t.Fatalf("%s send %s local %s, logged hour %d", d.DecisionID, time.UnixMicro(d.SendAt).UTC(), lt, d.LocalHour)
		}
		if d.LocalHour < 8 || d.LocalHour > 20 {
			t.Fatalf("%s local hour %d outside 08:00-21:00", d.DecisionID, d.LocalHour)
		}
		if _, off := lt.Zone(); off%3600 != 0 {
			halfHour++
		}
		if d.At > d.SendAt {
			t.Fatalf("%s decided after its send slot", d.DecisionID)
		}
		sends[d.AccountID] = append(sends[d.AccountID], d.SendAt)
	}
	if halfHour == 0 {
		t.Error("no sends in a half-hour zone (St John's, Adelaide)")
	}
	for _, e := range c.events {
		if e.Type != datasets.EventContactSent {
			continue
		}
		lt := time.UnixMicro(e.At).In(w.Location(accIdx[e.AccountID]))
		if lt.Hour() < 8 || lt.Hour() >= 21 {
			t.Fatalf("%s sent at local %s", e.EventID, lt)
		}
	}
	week := int64(7 * 24 * time.Hour / time.Microsecond)
	for id, s := range sends {
		for k := range s {
			n := 0
			for j := k; j >= 0 && s[j] > s[k]-week; j-- {
				n++
			}
			if n > o.WeeklyCap {
				t.Fatalf("%s: %d sends in 7 days, cap %d", id, n, o.WeeklyCap)
			}
		}
	}
}

// TestRecoversBestChannel is the sanity check: simple counts over the events of
// heavily contacted accounts recover the hidden favourite channel.
func TestRecoversBestChannel(t *testing.T) {
	w, c := world()
	type tally struct{ sent, engaged [nContact]int }
	per := map[string]*tally{}
	chOf := map[string]int{}
	for _, d := range c.decisions {
		chOf[d.DecisionID] = datasets.ChannelIndex(d.Channel)
		if per[d.AccountID] == nil {
			per[d.AccountID] = &tally{}
		}
		per[d.AccountID].sent[chOf[d.DecisionID]]++
	}
	engagedDec := map[string]bool{}
	for _, e := range c.events {
		switch e.Type {
		case datasets.EventOpened, datasets.EventClicked, datasets.EventReplied,
			datasets.EventCallConversation, datasets.EventInboundCall:
			if !engagedDec[e.DecisionID] {
				engagedDec[e.DecisionID] = true
				per[e.AccountID].engaged[chOf[e.DecisionID]]++
			}
		}
	}
	const heavy = 18
	hits, n := 0, 0
	truth := w.Truth()
	for i, a := range w.Accounts() {
		tl := per[a.ID]
		total := 0
		if tl != nil {
			for _, s := range tl.sent {
				total += s
			}
		}
		best := truth[i].BestChannel
		if total < heavy || !a.Consent(best) {
			continue
		}
		arg, rate := -1, -1.0
		for ch := range nContact {
			if tl.sent[ch] < 2 {
				continue
			}
			if r := float64(tl.engaged[ch]) / float64(tl.sent[ch]); r > rate {
				arg, rate = ch, r
			}
		}
		n++
		if arg >= 0 && datasets.ContactChannels[arg] == best {
			hits++
		}
	}
	if n < 300 {
		t.Fatalf("only %d accounts with >= %d contacts", n, heavy)
	}
	share := float64(hits) / float64(n)
	t.Logf("best channel recovered for %d of %d heavily contacted accounts (%.1f%%)", hits, n, 100*share)
	// The favourite is clearly ahead for most debtors: raw rates recover it for
	// about 89% of heavily contacted ones (the rest: close runners-up, noise).
	if share < 0.8 {
		t.Fatalf("best channel recovered for only %.1f%%", 100*share)
	}
}

func TestOutcomeDeterministic(t *testing.T) {
	play := func() ([][]datasets.Event, []Status) {
		w, err := New(smallOptions(50, 30, 5))
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(1, 2))
		var all [][]datasets.Event
		start := w.Options().Start
		for day := range 30 {
			for i := range w.Len() {
				a := Action{
					Channel:    datasets.ContactChannels[(i+day)%nContact],
					SendAt:     start.AddDate(0, 0, day).Add(time.Duration(8+(i%12)) * time.Hour),
					Message:    datasets.Messages[(i*7+day)%nMessage],
					DecisionID: "d",
				}
				all = append(all, w.Outcome(i, a, rng))
				all = append(all, w.Spontaneous(i, a.SendAt, rng))
			}
		}
		var st []Status
		for i := range w.Len() {
			st = append(st, w.Status(i))
		}
		return all, st
	}
	a, sa := play()
	b, sb := play()
	if len(a) != len(b) {
		t.Fatal("different number of draws")
	}
	n, payments := 0, 0
	for k := range a {
		if !slices.Equal(a[k], b[k]) {
			t.Fatalf("draw %d differs:\n%v\n%v", k, a[k], b[k])
		}
		for _, e := range a[k] {
			n++
			if e.Type == datasets.EventPayment {
				payments++
			}
		}
	}
	if n == 0 || payments == 0 {
		t.Fatalf("%d events, %d payments from daily contact of 50 accounts for 30 days", n, payments)
	}
	for i := range sa {
		if sa[i].Remaining != sb[i].Remaining || sa[i].Paid != sb[i].Paid || sa[i].Contacts != 30 {
			t.Fatalf("status %d: %+v vs %+v", i, sa[i], sb[i])
		}
	}
}

func TestOutcomeState(t *testing.T) {
	w, err := New(smallOptions(200, 30, 9))
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	if evs := w.Outcome(-1, Action{Channel: "sms", Message: datasets.MessageFirm}, rng); evs != nil {
		t.Fatal("unknown account gave events")
	}
	if evs := w.Outcome(0, Action{Channel: "pigeon", Message: datasets.MessageFirm}, rng); evs != nil {
		t.Fatal("unknown channel gave events")
	}
	at := w.Options().Start.Add(10 * time.Hour)
	for i := range w.Len() {
		paid := int64(0)
		for k := range 40 {
			a := Action{Channel: datasets.ChannelSMS, SendAt: at.Add(time.Duration(k) * 24 * time.Hour), Message: datasets.MessageFirm}
			for _, e := range w.Outcome(i, a, rng) {
				if e.AccountID != w.Accounts()[i].ID || e.At < a.SendAt.UnixMicro() {
					t.Fatalf("event %+v for a send at %s", e, a.SendAt)
				}
				if e.Type == datasets.EventPayment {
					paid += e.Amount
				}
			}
		}
		st := w.Status(i)
		if paid != st.Paid || paid > w.Accounts()[i].Balance {
			t.Fatalf("account %d paid %d, status %+v, balance %d", i, paid, st, w.Accounts()[i].Balance)
		}
	}
	w.Reset()
	if st := w.Status(0); st.Contacts != 0 || st.Paid != 0 {
		t.Fatalf("Reset left %+v", st)
	}
}

// discard is a Sink that only counts.
type discard struct{ events, decisions int }

func (d *discard) Decision(datasets.Decision) error { d.decisions++; return nil }
func (d *discard) Event(datasets.Event) error       { d.events++; return nil }

func BenchmarkWorld(b *testing.B) {
	b.ReportAllocs()
	o := smallOptions(20000, 90, 1)
	events := 0
	for b.Loop() {
		w, err := New(o)
		if err != nil {
			b.Fatal(err)
		}
		var d discard
		if err := w.History(context.Background(), &d); err != nil {
			b.Fatal(err)
		}
		events += d.events
	}
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkWriteDir(b *testing.B) {
	b.ReportAllocs()
	o := smallOptions(20000, 90, 1)
	w, err := New(o)
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	events := 0
	for b.Loop() {
		st, err := w.WriteDirStats(context.Background(), dir, nil)
		if err != nil {
			b.Fatal(err)
		}
		events += st.Events
	}
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
}

// TestClosedLoop plays three policies against the same world through BAU,
// Outcome and Spontaneous: contacting must collect more than staying silent,
// and a policy that knows the hidden preferences must engage and collect more
// than BAU.
func TestClosedLoop(t *testing.T) {
	w, err := New(smallOptions(3000, 60, 21))
	if err != nil {
		t.Fatal(err)
	}
	truth := w.Truth()
	type result struct {
		collected     int64
		sent, engaged int
	}
	play := func(policy string) result {
		w.Reset()
		var r result
		start := w.Options().Start
		for i := range w.Len() {
			rng := rand.New(rand.NewPCG(99, uint64(i)))
			a := &w.Accounts()[i]
			for d := range 60 {
				day := start.AddDate(0, 0, d).Add(12 * time.Hour)
				var evs []datasets.Event
				if policy != "none" {
					act, prop, ok := w.BAU(i, day, rng)
					if ok {
						if prop <= 0 || prop > 1 {
							t.Fatalf("BAU propensity %g", prop)
						}
						if policy == "oracle" {
							tr := &truth[i]
							if a.Consent(tr.BestChannel) && !slices.Contains(w.Status(i).OptedOut, tr.BestChannel) {
								act.Channel = tr.BestChannel
							}
							h := tr.PeakHour
							if wd := act.SendAt.In(w.Location(i)).Weekday(); wd == time.Saturday || wd == time.Sunday {
								h = tr.PeakHourWeekend
							}
							h = min(max(h, 8), 20)
							lt := act.SendAt.In(w.Location(i))
							act.SendAt = time.Date(lt.Year(), lt.Month(), lt.Day(), int(h), 0, 0, 0, lt.Location()).UTC()
							act.Message = tr.BestMessage
						}
						r.sent++
						evs = w.Outcome(i, act, rng)
						for _, e := range evs {
							switch e.Type {
							case datasets.EventOpened, datasets.EventReplied, datasets.EventCallConversation, datasets.EventInboundCall:
								r.engaged++
							case datasets.EventClicked:
								if e.Channel == datasets.ChannelSMS {
									r.engaged++
								}
							}
						}
					}
				}
				evs = append(evs, w.Spontaneous(i, day, rng)...)
				for _, e := range evs {
					if e.Type == datasets.EventPayment {
						r.collected += e.Amount
					}
				}
			}
			if st := w.Status(i); st.Paid > a.Balance {
				t.Fatalf("account %d status %+v balance %d", i, st, a.Balance)
			}
		}
		return r
	}
	none, bau, oracle := play("none"), play("bau"), play("oracle")
	t.Logf("collected: none %d, bau %d (%d sends, %.1f%% engaged), oracle %d (%d sends, %.1f%% engaged)",
		none.collected, bau.collected, bau.sent, 100*float64(bau.engaged)/float64(bau.sent),
		oracle.collected, oracle.sent, 100*float64(oracle.engaged)/float64(oracle.sent))
	if none.sent != 0 || bau.sent == 0 {
		t.Fatalf("sends: none %d, bau %d", none.sent, bau.sent)
	}
	if bau.collected <= none.collected {
		t.Errorf("BAU collected %d, no contact %d", bau.collected, none.collected)
	}
	if oracle.collected <= bau.collected || oracle.engaged*bau.sent <= 2*bau.engaged*oracle.sent {
		t.Errorf("oracle (%d collected, %d/%d engaged) not clearly better than BAU (%d, %d/%d)",
			oracle.collected, oracle.engaged, oracle.sent, bau.collected, bau.engaged, bau.sent)
	}
}

// TestBAURules pins the BAU's routing: the cadence before any response, the
// channel with the best (engaged+1)/(sent+3) after, only allowed channels; the
// hour of the latest seen engagement when it is a permitted send hour.
func TestBAURules(t *testing.T) {
	all := []int{chEmail, chSMS, chCall, chPush, chLetter}
	cases := []struct {
		name       string
		sent, seen [nContact]int
		contacts   int
		allowed    []int
		want       int
	}{
		{"first contact follows the cadence", [nContact]int{}, [nContact]int{}, 0, all, bauCycle[0]},
		{"second contact follows the cadence", [nContact]int{chEmail: 1}, [nContact]int{}, 1, all, bauCycle[1]},
		{"an answered channel wins", [nContact]int{chEmail: 1, chSMS: 1}, [nContact]int{chSMS: 1}, 2, all, chSMS},
		{"untried beats a silent channel", [nContact]int{chSMS: 3}, [nContact]int{}, 3, []int{chSMS, chPush}, chPush},
		{"best rate, not most responses", [nContact]int{chEmail: 20, chCall: 3}, [nContact]int{chEmail: 4, chCall: 2}, 23, []int{chEmail, chCall}, chCall},
		{"a disallowed favourite is skipped; ties follow the cadence", [nContact]int{chSMS: 2}, [nContact]int{chSMS: 2}, 2, []int{chEmail, chLetter}, chLetter},
	}
	for _, c := range cases {
		if got := bauChannel(&c.sent, &c.seen, c.contacts, c.allowed); got != c.want {
			t.Errorf("%s: channel %d, want %d", c.name, got, c.want)
		}
	}
	for _, c := range []struct{ ch, seen, want int }{
		{chEmail, -1, bauHour[chEmail]}, {chCall, 14, 14}, {chSMS, 22, bauHour[chSMS]}, {chPush, 7, bauHour[chPush]}, {chLetter, 20, 20},
	} {
		if got := bauDefaultHour(c.ch, c.seen); got != c.want {
			t.Errorf("default hour of channel %d after an engagement at %d: %d, want %d", c.ch, c.seen, got, c.want)
		}
	}
}
