package infisicaltest

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
)

// api is which generation of the secrets routes a request came in on:
// v3 (routes/v3/deprecated-secret-router.ts, workspaceId, lenient
// booleans) or v4 (routes/v4/secret-router.ts, projectId, booleans that
// must be "true" or "false").
type api int

const (
	v3 api = 3
	v4 api = 4
)

// projectOf reads the project of a query or body, in either spelling.
func projectOf(get func(string) string) string {
	for _, k := range []string{"projectId", "workspaceId"} {
		if id := get(k); id != "" {
			return id
		}
	}
	return ""
}

// boolParam reads a boolean query parameter: v4's z.enum(["true","false"])
// with its default, or v3's "true" = true. bad is a 422.
func boolParam(q url.Values, reqID string, version api, name string, def bool) (val bool, bad *answer) {
	v, present := q[name]
	if !present {
		return def, nil
	}
	s := ""
	if len(v) > 0 {
		s = v[0]
	}
	if version == v3 {
		return s == "true", nil
	}
	switch s {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	a := apiError(reqID, http.StatusUnprocessableEntity, "ValidationFailure", []map[string]any{{
		"received": s, "code": "invalid_enum_value", "options": []string{"true", "false"},
		"path": []string{name}, "message": fmt.Sprintf("Invalid enum value. Expected 'true' | 'false', received '%s'", s),
	}})
	return false, &a
}

// listParams reads a list's booleans. The include-imports switch is
// include_imports on the stored routers and includeImports on the newest
// v4; either is read, the newer spelling first.
func listParams(q url.Values, reqID string, version api) (listOptions, *answer) {
	var o listOptions
	var bad *answer
	if o.viewValue, bad = boolParam(q, reqID, version, "viewSecretValue", true); bad != nil {
		return o, bad
	}
	if o.expand, bad = boolParam(q, reqID, version, "expandSecretReferences", false); bad != nil {
		return o, bad
	}
	if o.recursive, bad = boolParam(q, reqID, version, "recursive", false); bad != nil {
		return o, bad
	}
	old, bad := boolParam(q, reqID, version, "include_imports", false)
	if bad != nil {
		return o, bad
	}
	if o.imports, bad = boolParam(q, reqID, version, "includeImports", old); bad != nil {
		return o, bad
	}
	return o, nil
}

// pathNotFound is a list's answer for a folder or environment that does not
// exist: 404 SecretPathNotFound, or, with EmptyMissingFolders, the empty
// lists older servers answered.
func (s *Server) pathNotFound(reqID, env, path string) answer {
	if s.emptyMissing {
		return jsonAnswer(http.StatusOK, map[string]any{"secrets": []secretJSON{}, "imports": []importJSON{}})
	}
	return apiError(reqID, http.StatusNotFound, "SecretPathNotFound",
		fmt.Sprintf("Folder with path '%s' in environment with slug '%s' not found", path, env))
}

func (s *Server) projectNotFound(reqID, projectID string) answer {
	return apiError(reqID, http.StatusNotFound, "NotFound", fmt.Sprintf("Project with ID '%s' not found", projectID))
}

// checkProject is the first thing every secrets and folders route does:
// permission lookup, which fails for a missing or unknown project, and
// for a caller that is not a member of it.
func (s *Server) checkProject(reqID, projectID string, version api, p *principal) *answer {
	if projectID == "" {
		msg := "Must provide either workspaceId or workspaceSlug"
		if version == v4 {
			msg = "Missing project id or environment"
		}
		a := apiError(reqID, http.StatusBadRequest, "BadRequest", msg)
		return &a
	}
	if projectID != s.project {
		a := s.projectNotFound(reqID, projectID)
		return &a
	}
	if !p.member() {
		a := notMember(reqID)
		return &a
	}
	return nil
}

// notMember is getProjectPermission's refusal of a caller that is not a
// member of the project: the sentence is the error's name, and the
// message is the default one.
func notMember(reqID string) answer {
	return apiError(reqID, http.StatusForbidden, "You are not member of this project", "You are not allowed to access this resource")
}

// listSecrets is getSecrets of Infisical's secret-v2-bridge service.
func (s *Server) listSecrets(version api) func(*http.Request, string, *principal) answer {
	return func(r *http.Request, reqID string, p *principal) answer {
		q := r.URL.Query()
		o, bad := listParams(q, reqID, version)
		if bad != nil {
			return *bad
		}
		env := q.Get("environment")
		if bad := s.checkProject(reqID, projectOf(q.Get), version, p); bad != nil {
			return *bad
		}
		if env == "" {
			if version == v4 {
				return apiError(reqID, http.StatusBadRequest, "BadRequest", "Missing project id or environment")
			}
			return validation(reqID, "environment")
		}
		path := cleanPath(q.Get("secretPath"))
		e := s.envs[env]
		if e == nil || e.folders[path] == nil {
			return s.pathNotFound(reqID, env, path)
		}
		if !p.canRead(env, path) {
			return denied(reqID, "read", "secrets")
		}
		paths := []string{path}
		if o.recursive {
			paths = e.subtree(path, maxFolderDepth)
		}
		secrets := []secretJSON{}
		for _, fp := range paths {
			f := e.folders[fp]
			for _, k := range sortedKeys(f) {
				if !p.canDescribe(env, fp, k) {
					continue // Infisical leaves out what the role may not describe
				}
				hidden := !o.viewValue
				if o.viewValue && !p.canReadValue(env, fp, k) {
					if fp != path {
						continue // unreadable secrets of subfolders are left out
					}
					if !s.maskUnreadable {
						return denied(reqID, "readValue", "secrets")
					}
					hidden = true
				}
				sec := f.secrets[k]
				secrets = append(secrets, s.secretJSON(env, fp, k, sec.value, hidden, sec))
			}
		}
		if o.expand {
			var failures []string
			for i := range secrets {
				if secrets[i].SecretValueHidden {
					continue
				}
				v, err := s.expand(p, env, secrets[i].SecretPath, secrets[i].SecretKey, secrets[i].SecretValue)
				if err != nil {
					failures = append(failures, err.msg)
					continue
				}
				secrets[i].SecretValue = v
			}
			if len(failures) > 0 {
				return jsonAnswer(http.StatusForbidden, map[string]any{
					"reqId": reqID, "statusCode": http.StatusForbidden, "error": "ForbiddenError",
					"message": "Failed to expand one or more secret references", "details": failures,
				})
			}
		}
		body := map[string]any{"secrets": secrets, "imports": []importJSON{}}
		if o.imports {
			body["imports"] = s.importBlocks(p, e, paths, o)
		}
		return jsonAnswer(http.StatusOK, body)
	}
}

// getSecret is getSecretByName: the folder's own key, else (with imports)
// the key of the last import that has it.
func (s *Server) getSecret(version api) func(*http.Request, string, *principal) answer {
	return func(r *http.Request, reqID string, p *principal) answer {
		q := r.URL.Query()
		o, bad := listParams(q, reqID, version)
		if bad != nil {
			return *bad
		}
		env, key := q.Get("environment"), secretName(r)
		if env == "" && version == v4 {
			return apiError(reqID, http.StatusBadRequest, "BadRequest", "Missing environment")
		}
		if bad := s.checkProject(reqID, projectOf(q.Get), version, p); bad != nil {
			if version == v4 && projectOf(q.Get) == "" {
				return apiError(reqID, http.StatusBadRequest, "BadRequest", "You must provide  workspaceId")
			}
			return *bad
		}
		path := cleanPath(q.Get("secretPath"))
		f := s.folderAt(env, path)
		if f == nil {
			return apiError(reqID, http.StatusNotFound, "GetSecretByName",
				fmt.Sprintf("Folder with path '%s' in environment with slug '%s' not found", path, env))
		}
		if !p.canDescribe(env, path, key) {
			return denied(reqID, "describeSecret", "secrets")
		}
		if sec := f.secrets[key]; sec != nil {
			if o.viewValue && !p.canReadValue(env, path, key) {
				return apiError(reqID, http.StatusForbidden, "ForbiddenReadSecretError",
					fmt.Sprintf("You do not have permission to view secret value on secret with name '%s'", key))
			}
			v := sec.value
			if o.expand && o.viewValue {
				var err *forbidden
				if v, err = s.expand(p, env, path, key, v); err != nil {
					return apiError(reqID, http.StatusForbidden, "ForbiddenError", "Failed to expand one or more secret references")
				}
			}
			return jsonAnswer(http.StatusOK, map[string]any{"secret": s.secretJSON(env, path, key, v, !o.viewValue, sec)})
		}
		if o.imports {
			blocks := s.importBlocks(p, s.envs[env], []string{path}, o)
			for i := len(blocks) - 1; i >= 0; i-- {
				for _, sj := range blocks[i].Secrets {
					if sj.SecretKey == key {
						return jsonAnswer(http.StatusOK, map[string]any{"secret": sj})
					}
				}
			}
		}
		return apiError(reqID, http.StatusNotFound, "NotFound", fmt.Sprintf("Secret with name '%s' not found", key))
	}
}

// secretName is the {name} of /api/v3/secrets/raw/{name} or /api/v4/secrets/{name}.
func secretName(r *http.Request) string {
	p := r.URL.Path
	if rest, ok := strings.CutPrefix(p, "/api/v3/secrets/raw/"); ok {
		return rest
	}
	return strings.TrimPrefix(p, "/api/v4/secrets/")
}

// storedValue is how Infisical's routers transform secretValue on every
// write: `val.at(-1) === "\n" ? val.trim() + "\n" : val.trim()`.
func storedValue(v string) string {
	keepNewline := strings.HasSuffix(v, "\n")
	rs := []rune(v)
	i, j := 0, len(rs)
	for i < j && jsWhitespace[rs[i]] {
		i++
	}
	for j > i && jsWhitespace[rs[j-1]] {
		j--
	}
	out := string(rs[i:j])
	if keepNewline {
		out += "\n"
	}
	return out
}

// jsWhitespace is what String.prototype.trim removes, as ECMAScript lists
// it: WhiteSpace (TAB, VT, FF, ZWNBSP and every Zs code point) and
// LineTerminator (LF, CR, LS, PS). Written out rather than derived from
// Go's unicode tables, which count NEL (U+0085) as a space and the BOM as
// none.
var jsWhitespace = map[rune]bool{
	'\t': true, '\v': true, '\f': true, ' ': true, '\u00a0': true, '\ufeff': true,
	'\u1680': true, '\u2000': true, '\u2001': true, '\u2002': true, '\u2003': true, '\u2004': true,
	'\u2005': true, '\u2006': true, '\u2007': true, '\u2008': true, '\u2009': true, '\u200a': true,
	'\u202f': true, '\u205f': true, '\u3000': true,
	'\n': true, '\r': true, '\u2028': true, '\u2029': true,
}

// secretNamePattern is SecretNameSchema: no colon or slash.
var secretNamePattern = regexp.MustCompile(`^[^:/]+$`)

type writeBody struct {
	WorkspaceID   string  `json:"workspaceId"`
	ProjectID     string  `json:"projectId"`
	Environment   string  `json:"environment"`
	SecretPath    string  `json:"secretPath"`
	SecretValue   *string `json:"secretValue"`
	SecretComment *string `json:"secretComment"`
	NewSecretName *string `json:"newSecretName"`
	Type          string  `json:"type"`
}

func (b writeBody) project() string {
	return projectOf(func(k string) string {
		if k == "projectId" {
			return b.ProjectID
		}
		return b.WorkspaceID
	})
}

// writeScope checks what every write checks first: the project, the
// environment and the folder. name is the error name of a missing folder.
func (s *Server) writeScope(reqID string, version api, p *principal, project, env, path, name string) (*folder, *answer) {
	e, bad := s.writeEnv(reqID, version, p, project, env)
	if bad != nil {
		return nil, bad
	}
	f := e.folders[path]
	if f == nil {
		a := apiError(reqID, http.StatusNotFound, name,
			fmt.Sprintf("Folder with path '%s' in environment with slug '%s' not found", path, env))
		return nil, &a
	}
	return f, nil
}

// writeEnv checks the project and the environment of a write.
func (s *Server) writeEnv(reqID string, version api, p *principal, project, env string) (*environment, *answer) {
	if bad := s.checkProject(reqID, project, version, p); bad != nil {
		return nil, bad
	}
	e := s.envs[env]
	if e == nil {
		a := apiError(reqID, http.StatusNotFound, "NotFound",
			fmt.Sprintf("Environment with slug '%s' in project with ID '%s' not found", env, project))
		return nil, &a
	}
	return e, nil
}

// checkWriteReferences is $validateSecretReferences as far as it refuses:
// a reference to something that does not exist is accepted; one to an
// existing secret the principal may not describe is a 403.
func (s *Server) checkWriteReferences(reqID string, p *principal, env, path, value string) *answer {
	for _, m := range refPattern.FindAllStringSubmatch(value, -1) {
		renv, rpath, rkey, ok := reference(env, path, m[1])
		if !ok {
			continue
		}
		if f := s.folderAt(renv, rpath); f != nil && f.secrets[rkey] != nil && !p.canDescribe(renv, rpath, rkey) {
			a := denied(reqID, "describeSecret", "secrets")
			return &a
		}
	}
	return nil
}

func (s *Server) createSecret(version api) func(*http.Request, string, *principal) answer {
	return func(r *http.Request, reqID string, p *principal) answer {
		var in writeBody
		if a := readBody(r, reqID, &in); a != nil {
			return *a
		}
		key := strings.TrimSpace(secretName(r))
		if !secretNamePattern.MatchString(key) {
			return apiError(reqID, http.StatusUnprocessableEntity, "ValidationFailure", []map[string]any{{
				"code": "custom", "path": []string{"secretName"}, "message": "Secret name cannot contain colon or forward slash.",
			}})
		}
		if in.SecretValue == nil {
			return validation(reqID, "secretValue")
		}
		path := cleanPath(in.SecretPath)
		f, bad := s.writeScope(reqID, version, p, in.project(), in.Environment, path, "CreateSecret")
		if bad != nil {
			return *bad
		}
		if f.secrets[key] != nil {
			return apiError(reqID, http.StatusBadRequest, "BadRequest", "Secret already exist")
		}
		if !p.projectMay(subjSecrets, actCreate) || !p.canRead(in.Environment, path) {
			return denied(reqID, "create", "secrets")
		}
		value := storedValue(*in.SecretValue)
		if bad := s.checkWriteReferences(reqID, p, in.Environment, path, value); bad != nil {
			return *bad
		}
		comment := ""
		if in.SecretComment != nil {
			comment = strings.TrimSpace(*in.SecretComment)
		}
		sec := s.put(f, key, value, &comment)
		return jsonAnswer(http.StatusOK, map[string]any{"secret": s.secretJSON(in.Environment, path, key, sec.value, false, sec)})
	}
}

func (s *Server) updateSecret(version api) func(*http.Request, string, *principal) answer {
	return func(r *http.Request, reqID string, p *principal) answer {
		var in writeBody
		if a := readBody(r, reqID, &in); a != nil {
			return *a
		}
		if in.NewSecretName != nil && strings.TrimSpace(*in.NewSecretName) == "" {
			return apiError(reqID, http.StatusBadRequest, "BadRequest", "New secret name cannot be empty")
		}
		key, path := secretName(r), cleanPath(in.SecretPath)
		f, bad := s.writeScope(reqID, version, p, in.project(), in.Environment, path, "UpdateSecret")
		if bad != nil {
			return *bad
		}
		sec := f.secrets[key]
		if sec == nil {
			return apiError(reqID, http.StatusNotFound, "NotFound", fmt.Sprintf("Secret with name %s not found", key))
		}
		if !p.projectMay(subjSecrets, actEdit) || !p.canRead(in.Environment, path) {
			return denied(reqID, "edit", "secrets")
		}
		if msg := s.update(p, in.Environment, path, f, key, in.SecretValue, in.SecretComment, in.NewSecretName); msg != nil {
			msg.reqID = reqID
			return msg.answer()
		}
		if in.NewSecretName != nil {
			key = strings.TrimSpace(*in.NewSecretName)
		}
		sec = f.secrets[key]
		return jsonAnswer(http.StatusOK, map[string]any{"secret": s.secretJSON(in.Environment, path, key, sec.value, false, sec)})
	}
}

// refusal is an error answer decided before the request's reqId is known
// to the code that decides it.
type refusal struct {
	reqID   string
	status  int
	name    string
	message string
}

func (f *refusal) answer() answer { return apiError(f.reqID, f.status, f.name, f.message) }

// update applies one update to the existing key of f; nil fields stay as
// they are. A rename to a key that exists is refused, and so is a value
// referencing a secret the principal may not describe; either way nothing
// changes.
func (s *Server) update(p *principal, env, path string, f *folder, key string, value, comment, newName *string) *refusal {
	name := key
	if newName != nil {
		name = strings.TrimSpace(*newName)
		if name != key && f.secrets[name] != nil {
			return &refusal{status: http.StatusBadRequest, name: "BadRequest", message: "Secret with the new name already exists"}
		}
	}
	var v string
	if value != nil {
		v = storedValue(*value)
		if bad := s.checkWriteReferences("", p, env, path, v); bad != nil {
			return &refusal{status: http.StatusForbidden, name: "PermissionDenied", message: "You are not allowed to describeSecret on secrets"}
		}
	}
	sec := f.secrets[key]
	if value != nil {
		sec.value = v
	}
	if comment != nil {
		sec.comment = *comment
	}
	sec.version++
	sec.updated = s.now().UTC()
	if name != key {
		f.secrets[name] = sec
		delete(f.secrets, key)
	}
	return nil
}

func (s *Server) deleteSecret(version api) func(*http.Request, string, *principal) answer {
	return func(r *http.Request, reqID string, p *principal) answer {
		var in writeBody
		if a := readBody(r, reqID, &in); a != nil {
			return *a
		}
		key, path := secretName(r), cleanPath(in.SecretPath)
		f, bad := s.writeScope(reqID, version, p, in.project(), in.Environment, path, "DeleteSecret")
		if bad != nil {
			return *bad
		}
		sec := f.secrets[key]
		if sec == nil {
			return apiError(reqID, http.StatusNotFound, "NotFound", "Secret not found")
		}
		if !p.projectMay(subjSecrets, actDelete) || !p.canRead(in.Environment, path) {
			return denied(reqID, "delete", "secrets")
		}
		delete(f.secrets, key)
		return jsonAnswer(http.StatusOK, map[string]any{"secret": s.secretJSON(in.Environment, path, key, sec.value, false, sec)})
	}
}

type batchEntry struct {
	SecretKey     string  `json:"secretKey"`
	SecretValue   *string `json:"secretValue"`
	SecretComment *string `json:"secretComment"`
	SecretPath    string  `json:"secretPath"`
	NewSecretName *string `json:"newSecretName"`
}

type batchBody struct {
	writeBody
	Mode    string       `json:"mode"`
	Secrets []batchEntry `json:"secrets"`
}

// createBatch is POST .../batch: the whole batch is refused when any key
// exists.
func (s *Server) createBatch(version api) func(*http.Request, string, *principal) answer {
	return func(r *http.Request, reqID string, p *principal) answer {
		var in batchBody
		if a := readBody(r, reqID, &in); a != nil {
			return *a
		}
		if len(in.Secrets) == 0 {
			return validation(reqID, "secrets")
		}
		path := cleanPath(in.SecretPath)
		f, bad := s.writeScope(reqID, version, p, in.project(), in.Environment, path, "CreateManySecret")
		if bad != nil {
			return *bad
		}
		var exist []string
		for _, e := range in.Secrets {
			if e.SecretValue == nil {
				return validation(reqID, "secretValue")
			}
			if f.secrets[e.SecretKey] != nil {
				exist = append(exist, e.SecretKey)
			}
			if bad := s.checkWriteReferences(reqID, p, in.Environment, path, storedValue(*e.SecretValue)); bad != nil {
				return *bad
			}
		}
		if len(exist) > 0 {
			return apiError(reqID, http.StatusBadRequest, "BadRequest", "Secret already exists: "+strings.Join(exist, ","))
		}
		if !p.projectMay(subjSecrets, actCreate) || !p.canRead(in.Environment, path) {
			return denied(reqID, "create", "secrets")
		}
		out := []secretJSON{}
		for _, e := range in.Secrets {
			comment := ""
			if e.SecretComment != nil {
				comment = strings.TrimSpace(*e.SecretComment)
			}
			sec := s.put(f, e.SecretKey, storedValue(*e.SecretValue), &comment)
			out = append(out, s.secretJSON(in.Environment, path, e.SecretKey, sec.value, false, sec))
		}
		return jsonAnswer(http.StatusOK, map[string]any{"secrets": out})
	}
}

// updateBatch is PATCH .../batch with its modes: failOnNotFound (the
// default) refuses the batch when a key is missing, upsert creates it,
// ignore skips it. Each entry may name its own folder; a missing folder
// refuses the batch (upsert creates no folder). Nothing is written unless
// the whole batch can be.
func (s *Server) updateBatch(version api) func(*http.Request, string, *principal) answer {
	return func(r *http.Request, reqID string, p *principal) answer {
		var in batchBody
		if a := readBody(r, reqID, &in); a != nil {
			return *a
		}
		mode := in.Mode
		if mode == "" {
			mode = "failOnNotFound"
		}
		if mode != "failOnNotFound" && mode != "upsert" && mode != "ignore" {
			return apiError(reqID, http.StatusUnprocessableEntity, "ValidationFailure", []map[string]any{{
				"code": "invalid_enum_value", "path": []string{"mode"}, "message": "Invalid enum value. Expected 'failOnNotFound' | 'upsert' | 'ignore'",
			}})
		}
		if len(in.Secrets) == 0 {
			return validation(reqID, "secrets")
		}
		if _, bad := s.writeEnv(reqID, version, p, in.project(), in.Environment); bad != nil {
			return *bad
		}
		base := cleanPath(in.SecretPath)
		byFolder := map[string][]batchEntry{}
		var order []string
		for _, e := range in.Secrets {
			fp := base
			if e.SecretPath != "" {
				fp = cleanPath(e.SecretPath)
			}
			if _, ok := byFolder[fp]; !ok {
				order = append(order, fp)
			}
			byFolder[fp] = append(byFolder[fp], e)
		}
		for _, fp := range order {
			if s.folderAt(in.Environment, fp) == nil {
				return apiError(reqID, http.StatusNotFound, "UpdateManySecret",
					fmt.Sprintf("Folder with path 'null' in environment with slug '%s' not found", in.Environment))
			}
		}
		for _, fp := range order {
			f := s.folderAt(in.Environment, fp)
			var missing []string
			for _, e := range byFolder[fp] {
				if f.secrets[e.SecretKey] == nil {
					missing = append(missing, e.SecretKey)
				} else if e.NewSecretName != nil && *e.NewSecretName != e.SecretKey && f.secrets[*e.NewSecretName] != nil {
					return apiError(reqID, http.StatusBadRequest, "BadRequest", "Secret with new name already exists: "+*e.NewSecretName)
				}
				if e.SecretValue != nil {
					if bad := s.checkWriteReferences(reqID, p, in.Environment, fp, storedValue(*e.SecretValue)); bad != nil {
						return *bad
					}
				}
			}
			if len(missing) > 0 && mode == "failOnNotFound" {
				return apiError(reqID, http.StatusNotFound, "NotFound",
					fmt.Sprintf("Secret does not exist: %s in path %s", strings.Join(missing, ", "), fp))
			}
			if len(missing) > 0 && mode == "upsert" && (!p.projectMay(subjSecrets, actCreate) || !p.canRead(in.Environment, fp)) {
				return denied(reqID, "create", "secrets")
			}
			if len(byFolder[fp]) > len(missing) && (!p.projectMay(subjSecrets, actEdit) || !p.canRead(in.Environment, fp)) {
				return denied(reqID, "edit", "secrets")
			}
		}
		out := []secretJSON{}
		for _, fp := range order {
			f := s.folderAt(in.Environment, fp)
			for _, e := range byFolder[fp] {
				key := e.SecretKey
				if f.secrets[key] == nil {
					if mode != "upsert" {
						continue
					}
					comment := ""
					if e.SecretComment != nil {
						comment = strings.TrimSpace(*e.SecretComment)
					}
					v := ""
					if e.SecretValue != nil {
						v = storedValue(*e.SecretValue)
					}
					s.put(f, key, v, &comment)
				} else if msg := s.update(p, in.Environment, fp, f, key, e.SecretValue, e.SecretComment, e.NewSecretName); msg != nil {
					msg.reqID = reqID
					return msg.answer()
				} else if e.NewSecretName != nil {
					key = strings.TrimSpace(*e.NewSecretName)
				}
				sec := f.secrets[key]
				out = append(out, s.secretJSON(in.Environment, fp, key, sec.value, false, sec))
			}
		}
		return jsonAnswer(http.StatusOK, map[string]any{"secrets": out})
	}
}

func denied(reqID, action, subject string) answer {
	return jsonAnswer(http.StatusForbidden, map[string]any{
		"reqId": reqID, "statusCode": http.StatusForbidden, "error": "PermissionDenied",
		"message": fmt.Sprintf("You are not allowed to %s on %s", action, subject), "details": []any{},
	})
}
