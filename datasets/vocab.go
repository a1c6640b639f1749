package datasets

// Channel names, as used in events, decisions and compliance rule packs.
const (
	ChannelEmail  = "email"
	ChannelSMS    = "sms"
	ChannelCall   = "call"
	ChannelPush   = "push"
	ChannelLetter = "letter"
	// ChannelAgent is a hand-off to a human collector rather than an automated send.
	ChannelAgent = "agent"
)

// Channels lists every channel in a fixed order; feature vectors and model outputs
// index channels by their position here.
var Channels = []string{ChannelEmail, ChannelSMS, ChannelCall, ChannelPush, ChannelLetter, ChannelAgent}

// ContactChannels are the channels a decision may choose for an automated contact.
var ContactChannels = []string{ChannelEmail, ChannelSMS, ChannelCall, ChannelPush, ChannelLetter}

// Message variants: the tone of a contact's content.
const (
	MessageFriendly    = "friendly_reminder"
	MessageEmpathetic  = "empathetic"
	MessageFirm        = "firm"
	MessageDiscount    = "discount_offer"
	MessagePaymentPlan = "payment_plan"
)

// Messages lists every message variant in a fixed order.
var Messages = []string{MessageFriendly, MessageEmpathetic, MessageFirm, MessageDiscount, MessagePaymentPlan}

// Event types. The call outcomes are distinct because jurisdictions count them
// differently (compliance RULES.md §0.3): Reg F counts placed calls, Massachusetts
// counts reaching voicemail, Ontario and Australia count contacts actually made.
const (
	EventContactSent        = "contact_sent"
	EventDelivered          = "delivered"
	EventBounced            = "bounced"
	EventOpened             = "opened"
	EventClicked            = "clicked"
	EventReplied            = "replied"
	EventCallNotConnected   = "call_not_connected"
	EventCallNoAnswer       = "call_no_answer"
	EventCallVoicemailNoMsg = "call_voicemail_reached_no_message"
	EventCallVoicemailLeft  = "call_voicemail_left"
	EventCallConversation   = "call_conversation"
	EventInboundCall        = "inbound_call_conversation"
	EventLetterMailed       = "letter_mailed"
	EventPromiseToPay       = "promise_to_pay"
	EventPayment            = "payment"
	EventComplaint          = "complaint"
	EventOptOut             = "opt_out"
	EventDispute            = "dispute"
	EventCease              = "cease"
)

// EventTypes lists every event type engage accepts, in a fixed order.
var EventTypes = []string{
	EventContactSent, EventDelivered, EventBounced, EventOpened, EventClicked, EventReplied,
	EventCallNotConnected, EventCallNoAnswer, EventCallVoicemailNoMsg, EventCallVoicemailLeft,
	EventCallConversation, EventInboundCall, EventLetterMailed,
	EventPromiseToPay, EventPayment, EventComplaint, EventOptOut, EventDispute, EventCease,
}

// Account flags that gate or block contact.
const (
	FlagDispute    = "dispute"
	FlagCease      = "cease"
	FlagHardship   = "hardship"
	FlagAttorney   = "attorney"
	FlagBankruptcy = "bankruptcy"
	FlagDeceased   = "deceased"
)

// Age bands of debtors, youngest first.
var AgeBands = []string{"18-24", "25-34", "35-44", "45-54", "55-64", "65+"}

// Products a lender refers.
var Products = []string{"bnpl", "credit_card", "personal_loan", "telecom", "utility"}

// Decision policies recorded on logged decisions.
const (
	PolicyBAU     = "bau"
	PolicyModel   = "model"
	PolicyRandom  = "random"
	PolicyOracle  = "oracle"
	PolicyHoldout = "holdout"
)

// index returns a map from name to position, for O(1) vocabulary checks.
func index(names []string) map[string]int {
	m := make(map[string]int, len(names))
	for i, n := range names {
		m[n] = i
	}
	return m
}

var (
	channelIndex = index(Channels)
	messageIndex = index(Messages)
	eventIndex   = index(EventTypes)
	ageIndex     = index(AgeBands)
)

// ChannelIndex returns the position of a channel in Channels, or -1.
func ChannelIndex(c string) int {
	if i, ok := channelIndex[c]; ok {
		return i
	}
	return -1
}

// MessageIndex returns the position of a message variant in Messages, or -1.
func MessageIndex(m string) int {
	if i, ok := messageIndex[m]; ok {
		return i
	}
	return -1
}

// EventIndex returns the position of an event type in EventTypes, or -1.
func EventIndex(t string) int {
	if i, ok := eventIndex[t]; ok {
		return i
	}
	return -1
}

// AgeBandIndex returns the position of an age band in AgeBands, or -1.
func AgeBandIndex(b string) int {
	if i, ok := ageIndex[b]; ok {
		return i
	}
	return -1
}
