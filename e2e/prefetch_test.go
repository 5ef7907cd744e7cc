package e2e

// The prefetch: what the command gets from Infisical, the process
// environment and .env, and what secret-init asks Infisical for. Faults of
// the server are in hardening_test.go.

import (
	"path/filepath"
	"strings"
	"testing"

	"secret-init/infisical/infisicaltest"
)

func TestPrefetchChildSeesFetchedValues(t *testing.T) {
	f := newStore(t)
	r := f.start(nil)
	wantCode(t, r, 0)
	wantEnv(t, f.childEnv(), map[string]string{
		"POSTGRES_DSN":              canaryDSN,
		"POSTGRES_POOL_MAX":         "10",
		"STRIPE_API_KEY":            canaryStripe,
		"POSTGRES_POOL_MIN":         "2",          // Infisical beats .env
		"SLACK_CHANNEL_ID":          canaryDotenv, // only .env has it
		"UNDECLARED_ADMIN_PASSWORD": "<unset>",    // in the folder, not declared
		"INFISICAL_CLIENT_SECRET":   canaryClient, // all of .env reaches the command
	})
	wantCount(t, f.Server, "POST", "/api/v1/auth/", 1, "one login")
	wantCount(t, f.Server, "GET", "/api/v4/secrets", 2, "/shared/db and /shared/env, once each")
	if !strings.Contains(r.Stderr, "prefetch from Infisical") {
		t.Errorf("no summary line in stderr: %s", r.Stderr)
	}
}

func TestPrefetchPriority(t *testing.T) {
	f := newStore(t)
	f.Server.SetSecret("dev", "/services/billing/db", "POSTGRES_POOL_MAX", "50")
	f.Server.SetSecret("dev", "/services/billing/db", "POSTGRES_TIMEOUT_MS", "") // empty counts as absent
	r := f.start([]string{"POSTGRES_POOL_MIN=from-env"}, "--service", "billing")
	wantCode(t, r, 0)
	wantEnv(t, f.childEnv(), map[string]string{
		"POSTGRES_POOL_MIN":   "from-env", // process env beats Infisical and .env
		"POSTGRES_POOL_MAX":   "50",       // the service folder beats the shared one
		"POSTGRES_TIMEOUT_MS": "5000",     // an empty service value falls through to shared
		"POSTGRES_DSN":        canaryDSN,
	})
}

