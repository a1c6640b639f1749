package metrics

import (
	"math"
	"strings"
	"testing"
)

// Fixed vector for the classification goldens. The expected values were
// computed with scikit-learn 1.2.1 (Debian python3-sklearn, /usr/bin/python3):
//
//	roc_auc_score(l, s[, sample_weight=w]), log_loss(l, s[, sample_weight=w]),
//	brier_score_loss(l, s[, sample_weight=w])
var (
	clsScores  = []float64{0.1, 0.4, 0.35, 0.8, 0.65, 0.2, 0.9, 0.35, 0.5, 0.05, 0.7, 0.35, 0.6, 0.15, 0.95, 0.3, 0.45, 0.55, 0.25, 0.8}
	clsLabels  = []float64{0, 0, 1, 1, 1, 0, 1, 0, 1, 0, 0, 1, 1, 0, 1, 0, 0, 1, 0, 1}
	clsWeights = []float64{1, 2, 1, 0.5, 1, 1, 3, 1, 1, 2, 1, 1, 0.5, 1, 1, 1, 2, 1, 1, 1}
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func TestAgainstSklearn(t *testing.T) {
	cases := []struct {
		name string
		fn   func(s, l, w []float64) (float64, error)
		w    []float64
		want float64
	}{
		{"auc", AUC, nil, 0.8900000000000001},
		{"auc weighted", AUC, clsWeights, 0.8986013986013986},
		{"log-loss", LogLoss, nil, 0.443263476751652},
		{"log-loss weighted", LogLoss, clsWeights, 0.41120674573823973},
		{"brier", Brier, nil, 0.14375000000000002},
		{"brier weighted", Brier, clsWeights, 0.13166666666666668},
	}
	for _, c := range cases {
		got, err := c.fn(clsScores, clsLabels, c.w)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !near(got, c.want, 1e-12) {
			t.Errorf("%s = %.17g, sklearn says %.17g", c.name, got, c.want)
		}
	}
}

func TestAUCHandComputed(t *testing.T) {
	cases := []struct {
		name   string
		s, l   []float64
		want   float64
		errHas string
	}{
		{"perfect", []float64{0.1, 0.2, 0.8, 0.9}, []float64{0, 0, 1, 1}, 1, ""},
		{"reversed", []float64{0.9, 0.8, 0.2, 0.1}, []float64{0, 0, 1, 1}, 0, ""},
		{"all tied", []float64{0.5, 0.5, 0.5}, []float64{0, 1, 1}, 0.5, ""},
		// pairs (pos,neg): (0.5,0.5)=1/2 (0.5,0.1)=1 (0.7,0.5)=1 (0.7,0.1)=1 -> 3.5/4
		{"one tie", []float64{0.5, 0.1, 0.5, 0.7}, []float64{1, 0, 0, 1}, 0.875, ""},
		{"one class", []float64{0.1, 0.2}, []float64{1, 1}, 0, "both classes"},
		{"empty", nil, nil, 0, "no rows"},
		{"nan label", []float64{0.1, 0.2}, []float64{math.NaN(), 1}, 0, "not 0 or 1"},
		{"nan score", []float64{math.NaN(), 0.2}, []float64{0, 1}, 0, "not finite"},
	}
	for _, c := range cases {
		got, err := AUC(c.s, c.l, nil)
		if c.errHas != "" {
			if err == nil || !strings.Contains(err.Error(), c.errHas) {
				t.Errorf("%s: err %v, want %q", c.name, err, c.errHas)
			}
			continue
		}
		if err != nil || !near(got, c.want, 1e-15) {
			t.Errorf("%s: AUC=%v err=%v, want %v", c.name, got, err, c.want)
		}
	}
}

func TestCalibrationTable(t *testing.T) {
	p := []float64{0.05, 0.15, 0.15, 0.85, 0.95}
	y := []float64{0, 0, 1, 1, 1}
	// Equal width, 2 bins: {.05,.15,.15} pred .116667 obs 1/3; {.85,.95} pred .9
	// obs 1. ECE = 3/5*0.216667 + 2/5*0.1 = 0.17.
	c, err := CalibrationTable(p, y, nil, 2, EqualWidth)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Bins) != 2 || c.Bins[0].Count != 3 || !near(c.ECE, 0.17, 1e-12) || !near(c.MCE, 0.65/3, 1e-12) {
		t.Errorf("equal width: %+v", c)
	}
	// Equal mass, 5 bins, ties kept together: {.05} {.15,.15} {.85} {.95};
	// gaps .05 .35 .15 .05 -> ECE (.05+2*.35+.15+.05)/5 = .19, MCE .35.
	c, err = CalibrationTable(p, y, nil, 5, EqualMass)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Bins) != 4 || c.Bins[1].Count != 2 || !near(c.ECE, 0.19, 1e-12) || !near(c.MCE, 0.35, 1e-12) {
		t.Errorf("equal mass: %+v", c)
	}
	if _, err := CalibrationTable([]float64{1.2}, []float64{1}, nil, 2, EqualWidth); err == nil {
		t.Error("accepted a probability above 1")
	}
	if _, err := CalibrationTable(p, y, nil, 0, EqualWidth); err == nil {
		t.Error("accepted 0 bins")
	}
}

