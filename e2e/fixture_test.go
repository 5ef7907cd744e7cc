package e2e

// The fixture: a service's contracts and .env in a temp dir and the
// Infisical test server started from a seed; the canaries that stand for
// secret values, and the one check that none of them leaks.

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"secret-init/infisical/infisicaltest"
)

// Canaries stand for secret values, one for each place a value can come
// from. Each says where it came from, so that a leak names its source, and
// each holds "CANARY", which no output of secret-init may contain.
const (
	canaryDSN      = "postgres://u:CANARY-infisical-dsn-91f3@db/x"
	canaryStripe   = "CANARY-infisical-stripe-5be0"
	canaryInfis    = "CANARY-infisical-value-c21d"
	canaryHidden   = "CANARY-infisical-undeclared-77e1" // in a fetched folder, not declared
	canaryPath     = "CANARY-infisical-path-folder-3a9e"
	canaryClient   = "CANARY-client-secret-aa17"
	canaryToken    = "CANARY-access-token-07fa"
	canaryDotenv   = "CANARY-dotenv-0c2d"
	canaryQuoted   = "CANARY-dotenv-quoted-9d02"
	canaryProcEnv  = "CANARY-process-env-58d1"
	canaryDeclared = "CANARY-process-env-declared-b410" // declared, and set in the environment
	canaryImport   = "CANARY-import-env-file-2f6c"
	canaryBadInput = "CANARY-bad-input-8e35" // inside malformed input
	canaryAnswer   = "CANARY-raw-answer-body-d7a0"
)

var canaries = []string{
	canaryDSN, canaryStripe, canaryInfis, canaryHidden, canaryPath, canaryClient, canaryToken,
	canaryDotenv, canaryQuoted, canaryProcEnv, canaryDeclared, canaryImport, canaryBadInput, canaryAnswer,
}

// serverSecrets are secrets a test server made during the tests (the
// client secrets provision asks for), which hold no "CANARY": noLeak
// looks for each whole, once a test has registered it.
var serverSecrets struct {
	sync.Mutex
	list []string
}

func registerSecrets(secrets ...string) {
	serverSecrets.Lock()
	serverSecrets.list = append(serverSecrets.list, secrets...)
	serverSecrets.Unlock()
}

// noLeak fails the test for every canary, whole or in part, and every
// registered server secret in what secret-init printed. Run calls it on
// every run.
func noLeak(t *testing.T, r Result) {
	t.Helper()
	serverSecrets.Lock()
	made := slices.Clone(serverSecrets.list)
	serverSecrets.Unlock()
	for stream, out := range map[string]string{"stdout": r.Stdout, "stderr": r.Stderr} {
		for _, s := range made {
			if strings.Contains(out, s) {
				t.Errorf("a client secret made by the server leaked into secret-init's %s (exit %d):\n%s", stream, r.Code, out)
			}
		}
		if !strings.Contains(out, "CANARY") {
			continue
		}
		which := "part of a canary"
		for _, c := range canaries {
			if strings.Contains(out, c) {
				which = c
			}
		}
		t.Errorf("secret value %s leaked into secret-init's %s (exit %d):\n%s", which, stream, r.Code, out)
	}
}

// storeContract needs the DATABASE transport (POSTGRES_* in /shared/db),
// a required and an optional environment dependency (/shared/env), and a
// library that needs nothing.
const storeContract = `name: node_store
metadata:
  transport_type: "DATABASE"
dependencies:
  - name: stripe
    type: environment
    env_var: STRIPE_API_KEY
    required: true
  - name: channel
    type: environment
    env_var: SLACK_CHANNEL_ID
    required: false
  - name: lib
    type: library
    library: httpx
`

// storeDotenv logs in as runtime; SLACK_CHANNEL_ID is only here, and
// POSTGRES_POOL_MIN is in Infisical too.
const storeDotenv = "INFISICAL_CLIENT_ID=runtime\nINFISICAL_CLIENT_SECRET=" + canaryClient +
	"\nINFISICAL_PROJECT_ID=" + infisicaltest.DefaultProject +
	"\nPOSTGRES_POOL_MIN=from-dotenv\nSLACK_CHANNEL_ID=" + canaryDotenv + "\n"

// storeSeed is what Infisical holds for node_store: every key but
// SLACK_CHANNEL_ID, and one undeclared key that must never be fetched.
func storeSeed() infisicaltest.Seed {
	return infisicaltest.Seed{
		Identities: []infisicaltest.SeedIdentity{{ClientID: "runtime", ClientSecret: canaryClient}},
		Environments: map[string]infisicaltest.SeedEnvironment{"dev": {Folders: map[string]map[string]string{
			"/shared/db": {
				"POSTGRES_DSN": canaryDSN, "POSTGRES_POOL_MIN": "2", "POSTGRES_POOL_MAX": "10",
				"POSTGRES_TIMEOUT_MS": "5000", "UNDECLARED_ADMIN_PASSWORD": canaryHidden,
			},
			"/shared/env": {"STRIPE_API_KEY": canaryStripe},
		}}},
	}
}

