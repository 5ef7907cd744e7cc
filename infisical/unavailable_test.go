package infisical_test

import (
	"net/http"
	"testing"
	"time"

	"secret-init/infisical"
	"secret-init/infisical/infisicaltest"
)

// TestUnavailable: which errors of real requests mean "Infisical could not
// answer" (a kept copy of its values may stand in) and which are its word
// (never bridged). Each case is the error the client returns for a real
// answer of the test server, or for no server at all.
func TestUnavailable(t *testing.T) {
	// A server stopped: its port refuses connections.
	closed := func(t *testing.T) string {
		gone := infisicaltest.NewServer()
		gone.Close()
		return gone.URL
	}
	cases := []struct {
		name        string
		prepare     func(t *testing.T, s *infisicaltest.Server) (addr string)
		timeout     time.Duration
		login       string // client secret to log in with; "" lists with the fixture's token
		unavailable bool
	}{
		{"nothing listens", func(t *testing.T, s *infisicaltest.Server) string { return closed(t) }, time.Second, clientSecret, true},
		{"stalls past the deadline", func(t *testing.T, s *infisicaltest.Server) string { s.Stall(time.Minute); return s.URL }, 300 * time.Millisecond, "", true},
		{"resets every answer", func(t *testing.T, s *infisicaltest.Server) string { s.ResetMidAnswer(1 << 20); return s.URL }, time.Second, "", true},
		{"503 throughout", func(t *testing.T, s *infisicaltest.Server) string { s.FailNext(1<<20, 503); return s.URL }, time.Second, "", true},
		{"500", func(t *testing.T, s *infisicaltest.Server) string { s.FailNext(1, 500); return s.URL }, time.Second, "", true},
		{"429 past the deadline", func(t *testing.T, s *infisicaltest.Server) string { s.FailNext(1<<20, 429); return s.URL }, time.Second, "", true},
		{"401 wrong secret", func(t *testing.T, s *infisicaltest.Server) string { return s.URL }, time.Second, "wrong", false},
		{"403 denied folder", func(t *testing.T, s *infisicaltest.Server) string {
			s.AddToken("deny-token", infisicaltest.DenyFolder("dev", "/"))
			return s.URL
		}, time.Second, "token:deny-token", false},
		{"403 expired token", func(t *testing.T, s *infisicaltest.Server) string {
			s.AddToken("old-token")
			s.ExpireToken("old-token")
			return s.URL
		}, time.Second, "token:old-token", false},
		{"404 unknown project", func(t *testing.T, s *infisicaltest.Server) string { s.SetProject("another"); return s.URL }, time.Second, "", false},
		{"locked identity", func(t *testing.T, s *infisicaltest.Server) string {
			for range 3 {
				c := newClient(t, s)
				c.LoginUniversal(ctx(t, time.Second), clientID, "wrong")
			}
			return s.URL
		}, time.Second, clientSecret, false},
		{"200 that is not JSON", func(t *testing.T, s *infisicaltest.Server) string {
			s.RawAnswer(infisicaltest.RawAnswer{ContentType: "text/html", Body: []byte("<p>proxy login</p>")})
			return s.URL
		}, time.Second, "", false},
		{"redirect", func(t *testing.T, s *infisicaltest.Server) string {
			s.RawAnswer(infisicaltest.RawAnswer{Status: http.StatusFound, Header: http.Header{"Location": {"http://elsewhere.example/"}}})
			return s.URL
		}, time.Second, "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, logged := fixture(t)
			addr := c.prepare(t, s)
			cl := logged
			if addr != s.URL || c.login != "" {
				var err error
				cl, err = infisical.New(infisical.Config{Addr: addr, ProjectID: s.ProjectID(), Environment: "dev"})
				if err != nil {
					t.Fatal(err)
				}
				cl.SetRetry(infisical.RetryPolicy{Base: 10 * time.Millisecond, Max: 50 * time.Millisecond})
			}
			cx := ctx(t, c.timeout)
			var err error
			switch {
			case len(c.login) > 6 && c.login[:6] == "token:":
				cl.SetToken(c.login[6:])
			case c.login != "":
				err = cl.LoginUniversal(cx, clientID, c.login)
			}
			if err == nil {
				_, err = cl.ListSecrets(cx, "/shared/db")
			}
			if err == nil {
				t.Fatal("no error")
			}
			t.Log(err)
			if got := infisical.Unavailable(err); got != c.unavailable {
				t.Errorf("Unavailable(%v) = %v, want %v", err, got, c.unavailable)
			}
		})
	}
	if infisical.Unavailable(nil) {
		t.Error("Unavailable(nil) = true")
	}
}
