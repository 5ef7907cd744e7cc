package infisical_test

// The client against the rules of the real server, as the test server
// models them: which routes, which 404 means what, import precedence,
// unresolved and hidden values, lockout and tokens.

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"secret-init/infisical"
	"secret-init/infisical/infisicaltest"
)

// TestListQuery: a list goes to v4 with every boolean explicit and
// include-imports in both spellings, as the official CLI sends it.
func TestListQuery(t *testing.T) {
	s, c := fixture(t)
	if _, err := c.ListSecrets(ctx(t, 5*time.Second), "/shared/db"); err != nil {
		t.Fatal(err)
	}
	reqs := s.Requests()
	if len(reqs) != 1 || reqs[0].Path != "/api/v4/secrets" {
		t.Fatalf("requests %+v", reqs)
	}
	q := reqs[0].Query
	for k, v := range map[string]string{
		"projectId": s.ProjectID(), "workspaceId": s.ProjectID(), "environment": "dev", "secretPath": "/shared/db",
		"include_imports": "true", "includeImports": "true", "expandSecretReferences": "true",
		"recursive": "false", "viewSecretValue": "true", "includePersonalOverrides": "false",
	} {
		if q.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, q.Get(k), v)
		}
	}
	// ListStored: values as stored, the folder's own keys only.
	s.ResetCounts()
	list, err := c.ListStored(ctx(t, 5*time.Second), "/services/billing")
	if err != nil || len(list) != 1 || list[0].Value != "${dev.shared.db.POSTGRES_DSN}?app=billing" || list[0].Unresolved {
		t.Fatalf("ListStored = %+v, %v", list, err)
	}
	q = s.Requests()[0].Query
	if q.Get("expandSecretReferences") != "false" || q.Get("include_imports") != "false" || q.Get("includeImports") != "false" {
		t.Errorf("stored list query %v", q)
	}
}

// TestAPIFallback: an older server without v4 and a future one without v3
// both work; the client learns once which one it talks to.
func TestAPIFallback(t *testing.T) {
	s, c := fixture(t)
	cx := ctx(t, 10*time.Second)
	s.ServeV4(false)
	for range 3 {
		if got, err := c.ListSecrets(cx, "/shared/db"); err != nil || len(got) != 2 {
			t.Fatalf("old server: %v, %v", got, err)
		}
	}
	if v4, v3 := s.Count("GET", "/api/v4/"), s.Count("GET", "/api/v3/"); v4 != 1 || v3 != 3 {
		t.Errorf("old server: %d v4 and %d v3 lists, want 1 and 3", v4, v3)
	}
	if err := c.UpdateSecret(cx, infisical.Secret{Path: "/shared/db", Key: "POSTGRES_POOL_MIN", Value: "3"}); err != nil {
		t.Fatalf("write on an old server: %v", err)
	}
	if n := s.Count("PATCH", "/api/v3/secrets/raw/POSTGRES_POOL_MIN"); n != 1 {
		t.Errorf("the write went %d times to v3, want 1 (v4 is known to be missing)", n)
	}

	// The same client, now against a future server: back to v4, once.
	s.ResetCounts()
	s.ServeV4(true)
	s.ServeV3(false)
	for range 3 {
		if got, err := c.ListSecrets(cx, "/shared/db"); err != nil || len(got) != 2 {
			t.Fatalf("future server: %v, %v", got, err)
		}
	}
	if v4, v3 := s.Count("GET", "/api/v4/"), s.Count("GET", "/api/v3/"); v4 != 3 || v3 != 1 {
		t.Errorf("future server: %d v4 and %d v3 lists, want 3 and 1", v4, v3)
	}
}

