// Package gbdt fits histogram gradient-boosted decision trees for a binary
// outcome (log-loss), the tree family of engage's propensity models.
//
// Features are bucketed once into at most 255 quantile bins per numeric column
// (bin edges come from a seeded row sample), so that a split search costs one
// pass over a small histogram instead of a sort. Trees grow leaf-wise (best gain
// first) under depth, leaf-count, minimum-samples and minimum-hessian limits with
// L2 regularisation; each split builds the histogram of the smaller child and
// obtains its sibling by subtraction from the parent.
//
// Categorical columns are split natively on sets of levels: levels are ordered by
// their smoothed gradient/hessian ratio and the best prefix of that order goes
// left (LightGBM's method); few-level columns use one-vs-rest. Missing values
// (NaN) are routed per split to whichever side gave the larger gain, so a model
// learns where "unknown" belongs.
//
// Fitting is deterministic for a given seed, whatever the number of goroutines:
// work is split by feature, and every floating-point sum is taken in row order
// by exactly one goroutine. A saved model (JSON) reloads to bit-identical
// predictions.
package gbdt
