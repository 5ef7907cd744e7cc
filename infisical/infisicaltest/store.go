package infisicaltest

import (
	"fmt"
	"net/http"
	pathpkg "path"
	"regexp"
	"sort"
	"strings"
	"time"
)

type environment struct {
	id      string
	folders map[string]*folder // cleaned absolute path; "/" always exists
}

type folder struct {
	id      string
	created time.Time
	secrets map[string]*secret
	imports []importRef
}

type secret struct {
	id               string
	value            string
	version          int
	created, updated time.Time
}

type importRef struct{ env, path string }

// principal is what an access token may do.
type principal struct {
	deny     []importRef // env ("*" = any) and folder subtree it may not touch
	readOnly bool
}

type uaIdentity struct {
	secret string
	p      *principal
}

type k8sIdentity struct {
	jwt string
	p   *principal
}

// Permission restricts an identity or token.
type Permission func(*principal)

// DenyFolder forbids env's folder subtree at path (env "*" = every
// environment): lists and reads there answer 403 PermissionDenied, imports
// from there are silently left out and references into it answer 403, as in
// Infisical.
func DenyFolder(env, path string) Permission {
	return func(p *principal) { p.deny = append(p.deny, importRef{env, cleanPath(path)}) }
}

// ReadOnly forbids creating and updating secrets and folders.
func ReadOnly() Permission { return func(p *principal) { p.readOnly = true } }

func newPrincipal(perms []Permission) *principal {
	p := &principal{}
	for _, f := range perms {
		f(p)
	}
	return p
}

func (p *principal) canRead(env, path string) bool {
	for _, d := range p.deny {
		if d.env != "*" && d.env != env {
			continue
		}
		if d.path == "/" || path == d.path || strings.HasPrefix(path, d.path+"/") {
			return false
		}
	}
	return true
}

func cleanPath(p string) string {
	if p == "" {
		return "/"
	}
	return pathpkg.Clean("/" + p)
}

func (s *Server) id() string {
	s.nextID++
	return fmt.Sprintf("%08x-0000-4000-8000-%012x", s.nextID, s.nextID)
}

func (s *Server) newEnvironment() *environment {
	e := &environment{id: s.id(), folders: map[string]*folder{}}
	e.folders["/"] = &folder{id: s.id(), created: time.Now().UTC(), secrets: map[string]*secret{}}
	return e
}

func (s *Server) env(slug string) *environment {
	e := s.envs[slug]
	if e == nil {
		e = s.newEnvironment()
		s.envs[slug] = e
	}
	return e
}

// mkdir creates path and its parents.
func (s *Server) mkdir(e *environment, path string) *folder {
	path = cleanPath(path)
	if f := e.folders[path]; f != nil {
		return f
	}
	s.mkdir(e, pathpkg.Dir(path))
	f := &folder{id: s.id(), created: time.Now().UTC(), secrets: map[string]*secret{}}
	e.folders[path] = f
	return f
}

// AddEnvironment adds an empty environment; dev, staging and prod exist already.
func (s *Server) AddEnvironment(slug string) {
	s.mu.Lock()
	s.env(slug)
	s.mu.Unlock()
}

// SetSecret creates or replaces key in env's folder path, creating the
// environment and folders as needed. Values are stored as given; references
// are expanded when read.
func (s *Server) SetSecret(env, path, key, value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.mkdir(s.env(env), path)
	now := time.Now().UTC()
	if sec := f.secrets[key]; sec != nil {
		sec.value, sec.updated = value, now
		sec.version++
		return
	}
	f.secrets[key] = &secret{id: s.id(), value: value, version: 1, created: now, updated: now}
}

// AddImport makes env's folder path import fromEnv's folder fromPath, after
// any imports it already has.
func (s *Server) AddImport(env, path, fromEnv, fromPath string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mkdir(s.env(fromEnv), fromPath)
	f := s.mkdir(s.env(env), path)
	f.imports = append(f.imports, importRef{fromEnv, cleanPath(fromPath)})
}

// AddUniversalIdentity lets clientID/clientSecret log in; by default the
// identity may read and write everything.
func (s *Server) AddUniversalIdentity(clientID, clientSecret string, perms ...Permission) {
	s.mu.Lock()
	s.ua[clientID] = &uaIdentity{secret: clientSecret, p: newPrincipal(perms)}
	s.mu.Unlock()
}

// AddKubernetesIdentity lets identityID log in with exactly this service
// account jwt.
func (s *Server) AddKubernetesIdentity(identityID, jwt string, perms ...Permission) {
	s.mu.Lock()
	s.k8s[identityID] = &k8sIdentity{jwt: jwt, p: newPrincipal(perms)}
	s.mu.Unlock()
}

