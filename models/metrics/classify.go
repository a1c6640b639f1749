package metrics

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
)

// ErrOneClass is returned by AUC when the labels hold only one class (or only
// zero-weight rows of the other), because the ranking is then undefined.
var ErrOneClass = errors.New("AUC needs both classes among the labels")

// LogLossEps clips probabilities into [LogLossEps, 1-LogLossEps] before taking
// logs, so that one confident mistake costs a large but finite amount. It is the
// value scikit-learn used before 1.3 (eps=1e-15).
const LogLossEps = 1e-15

// checkBinary validates a scored binary sample: equal lengths, labels 0 or 1,
// scores finite (probabilities in [0,1] when probs is set), weights finite and
// non-negative. It returns the total weight.
func checkBinary(scores, labels, weights []float64, probs bool) (float64, error) {
	if len(scores) != len(labels) {
		return 0, fmt.Errorf("%d scores but %d labels", len(scores), len(labels))
	}
	if weights != nil && len(weights) != len(labels) {
		return 0, fmt.Errorf("%d weights but %d labels", len(weights), len(labels))
	}
	if len(labels) == 0 {
		return 0, errors.New("no rows")
	}
	total := 0.0
	for i, y := range labels {
		if y != 0 && y != 1 {
			return 0, fmt.Errorf("row %d: label %v is not 0 or 1", i, y)
		}
		s := scores[i]
		if math.IsNaN(s) || math.IsInf(s, 0) {
			return 0, fmt.Errorf("row %d: score %v is not finite", i, s)
		}
		if probs && (s < 0 || s > 1) {
			return 0, fmt.Errorf("row %d: probability %v outside [0,1]", i, s)
		}
		w := 1.0
		if weights != nil {
			w = weights[i]
			if math.IsNaN(w) || math.IsInf(w, 0) || w < 0 {
				return 0, fmt.Errorf("row %d: weight %v must be finite and >= 0", i, w)
			}
		}
		total += w
	}
	if total <= 0 {
		return 0, errors.New("total weight is zero")
	}
	return total, nil
}

func weightAt(weights []float64, i int) float64 {
	if weights == nil {
		return 1
	}
	return weights[i]
}

// AUC returns the area under the ROC curve: the probability that a random
// positive is scored above a random negative, ties counting one half (the
// average-rank / Mann-Whitney convention, identical to sklearn's roc_auc_score).
// weights may be nil.
func AUC(scores, labels, weights []float64) (float64, error) {
	if _, err := checkBinary(scores, labels, weights, false); err != nil {
		return 0, fmt.Errorf("auc: %w", err)
	}
	idx := make([]int, len(scores))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return scores[idx[a]] < scores[idx[b]] })
	var negBelow, area, pos, neg float64
	for lo := 0; lo < len(idx); {
		hi := lo
		var gp, gn float64
		for hi < len(idx) && scores[idx[hi]] == scores[idx[lo]] {
			w := weightAt(weights, idx[hi])
			if labels[idx[hi]] == 1 {
				gp += w
			} else {
				gn += w
			}
			hi++
		}
		area += gp * (negBelow + 0.5*gn)
		negBelow += gn
		pos += gp
		neg += gn
		lo = hi
	}
	if pos == 0 || neg == 0 {
		return 0, fmt.Errorf("auc: %w", ErrOneClass)
	}
	return area / (pos * neg), nil
}

// LogLoss returns the weighted mean negative log-likelihood of binary labels
// under the predicted probabilities (natural log), clipping with LogLossEps.
func LogLoss(probs, labels, weights []float64) (float64, error) {
	total, err := checkBinary(probs, labels, weights, true)
	if err != nil {
		return 0, fmt.Errorf("log-loss: %w", err)
	}
	s := 0.0
	for i, y := range labels {
		p := min(max(probs[i], LogLossEps), 1-LogLossEps)
		l := -math.Log(1 - p)
		if y == 1 {
			l = -math.Log(p)
		}
		s += weightAt(weights, i) * l
	}
	return s / total, nil
}

