package main

// The operator commands: version, plan, check, seed and provision. Each is a struct
// of its own flags with a Run method that returns an error, as kong's
// commands do; main turns the error into the exit code.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/rs/zerolog"

	"secret-init/launcher"
	"secret-init/provision"
	"secret-init/resolve"
	"secret-init/seed"
)

// operate runs the operator command the command line named.
func (c *CLI) operate(environ []string, log zerolog.Logger) error {
	switch c.command {
	case "version":
		return c.Version.Run()
	case "plan":
		return c.Plan.Run(&c.Globals, environ, log)
	case "check":
		return c.Check.Run(&c.Globals, environ, log)
	case "seed":
		return c.Seed.Run(&c.Globals, environ, log)
	case "provision":
		return c.Provision.Run(&c.Globals, environ, log)
	}
	return fmt.Errorf("unknown command %q", c.command)
}

// VersionCmd prints the version.
type VersionCmd struct{}

// Run prints the version.
func (VersionCmd) Run() error {
	_, err := fmt.Println("secret-init", version)
	return outputFailed(err)
}

// outputFailed makes a failed write of our own output (stdout full or
// closed) an exit 125 with one line: the operator asked for output and did
// not get it, whatever the command would have said.
func outputFailed(err error) error {
	if err == nil {
		return nil
	}
	return &launcher.ExitError{Code: launcher.ExitUsage, Err: fmt.Errorf("cannot write the output: %w", err)}
}

// PlanCmd prints what a start would fetch, without any network I/O.
type PlanCmd struct {
	Output string `short:"o" env:"SECRET_INIT_OUTPUT" default:"text" enum:"text,json" help:"text: tables for a person; json: one document for tools (field names in the README)."`
}

// CheckCmd resolves as a start would, without running a command.
type CheckCmd struct {
	Output string `short:"o" env:"SECRET_INIT_OUTPUT" default:"text" enum:"text,json" help:"text: tables for a person; json: one document for tools (field names in the README)."`
}

// SeedCmd fills Infisical from the contracts. Its flags have no
// environment variables on purpose: a write to Infisical is asked for on
// the command line, never inherited from a shell or an image.
type SeedCmd struct {
	Execute           bool   `help:"Write. Without it seed only prints what it would do (it reads Infisical to tell CREATE from SKIP, and sends no write)."`
	CreateMissingKeys bool   `name:"create-missing-keys" default:"true" negatable:"" help:"Create the keys Infisical lacks (default). --no-create-missing-keys only fills or updates existing ones."`
	SetValues         bool   `name:"set-values" help:"Give written keys a value: from --import-env FILE when given, else from the process environment, then --env-file. Without it created keys are empty."`
	ImportEnv         string `name:"import-env" placeholder:"FILE" help:"With --set-values: the .env-syntax file values are taken from, instead of the environment."`
	OverwriteExisting bool   `name:"overwrite-existing" help:"With --set-values: replace existing non-empty values that differ. Without it an existing non-empty value is never changed (an empty one is filled)."`
}

// Run prints the plan: the inputs and the contracts, no network. Any
// error is a usage or contract error (125), --required's included.
func (c *PlanCmd) Run(g *Globals, environ []string, log zerolog.Logger) error {
	o := g.resolveOptions(log)
	out, err := resolve.ReadInputs(o, environ)
	if err != nil {
		return err
	}
	if err := out.ReadContracts(o, environ); err != nil {
		return err
	}
	return writeReport(resolve.PlanReport(out, environ), c.Output)
}

// Run resolves as a start would: nil when a start would succeed, exit 1
// when it would fail, 125 on a usage error.
func (c *CheckCmd) Run(g *Globals, environ []string, log zerolog.Logger) error {
	o := g.resolveOptions(log)
	o.FallbackInspect = true
	out, err := prepare(o, environ)
	var ue *resolve.UsageError
	if errors.As(err, &ue) {
		return err
	}
	if out != nil && out.Passthrough {
		// A start in passthrough reads no contract; check reads them
		// anyway, to say where each key would come from. Their warnings
		// cannot fail a start that never reads them.
		o.Required = false
		if err := out.ReadContracts(o, environ); err != nil {
			return err
		}
	}
	// The report first: when it cannot be written, that is the one line
	// (125), not the verdict nobody will read.
	if werr := writeReport(resolve.CheckReport(out, environ, err), c.Output); werr != nil {
		return werr
	}
	if err != nil {
		log.Error().Msg(err.Error())
		return &launcher.ExitError{Code: launcher.ExitFailed} // said in the log and the report
	}
	return nil
}

