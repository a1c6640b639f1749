package features

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/engagehq/engage/datasets"
)

// writeInputs writes a tiny world to a folder, rows in the given order.
func writeInputs(t *testing.T, accts []datasets.Account, evs []datasets.Event, decs []datasets.Decision) Inputs {
	t.Helper()
	dir := t.TempDir()
	in := Inputs{
		Accounts:  filepath.Join(dir, "accounts.parquet"),
		Events:    filepath.Join(dir, "events.parquet"),
		Decisions: filepath.Join(dir, "decisions.parquet"),
	}
	o := datasets.DefaultOptions()
	if err := datasets.WriteAll(in.Accounts, accts, o); err != nil {
		t.Fatal(err)
	}
	if err := datasets.WriteAll(in.Events, evs, o); err != nil {
		t.Fatal(err)
	}
	if err := datasets.WriteAll(in.Decisions, decs, o); err != nil {
		t.Fatal(err)
	}
	return in
}

func ev(id, acct, typ, ch string, at, amount int64) datasets.Event {
	return datasets.Event{EventID: id, AccountID: acct, Type: typ, Channel: ch, At: at, Amount: amount}
}

func dec(id, acct string, at int64) datasets.Decision {
	return datasets.Decision{DecisionID: id, AccountID: acct, At: at, SendAt: at + usHour, Channel: "sms", LocalHour: 10, Message: datasets.MessageFriendly, Propensity: 0.25}
}

func feature(r Row, name string) float64 { return r.Numeric[indexOf(name)] }

// TestEdgeCases: no events, a payment larger than the balance, and outcomes,
// through both the in-memory and the file driver.
func TestEdgeCases(t *testing.T) {
	a1, a2 := testAccount("A1", "America/New_York"), testAccount("A2", "Asia/Kolkata")
	a2.Balance = 10_000
	sent := ev("E1", "A2", datasets.EventContactSent, "sms", t0+usDay, 0)
	sent.Message = datasets.MessageFriendly
	evs := []datasets.Event{
		sent,
		ev("E2", "A2", datasets.EventPayment, "", t0+2*usDay, 25_000), // pays 2.5x the balance
	}
	decs := []datasets.Decision{dec("D1", "A1", t0+3*usDay), dec("D2", "A2", t0+usDay+usHour), dec("D3", "A2", t0+3*usDay)}
	o := DefaultOptions()
	o.Priors = UniformPriors()
	o.End = t0 + 60*usDay
	rows, _, err := Replay([]datasets.Account{a1, a2}, evs, decs, o)
	if err != nil {
		t.Fatal(err)
	}
	in := writeInputs(t, []datasets.Account{a1, a2}, evs, decs)
	out := filepath.Join(t.TempDir(), "x.parquet")
	if _, err := Build(context.Background(), in, out, o); err != nil {
		t.Fatal(err)
	}
	tab, err := datasets.ReadLogged(out)
	if err != nil {
		t.Fatal(err)
	}
	if tab.Len() != 3 || len(rows) != 3 {
		t.Fatalf("rows: file %d, memory %d; want 3", tab.Len(), len(rows))
	}
	byID := map[string]Row{}
	for _, r := range rows {
		byID[r.Decision.DecisionID] = r
	}
	for i, id := range tab.Strings[tab.Index("decision_id")] {
		r := byID[id]
		for j, n := range numericNames {
			if got := tab.Floats[tab.Index(n)][i]; !close9(got, r.Numeric[j]) {
				t.Errorf("%s %s: file %v, memory %v", id, n, got, r.Numeric[j])
			}
		}
	}
	// A1: no events at all.
	r := byID["D1"]
	for _, n := range []string{"email_sent", "payments", "contacts_30d", "profile_engagements", "amount_paid"} {
		if feature(r, n) != 0 {
			t.Errorf("no events: %s = %v, want 0", n, feature(r, n))
		}
	}
	for _, n := range []string{"email_hours_since_engagement", "days_since_payment", "hours_since_contact"} {
		if !math.IsNaN(feature(r, n)) {
			t.Errorf("no events: %s = %v, want NaN (never)", n, feature(r, n))
		}
	}
	if feature(r, "fraction_paid") != 0 || feature(r, "balance_remaining") != 50_000 {
		t.Errorf("no events: fraction %v remaining %v", feature(r, "fraction_paid"), feature(r, "balance_remaining"))
	}
	if r.Outcomes[oPaid30d] != 0 || r.Outcomes[oEngaged48h] != 0 {
		t.Errorf("no events: outcomes %v, want zeros", r.Outcomes)
	}
	// A2 before the payment: one contact, outcome paid within 7 days.
	r = byID["D2"]
	if feature(r, "sms_sent") != 1 || feature(r, "payments") != 0 {
		t.Errorf("D2: sms_sent %v payments %v", feature(r, "sms_sent"), feature(r, "payments"))
	}
	if r.Outcomes[oPaid7d] != 1 || r.Outcomes[oAmount30d] != 25_000 {
		t.Errorf("D2 outcomes %v: want paid_7d 1, amount_30d 25000", r.Outcomes)
	}
	// A2 after paying more than the balance.
	r = byID["D3"]
	if feature(r, "amount_paid") != 25_000 || feature(r, "fraction_paid") != 1 || feature(r, "balance_remaining") != 0 {
		t.Errorf("overpaid: amount %v fraction %v remaining %v; want 25000, 1, 0",
			feature(r, "amount_paid"), feature(r, "fraction_paid"), feature(r, "balance_remaining"))
	}
	if got := feature(r, "msg_"+datasets.MessageFriendly+"_payment_rate"); got <= 0 {
		t.Errorf("payment after a friendly contact not attributed: rate %v", got)
	}
}

