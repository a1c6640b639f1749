package main

import (
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/engagehq/engage/models/action"
	"github.com/engagehq/engage/models/registry"
)

func init() {
	var reg string
	cmd := &cobra.Command{
		Use:   "models",
		Short: "List, show, promote and roll back registered models",
	}
	cmd.PersistentFlags().StringVar(&reg, "registry", "", "model registry directory")
	open := func() (*registry.Registry, error) {
		if reg == "" {
			return nil, fmt.Errorf("--registry is required")
		}
		return action.Open(reg)
	}
	inService := func(r *registry.Registry) string {
		v, err := r.Promoted()
		if err != nil {
			return ""
		}
		return v.Name
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List every version with its family, target and headline metrics",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := open()
			if err != nil {
				return err
			}
			vs, err := r.List()
			if err != nil {
				return err
			}
			cur := inService(r)
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 2, 2, ' ', 0)
			fmt.Fprintln(w, "VERSION\tSERVING\tFAMILY\tTARGET\tCREATED\tAUC\tECE\tQINI")
			for _, v := range vs {
				mark := ""
				if v.Name == cur {
					mark = "*"
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", v.Name, mark, v.Family, v.Target, v.Created.Format(time.RFC3339),
					metric(v.Metrics, "auc"), metric(v.Metrics, "ece"), metric(v.Metrics, "qini"))
			}
			return w.Flush()
		},
	}
	show := &cobra.Command{
		Use:   "show [VERSION]",
		Short: "Print a version's model card (default: the one in service)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := open()
			if err != nil {
				return err
			}
			name := inService(r)
			if len(args) == 1 {
				name = args[0]
			}
			if name == "" {
				return errors.New("the registry holds no version")
			}
			c, err := r.Card(name)
			if err != nil {
				return err
			}
			_, err = fmt.Fprint(cmd.OutOrStdout(), c.Markdown())
			return err
		},
	}
	promote := &cobra.Command{
		Use:   "promote VERSION",
		Short: "Put a version in service",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := open()
			if err != nil {
				return err
			}
			// Refuse to promote what cannot be loaded.
			if _, err := action.Load(r, args[0]); err != nil {
				return fmt.Errorf("promote %s: %w", args[0], err)
			}
			if err := r.Promote(args[0]); err != nil {
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "promoted %s\n", args[0])
			return err
		},
	}
	rollback := &cobra.Command{
		Use:   "rollback",
		Short: "Return service to the version promoted before the current one",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := open()
			if err != nil {
				return err
			}
			to, err := r.Rollback()
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "rolled back: %s is in service\n", to)
			return err
		},
	}
	cmd.AddCommand(list, show, promote, rollback)
	root.AddCommand(cmd)
}

func metric(m map[string]float64, k string) string {
	v, ok := m[k]
	if !ok {
		return "-"
	}
	return fmt.Sprintf("%.4f", v)
}
