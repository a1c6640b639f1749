package scoring

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/engagehq/engage/datasets"
	"github.com/engagehq/engage/datasets/synth"
	"github.com/engagehq/engage/features"
	"github.com/engagehq/engage/models/action"
	"github.com/engagehq/engage/models/metrics"
	"github.com/engagehq/engage/models/registry"
	"github.com/engagehq/engage/models/uplift"
	"github.com/engagehq/engage/reports"
	"github.com/engagehq/engage/training"
)

// ActionDependent are the feature columns that describe the logged action
// itself; an uplift model of an action part must not see them.
var ActionDependent = features.ActionNames()

// demo is a small synthetic world with its logged-decisions table and a
// registry holding a classifier (promoted) and a channel uplift model, built
// once for the package's tests.
type demo struct {
	dir, table string
	reg        *registry.Registry
	up         registry.Version
	rep        training.Report
}

var (
	demoOnce sync.Once
	demoVal  *demo
	demoErr  error
)

// TestMain owns the folder of the shared world, which outlives any one test.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "engage-scoring-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	demoDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var demoDir string

func world(t *testing.T) *demo {
	t.Helper()
	demoOnce.Do(func() { demoVal, demoErr = build(demoDir) })
	if demoErr != nil {
		t.Fatal(demoErr)
	}
	return demoVal
}

func build(dir string) (*demo, error) {
	ctx := context.Background()
	d := &demo{dir: filepath.Join(dir, "world"), table: filepath.Join(dir, "X.parquet")}
	o := synth.DefaultOptions()
	o.Accounts, o.Days, o.Seed = 1500, 45, 3
	w, err := synth.New(o)
	if err != nil {
		return nil, err
	}
	if err := w.WriteDir(ctx, d.dir, nil); err != nil {
		return nil, err
	}
	in := features.Inputs{Accounts: filepath.Join(d.dir, "accounts.parquet"), Events: filepath.Join(d.dir, "events.parquet"),
		Decisions: filepath.Join(d.dir, "decisions.parquet")}
	if _, err := features.Build(ctx, in, d.table, features.DefaultOptions()); err != nil {
		return nil, err
	}
	if d.reg, err = action.Open(filepath.Join(dir, "models")); err != nil {
		return nil, err
	}
	to := training.DefaultOptions()
	to.Target, to.Family = "engaged_48h", "logistic"
	if _, err := training.Run(ctx, d.table, d.reg, to); err != nil {
		return nil, err
	}
	if err := d.reg.Promote("v0001"); err != nil {
		return nil, err
	}
	to.Target, to.Treatment, to.Control = "paid_7d", "channel", "email"
	to.Exclude = ActionDependent
	if d.rep, err = training.Run(ctx, d.table, d.reg, to); err != nil {
		return nil, err
	}
	d.up = d.rep.Version
	return d, nil
}

