// Package training is engage's pipeline from a logged-decisions table to a
// registered model: it picks the features from the table's column roles,
// splits by time (or, without a time column, by a seeded random draw), fits a
// model family, calibrates it on the validation split, evaluates it on the test
// split, and registers a self-describing artifact with its model card. Predict
// is the batch side: it streams a table through a registered model.
//
// Features are every context and action column (numeric or categorical) but
// the target, the uplift treatment and any excluded column. A categorical
// column's levels are its declared Levels, or else the sorted distinct values
// of the whole input table (levels carry no label information). At prediction
// time a level the model never saw, like an empty string, is a missing value
// (NaN), which every family routes like any other missing value.
//
// Split. With a time column (role time), rows are ordered by time: the last
// TestFraction is the test split, the ValidFraction before it the validation
// split (early stopping and calibration), the rest the training split, so
// every evaluation is on rows later than anything the model learned from.
// Without one, the rows are shuffled with Options.Seed (PCG) and cut in the
// same proportions. Rows whose target is missing (NaN: an outcome window the
// history had not closed) are dropped before the split and counted.
//
// Calibration maps the family's raw log-odds to a probability with an
// isotonic (default) or Platt calibrator fitted on the validation split; every
// metric in the card is computed on the test split from calibrated scores.
package training
