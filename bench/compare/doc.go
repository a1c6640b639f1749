// Package compare holds what the model comparisons share: loading the UCI bank
// marketing table into a models.Matrix, the train/validation/test splits, and
// writing a split to CSV so that outside references (references.py, run with
// Debian's /usr/bin/python3) fit on exactly the same rows.
//
// The comparison itself is `go run ./bench/compare/bank` (see its doc): fixed
// settings, the same validation-AUC tuning grid for every model, and a
// fixed-round speed race with XGBoost at matched settings. timeshift.py
// diagnoses the time split (covariate and base-rate shift, within-group AUC);
// it reads the split CSVs that `bank -keep DIR` leaves in DIR/time.
package compare
