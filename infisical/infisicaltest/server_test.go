package infisicaltest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"secret-init/infisical/infisicaltest"
)

var reqIDPattern = regexp.MustCompile(`^req-[A-Za-z0-9]{14}$`)

type reply struct {
	status int
	header http.Header
	body   map[string]any
	raw    []byte
}

// call sends one request; token "" sends no Authorization header.
func call(t *testing.T, s *infisicaltest.Server, method, path string, q url.Values, body any, token string) reply {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	u := s.URL + path
	if q != nil {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := reply{status: resp.StatusCode, header: resp.Header, raw: raw}
	_ = json.Unmarshal(raw, &r.body)
	return r
}

func listQuery(s *infisicaltest.Server, env, path string) url.Values {
	return url.Values{
		"workspaceId": {s.ProjectID()}, "environment": {env}, "secretPath": {path},
		"include_imports": {"true"}, "expandSecretReferences": {"true"},
	}
}

// v4Query is a v4 list as the official CLI sends it: every boolean
// explicit, include-imports in both spellings.
func v4Query(s *infisicaltest.Server, env, path string) url.Values {
	return url.Values{
		"projectId": {s.ProjectID()}, "environment": {env}, "secretPath": {path},
		"include_imports": {"true"}, "includeImports": {"true"}, "expandSecretReferences": {"true"},
		"recursive": {"false"}, "viewSecretValue": {"true"},
	}
}

func newServer(t *testing.T) *infisicaltest.Server {
	s := infisicaltest.NewServer()
	t.Cleanup(s.Close)
	s.AddToken("tok")
	s.AddUniversalIdentity("id", "secret")
	return s
}

// TestErrorShape checks every route's failures carry Infisical's body, a
// reqId and a JSON Content-Type.
func TestErrorShape(t *testing.T) {
	s := newServer(t)
	s.SetSecret("dev", "/a", "K", "v")
	s.AddToken("limited", infisicaltest.DenyFolder("dev", "/a"))
	s.AddToken("old")
	s.ExpireToken("old")
	s.AddToken("gone")
	s.RevokeToken("gone")
	pid := s.ProjectID()
	write := func(path string) map[string]string {
		return map[string]string{"workspaceId": pid, "environment": "dev", "secretPath": path, "secretValue": "x"}
	}
	tests := []struct {
		name, method, path string
		q                  url.Values
		body               any
		token              string
		status             int
		errName, message   string
	}{
		{"list without token", "GET", "/api/v3/secrets/raw", listQuery(s, "dev", "/a"), nil, "", 401, "UnauthorizedError", "Token missing"},
		{"list with a token that is no JWT", "GET", "/api/v3/secrets/raw", listQuery(s, "dev", "/a"), nil, "nope", 403, "TokenError", "The provided access token is malformed. Please use a valid token or generate a new one and try again."},
		{"list with expired token", "GET", "/api/v3/secrets/raw", listQuery(s, "dev", "/a"), nil, "old", 403, "TokenError", "Your token has expired. Please re-authenticate."},
		{"list with revoked token", "GET", "/api/v3/secrets/raw", listQuery(s, "dev", "/a"), nil, "gone", 401, "UnauthorizedError", "No identity access token found"},
		{"list denied folder", "GET", "/api/v3/secrets/raw", listQuery(s, "dev", "/a"), nil, "limited", 403, "PermissionDenied", "You are not allowed to read on secrets"},
		{"list unknown env", "GET", "/api/v3/secrets/raw", listQuery(s, "qa", "/a"), nil, "tok", 404, "SecretPathNotFound", "Folder with path '/a' in environment with slug 'qa' not found"},
		{"list missing folder", "GET", "/api/v4/secrets", v4Query(s, "dev", "/b"), nil, "tok", 404, "SecretPathNotFound", "Folder with path '/b' in environment with slug 'dev' not found"},
		{"list other project", "GET", "/api/v3/secrets/raw", url.Values{"workspaceId": {"other"}, "environment": {"dev"}}, nil, "tok", 404, "NotFound", "Project with ID 'other' not found"},
		{"v4 list other project", "GET", "/api/v4/secrets", url.Values{"projectId": {"other"}, "environment": {"dev"}}, nil, "tok", 404, "NotFound", "Project with ID 'other' not found"},
		{"list without environment", "GET", "/api/v3/secrets/raw", url.Values{"workspaceId": {pid}}, nil, "tok", 422, "ValidationFailure", ""},
		{"v4 list without environment", "GET", "/api/v4/secrets", url.Values{"projectId": {pid}}, nil, "tok", 400, "BadRequest", "Missing project id or environment"},
		{"v4 list with a boolean that is not true or false", "GET", "/api/v4/secrets", url.Values{"projectId": {pid}, "environment": {"dev"}, "recursive": {"1"}}, nil, "tok", 422, "ValidationFailure", ""},
		{"get missing key", "GET", "/api/v3/secrets/raw/NOPE", listQuery(s, "dev", "/a"), nil, "tok", 404, "NotFound", "Secret with name 'NOPE' not found"},
		{"get missing folder", "GET", "/api/v3/secrets/raw/K", listQuery(s, "dev", "/b"), nil, "tok", 404, "GetSecretByName", "Folder with path '/b' in environment with slug 'dev' not found"},
		{"create existing", "POST", "/api/v3/secrets/raw/K", nil, write("/a"), "tok", 400, "BadRequest", "Secret already exist"},
		{"create in missing folder", "POST", "/api/v3/secrets/raw/K", nil, write("/b"), "tok", 404, "CreateSecret", "Folder with path '/b' in environment with slug 'dev' not found"},
		{"create with a slash in the name", "POST", "/api/v4/secrets/A:B", nil, map[string]string{"projectId": pid, "environment": "dev", "secretPath": "/a", "secretValue": "x"}, "tok", 422, "ValidationFailure", ""},
		{"update missing key", "PATCH", "/api/v3/secrets/raw/NOPE", nil, write("/a"), "tok", 404, "NotFound", "Secret with name NOPE not found"},
		{"delete missing key", "DELETE", "/api/v4/secrets/NOPE", nil, map[string]string{"projectId": pid, "environment": "dev", "secretPath": "/a"}, "tok", 404, "NotFound", "Secret not found"},
		{"folder bad name", "POST", "/api/v1/folders", nil, map[string]string{"workspaceId": pid, "environment": "dev", "name": "a/b", "path": "/"}, "tok", 422, "ValidationFailure", ""},
		{"folder exists", "POST", "/api/v1/folders", nil, map[string]string{"workspaceId": pid, "environment": "dev", "name": "a", "path": "/"}, "tok", 400, "BadRequest", "Folder with name 'a' already exists in path '/'"},
		{"folders of unknown env", "GET", "/api/v1/folders", url.Values{"workspaceId": {pid}, "environment": {"qa"}}, nil, "tok", 404, "NotFound", "Environment with slug 'qa' not found"},
		{"login bad secret", "POST", "/api/v1/auth/universal-auth/login", nil, map[string]string{"clientId": "id", "clientSecret": "wrong"}, "", 401, "UnauthorizedError", "Invalid credentials"},
		{"login missing field", "POST", "/api/v1/auth/universal-auth/login", nil, map[string]string{"clientId": "id"}, "", 422, "ValidationFailure", ""},
		{"kubernetes unknown identity", "POST", "/api/v1/auth/kubernetes-auth/login", nil, map[string]string{"identityId": "x", "jwt": "y"}, "", 404, "NotFound", ""},
		{"unknown route", "GET", "/api/v9/nothing", nil, nil, "tok", 404, "Not Found", "Route GET:/api/v9/nothing not found"},
		{"unknown method", "PUT", "/api/v1/folders", nil, nil, "tok", 404, "Not Found", "Route PUT:/api/v1/folders not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := call(t, s, tt.method, tt.path, tt.q, tt.body, tt.token)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.status, tt.status, r.raw)
			}
			if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type %q", ct)
			}
			if id, _ := r.body["reqId"].(string); !reqIDPattern.MatchString(id) {
				t.Errorf("reqId %q", id)
			}
			if sc, _ := r.body["statusCode"].(float64); int(sc) != tt.status {
				t.Errorf("statusCode %v", r.body["statusCode"])
			}
			if r.body["error"] != tt.errName {
				t.Errorf("error %v, want %s", r.body["error"], tt.errName)
			}
			if tt.message != "" && r.body["message"] != tt.message {
				t.Errorf("message %v, want %s", r.body["message"], tt.message)
			}
			if tt.errName == "ValidationFailure" {
				if _, ok := r.body["message"].([]any); !ok {
					t.Errorf("422 message %v, want a list of issues", r.body["message"])
				}
			}
		})
	}
}

