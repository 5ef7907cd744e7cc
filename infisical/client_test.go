package infisical_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"secret-init/infisical"
	"secret-init/infisical/infisicaltest"
)

const (
	clientID     = "ci-client"
	clientSecret = "ci-secret-CANARY-7f3a"
)

// fixture is a seeded server plus a logged-in client.
func fixture(t *testing.T) (*infisicaltest.Server, *infisical.Client) {
	t.Helper()
	s := infisicaltest.NewServer()
	t.Cleanup(s.Close)
	s.AddUniversalIdentity(clientID, clientSecret)
	s.SetSecret("dev", "/shared/db", "POSTGRES_DSN", "postgres://db/app")
	s.SetSecret("dev", "/shared/db", "POSTGRES_POOL_MIN", "2")
	s.SetSecret("dev", "/services/billing", "DSN", "${dev.shared.db.POSTGRES_DSN}?app=billing")
	c := newClient(t, s)
	if err := c.LoginUniversal(ctx(t, 10*time.Second), clientID, clientSecret); err != nil {
		t.Fatal(err)
	}
	s.ResetCounts()
	return s, c
}

// newClient makes a client of s's project, environment dev, with a short
// backoff that keeps the retry tests fast (the policy's shape is the same).
func newClient(t *testing.T, s *infisicaltest.Server) *infisical.Client {
	t.Helper()
	c, err := infisical.New(infisical.Config{Addr: s.URL, ProjectID: s.ProjectID(), Environment: "dev"})
	if err != nil {
		t.Fatal(err)
	}
	c.SetRetry(infisical.RetryPolicy{Base: 10 * time.Millisecond, Max: 50 * time.Millisecond})
	return c
}

func ctx(t *testing.T, d time.Duration) context.Context {
	c, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return c
}

// get finds key in a listing of folder.
func get(t *testing.T, c *infisical.Client, cx context.Context, folder, key string) (infisical.Secret, bool) {
	t.Helper()
	list, err := c.ListSecrets(cx, folder)
	if err != nil {
		t.Fatalf("list %s: %v", folder, err)
	}
	for _, sec := range list {
		if sec.Key == key {
			return sec, true
		}
	}
	return infisical.Secret{}, false
}

func TestRetries(t *testing.T) {
	tests := []struct {
		name      string
		failN     int
		status    int
		wantOK    bool
		wantCalls int
		minTime   time.Duration // Retry-After must be honoured
	}{
		{name: "429 with Retry-After then success", failN: 1, status: 429, wantOK: true, wantCalls: 2, minTime: 900 * time.Millisecond},
		{name: "503 twice then success", failN: 2, status: 503, wantOK: true, wantCalls: 3},
		{name: "502 then success", failN: 1, status: 502, wantOK: true, wantCalls: 2},
		{name: "504 then success", failN: 1, status: 504, wantOK: true, wantCalls: 2},
		{name: "500 not retried", failN: 1, status: 500, wantCalls: 1},
		{name: "400 not retried", failN: 1, status: 400, wantCalls: 1},
		{name: "401 not retried", failN: 1, status: 401, wantCalls: 1},
		{name: "403 not retried", failN: 1, status: 403, wantCalls: 1},
		{name: "404 not retried", failN: 1, status: 404, wantCalls: 1},
		{name: "422 not retried", failN: 1, status: 422, wantCalls: 1},
		{name: "503 beyond max attempts", failN: 100, status: 503, wantCalls: 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, c := fixture(t)
			s.FailNext(tt.failN, tt.status)
			before := c.Requests()
			start := time.Now()
			got, err := c.ListSecrets(ctx(t, 20*time.Second), "/shared/db")
			elapsed := time.Since(start)
			if calls := s.Count("GET", "/api/v4/secrets"); calls != tt.wantCalls {
				t.Errorf("server saw %d list requests, want %d", calls, tt.wantCalls)
			}
			if n := c.Requests() - before; n != int64(tt.wantCalls) {
				t.Errorf("Requests() grew by %d, want %d", n, tt.wantCalls)
			}
			if tt.wantOK {
				if err != nil || len(got) != 2 {
					t.Fatalf("got %v, %v; want 2 secrets", got, err)
				}
			} else {
				var ae *infisical.APIError
				if !errors.As(err, &ae) || ae.Status != tt.status {
					t.Fatalf("err = %v, want APIError with status %d", err, tt.status)
				}
			}
			if elapsed < tt.minTime {
				t.Errorf("returned after %v, want at least %v (Retry-After)", elapsed, tt.minTime)
			}
		})
	}
}