// TestCensoring: outcome windows reaching past the end are NaN, not 0.
func TestCensoring(t *testing.T) {
	a := testAccount("A1", "UTC")
	end := t0 + 40*usDay
	decs := []datasets.Decision{dec("D1", "A1", t0), dec("D2", "A1", end-10*usDay), dec("D3", "A1", end-usDay)}
	o := DefaultOptions()
	o.Priors, o.End = UniformPriors(), end
	rows, _, err := Replay([]datasets.Account{a}, nil, decs, o)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][numOutcomes]bool{ // censored?
		"D1": {false, false, false, false, false, false},
		"D2": {false, false, true, true, false, false},
		"D3": {true, true, true, true, true, true},
	}
	for _, r := range rows {
		for o, c := range want[r.Decision.DecisionID] {
			if math.IsNaN(r.Outcomes[o]) != c {
				t.Errorf("%s %s = %v, censored should be %v", r.Decision.DecisionID, OutcomeNames[o], r.Outcomes[o], c)
			}
		}
	}
}

// TestBadInput: unsorted events, unknown accounts and event types are errors
// that name the row; Apply refuses late events.
func TestBadInput(t *testing.T) {
	a1, a2 := testAccount("A1", "UTC"), testAccount("A2", "UTC")
	accts := []datasets.Account{a1, a2}
	d := []datasets.Decision{dec("D1", "A1", t0+5*usDay)}
	cases := []struct {
		name string
		evs  []datasets.Event
		decs []datasets.Decision
		want string
	}{
		{"time order", []datasets.Event{ev("E1", "A1", "opened", "email", t0+2*usDay, 0), ev("E2", "A1", "opened", "email", t0+usDay, 0)}, d, "row 2"},
		{"account order", []datasets.Event{ev("E1", "A2", "opened", "email", t0, 0), ev("E2", "A1", "opened", "email", t0, 0)}, d, "row 2"},
		{"unknown account", []datasets.Event{ev("E1", "A1", "opened", "email", t0, 0), ev("E2", "A9", "opened", "email", t0, 0)}, d, `row 2: account_id "A9"`},
		{"unknown type", []datasets.Event{ev("E1", "A1", "opened", "email", t0, 0), ev("E2", "A1", "teleported", "", t0, 0)}, d, `row 2: unknown event type "teleported"`},
		{"unknown channel", []datasets.Event{ev("E1", "A1", "opened", "pigeon", t0, 0)}, d, "row 1: unknown channel"},
		{"unsorted decisions", []datasets.Event{ev("E1", "A1", "opened", "email", t0, 0)},
			[]datasets.Decision{dec("D2", "A2", t0), dec("D1", "A1", t0)}, "decisions must be sorted"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := writeInputs(t, accts, c.evs, c.decs)
			out := filepath.Join(t.TempDir(), "x.parquet")
			_, err := Build(context.Background(), in, out, DefaultOptions())
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
			if _, serr := os.Stat(out); serr == nil {
				t.Fatal("a failed build left an output file")
			}
			if left, _ := filepath.Glob(filepath.Join(filepath.Dir(out), "*")); len(left) != 0 {
				t.Fatalf("a failed build left %v", left)
			}
			if c.name != "unsorted decisions" {
				if _, _, err := Replay(accts, c.evs, c.decs, DefaultOptions()); err == nil {
					t.Fatal("in-memory driver accepted the bad input")
				}
			}
		})
	}
	a, _ := NewAccount(&a1)
	s := NewState()
	e2, e1 := ev("E2", "A1", "opened", "email", t0+usDay, 0), ev("E1", "A1", "opened", "email", t0, 0)
	if err := s.Apply(&e2, a); err != nil {
		t.Fatal(err)
	}
	before, _ := s.MarshalBinary()
	if err := s.Apply(&e1, a); !errors.Is(err, ErrOutOfOrder) {
		t.Fatalf("late event: %v, want ErrOutOfOrder", err)
	}
	after, _ := s.MarshalBinary()
	if !slices.Equal(before, after) {
		t.Fatal("a refused event changed the state")
	}
}

