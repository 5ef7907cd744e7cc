package seed

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"secret-init/infisical/infisicaltest"
	"secret-init/resolve"
)

const seedCanary = "CANARY-seed-value-e90b"

func TestSeedDecide(t *testing.T) {
	have := func(string) (string, string, bool) { return "new", "src", true }
	none := func(string) (string, string, bool) { return "", "", false }
	tests := []struct {
		name     string
		state    folderState
		current  *string // nil: the key does not exist
		so       Options
		values   valueSource
		action   string
		note     string
		writes   string
		failsErr bool
	}{
		{"missing, created empty", folderExists, nil, Options{CreateMissing: true}, none, Create, "empty", "", false},
		{"missing, created with value", folderExists, nil, Options{CreateMissing: true, SetValues: true}, have, Create, "value from src", "new", false},
		{"missing, no value found", folderExists, nil, Options{CreateMissing: true, SetValues: true}, none, Create, "empty", "", false},
		{"missing folder", folderMissing, nil, Options{CreateMissing: true}, none, Create, "empty", "", false},
		{"missing, not created", folderExists, nil, Options{}, have, Skip, "missing; --no-create-missing-keys", "", false},
		{"offline", folderUnknown, nil, Options{CreateMissing: true}, none, Create, "empty; Infisical not read", "", false},
		{"exists", folderExists, ptr("old"), Options{CreateMissing: true}, none, Skip, "exists", "", false},
		{"exists, overwrite without a value", folderExists, ptr("old"), Options{Overwrite: true}, none, Skip, "exists", "", false},
		{"exists, value without overwrite", folderExists, ptr("old"), Options{SetValues: true}, have, Skip, "exists", "", false},
		{"exists, overwrite", folderExists, ptr("old"), Options{SetValues: true, Overwrite: true}, have, Update, "value from src", "new", false},
		{"exists, same value", folderExists, ptr("new"), Options{SetValues: true, Overwrite: true}, have, Skip, "exists, same value", "", false},
		{"exists empty, filled", folderExists, ptr(""), Options{SetValues: true}, have, Update, "empty, value from src", "new", false},
		{"exists empty, no value", folderExists, ptr(""), Options{SetValues: true, Overwrite: true}, none, Skip, "exists", "", false},
		{"folder failed", folderFailed, nil, Options{CreateMissing: true}, have, Failed, "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tree := NewFolders(nil, false)
			tree.state["/f"], tree.err["/f"] = tt.state, os.ErrPermission
			st := &seedState{tree: tree, secrets: map[string]map[string]string{"/f": {}}}
			if tt.current != nil {
				st.secrets["/f"]["K"] = *tt.current
			}
			s := st.decide(seedKey{key: "K", folder: "/f"}, tt.so, tt.values)
			if s.Action != tt.action || s.Note != tt.note || s.value != tt.writes || (s.Err != nil) != tt.failsErr {
				t.Errorf("got %s (%s) writes %q err %v; want %s (%s) writes %q", s.Action, s.Note, s.value, s.Err, tt.action, tt.note, tt.writes)
			}
		})
	}
}

func ptr(s string) *string { return &s }

func TestSeedStepString(t *testing.T) {
	for s, want := range map[Step]string{
		{Action: Create, Folder: "/shared/db", Key: "POSTGRES_DSN", Note: "value from .env", value: seedCanary}: "CREATE /shared/db/POSTGRES_DSN (value from .env)",
		{Action: Create, Folder: "/shared/db"}:                          "CREATE /shared/db/",
		{Action: Skip, Folder: "/shared/db", Key: "X", Note: "exists"}:  "SKIP /shared/db/X (exists)",
		{Action: Failed, Folder: "/s", Key: "X", Err: os.ErrPermission}: "FAILED /s/X: permission denied",
	} {
		if got := s.String(); got != want {
			t.Errorf("%q, want %q", got, want)
		}
	}
	if got := ancestors("/services/billing/db"); !reflect.DeepEqual(got, []string{"/services", "/services/billing", "/services/billing/db"}) {
		t.Errorf("ancestors = %v", got)
	}
}

// seedServer is a test Infisical with an admin identity, and the options
// and environment that reach it.
func seedServer(t *testing.T, contract string) (*infisicaltest.Server, resolve.Options, []string) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "contract.yaml")
	if err := os.WriteFile(path, []byte(contract), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := infisicaltest.NewServer()
	t.Cleanup(srv.Close)
	srv.AddUniversalIdentity("admin", "admin-secret")
	o := resolve.Options{EnvFile: filepath.Join(dir, ".env"), Contracts: []string{path}, ContractsExplicit: true, Timeout: 5 * time.Second, Log: zerolog.Nop()}
	proc := []string{"INFISICAL_ADDR=" + srv.URL, "INFISICAL_CLIENT_ID=admin", "INFISICAL_CLIENT_SECRET=admin-secret",
		"INFISICAL_PROJECT_ID=" + infisicaltest.DefaultProject, "KAFKA_BOOTSTRAP_SERVERS=" + seedCanary}
	return srv, o, proc
}

