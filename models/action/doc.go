// Package action serves engage's action-value models: one calibrated model of
// P(outcome | context, action parts) loaded from the registry, and a Scorer
// that ranks the candidate actions (channel × local send hour × message) of one
// account by expected value.
//
// A registered action-value artifact (family "gbdt" or "linear") carries in its
// payload the family model and the calibrator fitted on held-out data, so that
// a loaded Model returns calibrated probabilities and predicts exactly what the
// training run predicted (the families reload bit-identically). Artifacts of
// family "uplift" load too; their score is the estimated treatment effect.
// Decoders lists the registry decoders of every family in one place.
//
// The preferred channel, send hour and message of an account are read off one
// ranking: the best allowed action, its runner-up, and per part the best level
// when the other parts are chosen at their best (the maximum over them). For an
// account without history the features package already shrinks every
// personal rate and the hour-of-week profile toward the population and the
// account's segment (age band × region) priors, so the Scorer then ranks by
// segment-level behaviour; no separate cold-start path is needed.
package action
