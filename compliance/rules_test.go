package compliance

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func mustOpen(t testing.TB) *Firewall {
	t.Helper()
	fw, err := Open(DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	return fw
}

func mustTime(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

var allConsents = map[Channel]bool{Call: true, SMS: true, Email: true, Letter: true, Push: true, Agent: true}

func led(ch Channel, at string, o Outcome) Entry {
	v, _ := time.Parse(time.RFC3339, at)
	return Entry{Channel: ch, At: v, Outcome: o}
}

type ruleCase struct {
	name     string
	j, zone  string
	acct     func(*Account)
	ledger   []Entry
	ch       Channel
	kind     AddressKind
	msg      *Message
	at       string
	allowed  bool
	rule     string // a rule id that must be among the reasons when denied
	earliest string // "" unchecked, "null" must be null, else RFC 3339 UTC
}

func calls(o Outcome, ats ...string) []Entry {
	var out []Entry
	for _, a := range ats {
		out = append(out, led(Call, a, o))
	}
	return out
}

var onLetter = []Entry{led(Letter, "2026-11-02T15:00:00Z", LetterMailed)}
var calls7 = calls(CallNoAnswer, "2026-11-17T15:00:00Z", "2026-11-18T15:00:00Z", "2026-11-19T15:00:00Z", "2026-11-20T15:00:00Z", "2026-11-21T15:00:00Z", "2026-11-21T15:00:00Z", "2026-11-22T15:00:00Z")

func TestRules(t *testing.T) {
	cases := []ruleCase{
		// US federal hours, 20:59 / 21:00 and 08:00 edges, DST switch days.
		{name: "US 20:59 local allowed", j: "US-NY", zone: "America/New_York", ch: Call, at: "2026-11-24T01:59:00Z", allowed: true},
		{name: "US 20:59:59 local allowed", j: "US-NY", zone: "America/New_York", ch: Call, at: "2026-11-24T01:59:59Z", allowed: true},
		{name: "US 21:00 local denied", j: "US-NY", zone: "America/New_York", ch: Call, at: "2026-11-24T02:00:00Z", rule: "us-convenient-hours", earliest: "2026-11-24T13:00:00Z"},
		{name: "US 07:59:59 denied", j: "US-NY", zone: "America/New_York", ch: SMS, at: "2026-11-24T12:59:59Z", rule: "us-convenient-hours", earliest: "2026-11-24T13:00:00Z"},
		{name: "US 08:00 allowed", j: "US-NY", zone: "America/New_York", ch: Email, at: "2026-11-24T13:00:00Z", allowed: true},
		{name: "US letter at night allowed", j: "US-NY", zone: "America/New_York", ch: Letter, at: "2026-11-24T04:00:00Z", allowed: true},
		{name: "US spring-forward day 07:59 EDT", j: "US-NY", zone: "America/New_York", ch: Call, at: "2026-03-08T11:59:00Z", rule: "us-convenient-hours", earliest: "2026-03-08T12:00:00Z"},
		{name: "US night across spring-forward", j: "US-NY", zone: "America/New_York", ch: Call, at: "2026-03-08T02:30:00Z", rule: "us-convenient-hours", earliest: "2026-03-08T12:00:00Z"},
		{name: "US fall-back day 07:30 EST", j: "US-NY", zone: "America/New_York", ch: Call, at: "2026-11-01T12:30:00Z", rule: "us-convenient-hours", earliest: "2026-11-01T13:00:00Z"},
		{name: "US night across fall-back", j: "US-NY", zone: "America/New_York", ch: Call, at: "2026-11-01T01:30:00Z", rule: "us-convenient-hours", earliest: "2026-11-01T13:00:00Z"},
		{name: "US fall-back day 20:59 EST", j: "US-NY", zone: "America/New_York", ch: Call, at: "2026-11-02T01:59:00Z", allowed: true},
		// Unknown zone: every zone of the jurisdiction (US-TX spans Central and Mountain).
		{name: "US-TX unknown zone 07:30 CST/06:30 MST", j: "US-TX", zone: "", ch: Call, at: "2026-11-23T13:30:00Z", rule: "us-convenient-hours", earliest: "2026-11-23T15:00:00Z"},
		{name: "US-TX unknown zone 20:30 CST", j: "US-TX", zone: "", ch: Call, at: "2026-11-24T02:30:00Z", allowed: true},
		{name: "US-TX unknown zone 21:00 CST", j: "US-TX", zone: "", ch: Call, at: "2026-11-24T03:00:00Z", rule: "us-convenient-hours"},
		{name: "zone outside jurisdiction adds it", j: "US-NY", zone: "America/Los_Angeles", ch: Call, at: "2026-11-23T13:30:00Z", rule: "us-convenient-hours", earliest: "2026-11-23T16:00:00Z"},
		// Reg F 7-in-7 rolling window edges.
		{name: "RegF 8th call denied", j: "US-TX", zone: "America/Chicago", ledger: calls7, ch: Call, at: "2026-11-23T16:00:00Z", rule: "us-regf-7-in-7", earliest: "2026-11-24T15:00:00Z"},
		{name: "RegF 1s before oldest leaves", j: "US-TX", zone: "America/Chicago", ledger: calls7, ch: Call, at: "2026-11-24T14:59:59Z", rule: "us-regf-7-in-7"},
		{name: "RegF exactly 7 days after oldest", j: "US-TX", zone: "America/Chicago", ledger: calls7, ch: Call, at: "2026-11-24T15:00:00Z", allowed: true},
		{name: "RegF agent hand-off capped too", j: "US-TX", zone: "America/Chicago", ledger: calls7, ch: Agent, at: "2026-11-23T16:00:00Z", rule: "us-regf-7-in-7"},
		{name: "RegF not-connected calls excluded", j: "US-TX", zone: "America/Chicago", ledger: append(calls(CallNoAnswer, "2026-11-18T15:00:00Z", "2026-11-19T15:00:00Z", "2026-11-20T15:00:00Z", "2026-11-21T15:00:00Z", "2026-11-22T15:00:00Z", "2026-11-22T16:00:00Z"), calls(CallNotConnected, "2026-11-22T17:00:00Z", "2026-11-22T18:00:00Z")...), ch: Call, at: "2026-11-23T16:00:00Z", allowed: true},
		{name: "RegF other debt not counted", j: "US-TX", zone: "America/Chicago", ledger: otherDebt(calls7), ch: Call, at: "2026-11-23T16:00:00Z", allowed: true},
		{name: "RegF email after 7 calls", j: "US-TX", zone: "America/Chicago", ledger: calls7, ch: Email, at: "2026-11-23T16:00:00Z", allowed: true},
		// Post-conversation wait.
		{name: "call right after conversation", j: "US-TX", zone: "America/Chicago", ledger: validated(calls(CallConversation, "2026-11-22T16:00:00Z")), ch: Call, at: "2026-11-22T16:01:00Z", rule: "us-regf-post-conversation", earliest: "2026-11-29T14:00:00Z"},
		{name: "call on day 7 after conversation", j: "US-TX", zone: "America/Chicago", ledger: validated(calls(CallConversation, "2026-11-22T16:00:00Z")), ch: Call, at: "2026-11-29T03:00:00Z", rule: "us-regf-post-conversation"},
		{name: "call on day 8 after conversation", j: "US-TX", zone: "America/Chicago", ledger: validated(calls(CallConversation, "2026-11-22T16:00:00Z")), ch: Call, at: "2026-11-29T14:00:00Z", allowed: true},
		{name: "inbound conversation starts the wait", j: "US-TX", zone: "America/Chicago", ledger: calls(InboundCallConversation, "2026-11-22T16:00:00Z"), ch: Call, at: "2026-11-23T16:00:00Z", rule: "us-regf-post-conversation"},
		{name: "email after conversation allowed", j: "US-TX", zone: "America/Chicago", ledger: calls(CallConversation, "2026-11-22T16:00:00Z"), ch: Email, at: "2026-11-23T16:00:00Z", allowed: true},
		// Massachusetts counts reaching voicemail.
		{name: "MA 3rd call in 7 days", j: "US-MA", zone: "America/New_York", ledger: append(calls(CallNoAnswer, "2026-11-18T15:00:00Z"), calls(CallVoicemailNoMessage, "2026-11-20T15:00:00Z")...), ch: Call, at: "2026-11-23T16:00:00Z", rule: "ma-2-in-7-personal", earliest: "2026-11-25T15:00:00Z"},
		{name: "MA text counts with calls", j: "US-MA", zone: "America/New_York", ledger: append(calls(CallNoAnswer, "2026-11-18T15:00:00Z"), led(SMS, "2026-11-20T15:00:00Z", Delivered)), ch: SMS, at: "2026-11-23T16:00:00Z", rule: "ma-2-in-7-personal"},
		{name: "MA not-connected not counted", j: "US-MA", zone: "America/New_York", ledger: append(calls(CallNoAnswer, "2026-11-18T15:00:00Z"), calls(CallNotConnected, "2026-11-20T15:00:00Z")...), ch: Call, at: "2026-11-23T16:00:00Z", allowed: true},
		{name: "MA work number has its own 2-in-30", j: "US-MA", zone: "America/New_York", ledger: calls(CallNoAnswer, "2026-11-18T15:00:00Z", "2026-11-20T15:00:00Z"), ch: Call, kind: Work, at: "2026-11-23T16:00:00Z", allowed: true},
		{name: "MA email not capped", j: "US-MA", zone: "America/New_York", ledger: calls(CallNoAnswer, "2026-11-18T15:00:00Z", "2026-11-20T15:00:00Z"), ch: Email, at: "2026-11-23T16:00:00Z", allowed: true},
		// Washington: 07:30 under state law but the federal 08:00 floor wins.
		{name: "WA 07:45 denied by federal floor", j: "US-WA", zone: "America/Los_Angeles", ch: Call, at: "2026-11-23T15:45:00Z", rule: "us-convenient-hours", earliest: "2026-11-23T16:00:00Z"},
		{name: "WA 3 communications a week", j: "US-WA", zone: "America/Los_Angeles", ledger: []Entry{led(Email, "2026-11-18T18:00:00Z", ContactSent), led(Letter, "2026-11-19T18:00:00Z", LetterMailed), led(Call, "2026-11-20T18:00:00Z", CallConversation)}, ch: Letter, at: "2026-11-23T18:00:00Z", rule: "wa-3-per-week"},
		// Ontario: Sunday 13:00-17:00, holidays, 6-day written-notice wait, 3 contacts a week.
		{name: "ON Sunday 12:59", j: "CA-ON", zone: "America/Toronto", ledger: onLetter, ch: Call, at: "2026-11-22T17:59:00Z", rule: "on-hours", earliest: "2026-11-22T18:00:00Z"},
		{name: "ON Sunday 13:00", j: "CA-ON", zone: "America/Toronto", ledger: onLetter, ch: Call, at: "2026-11-22T18:00:00Z", allowed: true},
		{name: "ON Sunday 16:59", j: "CA-ON", zone: "America/Toronto", ledger: onLetter, ch: Call, at: "2026-11-22T21:59:00Z", allowed: true},
		{name: "ON Sunday 17:00", j: "CA-ON", zone: "America/Toronto", ledger: onLetter, ch: Call, at: "2026-11-22T22:00:00Z", rule: "on-hours", earliest: "2026-11-23T12:00:00Z"},
		{name: "ON Saturday 20:59", j: "CA-ON", zone: "America/Toronto", ledger: onLetter, ch: Call, at: "2026-11-22T01:59:00Z", allowed: true},
		{name: "ON Good Friday", j: "CA-ON", zone: "America/Toronto", ledger: []Entry{led(Letter, "2026-03-02T15:00:00Z", LetterMailed)}, ch: Call, at: "2026-04-03T14:00:00Z", rule: "on-hours", earliest: "2026-04-04T11:00:00Z"},
		{name: "ON no written notice", j: "CA-ON", zone: "America/Toronto", ch: Call, at: "2026-11-23T16:00:00Z", rule: "on-written-notice-wait", earliest: "null"},
		{name: "ON notice too recent", j: "CA-ON", zone: "America/Toronto", ledger: onLetter, ch: Call, at: "2026-11-08T19:00:00Z", rule: "on-written-notice-wait", earliest: "2026-11-09T12:00:00Z"},
		{name: "ON letters and unanswered calls not counted", j: "CA-ON", zone: "America/Toronto", ledger: append(calls(CallNoAnswer, "2026-11-18T15:00:00Z", "2026-11-19T15:00:00Z", "2026-11-20T15:00:00Z"), onLetter...), ch: Call, at: "2026-11-23T16:00:00Z", allowed: true},
		{name: "ON 4th contact", j: "CA-ON", zone: "America/Toronto", ledger: append(calls(CallVoicemailLeft, "2026-11-18T15:00:00Z", "2026-11-19T15:00:00Z"), append(onLetter, led(SMS, "2026-11-20T15:00:00Z", Delivered))...), ch: Email, at: "2026-11-23T16:00:00Z", rule: "on-3-in-7", earliest: "2026-11-25T15:00:00Z"},
		// Québec: no Sundays or holidays; notice then 5 days.
		{name: "QC Sunday", j: "CA-QC", zone: "America/Toronto", ledger: onLetter, ch: Call, at: "2026-11-22T18:00:00Z", rule: "qc-hours", earliest: "2026-11-23T13:00:00Z"},
		{name: "QC Fete nationale", j: "CA-QC", zone: "America/Toronto", ledger: onLetter, ch: Email, at: "2026-06-24T14:00:00Z", rule: "qc-hours", earliest: "2026-06-25T12:00:00Z"},
		{name: "QC 19:59 allowed", j: "CA-QC", zone: "America/Toronto", ledger: onLetter, ch: Call, at: "2026-11-24T00:59:00Z", allowed: true},
		// BC: details before calls; Truth and Reconciliation Day.
		{name: "BC Sept 30", j: "CA-BC", zone: "America/Vancouver", ledger: []Entry{led(Letter, "2026-09-01T18:00:00Z", LetterMailed)}, ch: Call, at: "2026-09-30T18:00:00Z", rule: "bc-hours", earliest: "2026-10-01T14:00:00Z"},
		{name: "BC email needs no prior details", j: "CA-BC", zone: "America/Vancouver", ch: Email, at: "2026-11-23T18:00:00Z", allowed: true},
		// Alberta: 22:00 by law, Sunday policy.
		{name: "AB Monday 21:30", j: "CA-AB", zone: "America/Edmonton", ch: Call, at: "2026-11-24T04:30:00Z", allowed: true},
		{name: "AB Sunday 10:00 policy", j: "CA-AB", zone: "America/Edmonton", ch: Call, at: "2026-11-22T17:00:00Z", rule: "ab-sunday-holiday-policy", earliest: "2026-11-22T20:00:00Z"},
		// Australia: half-hour zones, weekday/weekend hours, holidays, weekly cap, DST end.
		{name: "AU-SA 07:29 ACDT", j: "AU-SA", zone: "Australia/Adelaide", ch: Call, at: "2026-11-22T20:59:00Z", rule: "au-hours", earliest: "2026-11-22T21:00:00Z"},
		{name: "AU-SA 07:30 ACDT", j: "AU-SA", zone: "Australia/Adelaide", ch: Call, at: "2026-11-22T21:00:00Z", allowed: true},
		{name: "AU-NT Saturday 08:59", j: "AU-NT", zone: "Australia/Darwin", ch: Call, at: "2026-11-20T23:29:00Z", rule: "au-hours", earliest: "2026-11-20T23:30:00Z"},
		{name: "AU-NT 20:59", j: "AU-NT", zone: "Australia/Darwin", ch: Call, at: "2026-11-23T11:29:00Z", allowed: true},
		{name: "AU-NT 21:00", j: "AU-NT", zone: "Australia/Darwin", ch: Call, at: "2026-11-23T11:30:00Z", rule: "au-hours"},
		{name: "AU Anzac Day call", j: "AU-NSW", zone: "Australia/Sydney", ch: Call, at: "2026-04-25T00:00:00Z", rule: "au-public-holidays", earliest: "2026-04-25T23:00:00Z"},
		{name: "AU Anzac Day email", j: "AU-NSW", zone: "Australia/Sydney", ch: Email, at: "2026-04-25T00:00:00Z", allowed: true},
		{name: "AU DST end Sunday 08:59 AEST", j: "AU-VIC", zone: "Australia/Melbourne", ch: Email, at: "2026-04-04T22:59:00Z", rule: "au-hours", earliest: "2026-04-04T23:00:00Z"},
		{name: "AU 4th contact in a week", j: "AU-NSW", zone: "Australia/Sydney", ledger: calls(CallConversation, "2026-11-18T01:00:00Z", "2026-11-19T01:00:00Z", "2026-11-20T01:00:00Z"), ch: Call, at: "2026-11-23T01:00:00Z", rule: "au-3-per-week", earliest: "2026-11-25T01:00:00Z"},
		{name: "AU 3rd call attempt in a day", j: "AU-NSW", zone: "Australia/Sydney", ledger: calls(CallNoAnswer, "2026-11-23T00:00:00Z", "2026-11-23T01:00:00Z"), ch: Call, at: "2026-11-23T02:00:00Z", rule: "au-attempt-throttle", earliest: "2026-11-24T00:00:00Z"},
		// New Zealand and the UK: no number in law, company policy instead.
		{name: "NZ Chatham 07:59 (+13:45)", j: "NZ", zone: "Pacific/Chatham", ch: Call, at: "2026-11-22T18:14:00Z", rule: "nz-hours-policy", earliest: "2026-11-22T18:15:00Z"},
		{name: "NZ Chatham 08:00", j: "NZ", zone: "Pacific/Chatham", ch: Call, at: "2026-11-22T18:15:00Z", allowed: true},
		{name: "NZ Sunday", j: "NZ", zone: "Pacific/Auckland", ch: SMS, at: "2026-11-21T22:00:00Z", rule: "nz-hours-policy", earliest: "2026-11-22T19:00:00Z"},
		{name: "GB Sunday", j: "GB", zone: "Europe/London", ch: Call, at: "2026-11-22T12:00:00Z", rule: "gb-hours-policy", earliest: "2026-11-23T08:00:00Z"},
		{name: "GB Saturday 17:00", j: "GB", zone: "Europe/London", ch: Call, at: "2026-11-21T17:00:00Z", rule: "gb-hours-policy"},
		// Flags and consents.
		{name: "cease blocks email", j: "US-TX", zone: "America/Chicago", acct: flags(FlagCease), ch: Email, at: "2026-11-23T16:00:00Z", rule: "us-cease", earliest: "null"},
		{name: "dispute blocks calls", j: "GB", zone: "Europe/London", acct: flags(FlagDispute), ch: Call, at: "2026-11-23T12:00:00Z", rule: "gb-dispute", earliest: "null"},
		{name: "dispute lets letters through", j: "US-TX", zone: "America/Chicago", acct: flags(FlagDispute), ch: Letter, at: "2026-11-23T16:00:00Z", allowed: true},
		{name: "bankruptcy blocks letters", j: "CA-ON", zone: "America/Toronto", acct: flags(FlagBankruptcy), ch: Letter, at: "2026-11-23T16:00:00Z", rule: "policy-bankruptcy"},
		{name: "deceased", j: "AU", zone: "Australia/Perth", acct: flags(FlagDeceased), ch: Email, at: "2026-11-23T02:00:00Z", rule: "policy-deceased"},
		{name: "attorney", j: "AU-QLD", zone: "Australia/Brisbane", acct: flags(FlagAttorney), ch: Call, at: "2026-11-23T02:00:00Z", rule: "au-represented"},
		{name: "hardship: one contact a week", j: "US-TX", zone: "America/Chicago", acct: flags(FlagHardship), ledger: calls(CallNoAnswer, "2026-11-20T16:00:00Z"), ch: Call, at: "2026-11-23T16:00:00Z", rule: "policy-hardship-cap", earliest: "2026-11-27T16:00:00Z"},
		{name: "sms without consent", j: "US-TX", zone: "America/Chicago", acct: func(a *Account) { a.Consents = map[Channel]bool{Call: true} }, ch: SMS, at: "2026-11-23T16:00:00Z", rule: "policy-electronic-consent", earliest: "null"},
		{name: "email opt-out", j: "US-TX", zone: "America/Chicago", acct: func(a *Account) { a.Consents = map[Channel]bool{Email: false} }, ch: Email, at: "2026-11-23T16:00:00Z", rule: "customer-opt-out", earliest: "null"},
		{name: "email without explicit choice", j: "US-TX", zone: "America/Chicago", acct: func(a *Account) { a.Consents = nil }, ch: Email, at: "2026-11-23T16:00:00Z", allowed: true},
		// The customer's own choices.
		{name: "preferred channel email blocks call", j: "GB", zone: "Europe/London", acct: preferred(Email), ch: Call, at: "2026-11-23T12:00:00Z", rule: "customer-preferred-channel", earliest: "null"},
		{name: "preferred channel keeps letters", j: "GB", zone: "Europe/London", acct: preferred(Email), ch: Letter, at: "2026-11-23T12:00:00Z", allowed: true},
		{name: "do-not-contact lunch", j: "US-TX", zone: "America/Chicago", acct: quiet(Quiet{Days: []string{"mon"}, From: "12:00", To: "13:00"}), ch: Call, at: "2026-11-23T18:30:00Z", rule: "customer-do-not-contact", earliest: "2026-11-23T19:00:00Z"},
		{name: "do-not-contact other day", j: "US-TX", zone: "America/Chicago", acct: quiet(Quiet{Days: []string{"tue"}, From: "12:00", To: "13:00"}), ch: Call, at: "2026-11-23T18:30:00Z", allowed: true},
		{name: "do-not-contact wraps midnight", j: "US-TX", zone: "America/Chicago", acct: quiet(Quiet{From: "18:00", To: "10:00"}), ch: Call, at: "2026-11-24T01:00:00Z", rule: "customer-do-not-contact", earliest: "2026-11-24T16:00:00Z"},
		// Notices.
		{name: "message lacking opt-out notice", j: "US-TX", zone: "America/Chicago", ch: Email, msg: &Message{Notices: []string{"us-mini-miranda-initial", "us-validation-notice"}}, at: "2026-11-23T16:00:00Z", rule: "us-electronic-opt-out", earliest: "null"},
		{name: "message with every notice", j: "US-TX", zone: "America/Chicago", ch: Email, msg: &Message{Notices: []string{"us-mini-miranda-initial", "us-validation-notice", "us-electronic-opt-out"}}, at: "2026-11-23T16:00:00Z", allowed: true},
		{name: "validation notice overdue blocks calls", j: "US-TX", zone: "America/Chicago", ledger: []Entry{led(Email, "2026-11-10T16:00:00Z", ContactSent)}, ch: Call, at: "2026-11-23T16:00:00Z", rule: "us-validation-notice", earliest: "null"},
		{name: "validation notice delivered", j: "US-TX", zone: "America/Chicago", ledger: []Entry{led(Email, "2026-11-10T16:00:00Z", ContactSent), {Channel: Letter, At: mustTime(t, "2026-11-12T16:00:00Z"), Outcome: LetterMailed, Notices: []string{"us-validation-notice"}}}, ch: Call, at: "2026-11-23T16:00:00Z", allowed: true},
	}
	fw := mustOpen(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := Account{ID: "a1", Jurisdiction: c.j, TimeZone: c.zone, Consents: allConsents}
			if c.acct != nil {
				c.acct(&a)
			}
			s, err := fw.Subject(a, c.ledger)
			if err != nil {
				t.Fatal(err)
			}
			d, err := s.Check(Contact{Channel: c.ch, At: mustTime(t, c.at), AddressKind: c.kind, Message: c.msg})
			if err != nil {
				t.Fatal(err)
			}
			if d.Allowed != c.allowed {
				t.Fatalf("allowed=%v, want %v; reasons %+v", d.Allowed, c.allowed, d.Reasons)
			}
			if !c.allowed {
				if !slices.ContainsFunc(d.Reasons, func(r Reason) bool { return r.Rule == c.rule }) {
					t.Errorf("reasons %+v lack rule %s", d.Reasons, c.rule)
				}
				for _, r := range d.Reasons {
					if r.Text == "" || r.Source == "" {
						t.Errorf("reason without text or source: %+v", r)
					}
				}
			}
			switch {
			case c.earliest == "null" && d.EarliestAllowed != nil:
				t.Errorf("earliest %v, want null", d.EarliestAllowed)
			case c.earliest != "" && c.earliest != "null":
				if d.EarliestAllowed == nil || d.EarliestAllowed.Format(time.RFC3339) != c.earliest {
					t.Errorf("earliest %v, want %s", d.EarliestAllowed, c.earliest)
				}
			}
			if c.allowed && (d.EarliestAllowed == nil || !d.EarliestAllowed.Equal(mustTime(t, c.at))) {
				t.Errorf("allowed contact: earliest %v, want its own time", d.EarliestAllowed)
			}
		})
	}
}