func TestWrongTokenNotRetried(t *testing.T) {
	s, c := fixture(t)
	// Not a JWT: the real server's jsonwebtoken.verify calls it malformed,
	// a 403 TokenError. A revoked one is a 401.
	s.AddToken("revoked-CANARY-token")
	s.RevokeToken("revoked-CANARY-token")
	for tok, status := range map[string]int{"not-a-token-CANARY": http.StatusForbidden, "revoked-CANARY-token": http.StatusUnauthorized} {
		s.ResetCounts()
		c.SetToken(tok)
		_, err := c.ListSecrets(ctx(t, 5*time.Second), "/")
		var ae *infisical.APIError
		if !errors.As(err, &ae) || ae.Status != status || !errors.Is(err, infisical.ErrTokenRefused) {
			t.Fatalf("%s: err = %v, want %d and ErrTokenRefused", tok, err, status)
		}
		if n := s.Count("GET", "/api/v4/secrets"); n != 1 {
			t.Fatalf("%s: sent %d times, want 1", tok, n)
		}
		if strings.Contains(err.Error(), "CANARY") {
			t.Fatalf("error leaks the token: %v", err)
		}
	}
}

func TestDeadline(t *testing.T) {
	t.Run("stalled server", func(t *testing.T) {
		s, c := fixture(t)
		s.Stall(30 * time.Second)
		start := time.Now()
		_, err := c.ListSecrets(ctx(t, 300*time.Millisecond), "/")
		if elapsed := time.Since(start); elapsed > 300*time.Millisecond+2*time.Second {
			t.Fatalf("returned after %v, deadline was 300ms", elapsed)
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want context.DeadlineExceeded", err)
		}
		if !strings.Contains(err.Error(), "list secrets") {
			t.Fatalf("err = %v, want it to name the operation", err)
		}
	})
	t.Run("Retry-After beyond the deadline gives up at once", func(t *testing.T) {
		s, c := fixture(t)
		s.RateLimit(0.2, 1) // after one request, the next must wait 5s
		s.ResetCounts()
		if _, err := c.ListSecrets(ctx(t, 5*time.Second), "/"); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		_, err := c.ListSecrets(ctx(t, 2*time.Second), "/")
		elapsed := time.Since(start)
		var ae *infisical.APIError
		if !errors.As(err, &ae) || ae.Status != http.StatusTooManyRequests {
			t.Fatalf("err = %v, want the 429 itself", err)
		}
		if elapsed > time.Second {
			t.Fatalf("gave up after %v, want at once", elapsed)
		}
		if !strings.Contains(err.Error(), "Retry-After 5s is past the deadline") {
			t.Fatalf("err = %v, want it to say why it gave up", err)
		}
		if n := s.Count("GET", "/api/v4/secrets"); n != 2 {
			t.Fatalf("server saw %d lists, want 2", n)
		}
	})
	t.Run("rate limit waited out within the deadline", func(t *testing.T) {
		s, c := fixture(t)
		s.RateLimit(1, 1)
		var wg sync.WaitGroup
		errs := make([]error, 3)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = c.ListSecrets(ctx(t, 15*time.Second), "/shared/db")
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if n := s.Count("GET", "/api/v4/secrets"); n < 4 {
			t.Fatalf("server saw %d lists, want some 429s retried", n)
		}
	})
}

