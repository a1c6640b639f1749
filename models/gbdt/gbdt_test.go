package gbdt

import (
	"bytes"
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/engagehq/engage/models"
)

// synth draws rows with a known log-odds f(x): main effects, an interaction, a
// categorical effect and a feature whose missingness carries signal. It
// returns the matrix, Bernoulli labels and the true log-odds.
func synth(n int, seed uint64) (*models.Matrix, []float64, []float64) {
	rng := rand.New(rand.NewPCG(seed, 7))
	levels := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
	catEffect := []float64{-1.5, 1.2, 0.1, -0.4, 1.8, -0.9, 0.6, -0.2}
	feats := []models.Feature{
		{Name: "x0", Kind: models.Numeric},
		{Name: "x1", Kind: models.Numeric},
		{Name: "x2", Kind: models.Numeric},
		{Name: "noise", Kind: models.Numeric},
		{Name: "cat", Kind: models.Categorical, Levels: levels},
		{Name: "miss", Kind: models.Numeric},
	}
	X := models.NewMatrix(n, feats)
	y := make([]float64, n)
	f := make([]float64, n)
	for i := 0; i < n; i++ {
		x0, x1, x2 := rng.NormFloat64(), rng.NormFloat64(), rng.Float64()*2-1
		c := rng.IntN(len(levels))
		miss := rng.NormFloat64()
		fi := 1.2*x0 - 0.8*x1*x1 + 1.5*x0*x2 + catEffect[c]
		if rng.Float64() < 0.3 {
			miss = math.NaN()
			fi += 1.0 // being missing raises the odds
		} else {
			fi += 0.3 * miss
		}
		X.Set(i, 0, x0)
		X.Set(i, 1, x1)
		X.Set(i, 2, x2)
		X.Set(i, 3, rng.NormFloat64())
		X.Set(i, 4, float64(c))
		X.Set(i, 5, miss)
		f[i] = fi
		if rng.Float64() < sigmoid(fi) {
			y[i] = 1
		}
	}
	return X, y, f
}

