package reports

import (
	"context"
	"testing"
	"time"

	"github.com/engagehq/engage/datasets"
)

// fixture is a small world whose every report figure is computed by hand in
// the tests: two treated accounts (A1, A2), two holdout accounts (A3, A4) and
// one account without decisions (A5).
func fixture() *MemSource {
	ts := func(s string) int64 {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			panic(err)
		}
		return t.UnixMicro()
	}
	ref := ts("2026-01-01T00:00:00Z")
	acc := func(id, jur, tz, cur, product, age string, bal int64) datasets.Account {
		return datasets.Account{Tenant: "t1", ID: id, ReferredAt: ref, Balance: bal, Currency: cur, Product: product,
			DaysPastDue: 30, Jurisdiction: jur, TimeZone: tz, AgeBand: age, Language: "en"}
	}
	n := 0
	ev := func(acct, typ, at, ch, dec string, amount int64) datasets.Event {
		n++
		return datasets.Event{Tenant: "t1", EventID: "E" + string(rune('a'+n)), AccountID: acct, Type: typ, At: ts(at),
			Channel: ch, DecisionID: dec, Amount: amount}
	}
	dec := func(id, acct, at, ch string, holdout bool) datasets.Decision {
		return datasets.Decision{Tenant: "t1", DecisionID: id, AccountID: acct, At: ts(at), SendAt: ts(at), Channel: ch,
			Message: datasets.MessageFriendly, Propensity: 0.5, Policy: datasets.PolicyBAU, Holdout: holdout}
	}
	return &MemSource{
		AccountRows: []datasets.Account{
			acc("A1", "US-MA", "America/New_York", "USD", "bnpl", "25-34", 10000),
			acc("A2", "US", "America/Chicago", "USD", "credit_card", "35-44", 20000),
			acc("A3", "GB", "Europe/London", "GBP", "bnpl", "25-34", 5000),
			acc("A4", "US-MA", "America/New_York", "USD", "bnpl", "18-24", 8000),
			acc("A5", "CA-ON", "America/Toronto", "CAD", "telecom", "65+", 12000),
		},
		DecisionRows: []datasets.Decision{
			dec("d1", "A1", "2026-01-05T14:00:00Z", "email", false),
			dec("d2", "A1", "2026-01-12T15:00:00Z", "sms", false),
			dec("d3", "A2", "2026-01-05T16:00:00Z", "call", false),
			dec("d4", "A2", "2026-01-07T16:00:00Z", "call", false),
			dec("d5", "A3", "2026-01-06T09:00:00Z", "letter", true),
			dec("d6", "A4", "2026-01-06T13:00:00Z", "email", true),
		},
		// Deliberately not in time order: Load sorts.
		EventRows: []datasets.Event{
			ev("A1", "payment", "2026-01-06T10:00:00Z", "", "", 4000),
			ev("A1", "contact_sent", "2026-01-05T14:00:00Z", "email", "d1", 0),
			ev("A1", "delivered", "2026-01-05T14:01:00Z", "email", "d1", 0),
			ev("A1", "opened", "2026-01-05T15:00:00Z", "email", "d1", 0),
			ev("A1", "contact_sent", "2026-01-12T15:00:00Z", "sms", "d2", 0),
			ev("A1", "delivered", "2026-01-12T15:00:30Z", "sms", "d2", 0),
			ev("A1", "replied", "2026-01-12T15:20:00Z", "sms", "d2", 0),
			ev("A1", "complaint", "2026-01-12T18:00:00Z", "sms", "d2", 0),
			ev("A2", "contact_sent", "2026-01-05T16:00:00Z", "call", "d3", 0),
			ev("A2", "call_no_answer", "2026-01-05T16:00:40Z", "call", "d3", 0),
			ev("A2", "contact_sent", "2026-01-07T16:00:00Z", "call", "d4", 0),
			ev("A2", "call_conversation", "2026-01-07T16:00:30Z", "call", "d4", 0),
			ev("A2", "promise_to_pay", "2026-01-07T16:05:00Z", "call", "d4", 20000),
			ev("A2", "payment", "2026-01-09T12:00:00Z", "", "", 20000),
			ev("A3", "contact_sent", "2026-01-06T09:00:00Z", "letter", "d5", 0),
			ev("A3", "letter_mailed", "2026-01-06T09:00:01Z", "letter", "d5", 0),
			ev("A3", "inbound_call_conversation", "2026-01-08T11:00:00Z", "letter", "d5", 0),
			ev("A3", "opt_out", "2026-01-08T11:30:00Z", "letter", "d5", 0),
			ev("A3", "payment", "2026-01-20T12:00:00Z", "", "", 2500),
			ev("A4", "contact_sent", "2026-01-06T13:00:00Z", "email", "d6", 0),
			ev("A4", "bounced", "2026-01-06T13:00:10Z", "email", "d6", 0),
			ev("A5", "payment", "2026-01-10T15:00:00Z", "", "", 6000),
			ev("ZZ", "payment", "2026-01-10T15:00:00Z", "", "", 6000), // unknown account: skipped
		},
	}
}

// fixtureOptions lets two-account arms through so the fixture exercises
// every figure.
func fixtureOptions() Options {
	o := DefaultOptions()
	o.MinAccounts = 2
	o.MinEvents = 1
	o.MinCell = 2
	o.Resamples = 200
	o.WeeklyResamples = 50
	return o
}

func loadFixture(t testing.TB, o Options) *Book {
	t.Helper()
	b, err := Load(context.Background(), fixture(), o)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
