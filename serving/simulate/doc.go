// Package simulate plays the synthetic debtor world (datasets/synth) day by
// day through engage's real decision engine and compliance firewall, closing
// the loop: every contact's outcome events are fed back into the online
// features and the contact ledger, the model is retrained on the simulation's
// own logs on a schedule and promoted through a model registry, and every
// contact made is re-checked at the end by an independent firewall instance.
// It lives under serving because it drives serving/engine; nothing outside
// serving imports it.
//
// # The day loop
//
// For each simulated day and each account, the policy is asked at 07:00 local
// time (the engine's now; the engine picks the send slot within the next 24
// hours). Before that, every event drawn earlier whose instant has passed is
// applied, in time order, through the same online path serving uses:
// features.State.Apply for the features and engine.FromEvents's semantics for
// the firewall's view (consents withdrawn by opt-outs, dispute and cease flags,
// the contact ledger, the notices each contact carried). An account is asked
// only while it is referred, not observed as paid in full, not ceased, and
// outside the workflow's pauses (Options.Cadence days after the last contact,
// by default 2, 3 or 4 days by balance like bau's cadence;
// 10 days after a promise to pay unless a payment follows; 14 days after a
// complaint). The bau policy keeps its own schedule (synth's BAU cadence and
// pauses).
//
// A chosen action goes out at its send instant only if the firewall still
// allows it then, given every event that happened in between (the
// workflow's send-time re-check), and also 15 minutes later (the world may
// deliver up to 15 minutes late); otherwise it is dropped and counted. The
// world then draws the outcome (World.Outcome) and the day's unprompted
// payments (World.Spontaneous); their events wait in a per-account queue until
// their instant has passed.
//
// The store is not used: an in-memory per-account state (features.State,
// compliance account and ledger, the event log) stands in for it with the same
// semantics, because badger's synced writes cannot play 50,000 accounts x 90
// days in minutes. Options.Remote plays the model policy over HTTP through a
// running server instead (see Remote: POST /v1/referrals, /v1/events and
// /v1/decisions, retrained models promoted with POST
// /v1/models/{version}/promote); with no exploration it gives the same
// results as in process.
//
// # Policies
//
//   - bau: synth's business-as-usual schedule (World.BAU: cadence of 2-7 days,
//     at most 3 contacts a week, the channel the debtor engaged on most, fixed
//     hours, a tone that hardens with debt age, with synth's exploration),
//     passed through the firewall: a denied slot is moved to the channel's
//     next permitted instant within 24 hours, else dropped.
//   - random: a uniformly random permitted action: a channel among those the
//     firewall allows within 24 hours, one of its permitted whole local hours
//     in the next 24 hours, a message; its propensity is exact.
//   - model: the engine (serving/engine) with the registry's promoted model,
//     no holdout, its ε-greedy exploration. The first model is trained on a
//     separate synth history (seed + 1000, the BAU policy's logs, with its
//     exploration); then every Options.RetrainEvery days the model is
//     retrained on the simulation's own logs (features.Replay up to that day,
//     censoring open outcome windows) plus the pretraining rows (a warm
//     start: early retrainings have few rows of their own), registered and
//     promoted in a registry in a temporary directory, and hot-swapped. The
//     default is every 7 days (gbdt partial evaluation, as serving uses it,
//     keeps decisions cheap enough). Options.AllHours makes the engine score
//     every permitted local hour of the next 24 hours per channel (its
//     coordinate search) instead of the 2 best hours of the profile; it is off
//     by default because, with retraining every 14 days, it did not beat the
//     profile's 2 slots at 20,000 accounts x 90 days (liquidation 23.84% and
//     23.86% vs 23.64% and 24.84% on seeds 1 and 2) and cost 40% more time.
//     Options.Convert chains a second model, P(payment | engaged) fitted on
//     the engaged rows, so the engine ranks by P(engaged) × P(pay | engaged)
//     × balance (engine.ChainScorer); it is off by default because on synth
//     the conversion model barely beats chance (AUC about 0.55: payments are
//     not attributed and arrive on paydays, weeks later) and its noise cost
//     more than its message signal brought (4,000 accounts x 60 days, seed
//     1, uplift vs bau: chained with paid_7d +1%, with paid_30d +8%,
//     engagement alone +32%; at 8,000 accounts a direct paid_7d model +1% vs
//     engagement +16%). Options.MinP is the engine's value threshold, off by
//     default: at 8,000 accounts, 0.05 cut contacts by 14% and the uplift from
//     +16% to -1%; 0.015 cut 2% of contacts and 1.6 points of uplift. The
//     model's message choice follows engagement, which in synth rises with
//     the same per-debtor message response that drives conversion, so the
//     ranking of messages agrees. The model policy gets
//     the same cadence and pauses as random and oracle; bau keeps synth's.
//   - oracle: knows the hidden preferences (World.Truth): among the same
//     permitted actions as random it takes the argmax of the engagement
//     probability implied by the truth (channel affinity x activity at the
//     local hour around the hidden weekday or weekend peak, x the conversion
//     boost of a conversation), always with the hidden best message. It is
//     the ceiling of what reading the debtor can bring, up to the parts of the
//     world Truth does not expose (activity spread, weekend mood, fatigue).
//
// # Metrics
//
// Money is converted to US dollars at fixed documented rates (Rates) so one
// liquidation rate covers every currency; per-currency rates are in the JSON.
// Liquidation rate = payments dated within the simulated period / referred
// balance. Uplift vs bau is paired by account (the same world and accounts):
// Σ collected(policy) / Σ collected(bau) − 1, with a 95% percentile bootstrap
// interval over accounts (Options.Bootstrap resamples). Contacts per payment,
// complaints per million contacts, opt-outs per contact, compliance violations
// and decisions per second complete the table.
//
// # Independent compliance check
//
// After a run, every contact_sent event is re-checked by a second firewall
// (compliance.Open, its own instance): the account and ledger are rebuilt from
// the emitted events strictly before the contact with engine.FromEvents, and
// the contact is checked with the notices its decision told it to carry. Any
// denial is a violation; it must be 0.
//
// # Off-policy validation
//
// ValidateOPE runs one more simulation in which each decision is given, by a
// seeded coin independent of the account's state, to either the random
// policy (the logger μ, propensities exact) or the target π = (1−ε)·oracle +
// ε·random. Because the coin ignores the context, the contexts of both halves
// are identically distributed: the mean reward of π's own decisions is its
// value measured by running it, and IPS, SNIPS and DR (training/ope) estimate
// the same value from μ's rows alone (weights w = (1−ε)[a = oracle(x)]/μ(a|x)
// + ε). The reward is engagement within 48 hours of the contact.
//
// # Determinism and speed
//
// Every random draw comes from a per-account PCG stream seeded by (seed,
// policy, account), so results do not depend on the number of workers.
// Accounts are simulated in parallel shards between days; the only global
// step is retraining.
package simulate
