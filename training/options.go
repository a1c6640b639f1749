package training

import (
	"fmt"
	"io"

	"github.com/engagehq/engage/models/gbdt"
	"github.com/engagehq/engage/models/linear"
)

// Options are the knobs of a training run.
type Options struct {
	// Target is the outcome column to predict (0/1 values, NaN = censored).
	Target string
	// Family is "gbdt" (default) or "logistic".
	Family string
	// Calibration is "isotonic" (default), "platt" or "none".
	Calibration string
	// Segment is the column whose levels get a per-segment AUC in the card;
	// "" picks the first of region, jurisdiction, age_band present, else the
	// first categorical context column.
	Segment string
	// Exclude lists columns never used as features.
	Exclude []string
	// ContextOnly fits on the debtor's context alone: no action part (the
	// table's action-role columns, e.g. message and local_hour) and no
	// action-dependent feature (features.ActionNames, filled for the logged
	// action). An uplift model needs it: those columns carry the treatment
	// (a channel's slot affinity says which channel was used), so the arms'
	// models would read the arm instead of the debtor.
	ContextOnly bool
	// OnlyWhere, when set, names a 0/1 column: only the rows where it is 1
	// are fitted and evaluated (e.g. engaged_48h, for a model of payment
	// given engagement). It is excluded from the features.
	OnlyWhere string
	// Seed drives the random split and the family's own randomness.
	Seed uint64
	// TestFraction and ValidFraction size the test and validation splits.
	TestFraction, ValidFraction float64
	// Treatment, when set, fits an uplift model of the effect of this column's
	// non-control levels against Control, evaluated with Qini and AUUC.
	Treatment string
	// Control is the treatment column's control level (numeric columns: "0").
	Control string
	// UpliftMethod is "t" (default) or "x".
	UpliftMethod string
	// GBDT and Linear are the families' options; their seeds are overridden by
	// Seed.
	GBDT   gbdt.Options
	Linear linear.Options
	// Progress, when not nil, receives progress bars (reading, fitting).
	Progress io.Writer
	// Title and Owner go into the model card.
	Title, Owner string
}

// DefaultOptions trains a gbdt with isotonic calibration, 20% test, 15%
// validation, seed 1.
func DefaultOptions() Options {
	return Options{
		Family:        "gbdt",
		Calibration:   "isotonic",
		Seed:          1,
		TestFraction:  0.2,
		ValidFraction: 0.15,
		UpliftMethod:  "t",
		GBDT:          gbdt.DefaultOptions(),
		Linear:        linear.DefaultOptions(),
	}
}

func (o *Options) check() error {
	if o.Target == "" {
		return fmt.Errorf("training options: no target column")
	}
	switch o.Family {
	case "gbdt", "logistic":
	default:
		return fmt.Errorf("training options: family %q: want gbdt or logistic", o.Family)
	}
	switch o.Calibration {
	case "isotonic", "platt", "none":
	default:
		return fmt.Errorf("training options: calibration %q: want isotonic, platt or none", o.Calibration)
	}
	if !(o.TestFraction > 0 && o.ValidFraction > 0 && o.TestFraction+o.ValidFraction < 0.9) {
		return fmt.Errorf("training options: test fraction %v and validation fraction %v must be positive and leave at least 10%% for training", o.TestFraction, o.ValidFraction)
	}
	if o.Treatment != "" {
		if o.Control == "" {
			return fmt.Errorf("training options: uplift treatment %q needs a control level", o.Treatment)
		}
		switch o.UpliftMethod {
		case "t", "x":
		default:
			return fmt.Errorf("training options: uplift method %q: want t or x", o.UpliftMethod)
		}
	}
	return nil
}
