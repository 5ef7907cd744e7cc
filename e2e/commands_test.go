package e2e

// The operator commands plan, check and seed: the real binary against the
// Infisical test server, with contracts and .env written per test.

import (
	"encoding/json"
	"net/http"
	"net/url"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"secret-init/infisical/infisicaltest"
	"secret-init/resolve"
)

// opsContract names a transport by alias, one in a nested handler, the
// bootstrap transport, and two dependencies.
const opsContract = `name: node_ops
metadata:
  transport_type: postgres
handler_routing:
  handlers:
    - handler_type: kafka
    - handler:
        handler_type: secrets
dependencies:
  - type: environment
    env_var: API_TOKEN
    required: true
  - type: environment
    env_var: FEATURE_FLAG
    required: false
`

// opsKeys are the keys opsContract makes a start fetch, with their transport.
var opsKeys = map[string]string{
	"POSTGRES_DSN": "db", "POSTGRES_POOL_MIN": "db", "POSTGRES_POOL_MAX": "db", "POSTGRES_TIMEOUT_MS": "db",
	"KAFKA_BOOTSTRAP_SERVERS": "kafka", "API_TOKEN": "env", "FEATURE_FLAG": "env",
}

// newOps is node_ops's fixture: an admin identity and no secrets yet.
func newOps(t *testing.T) *fixture {
	t.Helper()
	seed := infisicaltest.Seed{Identities: []infisicaltest.SeedIdentity{{ClientID: "admin", ClientSecret: canaryClient}}}
	return newFixture(t, seed, map[string]string{
		"contracts/node_ops/contract.yaml": opsContract,
		".env": "INFISICAL_CLIENT_ID=admin\nINFISICAL_CLIENT_SECRET=" + canaryClient +
			"\nINFISICAL_PROJECT_ID=" + infisicaltest.DefaultProject + "\nPOSTGRES_POOL_MIN=" + canaryDotenv + "\n",
	}, false)
}

// fill puts a value in Infisical for every declared key but drop.
func fill(f *fixture, drop string) {
	for k, tr := range opsKeys {
		if k != drop {
			f.Server.SetSecret("dev", "/shared/"+tr, k, canaryInfis+"-"+k)
		}
	}
}

// command runs `secret-init CMD --contracts DIR --log-format json ARGS...`
// in the fixture's folder against its server (unless env says otherwise).
func (f *fixture) command(env []string, cmd string, args ...string) Result {
	f.t.Helper()
	argv := append([]string{cmd, "--contracts", f.Contracts, "--log-format", "json"}, args...)
	return Run(f.t, Spec{Args: argv, Env: f.env(env...), Dir: f.Dir})
}

