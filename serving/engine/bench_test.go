package engine

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/engagehq/engage/compliance"
	"github.com/engagehq/engage/cputime"
	"github.com/engagehq/engage/datasets"
	"github.com/engagehq/engage/features"
	"github.com/engagehq/engage/models"
	"github.com/engagehq/engage/models/action"
	"github.com/engagehq/engage/models/gbdt"
	"github.com/engagehq/engage/models/registry"
	"github.com/engagehq/engage/serving/engine/enginetest"
)

// benchT0 is the decision instant of the serving benchmarks' world.
var benchT0 = time.Date(2026, 3, 10, 15, 0, 0, 0, time.UTC)

// worldModel fits the small gbdt of serving's benchmarks (action columns, one
// engagement rate, the send slot's affinity and the jurisdiction) on
// synthetic rows where email in the evening with firm messages engages most,
// and returns its scorer (plain prediction) and the gbdt model inside it (for
// UseBound).
func worldModel(tb testing.TB, seed uint64) (*ModelScorer, *gbdt.Model) {
	tb.Helper()
	a, err := enginetest.Model(seed, benchT0)
	if err != nil {
		tb.Fatal(err)
	}
	return scorerOf(tb, a)
}

// wideModel fits a gbdt of iters trees on every feature serving reads (the
// action columns, every action-dependent feature, every numeric feature and
// the jurisdiction, ~140 columns, like the demo's engagement model) on
// random rows whose outcome depends on one column in seven, and returns its
// scorer (plain prediction) and the gbdt model inside it.
func wideModel(tb testing.TB, seed uint64, iters int) (*ModelScorer, *gbdt.Model) {
	var feats []models.Feature
	feats = append(feats, models.Feature{Name: "channel", Kind: models.Categorical, Levels: datasets.Channels},
		models.Feature{Name: "local_hour", Kind: models.Numeric},
		models.Feature{Name: "message", Kind: models.Categorical, Levels: datasets.Messages})
	for _, n := range features.ActionNames() {
		feats = append(feats, models.Feature{Name: n, Kind: models.Numeric})
	}
	for _, n := range features.NumericNames() {
		feats = append(feats, models.Feature{Name: n, Kind: models.Numeric})
	}
	feats = append(feats, models.Feature{Name: "jurisdiction", Kind: models.Categorical, Levels: []string{"CA-ON", "GB", "US-MA", "US-TX"}})
	rng := rand.New(rand.NewPCG(seed, 9))
	n := 4000
	X := models.NewMatrix(n, feats)
	y := make([]float64, n)
	for i := 0; i < n; i++ {
		r := X.Row(i)
		s := 0.0
		for j := range r {
			if lv := feats[j].Levels; len(lv) > 0 {
				r[j] = float64(rng.IntN(len(lv)))
			} else {
				r[j] = rng.ExpFloat64()
				if rng.IntN(10) == 0 {
					r[j] = math.NaN()
				}
			}
			if j%7 == 0 && !math.IsNaN(r[j]) {
				s += r[j] * 0.1
			}
		}
		if rng.Float64() < 1/(1+math.Exp(3-s)) {
			y[i] = 1
		}
	}
	a, err := enginetest.Fit(X, y, feats, iters, seed, fmt.Sprintf("wide-%d", seed), benchT0)
	if err != nil {
		tb.Fatal(err)
	}
	return scorerOf(tb, a)
}

// scorerOf returns the scorer serving builds from artifact a (plain
// prediction) and the gbdt model inside it (for UseBound).
func scorerOf(tb testing.TB, a *registry.Artifact) (*ModelScorer, *gbdt.Model) {
	tb.Helper()
	m, err := action.FromArtifact(a)
	if err != nil {
		tb.Fatal(err)
	}
	sc, err := NewModelScorer(m)
	if err != nil {
		tb.Fatal(err)
	}
	g, err := action.DecodeGBDT(a.Payload)
	if err != nil {
		tb.Fatal(err)
	}
	return sc, g
}

