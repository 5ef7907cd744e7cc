// Command secret-init is a container entrypoint: it reads bootstrap settings
// from .env, prefetches the secrets the node contracts declare from
// Infisical, merges them under the process environment, and hands over to
// the service (execve, or tini-style supervision as PID 1).
//
// This file is wiring only: flags to options, options to packages.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/alecthomas/kong"
	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"

	"secret-init/launcher"
	"secret-init/resolve"
	"secret-init/signals"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// Globals are the flags every command shares.
type Globals struct {
	EnvFile   string `name:"env-file" env:"SECRET_INIT_ENV_FILE" default:".env" placeholder:"PATH" help:"Bootstrap file. A missing default file is fine; a file named explicitly must exist."`
	LogLevel  string `name:"log-level" env:"SECRET_INIT_LOG_LEVEL" default:"info" enum:"trace,debug,info,warn,error,disabled" help:"Log level: trace, debug, info, warn, error, disabled."`
	LogFormat string `name:"log-format" env:"SECRET_INIT_LOG_FORMAT" default:"auto" enum:"auto,json,console" help:"Log format: console when stderr is a terminal, JSON otherwise (auto), json, console."`

	Contracts    []string      `env:"SECRET_INIT_CONTRACTS" default:"contracts" sep:"none" placeholder:"DIR" help:"Contract folder (searched recursively for contract.yaml and contract_*.yaml) or file. Repeatable; the variable takes a comma list. A missing default folder means no contracts."`
	Service      string        `env:"SECRET_INIT_SERVICE" placeholder:"SLUG" help:"Service slug: /services/SLUG/<transport>/KEY overrides /shared/<transport>/KEY. Empty: shared folders only."`
	TransportMap string        `name:"transport-map" env:"SECRET_INIT_TRANSPORT_MAP" placeholder:"FILE" help:"YAML file that adds transports or replaces a transport's key list."`
	Path         []string      `name:"path" env:"SECRET_INIT_PATHS" sep:"none" placeholder:"FOLDER" help:"Also fetch every secret in this Infisical folder (like infisical run --path). Repeatable; the variable takes a comma list."`
	Timeout      time.Duration `env:"SECRET_INIT_TIMEOUT" default:"10s" help:"Bound on the whole prefetch, retries included."`
	CACert       string        `name:"ca-cert" env:"SECRET_INIT_CA_CERT" placeholder:"FILE" help:"PEM file with a CA to trust for Infisical's TLS, in addition to the system's."`
	Required     bool          `env:"SECRET_INIT_REQUIRED" help:"Fail the start (exit 125) when Infisical is unreachable, refuses the login, a contract is broken, or any declared key is in neither the environment nor Infisical."`

	envFileSet   bool // the user named --env-file or SECRET_INIT_ENV_FILE
	contractsSet bool // the user named --contracts or SECRET_INIT_CONTRACTS
}

// resolveOptions turns the shared flags into resolve options.
func (g *Globals) resolveOptions(log zerolog.Logger) resolve.Options {
	return resolve.Options{
		EnvFile:           g.EnvFile,
		EnvFileExplicit:   g.envFileSet,
		Contracts:         g.Contracts,
		ContractsExplicit: g.contractsSet,
		TransportMap:      g.TransportMap,
		Service:           g.Service,
		Paths:             g.Path,
		Timeout:           g.Timeout,
		CACert:            g.CACert,
		Required:          g.Required,
		Log:               log,
	}
}

// RunCmd is the default command: secret-init [flags] [--] COMMAND [ARG...].
type RunCmd struct {
	Mode    string        `env:"SECRET_INIT_MODE" default:"auto" enum:"auto,exec,supervise" help:"auto: supervise when PID 1, exec otherwise; exec: replace secret-init with the command; supervise: start it as a child and forward signals, reap zombies."`
	Group   bool          `short:"g" env:"SECRET_INIT_GROUP" help:"Forward signals to the child's whole process group, not only the child."`
	Rewrite []string      `env:"SECRET_INIT_REWRITE" placeholder:"FROM:TO" help:"Rewrite a forwarded signal, by name or number (TERM:QUIT, 15:3); TO=0 drops it. Repeatable; the variable takes a comma list."`
	Grace   time.Duration `env:"SECRET_INIT_GRACE" default:"5s" help:"Supervise mode: after the main child exits, the processes left get SIGTERM, and SIGKILL after this long."`
	Command []string      `arg:"" optional:"" passthrough:"" help:"The command to run and its arguments."`
}

// VersionCmd prints the version.
type VersionCmd struct{}

// CLI is the whole command line.
type CLI struct {
	Globals
	Run     RunCmd     `cmd:"" default:"withargs" hidden:"" help:"Run COMMAND (the default command)."`
	Version VersionCmd `cmd:"" help:"Print the version."`
	Plan    PlanCmd    `cmd:"" help:"Show, without any network I/O, every key the contracts declare, the folders a start would ask for it and whether the environment or .env holds it. Exit 0, or 125 on a usage or contract error."`
	Check   CheckCmd   `cmd:"" help:"Resolve exactly as a start would, without running a command, and show where each key came from (never a value). Exit 0 when a start would succeed, 1 when it would fail, 125 on a usage error."`
	Seed    SeedCmd    `cmd:"" help:"Fill Infisical from the contracts with an identity that may write: missing folders and keys. A dry run unless --execute. Exit 1 when a key failed."`
}

