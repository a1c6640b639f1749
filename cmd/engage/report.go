package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"time"
	_ "time/tzdata" // local hours on a bare machine

	"github.com/spf13/cobra"

	"github.com/engagehq/engage/atomicfile"
	"github.com/engagehq/engage/models/action"
	"github.com/engagehq/engage/reports"
	"github.com/engagehq/engage/reports/dashboard"
	"github.com/engagehq/engage/reports/scoring"
)

// reportCmd is `engage report NAME`; `engage report serve` hangs below it.
var reportCmd = &cobra.Command{}

func init() {
	var (
		data, format, out, table, scores, model string
		regDir                                  string
		from, to                                string
		jurs, products, channels                []string
	)
	o := reports.DefaultOptions()
	cmd := reportCmd
	*cmd = cobra.Command{
		Use:   "report {" + strings.Join(reports.Names, "|") + "}",
		Short: "Compute a report (uplift, model uplift, liquidation, seasonality, channel funnel) as JSON, CSV or Parquet",
		Long: `Compute one report over a folder of canonical Parquet tables (accounts.parquet,
events.parquet, decisions.parquet), for a period [--from, --to) and optionally
some jurisdictions, products and channels. JSON writes the whole report; CSV and
Parquet write one of its tables (--table, default the first). The definitions
are in the reports package documentation (go doc ./reports).

model-uplift evaluates the uplift model of --registry (--model VERSION, else the
promoted version when it is an uplift model, else the newest uplift model): each
logged decision is scored from its point-in-time features, and only decisions
after the model's training cut-off (the start of its test split) count when the
period has any; the report says which ("evaluation"). --scores FILE evaluates
outside per-account scores against the holdout instead.`,
		Args:      cobra.ExactArgs(1),
		ValidArgs: reports.Names,
		RunE: func(cmd *cobra.Command, args []string) error {
			if data == "" {
				return fmt.Errorf("--data is required")
			}
			q := map[string][]string{"from": {from}, "to": {to}, "jurisdiction": jurs, "product": products, "channel": channels}
			f, err := reports.ParseFilter(q)
			if err != nil {
				return fmt.Errorf("--%w", err)
			}
			if err := upliftSource(&o, regDir, model, scores); err != nil {
				return err
			}
			src, err := reports.NewDirSource(data)
			if err != nil {
				return err
			}
			b, err := reports.Load(cmd.Context(), src, o)
			if err != nil {
				return err
			}
			rep, err := b.Run(args[0], f)
			if err != nil {
				return err
			}
			write := func(w io.Writer) error {
				switch format {
				case "json":
					enc := json.NewEncoder(w)
					enc.SetIndent("", "  ")
					return enc.Encode(rep)
				case "csv", "parquet":
					t, err := reports.TableOf(rep, table)
					if err != nil {
						return err
					}
					if format == "csv" {
						return reports.WriteCSV(w, t)
					}
					return reports.WriteParquet(w, t)
				}
				return fmt.Errorf("--format %q: want json, csv or parquet", format)
			}
			if out == "" || out == "-" {
				if format == "parquet" {
					return fmt.Errorf("--format parquet needs --out FILE")
				}
				return write(cmd.OutOrStdout())
			}
			return atomicfile.Write(out, 0o644, write)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&data, "data", "", "folder with accounts.parquet, events.parquet and decisions.parquet")
	fl.StringVar(&format, "format", "json", "json, csv or parquet")
	fl.StringVar(&out, "out", "", "output file (default stdout; required for parquet)")
	fl.StringVar(&table, "table", "", "table to write as CSV/Parquet (default the report's first)")
	fl.StringVar(&from, "from", "", "period start, YYYY-MM-DD or RFC 3339 (default: first event)")
	fl.StringVar(&to, "to", "", "period end, exclusive (default: after the last event)")
	fl.StringSliceVar(&jurs, "jurisdiction", nil, "jurisdictions (US matches US-*), repeatable or comma-separated")
	fl.StringSliceVar(&products, "product", nil, "products, repeatable or comma-separated")
	fl.StringSliceVar(&channels, "channel", nil, "channels, repeatable or comma-separated")
	fl.StringVar(&regDir, "registry", "", "model registry whose uplift model model-uplift evaluates")
	fl.StringVar(&model, "model", "", "with --registry: the uplift model version (default: promoted uplift model, else newest); with --scores: the name shown")
	fl.StringVar(&scores, "scores", "", "outside uplift scores (CSV or Parquet: account_id, uplift) for model-uplift, instead of --registry")
	fl.IntVar(&o.Resamples, "resamples", o.Resamples, "bootstrap resamples of headline intervals")
	fl.Uint64Var(&o.Seed, "seed", o.Seed, "bootstrap seed")
	fl.IntVar(&o.MinAccounts, "min-accounts", o.MinAccounts, "smallest arm for which uplift is reported")
	root.AddCommand(cmd)
}

// upliftSource sets the model-uplift report's model: a registry's uplift
// model (checked here, so a bad version fails before any data is read) or an
// outside scores file.
func upliftSource(o *reports.Options, regDir, model, scores string) error {
	switch {
	case regDir != "" && scores != "":
		return fmt.Errorf("--registry and --scores: give one")
	case regDir != "":
		reg, err := action.Open(regDir)
		if err != nil {
			return err
		}
		r := &scoring.Registry{Reg: reg, Version: model}
		if _, err := r.Scorer(); err != nil {
			return fmt.Errorf("--registry %s: %w", regDir, err)
		}
		o.Uplift = r.Scorer
	case scores != "":
		var err error
		if o.Scores, err = reports.LoadScores(scores); err != nil {
			return err
		}
		o.ModelName = model
		if o.ModelName == "" {
			o.ModelName = filepath.Base(scores)
		}
	}
	return nil
}

func init() {
	var data, addr, scores, regDir, model string
	o := reports.DefaultOptions()
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Preview the dashboard and JSON reports of a Parquet folder on a loopback address (no auth)",
		Long: `Serve /dashboard and /v1/reports/... over a folder of canonical Parquet tables,
for a local preview. There is no authentication, so only loopback addresses are
accepted; the production dashboard is mounted by serving behind an API key with
the reports scope.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			host, _, err := net.SplitHostPort(addr)
			if err != nil {
				return fmt.Errorf("--addr %q: %w", addr, err)
			}
			if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
				return fmt.Errorf("--addr %q: the preview has no auth; use a loopback address such as 127.0.0.1:8081", addr)
			}
			src, err := reports.NewDirSource(data)
			if err != nil {
				return err
			}
			if err := upliftSource(&o, regDir, model, scores); err != nil {
				return err
			}
			books := &reports.Books{Source: func(*http.Request) (reports.Source, error) { return src, nil }, Options: o, TTL: time.Hour}
			// Load once up front (into the cache) so bad data fails here, then
			// compute every report in the background so first pages are fast.
			warm, err := http.NewRequestWithContext(cmd.Context(), http.MethodGet, "/", nil)
			if err != nil {
				return err
			}
			if _, err := books.Book(warm); err != nil {
				return err
			}
			go func() {
				for _, name := range reports.Names {
					_, _, _ = books.Report(warm, name, reports.Filter{})
				}
			}()
			mux := http.NewServeMux()
			d := &dashboard.Handler{Books: books}
			mux.Handle("/dashboard", d)
			mux.Handle("/dashboard/", d)
			mux.Handle("/v1/reports/", &reports.Handler{Books: books})
			mux.Handle("/", http.RedirectHandler("/dashboard", http.StatusFound))
			srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "dashboard: http://%s/dashboard (JSON: http://%s/v1/reports/uplift)\n", ln.Addr(), ln.Addr())
			go func() {
				<-cmd.Context().Done()
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_ = srv.Shutdown(ctx)
			}()
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&data, "data", "", "folder with accounts.parquet, events.parquet and decisions.parquet")
	fl.StringVar(&addr, "addr", "127.0.0.1:8081", "loopback address to listen on")
	fl.StringVar(&regDir, "registry", "", "model registry whose uplift model the model-uplift page evaluates")
	fl.StringVar(&model, "model", "", "with --registry: the uplift model version; with --scores: the name shown")
	fl.StringVar(&scores, "scores", "", "outside uplift scores (CSV or Parquet: account_id, uplift) for model-uplift, instead of --registry")
	_ = cmd.MarkFlagRequired("data")
	reportCmd.AddCommand(cmd)
}