func TestBadAnswers(t *testing.T) {
	big := append([]byte(`{"secrets":[{"secretKey":"A","secretValue":"`), bytes.Repeat([]byte("x"), 4096)...)
	big = append(big, `"}]}`...)
	tests := []struct {
		name    string
		answer  infisicaltest.RawAnswer
		wantErr string
	}{
		{"body over the cap", infisicaltest.RawAnswer{ContentType: "application/json", Body: big}, "larger than 1024 bytes"},
		{"non-JSON 200", infisicaltest.RawAnswer{ContentType: "text/html", Body: []byte("<html>login</html>")}, `"text/html", not JSON`},
		{"no content type", infisicaltest.RawAnswer{Body: []byte(`{"secrets":[]}`)}, "not JSON"},
		{"malformed JSON", infisicaltest.RawAnswer{ContentType: "application/json", Body: []byte(`{"secrets":[`)}, "malformed answer"},
		{"secrets not a list", infisicaltest.RawAnswer{ContentType: "application/json", Body: []byte(`{"secrets":{"A":"b"}}`)}, `field "secrets" is object`},
		{"secrets missing", infisicaltest.RawAnswer{ContentType: "application/json", Body: []byte(`{"imports":[]}`)}, `no "secrets" list`},
		{"import without secrets", infisicaltest.RawAnswer{ContentType: "application/json", Body: []byte(`{"secrets":[],"imports":[{"secretPath":"/x"}]}`)}, `import 0 has no "secrets" list`},
		{"JSON null", infisicaltest.RawAnswer{ContentType: "application/json", Body: []byte(`null`)}, `no "secrets" list`},
		{"HTML 500", infisicaltest.RawAnswer{Status: 500, ContentType: "text/html", Body: []byte("<html><body>secret-ish page</body></html>")}, "status 500 Internal Server Error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := fixture(t)
			c := newClient(t, s)
			c.SetMaxBody(1024)
			c.SetToken(s.Tokens()[0])
			s.RawAnswer(tt.answer)
			_, err := c.ListSecrets(ctx(t, 5*time.Second), "/")
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "list secrets") {
				t.Fatalf("err = %v, want it to name the operation and contain %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "<html") || strings.Contains(err.Error(), "xxxx") {
				t.Fatalf("error echoes the body: %v", err)
			}
			if n := s.Count("GET", "/api/v4/secrets"); n != 1 {
				t.Fatalf("bad answer was retried: %d requests", n)
			}
		})
	}
}

func TestResetMidAnswer(t *testing.T) {
	t.Run("once, then retried", func(t *testing.T) {
		s, c := fixture(t)
		s.ResetMidAnswer(1)
		got, err := c.ListSecrets(ctx(t, 5*time.Second), "/shared/db")
		if err != nil || len(got) != 2 {
			t.Fatalf("got %v, %v", got, err)
		}
		if n := s.Count("GET", "/api/v4/secrets"); n != 2 {
			t.Fatalf("server saw %d lists, want 2", n)
		}
	})
	t.Run("always", func(t *testing.T) {
		s, c := fixture(t)
		s.ResetMidAnswer(1000)
		_, err := c.ListSecrets(ctx(t, 5*time.Second), "/shared/db")
		var te *infisical.TransportError
		if !errors.As(err, &te) || !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("err = %v, want a TransportError wrapping io.ErrUnexpectedEOF", err)
		}
	})
}

