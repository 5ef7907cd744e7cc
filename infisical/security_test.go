package infisical_test

// What the client must never do, whatever a server answers: follow a
// redirect, or let a secret it knows reach an error.

import (
	"encoding/json"
	"errors"
	"fmt"
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
		{"302 on a list", "/api/v4/secrets", http.StatusFound, func(c *infisical.Client) error {
			if err := c.LoginUniversal(ctx(t, 10*time.Second), clientID, clientSecret); err != nil {
				return err
			}
			list, err := c.ListSecrets(ctx(t, 10*time.Second), "/shared/db")
			if len(list) > 0 {
				t.Errorf("a redirected list returned secrets: %v", list)
			}
			return err
		}},
		{"308 on a write", "/api/v4/secrets/NEW_KEY", http.StatusPermanentRedirect, func(c *infisical.Client) error {
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

// echoing is a server whose folder /a holds secret and, in an import,
// imported, and whose folder /b fails with status and a message that
// quotes them: in the forms a server could use (as they are, escaped as
// JSON.stringify escapes them, escaped as Go does), or, with straddle, with
// secret across the point where an error cuts a message. A list of /a
// waits for release, so that a test can make /b's error come first.
func echoing(t *testing.T, secret, imported string, status int, straddle bool, release <-chan struct{}) *httptest.Server {
	t.Helper()
	quoted := func(v string) string {
		var b strings.Builder
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		enc.Encode(v)
		node := strings.TrimSpace(b.String())
		goForm, _ := json.Marshal(v)
		return fmt.Sprintf("%s, in JSON %s, from Go %s", v, node, goForm)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.URL.Path == "/api/v1/auth/universal-auth/login":
			json.NewEncoder(w).Encode(map[string]any{"accessToken": "tok-12345", "expiresIn": 3600, "tokenType": "Bearer"})
		case r.URL.Query().Get("secretPath") == "/a":
			<-release
			json.NewEncoder(w).Encode(map[string]any{
				"secrets": []map[string]string{{"secretKey": "A", "secretValue": secret}},
				"imports": []map[string]any{{"secretPath": "/lib", "environment": "dev",
					"secrets": []map[string]string{{"secretKey": "I", "secretValue": imported}}}},
			})
		default:
			msg := quoted(secret) + "; " + quoted(imported)
			if straddle {
				msg = strings.Repeat("x", 190) + secret
			}
			w.WriteHeader(status)
			json.NewEncoder(w).Encode(map[string]any{"reqId": "req-" + imported, "statusCode": status, "error": "PermissionDenied", "message": msg})
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestValuesScrubbedFromEarlierErrors: a value that arrives after an
// error was made (another folder's answer, in flight at the same time) is
// still scrubbed from that error when it is printed, in every form it was
// quoted in, whatever the error went through (a plain refusal, retries
// that gave up).
func TestValuesScrubbedFromEarlierErrors(t *testing.T) {
	const secret = `CANARY-folder-a-"quoted"-<tag>-&-\-value`
	const imported = "CANARY-imported-\n-multi-line-value"
	for _, c := range []struct {
		name     string
		status   int
		straddle bool
	}{
		{"403 quoting every form", http.StatusForbidden, false},
		{"403 with a value across the cut", http.StatusForbidden, true},
		{"502 retried, then given up", http.StatusBadGateway, false},
	} {
		status := c.status
		t.Run(c.name, func(t *testing.T) {
			release := make(chan struct{})
			srv := echoing(t, secret, imported, status, c.straddle, release)
			c, err := infisical.New(infisical.Config{Addr: srv.URL, ProjectID: "p", Environment: "dev"})
			if err != nil {
				t.Fatal(err)
			}
			c.SetRetry(infisical.RetryPolicy{Base: time.Millisecond, Max: time.Millisecond, MaxAttempts: 2})
			if err := c.LoginUniversal(ctx(t, 10*time.Second), "id", "client-secret"); err != nil {
				t.Fatal(err)
			}
			// /a is asked first and answers last, as a slow folder of a
			// parallel round does: /b's error is made before /a's values
			// are known.
			type listed struct {
				list []infisical.Secret
				err  error
			}
			a := make(chan listed)
			go func() {
				list, err := c.ListSecrets(ctx(t, 10*time.Second), "/a")
				a <- listed{list, err}
			}()
			_, errB := c.ListSecrets(ctx(t, 10*time.Second), "/b")
			if errB == nil {
				t.Fatal("/b: want an error")
			}
			close(release)
			if got := <-a; got.err != nil || len(got.list) != 2 {
				t.Fatalf("/a: %v, %v", got.list, got.err)
			}
			msg := errB.Error()
			if strings.Contains(msg, "CANARY") {
				t.Errorf("a value fetched after the error was made is in it:\n%s", msg)
			}
			if !strings.Contains(msg, "[redacted]") || !strings.Contains(msg, fmt.Sprint(status)) {
				t.Errorf("error lost its status or its message: %s", msg)
			}
			var ae *infisical.APIError
			if !errors.As(errB, &ae) || ae.Status != status {
				t.Fatalf("err = %v, want an APIError with status %d", errB, status)
			}
			if strings.Contains(ae.Error(), "CANARY") {
				t.Errorf("the APIError printed on its own holds a value: %s", ae.Error())
			}
			// The raw message stays for matching; printing goes through Error.
			if !strings.Contains(ae.Message, secret) {
				t.Errorf("Message should hold the message as received: %q", ae.Message)
			}
		})
	}
}

// TestWrittenValuesScrubbed: a value the client wrote is scrubbed from the
// errors of every later request too, not only from its own.
func TestWrittenValuesScrubbed(t *testing.T) {
	s, c := fixture(t)
	const written = "CANARY-written-value-90aa"
	if err := c.CreateSecret(ctx(t, 5*time.Second), infisical.Secret{Path: "/shared/db", Key: "NEW", Value: written}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		s.RawAnswer(infisicaltest.RawAnswer{Status: 403, ContentType: "application/json",
			Body: []byte(`{"reqId":"req-x","statusCode":403,"error":"PermissionDenied","message":"NEW is ` + written + `"}`)})
	}
	_, err := c.ListSecrets(ctx(t, 5*time.Second), "/shared/db")
	if err == nil || strings.Contains(err.Error(), "CANARY") || !strings.Contains(err.Error(), "403") {
		t.Fatalf("err = %v, want the 403 without the written value", err)
	}
}
