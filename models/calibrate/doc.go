// Package calibrate maps raw model scores to calibrated probabilities. Both
// calibrators are fitted on held-out (score, label) pairs, never on the rows the
// scorer was trained on, because a model's scores on its own training rows are
// over-confident.
//
//   - Platt fits P(y=1|s) = 1/(1+exp(-(A*s+B))) by Newton's method on the
//     log-loss, with Platt's (1999) smoothed targets (N+ +1)/(N+ +2) and
//     1/(N- +2) as in scikit-learn's sigmoid calibration. It is smooth and
//     needs few rows; pass a logit-scale score for best results.
//   - Isotonic fits the monotone non-decreasing step function that minimises
//     squared error (pool-adjacent-violators on the distinct scores), then
//     interpolates linearly between block centres (the weighted mean score of
//     each pooled block), is flat beyond the first and last centre, and clips to
//     [Eps, 1-Eps] so downstream log-losses stay finite.
//
// Both save to JSON with Marshal and load with Load, which dispatches on the
// stored kind.
package calibrate
