package main

import (
	"fmt"
	"maps"
	"slices"

	"github.com/spf13/cobra"

	"github.com/engagehq/engage/models/action"
	"github.com/engagehq/engage/training"
)

func init() {
	o := training.DefaultOptions()
	var data, reg, spec string
	var promote bool
	cmd := &cobra.Command{
		Use:   "train",
		Short: "Train, calibrate, evaluate and register a model from a logged-decisions table",
		Long: `Train a model of one outcome of a logged-decisions table (Parquet with engage
column roles, e.g. X.parquet from the features build or an imported data set).
Features are the context and action columns; rows with a missing (censored)
target are dropped. The split is by time when the table has a time column (last
20% test, the 15% before validation), otherwise a seeded random split. The
model is calibrated on the validation split, evaluated on the test split, and
registered with its model card; the version is printed.

With --uplift-treatment COLUMN --control LEVEL an uplift (T- or X-learner)
model of the treatment's effect is fitted instead, with Qini and AUUC.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if data == "" || reg == "" || o.Target == "" {
				return fmt.Errorf("--data, --target and --registry are required")
			}
			if spec != "" {
				// A spec only says how an outside CSV maps to roles; the logged
				// table already carries them.
				fmt.Fprintf(cmd.ErrOrStderr(), "note: --spec %s is informational: the logged table's column roles are used\n", spec)
			}
			r, err := action.Open(reg)
			if err != nil {
				return err
			}
			o.Progress = cmd.ErrOrStderr()
			rep, err := training.Run(cmd.Context(), data, r, o)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "registered %s (%s, target %s) in %s: %d rows (%d dropped), split %s %d/%d/%d, fit %s\n",
				rep.Version.Name, rep.Artifact.Family, o.Target, reg, rep.Rows, rep.Dropped, rep.Split.By,
				len(rep.Split.Train), len(rep.Split.Valid), len(rep.Split.Test), rep.FitTime.Round(1e7))
			for _, k := range slices.Sorted(maps.Keys(rep.Metrics)) {
				fmt.Fprintf(out, "  %-16s %.6g\n", k, rep.Metrics[k])
			}
			if promote {
				if err := r.Promote(rep.Version.Name); err != nil {
					return err
				}
				fmt.Fprintf(out, "promoted %s\n", rep.Version.Name)
			}
			fmt.Fprintln(out, rep.Version.Name)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&data, "data", "", "logged-decisions table (Parquet)")
	f.StringVar(&spec, "spec", "", "import spec the table was made with (informational)")
	f.StringVar(&o.Target, "target", "", "outcome column to predict (0/1; NaN rows dropped)")
	f.StringVar(&reg, "registry", "", "model registry directory")
	f.StringVar(&o.Family, "family", o.Family, "model family: gbdt or logistic")
	f.StringVar(&o.Calibration, "calibration", o.Calibration, "calibrator: isotonic, platt or none")
	f.StringVar(&o.Segment, "segment", "", "column for per-segment AUC (default: region, jurisdiction or age_band)")
	f.StringSliceVar(&o.Exclude, "exclude", nil, "columns never used as features")
	f.BoolVar(&o.ContextOnly, "context-only", false, "fit on the debtor's context only: no action part, no action-dependent feature (uplift models)")
	f.Uint64Var(&o.Seed, "seed", o.Seed, "seed of the random split and the fit")
	f.Float64Var(&o.TestFraction, "test-fraction", o.TestFraction, "share of rows in the test split")
	f.Float64Var(&o.ValidFraction, "valid-fraction", o.ValidFraction, "share of rows in the validation split")
	f.IntVar(&o.GBDT.MaxIter, "rounds", o.GBDT.MaxIter, "gbdt: maximum boosting rounds")
	f.Float64Var(&o.GBDT.LearningRate, "learning-rate", o.GBDT.LearningRate, "gbdt: learning rate")
	f.IntVar(&o.GBDT.MaxLeaves, "leaves", o.GBDT.MaxLeaves, "gbdt: maximum leaves per tree")
	f.Float64Var(&o.Linear.Lambda, "lambda", o.Linear.Lambda, "logistic: L2 penalty")
	f.StringVar(&o.Treatment, "uplift-treatment", "", "treatment column: fit an uplift model")
	f.StringVar(&o.Control, "control", "", "control level of the treatment column")
	f.StringVar(&o.UpliftMethod, "uplift-method", o.UpliftMethod, "uplift meta-learner: t or x")
	f.StringVar(&o.Title, "title", "", "model card title")
	f.StringVar(&o.Owner, "owner", "", "model card owner")
	f.BoolVar(&promote, "promote", false, "promote the new version")
	root.AddCommand(cmd)
}