func values(t *testing.T, r reply) map[string]string {
	t.Helper()
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.raw)
	}
	out := map[string]string{}
	secrets, _ := r.body["secrets"].([]any)
	for _, x := range secrets {
		m := x.(map[string]any)
		out[m["secretKey"].(string)] = m["secretValue"].(string)
	}
	return out
}

func TestReferences(t *testing.T) {
	s := newServer(t)
	s.SetSecret("dev", "/", "HOST", "db")
	s.SetSecret("dev", "/a/b", "PORT", "5432")
	s.SetSecret("prod", "/", "HOST", "prod-db")
	s.SetSecret("dev", "/app", "USER", "app")
	s.SetSecret("dev", "/app", "BLANK", "")
	s.SetSecret("dev", "/secretive", "PW", "hidden")
	s.AddToken("limited", infisicaltest.DenyFolder("dev", "/secretive"))
	// A reference to something missing or empty stays as literal text:
	// Infisical's recursivelyExpandSecret leaves it in place, so a service
	// would receive "${dev.shared.db.X}".
	tests := []struct{ value, want string }{
		{"${USER}", "app"},
		{"${dev.HOST}:${dev.a.b.PORT}", "db:5432"},
		{"${prod.HOST}", "prod-db"},
		{"${MISSING}", "${MISSING}"},
		{"${BLANK}x", "${BLANK}x"},
		{"${dev.nofolder.X}-${qa.X}", "${dev.nofolder.X}-${qa.X}"},
		{"${@other-project.dev.HOST}", "${@other-project.dev.HOST}"},
		{"${not a ref} $USER ${}", "${not a ref} $USER ${}"},
		{"${dev.app.CHAIN}", "app@db"}, // CHAIN itself references
		{"${SELF}", "${SELF}"},         // a cycle stops expanding
	}
	for i, tt := range tests {
		key := "V" + strconv.Itoa(i)
		s.SetSecret("dev", "/app", key, tt.value)
	}
	s.SetSecret("dev", "/app", "CHAIN", "${USER}@${dev.HOST}")
	s.SetSecret("dev", "/app", "SELF", "${SELF}")
	for _, route := range []string{"/api/v3/secrets/raw", "/api/v4/secrets"} {
		got := values(t, call(t, s, "GET", route, v4Query(s, "dev", "/app"), nil, "tok"))
		for i, tt := range tests {
			if v := got["V"+strconv.Itoa(i)]; v != tt.want {
				t.Errorf("%s: %q expanded to %q, want %q", route, tt.value, v, tt.want)
			}
		}
	}

	q := v4Query(s, "dev", "/app")
	q.Set("expandSecretReferences", "false")
	if v := values(t, call(t, s, "GET", "/api/v4/secrets", q, nil, "tok"))["CHAIN"]; v != "${USER}@${dev.HOST}" {
		t.Errorf("unexpanded CHAIN = %q", v)
	}

	// A reference the caller may not read fails the whole request.
	s.SetSecret("dev", "/app", "LEAK", "${dev.secretive.PW}")
	r := call(t, s, "GET", "/api/v4/secrets", v4Query(s, "dev", "/app"), nil, "limited")
	if r.status != 403 || r.body["error"] != "ForbiddenError" || r.body["message"] != "Failed to expand one or more secret references" {
		t.Errorf("reference into a denied folder: %d %s", r.status, r.raw)
	}
	if strings.Contains(string(r.raw), "hidden") {
		t.Errorf("the 403 carries the value it refused: %s", r.raw)
	}
}

