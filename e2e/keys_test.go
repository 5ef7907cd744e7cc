package e2e

// Keys and contracts: a key declared more than once is one key, optional
// dependencies never stop a start, and the seed project's transports are
// all known.

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"secret-init/infisical/infisicaltest"
	"secret-init/resolve"
)

// vectorContract is shaped like the seed project's node_vector_store_effect:
// the qdrant transport (whose keys include QDRANT_URL) and a dependency on
// QDRANT_URL itself.
const vectorContract = `name: node_vector_store_effect
handler_routing:
  handlers:
    - operation: vector.upsert
      handler:
        name: HandlerVectorUpsert
        handler_type: HTTP
dependencies:
  - type: environment
    name: QDRANT_URL
    env_var: QDRANT_URL
    required: true
  - type: environment
    env_var: SLACK_CHANNEL_ID
    required: false
metadata:
  transport_type: QDRANT
`

// newVector is the vector store's fixture: its keys in Infisical, QDRANT_URL
// only in the transport's folder.
func newVector(t *testing.T) *fixture {
	t.Helper()
	seed := infisicaltest.Seed{
		Identities: []infisicaltest.SeedIdentity{{ClientID: "runtime", ClientSecret: canaryClient}},
		Environments: map[string]infisicaltest.SeedEnvironment{"dev": {Folders: map[string]map[string]string{
			"/shared/qdrant": {"QDRANT_HOST": "q", "QDRANT_PORT": "6333", "QDRANT_API_KEY": canaryInfis, "QDRANT_URL": "http://q:6333"},
			"/shared/http":   {"HTTP_BASE_URL": "http://h", "HTTP_TIMEOUT_MS": "100", "HTTP_MAX_RETRIES": "1"},
		}}},
	}
	return newFixture(t, seed, map[string]string{
		"contracts/node_vector_store_effect/contract.yaml": vectorContract,
		".env": "INFISICAL_CLIENT_ID=runtime\nINFISICAL_CLIENT_SECRET=" + canaryClient + "\nINFISICAL_PROJECT_ID=" + infisicaltest.DefaultProject + "\n",
	}, false)
}

// TestKeyDeclaredTwiceIsOneKey: QDRANT_URL, asked for by the qdrant
// transport and by a required dependency, is looked for in both folders,
// found in one, and is one row of plan and check.
func TestKeyDeclaredTwiceIsOneKey(t *testing.T) {
	f := newVector(t)
	r := f.start(nil, "--required")
	wantCode(t, r, 0)
	wantEnv(t, f.childEnv(), map[string]string{"QDRANT_URL": "http://q:6333"})

	// The folders of every declaration, per-service ones first.
	rep := decodeReport(t, f.command(nil, "plan", "--service", "vector", "-o", "json"))
	var rows []resolve.KeyReport
	for _, k := range rep.Keys {
		if k.Key == "QDRANT_URL" {
			rows = append(rows, k)
		}
	}
	if len(rows) != 1 {
		t.Fatalf("QDRANT_URL has %d rows in plan, want 1: %+v", len(rows), rows)
	}
	k := rows[0]
	wantFolders := []string{"/services/vector/qdrant", "/services/vector/env", "/shared/qdrant", "/shared/env"}
	if !reflect.DeepEqual(k.Folders, wantFolders) || !reflect.DeepEqual(k.Transports, []string{"qdrant", "env"}) ||
		k.Kind != resolve.KindTransport || !k.Required || len(k.Sources) != 2 {
		t.Errorf("QDRANT_URL: %+v\nwant folders %v, transports [qdrant env], required, two sources", k, wantFolders)
	}

	// A value in the dependency's folder only is found as well.
	f.Server.SetSecret("dev", "/shared/qdrant", "QDRANT_URL", "")
	f.Server.SetSecret("dev", "/shared/env", "QDRANT_URL", "http://from-env-folder")
	wantCode(t, f.start(nil), 0)
	wantEnv(t, f.childEnv(), map[string]string{"QDRANT_URL": "http://from-env-folder"})

	// check: the count over the table is the rows of the table.
	for _, out := range []string{"text", "json"} {
		r := f.command(nil, "check", "-o", out)
		wantCode(t, r, 0)
		if out == "json" {
			rep := decodeReport(t, r)
			declared := 0
			for _, k := range rep.Keys {
				if k.Kind == resolve.KindTransport || k.Kind == resolve.KindDependency {
					declared++
				}
			}
			s := rep.Summary
			if s.Declared != declared || s.Env+s.Infisical+s.Dotenv+s.Missing != declared || len(s.MissingKeys) != s.Missing {
				t.Errorf("summary %+v over %d declared rows", s, declared)
			}
			continue
		}
		if n := strings.Count(r.Stdout, "\nQDRANT_URL "); n != 1 {
			t.Errorf("QDRANT_URL is %d rows of check's table, want 1:\n%s", n, r.Stdout)
		}
		// 3 http keys, 4 qdrant keys, SLACK_CHANNEL_ID.
		wantLines(t, r.Stdout, "Declared keys (8):", "Summary: 8 declared key(s): 0 from env, 7 from Infisical, 0 from .env, 1 missing",
			"Missing (set nowhere): SLACK_CHANNEL_ID\n")
		wantRow(t, r.Stdout, "QDRANT_URL", "qdrant,env", "yes", "infisical:/shared/env")
	}
}

