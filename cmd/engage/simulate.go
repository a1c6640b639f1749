package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/engagehq/engage/serving/simulate"
)

func init() {
	o := simulate.DefaultOptions()
	var (
		out, server string
		seeds       []uint
		quiet       bool
	)
	cmd := &cobra.Command{
		Use:   "simulate [--accounts N --days D --seeds 1,2,3 --policies bau,random,model,oracle] [--out bench/results/simulate.md]",
		Short: "Play the synthetic world day by day through the decision engine and firewall, per policy",
		Long: `Play the synthetic debtor world (datasets/synth) day by day through engage's
decision engine and compliance firewall, in process: each day at 07:00 local
every eligible account gets a decision, the chosen contact is re-checked at its
send instant and played against the world, and the outcome events flow back into
the online features and the contact ledger. The model policy starts from a model
trained on a separate BAU history, is retrained every --retrain-every days on the
simulation's own logs and promoted through a registry in a temporary directory.

Policies: bau (synth's business-as-usual schedule through the firewall), random
(a uniformly random permitted action), model (the engine with the promoted model)
and oracle (the argmax of the hidden truth among permitted actions: the ceiling).

Prints, and writes to --out (Markdown) and its .json sibling, a table per policy
and seed: liquidation rate, uplift vs bau with a 95% bootstrap CI, contacts per
payment, complaints per million contacts, opt-outs per contact, violations found
by an independent re-check of every contact (must be 0) and decisions per second;
plus the off-policy validation (--ope): IPS/SNIPS estimates of a policy from
another's logs against its value measured by running it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if server != "" {
				return fmt.Errorf("--server: playing over HTTP is not implemented yet; run in process (without --server)")
			}
			o.Seeds = o.Seeds[:0]
			for _, s := range seeds {
				o.Seeds = append(o.Seeds, uint64(s))
			}
			if !quiet {
				o.Progress = os.Stderr
			}
			rep, err := simulate.Run(cmd.Context(), o)
			if err != nil {
				return err
			}
			command := "engage " + strings.Join(os.Args[1:], " ")
			fmt.Fprint(cmd.OutOrStdout(), rep.Markdown(command))
			if out != "" {
				if err := rep.Write(out, command); err != nil {
					return err
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s and its .json\n", out)
			}
			if n := violations(rep); n > 0 {
				return fmt.Errorf("%d compliance violations found by the independent check", n)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.Accounts, "accounts", o.Accounts, "accounts in the world")
	f.IntVar(&o.Days, "days", o.Days, "days simulated")
	f.UintSliceVar(&seeds, "seeds", []uint{1, 2, 3}, "world seeds (each policy is played on each)")
	f.StringSliceVar(&o.Policies, "policies", o.Policies, "policies to play (bau is always played: the baseline)")
	f.IntVar(&o.Cadence, "cadence", o.Cadence, "fewest days between two contacts of random, model and oracle (0: 2/3/4 by balance, like bau)")
	f.Float64Var(&o.Epsilon, "epsilon", o.Epsilon, "the engine's exploration share in the model policy")
	f.IntVar(&o.RetrainEvery, "retrain-every", o.RetrainEvery, "retrain the model every N days (0: never)")
	f.IntVar(&o.PretrainAccounts, "pretrain-accounts", o.PretrainAccounts, "accounts of the separate BAU history the first model is trained on")
	f.IntVar(&o.PretrainDays, "pretrain-days", o.PretrainDays, "days of that history")
	f.IntVar(&o.TrainAccounts, "train-accounts", o.TrainAccounts, "accounts sampled for each retraining")
	f.IntVar(&o.TrainRows, "train-rows", o.TrainRows, "rows each retraining fits on at most")
	f.IntVar(&o.GBDTIter, "gbdt-iter", o.GBDTIter, "boosting rounds per fit at most")
	f.StringVar(&o.Target, "target", o.Target, "outcome the model predicts (engaged_48h, paid_7d, ...)")
	f.IntVar(&o.Bootstrap, "bootstrap", o.Bootstrap, "bootstrap resamples of the uplift intervals")
	f.BoolVar(&o.OPE, "ope", o.OPE, "run the off-policy validation")
	f.Float64Var(&o.OPEEpsilon, "ope-epsilon", o.OPEEpsilon, "the validation target's exploration share")
	f.IntVar(&o.Workers, "workers", 0, "workers simulating account shards (0: all cores)")
	f.StringVar(&out, "out", "", "write the Markdown report here (and the JSON beside it)")
	f.StringVar(&server, "server", "", "play against a running engage server (not implemented yet)")
	f.BoolVar(&quiet, "quiet", false, "no progress bar")
	root.AddCommand(cmd)
}

func violations(r *simulate.Report) int {
	n := 0
	for _, x := range r.Results {
		n += x.Violations
	}
	return n
}
