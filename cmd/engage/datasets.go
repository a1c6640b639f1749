package main

import "github.com/spf13/cobra"

// datasetsCmd groups the commands over canonical tables: synth, import, validate,
// inspect. Each subcommand registers itself from its own file.
var datasetsCmd = &cobra.Command{
	Use:   "datasets",
	Short: "Generate, import, validate and inspect canonical tables (Parquet)",
}

func init() { root.AddCommand(datasetsCmd) }