// TestKeyOptionalUnderRequired: a dependency marked required: false that
// no source has is a warning under --required, not a stop; without
// --required it is not even a warning.
func TestKeyOptionalUnderRequired(t *testing.T) {
	f := newVector(t)
	r := f.start(nil, "--required")
	wantCode(t, r, 0)
	if !f.ran() || !strings.Contains(r.Stderr, `"level":"warn"`) || !strings.Contains(r.Stderr, "SLACK_CHANNEL_ID") {
		t.Errorf("ran %v; want a start and a warning naming SLACK_CHANNEL_ID:\n%s", f.ran(), r.Stderr)
	}
	r = f.start(nil)
	wantCode(t, r, 0)
	if strings.Contains(r.Stderr, `"level":"warn"`) || !strings.Contains(r.Stderr, `"missing_keys":["SLACK_CHANNEL_ID"]`) {
		t.Errorf("without --required an optional key set nowhere is named, at info:\n%s", r.Stderr)
	}
	r = f.command(nil, "check", "--required")
	wantCode(t, r, 0)
	wantLines(t, r.Stdout, "Result: a start would succeed")
	wantRow(t, r.Stdout, "SLACK_CHANNEL_ID", "env", "no", "missing")
}

// TestKeySummaryVocabulary: the prefetch summary line and check say the
// same about the same start: from env, from Infisical, from .env, missing.
func TestKeySummaryVocabulary(t *testing.T) {
	f := newVector(t)
	f.write(".env", "INFISICAL_CLIENT_ID=runtime\nINFISICAL_CLIENT_SECRET="+canaryClient+"\nINFISICAL_PROJECT_ID="+infisicaltest.DefaultProject+"\nHTTP_TIMEOUT_MS=5\n")
	f.Server.SetSecret("dev", "/shared/http", "HTTP_TIMEOUT_MS", "")
	env := []string{"QDRANT_HOST=from-env"}
	r := f.start(env)
	wantCode(t, r, 0)
	for _, w := range []string{`"from_env":1`, `"from_infisical":5`, `"from_dotenv":1`, `"missing":1`, `"missing_keys":["SLACK_CHANNEL_ID"]`} {
		if !strings.Contains(r.Stderr, w) {
			t.Errorf("summary line lacks %s:\n%s", w, r.Stderr)
		}
	}
	s := decodeReport(t, f.command(env, "check", "-o", "json")).Summary
	if s.Env != 1 || s.Infisical != 5 || s.Dotenv != 1 || s.Missing != 1 ||
		!reflect.DeepEqual(s.MissingKeys, []string{"SLACK_CHANNEL_ID"}) || !reflect.DeepEqual(s.DotenvKeys, []string{"HTTP_TIMEOUT_MS"}) ||
		!reflect.DeepEqual(s.Refused, []string{"HTTP_TIMEOUT_MS"}) {
		t.Errorf("check summary %+v", s)
	}
}

// TestKeySeedProjectTransports: every transport of the seed project's enum
// and its handler-type aliases load without an "unknown transport" warning.
func TestKeySeedProjectTransports(t *testing.T) {
	f := newFixture(t, infisicaltest.Seed{}, map[string]string{
		"contracts/node_llm/contract.yaml": "metadata:\n  transport_type: LLM\n",
		"contracts/node_bridge/contract.yaml": "handler_routing:\n  handlers:\n    - handler_type: bridge\n" +
			"    - handler_type: ledger_projection\n    - handler_type: repo_state\n    - handler: {handler_type: intent}\n",
	}, false)
	r := f.command(nil, "plan", "--required", "-o", "json")
	wantCode(t, r, 0)
	rep := decodeReport(t, r)
	if len(rep.Warnings) != 0 || strings.Contains(r.Stderr, "unknown transport") {
		t.Errorf("warnings %q\nstderr: %s", rep.Warnings, r.Stderr)
	}
	for key, transport := range map[string]string{"LLM_CODER_URL": "llm", "METADATA_STAMPING_SERVICE_URL": "llm", "FS_BASE_PATH": "filesystem", "GRAPH_HOST": "graph"} {
		if k, ok := findKey(rep, key, resolve.KindTransport); !ok || k.Transport != transport {
			t.Errorf("%s: %+v (found %v), want transport %s", key, k, ok, transport)
		}
	}
}