// TestNotInfisical: an address where neither version answers is not
// Infisical's API, and the error says so, naming the address without its
// query.
func TestNotInfisical(t *testing.T) {
	s, _ := fixture(t)
	s.ServeV3(false)
	s.ServeV4(false)
	c, err := infisical.New(infisical.Config{Addr: s.URL + "/?session=CANARY-query", ProjectID: s.ProjectID(), Environment: "dev"})
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken(s.Tokens()[0])
	_, err = c.ListSecrets(ctx(t, 5*time.Second), "/")
	var ni *infisical.NotInfisicalError
	if !errors.As(err, &ni) || !strings.Contains(err.Error(), "INFISICAL_ADDR "+s.URL+" is not Infisical's API") ||
		!strings.Contains(err.Error(), "GET /api/v4/secrets and GET /api/v3/secrets/raw answered 404 route not found") {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), "CANARY") {
		t.Fatalf("the error names the query: %v", err)
	}

	// Something else entirely (no Infisical error body), under a prefix.
	other := httptest.NewServer(http.NotFoundHandler())
	defer other.Close()
	c2, _ := infisical.New(infisical.Config{Addr: other.URL + "/infisical", ProjectID: "p", Environment: "dev"})
	err = c2.LoginUniversal(ctx(t, 5*time.Second), "id", "secret")
	if !errors.As(err, &ni) || !strings.Contains(err.Error(), "INFISICAL_ADDR "+other.URL+"/infisical is not Infisical's API: POST /infisical/api/v1/auth/universal-auth/login") {
		t.Fatalf("login elsewhere: %v", err)
	}
}

