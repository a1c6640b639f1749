// Package linear fits L2-regularised generalised linear models: binary logistic
// regression (Fit), multinomial softmax regression (FitMultinomial) and ridge
// least squares (FitRegression, used for the effect stage of the X-learner).
//
// The model does its own encoding, so that a saved model takes the same raw
// models.Matrix rows it was trained on:
//
//   - numeric columns are standardised with the training (weighted) mean and
//     standard deviation stored in the model; a constant column gets scale 1;
//   - a numeric column that had missing values (NaN) in training is imputed with
//     its training mean and gets a 0/1 missing-indicator term; a NaN at prediction
//     time in a column that was complete in training is imputed with the mean
//     and no indicator;
//   - categorical columns are one-hot encoded over Feature.Levels (no reference
//     level: the L2 penalty makes the fit identifiable); a missing level is the
//     all-zero encoding.
//
// The objective is the weighted mean loss plus Lambda/2 times the squared norm
// of the coefficients on that standardised scale; intercepts are not penalised.
// It is minimised with gonum's L-BFGS on an analytic gradient. The loss is summed
// over two fixed halves of the rows (in parallel when Options.Parallel is set)
// and the halves are added in a fixed order, so fits are bit-for-bit
// deterministic whatever the number of CPUs.
//
// Coefficients reports the fitted model back in the original units of each
// column.
package linear
