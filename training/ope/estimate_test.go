package ope

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/engagehq/engage/datasets"
)

var envSlow = os.Getenv("ENGAGE_SLOW") == "1"

func TestDiagnosticsByHand(t *testing.T) {
	tests := []struct {
		name       string
		w          []float64
		ess, maxW  float64
		zero, mean float64
		clipped    int
	}{
		{"mixed", []float64{1, 2, 3, 0}, 36.0 / 14, 3, 0.25, 1.5, 1},
		{"uniform", []float64{1, 1, 1, 1}, 4, 1, 0, 1, 0},
		{"one heavy", []float64{10, 0, 0, 0, 0}, 1, 10, 0.8, 2, 1},
		{"all zero", []float64{0, 0}, 0, 0, 1, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := make([]Sample, len(tc.w))
			for i, w := range tc.w {
				s[i] = Sample{W: w, R: float64(i % 2)}
			}
			o := DefaultOptions()
			o.Clip = 2.5
			rep, err := EstimateSamples(s, false, o)
			if err != nil {
				t.Fatal(err)
			}
			d := rep.Diagnostics
			if math.Abs(d.ESS-tc.ess) > 1e-12 || d.MaxWeight != tc.maxW || math.Abs(d.ZeroShare-tc.zero) > 1e-12 ||
				math.Abs(d.MeanWeight-tc.mean) > 1e-12 || d.Clipped != tc.clipped || d.N != len(tc.w) {
				t.Errorf("diagnostics %+v, want ESS %g max %g zero %g mean %g clipped %d", d, tc.ess, tc.maxW, tc.zero, tc.mean, tc.clipped)
			}
		})
	}
}

func TestEstimatesByHand(t *testing.T) {
	s := []Sample{
		{W: 2, R: 1, DM: 0.5, Q: 0.4},
		{W: 0, R: 0, DM: 0.3, Q: 0.2},
		{W: 1, R: 0, DM: 0.6, Q: 0.7},
	}
	o := DefaultOptions()
	o.Clip = 1.5
	rep, err := EstimateSamples(s, true, o)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{
		IPS:     (2*1 + 0 + 0) / 3.0,
		SNIPS:   2.0 / 3,
		DM:      (0.5 + 0.3 + 0.6) / 3,
		DR:      ((0.5 + 2*(1-0.4)) + 0.3 + (0.6 + 1*(0-0.7))) / 3,
		IPSClip: 1.5 / 3,
		DRClip:  ((0.5 + 1.5*(1-0.4)) + 0.3 + (0.6 + 1*(0-0.7))) / 3,
	}
	if len(rep.Estimates) != len(want) {
		t.Fatalf("%d estimates, want %d", len(rep.Estimates), len(want))
	}
	for name, v := range want {
		e, ok := rep.Get(name)
		if !ok || math.Abs(e.Value-v) > 1e-12 {
			t.Errorf("%s = %v (ok %v), want %v", name, e.Value, ok, v)
		}
		if !(e.CI.Lo <= e.Value && e.Value <= e.CI.Hi) || math.IsNaN(e.SE) {
			t.Errorf("%s: interval %v around %v", name, e.CI, e.Value)
		}
	}
	// IPS standard error: sd of (2, 0, 0) / sqrt(3).
	e, _ := rep.Get(IPS)
	sd := math.Sqrt(((2-2.0/3)*(2-2.0/3) + 2*(2.0/3)*(2.0/3)) / 2)
	if math.Abs(e.SE-sd/math.Sqrt(3)) > 1e-12 {
		t.Errorf("IPS SE %v, want %v", e.SE, sd/math.Sqrt(3))
	}
	// Without a reward model, DM and DR are not reported.
	rep, _ = EstimateSamples(s, false, DefaultOptions())
	if _, ok := rep.Get(DR); ok {
		t.Error("DR reported without a reward model")
	}
}

