package training

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/engagehq/engage/datasets"
	"github.com/engagehq/engage/models"
	"github.com/engagehq/engage/models/action"
	"github.com/engagehq/engage/models/calibrate"
	"github.com/engagehq/engage/models/gbdt"
	"github.com/engagehq/engage/models/linear"
	"github.com/engagehq/engage/models/metrics"
	"github.com/engagehq/engage/models/registry"
	"github.com/engagehq/engage/models/uplift"
)

// MetaPriors is the table metadata key whose JSON is copied into the artifact
// (the features package writes its priors there).
const MetaPriors = "engage.priors"

// Importance is one feature's share of the model: gbdt split gain, or the
// absolute standardised coefficient of a logistic model (largest level for a
// categorical), normalised to sum to 1.
type Importance struct {
	Feature string  `json:"feature"`
	Value   float64 `json:"value"`
}

// Report is what a training run did and measured.
type Report struct {
	// Version is the registered version (zero when Fit was called directly).
	Version registry.Version
	// Artifact and Card are what was (or would be) registered.
	Artifact *registry.Artifact
	Card     registry.Card

	Rows, Dropped int // input rows; rows dropped for a missing target
	Split         Split
	Skipped       []string // context/action columns with no value
	Metrics       map[string]float64
	Calibration   metrics.Calibration
	Segment       string
	Segments      []metrics.SegmentScore
	Importance    []Importance
	// Qini and Uplift are the test-split curves of an uplift model.
	Qini, Uplift metrics.Curve
	FitTime      time.Duration
}

// Run reads the logged table at path, trains, and registers the model in reg.
func Run(ctx context.Context, path string, reg *registry.Registry, o Options) (Report, error) {
	if err := o.check(); err != nil {
		return Report{}, err
	}
	hash, err := HashFile(path)
	if err != nil {
		return Report{}, err
	}
	t, meta, err := ReadTable(ctx, path, o.Progress)
	if err != nil {
		return Report{}, err
	}
	rep, err := Fit(ctx, t, meta, hash, o)
	if err != nil {
		return rep, fmt.Errorf("train on %s: %w", path, err)
	}
	rep.Card.TrainingData = fmt.Sprintf("`%s`: %s", path, rep.Card.TrainingData)
	v, err := reg.Register(rep.Artifact, rep.Card)
	if err != nil {
		return rep, err
	}
	rep.Version = v
	if rep.Card, err = reg.Card(v.Name); err != nil {
		return rep, err
	}
	return rep, nil
}

