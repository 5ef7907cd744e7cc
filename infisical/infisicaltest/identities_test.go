package infisicaltest_test

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"secret-init/infisical/infisicaltest"
)

// The provisioning routes, answered as Infisical's identity, universal-auth
// and membership services answer them to an identity token.

const org = infisicaltest.DefaultOrganization

// str digs a string out of a decoded JSON body: str(b, "identity", "id").
func str(body map[string]any, keys ...string) string {
	var v any = body
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		v = m[k]
	}
	s, _ := v.(string)
	if f, ok := v.(float64); ok {
		s = fmt.Sprint(f)
	}
	return s
}

// wantError checks an error answer's status, error name and message.
func wantError(t *testing.T, what string, r reply, status int, name, message string) {
	t.Helper()
	if r.status != status || r.body["error"] != name || r.body["message"] != message {
		t.Errorf("%s: %d %s, want %d error %q message %q", what, r.status, r.raw, status, name, message)
	}
	if !strings.HasPrefix(str(r.body, "reqId"), "req-") {
		t.Errorf("%s: no reqId: %s", what, r.raw)
	}
}

// newIdentity creates an identity with universal auth over the API and
// returns its id and client ID.
func newIdentity(t *testing.T, s *infisicaltest.Server, name string) (id, clientID string) {
	t.Helper()
	r := call(t, s, "POST", "/api/v1/identities", nil, map[string]any{"name": name, "organizationId": org}, "tok")
	if r.status != 200 {
		t.Fatalf("create identity: %d %s", r.status, r.raw)
	}
	id = str(r.body, "identity", "id")
	r = call(t, s, "POST", "/api/v1/auth/universal-auth/identities/"+id, nil, map[string]any{}, "tok")
	if r.status != 200 {
		t.Fatalf("attach universal auth: %d %s", r.status, r.raw)
	}
	return id, str(r.body, "identityUniversalAuth", "clientId")
}

// newSecret makes a client secret for id and returns it and its id.
func newSecret(t *testing.T, s *infisicaltest.Server, id string, body map[string]any) (secret, secretID string) {
	t.Helper()
	r := call(t, s, "POST", "/api/v1/auth/universal-auth/identities/"+id+"/client-secrets", nil, body, "tok")
	if r.status != 200 {
		t.Fatalf("create client secret: %d %s", r.status, r.raw)
	}
	return str(r.body, "clientSecret"), str(r.body, "clientSecretData", "id")
}

func membershipPath(s *infisicaltest.Server, id string) string {
	return "/api/v1/projects/" + s.ProjectID() + "/memberships/identities/" + id
}

// loginToken logs in and returns the access token.
func loginToken(t *testing.T, s *infisicaltest.Server, clientID, secret string) string {
	t.Helper()
	r := login(t, s, clientID, secret)
	if r.status != 200 {
		t.Fatalf("login: %d %s", r.status, r.raw)
	}
	return str(r.body, "accessToken")
}

func TestOrganizationAndProject(t *testing.T) {
	s := newServer(t)
	r := call(t, s, "GET", "/api/v1/identities/details", nil, nil, "tok")
	if r.status != 200 || str(r.body, "identityDetails", "organization", "id") != org {
		t.Fatalf("details: %d %s", r.status, r.raw)
	}
	r = call(t, s, "GET", "/api/v1/projects/"+s.ProjectID(), nil, nil, "tok")
	if r.status != 200 || str(r.body, "project", "id") != s.ProjectID() || str(r.body, "project", "orgId") != org {
		t.Fatalf("project: %d %s", r.status, r.raw)
	}
	var slugs []string
	for _, e := range r.body["project"].(map[string]any)["environments"].([]any) {
		slugs = append(slugs, e.(map[string]any)["slug"].(string))
	}
	if strings.Join(slugs, ",") != "dev,staging,prod" {
		t.Errorf("environments %v, want dev, staging, prod in that order", slugs)
	}
	wantError(t, "unknown project", call(t, s, "GET", "/api/v1/projects/nope", nil, nil, "tok"), 404, "NotFound", "Project with ID 'nope' not found")

	// Not a member: the sentence is the error's name (a ForbiddenRequestError
	// made with its text as name), on the project as on every secrets route.
	s.AddToken("outsider", infisicaltest.NotMember())
	wantError(t, "not a member", call(t, s, "GET", "/api/v1/projects/"+s.ProjectID(), nil, nil, "outsider"), 403, "You are not member of this project", "You are not allowed to access this resource")
	wantError(t, "list as non-member", call(t, s, "GET", "/api/v4/secrets", v4Query(s, "dev", "/"), nil, "outsider"), 403, "You are not member of this project", "You are not allowed to access this resource")
	wantError(t, "folders as non-member", call(t, s, "GET", "/api/v1/folders", url.Values{"workspaceId": {s.ProjectID()}, "environment": {"dev"}}, nil, "outsider"), 403, "You are not member of this project", "You are not allowed to access this resource")
}

