// Package synth generates a synthetic debtor world with known ground truth:
// referred accounts across real jurisdictions and IANA zones, hidden per-account
// preferences (channel affinity, active local hours, message response, payment
// propensity, paydays, seasonality, complaint risk), and a contact history played
// by a business-as-usual (BAU) policy that randomises part of its choices and logs
// the exact propensity of each action it took.
//
// The world is a pure function of its Options: every account draws from its own
// PCG stream seeded by (seed, account index), so the bytes written are the same
// for a seed whatever the number of workers. The same hidden preferences answer
// Outcome and Spontaneous, so any policy can be played against the world in a
// closed loop and compared with BAU on equal terms.
//
// Truth is for evaluation only; training must never read it.
package synth
