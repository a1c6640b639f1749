package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/engagehq/engage/models/action"
	"github.com/engagehq/engage/models/registry"
	"github.com/engagehq/engage/progress"
	"github.com/engagehq/engage/training/ope"
)

func init() {
	var (
		data, reg, cand, base, rewardCol, rewardModel, rule string
		eps, clip, minESS                                   float64
		bootstrap, workers, rows                            int
		seed                                                uint64
		gate, skipInvalid                                   bool
	)
	cmd := &cobra.Command{
		Use:   "evaluate --data X.parquet --registry DIR --candidate VERSION --reward paid_7d",
		Short: "Off-policy evaluation of a candidate model on logged decisions (IPS, SNIPS, DR)",
		Long: `Estimate, from logged decisions with propensities, the mean reward per decision
the candidate model would earn, before it contacts anyone. The candidate policy
is ε-greedy over the logged action grid (channel × local hour × message levels
the log took, restricted per row to consented, not opted-out channels) by the
candidate's score; the baseline is the same for the baseline model (default:
the promoted one), or the logging policy itself (its mean observed reward) when
no other version is in service or --baseline logging is given.

Estimators: IPS, SNIPS, DM and DR (DR/DM need a reward model: the first of
--reward-model, the candidate, the baseline whose target is --reward), with
95% normal intervals from per-row terms, optional percentile bootstrap, the
effective sample size and the weight diagnostics.

--gate exits non-zero unless the candidate passes --gate-rule:
  point  (default) candidate DR lower bound > baseline DR point estimate
  upper            candidate DR lower bound > baseline DR upper bound
  paired           lower bound of the paired DR difference (same rows) > 0
and its effective sample size is at least --min-ess.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if data == "" || reg == "" || cand == "" || rewardCol == "" {
				return errors.New("--data, --registry, --candidate and --reward are required")
			}
			if err := evaluateFlags(cmd, rule, eps, clip, minESS, bootstrap, rows); err != nil {
				return err
			}
			began := time.Now()
			log, err := ope.ReadLog(data, ope.LogOptions{Reward: rewardCol, SkipInvalid: skipInvalid})
			if err != nil {
				return err
			}
			log.Subsample(rows, seed)
			r, err := action.Open(reg)
			if err != nil {
				return err
			}
			load := func(v string) (*ope.ModelSpec, string, error) {
				m, err := action.Load(r, v)
				if err != nil {
					return nil, "", fmt.Errorf("load %s: %w", v, err)
				}
				return &ope.ModelSpec{Name: m.Version, Model: m, Features: m.Features}, m.Target, nil
			}
			cs, cTarget, err := load(cand)
			if err != nil {
				return err
			}
			var bs *ope.ModelSpec
			bTarget := ""
			switch base {
			case "logging":
			case "":
				v, err := r.Promoted()
				switch {
				case errors.Is(err, registry.ErrEmpty):
				case err != nil:
					return err
				case v.Name != cs.Name:
					if bs, bTarget, err = load(v.Name); err != nil {
						return err
					}
				}
			default:
				if bs, bTarget, err = load(base); err != nil {
					return err
				}
			}
			var rs *ope.ModelSpec
			switch {
			case rewardModel == "none":
			case rewardModel != "":
				var tgt string
				if rs, tgt, err = load(rewardModel); err != nil {
					return err
				}
				if tgt != rewardCol {
					fmt.Fprintf(cmd.ErrOrStderr(), "warning: reward model %s predicts %s, not %s\n", rs.Name, tgt, rewardCol)
				}
			case cTarget == rewardCol:
				rs = cs
			case bs != nil && bTarget == rewardCol:
				rs = bs
			default:
				return fmt.Errorf("no reward model for DR: the candidate predicts %s, not %s; pass --reward-model VERSION (a model of %s) or --reward-model none (IPS and SNIPS only)", cTarget, rewardCol, rewardCol)
			}

			o := ope.CompareOptions{Epsilon: eps, Scorer: ope.DefaultScorerOptions()}
			o.Estimate = ope.DefaultOptions()
			o.Estimate.Clip, o.Estimate.Bootstrap, o.Estimate.Seed, o.Estimate.Workers = clip, bootstrap, seed, workers
			bar := progress.New(cmd.ErrOrStderr(), int64(len(log.Rows)), "evaluate", "rows")
			o.Progress = func(n int) { _ = bar.Add(n) }
			res, err := ope.CompareModels(cmd.Context(), log, cs, bs, rs, o)
			_ = bar.Finish()
			if err != nil {
				return err
			}

			out := cmd.OutOrStdout()
			rn := "none"
			if rs != nil {
				rn = rs.Name
			}
			fmt.Fprintf(out, "log %s: %d rows evaluated (%d censored %s dropped, %d invalid dropped), %d actions (%d parts); reward %s, reward model %s, ε=%g\n",
				data, len(log.Rows), log.Censored, rewardCol, log.Invalid, log.Space.Len(), len(log.Space.Parts), rewardCol, rn, eps)
			names := []string{"candidate " + res.Names[0], "baseline " + res.Names[1]}
			if err := ope.WriteTable(out, names, res.Reports[:], o.Estimate.Level); err != nil {
				return err
			}
			d := res.Diff
			fmt.Fprintf(out, "paired %s difference (candidate − baseline): %+.5f  95%% CI [%+.5f, %+.5f]\n", d.Name, d.Value, d.CI.Lo, d.CI.Hi)
			fmt.Fprintf(out, "done in %s\n", time.Since(began).Round(time.Millisecond))
			if gate {
				g := ope.DefaultGateOptions()
				g.Rule, g.MinESS = ope.GateRule(rule), minESS
				if rs == nil {
					g.Estimator = ope.SNIPS
					if g.Rule == ope.GatePaired {
						g.Estimator = ope.IPS
					}
				}
				v := ope.Gate(res.Reports[0], res.Reports[1], &res.Diff, g)
				fmt.Fprintf(out, "gate (%s): %s\n", rule, v.Reason)
				if !v.Pass {
					return fmt.Errorf("gate: candidate %s not promoted: %s", res.Names[0], v.Reason)
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&data, "data", "", "logged decisions with propensities (Parquet, e.g. X.parquet from features build)")
	f.StringVar(&reg, "registry", "", "model registry directory")
	f.StringVar(&cand, "candidate", "", "candidate model version")
	f.StringVar(&base, "baseline", "", `baseline model version (default: the promoted one; "logging" for the logging policy)`)
	f.StringVar(&rewardCol, "reward", "", "outcome column to evaluate (e.g. paid_7d, engaged_48h)")
	f.StringVar(&rewardModel, "reward-model", "", `model version used as q̂ by DM and DR (default: candidate or baseline predicting --reward; "none" to skip DR)`)
	f.Float64Var(&eps, "epsilon", 0.1, "exploration of the candidate and baseline policies")
	f.Float64Var(&clip, "clip", 0, "also report IPS-clip and DR-clip with weights capped at this value (0: off)")
	f.IntVar(&bootstrap, "bootstrap", 0, "percentile bootstrap resamples (0: normal intervals only)")
	f.Uint64Var(&seed, "seed", 1, "seed of the bootstrap and of --rows")
	f.IntVar(&rows, "rows", 0, "evaluate a uniform random subset of this many rows (0: all); quicker, wider intervals")
	f.IntVar(&workers, "workers", 0, "scoring goroutines (0: all cores)")
	f.BoolVar(&gate, "gate", false, "exit non-zero unless the candidate beats the baseline (see --gate-rule)")
	f.StringVar(&rule, "gate-rule", string(ope.GatePoint), "gate rule: point, upper or paired")
	f.Float64Var(&minESS, "min-ess", ope.DefaultGateOptions().MinESS, "gate: minimum effective sample size of the candidate")
	f.BoolVar(&skipInvalid, "skip-invalid", false, "drop rows with a missing or invalid propensity or action instead of failing")
	root.AddCommand(cmd)
}

// evaluateFlags refuses values the estimators or the gate cannot use, before
// the log is read (a bad --gate-rule would otherwise surface only after the
// whole evaluation, as a refusal).
func evaluateFlags(cmd *cobra.Command, rule string, eps, clip, minESS float64, bootstrap, rows int) error {
	f := cmd.Flags()
	gate, _ := f.GetBool("gate")
	switch {
	case !(eps >= 0 && eps <= 1):
		return fmt.Errorf("--epsilon %v: must be in [0, 1]", eps)
	case !(clip >= 0):
		return fmt.Errorf("--clip %v: must be 0 (off) or positive", clip)
	case bootstrap < 0:
		return fmt.Errorf("--bootstrap %d: must not be negative", bootstrap)
	case rows < 0:
		return fmt.Errorf("--rows %d: must not be negative", rows)
	case !(minESS >= 0):
		return fmt.Errorf("--min-ess %v: must not be negative", minESS)
	}
	switch ope.GateRule(rule) {
	case ope.GatePoint, ope.GateUpper, ope.GatePaired:
	default:
		return fmt.Errorf("--gate-rule %q: want point, upper or paired", rule)
	}
	if !gate && (f.Changed("gate-rule") || f.Changed("min-ess")) {
		return errors.New("--gate-rule and --min-ess only apply with --gate")
	}
	return nil
}
