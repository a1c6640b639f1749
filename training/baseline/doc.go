// Package baseline fits a random forest of golearn's ID3 trees on a
// models.Matrix as an outside reference for engage's own families, and scores
// it with golearn's evaluation helpers (confusion matrix, k-fold
// cross-validation).
//
// golearn's own ensemble.RandomForest is not used: at the pinned version its
// bootstrap samples are InstancesView row maps whose MapOverRows disagrees
// with the rows the view reports, so its trees learn from scrambled labels
// and rank below chance. The forest here bags rows and picks feature subsets
// itself (seeded) on dense copies and grows golearn's ID3 trees on them.
//
// It exists only for comparisons (bench/compare). golearn needs cgo for parts
// of its module; nothing on the serving path may import this package. Without
// cgo the package compiles to a stub whose RandomForest returns ErrNoCgo.
package baseline
