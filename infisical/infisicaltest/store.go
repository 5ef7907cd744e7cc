package infisicaltest

import (
	"fmt"
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
	imports []importRef // by position, first to last
}

type secret struct {
	id               string
	value, comment   string
	version          int
	created, updated time.Time
}

type importRef struct{ env, path string }

// scope is an environment ("*" = any) and a folder subtree.
type scope struct{ env, path string }

func (sc scope) covers(env, path string) bool {
	if sc.env != "*" && sc.env != env {
		return false
	}
	return sc.path == "/" || path == sc.path || strings.HasPrefix(path, sc.path+"/")
}

// keyRule is a scope narrowed to the keys that match a path.Match pattern.
type keyRule struct {
	scope
	pattern string
}

// principal is what an access token may do. Infisical's permissions are
// CASL rules on (environment, secretPath, secretName); these are the shapes
// of them that change what a client sees.
type principal struct {
	ident     *machineIdentity // its roles decide what it may do at all
	deny      []scope          // no access at all: 403 on lists and reads there
	valueless []scope          // describeSecret without readValue
	hidden    []keyRule        // no describeSecret on these keys: silently left out
}

// Permission restricts an identity or token.
type Permission func(*principal)

// DenyFolder forbids env's folder subtree at path (env "*" = every
// environment): lists and reads there answer 403 PermissionDenied, the
// secrets of imports from there are silently left out, and expanding a
// reference into it answers 403 for the whole request, as in Infisical.
func DenyFolder(env, path string) Permission {
	return func(p *principal) { p.deny = append(p.deny, scope{env, cleanPath(path)}) }
}

// DescribeOnly lets the principal see the keys of env's subtree at path
// but not their values (describeSecret without readValue). A list of such
// a folder answers 403 PermissionDenied, or, with MaskUnreadableValues,
// each value as "<hidden-by-infisical>" with secretValueHidden; in a
// recursive list's subfolders and in imports the secrets are silently left
// out; a reference to them fails the request.
func DescribeOnly(env, path string) Permission {
	return func(p *principal) { p.valueless = append(p.valueless, scope{env, cleanPath(path)}) }
}

// HideSecrets takes describeSecret away on the keys of env's subtree at path
// that match pattern (path.Match syntax, e.g. "ADMIN_*"): lists silently
// leave them out, as Infisical does for secrets a role may not describe, and
// a read by name answers 403.
func HideSecrets(env, path, pattern string) Permission {
	return func(p *principal) {
		p.hidden = append(p.hidden, keyRule{scope{env, cleanPath(path)}, pattern})
	}
}

// ReadOnly is a runtime identity: the project role viewer (it reads
// secrets; creating, updating and deleting secrets and folders answer
// 403) and no organisation role (it administers no identity).
func ReadOnly() Permission {
	return func(p *principal) {
		ProjectRole("viewer")(p)
		OrgRole("no-access")(p)
	}
}

// canRead reports whether the folder is open to the principal at all:
// its role lets it describe secrets, and no rule denies the folder.
func (p *principal) canRead(env, path string) bool {
	if !p.projectMay(subjSecrets, actDescribe) {
		return false
	}
	for _, d := range p.deny {
		if d.covers(env, path) {
			return false
		}
	}
	return true
}

func (p *principal) canDescribe(env, path, key string) bool {
	if !p.canRead(env, path) {
		return false
	}
	for _, h := range p.hidden {
		if ok, _ := pathpkg.Match(h.pattern, key); ok && h.covers(env, path) {
			return false
		}
	}
	return true
}

func (p *principal) canReadValue(env, path, key string) bool {
	if !p.canDescribe(env, path, key) {
		return false
	}
	for _, v := range p.valueless {
		if v.covers(env, path) {
			return false
		}
	}
	return true
}

func cleanPath(p string) string {
	p = strings.TrimSpace(p)
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
	e.folders["/"] = &folder{id: s.id(), created: s.now().UTC(), secrets: map[string]*secret{}}
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
	f := &folder{id: s.id(), created: s.now().UTC(), secrets: map[string]*secret{}}
	e.folders[path] = f
	return f
}

// subtree lists path and the folders below it, at most maxDepth levels
// deeper, sorted.
func (e *environment) subtree(path string, maxDepth int) []string {
	base := strings.Count(strings.TrimSuffix(path, "/"), "/")
	var out []string
	for fp := range e.folders {
		if fp != path && !strings.HasPrefix(fp, strings.TrimSuffix(path, "/")+"/") {
			continue
		}
		if strings.Count(fp, "/")-base > maxDepth {
			continue
		}
		out = append(out, fp)
	}
	sort.Strings(out)
	return out
}