// worldInputs returns the serving benchmarks' accounts (four jurisdictions,
// every consent, a letter, an email delivered and opened, a payment for one
// in three), each with its feature state and its compliance subject compiled
// once, as serving's view cache holds them.
func worldInputs(tb testing.TB, fw *compliance.Firewall, n int) []*Input {
	tb.Helper()
	accts := enginetest.Accounts(n, "K", benchT0)
	out := make([]*Input, n)
	for i := range out {
		row := accts[i]
		evs := enginetest.Events(&row, i, benchT0)
		fa, err := features.NewAccount(&row)
		if err != nil {
			tb.Fatal(err)
		}
		st := features.NewState()
		for k := range evs {
			if err := st.Apply(&evs[k], fa); err != nil {
				tb.Fatal(err)
			}
		}
		ca, ledger := FromEvents(&row, evs, nil)
		sub, err := fw.Subject(ca, ledger)
		if err != nil {
			tb.Fatal(err)
		}
		out[i] = &Input{Tenant: "bench", DecisionID: fmt.Sprint("d", i), Now: benchT0, Account: fa, State: st, Subject: sub}
	}
	return out
}

// BenchmarkDecideWorld is Engine.Decide alone on the world of serving's
// BenchmarkDecide (its model, accounts and cached compliance subjects), so
// the engine's share of an in-process decision shows apart from the store,
// the JSON encoding and the audit write. ns/op is one decision on one core.
//
//   - model: the default options (2 profile slots per channel), the model
//     scored as serving loads it;
//   - bound: model with gbdt partial evaluation forced on;
//   - all_hours: every permitted hour (coordinate search);
//   - parallel: model, b.RunParallel over every core (amortised wall time);
//   - wide: a model on every feature (wideModel), plain prediction;
//   - wide_auto: the same, partial evaluation when UseBound finds it faster.
//
// cpu-ns/op is the process's CPU time per decision, steadier than ns/op on a
// shared machine.
func BenchmarkDecideWorld(b *testing.B) {
	fw, err := compliance.Open(compliance.DefaultOptions())
	if err != nil {
		b.Fatal(err)
	}
	// The scorer as serving loads it (partial evaluation when it measures
	// faster), and one forced to use partial evaluation.
	sc, g := worldModel(b, 1)
	if err := sc.UseBound(g, false); err != nil && !errors.Is(err, ErrBoundSlower) {
		b.Fatal(err)
	}
	b.Logf("partial evaluation chosen: %v", sc.Bound())
	bound, g2 := worldModel(b, 1)
	if err := bound.UseBound(g2, true); err != nil {
		b.Fatal(err)
	}
	// A model on every feature (~140 columns, 60 trees), as the demo's
	// engagement model: plain, and as serving loads it.
	wide, _ := wideModel(b, 3, 60)
	wideAuto, g3 := wideModel(b, 3, 60)
	if err := wideAuto.UseBound(g3, false); err != nil && !errors.Is(err, ErrBoundSlower) {
		b.Fatal(err)
	}
	b.Logf("wide model: partial evaluation chosen: %v", wideAuto.Bound())
	ins := worldInputs(b, fw, 1000)
	for _, tc := range []struct {
		name     string
		all, par bool
		sc       Scorer
	}{{"model", false, false, sc}, {"bound", false, false, bound}, {"all_hours", true, false, sc}, {"parallel", false, true, sc},
		{"wide", false, false, wide}, {"wide_auto", false, false, wideAuto}} {
		sc := tc.sc
		b.Run(tc.name, func(b *testing.B) {
			o := DefaultOptions()
			o.AllHours = tc.all
			eng, err := New(fw, o)
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			b.ReportAllocs()
			cpu := cputime.Process()
			defer func() {
				if c := cputime.Process() - cpu; c > 0 {
					b.ReportMetric(float64(c.Nanoseconds())/float64(b.N), "cpu-ns/op")
				}
			}()
			if tc.par {
				var next atomic.Int64
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						in := *ins[int(next.Add(1))%len(ins)]
						acct := *in.Account // as serving: Account caches lookups inside
						in.Account = &acct
						if _, err := eng.Decide(ctx, &in, sc, ""); err != nil {
							b.Error(err)
							return
						}
					}
				})
				return
			}
			i := 0
			for b.Loop() {
				in := *ins[i%len(ins)]
				acct := *in.Account
				in.Account = &acct
				if _, err := eng.Decide(ctx, &in, sc, ""); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}
