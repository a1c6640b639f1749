package reports

import (
	"fmt"
	"strings"
	"time"

	"github.com/engagehq/engage/models/metrics"
)

// StatusError marks a report whose model could not be loaded or run; the
// message says why.
const StatusError = "error"

// Evaluation kinds of the model-uplift report.
const (
	// EvalOutOfSample: only decisions after the model's training cut-off.
	EvalOutOfSample = "out_of_sample"
	// EvalInSample: the period has no decision after the cut-off, so the
	// figures are on decisions the model was fitted on (optimistic).
	EvalInSample = "in_sample"
	// EvalUnknown: the cut-off is unknown (a random split, outside scores).
	EvalUnknown = "unknown"
)

// ModelUpliftReport is the Qini curve and coefficient of an uplift model: does
// treating the units with the highest predicted uplift first gain more
// responders than treating at random?
//
// With Options.Uplift (a registered model) the units are the period's logged
// decisions: a decision is treated when its treatment field (say, message)
// has the arm's level and a control when it has the control level, its
// outcome is the model's (say, paid_7d, from the decision's logged outcome
// window), and its score is the model's effect from the decision's
// point-in-time features. Only decisions after the model's training cut-off
// count when the period has any (Evaluation says which). With Options.Scores
// (an outside scores file) the units are accounts, treated ones are the
// treatment arm against the holdout, and the outcome is "paid at least once
// in the period".
type ModelUpliftReport struct {
	Report  string    `json:"report"`
	Filter  Filter    `json:"filter"`
	From    time.Time `json:"from"`
	To      time.Time `json:"to"`
	Status  string    `json:"status"`
	Message string    `json:"message,omitempty"`
	// Note says plainly what the figures were computed on.
	Note   string `json:"note,omitempty"`
	Model  string `json:"model,omitempty"`
	Method string `json:"method,omitempty"`
	// Unit is what is ranked and counted: "decision" or "account".
	Unit string `json:"unit,omitempty"`
	// Treatment is the field whose levels are the arms, Control its control
	// level, Arm the treatment level of the headline figures (the model's
	// first non-control arm; every arm is in Arms), Outcome the response.
	Treatment string `json:"treatment,omitempty"`
	Control   string `json:"control,omitempty"`
	Arm       string `json:"arm,omitempty"`
	Outcome   string `json:"outcome,omitempty"`
	// Evaluation is EvalOutOfSample, EvalInSample or EvalUnknown;
	// FittedThrough the model's training cut-off, when known.
	Evaluation    string     `json:"evaluation,omitempty"`
	FittedThrough *time.Time `json:"fitted_through,omitempty"`
	// Treated and Controls count the units of the headline comparison.
	Treated  int `json:"treated_units"`
	Controls int `json:"control_units"`
	// Left out: decisions the model may have been fitted on (out-of-sample
	// evaluation), decisions whose outcome window was still open at the end
	// of the data, accounts without a score (scores file).
	InTraining int `json:"in_training_units"`
	Censored   int `json:"censored_units"`
	Unscored   int `json:"unscored_units"`
	// Qini is the Qini coefficient (sklift's qini_auc_score) and AUUC the
	// normalised area under the uplift curve (uplift_auc_score): 0 is random
	// targeting, 1 perfect, negative worse than random.
	Qini *float64 `json:"qini_coefficient"`
	AUUC *float64 `json:"auuc"`
	// Curve is the Qini curve of the headline arm, at most 101 points from
	// (0, 0).
	Curve []QiniPoint `json:"curve"`
	// Arms has the figures of every treatment arm against the control.
	Arms []ArmQini `json:"arms"`
}

// ArmQini is one treatment arm's figures against the control.
type ArmQini struct {
	Arm      string   `json:"arm"`
	Status   string   `json:"status"`
	Treated  int      `json:"treated_units"`
	Controls int      `json:"control_units"`
	Qini     *float64 `json:"qini_coefficient"`
	AUUC     *float64 `json:"auuc"`
}

// QiniPoint is one point of a Qini curve.
type QiniPoint struct {
	// Targeted units (best predicted uplift first) and their share.
	Targeted int     `json:"targeted"`
	Share    float64 `json:"share"`
	// Incremental responders: Y_T - Y_C × N_T/N_C among the targeted.
	Incremental float64 `json:"incremental"`
	// Random is the random-targeting line at the same share.
	Random float64 `json:"random"`
}