// AddToken makes token a valid access token (INFISICAL_TOKEN style).
func (s *Server) AddToken(token string, perms ...Permission) {
	s.mu.Lock()
	s.tokens[token] = newPrincipal(perms)
	delete(s.expired, token)
	s.mu.Unlock()
}

// ExpireToken makes token answer 403 TokenError "Your token has expired",
// which is what Infisical answers for an expired access token JWT.
func (s *Server) ExpireToken(token string) {
	s.mu.Lock()
	s.expired[token] = true
	s.mu.Unlock()
}

// Tokens are the access tokens issued by logins and added by AddToken.
func (s *Server) Tokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.tokens))
	for t := range s.tokens {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// refPattern is Infisical's INTERPOLATION_PATTERN_STRING
// (backend/src/services/secret-v2-bridge/secret-reference-fns.ts).
var refPattern = regexp.MustCompile(`\$\{([a-zA-Z0-9\-_.@]+)\}`)

// maxRefDepth is Infisical's MAX_SECRET_REFERENCE_DEPTH.
const maxRefDepth = 10

type forbidden struct{ msg string }

// expand resolves references the way Infisical's expandSecretReferencesFactory
// does: ${KEY} is the same folder, ${env.a.b.KEY} is env's folder /a/b, a
// missing secret or folder becomes "", a cycle stops expanding, references
// into denied folders fail with 403, cross-project ${@slug...} stay as is.
func (s *Server) expand(p *principal, env, path, key, value string) (string, *forbidden) {
	visited := map[string]bool{env + ":" + path + ":" + key: true}
	return s.expandAt(p, env, path, key, value, 0, visited)
}

func (s *Server) expandAt(p *principal, env, path, key, value string, depth int, visited map[string]bool) (string, *forbidden) {
	if depth > maxRefDepth || !refPattern.MatchString(value) {
		return value, nil
	}
	var denied *forbidden
	out := refPattern.ReplaceAllStringFunc(value, func(m string) string {
		if denied != nil {
			return m
		}
		parts := strings.Split(m[2:len(m)-1], ".")
		if strings.HasPrefix(parts[0], "@") {
			return m
		}
		renv, rpath, rkey := env, path, parts[0]
		if len(parts) > 1 {
			renv = parts[0]
			rpath = cleanPath(strings.Join(parts[1:len(parts)-1], "/"))
			rkey = parts[len(parts)-1]
		}
		if !p.canRead(renv, rpath) {
			denied = &forbidden{fmt.Sprintf("You do not have permission to read secret '%s' in environment '%s' at path '%s', which is referenced by secret '%s' in environment '%s' at path '%s'.",
				rkey, renv, rpath, key, env, path)}
			return m
		}
		v := ""
		if e := s.envs[renv]; e != nil {
			if f := e.folders[rpath]; f != nil {
				if sec := f.secrets[rkey]; sec != nil {
					v = sec.value
				}
			}
		}
		id := renv + ":" + rpath + ":" + rkey
		if visited[id] {
			return v
		}
		next := make(map[string]bool, len(visited)+1)
		for k := range visited {
			next[k] = true
		}
		next[id] = true
		ev, err := s.expandAt(p, renv, rpath, rkey, v, depth+1, next)
		if err != nil {
			denied = err
		}
		return ev
	})
	return out, denied
}

// secretJSON is secretRawSchema in Infisical's sanitizedSchemas.ts.
type secretJSON struct {
	ID                       string   `json:"id"`
	ID2                      string   `json:"_id"`
	Workspace                string   `json:"workspace"`
	Environment              string   `json:"environment"`
	Version                  int      `json:"version"`
	Type                     string   `json:"type"`
	SecretKey                string   `json:"secretKey"`
	SecretValue              string   `json:"secretValue"`
	SecretComment            string   `json:"secretComment"`
	SecretReminderNote       *string  `json:"secretReminderNote"`
	SecretReminderRepeatDays *int     `json:"secretReminderRepeatDays"`
	SkipMultilineEncoding    bool     `json:"skipMultilineEncoding"`
	CreatedAt                string   `json:"createdAt"`
	UpdatedAt                string   `json:"updatedAt"`
	SecretPath               string   `json:"secretPath"`
	SecretValueHidden        bool     `json:"secretValueHidden"`
	IsRotatedSecret          bool     `json:"isRotatedSecret"`
	RotationID               *string  `json:"rotationId"`
	Tags                     []string `json:"tags"`
	SecretMetadata           []string `json:"secretMetadata"`
}

func (s *Server) secretJSON(env, path, key, value string, sec *secret) secretJSON {
	return secretJSON{
		ID: sec.id, ID2: sec.id, Workspace: s.project, Environment: env, Version: sec.version,
		Type: "shared", SecretKey: key, SecretValue: value,
		CreatedAt: sec.created.Format(time.RFC3339Nano), UpdatedAt: sec.updated.Format(time.RFC3339Nano),
		SecretPath: path, Tags: []string{}, SecretMetadata: []string{},
	}
}

// folderSecrets renders a folder's own secrets sorted by key, expanded if asked.
func (s *Server) folderSecrets(p *principal, env, path string, f *folder, expand bool) ([]secretJSON, *forbidden) {
	keys := make([]string, 0, len(f.secrets))
	for k := range f.secrets {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]secretJSON, 0, len(keys))
	for _, k := range keys {
		sec := f.secrets[k]
		v := sec.value
		if expand {
			var err *forbidden
			if v, err = s.expand(p, env, path, k, v); err != nil {
				return nil, err
			}
		}
		out = append(out, s.secretJSON(env, path, k, v, sec))
	}
	return out, nil
}

