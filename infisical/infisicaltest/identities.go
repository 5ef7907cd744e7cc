package infisicaltest

import (
	"crypto/rand"
	"encoding/hex"
	"slices"
	"sort"
	"strings"
	"time"
)

// The organisation, its machine identities, their universal-auth
// configuration and client secrets, and their memberships of the
// project, with the built-in roles that decide what each may do. Every
// principal is a machine identity, as in Infisical: a seeded identity,
// a token's and a kubernetes-auth identity alike.

// DefaultOrganization is the id of the one organisation a server holds.
const DefaultOrganization = "00000000-0000-4000-8000-0000000000a1"

// Project and organisation names and slugs, as GET /api/v1/projects/{id}
// and /api/v1/identities/details show them.
const (
	orgName, orgSlug         = "Test Organization", "test-organization"
	projectName, projectSlug = "Test Project", "test-project"
)

// Permission actions, as Infisical's CASL rules name them.
const (
	actRead, actCreate, actEdit, actDelete = "read", "create", "edit", "delete"
	actDescribe, actReadValue              = "describeSecret", "readValue"
	actGrant                               = "grant-privileges"
	actCreateToken, actGetToken            = "create-token", "get-token"
	actDeleteToken, actRevokeAuth          = "delete-token", "revoke-auth"
)

// Subjects of the project permissions.
const (
	subjSecrets, subjFolders, subjIdentity = "secrets", "secret-folders", "identity"
)

// projectRoles are the built-in project roles (default-roles.ts) as far
// as secrets, folders and identities go: only admin and member write
// secrets; viewer reads them; no-access has no rule at all; only admin
// may grant a role to an identity.
var projectRoles = map[string]map[string][]string{
	"admin": {
		subjSecrets:  {actDescribe, actRead, actReadValue, actCreate, actEdit, actDelete},
		subjFolders:  {actRead, actCreate, actEdit, actDelete},
		subjIdentity: {actRead, actCreate, actEdit, actDelete, actGrant},
	},
	"member": {
		subjSecrets:  {actDescribe, actRead, actReadValue, actCreate, actEdit, actDelete},
		subjFolders:  {actRead, actCreate, actEdit, actDelete},
		subjIdentity: {actRead, actCreate, actEdit, actDelete},
	},
	"viewer": {
		subjSecrets:  {actDescribe, actReadValue},
		subjFolders:  {actRead},
		subjIdentity: {actRead},
	},
	"no-access": {},
}

// orgRoles are the built-in organisation roles' actions on identities
// (org-permission.ts), under the new privilege system: a member may
// create and edit identities but not make, list or revoke their client
// secrets, nor grant a role.
var orgRoles = map[string][]string{
	"admin":     {actRead, actCreate, actEdit, actDelete, actCreateToken, actGetToken, actDeleteToken, actGrant, actRevokeAuth},
	"member":    {actRead, actCreate, actEdit, actDelete},
	"no-access": {},
}

// machineIdentity is an identity of the organisation and, when roles is
// not nil, a member of the project.
type machineIdentity struct {
	id, name        string
	orgMembershipID string
	orgRole         string
	created         time.Time
	ua              *uaConfig // nil: no universal auth attached
	kubernetes      bool      // logs in with kubernetes auth

	roles        []projectRole // nil: not a member of the project
	membershipID string
	memberSince  time.Time
	lastLogin    time.Time
	lastMethod   string
}

type projectRole struct {
	id        string
	slug      string
	temporary bool
	mode      string // temporaryMode, "relative"
	rangeText string // temporaryRange, e.g. "1h"
	start     string // temporaryAccessStartTime, as sent
	created   time.Time
}

// uaConfig is an identity's universal auth: its client ID, its token
// settings, its client secrets and its lockout state, which Infisical
// keys by identity and client ID.
type uaConfig struct {
	id, clientID string
	ident        *machineIdentity
	p            *principal
	created      time.Time
	// ownTTL says the token TTLs were set when universal auth was
	// attached over the API; a seeded identity's tokens follow the
	// server's SetTokenTTL instead.
	ownTTL         bool
	ttl, maxTTL    time.Duration
	numUsesLimit   int
	period         int
	lockout        lockoutSettings
	clientIPs      []string
	accessTokenIPs []string
	secrets        []*clientSecret

	failures    int
	resetAt     time.Time // when the failure count lapses
	lockedUntil time.Time
}

// lockoutSettings are the lockout fields an attach records and echoes;
// logins lock by the server's SetLockout, whatever they say.
type lockoutSettings struct {
	enabled                            bool
	threshold, durationSecs, resetSecs int
}

// clientSecret is one client secret of a universal auth. Its value is
// shown once, in the answer that creates it.
type clientSecret struct {
	id, value, description string
	created, updated       time.Time
	ttl                    time.Duration // 0: never expires
	uses, limit            int           // limit 0: unlimited
	revoked                bool
}

