package conformance_test

// One case per rule of the real server that go-sdk can observe: the SDK
// is another client of the same test server, so that a rule our client
// and the double might agree on wrongly is seen from a client we did not
// write. Where go-sdk's own behaviour differs from the server's (it merges
// imports first-one-wins), the case looks at the server's answer.

import (
	"errors"
	"strings"
	"testing"
	"time"

	sdk "github.com/infisical/go-sdk"

	"secret-init/infisical"
	"secret-init/infisical/infisicaltest"
)

// pair is a fresh server, set up by prepare before anyone logs in, with
// both clients logged in as one identity.
func pair(t *testing.T, prepare ...func(*infisicaltest.Server)) (*infisicaltest.Server, sdk.InfisicalClientInterface, *infisical.Client) {
	t.Helper()
	s := conformanceServer(t)
	for _, p := range prepare {
		p(s)
	}
	theirs := sdkClient(t, s)
	if _, err := theirs.Auth().UniversalAuthLogin("full", "full-secret"); err != nil {
		t.Fatal(err)
	}
	ours := ourClient(t, s, "dev")
	if err := ours.LoginUniversal(cctx(t), "full", "full-secret"); err != nil {
		t.Fatal(err)
	}
	return s, theirs, ours
}

func retrieve(c sdk.InfisicalClientInterface, pid, path, key string) (sdk.Secret, error) {
	return c.Secrets().Retrieve(sdk.RetrieveSecretOptions{
		SecretKey: key, ProjectID: pid, Environment: "dev", SecretPath: path, IncludeImports: true, ExpandSecretReferences: true,
	})
}

