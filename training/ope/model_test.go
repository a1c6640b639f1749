package ope

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/engagehq/engage/datasets"
	"github.com/engagehq/engage/models"
)

// sumModel scores a row as the sum of its non-missing values, so a test can
// read back what the scorer encoded.
type sumModel struct{}

func (sumModel) Predict(row []float64) (float64, error) {
	s := 0.0
	for _, v := range row {
		if !math.IsNaN(v) {
			s += v
		}
	}
	return s, nil
}

// scorerTable is a two-row log in the features package's layout.
func scorerTable(t *testing.T) *Log {
	cols := []datasets.Column{
		{Name: "x", Role: datasets.RoleContext, Kind: datasets.KindNumeric},
		{Name: "consent_email", Role: datasets.RoleContext, Kind: datasets.KindNumeric},
		{Name: "consent_sms", Role: datasets.RoleContext, Kind: datasets.KindNumeric},
		{Name: "sms_opted_out", Role: datasets.RoleContext, Kind: datasets.KindNumeric},
		{Name: "profile_hour_09", Role: datasets.RoleContext, Kind: datasets.KindNumeric},
		{Name: "profile_hour_18", Role: datasets.RoleContext, Kind: datasets.KindNumeric},
		{Name: "send_slot_affinity", Role: datasets.RoleContext, Kind: datasets.KindNumeric},
		{Name: "channel", Role: datasets.RoleAction, Kind: datasets.KindCategorical},
		{Name: "local_hour", Role: datasets.RoleAction, Kind: datasets.KindNumeric},
		{Name: "propensity", Role: datasets.RolePropensity, Kind: datasets.KindNumeric},
		{Name: "paid_7d", Role: datasets.RoleOutcome, Kind: datasets.KindNumeric},
	}
	tb := datasets.NewTable(cols, 2)
	rows := [][]any{
		// x, consent email, consent sms, sms opted out, prof 9, prof 18, slot, channel, hour, p, reward
		{1.0, 1.0, 1.0, 0.0, 0.1, 0.3, 2.0, "email", 9.0, 0.25, 1.0},
		{2.0, 1.0, 1.0, 1.0, 0.2, 0.1, 4.0, "sms", 18.0, 0.25, 0.0},
	}
	for _, r := range rows {
		for c, v := range r {
			switch v := v.(type) {
			case float64:
				tb.AppendFloat(c, v)
			case string:
				tb.AppendString(c, v)
			}
		}
	}
	l, err := NewLog(tb, LogOptions{Reward: "paid_7d"})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestModelScorer(t *testing.T) {
	l := scorerTable(t)
	// The model knows channel levels in another order, plus one unseen level.
	feats := []models.Feature{
		{Name: "x", Kind: models.Numeric},
		{Name: "send_slot_affinity", Kind: models.Numeric},
		{Name: "channel", Kind: models.Categorical, Levels: []string{"push", "sms", "email"}},
		{Name: "local_hour", Kind: models.Numeric},
	}
	s, err := NewModelScorer(sumModel{}, feats, l, DefaultScorerOptions())
	if err != nil {
		t.Fatal(err)
	}
	// Space: channel {email, sms} (sorted, no declared levels) × hour {9, 18}.
	if l.Space.Len() != 4 || l.Space.Format(0) != "channel=email local_hour=9" {
		t.Fatalf("space %d, first %s", l.Space.Len(), l.Space.Format(0))
	}
	dst := make([]float64, 4)
	// Row 0 logged email@9 with slot 2, profile 0.1 at 9 and 0.3 at 18: the
	// slot at 18 is 2 × 0.3/0.1 = 6. Channel codes: email 2, sms 1.
	if err := s.Scores(l.Rows[0], dst); err != nil {
		t.Fatal(err)
	}
	want := []float64{1 + 2 + 2 + 9, 1 + 6 + 2 + 18, 1 + 2 + 1 + 9, 1 + 6 + 1 + 18}
	for a := range want {
		if math.Abs(dst[a]-want[a]) > 1e-9 {
			t.Errorf("row 0 %s: score %v, want %v", l.Space.Format(a), dst[a], want[a])
		}
	}
	// Row 1 opted out of sms: sms actions are not candidates.
	if err := s.Scores(l.Rows[1], dst); err != nil {
		t.Fatal(err)
	}
	if !math.IsNaN(dst[2]) || !math.IsNaN(dst[3]) || math.IsNaN(dst[0]) {
		t.Errorf("row 1 scores %v: want sms disallowed", dst)
	}
	// Logged slot at 18 is 4 with profile 0.1; at 9 (profile 0.2) it is 8.
	if want := 2 + 8 + 2 + 9.0; math.Abs(dst[0]-want) > 1e-9 {
		t.Errorf("row 1 email@9 score %v, want %v", dst[0], want)
	}
	p, err := s.Predict(l.Rows[1], l.Rows[1].Action)
	if err != nil || math.Abs(p-(2+4+1+18)) > 1e-9 {
		t.Errorf("row 1 logged action predicted %v (%v), want the logged slot value", p, err)
	}
	// A Greedy policy and DR over the same scorer run end to end.
	g, err := NewGreedy(s, l.Space.Len(), 0.2)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Evaluate(context.Background(), l.Rows, s, DefaultOptions(), nil, g)
	if err != nil {
		t.Fatal(err)
	}
	// Row 0: greedy email@18, logged email@9 → π = 0.2/4 = 0.05, w = 0.2.
	// Row 1: greedy email@9 (sms out), logged sms@18 → π = 0, w = 0.
	if w0, w1 := res.Samples[0][0].W, res.Samples[0][1].W; math.Abs(w0-0.2) > 1e-12 || w1 != 0 {
		t.Errorf("weights %v %v, want 0.2 and 0", w0, w1)
	}

	// A model feature the table lacks is an error naming it.
	_, err = NewModelScorer(sumModel{}, append(feats, models.Feature{Name: "age", Kind: models.Numeric}), l, DefaultScorerOptions())
	if err == nil || !strings.Contains(err.Error(), `"age"`) {
		t.Errorf("missing feature: %v", err)
	}
	_, err = NewModelScorer(sumModel{}, []models.Feature{{Name: "channel", Kind: models.Numeric}}, l, DefaultScorerOptions())
	if err == nil {
		t.Error("kind mismatch accepted")
	}
	other := scorerTable(t)
	if err := s.Scores(other.Rows[0], dst); err == nil {
		t.Error("row of another table accepted")
	}
}

func TestSubsample(t *testing.T) {
	l := &Log{Rows: make([]Row, 100)}
	for i := range l.Rows {
		l.Rows[i].I = i
	}
	l.Subsample(10, 3)
	if len(l.Rows) != 10 {
		t.Fatalf("%d rows", len(l.Rows))
	}
	for k := 1; k < len(l.Rows); k++ {
		if l.Rows[k].I <= l.Rows[k-1].I {
			t.Fatalf("subsample not in table order: %v", l.Rows)
		}
	}
}
