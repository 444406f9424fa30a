// Command corebridge is the one binary of corebridge: the bridge itself
// (serve) and its tools, each a subcommand with its own flags.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "corebridge:", err)
		os.Exit(exitCode(err))
	}
}
