package resolve

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"secret-init/contracts"
	"secret-init/dotenv"
	"secret-init/infisical"
	"secret-init/parallel"
)

// Origin names where a key's value came from, for check and the logs:
// the process environment, an Infisical folder, .env, or nowhere.
const (
	OriginEnv     = "env"
	OriginDotenv  = "dotenv"
	OriginMissing = "missing"
	OriginDropped = "dropped" // a credential set locally, kept from the command by --drop-bootstrap
	// OriginFallback is a value of the fallback file, standing in for
	// Infisical while it could not answer.
	OriginFallback = "fallback"
)

// originInfisical names the folder a value came from.
func originInfisical(folder string) string { return "infisical:" + folder }

// originText says an origin in words, the same in every output: from env,
// from Infisical, from .env, missing.
func originText(origin string) string {
	switch origin {
	case OriginEnv:
		return "from env"
	case OriginDotenv:
		return "from .env"
	case OriginMissing, "":
		return "missing"
	case OriginFallback:
		return "from the fallback file"
	}
	return "from Infisical " + strings.TrimPrefix(origin, "infisical:")
}

// describeKeys names keys with where their value comes from: "A (from
// .env), B (missing)".
func describeKeys(keys []string, origin func(string) string) string {
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + " (" + originText(origin(k)) + ")"
	}
	return strings.Join(parts, ", ")
}

// refusedByRequired is the rule of --required: a declared key that is not
// optional and comes from neither the environment nor Infisical (from .env,
// or from nowhere) stops the start.
func refusedByRequired(optional bool, origin string) bool {
	return !optional && (origin == OriginDotenv || origin == OriginMissing)
}

// Result is what a prefetch found. Values stay in Layer; everything else
// is safe to print.
type Result struct {
	Layer         Layer             // values fetched from Infisical, to merge under the process env
	Origins       map[string]string // every declared key -> where its value comes from
	FromEnv       int               // declared keys already in the process environment
	FromInfisical int               // declared keys whose value comes from Infisical
	FromDotenv    int               // declared keys only .env has
	Missing       []string          // declared keys set nowhere (environment, Infisical, .env)
	Absent        []string          // required dependencies set nowhere (always fatal)
	Refused       []string          // what --required refuses (see refusedByRequired)
	Folders       int               // folders requested
	Requests      int64             // HTTP requests sent, retries included
	Duration      time.Duration
	Failed        error            // Infisical unreachable, login refused, unknown project or environment (nil when it answered)
	FolderErr     map[string]error // folders that failed (403, ...), by folder
	// Unusable are the values Infisical sent that cannot be injected, as
	// "KEY in FOLDER: why" (a reference it left unresolved, a value it
	// hid); those keys count as missing there.
	Unusable []string
	// From is, for every key of Layer, the folder and version its value
	// came from.
	From map[string]Source
	// Complete says every planned folder answered (listed, or not found),
	// nothing failed, not one folder, and no value was refused: what the
	// fallback file keeps. A fetch that asked nothing is not complete.
	Complete  bool
	FetchedAt time.Time // when the answers were in
	// Fallback is set when the fallback file's values stand in for
	// Infisical's (Layer, Origins and From are then the file's).
	Fallback     *FallbackUse
	FromFallback int // declared keys whose value comes from the fallback file

	optionalMissing int // of Missing, the optional keys
}

// Source is where a value taken from Infisical came from.
type Source struct {
	Folder  string
	Version int // Infisical's version of the secret; 0 when unknown
}

// prefetch logs in once and lists every folder of the plan in one
// parallel round, then takes only the declared keys (and everything in
// --path folders) from the answers. Errors that concern Infisical as a
// whole land in Result.Failed; a bad value (NUL byte) or an invalid key in
// a --path folder is returned as an error, since such a value cannot go
// into an environment at all.
func prefetch(ctx context.Context, c *infisical.Client, b Bootstrap, p *Plan, proc []string, d *dotenv.File, log zerolog.Logger) (*Result, error) {
	start := time.Now()
	res := &Result{Origins: map[string]string{}, FolderErr: map[string]error{}}
	defer func() { res.Duration = time.Since(start); res.Requests = c.Requests() }()

	answers := map[string]folderAnswer{}
	if len(p.Folders) > 0 {
		if err := b.Login(ctx, c); err != nil {
			var ue *UsageError
			if errors.As(err, &ue) {
				return res, err // a token file that cannot be read: no request was sent
			}
			res.Failed = fmt.Errorf("login to Infisical: %w", err)
		} else {
			answers = listAll(ctx, c, p.Folders, res, log)
		}
	}
	res.Folders = len(p.Folders)

	if err := res.take(p, answers, proc, d); err != nil {
		return res, err
	}
	res.FetchedAt = time.Now()
	res.Complete = res.Failed == nil && len(res.FolderErr) == 0 && len(p.Folders) > 0
	return res, nil
}

