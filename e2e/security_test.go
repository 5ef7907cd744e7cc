package e2e

// What secret-init must never do, whatever Infisical (or what stands in
// front of it) answers and whatever files it is pointed at: follow a
// redirect, let a value it fetched reach its output, hang on or swallow a
// file that is not a small regular file, or hand the bootstrap credentials
// to a command that was not meant to get them.

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"secret-init/infisical/infisicaltest"
	"secret-init/resolve"
)

// otherHost is where a redirect points: it counts every request that
// reaches it and would answer a login and a list with values of its own.
type otherHost struct {
	url  string
	hits atomic.Int64
}

const otherHostValue = "CANARY-other-host-value-4b1e"

func newOtherHost(t *testing.T) *otherHost {
	t.Helper()
	o := &otherHost{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"accessToken":"CANARY-other-host-token","expiresIn":3600,"tokenType":"Bearer",` +
			`"secrets":[{"secretKey":"POSTGRES_DSN","secretValue":"` + otherHostValue + `"}],"imports":[]}`))
	}))
	t.Cleanup(srv.Close)
	o.url = srv.URL
	return o
}

// TestRedirectNeverFollowed: a 307 on the login would re-send the client
// secret to the other host, a 302 on a list would hand the command that
// host's answer. Neither is followed: the other host receives nothing,
// and the one line says the status, the other host and what to set.
func TestRedirectNeverFollowed(t *testing.T) {
	for _, c := range []struct {
		name, path string
		status     int
		args       []string
		code       int
	}{
		{"307 on the login", "/api/v1/auth/universal-auth/login", http.StatusTemporaryRedirect, []string{"--required"}, 125},
		// Without --required the command starts, on .env alone.
		{"302 on a list", "/api/v4/secrets", http.StatusFound, nil, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newStore(t)
			other := newOtherHost(t)
			var redirects atomic.Int64
			addr := proxy(t, f.Server.URL, func(w http.ResponseWriter, r *http.Request) bool {
				if r.URL.Path != c.path {
					return false
				}
				redirects.Add(1)
				// User info and a query in the Location must not be shown.
				http.Redirect(w, r, strings.Replace(other.url, "://", "://CANARY-user:CANARY-pw@", 1)+r.URL.Path+"?token=CANARY-query", c.status)
				return true
			})
			// STRIPE_API_KEY, a required dependency, is set: the start
			// may go on without Infisical.
			r := f.start([]string{"INFISICAL_ADDR=" + addr, "STRIPE_API_KEY=from-env"}, c.args...)
			if n := other.hits.Load(); n != 0 {
				t.Fatalf("the redirect's target received %d requests; it must receive none", n)
			}
			host := strings.TrimPrefix(other.url, "http://")
			if c.code != 0 {
				clearError(t, r, f.ran(), c.code, http.StatusText(c.status), host, "INFISICAL_ADDR")
			} else {
				wantCode(t, r, 0)
				for _, want := range []string{http.StatusText(c.status), host, "INFISICAL_ADDR"} {
					if !strings.Contains(r.Stderr, want) {
						t.Errorf("stderr does not say %q:\n%s", want, r.Stderr)
					}
				}
				// POSTGRES_DSN is only in Infisical: the other host's
				// answer must not stand in for it.
				wantEnv(t, f.childEnv(), map[string]string{"POSTGRES_DSN": "<unset>", "SLACK_CHANNEL_ID": canaryDotenv})
			}
			if redirects.Load() == 0 {
				t.Fatal("no request was redirected; the test proved nothing")
			}
		})
	}
}

// canaryQuotedValue is a value of /shared/db with characters that JSON
// escapes, so that its escaped copies are tested too.
const canaryQuotedValue = `CANARY-infisical-"quoted"-<tag>-\-e3c1`

// TestLeakValueEchoedByAnotherFolder: Infisical (or a proxy) answers the
// list of /shared/env with a 403 whose message quotes values of
// /shared/db, as they are and JSON-escaped. The answer for /shared/db is
// held back until the 403 has been sent, so that the 403's error is made
// before the values it quotes are known, as a slow folder in a parallel
// round makes it. No output shows them, at trace level, in either log
// format, in a start, a failing start and check.
func TestLeakValueEchoedByAnotherFolder(t *testing.T) {
	for _, format := range []string{"json", "console"} {
		for _, c := range []struct {
			name string
			args []string // after the log flags
			code int
			cmd  bool // a start: the command follows
		}{
			{"start", nil, 0, true},
			{"start with --required", []string{"--required"}, 125, true},
			{"check", []string{"check"}, 0, false},
			{"check -o json", []string{"check", "-o", "json"}, 0, false},
			{"check --required", []string{"check", "--required"}, 1, false},
		} {
			t.Run(format+"/"+c.name, func(t *testing.T) {
				f := newStore(t)
				f.Server.SetSecret("dev", "/shared/db", "POSTGRES_TIMEOUT_MS", canaryQuotedValue)
				addr := proxy(t, f.Server.URL, echoAfterHeldBack(t, "/shared/env", "/shared/db", canaryDSN, canaryQuotedValue))
				args := append([]string{"--log-level", "trace", "--log-format", format, "--contracts", f.Contracts}, c.args...)
				if c.cmd {
					args = append(args, "--", "sh", "-c", `env > "$OUT"`)
				}
				// STRIPE_API_KEY, required, is set; SLACK_CHANNEL_ID, in
				// .env only, still sends the start to /shared/env. For the
				// failing runs STRIPE_API_KEY is left to /shared/env, whose
				// 403 leaves it missing (an optional SLACK_CHANNEL_ID
				// stops no start, not even with --required).
				env := f.env("INFISICAL_ADDR="+addr, "STRIPE_API_KEY=from-env")
				if c.code != 0 {
					env = f.env("INFISICAL_ADDR=" + addr)
				}
				r := f.run(Spec{Args: args, Env: env, Dir: f.Dir})
				// Run has checked that no canary is in the output.
				wantCode(t, r, c.code)
				out := r.Stdout + r.Stderr
				if !strings.Contains(out, "403") || !strings.Contains(out, "[redacted]") {
					t.Fatalf("the 403 with its scrubbed message is not in the output; the test proved nothing:\n%s", out)
				}
				if c.cmd && c.code == 0 {
					wantEnv(t, f.childEnv(), map[string]string{"POSTGRES_DSN": canaryDSN, "POSTGRES_TIMEOUT_MS": canaryQuotedValue})
				}
			})
		}
	}
}

// echoAfterHeldBack is a proxy handler: the list of folder denied gets a
// 403 quoting values, in the forms a server could send them, and the list
// of folder held waits until that 403 has been written.
func echoAfterHeldBack(t *testing.T, denied, held string, values ...string) func(http.ResponseWriter, *http.Request) bool {
	sent := make(chan struct{})
	var once sync.Once
	return func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != "/api/v4/secrets" {
			return false
		}
		switch r.URL.Query().Get("secretPath") {
		case held:
			select {
			case <-sent:
			case <-time.After(20 * time.Second):
				t.Errorf("%s was never asked for", denied)
			}
			return false
		case denied:
			var msg strings.Builder
			msg.WriteString("secret in " + held + " is")
			for _, v := range values {
				node, _ := json.Marshal(v)
				msg.WriteString(" " + v + " / " + strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&").Replace(string(node)))
			}
			body, _ := json.Marshal(map[string]any{"reqId": "req-echo", "statusCode": 403, "error": "PermissionDenied", "message": msg.String()})
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			w.Write(body)
			w.(http.Flusher).Flush()
			once.Do(func() { close(sent) })
			return true
		}
		return false
	}
}

// kubeLayout lays file out below dir as Kubernetes mounts a projected or
// ConfigMap volume, and returns the path a pod is given: dir/name ->
// ..data/name, ..data -> ..<timestamp>, a folder that holds the file.
func kubeLayout(t *testing.T, dir, name, content string) string {
	t.Helper()
	stamp := filepath.Join(dir, "..2026_01_01_00_00_00.123456789")
	if err := os.MkdirAll(stamp, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(stamp, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	for link, target := range map[string]string{"..data": filepath.Base(stamp), name: filepath.Join("..data", name)} {
		if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, name)
}

// badFiles are what a path setting may wrongly point at: each is refused
// at once (a FIFO is not waited on, /dev/zero is not read), with one line
// that says what the path is.
func badFiles(t *testing.T, dir string, limit int) []struct{ name, path, want string } {
	t.Helper()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, bytes.Repeat([]byte(canaryBadInput+"\n"), limit/len(canaryBadInput)+1), 0o600); err != nil {
		t.Fatal(err)
	}
	return []struct{ name, path, want string }{
		{"/dev/zero", "/dev/zero", "is a character device, not a regular file"},
		{"a FIFO with no writer", fifo, "is a FIFO, not a regular file"},
		{"a directory", dir, "is a directory, not a regular file"},
		{"over the cap", big, "larger than"},
		{"missing", filepath.Join(dir, "missing"), "no such file"},
	}
}

// TestBadInputCACertFile: --ca-cert is read as a regular file of at most
// 1 MiB within --timeout; anything else stops the start with 125 and one
// line naming the flag and the path, before any request. Kubernetes'
// ..data symlinks (a ConfigMap volume) are followed.
func TestBadInputCACertFile(t *testing.T) {
	f := newFixture(t, storeSeed(), map[string]string{
		"contracts/node_store/contract.yaml": storeContract,
		".env":                               storeDotenv,
	}, true)
	for _, c := range badFiles(t, t.TempDir(), 1<<20) {
		t.Run(c.name, func(t *testing.T) {
			start := f.spec([]string{"SLACK_CHANNEL_ID=x"}, "--ca-cert", c.path, "--timeout", "1m")
			check := Spec{Args: []string{"--contracts", f.Contracts, "check", "--ca-cert", c.path, "--timeout", "1m"}, Env: start.Env, Dir: f.Dir}
			for _, s := range []Spec{start, check} {
				s.SampleRSS = true
				r := f.run(s)
				clearError(t, r, f.ran(), 125, "--ca-cert "+c.path+": "+c.want)
				quick(t, r, c.name)
				if r.PeakRSSKiB > 64<<10 {
					t.Errorf("%s: peak RSS %d KiB; the file must not be read whole", c.name, r.PeakRSSKiB)
				}
			}
			if n := len(f.Server.Requests()); n != 0 {
				t.Errorf("%d requests sent with a CA file that could not be read", n)
			}
		})
	}
	t.Run("Kubernetes ..data symlinks", func(t *testing.T) {
		ca := kubeLayout(t, t.TempDir(), "ca.crt", string(f.Server.CACertPEM()))
		r := f.start([]string{"SLACK_CHANNEL_ID=x"}, "--required", "--ca-cert", ca)
		wantCode(t, r, 0)
		wantEnv(t, f.childEnv(), map[string]string{"POSTGRES_DSN": canaryDSN})
	})
}

// TestBadInputKubernetesTokenFile: INFISICAL_KUBERNETES_TOKEN_PATH is
// read as a regular file of at most 64 KiB within --timeout; anything else
// stops the start with 125 (with or without --required) and one line
// naming the variable and the path, and no login is sent. The projected
// token's ..data symlinks are followed.
func TestBadInputKubernetesTokenFile(t *testing.T) {
	f := newStore(t)
	const jwt = "eyJ." + canaryClient + ".sig"
	f.Server.AddKubernetesIdentity("k8s-identity", jwt)
	f.write(".env", "INFISICAL_AUTH_METHOD=kubernetes\nINFISICAL_IDENTITY_ID=k8s-identity\nINFISICAL_PROJECT_ID="+infisicaltest.DefaultProject+"\n")
	env := func(path string) []string {
		return []string{"SLACK_CHANNEL_ID=x", "INFISICAL_KUBERNETES_TOKEN_PATH=" + path}
	}
	empty := f.write("empty-token", " \n")
	for _, c := range append(badFiles(t, t.TempDir(), 64<<10), struct{ name, path, want string }{"empty", empty, "the file is empty"}) {
		t.Run(c.name, func(t *testing.T) {
			for _, args := range [][]string{{"--timeout", "1m"}, {"--required", "--timeout", "1m"}} {
				s := f.spec(env(c.path), args...)
				s.SampleRSS = true
				r := f.run(s)
				clearError(t, r, f.ran(), 125, "INFISICAL_KUBERNETES_TOKEN_PATH "+c.path+": "+c.want)
				quick(t, r, c.name)
			}
			r := f.run(Spec{Args: []string{"--contracts", f.Contracts, "check", "--timeout", "1m"}, Env: f.env(env(c.path)...), Dir: f.Dir})
			clearError(t, r, false, 125, "INFISICAL_KUBERNETES_TOKEN_PATH "+c.path+": "+c.want)
			wantCount(t, f.Server, "POST", "/api/v1/auth/", 0, "the token could not be read")
		})
	}
	t.Run("Kubernetes ..data symlinks", func(t *testing.T) {
		token := kubeLayout(t, t.TempDir(), "token", jwt+"\n")
		r := f.start(env(token), "--required")
		wantCode(t, r, 0)
		wantEnv(t, f.childEnv(), map[string]string{"POSTGRES_DSN": canaryDSN})
		wantCount(t, f.Server, "POST", "/api/v1/auth/kubernetes-auth/login", 1, "one login with the token")
	})
}

// clientContract declares the infisical transport: a service that calls
// Infisical itself, whose bootstrap keys plan and check list.
const clientContract = "name: node_client\nmetadata:\n  transport_type: infisical\n"

// TestDropBootstrap: --drop-bootstrap and SECRET_INIT_DROP_BOOTSTRAP keep
// INFISICAL_CLIENT_ID, INFISICAL_CLIENT_SECRET and INFISICAL_TOKEN from the
// command, wherever they were set, after they served the login; by
// default, and on the fast path of `secret-init -- CMD` with no
// SECRET_INIT_* variable, they pass.
func TestDropBootstrap(t *testing.T) {
	f := newStore(t)
	f.write("contracts/node_client/contract.yaml", clientContract)
	// The client id and secret come from .env, the token from the
	// environment; universal auth is used, since both are set.
	env := []string{"INFISICAL_TOKEN=" + canaryToken}
	passed := map[string]string{"INFISICAL_CLIENT_ID": "runtime", "INFISICAL_CLIENT_SECRET": canaryClient, "INFISICAL_TOKEN": canaryToken}
	dropped := map[string]string{"INFISICAL_CLIENT_ID": "<unset>", "INFISICAL_CLIENT_SECRET": "<unset>", "INFISICAL_TOKEN": "<unset>"}
	cmd := []string{"--", "sh", "-c", `env > "$OUT"`}
	for _, c := range []struct {
		name string
		args []string
		env  []string
		want map[string]string
	}{
		{"default, the fast path", cmd, env, passed},
		{"default, through kong", append([]string{"--log-level", "info"}, cmd...), env, passed},
		{"SECRET_INIT_DROP_BOOTSTRAP=false", cmd, append(env, "SECRET_INIT_DROP_BOOTSTRAP=false"), passed},
		{"SECRET_INIT_DROP_BOOTSTRAP=true", cmd, append(env, "SECRET_INIT_DROP_BOOTSTRAP=true"), dropped},
		{"--drop-bootstrap", append([]string{"--drop-bootstrap"}, cmd...), env, dropped},
		{"--drop-bootstrap as PID 1", append([]string{"--drop-bootstrap"}, cmd...), env, dropped},
		{"--drop-bootstrap in passthrough", append([]string{"--drop-bootstrap"}, cmd...), append(env, "INFISICAL_ADDR="), dropped},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := Spec{Args: c.args, Env: f.env(c.env...), Dir: f.Dir, PID1: strings.HasSuffix(c.name, "PID 1")}
			r := f.run(s)
			wantCode(t, r, 0)
			got := f.childEnv()
			wantEnv(t, got, c.want)
			if strings.HasSuffix(c.name, "passthrough") {
				return // no contract is read
			}
			// node_client declares the infisical transport: a start that
			// drops its credentials says so.
			warned := strings.Contains(r.Stderr, "--drop-bootstrap: the contracts declare credentials")
			if dropping := c.want["INFISICAL_TOKEN"] == "<unset>"; warned != dropping {
				t.Errorf("warned that declared credentials are dropped: %v, want %v\n%s", warned, dropping, r.Stderr)
			}
			// The credentials served the login: the values came.
			wantEnv(t, got, map[string]string{"POSTGRES_DSN": canaryDSN, "INFISICAL_PROJECT_ID": infisicaltest.DefaultProject})
		})
	}

	t.Run("check and plan", func(t *testing.T) {
		for _, drop := range []bool{false, true} {
			e := env
			if drop {
				e = append(env, "SECRET_INIT_DROP_BOOTSTRAP=1")
			}
			for _, cmd := range []string{"check", "plan"} {
				r := f.command(e, cmd, "-o", "json")
				wantCode(t, r, 0)
				rep := decodeReport(t, r)
				if rep.DropBootstrap != drop {
					t.Errorf("%s: drop_bootstrap = %v, want %v", cmd, rep.DropBootstrap, drop)
				}
				if cmd == "check" && !rep.Summary.OK {
					t.Errorf("check: a start would fail: %s", rep.Summary.Error)
				}
				for key, want := range map[string]string{
					"INFISICAL_CLIENT_SECRET": "dotenv", "INFISICAL_CLIENT_ID": "dotenv",
					"INFISICAL_ADDR": "env", "INFISICAL_PROJECT_ID": "dotenv",
				} {
					k, ok := findKey(rep, key, resolve.KindBootstrap)
					if !ok {
						t.Fatalf("%s: no bootstrap key %s", cmd, key)
					}
					if k.Local != want {
						t.Errorf("%s: %s is held in %q, want %q", cmd, key, k.Local, want)
					}
					if cmd != "check" {
						continue
					}
					if drop && key != "INFISICAL_ADDR" && key != "INFISICAL_PROJECT_ID" {
						want = resolve.OriginDropped
					}
					if k.Origin != want {
						t.Errorf("check: %s origin %q, want %q", key, k.Origin, want)
					}
				}
				text := f.command(e, cmd)
				wantCode(t, text, 0)
				if said := strings.Contains(text.Stdout, "not passed to the command (--drop-bootstrap)"); said != drop {
					t.Errorf("%s text says the credentials are dropped: %v, want %v:\n%s", cmd, said, drop, text.Stdout)
				}
			}
		}
	})
}
