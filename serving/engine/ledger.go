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
