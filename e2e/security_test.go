package e2e

// What secret-init must never do, whatever Infisical (or what stands in
// front of it) answers and whatever files it is pointed at: follow a
// redirect, let a value it fetched reach its output, hang on or swallow a
// file that is not a small regular file, or hand the bootstrap credentials
// to a command that was not meant to get them.

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
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
		{"302 on a list", "/api/v3/secrets/raw", http.StatusFound, nil, 0},
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
				// .env only, still sends the start to /shared/env.
				r := f.run(Spec{Args: args, Env: f.env("INFISICAL_ADDR="+addr, "STRIPE_API_KEY=from-env"), Dir: f.Dir})
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
		if r.URL.Path != "/api/v3/secrets/raw" {
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
