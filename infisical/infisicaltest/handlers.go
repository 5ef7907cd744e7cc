package infisicaltest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"time"
)

const tokenTTL = 7200

func loginAnswer(token string) answer {
	return jsonAnswer(http.StatusOK, map[string]any{
		"accessToken": token, "expiresIn": tokenTTL, "accessTokenMaxTTL": tokenTTL, "tokenType": "Bearer",
	})
}

// readBody decodes a JSON body the way Fastify does: a malformed body is a
// 400 FST_ERR_CTP_INVALID_JSON_BODY.
func readBody(r *http.Request, reqID string, v any) *answer {
	data, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err == nil {
		err = json.Unmarshal(data, v)
	}
	if err != nil {
		a := jsonAnswer(http.StatusBadRequest, map[string]any{
			"reqId": reqID, "statusCode": 400, "code": "FST_ERR_CTP_INVALID_JSON_BODY",
			"error": "Bad Request", "message": "Body is not valid JSON but content-type is set to 'application/json'",
		})
		return &a
	}
	return nil
}

func (s *Server) issue(p *principal) string {
	tok := "ia." + randString(40)
	s.tokens[tok] = p
	return tok
}

func (s *Server) loginUniversal(r *http.Request, reqID string) answer {
	return s.login(r, reqID, "clientId", "clientSecret", func(id, cred string) (*principal, answer) {
		ua := s.ua[id]
		if ua == nil || ua.secret != cred {
			return nil, apiError(reqID, http.StatusUnauthorized, "UnauthorizedError", "Invalid credentials")
		}
		return ua.p, answer{}
	})
}

func (s *Server) loginKubernetes(r *http.Request, reqID string) answer {
	return s.login(r, reqID, "identityId", "jwt", func(id, cred string) (*principal, answer) {
		k := s.k8s[id]
		if k == nil {
			return nil, apiError(reqID, http.StatusNotFound, "NotFound", "Kubernetes auth method not found for identity, did you configure Kubernetes auth?")
		}
		if k.jwt != cred {
			return nil, apiError(reqID, http.StatusUnauthorized, "UnauthorizedError", "Access denied: Kubernetes token review failed")
		}
		return k.p, answer{}
	})
}

