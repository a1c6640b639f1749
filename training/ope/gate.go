package ope

import (
	"fmt"
	"io"
	"math"
	"text/tabwriter"
)

// GateRule says how sure the log must be that a candidate beats the baseline
// before it may be promoted.
type GateRule string

const (
	// GatePoint passes when the candidate's lower confidence bound exceeds the
	// baseline's point estimate: the candidate is better than the baseline's
	// best guess even in its own pessimistic case. The default.
	GatePoint GateRule = "point"
	// GateUpper passes when the candidate's lower bound exceeds the baseline's
	// upper bound: non-overlapping intervals, the strictest rule.
	GateUpper GateRule = "upper"
	// GatePaired passes when the lower bound of the paired difference
	// (Difference: candidate − baseline, row by row on the same log) is above
	// 0. It accounts for the two estimates sharing rows, so it is the
	// statistically sound test of "better"; it needs the paired estimate.
	GatePaired GateRule = "paired"
)

// GateOptions configure Gate.
type GateOptions struct {
	// Rule is the comparison (default GatePoint).
	Rule GateRule
	// Estimator is the estimate compared (default DR; IPS when the reports have
	// no DR).
	Estimator string
	// MinESS refuses a candidate whose effective sample size is below it: with
	// few effective rows the normal intervals are not to be trusted.
	MinESS float64
}

// DefaultGateOptions compare DR estimates with the point rule and require an
// effective sample size of at least 100.
func DefaultGateOptions() GateOptions {
	return GateOptions{Rule: GatePoint, Estimator: DR, MinESS: 100}
}

// Verdict is the gate's answer.
type Verdict struct {
	Pass   bool
	Reason string
}

// Gate decides whether the candidate may replace the baseline. diff is the
// paired difference (candidate − baseline) with the same estimator; it is
// required by GatePaired and ignored otherwise.
func Gate(cand, base Report, diff *Estimate, o GateOptions) Verdict {
	if o.Rule == "" {
		o.Rule = GatePoint
	}
	name := o.Estimator
	if name == "" {
		name = DR
	}
	c, ok := cand.Get(name)
	b, ok2 := base.Get(name)
	if !ok || !ok2 {
		return Verdict{false, fmt.Sprintf("refused: no %s estimate for both policies (a reward model is needed for DR)", name)}
	}
	if cand.ESS < o.MinESS {
		return Verdict{false, fmt.Sprintf("refused: candidate effective sample size %.1f is below %.0f; its interval cannot be trusted (explore more, or evaluate on more rows)", cand.ESS, o.MinESS)}
	}
	if math.IsNaN(c.CI.Lo) {
		return Verdict{false, fmt.Sprintf("refused: candidate %s estimate is undefined", name)}
	}
	switch o.Rule {
	case GatePoint:
		if c.CI.Lo > b.Value {
			return Verdict{true, fmt.Sprintf("pass: candidate %s lower bound %.6g > baseline %s estimate %.6g", name, c.CI.Lo, name, b.Value)}
		}
		return Verdict{false, fmt.Sprintf("refused: candidate %s lower bound %.6g is not above baseline %s estimate %.6g", name, c.CI.Lo, name, b.Value)}
	case GateUpper:
		if c.CI.Lo > b.CI.Hi {
			return Verdict{true, fmt.Sprintf("pass: candidate %s lower bound %.6g > baseline %s upper bound %.6g", name, c.CI.Lo, name, b.CI.Hi)}
		}
		return Verdict{false, fmt.Sprintf("refused: candidate %s lower bound %.6g is not above baseline %s upper bound %.6g", name, c.CI.Lo, name, b.CI.Hi)}
	case GatePaired:
		if diff == nil {
			return Verdict{false, "refused: the paired rule needs the paired difference"}
		}
		if diff.CI.Lo > 0 {
			return Verdict{true, fmt.Sprintf("pass: paired %s difference %.6g, lower bound %.6g > 0", name, diff.Value, diff.CI.Lo)}
		}
		return Verdict{false, fmt.Sprintf("refused: paired %s difference %.6g has lower bound %.6g, not above 0", name, diff.Value, diff.CI.Lo)}
	}
	return Verdict{false, fmt.Sprintf("refused: unknown gate rule %q (point, upper or paired)", o.Rule)}
}

// WriteTable prints reports side by side: one line per policy and estimator
// with value, interval (and bootstrap interval when computed), and the weight
// diagnostics of each policy.
func WriteTable(w io.Writer, names []string, reps []Report, level float64) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "policy\testimator\tvalue\tse\t%.0f%% CI\tbootstrap CI\tESS\tmax w\tmean w\t\n", 100*level)
	for k, r := range reps {
		for _, e := range r.Estimates {
			boot := "-"
			if !math.IsNaN(e.Boot.Lo) {
				boot = fmt.Sprintf("[%.5f, %.5f]", e.Boot.Lo, e.Boot.Hi)
			}
			fmt.Fprintf(tw, "%s\t%s\t%.5f\t%.5f\t[%.5f, %.5f]\t%s\t%.1f\t%.3g\t%.3f\t\n",
				names[k], e.Name, e.Value, e.SE, e.CI.Lo, e.CI.Hi, boot, r.ESS, r.MaxWeight, r.MeanWeight)
		}
	}
	return tw.Flush()
}
