package main

// The operator commands: plan, check and seed. Wiring only: flags to
// resolve calls, reports to stdout, errors and warnings to stderr.

import (
	"context"
	"errors"
	"os"

	"github.com/rs/zerolog"

	"secret-init/launcher"
	"secret-init/resolve"
)

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

// run prints the plan; 0, or 125 on a usage or contract error.
func (c *PlanCmd) run(g *Globals, log zerolog.Logger) int {
	proc := os.Environ()
	out, err := resolve.ReadInputs(g.resolveOptions(log), proc, true)
	if err != nil {
		fatal(log, launcher.ExitUsage, err) // --required with broken contracts included
	}
	return writeReport(log, resolve.PlanReport(out, proc), c.Output, 0)
}

// run resolves as a start would: 0 when it would succeed, 1 when it
// would fail, 125 on a usage error.
func (c *CheckCmd) run(g *Globals, log zerolog.Logger) int {
	proc := os.Environ()
	o := g.resolveOptions(log)
	out, err := resolve.Resolve(context.Background(), o, proc)
	if resolve.IsUsage(err) {
		fatal(log, launcher.ExitUsage, err)
	}
	if out != nil && out.Passthrough {
		// A start in passthrough reads no contract; check reads them
		// anyway, to say where each key would come from. Their warnings
		// cannot fail a start that never reads them.
		o.Required = false
		report, rerr := resolve.ReadInputs(o, proc, true)
		if rerr != nil {
			fatal(log, launcher.ExitUsage, rerr)
		}
		out = report
	}
	code := 0
	if err != nil {
		log.Error().Msg(err.Error())
		code = launcher.ExitFailed
	}
	return writeReport(log, resolve.CheckReport(out, proc, err), c.Output, code)
}

// run seeds (or, without --execute, shows what it would seed): 0, 1 when
// a key failed or nothing could be written, 125 on a usage error.
func (c *SeedCmd) run(g *Globals, log zerolog.Logger) int {
	rep, err := resolve.Seed(context.Background(), g.resolveOptions(log), resolve.SeedOptions{
		Execute:       c.Execute,
		CreateMissing: c.CreateMissingKeys,
		SetValues:     c.SetValues,
		ImportEnv:     c.ImportEnv,
		Overwrite:     c.OverwriteExisting,
	}, os.Environ())
	var ue *resolve.UsageError
	switch {
	case errors.As(err, &ue):
		fatal(log, launcher.ExitUsage, err)
	case err != nil:
		fatal(log, launcher.ExitFailed, err)
	}
	for _, w := range rep.Warnings {
		log.Warn().Msg(w)
	}
	if err := rep.WriteText(os.Stdout); err != nil {
		fatal(log, launcher.ExitFailed, err)
	}
	if rep.Failed > 0 {
		return launcher.ExitFailed
	}
	return 0
}

func writeReport(log zerolog.Logger, r *resolve.Report, format string, code int) int {
	var err error
	if format == "json" {
		err = r.WriteJSON(os.Stdout)
	} else {
		err = r.WriteText(os.Stdout)
	}
	if err != nil {
		fatal(log, launcher.ExitFailed, err)
	}
	return code
}
