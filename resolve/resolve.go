// Package resolve builds the environment a service starts with, in the
// order a start does it: read the inputs (the .env file and the bootstrap
// settings), read the contracts and plan which Infisical folders hold
// which keys, fetch those folders, and merge every source with env-first
// priority. It also renders what plan and check print.
package resolve

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"secret-init/contracts"
	"secret-init/dotenv"
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
	Timeout           time.Duration // bounds the whole fetch, retries included
	CACert            string        // --ca-cert: extra CA for Infisical's TLS
	Required          bool          // --required: any gap is fatal
	DropBootstrap     bool          // --drop-bootstrap: the credentials do not reach the command
	FallbackFile      string        // --fallback-file: where the last complete fetch is kept; "" is off
	FallbackMaxAge    time.Duration // --fallback-max-age: an older file is not used
	FallbackInspect   bool          // check: read the fallback file to report on it, never write it
	Log               zerolog.Logger
}

// Outcome is everything a start resolved, filled step by step: ReadInputs,
// ReadContracts, Fetch, Merge. Env holds values; the rest is safe to print.
type Outcome struct {
	Dotenv      *dotenv.File
	Bootstrap   Bootstrap
	Passthrough bool           // no INFISICAL_ADDR: no contracts read, no network
	Set         *contracts.Set // nil until ReadContracts
	Plan        *Plan          // nil until ReadContracts
	Result      *Result        // nil in passthrough or until Fetch
	Fallback    *Fallback      // --fallback-file; nil when not set, in passthrough, or until Fetch
	Env         []string       // the merged environment for the child; nil until Merge
	// DropBootstrap keeps the Credentials out of Env (--drop-bootstrap).
	DropBootstrap bool
}

// UsageError is a mistake in flags or input files: exit 125 for every
// command, check included. Every other error of a step says why a start
// would stop.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// ReadInputs reads the .env file and the bootstrap settings (the process
// environment first, then .env). Without INFISICAL_ADDR the start is a
// passthrough: no contract is read, nothing is fetched.
func ReadInputs(o Options, proc []string) (*Outcome, error) {
	if err := checkService(o.Service); err != nil {
		return nil, &UsageError{err}
	}
	d, err := dotenv.Read(o.EnvFile, o.EnvFileExplicit)
	if err != nil {
		return nil, &UsageError{err}
	}
	out := &Outcome{Dotenv: d, Bootstrap: readBootstrap(proc, d), DropBootstrap: o.DropBootstrap}
	out.Passthrough = out.Bootstrap.Addr == ""
	return out, nil
}

// ReadContracts reads the transport map and the contracts, and plans which
// folders to ask for which key. It does no network I/O. With --required a
// contract warning is an error.
func (out *Outcome) ReadContracts(o Options, proc []string) error {
	m := contracts.DefaultTransportMap()
	if o.TransportMap != "" {
		if err := m.Merge(o.TransportMap); err != nil {
			return &UsageError{fmt.Errorf("--transport-map: %w", err)}
		}
	}
	set, err := contracts.Load(o.Contracts, o.ContractsExplicit, m)
	if err != nil {
		return &UsageError{err}
	}
	out.Set = set
	for _, w := range set.Warnings {
		o.Log.Warn().Msg(w.Error())
	}
	if o.DropBootstrap {
		var declared []string
		for _, b := range set.Bootstrap {
			if slices.Contains(Credentials, b.Key) {
				declared = append(declared, b.Key)
			}
		}
		if len(declared) > 0 {
			o.Log.Warn().Strs("keys", declared).Msg("--drop-bootstrap: the contracts declare credentials that the command will not get")
		}
	}
	out.Plan = buildPlan(set, m, o.Service, o.Paths, proc)
	if o.Required && len(set.Warnings) > 0 {
		return fmt.Errorf("%d contract warning(s) and --required is set; the first: %s", len(set.Warnings), set.Warnings[0].Error())
	}
	return nil
}

