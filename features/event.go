package features

import (
	"fmt"

	"github.com/engagehq/engage/datasets"
)

// Number of channels, messages and local hours of the week the state tracks; they
// follow the fixed orders of datasets.Channels and datasets.Messages.
const (
	numChannels = 6
	// numContact is the number of automated contact channels
	// (datasets.ContactChannels), the first numContact of datasets.Channels.
	numContact  = 5
	numMessages = 5
	hoursOfWeek = 168
)

// event is the interned form of datasets.Event that both drivers feed to the
// state: vocabulary strings become small indexes once, so the hot loop compares
// integers.
type event struct {
	at     int64 // UTC microseconds
	amount int64 // minor units
	typ    int8  // index in datasets.EventTypes
	ch     int8  // index in datasets.Channels, -1 when none
	msg    int8  // index in datasets.Messages, -1 when none
}

// Event type flags: what an event means to the features. One table, used by
// every driver, so that "engagement" means the same thing everywhere.
const (
	kContact     uint16 = 1 << iota // an outbound contact was sent on the channel
	kDelivered                      // the contact reached the debtor (or the voicemail, or the mailbox)
	kEngaged                        // the debtor engaged: open, click, reply, answered call
	kBounce                         // the contact bounced
	kPayment                        // money received
	kPromise                        // a promise to pay
	kComplaint                      // complaint
	kOptOut                         // opt-out (of the event's channel, or of all when none)
	kDispute                        // dispute
	kCease                          // cease-communication request
	kCallChannel                    // a call outcome: channel is call when the event has none
	kInbound                        // debtor-initiated: no outbound contact to attribute
)

// kinds maps datasets.EventTypes positions to flags.
var kinds = func() []uint16 {
	k := make([]uint16, len(datasets.EventTypes))
	set := func(t string, f uint16) {
		i := datasets.EventIndex(t)
		if i < 0 {
			panic("features: unknown event type in kinds table: " + t)
		}
		k[i] = f
	}
	set(datasets.EventContactSent, kContact)
	set(datasets.EventDelivered, kDelivered)
	set(datasets.EventBounced, kBounce)
	set(datasets.EventOpened, kEngaged)
	set(datasets.EventClicked, kEngaged)
	set(datasets.EventReplied, kEngaged)
	set(datasets.EventCallNotConnected, kCallChannel)
	set(datasets.EventCallNoAnswer, kCallChannel)
	set(datasets.EventCallVoicemailNoMsg, kCallChannel)
	set(datasets.EventCallVoicemailLeft, kCallChannel|kDelivered)
	set(datasets.EventCallConversation, kCallChannel|kDelivered|kEngaged)
	set(datasets.EventInboundCall, kCallChannel|kEngaged|kInbound)
	set(datasets.EventLetterMailed, kDelivered)
	set(datasets.EventPromiseToPay, kPromise)
	set(datasets.EventPayment, kPayment)
	set(datasets.EventComplaint, kComplaint)
	set(datasets.EventOptOut, kOptOut)
	set(datasets.EventDispute, kDispute)
	set(datasets.EventCease, kCease)
	return k
}()

var (
	chCall   = int8(datasets.ChannelIndex(datasets.ChannelCall))
	chLetter = int8(datasets.ChannelIndex(datasets.ChannelLetter))
	evLetter = int8(datasets.EventIndex(datasets.EventLetterMailed))
)

// intern converts a datasets.Event to its interned form, rejecting vocabulary the
// features do not know with an error that names the event.
func intern(e *datasets.Event) (event, error) {
	t := datasets.EventIndex(e.Type)
	if t < 0 {
		return event{}, fmt.Errorf("event %s: unknown event type %q", e.EventID, e.Type)
	}
	ch, err := channelCode(e.Channel)
	if err != nil {
		return event{}, fmt.Errorf("event %s: %w", e.EventID, err)
	}
	msg, err := messageCode(e.Message)
	if err != nil {
		return event{}, fmt.Errorf("event %s: %w", e.EventID, err)
	}
	return event{at: e.At, amount: e.Amount, typ: int8(t), ch: ch, msg: msg}, nil
}

func channelCode(c string) (int8, error) {
	if c == "" {
		return -1, nil
	}
	i := datasets.ChannelIndex(c)
	if i < 0 {
		return -1, fmt.Errorf("unknown channel %q", c)
	}
	return int8(i), nil
}

func messageCode(m string) (int8, error) {
	if m == "" {
		return -1, nil
	}
	i := datasets.MessageIndex(m)
	if i < 0 {
		return -1, fmt.Errorf("unknown message %q", m)
	}
	return int8(i), nil
}
