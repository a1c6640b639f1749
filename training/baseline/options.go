package baseline

import (
	"errors"
	"time"
)

// ErrNoCgo is returned by RandomForest when the binary was built without cgo.
var ErrNoCgo = errors.New("baseline: golearn random forest needs a cgo build")

// Options size the forest. golearn's ID3 trees sort every numeric column at
// every node and do not scale past a few thousand rows, so MaxRows subsamples
// the training rows.
type Options struct {
	// Trees is the forest size.
	Trees int
	// Features is how many random features each tree sees (0 = all).
	Features int
	// MaxRows caps the training rows (seeded sample); 0 means all.
	MaxRows int
	// Folds, when at least 2, also runs golearn's k-fold cross-validation on
	// the (subsampled) training rows.
	Folds int
	// Seed drives the row subsample, the bootstrap samples and the feature
	// subsets. golearn's k-fold helper draws its folds from the global
	// math/rand, which this package cannot seed.
	Seed uint64
}

// DefaultOptions finish in well under a minute on two cores.
func DefaultOptions() Options {
	return Options{Trees: 50, Features: 4, MaxRows: 5000, Folds: 3, Seed: 1}
}

// Result is what the forest scored.
type Result struct {
	// Scores is, per test row, the share of trees voting for class 1: a
	// ranking score for AUC (golearn gives no probabilities).
	Scores []float64
	// Confusion is golearn's confusion matrix of the majority vote on the test
	// rows, keyed by true then predicted class ("0"/"1").
	Confusion map[string]map[string]int
	// Summary is golearn's textual precision/recall summary of Confusion.
	Summary string
	// Accuracy is golearn's accuracy of the majority vote on the test rows.
	Accuracy float64
	// CVAccuracy and CVAccuracyVar are golearn's k-fold accuracy mean and
	// variance of a single ID3 tree on the training rows (zero without Folds).
	CVAccuracy, CVAccuracyVar float64
	// TrainRows is how many rows the forest was fitted on.
	TrainRows int
	// FitTime is the forest's fitting time alone.
	FitTime time.Duration
}
