package registry

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/engagehq/engage/models"
)

// ArtifactFormat tags model.json so that a future layout can be told apart.
const ArtifactFormat = "engage.artifact/1"

// Artifact is everything needed to rebuild and audit a trained model, whatever
// its family.
type Artifact struct {
	Format string `json:"format"`
	// Family names the decoder of Payload ("gbdt", "linear", "uplift", ...).
	Family string `json:"family"`
	// Payload is the family's own JSON encoding of the fitted model.
	Payload json.RawMessage `json:"payload"`
	// Features are the columns the model takes, in order.
	Features []models.Feature `json:"features"`
	// Priors is an opaque blob from the features package (e.g. target-encoding
	// priors) that serving needs to build the same columns.
	Priors json.RawMessage `json:"priors,omitempty"`
	// DataHash identifies the training data (e.g. "sha256:<hex>").
	DataHash string `json:"data_hash"`
	// Seed is the seed the fit used, for reproduction.
	Seed uint64 `json:"seed"`
	// Target names what the model predicts (e.g. "payment_30d").
	Target string `json:"target"`
	// Metrics are held-out evaluation numbers by name (auc, logloss, qini, ...).
	Metrics map[string]float64 `json:"metrics,omitempty"`
	// Created is when the model was trained (UTC).
	Created time.Time `json:"created"`
}

// Validate reports the first reason the artifact cannot be stored or served.
func (a *Artifact) Validate() error { return a.validate(true) }

// validate checks the artifact; checkJSON re-scans the raw blobs, which is
// redundant right after decoding them.
func (a *Artifact) validate(checkJSON bool) error {
	if a.Format != ArtifactFormat {
		return fmt.Errorf("artifact format %q, want %q", a.Format, ArtifactFormat)
	}
	if a.Family == "" {
		return errors.New("artifact has no family")
	}
	if len(a.Payload) == 0 || (checkJSON && !json.Valid(a.Payload)) {
		return errors.New("artifact payload is missing or not valid JSON")
	}
	if checkJSON && len(a.Priors) > 0 && !json.Valid(a.Priors) {
		return errors.New("artifact priors are not valid JSON")
	}
	if len(a.Features) == 0 {
		return errors.New("artifact has no features")
	}
	seen := map[string]bool{}
	for i, f := range a.Features {
		if f.Name == "" {
			return fmt.Errorf("feature %d has no name", i)
		}
		if seen[f.Name] {
			return fmt.Errorf("feature %q appears twice", f.Name)
		}
		seen[f.Name] = true
		switch f.Kind {
		case models.Numeric:
			if len(f.Levels) > 0 {
				return fmt.Errorf("numeric feature %q has levels", f.Name)
			}
		case models.Categorical:
			if len(f.Levels) == 0 {
				return fmt.Errorf("categorical feature %q has no levels", f.Name)
			}
		default:
			return fmt.Errorf("feature %q: unknown kind %d", f.Name, f.Kind)
		}
	}
	if a.DataHash == "" {
		return errors.New("artifact has no training-data hash")
	}
	if a.Target == "" {
		return errors.New("artifact has no target")
	}
	for k, v := range a.Metrics {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("metric %q is %v", k, v)
		}
	}
	if a.Created.IsZero() {
		return errors.New("artifact has no creation time")
	}
	return nil
}

// DecodeArtifact parses and validates model.json. Unknown fields are rejected
// so that a typo in a hand-made artifact does not silently drop information.
func DecodeArtifact(b []byte) (*Artifact, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	a := new(Artifact)
	if err := dec.Decode(a); err != nil {
		return nil, fmt.Errorf("decode artifact: %w", err)
	}
	if dec.More() {
		return nil, errors.New("decode artifact: trailing data after the JSON object")
	}
	if err := a.validate(false); err != nil {
		return nil, fmt.Errorf("decode artifact: %w", err)
	}
	return a, nil
}

// EncodeArtifact writes model.json deterministically (compact, map keys sorted
// by encoding/json, time in UTC), so equal artifacts hash equal.
func EncodeArtifact(a *Artifact) ([]byte, error) {
	if err := a.Validate(); err != nil {
		return nil, fmt.Errorf("encode artifact: %w", err)
	}
	cp := *a
	cp.Created = a.Created.UTC()
	b, err := json.Marshal(&cp) // compacts the raw payload and priors
	if err != nil {
		return nil, fmt.Errorf("encode artifact: %w", err)
	}
	return append(b, '\n'), nil
}

// HashBytes is the content hash used for manifests: "sha256:<hex>".
func HashBytes(b []byte) string {
	sum := sha256Sum(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}
