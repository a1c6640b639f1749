package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/engagehq/engage/models/action"
	"github.com/engagehq/engage/training"
)

func init() {
	o := training.DefaultPredictOptions()
	var reg, version, data, out string
	cmd := &cobra.Command{
		Use:   "predict",
		Short: "Score a logged-decisions table with a registered model (streaming)",
		Long: `Write every input row, in the same order, with a score column: the calibrated
probability of the model's target (the estimated effect for an uplift model).
The score column has role outcome so it is never taken as a feature. The
default model is the promoted one, or the latest when none was promoted.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if reg == "" || data == "" || out == "" {
				return fmt.Errorf("--registry, --data and --out are required")
			}
			r, err := action.Open(reg)
			if err != nil {
				return err
			}
			began := time.Now()
			m, err := action.Load(r, version)
			if err != nil {
				return err
			}
			loaded := time.Since(began)
			o.Progress = cmd.ErrOrStderr()
			n, err := training.Predict(cmd.Context(), m, data, out, o)
			if err != nil {
				return err
			}
			el := time.Since(began)
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "wrote %s: %d rows scored with %s (%s, target %s; loaded in %s) in %s (%.0f rows/s)\n",
				out, n, m.Version, m.Family, m.Target, loaded.Round(time.Millisecond), el.Round(time.Millisecond), float64(n)/el.Seconds())
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&reg, "registry", "", "model registry directory")
	f.StringVar(&version, "model", "", "model version (default: the promoted one, else the latest)")
	f.StringVar(&data, "data", "", "input logged table (Parquet)")
	f.StringVar(&out, "out", "", "output Parquet file")
	f.StringVar(&o.Column, "column", o.Column, "name of the score column")
	root.AddCommand(cmd)
}
