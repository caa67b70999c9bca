// Command baohan is the single binary of the project: the platform and
// institution services, the demo, the conformance kit and the
// troubleshooting tools, as subcommands.
//
// Wiring only: each cmd_<area>.go holds a table of its commands (name,
// flags) that call the packages doing the work; help.txt holds their
// help; internal/cli parses the flags and dispatches.
package main

import (
	"context"
	_ "embed"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/baohan-dev/baohan/bench"
	"github.com/baohan-dev/baohan/institution"
	"github.com/baohan-dev/baohan/internal/cli"
	"github.com/baohan-dev/baohan/platform"
	"github.com/baohan-dev/baohan/protocol"
)

// Env carries the process's streams.
type Env = cli.Env

// helpText is every command's summary and usage, as prose.
//
//go:embed help.txt
var helpText string

// helpValues are the values help.txt names in braces.
var helpValues = strings.NewReplacer(
	"{platform.DefaultAddr}", platform.DefaultAddr, "{platform.DemoAppKey}", platform.DemoAppKey,
	"{platform.DemoInstitutionURL}", platform.DemoInstitutionURL, "{platform.EnvPrefix}", platform.EnvPrefix,
	"{institution.DefaultAddr}", institution.DefaultAddr, "{institution.DemoAppKey}", institution.DemoAppKey,
	"{institution.DemoPlatformURL}", institution.DemoPlatformURL, "{institution.EnvPrefix}", institution.EnvPrefix,
	"{bench.DefaultPostgresURL}", bench.DefaultPostgresURL, "{protocol.InterfaceNames}", protocol.InterfaceNames(),
)

// commands are all of baohan's commands.
var commands = cli.NewSet("baohan", "baohan: electronic bid guarantee (电子投标保函) platform and institution, 国密 throughout.",
	cli.ParseHelp(helpText, helpValues), protocolCommands, cryptoCommands, ofdCommands, serviceCommands, webCommands,
	auditCommands, conformanceCommands, benchCommands, demoCommands)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, &Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}, os.Args[1:])
	stop()
	os.Exit(code)
}

// run dispatches args to a command and returns the exit code.
func run(ctx context.Context, env *Env, args []string) int { return commands.Run(ctx, env, args) }

// writeReport writes a report of bench or the conformance kit as JSON or
// as a table.
func writeReport(w io.Writer, asJSON bool, r interface {
	WriteJSON(io.Writer) error
	WriteTable(io.Writer) error
}) error {
	if asJSON {
		return r.WriteJSON(w)
	}
	return r.WriteTable(w)
}
