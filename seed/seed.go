// Package seed fills Infisical from the contracts: the folders and keys a
// start would ask for, created where they are missing, with values on
// request. Without Execute it only reads, and says what it would write.
package seed

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	"secret-init/dotenv"
	"secret-init/infisical"
	"secret-init/parallel"
	"secret-init/resolve"
)

// Options are seed's own flags; the shared ones (contracts, service,
// timeout, Infisical settings) come in resolve.Options.
type Options struct {
	Execute       bool   // write; without it seed only reads, to tell CREATE from SKIP
	CreateMissing bool   // create the keys Infisical lacks
	SetValues     bool   // written keys take a value from ImportEnv, else the process environment, then .env
	ImportEnv     string // --import-env FILE: the only value source when set
	Overwrite     bool   // replace existing non-empty values (needs SetValues to have one)
}

// Seed actions, as printed at the start of each line.
const (
	Create = "CREATE"
	Update = "UPDATE"
	Skip   = "SKIP"
	Failed = "FAILED"
)

// Step is one line of seed's output: a folder or a key, what happens
// to it and why. It never holds a value.
type Step struct {
	Action string
	Folder string
	Key    string // "" for a folder
	Note   string // the reason, or where the value comes from
	Err    error  // FAILED only; the client keeps values out of its errors

	value string // what a CREATE or UPDATE writes; never printed
}

// target is folder/KEY, the way the lines name it.
func (s Step) target() string {
	if s.Key == "" {
		return s.Folder + "/"
	}
	return strings.TrimSuffix(s.Folder, "/") + "/" + s.Key
}

// String renders the line: "CREATE /shared/db/POSTGRES_DSN (value from .env)".
func (s Step) String() string {
	if s.Action == Failed {
		return fmt.Sprintf("%s %s: %v", s.Action, s.target(), s.Err)
	}
	if s.Note == "" {
		return s.Action + " " + s.target()
	}
	return fmt.Sprintf("%s %s (%s)", s.Action, s.target(), s.Note)
}

// Report is what a seed run did or, in a dry run, would do.
type Report struct {
	Execute   bool
	Infisical *resolve.InfisicalRef // nil when Infisical was not read
	Folders   []Step                // folder creations, parents first
	Keys      []Step
	Warnings  []string

	Created, Updated, Skipped, Failed int // keys only
}

// Changes reports whether the run writes (or would write) anything.
func (r *Report) Changes() bool {
	return r.Created+r.Updated > 0 || slices.ContainsFunc(r.Folders, func(s Step) bool { return s.Action == Create })
}

// WriteText prints one line per folder and key, then the summary.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	if r.Execute {
		b.WriteString("seed: writing to Infisical")
	} else {
		b.WriteString("seed: dry run, nothing is written (--execute writes)")
	}
	if r.Infisical != nil {
		fmt.Fprintf(&b, "; %s, project %s, environment %s", r.Infisical.Addr, r.Infisical.ProjectID, r.Infisical.Environment)
	}
	b.WriteString("\n")
	for _, s := range r.Folders {
		b.WriteString(s.String() + " (folder)\n")
	}
	for _, s := range r.Keys {
		b.WriteString(s.String() + "\n")
	}
	verb := [3]string{"created", "updated", "skipped"}
	if !r.Execute {
		verb = [3]string{"would create", "would update", "would skip"}
	}
	fmt.Fprintf(&b, "Summary: %s %d, %s %d, %s %d, failed %d", verb[0], r.Created, verb[1], r.Updated, verb[2], r.Skipped, r.Failed)
	if !r.Changes() && r.Failed == 0 {
		b.WriteString("; nothing to change")
	}
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// seedKey is one key to seed and its target folder.
type seedKey struct {
	key, folder string
}