// folderAnswer is one folder's secrets by key.
type folderAnswer map[string]infisical.Secret

// listAll lists folders in parallel, at most infisical.MaxParallel at once.
// A folder that does not exist holds nothing. When no folder held
// anything, one more request asks whether the environment and project
// exist at all: Infisical answers a list in an unknown environment as it
// answers one of a missing folder, and a typo in INFISICAL_ENVIRONMENT
// must not pass for a project that nobody seeded.
func listAll(ctx context.Context, c *infisical.Client, folders []string, res *Result, log zerolog.Logger) map[string]folderAnswer {
	out := make(map[string]folderAnswer, len(folders))
	var mu sync.Mutex
	empty := 0
	parallel.For(len(folders), infisical.MaxParallel, func(i int) {
		f := folders[i]
		secrets, err := c.ListSecrets(ctx, f)
		mu.Lock()
		defer mu.Unlock()
		switch {
		case errors.Is(err, infisical.ErrFolderNotFound):
			log.Trace().Str("folder", f).Msg("folder not found in Infisical: its keys are missing")
			out[f] = folderAnswer{}
			empty++
			return
		case err != nil:
			log.Trace().Str("folder", f).Msg("folder not listed")
			res.FolderErr[f] = err
			return
		}
		log.Trace().Str("folder", f).Int("secrets", len(secrets)).Msg("folder listed")
		m := make(folderAnswer, len(secrets))
		for _, s := range secrets {
			m[s.Key] = s
		}
		out[f] = m
		if len(m) == 0 {
			empty++ // an older server's answer for a missing folder
		}
	})
	if empty == len(folders) && len(folders) > 0 {
		var se *infisical.ScopeError
		if err := c.CheckScope(ctx); errors.As(err, &se) {
			res.Failed = err
		}
		return out
	}
	// When every folder failed the same way, Infisical as a whole failed
	// (down, timeout, 5xx, unknown project, not Infisical at that address):
	// say so once rather than per folder.
	if len(res.FolderErr) == len(folders) && len(folders) > 0 {
		err := res.FolderErr[folders[0]]
		var se *infisical.ScopeError
		var ni *infisical.NotInfisicalError
		if errors.As(err, &se) || errors.As(err, &ni) {
			res.Failed = err
		} else {
			res.Failed = fmt.Errorf("list %s: %w", folders[0], err)
		}
	}
	return out
}

// usable says whether Infisical's value for key in folder f can be
// injected, and records why not: a value Infisical hid from this identity,
// or one that still holds a reference Infisical could not resolve (its
// text would reach the service as "${...}"). Neither names the value.
func (res *Result) usable(key, f string, s infisical.Secret) bool {
	switch {
	case s.Hidden:
		res.Unusable = append(res.Unusable, key+" in "+f+": Infisical hid its value; this identity may see the key but not read the value")
		return false
	case s.Unresolved:
		res.Unusable = append(res.Unusable, key+" in "+f+": the value holds a ${...} reference Infisical could not resolve (a missing or empty secret, or one in a folder this identity may not read)")
		return false
	}
	return true
}