func main() {
	// First: a Go PID 1 that gets SIGTERM before signal.Notify exits 2, and
	// a TERM during startup must abort with 143 without starting anything.
	catcher := signals.Catch()
	catcher.WatchStartup(func(sig syscall.Signal) { os.Exit(launcher.SignalExit(sig)) })

	if cli, ok := fastParse(os.Args[1:], os.Environ()); ok {
		log := newLogger(cli.LogLevel, cli.LogFormat)
		os.Exit(cli.Run.run(&cli.Globals, catcher, log))
	}

	var cli CLI
	parser, err := kong.New(&cli,
		kong.Name("secret-init"),
		kong.Description("Fetch the secrets your service's contracts declare from Infisical, then run it (exec, or as a tini-style PID 1).\n\nUsage: secret-init [flags] [--] COMMAND [ARG...]"),
		kong.UsageOnError(),
		kong.Exit(func(code int) {
			if code != 0 {
				code = launcher.ExitUsage
			}
			os.Exit(code)
		}),
	)
	if err != nil {
		fatal(zerolog.Nop(), launcher.ExitUsage, err)
	}
	args, explicitRun, err := routeArgs(parser, os.Args[1:])
	if err != nil {
		usageExit(err)
	}
	ctx, err := parser.Parse(args)
	if err != nil {
		usageExit(err)
	}
	if explicitRun && len(cli.Run.Command) > 0 && cli.Run.Command[0] == "--" {
		cli.Run.Command = cli.Run.Command[1:]
	}
	cli.envFileSet = flagSet(ctx, "env-file")
	cli.contractsSet = flagSet(ctx, "contracts")
	cli.Contracts = splitEnvList(ctx, "contracts", cli.Contracts)
	cli.Path = splitEnvList(ctx, "path", cli.Path)
	if err := cli.Globals.validate(); err != nil {
		usageExit(err)
	}
	log := newLogger(cli.LogLevel, cli.LogFormat)

	switch ctx.Command() {
	case "version":
		fmt.Println("secret-init", version)
		return
	case "plan":
		os.Exit(cli.Plan.run(&cli.Globals, log))
	case "check":
		os.Exit(cli.Check.run(&cli.Globals, log))
	case "seed":
		os.Exit(cli.Seed.run(&cli.Globals, log))
	case "run":
		usageExit(errors.New("no command given"))
	}
	os.Exit(cli.Run.run(&cli.Globals, catcher, log))
}

// run resolves the environment and hands over; it returns the exit code.
func (r *RunCmd) run(g *Globals, catcher *signals.Catcher, log zerolog.Logger) int {
	if len(r.Command) == 0 {
		usageExit(errors.New("no command given"))
	}
	if r.Grace < 0 {
		usageExit(fmt.Errorf("--grace %v: a duration of zero or more", r.Grace))
	}
	rewrite, err := signals.ParseRewrite(r.Rewrite)
	if err != nil {
		usageExit(fmt.Errorf("--rewrite: %w", err))
	}
	out, err := resolve.Resolve(context.Background(), g.resolveOptions(log), os.Environ())
	if err != nil {
		fatal(log, launcher.ExitUsage, err)
	}
	env := out.Env

	pending := catcher.EndStartup()
	code, err := launcher.Run(launcher.Options{
		Argv:    r.Command,
		Env:     env,
		Mode:    launcher.Mode(r.Mode),
		Group:   r.Group,
		Rewrite: rewrite,
		Grace:   r.Grace,
		Catcher: catcher,
		Pending: pending,
		Log:     log,
	})
	if err != nil {
		var se *launcher.StartError
		if errors.As(err, &se) {
			fatal(log, se.Code, err)
		}
		fatal(log, launcher.ExitUsage, err)
	}
	return code
}

// usageExit reports a command-line mistake and exits 125.
func usageExit(err error) {
	fmt.Fprintf(os.Stderr, "secret-init: %v\n", err)
	fmt.Fprintln(os.Stderr, "Usage: secret-init [flags] [--] COMMAND [ARG...]   (secret-init --help for flags)")
	os.Exit(launcher.ExitUsage)
}

// validate checks what kong's types cannot: ranges.
func (g *Globals) validate() error {
	if g.Timeout <= 0 {
		return fmt.Errorf("--timeout %v: the prefetch needs a positive bound", g.Timeout)
	}
	return nil
}

// fatal prints one line on stderr and exits with code.
func fatal(log zerolog.Logger, code int, err error) {
	log.Error().Msg(err.Error())
	if log.GetLevel() == zerolog.Disabled {
		// Even with logs off, a failed start says why, once.
		fmt.Fprintf(os.Stderr, "secret-init: %v\n", err)
	}
	os.Exit(code)
}

// newLogger builds the stderr logger. Levels and format were checked by kong.
func newLogger(level, format string) zerolog.Logger {
	lvl, err := zerolog.ParseLevel(level)
	if err != nil {
		lvl = zerolog.InfoLevel
	}
	zerolog.TimeFieldFormat = time.RFC3339Nano
	if format == "auto" {
		format = "json"
		if _, err := unix.IoctlGetTermios(2, unix.TCGETS); err == nil {
			format = "console"
		}
	}
	if format == "console" {
		w := zerolog.ConsoleWriter{Out: os.Stderr, TimeFormat: "15:04:05.000"}
		return zerolog.New(w).Level(lvl).With().Timestamp().Str("app", "secret-init").Logger()
	}
	return zerolog.New(os.Stderr).Level(lvl).With().Timestamp().Str("app", "secret-init").Logger()
}
