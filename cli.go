package main

// The command line: one struct read by kong (flags, their variables and
// the --help text come from its tags), and parseArgs, which holds all the
// glue kong needs.

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/alecthomas/kong"
	"github.com/rs/zerolog"

	"secret-init/contracts"
	"secret-init/launcher"
	"secret-init/resolve"
	"secret-init/signals"
)

// Globals are the flags every command shares.
type Globals struct {
	EnvFile   string `name:"env-file" env:"SECRET_INIT_ENV_FILE" default:".env" placeholder:"PATH" help:"Bootstrap file. A missing default file is fine; a file named explicitly must exist."`
	LogLevel  string `name:"log-level" env:"SECRET_INIT_LOG_LEVEL" default:"info" enum:"trace,debug,info,warn,error,disabled" help:"Log level: trace, debug, info, warn, error, disabled."`
	LogFormat string `name:"log-format" env:"SECRET_INIT_LOG_FORMAT" default:"auto" enum:"auto,json,console" help:"Log format: console when stderr is a terminal, JSON otherwise (auto), json, console."`

	Contracts    []string      `env:"SECRET_INIT_CONTRACTS" default:"contracts" sep:"none" placeholder:"DIR" help:"Contract folder (searched recursively for contract.yaml and contract_*.yaml) or file. Repeatable; the variable takes a comma list. A missing default folder means no contracts."`
	Service      string        `env:"SECRET_INIT_SERVICE" placeholder:"SLUG" help:"Service slug: /services/SLUG/<transport>/KEY overrides /shared/<transport>/KEY. Empty: shared folders only."`
	TransportMap string        `name:"transport-map" env:"SECRET_INIT_TRANSPORT_MAP" placeholder:"FILE" help:"YAML file that adds transports or replaces a transport's key list."`
	Path         []string      `name:"path" env:"SECRET_INIT_PATHS" sep:"none" placeholder:"FOLDER" help:"Also fetch every secret in this Infisical folder (like infisical run --path). Repeatable; the variable takes a comma list."`
	Fetch        string        `env:"SECRET_INIT_FETCH" default:"auto" enum:"auto,tree,folders" help:"How to ask Infisical: auto (one recursive list of /shared and one of /services/SLUG, then a folder on its own only where imports, a 403 or a missing key leave the recursive answer in doubt; 1 login + 2 lists in the common case), tree (the recursive lists only; imports are not taken), folders (one list per folder)."`
	Timeout      time.Duration `env:"SECRET_INIT_TIMEOUT" default:"10s" help:"Bound on the whole prefetch, retries included."`
	CACert       string        `name:"ca-cert" env:"SECRET_INIT_CA_CERT" placeholder:"FILE" help:"PEM file with a CA to trust for Infisical's TLS, in addition to the system's."`
	Required     bool          `env:"SECRET_INIT_REQUIRED" help:"Fail the start (exit 125) when Infisical is unreachable, refuses the login, a contract is broken, or any declared key that is not optional is in neither the environment nor Infisical. INFISICAL_REQUIRED=true (or 1, yes) turns it on too."`

	// Read by every command, so that check and plan show what a start's
	// command would get.
	DropBootstrap bool `name:"drop-bootstrap" env:"SECRET_INIT_DROP_BOOTSTRAP" help:"Keep INFISICAL_CLIENT_ID, INFISICAL_CLIENT_SECRET, INFISICAL_TOKEN and SECRET_INIT_FALLBACK_KEY out of the command's environment, whether they came from the environment or .env. Off by default: a service that calls Infisical itself keeps them."`

	// check reads the fallback file to say whether a start could use it.
	FallbackFile   string        `name:"fallback-file" env:"SECRET_INIT_FALLBACK_FILE" placeholder:"PATH" help:"Keep the values of every complete fetch in PATH, encrypted (key from SECRET_INIT_FALLBACK_KEY, else the client secret, else the access token) and bound to this Infisical, project, environment, service and key set; when Infisical cannot answer at start, use them instead. Off by default."`
	FallbackMaxAge time.Duration `name:"fallback-max-age" env:"SECRET_INIT_FALLBACK_MAX_AGE" default:"24h" help:"A fallback file whose values were fetched longer ago than this is not used."`

	envFileSet   bool // the user named --env-file or SECRET_INIT_ENV_FILE
	contractsSet bool // the user named --contracts or SECRET_INIT_CONTRACTS
	requiredSet  bool // the user named --required or SECRET_INIT_REQUIRED
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
		Fetch:             g.Fetch,
		Timeout:           g.Timeout,
		CACert:            g.CACert,
		Required:          g.Required,
		DropBootstrap:     g.DropBootstrap,
		FallbackFile:      g.FallbackFile,
		FallbackMaxAge:    g.FallbackMaxAge,
		Log:               log,
	}
}

