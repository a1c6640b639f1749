package main

import (
	"fmt"
	"time"
	_ "time/tzdata" // zones load on a bare machine

	"github.com/spf13/cobra"

	"github.com/engagehq/engage/datasets/synth"
	"github.com/engagehq/engage/progress"
)

func init() {
	o := synth.DefaultOptions()
	var out, start string
	cmd := &cobra.Command{
		Use:   "synth",
		Short: "Generate a synthetic debtor world with hidden ground truth (four Parquet files)",
		Long: `Generate accounts.parquet, events.parquet, decisions.parquet and truth.parquet:
accounts across real jurisdictions and zones, a history played by an exploring
business-as-usual policy with logged propensities, and the hidden preferences
(truth.parquet: for evaluation only, never for training). Same seed, same bytes.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return fmt.Errorf("--out is required")
			}
			t, err := time.Parse(time.DateOnly, start)
			if err != nil {
				return fmt.Errorf("--start %q: want YYYY-MM-DD: %w", start, err)
			}
			o.Start = t.UTC()
			began := time.Now()
			w, err := synth.New(o)
			if err != nil {
				return err
			}
			bar := progress.New(cmd.ErrOrStderr(), int64(o.Accounts), "synth", "accounts")
			st, err := w.WriteDirStats(cmd.Context(), out, func(done, _ int) { _ = bar.Set(done) })
			_ = bar.Finish()
			if err != nil {
				return fmt.Errorf("synth: %w", err)
			}
			perAcc := 0.0
			if st.Accounts > 0 {
				perAcc = float64(st.Events) / float64(st.Accounts)
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(),
				"wrote %s: %d accounts, %d events (%.1f per account), %d decisions, %d payments, liquidation %.1f%% in %s\n",
				out, st.Accounts, st.Events, perAcc, st.Decisions, st.Payments, 100*st.LiquidationRate(),
				time.Since(began).Round(10*time.Millisecond))
			return err
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.Accounts, "accounts", o.Accounts, "number of referred accounts")
	f.IntVar(&o.Days, "days", o.Days, "days of history")
	f.Uint64Var(&o.Seed, "seed", o.Seed, "world seed (same seed, same bytes)")
	f.StringVar(&out, "out", "", "output directory")
	f.StringVar(&start, "start", o.Start.Format(time.DateOnly), "first day (UTC)")
	f.StringVar(&o.Tenant, "tenant", o.Tenant, "tenant written on every row")
	f.Float64Var(&o.HoldoutShare, "holdout", o.HoldoutShare, "share of accounts in the BAU holdout")
	f.IntVar(&o.Workers, "workers", 0, "generation workers (0 = GOMAXPROCS); never changes the bytes")
	datasetsCmd.AddCommand(cmd)
}