func mustFit(t testing.TB, X *models.Matrix, y []float64, V *models.Matrix, yv []float64, o Options) *Model {
	t.Helper()
	m, err := Fit(context.Background(), X, y, V, yv, o)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func predictAll(t testing.TB, m *Model, X *models.Matrix) []float64 {
	t.Helper()
	p, err := m.PredictMarginBatch(X)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRecoversKnownFunction(t *testing.T) {
	X, y, _ := synth(20000, 1)
	V, yv, _ := synth(5000, 2)
	T, yt, ft := synth(20000, 3)
	m := mustFit(t, X, y, V, yv, DefaultOptions())
	got := auc(predictAll(t, m, T), yt)
	bayes := auc(ft, yt)
	t.Logf("trees %d, AUC %.4f, Bayes AUC %.4f", m.NumTrees(), got, bayes)
	if got < bayes-0.01 {
		t.Errorf("AUC %.4f more than 0.01 below the Bayes AUC %.4f", got, bayes)
	}
	if m.NumTrees() >= DefaultOptions().MaxIter {
		t.Errorf("early stopping never stopped (%d trees)", m.NumTrees())
	}
	imp := m.Importance()
	if imp[3].Gain >= imp[0].Gain || imp[3].Gain >= imp[4].Gain {
		t.Errorf("noise feature gain %.1f not below x0 %.1f and cat %.1f", imp[3].Gain, imp[0].Gain, imp[4].Gain)
	}
}

// catOnly has its whole signal in a 40-level categorical whose codes are in
// no useful order.
func catOnly(n int, seed uint64) (*models.Matrix, []float64) {
	const k = 40
	levels := make([]string, k)
	effect := make([]float64, k)
	erng := rand.New(rand.NewPCG(99, 99))
	for i := range levels {
		levels[i] = string(rune('A'+i%26)) + string(rune('a'+i/26))
		effect[i] = erng.NormFloat64() * 1.5
	}
	rng := rand.New(rand.NewPCG(seed, 11))
	X := models.NewMatrix(n, []models.Feature{{Name: "c", Kind: models.Categorical, Levels: levels}, {Name: "noise", Kind: models.Numeric}})
	y := make([]float64, n)
	for i := 0; i < n; i++ {
		c := rng.IntN(k)
		X.Set(i, 0, float64(c))
		X.Set(i, 1, rng.NormFloat64())
		if rng.Float64() < sigmoid(effect[c]) {
			y[i] = 1
		}
	}
	return X, y
}

func TestCategoricalBeatsCodes(t *testing.T) {
	X, y := catOnly(10000, 1)
	T, yt := catOnly(10000, 2)
	o := DefaultOptions()
	o.MaxIter, o.EarlyStoppingRounds = 30, 0
	o.MaxLeaves = 4 // few splits: only a set split can use the signal fully
	cat := auc(predictAll(t, mustFit(t, X, y, nil, nil, o), T), yt)

	asNum := func(M *models.Matrix) *models.Matrix {
		N := *M
		N.Features = []models.Feature{{Name: "c", Kind: models.Numeric}, M.Features[1]}
		return &N
	}
	num := auc(predictAll(t, mustFit(t, asNum(X), y, nil, nil, o), asNum(T)), yt)
	t.Logf("categorical AUC %.4f, codes-as-numbers AUC %.4f", cat, num)
	if cat < num+0.01 {
		t.Errorf("categorical split AUC %.4f not clearly above numeric-code AUC %.4f", cat, num)
	}
}

func TestMissingDirectionLearned(t *testing.T) {
	// y is mostly 1 when x is missing or large, so missing must go with the
	// large values, which lie on the right of any threshold.
	rng := rand.New(rand.NewPCG(5, 5))
	n := 4000
	X := models.NewMatrix(n, []models.Feature{{Name: "x", Kind: models.Numeric}})
	y := make([]float64, n)
	for i := 0; i < n; i++ {
		v := rng.Float64()
		p := 0.1
		switch {
		case i%4 == 0:
			v = math.NaN()
			p = 0.9
		case v > 0.5:
			p = 0.9
		}
		X.Set(i, 0, v)
		if rng.Float64() < p {
			y[i] = 1
		}
	}
	o := DefaultOptions()
	o.MaxIter, o.EarlyStoppingRounds, o.MaxLeaves = 1, 0, 2
	m := mustFit(t, X, y, nil, nil, o)
	root := m.trees[0].Nodes[0]
	if root.Feature != 0 || root.DefaultLeft {
		t.Fatalf("root split %+v: want missing routed right with the high values", root)
	}
	pm, _ := m.PredictMargin([]float64{math.NaN()})
	ph, _ := m.PredictMargin([]float64{0.9})
	pl, _ := m.PredictMargin([]float64{0.1})
	if pm != ph || pm <= pl {
		t.Errorf("margins missing %v, high %v, low %v: missing should equal high", pm, ph, pl)
	}
}

func TestDeterministic(t *testing.T) {
	X, y, _ := synth(6000, 1)
	V, yv, _ := synth(2000, 2)
	o := DefaultOptions()
	o.MaxIter = 60
	o.Subsample, o.ColSample = 0.7, 0.8
	var ref []byte
	for _, w := range []int{1, 2, 3, 1} {
		o.Workers = w
		var buf bytes.Buffer
		if err := mustFit(t, X, y, V, yv, o).Save(&buf); err != nil {
			t.Fatal(err)
		}
		if ref == nil {
			ref = buf.Bytes()
			continue
		}
		if !bytes.Equal(ref, buf.Bytes()) {
			t.Fatalf("workers=%d gave a different model", w)
		}
	}
	o.Seed = 2
	var buf bytes.Buffer
	if err := mustFit(t, X, y, V, yv, o).Save(&buf); err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(ref, buf.Bytes()) {
		t.Error("a different seed gave the same subsampled model")
	}
}

// TestDeterministicLarge covers the paths that only run on big leaves
// (parallel histogram groups and parallel partition).
func TestDeterministicLarge(t *testing.T) {
	X, y := benchData(40000)
	o := DefaultOptions()
	o.MaxIter, o.EarlyStoppingRounds = 15, 0
	var ref []byte
	for _, w := range []int{1, 2, 4} {
		o.Workers = w
		var buf bytes.Buffer
		if err := mustFit(t, X, y, nil, nil, o).Save(&buf); err != nil {
			t.Fatal(err)
		}
		if ref == nil {
			ref = buf.Bytes()
		} else if !bytes.Equal(ref, buf.Bytes()) {
			t.Fatalf("workers=%d gave a different model", w)
		}
	}
}

func TestSaveLoadIdentical(t *testing.T) {
	X, y, _ := synth(5000, 1)
	o := DefaultOptions()
	o.MaxIter, o.EarlyStoppingRounds = 50, 0
	m := mustFit(t, X, y, nil, nil, o)
	var buf bytes.Buffer
	if err := m.Save(&buf); err != nil {
		t.Fatal(err)
	}
	m2, err := Load(&buf)
	if err != nil {
		t.Fatal(err)
	}
	T, _, _ := synth(3000, 9)
	a, b := predictAll(t, m, T), predictAll(t, m2, T)
	for i := range a {
		if math.Float64bits(a[i]) != math.Float64bits(b[i]) {
			t.Fatalf("row %d: %v before save, %v after load", i, a[i], b[i])
		}
	}
	// Predicting on raw values must reproduce the training-time margins that
	// were accumulated in bin space.
	bins := binMatrix(X, newBinners(X, o.MaxBins, o.BinSampleRows, o.Seed), 1)
	for i := 0; i < X.Rows; i++ {
		for _, tr := range m.trees {
			if tr.predict(X.Row(i)) != tr.predictBinned(bins, i) {
				t.Fatalf("row %d: raw and binned traversal disagree", i)
			}
		}
	}
}

func TestBadInput(t *testing.T) {
	good, y, _ := synth(200, 1)
	o := DefaultOptions()
	o.MaxIter = 3
	nanY := append([]float64(nil), y...)
	nanY[5] = math.NaN()
	ones := make([]float64, len(y))
	for i := range ones {
		ones[i] = 1
	}
	twos := append([]float64(nil), y...)
	twos[0] = 2
	badCode := *good
	badCode.Data = append([]float64(nil), good.Data...)
	badCode.Set(0, 4, 17)
	otherSchema := *good
	otherSchema.Features = append([]models.Feature(nil), good.Features...)
	otherSchema.Features[0].Name = "renamed"
	badOpts := o
	badOpts.LearningRate = 0

	cases := []struct {
		name string
		X    *models.Matrix
		y    []float64
		V    *models.Matrix
		yv   []float64
		o    Options
	}{
		{"nil matrix", nil, nil, nil, nil, o},
		{"empty table", models.NewMatrix(0, good.Features), nil, nil, nil, o},
		{"no columns", &models.Matrix{Rows: 3, Data: []float64{}}, []float64{0, 1, 0}, nil, nil, o},
		{"label count", good, y[:10], nil, nil, o},
		{"NaN label", good, nanY, nil, nil, o},
		{"constant label", good, ones, nil, nil, o},
		{"label 2", good, twos, nil, nil, o},
		{"bad level code", &badCode, y, nil, nil, o},
		{"validation schema", good, y, &otherSchema, y, o},
		{"validation labels", good, y, good, y[:3], o},
		{"bad options", good, y, nil, nil, badOpts},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := Fit(context.Background(), c.X, c.y, c.V, c.yv, c.o)
			if err == nil || m != nil {
				t.Fatalf("got model %v, err %v; want an error", m != nil, err)
			}
			t.Log(err)
		})
	}

	m := mustFit(t, good, y, nil, nil, o)
	if _, err := m.PredictBatch(&otherSchema); err == nil {
		t.Error("PredictBatch accepted a matrix with another schema")
	}
	if _, err := m.PredictProba([]float64{1, 2}); err == nil {
		t.Error("PredictProba accepted a short row")
	}
	if _, err := m.PredictBatch(nil); err == nil {
		t.Error("PredictBatch accepted nil")
	}
}

