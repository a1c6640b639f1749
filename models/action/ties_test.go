package action

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/engagehq/engage/models/calibrate"
	"github.com/engagehq/engage/models/linear"
	"github.com/engagehq/engage/models/registry"
)

// TestRankBreaksCalibratedTies: an isotonic calibrator is a step function, so
// neighbouring send hours share a calibrated probability; the scorer must
// still prefer the hour the model scores highest (raw log-odds), not the first
// hour of the grid.
func TestRankBreaksCalibratedTies(t *testing.T) {
	X, y := sample(20000, 1)
	lm, err := linear.Fit(context.Background(), X, y, linear.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	p, _ := lm.PredictBatch(X)
	// a coarse calibrator: fitted on 60 rows, it has a handful of steps.
	z := make([]float64, 60)
	for i := range z {
		z[i] = Logit(p[i])
	}
	cal, err := calibrate.FitIsotonic(z, y[:60], calibrate.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	payload, err := EncodePayload(lm, cal)
	if err != nil {
		t.Fatal(err)
	}
	m, err := FromArtifact(&registry.Artifact{Format: registry.ArtifactFormat, Family: FamilyLinear, Payload: payload,
		Features: feats, DataHash: "sha256:x", Target: "engaged", Created: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewScorer(m, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	ctx := []float64{0.3, math.NaN(), math.NaN(), math.NaN(), math.NaN()}
	r, err := s.Rank(Request{Context: ctx, Fill: fill, Allowed: func(a Action) bool { return a.Channel == "sms" && a.Message == "plan" }})
	if err != nil {
		t.Fatal(err)
	}
	// the calibrated probabilities of the 13 hours must tie somewhere, or the
	// test proves nothing.
	seen := map[float64]bool{}
	ties := false
	for h := 8; h <= 20; h++ {
		row := append([]float64(nil), ctx...)
		row[1], row[2], row[3] = 1, float64(h), 4
		fill(Action{Hour: h}, row)
		q, err := m.Predict(row)
		if err != nil {
			t.Fatal(err)
		}
		ties = ties || seen[q]
		seen[q] = true
	}
	if !ties {
		t.Fatal("no tied calibrated probabilities across hours: make the calibrator coarser")
	}
	if r.Hour.Best != 18 || r.Best.Action.Hour != 18 {
		t.Fatalf("preferred hour %d (best action %v), want 18 (the raw score's peak)", r.Hour.Best, r.Best.Action)
	}
}