// importView renders a list's import blocks as env:path:KEY=value,...
func importView(t *testing.T, r reply) []string {
	t.Helper()
	var blocks []string
	imps, _ := r.body["imports"].([]any)
	for _, b := range imps {
		m := b.(map[string]any)
		var kv []string
		for _, x := range m["secrets"].([]any) {
			sec := x.(map[string]any)
			kv = append(kv, sec["secretKey"].(string)+"="+sec["secretValue"].(string))
		}
		blocks = append(blocks, m["environment"].(string)+":"+m["secretPath"].(string)+":"+strings.Join(kv, ","))
	}
	return blocks
}

func TestImports(t *testing.T) {
	s := newServer(t)
	s.SetSecret("dev", "/svc", "A", "own")
	s.SetSecret("dev", "/one", "A", "one-a")
	s.SetSecret("dev", "/one", "B", "one-b")
	s.SetSecret("dev", "/two", "B", "two-b")
	s.SetSecret("dev", "/two", "C", "two-c")
	s.SetSecret("dev", "/deep", "D", "deep-d")
	s.SetSecret("dev", "/deep", "C", "deep-c")
	s.SetSecret("prod", "/hidden", "H", "h")
	s.AddImport("dev", "/svc", "dev", "/one")
	s.AddImport("dev", "/svc", "prod", "/hidden")
	s.AddImport("dev", "/svc", "dev", "/two")
	s.AddImport("dev", "/two", "dev", "/deep")
	s.AddImport("dev", "/deep", "dev", "/two") // a cycle must terminate
	s.AddToken("limited", infisicaltest.DenyFolder("prod", "/"))

	for _, tt := range []struct {
		token      string
		wantBlocks []string
	}{
		// In position order; a block holds its folder's keys, then those of
		// its own imports that it does not have.
		{"tok", []string{"dev:/one:A=one-a,B=one-b", "prod:/hidden:H=h", "dev:/two:B=two-b,C=two-c,D=deep-d"}},
		// What the caller may not read is left out of its block; the block stays.
		{"limited", []string{"dev:/one:A=one-a,B=one-b", "prod:/hidden:", "dev:/two:B=two-b,C=two-c,D=deep-d"}},
	} {
		r := call(t, s, "GET", "/api/v4/secrets", v4Query(s, "dev", "/svc"), nil, tt.token)
		if own := values(t, r); len(own) != 1 || own["A"] != "own" {
			t.Errorf("own secrets %v", own)
		}
		if got := importView(t, r); strings.Join(got, " ") != strings.Join(tt.wantBlocks, " ") {
			t.Errorf("%s: imports %v, want %v", tt.token, got, tt.wantBlocks)
		}
	}

	for _, spelling := range []string{"include_imports", "includeImports"} {
		q := v4Query(s, "dev", "/svc")
		q.Del("include_imports")
		q.Del("includeImports")
		q.Set(spelling, "false")
		if got := importView(t, call(t, s, "GET", "/api/v4/secrets", q, nil, "tok")); len(got) != 0 {
			t.Errorf("imports with %s=false: %v", spelling, got)
		}
		q.Set(spelling, "true")
		if got := importView(t, call(t, s, "GET", "/api/v4/secrets", q, nil, "tok")); len(got) != 3 {
			t.Errorf("imports with %s=true: %v", spelling, got)
		}
	}

	// A read by name searches the imports from the last one up: B is in
	// /one and /two, and /two comes later.
	for key, want := range map[string]string{"A": "own", "B": "two-b", "D": "deep-d", "H": "h"} {
		for _, route := range []string{"/api/v3/secrets/raw/", "/api/v4/secrets/"} {
			r := call(t, s, "GET", route+key, v4Query(s, "dev", "/svc"), nil, "tok")
			sec, _ := r.body["secret"].(map[string]any)
			if r.status != 200 || sec["secretValue"] != want {
				t.Errorf("get %s%s: %d %s, want %s", route, key, r.status, r.raw, want)
			}
		}
	}
}