// TestScoresMatchTrainingTable checks the scorer against the independent
// path: the Parquet table the batch driver wrote, encoded by training. Every
// decision must get the same effects, arm and outcome.
func TestScoresMatchTrainingTable(t *testing.T) {
	d := world(t)
	m, err := Load(d.reg, "")
	if err != nil {
		t.Fatal(err)
	}
	desc := m.Desc()
	if desc.Name != d.up.Name || desc.Treatment != "channel" || desc.Outcome != "paid_7d" || desc.Arms[0] != "email" ||
		!desc.FittedThrough.Equal(time.UnixMicro(d.rep.Split.TestFrom)) {
		t.Fatalf("desc %+v; want %s, channel vs email on paid_7d, fitted through %s", desc, d.up.Name, time.UnixMicro(d.rep.Split.TestFrom).UTC())
	}
	tab, _, err := training.ReadTable(context.Background(), d.table, nil)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := training.NewEncoder(d.rep.Artifact.Features, tab.Columns)
	if err != nil {
		t.Fatal(err)
	}
	X, err := enc.Matrix(tab, nil)
	if err != nil {
		t.Fatal(err)
	}
	up, err := uplift.Load(d.rep.Artifact.Payload, nil)
	if err != nil {
		t.Fatal(err)
	}
	want, err := up.EffectsBatch(X)
	if err != nil {
		t.Fatal(err)
	}
	ids, chans, ys := tab.Strings[tab.Index("decision_id")], tab.Strings[tab.Index("channel")], tab.Floats[tab.Index("paid_7d")]
	row := map[string]int{}
	for i, id := range ids {
		row[id] = i
	}
	src, err := reports.NewDirSource(d.dir)
	if err != nil {
		t.Fatal(err)
	}
	n, worst := 0, 0.0
	all := func(*datasets.Decision) bool { return true }
	err = m.ScoreDecisions(context.Background(), src, all, func(dec *datasets.Decision, arm int, y float64, eff []float64) error {
		i, ok := row[dec.DecisionID]
		if !ok {
			t.Errorf("decision %s is not in the table", dec.DecisionID)
			return nil
		}
		n++
		if wantArm := slices.Index(desc.Arms, chans[i]); arm != wantArm {
			t.Errorf("%s: arm %d, want %d (%s)", dec.DecisionID, arm, wantArm, chans[i])
		}
		if !(y == ys[i] || math.IsNaN(y) && math.IsNaN(ys[i])) {
			t.Errorf("%s: outcome %v, table %v", dec.DecisionID, y, ys[i])
		}
		if (eff == nil) != (arm < 0) {
			t.Errorf("%s: arm %d with effects %v", dec.DecisionID, arm, eff)
		}
		for a := range eff {
			worst = max(worst, math.Abs(eff[a]-want[a][i]))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != tab.Len() {
		t.Errorf("scored %d decisions, the table has %d", n, tab.Len())
	}
	if worst > 1e-12 {
		t.Errorf("effects differ from the training table's by up to %g", worst)
	}
	t.Logf("%d decisions scored; largest effect difference %g", n, worst)
}

// TestReportFromRegistry runs the model-uplift report as serving does and
// checks its Qini against metrics.QiniAUC on the training table's test rows
// (decided after the cut-off), which is what "out of sample" promises.
func TestReportFromRegistry(t *testing.T) {
	d := world(t)
	src, err := reports.NewDirSource(d.dir)
	if err != nil {
		t.Fatal(err)
	}
	o := reports.DefaultOptions()
	o.Uplift = (&Registry{Reg: d.reg}).Scorer
	b, err := reports.Load(context.Background(), src, o)
	if err != nil {
		t.Fatal(err)
	}
	r := b.ModelUplift(reports.Filter{})
	t.Logf("status %s: %s; %s qini %v auuc %v on %d/%d decisions (%d in training, %d censored)", r.Status, r.Message, r.Arm,
		deref(r.Qini), deref(r.AUUC), r.Treated, r.Controls, r.InTraining, r.Censored)
	if r.Status != reports.StatusOK || r.Evaluation != reports.EvalOutOfSample || r.Model != d.up.Name || r.Arm != "call" {
		t.Fatalf("report %s/%s model %s arm %s: %s", r.Status, r.Evaluation, r.Model, r.Arm, r.Message)
	}
	tab, _, err := training.ReadTable(context.Background(), d.table, nil)
	if err != nil {
		t.Fatal(err)
	}
	enc, _ := training.NewEncoder(d.rep.Artifact.Features, tab.Columns)
	X, _ := enc.Matrix(tab, nil)
	up, _ := uplift.Load(d.rep.Artifact.Payload, nil)
	eff, err := up.EffectsBatch(X)
	if err != nil {
		t.Fatal(err)
	}
	first, last := b.Span()
	at, chans, ys := tab.Times[tab.Index("decided_at")], tab.Strings[tab.Index("channel")], tab.Floats[tab.Index("paid_7d")]
	var y, score []float64
	var treated []bool
	inTraining := 0
	for i := range at {
		if at[i] < first.UnixMicro() || at[i] > last.UnixMicro() || math.IsNaN(ys[i]) || (chans[i] != "email" && chans[i] != "call") {
			continue
		}
		if at[i] <= d.rep.Split.TestFrom {
			inTraining++
			continue
		}
		y, score, treated = append(y, ys[i]), append(score, eff[0][i]), append(treated, chans[i] == "call")
	}
	q, err := metrics.QiniAUC(y, score, treated)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := metrics.UpliftAUC(y, score, treated)
	if math.Abs(deref(r.Qini)-q) > 1e-9 || math.Abs(deref(r.AUUC)-u) > 1e-9 || r.Treated+r.Controls != len(y) {
		t.Errorf("report qini %v auuc %v on %d decisions; the table's test rows give %v, %v on %d", deref(r.Qini), deref(r.AUUC),
			r.Treated+r.Controls, q, u, len(y))
	}
	// The card's test-split figures are on the same rows up to ties at the
	// cut-off instant and the arms' mix (the card ranks every arm's rows).
	t.Logf("card: qini_call %.4f; report %.4f", d.rep.Metrics["qini_call"], deref(r.Qini))

	// The dashboard handler path: Books with the registry scorer.
	books := &reports.Books{Source: func(*http.Request) (reports.Source, error) { return src, nil }, Options: o}
	req, _ := http.NewRequest(http.MethodGet, "/v1/reports/model-uplift", nil)
	rep, _, err := books.Report(req, "model-uplift", reports.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if got := rep.(*reports.ModelUpliftReport); deref(got.Qini) != deref(r.Qini) {
		t.Errorf("through Books: qini %v, want %v", deref(got.Qini), deref(r.Qini))
	}
}

func TestNoUpliftModel(t *testing.T) {
	d := world(t)
	empty, err := action.Open(filepath.Join(t.TempDir(), "empty"))
	if err != nil {
		t.Fatal(err)
	}
	only, err := action.Open(filepath.Join(t.TempDir(), "classifier"))
	if err != nil {
		t.Fatal(err)
	}
	to := training.DefaultOptions()
	to.Target, to.Family = "engaged_48h", "logistic"
	if _, err := training.Run(context.Background(), d.table, only, to); err != nil {
		t.Fatal(err)
	}
	for name, reg := range map[string]*registry.Registry{"empty": empty, "classifier only": only} {
		sc, err := (&Registry{Reg: reg}).Scorer()
		if sc != nil || err != nil {
			t.Errorf("%s: scorer %v, err %v; want none", name, sc, err)
		}
		o := reports.DefaultOptions()
		o.Uplift = (&Registry{Reg: reg}).Scorer
		src, _ := reports.NewDirSource(d.dir)
		b, err := reports.Load(context.Background(), src, o)
		if err != nil {
			t.Fatal(err)
		}
		if r := b.ModelUplift(reports.Filter{}); r.Status != reports.StatusNoModel || !strings.Contains(r.Message, "no uplift model") {
			t.Errorf("%s: %s %q", name, r.Status, r.Message)
		}
	}
	if sc, err := (*Registry)(nil).Scorer(); sc != nil || err != nil {
		t.Errorf("nil registry: %v %v", sc, err)
	}
	// Pinning a classifier is an error that says so.
	if _, err := (&Registry{Reg: d.reg, Version: "v0001"}).Scorer(); err == nil || !strings.Contains(err.Error(), "not an uplift model") {
		t.Errorf("classifier pinned: %v", err)
	}
	if _, err := Load(d.reg, "v0099"); err == nil {
		t.Error("missing version loaded")
	}
}

func deref(p *float64) float64 {
	if p == nil {
		return math.NaN()
	}
	return *p
}