func TestCreateAndFindIdentities(t *testing.T) {
	s := newServer(t)
	create := func(token string, body map[string]any) reply {
		return call(t, s, "POST", "/api/v1/identities", nil, body, token)
	}
	r := create("tok", map[string]any{"name": " app-runtime ", "organizationId": org})
	if r.status != 200 || str(r.body, "identity", "name") != "app-runtime" || str(r.body, "identity", "orgId") != org {
		t.Fatalf("create: %d %s", r.status, r.raw)
	}
	first := str(r.body, "identity", "id")
	got := call(t, s, "GET", "/api/v1/identities/"+first, nil, nil, "tok")
	if got.status != 200 || str(got.body, "identity", "role") != "no-access" || str(got.body, "identity", "identityId") != first {
		t.Errorf("the org role defaults to no-access: %d %s", got.status, got.raw)
	}
	// Names are not unique: a second create with the same name is a second identity.
	if r := create("tok", map[string]any{"name": "app-runtime", "organizationId": org}); r.status != 200 || str(r.body, "identity", "id") == first {
		t.Fatalf("second create: %d %s", r.status, r.raw)
	}
	create("tok", map[string]any{"name": "App-Admin", "organizationId": org})

	list := func(q url.Values) (names []string, total string) {
		r := call(t, s, "GET", "/api/v2/organizations/"+org+"/identity-memberships", q, nil, "tok")
		if r.status != 200 {
			t.Fatalf("list %v: %d %s", q, r.status, r.raw)
		}
		for _, m := range r.body["identityMemberships"].([]any) {
			names = append(names, str(m.(map[string]any), "identity", "name"))
		}
		return names, str(r.body, "totalCount")
	}
	names, total := list(url.Values{"search": {"APP-"}})
	if strings.Join(names, ",") != "App-Admin,app-runtime,app-runtime" || total != "3" {
		t.Errorf("search is a case-insensitive substring, sorted by name: %v (total %s)", names, total)
	}
	if names, total := list(url.Values{"search": {"app-"}, "offset": {"1"}, "limit": {"1"}}); len(names) != 1 || names[0] != "app-runtime" || total != "3" {
		t.Errorf("a page: %v (total %s)", names, total)
	}
	r = call(t, s, "GET", "/api/v2/organizations/"+org+"/identity-memberships", url.Values{"limit": {"0"}}, nil, "tok")
	if r.status != 422 || r.body["error"] != "ValidationFailure" {
		t.Errorf("limit 0: %d %s", r.status, r.raw)
	}

	wantError(t, "unknown identity", call(t, s, "GET", "/api/v1/identities/nope", nil, nil, "tok"), 404, "NotFound", "Failed to find identity with id nope")
	if r := create("tok", map[string]any{"organizationId": org}); r.status != 422 {
		t.Errorf("no name: %d %s", r.status, r.raw)
	}
	wantError(t, "another organisation", create("tok", map[string]any{"name": "x", "organizationId": "other"}), 403, "You are not allowed to access organization resource", "You are not allowed to access this resource")
	wantError(t, "unknown org role", create("tok", map[string]any{"name": "x", "organizationId": org, "role": "boss"}), 404, "NotFound", "Specified roles 'boss' was not found in the organization with ID '"+org+"'")

	// A runtime identity administers nothing; an org member may create
	// identities but grant no role.
	s.AddToken("ro", infisicaltest.ReadOnly())
	wantError(t, "runtime creates", create("ro", map[string]any{"name": "x", "organizationId": org}), 403, "PermissionDenied", "You are not allowed to create on identity")
	wantError(t, "runtime lists", call(t, s, "GET", "/api/v2/organizations/"+org+"/identity-memberships", nil, nil, "ro"), 403, "PermissionDenied", "You are not allowed to read on identity")
	s.AddToken("orgmember", infisicaltest.OrgRole("member"))
	if r := create("orgmember", map[string]any{"name": "y", "organizationId": org}); r.status != 200 {
		t.Errorf("an org member creates a no-access identity: %d %s", r.status, r.raw)
	}
	r = create("orgmember", map[string]any{"name": "y", "organizationId": org, "role": "admin"})
	wantError(t, "org member grants admin", r, 403, "PermissionBoundaryError", "Failed to create identity. Actor is missing permission grant-privileges on identity")
	if !strings.Contains(string(r.raw), `"missingPermissions":[{"action":"grant-privileges","subject":"identity"}]`) {
		t.Errorf("the boundary error names the missing permission in details: %s", r.raw)
	}
	if n := len(s.Identities("y")); n != 1 {
		t.Errorf("%d identities named y, want 1", n)
	}
}