func TestCancel(t *testing.T) {
	X, y, _ := synth(2000, 1)
	ctx, cancel := context.WithCancel(context.Background())
	o := DefaultOptions()
	o.Progress = func(round int, _, _ float64) {
		if round == 3 {
			cancel()
		}
	}
	_, err := Fit(ctx, X, y, nil, nil, o)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
}

func TestAUC(t *testing.T) {
	cases := []struct {
		s, y []float64
		want float64
	}{
		{[]float64{0.1, 0.2, 0.3, 0.4}, []float64{0, 0, 1, 1}, 1},
		{[]float64{0.4, 0.3, 0.2, 0.1}, []float64{0, 0, 1, 1}, 0},
		{[]float64{0.5, 0.5, 0.5, 0.5}, []float64{0, 1, 0, 1}, 0.5},
		{[]float64{0.1, 0.4, 0.35, 0.8}, []float64{0, 0, 1, 1}, 0.75},
	}
	for _, c := range cases {
		if got := auc(c.s, c.y); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("auc(%v, %v) = %v, want %v", c.s, c.y, got, c.want)
		}
	}
}

func TestProgress(t *testing.T) {
	X, y, _ := synth(2000, 1)
	V, yv, _ := synth(500, 2)
	o := DefaultOptions()
	o.MaxIter, o.EarlyStoppingRounds = 20, 0
	var train, valid []float64
	o.Progress = func(_ int, tl, vm float64) { train, valid = append(train, tl), append(valid, vm) }
	mustFit(t, X, y, V, yv, o)
	if len(train) != 20 || !math.IsNaN(train[0]) || math.IsNaN(valid[0]) {
		t.Fatalf("untracked: %d calls, train %v, valid %v", len(train), train[0], valid[0])
	}
	train, valid = nil, nil
	o.TrackTrainLoss = true
	mustFit(t, X, y, nil, nil, o)
	if !(train[19] < train[0]) || !math.IsNaN(valid[0]) {
		t.Errorf("tracked: train loss %v -> %v, valid %v", train[0], train[19], valid[0])
	}
}

// TestValidLossMatchesMargins checks the incremental validation loss against
// the log-loss of the margins recomputed from the kept trees.
func TestValidLossMatchesMargins(t *testing.T) {
	X, y, _ := synth(3000, 1)
	V, yv, _ := synth(2500, 2) // more than two loss chunks
	o := DefaultOptions()
	o.MaxIter, o.EarlyStoppingRounds = 15, 0
	var got []float64
	o.Progress = func(_ int, _, vm float64) { got = append(got, vm) }
	m := mustFit(t, X, y, V, yv, o)
	FV := make([]float64, V.Rows)
	for i := range FV {
		FV[i] = m.base
	}
	for k, tr := range m.trees {
		for i := range FV {
			FV[i] += tr.predict(V.Row(i))
		}
		if want := logLoss(FV, yv); math.Abs(got[k]-want) > 1e-12 {
			t.Fatalf("round %d: tracked validation loss %v, recomputed %v", k+1, got[k], want)
		}
	}
}