// ModelUplift computes the model-uplift report from Options.Uplift, else
// Options.Scores; with neither it says there is no model.
func (b *Book) ModelUplift(f Filter) *ModelUpliftReport {
	from, to := b.bounds(&f)
	r := &ModelUpliftReport{Report: "model-uplift", Filter: f, From: time.UnixMicro(from).UTC(), To: time.UnixMicro(to).UTC(),
		Curve: []QiniPoint{}, Arms: []ArmQini{}}
	switch {
	case b.opts.Uplift != nil:
		b.modelUpliftDecisions(r, &f, from, to)
	case b.opts.Scores != nil:
		b.modelUpliftAccounts(r, &f, from, to)
	default:
		r.Status = StatusNoModel
		r.Message = "no uplift model: none is registered and no uplift scores were supplied"
	}
	return r
}

// noUpliftModel is the message of a registry without an uplift model.
const noUpliftModel = "no uplift model: the model registry holds none yet. Train one on the logged decisions, e.g. " +
	"engage train --data X.parquet --target paid_7d --uplift-treatment message --control friendly_reminder --registry DIR"

func (b *Book) modelUpliftDecisions(r *ModelUpliftReport, f *Filter, from, to int64) {
	r.Unit = "decision"
	sc, err := b.opts.Uplift()
	if err != nil {
		r.Status, r.Message = StatusError, "the uplift model could not be loaded: "+err.Error()
		return
	}
	if sc == nil {
		r.Status, r.Message = StatusNoModel, noUpliftModel
		return
	}
	s := b.uplift(sc, false)
	d := s.desc
	r.Model, r.Method, r.Treatment, r.Outcome = d.Name, d.Method, d.Treatment, d.Outcome
	if len(d.Arms) >= 2 {
		r.Control, r.Arm = d.Arms[0], d.Arms[1]
	}
	if s.err != nil {
		r.Status, r.Message = StatusError, fmt.Sprintf("scoring the logged decisions with uplift model %s failed: %v", d.Name, s.err)
		return
	}
	known := !d.FittedThrough.IsZero()
	if known {
		t := d.FittedThrough.UTC()
		r.FittedThrough = &t
	}
	in := make([]bool, len(b.accounts))
	for i, a := range b.accounts {
		in[i] = a.ReferredAt < to && f.matchAccount(&a.Account)
	}
	// pick returns the rows of s in the report's slice with a known outcome,
	// counting the censored ones.
	pick := func(s *scored, censored *int) []int {
		var out []int
		for i := range s.rows {
			x := &s.rows[i]
			if x.at < from || x.at >= to || !in[x.acct] || !f.matchChannel(x.ch) {
				continue
			}
			if x.y < 0 {
				*censored++
				continue
			}
			out = append(out, i)
		}
		return out
	}
	var after []int
	for _, i := range pick(s, &r.Censored) {
		if s.rows[i].e >= 0 {
			after = append(after, i)
		} else {
			r.InTraining++
		}
	}
	use := after
	switch {
	case !known:
		r.Evaluation = EvalUnknown
		r.Note = fmt.Sprintf("The training cut-off of model %s is unknown (it was not fitted on a time split): these figures may include decisions it was fitted on.", d.Name)
	case len(after) > 0:
		r.Evaluation = EvalOutOfSample
		r.Note = fmt.Sprintf("Out of sample: decisions after the model's training cut-off %s (the start of its test split); %d earlier decisions of the period, which it may have been fitted on, are left out.",
			d.FittedThrough.UTC().Format(time.RFC3339), r.InTraining)
	default:
		r.Evaluation, r.InTraining = EvalInSample, 0
		if s = b.uplift(sc, true); s.err != nil {
			r.Status, r.Message = StatusError, fmt.Sprintf("scoring the logged decisions with uplift model %s failed: %v", d.Name, s.err)
			return
		}
		var ignored int
		use = pick(s, &ignored)
		r.Note = fmt.Sprintf("In-sample: the period has no decision after the model's training cut-off %s, so these figures are on decisions the model may have been fitted on and flatter it.",
			d.FittedThrough.UTC().Format(time.RFC3339))
	}
	na := len(d.Arms) - 1
	for a := 1; a <= na; a++ {
		var y, score []float64
		var treated []bool
		for _, i := range use {
			x := &s.rows[i]
			if int(x.arm) != 0 && int(x.arm) != a {
				continue
			}
			y, score, treated = append(y, float64(x.y)), append(score, s.eff[int(x.e)+a-1]), append(treated, int(x.arm) == a)
		}
		ar := b.qini(d.Arms[a], y, score, treated)
		r.Arms = append(r.Arms, ar.ArmQini)
		if a == 1 {
			r.Treated, r.Controls, r.Qini, r.AUUC, r.Status = ar.Treated, ar.Controls, ar.Qini, ar.AUUC, ar.Status
			r.Curve, r.Message = ar.curve, ar.message
		}
	}
	if r.Status == StatusNotEnoughData && r.Message == "" {
		r.Message = "not enough data"
	}
}