func TestSecretsAndFolders(t *testing.T) {
	s, c := fixture(t)
	cx := ctx(t, 10*time.Second)
	s.SetSecret("dev", "/app", "A", "own-a")
	s.SetSecret("dev", "/common1", "A", "import1-a")
	s.SetSecret("dev", "/common1", "B", "import1-b")
	s.SetSecret("dev", "/common2", "B", "import2-b")
	s.SetSecret("dev", "/common2", "C", "${A}+${prod.REGION}")
	s.SetSecret("prod", "/", "REGION", "eu")
	s.AddImport("dev", "/app", "dev", "/common1")
	s.AddImport("dev", "/app", "dev", "/common2")

	got, err := c.ListSecrets(cx, "/app")
	if err != nil {
		t.Fatal(err)
	}
	// The folder's own A wins; B is in both imports and the later one,
	// /common2, wins, as Infisical and its CLI decide. C's ${A} means A in
	// C's own folder /common2, which has none: Infisical leaves it as it is.
	want := []infisical.Secret{
		{Key: "A", Value: "own-a", Path: "/app", Version: 1},
		{Key: "B", Value: "import2-b", Path: "/common2", Version: 1},
		{Key: "C", Value: "${A}+eu", Path: "/common2", Unresolved: true, Version: 1},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("ListSecrets = %v\nwant %v", got, want)
	}

	if sec, ok := get(t, c, cx, "/services/billing", "DSN"); !ok || sec.Value != "postgres://db/app?app=billing" || sec.Path != "/services/billing" || sec.Unresolved {
		t.Fatalf("a reference expanded: %+v, %v", sec, ok)
	}
	if got, err := c.ListSecrets(cx, "/nope"); !errors.Is(err, infisical.ErrFolderNotFound) || len(got) != 0 {
		t.Errorf("missing folder: %v, %v; want ErrFolderNotFound, as Infisical answers SecretPathNotFound", got, err)
	}

	if err := c.CreateSecret(cx, infisical.Secret{Path: "/app", Key: "NEW", Value: "v1"}); err != nil {
		t.Fatal(err)
	}
	err = c.CreateSecret(cx, infisical.Secret{Path: "/app", Key: "NEW", Value: "v1"})
	var ae *infisical.APIError
	if !errors.As(err, &ae) || ae.Status != 400 || ae.Message != "Secret already exist" {
		t.Fatalf("second create: %v, want 400 Secret already exist", err)
	}
	if err := c.CreateSecret(cx, infisical.Secret{Path: "/missing", Key: "NEW", Value: "v1"}); !errors.Is(err, infisical.ErrNotFound) {
		t.Fatalf("create in a missing folder: %v, want ErrNotFound", err)
	}
	if err := c.UpdateSecret(cx, infisical.Secret{Path: "/app", Key: "NEW", Value: "v2"}); err != nil {
		t.Fatal(err)
	}
	if sec, ok := get(t, c, cx, "/app", "NEW"); !ok || sec.Value != "v2" {
		t.Fatalf("after update: %+v, %v", sec, ok)
	}
	if err := c.UpdateSecret(cx, infisical.Secret{Path: "/app", Key: "GHOST", Value: "v2"}); !errors.Is(err, infisical.ErrNotFound) {
		t.Fatalf("update of a missing key: %v, want ErrNotFound", err)
	}

	if err := c.CreateFolder(cx, "/x/y", "z"); err != nil {
		t.Fatal(err)
	}
	// Infisical answers 400 "already exists" to the second create; for a
	// caller who wants the folder to be there, that is success.
	if err := c.CreateFolder(cx, "/x/y", "z"); err != nil {
		t.Fatalf("creating an existing folder: %v", err)
	}
	for _, tt := range []struct {
		path string
		want []string
	}{
		{"/", []string{"app", "common1", "common2", "services", "shared", "x"}},
		{"/x", []string{"y"}},
		{"/x/y", []string{"z"}},
		{"/x/y/z", []string{}},
	} {
		got, err := c.ListFolders(cx, tt.path)
		if err != nil || fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("ListFolders(%s) = %v, %v; want %v", tt.path, got, err, tt.want)
		}
	}
}

func TestKubernetesLoginAndToken(t *testing.T) {
	s := infisicaltest.NewServer()
	defer s.Close()
	s.AddKubernetesIdentity("k8s-id", "jwt-CANARY-abc")
	s.SetSecret("dev", "/", "K", "v")
	s.AddToken("static-token")

	c := newClient(t, s)
	err := c.LoginKubernetes(ctx(t, 5*time.Second), "k8s-id", "jwt-wrong")
	var ae *infisical.APIError
	if !errors.As(err, &ae) || ae.Status != 401 {
		t.Fatalf("bad jwt: %v, want 401", err)
	}
	if err := c.LoginKubernetes(ctx(t, 5*time.Second), "k8s-id", "jwt-CANARY-abc"); err != nil {
		t.Fatal(err)
	}
	if got, err := c.ListSecrets(ctx(t, 5*time.Second), "/"); err != nil || len(got) != 1 {
		t.Fatalf("list after k8s login: %v, %v", got, err)
	}

	c2 := newClient(t, s)
	if _, err := c2.ListSecrets(ctx(t, 5*time.Second), "/"); err == nil || !strings.Contains(err.Error(), "not logged in") {
		t.Fatalf("list without token: %v", err)
	}
	c2.SetToken("static-token")
	if got, err := c2.ListSecrets(ctx(t, 5*time.Second), "/"); err != nil || len(got) != 1 {
		t.Fatalf("list with INFISICAL_TOKEN: %v, %v", got, err)
	}
	if reqs := s.Requests(); reqs[len(reqs)-1].UserAgent != "secret-init" {
		t.Fatalf("User-Agent = %q", reqs[len(reqs)-1].UserAgent)
	}
}