// AddEnvironment adds an empty environment; dev, staging and prod exist already.
func (s *Server) AddEnvironment(slug string) {
	s.mu.Lock()
	s.env(slug)
	s.mu.Unlock()
}

// SetSecret creates or replaces key in env's folder path, creating the
// environment and folders as needed. Values are stored exactly as given
// (the API trims what it is sent; this is the store beneath it), and
// references are expanded when read.
func (s *Server) SetSecret(env, path, key, value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.put(s.mkdir(s.env(env), path), key, value, nil)
}

// put creates or updates key in f; a nil comment leaves it as it is.
func (s *Server) put(f *folder, key, value string, comment *string) *secret {
	now := s.now().UTC()
	sec := f.secrets[key]
	if sec == nil {
		sec = &secret{id: s.id(), version: 0, created: now}
		f.secrets[key] = sec
	}
	sec.value, sec.updated = value, now
	sec.version++
	if comment != nil {
		sec.comment = *comment
	}
	return sec
}

// AddImport makes env's folder path import fromEnv's folder fromPath, after
// any imports it already has (so it wins over them, as in Infisical).
func (s *Server) AddImport(env, path, fromEnv, fromPath string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mkdir(s.env(fromEnv), fromPath)
	f := s.mkdir(s.env(env), path)
	f.imports = append(f.imports, importRef{fromEnv, cleanPath(fromPath)})
}

// refPattern is Infisical's INTERPOLATION_PATTERN_STRING
// (backend/src/services/secret-v2-bridge/secret-reference-fns.ts).
var refPattern = regexp.MustCompile(`\$\{([a-zA-Z0-9\-_.@]+)\}`)

// maxRefDepth is Infisical's MAX_SECRET_REFERENCE_DEPTH and the depth at
// which it stops following imports.
const maxRefDepth = 10

// maxFolderDepth is how deep a recursive list goes below its folder.
const maxFolderDepth = 20

type forbidden struct{ msg string }

// reference splits a reference into its environment, folder and key; ok is
// false for a cross-project ${@slug...}, which stays as it is.
func reference(env, path, ref string) (renv, rpath, rkey string, ok bool) {
	parts := strings.Split(ref, ".")
	if strings.HasPrefix(parts[0], "@") {
		return "", "", "", false
	}
	if len(parts) == 1 {
		return env, path, parts[0], true
	}
	return parts[0], cleanPath(strings.Join(parts[1:len(parts)-1], "/")), parts[len(parts)-1], true
}

// expand resolves references the way Infisical's recursivelyExpandSecret
// does: ${KEY} is the same folder, ${env.a.b.KEY} is env's folder /a/b; a
// reference to a missing or empty secret is left as literal text, a cycle
// stops expanding, and a reference the principal may not read fails the
// whole request with 403.
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
		renv, rpath, rkey, ok := reference(env, path, m[2:len(m)-1])
		if !ok {
			return m
		}
		var sec *secret
		if e := s.envs[renv]; e != nil {
			if f := e.folders[rpath]; f != nil {
				sec = f.secrets[rkey]
			}
		}
		if sec == nil || sec.value == "" {
			return m
		}
		if !p.canReadValue(renv, rpath, rkey) {
			denied = &forbidden{fmt.Sprintf("Failed to expand secret reference: You do not have permission to read secret '%s' in environment '%s' at path '%s', which is referenced by secret '%s' in environment '%s' at path '%s'.",
				rkey, renv, rpath, key, env, path)}
			return m
		}
		id := renv + ":" + rpath + ":" + rkey
		if visited[id] {
			return m
		}
		next := make(map[string]bool, len(visited)+1)
		for k := range visited {
			next[k] = true
		}
		next[id] = true
		ev, err := s.expandAt(p, renv, rpath, rkey, sec.value, depth+1, next)
		if err != nil {
			denied = err
		}
		return ev
	})
	return out, denied
}

// hiddenMask is what Infisical sends instead of a value the caller may
// not read (INFISICAL_SECRET_VALUE_HIDDEN_MASK).
const hiddenMask = "<hidden-by-infisical>"

// secretJSON is secretRawSchema in Infisical's sanitizedSchemas.ts, with
// the fields the v4 list adds.
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

