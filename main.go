// Command secret-init is a container entrypoint: it reads bootstrap settings
// from .env, prefetches the secrets the node contracts declare from
// Infisical, merges them under the process environment, and hands over to
// the service (execve, or tini-style supervision as PID 1).
//
// This file is the life of a start, in the order it happens; cli.go is the
// command line, commands.go the operator commands (version, plan, check,
// seed, provision).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"

	"secret-init/infisical"
	"secret-init/launcher"
	"secret-init/resolve"
	"secret-init/signals"
	// The subscription to the signals a Go program dies of, made while
	// the program is initialised: as early as Go allows.
	_ "secret-init/signals/early"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() { os.Exit(run(os.Args[1:], os.Environ())) }

// run is one start of secret-init; it returns the code to exit with.
func run(args, environ []string) (code int) {
	// A panic of ours is a bug: one line and 125, never a stack dump.
	defer func() {
		if r := recover(); r != nil {
			code = internalError(signals.Stderr, r)
		}
	}()
	// The signals that would be fatal are caught since the program was
	// initialised (signals/early); the other standard ones from now on.
	sigs := signals.Catch()
	// The standard logger is net/http's, for a few lines no operator
	// needs; one of them quotes what a server sent unasked, and it would
	// write to stderr past signals.Stderr.
	log.SetOutput(io.Discard)

	// The command line and the SECRET_INIT_* variables.
	cli, err := parseArgs(args, environ)
	if err != nil {
		return usageFailure(err)
	}
	log := newLogger(cli.LogLevel, cli.LogFormat)
	if cli.command != "run" {
		// version, plan, check, seed, provision: no command to hand over to.
		_, err := watched(sigs, func() error { return cli.operate(environ, log) })
		return exitCode(log, err)
	}

	// A supervised child gets the realtime signals too: they are
	// subscribed to meanwhile.
	if launcher.Mode(cli.Run.Mode).Supervises() {
		sigs.SubscribeRealtime()
	}

	// Read the inputs, plan, fetch, merge, while this goroutine watches
	// the signals.
	var out *resolve.Outcome
	status := &resolve.Status{Path: cli.Run.StatusFile}
	pending, err := watched(sigs, func() (err error) {
		out, err = prepare(cli.resolveOptions(log), environ)
		// Failed start or not: a probe or an operator reads why there,
		// and where each value came from (never a value).
		status.Update(out, err, cli.Timeout, log)
		return err
	})
	if err != nil {
		return exitCode(log, err)
	}

	// Hand over: execve in place, or start the command and supervise it.
	code, err = launcher.Run(launcher.Options{
		Argv:    cli.Run.Command,
		Env:     out.Env,
		Mode:    launcher.Mode(cli.Run.Mode),
		Group:   cli.Run.Group,
		Rewrite: cli.Run.rewrite,
		Grace:   cli.Run.Grace,
		Signals: sigs,
		Pending: pending,
		Log:     log,
	})
	if err != nil {
		return exitCode(log, err)
	}
	return code
}

// watched runs work while this goroutine watches the signals: TERM, INT,
// QUIT or HUP before the hand-over exits 128+N at once, with nothing
// started; the others are returned, to be replayed to the child.
func watched(sigs *signals.Catcher, work func() error) ([]syscall.Signal, error) {
	var err error
	pending, abort := sigs.Startup(func() { err = work() })
	if abort != 0 {
		return nil, &launcher.ExitError{Code: launcher.SignalExit(abort)}
	}
	return pending, err
}

// prepare resolves the child's environment as every start does (and check,
// to report on it): read the inputs, plan, fetch, merge. The Outcome is
// filled as far as it got, also with an error.
func prepare(o resolve.Options, environ []string) (*resolve.Outcome, error) {
	out, err := resolve.ReadInputs(o, environ) // .env, then the INFISICAL_* settings
	if err != nil {
		return out, err
	}
	if !out.Passthrough {
		if out.Bootstrap.HTTPS() {
			infisical.WarmRoots() // the system's CA roots load while the contracts are read
		}
		// The contracts, and the plan: which folders may hold which key.
		if err := out.ReadContracts(o, environ); err != nil {
			return out, err
		}
	}
	// One login, then every folder of the plan in one parallel round.
	if err := out.Fetch(context.Background(), o, environ); err != nil {
		return out, err
	}
	out.Merge(environ) // the environment first, then Infisical, then .env
	return out, nil
}

// exitCode says once, on stderr, why secret-init stops, and returns the
// code it exits with: an *launcher.ExitError's own, and ExitUsage for any
// other error (it stopped the start).
func exitCode(log zerolog.Logger, err error) int {
	if err == nil {
		return launcher.ExitOK
	}
	var e *launcher.ExitError
	if !errors.As(err, &e) {
		e = &launcher.ExitError{Code: launcher.ExitUsage, Err: err}
	}
	if e.Err != nil {
		log.Error().Msg(err.Error())
		if log.GetLevel() == zerolog.Disabled {
			// Even with logs off, a failed start says why, once.
			fmt.Fprintf(signals.Stderr, "secret-init: %v\n", err)
		}
	}
	return e.Code
}

// usageFailure reports a command-line mistake with the usage line, and
// exits 125; what kong answered itself (--help) keeps kong's code, and
// says why in one line if it failed (the help could not be written).
func usageFailure(err error) int {
	var e *launcher.ExitError
	if errors.As(err, &e) {
		if e.Err != nil {
			fmt.Fprintf(signals.Stderr, "secret-init: %v\n", e.Err)
		}
		return e.Code
	}
	fmt.Fprintf(signals.Stderr, "secret-init: %v\n", err)
	fmt.Fprintln(signals.Stderr, "Usage: secret-init [flags] [--] COMMAND [ARG...]   (secret-init --help for flags)")
	return launcher.ExitUsage
}

// internalError reports a panic as one line on w, and returns 125. It
// says what failed and where, never a value: a runtime error's message
// holds only numbers and type names; of anything else only the type is
// told.
func internalError(w io.Writer, r any) int {
	what := fmt.Sprintf("panic(%T)", r)
	if e, ok := r.(runtime.Error); ok {
		what = e.Error()
	}
	fmt.Fprintf(w, "secret-init: internal error: %s, in %s; please report this bug\n", what, panicSite())
	return launcher.ExitUsage
}

// panicSite is the function that panicked, as seen from a deferred call
// during the panic: the first frame after the runtime's own.
func panicSite() string {
	pcs := make([]uintptr, 64)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(1, pcs)])
	inPanic := false
	for {
		f, more := frames.Next()
		switch {
		case f.Function == "runtime.gopanic":
			inPanic = true
		case inPanic && !strings.HasPrefix(f.Function, "runtime."):
			return f.Function
		}
		if !more {
			return "an unknown place"
		}
	}
}

// newLogger builds the stderr logger. Levels and format were checked by
// kong. A line it cannot write is dropped (signals.Stderr): zerolog must
// not fall back to os.Stderr to say so.
func newLogger(level, format string) zerolog.Logger {
	zerolog.ErrorHandler = func(error) {}
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
		w := zerolog.ConsoleWriter{Out: signals.Stderr, TimeFormat: "15:04:05.000"}
		return zerolog.New(w).Level(lvl).With().Timestamp().Str("app", "secret-init").Logger()
	}
	return zerolog.New(signals.Stderr).Level(lvl).With().Timestamp().Str("app", "secret-init").Logger()
}
