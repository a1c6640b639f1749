// Package synth generates a synthetic debtor world with known ground truth:
// referred accounts across real jurisdictions and IANA zones, hidden per-account
// preferences (channel affinity, active local hours, message response, payment
// propensity, paydays, seasonality, complaint risk), and a contact history played
// by a business-as-usual (BAU) policy that randomises part of its choices and logs
// the exact propensity of each action it took.
//
// # Behaviour
//
// Preferences are individual, as in real collections (a debtor who answers
// texts ignores letters): each debtor's favourite channel, drawn by age band and
// region, has an affinity at least 3x (typically 5-20x) every other channel's;
// for CloseShare of debtors a runner-up is within a factor 0.6-0.85 (the truth
// is still the argmax). A debtor is active around a local peak hour (spread
// sigma 0.8-1.4 h, a separate weekend peak); peaks lie in the permitted contact
// window 08:00-21:00 except the night type's (weekdays 20-21 h, weekends 21-22 h).
// A person engages when active: a call is answered at the send instant, far more
// often in active hours; an email, text or push is opened at once if the debtor
// is active then, otherwise at their next active period and less often (it is
// buried); a letter is answered by an inbound call in active hours 1-3 days
// later. So the engagement instants reveal the active hours, and the send hour
// matters. With the default options about 24% of contacts are engaged within
// 48 h; an untargeted campaign (inverse-propensity weighted) sees email opens of
// about 21%, SMS responses of about 14%, calls 7%, push 12%, letters 3.5%;
// 90-day liquidation is about 23%, with 40% of accounts paying something.
//
// The BAU routes like a collections team: its default channel is the allowed one
// with the best response so far, (engaged + 1) / (sent + 3) (every channel gets
// tried first), its default hour the local hour of the latest engagement it has
// seen (else a batch hour per channel), its tone hardens with the debt's age;
// each is replaced by a uniform draw with its epsilon (channel 0.3, hour over
// 08:00-20:00 0.6, message 0.3), and the product of the three probabilities is
// logged. It only knows engagements dated before its decision.
//
// # Determinism
//
// The world is a pure function of its Options: every account draws from its own
// PCG stream seeded by (seed, account index), so the bytes written are the same
// for a seed whatever the number of workers. The same hidden preferences answer
// Outcome and Spontaneous, so any policy can be played against the world in a
// closed loop and compared with BAU on equal terms.
//
// Truth is for evaluation only; training must never read it.
package synth