// Brier returns the weighted mean squared difference between predicted
// probability and label: a proper score that, unlike log-loss, stays bounded.
func Brier(probs, labels, weights []float64) (float64, error) {
	total, err := checkBinary(probs, labels, weights, true)
	if err != nil {
		return 0, fmt.Errorf("brier: %w", err)
	}
	s := 0.0
	for i, y := range labels {
		d := probs[i] - y
		s += weightAt(weights, i) * d * d
	}
	return s / total, nil
}

// Binning says how a calibration table cuts the probability axis.
type Binning uint8

const (
	// EqualWidth cuts [0,1] into bins of equal width; the last bin includes 1.
	// Bins with no rows are left out of the table. This is the ECE of Guo et al.
	// (2017) and sklearn's calibration_curve(strategy="uniform").
	EqualWidth Binning = iota
	// EqualMass sorts rows by predicted probability and cuts them into bins of
	// (as near as possible) equal row count, so every bin has support even when
	// the predictions crowd near 0. Tied predictions never straddle two bins.
	EqualMass
)

// String names the binning as written in reports.
func (b Binning) String() string {
	switch b {
	case EqualWidth:
		return "equal-width"
	case EqualMass:
		return "equal-mass"
	}
	return fmt.Sprintf("binning(%d)", uint8(b))
}

// Bin is one row of a calibration table.
type Bin struct {
	Lo, Hi        float64 // range of predicted probabilities in the bin (bounds for equal-width, observed min/max for equal-mass)
	Count         int     // rows in the bin
	Weight        float64 // their total weight (Count when unweighted)
	MeanPredicted float64 // weighted mean predicted probability
	ObservedRate  float64 // weighted share of positive labels
}

// Calibration is a reliability table and the expected calibration error it
// implies.
type Calibration struct {
	Binning Binning
	Bins    []Bin
	// ECE is the weight-averaged absolute gap between mean predicted and observed
	// rate over the non-empty bins: sum_b W_b/W * |pred_b - obs_b|.
	ECE float64
	// MCE is the largest such gap over the non-empty bins.
	MCE float64
}

// CalibrationTable bins predictions into nbins bins (see Binning) and reports,
// per bin, the mean prediction beside the observed rate; ECE and MCE summarise
// the table. weights may be nil.
func CalibrationTable(probs, labels, weights []float64, nbins int, binning Binning) (Calibration, error) {
	total, err := checkBinary(probs, labels, weights, true)
	if err != nil {
		return Calibration{}, fmt.Errorf("calibration: %w", err)
	}
	if nbins < 1 {
		return Calibration{}, fmt.Errorf("calibration: %d bins, need at least 1", nbins)
	}
	n := len(probs)
	assign := make([]int, n)
	switch binning {
	case EqualWidth:
		for i, p := range probs {
			b := int(p * float64(nbins))
			assign[i] = min(b, nbins-1)
		}
	case EqualMass:
		idx := make([]int, n)
		for i := range idx {
			idx[i] = i
		}
		slices.SortStableFunc(idx, func(a, b int) int {
			switch {
			case probs[a] < probs[b]:
				return -1
			case probs[a] > probs[b]:
				return 1
			}
			return 0
		})
		for r, i := range idx {
			assign[i] = r * nbins / n
		}
		// Keep ties together: a tied run takes the bin of its first member.
		for r := 1; r < n; r++ {
			if probs[idx[r]] == probs[idx[r-1]] {
				assign[idx[r]] = assign[idx[r-1]]
			}
		}
	default:
		return Calibration{}, fmt.Errorf("calibration: unknown binning %d", binning)
	}
	type acc struct {
		count      int
		w, wp, wy  float64
		minP, maxP float64
	}
	accs := make([]acc, nbins)
	for b := range accs {
		accs[b].minP, accs[b].maxP = math.Inf(1), math.Inf(-1)
	}
	for i, b := range assign {
		w := weightAt(weights, i)
		a := &accs[b]
		a.count++
		a.w += w
		a.wp += w * probs[i]
		a.wy += w * labels[i]
		a.minP = min(a.minP, probs[i])
		a.maxP = max(a.maxP, probs[i])
	}
	out := Calibration{Binning: binning}
	for b, a := range accs {
		if a.count == 0 {
			continue
		}
		bin := Bin{Count: a.count, Weight: a.w, Lo: a.minP, Hi: a.maxP}
		if binning == EqualWidth {
			bin.Lo, bin.Hi = float64(b)/float64(nbins), float64(b+1)/float64(nbins)
		}
		if a.w > 0 {
			bin.MeanPredicted = a.wp / a.w
			bin.ObservedRate = a.wy / a.w
			gap := math.Abs(bin.MeanPredicted - bin.ObservedRate)
			out.ECE += a.w / total * gap
			out.MCE = max(out.MCE, gap)
		}
		out.Bins = append(out.Bins, bin)
	}
	return out, nil
}