func TestPrefetchKeysInEnvAreNotRequested(t *testing.T) {
	f := newStore(t)
	env := []string{"POSTGRES_DSN=e", "POSTGRES_POOL_MIN=e", "POSTGRES_POOL_MAX=e", "POSTGRES_TIMEOUT_MS=e"}
	if r := f.start(env); r.Code != 0 {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	for _, q := range f.Server.Requests() {
		if q.Path == "/api/v4/secrets" && q.Query.Get("secretPath") == "/shared/db" {
			t.Errorf("/shared/db was requested although the environment holds all its keys")
		}
	}
	f.Server.ResetCounts()
	if r := f.start(append(env, "STRIPE_API_KEY=e", "SLACK_CHANNEL_ID=e")); r.Code != 0 {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	if n := len(f.Server.Requests()); n != 0 {
		t.Errorf("%d requests with every key in the environment, want none (not even a login)", n)
	}
}

func TestPrefetchRequired(t *testing.T) {
	t.Run("key only in .env", func(t *testing.T) {
		f := newStore(t)
		f.Server.SetSecret("dev", "/shared/db", "POSTGRES_POOL_MIN", "") // .env has it
		r := f.start(nil, "--required")
		clearError(t, r, f.ran(), 125, "POSTGRES_POOL_MIN (from .env)")
	})
	t.Run("missing key", func(t *testing.T) {
		f := newStore(t)
		f.Server.SetSecret("dev", "/shared/db", "POSTGRES_POOL_MAX", "")
		r := f.start(nil, "--required")
		clearError(t, r, f.ran(), 125, "POSTGRES_POOL_MAX (missing)")
	})
	t.Run("missing key without --required starts with a warning", func(t *testing.T) {
		f := newStore(t)
		f.Server.SetSecret("dev", "/shared/db", "POSTGRES_POOL_MAX", "")
		r := f.start(nil)
		if r.Code != 0 || !f.ran() {
			t.Fatalf("exit %d, command ran %v: %s", r.Code, f.ran(), r.Stderr)
		}
		if !strings.Contains(r.Stderr, "POSTGRES_POOL_MAX") || !strings.Contains(r.Stderr, `"level":"warn"`) {
			t.Errorf("no warning naming the missing key: %s", r.Stderr)
		}
	})
	t.Run("dead server", func(t *testing.T) {
		f := newStore(t)
		f.Server.Close()
		r := f.start(nil, "--required", "--timeout", "2s")
		clearError(t, r, f.ran(), 125)
		// Without --required the start goes on with the environment and
		// .env, as long as every required dependency is somewhere.
		r = f.start([]string{"STRIPE_API_KEY=from-env"}, "--timeout", "2s")
		if r.Code != 0 || !f.ran() {
			t.Fatalf("without --required: exit %d, command ran %v: %s", r.Code, f.ran(), r.Stderr)
		}
		wantEnv(t, f.childEnv(), map[string]string{"POSTGRES_POOL_MIN": "from-dotenv", "POSTGRES_DSN": "<unset>"})
	})
	t.Run("required dependency nowhere is fatal even without --required", func(t *testing.T) {
		f := newStore(t)
		f.Server.SetSecret("dev", "/shared/env", "STRIPE_API_KEY", "")
		r := f.start(nil)
		clearError(t, r, f.ran(), 125, "STRIPE_API_KEY")
	})
}

func TestPrefetchNoValueInLogsAtAnyLevel(t *testing.T) {
	for _, level := range []string{"trace", "debug", "info"} {
		for _, format := range []string{"json", "console"} {
			f := newStore(t)
			f.Server.SetSecret("dev", "/shared/db", "POSTGRES_POOL_MAX", "") // a warning path too
			r := f.start(nil, "--log-level", level, "--log-format", format)
			if r.Code != 0 {
				t.Fatalf("%s/%s: exit %d: %s", level, format, r.Code, r.Stderr)
			}
			// Key names may appear, and do: the check for values saw logs.
			if level != "info" && !strings.Contains(r.Stderr, "POSTGRES_POOL_MAX") {
				t.Errorf("%s/%s: key names should appear in the logs: %s", level, format, r.Stderr)
			}
		}
	}
}

func TestPrefetchOtherAuthMethods(t *testing.T) {
	for _, c := range []struct {
		name   string
		login  string // the path of the login request
		logins int
		setup  func(f *fixture) string // adds the identity; the .env to log in with
	}{
		{"INFISICAL_TOKEN: no login request", "/api/v1/auth/", 0, func(f *fixture) string {
			f.Server.AddToken(canaryToken)
			return "INFISICAL_TOKEN=" + canaryToken + "\n"
		}},
		{"kubernetes", "/api/v1/auth/kubernetes-auth/login", 1, func(f *fixture) string {
			jwt := "eyJ." + canaryClient + ".sig"
			f.Server.AddKubernetesIdentity("k8s-identity", jwt)
			return "INFISICAL_AUTH_METHOD=kubernetes\nINFISICAL_IDENTITY_ID=k8s-identity\nINFISICAL_KUBERNETES_TOKEN_PATH=" + f.write("sa-token", jwt+"\n") + "\n"
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newStore(t)
			f.write(".env", c.setup(f)+"INFISICAL_PROJECT_ID="+infisicaltest.DefaultProject+"\n")
			r := f.start([]string{"SLACK_CHANNEL_ID=x"}, "--required")
			wantCode(t, r, 0)
			wantEnv(t, f.childEnv(), map[string]string{"POSTGRES_DSN": canaryDSN, "STRIPE_API_KEY": canaryStripe})
			wantCount(t, f.Server, "POST", c.login, c.logins, c.name)
		})
	}
	t.Run("no credentials", func(t *testing.T) {
		f := newStore(t)
		f.write(".env", "INFISICAL_PROJECT_ID="+infisicaltest.DefaultProject+"\n")
		r := f.start([]string{"SLACK_CHANNEL_ID=x", "STRIPE_API_KEY=x"}, "--required")
		clearError(t, r, f.ran(), 125, "INFISICAL_CLIENT_ID")
		if n := len(f.Server.Requests()); n != 0 {
			t.Errorf("%d requests without credentials", n)
		}
	})
}

func TestPrefetchPathFolder(t *testing.T) {
	f := newStore(t)
	f.Server.SetSecret("dev", "/apps/billing", "FEATURE_FLAG", "on")
	f.Server.SetSecret("dev", "/apps/billing", "POSTGRES_DSN", "from-path-folder")
	f.Server.SetSecret("dev", "/apps/billing", "EMPTY_ONE", "")
	r := f.start([]string{"FEATURE_FLAG_X=1"}, "--path", "/apps/billing/")
	wantCode(t, r, 0)
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
	ran := filepath.Join(dir, "ran")
	s := Spec{Dir: dir, Args: []string{"--", "sh", "-c", `touch "$OUT"`}, Env: cleanEnv("SECRET_INIT_REQUIRED=true", "OUT="+ran)}
	r := Run(t, s)
	clearError(t, r, exists(ran), 125, "INFISICAL_ADDR")
	s.Env = cleanEnv("OUT=" + ran)
	if r := Run(t, s); r.Code != 0 || !exists(ran) {
		t.Fatalf("passthrough without --required: exit %d, command ran %v: %s", r.Code, exists(ran), r.Stderr)
	}
}
