package e2e

// What secret-init must never do, whatever Infisical (or what stands in
// front of it) answers and whatever files it is pointed at: follow a
// redirect, let a value it fetched reach its output, hang on or swallow a
// file that is not a small regular file, or hand the bootstrap credentials
// to a command that was not meant to get them.

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
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
