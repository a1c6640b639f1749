package enginetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/engagehq/engage/datasets"
	"github.com/engagehq/engage/models"
	"github.com/engagehq/engage/models/action"
	"github.com/engagehq/engage/models/gbdt"
	"github.com/engagehq/engage/models/registry"
)

// Data returns 2,000 seeded rows over the action columns, one engagement
// rate, the send slot's affinity and the jurisdiction, where email in the
// evening with firm messages engages most.
func Data(seed uint64) ([]models.Feature, *models.Matrix, []float64) {
	feats := []models.Feature{
		{Name: "channel", Kind: models.Categorical, Levels: datasets.Channels},
		{Name: "local_hour", Kind: models.Numeric},
		{Name: "message", Kind: models.Categorical, Levels: datasets.Messages},
		{Name: "email_engagement_rate", Kind: models.Numeric},
		{Name: "send_slot_affinity", Kind: models.Numeric},
		{Name: "jurisdiction", Kind: models.Categorical, Levels: []string{"CA-ON", "GB", "US-MA", "US-TX"}},
	}
	rng := rand.New(rand.NewPCG(seed, 7))
	n := 2000
	X := models.NewMatrix(n, feats)
	y := make([]float64, n)
	for i := 0; i < n; i++ {
		r := X.Row(i)
		r[0], r[1], r[2] = float64(rng.IntN(5)), float64(8+rng.IntN(13)), float64(rng.IntN(5))
		r[3], r[4], r[5] = rng.Float64(), rng.Float64()*2, float64(rng.IntN(4))
		p := 0.05
		if r[0] == 0 {
			p += 0.2
		}
		if r[1] >= 17 {
			p += 0.1
		}
		if r[2] == 2 {
			p += 0.1
		}
		if rng.Float64() < p {
			y[i] = 1
		}
	}
	return feats, X, y
}

// Model is the registry artifact of a gbdt of 20+seed trees fitted on
// Data(seed), of target engaged_48h, as `engage train` would register it.
func Model(seed uint64, created time.Time) (*registry.Artifact, error) {
	feats, X, y := Data(seed)
	return Fit(X, y, feats, 20+int(seed), seed, fmt.Sprintf("test-%d", seed), created)
}

// Fit fits a gbdt of at most iters trees on X, y (default options otherwise)
// and wraps it as a registry artifact of target engaged_48h.
func Fit(X *models.Matrix, y []float64, feats []models.Feature, iters int, seed uint64, hash string, created time.Time) (*registry.Artifact, error) {
	o := gbdt.DefaultOptions()
	o.MaxIter, o.Seed = iters, seed
	gm, err := gbdt.Fit(context.Background(), X, y, nil, nil, o)
	if err != nil {
		return nil, fmt.Errorf("fit test model %s: %w", hash, err)
	}
	payload, err := action.EncodePayload(gm, nil)
	if err != nil {
		return nil, fmt.Errorf("encode test model %s: %w", hash, err)
	}
	return &registry.Artifact{Format: registry.ArtifactFormat, Family: action.FamilyGBDT, Payload: payload, Features: feats,
		DataHash: hash, Seed: seed, Target: "engaged_48h", Created: created}, nil
}