func TestMissingFolder(t *testing.T) {
	s := newServer(t)
	for _, route := range []string{"/api/v3/secrets/raw", "/api/v4/secrets"} {
		for _, recursive := range []string{"false", "true"} {
			for _, env := range []string{"dev", "qa"} { // qa: an unknown environment looks the same
				q := v4Query(s, env, "/nowhere")
				q.Set("recursive", recursive)
				r := call(t, s, "GET", route, q, nil, "tok")
				if r.status != 404 || r.body["error"] != "SecretPathNotFound" {
					t.Errorf("%s %s recursive=%s: %d %s", route, env, recursive, r.status, r.raw)
				}
			}
		}
	}
	s.EmptyMissingFolders(true)
	r := call(t, s, "GET", "/api/v4/secrets", v4Query(s, "qa", "/nowhere"), nil, "tok")
	if got := values(t, r); len(got) != 0 || r.body["imports"] == nil {
		t.Fatalf("older server, missing folder: %s", r.raw)
	}
	// The project is checked first, whatever the folder.
	q := v4Query(s, "dev", "/nowhere")
	q.Set("projectId", "nope")
	if r := call(t, s, "GET", "/api/v4/secrets", q, nil, "tok"); r.status != 404 || r.body["error"] != "NotFound" {
		t.Fatalf("unknown project: %d %s", r.status, r.raw)
	}
}