func TestEstimateRejects(t *testing.T) {
	tests := []struct {
		name string
		s    []Sample
		o    func(*Options)
		want string
	}{
		{"empty", nil, nil, "no logged rows"},
		{"nan reward", []Sample{{W: 1, R: math.NaN()}}, nil, "reward"},
		{"negative weight", []Sample{{W: -1, R: 1}}, nil, "weight"},
		{"inf weight", []Sample{{W: math.Inf(1), R: 1}}, nil, "weight"},
		{"nan model", []Sample{{W: 1, R: 1, DM: math.NaN()}}, nil, "reward model"},
		{"bad level", []Sample{{W: 1, R: 1}}, func(o *Options) { o.Level = 1 }, "confidence level"},
		{"bad clip", []Sample{{W: 1, R: 1}}, func(o *Options) { o.Clip = -1 }, "clip"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := DefaultOptions()
			if tc.o != nil {
				tc.o(&o)
			}
			_, err := EstimateSamples(tc.s, true, o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

// logTable builds a small logged table; each row is (channel, hour, p, reward).
func logTable(rows [][4]any) *datasets.Table {
	cols := []datasets.Column{
		{Name: "id", Role: datasets.RoleID, Kind: datasets.KindCategorical},
		{Name: "x", Role: datasets.RoleContext, Kind: datasets.KindNumeric},
		{Name: "channel", Role: datasets.RoleAction, Kind: datasets.KindCategorical, Levels: []string{"sms", "email", "call"}},
		{Name: "local_hour", Role: datasets.RoleAction, Kind: datasets.KindNumeric},
		{Name: "propensity", Role: datasets.RolePropensity, Kind: datasets.KindNumeric},
		{Name: "paid_7d", Role: datasets.RoleOutcome, Kind: datasets.KindNumeric},
	}
	t := datasets.NewTable(cols, len(rows))
	for i, r := range rows {
		t.AppendString(0, "r"+string(rune('a'+i)))
		t.AppendFloat(1, float64(i))
		t.AppendString(2, r[0].(string))
		t.AppendFloat(3, r[1].(float64))
		t.AppendFloat(4, r[2].(float64))
		t.AppendFloat(5, r[3].(float64))
	}
	return t
}

func TestNewLog(t *testing.T) {
	nan := math.NaN()
	good := [][4]any{{"email", 9.0, 0.5, 1.0}, {"call", 18.0, 0.25, 0.0}, {"email", 18.0, 0.1, nan}}
	l, err := NewLog(logTable(good), LogOptions{Reward: "paid_7d"})
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Rows) != 2 || l.Censored != 1 || l.Invalid != 0 {
		t.Fatalf("rows %d censored %d invalid %d", len(l.Rows), l.Censored, l.Invalid)
	}
	// Levels: declared order among those seen (sms never logged: no candidate).
	if got := l.Space.Parts[0].Levels; len(got) != 2 || got[0] != "email" || got[1] != "call" {
		t.Errorf("channel levels %v", got)
	}
	if got := l.Space.Parts[1].Values; len(got) != 2 || got[0] != 9 || got[1] != 18 {
		t.Errorf("hours %v", got)
	}
	if got := l.Space.Format(l.Rows[1].Action); got != "channel=call local_hour=18" {
		t.Errorf("second row action %q", got)
	}

	bad := []struct {
		name string
		rows [][4]any
		o    LogOptions
		want string
	}{
		{"zero propensity", [][4]any{{"email", 9.0, 0.0, 1.0}}, LogOptions{Reward: "paid_7d"}, "outside (0,1]"},
		{"propensity above 1", [][4]any{{"email", 9.0, 1.5, 1.0}}, LogOptions{Reward: "paid_7d"}, "outside (0,1]"},
		{"missing propensity", [][4]any{{"email", 9.0, nan, 1.0}}, LogOptions{Reward: "paid_7d"}, "propensity is missing"},
		{"missing channel", [][4]any{{"", 9.0, 0.5, 1.0}}, LogOptions{Reward: "paid_7d"}, "channel"},
		{"all censored", [][4]any{{"email", 9.0, 0.5, nan}}, LogOptions{Reward: "paid_7d"}, "1 censored"},
		{"empty", nil, LogOptions{Reward: "paid_7d"}, "no logged rows"},
		{"no reward", good, LogOptions{}, "no reward column"},
		{"unknown reward", good, LogOptions{Reward: "paid_9d"}, "not found"},
		{"categorical reward", good, LogOptions{Reward: "channel"}, "want numeric"},
		{"all invalid skipped", [][4]any{{"email", 9.0, 0.0, 1.0}}, LogOptions{Reward: "paid_7d", SkipInvalid: true}, "1 invalid"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewLog(logTable(tc.rows), tc.o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
	mixed := append([][4]any{{"email", 9.0, 0.0, 1.0}, {"call", 9.0, 2.0, 1.0}}, good...)
	l, err = NewLog(logTable(mixed), LogOptions{Reward: "paid_7d", SkipInvalid: true})
	if err != nil || l.Invalid != 2 || len(l.Rows) != 2 || l.Rows[0].I != 2 {
		t.Errorf("skip invalid: %v, %+v", err, l)
	}
}

func TestEvaluateRejectsBadPolicy(t *testing.T) {
	rows := []Row{{I: 0, Action: 0, Propensity: 0.5, Reward: 1}, {I: 1, Action: 1, Propensity: 0.5, Reward: 0}}
	tests := []struct {
		name string
		rows []Row
		pol  Policy
		want string
	}{
		{"sum not 1", rows, policyFunc(func(_ Row, d []ActionProb) ([]ActionProb, error) {
			return append(d[:0], ActionProb{0, 0.5}), nil
		}), "sum to"},
		{"negative", rows, policyFunc(func(_ Row, d []ActionProb) ([]ActionProb, error) {
			return append(d[:0], ActionProb{0, -0.5}, ActionProb{1, 1.5}), nil
		}), "must be in [0,1]"},
		{"policy error", rows, policyFunc(func(_ Row, d []ActionProb) ([]ActionProb, error) {
			return d, ErrNoCandidate
		}), "no allowed candidate"},
		{"zero propensity row", []Row{{Propensity: 0, Reward: 1}}, policyFunc(func(_ Row, d []ActionProb) ([]ActionProb, error) {
			return append(d[:0], ActionProb{0, 1}), nil
		}), "propensity"},
		{"nan reward row", []Row{{Propensity: 1, Reward: math.NaN()}}, policyFunc(func(_ Row, d []ActionProb) ([]ActionProb, error) {
			return append(d[:0], ActionProb{0, 1}), nil
		}), "reward"},
		{"no rows", nil, policyFunc(nil), "no logged rows"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Evaluate(context.Background(), tc.rows, constModel(0), DefaultOptions(), nil, tc.pol)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Evaluate(ctx, rows, nil, DefaultOptions(), nil, policyFunc(func(_ Row, d []ActionProb) ([]ActionProb, error) {
		return append(d[:0], ActionProb{0, 1}), nil
	}))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

func TestGreedy(t *testing.T) {
	sc := scoresFunc(func(_ Row, d []float64) error {
		copy(d, []float64{0.1, math.NaN(), 0.3, 0.3})
		return nil
	})
	g, err := NewGreedy(sc, 4, 0.3)
	if err != nil {
		t.Fatal(err)
	}
	d, err := g.Distribution(Row{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int]float64{0: 0.1, 2: 0.8, 3: 0.1} // ties go to the first action
	if len(d) != 3 {
		t.Fatalf("distribution %v", d)
	}
	for _, ap := range d {
		if math.Abs(ap.P-want[ap.Action]) > 1e-12 {
			t.Errorf("π(%d) = %v, want %v", ap.Action, ap.P, want[ap.Action])
		}
	}
	none, _ := NewGreedy(scoresFunc(func(_ Row, d []float64) error {
		for i := range d {
			d[i] = math.NaN()
		}
		return nil
	}), 4, 0.1)
	if _, err := none.Distribution(Row{}, nil); !errors.Is(err, ErrNoCandidate) {
		t.Errorf("no candidate: %v", err)
	}
	for _, eps := range []float64{-0.1, 1.1, math.NaN()} {
		if _, err := NewGreedy(sc, 4, eps); err == nil {
			t.Errorf("epsilon %v accepted", eps)
		}
	}
}

type scoresFunc func(Row, []float64) error

func (f scoresFunc) Scores(r Row, d []float64) error { return f(r, d) }

func TestDifferenceAndGate(t *testing.T) {
	a := []Sample{{W: 1, R: 1, DM: 0.6, Q: 0.5}, {W: 2, R: 0, DM: 0.4, Q: 0.3}, {W: 0, R: 1, DM: 0.7, Q: 0.6}}
	b := LoggingSamples([]Row{{Reward: 1}, {Reward: 0}, {Reward: 1}})
	d, err := Difference(a, b, DR, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	want := ((0.6 + 0.5 - 1) + (0.4 - 0.6 - 0) + (0.7 - 1)) / 3
	if math.Abs(d.Value-want) > 1e-12 {
		t.Errorf("difference %v, want %v", d.Value, want)
	}
	if _, err := Difference(a, b[:2], DR, DefaultOptions()); err == nil {
		t.Error("difference of unequal logs accepted")
	}
	if _, err := Difference(a, b, SNIPS, DefaultOptions()); err == nil {
		t.Error("SNIPS difference accepted")
	}

	rep := func(v, lo, hi, ess float64) Report {
		return Report{Estimates: []Estimate{{Name: DR, Value: v, CI: Interval{lo, hi}}}, Diagnostics: Diagnostics{ESS: ess}}
	}
	base := rep(0.10, 0.09, 0.11, 1e4)
	tests := []struct {
		name string
		cand Report
		diff *Estimate
		rule GateRule
		pass bool
	}{
		{"point pass", rep(0.12, 0.105, 0.135, 1e4), nil, GatePoint, true},
		{"point fail", rep(0.12, 0.095, 0.145, 1e4), nil, GatePoint, false},
		{"upper fail", rep(0.12, 0.105, 0.135, 1e4), nil, GateUpper, false},
		{"upper pass", rep(0.13, 0.115, 0.145, 1e4), nil, GateUpper, true},
		{"low ess", rep(0.5, 0.4, 0.6, 10), nil, GatePoint, false},
		{"paired pass", rep(0.12, 0.095, 0.145, 1e4), &Estimate{Value: 0.02, CI: Interval{0.01, 0.03}}, GatePaired, true},
		{"paired fail", rep(0.12, 0.105, 0.135, 1e4), &Estimate{Value: 0.02, CI: Interval{-0.01, 0.05}}, GatePaired, false},
		{"paired without diff", rep(0.12, 0.105, 0.135, 1e4), nil, GatePaired, false},
		{"unknown rule", rep(0.12, 0.105, 0.135, 1e4), nil, "lenient", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := DefaultGateOptions()
			o.Rule = tc.rule
			v := Gate(tc.cand, base, tc.diff, o)
			if v.Pass != tc.pass || v.Reason == "" {
				t.Errorf("verdict %+v, want pass=%v", v, tc.pass)
			}
		})
	}
	if v := Gate(Report{}, base, nil, DefaultGateOptions()); v.Pass {
		t.Error("gate passed without a DR estimate")
	}
}

func TestSpace(t *testing.T) {
	sp := newBanditSpace(t)
	if sp.Len() != 9 {
		t.Fatalf("len %d", sp.Len())
	}
	for a := range sp.Len() {
		lv := []int{sp.Level(a, 0), sp.Level(a, 1)}
		if sp.Index(lv) != a {
			t.Errorf("action %d → %v → %d", a, lv, sp.Index(lv))
		}
	}
	if sp.Format(5) != "channel=sms hour=18" || sp.Value(5, 1) != 18 || !math.IsNaN(sp.Value(5, 0)) {
		t.Errorf("action 5: %s %v", sp.Format(5), sp.Value(5, 1))
	}
	if sp.Index([]int{3, 0}) != -1 || sp.Index([]int{0}) != -1 {
		t.Error("out-of-range levels accepted")
	}
	bad := [][]Part{
		nil,
		{{Name: "h", Kind: datasets.KindNumeric, Values: []float64{2, 1}}},
		{{Name: "h", Kind: datasets.KindNumeric}},
		{{Name: "t", Kind: datasets.KindTime, Values: []float64{1}}},
		{{Name: "c", Kind: datasets.KindCategorical, Levels: make([]string, 300)}, {Name: "d", Kind: datasets.KindCategorical, Levels: make([]string, 300)}},
	}
	for i, parts := range bad {
		if _, err := NewSpace(parts); err == nil {
			t.Errorf("space %d accepted", i)
		}
	}
}

// FuzzEstimateSamples: any samples either are rejected or give estimates whose
// intervals hold their point and diagnostics within their bounds.
func FuzzEstimateSamples(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32})
	f.Add(make([]byte, 64))
	f.Fuzz(func(t *testing.T, data []byte) {
		var s []Sample
		for len(data) >= 32 {
			v := func(k int) float64 { return math.Float64frombits(binary.LittleEndian.Uint64(data[8*k:])) }
			s = append(s, Sample{W: v(0), R: v(1), DM: v(2), Q: v(3)})
			data = data[32:]
		}
		o := DefaultOptions()
		o.Clip, o.Bootstrap = 5, 3
		rep, err := EstimateSamples(s, true, o)
		if err != nil {
			return
		}
		if rep.N != len(s) || rep.ESS < 0 || rep.ESS > float64(rep.N)*(1+1e-9) || rep.ZeroShare < 0 || rep.ZeroShare > 1 {
			t.Fatalf("diagnostics %+v", rep.Diagnostics)
		}
		for _, e := range rep.Estimates {
			if math.IsNaN(e.Value) || math.IsInf(e.Value, 0) || math.IsInf(e.SE, 0) {
				continue // overflow of extreme finite inputs, or SNIPS without weight
			}
			if !(e.CI.Lo <= e.Value && e.Value <= e.CI.Hi) {
				t.Fatalf("%s: %v outside %v", e.Name, e.Value, e.CI)
			}
		}
	})
}