// Run fills Infisical from the contracts: every declared key, bootstrap
// keys excepted, at /shared/<transport>/KEY (/shared/env/KEY for
// dependencies), or under /services/<slug>/ with a service. Folders that
// do not exist are created first, parents first. A failure on one key
// does not stop the others.
//
// A dry run reads Infisical (to tell CREATE from SKIP) but sends no write;
// when Infisical cannot be read it still lists what it would do, with a
// warning. The error is a *resolve.UsageError for bad input, or says why
// nothing could be done at all (login refused); per-key failures are in
// the report.
func Run(ctx context.Context, o resolve.Options, so Options, proc []string) (*Report, error) {
	ro := o
	ro.Required = false // contract warnings: decided below, as a usage error
	out, err := resolve.ReadInputs(ro, proc)
	if err != nil {
		return nil, err
	}
	if err := out.ReadContracts(ro, proc); err != nil {
		return nil, err
	}
	if o.Required && len(out.Set.Warnings) > 0 {
		return nil, &resolve.UsageError{Err: fmt.Errorf("%d contract warning(s) and --required is set; the first: %s", len(out.Set.Warnings), out.Set.Warnings[0].Error())}
	}
	values, err := seedValues(so, proc, out.Dotenv)
	if err != nil {
		return nil, err
	}
	rep := &Report{Execute: so.Execute}
	if so.ImportEnv != "" && !so.SetValues {
		rep.Warnings = append(rep.Warnings, "--import-env is only read with --set-values; created keys get an empty value")
	}
	if so.Overwrite && !so.SetValues {
		rep.Warnings = append(rep.Warnings, "--overwrite-existing without --set-values changes nothing: there is no value to write")
	}
	keys := seedTargets(out.Plan)

	b := out.Bootstrap
	var c *infisical.Client
	var offline error // why Infisical is not read
	switch {
	case b.Addr == "":
		offline = errors.New("INFISICAL_ADDR is not set")
	default:
		offline = b.Check()
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	if offline == nil {
		if c, err = b.Client(ctx, o.CACert, resolve.TraceRequests(o.Log)); err != nil {
			return nil, err
		}
	}
	if offline != nil && so.Execute {
		return nil, &resolve.UsageError{Err: fmt.Errorf("seed --execute needs Infisical and an identity that may write: %w", offline)}
	}
	if offline == nil {
		if err := b.Login(ctx, c); err != nil {
			var ue *resolve.UsageError
			if errors.As(err, &ue) {
				return nil, err
			}
			if so.Execute {
				return nil, fmt.Errorf("login to Infisical at %s: %w", b.SafeAddr(), err)
			}
			offline = fmt.Errorf("login: %w", err)
		}
	}
	if offline == nil {
		rep.Infisical = b.Ref()
	} else {
		rep.Warnings = append(rep.Warnings, "Infisical not read ("+offline.Error()+"): every key is shown as it would be if absent")
		c = nil
	}

	var api FolderAPI
	if c != nil {
		api = c
	}
	st := &seedState{c: c, tree: NewFolders(api, so.Execute)}
	st.readFolders(ctx, keys)
	rep.Warnings = append(rep.Warnings, st.tree.Warnings...)
	for _, k := range keys {
		rep.Keys = append(rep.Keys, st.decide(k, so, values))
	}
	st.keepNeededFolders(rep.Keys)
	if so.Execute {
		st.tree.Create(ctx)
		for i := range rep.Keys {
			if k := &rep.Keys[i]; k.Action == Create && st.tree.state[k.Folder] == folderFailed {
				k.Action, k.Err = Failed, st.tree.err[k.Folder]
			}
		}
		st.write(ctx, rep.Keys)
	}
	rep.Folders = st.tree.Steps
	for _, s := range rep.Keys {
		switch s.Action {
		case Create:
			rep.Created++
		case Update:
			rep.Updated++
		case Skip:
			rep.Skipped++
		case Failed:
			rep.Failed++
		}
	}
	return rep, nil
}

// valueSource finds a key's value for --set-values and names where it
// came from; an empty value counts as none.
type valueSource func(key string) (value, from string, ok bool)

func seedValues(so Options, proc []string, d *dotenv.File) (valueSource, error) {
	if !so.SetValues {
		return func(string) (string, string, bool) { return "", "", false }, nil
	}
	if so.ImportEnv != "" {
		f, err := dotenv.Read(so.ImportEnv, true)
		if err != nil {
			return nil, &resolve.UsageError{Err: fmt.Errorf("--import-env: %w", err)}
		}
		return func(k string) (string, string, bool) {
			v := f.Values[k]
			return v, f.Path, v != ""
		}, nil
	}
	return func(k string) (string, string, bool) {
		if v, ok := resolve.LookupEnv(proc, k); ok && v != "" {
			return v, "env", true
		}
		if v := d.Values[k]; v != "" {
			return v, d.Path, true
		}
		return "", "", false
	}, nil
}

// seedTargets lists each declared key once, at the first folder a start
// would ask for it under its first transport (the one a start finds
// first), bootstrap keys left out.
func seedTargets(p *resolve.Plan) []seedKey {
	var out []seedKey
	seen := map[string]bool{}
	for _, n := range p.Needs {
		if seen[n.Key] || slices.Contains(resolve.BootstrapKeys, n.Key) || len(n.Folders) == 0 {
			continue
		}
		seen[n.Key] = true
		out = append(out, seedKey{key: n.Key, folder: n.Folders[0]})
	}
	return out
}

type seedState struct {
	c       *infisical.Client // nil: offline
	tree    *Folders
	secrets map[string]map[string]string
}

// readFolders finds which target folders and parents exist, then lists
// the secrets of the existing target folders.
func (st *seedState) readFolders(ctx context.Context, keys []seedKey) {
	st.secrets = map[string]map[string]string{}
	var targets []string
	for _, k := range keys {
		if !slices.Contains(targets, k.folder) {
			targets = append(targets, k.folder)
		}
	}
	slices.Sort(targets)
	st.tree.Find(ctx, targets)
	var existing []string
	for _, f := range targets {
		if st.tree.state[f] == folderExists {
			existing = append(existing, f)
		}
	}
	var mu sync.Mutex
	parallel.For(len(existing), infisical.MaxParallel, func(i int) {
		f := existing[i]
		// The stored values, without imports (an imported secret lives
		// elsewhere: the folder itself still lacks the key) and without
		// expanding references, so that a value written as "${...}"
		// compares equal to itself on the next run.
		list, err := st.c.ListStored(ctx, f)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			st.tree.fail(f, err)
			return
		}
		own := map[string]string{}
		for _, s := range list {
			own[s.Key] = s.Value
		}
		st.secrets[f] = own
	})
}

