//go:build !cgo

package baseline

import (
	"context"

	"github.com/engagehq/engage/models"
)

// RandomForest returns ErrNoCgo: golearn is only built with cgo.
func RandomForest(ctx context.Context, X *models.Matrix, y []float64, test *models.Matrix, yTest []float64, opts Options) (*Result, error) {
	return nil, ErrNoCgo
}