func TestRecursive(t *testing.T) {
	s := newServer(t)
	s.SetSecret("dev", "/a", "K", "1")
	s.SetSecret("dev", "/a/b", "K", "2")
	s.SetSecret("dev", "/a/b/c", "L", "3")
	s.SetSecret("dev", "/a/secret", "S", "s")
	s.SetSecret("dev", "/ab", "K", "no")
	s.SetSecret("dev", "/lib1", "X", "lib1")
	s.SetSecret("dev", "/lib2", "Y", "lib2")
	s.AddImport("dev", "/a/b", "dev", "/lib1")
	s.AddImport("dev", "/a", "dev", "/lib2")
	s.AddImport("dev", "/a/b/c", "dev", "/lib2") // the same source: one block
	s.AddToken("narrow", infisicaltest.DenyFolder("dev", "/a/secret"))
	q := v4Query(s, "dev", "/a")
	q.Set("recursive", "true")
	for _, tok := range []string{"tok", "narrow"} {
		r := call(t, s, "GET", "/api/v4/secrets", q, nil, tok)
		var got []string
		for _, x := range r.body["secrets"].([]any) {
			m := x.(map[string]any)
			got = append(got, m["secretPath"].(string)+":"+m["secretKey"].(string))
		}
		want := "/a:K /a/b:K /a/b/c:L /a/secret:S"
		if tok == "narrow" {
			want = "/a:K /a/b:K /a/b/c:L" // what it may not read is left out, not refused
		}
		if strings.Join(got, " ") != want {
			t.Errorf("%s: recursive = %v, want %s", tok, got, want)
		}
		// One flat list with no field naming the importing folder, by
		// position (folder by folder where positions tie), each source once.
		if got := importView(t, r); strings.Join(got, " ") != "dev:/lib2:Y=lib2 dev:/lib1:X=lib1" {
			t.Errorf("%s: recursive imports %v", tok, got)
		}
	}
	q.Set("secretPath", "/nowhere")
	if r := call(t, s, "GET", "/api/v4/secrets", q, nil, "tok"); r.status != 404 || r.body["error"] != "SecretPathNotFound" {
		t.Errorf("recursive list of a missing folder: %d %s", r.status, r.raw)
	}
}

