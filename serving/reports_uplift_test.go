package serving

import (
	"context"
	"io"
	"math"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/engagehq/engage/datasets/synth"
	"github.com/engagehq/engage/features"
	"github.com/engagehq/engage/reports"
	"github.com/engagehq/engage/reports/scoring"
	"github.com/engagehq/engage/training"
)

// TestModelUpliftReport serves the model-uplift report from the store and the
// registry: "no uplift model" (a clear status, 200) while the registry holds
// only action-value models, then the figures of the uplift model trained on
// the same world once one is registered, equal to the report computed from
// the world's Parquet files.
func TestModelUpliftReport(t *testing.T) {
	e := newEnv(t, "", DefaultOptions())
	var r reports.ModelUpliftReport
	if c := e.do("GET", "/v1/reports/model-uplift", "a", nil, &r); c != http.StatusOK || r.Status != reports.StatusNoModel ||
		!strings.Contains(r.Message, "no uplift model") {
		t.Fatalf("before any uplift model: %d %s %q", c, r.Status, r.Message)
	}
	if code, body := dashboardPage(t, e, "/dashboard/model-uplift"); code != http.StatusOK || !strings.Contains(body, "no uplift model") {
		t.Errorf("dashboard without a model: %d", code)
	}

	ctx := context.Background()
	dir := t.TempDir()
	o := synth.DefaultOptions()
	o.Accounts, o.Days, o.Seed, o.Tenant = 600, 40, 5, "a"
	w, err := synth.New(o)
	if err != nil {
		t.Fatal(err)
	}
	world := filepath.Join(dir, "world")
	if err := w.WriteDir(ctx, world, nil); err != nil {
		t.Fatal(err)
	}
	table := filepath.Join(dir, "X.parquet")
	in := features.Inputs{Accounts: world + "/accounts.parquet", Events: world + "/events.parquet", Decisions: world + "/decisions.parquet"}
	if _, err := features.Build(ctx, in, table, features.DefaultOptions()); err != nil {
		t.Fatal(err)
	}
	to := training.DefaultOptions()
	to.Target, to.Family, to.Treatment, to.Control = "paid_7d", "logistic", "channel", "email"
	to.Exclude = features.ActionNames()
	rep, err := training.Run(ctx, table, e.reg, to)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.srv.Bootstrap(ctx, "a", world, nil); err != nil {
		t.Fatal(err)
	}

	r = reports.ModelUpliftReport{}
	if c := e.do("GET", "/v1/reports/model-uplift", "a", nil, &r); c != http.StatusOK {
		t.Fatalf("status %d", c)
	}
	src, err := reports.NewDirSource(world)
	if err != nil {
		t.Fatal(err)
	}
	ro := reports.DefaultOptions()
	ro.Uplift = (&scoring.Registry{Reg: e.reg}).Scorer
	b, err := reports.Load(ctx, src, ro)
	if err != nil {
		t.Fatal(err)
	}
	want := b.ModelUplift(reports.Filter{})
	t.Logf("served: %s %s qini %v on %d/%d decisions; from Parquet: qini %v", r.Status, r.Model, val(r.Qini), r.Treated, r.Controls, val(want.Qini))
	if r.Model != rep.Version.Name || r.Evaluation != reports.EvalOutOfSample || r.Status != want.Status ||
		r.Treated != want.Treated || r.Controls != want.Controls || math.Abs(val(r.Qini)-val(want.Qini)) > 1e-12 {
		t.Errorf("served %s %s/%s %d/%d qini %v; from Parquet %s %d/%d qini %v (%s)", r.Model, r.Status, r.Evaluation, r.Treated, r.Controls,
			val(r.Qini), want.Status, want.Treated, want.Controls, val(want.Qini), want.Message)
	}
	// Tenant b has no data: no decisions to evaluate, not an error.
	var rb reports.ModelUpliftReport
	if c := e.do("GET", "/v1/reports/model-uplift", "b", nil, &rb); c != http.StatusOK || rb.Status != reports.StatusNotEnoughData {
		t.Errorf("tenant b: %d %s %q", c, rb.Status, rb.Message)
	}
	if code, body := dashboardPage(t, e, "/dashboard/model-uplift"); code != http.StatusOK || !strings.Contains(body, "Qini coefficient") {
		t.Errorf("dashboard with a model: %d", code)
	}
}

func dashboardPage(t *testing.T, e *env, path string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", e.hs.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+e.keys["a"])
	res, err := e.hs.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func val(p *float64) float64 {
	if p == nil {
		return math.NaN()
	}
	return *p
}
