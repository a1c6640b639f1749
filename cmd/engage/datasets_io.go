package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/engagehq/engage/datasets"
	"github.com/engagehq/engage/progress"
)

func init() {
	datasetsCmd.AddCommand(importCmd(), validateCmd(), inspectCmd())
}

func importCmd() *cobra.Command {
	var spec, in, out string
	c := &cobra.Command{
		Use:   "import --spec SPEC.yaml --in FILE.csv --out OUT.parquet",
		Short: "Turn an outside CSV into a logged-decisions table, per a YAML spec of column roles",
		Long: `import reads a CSV and writes a logged-decisions Parquet table whose columns play the
roles the spec gives them (id, time, context, action, propensity, outcome; ignore drops a
column). Every bad row is reported (row, column, value, reason) and the command fails
without leaving OUT behind. Specs for the shared data sets are in datasets/specs.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := datasets.LoadSpec(spec)
			if err != nil {
				return err
			}
			st, err := os.Stat(in)
			if err != nil {
				return fmt.Errorf("import: %w", err)
			}
			bar := newBar(st.Size(), "import "+s.Name)
			opts := datasets.DefaultImportOptions()
			opts.Progress = func(_, bytes int64) { bar.Set64(bytes) }
			t0 := time.Now()
			n, err := datasets.Import(cmd.Context(), s, in, out, opts)
			bar.Finish()
			if err != nil {
				return reportErr(cmd.ErrOrStderr(), err)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "imported %d rows to %s in %s\n", n, out, time.Since(t0).Round(time.Millisecond))
			return nil
		},
	}
	c.Flags().StringVar(&spec, "spec", "", "YAML spec of column roles (see datasets/specs)")
	c.Flags().StringVar(&in, "in", "", "input CSV")
	c.Flags().StringVar(&out, "out", "", "output Parquet file")
	for _, f := range []string{"spec", "in", "out"} {
		c.MarkFlagRequired(f)
	}
	return c
}

func validateCmd() *cobra.Command {
	var table string
	var maxErrors int
	c := &cobra.Command{
		Use:   "validate --table accounts|events|decisions|truth FILE",
		Short: "Check a canonical table (Parquet, or CSV by extension) and print every bad row",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts := datasets.DefaultValidateOptions()
			opts.MaxErrors = maxErrors
			var rows int64
			var err error
			switch table {
			case "accounts":
				rows, err = datasets.ValidateFile[datasets.Account](args[0], opts)
			case "events":
				rows, err = datasets.ValidateFile[datasets.Event](args[0], opts)
			case "decisions":
				rows, err = datasets.ValidateFile[datasets.Decision](args[0], opts)
			case "truth":
				rows, err = datasets.ValidateFile[datasets.Truth](args[0], opts)
			default:
				return fmt.Errorf("validate: unknown table %q (want accounts, events, decisions or truth)", table)
			}
			if err != nil {
				return reportErr(cmd.ErrOrStderr(), err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "ok: %d %s rows\n", rows, table)
			return nil
		},
	}
	c.Flags().StringVar(&table, "table", "", "accounts, events, decisions or truth")
	c.Flags().IntVar(&maxErrors, "max-errors", 1000, "most errors listed (all are counted)")
	c.MarkFlagRequired("table")
	return c
}

func inspectCmd() *cobra.Command {
	var head int
	c := &cobra.Command{
		Use:   "inspect FILE.parquet",
		Short: "Print a Parquet table's columns (with engage roles), row count, metadata and first rows",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := datasets.OpenLogged(args[0])
			if err != nil {
				return err
			}
			defer r.Close()
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "%s: %d rows\n", args[0], r.NumRows())
			for k, v := range r.Meta() {
				if k == datasets.MetaColumns || k == "engage.spec_yaml" {
					continue
				}
				fmt.Fprintf(w, "meta %s = %s\n", k, v)
			}
			cols := r.Columns()
			for _, c := range cols {
				fmt.Fprintf(w, "  %-24s %-10s %s\n", c.Name, c.Role, c.Kind)
			}
			if head <= 0 {
				return nil
			}
			t, err := r.Next(head)
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			names := make([]string, len(cols))
			for i, c := range cols {
				names[i] = c.Name
			}
			fmt.Fprintln(w, strings.Join(names, "\t"))
			cells := make([]string, len(cols))
			for row := range t.Len() {
				for i, c := range cols {
					switch c.Kind {
					case datasets.KindNumeric:
						cells[i] = fmt.Sprint(t.Floats[i][row])
					case datasets.KindTime:
						if us := t.Times[i][row]; us == datasets.MissingTime {
							cells[i] = ""
						} else {
							cells[i] = datasets.FormatTime(us)
						}
					default:
						cells[i] = t.Strings[i][row]
					}
				}
				fmt.Fprintln(w, strings.Join(cells, "\t"))
			}
			return nil
		},
	}
	c.Flags().IntVar(&head, "head", 5, "rows to print")
	return c
}

// reportErr prints every row error of a validation failure, then returns a
// short error so main exits non-zero.
func reportErr(w io.Writer, err error) error {
	var ve *datasets.ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	for _, e := range ve.Errors {
		fmt.Fprintln(w, e.Error())
	}
	if int64(len(ve.Errors)) < ve.Total {
		fmt.Fprintf(w, "... and %d more\n", ve.Total-int64(len(ve.Errors)))
	}
	return fmt.Errorf("%s: %d invalid values", ve.Table, ve.Total)
}

// newBar draws progress on stderr in bytes, with rate and ETA.
func newBar(size int64, desc string) *progressbar.ProgressBar {
	return progress.NewBytes(os.Stderr, size, desc)
}
