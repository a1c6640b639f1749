package compliance

import (
	"testing"
	"time"
)

// ledger30 is a busy 30-day ledger: two contacts a day across channels.
func ledger30(at time.Time) []Entry {
	outs := []struct {
		ch Channel
		o  Outcome
	}{{Call, CallNoAnswer}, {Email, Delivered}, {SMS, Delivered}, {Call, CallVoicemailLeft}, {Letter, LetterMailed}, {Call, CallNotConnected}}
	var es []Entry
	for d := 30; d >= 1; d-- {
		for k := 0; k < 2; k++ {
			x := outs[(d*2+k)%len(outs)]
			es = append(es, Entry{Channel: x.ch, Outcome: x.o, At: at.Add(-time.Duration(d)*24*time.Hour + time.Duration(k*5)*time.Hour)})
		}
	}
	es[0].Notices = []string{"us-validation-notice"}
	return es
}

func benchSubject(b *testing.B, j, zone string) (*Subject, time.Time) {
	fw := mustOpen(b)
	at := mustTime(b, "2026-11-23T16:00:00Z")
	s, err := fw.Subject(Account{ID: "a", Jurisdiction: j, TimeZone: zone, Consents: allConsents}, ledger30(at))
	if err != nil {
		b.Fatal(err)
	}
	return s, at
}

// BenchmarkCheck30DayLedger is the budget the decision engine relies on: one full check
// (reasons, notices, earliest instant) of a call for a US-MA account with a 30-day ledger.
func BenchmarkCheck30DayLedger(b *testing.B) {
	s, at := benchSubject(b, "US-MA", "America/New_York")
	c := Contact{Channel: Call, At: at}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Check(c); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheckAllowed30DayLedger is the yes/no fast path for an allowed email.
func BenchmarkCheckAllowed30DayLedger(b *testing.B) {
	s, at := benchSubject(b, "US-TX", "America/Chicago")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Allowed(Email, at, Personal); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheckUnknownZone30DayLedger applies every zone of a multi-zone jurisdiction, with
// holidays (CA-ON, unknown zone).
func BenchmarkCheckUnknownZone30DayLedger(b *testing.B) {
	s, at := benchSubject(b, "CA-ON", "")
	c := Contact{Channel: Email, At: at}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Check(c); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFirewallCheckRequest includes compiling the account and sorting its ledger, as
// `engage compliance check` and the HTTP endpoint do per request.
func BenchmarkFirewallCheckRequest(b *testing.B) {
	fw := mustOpen(b)
	at := mustTime(b, "2026-11-23T16:00:00Z")
	req := Request{Account: Account{ID: "a", Jurisdiction: "US-MA", TimeZone: "America/New_York", Consents: allConsents}, Ledger: ledger30(at), Contact: Contact{Channel: Call, At: at}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := fw.Check(req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSubject30DayLedger is compiling an account and a 60-entry ledger
// (what serving does once per account change): with the rule lists, the
// notice-wait gates' evidence and the bare lists it reads off once.
func BenchmarkSubject30DayLedger(b *testing.B) {
	fw := mustOpen(b)
	at := mustTime(b, "2026-11-23T16:00:00Z")
	ledger := ledger30(at)
	for _, j := range []string{"US-MA", "CA-ON"} {
		b.Run(j, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := fw.Subject(Account{ID: "a", Jurisdiction: j, Consents: allConsents}, ledger); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
