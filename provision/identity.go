package provision

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"secret-init/dotenv"
	"secret-init/infisical"
	"secret-init/resolve"
	"secret-init/seed"
)

// identity is one of the two identities: what it should be, and what
// Infisical holds of it.
type identity struct {
	name, role, label string
	flag              string   // the flag that names it, for messages
	file              *envFile // nil: no client secret is made

	found   []infisical.Identity
	id      string                   // "": not created yet
	ua      *infisical.UniversalAuth // nil: none attached yet
	secrets []infisical.ClientSecret // live ones made by provision, oldest first
	roles   []infisical.MemberRole   // nil: not a member
	member  bool

	secret   string // a client secret made by this run; never printed
	secretID string // its id
}

// revokeTimeout bounds the revoke of a secret that could not be written
// out.
const revokeTimeout = 10 * time.Second

// planner holds what every decision needs.
type planner struct {
	c   *infisical.Client
	b   resolve.Bootstrap
	po  Options
	org string
	rep *Report
}

// read learns what Infisical holds of id: the identities of that name
// and, when there is exactly one, its universal auth, the client secrets
// provision made for it, and its roles in the project.
func (p *planner) read(ctx context.Context, id *identity) error {
	found, err := p.c.FindIdentities(ctx, p.org, id.name)
	if err != nil {
		return err
	}
	id.found = found
	if len(found) != 1 {
		return nil
	}
	id.id = found[0].ID
	if r := found[0].OrgRole; r != "no-access" && r != "" {
		p.rep.Warnings = append(p.rep.Warnings, fmt.Sprintf("identity %s has the organization role %s, which it does not need; provision leaves it as it is", id.name, r))
	}
	ua, err := p.c.UniversalAuth(ctx, id.id)
	switch {
	case errors.Is(err, infisical.ErrNotFound):
	case err != nil:
		return err
	default:
		id.ua = &ua
		list, err := p.c.ClientSecrets(ctx, id.id)
		if err != nil {
			return err
		}
		now := time.Now()
		for _, s := range list {
			if s.Description == Description && (s.TTL == 0 || now.Before(s.Created.Add(s.TTL))) {
				id.secrets = append(id.secrets, s)
			}
		}
	}
	roles, err := p.c.IdentityRoles(ctx, id.id)
	switch {
	case errors.Is(err, infisical.ErrNotFound):
	case err != nil:
		return err
	default:
		id.roles, id.member = roles, true
	}
	return nil
}

// readFolders learns which folders of the skeleton exist, environment by
// environment.
func (p *planner) readFolders(ctx context.Context, folders []string) []*seed.Folders {
	trees := make([]*seed.Folders, len(p.rep.Environments))
	for i, env := range p.rep.Environments {
		trees[i] = seed.NewFolders(envFolders{p.c, env}, p.po.Execute)
		trees[i].Find(ctx, folders)
	}
	return trees
}

// envFolders is the folder API of one environment.
type envFolders struct {
	c   *infisical.Client
	env string
}

func (e envFolders) ListFolders(ctx context.Context, folder string) ([]string, error) {
	return e.c.ListFoldersIn(ctx, e.env, folder)
}

func (e envFolders) CreateFolder(ctx context.Context, parent, name string) error {
	return e.c.CreateFolderIn(ctx, e.env, parent, name)
}

// decide lists id's steps, in the order they are done: the identity, its
// universal auth, its role, its client secret and file, and the old
// secrets a rotation revokes.
func (p *planner) decide(id *identity) []*Step {
	what := "identity " + id.name
	if n := len(id.found); n > 1 {
		ids := make([]string, n)
		for i, f := range id.found {
			ids[i] = f.ID
		}
		return []*Step{{Action: Failed, What: what, Err: fmt.Errorf("%d identities of the organization have this name (ids %s), and provision cannot tell which is meant: delete or rename the others in Infisical, or name another with %s", n, strings.Join(ids, ", "), id.flag)}}
	}
	var steps []*Step
	if id.id == "" {
		steps = append(steps, &Step{Action: Create, What: what, Note: id.label, do: func(ctx context.Context) error {
			made, err := p.c.CreateIdentity(ctx, p.org, id.name)
			id.id = made.ID
			return err
		}})
	} else {
		steps = append(steps, &Step{Action: Skip, What: what, Note: "exists"})
	}

	ua := &Step{Action: Skip, What: "universal auth of " + id.name, Note: "exists"}
	if id.ua == nil {
		ua.Action, ua.Note = Create, fmt.Sprintf("access tokens live %s, renewable up to %s", seconds(tokenTTL), seconds(tokenMaxTTL))
		ua.do = func(ctx context.Context) error {
			got, err := p.c.AttachUniversalAuth(ctx, id.id, tokenTTL, tokenMaxTTL)
			id.ua = &got
			return err
		}
	}
	steps = append(steps, ua, p.roleStep(id))
	return append(steps, p.secretSteps(id)...)
}

func seconds(s int) string {
	return strings.TrimSuffix(strings.TrimSuffix((time.Duration(s)*time.Second).String(), "0s"), "0m")
}

// roleStep makes id a member of the project with its role, its only one.
func (p *planner) roleStep(id *identity) *Step {
	s := &Step{What: "role of " + id.name + " in the project"}
	switch {
	case !id.member:
		s.Action, s.Note = Create, id.role+": "+id.label
		s.do = func(ctx context.Context) error { return p.c.AddIdentityToProject(ctx, id.id, id.role) }
	case len(id.roles) == 1 && id.roles[0].Slug == id.role && !id.roles[0].Temporary:
		s.Action, s.Note = Skip, id.role
	default:
		var had []string
		for _, r := range id.roles {
			had = append(had, r.Slug)
		}
		if len(had) == 0 {
			had = []string{"none"}
		}
		s.Action, s.Note = Update, strings.Join(had, ", ")+" → "+id.role
		s.do = func(ctx context.Context) error { return p.c.SetIdentityRole(ctx, id.id, id.role) }
	}
	return s
}

