package features

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/engagehq/engage/datasets"
)

var t0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).UnixMicro()

func testAccount(id, zone string) datasets.Account {
	return datasets.Account{
		ID: id, ReferredAt: t0, Balance: 50_000, Currency: "USD", Product: "bnpl", DaysPastDue: 30,
		Jurisdiction: "US-NY", TimeZone: zone, AgeBand: "25-34", Language: "en",
		ConsentEmail: true, ConsentSMS: true, ConsentCall: true,
	}
}

// randomEvent draws any event type, channel and message, at instant at.
func randomEvent(rng *rand.Rand, acct string, n int, at int64) datasets.Event {
	e := datasets.Event{
		EventID:   fmt.Sprintf("%s-E%06d", acct, n),
		AccountID: acct,
		Type:      datasets.EventTypes[rng.IntN(len(datasets.EventTypes))],
		At:        at,
	}
	if rng.IntN(5) > 0 {
		e.Channel = datasets.Channels[rng.IntN(len(datasets.Channels))]
	}
	if rng.IntN(3) > 0 {
		e.Message = datasets.Messages[rng.IntN(len(datasets.Messages))]
	}
	if e.Type == datasets.EventPayment || e.Type == datasets.EventPromiseToPay {
		e.Amount = rng.Int64N(40_000)
	}
	return e
}

func randomHistory(rng *rand.Rand, acct string, n int, from, span int64) []datasets.Event {
	evs := make([]datasets.Event, n)
	for i := range evs {
		evs[i] = randomEvent(rng, acct, i, from+rng.Int64N(span))
	}
	slices.SortStableFunc(evs, func(a, b datasets.Event) int { return int(a.At - b.At) })
	return evs
}

// TestNoLeakage: appending or deleting events at or after t never changes the
// features as of t (property test over random histories). Priors are fixed, as
// a trained model's are.
func TestNoLeakage(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	acct := testAccount("A1", "America/New_York")
	o := DefaultOptions()
	o.Priors = UniformPriors()
	for trial := 0; trial < 300; trial++ {
		span := 60 * usDay
		evs := randomHistory(rng, "A1", 1+rng.IntN(120), t0, span)
		at := t0 + rng.Int64N(span)
		if trial%5 == 0 && len(evs) > 0 {
			at = evs[rng.IntN(len(evs))].At // a decision at the instant of an event
		}
		dec := datasets.Decision{DecisionID: "D1", AccountID: "A1", At: at, SendAt: at + rng.Int64N(usDay), Channel: "email", Message: datasets.MessageFirm}
		base, _, err := Replay([]datasets.Account{acct}, evs, []datasets.Decision{dec}, o)
		if err != nil {
			t.Fatal(err)
		}
		// Mutations: keep everything before at; then append, delete or both.
		var before, after []datasets.Event
		for _, e := range evs {
			if e.At < at {
				before = append(before, e)
			} else {
				after = append(after, e)
			}
		}
		mutated := slices.Clone(before)
		switch trial % 3 {
		case 0: // delete some later events
			for _, e := range after {
				if rng.IntN(2) == 0 {
					mutated = append(mutated, e)
				}
			}
		case 1: // append new later events (some exactly at t)
			mutated = append(mutated, after...)
			for k := 0; k < 1+rng.IntN(40); k++ {
				e := randomEvent(rng, "A1", 1000+k, at+rng.Int64N(30*usDay))
				if k == 0 {
					e.At = at
				}
				mutated = append(mutated, e)
			}
		case 2: // drop all later events
		}
		slices.SortStableFunc(mutated, func(a, b datasets.Event) int { return int(a.At - b.At) })
		got, _, err := Replay([]datasets.Account{acct}, mutated, []datasets.Decision{dec}, o)
		if err != nil {
			t.Fatal(err)
		}
		for j, n := range append(slices.Clone(numericNames), actionNames...) {
			if !close9(base[0].Numeric[j], got[0].Numeric[j]) {
				t.Fatalf("trial %d: %s as of %s changed from %v to %v after editing later events",
					trial, n, fmtTime(at), base[0].Numeric[j], got[0].Numeric[j])
			}
		}
	}
}

// TestStrictlyBefore: an event at the decision instant is not a feature of it.
func TestStrictlyBefore(t *testing.T) {
	acct := testAccount("A1", "UTC")
	at := t0 + 10*usDay
	pay := datasets.Event{EventID: "E1", AccountID: "A1", Type: datasets.EventPayment, At: at, Amount: 100}
	o := DefaultOptions()
	o.Priors = UniformPriors()
	rows, _, err := Replay([]datasets.Account{acct}, []datasets.Event{pay},
		[]datasets.Decision{{DecisionID: "D1", AccountID: "A1", At: at}, {DecisionID: "D2", AccountID: "A1", At: at + 1}}, o)
	if err != nil {
		t.Fatal(err)
	}
	col := slices.Index(numericNames, "payments")
	if rows[0].Numeric[col] != 0 || rows[1].Numeric[col] != 1 {
		t.Fatalf("payments as of the payment instant %v, one microsecond later %v; want 0 and 1", rows[0].Numeric[col], rows[1].Numeric[col])
	}
}
