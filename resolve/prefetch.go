package resolve

import (
	"context"
	"errors"
	"fmt"
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

// Origin names where a key's value came from, for check and the logs.
const (
	OriginEnv     = "env"
	OriginDotenv  = "dotenv"
	OriginMissing = "missing"
	OriginDropped = "dropped" // a credential set locally, kept from the command by --drop-bootstrap
)

// originInfisical names the folder a value came from.
func originInfisical(folder string) string { return "infisical:" + folder }

// Result is what a prefetch found. Values stay in Layer; everything else
// is safe to print.
type Result struct {
	Layer     Layer             // values fetched from Infisical, to merge under the process env
	Origins   map[string]string // every declared key -> where its value comes from
	Fetched   int               // declared keys whose value comes from Infisical
	FromEnv   int               // declared keys already in the process environment
	Missing   []string          // declared keys in neither the environment nor Infisical
	Absent    []string          // required dependencies that no source has (always fatal)
	Folders   int               // folders requested
	Requests  int64             // HTTP requests sent, retries included
	Duration  time.Duration
	Failed    error            // Infisical unreachable or login refused (nil when it answered)
	FolderErr map[string]error // folders that failed (403, ...), by folder
}

// prefetch logs in once and lists every folder of the plan in one
// parallel round, then takes only the declared keys (and everything in
// --path folders) from the answers. Errors that concern Infisical as a
// whole land in Result.Failed; a bad value (NUL byte) or an invalid key in
// a --path folder is returned as an error, since such a value cannot go
// into an environment at all.
func prefetch(ctx context.Context, c *infisical.Client, b Bootstrap, p *Plan, proc []string, d *dotenv.File) (*Result, error) {
	start := time.Now()
	res := &Result{Origins: map[string]string{}, FolderErr: map[string]error{}}
	defer func() { res.Duration = time.Since(start); res.Requests = c.Requests() }()

	answers := map[string]map[string]string{}
	if len(p.Folders) > 0 {
		if err := b.Login(ctx, c); err != nil {
			var ue *UsageError
			if errors.As(err, &ue) {
				return res, err // a token file that cannot be read: no request was sent
			}
			res.Failed = fmt.Errorf("login to Infisical: %w", err)
		} else {
			answers = listAll(ctx, c, p.Folders, res)
		}
	}
	res.Folders = len(p.Folders)

	if err := res.take(p, answers, proc, d); err != nil {
		return res, err
	}
	return res, nil
}

// listAll lists folders in parallel, at most infisical.MaxParallel at once.
func listAll(ctx context.Context, c *infisical.Client, folders []string, res *Result) map[string]map[string]string {
	out := make(map[string]map[string]string, len(folders))
	var mu sync.Mutex
	parallel.For(len(folders), infisical.MaxParallel, func(i int) {
		f := folders[i]
		secrets, err := c.ListSecrets(ctx, f)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			if errors.Is(err, infisical.ErrNotFound) {
				// A folder nobody created yet holds nothing: its keys
				// are missing, which the summary reports.
				out[f] = map[string]string{}
				return
			}
			res.FolderErr[f] = err
			return
		}
		m := make(map[string]string, len(secrets))
		for _, s := range secrets {
			m[s.Key] = s.Value
		}
		out[f] = m
	})
	// When every folder failed the same way, Infisical as a whole failed
	// (down, timeout, 5xx): say so once rather than per folder.
	if len(res.FolderErr) == len(folders) && len(folders) > 0 {
		for _, f := range folders {
			res.Failed = fmt.Errorf("list %s: %w", f, res.FolderErr[f])
			break
		}
	}
	return out
}

// take picks each declared key's value from the answers, by priority.
func (res *Result) take(p *Plan, answers map[string]map[string]string, proc []string, d *dotenv.File) error {
	layer := Layer{Values: map[string]string{}}
	add := func(k, v string) {
		if _, ok := layer.Values[k]; !ok {
			layer.Keys = append(layer.Keys, k)
		}
		layer.Values[k] = v
	}
	for _, n := range p.Needs {
		if _, done := res.Origins[n.Key]; done && res.Origins[n.Key] != OriginMissing && res.Origins[n.Key] != OriginDotenv {
			continue // a key declared twice (two transports) keeps its first value
		}
		if n.InEnv {
			res.Origins[n.Key] = OriginEnv
			res.FromEnv++
			continue
		}
		found := false
		for _, f := range n.Folders {
			v, ok := answers[f][n.Key]
			if !ok || v == "" {
				continue // an empty value is a key the seed made but nobody filled
			}
			if strings.IndexByte(v, 0) >= 0 {
				return fmt.Errorf("Infisical secret %s in %s: the value holds a NUL byte and cannot go into an environment", n.Key, f)
			}
			add(n.Key, v)
			res.Origins[n.Key] = originInfisical(f)
			res.Fetched++
			found = true
			break
		}
		if found {
			continue
		}
		if _, ok := d.Values[n.Key]; ok {
			res.Origins[n.Key] = OriginDotenv
		} else {
			res.Origins[n.Key] = OriginMissing
			if n.Required {
				res.Absent = append(res.Absent, n.Key)
			}
		}
		res.Missing = append(res.Missing, n.Key)
	}
	for _, f := range p.Paths {
		keys := make([]string, 0, len(answers[f]))
		for k := range answers[f] {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			v := answers[f][k]
			if !contracts.IsVarName(k, false) {
				return fmt.Errorf("Infisical secret %q in %s: not a valid environment variable name", contracts.Clip(k, 64), f)
			}
			if strings.IndexByte(v, 0) >= 0 {
				return fmt.Errorf("Infisical secret %s in %s: the value holds a NUL byte and cannot go into an environment", k, f)
			}
			if _, ok := LookupEnv(proc, k); ok {
				continue
			}
			if _, ok := layer.Values[k]; ok || v == "" {
				continue
			}
			add(k, v)
			if _, declared := res.Origins[k]; !declared {
				res.Origins[k] = originInfisical(f)
			}
		}
	}
	res.Layer = layer
	return nil
}

// logSummary writes the one summary line, and the warnings, without any value.
func (res *Result) logSummary(log zerolog.Logger) {
	for f, err := range res.FolderErr {
		if res.Failed == nil {
			log.Warn().Str("folder", f).Msg(err.Error())
		}
	}
	ev := log.Info()
	if len(res.Missing) > 0 {
		ev = log.Warn().Strs("missing_keys", res.Missing)
	}
	fromDotenv := 0
	for _, k := range res.Missing {
		if res.Origins[k] == OriginDotenv {
			fromDotenv++
		}
	}
	// missing counts what --required refuses: in neither the environment
	// nor Infisical; from_dotenv says how many of those .env still fills.
	ev.Int("fetched", res.Fetched).
		Int("from_env", res.FromEnv).
		Int("missing", len(res.Missing)).
		Int("from_dotenv", fromDotenv).
		Int("folders", res.Folders).
		Int64("requests", res.Requests).
		Int64("duration_ms", res.Duration.Milliseconds()).
		Msg("prefetch from Infisical")
}