func TestUniversalAuthAndClientSecrets(t *testing.T) {
	s := newServer(t)
	r := call(t, s, "POST", "/api/v1/identities", nil, map[string]any{"name": "svc", "organizationId": org}, "tok")
	id := str(r.body, "identity", "id")
	uaPath := "/api/v1/auth/universal-auth/identities/" + id
	wantError(t, "before attach", call(t, s, "GET", uaPath, nil, nil, "tok"), 404, "NotFound", "Failed to find universal auth for identity with ID "+id)
	wantError(t, "secret before attach", call(t, s, "POST", uaPath+"/client-secrets", nil, map[string]any{}, "tok"), 400, "BadRequest", "The identity does not have universal auth")
	if r := call(t, s, "POST", uaPath, nil, map[string]any{"accessTokenTTL": 10, "accessTokenMaxTTL": 5}, "tok"); r.status != 422 || !strings.Contains(string(r.raw), "Access Token TTL cannot be greater than Access Token Max TTL.") {
		t.Errorf("TTL above the max: %d %s", r.status, r.raw)
	}
	if r := call(t, s, "POST", uaPath, nil, map[string]any{"accessTokenTTL": "60"}, "tok"); r.status != 422 {
		t.Errorf("a TTL as a string: %d %s", r.status, r.raw)
	}
	r = call(t, s, "POST", uaPath, nil, map[string]any{"accessTokenTTL": 3600, "accessTokenMaxTTL": 86400}, "tok")
	clientID := str(r.body, "identityUniversalAuth", "clientId")
	if r.status != 200 || !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(clientID) ||
		str(r.body, "identityUniversalAuth", "accessTokenTTL") != "3600" || str(r.body, "identityUniversalAuth", "lockoutThreshold") != "3" {
		t.Fatalf("attach: %d %s", r.status, r.raw)
	}
	wantError(t, "attach twice", call(t, s, "POST", uaPath, nil, map[string]any{}, "tok"), 400, "BadRequest", "Failed to add universal auth to already configured identity")
	if r := call(t, s, "GET", uaPath, nil, nil, "tok"); r.status != 200 || str(r.body, "identityUniversalAuth", "clientId") != clientID {
		t.Errorf("get: %d %s", r.status, r.raw)
	}

	secret, secretID := newSecret(t, s, id, map[string]any{"description": " made by a test "})
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(secret) {
		t.Fatalf("a client secret is 64 hex characters: %q", secret)
	}
	if r := call(t, s, "POST", uaPath+"/client-secrets", nil, map[string]any{"ttl": "0"}, "tok"); r.status != 422 {
		t.Errorf("ttl as a string: %d %s", r.status, r.raw)
	}
	list := call(t, s, "GET", uaPath+"/client-secrets", nil, nil, "tok")
	entries, _ := list.body["clientSecretData"].([]any)
	if list.status != 200 || len(entries) != 1 {
		t.Fatalf("list: %d %s", list.status, list.raw)
	}
	e := entries[0].(map[string]any)
	if str(e, "id") != secretID || str(e, "description") != "made by a test" || str(e, "clientSecretPrefix") != secret[:4] || e["isClientSecretRevoked"] != false {
		t.Errorf("list entry: %v", e)
	}
	if strings.Contains(string(list.raw), secret) {
		t.Error("the list carries the secret; only its creation may")
	}

	// It logs in, with the TTL of this universal auth, and is then an
	// identity outside the project.
	r = login(t, s, clientID, secret)
	if r.status != 200 || str(r.body, "expiresIn") != "3600" {
		t.Fatalf("login with the new secret: %d %s", r.status, r.raw)
	}
	wantError(t, "fetch before membership", call(t, s, "GET", "/api/v4/secrets", v4Query(s, "dev", "/"), nil, str(r.body, "accessToken")), 403, "You are not member of this project", "You are not allowed to access this resource")

	// Revoked: no more logins (a wrong secret, as far as lockout goes), not
	// listed, and revoking again succeeds again.
	if r := call(t, s, "POST", uaPath+"/client-secrets/"+secretID+"/revoke", nil, nil, "tok"); r.status != 200 || r.body["clientSecretData"].(map[string]any)["isClientSecretRevoked"] != true {
		t.Fatalf("revoke: %d %s", r.status, r.raw)
	}
	wantError(t, "login after revoke", login(t, s, clientID, secret), 401, "UnauthorizedError", "Invalid credentials")
	if r := call(t, s, "POST", uaPath+"/client-secrets/"+secretID+"/revoke", nil, nil, "tok"); r.status != 200 {
		t.Errorf("revoke twice: %d %s", r.status, r.raw)
	}
	if r := call(t, s, "GET", uaPath+"/client-secrets", nil, nil, "tok"); len(r.body["clientSecretData"].([]any)) != 0 {
		t.Errorf("a revoked secret is listed: %s", r.raw)
	}
	wantError(t, "revoke unknown", call(t, s, "POST", uaPath+"/client-secrets/nope/revoke", nil, nil, "tok"), 404, "NotFound", "Failed to find identity with ID "+id)

	// Limits on use and lifetime revoke the secret at the login that finds them spent.
	limited, _ := newSecret(t, s, id, map[string]any{"numUsesLimit": 1})
	loginToken(t, s, clientID, limited)
	wantError(t, "second use", login(t, s, clientID, limited), 401, "UnauthorizedError", "Access denied due to client secret usage limit reached")
	short, _ := newSecret(t, s, id, map[string]any{"ttl": 60})
	s.AdvanceClock(61e9)
	wantError(t, "expired", login(t, s, clientID, short), 401, "UnauthorizedError", "Access denied due to expired client secret")
	wantError(t, "expired, again", login(t, s, clientID, short), 401, "UnauthorizedError", "Invalid credentials")

	// Only an organisation admin handles client secrets.
	s.ClearLockouts()
	s.AddToken("orgmember", infisicaltest.OrgRole("member"))
	wantError(t, "member creates a secret", call(t, s, "POST", uaPath+"/client-secrets", nil, map[string]any{}, "orgmember"), 403, "PermissionBoundaryError",
		"Failed to create client secret for identity.. Actor is missing permission create-token on identity")
	wantError(t, "member lists secrets", call(t, s, "GET", uaPath+"/client-secrets", nil, nil, "orgmember"), 403, "PermissionBoundaryError",
		"Failed to get identity client secret with more privileged role. Actor is missing permission get-token on identity")
	s.AddToken("ro", infisicaltest.ReadOnly())
	wantError(t, "runtime attaches", call(t, s, "POST", "/api/v1/auth/universal-auth/identities/"+id, nil, map[string]any{}, "ro"), 403, "PermissionDenied", "You are not allowed to create on identity")
	wantError(t, "unknown identity", call(t, s, "GET", "/api/v1/auth/universal-auth/identities/nope", nil, nil, "tok"), 404, "NotFound", "Failed to find identity with ID nope")
}

