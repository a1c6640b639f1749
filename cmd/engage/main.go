// Command engage is the single binary of the engage service: data sets, features,
// training, serving, compliance checks and reports, each as a subcommand.
//
// This package only parses flags and wires packages together; every behaviour lives
// in the packages it calls. Each command group registers itself from its own file.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// root is the top of the command tree; command groups add themselves in init.
var root = &cobra.Command{
	Use:           "engage",
	Short:         "engage decides how, when and with what message to contact each debtor",
	SilenceUsage:  true,
	SilenceErrors: true,
}

func main() {
	// Ctrl-C and SIGTERM cancel the context: long commands stop cleanly and remove
	// partial outputs instead of being killed mid-write.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "engage:", err)
		os.Exit(1)
	}
}
