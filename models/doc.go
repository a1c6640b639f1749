// Package models holds what every model family shares: the dense feature matrix
// they are fitted on and the description of its columns. The families themselves
// live in subpackages (linear, gbdt, calibrate, uplift), the evaluation metrics in
// metrics and the versioned store of trained artifacts in registry.
//
// Missing values are NaN in every family, so that one matrix can be handed to a
// linear model, a tree model or a calibrator without re-encoding.
package models
