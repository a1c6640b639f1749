// Package baseline fits golearn's random forest on a models.Matrix as an
// outside reference for engage's own families, and scores it with golearn's
// evaluation helpers (confusion matrix, k-fold cross-validation).
//
// It exists only for comparisons (bench/compare). golearn needs cgo for parts
// of its module and seeds its trees from the global math/rand, so its results
// are not reproducible run to run; nothing on the serving path may import this
// package. Without cgo the package compiles to a stub whose RandomForest
// returns ErrNoCgo.
package baseline
