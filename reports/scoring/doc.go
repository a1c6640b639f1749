// Package scoring produces the uplift scores of the model-uplift report: it
// picks an uplift model from a model registry and scores a tenant's logged
// decisions with it, each from its point-in-time features.
//
// The features are recomputed by the features package's in-memory driver
// (features.Replay) with the priors stored in the model's artifact, so a
// decision is scored with exactly the columns the training table gave it:
// its account's state strictly before the decision, never after. The arm of
// a decision is the level of the model's treatment field (channel, message,
// local_hour, policy or holdout) and its outcome is the model's target read
// from the same replay (NaN while its window is still open).
//
// Which model: the promoted version when it is an uplift model, else the
// newest registered uplift model (the registry keeps one promotion stack, and
// the serving engine needs an action-value model promoted). The design (the
// treatment field, control level, outcome) and the training cut-off (the
// start of the model's time-split test split) are read from its model card
// with training.ReadUpliftCard.
package scoring