// SegmentScore is the AUC of one segment.
type SegmentScore struct {
	Segment   string
	Count     int
	Positives int
	// AUC is NaN when the segment holds only one class.
	AUC float64
}

// SegmentAUC computes the AUC within each segment, so that a model that ranks
// well overall but not inside a jurisdiction or portfolio is visible. The result
// is sorted by segment name.
func SegmentAUC(scores, labels []float64, segments []string) ([]SegmentScore, error) {
	if len(segments) != len(labels) {
		return nil, fmt.Errorf("segment auc: %d segments but %d labels", len(segments), len(labels))
	}
	if _, err := checkBinary(scores, labels, nil, false); err != nil {
		return nil, fmt.Errorf("segment auc: %w", err)
	}
	rows := map[string][]int{}
	for i, s := range segments {
		rows[s] = append(rows[s], i)
	}
	names := make([]string, 0, len(rows))
	for s := range rows {
		names = append(names, s)
	}
	sort.Strings(names)
	out := make([]SegmentScore, 0, len(names))
	for _, name := range names {
		idx := rows[name]
		sc := make([]float64, len(idx))
		lb := make([]float64, len(idx))
		pos := 0
		for k, i := range idx {
			sc[k], lb[k] = scores[i], labels[i]
			if lb[k] == 1 {
				pos++
			}
		}
		auc, err := AUC(sc, lb, nil)
		if errors.Is(err, ErrOneClass) {
			auc, err = math.NaN(), nil
		}
		if err != nil {
			return nil, fmt.Errorf("segment %q: %w", name, err)
		}
		out = append(out, SegmentScore{Segment: name, Count: len(idx), Positives: pos, AUC: auc})
	}
	return out, nil
}

// Confusion counts the outcomes of thresholding probabilities: a row is
// predicted positive when its probability is >= Threshold.
type Confusion struct {
	Threshold      float64
	TP, FP, TN, FN int
}

// ConfusionAt thresholds probs at t and counts the four outcomes.
func ConfusionAt(probs, labels []float64, t float64) (Confusion, error) {
	if _, err := checkBinary(probs, labels, nil, false); err != nil {
		return Confusion{}, fmt.Errorf("confusion: %w", err)
	}
	c := Confusion{Threshold: t}
	for i, y := range labels {
		pos := probs[i] >= t
		switch {
		case pos && y == 1:
			c.TP++
		case pos:
			c.FP++
		case y == 1:
			c.FN++
		default:
			c.TN++
		}
	}
	return c, nil
}

// Accuracy is the share of rows classified correctly.
func (c Confusion) Accuracy() float64 {
	return ratio(c.TP+c.TN, c.TP+c.TN+c.FP+c.FN)
}

// Precision is TP/(TP+FP), NaN when nothing was predicted positive.
func (c Confusion) Precision() float64 { return ratio(c.TP, c.TP+c.FP) }

// Recall is TP/(TP+FN), NaN when there are no positives.
func (c Confusion) Recall() float64 { return ratio(c.TP, c.TP+c.FN) }

func ratio(a, b int) float64 {
	if b == 0 {
		return math.NaN()
	}
	return float64(a) / float64(b)
}
