//go:build cgo

package baseline

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/engagehq/engage/models"
	"github.com/sjwhitworth/golearn/base"
	"github.com/sjwhitworth/golearn/evaluation"
	"github.com/sjwhitworth/golearn/trees"
)

// missingLevel stands for NaN in categorical columns; golearn has no missing
// values.
const missingLevel = "(missing)"

// RandomForest fits a forest of golearn ID3 trees on (X, y), a 0/1 outcome,
// and scores it on (test, yTest). golearn panics on some inputs; such panics
// are returned as errors. ctx is checked between trees: golearn itself cannot
// be interrupted.
func RandomForest(ctx context.Context, X *models.Matrix, y []float64, test *models.Matrix, yTest []float64, opts Options) (res *Result, err error) {
	if X == nil || test == nil || X.Rows == 0 || test.Rows == 0 {
		return nil, fmt.Errorf("baseline: empty training or test table")
	}
	if len(y) != X.Rows || len(yTest) != test.Rows {
		return nil, fmt.Errorf("baseline: %d/%d labels for %d/%d rows", len(y), len(yTest), X.Rows, test.Rows)
	}
	if err := models.CheckSchema(X.Features, test.Features); err != nil {
		return nil, fmt.Errorf("baseline: test data: %w", err)
	}
	if opts.Trees < 1 || opts.Features < 0 || opts.Features > X.Cols || opts.MaxRows < 0 {
		return nil, fmt.Errorf("baseline: bad options %+v for %d features", opts, X.Cols)
	}
	defer func() {
		if p := recover(); p != nil {
			res, err = nil, fmt.Errorf("baseline: golearn panicked: %v", p)
		}
	}()

	rows := make([]int, X.Rows)
	for i := range rows {
		rows[i] = i
	}
	if opts.MaxRows > 0 && opts.MaxRows < X.Rows {
		rng := rand.New(rand.NewPCG(opts.Seed, 3))
		rng.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
		rows = rows[:opts.MaxRows]
		slices.Sort(rows)
	}
	attrs, class := attributes(X.Features)
	train, err := grid(X, y, rows, attrs, class)
	if err != nil {
		return nil, err
	}
	all := make([]int, test.Rows)
	for i := range all {
		all[i] = i
	}
	tgrid, err := grid(test, yTest, all, attrs, class)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	// golearn's own ensemble.RandomForest bags through InstancesView row
	// maps, whose MapOverRows disagrees with the rows the view reports (class
	// counts per level differ), so its trees learn from scrambled labels and
	// score below chance. We therefore bag ourselves, seeded, on dense copies,
	// and grow golearn's ID3 trees (the trees RandomForest uses) on them.
	rng := rand.New(rand.NewPCG(opts.Seed, 5))
	nf := opts.Features
	if nf == 0 {
		nf = X.Cols
	}
	start := time.Now()
	forest := make([]*trees.ID3DecisionTree, opts.Trees)
	for k := range forest {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		boot := make([]int, len(rows))
		for i := range boot {
			boot[i] = rows[rng.IntN(len(rows))]
		}
		cols := rng.Perm(X.Cols)[:nf]
		slices.Sort(cols)
		sub := make([]base.Attribute, len(cols))
		for i, j := range cols {
			sub[i] = attrs[j]
		}
		g, err := gridCols(X, y, boot, cols, sub, class)
		if err != nil {
			return nil, err
		}
		forest[k] = trees.NewID3DecisionTree(0)
		if err := forest[k].Fit(g); err != nil {
			return nil, fmt.Errorf("baseline: golearn ID3 fit: %w", err)
		}
	}
	res = &Result{TrainRows: len(rows), FitTime: time.Since(start)}

	// Vote share for class 1 as the ranking score; majority vote as the class.
	res.Scores = make([]float64, test.Rows)
	for _, t := range forest {
		p, err := t.Predict(tgrid)
		if err != nil {
			return nil, fmt.Errorf("baseline: golearn tree predict: %w", err)
		}
		for i := range res.Scores {
			if base.GetClass(p, i) == "1" {
				res.Scores[i]++
			}
		}
	}
	pred := base.GeneratePredictionVector(tgrid)
	for i := range res.Scores {
		res.Scores[i] /= float64(len(forest))
		cls := "0"
		if res.Scores[i] > 0.5 {
			cls = "1"
		}
		base.SetClass(pred, i, cls)
	}
	cm, err := evaluation.GetConfusionMatrix(tgrid, pred)
	if err != nil {
		return nil, fmt.Errorf("baseline: golearn confusion matrix: %w", err)
	}
	res.Confusion = cm
	res.Summary = evaluation.GetSummary(cm)
	res.Accuracy = evaluation.GetAccuracy(cm)

	if opts.Folds >= 2 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		// golearn's k-fold helper on a single ID3 tree (its fold views are
		// index lists, not the row maps that break bagging).
		cms, err := evaluation.GenerateCrossFoldValidationConfusionMatrices(train, trees.NewID3DecisionTree(0), opts.Folds)
		if err != nil {
			return nil, fmt.Errorf("baseline: golearn cross-validation: %w", err)
		}
		res.CVAccuracy, res.CVAccuracyVar = evaluation.GetCrossValidatedMetric(cms, evaluation.GetAccuracy)
	}
	return res, nil
}