// take picks each declared key's value from the answers, by priority.
func (res *Result) take(p *Plan, answers map[string]folderAnswer, proc []string, d *dotenv.File) error {
	layer := Layer{Values: map[string]string{}}
	res.From = map[string]Source{}
	add := func(k, v string) {
		if _, ok := layer.Values[k]; !ok {
			layer.Keys = append(layer.Keys, k)
		}
		layer.Values[k] = v
	}
	for _, n := range p.Needs {
		origin, err := res.pick(n, p.Paths, answers, d)
		if err != nil {
			return err
		}
		res.Origins[n.Key] = origin
		switch origin {
		case OriginEnv:
			res.FromEnv++
		case OriginDotenv:
			res.FromDotenv++
		case OriginMissing:
			res.Missing = append(res.Missing, n.Key)
			if n.Required {
				res.Absent = append(res.Absent, n.Key)
			}
			if n.Optional {
				res.optionalMissing++
			}
		default:
			f := strings.TrimPrefix(origin, "infisical:")
			add(n.Key, answers[f][n.Key].Value)
			res.From[n.Key] = Source{Folder: f, Version: answers[f][n.Key].Version}
			res.FromInfisical++
		}
		if refusedByRequired(n.Optional, origin) {
			res.Refused = append(res.Refused, n.Key)
		}
	}
	for _, f := range p.Paths {
		keys := make([]string, 0, len(answers[f]))
		for k := range answers[f] {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			sec := answers[f][k]
			v := sec.Value
			if !contracts.IsVarName(k, false) {
				return fmt.Errorf("Infisical secret %q in %s: not a valid environment variable name", contracts.Clip(k, 64), f)
			}
			if strings.IndexByte(v, 0) >= 0 {
				return fmt.Errorf("Infisical secret %s in %s: the value holds a NUL byte and cannot go into an environment", k, f)
			}
			if _, declared := res.Origins[k]; declared {
				continue // picked above, from this folder or a better source
			}
			if _, ok := LookupEnv(proc, k); ok {
				continue
			}
			if _, ok := layer.Values[k]; ok || v == "" || !res.usable(k, f, sec) {
				continue
			}
			add(k, v)
			res.From[k] = Source{Folder: f, Version: sec.Version}
			res.Origins[k] = originInfisical(f)
		}
	}
	res.Layer = layer
	return nil
}

// pick says where n's value comes from: the environment, the first of its
// folders with a value it can inject (an empty value is a key the seed
// made but nobody filled), then the --path folders, .env, or nowhere.
func (res *Result) pick(n Need, paths []string, answers map[string]folderAnswer, d *dotenv.File) (string, error) {
	if n.InEnv {
		return OriginEnv, nil
	}
	for _, f := range slices.Concat(n.Folders, paths) {
		sec, ok := answers[f][n.Key]
		v := sec.Value
		if !ok || v == "" || !res.usable(n.Key, f, sec) {
			continue
		}
		if strings.IndexByte(v, 0) >= 0 {
			return "", fmt.Errorf("Infisical secret %s in %s: the value holds a NUL byte and cannot go into an environment", n.Key, f)
		}
		return originInfisical(f), nil
	}
	if _, ok := d.Values[n.Key]; ok {
		return OriginDotenv, nil
	}
	return OriginMissing, nil
}

// logSummary writes the one summary line, and the warnings, without any
// value. It warns when a key that matters is missing: one that is not
// optional, or any under --required.
func (res *Result) logSummary(log zerolog.Logger, required bool) {
	for f, err := range res.FolderErr {
		if res.Failed == nil {
			log.Warn().Str("folder", f).Msg(err.Error())
		}
	}
	for _, u := range res.Unusable {
		log.Warn().Msg("not injected: " + u)
	}
	ev := log.Info()
	if len(res.Missing) > res.optionalMissing || (required && len(res.Missing) > 0) {
		ev = log.Warn()
	}
	if len(res.Missing) > 0 {
		ev = ev.Strs("missing_keys", res.Missing)
	}
	if res.Fallback != nil {
		ev = ev.Int("from_fallback", res.FromFallback)
	}
	ev.Int("from_env", res.FromEnv).
		Int("from_infisical", res.FromInfisical).
		Int("from_dotenv", res.FromDotenv).
		Int("missing", len(res.Missing)).
		Int("folders", res.Folders).
		Int64("requests", res.Requests).
		Int64("duration_ms", res.Duration.Milliseconds()).
		Msg("prefetch from Infisical")
}

// TraceRequests writes one trace line per request the client sends: what
// "why is my key missing" needs from the logs, and no value or credential
// (an Exchange holds none).
func TraceRequests(log zerolog.Logger) func(infisical.Exchange) {
	if log.GetLevel() > zerolog.TraceLevel {
		return nil
	}
	return func(x infisical.Exchange) {
		ev := log.Trace().Str("method", x.Method).Str("path", x.Path).Int("status", x.Status).
			Float64("duration_ms", float64(x.Duration.Microseconds())/1000).Int("attempt", x.Attempt)
		if x.Folder != "" {
			ev = ev.Str("folder", x.Folder)
		}
		if x.ReqID != "" {
			ev = ev.Str("req_id", x.ReqID)
		}
		ev.Msg("infisical " + x.Op)
	}
}
