package reports

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/engagehq/engage/datasets"
)

// fakeScorer scores decisions from a table keyed by decision id: arm,
// outcome and the effects of the arms call and sms against email.
type fakeScorer struct {
	desc   UpliftDesc
	scores map[string]fakeScore
	calls  int
}

type fakeScore struct {
	arm int
	y   float64
	eff []float64
}

func (f *fakeScorer) Desc() UpliftDesc { return f.desc }

func (f *fakeScorer) ScoreDecisions(_ context.Context, src Source, score func(*datasets.Decision) bool, emit func(*datasets.Decision, int, float64, []float64) error) error {
	f.calls++
	return src.Decisions(func(d *datasets.Decision) error {
		s, ok := f.scores[d.DecisionID]
		if !ok {
			return nil
		}
		eff := s.eff
		if !score(d) {
			eff = nil
		}
		return emit(d, s.arm, s.y, eff)
	})
}

// upliftFixture is the fixture's accounts with decisions made for the
// model-uplift report: two before the model's cut-off (2026-01-10), six
// after, one after with an open outcome window, one on a channel that is
// none of the model's arms.
func upliftFixture() (*MemSource, *fakeScorer) {
	src := fixture()
	at := func(s string) int64 { return day(s).Add(12 * time.Hour).UnixMicro() }
	src.DecisionRows = nil
	sc := &fakeScorer{desc: UpliftDesc{Name: "v0007", Method: "t-learner", Treatment: "channel", Arms: []string{"email", "call", "sms"},
		Outcome: "paid_7d", FittedThrough: day("2026-01-10")}, scores: map[string]fakeScore{}}
	for _, d := range []struct {
		id, acct, day, ch string
		y, call           float64
	}{
		{"b1", "A1", "2026-01-06", "email", 1, 0.1},
		{"b2", "A2", "2026-01-06", "call", 0, 0.2},
		{"t1", "A1", "2026-01-11", "call", 1, 0.9},
		{"t2", "A2", "2026-01-12", "call", 0, 0.6},
		{"c1", "A3", "2026-01-11", "email", 0, 0.8},
		{"c2", "A4", "2026-01-13", "email", 1, 0.2},
		{"t3", "A3", "2026-01-14", "call", 1, 0.4},
		{"c3", "A4", "2026-01-15", "email", 0, 0.7},
		{"z1", "A1", "2026-01-16", "sms", math.NaN(), 0.5},
		{"l1", "A2", "2026-01-16", "letter", 1, 0.5},
	} {
		src.DecisionRows = append(src.DecisionRows, datasets.Decision{Tenant: "t1", DecisionID: d.id, AccountID: d.acct, At: at(d.day),
			SendAt: at(d.day), Channel: d.ch, Message: datasets.MessageFriendly, Policy: datasets.PolicyBAU})
		arm := map[string]int{"email": 0, "call": 1, "sms": 2, "letter": -1}[d.ch]
		sc.scores[d.id] = fakeScore{arm: arm, y: d.y, eff: []float64{d.call, 1 - d.call}}
	}
	return src, sc
}

func TestModelUpliftDecisions(t *testing.T) {
	src, sc := upliftFixture()
	o := fixtureOptions()
	o.Uplift = func() (UpliftScorer, error) { return sc, nil }
	b, err := Load(context.Background(), src, o)
	if err != nil {
		t.Fatal(err)
	}
	r := b.ModelUplift(Filter{})
	// By hand (sklift's definitions). Out of sample, call against email,
	// best score first: t1 (T, paid) c1 (C) c3 (C) t2 (T) t3 (T, paid) c2
	// (C, paid). Qini curve Y_T - Y_C N_T/N_C: 1 1 1 1 2 1, area 6.5; the
	// random line to (6, 1) has area 3; the perfect ranking (treated payers
	// first, control payers last, ties grouped) passes (2, 2) (5, 2) (6, 1),
	// area 9.5: Qini = 3.5/6.5. Uplift curve (Y_T/N_T - Y_C/N_C)(N_T+N_C):
	// 1 2 3 2 10/3 2, area 37/3; random 6; sklift's perfect uplift curve
	// (ranked by 2(y = t) + t, as control payers and treated non-payers are
	// as many) passes (2, 2) (4, 4) (5, 10/3) (6, 2), area 43/3: AUUC =
	// (37/3 - 6)/(43/3 - 6) = 19/25.
	if r.Status != StatusOK || r.Unit != "decision" || r.Evaluation != EvalOutOfSample || r.Model != "v0007" ||
		r.Treatment != "channel" || r.Arm != "call" || r.Control != "email" || r.Outcome != "paid_7d" {
		t.Fatalf("report: %+v", r)
	}
	if r.Treated != 3 || r.Controls != 3 || r.InTraining != 2 || r.Censored != 1 {
		t.Errorf("counts: treated %d control %d in training %d censored %d; want 3 3 2 1", r.Treated, r.Controls, r.InTraining, r.Censored)
	}
	if !near(val(r.Qini), 3.5/6.5) || !near(val(r.AUUC), 0.76) {
		t.Errorf("qini %v auuc %v; want %v and 0.76", val(r.Qini), val(r.AUUC), 3.5/6.5)
	}
	want := []float64{0, 1, 1, 1, 1, 2, 1}
	if len(r.Curve) != len(want) {
		t.Fatalf("curve %+v", r.Curve)
	}
	for i, p := range r.Curve {
		if p.Targeted != i || !near(p.Incremental, want[i]) || !near(p.Random, float64(i)/6) {
			t.Errorf("curve point %d: %+v, want %v incremental, %v random", i, p, want[i], float64(i)/6)
		}
	}
	if len(r.Arms) != 2 || r.Arms[0].Arm != "call" || r.Arms[1].Arm != "sms" || r.Arms[1].Status != StatusNotEnoughData ||
		r.Arms[1].Treated != 0 || r.Arms[1].Qini != nil {
		t.Errorf("arms: %+v", r.Arms)
	}
	if !strings.Contains(r.Note, "Out of sample") || r.FittedThrough == nil || !r.FittedThrough.Equal(day("2026-01-10")) {
		t.Errorf("note %q, fitted through %v", r.Note, r.FittedThrough)
	}
	golden(t, "model_uplift_decisions", r)
	// The decisions are scored once per book and model.
	b.ModelUplift(Filter{Channels: []string{"call"}})
	if sc.calls != 1 {
		t.Errorf("%d scoring passes, want 1", sc.calls)
	}
}

