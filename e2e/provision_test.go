package e2e

// provision, then seed, then a start: from an empty Infisical project to
// a running service, with the real binary against the test server. The
// client secrets are made by the server, so each is registered for the
// leak check as soon as the server has made it.

import (
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"secret-init/dotenv"
	"secret-init/infisical/infisicaltest"
)

// provisionDotenv is a service's .env before provision: settings,
// comments and blank lines that must all stay where they are.
const provisionDotenv = "# the service's own settings\nAPP_MODE=demo\n\n# Infisical, filled by provision:\nINFISICAL_ENVIRONMENT=dev\n\nSLACK_CHANNEL_ID=" + canaryDotenv + " # kept\n"

// newEmptyProject is node_store's contracts against a project that holds
// nothing yet, with an admin token (made by Infisical's bootstrap, say)
// and a runtime identity seeded read-only.
func newEmptyProject(t *testing.T) *fixture {
	t.Helper()
	seed := infisicaltest.Seed{
		Tokens:     []string{canaryToken},
		Identities: []infisicaltest.SeedIdentity{{ClientID: "viewer", ClientSecret: canaryClient, ReadOnly: true}},
	}
	return newFixture(t, seed, map[string]string{
		"contracts/node_store/contract.yaml": storeContract,
		".env":                               provisionDotenv,
	}, false)
}

// adminEnv is the environment of a provision run with the admin token.
func (f *fixture) adminEnv(extra ...string) []string {
	return append([]string{"INFISICAL_PROJECT_ID=" + f.Server.ProjectID(), "INFISICAL_TOKEN=" + canaryToken}, extra...)
}

// provision runs `secret-init provision ARGS` in the fixture's folder and
// checks its output against every client secret the server has made,
// this run's included.
func (f *fixture) provision(env []string, args ...string) Result {
	f.t.Helper()
	argv := append([]string{"provision", "--contracts", f.Contracts}, args...)
	r := Run(f.t, Spec{Args: argv, Env: f.env(env...), Dir: f.Dir})
	registerSecrets(f.Server.IssuedClientSecrets()...)
	noLeak(f.t, r)
	return r
}