// TestBuildCancelled: a cancelled build leaves no output.
func TestBuildCancelled(t *testing.T) {
	w := smallWorld(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	out := filepath.Join(t.TempDir(), "x.parquet")
	if _, err := Build(ctx, w.inputs(), out, DefaultOptions()); !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(out), "*")); len(left) != 0 {
		t.Fatalf("a cancelled build left %v", left)
	}
}

// TestEngagedOnChannel: engaged_48h is the response to the contact, an
// engagement on the decision's channel; an open of an earlier email does not
// count for an sms decision, and an inbound call counts for a call decision.
func TestEngagedOnChannel(t *testing.T) {
	a := testAccount("A1", "UTC")
	d1 := dec("D1", "A1", t0) // sms, sent at t0+1h
	d2 := dec("D2", "A1", t0+5*usDay)
	d2.Channel = datasets.ChannelCall
	d3 := dec("D3", "A1", t0+10*usDay)
	evs := []datasets.Event{
		{EventID: "E1", AccountID: "A1", Type: datasets.EventOpened, Channel: datasets.ChannelEmail, At: t0 + 2*usHour},
		{EventID: "E2", AccountID: "A1", Type: datasets.EventInboundCall, At: t0 + 5*usDay + 3*usHour},
		{EventID: "E3", AccountID: "A1", Type: datasets.EventClicked, Channel: datasets.ChannelSMS, At: t0 + 10*usDay + 2*usHour},
	}
	o := DefaultOptions()
	o.Priors, o.End = UniformPriors(), t0+60*usDay
	rows, _, err := Replay([]datasets.Account{a}, evs, []datasets.Decision{d1, d2, d3}, o)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{"D1": 0, "D2": 1, "D3": 1}
	for _, r := range rows {
		if got := r.Outcomes[oEngaged48h]; got != want[r.Decision.DecisionID] {
			t.Errorf("%s (%s) engaged_48h %v, want %v", r.Decision.DecisionID, r.Decision.Channel, got, want[r.Decision.DecisionID])
		}
	}
}