// Fit trains on a table in memory and returns the artifact and card without
// registering them. meta is the table's metadata (priors), dataHash
// identifies the data in the artifact.
func Fit(ctx context.Context, t *datasets.Table, meta map[string]string, dataHash string, o Options) (Report, error) {
	var rep Report
	if err := o.check(); err != nil {
		return rep, err
	}
	if t == nil || t.Len() == 0 {
		return rep, badInput("the table is empty")
	}
	rep.Rows = t.Len()
	yc := t.Index(o.Target)
	if yc < 0 {
		return rep, badInput("target column %q is not in the table", o.Target)
	}
	if t.Columns[yc].Kind != datasets.KindNumeric {
		return rep, badInput("target column %q is %s, want numeric 0/1", o.Target, t.Columns[yc].Kind)
	}
	y := t.Floats[yc]
	var only []float64
	if o.OnlyWhere != "" {
		oc := t.Index(o.OnlyWhere)
		if oc < 0 || t.Floats[oc] == nil {
			return rep, badInput("only-where column %q is not a numeric column of the table", o.OnlyWhere)
		}
		only = t.Floats[oc]
		if !slices.Contains(o.Exclude, o.OnlyWhere) {
			o.Exclude = append(slices.Clip(o.Exclude), o.OnlyWhere)
		}
	}
	var rows []int
	for i, v := range y {
		if only != nil && only[i] != 1 {
			rep.Dropped++
			continue
		}
		switch {
		case math.IsNaN(v):
			rep.Dropped++
		case v == 0 || v == 1:
			rows = append(rows, i)
		default:
			return rep, badInput("target %q: row %d has value %v; a classifier needs 0 or 1 (NaN = censored)", o.Target, i, v)
		}
	}
	if len(rows) == 0 {
		return rep, badInput("target %q is missing on every row", o.Target)
	}
	if pos := countPos(y, rows); pos == 0 || pos == len(rows) {
		return rep, badInput("target %q is constant (%v on all %d rows): nothing to learn", o.Target, y[rows[0]], len(rows))
	}
	feats, skipped, err := selectFeatures(t, &o)
	if err != nil {
		return rep, err
	}
	rep.Skipped = skipped
	enc, err := NewEncoder(feats, t.Columns)
	if err != nil {
		return rep, err
	}
	rep.Split = splitRows(t, rows, o.TestFraction, o.ValidFraction, o.Seed)
	sp := &rep.Split
	if len(sp.Train) < 2 || len(sp.Valid) < 2 || len(sp.Test) < 2 {
		return rep, badInput("%d labelled rows are too few to split into train, validation and test", len(rows))
	}
	for name, part := range map[string][]int{"training": sp.Train, "validation": sp.Valid, "test": sp.Test} {
		if pos := countPos(y, part); pos == 0 || pos == len(part) {
			return rep, badInput("target %q is constant in the %s split (%d rows): need both classes in every split", o.Target, name, len(part))
		}
	}
	Xtr, err := enc.Matrix(t, sp.Train)
	if err != nil {
		return rep, err
	}
	Xva, err := enc.Matrix(t, sp.Valid)
	if err != nil {
		return rep, err
	}
	Xte, err := enc.Matrix(t, sp.Test)
	if err != nil {
		return rep, err
	}
	ytr, yva, yte := pick(y, sp.Train), pick(y, sp.Valid), pick(y, sp.Test)

	art := &registry.Artifact{
		Format: registry.ArtifactFormat, Features: feats, DataHash: dataHash, Seed: o.Seed,
		Target: o.Target, Created: time.Now().UTC(),
	}
	if p := meta[MetaPriors]; p != "" {
		if !json.Valid([]byte(p)) {
			return rep, badInput("table metadata %s is not valid JSON", MetaPriors)
		}
		art.Priors = json.RawMessage(p)
	}
	began := time.Now()
	if o.Treatment != "" {
		err = fitUplift(ctx, t, Xtr, Xva, Xte, ytr, yva, yte, art, &rep, &o)
	} else {
		err = fitClassifier(ctx, Xtr, Xva, Xte, ytr, yva, yte, art, &rep, &o)
	}
	if err != nil {
		return rep, err
	}
	rep.FitTime = time.Since(began)
	if sk, err := pickSegment(t, &o); err != nil {
		return rep, err
	} else if sk >= 0 && o.Treatment == "" {
		m, err := action.FromArtifact(art)
		if err != nil {
			return rep, err
		}
		scores, err := m.PredictBatch(Xte)
		if err != nil {
			return rep, err
		}
		rep.Segment = t.Columns[sk].Name
		if rep.Segments, err = metrics.SegmentAUC(scores, yte, segmentValues(t, sk, sp.Test)); err != nil {
			return rep, err
		}
	}
	rep.Metrics["rows_train"] = float64(len(sp.Train))
	rep.Metrics["rows_valid"] = float64(len(sp.Valid))
	rep.Metrics["rows_test"] = float64(len(sp.Test))
	rep.Metrics["rows_dropped"] = float64(rep.Dropped)
	rep.Metrics["base_rate_test"] = mean(yte)
	art.Metrics = rep.Metrics
	rep.Artifact = art
	rep.Card = card(&rep, &o)
	return rep, nil
}

