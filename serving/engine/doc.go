// Package engine is the decision engine behind POST /v1/decisions: for one account
// at one instant it turns the account, its online feature state and its contact
// ledger into one next-best-action (channel, send slot, message), or an explicit
// "wait until T" or "no contact", with the reasons, the compliance rules and the
// exact propensity of the chosen action.
//
// # How a decision is made
//
//  1. Holdout: a stable FNV-1a hash of (tenant, account) puts Options.HoldoutShare
//     of the accounts on the business-as-usual (BAU) policy, for ever, so reports
//     can measure uplift. Holdout decisions are marked (policy "holdout").
//
//  2. Firewall first: for every contact channel the compliance Subject gives the
//     earliest permitted instant within Options.Horizon. Channels with none are
//     out, with the firewall's reasons. For each remaining channel the candidate
//     send slots are the local hours of the next Options.SlotWindow ranked by the
//     debtor's own hour-of-day engagement profile (a feature), best first; a slot
//     the firewall denies is moved to the next permitted instant rather than
//     dropped. Options.SlotsPerChannel slots are kept per channel, each crossed
//     with every message variant. With Options.AllHours every permitted whole
//     local hour of the slot window is a slot instead (about 24 per channel),
//     so the model rather than the profile picks the hour. Every candidate is
//     allowed by the firewall at its send instant; nothing denied is ever
//     scored or returned.
//
//     The caller may pass the compliance Subject already compiled (Input.Subject)
//     so that a cached account skips the compile; the answers are the same.
//
//  3. Scoring: the Scorer (a trained model from the registry, or RateScorer)
//     gives P(target | account, action) per candidate and the engine ranks by
//     expected value, in minor units of the account's currency:
//
//     EV = P × remaining balance × V(target) − cost(channel) − P_complaint(channel) × ComplaintCost
//
//     where V is 1 for payment targets (paid_7d, paid_30d) and
//     Options.EngagementValue (the share of engagements that turn into a full
//     payment) for engagement targets. ChainScorer turns an engagement model
//     and a conversion model (payment given engagement, trained on engaged
//     contacts) into a payment scorer: P = P(engaged) × P(pay | engaged).
//
//     With AllHours the argmax is found by coordinate search, which scores
//     about a quarter of the candidates: every (channel, slot) with
//     Options.ReferenceMessage, ranked by EV, then every message of the
//     Options.Shortlist best (channel, slot) pairs. It is exact when the
//     model's ranking of slots does not depend on the message; otherwise it
//     may miss a message-specific best slot outside the shortlist.
//
//     Value threshold: when the best candidate's P is below Options.MinP (or
//     its EV below Options.MinEV), the answer is "no contact": a contact that
//     will very likely be ignored only adds pressure, fatigue and complaint
//     risk. Both are off by default.
//
//  4. Exploration: with probability Options.Epsilon the engine picks uniformly
//     among the allowed candidates instead of the argmax; the propensity of the
//     chosen action is exact: (1−ε)·[chosen is the argmax] + ε/|candidates|,
//     over every allowed candidate, scored or not (an explored candidate the
//     coordinate search skipped is scored on its own for the answer).
//     The draw uses a PCG generator seeded by (Options.Seed, decision id), so a
//     decision is reproducible.
//
//  5. Budget and fallback: a decision that cannot be scored before its context's
//     deadline, or without a scorer (no model promoted, or it failed to load),
//     answers with the BAU action, marked as a fallback with the reason.
//
// # Business as usual
//
// BAU is a fixed, documented schedule: the cheapest channel (by Options.Cost)
// that the firewall allows within the horizon, at its first permitted instant,
// with the friendly_reminder message. It is deterministic (propensity 1).
//
// ModelScorer scores every candidate of an account with the model's own
// prediction; for gbdt models it can bind the model to the account's context
// once (gbdt partial evaluation, UseBound) and then walk only the trees that
// split on action columns per candidate. UseBound verifies that it returns
// exactly the plain prediction, so the ranking above does not change; it is
// used only when it measures faster for the model. Otherwise every
// candidate's row goes to the model in one batch (action.Model.PredictRows,
// gbdt.Evaluator), which walks each tree once per send slot for all its
// messages. The action-dependent features (features.ActionNames) are filled
// per candidate by the features package's Candidates read-out, as in
// training.
//
// # Cost
//
// A decision's work is mostly firewall questions and tree walks, so the
// engine asks each question once: every channel at the decision instant
// needs one firewall evaluation (compliance.Subject.Verdict: allowed, or
// denied with the reasons and, from its search, the earliest permitted
// instant), and every question of a decision goes through one
// compliance.Session, which evaluates the rules that read no channel
// (permitted hours, quiet periods, caps, cooldowns) once per instant for
// all channels; a slot is placed with one
// search (the first permitted instant at or after it is the slot itself
// exactly when the slot is permitted), and a slot inside a stretch an
// earlier search went through takes that search's answer (every instant
// between a search's start and its answer is denied). The hour-of-week
// profile is computed once for the feature vector, the slot affinities and
// the model's action features; the decision's working memory is pooled, and
// its answer (the Decision, its channel verdicts, actions, numbers and usual
// reasons) is one allocation, so a decision allocates little more than the
// strings its answer keeps. The model walks each tree once for all the
// candidates (gbdt.Evaluator.Margins). Every shortcut gives exactly the
// answer of asking again: TestCandidatesMatchReference compares the
// candidates with a generator that asks the firewall about every slot.
// BenchmarkDecideWorld measures Decide alone on the world of serving's
// benchmarks.
package engine
