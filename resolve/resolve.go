package resolve

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"secret-init/contracts"
	"secret-init/infisical"
)

// Options are the resolve settings; main fills them from flags.
type Options struct {
	EnvFile           string        // --env-file
	EnvFileExplicit   bool          // named by the user: it must exist
	Contracts         []string      // --contracts folders or files
	ContractsExplicit bool          // named by the user: they must exist
	TransportMap      string        // --transport-map: extra transports or key lists
	Service           string        // --service slug; empty means shared folders only
	Paths             []string      // --path: folders taken whole
	Timeout           time.Duration // bounds the whole prefetch, retries included
	CACert            string        // --ca-cert: extra CA for Infisical's TLS
	Required          bool          // --required: any gap is fatal
	Log               zerolog.Logger
}

// Outcome is everything a start resolved. Env holds values; the rest is
// safe to print.
type Outcome struct {
	Env         []string // the merged environment for the child
	Passthrough bool     // no INFISICAL_ADDR: no contracts read, no network
	Dotenv      *Dotenv
	Bootstrap   Bootstrap
	Set         *contracts.Set
	Plan        *Plan
	Result      *Result // nil in passthrough or when Infisical was not asked
}

// UsageError is a mistake in flags or input files: exit 125 for every
// command, check included.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// StartError says why a start stops before the command runs: Infisical
// unreachable or refusing with --required, missing keys with --required,
// a required dependency no source has, a value that cannot go into an
// environment.
type StartError struct{ Err error }

func (e *StartError) Error() string { return e.Err.Error() }
func (e *StartError) Unwrap() error { return e.Err }

// ReadInputs reads .env, the bootstrap settings, the transport map and the
// contracts, and builds the plan: everything before the network. In
// passthrough (no INFISICAL_ADDR) it reads .env only, unless
// forceContracts (plan and check want the contracts anyway).
func ReadInputs(o Options, proc []string, forceContracts bool) (*Outcome, error) {
	d, err := ReadDotenv(o.EnvFile, o.EnvFileExplicit)
	if err != nil {
		return nil, &UsageError{err}
	}
	out := &Outcome{Dotenv: d, Bootstrap: ReadBootstrap(proc, d)}
	out.Passthrough = out.Bootstrap.Addr == ""
	if out.Passthrough && !forceContracts {
		return out, nil
	}
	if !forceContracts && strings.HasPrefix(strings.ToLower(out.Bootstrap.Addr), "https://") {
		infisical.WarmRoots() // a start will talk TLS: load the roots meanwhile (plan never does)
	}
	m := contracts.DefaultTransportMap()
	if o.TransportMap != "" {
		if err := m.Merge(o.TransportMap); err != nil {
			return out, &UsageError{fmt.Errorf("--transport-map: %w", err)}
		}
	}
	set, err := contracts.Load(o.Contracts, o.ContractsExplicit, m)
	if err != nil {
		return out, &UsageError{err}
	}
	out.Set = set
	for _, w := range set.Warnings {
		o.Log.Warn().Msg(w.Error())
	}
	out.Plan = BuildPlan(set, m, o.Service, o.Paths, proc)
	if o.Required && len(set.Warnings) > 0 {
		return out, &StartError{fmt.Errorf("%d contract warning(s) and --required is set; the first: %s", len(set.Warnings), set.Warnings[0].Error())}
	}
	return out, nil
}

// Resolve does what a start does before handing over: read the inputs,
// prefetch from Infisical unless in passthrough, and merge. The Outcome is
// filled as far as resolving got, also when it returns an error.
func Resolve(ctx context.Context, o Options, proc []string) (*Outcome, error) {
	out, err := ReadInputs(o, proc, false)
	if err != nil {
		return out, err
	}
	if out.Passthrough {
		if o.Required {
			// --required says a start without Infisical is wrong; an
			// image that sets it and a deploy that forgot INFISICAL_ADDR
			// must not start quietly on whatever .env holds.
			return out, &StartError{errors.New("--required is set but INFISICAL_ADDR is not (neither in the environment nor in .env)")}
		}
		o.Log.Debug().Int("dotenv_keys", len(out.Dotenv.Keys)).Msg("INFISICAL_ADDR not set: passthrough, no contracts read, no network")
		out.Env = Merge(proc, out.Dotenv.Layer())
		return out, nil
	}
	if err := out.fetch(ctx, o, proc); err != nil {
		return out, err
	}
	out.Env = Merge(proc, out.Result.Layer, out.Dotenv.Layer())
	return out, nil
}

// fetch runs the prefetch and decides, by the rules of --required, what
// stops the start.
func (out *Outcome) fetch(ctx context.Context, o Options, proc []string) error {
	b := out.Bootstrap
	if err := b.Check(); err != nil {
		if o.Required {
			return &StartError{err}
		}
		o.Log.Warn().Msg(err.Error() + "; starting without Infisical")
		out.Result = out.offline(proc, err)
		return out.absent()
	}
	c, err := b.Client(o.CACert)
	if err != nil {
		return &UsageError{err}
	}
	defer c.CloseIdle()
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	res, err := Prefetch(ctx, c, b, out.Plan, proc, out.Dotenv)
	out.Result = res
	if err != nil {
		return &StartError{err}
	}
	res.Log(o.Log)
	if res.Failed != nil {
		if o.Required {
			return &StartError{fmt.Errorf("Infisical at %s: %w", safeAddr(b.Addr), res.Failed)}
		}
		o.Log.Warn().Str("addr", safeAddr(b.Addr)).Msg(res.Failed.Error() + "; starting with the environment and .env only")
	}
	if err := out.absent(); err != nil {
		return err
	}
	if o.Required && len(res.Missing) > 0 {
		return &StartError{fmt.Errorf("--required: %d declared key(s) in neither the environment nor Infisical: %s", len(res.Missing), strings.Join(res.Missing, ", "))}
	}
	return nil
}

// absent is the rule that holds with or without --required: a dependency
// marked required that no source has stops the start.
func (out *Outcome) absent() error {
	if out.Result == nil || len(out.Result.Absent) == 0 {
		return nil
	}
	return &StartError{fmt.Errorf("required dependencies set nowhere (environment, Infisical, .env): %s", strings.Join(out.Result.Absent, ", "))}
}

// offline is the result when Infisical is not asked at all.
func (out *Outcome) offline(proc []string, why error) *Result {
	res := &Result{Origins: map[string]string{}, FolderErr: map[string]error{}, Failed: why}
	res.take(out.Plan, nil, proc, out.Dotenv) // no answers: cannot fail
	return res
}

// IsUsage reports whether err is a usage error (exit 125 everywhere).
func IsUsage(err error) bool {
	var u *UsageError
	return errors.As(err, &u)
}
