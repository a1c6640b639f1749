package engine

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/engagehq/engage/compliance"
	"github.com/engagehq/engage/datasets"
	"github.com/engagehq/engage/features"
)

var zonesOf = map[string]string{"US": "America/Chicago", "CA": "America/Toronto", "GB": "Europe/London", "AU": "Australia/Sydney", "NZ": "Pacific/Auckland"}

// randomInput draws an account of a random jurisdiction with random consents,
// flags and a random 30-day ledger.
func randomInput(t testing.TB, rng *rand.Rand, fw *compliance.Firewall, now time.Time, i int) *Input {
	js := fw.Jurisdictions()
	j := js[rng.IntN(len(js))]
	zone := zonesOf[datasets.Region(j)]
	if zone == "" || rng.IntN(5) == 0 {
		zone = ""
	}
	row := datasets.Account{ID: fmt.Sprint("acc", i), ReferredAt: now.Add(-40 * 24 * time.Hour).UnixMicro(), Balance: 5000 + rng.Int64N(100000),
		Currency: "USD", Product: "bnpl", Jurisdiction: j, TimeZone: zone, AgeBand: "35-44",
		ConsentEmail: rng.IntN(5) > 0, ConsentSMS: rng.IntN(2) == 0, ConsentCall: rng.IntN(2) == 0, ConsentPush: rng.IntN(3) == 0, ConsentLetter: rng.IntN(6) > 0}
	if rng.IntN(8) == 0 {
		row.Flags = []string{datasets.FlagDispute, datasets.FlagCease, datasets.FlagHardship, datasets.FlagAttorney}[rng.IntN(4)]
	}
	fa, err := features.NewAccount(&row)
	if err != nil {
		t.Fatal(err)
	}
	st := features.NewState()
	var evs []datasets.Event
	at := now.Add(-30 * 24 * time.Hour)
	types := []string{datasets.EventContactSent, datasets.EventDelivered, datasets.EventOpened, datasets.EventCallNoAnswer, datasets.EventCallConversation, datasets.EventLetterMailed, datasets.EventReplied}
	for k := rng.IntN(40); k > 0; k-- {
		at = at.Add(time.Duration(rng.Int64N(int64(20 * time.Hour))))
		if at.After(now) {
			break
		}
		ty := types[rng.IntN(len(types))]
		ch := datasets.ContactChannels[rng.IntN(5)]
		if strings.HasPrefix(ty, "call") {
			ch = datasets.ChannelCall
		}
		if ty == datasets.EventLetterMailed {
			ch = datasets.ChannelLetter
		}
		e := datasets.Event{EventID: fmt.Sprint(i, "-", k), AccountID: row.ID, Type: ty, At: at.UnixMicro(), Channel: ch, Message: datasets.MessageFirm}
		evs = append(evs, e)
		if err := st.Apply(&e, fa); err != nil {
			t.Fatal(err)
		}
	}
	ca, ledger := FromEvents(&row, evs, nil)
	return &Input{Tenant: "t", DecisionID: fmt.Sprint("d", i), Now: now, Account: fa, State: st, Compliance: ca, Ledger: ledger}
}

// TestNeverDenied: every action a decision returns (chosen and runners-up) is
// allowed by a freshly compiled firewall subject at its send instant.
func TestNeverDenied(t *testing.T) {
	for _, all := range []bool{false, true} {
		t.Run(fmt.Sprint("all_hours=", all), func(t *testing.T) { testNeverDenied(t, all) })
	}
}