// TestNoSecretsInErrors drives every operation against servers that fail in
// every way, including one that echoes the request body into its message,
// and checks that no credential or value reaches an error.
func TestNoSecretsInErrors(t *testing.T) {
	// The secret value holds characters JSON escapes, as an echoing server
	// would send them back escaped.
	value := "CANARY-secret-value\"with<quotes>"
	canaries := []string{"CANARY-secret-value", "CANARY-client-secret", "CANARY-jwt", "CANARY-token"}

	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		status := map[string]int{"POST": 401, "PATCH": 422, "GET": 403}[r.Method]
		w.WriteHeader(status)
		msg := fmt.Sprintf("%q", string(body)+" auth="+r.Header.Get("Authorization"))
		if status == 422 {
			msg = fmt.Sprintf(`[{"path":["secretValue"],"received":%s,"message":%s}]`, msg, msg)
		}
		fmt.Fprintf(w, `{"reqId":"req-abcdefghijklmn","statusCode":%d,"message":%s,"error":"X"}`, status, msg)
	}))
	defer echo.Close()

	fake, _ := fixture(t)
	fake.SetSecret("dev", "/", "V", "CANARY-secret-value")
	fake.AddUniversalIdentity("limited", "CANARY-client-secret", infisicaltest.DenyFolder("dev", "/"))

	for _, addr := range []string{echo.URL, fake.URL} {
		c, err := infisical.New(infisical.Config{Addr: addr, ProjectID: fake.ProjectID(), Environment: "dev"})
		if err != nil {
			t.Fatal(err)
		}
		c.SetRetry(infisical.RetryPolicy{Base: time.Millisecond, Max: time.Millisecond})
		cx := ctx(t, 10*time.Second)
		var errs []error
		errs = append(errs, c.LoginUniversal(cx, clientID, "CANARY-client-secret"))
		errs = append(errs, c.LoginKubernetes(cx, "id", "CANARY-jwt"))
		c.SetToken("CANARY-token")
		_, err = c.ListSecrets(cx, "/")
		errs = append(errs, err)
		errs = append(errs,
			c.CreateSecret(cx, infisical.Secret{Path: "/", Key: "V", Value: value}),
			c.UpdateSecret(cx, infisical.Secret{Path: "/", Key: "V", Value: value}))
		if addr == fake.URL {
			// A real login whose identity may read nothing: 403 on list, 403 on
			// a reference, 400 on create.
			if err := c.LoginUniversal(cx, "limited", "CANARY-client-secret"); err != nil {
				t.Fatal(err)
			}
			_, err = c.ListSecrets(cx, "/")
			errs = append(errs, err, c.CreateSecret(cx, infisical.Secret{Path: "/", Key: "V", Value: value}))
		}
		for i, err := range errs {
			if err == nil {
				t.Errorf("%s: call %d succeeded, want an error", addr, i)
				continue
			}
			for _, cn := range canaries {
				if strings.Contains(err.Error(), cn) {
					t.Errorf("%s: error leaks %s: %v", addr, cn, err)
				}
			}
			if strings.ContainsAny(err.Error(), "\n\r") {
				t.Errorf("error is not one line: %q", err)
			}
		}
	}
}

func TestConcurrentLists(t *testing.T) {
	s, c := fixture(t)
	s.SetLatency(20 * time.Millisecond)
	for i := range 16 {
		s.SetSecret("dev", fmt.Sprintf("/svc/%02d", i), "K", fmt.Sprint(i))
	}
	before := c.Requests()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := c.ListSecrets(ctx(t, 10*time.Second), fmt.Sprintf("/svc/%02d", i))
			if err == nil && (len(got) != 1 || got[0].Value != fmt.Sprint(i)) {
				err = fmt.Errorf("folder %d: got %v", i, got)
			}
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := c.Requests() - before; n != 16 {
		t.Fatalf("Requests() grew by %d, want 16", n)
	}
	if n := s.Count("POST", "/api/v1/auth/"); n != 0 {
		t.Fatalf("lists logged in again %d times", n)
	}
}