// RunCmd is the default command: secret-init [flags] [--] COMMAND [ARG...].
type RunCmd struct {
	Mode    string        `env:"SECRET_INIT_MODE" default:"auto" enum:"auto,exec,supervise" help:"auto: supervise when PID 1, exec otherwise; exec: replace secret-init with the command; supervise: start it as a child and forward signals, reap zombies."`
	Group   bool          `short:"g" env:"SECRET_INIT_GROUP" help:"Forward signals to the child's whole process group, not only the child."`
	Rewrite []string      `env:"SECRET_INIT_REWRITE" sep:"none" placeholder:"FROM:TO" help:"Rewrite a forwarded signal, by name or number (TERM:QUIT, 15:3, RTMIN+1:USR1); TO=0 drops it. Repeatable; a comma list, as is the variable."`
	Grace   time.Duration `env:"SECRET_INIT_GRACE" default:"5s" help:"Supervise mode: after the main child exits, the processes left get SIGTERM, and SIGKILL after this long."`
	// StatusFile is a flag of the run only: check and plan write no file.
	StatusFile string   `name:"status-file" env:"SECRET_INIT_STATUS_FILE" placeholder:"PATH" help:"Write a JSON document to PATH after the start, atomically, without any value: each key's origin and version, whether fallback values are in use and their age, the last error."`
	Command    []string `arg:"" optional:"" passthrough:"" help:"The command to run and its arguments."`

	rewrite signals.Rewrite // Rewrite, parsed
}

// CLI is the whole command line.
type CLI struct {
	Globals
	Run     RunCmd     `cmd:"" default:"withargs" hidden:"" help:"Run COMMAND (the default command)."`
	Version VersionCmd `cmd:"" help:"Print the version."`
	Plan    PlanCmd    `cmd:"" help:"Show, without any network I/O, every key the contracts declare, the folders a start would ask for it and whether the environment or .env holds it. Exit 0, or 125 on a usage or contract error."`
	Check   CheckCmd   `cmd:"" help:"Resolve exactly as a start would, without running a command, and show where each key came from (never a value). Exit 0 when a start would succeed, 1 when it would fail, 125 on a usage error."`
	Seed    SeedCmd    `cmd:"" help:"Fill Infisical from the contracts with an identity that may write: missing folders and keys. A dry run unless --execute. Exit 1 when a key failed."`

	Provision ProvisionCmd `cmd:"" help:"Make the runtime (read-only) and admin (read-write) machine identities, with universal auth, client secrets and their roles in the project, and the contracts' folders; write their credentials into their .env files. Needs an identity that administers the project. A dry run unless --execute. Exit 1 when a step failed."`

	ShowVersion bool `name:"version" help:"Print the version, as the version command does."`

	command string // run, version, plan, check, seed or provision
}

// parseArgs reads the command line and the SECRET_INIT_* variables, and
// checks what kong's types cannot. Its errors are command-line mistakes,
// but for an *launcher.ExitError: kong has answered itself (--help).
//
// kong reads the variables from the process environment itself; environ
// must be that environment (the tests set variables with t.Setenv).
func parseArgs(args, environ []string) (*CLI, error) {
	cli, ok := fastParse(args, environ)
	if !ok {
		var err error
		if cli, err = kongParse(args, environ); err != nil {
			return nil, err
		}
	}
	if !cli.requiredSet && infisicalRequired(environ) {
		cli.Required = true
	}
	if err := cli.validate(); err != nil {
		return nil, err
	}
	return cli, nil
}