const seedContract = "metadata:\n  transport_type: redpanda\ndependencies:\n  - type: environment\n    env_var: API_TOKEN\n  - type: environment\n    env_var: INFISICAL_CLIENT_SECRET\n"

func TestSeedRun(t *testing.T) {
	srv, o, proc := seedServer(t, seedContract)
	ctx := context.Background()

	dry, err := Run(ctx, o, Options{CreateMissing: true, SetValues: true}, proc)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range srv.Requests() {
		if r.Method != "GET" && !strings.HasPrefix(r.Path, "/api/v1/auth/") {
			t.Errorf("dry run sent %s %s", r.Method, r.Path)
		}
	}
	if dry.Created != 2 || len(dry.Folders) != 3 || !dry.Changes() {
		t.Errorf("dry run: %+v", dry)
	}

	run, err := Run(ctx, o, Options{Execute: true, CreateMissing: true, SetValues: true}, proc)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	run.WriteText(&buf)
	want := "seed: writing to Infisical; " + srv.URL + ", project " + infisicaltest.DefaultProject + ", environment dev\n" +
		"CREATE /shared/ (folder)\nCREATE /shared/env/ (folder)\nCREATE /shared/kafka/ (folder)\n" +
		"CREATE /shared/env/API_TOKEN (empty)\nCREATE /shared/kafka/KAFKA_BOOTSTRAP_SERVERS (value from env)\n" +
		"Summary: created 2, updated 0, skipped 0, failed 0\n"
	if buf.String() != want {
		t.Errorf("output:\n%s\nwant:\n%s", buf.String(), want)
	}

	srv.ResetCounts()
	again, err := Run(ctx, o, Options{Execute: true, CreateMissing: true, SetValues: true}, proc)
	if err != nil {
		t.Fatal(err)
	}
	if again.Changes() || again.Skipped != 2 || srv.Count("POST", "/api/v3")+srv.Count("POST", "/api/v4")+srv.Count("POST", "/api/v1/folders")+srv.Count("PATCH", "/") != 0 {
		t.Errorf("second run: %+v", again)
	}
	buf.Reset()
	again.WriteText(&buf)
	if !strings.HasSuffix(buf.String(), "; nothing to change\n") || strings.Contains(buf.String(), seedCanary) {
		t.Errorf("second run output:\n%s", buf.String())
	}
}

func TestSeedErrors(t *testing.T) {
	srv, o, proc := seedServer(t, seedContract)
	ctx := context.Background()

	// A refused login stops a write run, and only degrades a dry run.
	bad := append([]string{"INFISICAL_CLIENT_SECRET=wrong"}, proc...) // the first occurrence wins
	if _, err := Run(ctx, o, Options{Execute: true, CreateMissing: true}, bad); err == nil || isUsage(err) {
		t.Errorf("refused login with --execute: %v", err)
	}
	rep, err := Run(ctx, o, Options{CreateMissing: true}, bad)
	if err != nil || len(rep.Warnings) == 0 || rep.Infisical != nil || rep.Created != 2 {
		t.Errorf("refused login, dry run: %+v, %v", rep, err)
	}

	// No Infisical at all: --execute is a usage error.
	if _, err := Run(ctx, o, Options{Execute: true}, []string{}); !isUsage(err) {
		t.Errorf("--execute without INFISICAL_ADDR: %v", err)
	}
	o2 := o
	o2.Required = true
	o2.Contracts = []string{writeTemp(t, "metadata:\n  transport_type: carrier_pigeon\n")}
	if _, err := Run(ctx, o2, Options{}, proc); !isUsage(err) {
		t.Errorf("broken contract with --required: %v", err)
	}
	if _, err := Run(ctx, o, Options{SetValues: true, ImportEnv: "/nonexistent"}, proc); !isUsage(err) {
		t.Errorf("missing --import-env: %v", err)
	}
	if n := srv.Count("POST", "/api/v3"); n != 0 {
		t.Errorf("%d writes", n)
	}
}

// isUsage reports a *resolve.UsageError, which seed returns as it is.
func isUsage(err error) bool {
	_, ok := err.(*resolve.UsageError)
	return ok
}

func writeTemp(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "contract.yaml")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