// secretSteps decide id's client secret and file. A new secret is made
// only when provision has made none for it yet, or with --rotate, since
// Infisical shows a secret once, when it makes it; it is written out
// before the old ones are revoked, so that the file is never left with a
// secret that no longer logs in.
func (p *planner) secretSteps(id *identity) []*Step {
	what := "client secret of " + id.name
	if id.file == nil {
		return []*Step{{Action: Skip, What: what, Note: "no --admin-env-file"}}
	}
	f := id.file
	fresh := len(id.secrets) == 0 || p.po.Rotate
	if !fresh && !p.fileHolds(id) {
		return []*Step{{Action: Failed, What: f.path, Err: fmt.Errorf("it holds no client secret of %s that Infisical still accepts, and Infisical shows a secret only when it makes one: --rotate makes a new one, writes it here and revokes the old ones", id.name)}}
	}
	var steps []*Step
	if fresh {
		note := "marked " + fmt.Sprintf("%q", Description)
		if p.po.Rotate && len(id.secrets) > 0 {
			note = "--rotate; " + note
		}
		steps = append(steps, &Step{Action: Create, What: what, Note: note, do: func(ctx context.Context) error {
			secret, made, err := p.c.CreateClientSecret(ctx, id.id, Description)
			id.secret, id.secretID = secret, made.ID
			return err
		}})
	} else {
		steps = append(steps, &Step{Action: Skip, What: what, Note: "one made by secret-init is in " + f.path})
	}
	steps = append(steps, p.fileStep(id, fresh))
	if fresh {
		for _, old := range id.secrets {
			steps = append(steps, &Step{Action: Revoke, What: "client secret " + old.ID + " of " + id.name, Note: "made " + since(old.Created) + ", once " + f.path + " holds the new one", do: func(ctx context.Context) error {
				return p.c.RevokeClientSecret(ctx, id.id, old.ID)
			}})
		}
	}
	return steps
}

// fileHolds reports whether id's file holds its client ID and a client
// secret provision made for it, told by the first characters Infisical
// keeps of each secret.
func (p *planner) fileHolds(id *identity) bool {
	v := id.file.Values
	if id.ua == nil || v["INFISICAL_CLIENT_ID"] != id.ua.ClientID {
		return false
	}
	have := v["INFISICAL_CLIENT_SECRET"]
	for _, s := range id.secrets {
		if len(s.Prefix) >= 4 && len(have) > len(s.Prefix) && strings.HasPrefix(have, s.Prefix) {
			return true
		}
	}
	return false
}

// fileStep writes the INFISICAL_* settings of id into its file: the
// project, the client ID and, when made, the new secret; the address
// when the file has none (a container often reaches Infisical at another
// address than the operator does, so one that is there is kept); the
// environment when it is not the default. Every other line is kept.
func (p *planner) fileStep(id *identity, fresh bool) *Step {
	f := id.file
	s := &Step{Action: Write, What: f.path}
	want := []dotenv.Pair{}
	add := func(k, v string) {
		if cur, ok := f.Values[k]; !ok || cur != v {
			want = append(want, dotenv.Pair{Key: k, Value: v})
			s.Keys = append(s.Keys, k)
		}
	}
	if cur := f.Values["INFISICAL_ADDR"]; cur == "" {
		add("INFISICAL_ADDR", p.b.Addr)
	} else if cur != p.b.Addr {
		p.rep.Warnings = append(p.rep.Warnings, fmt.Sprintf("%s keeps its INFISICAL_ADDR, which is not the address this run used (%s)", f.path, p.b.SafeAddr()))
	}
	add("INFISICAL_PROJECT_ID", p.b.ProjectID)
	if _, set := f.Values["INFISICAL_ENVIRONMENT"]; set || p.b.Environment != "dev" {
		add("INFISICAL_ENVIRONMENT", p.b.Environment)
	}
	clientID := ""
	if id.ua != nil {
		clientID = id.ua.ClientID
	}
	if id.ua == nil || f.Values["INFISICAL_CLIENT_ID"] != clientID {
		want = append(want, dotenv.Pair{Key: "INFISICAL_CLIENT_ID"})
		s.Keys = append(s.Keys, "INFISICAL_CLIENT_ID")
	}
	if fresh {
		s.Keys = append(s.Keys, "INFISICAL_CLIENT_SECRET")
	}
	if len(s.Keys) == 0 {
		return &Step{Action: Skip, What: f.path, Note: "up to date"}
	}
	s.do = func(ctx context.Context) error {
		set := make([]dotenv.Pair, 0, len(want)+1)
		for _, kv := range want {
			if kv.Key == "INFISICAL_CLIENT_ID" {
				kv.Value = id.ua.ClientID
			}
			set = append(set, kv)
		}
		if fresh {
			set = append(set, dotenv.Pair{Key: "INFISICAL_CLIENT_SECRET", Value: id.secret})
		}
		data, err := dotenv.Update(f.path, f.data, set)
		if err == nil {
			err = dotenv.WriteFile(ctx, f.path, data)
		}
		if err != nil && fresh {
			// The new secret is held nowhere: revoke it rather than leave
			// a credential nobody can use or rotate.
			// The run's deadline may be what failed: the revoke gets a
			// bound of its own.
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), revokeTimeout)
			defer cancel()
			if rerr := p.c.RevokeClientSecret(rctx, id.id, id.secretID); rerr != nil {
				err = fmt.Errorf("%w (and the client secret just made could not be revoked: %v)", err, rerr)
			}
		}
		return err
	}
	return s
}
