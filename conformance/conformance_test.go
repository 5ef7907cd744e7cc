package conformance_test

// The official go-sdk and our client talk to the same seeded server and must
// see the same secrets and the same errors. The SDK is the reference for the
// wire protocol: if the fake drifted from what the SDK sends or expects, or our
// client from what the fake answers, this test says so.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	sdk "github.com/infisical/go-sdk"
	sdkerrors "github.com/infisical/go-sdk/packages/errors"

	"secret-init/infisical"
	"secret-init/infisical/infisicaltest"
)

const conformanceSeed = `
identities:
  - {client_id: full, client_secret: full-secret}
  - {client_id: narrow, client_secret: narrow-secret, deny: [{env: dev, path: /services/payments}]}
environments:
  dev:
    folders:
      /: {ROOT_KEY: root, DOMAIN: example.test}
      /shared/db: {POSTGRES_HOST: db.internal, POSTGRES_PORT: "5432", POSTGRES_DSN: "postgres://${POSTGRES_HOST}:${POSTGRES_PORT}/app"}
      /shared/env: {LOG_LEVEL: info, REGION: eu-west-1, SHARED_ONLY: shared}
      /services/billing/db: {POSTGRES_DSN: "${dev.shared.db.POSTGRES_DSN}?app=billing", POOL: "5"}
      /services/billing/env: {LOG_LEVEL: debug, URL: "https://billing.${dev.DOMAIN}"}
      /services/payments: {API_KEY: pay-key, PROD_REGION: "${prod.common.REGION}"}
      /empty/leaf: {}
    imports:
      - {path: /services/billing/env, from: /shared/env}
      - {path: /services/billing/env, from: /common, from_env: prod}
      - {path: /services/payments, from: /shared/db}
  prod:
    folders:
      /common: {REGION: us-east-1, PROD_ONLY: p}
`

func conformanceServer(t *testing.T) *infisicaltest.Server {
	t.Helper()
	seed, err := infisicaltest.LoadSeed(strings.NewReader(conformanceSeed))
	if err != nil {
		t.Fatal(err)
	}
	s := infisicaltest.NewServer()
	t.Cleanup(s.Close)
	s.ApplySeed(seed)
	return s
}

func sdkClient(t *testing.T, s *infisicaltest.Server) sdk.InfisicalClientInterface {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return sdk.NewInfisicalClient(ctx, sdk.Config{
		SiteUrl: s.URL, SilentMode: true, AutoTokenRefresh: sdk.BoolPtr(false),
	})
}

