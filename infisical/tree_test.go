package infisical_test

// ListTree, the recursive list of a subtree, against the real server's
// rules: each secret with its own folder, imports only counted, a missing
// base folder a 404 for everything, and every value of the answer scrubbed
// from later errors, the ones nobody takes included.

import (
	"errors"
	"strings"
	"testing"
	"time"

	"secret-init/infisical"
	"secret-init/infisical/infisicaltest"
)

func TestListTree(t *testing.T) {
	s, c := fixture(t)
	s.SetSecret("dev", "/shared/kafka/eu", "KAFKA_BROKERS", "eu:9092")
	s.SetSecret("dev", "/lib", "FROM_IMPORT", "imported")
	s.AddImport("dev", "/shared/db", "dev", "/lib")
	tree, err := c.ListTree(ctx(t, 5*time.Second), "/shared")
	if err != nil {
		t.Fatal(err)
	}
	if q := s.Requests()[0].Query; q.Get("recursive") != "true" || q.Get("secretPath") != "/shared" || q.Get("includeImports") != "true" || q.Get("expandSecretReferences") != "true" {
		t.Errorf("query %v", q)
	}
	got := map[string]string{}
	for _, sec := range tree.Secrets {
		got[sec.Path+" "+sec.Key] = sec.Value
	}
	want := map[string]string{
		"/shared/db POSTGRES_DSN":        "postgres://db/app",
		"/shared/db POSTGRES_POOL_MIN":   "2",
		"/shared/kafka/eu KAFKA_BROKERS": "eu:9092",
	}
	if len(got) != len(want) {
		t.Errorf("secrets %v, want %v (imported ones are not the folder's own)", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if tree.Imports != 1 || tree.Read != 4 {
		t.Errorf("imports %d, read %d; want 1 import and 4 secrets read (3 + 1 imported)", tree.Imports, tree.Read)
	}

	// A missing base folder is a 404 for the whole subtree.
	if _, err := c.ListTree(ctx(t, 5*time.Second), "/services/nobody"); !errors.Is(err, infisical.ErrFolderNotFound) {
		t.Errorf("missing subtree: %v, want ErrFolderNotFound", err)
	}
	// What the identity may not read below the base folder is left out
	// without a word; the base folder itself refused is a 403.
	c2 := newClient(t, s)
	s.AddUniversalIdentity("partial", "partial-secret", infisicaltest.DenyFolder("dev", "/shared/db"))
	if err := c2.LoginUniversal(ctx(t, 5*time.Second), "partial", "partial-secret"); err != nil {
		t.Fatal(err)
	}
	tree, err = c2.ListTree(ctx(t, 5*time.Second), "/shared")
	if err != nil || len(tree.Secrets) != 1 || tree.Secrets[0].Key != "KAFKA_BROKERS" {
		t.Errorf("with /shared/db denied: %+v, %v; want only KAFKA_BROKERS", tree, err)
	}
	s.AddUniversalIdentity("none", "none-secret", infisicaltest.DenyFolder("dev", "/shared"))
	if err := c2.LoginUniversal(ctx(t, 5*time.Second), "none", "none-secret"); err != nil {
		t.Fatal(err)
	}
	if _, err := c2.ListTree(ctx(t, 5*time.Second), "/shared"); !errors.Is(err, infisical.ErrForbidden) || errors.Is(err, infisical.ErrTokenRefused) {
		t.Errorf("with /shared denied: %v, want ErrForbidden", err)
	}
	// An answer over the cap says so, for the caller to list less at once.
	c.SetMaxBody(256)
	if _, err := c.ListTree(ctx(t, 5*time.Second), "/shared"); !errors.Is(err, infisical.ErrAnswerTooLarge) || !strings.Contains(err.Error(), "larger than 256 bytes") {
		t.Errorf("over the cap: %v, want ErrAnswerTooLarge", err)
	}
}

// TestListTreeValuesScrubbed: a recursive answer brings values nobody
// declared (a folder no contract names, an import); each is scrubbed from
// the errors of later requests, as every value of a folder's list is.
func TestListTreeValuesScrubbed(t *testing.T) {
	s, c := fixture(t)
	const unplanned = "CANARY-unplanned-folder-value-41b7"
	const imported = "CANARY-imported-into-subtree-c9e0"
	s.SetSecret("dev", "/shared/unplanned", "NOBODY_ASKED", unplanned)
	s.SetSecret("dev", "/lib", "FROM_IMPORT", imported)
	s.AddImport("dev", "/shared/unplanned", "dev", "/lib")
	if _, err := c.ListTree(ctx(t, 5*time.Second), "/shared"); err != nil {
		t.Fatal(err)
	}
	s.RawAnswer(infisicaltest.RawAnswer{Status: 403, ContentType: "application/json",
		Body: []byte(`{"reqId":"req-x","statusCode":403,"error":"PermissionDenied","message":"values ` + unplanned + ` and ` + imported + `"}`)})
	_, err := c.ListSecrets(ctx(t, 5*time.Second), "/shared/db")
	if err == nil || strings.Contains(err.Error(), "CANARY") || !strings.Contains(err.Error(), "[redacted]") {
		t.Fatalf("err = %v, want the 403 with both values scrubbed", err)
	}
}