// secret reads a value back from the test server over its API, as any
// reader would, without secret-init's client.
func (f *fixture) secret(folder, key string) (string, bool) {
	f.t.Helper()
	f.Server.AddToken("test-reader")
	q := url.Values{"workspaceId": {f.Server.ProjectID()}, "environment": {"dev"}, "secretPath": {folder}}
	req, err := http.NewRequest("GET", f.Server.URL+"/api/v3/secrets/raw/"+url.PathEscape(key)+"?"+q.Encode(), nil)
	if err != nil {
		f.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer test-reader")
	resp, err := f.Server.Client().Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	var got struct {
		Secret struct {
			Value string `json:"secretValue"`
		} `json:"secret"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&got) != nil {
		return "", false
	}
	return got.Secret.Value, true
}

// writes counts the requests that change something in Infisical.
func (f *fixture) writes() int {
	return f.Server.Count("POST", "/api/v3") + f.Server.Count("POST", "/api/v4") + f.Server.Count("PATCH", "/") + f.Server.Count("POST", "/api/v1/folders") + f.Server.Count("DELETE", "/")
}

func decodeReport(t *testing.T, r Result) resolve.Report {
	t.Helper()
	var rep resolve.Report
	if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil {
		t.Fatalf("stdout is not a report: %v\n%s\nstderr: %s", err, r.Stdout, r.Stderr)
	}
	return rep
}

func findKey(rep resolve.Report, key, kind string) (resolve.KeyReport, bool) {
	for _, k := range rep.Keys {
		if k.Key == key && k.Kind == kind {
			return k, true
		}
	}
	return resolve.KeyReport{}, false
}

// wantLines fails for each of wants that out does not contain.
func wantLines(t *testing.T, out string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
}

func TestPlanJSONStableAndComplete(t *testing.T) {
	f := newOps(t)
	env := []string{"API_TOKEN=" + canaryProcEnv}
	first := f.command(env, "plan", "--service", "billing", "--output", "json")
	second := f.command(env, "plan", "--service", "billing", "-o", "json")
	wantCode(t, first, 0)
	if first.Stdout != second.Stdout {
		t.Fatalf("two runs differ:\n%s\n---\n%s", first.Stdout, second.Stdout)
	}
	if n := len(f.Server.Requests()); n != 0 {
		t.Fatalf("plan sent %d request(s) to Infisical; it must be offline", n)
	}

	// The field names are the documented interface.
	var raw map[string]any
	json.Unmarshal([]byte(first.Stdout), &raw)
	for _, field := range []string{"command", "service", "passthrough", "infisical", "contract_files", "keys", "folders", "paths", "warnings"} {
		if _, ok := raw[field]; !ok {
			t.Errorf("JSON lacks field %q", field)
		}
	}

	rep := decodeReport(t, first)
	if rep.Command != "plan" || rep.Service != "billing" || rep.Passthrough || rep.Infisical == nil ||
		rep.Infisical.Addr != f.Server.URL || rep.Infisical.Environment != "dev" {
		t.Errorf("header = %+v %+v", rep, rep.Infisical)
	}
	if len(rep.Files) != 1 || !strings.HasSuffix(rep.Files[0], "node_ops/contract.yaml") {
		t.Errorf("contract_files = %v", rep.Files)
	}
	for key, tr := range opsKeys {
		kind := resolve.KindTransport
		if tr == "env" {
			kind = resolve.KindDependency
		}
		k, ok := findKey(rep, key, kind)
		if !ok {
			t.Errorf("%s (%s) not in the plan", key, kind)
			continue
		}
		want := []string{"/services/billing/" + tr, "/shared/" + tr}
		if k.Transport != tr || !reflect.DeepEqual(k.Folders, want) {
			t.Errorf("%s: transport %q folders %v, want %q %v", key, k.Transport, k.Folders, tr, want)
		}
		if len(k.Sources) == 0 || !strings.HasSuffix(k.Sources[0].File, "contract.yaml") || k.Sources[0].Line == 0 || k.Sources[0].Field == "" {
			t.Errorf("%s: sources %+v", key, k.Sources)
		}
		if k.Origin != "" {
			t.Errorf("%s: plan has an origin %q", key, k.Origin)
		}
	}
	checks := []struct {
		key, kind, local string
		required         bool
	}{
		{"POSTGRES_DSN", resolve.KindTransport, "none", false},
		{"POSTGRES_POOL_MIN", resolve.KindTransport, "dotenv", false},
		{"API_TOKEN", resolve.KindDependency, "env", true},
		{"FEATURE_FLAG", resolve.KindDependency, "none", false},
		{"INFISICAL_CLIENT_SECRET", resolve.KindBootstrap, "dotenv", false},
		{"INFISICAL_ADDR", resolve.KindBootstrap, "env", false},
	}
	for _, c := range checks {
		k, ok := findKey(rep, c.key, c.kind)
		if !ok || k.Local != c.local || k.Required != c.required {
			t.Errorf("%s: %+v (found %v), want kind %s local %s required %v", c.key, k, ok, c.kind, c.local, c.required)
		}
	}
	if k, _ := findKey(rep, "INFISICAL_CLIENT_SECRET", resolve.KindBootstrap); len(k.Folders) != 0 {
		t.Errorf("a bootstrap key has folders: %v", k.Folders)
	}
	wantFolders := []string{"/services/billing/db", "/services/billing/env", "/services/billing/kafka", "/shared/db", "/shared/env", "/shared/kafka"}
	if !reflect.DeepEqual(rep.Folders, wantFolders) {
		t.Errorf("folders = %v, want %v", rep.Folders, wantFolders)
	}
	// Sorted: fetched keys by transport then name, bootstrap keys last.
	var order []string
	for _, k := range rep.Keys {
		order = append(order, k.Kind[:1]+k.Transport+"/"+k.Key)
	}
	if !slices.IsSortedFunc(rep.Keys, func(a, b resolve.KeyReport) int {
		ra, rb := a.Kind == resolve.KindBootstrap, b.Kind == resolve.KindBootstrap
		if ra != rb {
			if ra {
				return 1
			}
			return -1
		}
		return strings.Compare(a.Transport+"/"+a.Key, b.Transport+"/"+b.Key)
	}) {
		t.Errorf("keys not sorted: %v", order)
	}
}

func TestPlanTextAndErrors(t *testing.T) {
	f := newOps(t)
	r := f.command(nil, "plan")
	wantCode(t, r, 0)
	wantLines(t, r.Stdout, "KEY", "TRANSPORT", "POSTGRES_DSN", "/shared/db", "contract.yaml:", "Folders a start would request (3):", "(never fetched)")

	// Passthrough: still the whole plan, no network.
	r = f.command([]string{"INFISICAL_ADDR="}, "plan")
	if r.Code != 0 || !strings.Contains(r.Stdout, "INFISICAL_ADDR not set") || !strings.Contains(r.Stdout, "POSTGRES_DSN") {
		t.Errorf("passthrough plan: exit %d\n%s\n%s", r.Code, r.Stdout, r.Stderr)
	}

	r = f.command(nil, "plan", "--contracts", filepath.Join(f.Dir, "nope"))
	if r.Code != 125 || strings.Count(strings.TrimSpace(r.Stderr), "\n") != 0 {
		t.Errorf("missing --contracts: exit %d, stderr %q; want 125 and one line", r.Code, r.Stderr)
	}

	f.write("contracts/broken/contract.yaml", "metadata:\n  transport_type: carrier_pigeon\n")
	r = f.command(nil, "plan")
	if r.Code != 0 || !strings.Contains(r.Stderr, "carrier_pigeon") {
		t.Errorf("broken contract: exit %d, stderr %q; want 0 and a warning", r.Code, r.Stderr)
	}
	r = f.command(nil, "plan", "--required")
	if r.Code != 125 || !strings.Contains(r.Stderr, "carrier_pigeon") {
		t.Errorf("broken contract with --required: exit %d, stderr %q; want 125", r.Code, r.Stderr)
	}
	if len(f.Server.Requests()) != 0 {
		t.Errorf("plan sent requests")
	}
}

func TestCheckExitCodes(t *testing.T) {
	tests := []struct {
		name      string
		fill      bool
		drop      string // a key to delete from the filled server
		env       []string
		args      []string
		code      int
		refused   []string // what --required stops on, with or without it
		wantInOut string
	}{
		{name: "complete", fill: true, code: 0},
		{name: "complete required", fill: true, args: []string{"--required"}, code: 0},
		{name: "incomplete required", fill: true, drop: "KAFKA_BOOTSTRAP_SERVERS", args: []string{"--required"}, code: 1, refused: []string{"KAFKA_BOOTSTRAP_SERVERS"}},
		{name: "incomplete", fill: true, drop: "KAFKA_BOOTSTRAP_SERVERS", code: 0, refused: []string{"KAFKA_BOOTSTRAP_SERVERS"}},
		{name: "dotenv only is refused with required", fill: true, drop: "POSTGRES_POOL_MIN", args: []string{"--required"}, code: 1, refused: []string{"POSTGRES_POOL_MIN"}},
		{name: "required dependency nowhere", fill: true, drop: "API_TOKEN", code: 1, refused: []string{"API_TOKEN"}},
		{name: "optional dependency nowhere with required", fill: true, drop: "FEATURE_FLAG", args: []string{"--required"}, code: 0},
		{name: "unreachable required", env: []string{"INFISICAL_ADDR=http://127.0.0.1:1"}, args: []string{"--required", "--timeout", "2s"}, code: 1},
		{name: "unreachable", env: []string{"INFISICAL_ADDR=http://127.0.0.1:1", "API_TOKEN=" + canaryProcEnv}, args: []string{"--timeout", "2s"}, code: 0, wantInOut: "Infisical failed"},
		{name: "usage", fill: true, args: []string{"--env-file", "/nonexistent/.env"}, code: 125},
		{name: "passthrough", env: []string{"INFISICAL_ADDR=", "API_TOKEN=" + canaryProcEnv}, code: 0, wantInOut: "INFISICAL_ADDR not set"},
		{name: "passthrough required", env: []string{"INFISICAL_ADDR=", "API_TOKEN=" + canaryProcEnv}, args: []string{"--required"}, code: 1, wantInOut: "INFISICAL_ADDR is not"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newOps(t)
			if tt.fill {
				fill(f, tt.drop)
			}
			text := f.command(tt.env, "check", tt.args...)
			wantCode(t, text, tt.code)
			if tt.code == 125 {
				if text.Stdout != "" || strings.Count(strings.TrimSpace(text.Stderr), "\n") != 0 {
					t.Errorf("usage error: stdout %q, stderr %q; want one line on stderr", text.Stdout, text.Stderr)
				}
				return
			}
			if !strings.Contains(text.Stdout, "Result: a start would") || !strings.Contains(text.Stdout+text.Stderr, tt.wantInOut) {
				t.Errorf("text output:\n%s\nstderr: %s", text.Stdout, text.Stderr)
			}
			r := f.command(tt.env, "check", append(tt.args, "--output", "json")...)
			wantCode(t, r, tt.code)
			rep := decodeReport(t, r)
			if rep.Summary == nil || rep.Summary.OK != (tt.code == 0) {
				t.Fatalf("summary %+v, want ok=%v", rep.Summary, tt.code == 0)
			}
			for _, m := range tt.refused {
				if !slices.Contains(rep.Summary.Refused, m) {
					t.Errorf("refused_by_required %v lacks %s", rep.Summary.Refused, m)
				}
			}
			if rep.Summary.Declared != len(opsKeys) {
				t.Errorf("declared = %d, want %d", rep.Summary.Declared, len(opsKeys))
			}
			for _, k := range rep.Keys {
				if k.Origin == "" {
					t.Errorf("%s has no origin", k.Key)
				}
			}
		})
	}
}

func TestCheckOrigins(t *testing.T) {
	f := newOps(t)
	fill(f, "")
	f.Server.SetSecret("dev", "/services/billing/db", "POSTGRES_DSN", canaryInfis)
	f.Server.SetSecret("dev", "/shared/db", "POSTGRES_POOL_MIN", "") // empty: the .env value holds
	r := f.command([]string{"FEATURE_FLAG=" + canaryProcEnv}, "check", "--service", "billing", "-o", "json")
	wantCode(t, r, 0)
	rep := decodeReport(t, r)
	want := map[string]string{
		"POSTGRES_DSN":            "infisical:/services/billing/db",
		"POSTGRES_POOL_MAX":       "infisical:/shared/db",
		"POSTGRES_POOL_MIN":       "dotenv",
		"FEATURE_FLAG":            "env",
		"API_TOKEN":               "infisical:/shared/env",
		"KAFKA_BOOTSTRAP_SERVERS": "infisical:/shared/kafka",
	}
	for key, origin := range want {
		found := false
		for _, k := range rep.Keys {
			if k.Key == key {
				found = true
				if k.Origin != origin {
					t.Errorf("%s: origin %q, want %q", key, k.Origin, origin)
				}
			}
		}
		if !found {
			t.Errorf("%s not reported", key)
		}
	}
	s := rep.Summary
	if s.Env != 1 || s.Dotenv != 1 || s.Infisical != 5 || s.Missing != 0 {
		t.Errorf("summary = %+v", s)
	}
}

func TestSeedDryRunWritesNothing(t *testing.T) {
	f := newOps(t)
	f.Server.SetSecret("dev", "/shared/db", "POSTGRES_DSN", canaryInfis)
	r := f.command(nil, "seed", "--set-values")
	wantCode(t, r, 0)
	if n := f.writes(); n != 0 {
		t.Fatalf("dry run sent %d write request(s): %+v", n, f.Server.Requests())
	}
	wantLines(t, r.Stdout,
		"SKIP /shared/db/POSTGRES_DSN (exists)",
		"CREATE /shared/db/POSTGRES_POOL_MIN (value from .env)",
		"CREATE /shared/db/POSTGRES_POOL_MAX (empty)",
		"CREATE /shared/kafka/ (folder)",
		"CREATE /shared/kafka/KAFKA_BOOTSTRAP_SERVERS (empty)",
		"CREATE /shared/env/API_TOKEN (empty)",
		"would create 6, would update 0, would skip 1, failed 0",
	)
	if strings.Contains(r.Stdout, "INFISICAL_") {
		t.Errorf("a bootstrap key would be seeded:\n%s", r.Stdout)
	}

	// Unreachable: it still says what it would do, with a warning.
	r = f.command([]string{"INFISICAL_ADDR=http://127.0.0.1:1"}, "seed", "--timeout", "2s")
	if r.Code != 0 || !strings.Contains(r.Stdout, "CREATE /shared/db/POSTGRES_DSN (empty; Infisical not read)") || !strings.Contains(r.Stderr, "Infisical not read") {
		t.Errorf("unreachable dry run: exit %d\n%s\n%s", r.Code, r.Stdout, r.Stderr)
	}
	// --execute without Infisical is a usage error.
	r = f.command([]string{"INFISICAL_ADDR="}, "seed", "--execute")
	if r.Code != 125 {
		t.Errorf("--execute without INFISICAL_ADDR: exit %d, want 125: %s", r.Code, r.Stderr)
	}
}

func TestSeedExecuteIsIdempotent(t *testing.T) {
	f := newOps(t)
	r := f.command([]string{"API_TOKEN=" + canaryProcEnv}, "seed", "--execute", "--set-values")
	wantCode(t, r, 0)
	wantLines(t, r.Stdout,
		"CREATE /shared/ (folder)", "CREATE /shared/db/ (folder)", "CREATE /shared/env/ (folder)",
		"CREATE /shared/db/POSTGRES_POOL_MIN (value from .env)",
		"CREATE /shared/env/API_TOKEN (value from env)",
		"created 7, updated 0, skipped 0, failed 0",
	)
	if i, j := strings.Index(r.Stdout, "/shared/ (folder)"), strings.Index(r.Stdout, "/shared/db/ (folder)"); i < 0 || j < i {
		t.Errorf("parent folder not created first:\n%s", r.Stdout)
	}
	if v, ok := f.secret("/shared/db", "POSTGRES_POOL_MIN"); !ok || v != canaryDotenv {
		t.Errorf("POSTGRES_POOL_MIN = %q, %v", v, ok)
	}
	if v, ok := f.secret("/shared/env", "API_TOKEN"); !ok || v != canaryProcEnv {
		t.Errorf("API_TOKEN = %q, %v", v, ok)
	}
	if v, ok := f.secret("/shared/kafka", "KAFKA_BOOTSTRAP_SERVERS"); !ok || v != "" {
		t.Errorf("KAFKA_BOOTSTRAP_SERVERS = %q, %v; want created empty", v, ok)
	}
	if _, ok := f.secret("/shared/infisical", "INFISICAL_CLIENT_SECRET"); ok {
		t.Error("a bootstrap key was written")
	}

	f.Server.ResetCounts()
	r = f.command([]string{"API_TOKEN=" + canaryProcEnv}, "seed", "--execute", "--set-values")
	if r.Code != 0 || f.writes() != 0 {
		t.Fatalf("second run: exit %d, %d write(s)\n%s", r.Code, f.writes(), r.Stdout)
	}
	for _, l := range strings.Split(strings.TrimSpace(r.Stdout), "\n")[1:] {
		if !strings.HasPrefix(l, "SKIP ") && !strings.HasPrefix(l, "Summary:") {
			t.Errorf("second run changes something: %q", l)
		}
	}
	if !strings.Contains(r.Stdout, "created 0, updated 0, skipped 7, failed 0; nothing to change") {
		t.Errorf("second run summary:\n%s", r.Stdout)
	}
}

func TestSeedOverwriteExisting(t *testing.T) {
	f := newOps(t)
	f.Server.SetSecret("dev", "/shared/db", "POSTGRES_DSN", "old-dsn")
	f.Server.SetSecret("dev", "/shared/db", "POSTGRES_POOL_MAX", "") // made empty by an earlier seed
	imp := f.write("import.env", "POSTGRES_DSN="+canaryImport+"\nPOSTGRES_POOL_MAX=20\n")

	steps := []struct {
		args    []string
		line    string
		dsn     string
		warning string
	}{
		{[]string{"--overwrite-existing"}, "SKIP /shared/db/POSTGRES_DSN (exists)", "old-dsn", "changes nothing"},
		{[]string{"--set-values", "--import-env", imp}, "SKIP /shared/db/POSTGRES_DSN (exists)", "old-dsn", ""},
		{[]string{"--set-values", "--import-env", imp, "--overwrite-existing"}, "UPDATE /shared/db/POSTGRES_DSN (value from " + imp + ")", canaryImport, ""},
		{[]string{"--set-values", "--import-env", imp, "--overwrite-existing"}, "SKIP /shared/db/POSTGRES_DSN (exists, same value)", canaryImport, ""},
	}
	for i, s := range steps {
		r := f.command(nil, "seed", append([]string{"--execute", "--no-create-missing-keys"}, s.args...)...)
		if r.Code != 0 || !strings.Contains(r.Stdout, s.line) || !strings.Contains(r.Stderr, s.warning) {
			t.Errorf("step %d %v: exit %d, want line %q and warning %q\n%s\n%s", i, s.args, r.Code, s.line, s.warning, r.Stdout, r.Stderr)
		}
		if v, _ := f.secret("/shared/db", "POSTGRES_DSN"); v != s.dsn {
			t.Errorf("step %d: POSTGRES_DSN = %q, want %q", i, v, s.dsn)
		}
		if strings.Contains(r.Stdout, "CREATE") {
			t.Errorf("step %d: --no-create-missing-keys created a key:\n%s", i, r.Stdout)
		}
	}
	// An empty value is filled without --overwrite-existing.
	if v, _ := f.secret("/shared/db", "POSTGRES_POOL_MAX"); v != "20" {
		t.Errorf("POSTGRES_POOL_MAX = %q, want the empty value filled", v)
	}
}

func TestSeedServiceTargetsAndFailures(t *testing.T) {
	f := newOps(t)
	// A reference to a secret the identity may not describe makes
	// Infisical refuse that one create (and the one request that writes
	// its folder); the others must go on.
	f.Server.SetSecret("dev", "/admin", "ROOT_PASSWORD", canaryInfis)
	f.Server.AddUniversalIdentity("admin", canaryClient, infisicaltest.HideSecrets("dev", "/admin", "*"))
	f.write("import.env", "POSTGRES_DSN=${dev.admin.ROOT_PASSWORD}"+canaryImport+"\nAPI_TOKEN="+canaryImport+"\n")
	r := f.command(nil, "seed", "--execute", "--service", "billing", "--set-values", "--import-env", "import.env")
	wantCode(t, r, 1)
	wantLines(t, r.Stdout,
		"CREATE /services/ (folder)", "CREATE /services/billing/ (folder)", "CREATE /services/billing/db/ (folder)",
		"FAILED /services/billing/db/POSTGRES_DSN: ",
		"CREATE /services/billing/db/POSTGRES_POOL_MIN (empty)",
		"CREATE /services/billing/env/API_TOKEN (value from import.env)",
		"created 6, updated 0, skipped 0, failed 1",
	)
	if v, ok := f.secret("/services/billing/env", "API_TOKEN"); !ok || v != canaryImport {
		t.Errorf("API_TOKEN at the service folder = %q, %v", v, ok)
	}
	if _, ok := f.secret("/shared/env", "API_TOKEN"); ok {
		t.Error("--service wrote to /shared")
	}
}