func TestSegmentAUCAndConfusion(t *testing.T) {
	s := []float64{0.9, 0.1, 0.8, 0.3, 0.6, 0.4}
	l := []float64{1, 0, 0, 1, 1, 1}
	seg := []string{"b", "b", "a", "a", "c", "c"}
	got, err := SegmentAUC(s, l, seg)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].Segment != "a" || got[0].AUC != 0 || got[1].AUC != 1 || !math.IsNaN(got[2].AUC) || got[2].Positives != 2 {
		t.Errorf("segments %+v", got)
	}
	c, err := ConfusionAt(s, l, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	if c.TP != 2 || c.FP != 1 || c.TN != 1 || c.FN != 2 || !near(c.Accuracy(), 0.5, 0) || !near(c.Precision(), 2.0/3, 1e-15) || !near(c.Recall(), 0.5, 0) {
		t.Errorf("confusion %+v", c)
	}
}

// Uplift goldens: computed with /usr/bin/python3 (numpy 1.24.2, sklearn 1.2.1)
// running scikit-uplift's qini_auc_score, uplift_auc_score and
// uplift_at_k(strategy='overall') transcribed from sklift/metrics/metrics.py
// (maks-sh/scikit-uplift) on this vector (drawn with numpy default_rng(2024),
// scores rounded to 0.1 so there are many ties).
var (
	upY = []float64{0, 0, 1, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 1, 1, 1, 0, 1, 1, 1, 1, 0, 1, 0, 1, 0, 0, 1, 0, 1, 0}
	upT = []int{0, 1, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 1, 0, 0}
	upU = []float64{0.9, -1.5, -0.5, 0.2, -0.7, -0.3, -0.2, 0.4, -0.4, 0.3, 0.1, 0.4, 0.2, 1.7, -0.7, 1.2, -0.4, -1.0, 1.2, -0.4, -0.4, -1.4, -2.1, 0.6, -1.2, 0.8, 1.8, -0.1, -1.1, 0.4, 0.8, -0.3, 0.0, 1.3, 1.3, 0.7, -0.9, -0.1, 0.6, -0.2}
)

func treatedFlags(t []int) []bool {
	b := make([]bool, len(t))
	for i, v := range t {
		b[i] = v == 1
	}
	return b
}

func TestUpliftAgainstSklift(t *testing.T) {
	tr := treatedFlags(upT)
	q, err := QiniAUC(upY, upU, tr)
	if err != nil || !near(q, -0.09944643179723989, 1e-12) {
		t.Errorf("QiniAUC = %.17g (%v)", q, err)
	}
	u, err := UpliftAUC(upY, upU, tr)
	if err != nil || !near(u, -0.08157666270278449, 1e-12) {
		t.Errorf("UpliftAUC = %.17g (%v)", u, err)
	}
	for _, c := range []struct{ k, want float64 }{{0.3, 0.125}, {0.5, 0.2637362637362637}} {
		got, err := UpliftAtK(upY, upU, tr, c.k)
		if err != nil || !near(got, c.want, 1e-12) {
			t.Errorf("UpliftAtK(%v) = %.17g (%v), want %v", c.k, got, err, c.want)
		}
	}
	curve, err := QiniCurve(upY, upU, tr)
	if err != nil || !near(curve.Area(), 80.19515177804652, 1e-9) {
		t.Errorf("Qini area = %.17g (%v)", curve.Area(), err)
	}
}

func TestUpliftHandComputed(t *testing.T) {
	// Four rows, a perfect ranking: treated responder, treated non-responder,
	// control non-responder, control responder.
	y := []float64{1, 0, 0, 1}
	tr := []bool{true, true, false, false}
	s := []float64{4, 3, 2, 1}
	c, err := QiniCurve(y, s, tr)
	if err != nil {
		t.Fatal(err)
	}
	// Qini: after 1 row 1-0=1; 2 rows 1; 3 rows 1-0*2/1=1; 4 rows 1-1*2/2=0.
	want := []float64{0, 1, 1, 1, 0}
	for i := range want {
		if c.Y[i] != want[i] {
			t.Fatalf("qini curve %v, want %v", c.Y, want)
		}
	}
	q, err := QiniAUC(y, s, tr)
	if err != nil || q != 1 {
		t.Errorf("perfect ranking QiniAUC=%v (%v), want 1", q, err)
	}
	if _, err := QiniAUC(y, s, []bool{true, true, true, true}); err == nil {
		t.Error("accepted a sample without control rows")
	}
	if _, err := UpliftAtK(y, s, tr, 0.25); err == nil {
		t.Error("uplift@k with one arm in the top slice should fail")
	}
	if _, err := UpliftAtK(y, s, tr, 1.5); err == nil {
		t.Error("accepted k > 1")
	}
}
