package simulate

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/engagehq/engage/atomicfile"
)

// Report is a whole simulation: every policy on every seed, the means over
// seeds, and the off-policy validation.
type Report struct {
	Options Options       `json:"-"`
	Started time.Time     `json:"started"`
	Wall    time.Duration `json:"wall_ns"`
	Results []*Result     `json:"results"`
	// Mean is one row per policy, averaged over seeds (uplift CI: the
	// 2.5-97.5% range of the per-seed point uplifts when there are several
	// seeds, else the bootstrap interval).
	Mean []*Result     `json:"mean"`
	OPE  []*Validation `json:"ope,omitempty"`
}

func (r *Report) summarise() {
	r.Mean = nil
	for _, pol := range r.Options.ordered() {
		var rs []*Result
		for _, x := range r.Results {
			if x.Policy == pol {
				rs = append(rs, x)
			}
		}
		if len(rs) == 0 {
			continue
		}
		m := &Result{Policy: pol, ByCurrency: map[string]float64{}}
		k := float64(len(rs))
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, x := range rs {
			m.Referred += x.Referred / k
			m.Collected += x.Collected / k
			m.Liquidation += x.Liquidation / k
			m.Uplift += x.Uplift / k
			m.ContactsPerPayment += x.ContactsPerPayment / k
			m.ComplaintsPerMillion += x.ComplaintsPerMillion / k
			m.OptOutRate += x.OptOutRate / k
			m.EngagedRate += x.EngagedRate / k
			m.DecisionsPerSec += x.DecisionsPerSec / k
			m.Accounts += x.Accounts
			m.Contacts += x.Contacts
			m.Payments += x.Payments
			m.Complaints += x.Complaints
			m.OptOuts += x.OptOuts
			m.Violations += x.Violations
			m.Checked += x.Checked
			m.Decisions += x.Decisions
			m.Dropped += x.Dropped
			m.Wall += x.Wall
			m.TrainTime += x.TrainTime
			m.CheckTime += x.CheckTime
			lo, hi = min(lo, x.UpliftCI[0]), max(hi, x.UpliftCI[1])
			for c, v := range x.ByCurrency {
				m.ByCurrency[c] += v / k
			}
		}
		// The mean's interval: the union of the per-seed bootstrap intervals
		// (conservative; seeds are independent worlds).
		m.UpliftCI = [2]float64{lo, hi}
		r.Mean = append(r.Mean, m)
	}
}

func pct(v float64) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	return fmt.Sprintf("%+.1f%%", 100*v)
}

func row(b *strings.Builder, label string, x *Result) {
	ci := "—"
	if x.Policy != PolicyBAU {
		ci = fmt.Sprintf("[%s, %s]", pct(x.UpliftCI[0]), pct(x.UpliftCI[1]))
	}
	fmt.Fprintf(b, "| %s | %s | %.2f%% | %s | %s | %.3f | %.2f | %.0f | %.3f%% | %d / %d | %d | %.0f |\n",
		label, x.Policy, 100*x.Liquidation, pct(x.Uplift), ci, x.EngagedRate, x.ContactsPerPayment, x.ComplaintsPerMillion,
		100*x.OptOutRate, x.Violations, x.Checked, x.Contacts, x.DecisionsPerSec)
}

