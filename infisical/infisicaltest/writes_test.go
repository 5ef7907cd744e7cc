package infisicaltest_test

import (
	"net/url"
	"sort"
	"strings"
	"testing"

	"secret-init/infisical/infisicaltest"
)

// getSecret reads one key's raw stored value and comment through v4.
func getSecret(t *testing.T, s *infisicaltest.Server, path, key string) (value, comment string, ok bool) {
	t.Helper()
	q := v4Query(s, "dev", path)
	q.Set("expandSecretReferences", "false")
	q.Set("include_imports", "false")
	q.Set("includeImports", "false")
	r := call(t, s, "GET", "/api/v4/secrets/"+url.PathEscape(key), q, nil, "tok")
	if r.status != 200 {
		return "", "", false
	}
	sec := r.body["secret"].(map[string]any)
	return sec["secretValue"].(string), sec["secretComment"].(string), true
}

// TestWriteTrimsValues: both API versions store the value the way their
// zod schema transforms it.
func TestWriteTrimsValues(t *testing.T) {
	s := newServer(t)
	s.SetSecret("dev", "/w", "SEED", "x")
	pid := s.ProjectID()
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"  spaced  ", "spaced"},
		{"\tline\n", "line\n"},       // one trailing newline is kept
		{"a\n\n", "a\n"},             // only one
		{"\n\nlead", "lead"},         // leading newlines go
		{"\u00a0nbsp\u3000", "nbsp"}, // Unicode spaces are trimmed as JavaScript trims them
		{"\ufeffbom", "bom"},         // so is a BOM
		{"\u0085nel", "\u0085nel"},   // but not NEL, which Go's TrimSpace would take
		{"in side", "in side"},
	}
	for i, tt := range tests {
		key := "K" + string(rune('A'+i))
		route, body := "/api/v3/secrets/raw/"+key, map[string]any{"workspaceId": pid, "environment": "dev", "secretPath": "/w", "secretValue": tt.in}
		if i%2 == 1 {
			route, body = "/api/v4/secrets/"+key, map[string]any{"projectId": pid, "environment": "dev", "secretPath": "/w", "secretValue": tt.in}
		}
		if r := call(t, s, "POST", route, nil, body, "tok"); r.status != 200 {
			t.Fatalf("create %q: %d %s", tt.in, r.status, r.raw)
		}
		if got, _, _ := getSecret(t, s, "/w", key); got != tt.want {
			t.Errorf("create %q stored %q, want %q", tt.in, got, tt.want)
		}
		body["secretValue"] = " again " + tt.in
		if r := call(t, s, "PATCH", route, nil, body, "tok"); r.status != 200 {
			t.Fatalf("update %q: %d %s", tt.in, r.status, r.raw)
		}
		if got, _, _ := getSecret(t, s, "/w", key); !strings.HasPrefix(got, "again") {
			t.Errorf("update %q stored %q", tt.in, got)
		}
	}
}