// readEnvFile parses a file provision wrote.
func readEnvFile(t *testing.T, path string) *dotenv.File {
	t.Helper()
	d, err := dotenv.Read(path, true)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// onlyReads fails the test for any request but a GET (and a login) since
// the counts were reset.
func onlyReads(t *testing.T, srv *infisicaltest.Server, what string) {
	t.Helper()
	for _, r := range srv.Requests() {
		if r.Method != http.MethodGet && r.Path != "/api/v1/auth/universal-auth/login" {
			t.Errorf("%s sent %s %s", what, r.Method, r.Path)
		}
	}
}

func TestProvisionFromAnEmptyProject(t *testing.T) {
	f := newEmptyProject(t)
	dotenvPath, adminPath := filepath.Join(f.Dir, ".env"), filepath.Join(f.Dir, "admin.env")
	before, _ := os.ReadFile(dotenvPath)
	identities := len(f.Server.Identities(""))

	// A dry run writes nothing, on the server or on disk.
	r := f.provision(f.adminEnv(), "--admin-env-file", "admin.env", "--log-level", "trace")
	wantCode(t, r, 0)
	wantLines(t, r.Stdout, "dry run, nothing is written", "CREATE identity secret-init-runtime (read-only)",
		"CREATE identity secret-init-admin (read-write)", "WRITE .env: INFISICAL_ADDR, INFISICAL_PROJECT_ID, INFISICAL_CLIENT_ID, INFISICAL_CLIENT_SECRET",
		"CREATE folder dev:/shared/db", "would change 13, failed 0")
	onlyReads(t, f.Server, "a dry run")
	if after, _ := os.ReadFile(dotenvPath); string(after) != string(before) || exists(adminPath) || len(f.Server.Identities("")) != identities {
		t.Fatalf("a dry run changed something: .env %q, admin.env there %v", after, exists(adminPath))
	}

	// Execute, with every request traced: both identities, their roles, the
	// folders, the two files.
	r = f.provision(f.adminEnv(), "--admin-env-file", "admin.env", "--execute", "--log-level", "trace")
	wantCode(t, r, 0)
	wantLines(t, r.Stdout, "CREATE identity secret-init-runtime (read-only)", "CREATE role of secret-init-runtime in the project (viewer: read-only)",
		"CREATE role of secret-init-admin in the project (member: read-write)", "WRITE admin.env: ", "changed 13, failed 0")
	for name, role := range map[string]string{"secret-init-runtime": "viewer", "secret-init-admin": "member"} {
		got := f.Server.Identities(name)
		if len(got) != 1 || !slices.Equal(got[0].ProjectRoles, []string{role}) || len(got[0].ClientSecrets) != 1 {
			t.Errorf("%s: %+v", name, got)
		}
	}
	for _, p := range []string{dotenvPath, adminPath} {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v (%v), want 0600", p, fi.Mode(), err)
		}
	}
	after, _ := os.ReadFile(dotenvPath)
	if !strings.HasPrefix(string(after), provisionDotenv) {
		t.Errorf(".env lost or moved its own lines:\n%s", after)
	}
	rt := readEnvFile(t, dotenvPath)
	if rt.Values["INFISICAL_CLIENT_ID"] != f.Server.Identities("secret-init-runtime")[0].ClientID || rt.Values["INFISICAL_PROJECT_ID"] != f.Server.ProjectID() || rt.Values["INFISICAL_ADDR"] != f.Server.URL {
		t.Errorf(".env: %v", rt.Keys)
	}

	// The runtime reads and may not write: seed with it fails, with the 403.
	r = Run(t, Spec{Args: []string{"seed", "--contracts", f.Contracts, "--execute"}, Env: f.env(), Dir: f.Dir})
	wantCode(t, r, 1)
	wantLines(t, r.Stdout, "FAILED /shared/db/POSTGRES_DSN: ", "status 403 Forbidden", "You are not allowed to create on secrets")
	// The admin may.
	values := f.write("values.env", "POSTGRES_DSN="+canaryDSN+"\nSTRIPE_API_KEY="+canaryStripe+"\n")
	r = Run(t, Spec{Args: []string{"seed", "--env-file", "admin.env", "--contracts", f.Contracts, "--execute", "--set-values", "--import-env", values}, Env: f.env(), Dir: f.Dir})
	wantCode(t, r, 0)
	wantLines(t, r.Stdout, "CREATE /shared/db/POSTGRES_DSN (value from "+values+")", "failed 0")

	// A start with the runtime's .env logs in and fetches.
	r = f.start(nil, "--log-level", "debug")
	wantCode(t, r, 0)
	wantEnv(t, f.childEnv(), map[string]string{"POSTGRES_DSN": canaryDSN, "STRIPE_API_KEY": canaryStripe, "SLACK_CHANNEL_ID": canaryDotenv, "APP_MODE": "demo"})

	// A second run changes nothing, and says so.
	f.Server.ResetCounts()
	r = f.provision(f.adminEnv(), "--admin-env-file", "admin.env", "--execute", "--log-format", "console", "--log-level", "debug")
	wantCode(t, r, 0)
	wantLines(t, r.Stdout, "SKIP identity secret-init-runtime (exists)", "SKIP client secret of secret-init-admin (one made by secret-init is in admin.env)",
		"SKIP .env (up to date)", "SKIP folder dev:/shared/env (exists)", "Summary: nothing to change")
	onlyReads(t, f.Server, "a second run")
	if again, _ := os.ReadFile(dotenvPath); string(again) != string(after) {
		t.Errorf("a second run rewrote .env")
	}
}

