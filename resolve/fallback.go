package resolve

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"secret-init/dotenv"
	"secret-init/fallback"
	"secret-init/infisical"
)

// minFallbackKey is the shortest SECRET_INIT_FALLBACK_KEY taken: HKDF
// stretches nothing, so the key must be random already.
const minFallbackKey = 16

// Fallback is the --fallback-file of a run: where it is, what it is bound
// to, and what the start found in it.
type Fallback struct {
	Path   string
	MaxAge time.Duration
	// Off says why the file is neither written nor read ("" when it is
	// in use): no key to derive from, one too short.
	Off    string
	secret []byte
	bind   fallback.Binding
	// Found is what reading the file gave, when the start read it (an
	// outage, or check); nil otherwise.
	Found *FallbackState
}

// FallbackState is what a read of the file found, without any value.
type FallbackState struct {
	Usable    bool          // decrypts, matches, younger than MaxAge
	FetchedAt time.Time     // when its values were fetched; zero when unreadable
	Age       time.Duration // how long ago, when FetchedAt is known
	Problem   string        // why not usable: none yet, refused, too old
}

// FallbackUse says the fallback file's values stand in for Infisical's.
type FallbackUse struct {
	Path      string
	FetchedAt time.Time
}

// Age is how long ago the values in use were fetched.
func (u *FallbackUse) Age(now time.Time) time.Duration { return max(now.Sub(u.FetchedAt), 0) }

// AgeVar is the variable that tells the command its values are the
// fallback file's: whole seconds since they were fetched.
const AgeVar = "SECRET_INIT_FALLBACK_AGE"

// newFallback is the fallback of a start with Infisical (nil when
// --fallback-file is not set): its key material and its binding.
func newFallback(o Options, b Bootstrap, p *Plan, log zerolog.Logger) *Fallback {
	if o.FallbackFile == "" {
		return nil
	}
	f := &Fallback{Path: o.FallbackFile, MaxAge: o.FallbackMaxAge}
	switch {
	case b.FallbackKey != "":
		if len(b.FallbackKey) < minFallbackKey {
			f.Off = fmt.Sprintf("SECRET_INIT_FALLBACK_KEY is shorter than %d bytes; use a random one (openssl rand -base64 32)", minFallbackKey)
		}
		f.secret = []byte(b.FallbackKey)
	case b.AuthMethod == "kubernetes":
		f.Off = "Kubernetes auth has no secret of its own to derive the file's key from; set SECRET_INIT_FALLBACK_KEY"
	case b.usesToken():
		f.secret = []byte(b.Token)
	default:
		f.secret = []byte(b.ClientSecret)
	}
	if f.Off != "" {
		log.Warn().Str("file", f.Path).Msg("--fallback-file is off: " + f.Off)
		return f
	}
	f.bind = fallback.Binding{Addr: strings.TrimRight(b.SafeAddr(), "/"), Project: b.ProjectID, Environment: b.Environment}
	if p != nil {
		f.bind.Service = p.Service
		for _, n := range p.Needs {
			f.bind.Keys = append(f.bind.Keys, n.Key)
		}
		for _, path := range p.Paths {
			f.bind.Keys = append(f.bind.Keys, "--path "+path)
		}
	}
	return f
}

