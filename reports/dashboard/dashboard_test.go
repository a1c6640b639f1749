package dashboard

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/engagehq/engage/datasets/synth"
	"github.com/engagehq/engage/features"
	"github.com/engagehq/engage/models/action"
	"github.com/engagehq/engage/repo"
	"github.com/engagehq/engage/reports"
	"github.com/engagehq/engage/reports/scoring"
	"github.com/engagehq/engage/training"
)

// world writes a small synthetic world (the demo's generator, scaled down),
// trains the demo's uplift model on it (the channel against email, on
// paid_7d, with training's time split) and returns a Books over it whose
// model-uplift report evaluates that model. ENGAGE_DASHBOARD_DATA names a
// folder of Parquet tables to use instead (e.g. the demo world), and
// ENGAGE_DASHBOARD_REGISTRY a registry holding its uplift model (else one
// is trained on it).
func world(t testing.TB) *reports.Books {
	t.Helper()
	shared.once.Do(func() { shared.dir, shared.reg, shared.err = buildWorld() })
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	src, err := reports.NewDirSource(shared.dir)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := action.Open(shared.reg)
	if err != nil {
		t.Fatal(err)
	}
	ro := reports.DefaultOptions()
	ro.Resamples, ro.WeeklyResamples = 500, 200
	ro.Uplift = (&scoring.Registry{Reg: reg}).Scorer
	return &reports.Books{Source: func(*http.Request) (reports.Source, error) { return src, nil }, Options: ro}
}

// shared is the world every test of the package reads, built once.
var shared struct {
	once     sync.Once
	dir, reg string
	err      error
}

func buildWorld() (dir, reg string, err error) {
	ctx := context.Background()
	tmp, err := os.MkdirTemp("", "engage-dashboard-")
	if err != nil {
		return "", "", err
	}
	cleanup = append(cleanup, tmp)
	dir, reg = os.Getenv("ENGAGE_DASHBOARD_DATA"), os.Getenv("ENGAGE_DASHBOARD_REGISTRY")
	if dir == "" {
		dir = filepath.Join(tmp, "world")
		o := synth.DefaultOptions()
		o.Accounts, o.Days, o.Seed = 3000, 60, 1
		w, err := synth.New(o)
		if err != nil {
			return "", "", fmt.Errorf("synth: %w", err)
		}
		if err := w.WriteDir(ctx, dir, nil); err != nil {
			return "", "", fmt.Errorf("synth: %w", err)
		}
	}
	if reg != "" {
		return dir, reg, nil
	}
	reg, table := filepath.Join(tmp, "models"), filepath.Join(tmp, "X.parquet")
	in := features.Inputs{Accounts: filepath.Join(dir, "accounts.parquet"), Events: filepath.Join(dir, "events.parquet"),
		Decisions: filepath.Join(dir, "decisions.parquet")}
	if _, err := features.Build(ctx, in, table, features.DefaultOptions()); err != nil {
		return "", "", err
	}
	r, err := action.Open(reg)
	if err != nil {
		return "", "", err
	}
	to := training.DefaultOptions()
	to.Target, to.Family, to.Treatment, to.Control = "paid_7d", "logistic", "channel", "email"
	to.Exclude = append([]string{"message", "local_hour"}, features.ActionNames()...)
	if _, err := training.Run(ctx, table, r, to); err != nil {
		return "", "", err
	}
	return dir, reg, nil
}

// cleanup lists the temporary folders TestMain removes.
var cleanup []string

// server mounts the dashboard and the JSON API as serving will (without
// auth).
func server(t testing.TB, books *reports.Books) *httptest.Server {
	mux := http.NewServeMux()
	d := &Handler{Books: books}
	mux.Handle("/dashboard", d)
	mux.Handle("/dashboard/", d)
	mux.Handle("/v1/reports/", &reports.Handler{Books: books})
	s := httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

func get(t testing.TB, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func TestPages(t *testing.T) {
	s := server(t, world(t))
	paths := []string{"/dashboard", "/dashboard/"}
	for _, p := range pages {
		paths = append(paths, "/dashboard/"+p.name, "/dashboard/"+p.name+"?jurisdiction=NZ&product=utility&channel=push&from=2026-01-12&to=2026-01-19")
	}
	for _, p := range paths {
		code, body := get(t, s.URL+p)
		if code != http.StatusOK {
			t.Errorf("%s: status %d", p, code)
			continue
		}
		for _, bad := range []string{"http://", "https://", "<script", "NaN", "Inf"} {
			if i := strings.Index(body, bad); i >= 0 && !strings.Contains(body[max(0, i-40):i], "xmlns=") {
				t.Errorf("%s: page contains %q: %s", p, bad, body[max(0, i-60):min(len(body), i+60)])
			}
		}
		if strings.Count(body, "<svg") == 0 && !strings.Contains(p, "?") && len(p) > len("/dashboard/") {
			t.Errorf("%s: no chart", p)
		}
	}
	if code, _ := get(t, s.URL+"/dashboard/nope"); code != http.StatusNotFound {
		t.Errorf("unknown page: status %d", code)
	}
	if code, body := get(t, s.URL+"/dashboard/uplift?from=tomorrow"); code != http.StatusBadRequest || !strings.Contains(body, "from") {
		t.Errorf("bad filter: status %d", code)
	}
	if code, body := get(t, s.URL+"/v1/reports/uplift?channel=pigeon"); code != http.StatusBadRequest || !strings.Contains(body, `"field":"channel"`) {
		t.Errorf("bad channel: %d %s", code, body)
	}
}

// TestCellsMatchJSON checks, without a browser, that every number on every
// page equals the JSON API's value at its pointer.
func TestCellsMatchJSON(t *testing.T) {
	s := server(t, world(t))
	for _, p := range pages {
		_, html := get(t, s.URL+"/dashboard/"+p.name)
		_, js := get(t, s.URL+"/v1/reports/"+p.name)
		var doc any
		if err := json.Unmarshal([]byte(js), &doc); err != nil {
			t.Fatalf("%s: %v", p.name, err)
		}
		cells := scrapeCells(html)
		if len(cells) == 0 {
			t.Errorf("%s: no numbers on the page", p.name)
		}
		for _, c := range cells {
			if err := checkCell(doc, c); err != nil {
				t.Errorf("%s: %v", p.name, err)
			}
		}
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	for _, d := range cleanup {
		os.RemoveAll(d)
	}
	os.Exit(code)
}

// artefacts returns the repo's bench/results/dashboard folder.
func artefacts(t testing.TB) string {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	root, err := repo.Root(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(root, "bench", "results", "dashboard")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	return out
}
