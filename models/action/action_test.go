package action

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/engagehq/engage/models"
	"github.com/engagehq/engage/models/calibrate"
	"github.com/engagehq/engage/models/gbdt"
	"github.com/engagehq/engage/models/linear"
	"github.com/engagehq/engage/models/registry"
)

var (
	channels = []string{"email", "sms", "call", "push", "letter"}
	messages = []string{"friendly", "firm", "empathetic", "discount", "plan"}
	feats    = []models.Feature{
		{Name: "x", Kind: models.Numeric},
		{Name: "channel", Kind: models.Categorical, Levels: channels},
		{Name: "local_hour", Kind: models.Numeric},
		{Name: "message", Kind: models.Categorical, Levels: messages},
		{Name: "slot", Kind: models.Numeric},
	}
)

// world: channel sms and message plan are best, the hour's value comes only
// through the action-dependent "slot" feature (peak at 18).
func logit(x float64, c, h, g int, slot float64) float64 {
	return -2 + 0.5*x + []float64{0, 1.2, -0.5, 0.3, -1}[c] + []float64{0, -0.4, 0.2, 0.1, 0.6}[g] + 1.5*slot
}

func slotOf(h int) float64 { return math.Exp(-0.5 * float64((h-18)*(h-18)) / 4) }

func sample(n int, seed uint64) (*models.Matrix, []float64) {
	rng := rand.New(rand.NewPCG(seed, 1))
	X := models.NewMatrix(n, feats)
	y := make([]float64, n)
	for i := 0; i < n; i++ {
		x, c, h, g := rng.NormFloat64(), rng.IntN(5), 8+rng.IntN(13), rng.IntN(5)
		s := slotOf(h)
		copy(X.Row(i), []float64{x, float64(c), float64(h), float64(g), s})
		if rng.Float64() < 1/(1+math.Exp(-logit(x, c, h, g, s))) {
			y[i] = 1
		}
	}
	return X, y
}

func fitModel(t testing.TB, family string) *Model {
	m, _ := fitArtifact(t, family)
	return m
}

