package gbdt

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/engagehq/engage/models"
)

// randomModel builds a model with random trees over features (numeric and
// categorical), with random thresholds, level sets, missing directions and
// child order (children are placed anywhere after their parent, not only
// adjacently as Fit places them).
func randomModel(rng *rand.Rand, feats []models.Feature, trees, maxDepth int) *Model {
	m := &Model{features: feats, base: rng.NormFloat64()}
	for range trees {
		var t tree
		var grow func(depth int) int
		grow = func(depth int) int {
			i := len(t.Nodes)
			t.Nodes = append(t.Nodes, node{Feature: -1})
			if depth >= maxDepth || rng.IntN(4) == 0 {
				t.Nodes[i].Value = rng.NormFloat64() * math.Pow(10, float64(rng.IntN(5)-3))
				if rng.IntN(2) == 0 {
					// Repeated leaf values: bound splits whose sides agree
					// collapse.
					t.Nodes[i].Value = float64(rng.IntN(3)-1) * 0.25
				}
				return i
			}
			f := rng.IntN(len(feats))
			n := node{Feature: f, DefaultLeft: rng.IntN(2) == 0}
			if feats[f].Kind == models.Categorical {
				n.Cat = make([]uint64, (len(feats[f].Levels)+63)/64)
				for c := range feats[f].Levels {
					if rng.IntN(2) == 0 {
						setBit(n.Cat, c)
					}
				}
			} else {
				n.Threshold = math.Round(rng.NormFloat64()*4) / 4 // ties with row values happen
			}
			if rng.IntN(2) == 0 {
				n.Left = grow(depth + 1)
				n.Right = grow(depth + 1)
			} else {
				n.Right = grow(depth + 1)
				n.Left = grow(depth + 1)
			}
			t.Nodes[i] = n
			return i
		}
		grow(0)
		m.trees = append(m.trees, t)
	}
	m.flat = compile(m.trees, len(m.features))
	return m
}

func randomFeatures(rng *rand.Rand, n int) []models.Feature {
	feats := make([]models.Feature, n)
	for j := range feats {
		feats[j] = models.Feature{Name: "f" + string(rune('a'+j%26)) + string(rune('a'+j/26)), Kind: models.Numeric}
		if rng.IntN(3) == 0 {
			feats[j].Kind = models.Categorical
			feats[j].Levels = make([]string, 2+rng.IntN(90)) // some beyond 64: two bitset words
			for k := range feats[j].Levels {
				feats[j].Levels[k] = string(rune('A'+k%26)) + string(rune('a'+k/26))
			}
		}
	}
	return feats
}

// randomValue draws a value for feature f: on thresholds, missing, out of
// range codes and fractional codes included.
func randomValue(rng *rand.Rand, f models.Feature) float64 {
	switch rng.IntN(10) {
	case 0:
		return math.NaN()
	case 1:
		return float64(rng.IntN(200) - 50)
	}
	if f.Kind == models.Categorical {
		if rng.IntN(20) == 0 {
			return float64(rng.IntN(len(f.Levels))) + 0.5
		}
		return float64(rng.IntN(len(f.Levels)))
	}
	return math.Round(rng.NormFloat64()*16) / 16
}

// treeSum is the reference margin: every tree's raw-value traversal, added
// in tree order in float64.
func treeSum(m *Model, row []float64) float64 {
	f := m.base
	for i := range m.trees {
		f += m.trees[i].predict(row)
	}
	return f
}

func TestFlatRoutingMatchesTrees(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	for trial := range 20 {
		feats := randomFeatures(rng, 1+rng.IntN(12))
		m := randomModel(rng, feats, 1+rng.IntN(30), 1+rng.IntN(8))
		row := make([]float64, len(feats))
		for range 200 {
			for j, f := range feats {
				row[j] = randomValue(rng, f)
			}
			// Per tree: the flat walk must reach the leaf the tree walk
			// reaches (compared through the leaf's fixed-point value).
			for k := range m.trees {
				want := m.trees[k].predict(row)
				got := m.flat.leafOf(m.flat.nodes, m.flat.roots[k], row)
				if got != int64(math.Round(want/m.flat.unit)) {
					t.Fatalf("trial %d tree %d: flat leaf %d, tree leaf %v", trial, k, got, want)
				}
			}
			got, err := m.PredictMargin(row)
			if err != nil {
				t.Fatal(err)
			}
			if want := treeSum(m, row); math.Abs(got-want) > 1e-9*(1+math.Abs(want)) {
				t.Fatalf("trial %d: margin %v, float tree sum %v", trial, got, want)
			}
		}
	}
}

