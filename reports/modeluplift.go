package reports

import (
	"fmt"
	"time"

	"github.com/engagehq/engage/models/metrics"
)

// ModelUpliftReport is the Qini curve and coefficient of the uplift model's
// scores on the period's accounts: does targeting the highest predicted
// uplift first collect more payers than random targeting? The outcome is
// "paid at least once in the period"; treated accounts are the treatment arm.
type ModelUpliftReport struct {
	Report  string    `json:"report"`
	Filter  Filter    `json:"filter"`
	From    time.Time `json:"from"`
	To      time.Time `json:"to"`
	Status  string    `json:"status"`
	Message string    `json:"message,omitempty"`
	Model   string    `json:"model,omitempty"`
	// Accounts scored in each arm; Unscored were left out.
	Treatment int `json:"treatment_accounts"`
	Holdout   int `json:"holdout_accounts"`
	Unscored  int `json:"unscored_accounts"`
	// Qini is the Qini coefficient (sklift's qini_auc_score): 0 is random
	// targeting, 1 perfect, negative worse than random.
	Qini *float64 `json:"qini_coefficient"`
	// Curve is the Qini curve, at most 101 points from (0, 0).
	Curve []QiniPoint `json:"curve"`
}

// QiniPoint is one point of a Qini curve.
type QiniPoint struct {
	// Targeted accounts (best predicted uplift first) and their share.
	Targeted int     `json:"targeted"`
	Share    float64 `json:"share"`
	// Incremental payers: Y_T - Y_C × N_T/N_C among the targeted.
	Incremental float64 `json:"incremental"`
	// Random is the random-targeting line at the same share.
	Random float64 `json:"random"`
}

// ModelUplift computes the model-uplift report from Options.Scores.
func (b *Book) ModelUplift(f Filter) *ModelUpliftReport {
	from, to := b.bounds(&f)
	r := &ModelUpliftReport{Report: "model-uplift", Filter: f, From: time.UnixMicro(from).UTC(), To: time.UnixMicro(to).UTC(),
		Model: b.opts.ModelName, Curve: []QiniPoint{}}
	if b.opts.Scores == nil {
		r.Status = StatusNoModel
		r.Message = "no uplift model: no uplift scores were supplied for these accounts"
		return r
	}
	var y, score []float64
	var treated []bool
	for _, a := range b.population(&f, to) {
		arm := b.arm(a)
		if arm == Unassigned {
			continue
		}
		s, ok := b.opts.Scores(&a.Account)
		if !ok {
			r.Unscored++
			continue
		}
		st := a.stats(&f, from, to)
		paid := 0.0
		if st.payments > 0 {
			paid = 1
		}
		y, score, treated = append(y, paid), append(score, s), append(treated, arm == Treatment)
		if arm == Treatment {
			r.Treatment++
		} else {
			r.Holdout++
		}
	}
	if m := b.opts.MinAccounts; r.Treatment < m || r.Holdout < m {
		r.Status = StatusNotEnoughData
		r.Message = fmt.Sprintf("not enough data: %d scored treatment and %d scored holdout accounts; each arm needs at least %d", r.Treatment, r.Holdout, m)
		return r
	}
	curve, err := metrics.QiniCurve(y, score, treated)
	if err != nil {
		r.Status = StatusNotEnoughData
		r.Message = "not enough data: " + err.Error()
		return r
	}
	q, err := metrics.QiniAUC(y, score, treated)
	if err != nil {
		r.Status = StatusNotEnoughData
		r.Message = "not enough data: " + err.Error()
		return r
	}
	r.Status = StatusOK
	r.Qini = num(q, true)
	n := len(curve.X) - 1
	total, end := curve.X[n], curve.Y[n]
	step := max(1, n/100)
	for i := 0; i <= n; i += step {
		r.Curve = append(r.Curve, qiniPoint(curve.X[i], curve.Y[i], total, end))
		if i != n && i+step > n {
			r.Curve = append(r.Curve, qiniPoint(curve.X[n], curve.Y[n], total, end))
		}
	}
	return r
}

func qiniPoint(x, y, total, end float64) QiniPoint {
	// +0 turns -0 (a negative end times zero) into 0.
	return QiniPoint{Targeted: int(x), Share: x / total, Incremental: y + 0, Random: end*x/total + 0}
}
