// Package ope estimates, from logged decisions, what a policy that did not make
// them would have earned: off-policy evaluation. A data scientist uses it to
// check a new model before it ever contacts a debtor, and `engage evaluate
// --gate` uses it to refuse a promotion the logs do not support.
//
// # Data
//
// Every logged row i carries a context x_i, the action a_i the logging policy
// μ took, the probability p_i = μ(a_i|x_i) it took it with, and a reward r_i.
// A target policy π gives π(a|x) over a finite action space (a product of
// categorical and numeric parts, see Space). The importance weight of a row is
// w_i = π(a_i|x_i)/p_i.
//
// # Estimators
//
//   - IPS: (1/n) Σ w_i r_i. Unbiased when μ covers π (μ(a|x) > 0 wherever
//     π(a|x) > 0); high variance when weights are large.
//   - SNIPS: Σ w_i r_i / Σ w_i. Slightly biased (O(1/n)), far less variance
//     when weights are heavy; invariant to adding a constant to every reward.
//   - DM (direct method): (1/n) Σ_i Σ_a π(a|x_i) q̂(x_i,a), the reward model's
//     own prediction of π's value. Low variance, but biased by as much as q̂ is
//     wrong; its interval covers sampling noise only, never model error.
//   - DR (doubly robust): (1/n) Σ_i [Σ_a π(a|x_i) q̂(x_i,a) + w_i (r_i − q̂(x_i,a_i))].
//     Unbiased when the propensities are right, whatever q̂; the better q̂, the
//     smaller its variance.
//   - IPS-clip and DR-clip (Options.Clip > 0): the same with w_i replaced by
//     min(w_i, Clip). Less variance, biased downwards by the clipped mass.
//
// # Intervals
//
// Each estimate is a mean of per-row terms t_i, so its standard error is the
// empirical standard deviation of the t_i over √n and its interval is the
// normal approximation V ± z·SE (z = 1.96 for Options.Level = 0.95). SNIPS
// uses the delta method: t_i = w_i (r_i − V)/w̄. The approximation needs many
// rows and an effective sample size well above a few hundred; with heavy
// weights it is optimistic, which is why Report also gives the effective sample
// size ESS = (Σ w)²/Σ w² and the largest weight. With Options.Bootstrap = B > 0
// each estimator also gets a percentile bootstrap interval from B resamples of
// the rows drawn with Options.Seed (PCG), which does not assume normality.
//
// # Bad rows
//
// A row whose propensity is missing (NaN), not positive or above 1 cannot be
// weighted: EstimateSamples and ReadLog fail on it, naming the row, unless
// LogOptions.SkipInvalid is set, in which case it is dropped and counted in
// Log.Invalid. A row whose reward is NaN (an outcome window the history had not
// closed yet) is dropped and counted in Log.Censored: censoring depends on the
// decision time only, not on the action, so dropping it does not favour any
// policy. An empty log is an error.
//
// # Diagnostics
//
// Beyond ESS and the largest weight, MeanWeight estimates Σ_a π(a|x) over the
// logging policy's support: well below 1 means π puts mass where μ never acts,
// and then every estimator here is biased (π's value there is unobservable).
// ZeroShare is the share of rows π would never have chosen (w_i = 0).
//
// # Models
//
// Greedy turns any Scorer (a model that scores every action of a row) into an
// ε-greedy policy, so that its probabilities are defined and it overlaps the
// logging policy. ModelScorer adapts a registered action-value model to a
// Scorer on a logged table, with the engage conventions documented on it
// (channel consent, and the send-slot affinity of counterfactual hours).
package ope
