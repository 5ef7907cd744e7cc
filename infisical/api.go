package infisical

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"sort"
	"strconv"
)

// loginAnswer is MachineIdentityAuthLoginResponse in the SDK.
type loginAnswer struct {
	AccessToken string `json:"accessToken"`
	ExpiresIn   int64  `json:"expiresIn"`
	TokenType   string `json:"tokenType"`
}

// LoginUniversal exchanges a machine identity's client ID and secret for an
// access token (POST /api/v1/auth/universal-auth/login).
func (c *Client) LoginUniversal(ctx context.Context, clientID, clientSecret string) error {
	c.addRedaction(clientSecret)
	return c.login(ctx, "universal-auth login", "/v1/auth/universal-auth/login",
		map[string]string{"clientId": clientID, "clientSecret": clientSecret})
}

// LoginKubernetes exchanges a service account JWT for an access token
// (POST /api/v1/auth/kubernetes-auth/login).
func (c *Client) LoginKubernetes(ctx context.Context, identityID, jwt string) error {
	c.addRedaction(jwt)
	return c.login(ctx, "kubernetes-auth login", "/v1/auth/kubernetes-auth/login",
		map[string]string{"identityId": identityID, "jwt": jwt})
}

func (c *Client) login(ctx context.Context, op, path string, body map[string]string) error {
	var out loginAnswer
	err := c.do(ctx, call{
		op: op, method: http.MethodPost, path: path, body: body, out: &out,
		check: func() error {
			if out.AccessToken == "" {
				return errors.New("no accessToken")
			}
			return nil
		},
	})
	if err != nil {
		return err
	}
	c.SetToken(out.AccessToken)
	return nil
}

// Secret is one resolved secret. Path is the folder it came from, which for an
// imported secret is the import's source folder; for a write, the folder it
// goes to.
type Secret struct{ Key, Value, Path string }

type rawSecret struct {
	Key   string `json:"secretKey"`
	Value string `json:"secretValue"`
	Path  string `json:"secretPath"`
}

type rawImport struct {
	SecretPath  string       `json:"secretPath"`
	Environment string       `json:"environment"`
	Secrets     *[]rawSecret `json:"secrets"`
}

type listAnswer struct {
	Secrets *[]rawSecret `json:"secrets"`
	Imports []rawImport  `json:"imports"`
}

// ListSecrets reads one folder of the run's project and environment, with
// imports and references resolved by the server (GET /api/v3/secrets/raw).
// Imports are merged as the SDK does: a key in the folder itself wins over
// any import, and among imports the first block that has the key wins.
func (c *Client) ListSecrets(ctx context.Context, folder string) ([]Secret, error) {
	folder = folderOrRoot(folder)
	q := url.Values{
		"workspaceId":            {c.project},
		"environment":            {c.env},
		"secretPath":             {folder},
		"include_imports":        {"true"},
		"expandSecretReferences": {"true"},
		"recursive":              {"false"},
	}
	var out listAnswer
	err := c.do(ctx, call{
		op: "list secrets", method: http.MethodGet, path: "/v3/secrets/raw", query: q,
		auth: true, folder: folder, out: &out,
		check: func() error {
			if out.Secrets == nil {
				return errors.New(`no "secrets" list`)
			}
			for i, im := range out.Imports {
				if im.Secrets == nil {
					return errors.New(`import ` + strconv.Itoa(i) + ` has no "secrets" list`)
				}
			}
			return nil
		},
	})
	if err != nil {
		return nil, err
	}

	seen := make(map[string]bool, len(*out.Secrets))
	res := make([]Secret, 0, len(*out.Secrets))
	for _, s := range *out.Secrets {
		if !seen[s.Key] {
			seen[s.Key] = true
			res = append(res, Secret{Key: s.Key, Value: s.Value, Path: folder})
		}
	}
	for _, im := range out.Imports {
		for _, s := range *im.Secrets {
			if seen[s.Key] {
				continue
			}
			seen[s.Key] = true
			p := im.SecretPath
			if p == "" {
				p = s.Path
			}
			res = append(res, Secret{Key: s.Key, Value: s.Value, Path: p})
		}
	}
	sort.Slice(res, func(i, j int) bool { return res[i].Key < res[j].Key })
	return res, nil
}

type writeSecret struct {
	WorkspaceID string `json:"workspaceId"`
	Environment string `json:"environment"`
	SecretPath  string `json:"secretPath"`
	Type        string `json:"type"`
	SecretValue string `json:"secretValue"`
}

// CreateSecret adds s.Key with s.Value in folder s.Path (POST
// /api/v3/secrets/raw/{key}). Infisical answers 400 when the key exists and
// 404 when the folder does not.
func (c *Client) CreateSecret(ctx context.Context, s Secret) error {
	folder := folderOrRoot(s.Path)
	return c.do(ctx, call{
		op: "create secret " + s.Key, method: http.MethodPost, path: "/v3/secrets/raw/" + url.PathEscape(s.Key),
		body: writeSecret{c.project, c.env, folder, "shared", s.Value},
		auth: true, folder: folder, redact: []string{s.Value},
		// A lost answer may hide a create that happened; a retry would then
		// fail with "already exists", so only proven rejections are retried.
		retryUnsafe: true,
	})
}

// UpdateSecret sets the value of the existing s.Key in folder s.Path
// (PATCH /api/v3/secrets/raw/{key}).
func (c *Client) UpdateSecret(ctx context.Context, s Secret) error {
	folder := folderOrRoot(s.Path)
	return c.do(ctx, call{
		op: "update secret " + s.Key, method: http.MethodPatch, path: "/v3/secrets/raw/" + url.PathEscape(s.Key),
		body: writeSecret{c.project, c.env, folder, "shared", s.Value},
		auth: true, folder: folder, redact: []string{s.Value},
	})
}

type folderAnswer struct {
	Folders *[]struct {
		Name string `json:"name"`
	} `json:"folders"`
}

// ListFolders names the folders directly below folder (GET /api/v1/folders).
func (c *Client) ListFolders(ctx context.Context, folder string) ([]string, error) {
	folder = folderOrRoot(folder)
	q := url.Values{"workspaceId": {c.project}, "environment": {c.env}, "path": {folder}}
	var out folderAnswer
	err := c.do(ctx, call{
		op: "list folders", method: http.MethodGet, path: "/v1/folders", query: q,
		auth: true, folder: folder, out: &out,
		check: func() error {
			if out.Folders == nil {
				return errors.New(`no "folders" list`)
			}
			return nil
		},
	})
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(*out.Folders))
	for _, f := range *out.Folders {
		names = append(names, f.Name)
	}
	sort.Strings(names)
	return names, nil
}

// CreateFolder creates name below parent (POST /api/v1/folders). Infisical
// makes this idempotent and creates missing parents itself.
func (c *Client) CreateFolder(ctx context.Context, parent, name string) error {
	parent = folderOrRoot(parent)
	return c.do(ctx, call{
		op: "create folder " + name, method: http.MethodPost, path: "/v1/folders",
		body: map[string]string{"workspaceId": c.project, "environment": c.env, "name": name, "path": parent},
		auth: true, folder: parent,
	})
}

func folderOrRoot(p string) string {
	if p == "" {
		return "/"
	}
	return p
}
