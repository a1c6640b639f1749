// Package metrics scores probability and uplift models on held-out data.
//
// Classification: AUC (ties share their average rank, so a constant scorer gets
// exactly 0.5), log-loss, Brier score, expected calibration error with a
// calibration table, per-segment AUC and a confusion matrix at a threshold.
// Sample weights are optional wherever a metric takes them (nil means 1).
//
// Uplift: the Qini and uplift curves and their normalised areas follow
// scikit-uplift (sklift.metrics, v0.5) exactly, so that the numbers can be put
// beside published figures computed with that library:
//
//   - QiniAUC is sklift's qini_auc_score: (area under the Qini curve minus the
//     area under the random-targeting diagonal) divided by the same difference
//     for the perfect Qini curve (negative_effect=True by default).
//   - UpliftAUC is sklift's uplift_auc_score, the same normalisation applied to
//     the uplift curve. This is what the rest of engage calls AUUC.
//   - UpliftAtK is sklift's uplift_at_k with strategy='overall': the treated
//     response rate minus the control response rate among the first
//     int(n*k) rows ranked by predicted uplift (ties broken as numpy's reversed
//     stable argsort does: the later row first).
//
// Curves are evaluated at every distinct score (the last row of each run of tied
// scores), and areas use the trapezoidal rule, as sklearn.metrics.auc does.
package metrics