func attributes(features []models.Feature) ([]base.Attribute, *base.CategoricalAttribute) {
	attrs := make([]base.Attribute, len(features))
	for j, f := range features {
		if f.Kind == models.Categorical {
			a := base.NewCategoricalAttribute()
			a.SetName(f.Name)
			for _, l := range f.Levels {
				a.GetSysValFromString(l)
			}
			a.GetSysValFromString(missingLevel)
			attrs[j] = a
			continue
		}
		attrs[j] = base.NewFloatAttribute(f.Name)
	}
	class := base.NewCategoricalAttribute()
	class.SetName("class")
	class.GetSysValFromString("0")
	class.GetSysValFromString("1")
	return attrs, class
}

// grid copies the chosen rows into golearn's dense instances.
func grid(X *models.Matrix, y []float64, rows []int, attrs []base.Attribute, class *base.CategoricalAttribute) (*base.DenseInstances, error) {
	cols := make([]int, X.Cols)
	for j := range cols {
		cols[j] = j
	}
	return gridCols(X, y, rows, cols, attrs, class)
}

// gridCols copies the chosen rows and columns (attrs[k] describes column
// cols[k]) into golearn's dense instances.
func gridCols(X *models.Matrix, y []float64, rows, cols []int, attrs []base.Attribute, class *base.CategoricalAttribute) (*base.DenseInstances, error) {
	inst := base.NewDenseInstances()
	specs := make([]base.AttributeSpec, len(attrs))
	for j, a := range attrs {
		specs[j] = inst.AddAttribute(a)
	}
	cspec := inst.AddAttribute(class)
	if err := inst.AddClassAttribute(class); err != nil {
		return nil, fmt.Errorf("baseline: golearn class attribute: %w", err)
	}
	if err := inst.Extend(len(rows)); err != nil {
		return nil, fmt.Errorf("baseline: golearn extend: %w", err)
	}
	for k, r := range rows {
		for c, j := range cols {
			f := X.Features[j]
			v := X.At(r, j)
			if f.Kind == models.Categorical {
				l := missingLevel
				if !math.IsNaN(v) {
					l = f.Levels[int(v)]
				}
				inst.Set(specs[c], k, attrs[c].GetSysValFromString(l))
				continue
			}
			inst.Set(specs[c], k, base.PackFloatToBytes(v))
		}
		switch y[r] {
		case 0, 1:
			inst.Set(cspec, k, class.GetSysValFromString(strconv.Itoa(int(y[r]))))
		default:
			return nil, fmt.Errorf("baseline: label %v at row %d, want 0 or 1", y[r], r)
		}
	}
	return inst, nil
}