// fixture is one service's inputs and its seeded server, in a temp dir.
type fixture struct {
	t *testing.T
	*Service
	out string // where the command of start writes its environment
}

func newFixture(t *testing.T, seed infisicaltest.Seed, files map[string]string, tls bool) *fixture {
	t.Helper()
	svc, err := NewService(t.TempDir(), files, seed, tls)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)
	return &fixture{t: t, Service: svc, out: filepath.Join(svc.Dir, "child.env")}
}

// newStore is node_store's fixture, the one most tests start.
func newStore(t *testing.T) *fixture {
	t.Helper()
	return newFixture(t, storeSeed(), map[string]string{
		"contracts/node_store/contract.yaml": storeContract,
		".env":                               storeDotenv,
	}, false)
}

// write puts a file below the fixture's directory and returns its path.
func (f *fixture) write(name, content string) string {
	f.t.Helper()
	p, err := f.Write(name, content)
	if err != nil {
		f.t.Fatal(err)
	}
	return p
}

// env is the environment of a run against the server; extra comes last
// and wins (INFISICAL_ADDR= makes it a passthrough).
func (f *fixture) env(extra ...string) []string {
	return cleanEnv(append([]string{"INFISICAL_ADDR=" + f.Server.URL, "OUT=" + f.out}, extra...)...)
}

// spec is a start with the fixture's contracts and args, whose command
// writes its environment to f.out.
func (f *fixture) spec(env []string, args ...string) Spec {
	argv := append([]string{"--contracts", f.Contracts}, args...)
	return Spec{Args: append(argv, "--", "sh", "-c", `env > "$OUT"`), Env: f.env(env...), Dir: f.Dir}
}

// run runs s, with nothing left of an earlier run's command.
func (f *fixture) run(s Spec) Result {
	f.t.Helper()
	os.Remove(f.out)
	return Run(f.t, s)
}

// start runs a start; see spec.
func (f *fixture) start(env []string, args ...string) Result {
	f.t.Helper()
	return f.run(f.spec(env, args...))
}

// ran reports whether the command of the last start ran.
func (f *fixture) ran() bool { return exists(f.out) }

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// childEnv is what the command of the last start saw; nil if it never ran.
func (f *fixture) childEnv() map[string]string {
	data, err := os.ReadFile(f.out)
	if err != nil {
		return nil
	}
	return ParseEnv(data)
}

// wantCount fails the test unless the server answered n requests of
// method under path; why says what the number means.
func wantCount(t *testing.T, srv *infisicaltest.Server, method, path string, n int, why string) {
	t.Helper()
	if got := srv.Count(method, path); got != n {
		t.Errorf("%d %s %s requests, want %d (%s)", got, method, path, n, why)
	}
}

// wantEnv checks env against want, where "<unset>" means absent.
func wantEnv(t *testing.T, env map[string]string, want map[string]string) {
	t.Helper()
	if env == nil {
		t.Fatal("the command never ran")
	}
	for k, v := range want {
		got, ok := env[k]
		if v == "<unset>" {
			if ok {
				t.Errorf("%s reached the command; it must not", k)
			}
			continue
		}
		if !ok || got != v {
			t.Errorf("%s = %q (set %v), want %q", k, got, ok, v)
		}
	}
}

// clearError checks a start that must fail: the code, the command not
// run, and one short error that says each of want, without a stack trace.
func clearError(t *testing.T, r Result, ran bool, code int, want ...string) {
	t.Helper()
	if r.Code != code {
		t.Errorf("exit %d, want %d\nstderr: %s", r.Code, code, r.Stderr)
	}
	if ran {
		t.Errorf("the command ran although startup failed")
	}
	noStackTrace(t, r)
	for _, w := range want {
		if !strings.Contains(r.Stderr, w) {
			t.Errorf("stderr does not say %q:\n%s", w, r.Stderr)
		}
	}
}

func noStackTrace(t *testing.T, r Result) {
	t.Helper()
	for _, bad := range []string{"panic:", "goroutine ", "runtime.", ".go:"} {
		if strings.Contains(r.Stderr, bad) {
			t.Errorf("stderr has a stack trace or source position (%q):\n%s", bad, r.Stderr)
		}
	}
	if len(r.Stderr) > 16<<10 {
		t.Errorf("stderr is %d bytes; an error must be short", len(r.Stderr))
	}
}
