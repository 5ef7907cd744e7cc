package provision

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"secret-init/infisical"
	"secret-init/infisical/infisicaltest"
	"secret-init/resolve"
)

const contract = `name: a
metadata:
  transport_type: DATABASE
dependencies:
  - {type: environment, env_var: API_KEY, required: true}
`

// setup is a project with an admin token and a service's files in a temp
// dir; it returns the server, the folder, and the process environment of
// a run with that token.
func setup(t *testing.T) (*infisicaltest.Server, string, []string) {
	t.Helper()
	s := infisicaltest.NewServer()
	t.Cleanup(s.Close)
	s.AddToken("admin-token")
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "contracts", "a"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "contracts", "a", "contract.yaml"), []byte(contract), 0o644); err != nil {
		t.Fatal(err)
	}
	return s, dir, []string{"INFISICAL_ADDR=" + s.URL, "INFISICAL_PROJECT_ID=" + s.ProjectID(), "INFISICAL_TOKEN=admin-token"}
}

func options(dir string) (resolve.Options, Options) {
	return resolve.Options{
			EnvFile: filepath.Join(dir, ".env"), Contracts: []string{filepath.Join(dir, "contracts")}, ContractsExplicit: true,
			Timeout: 20 * time.Second, Log: zerolog.Nop(),
		}, Options{
			RuntimeName: "secret-init-runtime", AdminName: "secret-init-admin",
			RuntimeEnvFile: filepath.Join(dir, ".env"), AdminEnvFile: filepath.Join(dir, "admin.env"),
		}
}

func lines(r *Report) []string {
	var out []string
	for _, s := range r.Steps {
		out = append(out, s.String())
	}
	return out
}

func TestDryRunThenExecuteThenNothing(t *testing.T) {
	s, dir, proc := setup(t)
	o, po := options(dir)
	rep, err := Run(context.Background(), o, po, proc)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Changes() != 13 || rep.Failed() != 0 {
		t.Fatalf("dry run: %d changes, %d failed:\n%s", rep.Changes(), rep.Failed(), strings.Join(lines(rep), "\n"))
	}
	for _, r := range s.Requests() {
		if r.Method != http.MethodGet {
			t.Errorf("a dry run sent %s %s", r.Method, r.Path)
		}
	}
	if _, err := os.Stat(po.RuntimeEnvFile); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a dry run wrote %s: %v", po.RuntimeEnvFile, err)
	}

	po.Execute = true
	rep, err = Run(context.Background(), o, po, proc)
	if err != nil || rep.Failed() != 0 {
		t.Fatalf("execute: %v\n%s", err, strings.Join(lines(rep), "\n"))
	}
	for name, role := range map[string]string{"secret-init-runtime": "viewer", "secret-init-admin": "member"} {
		got := s.Identities(name)
		if len(got) != 1 || !slices.Equal(got[0].ProjectRoles, []string{role}) || got[0].OrgRole != "no-access" || len(got[0].ClientSecrets) != 1 {
			t.Errorf("%s: %+v", name, got)
		}
	}
	s.ResetCounts()
	rep, err = Run(context.Background(), o, po, proc)
	if err != nil || rep.Changes() != 0 || rep.Failed() != 0 {
		t.Fatalf("second run: %v\n%s", err, strings.Join(lines(rep), "\n"))
	}
	for _, r := range s.Requests() {
		if r.Method != http.MethodGet && r.Path != "/api/v1/auth/universal-auth/login" {
			t.Errorf("a run with nothing to change sent %s %s", r.Method, r.Path)
		}
	}
}