func TestFolders(t *testing.T) {
	s := newServer(t)
	pid := s.ProjectID()
	mk := func(parent, name string) reply {
		return call(t, s, "POST", "/api/v1/folders", nil, map[string]string{"workspaceId": pid, "environment": "dev", "name": name, "path": parent}, "tok")
	}
	first := mk("/x/y", "z") // missing parents are created
	if first.status != 200 {
		t.Fatalf("create: %s", first.raw)
	}
	if f := first.body["folder"].(map[string]any); f["path"] != "/x/y/z" || f["name"] != "z" {
		t.Fatalf("folder %v", f)
	}
	// Creating it again is a 400, as on a current server: a client whose
	// first answer was lost sees this on its retry.
	if again := mk("/x/y", "z"); again.status != 400 || again.body["message"] != "Folder with name 'z' already exists in path '/x/y'" {
		t.Fatalf("create again: %d %s", again.status, again.raw)
	}
	list := func(route, path, recursive string) string {
		q := url.Values{"workspaceId": {pid}, "projectId": {pid}, "environment": {"dev"}, "path": {path}}
		if recursive != "" {
			q.Set("recursive", recursive)
		}
		r := call(t, s, "GET", route, q, nil, "tok")
		if r.status != 200 {
			t.Fatalf("list %s %s: %d %s", route, path, r.status, r.raw)
		}
		var names []string
		for _, f := range r.body["folders"].([]any) {
			m := f.(map[string]any)
			n := m["name"].(string)
			if rp, ok := m["relativePath"].(string); ok {
				n += "@" + rp
			}
			names = append(names, n)
		}
		return strings.Join(names, ",")
	}
	for _, tt := range []struct{ path, recursive, want string }{
		{"/", "", "x"}, {"/x", "", "y"}, {"/x/y", "", "z"}, {"/x/y/z", "", ""}, {"/nowhere", "", ""},
		{"/", "true", "x@/x,y@/x/y,z@/x/y/z"},
		{"/x", "yes", "y@/y,z@/y/z"}, // any string but "", 0 and false is true here
		{"/x", "FALSE", "y"},
	} {
		for _, route := range []string{"/api/v1/folders", "/api/v2/folders"} {
			if got := list(route, tt.path, tt.recursive); got != tt.want {
				t.Errorf("%s of %s recursive=%q = %s, want %s", route, tt.path, tt.recursive, got, tt.want)
			}
		}
	}
	if r := call(t, s, "GET", "/api/v2/folders", url.Values{"projectId": {pid}, "environment": {"dev"}}, nil, "tok"); r.status != 422 {
		t.Errorf("v2 list without path: %d", r.status)
	}

	s.SetSecret("dev", "/x/y/z", "K", "v")
	del := func(route, name, path string, force *bool) reply {
		body := map[string]any{"workspaceId": pid, "projectId": pid, "environment": "dev", "path": path}
		if force != nil {
			body["forceDelete"] = *force
		}
		return call(t, s, "DELETE", route+"/"+name, nil, body, "tok")
	}
	if r := del("/api/v2/folders", "y", "/x", nil); r.status != 400 || r.body["error"] != "deleteFolder" {
		t.Errorf("v2 delete of a folder that holds something: %d %s", r.status, r.raw)
	}
	if r := del("/api/v1/folders", "y", "/x", nil); r.status != 200 {
		t.Errorf("v1 delete (always forced): %d %s", r.status, r.raw)
	}
	if got := list("/api/v1/folders", "/", "true"); got != "x@/x" {
		t.Errorf("after the delete: %s", got)
	}
	if r := del("/api/v1/folders", "y", "/x", nil); r.status != 404 {
		t.Errorf("delete of a folder that is gone: %d %s", r.status, r.raw)
	}
	yes := true
	mk("/x", "w")
	if r := del("/api/v2/folders", "w", "/x", &yes); r.status != 200 {
		t.Errorf("v2 forced delete: %d %s", r.status, r.raw)
	}

	s.AddToken("ro", infisicaltest.ReadOnly())
	if r := call(t, s, "POST", "/api/v1/folders", nil, map[string]string{"workspaceId": pid, "environment": "dev", "name": "w"}, "ro"); r.status != 403 {
		t.Errorf("read-only folder create: %d", r.status)
	}
}

func TestLoginAndToken(t *testing.T) {
	s := newServer(t)
	s.SetSecret("dev", "/", "K", "v")
	s.AddKubernetesIdentity("k8s", "the-jwt")
	for _, tt := range []struct {
		path string
		body map[string]string
	}{
		{"/api/v1/auth/universal-auth/login", map[string]string{"clientId": "id", "clientSecret": "secret"}},
		{"/api/v1/auth/kubernetes-auth/login", map[string]string{"identityId": "k8s", "jwt": "the-jwt"}},
	} {
		r := call(t, s, "POST", tt.path, nil, tt.body, "")
		tok, _ := r.body["accessToken"].(string)
		// 30 days each: what attaching universal auth sets by default.
		if r.status != 200 || tok == "" || r.body["tokenType"] != "Bearer" || r.body["expiresIn"] != float64(2592000) || r.body["accessTokenMaxTTL"] != float64(2592000) {
			t.Fatalf("%s: %s", tt.path, r.raw)
		}
		if strings.Count(tok, ".") != 2 {
			t.Fatalf("%s: the token is not a JWT: %q", tt.path, tok)
		}
		if got := values(t, call(t, s, "GET", "/api/v3/secrets/raw", listQuery(s, "dev", "/"), nil, tok)); got["K"] != "v" {
			t.Fatalf("list with the new token: %v", got)
		}
		// TTL == Max TTL: a renew would outlive the Max TTL, so it is refused.
		if r := call(t, s, "POST", "/api/v1/auth/token/renew", nil, map[string]string{"accessToken": tok}, ""); r.status != 401 ||
			r.body["message"] != "Failed to renew MI access token past its Max TTL expiration" {
			t.Fatalf("renew: %d %s", r.status, r.raw)
		}
	}
}

