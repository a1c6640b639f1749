package features

import (
	"fmt"
	"slices"

	"github.com/engagehq/engage/datasets"
)

// numericNames lists the numeric features in the order State.Read fills them.
var numericNames = func() []string {
	n := []string{
		"balance", "days_past_due", "days_since_referral",
		"consent_email", "consent_sms", "consent_call", "consent_push", "consent_letter",
		"flag_dispute", "flag_cease", "flag_hardship",
	}
	for _, c := range datasets.Channels {
		n = append(n,
			c+"_sent", c+"_delivered", c+"_engagements", c+"_engagement_rate",
			c+"_hours_since_engagement", c+"_opted_out")
	}
	for h := 0; h < 24; h++ {
		n = append(n, fmt.Sprintf("profile_hour_%02d", h))
	}
	for d := 0; d < 7; d++ {
		n = append(n, "profile_"+[]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}[d])
	}
	n = append(n, "profile_peak_hour_of_week", "profile_engagements", "profile_own_weight")
	for _, m := range datasets.Messages {
		n = append(n, "msg_"+m+"_sent", "msg_"+m+"_response_rate", "msg_"+m+"_payment_rate")
	}
	n = append(n,
		"payments", "amount_paid", "fraction_paid", "balance_remaining", "days_since_payment",
		"promises", "promises_kept", "promise_open",
		"contacts_24h", "contacts_7d", "contacts_30d", "contacts_total", "hours_since_contact",
		"complaints", "opt_outs", "disputes", "cease_requests",
	)
	for _, c := range datasets.Channels {
		n = append(n, c+"_sent_active")
	}
	return n
}()

// NumericNames returns the numeric feature names in State.Read order. The slice
// is shared: do not modify it.
func NumericNames() []string { return numericNames }

func init() {
	if len(datasets.Channels) != numChannels || len(datasets.Messages) != numMessages ||
		len(datasets.ContactChannels) != numContact || !slices.Equal(datasets.ContactChannels, datasets.Channels[:numContact]) {
		panic("features: datasets vocabulary changed; update numChannels/numMessages")
	}
}