func TestWriteCommentRenameReferenceDelete(t *testing.T) {
	s := newServer(t)
	pid := s.ProjectID()
	s.SetSecret("dev", "/w", "OTHER", "o")
	body := func(kv ...any) map[string]any {
		m := map[string]any{"projectId": pid, "environment": "dev", "secretPath": "/w"}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	// A reference to nothing is accepted on write, and stays literal on read.
	if r := call(t, s, "POST", "/api/v4/secrets/K", nil, body("secretValue", "${dev.nowhere.GHOST}", "secretComment", " why "), "tok"); r.status != 200 {
		t.Fatalf("create with a dangling reference: %d %s", r.status, r.raw)
	}
	if v, c, _ := getSecret(t, s, "/w", "K"); v != "${dev.nowhere.GHOST}" || c != "why" {
		t.Fatalf("stored %q, comment %q", v, c)
	}
	lst := call(t, s, "GET", "/api/v4/secrets", v4Query(s, "dev", "/w"), nil, "tok")
	for _, x := range lst.body["secrets"].([]any) {
		if m := x.(map[string]any); m["secretKey"] == "K" && (m["secretComment"] != "why" || m["secretValue"] != "${dev.nowhere.GHOST}") {
			t.Errorf("listed %v", m)
		}
	}
	// An update without a comment keeps it; newSecretName renames.
	if r := call(t, s, "PATCH", "/api/v4/secrets/K", nil, body("secretValue", "v2", "newSecretName", "RENAMED"), "tok"); r.status != 200 {
		t.Fatalf("rename: %d %s", r.status, r.raw)
	}
	if _, _, ok := getSecret(t, s, "/w", "K"); ok {
		t.Error("the old name is still there")
	}
	if v, c, _ := getSecret(t, s, "/w", "RENAMED"); v != "v2" || c != "why" {
		t.Errorf("renamed: %q, comment %q", v, c)
	}
	for _, tt := range []struct {
		newName, want string
	}{{"OTHER", "Secret with the new name already exists"}, {" ", "New secret name cannot be empty"}} {
		if r := call(t, s, "PATCH", "/api/v3/secrets/raw/RENAMED", nil, body("workspaceId", pid, "secretValue", "v3", "newSecretName", tt.newName), "tok"); r.status != 400 || r.body["message"] != tt.want {
			t.Errorf("rename to %q: %d %s", tt.newName, r.status, r.raw)
		}
	}
	if v, _, _ := getSecret(t, s, "/w", "RENAMED"); v != "v2" {
		t.Errorf("a refused update changed the value to %q", v)
	}
	// Delete, in both versions.
	if r := call(t, s, "DELETE", "/api/v4/secrets/RENAMED", nil, body(), "tok"); r.status != 200 {
		t.Fatalf("v4 delete: %d %s", r.status, r.raw)
	}
	if r := call(t, s, "DELETE", "/api/v3/secrets/raw/OTHER", nil, map[string]any{"workspaceId": pid, "environment": "dev", "secretPath": "/w", "type": "shared"}, "tok"); r.status != 200 {
		t.Fatalf("v3 delete: %d %s", r.status, r.raw)
	}
	if got := values(t, call(t, s, "GET", "/api/v4/secrets", v4Query(s, "dev", "/w"), nil, "tok")); len(got) != 0 {
		t.Errorf("after deletes: %v", got)
	}
	// Only a reference to an existing secret the caller may not describe
	// is refused, in a single write and in a batch alike.
	s.SetSecret("dev", "/vault", "ROOT", "r")
	s.AddToken("no-vault", infisicaltest.HideSecrets("dev", "/vault", "*"))
	if r := call(t, s, "POST", "/api/v4/secrets/REF", nil, body("secretValue", "${dev.vault.ROOT}"), "no-vault"); r.status != 403 {
		t.Errorf("reference to an undescribable secret: %d %s", r.status, r.raw)
	}
	batchBody := body("mode", "upsert", "secrets", []map[string]string{{"secretKey": "REF", "secretValue": "${dev.vault.ROOT}"}})
	if r := call(t, s, "PATCH", "/api/v4/secrets/batch", nil, batchBody, "no-vault"); r.status != 403 {
		t.Errorf("batch with a reference to an undescribable secret: %d %s", r.status, r.raw)
	}
	if r := call(t, s, "POST", "/api/v4/secrets/REF", nil, body("secretValue", "${dev.vault.ROOT}"), "tok"); r.status != 200 {
		t.Errorf("the same reference by a caller who may: %d %s", r.status, r.raw)
	}
	s.AddToken("ro", infisicaltest.ReadOnly())
	s.SetSecret("dev", "/w", "KEEP", "k")
	if r := call(t, s, "DELETE", "/api/v4/secrets/KEEP", nil, body(), "ro"); r.status != 403 {
		t.Errorf("read-only delete: %d", r.status)
	}
}

func TestBatch(t *testing.T) {
	s := newServer(t)
	pid := s.ProjectID()
	s.SetSecret("dev", "/b", "OLD", "old")
	s.SetSecret("dev", "/c", "C1", "c1")
	entry := func(kv ...string) map[string]any {
		m := map[string]any{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	batch := func(method, mode string, entries ...map[string]any) reply {
		body := map[string]any{"projectId": pid, "environment": "dev", "secretPath": "/b", "secrets": entries}
		if mode != "" {
			body["mode"] = mode
		}
		return call(t, s, method, "/api/v4/secrets/batch", nil, body, "tok")
	}
	state := func() string {
		var out []string
		for _, f := range []string{"/b", "/c"} {
			q := v4Query(s, "dev", f)
			q.Set("expandSecretReferences", "false")
			got := values(t, call(t, s, "GET", "/api/v4/secrets", q, nil, "tok"))
			keys := make([]string, 0, len(got))
			for k := range got {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				out = append(out, f+":"+k+"="+got[k])
			}
		}
		return strings.Join(out, " ")
	}
	start := state()

	// Refusals change nothing.
	for _, tt := range []struct {
		name, method, mode string
		entries            []map[string]any
		status             int
		message            string
	}{
		{"create with an existing key", "POST", "", []map[string]any{entry("secretKey", "NEW", "secretValue", "n"), entry("secretKey", "OLD", "secretValue", "x")}, 400, "Secret already exists: OLD"},
		{"update a missing key", "PATCH", "", []map[string]any{entry("secretKey", "OLD", "secretValue", "x"), entry("secretKey", "A", "secretValue", "a"), entry("secretKey", "B", "secretValue", "b")}, 404, "Secret does not exist: A, B in path /b"},
		{"upsert into a missing folder", "PATCH", "upsert", []map[string]any{entry("secretKey", "OLD", "secretValue", "x"), entry("secretKey", "Z", "secretValue", "z", "secretPath", "/nowhere")}, 404, "Folder with path 'null' in environment with slug 'dev' not found"},
	} {
		r := batch(tt.method, tt.mode, tt.entries...)
		if r.status != tt.status || r.body["message"] != tt.message {
			t.Errorf("%s: %d %s", tt.name, r.status, r.raw)
		}
		if got := state(); got != start {
			t.Errorf("%s changed %s to %s", tt.name, start, got)
		}
	}

	// upsert: one request for a folder's keys, new and old, across folders.
	r := batch("PATCH", "upsert", entry("secretKey", "OLD", "secretValue", " new-old "), entry("secretKey", "NEW", "secretValue", "n", "secretComment", "c"),
		entry("secretKey", "C1", "secretValue", "c1b", "secretPath", "/c"))
	if r.status != 200 || len(r.body["secrets"].([]any)) != 3 {
		t.Fatalf("upsert: %d %s", r.status, r.raw)
	}
	if got, want := state(), "/b:NEW=n /b:OLD=new-old /c:C1=c1b"; got != want {
		t.Errorf("after upsert: %s, want %s", got, want)
	}
	// ignore: missing keys are skipped.
	if r := batch("PATCH", "ignore", entry("secretKey", "OLD", "secretValue", "ign"), entry("secretKey", "GHOST", "secretValue", "g")); r.status != 200 {
		t.Fatalf("ignore: %d %s", r.status, r.raw)
	}
	if got, want := state(), "/b:NEW=n /b:OLD=ign /c:C1=c1b"; got != want {
		t.Errorf("after ignore: %s, want %s", got, want)
	}
	// POST creates when nothing exists, v3 spelling included.
	body := map[string]any{"workspaceId": pid, "environment": "dev", "secretPath": "/c", "secrets": []map[string]any{entry("secretKey", "C2", "secretValue", "c2")}}
	if r := call(t, s, "POST", "/api/v3/secrets/batch/raw", nil, body, "tok"); r.status != 200 {
		t.Fatalf("v3 batch create: %d %s", r.status, r.raw)
	}
	if got, want := state(), "/b:NEW=n /b:OLD=ign /c:C1=c1b /c:C2=c2"; got != want {
		t.Errorf("after batch create: %s, want %s", got, want)
	}
	if r := batch("PATCH", "sideways", entry("secretKey", "OLD", "secretValue", "x")); r.status != 422 {
		t.Errorf("unknown mode: %d", r.status)
	}
	s.AddToken("ro", infisicaltest.ReadOnly())
	bodyRO := map[string]any{"projectId": pid, "environment": "dev", "secretPath": "/b", "mode": "upsert", "secrets": []map[string]any{entry("secretKey", "OLD", "secretValue", "ro")}}
	if r := call(t, s, "PATCH", "/api/v4/secrets/batch", nil, bodyRO, "ro"); r.status != 403 {
		t.Errorf("read-only batch: %d", r.status)
	}
}

// TestAPIVersions: an older server has no v4, a future one no v3; what is
// not mounted answers Fastify's route-not-found.
func TestAPIVersions(t *testing.T) {
	s := newServer(t)
	s.SetSecret("dev", "/", "K", "v")
	routes := map[string]string{"v3": "/api/v3/secrets/raw", "v4": "/api/v4/secrets"}
	check := func(name string, want map[string]int) {
		for v, route := range routes {
			for _, p := range []string{route, route + "/K"} {
				r := call(t, s, "GET", p, v4Query(s, "dev", "/"), nil, "tok")
				if r.status != want[v] {
					t.Errorf("%s: GET %s = %d, want %d", name, p, r.status, want[v])
				}
				if r.status == 404 && (r.body["error"] != "Not Found" || !strings.HasPrefix(r.body["message"].(string), "Route GET:"+p+"?")) {
					t.Errorf("%s: %s answered %s", name, p, r.raw)
				}
			}
		}
	}
	check("both", map[string]int{"v3": 200, "v4": 200})
	s.ServeV4(false)
	check("old server", map[string]int{"v3": 200, "v4": 404})
	s.ServeV4(true)
	s.ServeV3(false)
	check("future server", map[string]int{"v3": 404, "v4": 200})
}

// TestBooleans: v4's booleans are exactly "true" or "false"; v3 reads
// anything but "true" as false.
func TestBooleans(t *testing.T) {
	s := newServer(t)
	s.SetSecret("dev", "/", "K", "v")
	for _, name := range []string{"include_imports", "includeImports", "expandSecretReferences", "recursive", "viewSecretValue"} {
		for _, v := range []string{"1", "True", "yes", ""} {
			q := v4Query(s, "dev", "/")
			q.Set(name, v)
			if r := call(t, s, "GET", "/api/v4/secrets", q, nil, "tok"); r.status != 422 {
				t.Errorf("v4 %s=%q: %d, want 422", name, v, r.status)
			}
			if r := call(t, s, "GET", "/api/v3/secrets/raw", q, nil, "tok"); r.status != 200 {
				t.Errorf("v3 %s=%q: %d, want 200", name, v, r.status)
			}
		}
	}
	// workspaceId works in place of projectId.
	q := v4Query(s, "dev", "/")
	q.Del("projectId")
	q.Set("workspaceId", s.ProjectID())
	if r := call(t, s, "GET", "/api/v4/secrets", q, nil, "tok"); r.status != 200 {
		t.Errorf("v4 with workspaceId: %d %s", r.status, r.raw)
	}
}

// TestPermissionRules: keys a role may not describe are left out of a list
// without a word; values it may not read are refused, or masked.
func TestPermissionRules(t *testing.T) {
	s := newServer(t)
	s.SetSecret("dev", "/app", "PUBLIC", "p")
	s.SetSecret("dev", "/app", "ADMIN_PASSWORD", "pw")
	s.SetSecret("dev", "/keys", "K", "v")
	s.AddToken("no-admin", infisicaltest.HideSecrets("dev", "/app", "ADMIN_*"))
	s.AddToken("keys-only", infisicaltest.DescribeOnly("dev", "/keys"))

	if got := values(t, call(t, s, "GET", "/api/v4/secrets", v4Query(s, "dev", "/app"), nil, "no-admin")); len(got) != 1 || got["PUBLIC"] != "p" {
		t.Errorf("undescribable keys: %v, want them silently left out", got)
	}
	if r := call(t, s, "GET", "/api/v4/secrets/ADMIN_PASSWORD", v4Query(s, "dev", "/app"), nil, "no-admin"); r.status != 403 {
		t.Errorf("read of an undescribable key: %d", r.status)
	}
	if r := call(t, s, "GET", "/api/v4/secrets", v4Query(s, "dev", "/keys"), nil, "keys-only"); r.status != 403 || r.body["error"] != "PermissionDenied" {
		t.Errorf("list of values it may not read: %d %s", r.status, r.raw)
	}
	hidden := func(r reply) (string, bool) {
		sec := r.body["secrets"].([]any)[0].(map[string]any)
		return sec["secretValue"].(string), sec["secretValueHidden"].(bool)
	}
	q := v4Query(s, "dev", "/keys")
	q.Set("viewSecretValue", "false")
	if v, h := hidden(call(t, s, "GET", "/api/v4/secrets", q, nil, "tok")); v != "<hidden-by-infisical>" || !h {
		t.Errorf("viewSecretValue=false: %q hidden=%v", v, h)
	}
	s.MaskUnreadableValues(true)
	if v, h := hidden(call(t, s, "GET", "/api/v4/secrets", v4Query(s, "dev", "/keys"), nil, "keys-only")); v != "<hidden-by-infisical>" || !h {
		t.Errorf("masked: %q hidden=%v", v, h)
	}
	if v, h := hidden(call(t, s, "GET", "/api/v4/secrets", v4Query(s, "dev", "/keys"), nil, "tok")); v != "v" || h {
		t.Errorf("a reader: %q hidden=%v", v, h)
	}
}