// Fetch logs in to Infisical and lists the plan's folders within
// --timeout, keeps a complete fetch in the fallback file or, when
// Infisical could not answer, takes the file's values instead, then
// decides, by the rules of --required, what stops the start. In
// passthrough it asks nothing, and --required makes that an error. The
// Result is kept also when Fetch returns an error.
func (out *Outcome) Fetch(ctx context.Context, o Options, proc []string) error {
	if out.Passthrough {
		if o.Required {
			// --required says a start without Infisical is wrong; an
			// image that sets it and a deploy that forgot INFISICAL_ADDR
			// must not start quietly on whatever .env holds.
			return errors.New("--required is set but INFISICAL_ADDR is not (neither in the environment nor in .env)")
		}
		o.Log.Debug().Int("dotenv_keys", len(out.Dotenv.Keys)).Msg("INFISICAL_ADDR not set: passthrough, no contracts read, no network")
		return nil
	}
	b := out.Bootstrap
	if err := b.Check(); err != nil {
		out.Fallback = newFallback(o, b, out.Plan, o.Log)
		if o.Required {
			return err
		}
		o.Log.Warn().Msg(err.Error() + "; starting without Infisical")
		out.Result = out.offline(proc, err)
		return out.absent()
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	c, err := b.Client(ctx, o.CACert, TraceRequests(o.Log))
	if err != nil {
		return err
	}
	defer c.CloseIdle()
	out.Fallback = newFallback(o, b, out.Plan, o.Log)
	res, err := prefetch(ctx, c, b, out.Plan, proc, out.Dotenv, o.Log)
	out.Result = res
	if err != nil {
		return err
	}
	if err := out.bridge(o, c, proc); err != nil {
		return err
	}
	// The cause comes before the summary of what the start goes on with;
	// when the cause stops the start, it is the only word.
	switch {
	case res.Failed != nil && res.Fallback != nil:
		age := roundAge(res.Fallback.Age(time.Now()))
		o.Log.Warn().Str("addr", b.SafeAddr()).Str("file", res.Fallback.Path).Int64("age_seconds", int64(age/time.Second)).
			Msg(fmt.Sprintf("%s; starting with the values of the fallback file %s, fetched %s ago", res.Failed, res.Fallback.Path, age))
	case res.Failed != nil && o.Required:
		return fmt.Errorf("Infisical at %s: %w", b.SafeAddr(), res.Failed)
	case res.Failed != nil:
		o.Log.Warn().Str("addr", b.SafeAddr()).Msg(res.Failed.Error() + "; starting with the environment and .env only")
	}
	res.logSummary(o.Log, o.Required)
	if err := out.absent(); err != nil {
		return err
	}
	if o.Required && len(res.Refused) > 0 {
		where := "Infisical"
		if res.Fallback != nil {
			where = "the fallback file"
		}
		return fmt.Errorf("--required: %d declared key(s) in neither the environment nor %s: %s", len(res.Refused), where, res.describe(res.Refused))
	}
	return nil
}

// describe names keys with where their value comes from: "A (from .env),
// B (missing)".
func (res *Result) describe(keys []string) string {
	return describeKeys(keys, func(k string) string { return res.Origins[k] })
}

// Merge sets Env, the child's environment: the process environment as it
// is, then what Infisical gave (or the fallback file), then .env; with
// DropBootstrap, without the Credentials, wherever they came from; with
// SECRET_INIT_FALLBACK_AGE exactly when the fallback file's values are in
// use.
func (out *Outcome) Merge(proc []string) {
	var layers []Layer
	if out.Result != nil {
		layers = append(layers, out.Result.Layer)
	}
	out.Env = merge(proc, append(layers, Layer{Keys: out.Dotenv.Keys, Values: out.Dotenv.Values})...)
	if out.DropBootstrap {
		out.Env = slices.DeleteFunc(out.Env, func(kv string) bool {
			k, _, _ := strings.Cut(kv, "=")
			return slices.Contains(Credentials, k)
		})
	}
	out.Env = withAgeVar(out.Env, out.Result, time.Now())
}

// absent is the rule that holds with or without --required: a dependency
// marked required that no source has stops the start.
func (out *Outcome) absent() error {
	if out.Result == nil || len(out.Result.Absent) == 0 {
		return nil
	}
	return fmt.Errorf("required dependencies set nowhere (environment, Infisical, .env): %s", strings.Join(out.Result.Absent, ", "))
}

// offline is the result when Infisical is not asked at all.
func (out *Outcome) offline(proc []string, why error) *Result {
	res := &Result{Origins: map[string]string{}, FolderErr: map[string]error{}, Failed: why}
	res.take(out.Plan, nil, proc, out.Dotenv) // no answers: cannot fail
	return res
}