// infisicalRequired reads INFISICAL_REQUIRED, the seed project's switch
// for what --required does, as the seed project reads it: true, 1 or yes
// turn it on, anything else leaves it off. --required and
// SECRET_INIT_REQUIRED, when given, decide instead. Like every
// SECRET_INIT_* variable it is read from the process environment only.
func infisicalRequired(environ []string) bool {
	v, _ := resolve.LookupEnv(environ, "INFISICAL_REQUIRED")
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "1", "yes":
		return true
	}
	return false
}

// fastParse handles the command line of nearly every container start,
// ENTRYPOINT ["secret-init", "--"] with no SECRET_INIT_* variable: every
// setting is its default, so there is nothing for kong to parse. Building
// kong's model by reflection costs more than the rest of a passthrough
// start (page faults over type data, mostly); TestFastParseMatchesKong
// keeps these defaults equal to kong's.
func fastParse(args, environ []string) (*CLI, bool) {
	if len(args) < 2 || args[0] != "--" {
		return nil, false
	}
	for _, kv := range environ {
		if strings.HasPrefix(kv, "SECRET_INIT_") {
			return nil, false
		}
	}
	cli := &CLI{
		Globals: Globals{
			EnvFile:        ".env",
			LogLevel:       "info",
			LogFormat:      "auto",
			Contracts:      []string{"contracts"},
			Fetch:          "auto",
			Timeout:        10 * time.Second,
			FallbackMaxAge: 24 * time.Hour,
		},
		Run:     RunCmd{Mode: "auto", Grace: 5 * time.Second, Command: args[1:]},
		command: "run",
	}
	return cli, true
}

// kongExit is what kong's exit hook panics with, for kongParse to recover:
// only main ends the process.
type kongExit int

// kongParse is the slow path of parseArgs: kong, with "--" routed to the
// run command, explicitly set flags told from defaults, and comma lists
// split.
func kongParse(args, environ []string) (cli *CLI, err error) {
	cli = &CLI{}
	parser, err := kong.New(cli,
		kong.Name("secret-init"),
		kong.Description("Fetch the secrets your service's contracts declare from Infisical, then run COMMAND: in its place (exec), or as a tini-style PID 1 that forwards signals and reaps zombies. With no INFISICAL_ADDR it only puts .env under the environment and runs COMMAND."),
		kong.Help(printHelp),
		kong.UsageOnError(),
		kong.Writers(os.Stdout, signals.Stderr),
		kong.Exit(func(code int) { panic(kongExit(code)) }),
	)
	if err != nil {
		return nil, err
	}
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		code, ok := r.(kongExit)
		if !ok {
			panic(r)
		}
		// kong printed what was asked (--help) and would exit.
		cli, err = nil, &launcher.ExitError{Code: launcher.ExitOK}
		if code != 0 {
			err = &launcher.ExitError{Code: launcher.ExitUsage}
		}
	}()
	if len(args) > 0 && args[0] == "help" {
		// secret-init help [COMMAND]: our help, never a program named help
		// (that is secret-init -- help).
		args = append(slices.Clone(args[1:]), "--help")
	}
	routed, explicitRun, err := routeArgs(parser, args)
	if err != nil {
		return nil, err
	}
	ctx, err := parser.Parse(routed)
	if err != nil {
		return nil, err
	}
	if explicitRun && len(cli.Run.Command) > 0 && cli.Run.Command[0] == "--" {
		cli.Run.Command = cli.Run.Command[1:]
	}
	cli.command, _, _ = strings.Cut(ctx.Command(), " ")
	if cli.ShowVersion {
		cli.command = "version"
	}
	cli.envFileSet = flagSet(ctx, environ, "env-file")
	cli.contractsSet = flagSet(ctx, environ, "contracts")
	cli.requiredSet = flagSet(ctx, environ, "required")
	cli.Contracts = splitEnvList(ctx, "contracts", cli.Contracts)
	cli.Path = splitEnvList(ctx, "path", cli.Path)
	return cli, nil
}

