// Package gbdt fits histogram gradient-boosted decision trees for a binary
// outcome (log-loss), the tree family of engage's propensity models.
//
// # Fitting
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
// work is split by feature or by fixed blocks of rows whose partial sums are
// added in block order, and every floating-point sum is taken in one fixed
// order. A saved model (JSON) reloads to bit-identical predictions.
//
// The hot loops: the gradients of all rows and the root histogram are computed
// in one pass over fixed row blocks (root row counts never change, so only
// gradient and hessian sums are accumulated there); histograms are packed per
// feature (a table of a few wide features stays in L1 cache) and updated four
// features at a time from a row-major uint8 bin matrix with the node's
// gradients gathered in partition order; the validation margins are updated by
// each new tree only, with the early-stopping loss summed in the same pass.
//
// # Prediction
//
// Fit and Load compile the trees into one flat node array (children adjacent,
// no pointers, no allocation per prediction). Leaf outputs are held as
// integers in units of 2^-s, with s chosen per model so that no sum of leaves
// can overflow (resolution at most 2^-60, far below float64 rounding of a
// margin): a margin is base + (exact integer sum of leaves) * 2^-s. Because
// the sum is exact, it does not depend on the order in which trees are added,
// which is what makes partial evaluation exact.
//
// # Scoring many actions of one account: Bind
//
// Serving ranks, for one account, up to a few hundred candidate rows that
// share the account's context columns and differ only in a few action columns
// (channel, local hour, message, and action-dependent numbers such as
// send_slot_affinity). Bind evaluates the model once on the context:
//
//	free := []int{channelCol, hourCol, messageCol, affinityCol} // feature indices
//	b, err := m.Bind(row, free) // row: the account's full feature vector
//	if err != nil { ... }       // row length or free columns invalid
//	action := make([]float64, len(free))
//	for _, c := range candidates {
//		action[0], action[1], action[2], action[3] = c.Channel, c.Hour, c.Message, c.Affinity
//		p, _ := b.Proba(action) // or b.Margin(action)
//		...
//	}
//	// or all at once: b.Margins(actions, out), actions = len(out) rows of len(free) values
//	err = b.Reset(nextRow) // next account, same free columns, no allocation
//
// Every split on a fixed column is resolved during Bind; what remains of each
// tree is the small sub-tree that splits on free columns (trees the action
// does not reach fold into one constant). Residual trees are grouped by the
// free columns they read, and each group's output is remembered per
// combination of value cells (a categorical level, or an interval between
// consecutive thresholds of a numeric column; a numeric column's whole row of
// cells is filled in one pass over the leaves), so across one account's
// candidates each combination is evaluated once. b.Margin(action) equals
// m.PredictMargin(row with the free columns set to action) bit for bit, for
// every input including NaN and unseen codes (which fall back to walking the
// residual trees). Values of row at free positions are ignored.
//
// A Bound is not safe for concurrent use (scoring fills its memo): keep one
// per goroutine and Reset it per account. The Model itself is read-only and
// safe to share. Cost on a 150-tree, 100-feature model with 4 action columns:
// see BenchmarkBind and BenchmarkRankBound (the report in bench/results).
package gbdt