func TestProvisionRotate(t *testing.T) {
	f := newEmptyProject(t)
	wantCode(t, f.provision(f.adminEnv(), "--execute"), 0)
	old := readEnvFile(t, filepath.Join(f.Dir, ".env")).Values["INFISICAL_CLIENT_SECRET"]

	r := f.provision(f.adminEnv(), "--execute", "--rotate", "--log-level", "trace", "--log-format", "json")
	wantCode(t, r, 0)
	wantLines(t, r.Stdout, "CREATE client secret of secret-init-runtime (--rotate; ", "WRITE .env: INFISICAL_CLIENT_SECRET", "REVOKE client secret ",
		"SKIP client secret of secret-init-admin (no --admin-env-file)")
	if i, j := strings.Index(r.Stdout, "WRITE .env"), strings.Index(r.Stdout, "REVOKE"); i < 0 || j < i {
		t.Errorf("the old secret is revoked before the new one is written out:\n%s", r.Stdout)
	}
	rotated := readEnvFile(t, filepath.Join(f.Dir, ".env")).Values["INFISICAL_CLIENT_SECRET"]
	if rotated == "" || rotated == old {
		t.Fatal("--rotate left the secret as it was")
	}
	// The new secret logs in; the old one no longer does. (--required
	// makes a refused login stop the start.)
	for k, v := range map[string]string{"POSTGRES_DSN": canaryDSN, "POSTGRES_POOL_MIN": "1", "POSTGRES_POOL_MAX": "2", "POSTGRES_TIMEOUT_MS": "3"} {
		f.Server.SetSecret("dev", "/shared/db", k, v)
	}
	f.Server.SetSecret("dev", "/shared/env", "STRIPE_API_KEY", canaryStripe)
	f.Server.SetSecret("dev", "/shared/env", "SLACK_CHANNEL_ID", canaryInfis)
	wantCode(t, f.start(nil, "--required"), 0)
	wantEnv(t, f.childEnv(), map[string]string{"STRIPE_API_KEY": canaryStripe})
	r = f.start([]string{"INFISICAL_CLIENT_SECRET=" + old}, "--required")
	clearError(t, r, f.ran(), 125, "status 401", "Invalid credentials")
}

func TestProvisionRefusesAReadOnlyIdentity(t *testing.T) {
	f := newEmptyProject(t)
	before, _ := os.ReadFile(filepath.Join(f.Dir, ".env"))
	env := []string{"INFISICAL_PROJECT_ID=" + f.Server.ProjectID(), "INFISICAL_CLIENT_ID=viewer", "INFISICAL_CLIENT_SECRET=" + canaryClient}
	f.Server.ResetCounts()
	r := f.provision(env, "--execute", "--runtime-env-file", "runtime.env", "--log-level", "trace")
	clearError(t, r, false, 1, "cannot administer project "+f.Server.ProjectID(), "status 403 Forbidden", "You are not allowed to read on identity")
	var errors []string
	for _, l := range strings.Split(strings.TrimSpace(r.Stderr), "\n") {
		if strings.Contains(l, `"level":"error"`) {
			errors = append(errors, l)
		}
	}
	if len(errors) != 1 {
		t.Errorf("%d error lines, want one:\n%s", len(errors), r.Stderr)
	}
	onlyReads(t, f.Server, "a refused run")
	if after, _ := os.ReadFile(filepath.Join(f.Dir, ".env")); string(after) != string(before) || exists(filepath.Join(f.Dir, "runtime.env")) {
		t.Error("a refused run wrote a file")
	}
}

// TestBootstrapExampleMakeRun runs the second script behind `make run`:
// provision, seed, a refused seed as the runtime, the start, provision
// again; no warning on the way, and no client secret in its output (the
// script shows .env with the secret masked).
func TestBootstrapExampleMakeRun(t *testing.T) {
	r := runExample(t, "../testdata/bootstrap/run.sh")
	wantCode(t, r, 0)
	for _, bad := range []string{`"level":"warn"`, `"level":"error"`} {
		if strings.Contains(r.Stdout+r.Stderr, bad) {
			t.Errorf("the happy path has a %s line:\n%s\n%s", bad, r.Stdout, r.Stderr)
		}
	}
	wantLines(t, r.Stdout, "CREATE identity secret-init-runtime (read-only)", "CREATE role of secret-init-admin in the project (member: read-write)",
		"INFISICAL_CLIENT_SECRET=<64 hex characters>", "created 11, updated 0, skipped 0, failed 0",
		"status 403 Forbidden", "You are not allowed to create on secrets", "STRIPE_API_KEY = <15 chars>",
		"== provision again", "Summary: nothing to change", "== What happened")
	if n := strings.Count(r.Stdout, "(not set)"); n != 1 {
		t.Errorf("%d keys not set, want only UNDECLARED_ADMIN_PASSWORD:\n%s", n, r.Stdout)
	}
	if m := regexp.MustCompile(`[0-9a-f]{64}`).FindString(r.Stdout + r.Stderr); m != "" {
		t.Errorf("a client secret is in the output:\n%s", r.Stdout)
	}
}
