package main

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/engagehq/engage/features"
	"github.com/engagehq/engage/progress"
)

// featuresCmd groups the commands of the feature definitions' batch driver.
var featuresCmd = &cobra.Command{
	Use:   "features",
	Short: "Turn event histories into point-in-time features (the logged-decisions table)",
}

func init() {
	root.AddCommand(featuresCmd)
	var in features.Inputs
	var out, priorsIn, priorsOut, end string
	o := features.DefaultOptions()
	cmd := &cobra.Command{
		Use:   "build",
		Short: "Build the logged-decisions table X.parquet from accounts, events and decisions",
		Long: `Build writes one row per past decision: the features as of an instant strictly
before the decision, the action taken (channel, local_hour, message), its
propensity, and the outcomes in fixed windows after the send (engaged_48h,
paid_7d, paid_30d, amount_30d, complaint_7d, optout_7d; NaN when the window
reaches past the end of the history). Events must be sorted by (account_id, at)
and decisions grouped by account_id in the same order, as engage writes them.

Population priors are computed from the events in a first pass unless --priors
gives saved ones (use the training set's priors when building a test set); they
are stored in X.parquet's metadata under engage.priors.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			for flag, v := range map[string]string{"--accounts": in.Accounts, "--events": in.Events, "--decisions": in.Decisions, "--out": out} {
				if v == "" {
					return fmt.Errorf("%s is required", flag)
				}
			}
			if priorsIn != "" {
				b, err := os.ReadFile(priorsIn)
				if err != nil {
					return fmt.Errorf("--priors: %w", err)
				}
				if o.Priors, err = features.ParsePriors(b); err != nil {
					return fmt.Errorf("--priors %s: %w", priorsIn, err)
				}
			}
			if end != "" {
				t, err := time.Parse(time.RFC3339, end)
				if err != nil {
					return fmt.Errorf("--end %q: want RFC 3339 (2026-04-01T00:00:00Z): %w", end, err)
				}
				o.End = t.UnixMicro()
			}
			bar := progress.New(cmd.ErrOrStderr(), -1, "features", "events")
			o.Progress = func(done, total int64) {
				if bar.GetMax64() != total {
					bar.ChangeMax64(total)
				}
				_ = bar.Set64(done)
			}
			began := time.Now()
			sum, err := features.Build(cmd.Context(), in, out, o)
			_ = bar.Finish()
			if err != nil {
				return fmt.Errorf("features build: %w", err)
			}
			if priorsOut != "" {
				b, err := sum.Priors.JSON()
				if err != nil {
					return err
				}
				if err := os.WriteFile(priorsOut, b, 0o644); err != nil {
					return fmt.Errorf("--priors-out: %w", err)
				}
			}
			d := time.Since(began)
			_, err = fmt.Fprintf(cmd.OutOrStdout(),
				"wrote %s: %d rows (%d with a censored outcome) from %d accounts and %d events in %s (%.2f M events/s)\n",
				out, sum.Decisions, sum.Censored, sum.Accounts, sum.Events, d.Round(10*time.Millisecond),
				float64(sum.Events)/d.Seconds()/1e6)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&in.Accounts, "accounts", "", "accounts.parquet")
	f.StringVar(&in.Events, "events", "", "events.parquet, sorted by (account_id, at)")
	f.StringVar(&in.Decisions, "decisions", "", "decisions.parquet, grouped by account_id")
	f.StringVar(&out, "out", "", "output logged-decisions table (X.parquet)")
	f.StringVar(&priorsIn, "priors", "", "read priors from this JSON file instead of computing them")
	f.StringVar(&priorsOut, "priors-out", "", "also write the priors used to this JSON file")
	f.StringVar(&end, "end", "", "end of the history for censoring outcomes (default: latest event or decision)")
	f.Float64Var(&o.PriorOptions.RateStrength, "rate-strength", o.PriorOptions.RateStrength, "Beta prior weight of rates, in contacts")
	f.Float64Var(&o.PriorOptions.ProfileStrength, "profile-strength", o.PriorOptions.ProfileStrength, "weight of the segment hour-of-week profile, in engagements")
	featuresCmd.AddCommand(cmd)
}