func TestRateLimit(t *testing.T) {
	s := newServer(t)
	s.RateLimit(0.5, 2)
	var last reply
	for range 3 {
		last = call(t, s, "GET", "/api/v3/secrets/raw", listQuery(s, "dev", "/"), nil, "tok")
	}
	ra, err := strconv.Atoi(last.header.Get("Retry-After"))
	if last.status != 429 || err != nil || ra < 1 || last.body["error"] != "RateLimitExceeded" ||
		last.body["message"] != "Rate limit exceeded. Please try again in "+strconv.Itoa(ra)+" seconds" {
		t.Fatalf("third request: %d Retry-After=%q %s", last.status, last.header.Get("Retry-After"), last.raw)
	}
	s.RateLimit(0, 0)
	if r := call(t, s, "GET", "/api/v3/secrets/raw", listQuery(s, "dev", "/"), nil, "tok"); r.status != 200 {
		t.Fatalf("after removing the limit: %d", r.status)
	}
}

func TestFailNext(t *testing.T) {
	s := newServer(t)
	tests := []struct {
		status      int
		contentType string
	}{
		{502, "text/html"},
		{503, "text/html"},
		{429, "application/json"},
		{403, "application/json"},
	}
	for _, tt := range tests {
		s.FailNext(1, tt.status)
		r := call(t, s, "GET", "/api/v3/secrets/raw", listQuery(s, "dev", "/"), nil, "tok")
		if r.status != tt.status || !strings.HasPrefix(r.header.Get("Content-Type"), tt.contentType) {
			t.Errorf("FailNext(%d): %d %q", tt.status, r.status, r.header.Get("Content-Type"))
		}
		if tt.status == 429 && r.header.Get("Retry-After") != "1" {
			t.Errorf("429 Retry-After %q", r.header.Get("Retry-After"))
		}
		if r := call(t, s, "GET", "/api/v3/secrets/raw", listQuery(s, "dev", "/"), nil, "tok"); r.status != 200 {
			t.Errorf("after FailNext(1, %d): %d", tt.status, r.status)
		}
	}
}

func TestStallResetAndRaw(t *testing.T) {
	s := newServer(t)
	s.SetSecret("dev", "/", "K", strings.Repeat("v", 100))

	s.Stall(time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	req, _ := http.NewRequestWithContext(ctx, "GET", s.URL+"/api/status", nil)
	start := time.Now()
	_, err := http.DefaultClient.Do(req)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Fatalf("stalled request: %v after %v", err, time.Since(start))
	}
	s.Stall(0)

	s.ResetMidAnswer(1)
	resp, err := http.Get(s.URL + "/api/v3/secrets/raw?" + listQuery(s, "dev", "/").Encode())
	if err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("reset answer read: %v, want unexpected EOF", err)
	}
	reqs := s.Requests()
	if reqs[len(reqs)-1].Status != 0 {
		t.Fatalf("reset answer recorded as %d", reqs[len(reqs)-1].Status)
	}

	s.RawAnswer(infisicaltest.RawAnswer{Status: 200, ContentType: "text/plain", Body: []byte("hello")})
	r := call(t, s, "GET", "/api/v3/secrets/raw", nil, nil, "")
	if r.status != 200 || string(r.raw) != "hello" || r.header.Get("Content-Type") != "text/plain" {
		t.Fatalf("raw answer: %d %q %s", r.status, r.header.Get("Content-Type"), r.raw)
	}
	if r := call(t, s, "GET", "/api/v3/secrets/raw", listQuery(s, "dev", "/"), nil, "tok"); r.status != 200 || values(t, r)["K"] == "" {
		t.Fatalf("after the raw answer: %s", r.raw)
	}

	if n := s.Count("GET", "/api/v3/secrets/raw"); n != 3 {
		t.Fatalf("Count = %d, want 3", n)
	}
	s.ResetCounts()
	if n := s.Count("", "/"); n != 0 {
		t.Fatalf("after ResetCounts: %d", n)
	}
}

const seedYAML = `
project: 00000000-0000-4000-8000-00000000abcd
identities:
  - client_id: demo-client
    client_secret: demo-secret
  - client_id: narrow
    client_secret: narrow-secret
    deny: [{env: dev, path: /services}]
tokens: [demo-token]
kubernetes:
  - {identity_id: k8s-id, jwt: k8s-jwt}
environments:
  dev:
    folders:
      /shared/db: {POSTGRES_DSN: "postgres://db", POSTGRES_POOL_MIN: 2}
      /shared/env: {LOG_LEVEL: debug}
      /services/billing/db: {POSTGRES_DSN: "${dev.shared.db.POSTGRES_DSN}?app=billing"}
    imports:
      - {path: /services/billing/env, from: /shared/env}
      - {path: /services/billing/env, from: /common, from_env: prod}
  prod:
    folders:
      /common: {REGION: eu}
  qa: {}
`