// login decodes a login body, requires its identity and credential fields and
// issues a token if check (run under the lock) accepts them.
func (s *Server) login(r *http.Request, reqID, idField, credField string, check func(id, cred string) (*principal, answer)) answer {
	var in map[string]any
	if a := readBody(r, reqID, &in); a != nil {
		return *a
	}
	id, _ := in[idField].(string)
	cred, _ := in[credField].(string)
	if id == "" {
		return validation(reqID, idField)
	}
	if cred == "" {
		return validation(reqID, credField)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, fail := check(id, cred)
	if p == nil {
		return fail
	}
	return loginAnswer(s.issue(p))
}

func (s *Server) renew(r *http.Request, reqID string) answer {
	var in struct {
		AccessToken string `json:"accessToken"`
	}
	if a := readBody(r, reqID, &in); a != nil {
		return *a
	}
	if in.AccessToken == "" {
		return validation(reqID, "accessToken")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tokens[in.AccessToken] == nil || s.expired[in.AccessToken] {
		return apiError(reqID, http.StatusUnauthorized, "UnauthorizedError", "Failed to renew access token")
	}
	return loginAnswer(in.AccessToken)
}

// withPrincipal runs h under the lock for a request with a valid Bearer token.
func (s *Server) withPrincipal(r *http.Request, reqID string, h func(*http.Request, string, *principal) answer) answer {
	h2, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	tok := strings.TrimSpace(h2)
	if !ok || tok == "" {
		return apiError(reqID, http.StatusUnauthorized, "UnauthorizedError", "Token missing")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.expired[tok] {
		return apiError(reqID, http.StatusForbidden, "TokenError", "Your token has expired. Please re-authenticate.")
	}
	p := s.tokens[tok]
	if p == nil {
		return apiError(reqID, http.StatusUnauthorized, "UnauthorizedError", "Invalid access token")
	}
	return h(r, reqID, p)
}

func queryBool(v string) bool { return v == "true" }

func projectOf(q interface{ Get(string) string }) string {
	if id := q.Get("workspaceId"); id != "" {
		return id
	}
	return q.Get("projectId")
}

func (s *Server) listSecrets(r *http.Request, reqID string, p *principal) answer {
	q := r.URL.Query()
	e, bad := s.scope(reqID, projectOf(q), q.Get("environment"))
	if bad != nil {
		return *bad
	}
	env := q.Get("environment")
	path := cleanPath(q.Get("secretPath"))
	if !p.canRead(env, path) {
		return denied(reqID, "read", "secrets")
	}
	expand, imports := queryBool(q.Get("expandSecretReferences")), queryBool(q.Get("include_imports"))

	paths := []string{path}
	if queryBool(q.Get("recursive")) {
		paths = paths[:0]
		for fp := range e.folders {
			if (fp == path || path == "/" || strings.HasPrefix(fp, path+"/")) && p.canRead(env, fp) {
				paths = append(paths, fp)
			}
		}
		sort.Strings(paths)
	}
	secrets, blocks := []secretJSON{}, []importJSON{}
	for _, fp := range paths {
		f := e.folders[fp]
		if f == nil {
			continue // Infisical answers an empty list for a missing folder
		}
		secs, err := s.folderSecrets(p, env, fp, f, expand)
		if err != nil {
			return apiError(reqID, http.StatusForbidden, "ForbiddenError", err.msg)
		}
		secrets = append(secrets, secs...)
		if imports {
			bl, err := s.importBlocks(p, f, expand)
			if err != nil {
				return apiError(reqID, http.StatusForbidden, "ForbiddenError", err.msg)
			}
			blocks = append(blocks, bl...)
		}
	}
	body := map[string]any{"secrets": secrets}
	if imports {
		body["imports"] = blocks
	}
	return jsonAnswer(http.StatusOK, body)
}

func secretKeyOf(r *http.Request) string {
	return strings.TrimPrefix(r.URL.Path, "/api/v3/secrets/raw/")
}

func (s *Server) getSecret(r *http.Request, reqID string, p *principal) answer {
	q := r.URL.Query()
	e, bad := s.scope(reqID, projectOf(q), q.Get("environment"))
	if bad != nil {
		return *bad
	}
	env, key := q.Get("environment"), secretKeyOf(r)
	path := cleanPath(q.Get("secretPath"))
	if !p.canRead(env, path) {
		return denied(reqID, "read", "secrets")
	}
	f := e.folders[path]
	if f == nil {
		return apiError(reqID, http.StatusNotFound, "NotFound",
			fmt.Sprintf("Folder with path '%s' in environment with slug '%s' not found", path, env))
	}
	expand := queryBool(q.Get("expandSecretReferences"))
	if sec := f.secrets[key]; sec != nil {
		v := sec.value
		if expand {
			var err *forbidden
			if v, err = s.expand(p, env, path, key, v); err != nil {
				return apiError(reqID, http.StatusForbidden, "ForbiddenError", err.msg)
			}
		}
		return jsonAnswer(http.StatusOK, map[string]any{"secret": s.secretJSON(env, path, key, v, sec)})
	}
	if queryBool(q.Get("include_imports")) {
		blocks, err := s.importBlocks(p, f, expand)
		if err != nil {
			return apiError(reqID, http.StatusForbidden, "ForbiddenError", err.msg)
		}
		for _, b := range blocks {
			for _, sj := range b.Secrets {
				if sj.SecretKey == key {
					return jsonAnswer(http.StatusOK, map[string]any{"secret": sj})
				}
			}
		}
	}
	return apiError(reqID, http.StatusNotFound, "NotFound", fmt.Sprintf("Secret with name '%s' not found", key))
}

type writeBody struct {
	WorkspaceID string  `json:"workspaceId"`
	ProjectID   string  `json:"projectId"`
	Environment string  `json:"environment"`
	SecretPath  string  `json:"secretPath"`
	SecretValue *string `json:"secretValue"`
	Type        string  `json:"type"`
}

func (b writeBody) project() string {
	if b.WorkspaceID != "" {
		return b.WorkspaceID
	}
	return b.ProjectID
}

func (s *Server) createSecret(r *http.Request, reqID string, p *principal) answer {
	var in writeBody
	if a := readBody(r, reqID, &in); a != nil {
		return *a
	}
	if in.SecretValue == nil {
		return validation(reqID, "secretValue")
	}
	e, bad := s.scope(reqID, in.project(), in.Environment)
	if bad != nil {
		return *bad
	}
	key, path := secretKeyOf(r), cleanPath(in.SecretPath)
	f := e.folders[path]
	if f == nil {
		return apiError(reqID, http.StatusNotFound, "CreateSecret",
			fmt.Sprintf("Folder with path '%s' in environment with slug '%s' not found", path, in.Environment))
	}
	if f.secrets[key] != nil {
		return apiError(reqID, http.StatusBadRequest, "BadRequest", "Secret already exist")
	}
	if p.readOnly || !p.canRead(in.Environment, path) {
		return denied(reqID, "create", "secrets")
	}
	if msg := s.checkReferences(in.Environment, path, *in.SecretValue); msg != "" {
		return apiError(reqID, http.StatusBadRequest, "BadRequest", msg)
	}
	now := time.Now().UTC()
	sec := &secret{id: s.id(), value: *in.SecretValue, version: 1, created: now, updated: now}
	f.secrets[key] = sec
	return jsonAnswer(http.StatusOK, map[string]any{"secret": s.secretJSON(in.Environment, path, key, sec.value, sec)})
}

func (s *Server) updateSecret(r *http.Request, reqID string, p *principal) answer {
	var in writeBody
	if a := readBody(r, reqID, &in); a != nil {
		return *a
	}
	e, bad := s.scope(reqID, in.project(), in.Environment)
	if bad != nil {
		return *bad
	}
	key, path := secretKeyOf(r), cleanPath(in.SecretPath)
	f := e.folders[path]
	if f == nil {
		return apiError(reqID, http.StatusNotFound, "UpdateSecret",
			fmt.Sprintf("Folder with path '%s' in environment with slug '%s' not found", path, in.Environment))
	}
	sec := f.secrets[key]
	if sec == nil {
		return apiError(reqID, http.StatusNotFound, "NotFound", fmt.Sprintf("Secret with name %s not found", key))
	}
	if p.readOnly || !p.canRead(in.Environment, path) {
		return denied(reqID, "edit", "secrets")
	}
	if in.SecretValue != nil {
		if msg := s.checkReferences(in.Environment, path, *in.SecretValue); msg != "" {
			return apiError(reqID, http.StatusBadRequest, "BadRequest", msg)
		}
		sec.value = *in.SecretValue
		sec.version++
		sec.updated = time.Now().UTC()
	}
	return jsonAnswer(http.StatusOK, map[string]any{"secret": s.secretJSON(in.Environment, path, key, sec.value, sec)})
}

// checkReferences is Infisical's $validateSecretReferences on writes: every
// referenced environment, folder and secret must exist.
func (s *Server) checkReferences(env, path, value string) string {
	for _, m := range refPattern.FindAllStringSubmatch(value, -1) {
		parts := strings.Split(m[1], ".")
		if strings.HasPrefix(parts[0], "@") {
			continue
		}
		renv, rpath, rkey := env, path, parts[0]
		if len(parts) > 1 {
			renv, rpath, rkey = parts[0], cleanPath(strings.Join(parts[1:len(parts)-1], "/")), parts[len(parts)-1]
		}
		e := s.envs[renv]
		if e == nil {
			return "Referenced environment not found. Missing " + renv
		}
		f := e.folders[rpath]
		if f == nil {
			return fmt.Sprintf("Referenced path %s doesn't exist", rpath)
		}
		if f.secrets[rkey] == nil {
			return "Referenced secret(s) not found: " + rkey
		}
	}
	return ""
}

type folderJSON struct {
	ID         string  `json:"id"`
	Name       string  `json:"name"`
	CreatedAt  string  `json:"createdAt"`
	UpdatedAt  string  `json:"updatedAt"`
	EnvID      string  `json:"envId"`
	Path       string  `json:"path,omitempty"`
	Version    int     `json:"version"`
	ParentID   *string `json:"parentId"`
	IsReserved bool    `json:"isReserved"`
}

func (s *Server) folderJSON(e *environment, path string, withPath bool) folderJSON {
	f := e.folders[path]
	ts := f.created.Format(time.RFC3339Nano)
	fj := folderJSON{ID: f.id, Name: pathBase(path), CreatedAt: ts, UpdatedAt: ts, EnvID: e.id, Version: 1}
	if parent := e.folders[pathDir(path)]; parent != nil && path != "/" {
		fj.ParentID = &parent.id
	}
	if withPath {
		fj.Path = path
	}
	return fj
}

func (s *Server) listFolders(r *http.Request, reqID string, p *principal) answer {
	q := r.URL.Query()
	e, bad := s.scope(reqID, projectOf(q), q.Get("environment"))
	if bad != nil {
		return *bad
	}
	env := q.Get("environment")
	dir := q.Get("path")
	if dir == "" {
		dir = q.Get("directory")
	}
	dir = cleanPath(dir)
	if !p.canRead(env, dir) {
		return denied(reqID, "read", "secret-folders")
	}
	var names []string
	for fp := range e.folders {
		if fp != "/" && pathDir(fp) == dir {
			names = append(names, fp)
		}
	}
	sort.Strings(names)
	out := make([]folderJSON, 0, len(names))
	for _, fp := range names {
		out = append(out, s.folderJSON(e, fp, false))
	}
	return jsonAnswer(http.StatusOK, map[string]any{"folders": out})
}

// folderName is Infisical's slug rule for folder names.
var folderName = regexp.MustCompile(`^[a-zA-Z0-9\-_]+$`)

func (s *Server) createFolder(r *http.Request, reqID string, p *principal) answer {
	var in struct {
		WorkspaceID string `json:"workspaceId"`
		ProjectID   string `json:"projectId"`
		Environment string `json:"environment"`
		Name        string `json:"name"`
		Path        string `json:"path"`
		Directory   string `json:"directory"`
	}
	if a := readBody(r, reqID, &in); a != nil {
		return *a
	}
	if !folderName.MatchString(in.Name) {
		return apiError(reqID, http.StatusUnprocessableEntity, "ValidationFailure", []map[string]any{{
			"code": "custom", "path": []string{"name"}, "message": "Folder name can only contain alphanumeric, dashes, and underscore characters",
		}})
	}
	project := in.WorkspaceID
	if project == "" {
		project = in.ProjectID
	}
	e, bad := s.scope(reqID, project, in.Environment)
	if bad != nil {
		return *bad
	}
	parent := in.Path
	if parent == "" {
		parent = in.Directory
	}
	parent = cleanPath(parent)
	if p.readOnly || !p.canRead(in.Environment, parent) {
		return denied(reqID, "create", "secret-folders")
	}
	// Infisical makes this idempotent and creates missing parents
	// (secret-folder-service.ts createFolder).
	full := cleanPath(parent + "/" + in.Name)
	s.mkdir(e, full)
	return jsonAnswer(http.StatusOK, map[string]any{"folder": s.folderJSON(e, full, true)})
}

func pathDir(p string) string {
	i := strings.LastIndexByte(p, '/')
	if i <= 0 {
		return "/"
	}
	return p[:i]
}

func pathBase(p string) string {
	if p == "/" {
		return "root"
	}
	return p[strings.LastIndexByte(p, '/')+1:]
}