// checkBind compares Bound margins with PredictMargin bit for bit on random
// rows and random free sets.
func checkBind(t *testing.T, m *Model, rng *rand.Rand, rows int) {
	t.Helper()
	feats := m.features
	row := make([]float64, len(feats))
	var b *Bound
	for r := range rows {
		for j, f := range feats {
			row[j] = randomValue(rng, f)
		}
		if r%10 == 0 || b == nil {
			k := rng.IntN(min(5, len(feats)) + 1)
			free := rng.Perm(len(feats))[:k]
			var err error
			if b, err = m.Bind(row, free); err != nil {
				t.Fatal(err)
			}
		} else if err := b.Reset(row); err != nil {
			t.Fatal(err)
		}
		free := b.Free()
		action := make([]float64, len(free))
		full := append([]float64(nil), row...)
		var batch, outs []float64
		// Values repeat across candidates (as actions of one account do),
		// so remembered outputs are reused.
		pool := make([][]float64, len(free))
		for k, j := range free {
			for range 3 {
				pool[k] = append(pool[k], randomValue(rng, feats[j]))
			}
		}
		for range 12 {
			for k, j := range free {
				action[k] = randomValue(rng, feats[j])
				if rng.IntN(3) > 0 {
					action[k] = pool[k][rng.IntN(3)]
				}
				full[j] = action[k]
			}
			want, err := m.PredictMargin(full)
			if err != nil {
				t.Fatal(err)
			}
			got, err := b.Margin(action)
			if err != nil {
				t.Fatal(err)
			}
			if math.Float64bits(got) != math.Float64bits(want) {
				t.Fatalf("free %v action %v: bound margin %v, full margin %v", free, action, got, want)
			}
			p, _ := b.Proba(action)
			if pw, _ := m.PredictProba(full); math.Float64bits(p) != math.Float64bits(pw) {
				t.Fatalf("bound proba %v, full %v", p, pw)
			}
			batch = append(batch, action...)
			outs = append(outs, want)
		}
		got := make([]float64, len(outs))
		if err := b.Margins(batch, got); err != nil {
			t.Fatal(err)
		}
		for i := range got {
			if math.Float64bits(got[i]) != math.Float64bits(outs[i]) {
				t.Fatalf("Margins[%d] = %v, want %v", i, got[i], outs[i])
			}
		}
	}
}

func TestBindRandomModels(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	for range 30 {
		feats := randomFeatures(rng, 1+rng.IntN(15))
		m := randomModel(rng, feats, 1+rng.IntN(40), 1+rng.IntN(9))
		checkBind(t, m, rng, 30)
	}
}

func TestBindManyFree(t *testing.T) {
	// More than 64 free columns: no grouping, every tree is walked.
	rng := rand.New(rand.NewPCG(6, 6))
	feats := randomFeatures(rng, 70)
	m := randomModel(rng, feats, 20, 6)
	row := make([]float64, len(feats))
	free := make([]int, len(feats))
	for j := range free {
		free[j] = j
		row[j] = randomValue(rng, feats[j])
	}
	b, err := m.Bind(make([]float64, len(feats)), free)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := b.Margin(row)
	if want, _ := m.PredictMargin(row); math.Float64bits(got) != math.Float64bits(want) {
		t.Errorf("bound margin %v, full %v", got, want)
	}
}

func TestBindFittedModels(t *testing.T) {
	X, y, _ := synth(4000, 1)
	rng := rand.New(rand.NewPCG(5, 5))
	for _, o := range []func(*Options){
		func(o *Options) {},
		func(o *Options) { o.MaxLeaves, o.MaxDepth = 0, 4 },
		func(o *Options) { o.Subsample, o.ColSample, o.LearningRate = 0.6, 0.7, 0.3 },
	} {
		opts := DefaultOptions()
		opts.MaxIter, opts.EarlyStoppingRounds = 60, 0
		o(&opts)
		m := mustFit(t, X, y, nil, nil, opts)
		checkBind(t, m, rng, 40)
	}
}

func TestBindCollapses(t *testing.T) {
	feats := []models.Feature{{Name: "action", Kind: models.Numeric}, {Name: "ctx", Kind: models.Numeric}}
	// action splits first; under ctx <= 0 both sides end in 0.5.
	tr := tree{Nodes: []node{
		{Feature: 0, Threshold: 1, Left: 1, Right: 2},
		{Feature: 1, Threshold: 0, Left: 3, Right: 4},
		{Feature: 1, Threshold: 0, Left: 5, Right: 6},
		{Feature: -1, Value: 0.5}, {Feature: -1, Value: -1},
		{Feature: -1, Value: 0.5}, {Feature: -1, Value: 2},
	}}
	m := &Model{features: feats, base: 0.1, trees: []tree{tr, tr}}
	m.flat = compile(m.trees, len(m.features))
	for _, c := range []struct {
		ctx   float64
		trees int
	}{{-1, 0}, {1, 2}} {
		b, err := m.Bind([]float64{0, c.ctx}, []int{0})
		if err != nil {
			t.Fatal(err)
		}
		if tr, _ := b.Residual(); tr != c.trees {
			t.Errorf("ctx %v: %d residual trees, want %d", c.ctx, tr, c.trees)
		}
		for _, a := range []float64{0, 1, 2, math.NaN()} {
			got, _ := b.Margin([]float64{a})
			want, _ := m.PredictMargin([]float64{a, c.ctx})
			if got != want {
				t.Errorf("ctx %v action %v: bound %v, full %v", c.ctx, a, got, want)
			}
		}
	}
}