// Markdown renders the policy tables, the validation and the reproduction
// command.
func (r *Report) Markdown(command string) string {
	o := &r.Options
	var b strings.Builder
	fmt.Fprintf(&b, "# engage simulate: policies played through the decision engine and firewall\n\n")
	fmt.Fprintf(&b, "Run %s, wall %s. World: synth, %d accounts x %d days from %s, referrals over the first %.0f%% of the period, seeds %v. ",
		r.Started.Format(time.DateOnly), r.Wall.Round(time.Second), o.Accounts, o.Days, o.Start.Format(time.DateOnly), 100*o.ReferralSpread, o.Seeds)
	cad := fmt.Sprintf("%d days", o.Cadence)
	if o.Cadence == 0 {
		cad = "2/3/4 days by balance (like bau)"
	}
	fmt.Fprintf(&b, "Decisions at 07:00 local each day; random/model/oracle at most one contact per %s, paused 10 days after a promise (until a payment) and 14 days after a complaint; bau on synth's own schedule. ", cad)
	fmt.Fprintf(&b, "Model: gbdt of %s (at most %d rounds), first trained on a separate BAU history (%d accounts x %d days, seed + 1000), ", o.Target, o.GBDTIter, o.PretrainAccounts, o.PretrainDays)
	if o.RetrainEvery > 0 {
		fmt.Fprintf(&b, "retrained every %d days on the simulation's own logs (%d sampled accounts, at most %d rows with the pretraining rows) and promoted through a registry; ", o.RetrainEvery, o.TrainAccounts, o.TrainRows)
	}
	if o.Convert != "" {
		fmt.Fprintf(&b, "chained with a gbdt of %s fitted on the engaged rows (EV = P(%s) × P(%s | engaged) × balance left − costs); ", o.Convert, o.Target, o.Convert)
	}
	if o.MessageTarget != "" && o.Convert == "" {
		fmt.Fprintf(&b, "the message chosen by a second gbdt, of %s fitted on the engaged rows (each candidate's P(%s) scaled by its message's P(%s | engaged) relative to the mean over the messages of its slot); ", o.MessageTarget, o.Target, o.MessageTarget)
	}
	if o.LateResponses {
		fmt.Fprintf(&b, "P(%s) of each channel scaled by its late-response factor (responses within 7 days / within 48 hours in the pretraining history: letters are answered by call-backs days later); ", o.Target)
	}
	if o.ExploreBonus > 0 {
		fmt.Fprintf(&b, "an optimism bonus of %g / sqrt(1 + sends on the channel) added to P; ", o.ExploreBonus)
	}
	if o.AllHours {
		fmt.Fprintf(&b, "the engine scores every permitted local hour of the next 24 hours per channel (coordinate search: channel x hour with the reference message, then every message of the 3 best); ")
	} else {
		fmt.Fprintf(&b, "the engine scores the 2 best hours of the debtor's profile per channel; ")
	}
	if o.MinP > 0 {
		fmt.Fprintf(&b, "no contact when the best action's P(%s) < %g; ", o.Target, o.MinP)
	}
	fmt.Fprintf(&b, "engine exploration ε = %g, no holdout.\n\n", o.Epsilon)
	fmt.Fprintf(&b, "Liquidation = payments dated within the period / referred balance, in US cents at fixed rates (%s). ", ratesText())
	fmt.Fprintf(&b, "Uplift vs bau is paired by account on the same world; 95%% CI: percentile bootstrap over accounts (%d resamples) per seed; for the mean, the union of the seeds' intervals. ", o.Bootstrap)
	fmt.Fprintf(&b, "Engaged / contact: share of contacts with an open, click, reply or conversation carrying their decision id. Opt-outs are per contact. Violations: contacts denied by an independent re-check (a second firewall instance, account and ledger rebuilt from the emitted events) / contacts checked. Decisions/s: policy decisions per second of decision time per worker (%d workers).\n\n", o.workers())
	fmt.Fprintf(&b, "| seed | policy | liquidation | uplift vs bau | 95%% CI | engaged / contact | contacts / payment | complaints / M contacts | opt-outs / contact | violations / checked | contacts | decisions/s |\n")
	fmt.Fprintf(&b, "|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, x := range r.Results {
		row(&b, fmt.Sprint(x.Seed), x)
	}
	for _, x := range r.Mean {
		row(&b, "**mean**", x)
	}
	b.WriteString("\n")
	var bau, model, oracle *Result
	for _, x := range r.Mean {
		switch x.Policy {
		case PolicyBAU:
			bau = x
		case PolicyModel:
			model = x
		case PolicyOracle:
			oracle = x
		}
	}
	if bau != nil && model != nil && oracle != nil {
		fmt.Fprintf(&b, "Targets (mean over seeds): model vs bau %s (target >= +20%%); model / oracle liquidation %.1f%% (target >= 90%%); contacts per payment %.2f vs bau %.2f; complaints per M contacts %.0f vs bau %.0f; violations %d in all policies (target 0).\n\n",
			pct(model.Uplift), 100*model.Liquidation/oracle.Liquidation, model.ContactsPerPayment, bau.ContactsPerPayment, model.ComplaintsPerMillion, bau.ComplaintsPerMillion, r.totalViolations())
	}
	fmt.Fprintf(&b, "Per run: wall time, of which training and the independent check; decisions; chosen contacts dropped by the send-time re-check; models promoted.\n\n")
	fmt.Fprintf(&b, "| seed | policy | wall | training | check | decisions | dropped at send | models |\n|---|---|---:|---:|---:|---:|---:|---|\n")
	for _, x := range r.Results {
		fmt.Fprintf(&b, "| %d | %s | %s | %s | %s | %d | %d | %s |\n", x.Seed, x.Policy, x.Wall.Round(time.Second/10), x.TrainTime.Round(time.Second/10), x.CheckTime.Round(time.Second/10), x.Decisions, x.Dropped, strings.Join(x.Models, "; "))
	}
	b.WriteString("\n")
	for _, x := range r.Results {
		for _, e := range x.ViolationExamples {
			fmt.Fprintf(&b, "- violation (%s, seed %d): %s\n", x.Policy, x.Seed, e)
		}
	}
	if len(r.OPE) > 0 {
		v0 := r.OPE[0]
		fmt.Fprintf(&b, "## Off-policy validation\n\nLogger μ: %s. Target π: %s. Reward: %s. Each decision goes to μ or π by a seeded coin independent of the account's state, so both halves see the same distribution of contexts: π's mean reward over its own contacts is its value measured by running it; the estimators use μ's rows only (w = (1−ε)[a = oracle(x)]/μ(a|x) + ε). Target: |estimate − measured| / measured <= 10%%.\n\n", v0.Logger, v0.Target, v0.Reward)
		fmt.Fprintf(&b, "| seed | μ rows | π rows | μ value | π measured (95%% CI) | IPS | SNIPS | rel. error IPS | rel. error SNIPS | ESS | max weight |\n|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|\n")
		for _, v := range r.OPE {
			est := map[string]float64{}
			for _, e := range v.Estimates {
				est[e.Name] = e.Value
			}
			fmt.Fprintf(&b, "| %d | %d | %d | %.4f | %.4f [%.4f, %.4f] | %.4f | %.4f | %.1f%% | %.1f%% | %.0f | %.0f |\n",
				v.Seed, v.LoggerRows, v.TargetRows, v.LoggerValue, v.Measured, v.MeasuredCI[0], v.MeasuredCI[1],
				est["IPS"], est["SNIPS"], 100*v.RelError["IPS"], 100*v.RelError["SNIPS"], v.Diag.ESS, v.Diag.MaxWeight)
		}
		b.WriteString("\n")
	}
	if command != "" {
		fmt.Fprintf(&b, "Reproduce: `%s`\n", command)
	}
	return b.String()
}

func (r *Report) totalViolations() int {
	n := 0
	for _, x := range r.Results {
		n += x.Violations
	}
	return n
}

func ratesText() string {
	var parts []string
	for _, c := range []string{"USD", "CAD", "AUD", "NZD", "GBP"} {
		parts = append(parts, fmt.Sprintf("%s %g", c, Rates[c]))
	}
	return strings.Join(parts, ", ")
}

// Write writes the report as Markdown (path) and JSON (path with .json),
// each to a temporary file renamed into place.
func (r *Report) Write(path, command string) error {
	if err := writeAtomic(path, []byte(r.Markdown(command))); err != nil {
		return err
	}
	j, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	return writeAtomic(strings.TrimSuffix(path, filepath.Ext(path))+".json", j)
}

// writeAtomic writes a result file whole, creating its folder.
func writeAtomic(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return atomicfile.WriteBytes(path, 0o600, b)
}
