// Package provision prepares a project for secret-init: a runtime
// identity that may only read secrets and an admin identity that may
// write them (for seed), each with universal auth and a client secret
// written into its own .env, both members of the project with a built-in
// role, and the folders the contracts need in each environment. Every
// step first reads what exists, so that a second run changes nothing.
// Without Execute it only reads, and says what it would do.
package provision

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"secret-init/infisical"
	"secret-init/resolve"
	"secret-init/seed"
)

// Options are provision's own flags; the shared ones (contracts, service,
// timeout, Infisical settings) come in resolve.Options.
type Options struct {
	Execute        bool     // write; without it provision only reads
	Rotate         bool     // a new client secret even where one exists; the old ones revoked once it is written out
	RuntimeName    string   // the runtime identity's name
	AdminName      string   // the admin identity's name
	RuntimeEnvFile string   // where the runtime's credentials go
	AdminEnvFile   string   // where the admin's go; "": the admin gets no client secret
	Environments   []string // where the folders go; nil: the bootstrap environment
}

// The built-in project roles of the two identities: only admin and member
// may write secrets and viewer only reads them; member, unlike admin,
// cannot grant roles or make client secrets, so the identity that seeds
// cannot make itself or the runtime more powerful.
const (
	RuntimeRole = "viewer"
	AdminRole   = "member"
)

// Description marks the client secrets provision makes, in the field
// Infisical keeps for a person to read: it is how a later run tells its
// own secrets from those made by hand, which it never touches.
const Description = "secret-init provision"

// The access tokens of the universal auth provision attaches: a start
// uses its token for seconds, so one hour is plenty, and a service that
// keeps the credentials can renew it for a day before it logs in again.
// Infisical's default, 30 days for both, makes every renew fail.
const (
	tokenTTL    = 3600
	tokenMaxTTL = 86400
)

// Actions, as printed at the start of each line.
const (
	Create = seed.Create
	Update = seed.Update
	Skip   = seed.Skip
	Failed = seed.Failed
	Write  = "WRITE"
	Revoke = "REVOKE"
)

// Step is one line of provision's output: an identity, a universal auth,
// a role, a client secret, a file or a folder, and what happens to it.
// It never holds a credential.
type Step struct {
	Action string
	What   string   // "identity secret-init-runtime", "folder dev:/shared/db", ".env"
	Keys   []string // WRITE: the keys written
	Note   string
	Err    error // FAILED only

	do func(context.Context) error // the write; nil when there is none
}

// String renders the line: "CREATE identity secret-init-runtime (read-only)".
func (s Step) String() string {
	switch {
	case s.Action == Failed:
		return fmt.Sprintf("%s %s: %v", s.Action, s.What, s.Err)
	case s.Action == Write:
		return fmt.Sprintf("%s %s: %s", s.Action, s.What, strings.Join(s.Keys, ", "))
	case s.Note == "":
		return s.Action + " " + s.What
	}
	return fmt.Sprintf("%s %s (%s)", s.Action, s.What, s.Note)
}

// Report is what a run did or, in a dry run, would do.
type Report struct {
	Execute      bool
	Addr         string // INFISICAL_ADDR, no credential
	Project      infisical.Project
	Organization infisical.Organization
	Environments []string
	Steps        []Step
	Warnings     []string
}

// Failed counts the steps that failed.
func (r *Report) Failed() int {
	n := 0
	for _, s := range r.Steps {
		if s.Action == Failed {
			n++
		}
	}
	return n
}

// Changes counts the steps that write (or would write) something.
func (r *Report) Changes() int {
	n := 0
	for _, s := range r.Steps {
		if s.Action != Skip && s.Action != Failed {
			n++
		}
	}
	return n
}