func testNeverDenied(t *testing.T, all bool) {
	fw, err := compliance.Open(compliance.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	o := DefaultOptions()
	o.Epsilon, o.HoldoutShare, o.AllHours = 0.3, 0.2, all
	eng, err := New(fw, o)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := NewRateScorer(nil)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	outcomes := map[string]int{}
	n := 600
	for i := 0; i < n; i++ {
		now := time.Date(2026, time.Month(1+rng.IntN(12)), 1+rng.IntN(28), rng.IntN(24), rng.IntN(60), 0, 0, time.UTC)
		in := randomInput(t, rng, fw, now, i)
		d, err := eng.Decide(context.Background(), in, sc, "")
		if err != nil {
			t.Fatalf("%s: %v", in.Compliance.Jurisdiction, err)
		}
		outcomes[d.Outcome+"/"+d.Policy]++
		sub, err := fw.Subject(in.Compliance, in.Ledger)
		if err != nil {
			t.Fatal(err)
		}
		acts := d.RunnersUp
		if d.Action != nil {
			acts = append([]Action{*d.Action}, acts...)
		}
		if (d.Outcome == OutcomeContact) != (d.Action != nil) {
			t.Fatalf("outcome %s with action %v", d.Outcome, d.Action)
		}
		for _, a := range acts {
			ch, _ := compliance.ParseChannel(a.Channel)
			ok, err := sub.Allowed(ch, a.SendAt, compliance.Personal)
			if err != nil || !ok {
				c, _ := sub.Check(compliance.Contact{Channel: ch, At: a.SendAt})
				t.Fatalf("decision %d (%s, %s) returns a denied action %+v: %+v", i, in.Compliance.Jurisdiction, d.Policy, a, c.Reasons)
			}
			if a.SendAt.Before(now) {
				t.Fatalf("send slot %v before now %v", a.SendAt, now)
			}
		}
		if d.Propensity <= 0 || d.Propensity > 1 {
			t.Fatalf("propensity %v", d.Propensity)
		}
		if d.Outcome == OutcomeWait && (d.WaitUntil == nil || !d.WaitUntil.After(now)) {
			t.Fatalf("wait without a future time: %+v", d)
		}
	}
	if outcomes[OutcomeContact+"/"+PolicyModel] == 0 || outcomes[OutcomeContact+"/"+PolicyHoldout] == 0 {
		t.Fatalf("outcomes too narrow to test anything: %v", outcomes)
	}
	t.Logf("outcomes: %v", outcomes)
}

// TestPropensityExact: over many draws, the share of decisions that take the
// argmax matches the logged propensity.
func TestPropensityExact(t *testing.T) {
	for _, all := range []bool{false, true} {
		t.Run(fmt.Sprint("all_hours=", all), func(t *testing.T) { testPropensityExact(t, all) })
	}
}

func testPropensityExact(t *testing.T, all bool) {
	fw, err := compliance.Open(compliance.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	o := DefaultOptions()
	o.Epsilon, o.HoldoutShare, o.AllHours = 0.2, 0, all
	eng, _ := New(fw, o)
	sc, _ := NewRateScorer(nil)
	rng := rand.New(rand.NewPCG(5, 6))
	now := time.Date(2026, 3, 10, 15, 0, 0, 0, time.UTC)
	in := randomInput(t, rng, fw, now, 1)
	in.Compliance.Jurisdiction, in.Compliance.TimeZone, in.Compliance.Flags = "GB", "Europe/London", nil
	best, explored, trials := 0, 0, 4000
	var pBest float64
	for i := 0; i < trials; i++ {
		in.DecisionID = fmt.Sprint("d", i)
		d, err := eng.Decide(context.Background(), in, sc, "")
		if err != nil || d.Action == nil {
			t.Fatalf("%v %+v", err, d)
		}
		if d.Explored {
			explored++
		}
		if d.Propensity > 0.5 {
			best++
			pBest = d.Propensity
		}
	}
	got := float64(best) / float64(trials)
	if d := got - pBest; d > 0.02 || d < -0.02 {
		t.Fatalf("argmax chosen %.3f of the time, logged propensity %.3f", got, pBest)
	}
	if e := float64(explored) / float64(trials); e < 0.17 || e > 0.23 {
		t.Fatalf("explored %.3f, want 0.2", e)
	}
}
