package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/engagehq/engage/compliance"
	"github.com/spf13/cobra"
)

func init() {
	var packsDir string
	group := &cobra.Command{
		Use:   "compliance",
		Short: "Check planned contacts against the jurisdiction rule packs",
	}
	group.PersistentFlags().StringVar(&packsDir, "packs", "", "directory of YAML rule packs that replace or extend the embedded ones")
	open := func() (*compliance.Firewall, error) {
		opts := compliance.DefaultOptions()
		opts.PacksDir = packsDir
		return compliance.Open(opts)
	}
	group.AddCommand(&cobra.Command{
		Use:   "check",
		Short: "Read one request as JSON on stdin, print the decision as JSON on stdout",
		Long: `Reads {"account": {...}, "ledger": [...], "contact": {...}} on stdin and prints
{"allowed", "reasons", "earliest_allowed", "notices", ...}. Malformed input, an unknown
jurisdiction, channel or zone exits non-zero with a message on stderr.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fw, err := open()
			if err != nil {
				return err
			}
			req, err := compliance.DecodeRequest(cmd.InOrStdin())
			if err != nil {
				return err
			}
			d, err := fw.Check(req)
			if err != nil {
				return fmt.Errorf("check: %w", err)
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			return enc.Encode(d)
		},
	})
	group.AddCommand(&cobra.Command{
		Use:   "packs",
		Short: "List the jurisdictions and their rules with sources",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fw, err := open()
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			for _, p := range fw.Packs() {
				chain := p.Jurisdiction
				if c, err := fw.Chain(p.Jurisdiction); err == nil {
					chain = strings.Join(c, " > ")
				}
				fmt.Fprintf(w, "%s  %s\n  layers: %s\n", p.Jurisdiction, p.Name, chain)
				if p.Holidays != nil {
					fmt.Fprintf(w, "  %-28s holidays  [%s] %s\n", p.Holidays.ID, p.Holidays.Status, p.Holidays.Source)
				}
				for _, r := range p.Rules {
					fmt.Fprintf(w, "  %-28s %-9s [%s] %s\n", r.ID, r.Kind, r.Status, r.Source)
				}
			}
			return nil
		},
	})
	root.AddCommand(group)
}