// Run seeds (or, without --execute, shows what it would seed): nil, exit 1
// when a key failed or nothing could be written, 125 on a usage error.
func (c *SeedCmd) Run(g *Globals, environ []string, log zerolog.Logger) error {
	rep, err := seed.Run(context.Background(), g.resolveOptions(log), seed.Options{
		Execute:       c.Execute,
		CreateMissing: c.CreateMissingKeys,
		SetValues:     c.SetValues,
		ImportEnv:     c.ImportEnv,
		Overwrite:     c.OverwriteExisting,
	}, environ)
	if err != nil {
		return commandError(err)
	}
	return printReport(log, rep.Warnings, rep, rep.Failed > 0)
}

// ProvisionCmd makes the runtime and admin identities and the folders.
// Like seed's, its flags have no environment variables: what it creates
// and where it writes credentials is asked for on the command line.
type ProvisionCmd struct {
	Execute        bool     `help:"Write. Without it provision only reads Infisical and says what it would do."`
	Rotate         bool     `help:"Make new client secrets even where secret-init made some; the old ones are revoked once the new ones are written out."`
	RuntimeName    string   `name:"runtime-name" default:"secret-init-runtime" placeholder:"NAME" help:"Name of the runtime identity: project role viewer, it reads secrets and writes none."`
	AdminName      string   `name:"admin-name" default:"secret-init-admin" placeholder:"NAME" help:"Name of the admin identity: project role member, it reads and writes secrets (for seed)."`
	RuntimeEnvFile string   `name:"runtime-env-file" default:".env" placeholder:"FILE" help:"Where the runtime identity's INFISICAL_* settings go; every other line of the file is kept."`
	AdminEnvFile   string   `name:"admin-env-file" placeholder:"FILE" help:"Where the admin identity's go. Without it the admin gets no client secret."`
	Environments   []string `name:"environments" sep:"," placeholder:"ENV,..." help:"Environments to make the folders in. Default: the bootstrap one (INFISICAL_ENVIRONMENT)."`
}

// Run provisions (or, without --execute, shows what it would): nil, exit 1
// when a step failed or the identity may not administer the project, 125
// on a usage error.
func (c *ProvisionCmd) Run(g *Globals, environ []string, log zerolog.Logger) error {
	rep, err := provision.Run(context.Background(), g.resolveOptions(log), provision.Options{
		Execute:        c.Execute,
		Rotate:         c.Rotate,
		RuntimeName:    c.RuntimeName,
		AdminName:      c.AdminName,
		RuntimeEnvFile: c.RuntimeEnvFile,
		AdminEnvFile:   c.AdminEnvFile,
		Environments:   c.Environments,
	}, environ)
	if err != nil {
		return commandError(err)
	}
	return printReport(log, rep.Warnings, rep, rep.Failed() > 0)
}

// commandError is how a command that could not run at all exits: 125 for
// a usage error, else 1.
func commandError(err error) error {
	var ue *resolve.UsageError
	if errors.As(err, &ue) {
		return err
	}
	return &launcher.ExitError{Code: launcher.ExitFailed, Err: err}
}

// printReport logs the warnings and prints what a command that writes did
// (seed, provision); it exits 1 when a step failed, each failure having
// its own line.
func printReport(log zerolog.Logger, warnings []string, r interface{ WriteText(io.Writer) error }, failed bool) error {
	for _, w := range warnings {
		log.Warn().Msg(w)
	}
	if err := r.WriteText(os.Stdout); err != nil {
		return outputFailed(err)
	}
	if failed {
		return &launcher.ExitError{Code: launcher.ExitFailed}
	}
	return nil
}

// writeReport prints r as text or JSON.
func writeReport(r *resolve.Report, format string) error {
	if format == "json" {
		return outputFailed(r.WriteJSON(os.Stdout))
	}
	return outputFailed(r.WriteText(os.Stdout))
}
