package infisical

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode"
)

// loginAnswer is MachineIdentityAuthLoginResponse in the SDK.
type loginAnswer struct {
	AccessToken string `json:"accessToken"`
	ExpiresIn   int64  `json:"expiresIn"`
	TokenType   string `json:"tokenType"`
}

// LoginUniversal exchanges a machine identity's client ID and secret for an
// access token (POST /api/v1/auth/universal-auth/login). It is sent once:
// every failed login counts towards Infisical's lockout, which then
// refuses even the right secret for minutes, so nothing here retries a
// refusal.
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
			return tokenProblem(out.AccessToken)
		},
	})
	if err != nil {
		return c.explain(err)
	}
	c.SetToken(out.AccessToken)
	return nil
}

// Secret is one secret. Path is the folder it came from, which for an
// imported secret is the import's source folder; for a write, the folder
// it goes to.
type Secret struct {
	Key, Value, Path string
	// Hidden says Infisical sent a mask ("<hidden-by-infisical>") instead
	// of the value: the identity may see the key but not read it.
	Hidden bool
	// Unresolved says the value, as read with references expanded, still
	// holds a ${...} reference: the server left one it could not resolve.
	Unresolved bool
	// Version is Infisical's version of the secret (1 when created, one
	// more at each update); 0 when the answer had none.
	Version int
}

type rawSecret struct {
	Key    string `json:"secretKey"`
	Value  string `json:"secretValue"`
	Path   string `json:"secretPath"`
	Hidden bool   `json:"secretValueHidden"`
	// Version is a number on every current server; a server that sends
	// something else for it is not refused for a field secret-init only
	// reports.
	Version json.RawMessage `json:"version"`
}