func TestModelUpliftEvaluation(t *testing.T) {
	src, sc := upliftFixture()
	o := fixtureOptions()
	o.MinAccounts = 1
	o.Uplift = func() (UpliftScorer, error) { return sc, nil }
	b, err := Load(context.Background(), src, o)
	if err != nil {
		t.Fatal(err)
	}
	// A period before the cut-off: in-sample, and said so.
	r := b.ModelUplift(Filter{To: day("2026-01-10")})
	if r.Evaluation != EvalInSample || r.Treated != 1 || r.Controls != 1 || r.InTraining != 0 || !strings.Contains(r.Note, "In-sample") {
		t.Errorf("before the cut-off: %s, %d/%d, note %q", r.Evaluation, r.Treated, r.Controls, r.Note)
	}
	// A channel filter keeps the decisions on those channels only.
	r = b.ModelUplift(Filter{Channels: []string{"call"}})
	if r.Status != StatusNotEnoughData || r.Treated != 3 || r.Controls != 0 || !strings.Contains(r.Message, "not enough data") || r.Qini != nil {
		t.Errorf("call only: %s %q %d/%d", r.Status, r.Message, r.Treated, r.Controls)
	}
	// A jurisdiction filter: A1 (US-MA), A2 (US), A4 (US-MA).
	r = b.ModelUplift(Filter{Jurisdictions: []string{"US"}})
	if r.Treated != 2 || r.Controls != 2 {
		t.Errorf("US: %d/%d, want t1 t2 / c2 c3", r.Treated, r.Controls)
	}
	// An empty period.
	r = b.ModelUplift(Filter{From: day("2026-03-01"), To: day("2026-03-08")})
	if r.Status != StatusNotEnoughData || r.Qini != nil || len(r.Curve) != 0 || r.Censored != 0 {
		t.Errorf("empty period: %+v", r)
	}

	// Unknown cut-off: every decision counts, flagged.
	sc2 := *sc
	sc2.desc.FittedThrough = time.Time{}
	sc2.desc.Name = "v0008"
	o.Uplift = func() (UpliftScorer, error) { return &sc2, nil }
	b, _ = Load(context.Background(), src, o)
	r = b.ModelUplift(Filter{})
	if r.Evaluation != EvalUnknown || r.Treated != 4 || r.Controls != 4 || r.FittedThrough != nil || !strings.Contains(r.Note, "unknown") {
		t.Errorf("unknown cut-off: %s %d/%d %q", r.Evaluation, r.Treated, r.Controls, r.Note)
	}
}

func TestModelUpliftNoModel(t *testing.T) {
	src, _ := upliftFixture()
	for _, c := range []struct {
		name   string
		fn     func() (UpliftScorer, error)
		status string
		msg    string
	}{
		{"none", func() (UpliftScorer, error) { return nil, nil }, StatusNoModel, "no uplift model"},
		{"broken", func() (UpliftScorer, error) { return nil, errors.New("hash mismatch") }, StatusError, "hash mismatch"},
		{"failing", func() (UpliftScorer, error) {
			return failing{UpliftDesc{Name: "v1", Arms: []string{"email", "sms"}}}, nil
		}, StatusError, "disk on fire"},
	} {
		o := fixtureOptions()
		o.Uplift = c.fn
		b, err := Load(context.Background(), src, o)
		if err != nil {
			t.Fatal(err)
		}
		r := b.ModelUplift(Filter{})
		if r.Status != c.status || !strings.Contains(r.Message, c.msg) || r.Qini != nil || r.Curve == nil || r.Arms == nil {
			t.Errorf("%s: %s %q", c.name, r.Status, r.Message)
		}
	}
}

type failing struct{ d UpliftDesc }

func (f failing) Desc() UpliftDesc { return f.d }
func (f failing) ScoreDecisions(context.Context, Source, func(*datasets.Decision) bool, func(*datasets.Decision, int, float64, []float64) error) error {
	return errors.New("disk on fire")
}