// validate checks what kong's types cannot: ranges, a command to run, the
// rewrite rules.
func (c *CLI) validate() error {
	if c.Timeout <= 0 {
		return fmt.Errorf("--timeout %v: the prefetch needs a positive bound", c.Timeout)
	}
	if c.FallbackMaxAge <= 0 {
		return fmt.Errorf("--fallback-max-age %v: a positive duration", c.FallbackMaxAge)
	}
	if c.command != "run" {
		return nil
	}
	r := &c.Run
	if len(r.Command) == 0 {
		return errors.New("no command given")
	}
	if r.Command[0] == "" {
		return errors.New("the command name is empty")
	}
	if r.Grace < 0 {
		return fmt.Errorf("--grace %v: a duration of zero or more", r.Grace)
	}
	rewrite, err := signals.ParseRewrite(r.Rewrite)
	if err != nil {
		return fmt.Errorf("--rewrite: %w", err)
	}
	r.rewrite = rewrite
	return nil
}

// routeArgs makes "--" mean "what follows is the command". kong would
// otherwise read `secret-init -- version` as our version command, and an
// image with ENTRYPOINT ["secret-init", "--"] and CMD ["check"] must run
// the image's own `check`. When every word before "--" is one of our
// flags (or a flag's value), the run command is named explicitly; kong
// then keeps the "--" in the passthrough arguments, and the caller drops it.
func routeArgs(p *kong.Kong, args []string) (out []string, explicitRun bool, err error) {
	takesValue := map[string]bool{}
	for _, f := range p.Model.Node.AllFlags(true) {
		for _, fl := range f {
			v := !fl.IsBool() && !fl.IsCounter()
			takesValue["--"+fl.Name] = v
			if fl.Short != 0 {
				takesValue["-"+string(fl.Short)] = v
			}
		}
	}
	for _, c := range p.Model.Node.Children {
		for _, fl := range c.Flags {
			v := !fl.IsBool() && !fl.IsCounter()
			takesValue["--"+fl.Name] = v
			if fl.Short != 0 {
				takesValue["-"+string(fl.Short)] = v
			}
		}
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append([]string{"run"}, args...), true, nil
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			return args, false, nil // a command word, ours or the user's: kong decides
		}
		name, _, hasValue := strings.Cut(a, "=")
		v, known := takesValue[name]
		if !known {
			if neg, ok := strings.CutPrefix(name, "--no-"); ok {
				_, known = takesValue["--"+neg]
			}
		}
		if !known {
			// kong would take an unknown flag for the start of the
			// command and run a program named --requird.
			return nil, false, fmt.Errorf("unknown flag %s", contracts.Clip(name, 40))
		}
		if v && !hasValue {
			i++
		}
	}
	return args, false, nil
}

// splitEnvList gives list flags their comma-list variables. The flag
// itself is not split (sep:"none"): a folder may have a comma in its name,
// and --contracts "team a,b" means that one folder. A value that came
// from the environment variable is the documented comma list.
func splitEnvList(ctx *kong.Context, name string, vals []string) []string {
	for _, p := range ctx.Path {
		if p.Flag != nil && p.Flag.Name == name {
			return vals // given on the command line
		}
	}
	var out []string
	for _, v := range vals {
		for _, part := range strings.Split(v, ",") {
			if part = strings.TrimSpace(part); part != "" {
				out = append(out, part)
			}
		}
	}
	return out
}

// flagSet reports whether the user gave flag name on the command line or
// through its environment variable, not only its default (kong marks a
// defaulted flag as set, so its parse path is what tells).
func flagSet(ctx *kong.Context, environ []string, name string) bool {
	for _, p := range ctx.Path {
		if p.Flag != nil && p.Flag.Name == name {
			return true
		}
	}
	for _, f := range ctx.Flags() {
		if f.Name != name {
			continue
		}
		for _, e := range f.Envs {
			if _, ok := resolve.LookupEnv(environ, e); ok {
				return true
			}
		}
	}
	return false
}