// keepNeededFolders drops the creation of folders that no created key
// lands in: seed makes only the folders it fills.
func (st *seedState) keepNeededFolders(keys []Step) {
	needed := map[string]bool{}
	for _, k := range keys {
		if k.Action == Create {
			for _, a := range ancestors(k.Folder) {
				needed[a] = true
			}
		}
	}
	st.tree.Steps = slices.DeleteFunc(st.tree.Steps, func(s Step) bool { return !needed[s.Folder] })
}

// decide says what to do with one key, without writing.
func (st *seedState) decide(k seedKey, so Options, values valueSource) Step {
	s := Step{Folder: k.folder, Key: k.key}
	v, from, have := values(k.key)
	state := st.tree.state[k.folder]
	if state == folderFailed {
		s.Action, s.Err = Failed, st.tree.err[k.folder]
		return s
	}
	current, exists := st.secrets[k.folder][k.key]
	// Infisical trims what it is sent: compare what it would store.
	stored := infisical.StoredValue(v)
	switch {
	case !exists && !so.CreateMissing:
		s.Action, s.Note = Skip, "missing; --no-create-missing-keys"
	case !exists:
		s.Action, s.Note = Create, "empty"
		if have {
			s.value, s.Note = v, "value from "+from
		}
		if state == folderUnknown {
			s.Note += "; Infisical not read"
		}
	case !have:
		s.Action, s.Note = Skip, "exists"
	case current == stored:
		s.Action, s.Note = Skip, "exists, same value"
	case current == "":
		// An empty key is one an earlier seed made without a value:
		// filling it overwrites nothing.
		s.Action, s.Note, s.value = Update, "empty, value from "+from, v
	case !so.Overwrite:
		s.Action, s.Note = Skip, "exists"
	default:
		s.Action, s.Note, s.value = Update, "value from "+from, v
	}
	return s
}

// write sends the creates and updates: each folder's in one request where
// the server offers it (Infisical Cloud allows 90 writes a minute), else
// key by key, a few at a time. A folder whose one request is refused is
// written key by key, so that each key gets its own verdict: a failure
// turns its own line into FAILED and nothing else.
func (st *seedState) write(ctx context.Context, steps []Step) {
	byFolder := map[string][]*Step{}
	var folders []string
	for i := range steps {
		if s := &steps[i]; s.Action == Create || s.Action == Update {
			if _, ok := byFolder[s.Folder]; !ok {
				folders = append(folders, s.Folder)
			}
			byFolder[s.Folder] = append(byFolder[s.Folder], s)
		}
	}
	var single []*Step
	var mu sync.Mutex
	parallel.For(len(folders), infisical.MaxParallel, func(i int) {
		writes := byFolder[folders[i]]
		secrets := make([]infisical.Secret, len(writes))
		for j, s := range writes {
			secrets[j] = infisical.Secret{Path: s.Folder, Key: s.Key, Value: s.value}
		}
		if err := st.c.UpsertSecrets(ctx, folders[i], secrets); err != nil {
			mu.Lock()
			single = append(single, writes...)
			mu.Unlock()
		}
	})
	parallel.For(len(single), infisical.MaxParallel, func(i int) {
		s := single[i]
		var err error
		if s.Action == Create {
			err = st.c.CreateSecret(ctx, infisical.Secret{Path: s.Folder, Key: s.Key, Value: s.value})
		} else {
			err = st.c.UpdateSecret(ctx, infisical.Secret{Path: s.Folder, Key: s.Key, Value: s.value})
		}
		if err != nil {
			s.Action, s.Err = Failed, err
		}
	})
}
