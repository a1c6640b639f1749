package enginetest

import (
	"fmt"
	"time"

	"github.com/engagehq/engage/datasets"
)

// Accounts returns n accounts across four jurisdictions (US-TX, GB, CA-ON,
// US-MA, in turn) with every consent, referred 30 days before t0, with ids
// prefix0000, prefix0001, ...
func Accounts(n int, prefix string, t0 time.Time) []datasets.Account {
	js := []struct{ j, z, cur string }{{"US-TX", "America/Chicago", "USD"}, {"GB", "Europe/London", "GBP"}, {"CA-ON", "America/Toronto", "CAD"}, {"US-MA", "America/New_York", "USD"}}
	out := make([]datasets.Account, n)
	for i := range out {
		j := js[i%len(js)]
		out[i] = datasets.Account{ID: fmt.Sprintf("%s%04d", prefix, i), ReferredAt: t0.Add(-30 * 24 * time.Hour).UnixMicro(),
			Balance: int64(10_000 + 100*i), Currency: j.cur, Product: "bnpl", DaysPastDue: 30, Jurisdiction: j.j, TimeZone: j.z,
			AgeBand: "25-34", Language: "en", ConsentEmail: true, ConsentSMS: true, ConsentCall: true, ConsentPush: true, ConsentLetter: true}
	}
	return out
}

// Events returns the history of a, the i-th of Accounts: the validation
// notice's letter, an email sent, delivered and opened, and for one account
// in three a payment, starting 20 days (plus i minutes) before t0.
func Events(a *datasets.Account, i int, t0 time.Time) []datasets.Event {
	var out []datasets.Event
	base := t0.Add(-20 * 24 * time.Hour).Add(time.Duration(i) * time.Minute)
	add := func(k int, typ, ch string, dt time.Duration, amt int64) {
		e := datasets.Event{EventID: fmt.Sprintf("%s-e%d", a.ID, k), AccountID: a.ID, Type: typ, At: base.Add(dt).UnixMicro(), Channel: ch}
		if ch == datasets.ChannelEmail || ch == datasets.ChannelLetter {
			e.Message = datasets.MessageFriendly
		}
		if amt > 0 {
			e.Amount, e.Currency, e.Message, e.Channel = amt, a.Currency, "", ""
		}
		out = append(out, e)
	}
	add(0, datasets.EventLetterMailed, datasets.ChannelLetter, 0, 0)
	add(1, datasets.EventContactSent, datasets.ChannelEmail, 24*time.Hour, 0)
	add(2, datasets.EventDelivered, datasets.ChannelEmail, 24*time.Hour+time.Minute, 0)
	add(3, datasets.EventOpened, datasets.ChannelEmail, 26*time.Hour, 0)
	if i%3 == 0 {
		add(4, datasets.EventPayment, "", 3*24*time.Hour, 1000)
	}
	return out
}

// History is the Events of every account of accts, in order.
func History(accts []datasets.Account, t0 time.Time) []datasets.Event {
	var out []datasets.Event
	for i := range accts {
		out = append(out, Events(&accts[i], i, t0)...)
	}
	return out
}