func ourClient(t *testing.T, s *infisicaltest.Server, env string) *infisical.Client {
	c, err := infisical.New(infisical.Config{Addr: s.URL, ProjectID: s.ProjectID(), Environment: env})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// find reads key from our listing of folder, imports included.
func find(t *testing.T, c *infisical.Client, folder, key string) (infisical.Secret, error) {
	list, err := c.ListSecrets(cctx(t), folder)
	for _, sec := range list {
		if sec.Key == key {
			return sec, nil
		}
	}
	if err == nil {
		err = fmt.Errorf("%s not in %s", key, folder)
	}
	return infisical.Secret{}, err
}

func cctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// view renders secrets as sorted "path:KEY=value" lines.
func viewSDK(secrets []sdk.Secret) string {
	var out []string
	for _, s := range secrets {
		out = append(out, s.SecretPath+":"+s.SecretKey+"="+s.SecretValue)
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}

func viewOurs(secrets []infisical.Secret) string {
	var out []string
	for _, s := range secrets {
		out = append(out, s.Path+":"+s.Key+"="+s.Value)
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}

func TestConformanceWithOfficialSDK(t *testing.T) {
	s := conformanceServer(t)
	pid := s.ProjectID()
	theirs := sdkClient(t, s)
	if _, err := theirs.Auth().UniversalAuthLogin("full", "full-secret"); err != nil {
		t.Fatal(err)
	}
	oursIn := map[string]*infisical.Client{}
	for _, env := range []string{"dev", "prod"} {
		oursIn[env] = ourClient(t, s, env)
		if err := oursIn[env].LoginUniversal(cctx(t), "full", "full-secret"); err != nil {
			t.Fatal(err)
		}
	}
	ours := oursIn["dev"]

	t.Run("list", func(t *testing.T) {
		folders := []string{"/", "/shared/db", "/shared/env", "/services/billing/db", "/services/billing/env", "/services/payments", "/empty/leaf"}
		for _, env := range []string{"dev", "prod"} {
			for _, f := range folders {
				res, err := theirs.Secrets().ListSecrets(sdk.ListSecretsOptions{
					ProjectID: pid, Environment: env, SecretPath: f, IncludeImports: true, ExpandSecretReferences: true,
				})
				if env == "prod" && f != "/" {
					// Folders only dev has: 404 SecretPathNotFound for both.
					if !errors.Is(theirErr(t, err), errStatus(404)) {
						t.Fatalf("sdk %s %s: %v, want 404", env, f, err)
					}
					if _, err := oursIn[env].ListSecrets(cctx(t), f); !errors.Is(err, infisical.ErrFolderNotFound) {
						t.Fatalf("ours %s %s: %v, want ErrFolderNotFound", env, f, err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("sdk %s %s: %v", env, f, err)
				}
				got, err := oursIn[env].ListSecrets(cctx(t), f)
				if err != nil {
					t.Fatalf("ours %s %s: %v", env, f, err)
				}
				// go-sdk v0.8.0 merges imports first-one-wins; the server and
				// its CLI take the last import. Where the two merges differ,
				// the server's own answer (a read by name) decides.
				sdkView := map[string]string{}
				for _, sec := range res.Secrets {
					sdkView[sec.SecretKey] = sec.SecretPath + ":" + sec.SecretValue
				}
				if len(sdkView) != len(got) {
					t.Errorf("%s %s: sdk has %d keys, ours %d:\n%s\n%s", env, f, len(sdkView), len(got), viewSDK(res.Secrets), viewOurs(got))
				}
				for _, sec := range got {
					if sdkView[sec.Key] == sec.Path+":"+sec.Value {
						continue
					}
					server, err := theirs.Secrets().Retrieve(sdk.RetrieveSecretOptions{
						SecretKey: sec.Key, ProjectID: pid, Environment: env, SecretPath: f, IncludeImports: true, ExpandSecretReferences: true,
					})
					if err != nil || server.SecretValue != sec.Value || server.SecretPath != sec.Path {
						t.Errorf("%s %s %s: ours %s:%s, sdk merge %s, server %s:%s (%v)", env, f, sec.Key, sec.Path, sec.Value, sdkView[sec.Key], server.SecretPath, server.SecretValue, err)
					}
				}
			}
		}
		// The seed is only a useful reference if it exercises imports,
		// their precedence and references; pin one merged folder. REGION is
		// in both imports: the later one, prod's /common, wins.
		got, _ := ours.ListSecrets(cctx(t), "/services/billing/env")
		want := strings.Join([]string{
			"/common:PROD_ONLY=p", "/common:REGION=us-east-1", "/services/billing/env:LOG_LEVEL=debug",
			"/services/billing/env:URL=https://billing.example.test", "/shared/env:SHARED_ONLY=shared",
		}, "\n")
		if viewOurs(got) != want {
			t.Errorf("billing/env:\n%s\nwant:\n%s", viewOurs(got), want)
		}
	})

	t.Run("retrieve", func(t *testing.T) {
		for _, k := range []struct{ env, path, key string }{
			{"dev", "/shared/db", "POSTGRES_DSN"},
			{"dev", "/services/billing/db", "POSTGRES_DSN"},
			{"dev", "/services/billing/env", "REGION"}, // only through an import
			{"dev", "/services/payments", "PROD_REGION"},
			{"prod", "/common", "REGION"},
		} {
			sec, err := theirs.Secrets().Retrieve(sdk.RetrieveSecretOptions{
				SecretKey: k.key, ProjectID: pid, Environment: k.env, SecretPath: k.path,
				IncludeImports: true, ExpandSecretReferences: true,
			})
			if err != nil {
				t.Fatalf("sdk retrieve %v: %v", k, err)
			}
			got, err := find(t, oursIn[k.env], k.path, k.key)
			if err != nil {
				t.Fatalf("ours get %v: %v", k, err)
			}
			if sec.SecretValue != got.Value || sec.SecretKey != got.Key || sec.SecretPath != got.Path {
				t.Errorf("%v: sdk %s:%s=%s, ours %+v", k, sec.SecretPath, sec.SecretKey, sec.SecretValue, got)
			}
		}
	})

	t.Run("write", func(t *testing.T) {
		if _, err := theirs.Secrets().Create(sdk.CreateSecretOptions{
			SecretKey: "FROM_SDK", ProjectID: pid, Environment: "dev", SecretPath: "/shared/env", SecretValue: "v1",
		}); err != nil {
			t.Fatal(err)
		}
		if got, err := find(t, ours, "/shared/env", "FROM_SDK"); err != nil || got.Value != "v1" {
			t.Fatalf("ours read of the SDK's create: %+v, %v", got, err)
		}
		if err := ours.UpdateSecret(cctx(t), infisical.Secret{Path: "/shared/env", Key: "FROM_SDK", Value: "v2"}); err != nil {
			t.Fatal(err)
		}
		if err := ours.CreateSecret(cctx(t), infisical.Secret{Path: "/shared/env", Key: "FROM_OURS", Value: "${LOG_LEVEL}-x"}); err != nil {
			t.Fatal(err)
		}
		if _, err := theirs.Secrets().Update(sdk.UpdateSecretOptions{
			SecretKey: "FROM_OURS", ProjectID: pid, Environment: "dev", SecretPath: "/shared/env", NewSecretValue: "${FROM_SDK}-y",
		}); err != nil {
			t.Fatal(err)
		}
		for key, want := range map[string]string{"FROM_SDK": "v2", "FROM_OURS": "v2-y"} {
			sec, err := theirs.Secrets().Retrieve(sdk.RetrieveSecretOptions{
				SecretKey: key, ProjectID: pid, Environment: "dev", SecretPath: "/shared/env", ExpandSecretReferences: true,
			})
			if err != nil || sec.SecretValue != want {
				t.Errorf("sdk retrieve %s: %q, %v; want %q", key, sec.SecretValue, err, want)
			}
		}

		if _, err := theirs.Folders().Create(sdk.CreateFolderOptions{ProjectID: pid, Environment: "dev", Name: "by-sdk", Path: "/new"}); err != nil {
			t.Fatal(err)
		}
		if err := ours.CreateFolder(cctx(t), "/new", "by-ours"); err != nil {
			t.Fatal(err)
		}
		fs, err := theirs.Folders().List(sdk.ListFoldersOptions{ProjectID: pid, Environment: "dev", Path: "/new"})
		if err != nil {
			t.Fatal(err)
		}
		var theirNames []string
		for _, f := range fs {
			theirNames = append(theirNames, f.Name)
		}
		sort.Strings(theirNames)
		ourNames, err := ours.ListFolders(cctx(t), "/new")
		if err != nil || fmt.Sprint(ourNames) != fmt.Sprint(theirNames) || len(ourNames) != 2 {
			t.Errorf("folders of /new: sdk %v, ours %v (%v)", theirNames, ourNames, err)
		}
	})
}

// lastReqID is the reqId the server gave its latest answer.
func lastReqID(s *infisicaltest.Server) string {
	r := s.Requests()
	return r[len(r)-1].ReqID
}

// TestConformanceErrors checks both clients report the same status and the
// server's reqId for the same failures.
func TestConformanceErrors(t *testing.T) {
	s := conformanceServer(t)
	pid := s.ProjectID()
	dir := t.TempDir()
	jwtFile := filepath.Join(dir, "token")
	if err := os.WriteFile(jwtFile, []byte("wrong-jwt"), 0o600); err != nil {
		t.Fatal(err)
	}
	s.AddKubernetesIdentity("k8s-id", "right-jwt")
	s.AddToken("revoked")
	s.RevokeToken("revoked")

	type outcome struct {
		status int
		reqID  string
	}
	sdkOutcome := func(err error) outcome {
		var ae *sdk.APIError
		if !errors.As(err, &ae) {
			t.Fatalf("sdk error %v is not an APIError", err)
		}
		return outcome{ae.StatusCode, ae.ReqId}
	}
	ourOutcome := func(err error) outcome {
		var ae *infisical.APIError
		if !errors.As(err, &ae) {
			t.Fatalf("our error %v is not an APIError", err)
		}
		return outcome{ae.Status, ae.ReqID}
	}

	narrowSDK := sdkClient(t, s)
	if _, err := narrowSDK.Auth().UniversalAuthLogin("narrow", "narrow-secret"); err != nil {
		t.Fatal(err)
	}
	narrowOurs, narrowQA := ourClient(t, s, "dev"), ourClient(t, s, "qa")
	for _, c := range []*infisical.Client{narrowOurs, narrowQA} {
		if err := c.LoginUniversal(cctx(t), "narrow", "narrow-secret"); err != nil {
			t.Fatal(err)
		}
	}

	tests := []struct {
		name   string
		status int
		sdk    func() error
		ours   func() error
	}{
		{"401 bad client secret", 401,
			func() error { _, err := sdkClient(t, s).Auth().UniversalAuthLogin("full", "nope"); return err },
			func() error { return ourClient(t, s, "dev").LoginUniversal(cctx(t), "full", "nope") }},
		{"401 bad kubernetes jwt", 401,
			func() error { _, err := sdkClient(t, s).Auth().KubernetesAuthLogin("k8s-id", jwtFile); return err },
			func() error { return ourClient(t, s, "dev").LoginKubernetes(cctx(t), "k8s-id", "wrong-jwt") }},
		{"403 a token that is no JWT", 403,
			func() error {
				c := sdkClient(t, s)
				c.Auth().SetAccessToken("bogus")
				_, err := c.Secrets().ListSecrets(sdk.ListSecretsOptions{ProjectID: pid, Environment: "dev", SecretPath: "/"})
				return err
			},
			func() error {
				c := ourClient(t, s, "dev")
				c.SetToken("bogus")
				_, err := c.ListSecrets(cctx(t), "/")
				return err
			}},
		{"401 revoked token", 401,
			func() error {
				c := sdkClient(t, s)
				c.Auth().SetAccessToken("revoked")
				_, err := c.Secrets().ListSecrets(sdk.ListSecretsOptions{ProjectID: pid, Environment: "dev", SecretPath: "/"})
				return err
			},
			func() error {
				c := ourClient(t, s, "dev")
				c.SetToken("revoked")
				_, err := c.ListSecrets(cctx(t), "/")
				return err
			}},
		{"404 missing folder", 404,
			func() error {
				_, err := narrowSDK.Secrets().ListSecrets(sdk.ListSecretsOptions{ProjectID: pid, Environment: "dev", SecretPath: "/does/not/exist", IncludeImports: true})
				return err
			},
			func() error {
				_, err := narrowOurs.ListSecrets(cctx(t), "/does/not/exist")
				return err
			}},
		{"404 unknown project", 404,
			func() error {
				_, err := narrowSDK.Secrets().ListSecrets(sdk.ListSecretsOptions{ProjectID: "no-such-project", Environment: "dev", SecretPath: "/"})
				return err
			},
			func() error {
				c, err := infisical.New(infisical.Config{Addr: s.URL, ProjectID: "no-such-project", Environment: "dev"})
				if err != nil {
					return err
				}
				if err := c.LoginUniversal(cctx(t), "narrow", "narrow-secret"); err != nil {
					return err
				}
				_, err = c.ListSecrets(cctx(t), "/")
				return err
			}},
		{"403 denied folder", 403,
			func() error {
				_, err := narrowSDK.Secrets().ListSecrets(sdk.ListSecretsOptions{ProjectID: pid, Environment: "dev", SecretPath: "/services/payments", IncludeImports: true})
				return err
			},
			func() error {
				_, err := narrowOurs.ListSecrets(cctx(t), "/services/payments")
				return err
			}},
		{"404 unknown environment", 404,
			func() error {
				_, err := narrowSDK.Secrets().ListSecrets(sdk.ListSecretsOptions{ProjectID: pid, Environment: "qa", SecretPath: "/"})
				return err
			},
			func() error {
				_, err := narrowQA.ListSecrets(cctx(t), "/")
				return err
			}},
		{"400 create existing", 400,
			func() error {
				_, err := narrowSDK.Secrets().Create(sdk.CreateSecretOptions{SecretKey: "LOG_LEVEL", ProjectID: pid, Environment: "dev", SecretPath: "/shared/env", SecretValue: "x"})
				return err
			},
			func() error {
				return narrowOurs.CreateSecret(cctx(t), infisical.Secret{Path: "/shared/env", Key: "LOG_LEVEL", Value: "x"})
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := sdkOutcome(tt.sdk())
			sdkReq := lastReqID(s)
			b := ourOutcome(tt.ours())
			ourReq := lastReqID(s)
			if a.status != tt.status || b.status != tt.status {
				t.Fatalf("status: sdk %d, ours %d, want %d", a.status, b.status, tt.status)
			}
			if a.reqID != sdkReq || b.reqID != ourReq {
				t.Fatalf("reqId: sdk %q (server %q), ours %q (server %q)", a.reqID, sdkReq, b.reqID, ourReq)
			}
		})
	}
}

// errStatus matches an SDK APIError of that status (errors.Is).
type errStatus int

func (e errStatus) Error() string { return fmt.Sprintf("status %d", int(e)) }

// statusError wraps an SDK error so that errors.Is(err, errStatus(N)) asks
// its status.
type statusError struct{ err *sdkerrors.APIError }

func (e statusError) Error() string { return e.err.Error() }
func (e statusError) Is(t error) bool {
	s, ok := t.(errStatus)
	return ok && int(s) == e.err.StatusCode
}

// theirErr makes an SDK error comparable with errStatus; nil stays nil.
func theirErr(t *testing.T, err error) error {
	t.Helper()
	if err == nil {
		return nil
	}
	var ae *sdkerrors.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("sdk error %v is not an APIError", err)
	}
	return statusError{ae}
}