type armResult struct {
	ArmQini
	curve   []QiniPoint
	message string
}

// qini computes one arm's figures, or why it cannot.
func (b *Book) qini(arm string, y, score []float64, treated []bool) armResult {
	r := armResult{ArmQini: ArmQini{Arm: arm}, curve: []QiniPoint{}}
	for _, t := range treated {
		if t {
			r.Treated++
		} else {
			r.Controls++
		}
	}
	if m := b.opts.MinAccounts; r.Treated < m || r.Controls < m {
		r.Status = StatusNotEnoughData
		r.message = fmt.Sprintf("not enough data: %d treated (%s) and %d control units; each side needs at least %d", r.Treated, arm, r.Controls, m)
		return r
	}
	curve, err := metrics.QiniCurve(y, score, treated)
	var q, u float64
	if err == nil {
		q, err = metrics.QiniAUC(y, score, treated)
	}
	if err == nil {
		u, err = metrics.UpliftAUC(y, score, treated)
	}
	if err != nil {
		r.Status, r.message = StatusNotEnoughData, "not enough data: "+err.Error()
		return r
	}
	r.Status, r.Qini, r.AUUC = StatusOK, num(q, true), num(u, true)
	n := len(curve.X) - 1
	total, end := curve.X[n], curve.Y[n]
	step := max(1, n/100)
	for i := 0; i <= n; i += step {
		r.curve = append(r.curve, qiniPoint(curve.X[i], curve.Y[i], total, end))
		if i != n && i+step > n {
			r.curve = append(r.curve, qiniPoint(curve.X[n], curve.Y[n], total, end))
		}
	}
	return r
}

// modelUpliftAccounts evaluates outside per-account scores (Options.Scores)
// against the holdout.
func (b *Book) modelUpliftAccounts(r *ModelUpliftReport, f *Filter, from, to int64) {
	r.Unit, r.Model, r.Evaluation = "account", b.opts.ModelName, EvalUnknown
	r.Treatment, r.Control, r.Arm, r.Outcome = "arm", "holdout", "treatment", "paid in the period"
	r.Note = "Outside scores per account, evaluated treatment arm against holdout; whether the scorer saw this period is not known here."
	var y, score []float64
	var treated []bool
	for _, a := range b.population(f, to) {
		arm := b.arm(a)
		if arm == Unassigned {
			continue
		}
		s, ok := b.opts.Scores(&a.Account)
		if !ok {
			r.Unscored++
			continue
		}
		paid := 0.0
		if a.stats(f, from, to).payments > 0 {
			paid = 1
		}
		y, score, treated = append(y, paid), append(score, s), append(treated, arm == Treatment)
	}
	ar := b.qini("treatment", y, score, treated)
	r.Arms = append(r.Arms, ar.ArmQini)
	r.Treated, r.Controls, r.Qini, r.AUUC, r.Status, r.Curve = ar.Treated, ar.Controls, ar.Qini, ar.AUUC, ar.Status, ar.curve
	r.Message = strings.Replace(ar.message, "control units", "holdout accounts", 1)
	if r.Status == StatusNotEnoughData {
		r.Message = strings.Replace(r.Message, "treated (treatment)", "treatment accounts", 1)
	}
}

func qiniPoint(x, y, total, end float64) QiniPoint {
	// +0 turns -0 (a negative end times zero) into 0.
	return QiniPoint{Targeted: int(x), Share: x / total, Incremental: y + 0, Random: end*x/total + 0}
}
