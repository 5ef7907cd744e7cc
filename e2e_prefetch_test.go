package main

// End-to-end tests of the prefetch: the real binary against the Infisical
// test server, with contracts and .env written per test.

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"secret-init/infisical/infisicaltest"
)

// A canary stands for a secret value: it must reach the child and never
// anything secret-init itself prints.
const (
	canaryDSN    = "postgres://u:CANARY-dsn-91f3@db/x"
	canaryStripe = "CANARY-stripe-5be0"
	canaryClient = "CANARY-client-secret-aa17"
	canaryDotenv = "CANARY-dotenv-0c2d"
	canaryHidden = "CANARY-undeclared-77e1"
)

var canaries = []string{canaryDSN, canaryStripe, canaryClient, canaryDotenv, canaryHidden, "CANARY"}

// fixture is one service's inputs: contracts, .env, and a seeded server.
type fixture struct {
	t         *testing.T
	dir       string // working directory of secret-init
	srv       *infisicaltest.Server
	contracts string
	out       string // where the child writes its environment
}

const dbContract = `name: node_store
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

func newFixture(t *testing.T, opts ...infisicaltest.Option) *fixture {
	t.Helper()
	f := &fixture{t: t, dir: t.TempDir()}
	f.contracts = filepath.Join(f.dir, "contracts")
	os.MkdirAll(filepath.Join(f.contracts, "node_store"), 0o755)
	f.write("contracts/node_store/contract.yaml", dbContract)
	f.write(".env", "INFISICAL_CLIENT_ID=runtime\nINFISICAL_CLIENT_SECRET="+canaryClient+"\nINFISICAL_PROJECT_ID="+infisicaltest.DefaultProject+"\nPOSTGRES_POOL_MIN=from-dotenv\nSLACK_CHANNEL_ID="+canaryDotenv+"\n")
	f.srv = infisicaltest.NewServer(opts...)
	t.Cleanup(f.srv.Close)
	f.srv.AddUniversalIdentity("runtime", canaryClient)
	for k, v := range map[string]string{
		"POSTGRES_DSN": canaryDSN, "POSTGRES_POOL_MIN": "2", "POSTGRES_POOL_MAX": "10",
		"POSTGRES_TIMEOUT_MS": "5000", "UNDECLARED_ADMIN_PASSWORD": canaryHidden,
	} {
		f.srv.SetSecret("dev", "/shared/db", k, v)
	}
	f.srv.SetSecret("dev", "/shared/env", "STRIPE_API_KEY", canaryStripe)
	f.out = filepath.Join(f.dir, "child.env")
	return f
}

func (f *fixture) write(name, content string) {
	f.t.Helper()
	if err := os.WriteFile(filepath.Join(f.dir, name), []byte(content), 0o600); err != nil {
		f.t.Fatal(err)
	}
}

// start runs secret-init with the child dumping its environment to f.out.
func (f *fixture) start(extraEnv []string, args ...string) result {
	f.t.Helper()
	os.Remove(f.out)
	argv := append([]string{"--contracts", f.contracts}, args...)
	argv = append(argv, "--", "sh", "-c", `env > "$OUT"`)
	cmd := exec.Command(bin, argv...)
	cmd.Dir = f.dir
	cmd.Env = cleanEnv(append([]string{"INFISICAL_ADDR=" + f.srv.URL, "OUT=" + f.out}, extraEnv...)...)
	r := runCmd(f.t, 30*time.Second, cmd)
	noCanary(f.t, r)
	return r
}

// childEnv reads what the child saw; nil when the child never ran.
func (f *fixture) childEnv() map[string]string {
	data, err := os.ReadFile(f.out)
	if err != nil {
		return nil
	}
	env := map[string]string{}
	for _, l := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			env[k] = v
		}
	}
	return env
}

// noCanary fails when a secret value reached secret-init's own output.
func noCanary(t *testing.T, r result) {
	t.Helper()
	for _, c := range canaries {
		if strings.Contains(r.Stderr, c) || strings.Contains(r.Stdout, c) {
			t.Fatalf("secret value %q leaked into secret-init's output:\nstdout: %s\nstderr: %s", c, r.Stdout, r.Stderr)
		}
	}
}

func wantEnv(t *testing.T, env map[string]string, want map[string]string) {
	t.Helper()
	if env == nil {
		t.Fatal("the child never ran")
	}
	for k, v := range want {
		got, ok := env[k]
		if v == "<unset>" {
			if ok {
				t.Errorf("%s reached the child; it must not", k)
			}
			continue
		}
		if !ok || got != v {
			t.Errorf("%s = %q (set %v), want %q", k, got, ok, v)
		}
	}
}

func TestPrefetchChildSeesFetchedValues(t *testing.T) {
	f := newFixture(t)
	r := f.start(nil)
	if r.Code != 0 {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	wantEnv(t, f.childEnv(), map[string]string{
		"POSTGRES_DSN":              canaryDSN,
		"POSTGRES_POOL_MAX":         "10",
		"STRIPE_API_KEY":            canaryStripe,
		"POSTGRES_POOL_MIN":         "2",          // Infisical beats .env
		"SLACK_CHANNEL_ID":          canaryDotenv, // only .env has it
		"UNDECLARED_ADMIN_PASSWORD": "<unset>",    // in the folder, not declared
		"INFISICAL_CLIENT_SECRET":   canaryClient, // all of .env reaches the child
	})
	// One login, then the two folders (/shared/db, /shared/env), once each.
	if n := f.srv.Count("POST", "/api/v1/auth/"); n != 1 {
		t.Errorf("%d logins, want 1", n)
	}
	if n := f.srv.Count("GET", "/api/v3/secrets/raw"); n != 2 {
		t.Errorf("%d folder lists, want 2", n)
	}
	if !strings.Contains(r.Stderr, "prefetch from Infisical") {
		t.Errorf("no summary line in stderr: %s", r.Stderr)
	}
}

func TestPrefetchPriority(t *testing.T) {
	f := newFixture(t)
	f.srv.SetSecret("dev", "/services/billing/db", "POSTGRES_POOL_MAX", "50")
	f.srv.SetSecret("dev", "/services/billing/db", "POSTGRES_TIMEOUT_MS", "") // empty counts as absent
	r := f.start([]string{"POSTGRES_POOL_MIN=from-env"}, "--service", "billing")
	if r.Code != 0 {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	wantEnv(t, f.childEnv(), map[string]string{
		"POSTGRES_POOL_MIN":   "from-env", // process env beats Infisical and .env
		"POSTGRES_POOL_MAX":   "50",       // the service folder beats the shared one
		"POSTGRES_TIMEOUT_MS": "5000",     // an empty service value falls through to shared
		"POSTGRES_DSN":        canaryDSN,
	})
}

func TestPrefetchKeysInEnvAreNotRequested(t *testing.T) {
	f := newFixture(t)
	env := []string{"POSTGRES_DSN=e", "POSTGRES_POOL_MIN=e", "POSTGRES_POOL_MAX=e", "POSTGRES_TIMEOUT_MS=e"}
	if r := f.start(env); r.Code != 0 {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	for _, q := range f.srv.Requests() {
		if q.Path == "/api/v3/secrets/raw" && q.Query.Get("secretPath") == "/shared/db" {
			t.Errorf("/shared/db was requested although the environment holds all its keys")
		}
	}
	f.srv.ResetCounts()
	all := append(env, "STRIPE_API_KEY=e", "SLACK_CHANNEL_ID=e")
	if r := f.start(all); r.Code != 0 {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	if n := len(f.srv.Requests()); n != 0 {
		t.Errorf("%d requests with every key in the environment, want none (not even a login)", n)
	}
}

func TestPrefetchRequired(t *testing.T) {
	t.Run("missing key", func(t *testing.T) {
		f := newFixture(t)
		r := f.start(nil, "--required") // POSTGRES_POOL_MIN... all there; SLACK_CHANNEL_ID only in .env
		if r.Code != 125 {
			t.Fatalf("exit %d, want 125: %s", r.Code, r.Stderr)
		}
		if f.childEnv() != nil {
			t.Error("the command ran")
		}
		if !strings.Contains(r.Stderr, "SLACK_CHANNEL_ID") {
			t.Errorf("stderr does not name the missing key: %s", r.Stderr)
		}
	})
	t.Run("missing key without --required starts with a warning", func(t *testing.T) {
		f := newFixture(t)
		f.srv.SetSecret("dev", "/shared/db", "POSTGRES_POOL_MAX", "")
		r := f.start(nil)
		if r.Code != 0 || f.childEnv() == nil {
			t.Fatalf("exit %d, child ran %v: %s", r.Code, f.childEnv() != nil, r.Stderr)
		}
		if !strings.Contains(r.Stderr, "POSTGRES_POOL_MAX") || !strings.Contains(r.Stderr, `"level":"warn"`) {
			t.Errorf("no warning naming the missing key: %s", r.Stderr)
		}
	})
	t.Run("dead server", func(t *testing.T) {
		f := newFixture(t)
		f.srv.Close()
		r := f.start(nil, "--required", "--timeout", "2s")
		if r.Code != 125 || f.childEnv() != nil {
			t.Fatalf("exit %d, child ran %v, want 125 and no child: %s", r.Code, f.childEnv() != nil, r.Stderr)
		}
		// Without --required the start goes on with the environment and
		// .env, as long as every required dependency is somewhere.
		r = f.start([]string{"STRIPE_API_KEY=from-env"}, "--timeout", "2s")
		if r.Code != 0 || f.childEnv() == nil {
			t.Fatalf("without --required: exit %d, child ran %v: %s", r.Code, f.childEnv() != nil, r.Stderr)
		}
		wantEnv(t, f.childEnv(), map[string]string{"POSTGRES_POOL_MIN": "from-dotenv", "POSTGRES_DSN": "<unset>"})
	})
	t.Run("required dependency nowhere is fatal even without --required", func(t *testing.T) {
		f := newFixture(t)
		f.srv.SetSecret("dev", "/shared/env", "STRIPE_API_KEY", "")
		r := f.start(nil)
		if r.Code != 125 || f.childEnv() != nil {
			t.Fatalf("exit %d, child ran %v, want 125: %s", r.Code, f.childEnv() != nil, r.Stderr)
		}
		if !strings.Contains(r.Stderr, "STRIPE_API_KEY") {
			t.Errorf("stderr does not name the key: %s", r.Stderr)
		}
	})
}

func TestPrefetchRetries(t *testing.T) {
	t.Run("429 with Retry-After then success", func(t *testing.T) {
		f := newFixture(t)
		f.srv.FailNext(2, 429)
		r := f.start([]string{"SLACK_CHANNEL_ID=env"}, "--required")
		if r.Code != 0 {
			t.Fatalf("exit %d: %s", r.Code, r.Stderr)
		}
		wantEnv(t, f.childEnv(), map[string]string{"POSTGRES_DSN": canaryDSN})
	})
	t.Run("503 then success", func(t *testing.T) {
		f := newFixture(t)
		f.srv.FailNext(2, 503)
		if r := f.start([]string{"SLACK_CHANNEL_ID=env"}, "--required"); r.Code != 0 {
			t.Fatalf("exit %d: %s", r.Code, r.Stderr)
		}
	})
	t.Run("401 is not retried", func(t *testing.T) {
		f := newFixture(t)
		f.write(".env", "INFISICAL_CLIENT_ID=runtime\nINFISICAL_CLIENT_SECRET=wrong-"+canaryClient+"\nINFISICAL_PROJECT_ID="+infisicaltest.DefaultProject+"\n")
		r := f.start(nil, "--required")
		if r.Code != 125 {
			t.Fatalf("exit %d, want 125: %s", r.Code, r.Stderr)
		}
		if n := f.srv.Count("POST", "/api/v1/auth/"); n != 1 {
			t.Errorf("%d login attempts, want 1 (401 is final)", n)
		}
		if !strings.Contains(r.Stderr, "401") || !strings.Contains(r.Stderr, "req-") {
			t.Errorf("error does not give status and reqId: %s", r.Stderr)
		}
	})
	t.Run("stalled server hits --timeout", func(t *testing.T) {
		f := newFixture(t)
		f.srv.Stall(time.Minute)
		begin := time.Now()
		r := f.start(nil, "--required", "--timeout", "1s")
		took := time.Since(begin)
		if r.Code != 125 {
			t.Fatalf("exit %d, want 125: %s", r.Code, r.Stderr)
		}
		// The bound is the timeout plus one second; more slack only for a
		// machine so loaded that starting a process takes seconds.
		if took > 5*time.Second {
			t.Errorf("took %v with --timeout 1s", took)
		}
	})
}

func TestPrefetchNoValueInLogsAtAnyLevel(t *testing.T) {
	for _, level := range []string{"trace", "debug", "info"} {
		for _, format := range []string{"json", "console"} {
			f := newFixture(t)
			f.srv.SetSecret("dev", "/shared/db", "POSTGRES_POOL_MAX", "") // a warning path too
			r := f.start(nil, "--log-level", level, "--log-format", format)
			if r.Code != 0 {
				t.Fatalf("%s/%s: exit %d: %s", level, format, r.Code, r.Stderr)
			}
			if level != "info" && !strings.Contains(r.Stderr, "POSTGRES_POOL_MAX") {
				t.Errorf("%s/%s: key names should appear in the logs: %s", level, format, r.Stderr)
			}
		}
	}
}

// TestPrefetchTermDuringFetchAborts: a TERM while Infisical is slow ends
// secret-init at once with 143 and the command never runs.
func TestPrefetchTermDuringFetchAborts(t *testing.T) {
	f := newFixture(t)
	f.srv.Stall(time.Minute)
	cmd := exec.Command(bin, "--contracts", f.contracts, "--timeout", "30s", "--", "sh", "-c", `env > "$OUT"`)
	cmd.Dir = f.dir
	cmd.Env = cleanEnv("INFISICAL_ADDR="+f.srv.URL, "OUT="+f.out)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	begin := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // into the stalled login
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatal("secret-init did not end after TERM")
	}
	r := result{Code: cmd.ProcessState.ExitCode(), Stderr: stderr.String()}
	if r.Code != 143 {
		t.Fatalf("exit %d, want 143: %s", r.Code, r.Stderr)
	}
	if f.childEnv() != nil {
		t.Error("the command ran after TERM")
	}
	if took := time.Since(begin); took > 10*time.Second {
		t.Errorf("abort took %v", took)
	}
}

func TestPrefetchOtherAuthMethods(t *testing.T) {
	t.Run("INFISICAL_TOKEN: no login request", func(t *testing.T) {
		f := newFixture(t)
		f.srv.AddToken("tok-" + canaryClient)
		f.write(".env", "INFISICAL_TOKEN=tok-"+canaryClient+"\nINFISICAL_PROJECT_ID="+infisicaltest.DefaultProject+"\n")
		r := f.start([]string{"SLACK_CHANNEL_ID=x"}, "--required")
		if r.Code != 0 {
			t.Fatalf("exit %d: %s", r.Code, r.Stderr)
		}
		wantEnv(t, f.childEnv(), map[string]string{"POSTGRES_DSN": canaryDSN})
		if n := f.srv.Count("POST", "/api/v1/auth/"); n != 0 {
			t.Errorf("%d login requests with an access token, want 0", n)
		}
	})
	t.Run("kubernetes", func(t *testing.T) {
		f := newFixture(t)
		jwt := "eyJ." + canaryClient + ".sig"
		f.srv.AddKubernetesIdentity("k8s-identity", jwt)
		f.write("sa-token", jwt+"\n")
		f.write(".env", "INFISICAL_AUTH_METHOD=kubernetes\nINFISICAL_IDENTITY_ID=k8s-identity\nINFISICAL_KUBERNETES_TOKEN_PATH="+filepath.Join(f.dir, "sa-token")+"\nINFISICAL_PROJECT_ID="+infisicaltest.DefaultProject+"\n")
		r := f.start([]string{"SLACK_CHANNEL_ID=x"}, "--required")
		if r.Code != 0 {
			t.Fatalf("exit %d: %s", r.Code, r.Stderr)
		}
		wantEnv(t, f.childEnv(), map[string]string{"STRIPE_API_KEY": canaryStripe})
		if n := f.srv.Count("POST", "/api/v1/auth/kubernetes-auth/login"); n != 1 {
			t.Errorf("%d kubernetes logins, want 1", n)
		}
	})
	t.Run("no credentials", func(t *testing.T) {
		f := newFixture(t)
		f.write(".env", "INFISICAL_PROJECT_ID="+infisicaltest.DefaultProject+"\n")
		r := f.start([]string{"SLACK_CHANNEL_ID=x", "STRIPE_API_KEY=x"}, "--required")
		if r.Code != 125 || !strings.Contains(r.Stderr, "INFISICAL_CLIENT_ID") {
			t.Fatalf("exit %d, want 125 naming the missing settings: %s", r.Code, r.Stderr)
		}
		if n := len(f.srv.Requests()); n != 0 {
			t.Errorf("%d requests without credentials", n)
		}
	})
}

func TestPrefetchPathFolder(t *testing.T) {
	f := newFixture(t)
	f.srv.SetSecret("dev", "/apps/billing", "FEATURE_FLAG", "on")
	f.srv.SetSecret("dev", "/apps/billing", "POSTGRES_DSN", "from-path-folder")
	f.srv.SetSecret("dev", "/apps/billing", "EMPTY_ONE", "")
	r := f.start([]string{"FEATURE_FLAG_X=1"}, "--path", "/apps/billing/")
	if r.Code != 0 {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	wantEnv(t, f.childEnv(), map[string]string{
		"FEATURE_FLAG": "on",      // every key of a --path folder
		"POSTGRES_DSN": canaryDSN, // the contract's folder keeps its key
		"EMPTY_ONE":    "<unset>", // empty counts as absent there too
	})
}

// TestRequiredWithoutInfisicalAddr: an image that sets --required and a
// deploy that forgot INFISICAL_ADDR must not start on .env alone.
func TestRequiredWithoutInfisicalAddr(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "ran")
	r := runBin(t, cleanEnv("SECRET_INIT_REQUIRED=true", "OUT="+out), "--", "sh", "-c", `touch "$OUT"`)
	if r.Code != 125 || !strings.Contains(r.Stderr, "INFISICAL_ADDR") {
		t.Fatalf("exit %d, want 125 naming INFISICAL_ADDR: %s", r.Code, r.Stderr)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("the command ran")
	}
	r = runBin(t, cleanEnv("OUT="+out), "--", "sh", "-c", `touch "$OUT"`)
	if r.Code != 0 {
		t.Fatalf("passthrough without --required: exit %d: %s", r.Code, r.Stderr)
	}
	if _, err := os.Stat(out); err != nil {
		t.Error("passthrough without --required did not run the command")
	}
}