// TestFolderRoutesFallback: a server without the v1 folder routes is asked
// on v2.
func TestFolderRoutesFallback(t *testing.T) {
	s, _ := fixture(t)
	target, _ := url.Parse(s.URL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/v1/folders") {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(404)
			fmt.Fprintf(w, `{"reqId":"req-aaaaaaaaaaaaaa","statusCode":404,"error":"Not Found","message":"Route %s:%s not found"}`, r.Method, r.URL.Path)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	defer front.Close()
	c, _ := infisical.New(infisical.Config{Addr: front.URL, ProjectID: s.ProjectID(), Environment: "dev"})
	c.SetToken(s.Tokens()[0])
	cx := ctx(t, 5*time.Second)
	if err := c.CreateFolder(cx, "/", "via-v2"); err != nil {
		t.Fatal(err)
	}
	if names, err := c.ListFolders(cx, "/"); err != nil || !strings.Contains(fmt.Sprint(names), "via-v2") {
		t.Fatalf("ListFolders = %v, %v", names, err)
	}
	if n := s.Count("", "/api/v2/folders"); n != 2 {
		t.Errorf("%d requests reached v2, want 2", n)
	}
}

// TestMissingFolderAndScope: a missing folder is ErrFolderNotFound (an
// older server's 200 is an empty list); CheckScope tells an unknown
// environment from a missing folder; an unknown project says so at once.
func TestMissingFolderAndScope(t *testing.T) {
	s, c := fixture(t)
	cx := ctx(t, 5*time.Second)
	if _, err := c.ListSecrets(cx, "/nope"); !errors.Is(err, infisical.ErrFolderNotFound) {
		t.Fatalf("missing folder: %v", err)
	}
	if err := c.CheckScope(cx); err != nil {
		t.Fatalf("CheckScope of a real environment: %v", err)
	}
	s.EmptyMissingFolders(true)
	if got, err := c.ListSecrets(cx, "/nope"); err != nil || len(got) != 0 {
		t.Fatalf("older server, missing folder: %v, %v", got, err)
	}
	s.EmptyMissingFolders(false)

	typo, _ := infisical.New(infisical.Config{Addr: s.URL, ProjectID: s.ProjectID(), Environment: "stagin"})
	typo.SetToken(s.Tokens()[0])
	if _, err := typo.ListSecrets(cx, "/shared/db"); !errors.Is(err, infisical.ErrFolderNotFound) {
		t.Fatalf("unknown environment on a list: %v (it looks like a missing folder)", err)
	}
	err := typo.CheckScope(cx)
	var se *infisical.ScopeError
	if !errors.As(err, &se) || se.What != "environment" ||
		!strings.HasPrefix(err.Error(), "environment 'stagin' not found in project "+s.ProjectID()+" (INFISICAL_ENVIRONMENT) [reqId req-") {
		t.Fatalf("CheckScope of an unknown environment: %v", err)
	}

	lost, _ := infisical.New(infisical.Config{Addr: s.URL, ProjectID: "no-such-project", Environment: "dev"})
	lost.SetToken(s.Tokens()[0])
	_, err = lost.ListSecrets(cx, "/shared/db")
	if !errors.As(err, &se) || se.What != "project" || !strings.HasPrefix(err.Error(), "project no-such-project not found") {
		t.Fatalf("unknown project: %v", err)
	}
	var ae *infisical.APIError
	if !errors.As(err, &ae) || ae.Status != 404 {
		t.Fatalf("a ScopeError must still carry its APIError: %v", err)
	}
}

// TestHiddenValues: a value the identity may not read comes as
// "<hidden-by-infisical>" and is marked Hidden, never taken for a value.
func TestHiddenValues(t *testing.T) {
	s, _ := fixture(t)
	s.AddToken("keys-only", infisicaltest.DescribeOnly("dev", "/shared/db"))
	s.MaskUnreadableValues(true)
	c := newClient(t, s)
	c.SetToken("keys-only")
	got, err := c.ListSecrets(ctx(t, 5*time.Second), "/shared/db")
	if err != nil || len(got) != 2 {
		t.Fatalf("%v, %v", got, err)
	}
	for _, sec := range got {
		if !sec.Hidden || sec.Unresolved {
			t.Errorf("%+v: want Hidden", sec)
		}
	}
}

// TestLockedIdentity: a locked identity is one clear error, sent once.
func TestLockedIdentity(t *testing.T) {
	s, _ := fixture(t)
	c := newClient(t, s)
	cx := ctx(t, 5*time.Second)
	for range 3 {
		if err := c.LoginUniversal(cx, clientID, "wrong"); errors.Is(err, infisical.ErrLocked) || err == nil {
			t.Fatalf("a failure before the lock: %v", err)
		}
	}
	s.ResetCounts()
	err := c.LoginUniversal(cx, clientID, clientSecret)
	if !errors.Is(err, infisical.ErrLocked) || !strings.Contains(err.Error(), "locked this identity's universal auth after repeated failed logins") ||
		strings.Contains(err.Error(), clientSecret) {
		t.Fatalf("locked: %v", err)
	}
	if n := s.Count("POST", "/api/v1/auth/"); n != 1 {
		t.Fatalf("%d logins while locked, want 1: a retry would extend the lock", n)
	}
}

// TestLockContentionRetried: 429 "Failed to acquire lock" comes without
// Retry-After; it is retried with the usual backoff.
func TestLockContentionRetried(t *testing.T) {
	s, _ := fixture(t)
	s.LockContention(2)
	c := newClient(t, s)
	err := c.LoginUniversal(ctx(t, 10*time.Second), clientID, "wrong")
	var ae *infisical.APIError
	if !errors.As(err, &ae) || ae.Status != 401 || ae.Message != "Invalid credentials" {
		t.Fatalf("err = %v, want the 401 behind the contention", err)
	}
	if n := s.Count("POST", "/api/v1/auth/universal-auth/login"); n != 3 {
		t.Fatalf("%d logins, want 3 (two 429s retried)", n)
	}
}

// TestExpiredToken: a JWT past its exp is a 403 TokenError, which says what
// to do.
func TestExpiredToken(t *testing.T) {
	s, _ := fixture(t)
	s.SetTokenTTL(time.Hour, 0)
	c := newClient(t, s)
	cx := ctx(t, 5*time.Second)
	if err := c.LoginUniversal(cx, clientID, clientSecret); err != nil {
		t.Fatal(err)
	}
	s.AdvanceClock(2 * time.Hour)
	_, err := c.ListSecrets(cx, "/shared/db")
	if !errors.Is(err, infisical.ErrTokenRefused) || !strings.Contains(err.Error(), "status 403") ||
		!strings.Contains(err.Error(), "the access token has expired or is malformed") {
		t.Fatalf("err = %v", err)
	}
}

// TestTokenWithNewline: a token that cannot go into a header fails at
// once, without a request and without the token in the message.
func TestTokenWithNewline(t *testing.T) {
	s, c := fixture(t)
	c.SetToken("CANARY-line1\r\nline2")
	_, err := c.ListSecrets(ctx(t, 10*time.Second), "/")
	if err == nil || !strings.Contains(err.Error(), "control character") || strings.Contains(err.Error(), "CANARY") {
		t.Fatalf("err = %v", err)
	}
	if n := len(s.Requests()); n != 0 {
		t.Fatalf("%d requests sent with a token that can never be sent", n)
	}
}

// TestBackoffUsesTheTimeLeft: a backoff drawn longer than the time left is
// shortened, so that the retries go on until the deadline.
func TestBackoffUsesTheTimeLeft(t *testing.T) {
	s, c := fixture(t)
	c.SetRetry(infisical.RetryPolicy{Base: time.Hour, Max: time.Hour})
	s.FailNext(2, http.StatusBadGateway)
	// Every draw is longer than the deadline: the waits are 2 s and 1 s,
	// and the third attempt has the last second. Before, the first draw
	// past the deadline ended the retries at once.
	got, err := c.ListSecrets(ctx(t, 4*time.Second), "/shared/db")
	if err != nil || len(got) != 2 {
		t.Fatalf("got %v, %v; want the answer after two retries", got, err)
	}
	if n := s.Count("GET", "/api/v4/secrets"); n != 3 {
		t.Fatalf("%d lists, want 3", n)
	}
}

// TestTrace: each request is told to Config.Trace with what a trace line
// needs, and nothing secret.
func TestTrace(t *testing.T) {
	s, _ := fixture(t)
	var mu sync.Mutex
	var seen []infisical.Exchange
	c, err := infisical.New(infisical.Config{Addr: s.URL, ProjectID: s.ProjectID(), Environment: "dev", Trace: func(x infisical.Exchange) {
		mu.Lock()
		seen = append(seen, x)
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	cx := ctx(t, 5*time.Second)
	if err := c.LoginUniversal(cx, clientID, clientSecret); err != nil {
		t.Fatal(err)
	}
	c.ListSecrets(cx, "/shared/db")
	c.ListSecrets(cx, "/nope")
	if len(seen) != 3 {
		t.Fatalf("%d exchanges, want 3: %+v", len(seen), seen)
	}
	want := []struct {
		method, path, folder string
		status               int
		reqID                bool
	}{
		{"POST", "/api/v1/auth/universal-auth/login", "", 200, false},
		{"GET", "/api/v4/secrets", "/shared/db", 200, false},
		{"GET", "/api/v4/secrets", "/nope", 404, true},
	}
	reqs := s.Requests()
	for i, w := range want {
		x := seen[i]
		if x.Method != w.method || x.Path != w.path || x.Folder != w.folder || x.Status != w.status || x.Attempt != 1 || x.Duration <= 0 {
			t.Errorf("exchange %d = %+v, want %+v", i, x, w)
		}
		if w.reqID && x.ReqID != reqs[i].ReqID {
			t.Errorf("exchange %d reqId %q, want the server's %q", i, x.ReqID, reqs[i].ReqID)
		}
		if strings.Contains(fmt.Sprintf("%+v", x), "CANARY") || strings.Contains(x.Path, "?") {
			t.Errorf("exchange %d holds a secret or a query: %+v", i, x)
		}
	}
}

// TestUpsertSecrets: one request writes a folder's keys, new and old; a
// server without the batch route says so, for the caller to write key by
// key.
func TestUpsertSecrets(t *testing.T) {
	s, c := fixture(t)
	cx := ctx(t, 5*time.Second)
	err := c.UpsertSecrets(cx, "/shared/db", []infisical.Secret{
		{Key: "POSTGRES_POOL_MIN", Value: "4"}, {Key: "POSTGRES_NEW", Value: " spaced "},
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(s.Requests()); n != 1 {
		t.Fatalf("%d requests, want 1", n)
	}
	got, _ := c.ListStored(cx, "/shared/db")
	if fmt.Sprint(got) != fmt.Sprint([]infisical.Secret{
		// An update is one more version; a created secret is version 1.
		{Key: "POSTGRES_DSN", Value: "postgres://db/app", Path: "/shared/db", Version: 1},
		{Key: "POSTGRES_NEW", Value: "spaced", Path: "/shared/db", Version: 1},
		{Key: "POSTGRES_POOL_MIN", Value: "4", Path: "/shared/db", Version: 2},
	}) {
		t.Fatalf("after upsert: %v", got)
	}
	s.ServeV4(false)
	if err := c.UpsertSecrets(cx, "/shared/db", []infisical.Secret{{Key: "K", Value: "v"}}); !errors.Is(err, infisical.ErrBatchUnsupported) {
		t.Fatalf("old server: %v", err)
	}
	s.ServeV4(true)
	if err := c.UpsertSecrets(cx, "/nowhere", []infisical.Secret{{Key: "K", Value: "CANARY-v"}}); !errors.Is(err, infisical.ErrNotFound) || strings.Contains(err.Error(), "CANARY") {
		t.Fatalf("missing folder: %v", err)
	}
}
