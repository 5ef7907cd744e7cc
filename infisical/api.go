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

// ListOptions selects one folder of one environment.
type ListOptions struct {
	ProjectID, Environment, Path string
	// Recursive also lists every folder below Path; each Secret says its folder.
	Recursive bool
}

// Secret is one resolved secret. Path is the folder it came from, which for an
// imported secret is the import's source folder.
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

// ListSecrets reads one folder with imports and references resolved by the
// server (GET /api/v3/secrets/raw). Imports are merged as the SDK does: a key
// in the folder itself wins over any import, and among imports the first
// block that has the key wins. With Recursive, a key may appear once per folder.
func (c *Client) ListSecrets(ctx context.Context, o ListOptions) ([]Secret, error) {
	path := folderOrRoot(o.Path)
	q := url.Values{
		"workspaceId":            {o.ProjectID},
		"environment":            {o.Environment},
		"secretPath":             {path},
		"include_imports":        {"true"},
		"expandSecretReferences": {"true"},
		"recursive":              {strconv.FormatBool(o.Recursive)},
	}
	var out listAnswer
	err := c.do(ctx, call{
		op: "list secrets", method: http.MethodGet, path: "/v3/secrets/raw", query: q,
		auth: true, env: o.Environment, folder: path, out: &out,
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
		p := s.Path
		if p == "" || !o.Recursive {
			p = path
		}
		if o.Recursive {
			if seen[p+"\x00"+s.Key] {
				continue
			}
			seen[p+"\x00"+s.Key] = true
		} else if seen[s.Key] {
			continue
		}
		seen[s.Key] = true
		res = append(res, Secret{Key: s.Key, Value: s.Value, Path: p})
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
	sort.SliceStable(res, func(i, j int) bool {
		if res[i].Key != res[j].Key {
			return res[i].Key < res[j].Key
		}
		return res[i].Path < res[j].Path
	})
	return res, nil
}

type oneAnswer struct {
	Secret *rawSecret `json:"secret"`
}

// GetSecret reads one key (GET /api/v3/secrets/raw/{key}), imports and
// references resolved. A missing key or folder gives an error matching
// ErrNotFound.
func (c *Client) GetSecret(ctx context.Context, projectID, env, path, key string) (Secret, error) {
	path = folderOrRoot(path)
	q := url.Values{
		"workspaceId":            {projectID},
		"environment":            {env},
		"secretPath":             {path},
		"type":                   {"shared"},
		"include_imports":        {"true"},
		"expandSecretReferences": {"true"},
	}
	var out oneAnswer
	err := c.do(ctx, call{
		op: "get secret " + key, method: http.MethodGet, path: "/v3/secrets/raw/" + url.PathEscape(key), query: q,
		auth: true, env: env, folder: path, out: &out,
		check: func() error {
			if out.Secret == nil {
				return errors.New(`no "secret" object`)
			}
			return nil
		},
	})
	if err != nil {
		return Secret{}, err
	}
	p := out.Secret.Path
	if p == "" {
		p = path
	}
	return Secret{Key: out.Secret.Key, Value: out.Secret.Value, Path: p}, nil
}

type writeSecret struct {
	WorkspaceID string `json:"workspaceId"`
	Environment string `json:"environment"`
	SecretPath  string `json:"secretPath"`
	Type        string `json:"type"`
	SecretValue string `json:"secretValue"`
}

// CreateSecret adds a key (POST /api/v3/secrets/raw/{key}). Infisical answers
// 400 when the key exists and 404 when the folder does not.
func (c *Client) CreateSecret(ctx context.Context, projectID, env, path, key, value string) error {
	path = folderOrRoot(path)
	return c.do(ctx, call{
		op: "create secret " + key, method: http.MethodPost, path: "/v3/secrets/raw/" + url.PathEscape(key),
		body: writeSecret{projectID, env, path, "shared", value},
		auth: true, env: env, folder: path, redact: []string{value},
		// A lost answer may hide a create that happened; a retry would then
		// fail with "already exists", so only proven rejections are retried.
		retryUnsafe: true,
	})
}

// UpdateSecret sets an existing key's value (PATCH /api/v3/secrets/raw/{key}).
func (c *Client) UpdateSecret(ctx context.Context, projectID, env, path, key, value string) error {
	path = folderOrRoot(path)
	return c.do(ctx, call{
		op: "update secret " + key, method: http.MethodPatch, path: "/v3/secrets/raw/" + url.PathEscape(key),
		body: writeSecret{projectID, env, path, "shared", value},
		auth: true, env: env, folder: path, redact: []string{value},
	})
}

type folderAnswer struct {
	Folders *[]struct {
		Name string `json:"name"`
	} `json:"folders"`
}

// ListFolders names the folders directly below path (GET /api/v1/folders).
func (c *Client) ListFolders(ctx context.Context, projectID, env, path string) ([]string, error) {
	path = folderOrRoot(path)
	q := url.Values{"workspaceId": {projectID}, "environment": {env}, "path": {path}}
	var out folderAnswer
	err := c.do(ctx, call{
		op: "list folders", method: http.MethodGet, path: "/v1/folders", query: q,
		auth: true, env: env, folder: path, out: &out,
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

// CreateFolder creates name below parentPath (POST /api/v1/folders). Infisical
// makes this idempotent and creates missing parents itself.
func (c *Client) CreateFolder(ctx context.Context, projectID, env, parentPath, name string) error {
	parentPath = folderOrRoot(parentPath)
	return c.do(ctx, call{
		op: "create folder " + name, method: http.MethodPost, path: "/v1/folders",
		body: map[string]string{"workspaceId": projectID, "environment": env, "name": name, "path": parentPath},
		auth: true, env: env, folder: parentPath,
	})
}

func folderOrRoot(p string) string {
	if p == "" {
		return "/"
	}
	return p
}