// newIdentity adds an identity to the organisation, with no project
// membership.
func (s *Server) newIdentity(name, orgRole string) *machineIdentity {
	id := &machineIdentity{id: s.id(), name: name, orgMembershipID: s.id(), orgRole: orgRole, created: s.now().UTC()}
	s.identities = append(s.identities, id)
	return id
}

// join makes id a member of the project with the permanent role slug.
func (s *Server) join(id *machineIdentity, slug string) {
	now := s.now().UTC()
	id.roles = []projectRole{{id: s.id(), slug: slug, created: now}}
	id.membershipID, id.memberSince = s.id(), now
}

// identityByID finds an identity of the organisation.
func (s *Server) identityByID(id string) *machineIdentity {
	for _, mi := range s.identities {
		if mi.id == id {
			return mi
		}
	}
	return nil
}

// identityPrincipal makes the principal of a seeded identity: by default
// an admin of the organisation and of the project, which may do
// everything; perms narrow it.
func (s *Server) identityPrincipal(name string, perms []Permission) *principal {
	mi := s.newIdentity(name, "admin")
	s.join(mi, "admin")
	p := &principal{ident: mi}
	for _, f := range perms {
		f(p)
	}
	for i := range mi.roles {
		if mi.roles[i].id == "" {
			mi.roles[i].id, mi.roles[i].created = s.id(), mi.memberSince
		}
	}
	if mi.roles != nil && mi.membershipID == "" {
		mi.membershipID, mi.memberSince = s.id(), s.now().UTC()
	}
	return p
}

// newClientSecret makes a secret of 64 hex characters, as Infisical's
// crypto.randomBytes(32).toString("hex") does.
func (s *Server) newClientSecret(ua *uaConfig, description string, ttl time.Duration, limit int) *clientSecret {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	now := s.now().UTC()
	cs := &clientSecret{id: s.id(), value: hex.EncodeToString(b), description: description, created: now, updated: now, ttl: ttl, limit: limit}
	ua.secrets = append(ua.secrets, cs)
	return cs
}

// projectMay reports whether any of the principal's project roles allows
// action on subject.
func (p *principal) projectMay(subject, action string) bool {
	for _, r := range p.ident.roles {
		if slices.Contains(projectRoles[r.slug][subject], action) {
			return true
		}
	}
	return false
}

// orgMay reports whether the principal's organisation role allows action
// on identities.
func (p *principal) orgMay(action string) bool {
	return slices.Contains(orgRoles[p.ident.orgRole], action)
}

// member reports whether the principal is a member of the project.
func (p *principal) member() bool { return p.ident.roles != nil }

// ProjectRole gives an identity or token the built-in project role slug
// (admin, member, viewer, no-access) instead of admin.
func ProjectRole(slug string) Permission {
	return func(p *principal) {
		if len(p.ident.roles) == 0 {
			p.ident.roles = []projectRole{{}}
		}
		p.ident.roles[0].slug = slug
	}
}

// OrgRole gives an identity or token the built-in organisation role slug
// (admin, member, no-access) instead of admin.
func OrgRole(slug string) Permission {
	return func(p *principal) { p.ident.orgRole = slug }
}

// NotMember takes an identity or token out of the project: every
// secrets and folders route answers 403 "You are not member of this
// project".
func NotMember() Permission {
	return func(p *principal) { p.ident.roles = nil }
}

// OrganizationID is the id of the server's one organisation.
func (s *Server) OrganizationID() string { return DefaultOrganization }

// IdentityInfo is what a test may inspect of an identity.
type IdentityInfo struct {
	ID, Name, OrgRole string
	ProjectRoles      []string // nil: not a member of the project
	ClientID          string   // "": no universal auth
	// ClientSecrets are the ids of its client secrets that are not
	// revoked, oldest first.
	ClientSecrets []string
}

// Identities lists the identities named name ("" = all), in creation order.
func (s *Server) Identities(name string) []IdentityInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []IdentityInfo
	for _, mi := range s.identities {
		if name != "" && mi.name != name {
			continue
		}
		info := IdentityInfo{ID: mi.id, Name: mi.name, OrgRole: mi.orgRole}
		for _, r := range mi.roles {
			info.ProjectRoles = append(info.ProjectRoles, r.slug)
		}
		if mi.ua != nil {
			info.ClientID = mi.ua.clientID
			for _, cs := range mi.ua.secrets {
				if !cs.revoked {
					info.ClientSecrets = append(info.ClientSecrets, cs.id)
				}
			}
		}
		out = append(out, info)
	}
	return out
}

// IssuedClientSecrets are the values of every client secret the server
// generated (not those a seed gave), for tests that check no output
// holds one.
func (s *Server) IssuedClientSecrets() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, mi := range s.identities {
		if mi.ua == nil {
			continue
		}
		for _, cs := range mi.ua.secrets {
			if cs.id != "" && !strings.HasPrefix(cs.id, seededSecretID) {
				out = append(out, cs.value)
			}
		}
	}
	sort.Strings(out)
	return out
}

// seededSecretID starts the id of a client secret a seed gave.
const seededSecretID = "seeded-"