func TestBindErrors(t *testing.T) {
	X, y, _ := synth(500, 1)
	o := DefaultOptions()
	o.MaxIter, o.EarlyStoppingRounds = 5, 0
	m := mustFit(t, X, y, nil, nil, o)
	row := X.Row(0)
	for _, c := range []struct {
		name string
		row  []float64
		free []int
	}{
		{"short row", row[:3], []int{0}},
		{"free out of range", row, []int{6}},
		{"negative free", row, []int{-1}},
		{"free twice", row, []int{2, 2}},
	} {
		if _, err := m.Bind(c.row, c.free); err == nil {
			t.Errorf("%s: no error", c.name)
		}
	}
	b, err := m.Bind(row, []int{0, 4})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Margin([]float64{1}); err == nil {
		t.Error("Margin accepted 1 value for 2 free columns")
	}
	if err := b.Margins([]float64{1, 2, 3}, make([]float64, 2)); err == nil {
		t.Error("Margins accepted 3 values for 2 rows of 2")
	}
	if err := b.Reset(row[:2]); err == nil {
		t.Error("Reset accepted a short row")
	}
	// No free column: the whole model folds into one constant.
	b, err = m.Bind(row, nil)
	if err != nil {
		t.Fatal(err)
	}
	if tr, _ := b.Residual(); tr != 0 {
		t.Errorf("no free column left %d residual trees", tr)
	}
	got, _ := b.Margin(nil)
	if want, _ := m.PredictMargin(row); got != want {
		t.Errorf("bound margin %v, full %v", got, want)
	}
}

func TestPredictAllocs(t *testing.T) {
	X, y, _ := synth(2000, 1)
	o := DefaultOptions()
	o.MaxIter, o.EarlyStoppingRounds = 20, 0
	m := mustFit(t, X, y, nil, nil, o)
	b, err := m.Bind(X.Row(1), []int{0, 4})
	if err != nil {
		t.Fatal(err)
	}
	action := []float64{0.3, 2}
	if a := testing.AllocsPerRun(100, func() { _, _ = m.PredictMargin(X.Row(3)) }); a != 0 {
		t.Errorf("PredictMargin allocates %v times", a)
	}
	if a := testing.AllocsPerRun(100, func() { _, _ = b.Margin(action) }); a != 0 {
		t.Errorf("Bound.Margin allocates %v times", a)
	}
	if a := testing.AllocsPerRun(100, func() { _ = b.Reset(X.Row(5)) }); a != 0 {
		t.Errorf("Bound.Reset allocates %v times", a)
	}
}

// TestBindActionGrid scores a whole candidate grid (5 channels x 13 hours x
// 5 messages, affinity per channel and hour) for several accounts, through
// Margin and Margins, against PredictMargin on full rows.
func TestBindActionGrid(t *testing.T) {
	X, y := actionData(4000)
	o := DefaultOptions()
	o.MaxIter, o.EarlyStoppingRounds = 40, 0
	m := mustFit(t, X, y, nil, nil, o)
	b, err := m.Bind(X.Row(0), actionCols)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 40; i++ {
		row := X.Row(i * 97 % X.Rows)
		if err := b.Reset(row); err != nil {
			t.Fatal(err)
		}
		cands := candidates(row[0])
		out := make([]float64, len(cands)/4)
		if err := b.Margins(cands, out); err != nil {
			t.Fatal(err)
		}
		full := append([]float64(nil), row...)
		for c := range out {
			copy(full[96:], cands[4*c:4*c+4])
			want, _ := m.PredictMargin(full)
			got, _ := b.Margin(cands[4*c : 4*c+4])
			if math.Float64bits(out[c]) != math.Float64bits(want) || math.Float64bits(got) != math.Float64bits(want) {
				t.Fatalf("account %d candidate %d: Margins %v, Margin %v, full %v", i, c, out[c], got, want)
			}
		}
	}
	if tr, _ := b.Residual(); tr == 0 {
		t.Error("no tree depends on the action: the test data have no action effect")
	}
}
