package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/engagehq/engage/models"
	"github.com/engagehq/engage/models/linear"
)

func fitLinear(t testing.TB, n, p int) (*linear.Model, *models.Matrix) {
	rng := rand.New(rand.NewPCG(3, 3))
	feats := make([]models.Feature, p)
	for j := range feats {
		feats[j] = models.Feature{Name: fmt.Sprintf("f%02d", j)}
	}
	feats[p-1] = models.Feature{Name: "region", Kind: models.Categorical, Levels: []string{"north", "south", "east"}}
	X := models.NewMatrix(n, feats)
	y := make([]float64, n)
	for i := 0; i < n; i++ {
		z := 0.0
		for j := 0; j < p-1; j++ {
			v := rng.NormFloat64()
			if rng.IntN(20) == 0 {
				v = math.NaN()
			} else {
				z += v * 0.3
			}
			X.Set(i, j, v)
		}
		X.Set(i, p-1, float64(rng.IntN(3)))
		if rng.Float64() < 1/(1+math.Exp(-z)) {
			y[i] = 1
		}
	}
	m, err := linear.Fit(context.Background(), X, y, linear.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	return m, X
}

func artifactOf(t testing.TB, m *linear.Model, target string) *Artifact {
	payload, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return &Artifact{
		Format: ArtifactFormat, Family: "linear", Payload: payload, Features: m.Features,
		Priors: json.RawMessage(`{"region":{"north":0.1}}`), DataHash: "sha256:abc", Seed: 42,
		Target: target, Metrics: map[string]float64{"auc": 0.71, "logloss": 0.6},
		Created: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC),
	}
}

func linearDecoder(p json.RawMessage) (any, error) { return linear.Load(p) }

