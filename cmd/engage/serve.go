package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/engagehq/engage/compliance"
	"github.com/engagehq/engage/models/action"
	"github.com/engagehq/engage/models/registry"
	"github.com/engagehq/engage/serving"
	"github.com/engagehq/engage/serving/engine"
	"github.com/engagehq/engage/store"
)

func init() {
	o := serving.DefaultOptions()
	var dataDir, regDir, addr, tenant, boot, keyFile, logLevel string
	var noSync, rates bool
	var cpuProfile string
	gogc, memLimit := 1000, int64(2<<30)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the HTTP API (referrals, events, decisions, compliance, models, reports)",
		Long: `Serve the engage HTTP API over the store in --data, with the promoted model of
--registry. The store's encryption key, if any, comes from ENGAGE_STORE_KEY or
ENGAGE_STORE_KEY_FILE, never from a flag.

With --bootstrap DIR (a world written by engage datasets synth) the accounts,
events and logged decisions are loaded into --tenant through the API's own
ingestion path (idempotent), a demo API key is created once and written to
--key-file (mode 0600), and a ready-to-paste curl for a decision is printed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dataDir == "" {
				return errors.New("--data is required")
			}
			lvl := slog.LevelInfo
			if err := lvl.UnmarshalText([]byte(logLevel)); err != nil {
				return fmt.Errorf("--log-level: %w", err)
			}
			log := slog.New(slog.NewJSONHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: lvl}))
			tuneGC(log, gogc, memLimit)
			key, err := store.LoadKeyFromEnv()
			if err != nil {
				return err
			}
			so := store.DefaultOptions()
			so.EncryptionKey, so.Logger, so.SyncWrites = key, log, !noSync
			db, err := store.Open(dataDir, so)
			if err != nil {
				return err
			}
			defer db.Close()
			fw, err := compliance.Open(compliance.DefaultOptions())
			if err != nil {
				return err
			}
			var reg *registry.Registry
			if regDir != "" {
				if reg, err = action.Open(regDir); err != nil {
					return err
				}
			}
			o.Logger = log
			srv, err := serving.New(db, fw, reg, o)
			if err != nil {
				return err
			}
			if rates {
				sc, err := engine.NewRateScorer(nil)
				if err != nil {
					return err
				}
				srv.UseScorer(sc)
			}
			var example string
			if boot != "" {
				began := time.Now()
				sum, err := srv.Bootstrap(cmd.Context(), tenant, boot, cmd.ErrOrStderr())
				if err != nil {
					return err
				}
				el := time.Since(began)
				fmt.Fprintf(cmd.ErrOrStderr(), "bootstrap %s: %d accounts, %d new events (%d already stored), %d logged decisions in %s (%.0f events/s)\n",
					tenant, sum.Accounts, sum.Events, sum.Duplicates, sum.Decisions, el.Round(time.Millisecond), float64(sum.Events+sum.Duplicates)/el.Seconds())
				tok, err := demoKey(db, tenant, keyFile, dataDir)
				if err != nil {
					return err
				}
				now := time.UnixMicro(sum.LastEvent).UTC().Add(time.Hour).Truncate(time.Hour).Format(time.RFC3339)
				example = fmt.Sprintf("curl -s -X POST http://%s/v1/decisions -H \"Authorization: Bearer %s\" -H 'Content-Type: application/json' -d '{\"account_id\":\"%s\",\"now\":\"%s\"}'",
					addr, tok, sum.FirstAccount, now)
			}
			if cpuProfile != "" {
				stop, err := startCPUProfile(cpuProfile)
				if err != nil {
					return err
				}
				defer stop()
			}
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return err
			}
			log.Info("serving", "addr", ln.Addr().String())
			if example != "" {
				fmt.Fprintf(cmd.OutOrStdout(), "\nengage is serving tenant %q on http://%s (Ctrl-C to stop). Ask for a decision:\n\n%s\n\n", tenant, ln.Addr(), example)
				fmt.Fprintf(cmd.OutOrStdout(), "Dashboard: http://%s/dashboard (sign in with the key in %s)\n\n", ln.Addr(), keyPathOrDefault(keyFile, dataDir))
			}
			return srv.Serve(cmd.Context(), ln)
		},
	}
	f := cmd.Flags()
	f.StringVar(&dataDir, "data", "", "store directory")
	f.StringVar(&regDir, "registry", "", "model registry directory (its promoted model is served)")
	f.StringVar(&addr, "addr", "127.0.0.1:8080", "listen address")
	f.StringVar(&tenant, "tenant", "demo", "tenant of --bootstrap")
	f.StringVar(&boot, "bootstrap", "", "load this synthetic world into --tenant and print a demo curl")
	f.StringVar(&keyFile, "key-file", "", "where the demo API key is written, mode 0600 (default DATA/demo.key)")
	f.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	f.BoolVar(&noSync, "no-sync", false, "do not sync writes before acknowledging them (benchmarks only: acknowledged writes may be lost)")
	f.IntVar(&gogc, "gogc", gogc, "garbage collector target percentage unless GOGC is set (higher: fewer collections, more memory)")
	f.Int64Var(&memLimit, "mem-limit", memLimit, "soft memory limit in bytes unless GOMEMLIMIT is set (0: none); the collector runs more often near it")
	f.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the serving (after bootstrap) to this file at shutdown, for go tool pprof")
	f.BoolVar(&rates, "rate-scorer", false, "serve the built-in rate scorer instead of the registry's model")
	f.Float64Var(&o.RateLimit, "rate-limit", o.RateLimit, "requests/s per API key (0: unlimited)")
	f.IntVar(&o.RateBurst, "rate-burst", o.RateBurst, "burst of the per-key rate limit")
	f.DurationVar(&o.DecisionBudget, "budget", o.DecisionBudget, "scoring budget of one decision before the BAU fallback")
	f.DurationVar(&o.Engine.StaleAfter, "stale-after", o.Engine.StaleAfter, "features older than this are marked stale")
	f.DurationVar(&o.LateTolerance, "late-tolerance", o.LateTolerance, "how late an event may arrive (older ones are refused)")
	f.Float64Var(&o.Engine.HoldoutShare, "holdout", o.Engine.HoldoutShare, "share of accounts on the business-as-usual holdout")
	f.Float64Var(&o.Engine.Epsilon, "epsilon", o.Engine.Epsilon, "share of decisions that explore")
	f.Uint64Var(&o.Engine.Seed, "seed", o.Engine.Seed, "seed of the exploration draws")
	f.IntVar(&o.CacheAccounts, "cache-accounts", o.CacheAccounts, "accounts kept in each per-account cache (decision views, prepared accounts)")
	f.DurationVar(&o.SessionTTL, "session-ttl", o.SessionTTL, "lifetime of a dashboard login session")
	root.AddCommand(cmd)
}

// tuneGC sets the collector's target and soft memory limit, unless the
// environment (GOGC, GOMEMLIMIT) sets them. A decision over HTTP allocates
// about 20 KB that dies with its request, while the live heap (caches,
// badger's tables and memtable, about 120 MB in the benchmark) is what a
// collection must mark: 40-130 ms of wall time on two cores, during which
// every request runs slower. At 2,000 decisions/s, GOGC=400 collected every
// ~10 s, so those windows alone were about 1% of requests, the p99; a
// target of 1000 makes them 2.5 times rarer and costs memory (about 11
// times the live heap), which the default 2 GiB soft limit bounds: near it
// the collector simply runs more often. A server whose live heap approaches
// the limit (very large caches) should raise it, or collections become
// frequent again.
func tuneGC(log *slog.Logger, gogc int, memLimit int64) {
	if os.Getenv("GOGC") == "" && gogc > 0 {
		debug.SetGCPercent(gogc)
		log.Debug("gc", "gogc", gogc)
	}
	if os.Getenv("GOMEMLIMIT") == "" && memLimit > 0 {
		debug.SetMemoryLimit(memLimit)
		log.Debug("gc", "mem_limit", memLimit)
	}
}

// startCPUProfile profiles the process's CPU into path until the returned
// stop is called: a profile of the server under a load generator shows where
// a request's time goes.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// demoKey returns the demo key's token: read from the key file when it exists,
// else created with every scope (it is the demo operator's key) and written
// there with mode 0600.
func demoKey(db *store.DB, tenant, path, dataDir string) (string, error) {
	path = keyPathOrDefault(path, dataDir)
	if b, err := os.ReadFile(path); err == nil {
		tok := strings.TrimSpace(string(b))
		if k, err := db.Authenticate(tok); err == nil && k.Tenant == tenant {
			return tok, nil
		}
	}
	tok, _, err := db.CreateKey(tenant, store.Scopes)
	if err != nil {
		return "", err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(tok+"\n"), 0o600); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", err
	}
	return tok, nil
}

// keyPathOrDefault is where demoKey writes the demo key, for the sign-in hint.
func keyPathOrDefault(path, dataDir string) string {
	if path == "" {
		return filepath.Join(dataDir, "demo.key")
	}
	return path
}
