package infisical

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The provisioning routes: the caller's organisation, the project, the
// organisation's machine identities, their universal auth and client
// secrets, and their memberships of the project. They need an identity
// that administers the organisation's identities and the project.

// Organization is the organisation of the identity logged in.
type Organization struct{ ID, Name, Slug string }

// Project is the run's project and the slugs of its environments.
type Project struct {
	ID, Name, Slug, OrgID string
	Environments          []string
}

// Identity is a machine identity of the organisation.
type Identity struct {
	ID, Name string
	OrgRole  string // its role in the organisation: admin, member, no-access or a custom slug
}

// UniversalAuth is an identity's universal-auth configuration.
type UniversalAuth struct {
	ClientID          string
	AccessTokenTTL    int // seconds
	AccessTokenMaxTTL int // seconds
}

// ClientSecret is a client secret as Infisical lists it: never its value,
// which only the answer that creates it carries.
type ClientSecret struct {
	ID, Description string
	Created         time.Time
	// Prefix is the secret's first 4 characters, all Infisical keeps to
	// tell secrets apart: enough to match a secret at hand, never to log.
	Prefix string
	TTL    time.Duration // 0: never expires
}

// MemberRole is one role of an identity in the project.
type MemberRole struct {
	Slug      string
	Temporary bool
}

type detailsAnswer struct {
	Details *struct {
		Organization struct {
			ID   string `json:"id"`
			Name string `json:"name"`
			Slug string `json:"slug"`
		} `json:"organization"`
	} `json:"identityDetails"`
}

// Organization asks which organisation the logged-in identity belongs to
// (GET /api/v1/identities/details, an identity token only).
func (c *Client) Organization(ctx context.Context) (Organization, error) {
	var out detailsAnswer
	err := c.do(ctx, call{
		op: "identity details", method: http.MethodGet, path: "/v1/identities/details", auth: true, out: &out,
		check: func() error {
			if out.Details == nil || out.Details.Organization.ID == "" {
				return errors.New(`no "identityDetails.organization.id"`)
			}
			return nil
		},
	})
	if err != nil {
		return Organization{}, c.explain(err)
	}
	o := out.Details.Organization
	return Organization{ID: o.ID, Name: o.Name, Slug: o.Slug}, nil
}

type projectAnswer struct {
	Project *struct {
		ID           string `json:"id"`
		Name         string `json:"name"`
		Slug         string `json:"slug"`
		OrgID        string `json:"orgId"`
		Environments []struct {
			Slug string `json:"slug"`
		} `json:"environments"`
	} `json:"project"`
}

// Project reads the run's project (GET /api/v1/projects/{id}), which only
// a member of it may.
func (c *Client) Project(ctx context.Context) (Project, error) {
	var out projectAnswer
	err := c.do(ctx, call{
		op: "get project", method: http.MethodGet, path: "/v1/projects/" + url.PathEscape(c.project), auth: true, out: &out,
		check: func() error {
			if out.Project == nil || out.Project.ID == "" {
				return errors.New(`no "project.id"`)
			}
			return nil
		},
	})
	if err != nil {
		return Project{}, c.explain(err)
	}
	p := Project{ID: out.Project.ID, Name: out.Project.Name, Slug: out.Project.Slug, OrgID: out.Project.OrgID}
	for _, e := range out.Project.Environments {
		p.Environments = append(p.Environments, e.Slug)
	}
	return p, nil
}

