package infisicaltest

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Seed is the YAML seed file described in the package documentation.
type Seed struct {
	Project      string                     `yaml:"project"`
	Identities   []SeedIdentity             `yaml:"identities"`
	Tokens       []string                   `yaml:"tokens"` // of identities that may do everything
	Kubernetes   []SeedKubernetes           `yaml:"kubernetes"`
	Environments map[string]SeedEnvironment `yaml:"environments"`
}

// SeedIdentity is a universal-auth machine identity. By default it is an
// admin of the organisation and of the project; ReadOnly makes it a
// runtime identity (project role viewer, no organisation role); Role and
// OrgRole name the built-in roles outright.
type SeedIdentity struct {
	ClientID     string     `yaml:"client_id"`
	ClientSecret string     `yaml:"client_secret"`
	Deny         []SeedDeny `yaml:"deny"`
	ReadOnly     bool       `yaml:"read_only"`
	Role         string     `yaml:"role"`     // project role: admin, member, viewer, no-access
	OrgRole      string     `yaml:"org_role"` // organisation role: admin, member, no-access
}

// SeedKubernetes is a kubernetes-auth machine identity.
type SeedKubernetes struct {
	IdentityID string     `yaml:"identity_id"`
	JWT        string     `yaml:"jwt"`
	Deny       []SeedDeny `yaml:"deny"`
}

// SeedDeny is a folder subtree an identity may not read; env "*" is any.
type SeedDeny struct {
	Env  string `yaml:"env"`
	Path string `yaml:"path"`
}

// SeedEnvironment holds one environment's folders and imports.
type SeedEnvironment struct {
	Folders map[string]map[string]string `yaml:"folders"`
	Imports []SeedImport                 `yaml:"imports"`
}

// SeedImport makes Path import FromEnv's folder From (FromEnv defaults to
// the environment it is listed under).
type SeedImport struct {
	Path    string `yaml:"path"`
	From    string `yaml:"from"`
	FromEnv string `yaml:"from_env"`
}

// LoadSeed parses and checks a seed file. Unknown fields are errors, so that
// a typo does not silently seed nothing.
func LoadSeed(r io.Reader) (Seed, error) {
	var s Seed
	dec := yaml.NewDecoder(r)
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil && !errors.Is(err, io.EOF) {
		return Seed{}, fmt.Errorf("seed: %w", err)
	}
	return s, s.check()
}

func (s Seed) check() error {
	for i, id := range s.Identities {
		if id.ClientID == "" || id.ClientSecret == "" {
			return fmt.Errorf("seed: identities[%d]: client_id and client_secret are required", i)
		}
		if id.ReadOnly && (id.Role != "" || id.OrgRole != "") {
			return fmt.Errorf("seed: identities[%d]: read_only is a role of its own; give it or role and org_role", i)
		}
		if _, ok := projectRoles[id.Role]; id.Role != "" && !ok {
			return fmt.Errorf("seed: identities[%d]: role %q is not admin, member, viewer or no-access", i, id.Role)
		}
		if _, ok := orgRoles[id.OrgRole]; id.OrgRole != "" && !ok {
			return fmt.Errorf("seed: identities[%d]: org_role %q is not admin, member or no-access", i, id.OrgRole)
		}
	}
	for i, k := range s.Kubernetes {
		if k.IdentityID == "" || k.JWT == "" {
			return fmt.Errorf("seed: kubernetes[%d]: identity_id and jwt are required", i)
		}
	}
	for env, e := range s.Environments {
		if env == "" {
			return errors.New("seed: environment with an empty slug")
		}
		for p, kv := range e.Folders {
			if !strings.HasPrefix(p, "/") {
				return fmt.Errorf("seed: environments.%s.folders: path %q must start with /", env, p)
			}
			for k := range kv {
				if k == "" {
					return fmt.Errorf("seed: environments.%s.folders.%s: empty key", env, p)
				}
			}
		}
		for i, im := range e.Imports {
			if !strings.HasPrefix(im.Path, "/") || !strings.HasPrefix(im.From, "/") {
				return fmt.Errorf("seed: environments.%s.imports[%d]: path and from must start with /", env, i)
			}
		}
	}
	return nil
}

// ApplySeed adds the seed's project, identities, tokens, secrets and imports.
func (s *Server) ApplySeed(seed Seed) {
	if seed.Project != "" {
		s.SetProject(seed.Project)
	}
	for _, id := range seed.Identities {
		perms := seedPerms(id.Deny, id.ReadOnly)
		if id.Role != "" {
			perms = append(perms, ProjectRole(id.Role))
		}
		if id.OrgRole != "" {
			perms = append(perms, OrgRole(id.OrgRole))
		}
		s.AddUniversalIdentity(id.ClientID, id.ClientSecret, perms...)
	}
	for _, k := range seed.Kubernetes {
		s.AddKubernetesIdentity(k.IdentityID, k.JWT, seedPerms(k.Deny, false)...)
	}
	for _, t := range seed.Tokens {
		s.AddToken(t)
	}
	envs := make([]string, 0, len(seed.Environments))
	for env := range seed.Environments {
		envs = append(envs, env)
	}
	sort.Strings(envs) // ids are handed out in a stable order
	for _, env := range envs {
		e := seed.Environments[env]
		s.AddEnvironment(env)
		paths := make([]string, 0, len(e.Folders))
		for p := range e.Folders {
			paths = append(paths, p)
		}
		sort.Strings(paths)
		for _, p := range paths {
			s.mu.Lock()
			s.mkdir(s.env(env), p)
			s.mu.Unlock()
			for k, v := range e.Folders[p] {
				s.SetSecret(env, p, k, v)
			}
		}
		for _, im := range e.Imports {
			from := im.FromEnv
			if from == "" {
				from = env
			}
			s.AddImport(env, im.Path, from, im.From)
		}
	}
}

func seedPerms(deny []SeedDeny, readOnly bool) []Permission {
	var perms []Permission
	for _, d := range deny {
		env := d.Env
		if env == "" {
			env = "*"
		}
		perms = append(perms, DenyFolder(env, d.Path))
	}
	if readOnly {
		perms = append(perms, ReadOnly())
	}
	return perms
}