type importJSON struct {
	SecretPath      string            `json:"secretPath"`
	Environment     string            `json:"environment"`
	EnvironmentInfo map[string]string `json:"environmentInfo"`
	FolderID        string            `json:"folderId"`
	Secrets         []secretJSON      `json:"secrets"`
}

// importBlocks renders f's imports in order. An import's own imports are
// merged into its block behind its own keys; imports the principal may not
// read are left out, as Infisical's allowedImports filter does.
func (s *Server) importBlocks(p *principal, f *folder, expand bool) ([]importJSON, *forbidden) {
	out := []importJSON{}
	for _, im := range f.imports {
		if !p.canRead(im.env, im.path) {
			continue
		}
		e := s.envs[im.env]
		if e == nil || e.folders[im.path] == nil {
			continue
		}
		secs, err := s.importedSecrets(p, im, expand, map[string]bool{})
		if err != nil {
			return nil, err
		}
		out = append(out, importJSON{
			SecretPath: im.path, Environment: im.env, FolderID: e.folders[im.path].id,
			EnvironmentInfo: map[string]string{"id": e.id, "slug": im.env, "name": im.env},
			Secrets:         secs,
		})
	}
	return out, nil
}

func (s *Server) importedSecrets(p *principal, im importRef, expand bool, seen map[string]bool) ([]secretJSON, *forbidden) {
	id := im.env + ":" + im.path
	if seen[id] || len(seen) > maxRefDepth {
		return nil, nil
	}
	seen[id] = true
	f := s.envs[im.env].folders[im.path]
	secs, err := s.folderSecrets(p, im.env, im.path, f, expand)
	if err != nil {
		return nil, err
	}
	have := map[string]bool{}
	for _, sj := range secs {
		have[sj.SecretKey] = true
	}
	for _, sub := range f.imports {
		if !p.canRead(sub.env, sub.path) || s.envs[sub.env] == nil || s.envs[sub.env].folders[sub.path] == nil {
			continue
		}
		more, err := s.importedSecrets(p, sub, expand, seen)
		if err != nil {
			return nil, err
		}
		for _, sj := range more {
			if !have[sj.SecretKey] {
				have[sj.SecretKey] = true
				secs = append(secs, sj)
			}
		}
	}
	return secs, nil
}

// scope checks the project and environment of a request, as every secrets and
// folders route does first.
func (s *Server) scope(reqID, projectID, envSlug string) (*environment, *answer) {
	if projectID == "" {
		a := apiError(reqID, http.StatusBadRequest, "BadRequest", "Must provide either workspaceId or workspaceSlug")
		return nil, &a
	}
	if projectID != s.project {
		a := apiError(reqID, http.StatusNotFound, "NotFound", fmt.Sprintf("Project with ID '%s' not found", projectID))
		return nil, &a
	}
	if envSlug == "" {
		a := validation(reqID, "environment")
		return nil, &a
	}
	e := s.envs[envSlug]
	if e == nil {
		a := apiError(reqID, http.StatusNotFound, "NotFound",
			fmt.Sprintf("Environment with slug '%s' in project with ID '%s' not found", envSlug, projectID))
		return nil, &a
	}
	return e, nil
}

func denied(reqID, action, subject string) answer {
	return apiError(reqID, http.StatusForbidden, "PermissionDenied", fmt.Sprintf("You are not allowed to %s on %s", action, subject))
}
