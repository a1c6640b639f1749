package main

import (
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"
)

func init() {
	root.AddCommand(&cobra.Command{
		Use:   "version",
		Short: "Print the build's module version and Go version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v, goV := "(devel)", "unknown"
			if bi, ok := debug.ReadBuildInfo(); ok {
				v, goV = bi.Main.Version, bi.GoVersion
			}
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "engage %s %s\n", v, goV)
			return err
		},
	})
}