func open(t testing.TB) *Registry {
	r, err := Open(t.TempDir(), Options{Decoders: map[string]Decoder{"linear": linearDecoder}})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRegisterLoadPredictsIdentically(t *testing.T) {
	m, X := fitLinear(t, 2000, 8)
	r := open(t)
	v, err := r.Register(artifactOf(t, m, "payment_30d"), Card{Summary: "test model", Limitations: []string{"synthetic"}})
	if err != nil {
		t.Fatal(err)
	}
	if v.Name != "v0001" || v.Number != 1 || !strings.HasPrefix(v.Hash, "sha256:") {
		t.Fatalf("version %+v", v)
	}
	l, err := r.Load("v0001")
	if err != nil {
		t.Fatal(err)
	}
	got := l.Model.(*linear.Model)
	for i := 0; i < X.Rows; i++ {
		p1, _ := m.PredictProba(X.Row(i))
		p2, err := got.PredictProba(X.Row(i))
		if err != nil || math.Float64bits(p1) != math.Float64bits(p2) {
			t.Fatalf("row %d: %v before, %v after (%v)", i, p1, p2, err)
		}
	}
	if string(l.Artifact.Priors) != `{"region":{"north":0.1}}` || l.Artifact.Seed != 42 || l.Version.Hash != v.Hash {
		t.Errorf("artifact fields lost: %+v", l.Artifact)
	}
	card, err := r.Card("v0001")
	if err != nil {
		t.Fatal(err)
	}
	if card.Version != "v0001" || card.Family != "linear" || card.Metrics["auc"] != 0.71 || len(card.Features) != 8 {
		t.Errorf("card %+v", card)
	}
	md, err := os.ReadFile(filepath.Join(r.Dir(), "v0001", "card.md"))
	if err != nil || !strings.Contains(string(md), "| auc | 0.71 |") || !strings.Contains(string(md), "- synthetic") {
		t.Errorf("card.md:\n%s (%v)", md, err)
	}
}

func TestVersionsAndPromotion(t *testing.T) {
	m, _ := fitLinear(t, 500, 4)
	r := open(t)
	if _, err := r.Promoted(); !errors.Is(err, ErrEmpty) {
		t.Fatalf("empty registry: %v", err)
	}
	for i := 1; i <= 3; i++ {
		v, err := r.Register(artifactOf(t, m, "t"+strconv.Itoa(i)), Card{})
		if err != nil {
			t.Fatal(err)
		}
		if v.Number != i {
			t.Fatalf("version %d, want %d", v.Number, i)
		}
	}
	list, err := r.List()
	if err != nil || len(list) != 3 || list[0].Name != "v0001" || list[2].Target != "t3" {
		t.Fatalf("list %+v %v", list, err)
	}
	steps := []struct {
		op   string
		arg  string
		want string // promoted afterwards
		err  error
	}{
		{"promoted", "", "v0003", nil}, // nothing promoted: latest
		{"rollback", "", "v0003", ErrNothingToRollBack},
		{"promote", "v0001", "v0001", nil},
		{"promote", "v0002", "v0002", nil},
		{"promote", "v0003", "v0003", nil},
		{"rollback", "", "v0002", nil},
		{"rollback", "", "v0001", nil},
		{"rollback", "", "v0001", ErrNothingToRollBack},
		{"promote", "v0009", "v0001", ErrNotFound},
		{"promote", "v0003", "v0003", nil},
	}
	for i, s := range steps {
		var err error
		switch s.op {
		case "promote":
			err = r.Promote(s.arg)
		case "rollback":
			_, err = r.Rollback()
		}
		if (s.err == nil) != (err == nil) || (s.err != nil && !errors.Is(err, s.err)) {
			t.Fatalf("step %d %s %s: err %v, want %v", i, s.op, s.arg, err, s.err)
		}
		p, err := r.Promoted()
		if err != nil || p.Name != s.want {
			t.Fatalf("step %d %s %s: promoted %s (%v), want %s", i, s.op, s.arg, p.Name, err, s.want)
		}
	}
	h, err := r.History()
	if err != nil || len(h) != 6 || h[3].Action != "rollback" || h[3].From != "v0003" || h[3].To != "v0002" {
		t.Errorf("history %+v %v", h, err)
	}
}

func TestTamperAndBadNames(t *testing.T) {
	m, _ := fitLinear(t, 300, 3)
	r := open(t)
	if _, err := r.Register(artifactOf(t, m, "t"), Card{}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"", "v1", "../v0001", "v0001/..", "x0001", "v0000"} {
		if _, err := r.Load(name); err == nil {
			t.Errorf("Load(%q) succeeded", name)
		}
	}
	if _, err := r.Get("v0002"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(v0002): %v", err)
	}
	path := filepath.Join(r.Dir(), "v0001", "model.json")
	b, _ := os.ReadFile(path)
	if err := os.WriteFile(path, []byte(strings.Replace(string(b), `"seed":42`, `"seed":43`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Load("v0001"); err == nil || !strings.Contains(err.Error(), "hash") {
		t.Errorf("tampered model loaded: %v", err)
	}
	r2, _ := Open(r.Dir(), DefaultOptions())
	if _, err := r2.Register(artifactOf(t, m, "t"), Card{}); err != nil {
		t.Fatal(err)
	}
	if _, err := r2.Load("v0002"); err == nil || !strings.Contains(err.Error(), "no decoder") {
		t.Errorf("load without decoder: %v", err)
	}
	bad := artifactOf(t, m, "")
	if _, err := r.Register(bad, Card{}); err == nil {
		t.Error("registered an artifact without a target")
	}
}

func TestConcurrentRegisterAndPromote(t *testing.T) {
	m, _ := fitLinear(t, 300, 3)
	r := open(t)
	var wg sync.WaitGroup
	names := make([]string, 16)
	errs := make([]error, 16)
	for i := range names {
		wg.Go(func() {
			v, err := r.Register(artifactOf(t, m, "t"), Card{})
			names[i], errs[i] = v.Name, err
			if err == nil {
				errs[i] = r.Promote(v.Name)
			}
		})
	}
	wg.Wait()
	seen := map[string]bool{}
	for i, n := range names {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if seen[n] {
			t.Fatalf("version %s handed out twice", n)
		}
		seen[n] = true
	}
	h, err := r.History()
	if err != nil || len(h) != 16 {
		t.Fatalf("history has %d events (%v), want 16", len(h), err)
	}
	leftovers, _ := filepath.Glob(filepath.Join(r.Dir(), ".*tmp-*")) // version folders and the history's temporary file
	if len(leftovers) != 0 {
		t.Errorf("temporary files left behind: %v", leftovers)
	}
}

// TestTwoProcessesPromoting runs two copies of the test binary that promote in
// a tight loop against the same directory; the history must stay valid JSON
// with every event present.
func TestTwoProcessesPromoting(t *testing.T) {
	if dir := os.Getenv("ENGAGE_REGISTRY_HELPER_DIR"); dir != "" {
		r, err := Open(dir, DefaultOptions())
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 40; i++ {
			v := "v0001"
			if i%2 == 1 {
				v = "v0002"
			}
			if err := r.Promote(v); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	m, _ := fitLinear(t, 300, 3)
	r := open(t)
	for range 2 {
		if _, err := r.Register(artifactOf(t, m, "t"), Card{}); err != nil {
			t.Fatal(err)
		}
	}
	var cmds []*exec.Cmd
	for range 2 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestTwoProcessesPromoting$")
		cmd.Env = append(os.Environ(), "ENGAGE_REGISTRY_HELPER_DIR="+r.Dir())
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	for _, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Fatalf("helper process: %v", err)
		}
	}
	h, err := r.History()
	if err != nil || len(h) != 80 {
		t.Fatalf("history has %d events (%v), want 80", len(h), err)
	}
}

func BenchmarkLoad(b *testing.B) {
	m, _ := fitLinear(b, 2000, 40)
	r := open(b)
	if _, err := r.Register(artifactOf(b, m, "t"), Card{}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Load("v0001"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoadLargePayload loads a 2 MB family payload (about a 500-tree
// boosted model) through a decoder that parses it, to bound Load for big
// artifacts.
func BenchmarkLoadLargePayload(b *testing.B) {
	m, _ := fitLinear(b, 300, 3)
	a := artifactOf(b, m, "t")
	a.Family = "blob"
	vals := make([]float64, 250000)
	for i := range vals {
		vals[i] = float64(i) * 1.000001
	}
	a.Payload, _ = json.Marshal(map[string][]float64{"v": vals})
	r := open(b)
	r.RegisterFamily("blob", func(p json.RawMessage) (any, error) {
		var v map[string][]float64
		err := json.Unmarshal(p, &v)
		return v, err
	})
	if _, err := r.Register(a, Card{}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Load("v0001"); err != nil {
			b.Fatal(err)
		}
	}
}