// TestRepairs: a runtime identity with too much power is brought down to
// viewer; a twin name is a failure of that identity alone; a file that
// lost its secret is a failure that says --rotate.
func TestRepairs(t *testing.T) {
	s, dir, proc := setup(t)
	o, po := options(dir)
	po.Execute = true
	if _, err := Run(context.Background(), o, po, proc); err != nil {
		t.Fatal(err)
	}
	c, err := infisical.New(infisical.Config{Addr: s.URL, ProjectID: s.ProjectID(), Environment: "dev"})
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken("admin-token")
	ctx := context.Background()
	rt := s.Identities("secret-init-runtime")[0]
	if err := c.SetIdentityRole(ctx, rt.ID, "admin"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateIdentity(ctx, s.OrganizationID(), "secret-init-admin"); err != nil {
		t.Fatal(err)
	}
	rep, err := Run(ctx, o, po, proc)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(lines(rep), "\n")
	if !strings.Contains(text, "UPDATE role of secret-init-runtime in the project (admin → viewer)") {
		t.Errorf("the runtime's role is not set back:\n%s", text)
	}
	if got := s.Identities("secret-init-runtime")[0].ProjectRoles; !slices.Equal(got, []string{"viewer"}) {
		t.Errorf("runtime roles %v", got)
	}
	if !strings.Contains(text, "FAILED identity secret-init-admin: 2 identities of the organization have this name (ids ") || rep.Failed() != 1 {
		t.Errorf("twins are not one failure:\n%s", text)
	}

	os.Remove(po.RuntimeEnvFile)
	po.AdminName = "secret-init-admin-2"
	rep, _ = Run(ctx, o, po, proc)
	text = strings.Join(lines(rep), "\n")
	if !strings.Contains(text, "FAILED "+po.RuntimeEnvFile+": it holds no client secret of secret-init-runtime that Infisical still accepts") || !strings.Contains(text, "--rotate") {
		t.Errorf("a lost secret:\n%s", text)
	}
	po.Rotate = true
	rep, err = Run(ctx, o, po, proc)
	if err != nil || rep.Failed() != 0 {
		t.Fatalf("rotate: %v\n%s", err, strings.Join(lines(rep), "\n"))
	}
	if got := s.Identities("secret-init-runtime")[0].ClientSecrets; len(got) != 1 || got[0] == rt.ClientSecrets[0] {
		t.Errorf("after --rotate the runtime's live secrets are %v (the first was %v)", got, rt.ClientSecrets)
	}
}

// TestWriteFailureRevokes: a secret that cannot be written out is
// revoked, and the old ones stay.
func TestWriteFailureRevokes(t *testing.T) {
	s, dir, proc := setup(t)
	o, po := options(dir)
	po.Execute = true
	// A link to a file in a folder that does not exist reads as an empty
	// file, and cannot be written.
	po.RuntimeEnvFile = filepath.Join(dir, "link.env")
	if err := os.Symlink(filepath.Join(dir, "gone", ".env"), po.RuntimeEnvFile); err != nil {
		t.Fatal(err)
	}
	rep, err := Run(context.Background(), o, po, proc)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Failed() != 1 || !strings.Contains(strings.Join(lines(rep), "\n"), "FAILED "+po.RuntimeEnvFile+": ") {
		t.Fatalf("%s", strings.Join(lines(rep), "\n"))
	}
	if got := s.Identities("secret-init-runtime")[0].ClientSecrets; len(got) != 0 {
		t.Errorf("the secret that was never written out is live: %v", got)
	}
}

// TestRefused: an identity that may not administer identities is
// refused before any write, with the 403; an organization member, which
// may make identities but not client secrets, fails at the first secret,
// with the permission Infisical says it lacks.
func TestRefused(t *testing.T) {
	s, dir, proc := setup(t)
	o, po := options(dir)
	po.Execute = true
	weak := func(name string, perms ...infisicaltest.Permission) []string {
		s.AddToken("weak-"+name, perms...)
		s.ResetCounts()
		return append(slices.Clone(proc[:2]), "INFISICAL_TOKEN=weak-"+name)
	}
	for name, perm := range map[string]infisicaltest.Permission{"runtime": infisicaltest.ReadOnly(), "not member": infisicaltest.NotMember()} {
		t.Run(name, func(t *testing.T) {
			_, err := Run(context.Background(), o, po, weak(name, perm))
			var re *RefusedError
			if !errors.As(err, &re) || !strings.Contains(err.Error(), "status 403") {
				t.Fatalf("got %v, want a refusal with the 403", err)
			}
			for _, r := range s.Requests() {
				if r.Method != http.MethodGet {
					t.Errorf("a refused run sent %s %s", r.Method, r.Path)
				}
			}
		})
	}
	rep, err := Run(context.Background(), o, po, weak("org member", infisicaltest.OrgRole("member")))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(lines(rep), "\n")
	if rep.Failed() == 0 || !strings.Contains(text, "FAILED client secret of secret-init-runtime: ") || !strings.Contains(text, "Actor is missing permission create-token on identity") {
		t.Errorf("an org member:\n%s", text)
	}
	if _, err := os.Stat(po.RuntimeEnvFile); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a run without a secret wrote %s", po.RuntimeEnvFile)
	}
}

func TestUsageErrors(t *testing.T) {
	_, dir, proc := setup(t)
	o, po := options(dir)
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(content), 0o600)
		return p
	}
	tests := []struct {
		name string
		edit func(*resolve.Options, *Options, *[]string)
		want string
	}{
		{"same names", func(_ *resolve.Options, po *Options, _ *[]string) { po.AdminName = po.RuntimeName }, "the two identities need two names"},
		{"same files", func(_ *resolve.Options, po *Options, _ *[]string) { po.AdminEnvFile = po.RuntimeEnvFile }, "one file holds one identity's credentials"},
		{"a token in the file written", func(_ *resolve.Options, po *Options, _ *[]string) {
			po.RuntimeEnvFile = write("tok.env", "INFISICAL_TOKEN=x\n")
		}, "holds INFISICAL_TOKEN"},
		{"credentials only in the file written", func(o *resolve.Options, po *Options, proc *[]string) {
			*proc = (*proc)[:2]
			o.EnvFile = write("own.env", "INFISICAL_CLIENT_ID=a\nINFISICAL_CLIENT_SECRET=b\n")
			po.RuntimeEnvFile = o.EnvFile
		}, "does not log in with the credentials in"},
		{"unknown environment", func(_ *resolve.Options, po *Options, _ *[]string) { po.Environments = []string{"qa"} }, `"qa" is not an environment`},
		{"a file that does not parse", func(_ *resolve.Options, po *Options, _ *[]string) {
			po.AdminEnvFile = write("bad.env", "A=1\nnot a line\n")
		}, "bad.env:2: expected KEY=VALUE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o2, po2, proc2 := o, po, slices.Clone(proc)
			tt.edit(&o2, &po2, &proc2)
			_, err := Run(context.Background(), o2, po2, proc2)
			var ue *resolve.UsageError
			if !errors.As(err, &ue) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want a usage error saying %q", err, tt.want)
			}
		})
	}
}

func TestSkeleton(t *testing.T) {
	_, dir, proc := setup(t)
	o, po := options(dir)
	o.Service = "billing"
	po.Environments = []string{"dev", "prod", "dev"}
	rep, err := Run(context.Background(), o, po, proc)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range rep.Steps {
		if strings.HasPrefix(s.What, "folder ") {
			got = append(got, s.String())
		}
	}
	var want []string
	for _, env := range []string{"dev", "prod"} {
		for _, f := range []string{"/services", "/services/billing", "/services/billing/db", "/services/billing/env", "/shared", "/shared/db", "/shared/env"} {
			want = append(want, "CREATE folder "+env+":"+f)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("folders:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