func TestSeed(t *testing.T) {
	seed, err := infisicaltest.LoadSeed(strings.NewReader(seedYAML))
	if err != nil {
		t.Fatal(err)
	}
	s := infisicaltest.NewServer()
	defer s.Close()
	s.ApplySeed(seed)
	if s.ProjectID() != "00000000-0000-4000-8000-00000000abcd" {
		t.Fatalf("project %s", s.ProjectID())
	}
	got := values(t, call(t, s, "GET", "/api/v3/secrets/raw", listQuery(s, "dev", "/services/billing/db"), nil, "demo-token"))
	if got["POSTGRES_DSN"] != "postgres://db?app=billing" {
		t.Fatalf("seeded reference: %v", got)
	}
	if got := values(t, call(t, s, "GET", "/api/v3/secrets/raw", listQuery(s, "dev", "/shared/db"), nil, "demo-token")); got["POSTGRES_POOL_MIN"] != "2" {
		t.Fatalf("seeded number: %v", got)
	}
	r := call(t, s, "GET", "/api/v3/secrets/raw", listQuery(s, "dev", "/services/billing/env"), nil, "demo-token")
	if imps := r.body["imports"].([]any); len(imps) != 2 {
		t.Fatalf("seeded imports: %s", r.raw)
	}
	if r := call(t, s, "GET", "/api/v3/secrets/raw", listQuery(s, "qa", "/"), nil, "demo-token"); r.status != 200 {
		t.Fatalf("empty environment qa: %s", r.raw)
	}
	login := call(t, s, "POST", "/api/v1/auth/universal-auth/login", nil, map[string]string{"clientId": "narrow", "clientSecret": "narrow-secret"}, "")
	tok := login.body["accessToken"].(string)
	if r := call(t, s, "GET", "/api/v3/secrets/raw", listQuery(s, "dev", "/services/billing/db"), nil, tok); r.status != 403 {
		t.Fatalf("denied seed identity: %d", r.status)
	}
	if r := call(t, s, "POST", "/api/v1/auth/kubernetes-auth/login", nil, map[string]string{"identityId": "k8s-id", "jwt": "k8s-jwt"}, ""); r.status != 200 {
		t.Fatalf("seeded kubernetes identity: %s", r.raw)
	}

	bad := []struct{ name, yaml, want string }{
		{"unknown field", "identities:\n  - client_id: a\n    clientsecret: b\n", "clientsecret"},
		{"missing secret", "identities:\n  - client_id: a\n", "identities[0]"},
		{"relative folder", "environments:\n  dev:\n    folders:\n      shared: {A: b}\n", "must start with /"},
		{"bad import", "environments:\n  dev:\n    imports:\n      - {path: /a, from: b}\n", "imports[0]"},
		{"not yaml", "project: [", "seed"},
	}
	for _, tt := range bad {
		if _, err := infisicaltest.LoadSeed(strings.NewReader(tt.yaml)); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want it to mention %q", tt.name, err, tt.want)
		}
	}
	if _, err := infisicaltest.LoadSeed(strings.NewReader("")); err != nil {
		t.Errorf("empty seed: %v", err)
	}
}

// TestClientTrustsTheServer: Client talks to a TLS server whose CA no one
// else trusts, as httptest.Server.Client does.
func TestClientTrustsTheServer(t *testing.T) {
	s := infisicaltest.NewTLSServer()
	defer s.Close()
	if _, err := http.Get(s.URL + "/api/status"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("the default client trusted the test CA: %v", err)
	}
	resp, err := s.Client().Get(s.URL + "/api/status")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.ProtoMajor != 1 {
		t.Errorf("%s %d, want HTTP/1.1 200 (no HTTP/2 without WithHTTP2)", resp.Proto, resp.StatusCode)
	}
}

// TestHTTP2 checks that WithHTTP2 serves h2 over TLS, so that a client's
// parallel requests share one connection as they do against Infisical.
func TestHTTP2(t *testing.T) {
	s := infisicaltest.NewUnstartedServer(infisicaltest.WithHTTP2())
	if err := s.StartTLS("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	resp, err := s.Client().Post(s.URL+"/api/v1/auth/universal-auth/login", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 2 {
		t.Errorf("protocol %s, want HTTP/2", resp.Proto)
	}
}
