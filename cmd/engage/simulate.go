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
		out, keyFile string
		seeds        []uint
		quiet        bool
	)
	cmd := &cobra.Command{
		Use:   "simulate [--accounts N --days D --seeds 1,2,3 --policies bau,random,model,oracle] [--server URL --registry DIR] [--out bench/results/simulate.md]",
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

Engine options of the model policy: --all-hours scores every permitted local hour
of the next 24 hours per channel (coordinate search) instead of the profile's 2
best; --convert paid_7d|paid_30d chains a second model, P(payment | engaged), and
ranks by P(engaged) x P(payment | engaged) x balance; --min-p P contacts only when
the best action's predicted probability is at least P. All are off by default
(see the package doc of serving/simulate for the measurements behind that).

With --server URL the model policy is played through a running engage server
over HTTP instead: accounts are referred with POST /v1/referrals as they arrive,
every event the world draws is sent with POST /v1/events once its instant has
passed, and each day's decisions come from POST /v1/decisions in batches
(--batch). With --registry (the server's own --registry directory) the first
model and every retrained one are written there and put in service with POST
/v1/models/{version}/promote; without it the server's promoted model plays
throughout. The API key (scopes referrals, events, decisions; admin to promote)
comes from ENGAGE_API_KEY or --api-key-file, never from a flag. The engine
options (holdout, exploration, scoring budget) are then the server's: for a run
comparable with the in-process one start it with
  engage serve --data DIR --registry DIR --holdout 0 --epsilon 0.05 --budget 1s
bau, random, oracle, the off-policy validation and the compliance re-check still
run in process. Ids sent are prefixed with --run-id (default: from the clock) so
runs and seeds do not collide in the server's store.

Prints, and writes to --out (Markdown) and its .json sibling, a table per policy
and seed: liquidation rate, uplift vs bau with a 95% bootstrap CI, contacts per
payment, complaints per million contacts, opt-outs per contact, violations found
by an independent re-check of every contact (must be 0) and decisions per second;
plus the off-policy validation (--ope): IPS/SNIPS estimates of a policy from
another's logs against its value measured by running it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := remoteFlags(cmd, &o.Remote, keyFile); err != nil {
				return err
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
			fmt.Fprint(cmd.OutOrStdout(), rep.Render(command))
			if out != "" {
				if err := rep.WriteRendered(out, command); err != nil {
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
	f.BoolVar(&o.AllHours, "all-hours", o.AllHours, "model policy: score every permitted local hour of the next 24 hours per channel, not the profile's 2 best")
	f.StringVar(&o.Convert, "convert", o.Convert, "model policy: chain a P(payment | engaged) model of this outcome (paid_7d or paid_30d); empty: off")
	f.Float64Var(&o.MinP, "min-p", o.MinP, "model policy: no contact when the best action's predicted probability is below this (0: off; in [0, 1])")
	f.StringVar(&o.MessageTarget, "message-target", o.MessageTarget, "model policy: choose the message by a second model of this payment outcome (paid_7d or paid_30d) fitted on the engaged contacts; empty: off")
	f.BoolVar(&o.LateResponses, "late-responses", o.LateResponses, "model policy: scale each channel's engagement by its responses within 7 days over those within 48 h (letters are answered days later)")
	f.Float64Var(&o.ExploreBonus, "explore-bonus", o.ExploreBonus, "model policy: optimism bonus b / sqrt(1 + sends on the channel) added to P (0: off)")
	f.IntVar(&o.Bootstrap, "bootstrap", o.Bootstrap, "bootstrap resamples of the uplift intervals")
	f.BoolVar(&o.OPE, "ope", o.OPE, "run the off-policy validation")
	f.Float64Var(&o.OPEEpsilon, "ope-epsilon", o.OPEEpsilon, "the validation target's exploration share")
	f.IntVar(&o.Workers, "workers", 0, "workers simulating account shards (0: all cores)")
	f.StringVar(&out, "out", "", "write the Markdown report here (and the JSON beside it)")
	f.StringVar(&o.Remote.URL, "server", "", "play the model policy through the engage server at this URL (http://host:port) over HTTP")
	f.StringVar(&o.Remote.Registry, "registry", "", "with --server: the server's registry directory, to put (re)trained models in service (empty: the server's model plays throughout)")
	f.StringVar(&o.Remote.RunID, "run-id", "", "with --server: prefix of the account and event ids sent (default: sim<UTC time>)")
	f.IntVar(&o.Remote.Batch, "batch", 1000, "with --server: most rows (accounts, events) per request")
	f.StringVar(&keyFile, "api-key-file", "", "with --server: file holding the API key (default: the "+envAPIKey+" environment variable)")
	f.BoolVar(&quiet, "quiet", false, "no progress bar")
	root.AddCommand(cmd)
}

// envAPIKey holds the API key of simulate --server (a flag would show in ps).
const envAPIKey = "ENGAGE_API_KEY"

// remoteFlags checks the flags of --server and reads the API key.
func remoteFlags(cmd *cobra.Command, r *simulate.Remote, keyFile string) error {
	f := cmd.Flags()
	if r.URL == "" {
		for _, n := range []string{"registry", "run-id", "batch", "api-key-file"} {
			if f.Changed(n) {
				return fmt.Errorf("--%s needs --server", n)
			}
		}
		return nil
	}
	for _, n := range []string{"epsilon", "all-hours", "min-p", "convert"} {
		if f.Changed(n) {
			return fmt.Errorf("--%s: with --server the engine is the server's (set exploration with engage serve --epsilon; --all-hours, --min-p and --convert are in-process only)", n)
		}
	}
	if r.Batch <= 0 {
		return fmt.Errorf("--batch %d: must be positive", r.Batch)
	}
	if keyFile != "" {
		b, err := os.ReadFile(keyFile)
		if err != nil {
			return fmt.Errorf("--api-key-file: %w", err)
		}
		r.APIKey = strings.TrimSpace(string(b))
		if r.APIKey == "" {
			return fmt.Errorf("--api-key-file %s is empty", keyFile)
		}
		return nil
	}
	if r.APIKey = strings.TrimSpace(os.Getenv(envAPIKey)); r.APIKey == "" {
		return fmt.Errorf("--server needs an API key: set %s or pass --api-key-file", envAPIKey)
	}
	return nil
}

func violations(r *simulate.Report) int {
	n := 0
	for _, x := range r.Results {
		n += x.Violations
	}
	return n
}