func TestConformanceRealServerRules(t *testing.T) {
	t.Run("the last import wins", func(t *testing.T) {
		s, theirs, ours := pair(t)
		// REGION: /shared/env is imported first, prod's /common last.
		sec, err := retrieve(theirs, s.ProjectID(), "/services/billing/env", "REGION")
		if err != nil || sec.SecretValue != "us-east-1" {
			t.Fatalf("server: %+v, %v", sec, err)
		}
		got, err := find(t, ours, "/services/billing/env", "REGION")
		if err != nil || got.Value != "us-east-1" || got.Path != "/common" {
			t.Fatalf("ours: %+v, %v", got, err)
		}
	})

	t.Run("unresolved references stay literal", func(t *testing.T) {
		s, theirs, ours := pair(t)
		s.SetSecret("dev", "/shared/env", "DANGLING", "${dev.shared.db.NO_SUCH_KEY}/x")
		sec, err := retrieve(theirs, s.ProjectID(), "/shared/env", "DANGLING")
		if err != nil || sec.SecretValue != "${dev.shared.db.NO_SUCH_KEY}/x" {
			t.Fatalf("sdk: %+v, %v", sec, err)
		}
		got, err := find(t, ours, "/shared/env", "DANGLING")
		if err != nil || got.Value != sec.SecretValue || !got.Unresolved {
			t.Fatalf("ours: %+v, %v", got, err)
		}
	})

	t.Run("written values are trimmed, comments stored, dangling references accepted", func(t *testing.T) {
		s, theirs, ours := pair(t)
		pid := s.ProjectID()
		if _, err := theirs.Secrets().Create(sdk.CreateSecretOptions{
			SecretKey: "PADDED", ProjectID: pid, Environment: "dev", SecretPath: "/shared/env",
			SecretValue: "  padded\t", SecretComment: "why it is here",
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := theirs.Secrets().Create(sdk.CreateSecretOptions{
			SecretKey: "REF", ProjectID: pid, Environment: "dev", SecretPath: "/shared/env", SecretValue: "${prod.nowhere.X}",
		}); err != nil {
			t.Fatalf("a dangling reference refused: %v", err)
		}
		sec, err := retrieve(theirs, pid, "/shared/env", "PADDED")
		if err != nil || sec.SecretValue != "padded" || sec.SecretComment != "why it is here" {
			t.Fatalf("sdk: %+v, %v", sec, err)
		}
		stored, err := ours.ListStored(cctx(t), "/shared/env")
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"PADDED": "padded", "REF": "${prod.nowhere.X}"}
		for _, sec := range stored {
			if w, ok := want[sec.Key]; ok && sec.Value != w {
				t.Errorf("ours %s = %q, want %q", sec.Key, sec.Value, w)
			}
		}
		// What seed compares with must be what the server stored.
		if v := infisical.StoredValue("  padded\t"); v != sec.SecretValue {
			t.Errorf("StoredValue gives %q, the server stored %q", v, sec.SecretValue)
		}
	})

	t.Run("creating an existing folder", func(t *testing.T) {
		s, theirs, ours := pair(t)
		opts := sdk.CreateFolderOptions{ProjectID: s.ProjectID(), Environment: "dev", Name: "twice", Path: "/a/b"}
		if _, err := theirs.Folders().Create(opts); err != nil {
			t.Fatalf("first create (missing parents made): %v", err)
		}
		if _, err := theirs.Folders().Create(opts); !errors.Is(theirErr(t, err), errStatus(400)) {
			t.Fatalf("sdk second create: %v, want 400 already exists", err)
		}
		if err := ours.CreateFolder(cctx(t), "/a/b", "twice"); err != nil {
			t.Fatalf("ours: %v, want success", err)
		}
	})

	t.Run("delete a secret and a folder", func(t *testing.T) {
		s, theirs, ours := pair(t)
		pid := s.ProjectID()
		if _, err := theirs.Secrets().Delete(sdk.DeleteSecretOptions{SecretKey: "LOG_LEVEL", ProjectID: pid, Environment: "dev", SecretPath: "/shared/env"}); err != nil {
			t.Fatal(err)
		}
		if _, err := find(t, ours, "/shared/env", "LOG_LEVEL"); err == nil {
			t.Error("a deleted secret is still listed")
		}
		if _, err := theirs.Folders().Delete(sdk.DeleteFolderOptions{FolderName: "leaf", ProjectID: pid, Environment: "dev", Path: "/empty"}); err != nil {
			t.Fatal(err)
		}
		if names, err := ours.ListFolders(cctx(t), "/empty"); err != nil || len(names) != 0 {
			t.Errorf("after the folder delete: %v, %v", names, err)
		}
	})

	t.Run("batch create refuses an existing key", func(t *testing.T) {
		s, theirs, ours := pair(t)
		opts := sdk.BatchCreateSecretsOptions{ProjectID: s.ProjectID(), Environment: "dev", SecretPath: "/shared/db",
			Secrets: []sdk.BatchCreateSecret{{SecretKey: "NEW_ONE", SecretValue: "n"}, {SecretKey: "POSTGRES_HOST", SecretValue: "x"}}}
		if _, err := theirs.Secrets().Batch().Create(opts); !errors.Is(theirErr(t, err), errStatus(400)) {
			t.Fatalf("sdk: %v, want 400", err)
		}
		if _, err := find(t, ours, "/shared/db", "NEW_ONE"); err == nil {
			t.Error("a refused batch wrote a key")
		}
		if err := ours.UpsertSecrets(cctx(t), "/shared/db", []infisical.Secret{{Key: "NEW_ONE", Value: "n"}, {Key: "POSTGRES_HOST", Value: "db2"}}); err != nil {
			t.Fatal(err)
		}
		sec, err := retrieve(theirs, s.ProjectID(), "/shared/db", "POSTGRES_HOST")
		if err != nil || sec.SecretValue != "db2" {
			t.Fatalf("sdk read of our upsert: %+v, %v", sec, err)
		}
	})

	t.Run("etag and If-None-Match", func(t *testing.T) {
		s, theirs, _ := pair(t)
		opts := sdk.ListSecretsOptions{ProjectID: s.ProjectID(), Environment: "dev", SecretPath: "/shared/db"}
		first, err := theirs.Secrets().ListSecrets(opts)
		if err != nil || first.ETag == "" {
			t.Fatalf("%+v, %v", first, err)
		}
		opts.IfNoneMatch = first.ETag
		var nm *sdk.NotModifiedError
		if _, err := theirs.Secrets().ListSecrets(opts); !errors.As(err, &nm) {
			t.Fatalf("same answer: %v, want 304", err)
		}
		s.SetSecret("dev", "/shared/db", "POSTGRES_PORT", "5433")
		if res, err := theirs.Secrets().ListSecrets(opts); err != nil || res.ETag == first.ETag {
			t.Fatalf("after a change: %v %v", res.ETag, err)
		}
	})

	t.Run("recursive list: each secret with its own path", func(t *testing.T) {
		s, theirs, _ := pair(t)
		res, err := theirs.Secrets().ListSecrets(sdk.ListSecretsOptions{ProjectID: s.ProjectID(), Environment: "dev", SecretPath: "/services/billing", Recursive: true})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, sec := range res.Secrets {
			got[sec.SecretKey] = sec.SecretPath
		}
		if got["POOL"] != "/services/billing/db" || got["URL"] != "/services/billing/env" {
			t.Fatalf("recursive: %v", got)
		}
	})

	t.Run("a server without v3", func(t *testing.T) {
		s, theirs, ours := pair(t)
		s.ServeV3(false)
		_, err := theirs.Secrets().ListSecrets(sdk.ListSecretsOptions{ProjectID: s.ProjectID(), Environment: "dev", SecretPath: "/shared/db"})
		if !errors.Is(theirErr(t, err), errStatus(404)) {
			t.Fatalf("sdk (v3 only): %v, want 404 route not found", err)
		}
		if _, err := find(t, ours, "/shared/db", "POSTGRES_DSN"); err != nil {
			t.Fatalf("ours through v4: %v", err)
		}
	})

	t.Run("lockout", func(t *testing.T) {
		s, _, _ := pair(t)
		c := sdkClient(t, s)
		for range 3 {
			c.Auth().UniversalAuthLogin("narrow", "wrong")
		}
		if _, err := c.Auth().UniversalAuthLogin("narrow", "narrow-secret"); !errors.Is(theirErr(t, err), errStatus(401)) {
			t.Fatalf("sdk, right secret while locked: %v", err)
		}
		if err := ourClient(t, s, "dev").LoginUniversal(cctx(t), "narrow", "narrow-secret"); !errors.Is(err, infisical.ErrLocked) {
			t.Fatalf("ours: %v", err)
		}
	})

	t.Run("expired token", func(t *testing.T) {
		s, theirs, ours := pair(t, func(s *infisicaltest.Server) { s.SetTokenTTL(time.Hour, 0) })
		s.AdvanceClock(2 * time.Hour)
		_, err := theirs.Secrets().ListSecrets(sdk.ListSecretsOptions{ProjectID: s.ProjectID(), Environment: "dev", SecretPath: "/"})
		if !errors.Is(theirErr(t, err), errStatus(403)) {
			t.Fatalf("sdk: %v, want 403", err)
		}
		if _, err := ours.ListSecrets(cctx(t), "/"); !errors.Is(err, infisical.ErrTokenRefused) || !strings.Contains(err.Error(), "status 403") {
			t.Fatalf("ours: %v", err)
		}
	})

	t.Run("rate limit window", func(t *testing.T) {
		s, theirs, _ := pair(t)
		s.RateLimitWindow(1, time.Minute)
		opts := sdk.ListSecretsOptions{ProjectID: s.ProjectID(), Environment: "dev", SecretPath: "/"}
		if _, err := theirs.Secrets().ListSecrets(opts); err != nil {
			t.Fatal(err)
		}
		if _, err := theirs.Secrets().ListSecrets(opts); !errors.Is(theirErr(t, err), errStatus(429)) {
			t.Fatalf("over the limit: %v", err)
		}
	})
}
