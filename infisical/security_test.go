package infisical_test

// What the client must never do, whatever a server answers: follow a
// redirect, or let a secret it knows reach an error.

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"secret-init/infisical"
	"secret-init/infisical/infisicaltest"
)

// elsewhere is the host a redirect points at: it counts what reaches it
// and, were it ever asked, answers a list with a value of its own.
type elsewhere struct {
	*httptest.Server
	hits atomic.Int64
}

const elsewhereValue = "CANARY-other-host-value-6d2e"

func newElsewhere(t *testing.T) *elsewhere {
	t.Helper()
	e := &elsewhere{}
	e.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"accessToken":"CANARY-other-token","expiresIn":3600,"tokenType":"Bearer",` +
			`"secrets":[{"secretKey":"POSTGRES_DSN","secretValue":"` + elsewhereValue + `"}],"imports":[]}`))
	}))
	t.Cleanup(e.Close)
	return e
}

// redirecting answers path with status and a Location at target (with a
// user info and a query that must never be shown), and counts those
// answers in *redirects; everything else goes on to the test server s.
func redirecting(t *testing.T, s *infisicaltest.Server, path string, status int, target string, redirects *atomic.Int64) string {
	t.Helper()
	loc, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	loc.User = url.UserPassword("CANARY-user", "CANARY-password")
	loc.Path = path
	loc.RawQuery = "token=CANARY-query"
	backend, _ := url.Parse(s.URL)
	pass := httputil.NewSingleHostReverseProxy(backend)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != path {
			pass.ServeHTTP(w, r)
			return
		}
		redirects.Add(1)
		http.Redirect(w, r, loc.String(), status)
	}))
	t.Cleanup(front.Close)
	return front.URL
}

// TestRedirectNeverFollowed: a 307 on the login (which would re-send the
// client secret) and a 302 on a list (whose other host's answer would be
// taken for secrets) are errors that name the status and the target's
// host, and the other host receives nothing.
func TestRedirectNeverFollowed(t *testing.T) {
	for _, c := range []struct {
		name   string
		path   string
		status int
		call   func(*infisical.Client) error
	}{
		{"307 on the login", "/api/v1/auth/universal-auth/login", http.StatusTemporaryRedirect, func(c *infisical.Client) error {
			return c.LoginUniversal(ctx(t, 10*time.Second), clientID, clientSecret)
		}},
		{"302 on a list", "/api/v3/secrets/raw", http.StatusFound, func(c *infisical.Client) error {
			if err := c.LoginUniversal(ctx(t, 10*time.Second), clientID, clientSecret); err != nil {
				return err
			}
			list, err := c.ListSecrets(ctx(t, 10*time.Second), "/shared/db")
			if len(list) > 0 {
				t.Errorf("a redirected list returned secrets: %v", list)
			}
			return err
		}},
		{"308 on a write", "/api/v3/secrets/raw/NEW_KEY", http.StatusPermanentRedirect, func(c *infisical.Client) error {
			if err := c.LoginUniversal(ctx(t, 10*time.Second), clientID, clientSecret); err != nil {
				return err
			}
			return c.CreateSecret(ctx(t, 10*time.Second), infisical.Secret{Path: "/shared/db", Key: "NEW_KEY", Value: "CANARY-written-value"})
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, _ := fixture(t)
			other := newElsewhere(t)
			var redirects atomic.Int64
			addr := redirecting(t, s, c.path, c.status, other.URL, &redirects)
			cl, err := infisical.New(infisical.Config{Addr: addr, ProjectID: s.ProjectID(), Environment: "dev"})
			if err != nil {
				t.Fatal(err)
			}
			err = c.call(cl)
			var re *infisical.RedirectError
			if !errors.As(err, &re) || re.Status != c.status {
				t.Fatalf("err = %v, want a RedirectError with status %d", err, c.status)
			}
			if n := other.hits.Load(); n != 0 {
				t.Fatalf("the redirect's target received %d requests; it must receive none", n)
			}
			host := strings.TrimPrefix(other.URL, "http://")
			msg := err.Error()
			for _, want := range []string{c.path, http.StatusText(c.status), host, "INFISICAL_ADDR"} {
				if !strings.Contains(msg, want) {
					t.Errorf("error does not say %q: %s", want, msg)
				}
			}
			if strings.Contains(msg, "CANARY") {
				t.Errorf("error shows the Location's user info or query: %s", msg)
			}
			// Not retried: asking again redirects again.
			if n := redirects.Load(); n != 1 {
				t.Errorf("%d redirects answered, want 1 (a redirect is not retried)", n)
			}
		})
	}
}