// version is the secret's version, 0 when absent or not a whole number.
func (s rawSecret) version() int {
	n, err := strconv.Atoi(string(s.Version))
	if err != nil || n < 0 {
		return 0
	}
	return n
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

// referencePattern is Infisical's reference syntax, ${KEY} or
// ${env.folder.KEY}; a value that still matches it after the server
// expanded references holds one it could not resolve.
var referencePattern = regexp.MustCompile(`\$\{[a-zA-Z0-9\-_.@]+\}`)

// ListSecrets reads one folder of the run's project and environment, with
// imports and references resolved by the server, as a start injects it. A
// key in the folder itself wins over every import, and among imports the
// last one that has the key wins, as Infisical's own reads and the CLI
// decide. A folder that does not exist is ErrFolderNotFound.
func (c *Client) ListSecrets(ctx context.Context, folder string) ([]Secret, error) {
	return c.list(ctx, folder, true)
}

// ListStored reads the secrets stored in the folder itself, values as
// they are stored: references not expanded, imports left out. It is what
// a write is compared with.
func (c *Client) ListStored(ctx context.Context, folder string) ([]Secret, error) {
	return c.list(ctx, folder, false)
}

func (c *Client) list(ctx context.Context, folder string, resolved bool) ([]Secret, error) {
	folder = folderOrRoot(folder)
	out, err := c.listCall(ctx, folder, resolved, false)
	if err != nil {
		return nil, err
	}
	if !resolved {
		out.Imports = nil
	}

	seen := make(map[string]bool, len(*out.Secrets))
	res := make([]Secret, 0, len(*out.Secrets))
	take := func(s rawSecret, path string) {
		if seen[s.Key] {
			return
		}
		seen[s.Key] = true
		res = append(res, s.secret(path, resolved))
	}
	for _, s := range *out.Secrets {
		take(s, folder)
	}
	for i := len(out.Imports) - 1; i >= 0; i-- {
		im := out.Imports[i]
		for _, s := range *im.Secrets {
			p := im.SecretPath
			if p == "" {
				p = s.Path
			}
			take(s, p)
		}
	}
	sort.Slice(res, func(i, j int) bool { return res[i].Key < res[j].Key })
	return res, nil
}

// Tree is a recursive list of a folder: every secret stored in its
// subtree, each with the folder it is stored in, as the server read it
// (imports included, references expanded). The imports' own secrets are
// not in Secrets: Infisical returns the imports of every folder of the
// subtree as one flat list that does not say which folder imports them,
// so neither where an imported value belongs nor its precedence can be
// rebuilt; Imports says how many there were.
type Tree struct {
	Secrets []Secret // Path: the folder the secret is stored in
	Imports int      // import blocks in the answer
	Read    int      // secrets in the answer, the imports' included
}

// ListTree reads folder and every folder below it in one request
// (recursive=true). A folder that does not exist is ErrFolderNotFound,
// for the whole subtree. Secrets the identity may not read are left out
// of a recursive answer without a word, below the folder itself: a key
// absent from a Tree may still exist.
func (c *Client) ListTree(ctx context.Context, folder string) (*Tree, error) {
	folder = folderOrRoot(folder)
	out, err := c.listCall(ctx, folder, true, true)
	if err != nil {
		return nil, err
	}
	t := &Tree{Secrets: make([]Secret, 0, len(*out.Secrets)), Imports: len(out.Imports), Read: len(*out.Secrets)}
	for _, s := range *out.Secrets {
		p := ""
		if s.Path != "" {
			p = path.Clean("/" + s.Path) // a secret without its folder belongs to none
		}
		t.Secrets = append(t.Secrets, s.secret(p, true))
	}
	for _, im := range out.Imports {
		t.Read += len(*im.Secrets)
	}
	return t, nil
}

// secret is s as read from folder p; resolved says whether references
// were expanded, so that one left in the value tells a failed expansion.
func (s rawSecret) secret(p string, resolved bool) Secret {
	return Secret{Key: s.Key, Value: s.Value, Path: p, Hidden: s.Hidden,
		Unresolved: resolved && !s.Hidden && referencePattern.MatchString(s.Value),
		Version:    s.version()}
}

// listCall sends one list. Every boolean is sent: the newest v4 defaults
// some of them to true. include-imports goes in both spellings: the stored
// routers read include_imports, the newest v4 includeImports. Each router
// ignores the names it does not know, so one query serves v3 and v4. The
// answer's values, the imports' included, are scrubbed from every later
// error whether or not the caller keeps them.
func (c *Client) listCall(ctx context.Context, folder string, resolved, recursive bool) (*listAnswer, error) {
	flag := strconv.FormatBool(resolved)
	q := c.scope(url.Values{
		"secretPath":               {folder},
		"include_imports":          {flag},
		"includeImports":           {flag},
		"expandSecretReferences":   {flag},
		"recursive":                {strconv.FormatBool(recursive)},
		"viewSecretValue":          {"true"},
		"includePersonalOverrides": {"false"},
	})
	op := "list secrets"
	if recursive {
		op = "list secrets recursively"
	}
	var out listAnswer
	err := c.secretsCall(ctx, call{
		op: op, method: http.MethodGet, path: "/v4/secrets", query: q,
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
	return &out, nil
}

// scope adds the run's project and environment to q. The project goes in
// both spellings: v4 reads projectId, v3 workspaceId.
func (c *Client) scope(q url.Values) url.Values {
	q.Set("projectId", c.project)
	q.Set("workspaceId", c.project)
	q.Set("environment", c.env)
	return q
}

// writeSecret is the body of a single write, valid for v3 and v4 alike.
type writeSecret struct {
	ProjectID   string `json:"projectId"`
	WorkspaceID string `json:"workspaceId"`
	Environment string `json:"environment"`
	SecretPath  string `json:"secretPath"`
	Type        string `json:"type"`
	SecretValue string `json:"secretValue"`
}

func (c *Client) writeBody(folder, value string) writeSecret {
	return writeSecret{c.project, c.project, c.env, folder, "shared", value}
}

// CreateSecret adds s.Key with s.Value in folder s.Path (POST
// /api/v4/secrets/{key}). Infisical answers 400 when the key exists and
// 404 when the folder does not.
func (c *Client) CreateSecret(ctx context.Context, s Secret) error {
	folder := folderOrRoot(s.Path)
	return c.secretsCall(ctx, call{
		op: "create secret " + s.Key, method: http.MethodPost, path: "/v4/secrets/" + url.PathEscape(s.Key),
		body: c.writeBody(folder, s.Value), auth: true, folder: folder, redact: []string{s.Value},
		// A lost answer may hide a create that happened; a retry would then
		// fail with "already exists", so only proven rejections are retried.
		retryUnsafe: true,
	})
}

// UpdateSecret sets the value of the existing s.Key in folder s.Path
// (PATCH /api/v4/secrets/{key}).
func (c *Client) UpdateSecret(ctx context.Context, s Secret) error {
	folder := folderOrRoot(s.Path)
	return c.secretsCall(ctx, call{
		op: "update secret " + s.Key, method: http.MethodPatch, path: "/v4/secrets/" + url.PathEscape(s.Key),
		body: c.writeBody(folder, s.Value), auth: true, folder: folder, redact: []string{s.Value},
	})
}

type batchEntry struct {
	Key   string `json:"secretKey"`
	Value string `json:"secretValue"`
}

type batchBody struct {
	ProjectID   string       `json:"projectId"`
	WorkspaceID string       `json:"workspaceId"`
	Environment string       `json:"environment"`
	SecretPath  string       `json:"secretPath"`
	Mode        string       `json:"mode"`
	Secrets     []batchEntry `json:"secrets"`
}

type batchAnswer struct {
	Secrets  *[]rawSecret `json:"secrets"`
	Approval *struct {
		ID string `json:"id"`
	} `json:"approval"`
}

// ErrBatchUnsupported says the server has no batch write (an older one):
// write key by key instead.
var ErrBatchUnsupported = errors.New("infisical: this server has no batch write (PATCH /api/v4/secrets/batch)")

// UpsertSecrets writes every secret of one folder in one request (PATCH
// /api/v4/secrets/batch, mode upsert): keys that exist are updated, the
// others created. Infisical writes all of them or none. An upsert is
// idempotent, so a lost answer is retried like a read. A change policy on
// the folder turns the write into an approval request: that is an error,
// since nothing was written.
func (c *Client) UpsertSecrets(ctx context.Context, folder string, secrets []Secret) error {
	folder = folderOrRoot(folder)
	body := batchBody{ProjectID: c.project, WorkspaceID: c.project, Environment: c.env, SecretPath: folder, Mode: "upsert"}
	redact := make([]string, 0, len(secrets))
	for _, s := range secrets {
		body.Secrets = append(body.Secrets, batchEntry{s.Key, s.Value})
		redact = append(redact, s.Value)
	}
	var out batchAnswer
	err := c.do(ctx, call{
		op: fmt.Sprintf("write %d secrets", len(secrets)), method: http.MethodPatch, path: "/v4/secrets/batch",
		body: body, auth: true, folder: folder, redact: redact, out: &out,
		check: func() error {
			if out.Secrets == nil && out.Approval == nil {
				return errors.New(`no "secrets" list`)
			}
			return nil
		},
	})
	if routeNotFound(err) {
		return ErrBatchUnsupported
	}
	if err != nil {
		return c.explain(err)
	}
	if out.Approval != nil {
		return fmt.Errorf("infisical: write %d secrets (env %s, folder %s): a change policy covers this folder; Infisical made an approval request and wrote nothing", len(secrets), c.env, folder)
	}
	return nil
}

type folderAnswer struct {
	Folders *[]struct {
		Name string `json:"name"`
	} `json:"folders"`
}

// ListFolders names the folders directly below folder (GET
// /api/v1/folders, or /api/v2/folders on a server without v1). A folder
// that does not exist has none.
func (c *Client) ListFolders(ctx context.Context, folder string) ([]string, error) {
	return c.ListFoldersIn(ctx, c.env, folder)
}

// ListFoldersIn is ListFolders in environment env of the run's project.
func (c *Client) ListFoldersIn(ctx context.Context, env, folder string) ([]string, error) {
	folder = folderOrRoot(folder)
	q := c.scope(url.Values{"path": {folder}})
	q.Set("environment", env)
	var out folderAnswer
	err := c.foldersCall(ctx, call{
		op: "list folders", method: http.MethodGet, path: "/v1/folders", query: q,
		auth: true, env: env, folder: folder, out: &out,
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

// CreateFolder creates name below parent (POST /api/v1/folders); Infisical
// creates missing parents itself. A folder that exists already is success:
// a current server answers 400 "already exists" (older ones returned the
// folder), which is what a retry after a lost answer, or a second seed at
// the same time, sees.
func (c *Client) CreateFolder(ctx context.Context, parent, name string) error {
	return c.CreateFolderIn(ctx, c.env, parent, name)
}

// CreateFolderIn is CreateFolder in environment env of the run's project.
func (c *Client) CreateFolderIn(ctx context.Context, env, parent, name string) error {
	parent = folderOrRoot(parent)
	body := map[string]string{"projectId": c.project, "workspaceId": c.project, "environment": env, "name": name, "path": parent}
	err := c.foldersCall(ctx, call{
		op: "create folder " + name, method: http.MethodPost, path: "/v1/folders",
		body: body, auth: true, env: env, folder: parent,
	})
	var ae *APIError
	if errors.As(err, &ae) && ae.Status == http.StatusBadRequest && strings.Contains(ae.Message, "already exists") {
		return nil
	}
	return err
}

// CheckScope asks whether the run's project and environment exist, with
// the one request that can tell (a list answers SecretPathNotFound for an
// unknown environment as for a missing folder; the folders list of / does
// not). It returns a *ScopeError when either is unknown.
func (c *Client) CheckScope(ctx context.Context) error {
	_, err := c.ListFolders(ctx, "/")
	return err
}

func folderOrRoot(p string) string {
	if p == "" {
		return "/"
	}
	return p
}

// StoredValue is what Infisical stores when sent v: its routers trim every
// written value as JavaScript's String.prototype.trim does, keeping one
// trailing newline. Comparing a wanted value with a stored one means
// comparing StoredValue(wanted).
func StoredValue(v string) string {
	if strings.HasSuffix(v, "\n") {
		return strings.TrimFunc(v, isJSSpace) + "\n"
	}
	return strings.TrimFunc(v, isJSSpace)
}

// isJSSpace is ECMAScript's WhiteSpace and LineTerminator: the Unicode
// space separators, tab, vertical tab, form feed, BOM, CR, LF, U+2028 and
// U+2029; not NEL (U+0085), which Go's unicode.IsSpace counts.
func isJSSpace(r rune) bool {
	switch r {
	case '\t', '\n', '\v', '\f', '\r', '\ufeff', '\u2028', '\u2029':
		return true
	}
	return unicode.Is(unicode.Zs, r)
}