func TestProjectMemberships(t *testing.T) {
	s := newServer(t)
	s.SetSecret("dev", "/shared/db", "DSN", "value")
	id, clientID := newIdentity(t, s, "runtime")
	secret, _ := newSecret(t, s, id, map[string]any{})
	path := membershipPath(s, id)
	wantError(t, "before joining", call(t, s, "GET", path, nil, nil, "tok"), 404, "NotFound", "Identity membership not found")

	// An empty body is a no-access membership: the role field defaults to it.
	if r := call(t, s, "POST", path, nil, map[string]any{}, "tok"); r.status != 200 || str(r.body, "identityMembership", "identityId") != id {
		t.Fatalf("join with {}: %d %s", r.status, r.raw)
	}
	token := loginToken(t, s, clientID, secret)
	wantError(t, "no-access lists", call(t, s, "GET", "/api/v4/secrets", v4Query(s, "dev", "/shared/db"), nil, token), 403, "PermissionDenied", "You are not allowed to read on secrets")
	wantError(t, "join twice", call(t, s, "POST", path, nil, map[string]any{"roles": []any{map[string]any{"role": "viewer"}}}, "tok"), 400, "BadRequest", "Identity is already a member")

	// PATCH replaces the roles; the token already issued follows them.
	if r := call(t, s, "PATCH", path, nil, map[string]any{"roles": []any{map[string]any{"role": "viewer", "isTemporary": false}}}, "tok"); r.status != 200 {
		t.Fatalf("patch: %d %s", r.status, r.raw)
	}
	r := call(t, s, "GET", path, nil, nil, "tok")
	roles, _ := r.body["identityMembership"].(map[string]any)["roles"].([]any)
	if r.status != 200 || len(roles) != 1 || str(roles[0].(map[string]any), "role") != "viewer" || str(r.body, "identityMembership", "identity", "name") != "runtime" {
		t.Fatalf("get: %d %s", r.status, r.raw)
	}
	if r := call(t, s, "GET", "/api/v4/secrets", v4Query(s, "dev", "/shared/db"), nil, token); r.status != 200 {
		t.Errorf("a viewer lists: %d %s", r.status, r.raw)
	}

	wantError(t, "unknown role", call(t, s, "PATCH", path, nil, map[string]any{"roles": []any{map[string]any{"role": "reader"}}}, "tok"), 404, "NotFound", "Specified roles 'reader' was not found in the project with ID '"+s.ProjectID()+"'")
	if r := call(t, s, "PATCH", path, nil, map[string]any{"roles": []any{}}, "tok"); r.status != 422 {
		t.Errorf("patch with no role: %d %s", r.status, r.raw)
	}
	temp := map[string]any{"role": "member", "isTemporary": true, "temporaryMode": "relative", "temporaryRange": "1h", "temporaryAccessStartTime": "2026-01-01T00:00:00Z"}
	wantError(t, "only temporary roles", call(t, s, "PATCH", path, nil, map[string]any{"roles": []any{temp}}, "tok"), 400, "BadRequest", "Identity must have at least one permanent role")
	other, _ := newIdentity(t, s, "other")
	wantError(t, "patch a non-member", call(t, s, "PATCH", membershipPath(s, other), nil, map[string]any{"roles": []any{map[string]any{"role": "viewer"}}}, "tok"), 400, "BadRequest", "Identity doesn't have membership")
	wantError(t, "unknown identity", call(t, s, "POST", membershipPath(s, "nope"), nil, map[string]any{"roles": []any{map[string]any{"role": "viewer"}}}, "tok"), 400, "BadRequest", "Identity nope is missing organization membership")

	// Adding members: a project member may not grant roles, a viewer may
	// not even ask.
	s.AddToken("projmember", infisicaltest.ProjectRole("member"))
	wantError(t, "member grants", call(t, s, "POST", membershipPath(s, other), nil, map[string]any{"roles": []any{map[string]any{"role": "viewer"}}}, "projmember"), 403, "PermissionBoundaryError",
		"Failed to create identity project membership. Actor is missing permission grant-privileges on identity")
	s.AddToken("viewer", infisicaltest.ReadOnly())
	wantError(t, "viewer adds", call(t, s, "POST", membershipPath(s, other), nil, map[string]any{"roles": []any{map[string]any{"role": "viewer"}}}, "viewer"), 403, "PermissionDenied", "You are not allowed to create on identity")
	if r := call(t, s, "GET", path, nil, nil, "viewer"); r.status != 200 {
		t.Errorf("a viewer reads memberships: %d %s", r.status, r.raw)
	}
	if got := s.Identities("runtime"); len(got) != 1 || strings.Join(got[0].ProjectRoles, ",") != "viewer" || got[0].ClientID != clientID {
		t.Errorf("Identities: %+v", got)
	}
}