// WriteText prints one line per step, then the summary.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	if r.Execute {
		b.WriteString("provision: writing")
	} else {
		b.WriteString("provision: dry run, nothing is written (--execute writes)")
	}
	fmt.Fprintf(&b, "; %s, project %s (%s), organization %s (%s), environments %s\n",
		r.Addr, r.Project.ID, r.Project.Slug, r.Organization.ID, r.Organization.Slug, strings.Join(r.Environments, ", "))
	for _, s := range r.Steps {
		b.WriteString(s.String() + "\n")
	}
	changed, failed := r.Changes(), r.Failed()
	verb := "changed"
	if !r.Execute {
		verb = "would change"
	}
	switch {
	case changed == 0 && failed == 0:
		b.WriteString("Summary: nothing to change\n")
	default:
		fmt.Fprintf(&b, "Summary: %s %d, failed %d\n", verb, changed, failed)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// RefusedError is a run stopped before any write because the identity
// logged in may not administer the project: Infisical's 403, which names
// what it lacks.
type RefusedError struct {
	Project string
	Err     error
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("the identity logged in cannot administer project %s (provision needs an organization admin that is an admin of the project): %v", e.Project, e.Err)
}

func (e *RefusedError) Unwrap() error { return e.Err }

// refused turns a 403 into a RefusedError; other errors pass.
func refused(project string, err error) error {
	var ae *infisical.APIError
	if errors.As(err, &ae) && ae.Status == http.StatusForbidden {
		return &RefusedError{Project: project, Err: err}
	}
	return err
}

// Run provisions (or, without Execute, shows what it would provision).
// It reads everything first (so that an identity that may not administer
// the project is refused before any write), then writes, identity by
// identity and then the folders. A step that fails stops the steps of
// its identity that follow it, and nothing else. The error is a
// *resolve.UsageError for bad input, a *RefusedError for a caller that
// may not provision, or says why nothing could be done at all.
func Run(ctx context.Context, o resolve.Options, po Options, proc []string) (*Report, error) {
	in, err := readInputs(o, po, proc)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	b := in.bootstrap
	c, err := b.Client(ctx, o.CACert, resolve.TraceRequests(o.Log))
	if err != nil {
		return nil, err
	}
	defer c.CloseIdle()
	for _, id := range in.identities {
		if id.file != nil {
			// The credentials already in the files are scrubbed from every
			// error, like those of the login and the secrets to be made.
			c.Redact(id.file.Values["INFISICAL_CLIENT_ID"], id.file.Values["INFISICAL_CLIENT_SECRET"])
		}
	}
	if err := b.Login(ctx, c); err != nil {
		var ue *resolve.UsageError
		if errors.As(err, &ue) {
			return nil, err
		}
		return nil, fmt.Errorf("login to Infisical at %s: %w", b.SafeAddr(), err)
	}
	rep := &Report{Execute: po.Execute, Addr: b.SafeAddr(), Project: infisical.Project{ID: b.ProjectID}}
	if rep.Organization, err = c.Organization(ctx); err != nil {
		return nil, refused(b.ProjectID, err)
	}
	if rep.Project, err = c.Project(ctx); err != nil {
		return nil, refused(b.ProjectID, err)
	}
	if rep.Environments, err = environments(po, b, rep.Project); err != nil {
		return nil, err
	}

	p := &planner{c: c, b: b, po: po, org: rep.Organization.ID, rep: rep}
	var ids []*identity
	for _, id := range in.identities {
		if err := p.read(ctx, id); err != nil {
			return nil, refused(b.ProjectID, err)
		}
		ids = append(ids, id)
	}
	trees := p.readFolders(ctx, in.folders)

	for _, id := range ids {
		steps := p.decide(id)
		if po.Execute {
			apply(ctx, steps)
		}
		for _, s := range steps {
			rep.Steps = append(rep.Steps, *s)
		}
	}
	for i, env := range rep.Environments {
		t := trees[i]
		if po.Execute {
			t.Create(ctx)
		}
		rep.Steps = append(rep.Steps, folderSteps(env, in.folders, t)...)
		for _, w := range t.Warnings {
			rep.Warnings = append(rep.Warnings, env+": "+w)
		}
	}
	return rep, nil
}

// environments are where the folders go: --environments, or the
// bootstrap one; each must be one of the project's.
func environments(po Options, b resolve.Bootstrap, p infisical.Project) ([]string, error) {
	envs := po.Environments
	if len(envs) == 0 {
		envs = []string{b.Environment}
	}
	var out []string
	for _, e := range envs {
		if slices.Contains(out, e) {
			continue
		}
		if !slices.Contains(p.Environments, e) {
			return nil, &resolve.UsageError{Err: fmt.Errorf("--environments: %q is not an environment of project %s (it has %s)", e, p.ID, strings.Join(p.Environments, ", "))}
		}
		out = append(out, e)
	}
	return out, nil
}

// apply runs the writes of one identity's steps in order; after a
// failure, the steps that depend on it are not attempted.
func apply(ctx context.Context, steps []*Step) {
	var failed *Step
	for _, s := range steps {
		if s.do == nil {
			continue
		}
		if failed != nil {
			s.Action, s.Err = Failed, fmt.Errorf("not attempted: %s failed", failed.What)
			continue
		}
		if err := s.do(ctx); err != nil {
			s.Action, s.Err = Failed, err
			failed = s
		}
	}
}

// folderSteps are the lines of one environment's folders: each creation,
// parents first, then the targets that exist already.
func folderSteps(env string, targets []string, t *seed.Folders) []Step {
	var out []Step
	for _, s := range t.Steps {
		out = append(out, Step{Action: s.Action, What: "folder " + env + ":" + s.Folder, Err: s.Err})
	}
	for _, f := range targets {
		if t.Exists(f) && !slices.ContainsFunc(t.Steps, func(s seed.Step) bool { return s.Folder == f }) {
			out = append(out, Step{Action: Skip, What: "folder " + env + ":" + f, Note: "exists"})
		} else if err := t.Failure(f); err != nil && !slices.ContainsFunc(t.Steps, func(s seed.Step) bool { return s.Folder == f }) {
			out = append(out, Step{Action: Failed, What: "folder " + env + ":" + f, Err: err})
		}
	}
	return out
}

// since says when t was, for a line.
func since(t time.Time) string {
	if t.IsZero() {
		return "at an unknown time"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}