func fitClassifier(ctx context.Context, Xtr, Xva, Xte *models.Matrix, ytr, yva, yte []float64, art *registry.Artifact, rep *Report, o *Options) error {
	var fam json.Marshaler
	var margins func(X *models.Matrix) ([]float64, error)
	switch o.Family {
	case "gbdt":
		go_ := o.GBDT
		go_.Seed = o.Seed
		bar := newBar(o.Progress, int64(go_.MaxIter), "fit gbdt", "rounds")
		go_.Progress = func(round int, _, _ float64) { _ = bar.Set(round) }
		m, err := gbdt.Fit(ctx, Xtr, ytr, Xva, yva, go_)
		_ = bar.Finish()
		if err != nil {
			return fmt.Errorf("fit gbdt: %w", err)
		}
		fam, margins = m, m.PredictMarginBatch
		rep.Importance = gbdtImportance(m)
		art.Family = action.FamilyGBDT
		defer func() { rep.Metrics["trees"] = float64(m.NumTrees()) }()
	case "logistic":
		m, err := linear.Fit(ctx, Xtr, ytr, o.Linear)
		if err != nil {
			return err
		}
		fam = m
		margins = func(X *models.Matrix) ([]float64, error) {
			p, err := m.PredictBatch(X)
			for i := range p {
				p[i] = action.Logit(p[i])
			}
			return p, err
		}
		rep.Importance = linearImportance(m)
		art.Family = action.FamilyLinear
	}
	zva, err := margins(Xva)
	if err != nil {
		return err
	}
	var cal calibrate.Calibrator
	switch o.Calibration {
	case "isotonic":
		cal, err = calibrate.FitIsotonic(clampInf(zva), yva, calibrate.DefaultOptions())
	case "platt":
		cal, err = calibrate.FitPlatt(clampInf(zva), yva, calibrate.DefaultOptions())
	}
	if err != nil {
		return fmt.Errorf("calibrate on the validation split: %w", err)
	}
	if art.Payload, err = action.EncodePayload(fam, cal); err != nil {
		return err
	}
	zte, err := margins(Xte)
	if err != nil {
		return err
	}
	raw, p := make([]float64, len(zte)), make([]float64, len(zte))
	for i, z := range zte {
		raw[i] = 1 / (1 + math.Exp(-z))
		p[i] = raw[i]
		if cal != nil {
			p[i] = cal.Calibrate(clamp1(z))
		}
	}
	m := map[string]float64{}
	if m["auc"], err = metrics.AUC(p, yte, nil); err != nil {
		return err
	}
	if m["auc_raw"], err = metrics.AUC(raw, yte, nil); err != nil {
		return err
	}
	if m["logloss"], err = metrics.LogLoss(p, yte, nil); err != nil {
		return err
	}
	if m["logloss_raw"], err = metrics.LogLoss(raw, yte, nil); err != nil {
		return err
	}
	if m["brier"], err = metrics.Brier(p, yte, nil); err != nil {
		return err
	}
	if rep.Calibration, err = metrics.CalibrationTable(p, yte, nil, 10, metrics.EqualWidth); err != nil {
		return err
	}
	m["ece"], m["mce"] = rep.Calibration.ECE, rep.Calibration.MCE
	if c, err := metrics.CalibrationTable(raw, yte, nil, 10, metrics.EqualWidth); err == nil {
		m["ece_raw"] = c.ECE
	}
	rep.Metrics = m
	return nil
}