// Save writes the values of res to the file when res is complete: after
// the start's fetch, and after each poll that changed something. A write
// that fails, or does not finish within timeout, is a warning: the start
// goes on.
func (f *Fallback) Save(res *Result, timeout time.Duration, log zerolog.Logger) {
	if f == nil || f.Off != "" || res == nil || !res.Complete || res.Fallback != nil {
		return
	}
	snap := fallback.Snapshot{FetchedAt: res.FetchedAt.UTC()}
	for _, k := range res.Layer.Keys {
		from := res.From[k]
		snap.Entries = append(snap.Entries, fallback.Entry{Key: k, Value: res.Layer.Values[k], Folder: from.Folder, Version: from.Version})
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := fallback.Write(ctx, f.Path, f.secret, f.bind, snap); err != nil {
		log.Warn().Str("file", f.Path).Msg("--fallback-file " + f.Path + ": not written: " + err.Error() + "; the start goes on")
		return
	}
	log.Debug().Str("file", f.Path).Int("values", len(snap.Entries)).Msg("fallback file written")
}

// read reads and opens the file within timeout, and records what it
// found; a snapshot only when it is usable.
func (f *Fallback) read(timeout time.Duration, now time.Time) *fallback.Snapshot {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	snap, err := fallback.Read(ctx, f.Path, f.secret, f.bind)
	st := &FallbackState{}
	f.Found = st
	switch {
	case errors.Is(err, fs.ErrNotExist):
		st.Problem = "no file yet (a complete fetch writes it)"
	case errors.Is(err, fallback.ErrRefused):
		st.Problem = "refused, treated as absent: " + err.Error()
	case err != nil:
		st.Problem = "not read: " + err.Error()
	default:
		st.FetchedAt, st.Age = snap.FetchedAt, snap.Age(now)
		if st.Age > f.MaxAge {
			st.Problem = fmt.Sprintf("its values were fetched %s ago, longer than --fallback-max-age %s: not used", roundAge(st.Age), f.MaxAge)
			return nil
		}
		st.Usable = true
		return snap
	}
	return nil
}

// roundAge is an age for a person: whole seconds.
func roundAge(d time.Duration) time.Duration { return d.Truncate(time.Second) }

// bridge keeps a complete fetch in the file (but for check, which only
// reads it), and when Infisical could not answer puts the file's values
// in Infisical's place. check reads the file whatever Infisical answered,
// to say whether it is usable.
func (out *Outcome) bridge(o Options, c *infisical.Client, proc []string) error {
	f, res := out.Fallback, out.Result
	if f == nil || f.Off != "" {
		return nil
	}
	if !o.FallbackInspect {
		f.Save(res, o.Timeout, o.Log)
	}
	outage := res.Failed != nil && infisical.Unavailable(res.Failed) && allUnavailable(res.FolderErr)
	if !outage && !o.FallbackInspect {
		return nil
	}
	snap := f.read(o.Timeout, time.Now())
	if !outage {
		return nil
	}
	if snap == nil {
		o.Log.Warn().Str("file", f.Path).Msg("--fallback-file " + f.Path + ": " + f.Found.Problem)
		return nil
	}
	values := make([]string, 0, len(snap.Entries))
	for _, e := range snap.Entries {
		values = append(values, e.Value)
	}
	c.Redact(values...) // from here on, scrubbed from every error of the client
	return res.useFallback(snap, f.Path, out.Plan, proc, out.Dotenv)
}

// allUnavailable says every folder that failed did so because Infisical
// could not answer: one refusal among them (a 403) is Infisical's word.
func allUnavailable(errs map[string]error) bool {
	for _, err := range errs {
		if !infisical.Unavailable(err) {
			return false
		}
	}
	return true
}

// useFallback takes every declared key from the snapshot instead of
// Infisical's answers, by the same rules: the process environment first,
// .env after; a key the file lacks is missing.
func (res *Result) useFallback(snap *fallback.Snapshot, path string, p *Plan, proc []string, d *dotenv.File) error {
	answers := map[string]folderAnswer{}
	for _, e := range snap.Entries {
		if answers[e.Folder] == nil {
			answers[e.Folder] = folderAnswer{}
		}
		answers[e.Folder][e.Key] = infisical.Secret{Key: e.Key, Value: e.Value, Path: e.Folder, Version: e.Version}
	}
	res.Origins = map[string]string{}
	res.Missing, res.Absent, res.Refused, res.Unusable = nil, nil, nil, nil
	res.FromEnv, res.FromInfisical, res.FromDotenv, res.optionalMissing = 0, 0, 0, 0
	if err := res.take(p, answers, proc, d); err != nil {
		return fmt.Errorf("--fallback-file %s: %w", path, err)
	}
	for k, o := range res.Origins {
		if strings.HasPrefix(o, originInfisical("")) {
			res.Origins[k] = OriginFallback
		}
	}
	res.FromFallback, res.FromInfisical = res.FromInfisical, 0
	res.Fallback = &FallbackUse{Path: path, FetchedAt: snap.FetchedAt}
	return nil
}

// withAgeVar gives the command SECRET_INIT_FALLBACK_AGE when the values
// are the fallback file's, and never otherwise: not even one inherited.
func withAgeVar(env []string, res *Result, now time.Time) []string {
	env = slices.DeleteFunc(env, func(kv string) bool { return strings.HasPrefix(kv, AgeVar+"=") })
	if res != nil && res.Fallback != nil {
		env = append(env, fmt.Sprintf("%s=%d", AgeVar, int64(res.Fallback.Age(now)/time.Second)))
	}
	return env
}