type orgIdentitiesAnswer struct {
	Memberships *[]struct {
		Role     string `json:"role"`
		Identity struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"identity"`
	} `json:"identityMemberships"`
	Total int `json:"totalCount"`
}

// identityPage is how many identities one request of FindIdentities asks
// for, and maxIdentityPages how many pages it reads at most: an
// organisation of 20000 identities matching one name is no realistic one.
const (
	identityPage     = 100
	maxIdentityPages = 200
)

// FindIdentities lists the identities of organisation orgID named exactly
// name. Infisical does not keep names unique, so there may be several;
// its search is a case-insensitive substring, so the exact match is made
// here (GET /api/v2/organizations/{org}/identity-memberships).
func (c *Client) FindIdentities(ctx context.Context, orgID, name string) ([]Identity, error) {
	var found []Identity
	for page := 0; page < maxIdentityPages; page++ {
		q := url.Values{"search": {name}, "offset": {strconv.Itoa(page * identityPage)}, "limit": {strconv.Itoa(identityPage)}, "orderBy": {"name"}, "orderDirection": {"asc"}}
		var out orgIdentitiesAnswer
		err := c.do(ctx, call{
			op: "list identities", method: http.MethodGet, path: "/v2/organizations/" + url.PathEscape(orgID) + "/identity-memberships",
			query: q, auth: true, out: &out,
			check: func() error {
				if out.Memberships == nil {
					return errors.New(`no "identityMemberships" list`)
				}
				return nil
			},
		})
		if err != nil {
			return nil, c.explain(err)
		}
		for _, m := range *out.Memberships {
			if m.Identity.Name == name {
				found = append(found, Identity{ID: m.Identity.ID, Name: m.Identity.Name, OrgRole: m.Role})
			}
		}
		if len(*out.Memberships) < identityPage || (page+1)*identityPage >= out.Total {
			return found, nil
		}
	}
	return nil, fmt.Errorf("infisical: list identities: more than %d identities match %q", maxIdentityPages*identityPage, name)
}

type identityAnswer struct {
	Identity *struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"identity"`
}

// CreateIdentity adds a machine identity to organisation orgID with no
// organisation role (POST /api/v1/identities, role no-access): what it
// may do comes from the project roles it is given. It is never retried
// after a lost answer, since a retry would make a second identity.
func (c *Client) CreateIdentity(ctx context.Context, orgID, name string) (Identity, error) {
	var out identityAnswer
	err := c.do(ctx, call{
		op: "create identity " + name, method: http.MethodPost, path: "/v1/identities",
		body: map[string]string{"name": name, "organizationId": orgID, "role": "no-access"},
		auth: true, out: &out, retryUnsafe: true,
		check: func() error {
			if out.Identity == nil || out.Identity.ID == "" {
				return errors.New(`no "identity.id"`)
			}
			return nil
		},
	})
	if err != nil {
		return Identity{}, c.explain(err)
	}
	return Identity{ID: out.Identity.ID, Name: out.Identity.Name, OrgRole: "no-access"}, nil
}

type universalAuthAnswer struct {
	UA *struct {
		ClientID  string `json:"clientId"`
		TTL       int    `json:"accessTokenTTL"`
		MaxTTL    int    `json:"accessTokenMaxTTL"`
		NumUses   int    `json:"accessTokenNumUsesLimit"`
		Identity  string `json:"identityId"`
		CreatedAt string `json:"createdAt"`
	} `json:"identityUniversalAuth"`
}

func (a *universalAuthAnswer) check() error {
	if a.UA == nil || a.UA.ClientID == "" {
		return errors.New(`no "identityUniversalAuth.clientId"`)
	}
	return nil
}

func (a *universalAuthAnswer) config() UniversalAuth {
	return UniversalAuth{ClientID: a.UA.ClientID, AccessTokenTTL: a.UA.TTL, AccessTokenMaxTTL: a.UA.MaxTTL}
}

func uaPath(identityID string) string {
	return "/v1/auth/universal-auth/identities/" + url.PathEscape(identityID)
}

// UniversalAuth reads an identity's universal auth (GET
// /api/v1/auth/universal-auth/identities/{id}); an identity without it is
// ErrNotFound.
func (c *Client) UniversalAuth(ctx context.Context, identityID string) (UniversalAuth, error) {
	var out universalAuthAnswer
	err := c.do(ctx, call{op: "get universal auth", method: http.MethodGet, path: uaPath(identityID), auth: true, out: &out, check: out.check})
	if err != nil {
		return UniversalAuth{}, c.explain(err)
	}
	return out.config(), nil
}

// AttachUniversalAuth gives an identity universal auth whose access tokens
// live ttl seconds and may be renewed up to maxTTL. Infisical answers 400
// to a second attach, which a retry after a lost answer sees: then the
// configuration is read instead.
func (c *Client) AttachUniversalAuth(ctx context.Context, identityID string, ttl, maxTTL int) (UniversalAuth, error) {
	var out universalAuthAnswer
	err := c.do(ctx, call{
		op: "attach universal auth", method: http.MethodPost, path: uaPath(identityID),
		body: map[string]int{"accessTokenTTL": ttl, "accessTokenMaxTTL": maxTTL}, auth: true, out: &out, check: out.check,
	})
	var ae *APIError
	if errors.As(err, &ae) && ae.Status == http.StatusBadRequest && strings.Contains(ae.Message, "already configured") {
		return c.UniversalAuth(ctx, identityID)
	}
	if err != nil {
		return UniversalAuth{}, c.explain(err)
	}
	return out.config(), nil
}

type rawClientSecret struct {
	ID          string `json:"id"`
	Description string `json:"description"`
	CreatedAt   string `json:"createdAt"`
	Prefix      string `json:"clientSecretPrefix"`
	TTL         int    `json:"clientSecretTTL"`
	Revoked     bool   `json:"isClientSecretRevoked"`
}

func (r rawClientSecret) secret() ClientSecret {
	created, _ := time.Parse(time.RFC3339Nano, r.CreatedAt)
	return ClientSecret{ID: r.ID, Description: r.Description, Created: created, Prefix: r.Prefix, TTL: time.Duration(r.TTL) * time.Second}
}

type clientSecretsAnswer struct {
	Data *[]rawClientSecret `json:"clientSecretData"`
}

// ClientSecrets lists an identity's client secrets that are not revoked,
// oldest first (GET .../client-secrets).
func (c *Client) ClientSecrets(ctx context.Context, identityID string) ([]ClientSecret, error) {
	var out clientSecretsAnswer
	err := c.do(ctx, call{
		op: "list client secrets", method: http.MethodGet, path: uaPath(identityID) + "/client-secrets", auth: true, out: &out,
		check: func() error {
			if out.Data == nil {
				return errors.New(`no "clientSecretData" list`)
			}
			return nil
		},
	})
	if err != nil {
		return nil, c.explain(err)
	}
	list := make([]ClientSecret, 0, len(*out.Data))
	for _, r := range *out.Data {
		if !r.Revoked {
			list = append(list, r.secret())
		}
	}
	return list, nil
}

type newClientSecretAnswer struct {
	Secret string           `json:"clientSecret"`
	Data   *rawClientSecret `json:"clientSecretData"`
}

// secretValues makes the new secret scrubbed from every error of the
// client, this answer's own included.
func (a *newClientSecretAnswer) secretValues() []string { return []string{a.Secret} }

// CreateClientSecret makes a client secret for an identity that never
// expires and has no use limit, marked with description (POST
// .../client-secrets). The secret is in this answer only; the client
// scrubs it from all its errors. It is not retried after a lost answer:
// the secret made then is one nobody holds.
func (c *Client) CreateClientSecret(ctx context.Context, identityID, description string) (string, ClientSecret, error) {
	var out newClientSecretAnswer
	err := c.do(ctx, call{
		op: "create client secret", method: http.MethodPost, path: uaPath(identityID) + "/client-secrets",
		body: map[string]any{"description": description, "numUsesLimit": 0, "ttl": 0}, auth: true, out: &out, retryUnsafe: true,
		check: func() error {
			if out.Secret == "" || out.Data == nil || out.Data.ID == "" {
				return errors.New(`no "clientSecret" and "clientSecretData.id"`)
			}
			return nil
		},
	})
	if err != nil {
		return "", ClientSecret{}, c.explain(err)
	}
	return out.Secret, out.Data.secret(), nil
}

// RevokeClientSecret revokes one client secret of an identity (POST
// .../client-secrets/{id}/revoke): it logs in no more. Access tokens
// already issued with it stay valid until they expire.
func (c *Client) RevokeClientSecret(ctx context.Context, identityID, secretID string) error {
	err := c.do(ctx, call{
		op: "revoke client secret", method: http.MethodPost, path: uaPath(identityID) + "/client-secrets/" + url.PathEscape(secretID) + "/revoke", auth: true,
	})
	return c.explain(err)
}

func membershipPath(project, identityID string) string {
	return "/v1/projects/" + url.PathEscape(project) + "/memberships/identities/" + url.PathEscape(identityID)
}

type membershipAnswer struct {
	Membership *struct {
		Roles []struct {
			Role      string `json:"role"`
			Temporary bool   `json:"isTemporary"`
		} `json:"roles"`
	} `json:"identityMembership"`
}

// IdentityRoles reads an identity's roles in the run's project (GET
// /api/v1/projects/{p}/memberships/identities/{id}); an identity that is
// not a member is ErrNotFound.
func (c *Client) IdentityRoles(ctx context.Context, identityID string) ([]MemberRole, error) {
	var out membershipAnswer
	err := c.do(ctx, call{
		op: "get project membership", method: http.MethodGet, path: membershipPath(c.project, identityID), auth: true, out: &out,
		check: func() error {
			if out.Membership == nil {
				return errors.New(`no "identityMembership"`)
			}
			return nil
		},
	})
	if err != nil {
		return nil, c.explain(err)
	}
	roles := make([]MemberRole, 0, len(out.Membership.Roles))
	for _, r := range out.Membership.Roles {
		roles = append(roles, MemberRole{Slug: r.Role, Temporary: r.Temporary})
	}
	return roles, nil
}

// roleBody names the role outright: Infisical's deprecated role field
// defaults to no-access, so an empty body would make a member that may
// do nothing.
func roleBody(role string) map[string]any {
	return map[string]any{"roles": []map[string]any{{"role": role, "isTemporary": false}}}
}

// AddIdentityToProject makes an identity a member of the run's project
// with role, its only one (POST .../memberships/identities/{id}). An
// identity that is a member already (a retry after a lost answer, or
// another run at the same time) gets the role with SetIdentityRole.
func (c *Client) AddIdentityToProject(ctx context.Context, identityID, role string) error {
	err := c.do(ctx, call{
		op: "add identity to project", method: http.MethodPost, path: membershipPath(c.project, identityID),
		body: roleBody(role), auth: true, retryUnsafe: true,
	})
	var ae *APIError
	if errors.As(err, &ae) && ae.Status == http.StatusBadRequest && strings.Contains(ae.Message, "already a member") {
		return c.SetIdentityRole(ctx, identityID, role)
	}
	return c.explain(err)
}

// SetIdentityRole makes role an identity's only role in the run's project
// (PATCH .../memberships/identities/{id}, which replaces them all).
func (c *Client) SetIdentityRole(ctx context.Context, identityID, role string) error {
	err := c.do(ctx, call{
		op: "set project role", method: http.MethodPatch, path: membershipPath(c.project, identityID),
		body: roleBody(role), auth: true,
	})
	return c.explain(err)
}
