package compliance

import (
	"fmt"
	"strings"
)

// Channel is a medium of contact; the firewall keeps a bit per channel so rules can say
// cheaply which channels they gate.
type Channel uint8

// The channels of DESIGN.md; Agent is a hand-off to a human, which the rules treat like a call.
// The zero value is no channel, so a request that omits one is an error, not an email.
const (
	noChannel Channel = iota
	Email
	SMS
	Call
	Push
	Letter
	Agent
	numChannels
)

var channelNames = [numChannels]string{"", "email", "sms", "call", "push", "letter", "agent"}

// Channels lists every channel, in a fixed order, for callers that enumerate candidates.
var Channels = []Channel{Email, SMS, Call, Push, Letter, Agent}

// ParseChannel rejects unknown names so a typo can never reach the firewall as "no rule applies".
func ParseChannel(s string) (Channel, error) {
	for i, n := range channelNames {
		if n == s && i > 0 {
			return Channel(i), nil
		}
	}
	return 0, fmt.Errorf("unknown channel %q (want one of %s)", s, strings.Join(channelNames[1:], ", "))
}

// String returns the wire name of the channel.
func (c Channel) String() string {
	if c > noChannel && c < numChannels {
		return channelNames[c]
	}
	return fmt.Sprintf("channel(%d)", uint8(c))
}

// MarshalText writes the wire name so channels read naturally in JSON.
func (c Channel) MarshalText() ([]byte, error) {
	if c == noChannel || c >= numChannels {
		return nil, fmt.Errorf("invalid channel %d", uint8(c))
	}
	return []byte(channelNames[c]), nil
}

// UnmarshalText makes an unknown channel in JSON a decode error.
func (c *Channel) UnmarshalText(b []byte) error {
	v, err := ParseChannel(string(b))
	if err != nil {
		return err
	}
	*c = v
	return nil
}

// chanSet is a bit set of channels.
type chanSet uint8

const allChannels chanSet = 1<<numChannels - 2 // bit 0 is noChannel

func (s chanSet) has(c Channel) bool { return s&(1<<c) != 0 }

// Outcome is what a logged contact ended as; caps and waits count outcomes differently per
// jurisdiction (RULES.md §0.3), so the ledger must carry them.
type Outcome uint8

// The event vocabulary of DESIGN.md that can appear on a contact ledger.
// The zero value is no outcome, so a ledger entry that omits one is an error.
const (
	noOutcome Outcome = iota
	ContactSent
	Delivered
	Bounced
	Opened
	Clicked
	Replied
	CallNotConnected
	CallNoAnswer
	CallVoicemailNoMessage
	CallVoicemailLeft
	CallConversation
	InboundCallConversation
	LetterMailed
	PromiseToPay
	Payment
	Complaint
	OptOut
	Dispute
	Cease
	numOutcomes
)

var outcomeNames = [numOutcomes]string{
	"", "contact_sent", "delivered", "bounced", "opened", "clicked", "replied",
	"call_not_connected", "call_no_answer", "call_voicemail_reached_no_message",
	"call_voicemail_left", "call_conversation", "inbound_call_conversation",
	"letter_mailed", "promise_to_pay", "payment", "complaint", "opt_out", "dispute", "cease",
}

// ParseOutcome rejects unknown outcomes: an outcome the firewall cannot classify might be a
// contact that a cap should have counted.
func ParseOutcome(s string) (Outcome, error) {
	for i, n := range outcomeNames {
		if n == s && i > 0 {
			return Outcome(i), nil
		}
	}
	return 0, fmt.Errorf("unknown outcome %q (want one of %s)", s, strings.Join(outcomeNames[1:], ", "))
}

// String returns the wire name of the outcome.
func (o Outcome) String() string {
	if o > noOutcome && o < numOutcomes {
		return outcomeNames[o]
	}
	return fmt.Sprintf("outcome(%d)", uint8(o))
}

// MarshalText writes the wire name.
func (o Outcome) MarshalText() ([]byte, error) {
	if o == noOutcome || o >= numOutcomes {
		return nil, fmt.Errorf("invalid outcome %d", uint8(o))
	}
	return []byte(outcomeNames[o]), nil
}

// UnmarshalText makes an unknown outcome in JSON a decode error.
func (o *Outcome) UnmarshalText(b []byte) error {
	v, err := ParseOutcome(string(b))
	if err != nil {
		return err
	}
	*o = v
	return nil
}

// communication reports whether an outcome means information reached (or was exchanged with)
// the consumer, which is what makes a contact the "initial communication" for notices. A
// voicemail is assumed to be a limited-content message, which is not a communication
// (12 CFR 1006.2(j)).
func (o Outcome) communication() bool {
	switch o {
	case ContactSent, Delivered, CallConversation, InboundCallConversation, LetterMailed:
		return true
	}
	return false
}

// Flag is an account status that stops or gates contact (cease, dispute, ...).
type Flag uint8

// The account flags the rule packs know.
const (
	FlagCease Flag = iota
	FlagDispute
	FlagAttorney
	FlagBankruptcy
	FlagDeceased
	FlagHardship
	FlagTimeBarred
	numFlags
)

var flagNames = [numFlags]string{"cease", "dispute", "attorney", "bankruptcy", "deceased", "hardship", "time_barred"}

// ParseFlag rejects unknown flags: silently ignoring one could allow a contact that should stop.
func ParseFlag(s string) (Flag, error) {
	for i, n := range flagNames {
		if n == s {
			return Flag(i), nil
		}
	}
	return 0, fmt.Errorf("unknown flag %q (want one of %s)", s, strings.Join(flagNames[:], ", "))
}

// String returns the wire name of the flag.
func (f Flag) String() string {
	if f < numFlags {
		return flagNames[f]
	}
	return fmt.Sprintf("flag(%d)", uint8(f))
}

// MarshalText writes the wire name.
func (f Flag) MarshalText() ([]byte, error) {
	if f >= numFlags {
		return nil, fmt.Errorf("invalid flag %d", uint8(f))
	}
	return []byte(flagNames[f]), nil
}

// UnmarshalText makes an unknown flag in JSON a decode error.
func (f *Flag) UnmarshalText(b []byte) error {
	v, err := ParseFlag(string(b))
	if err != nil {
		return err
	}
	*f = v
	return nil
}

type flagSet uint8

func (s flagSet) has(f Flag) bool { return s&(1<<f) != 0 }

// AddressKind says which kind of number or address a contact goes to; some caps (US-MA)
// differ between personal and work numbers.
type AddressKind uint8

// Address kinds; the zero value is personal, the common case.
const (
	Personal AddressKind = iota
	Work
)

// String returns the wire name.
func (k AddressKind) String() string {
	if k == Work {
		return "work"
	}
	return "personal"
}

// MarshalText writes the wire name.
func (k AddressKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText accepts "personal" and "work" only.
func (k *AddressKind) UnmarshalText(b []byte) error {
	switch string(b) {
	case "personal", "":
		*k = Personal
	case "work":
		*k = Work
	default:
		return fmt.Errorf("unknown address kind %q (want personal or work)", b)
	}
	return nil
}

var weekdayKeys = [7]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

func parseWeekday(s string) (int, error) {
	for i, k := range weekdayKeys {
		if k == s {
			return i, nil
		}
	}
	return 0, fmt.Errorf("unknown weekday %q (want sun..sat)", s)
}
