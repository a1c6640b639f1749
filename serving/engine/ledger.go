package engine

import (
	"strings"
	"time"

	"github.com/engagehq/engage/compliance"
	"github.com/engagehq/engage/datasets"
)

// FromEvents describes an account and its event history to the firewall: the
// consents and flags of the referral, tightened by what the events say (a
// dispute or cease event sets the flag, an opt-out withdraws the channel's
// consent, every channel when it names none), and the contact ledger: every
// event that happened on a channel (calls and letters are implied by their
// types). notices, when not nil, returns the notices the decision with this id
// told the contact to carry, so a contact_sent that names its decision counts
// as delivering them; a contact without a decision id carries none, which keeps
// the firewall asking for the notice (the strict reading).
func FromEvents(a *datasets.Account, events []datasets.Event, notices func(decisionID string) []string) (compliance.Account, []compliance.Entry) {
	ca := compliance.Account{ID: a.ID, Jurisdiction: a.Jurisdiction, TimeZone: a.TimeZone, Consents: make(map[compliance.Channel]bool, 5)}
	ca.Consents[compliance.Email] = a.ConsentEmail
	ca.Consents[compliance.SMS] = a.ConsentSMS
	ca.Consents[compliance.Call] = a.ConsentCall
	ca.Consents[compliance.Push] = a.ConsentPush
	ca.Consents[compliance.Letter] = a.ConsentLetter
	var flags uint16
	addFlag := func(f compliance.Flag) {
		if flags&(1<<f) == 0 {
			flags |= 1 << f
			ca.Flags = append(ca.Flags, f)
		}
	}
	for _, f := range a.FlagList() {
		if fl, err := compliance.ParseFlag(strings.TrimSpace(f)); err == nil {
			addFlag(fl)
		}
	}
	ledger := make([]compliance.Entry, 0, len(events))
	for i := range events {
		e := &events[i]
		switch e.Type {
		case datasets.EventDispute:
			addFlag(compliance.FlagDispute)
		case datasets.EventCease:
			addFlag(compliance.FlagCease)
		case datasets.EventOptOut:
			if ch, err := compliance.ParseChannel(e.Channel); err == nil && e.Channel != "" {
				ca.Consents[ch] = false
			} else {
				for _, c := range []compliance.Channel{compliance.Email, compliance.SMS, compliance.Call, compliance.Push, compliance.Letter} {
					ca.Consents[c] = false
				}
			}
		}
		ch, ok := eventChannel(e)
		if !ok {
			continue
		}
		out, err := compliance.ParseOutcome(e.Type)
		if err != nil {
			continue
		}
		en := compliance.Entry{Channel: ch, At: time.UnixMicro(e.At).UTC(), Outcome: out}
		if notices != nil && e.DecisionID != "" && (e.Type == datasets.EventContactSent || e.Type == datasets.EventLetterMailed) {
			en.Notices = notices(e.DecisionID)
		}
		ledger = append(ledger, en)
	}
	return ca, ledger
}

// eventChannel is the channel an event happened on: its own, or the one its
// type implies.
func eventChannel(e *datasets.Event) (compliance.Channel, bool) {
	if e.Channel != "" {
		ch, err := compliance.ParseChannel(e.Channel)
		return ch, err == nil
	}
	switch e.Type {
	case datasets.EventCallNotConnected, datasets.EventCallNoAnswer, datasets.EventCallVoicemailNoMsg,
		datasets.EventCallVoicemailLeft, datasets.EventCallConversation, datasets.EventInboundCall:
		return compliance.Call, true
	case datasets.EventLetterMailed:
		return compliance.Letter, true
	}
	return 0, false
}

// Lookback is how far back from an instant the firewall's time-bounded rules
// look: the longest cap window and cooldown (plus two days for local-day
// rounding and time zones) over every pack in effect. Ledger entries older
// than an instant minus Lookback matter only through what PruneLedger keeps of
// them.
func Lookback(fw *compliance.Firewall) time.Duration {
	days := 7
	for _, p := range fw.Packs() {
		for _, r := range p.Rules {
			days = max(days, r.WindowDays+2, r.Days+2)
		}
	}
	return time.Duration(days) * 24 * time.Hour
}

// PruneLedger returns a ledger that every firewall check at an instant t with
// t - Lookback >= cutoff answers exactly as the full ledger: every entry at or
// after cutoff, and of the older ones only the earliest entry of each
// (channel, outcome) and the earliest entry carrying each notice.
//
// Why that is enough: caps and cooldowns only count entries inside their
// window (at most Lookback before t); a gate is satisfied by its earliest
// piece of evidence (evidence is a set of (channel, outcome) pairs or a
// notice, and a gate opens a fixed number of local days after the evidence,
// later for later evidence); "initial" notices and notice deadlines depend on
// the first communication, which is the earliest entry of some (channel,
// outcome); "until delivered" notices on the earliest entry carrying the
// notice. The ledger of a busy account thus stays bounded by its activity in
// the last Lookback plus a fixed-size summary. Entries are assumed to be of
// this account's debt (as FromEvents makes them).
func PruneLedger(ledger []compliance.Entry, cutoff time.Time) []compliance.Entry {
	type pair struct {
		ch  compliance.Channel
		out compliance.Outcome
	}
	keep := make([]bool, len(ledger))
	firstPair := map[pair]int{}
	firstNotice := map[string]int{}
	older := func(i, j int) bool { return ledger[i].At.Before(ledger[j].At) }
	n := 0
	for i := range ledger {
		e := &ledger[i]
		if !e.At.Before(cutoff) {
			keep[i] = true
			continue
		}
		k := pair{e.Channel, e.Outcome}
		if j, ok := firstPair[k]; !ok || older(i, j) {
			firstPair[k] = i
		}
		for _, id := range e.Notices {
			if j, ok := firstNotice[id]; !ok || older(i, j) {
				firstNotice[id] = i
			}
		}
	}
	for _, i := range firstPair {
		keep[i] = true
	}
	for _, i := range firstNotice {
		keep[i] = true
	}
	out := make([]compliance.Entry, 0, len(ledger))
	for i := range ledger {
		if keep[i] {
			out = append(out, ledger[i])
			n++
		}
	}
	return out[:n:n]
}