// fitUplift fits a T- or X-learner of the treatment column's arms on the
// training and validation rows and evaluates Qini and AUUC on the test rows.
func fitUplift(ctx context.Context, t *datasets.Table, Xtr, Xva, Xte *models.Matrix, ytr, yva, yte []float64, art *registry.Artifact, rep *Report, o *Options) error {
	k := t.Index(o.Treatment)
	if k < 0 {
		return badInput("treatment column %q is not in the table", o.Treatment)
	}
	label := func(i int) string {
		if t.Strings[k] != nil {
			return t.Strings[k][i]
		}
		if t.Floats[k] != nil {
			return strconv.FormatFloat(t.Floats[k][i], 'g', -1, 64)
		}
		return ""
	}
	sp := rep.Split
	trainRows := append(slices.Clone(sp.Train), sp.Valid...)
	set := map[string]bool{}
	for _, i := range trainRows {
		set[label(i)] = true
	}
	if !set[o.Control] {
		return badInput("treatment column %q has no row with the control level %q in the training data", o.Treatment, o.Control)
	}
	arms := []string{o.Control}
	for l := range set {
		if l != o.Control && l != "" && l != "NaN" {
			arms = append(arms, l)
		}
	}
	slices.Sort(arms[1:])
	if len(arms) < 2 {
		return badInput("treatment column %q has only the control level", o.Treatment)
	}
	armOf := func(rows []int) []int {
		out := make([]int, len(rows))
		for r, i := range rows {
			out[r] = slices.Index(arms, label(i)) // -1: unknown arm, rejected by the learner
		}
		return out
	}
	X := concat(Xtr, Xva)
	y := append(slices.Clone(ytr), yva...)
	arm := armOf(trainRows)
	uo := uplift.Options{Arms: arms}
	switch o.Family {
	case "gbdt":
		g := o.GBDT
		g.Seed = o.Seed
		uo.Outcome = uplift.GBDTClassifier{Options: g}
	default:
		uo.Outcome = uplift.LinearClassifier{Options: o.Linear}
	}
	uo.Effect = uplift.LinearRegressor{Options: o.Linear}
	var m *uplift.Model
	var err error
	if o.UpliftMethod == "x" {
		m, err = uplift.FitX(ctx, X, arm, y, uo)
	} else {
		m, err = uplift.FitT(ctx, X, arm, y, uo)
	}
	if err != nil {
		return fmt.Errorf("fit uplift: %w", err)
	}
	if art.Payload, err = m.MarshalJSON(); err != nil {
		return err
	}
	art.Family = action.FamilyUplift
	eff, err := m.EffectsBatch(Xte)
	if err != nil {
		return err
	}
	testArm := armOf(sp.Test)
	met := map[string]float64{}
	for a := 1; a < len(arms); a++ {
		var ys, sc []float64
		var tr []bool
		for r, ar := range testArm {
			if ar == 0 || ar == a {
				ys, sc, tr = append(ys, yte[r]), append(sc, eff[a-1][r]), append(tr, ar == a)
			}
		}
		suffix := ""
		if len(arms) > 2 {
			suffix = "_" + arms[a]
		}
		q, err := metrics.QiniAUC(ys, sc, tr)
		if err != nil {
			return fmt.Errorf("qini on the test split: %w", err)
		}
		u, err := metrics.UpliftAUC(ys, sc, tr)
		if err != nil {
			return fmt.Errorf("auuc on the test split: %w", err)
		}
		met["qini"+suffix], met["auuc"+suffix] = q, u
		if v, err := metrics.UpliftAtK(ys, sc, tr, 0.3); err == nil {
			met["uplift_at_30"+suffix] = v
		}
		if a == 1 {
			rep.Qini, _ = metrics.QiniCurve(ys, sc, tr)
			rep.Uplift, _ = metrics.UpliftCurve(ys, sc, tr)
		}
	}
	rep.Metrics = met
	return nil
}

func concat(a, b *models.Matrix) *models.Matrix {
	return &models.Matrix{Rows: a.Rows + b.Rows, Cols: a.Cols, Features: a.Features, Data: append(slices.Clone(a.Data), b.Data...)}
}

func gbdtImportance(m *gbdt.Model) []Importance {
	imp := m.Importance()
	out := make([]Importance, len(imp))
	total := 0.0
	for _, v := range imp {
		total += v.Gain
	}
	for i, v := range imp {
		out[i] = Importance{Feature: v.Feature, Value: v.Gain / cmp.Or(total, 1)}
	}
	sortImportance(out)
	return out
}

func linearImportance(m *linear.Model) []Importance {
	out := make([]Importance, len(m.Features))
	if len(m.Coef) == 0 {
		return out
	}
	c := m.Coef[0]
	total := 0.0
	off := 1
	for j, f := range m.Features {
		w := 0.0
		switch f.Kind {
		case models.Categorical:
			for l := range f.Levels {
				w = max(w, math.Abs(c[off+l]))
			}
			off += len(f.Levels)
		default:
			w = math.Abs(c[off])
			off++
			if j < len(m.Missing) && m.Missing[j] {
				off++
			}
		}
		out[j] = Importance{Feature: f.Name, Value: w}
		total += w
	}
	for i := range out {
		out[i].Value /= cmp.Or(total, 1)
	}
	sortImportance(out)
	return out
}

func sortImportance(v []Importance) {
	slices.SortStableFunc(v, func(a, b Importance) int { return cmp.Compare(b.Value, a.Value) })
}

func countPos(y []float64, rows []int) int {
	n := 0
	for _, i := range rows {
		if y[i] == 1 {
			n++
		}
	}
	return n
}

func pick(y []float64, rows []int) []float64 {
	out := make([]float64, len(rows))
	for r, i := range rows {
		out[r] = y[i]
	}
	return out
}

func mean(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

// clamp1 keeps a margin finite for the calibrators (a linear model's
// probability of exactly 0 or 1 has an infinite logit).
func clamp1(z float64) float64 { return max(min(z, 700), -700) }

func clampInf(z []float64) []float64 {
	for i := range z {
		z[i] = clamp1(z[i])
	}
	return z
}