// TestRolesOnWrites: a viewer gets 403 on every write, secrets and
// folders alike; a member may write.
func TestRolesOnWrites(t *testing.T) {
	s := newServer(t)
	s.SetSecret("dev", "/app", "K", "v")
	s.AddToken("viewer", infisicaltest.ReadOnly())
	s.AddToken("member", infisicaltest.ProjectRole("member"), infisicaltest.OrgRole("no-access"))
	pid := s.ProjectID()
	body := func(extra map[string]any) map[string]any {
		b := map[string]any{"projectId": pid, "environment": "dev", "secretPath": "/app", "secretValue": "x"}
		for k, v := range extra {
			b[k] = v
		}
		return b
	}
	writes := []struct {
		name, method, path string
		body               map[string]any
		action, subject    string
	}{
		{"create", "POST", "/api/v4/secrets/NEW", body(nil), "create", "secrets"},
		{"update", "PATCH", "/api/v4/secrets/K", body(nil), "edit", "secrets"},
		{"batch create", "POST", "/api/v4/secrets/batch", body(map[string]any{"secrets": []any{map[string]any{"secretKey": "B", "secretValue": "x"}}}), "create", "secrets"},
		{"batch upsert", "PATCH", "/api/v4/secrets/batch", body(map[string]any{"mode": "upsert", "secrets": []any{map[string]any{"secretKey": "C", "secretValue": "x"}}}), "create", "secrets"},
		{"batch update", "PATCH", "/api/v4/secrets/batch", body(map[string]any{"secrets": []any{map[string]any{"secretKey": "K", "secretValue": "y"}}}), "edit", "secrets"},
		{"folder", "POST", "/api/v1/folders", map[string]any{"workspaceId": pid, "environment": "dev", "name": "new", "path": "/"}, "create", "secret-folders"},
		{"delete", "DELETE", "/api/v4/secrets/K", body(nil), "delete", "secrets"},
		{"folder delete", "DELETE", "/api/v1/folders/app", map[string]any{"workspaceId": pid, "environment": "dev", "path": "/"}, "delete", "secret-folders"},
	}
	for _, w := range writes {
		wantError(t, "viewer "+w.name, call(t, s, w.method, w.path, nil, w.body, "viewer"), 403, "PermissionDenied", "You are not allowed to "+w.action+" on "+w.subject)
	}
	if got := values(t, call(t, s, "GET", "/api/v4/secrets", v4Query(s, "dev", "/app"), nil, "viewer")); got["K"] != "v" {
		t.Errorf("the viewer's writes changed something: %v", got)
	}
	for _, w := range writes {
		if r := call(t, s, w.method, w.path, nil, w.body, "member"); r.status != 200 {
			t.Errorf("member %s: %d %s", w.name, r.status, r.raw)
		}
	}
}
