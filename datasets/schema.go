package datasets

import (
	"strings"
	"time"
)

// Account is one referred debt: the referral row of accounts.parquet and of
// POST /v1/referrals. Consents are per channel; flags gate contact.
type Account struct {
	Tenant       string `parquet:"tenant,dict" json:"tenant,omitempty"`
	ID           string `parquet:"account_id" json:"id"`
	ReferredAt   int64  `parquet:"referred_at,timestamp(microsecond)" json:"referred_at"`
	Balance      int64  `parquet:"balance" json:"balance"` // minor units
	Currency     string `parquet:"currency,dict" json:"currency"`
	Product      string `parquet:"product,dict" json:"product"`
	DaysPastDue  int32  `parquet:"days_past_due" json:"days_past_due"`
	Jurisdiction string `parquet:"jurisdiction,dict" json:"jurisdiction"`
	TimeZone     string `parquet:"time_zone,dict" json:"time_zone"`
	AgeBand      string `parquet:"age_band,dict" json:"age_band"`
	Language     string `parquet:"language,dict" json:"language"`

	ConsentEmail  bool `parquet:"consent_email" json:"consent_email"`
	ConsentSMS    bool `parquet:"consent_sms" json:"consent_sms"`
	ConsentCall   bool `parquet:"consent_call" json:"consent_call"`
	ConsentPush   bool `parquet:"consent_push" json:"consent_push"`
	ConsentLetter bool `parquet:"consent_letter" json:"consent_letter"`

	// Flags is a comma-separated set of FlagDispute, FlagCease, ...; a plain string
	// keeps the column readable by every Parquet reader.
	Flags string `parquet:"flags,dict" json:"flags,omitempty"`
}

// Referred returns the referral instant in UTC.
func (a *Account) Referred() time.Time { return time.UnixMicro(a.ReferredAt).UTC() }

// Consent reports whether the debtor consented to contact on channel c.
func (a *Account) Consent(c string) bool {
	switch c {
	case ChannelEmail:
		return a.ConsentEmail
	case ChannelSMS:
		return a.ConsentSMS
	case ChannelCall:
		return a.ConsentCall
	case ChannelPush:
		return a.ConsentPush
	case ChannelLetter:
		return a.ConsentLetter
	case ChannelAgent:
		return a.ConsentCall
	}
	return false
}

// FlagList returns the account's flags as a slice (nil when none).
func (a *Account) FlagList() []string {
	if a.Flags == "" {
		return nil
	}
	return strings.Split(a.Flags, ",")
}

// HasFlag reports whether flag f is set on the account.
func (a *Account) HasFlag(f string) bool {
	for _, g := range a.FlagList() {
		if g == f {
			return true
		}
	}
	return false
}

// Region returns the country part of the jurisdiction ("US-MA" -> "US"), the unit
// reports and priors group by.
func (a *Account) Region() string { return Region(a.Jurisdiction) }

// Region returns the country part of an ISO 3166 jurisdiction code.
func Region(jurisdiction string) string {
	if i := strings.IndexByte(jurisdiction, '-'); i >= 0 {
		return jurisdiction[:i]
	}
	return jurisdiction
}

// Event is one fact about an account: a row of events.parquet and of
// POST /v1/events. EventID is unique; ingestion is idempotent by it.
type Event struct {
	Tenant     string `parquet:"tenant,dict" json:"tenant,omitempty"`
	EventID    string `parquet:"event_id" json:"event_id"`
	AccountID  string `parquet:"account_id" json:"account_id"`
	Type       string `parquet:"type,dict" json:"type"`
	At         int64  `parquet:"at,timestamp(microsecond)" json:"at"`
	Channel    string `parquet:"channel,dict" json:"channel,omitempty"`
	Message    string `parquet:"message,dict" json:"message,omitempty"`
	DecisionID string `parquet:"decision_id" json:"decision_id,omitempty"`
	Amount     int64  `parquet:"amount" json:"amount,omitempty"` // minor units; payments and promises
	Currency   string `parquet:"currency,dict" json:"currency,omitempty"`
}

// Time returns the event instant in UTC.
func (e *Event) Time() time.Time { return time.UnixMicro(e.At).UTC() }

// Decision is one logged next-best-action: a row of decisions.parquet. It records
// the action's parts and the exact propensity with which the policy chose it, so
// that training and off-policy evaluation stay unbiased.
type Decision struct {
	Tenant     string  `parquet:"tenant,dict" json:"tenant,omitempty"`
	DecisionID string  `parquet:"decision_id" json:"decision_id"`
	AccountID  string  `parquet:"account_id" json:"account_id"`
	At         int64   `parquet:"at,timestamp(microsecond)" json:"at"`           // when it was decided
	SendAt     int64   `parquet:"send_at,timestamp(microsecond)" json:"send_at"` // the chosen send slot, UTC
	Channel    string  `parquet:"channel,dict" json:"channel"`
	LocalHour  int32   `parquet:"local_hour" json:"local_hour"` // send slot hour in the debtor's zone
	Message    string  `parquet:"message,dict" json:"message"`
	Propensity float64 `parquet:"propensity" json:"propensity"` // P(this action | context) under Policy; 0 when unknown
	Policy     string  `parquet:"policy,dict" json:"policy"`
	Holdout    bool    `parquet:"holdout" json:"holdout"`
	Model      string  `parquet:"model_version,dict" json:"model_version,omitempty"`
}

// Time returns the decision instant in UTC.
func (d *Decision) Time() time.Time { return time.UnixMicro(d.At).UTC() }

// Truth is the hidden per-account preference of the synthetic world: evaluation
// only, never read by training.
type Truth struct {
	AccountID string `parquet:"account_id" json:"account_id"`
	// BestChannel is the channel with the highest engagement affinity.
	BestChannel string `parquet:"best_channel,dict" json:"best_channel"`
	// PeakHour is the local hour (0-23) of highest engagement on weekdays.
	PeakHour int32 `parquet:"peak_hour" json:"peak_hour"`
	// PeakHourWeekend is the local peak hour on weekends.
	PeakHourWeekend int32 `parquet:"peak_hour_weekend" json:"peak_hour_weekend"`
	// ActiveType is morning, lunch, evening or night.
	ActiveType  string `parquet:"active_type,dict" json:"active_type"`
	BestMessage string `parquet:"best_message,dict" json:"best_message"`
	// Affinity per channel in Channels order (email, sms, call, push, letter):
	// the probability of engaging with a contact at the peak hour.
	AffinityEmail  float64 `parquet:"affinity_email" json:"affinity_email"`
	AffinitySMS    float64 `parquet:"affinity_sms" json:"affinity_sms"`
	AffinityCall   float64 `parquet:"affinity_call" json:"affinity_call"`
	AffinityPush   float64 `parquet:"affinity_push" json:"affinity_push"`
	AffinityLetter float64 `parquet:"affinity_letter" json:"affinity_letter"`
	// PayPropensity is the baseline daily probability of paying without contact.
	PayPropensity float64 `parquet:"pay_propensity" json:"pay_propensity"`
	// ComplaintRisk is the base complaint probability per contact.
	ComplaintRisk float64 `parquet:"complaint_risk" json:"complaint_risk"`
	// Payday is the day of month the debtor is paid.
	Payday int32 `parquet:"payday" json:"payday"`
}
