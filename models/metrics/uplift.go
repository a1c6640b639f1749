package metrics

import (
	"errors"
	"fmt"
	"math"
	"sort"
)

// checkUplift validates an uplift sample: equal lengths, binary outcomes,
// finite scores and both arms present.
func checkUplift(y, score []float64, treated []bool) error {
	if len(y) != len(score) || len(y) != len(treated) {
		return fmt.Errorf("lengths differ: %d outcomes, %d scores, %d treatment flags", len(y), len(score), len(treated))
	}
	if len(y) == 0 {
		return errors.New("no rows")
	}
	nt := 0
	for i := range y {
		if y[i] != 0 && y[i] != 1 {
			return fmt.Errorf("row %d: outcome %v is not 0 or 1", i, y[i])
		}
		if math.IsNaN(score[i]) || math.IsInf(score[i], 0) {
			return fmt.Errorf("row %d: uplift score %v is not finite", i, score[i])
		}
		if treated[i] {
			nt++
		}
	}
	if nt == 0 || nt == len(y) {
		return errors.New("need both treated and control rows")
	}
	return nil
}

// descOrder returns row indices by decreasing score; tied rows come latest row
// first, which is what numpy's argsort(kind="mergesort")[::-1] produces and so
// what scikit-uplift uses.
func descOrder(score []float64) []int {
	idx := make([]int, len(score))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool {
		sa, sb := score[idx[a]], score[idx[b]]
		if sa != sb {
			return sa > sb
		}
		return idx[a] > idx[b]
	})
	return idx
}

// Curve is a gain curve: X[i] rows targeted (best predicted uplift first), Y[i]
// the curve's value there. It starts at (0, 0).
type Curve struct {
	X, Y []float64
}

// Area is the trapezoidal area under the curve.
func (c Curve) Area() float64 {
	a := 0.0
	for i := 1; i < len(c.X); i++ {
		a += (c.X[i] - c.X[i-1]) * (c.Y[i] + c.Y[i-1]) / 2
	}
	return a
}

// gainCurve walks the rows by decreasing score and evaluates value(nt, yt, nc,
// yc) at the end of each run of tied scores.
func gainCurve(y, score []float64, treated []bool, value func(nt, yt, nc, yc float64) float64) Curve {
	idx := descOrder(score)
	c := Curve{X: []float64{0}, Y: []float64{0}}
	var nt, yt, nc, yc float64
	for k, i := range idx {
		if treated[i] {
			nt++
			yt += y[i]
		} else {
			nc++
			yc += y[i]
		}
		if k+1 < len(idx) && score[idx[k+1]] == score[i] {
			continue
		}
		c.X = append(c.X, float64(k+1))
		c.Y = append(c.Y, value(nt, yt, nc, yc))
	}
	return c
}

func div0(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// QiniCurve returns the Qini curve of sklift.metrics.qini_curve: the incremental
// number of responders among the top rows, Y_T - Y_C * N_T / N_C.
func QiniCurve(y, score []float64, treated []bool) (Curve, error) {
	if err := checkUplift(y, score, treated); err != nil {
		return Curve{}, fmt.Errorf("qini curve: %w", err)
	}
	return qiniCurve(y, score, treated), nil
}

func qiniCurve(y, score []float64, treated []bool) Curve {
	return gainCurve(y, score, treated, func(nt, yt, nc, yc float64) float64 {
		return yt - yc*div0(nt, nc)
	})
}

// UpliftCurve returns the uplift curve of sklift.metrics.uplift_curve:
// (Y_T/N_T - Y_C/N_C) * (N_T + N_C) over the top rows.
func UpliftCurve(y, score []float64, treated []bool) (Curve, error) {
	if err := checkUplift(y, score, treated); err != nil {
		return Curve{}, fmt.Errorf("uplift curve: %w", err)
	}
	return upliftCurve(y, score, treated), nil
}

func upliftCurve(y, score []float64, treated []bool) Curve {
	return gainCurve(y, score, treated, func(nt, yt, nc, yc float64) float64 {
		return (div0(yt, nt) - div0(yc, nc)) * (nt + nc)
	})
}

// normalised is (actual - baseline) / (perfect - baseline), the baseline being the
// straight line from the origin to the perfect curve's end point.
func normalised(actual, perfect Curve) float64 {
	n := len(perfect.X) - 1
	base := perfect.X[n] * perfect.Y[n] / 2
	return (actual.Area() - base) / (perfect.Area() - base)
}

// QiniAUC is the Qini coefficient as sklift.metrics.qini_auc_score computes it
// with negative_effect=true: the area between the model's Qini curve and the
// random diagonal, over the same area for the perfect Qini curve (the curve of a
// scorer that ranks treated responders first and control responders last).
// 1 is perfect, 0 is random targeting; it can be negative.
func QiniAUC(y, score []float64, treated []bool) (float64, error) {
	if err := checkUplift(y, score, treated); err != nil {
		return 0, fmt.Errorf("qini auc: %w", err)
	}
	perfectScore := make([]float64, len(y))
	for i := range y {
		if treated[i] {
			perfectScore[i] = y[i]
		} else {
			perfectScore[i] = -y[i]
		}
	}
	return normalised(qiniCurve(y, score, treated), qiniCurve(y, perfectScore, treated)), nil
}

// UpliftAUC is the normalised area under the uplift curve (AUUC) as
// sklift.metrics.uplift_auc_score computes it: the area between the model's
// uplift curve and the diagonal, over that of the perfect uplift curve.
func UpliftAUC(y, score []float64, treated []bool) (float64, error) {
	if err := checkUplift(y, score, treated); err != nil {
		return 0, fmt.Errorf("uplift auc: %w", err)
	}
	// sklift's perfect_uplift_curve: rank by 2*(y == t) + summand, where the
	// summand is y when control responders outnumber treated non-responders and
	// t otherwise.
	var cr, tn int
	for i := range y {
		if y[i] == 1 && !treated[i] {
			cr++
		}
		if y[i] == 0 && treated[i] {
			tn++
		}
	}
	perfectScore := make([]float64, len(y))
	for i := range y {
		t := 0.0
		if treated[i] {
			t = 1
		}
		s := t
		if cr > tn {
			s = y[i]
		}
		if y[i] == t {
			s += 2
		}
		perfectScore[i] = s
	}
	return normalised(upliftCurve(y, score, treated), upliftCurve(y, perfectScore, treated)), nil
}

// UpliftAtK is sklift.metrics.uplift_at_k(strategy="overall"): among the first
// int(n*k) rows ranked by predicted uplift, the treated response rate minus the
// control response rate. It fails when that top slice lacks one of the arms.
func UpliftAtK(y, score []float64, treated []bool, k float64) (float64, error) {
	if err := checkUplift(y, score, treated); err != nil {
		return 0, fmt.Errorf("uplift@k: %w", err)
	}
	if !(k > 0 && k < 1) {
		return 0, fmt.Errorf("uplift@k: k=%v must be in (0, 1)", k)
	}
	top := int(float64(len(y)) * k)
	var nt, yt, nc, yc float64
	for _, i := range descOrder(score)[:top] {
		if treated[i] {
			nt++
			yt += y[i]
		} else {
			nc++
			yc += y[i]
		}
	}
	if nt == 0 || nc == 0 {
		return 0, fmt.Errorf("uplift@k: the top %d rows hold %v treated and %v control rows; need both", top, nt, nc)
	}
	return yt/nt - yc/nc, nil
}