func flags(fs ...Flag) func(*Account) { return func(a *Account) { a.Flags = fs } }
func preferred(c Channel) func(*Account) {
	return func(a *Account) { a.PreferredChannel = &c }
}
func quiet(q Quiet) func(*Account) { return func(a *Account) { a.DoNotContact = []Quiet{q} } }

// validated adds the US validation notice, mailed a day before the first entry.
func validated(es []Entry) []Entry {
	return append(slices.Clone(es), Entry{Channel: Letter, At: es[0].At.Add(-24 * time.Hour), Outcome: LetterMailed, Notices: []string{"us-validation-notice"}})
}

func otherDebt(es []Entry) []Entry {
	out := slices.Clone(es)
	for i := range out {
		out[i].AccountID = "another-debt"
	}
	return out
}

func TestMissingHolidayYearIsAnError(t *testing.T) {
	fw := mustOpen(t)
	s, err := fw.Subject(Account{ID: "a", Jurisdiction: "CA-QC", TimeZone: "America/Toronto", Consents: allConsents}, []Entry{led(Letter, "2029-12-01T15:00:00Z", LetterMailed)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Check(Contact{Channel: Call, At: mustTime(t, "2030-01-07T15:00:00Z")})
	if err == nil || !strings.Contains(err.Error(), "2030") {
		t.Fatalf("err = %v, want a missing-year error", err)
	}
	// A search that runs into the missing year is an error too, never an allowance.
	_, err = s.Check(Contact{Channel: Call, At: mustTime(t, "2028-12-31T02:00:00Z")})
	if err == nil {
		t.Fatal("search into 2029 passed silently")
	}
	// Jurisdictions without a holiday blackout do not need a list.
	s2, _ := fw.Subject(Account{ID: "a", Jurisdiction: "US-TX", TimeZone: "America/Chicago"}, nil)
	if _, err := s2.Check(Contact{Channel: Email, At: mustTime(t, "2035-01-08T16:00:00Z")}); err != nil {
		t.Fatal(err)
	}
}

func TestRequestErrors(t *testing.T) {
	fw := mustOpen(t)
	for _, c := range []struct{ name, json, want string }{
		{"malformed", `{"account":`, "decode"},
		{"unknown field", `{"account":{"id":"a","jurisdiction":"US-TX","flag":["cease"]},"contact":{"channel":"call","at":"2026-11-23T16:00:00Z"}}`, "unknown field"},
		{"unknown jurisdiction", `{"account":{"id":"a","jurisdiction":"XX"},"contact":{"channel":"call","at":"2026-11-23T16:00:00Z"}}`, "unknown jurisdiction"},
		{"unknown channel", `{"account":{"id":"a","jurisdiction":"US-TX"},"contact":{"channel":"fax","at":"2026-11-23T16:00:00Z"}}`, "unknown channel"},
		{"missing channel", `{"account":{"id":"a","jurisdiction":"US-TX"},"contact":{"at":"2026-11-23T16:00:00Z"}}`, "channel"},
		{"unknown zone", `{"account":{"id":"a","jurisdiction":"US-TX","time_zone":"Mars/Base"},"contact":{"channel":"call","at":"2026-11-23T16:00:00Z"}}`, "unknown time zone"},
		{"unknown flag", `{"account":{"id":"a","jurisdiction":"US-TX","flags":["cesae"]},"contact":{"channel":"call","at":"2026-11-23T16:00:00Z"}}`, "unknown flag"},
		{"unknown outcome", `{"account":{"id":"a","jurisdiction":"US-TX"},"ledger":[{"channel":"call","at":"2026-11-20T16:00:00Z","outcome":"rang"}],"contact":{"channel":"call","at":"2026-11-23T16:00:00Z"}}`, "unknown outcome"},
		{"missing outcome", `{"account":{"id":"a","jurisdiction":"US-TX"},"ledger":[{"channel":"call","at":"2026-11-20T16:00:00Z"}],"contact":{"channel":"call","at":"2026-11-23T16:00:00Z"}}`, "outcome"},
		{"bad time", `{"account":{"id":"a","jurisdiction":"US-TX"},"contact":{"channel":"call","at":"tomorrow"}}`, "decode"},
		{"missing time", `{"account":{"id":"a","jurisdiction":"US-TX"},"contact":{"channel":"call"}}`, "contact.at"},
		{"trailing data", `{"account":{"id":"a","jurisdiction":"US-TX"},"contact":{"channel":"call","at":"2026-11-23T16:00:00Z"}} {}`, "trailing"},
		{"abstract jurisdiction", `{"account":{"id":"a","jurisdiction":"CA"},"contact":{"channel":"call","at":"2026-11-23T16:00:00Z"}}`, "subdivision"},
	} {
		t.Run(c.name, func(t *testing.T) {
			req, err := UnmarshalRequest([]byte(c.json))
			if err == nil {
				var d Decision
				d, err = fw.Check(req)
				if err == nil {
					t.Fatalf("answered %+v, want an error", d)
				}
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not mention %q", err, c.want)
			}
		})
	}
}

func TestNoticesListed(t *testing.T) {
	fw := mustOpen(t)
	s, err := fw.Subject(Account{ID: "a", Jurisdiction: "US-CA", TimeZone: "America/Los_Angeles", Consents: allConsents, Flags: []Flag{FlagTimeBarred}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	d, err := s.Check(Contact{Channel: Letter, At: mustTime(t, "2026-11-23T18:00:00Z")})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, n := range d.Notices {
		ids = append(ids, n.ID)
	}
	for _, want := range []string{"us-mini-miranda-initial", "us-validation-notice", "us-time-barred-no-suit", "ca-license-number", "ca-1812700-notice", "ca-time-barred-notice"} {
		if !slices.Contains(ids, want) {
			t.Errorf("notices %v lack %s", ids, want)
		}
	}
	if slices.Contains(ids, "us-electronic-opt-out") {
		t.Errorf("letter asked for the electronic opt-out notice: %v", ids)
	}
}