// wantRow fails unless the table in out has a row for key whose other
// columns are cols.
func wantRow(t *testing.T, out, key string, cols ...string) {
	t.Helper()
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) > 0 && f[0] == key {
			if !reflect.DeepEqual(f[1:], cols) {
				t.Errorf("row %q, want %s %q", l, key, cols)
			}
			return
		}
	}
	t.Errorf("no row for %s:\n%s", key, out)
}

// TestKeyPassthroughChecksNothing: without INFISICAL_ADDR no contract is
// read, so a required dependency that no source has does not stop the
// start; check, which reads them anyway, agrees and shows the gap.
func TestKeyPassthroughChecksNothing(t *testing.T) {
	f := newStore(t) // STRIPE_API_KEY: required, in Infisical only
	r := f.start([]string{"INFISICAL_ADDR="})
	wantCode(t, r, 0)
	wantEnv(t, f.childEnv(), map[string]string{"STRIPE_API_KEY": "<unset>"})
	r = f.command([]string{"INFISICAL_ADDR="}, "check")
	wantCode(t, r, 0)
	wantLines(t, r.Stdout, "INFISICAL_ADDR not set", "Result: a start would succeed")
	wantRow(t, r.Stdout, "STRIPE_API_KEY", "env", "yes", "missing")
	if n := len(f.Server.Requests()); n != 0 {
		t.Errorf("%d requests in passthrough", n)
	}
}

// TestKeySeedOnce: seed writes a key that a transport and a dependency
// both declare once, to the first folder a start looks in.
func TestKeySeedOnce(t *testing.T) {
	f := newVector(t)
	f.Server.SetSecret("dev", "/shared/qdrant", "QDRANT_URL", "")
	r := f.command(nil, "seed")
	wantCode(t, r, 0)
	if n := strings.Count(r.Stdout, "/QDRANT_URL"); n != 1 || !strings.Contains(r.Stdout, "/shared/qdrant/QDRANT_URL") {
		t.Errorf("QDRANT_URL seeded %d times, want once at /shared/qdrant:\n%s", n, r.Stdout)
	}
}

// TestKeyNameOnlyDependency: a dependency written with name: and no
// env_var: (the seed project's node_event_forward_effect), which the seed
// project's extractor skips, is fetched but never stops a start, with or
// without --required, and plan says why.
func TestKeyNameOnlyDependency(t *testing.T) {
	seed := infisicaltest.Seed{Identities: []infisicaltest.SeedIdentity{{ClientID: "runtime", ClientSecret: canaryClient}}}
	f := newFixture(t, seed, map[string]string{
		"contracts/node_event_forward_effect/contract.yaml": "name: node_event_forward_effect\ndependencies:\n" +
			"  - type: environment\n    name: EVENT_FORWARD_BACKEND_URL\n    description: where events go\n    required: true\n",
		".env": "INFISICAL_CLIENT_ID=runtime\nINFISICAL_CLIENT_SECRET=" + canaryClient + "\nINFISICAL_PROJECT_ID=" + infisicaltest.DefaultProject + "\n",
	}, false)
	for _, args := range [][]string{nil, {"--required"}} {
		r := f.start(nil, args...)
		wantCode(t, r, 0)
		wantEnv(t, f.childEnv(), map[string]string{"EVENT_FORWARD_BACKEND_URL": "<unset>"})
	}
	r := f.command(nil, "plan")
	wantCode(t, r, 0)
	wantRow(t, r.Stdout, "EVENT_FORWARD_BACKEND_URL", "env", "no", "(name", "only)", "-", "/shared/env",
		filepath.Join(f.Contracts, "node_event_forward_effect", "contract.yaml")+":4")
	k, _ := findKey(decodeReport(t, f.command(nil, "plan", "-o", "json")), "EVENT_FORWARD_BACKEND_URL", resolve.KindDependency)
	if !k.Optional || k.Required {
		t.Errorf("plan JSON: %+v, want optional and not required", k)
	}

	f.Server.SetSecret("dev", "/shared/env", "EVENT_FORWARD_BACKEND_URL", "http://events")
	wantCode(t, f.start(nil, "--required"), 0)
	wantEnv(t, f.childEnv(), map[string]string{"EVENT_FORWARD_BACKEND_URL": "http://events"})
}