func fitArtifact(t testing.TB, family string) (*Model, *registry.Artifact) {
	t.Helper()
	X, y := sample(20000, 1)
	var fam interface{ MarshalJSON() ([]byte, error) }
	var z []float64
	switch family {
	case FamilyLinear:
		m, err := linear.Fit(context.Background(), X, y, linear.DefaultOptions())
		if err != nil {
			t.Fatal(err)
		}
		fam = m
		p, _ := m.PredictBatch(X)
		for _, v := range p {
			z = append(z, Logit(v))
		}
	default:
		o := gbdt.DefaultOptions()
		o.MaxIter, o.EarlyStoppingRounds = 135, 0
		m, err := gbdt.Fit(context.Background(), X, y, nil, nil, o)
		if err != nil {
			t.Fatal(err)
		}
		fam = m
		z, _ = m.PredictMarginBatch(X)
	}
	cal, err := calibrate.FitPlatt(z, y, calibrate.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	payload, err := EncodePayload(fam, cal)
	if err != nil {
		t.Fatal(err)
	}
	a := &registry.Artifact{Format: registry.ArtifactFormat, Family: family, Payload: payload, Features: feats,
		DataHash: "sha256:x", Target: "engaged", Created: time.Now()}
	m, err := FromArtifact(a)
	if err != nil {
		t.Fatal(err)
	}
	return m, a
}

func fill(a Action, row []float64) { row[4] = slotOf(a.Hour) }

func TestRegistryRoundTrip(t *testing.T) {
	for _, fam := range []string{FamilyLinear, FamilyGBDT} {
		m, a := fitArtifact(t, fam)
		reg, err := Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := reg.Register(a, registry.Card{}); err != nil {
			t.Fatal(err)
		}
		began := time.Now()
		l, err := Load(reg, "")
		if err != nil {
			t.Fatal(err)
		}
		// Logged, not asserted: absolute times fail on a busy machine.
		t.Logf("%s: load took %s", fam, time.Since(began))
		X, _ := sample(500, 2)
		want, _ := m.PredictBatch(X)
		got, err := l.PredictBatch(X)
		if err != nil {
			t.Fatal(err)
		}
		for i := range want {
			if want[i] != got[i] {
				t.Fatalf("%s row %d: %v after load, %v before", fam, i, got[i], want[i])
			}
		}
	}
}

func TestRank(t *testing.T) {
	for _, fam := range []string{FamilyLinear, FamilyGBDT} {
		m := fitModel(t, fam)
		for _, search := range []Search{Exhaustive, Coordinate} {
			o := DefaultOptions()
			o.Search = search
			s, err := NewScorer(m, o)
			if err != nil {
				t.Fatal(err)
			}
			ctx := []float64{0.3, math.NaN(), math.NaN(), math.NaN(), math.NaN()}
			r, err := s.Rank(Request{Context: ctx, Fill: fill})
			if err != nil {
				t.Fatal(err)
			}
			if r.Channel.Best != "sms" || r.Message.Best != "plan" || abs(r.Hour.Best-18) > 1 {
				t.Errorf("%s/%d: preferred %s %d %s, want sms ~18 plan", fam, search, r.Channel.Best, r.Hour.Best, r.Message.Best)
			}
			if r.Best.Action.Channel != r.Channel.Best || !(r.Best.Value >= r.RunnerUp.Value) || r.Channel.RunnerUp == r.Channel.Best {
				t.Errorf("%s/%d: best %+v runner-up %+v channel %+v", fam, search, r.Best, r.RunnerUp, r.Channel)
			}
			if search == Exhaustive && r.Evaluated != 5*13*5 {
				t.Errorf("evaluated %d", r.Evaluated)
			}
			if ctx[1] == ctx[1] || ctx[4] == ctx[4] {
				t.Error("Rank modified the context")
			}
			// the firewall removes sms: the best allowed is another channel.
			r2, err := s.Rank(Request{Context: ctx, Fill: fill, Allowed: func(a Action) bool { return a.Channel != "sms" }})
			if err != nil {
				t.Fatal(err)
			}
			if r2.Best.Action.Channel == "sms" || r2.Channel.Best == "sms" || r2.Channel.Best != r.Channel.RunnerUp {
				t.Errorf("%s/%d: disallowed channel chosen or runner-up inconsistent: %+v vs %+v", fam, search, r2.Channel, r.Channel)
			}
			// value: make call worth ten times more.
			r3, err := s.Rank(Request{Context: ctx, Fill: fill, Value: func(a Action, p float64) float64 {
				if a.Channel == "call" {
					return 10 * p
				}
				return p
			}})
			if err != nil || r3.Channel.Best != "call" {
				t.Errorf("%s/%d: value ranking chose %s (%v)", fam, search, r3.Channel.Best, err)
			}
			if _, err := s.Rank(Request{Context: ctx, Allowed: func(Action) bool { return false }}); !errors.Is(err, ErrNoCandidate) {
				t.Errorf("nothing allowed: %v", err)
			}
			if _, err := s.Rank(Request{Context: ctx[:2]}); err == nil {
				t.Error("short context accepted")
			}
		}
	}
}

func TestNewScorerErrors(t *testing.T) {
	m := fitModel(t, FamilyLinear)
	if _, err := NewScorer(nil, DefaultOptions()); err == nil {
		t.Error("nil model")
	}
	o := DefaultOptions()
	o.Hours = []int{25}
	if _, err := NewScorer(m, o); err == nil {
		t.Error("hour 25 accepted")
	}
	o = DefaultOptions()
	o.ChannelFeature, o.HourFeature, o.MessageFeature = "a", "b", "c"
	if _, err := NewScorer(m, o); err == nil {
		t.Error("model without action features accepted")
	}
}

func TestDecodeErrors(t *testing.T) {
	for _, p := range []string{`{`, `{"format":"engage.action/1","model":{"format":"nope"}}`, `{"format":"engage.action/1","model":{},"calibrator":{"kind":"x"}}`} {
		for _, fam := range []string{FamilyGBDT, FamilyLinear, FamilyUplift} {
			if _, err := Decoders()[fam]([]byte(p)); err == nil {
				t.Errorf("%s accepted %s", fam, p)
			}
		}
	}
}

func abs(x int) int { return max(x, -x) }

func benchRank(b *testing.B, fam string, search Search) {
	m := fitModel(b, fam)
	o := DefaultOptions()
	o.Search = search
	s, err := NewScorer(m, o)
	if err != nil {
		b.Fatal(err)
	}
	req := Request{Context: []float64{0.3, 0, 0, 0, 0}, Fill: fill}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Rank(req); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRankGBDTExhaustive(b *testing.B)   { benchRank(b, FamilyGBDT, Exhaustive) }
func BenchmarkRankGBDTCoordinate(b *testing.B)   { benchRank(b, FamilyGBDT, Coordinate) }
func BenchmarkRankLinearExhaustive(b *testing.B) { benchRank(b, FamilyLinear, Exhaustive) }
func BenchmarkRankLinearCoordinate(b *testing.B) { benchRank(b, FamilyLinear, Coordinate) }

// TestPredictRows: the batch form gives Predict's probability bit for bit, for
// both classifier families, with missing values (and, for gbdt, unseen
// codes) among the rows; a row count that does not match is refused.
func TestPredictRows(t *testing.T) {
	for _, fam := range []string{FamilyGBDT, FamilyLinear} {
		t.Run(fam, func(t *testing.T) {
			m := fitModel(t, fam)
			X, _ := sample(300, 9)
			rows := append([]float64(nil), X.Data...)
			for i := 0; i < len(rows); i += 7 {
				rows[i] = math.NaN()
			}
			for i := 3; fam == FamilyGBDT && i < len(rows); i += 50 {
				rows[i] = 17 // an unseen message code (linear refuses it)
			}
			got := make([]float64, X.Rows)
			if err := m.PredictRows(rows, got); err != nil {
				t.Fatal(err)
			}
			nf := len(feats)
			for i := range got {
				want, err := m.Predict(rows[i*nf : (i+1)*nf])
				if err != nil {
					t.Fatal(err)
				}
				if math.Float64bits(got[i]) != math.Float64bits(want) && !(math.IsNaN(got[i]) && math.IsNaN(want)) {
					t.Fatalf("row %d: PredictRows %v, Predict %v", i, got[i], want)
				}
			}
			if err := m.PredictRows(rows[1:], got); err == nil {
				t.Fatal("short rows accepted")
			}
		})
	}
}

// TestPredictRowsVarying: with only some columns varying after the first
// row (the others garbage), PredictRowsVarying gives Predict's probability
// of each row completed from the first row, bit for bit, for both classifier
// families; a varying column outside the row is refused.
func TestPredictRowsVarying(t *testing.T) {
	for _, fam := range []string{FamilyGBDT, FamilyLinear} {
		t.Run(fam, func(t *testing.T) {
			m := fitModel(t, fam)
			X, _ := sample(70, 11)
			nf := len(feats)
			rows := append([]float64(nil), X.Data...)
			for i := 0; i < len(rows); i += 7 {
				rows[i] = math.NaN()
			}
			varying := []int{0, nf - 1}
			full := append([]float64(nil), rows...)
			for i := 1; i < X.Rows; i++ {
				copy(full[i*nf:(i+1)*nf], rows[:nf])
				for _, c := range varying {
					full[i*nf+c] = rows[i*nf+c]
				}
			}
			got := make([]float64, X.Rows)
			if err := m.PredictRowsVarying(rows, got, varying); err != nil {
				t.Fatal(err)
			}
			for i := range got {
				want, err := m.Predict(full[i*nf : (i+1)*nf])
				if err != nil {
					t.Fatal(err)
				}
				if math.Float64bits(got[i]) != math.Float64bits(want) && !(math.IsNaN(got[i]) && math.IsNaN(want)) {
					t.Fatalf("row %d: PredictRowsVarying %v, Predict %v", i, got[i], want)
				}
			}
			if err := m.PredictRowsVarying(rows, got, []int{nf}); err == nil {
				t.Fatal("a varying column outside the row was accepted")
			}
		})
	}
}