func TestKeepAlive(t *testing.T) {
	s, c := fixture(t)
	cx := ctx(t, 10*time.Second)
	for i := range 6 {
		if i == 2 {
			s.FailNext(1, 503) // an error answer must not cost the connection
		}
		if _, err := c.ListSecrets(cx, "/shared/db"); err != nil {
			t.Fatal(err)
		}
		if err := c.UpdateSecret(cx, infisical.Secret{Path: "/shared/db", Key: "NOPE"}); !errors.Is(err, infisical.ErrNotFound) {
			t.Fatal(err)
		}
	}
	conns := map[string]bool{}
	for _, r := range s.Requests() {
		conns[r.Remote] = true
	}
	if len(s.Requests()) != 13 || len(conns) != 1 {
		t.Fatalf("%d requests over %d connections, want 13 over 1", len(s.Requests()), len(conns))
	}
}

func TestCACert(t *testing.T) {
	s := infisicaltest.NewTLSServer()
	defer s.Close()
	s.AddToken("tok")
	s.SetSecret("dev", "/", "K", "v")
	ca := s.CACertPEM()
	for _, addr := range []string{s.URL, "http://127.0.0.1:1"} {
		if _, err := infisical.New(infisical.Config{Addr: addr, CACert: []byte("not a certificate")}); !errors.Is(err, infisical.ErrNoCertificate) {
			t.Errorf("New with a CA that is no PEM (%s): %v, want ErrNoCertificate", addr, err)
		}
	}

	without, err := infisical.New(infisical.Config{Addr: s.URL, ProjectID: s.ProjectID(), Environment: "dev"})
	if err != nil {
		t.Fatal(err)
	}
	without.SetRetry(infisical.RetryPolicy{MaxAttempts: 1})
	without.SetToken("tok")
	if _, err := without.ListSecrets(ctx(t, 5*time.Second), "/"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("without --ca-cert: %v, want a certificate error", err)
	}

	with, err := infisical.New(infisical.Config{Addr: s.URL, ProjectID: s.ProjectID(), Environment: "dev", CACert: ca})
	if err != nil {
		t.Fatal(err)
	}
	with.SetToken("tok")
	if got, err := with.ListSecrets(ctx(t, 5*time.Second), "/"); err != nil || len(got) != 1 {
		t.Fatalf("with --ca-cert: %v, %v", got, err)
	}

	// The system roots are loaded once per process and shared: a CA file
	// given to one client must not reach the next one's trust.
	after, err := infisical.New(infisical.Config{Addr: s.URL, ProjectID: s.ProjectID(), Environment: "dev"})
	if err != nil {
		t.Fatal(err)
	}
	after.SetRetry(infisical.RetryPolicy{MaxAttempts: 1})
	after.SetToken("tok")
	if _, err := after.ListSecrets(ctx(t, 5*time.Second), "/"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("a client made after one with --ca-cert trusts its CA: %v", err)
	}
}

func TestErrorFormat(t *testing.T) {
	s, _ := fixture(t)
	s.SetSecret("dev", "/locked", "K", "v")
	c, err := infisical.New(infisical.Config{Addr: s.URL, ProjectID: s.ProjectID(), Environment: "nope"})
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken(s.Tokens()[0])
	_, err = c.ListSecrets(ctx(t, 5*time.Second), "/locked")
	re := regexp.MustCompile(`^infisical: list secrets: GET /api/v4/secrets \(env nope, folder /locked\): status 404 Not Found \[reqId req-[A-Za-z0-9]{14}\]: Folder with path '/locked' in environment with slug 'nope' not found$`)
	if err == nil || !re.MatchString(err.Error()) {
		t.Fatalf("err = %v\nwant match %s", err, re)
	}
}
