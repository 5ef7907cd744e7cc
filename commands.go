package main

// The operator commands: version, plan, check and seed. Each is a struct
// of its own flags with a Run method that returns an error, as kong's
// commands do; main turns the error into the exit code.

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/rs/zerolog"

	"secret-init/launcher"
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
	var ue *resolve.UsageError
	switch {
	case errors.As(err, &ue):
		return err
	case err != nil:
		return &launcher.ExitError{Code: launcher.ExitFailed, Err: err}
	}
	for _, w := range rep.Warnings {
		log.Warn().Msg(w)
	}
	if err := rep.WriteText(os.Stdout); err != nil {
		return outputFailed(err)
	}
	if rep.Failed > 0 {
		return &launcher.ExitError{Code: launcher.ExitFailed} // each failure has its line
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