func (s *Server) secretJSON(env, path, key, value string, hidden bool, sec *secret) secretJSON {
	if hidden {
		value = hiddenMask
	}
	return secretJSON{
		ID: sec.id, ID2: sec.id, Workspace: s.project, Environment: env, Version: sec.version,
		Type: "shared", SecretKey: key, SecretValue: value, SecretComment: sec.comment,
		CreatedAt: sec.created.Format(time.RFC3339Nano), UpdatedAt: sec.updated.Format(time.RFC3339Nano),
		SecretPath: path, SecretValueHidden: hidden, Tags: []string{}, SecretMetadata: []string{},
	}
}

func sortedKeys(f *folder) []string {
	keys := make([]string, 0, len(f.secrets))
	for k := range f.secrets {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

type importJSON struct {
	SecretPath      string            `json:"secretPath"`
	Environment     string            `json:"environment"`
	EnvironmentInfo map[string]string `json:"environmentInfo"`
	FolderID        string            `json:"folderId"`
	Secrets         []secretJSON      `json:"secrets"`
}

// listOptions are the booleans of a list.
type listOptions struct {
	expand, imports, recursive, viewValue bool
}

// importBlocks renders the imports of the folders at paths the way
// Infisical's fnSecretsV2FromImports does: imports ordered by position
// (folder by folder where positions tie), one block per source folder, a
// block holding its folder's secrets followed by those of that folder's own
// imports, level by level, each source visited once. Secrets the principal
// may not read are left out of a block (the block stays); blocks whose
// folder does not exist are left out.
func (s *Server) importBlocks(p *principal, e *environment, paths []string, o listOptions) []importJSON {
	type pending struct {
		ref importRef
		pos int
	}
	var top []pending
	for _, fp := range paths {
		for i, im := range e.folders[fp].imports {
			top = append(top, pending{im, i})
		}
	}
	sort.SliceStable(top, func(i, j int) bool { return top[i].pos < top[j].pos })
	visited := map[importRef]bool{}
	var refs []importRef
	for _, t := range top {
		if !visited[t.ref] {
			visited[t.ref] = true
			refs = append(refs, t.ref)
		}
	}
	out := []importJSON{}
	for _, im := range refs {
		src := s.folderAt(im.env, im.path)
		if src == nil {
			continue
		}
		secs := s.importedSecrets(p, im, src, o)
		secs = append(secs, s.deeperImports(p, src, o, visited, 1)...)
		if o.expand {
			secs = uniqueKeys(secs)
			for i := range secs {
				if secs[i].SecretValueHidden {
					continue
				}
				// A reference that fails to expand in an import leaves the
				// value as it is stored: Infisical settles these expansions
				// without looking at the failures.
				if v, err := s.expand(p, secs[i].Environment, secs[i].SecretPath, secs[i].SecretKey, secs[i].SecretValue); err == nil {
					secs[i].SecretValue = v
				}
			}
		}
		se := s.envs[im.env]
		out = append(out, importJSON{
			SecretPath: im.path, Environment: im.env, FolderID: src.id,
			EnvironmentInfo: map[string]string{"id": se.id, "slug": im.env, "name": im.env},
			Secrets:         secs,
		})
	}
	return out
}

func (s *Server) deeperImports(p *principal, f *folder, o listOptions, visited map[importRef]bool, depth int) []secretJSON {
	if depth > maxRefDepth {
		return nil
	}
	var out []secretJSON
	for _, im := range f.imports {
		if visited[im] {
			continue
		}
		visited[im] = true
		src := s.folderAt(im.env, im.path)
		if src == nil {
			continue
		}
		out = append(out, s.importedSecrets(p, im, src, o)...)
		out = append(out, s.deeperImports(p, src, o, visited, depth+1)...)
	}
	return out
}

// importedSecrets are an imported folder's own secrets that the principal
// may see: with values only those it may read.
func (s *Server) importedSecrets(p *principal, im importRef, f *folder, o listOptions) []secretJSON {
	out := []secretJSON{}
	for _, k := range sortedKeys(f) {
		if !p.canDescribe(im.env, im.path, k) || (o.viewValue && !p.canReadValue(im.env, im.path, k)) {
			continue
		}
		sec := f.secrets[k]
		sj := s.secretJSON(im.env, im.path, k, sec.value, !o.viewValue, sec)
		sj.Workspace = "" // Infisical sends an empty workspace in import blocks
		out = append(out, sj)
	}
	return out
}

func uniqueKeys(secs []secretJSON) []secretJSON {
	seen := map[string]bool{}
	out := secs[:0:0]
	for _, sj := range secs {
		if !seen[sj.SecretKey] {
			seen[sj.SecretKey] = true
			out = append(out, sj)
		}
	}
	return out
}

func (s *Server) folderAt(env, path string) *folder {
	if e := s.envs[env]; e != nil {
		return e.folders[path]
	}
	return nil
}
