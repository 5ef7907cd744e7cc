package contracts

import (
	"errors"
	"io/fs"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestDefaultTransportMap(t *testing.T) {
	m := DefaultTransportMap()
	want := map[string][]string{
		"db":         {"POSTGRES_DSN", "POSTGRES_POOL_MIN", "POSTGRES_POOL_MAX", "POSTGRES_TIMEOUT_MS"},
		"kafka":      {"KAFKA_BOOTSTRAP_SERVERS"},
		"consul":     {"CONSUL_HOST", "CONSUL_PORT"},
		"valkey":     {"VALKEY_HOST", "VALKEY_PORT", "VALKEY_PASSWORD", "VALKEY_DB"},
		"http":       {"HTTP_BASE_URL", "HTTP_TIMEOUT_MS", "HTTP_MAX_RETRIES"},
		"mcp":        {"MCP_SERVER_HOST", "MCP_SERVER_PORT"},
		"qdrant":     {"QDRANT_HOST", "QDRANT_PORT", "QDRANT_API_KEY", "QDRANT_URL"},
		"grpc":       {"GRPC_HOST", "GRPC_PORT", "GRPC_TLS_ENABLED"},
		"graph":      {"GRAPH_HOST", "GRAPH_PORT", "GRAPH_PROTOCOL"},
		"filesystem": {"FS_BASE_PATH"},
		"llm": {"REMOTE_SERVER_IP", "LLM_CODER_URL", "LLM_CODER_FAST_URL", "LLM_EMBEDDING_URL", "LLM_DEEPSEEK_R1_URL",
			"LLM_GLM_URL", "LLM_GLM_MODEL_NAME", "LLM_GLM_API_KEY", "ONEX_TREE_SERVICE_URL", "METADATA_STAMPING_SERVICE_URL"},
		"bridge":    nil,
		"runtime":   nil,
		"inmemory":  nil,
		"infisical": {"INFISICAL_ADDR", "INFISICAL_CLIENT_ID", "INFISICAL_CLIENT_SECRET", "INFISICAL_PROJECT_ID"},
	}
	var names []string
	for tr, keys := range want {
		names = append(names, tr)
		if got := m.Keys(tr); !slices.Equal(got, keys) {
			t.Errorf("Keys(%q) = %q, want %q", tr, got, keys)
		}
		if got := m.IsBootstrap(tr); got != (tr == "infisical") {
			t.Errorf("IsBootstrap(%q) = %v", tr, got)
		}
	}
	slices.Sort(names)
	if got := slices.Sorted(maps.Keys(m.keys)); !slices.Equal(got, names) {
		t.Errorf("transports %q, want %q", got, names)
	}
	// Keys hands out a copy, and every DefaultTransportMap is fresh.
	m.Keys("db")[0] = "CHANGED"
	if err := m.merge("x.yaml", []byte("transports:\n  db:\n    keys: [A]\n")); err != nil {
		t.Fatal(err)
	}
	if got := DefaultTransportMap().Keys("db")[0]; got != "POSTGRES_DSN" {
		t.Errorf("default map changed under another copy: %q", got)
	}
}

func TestCanonical(t *testing.T) {
	m := DefaultTransportMap()
	tests := map[string]string{
		"db": "db", "DATABASE": "db", "postgres": "db", " PostgreSQL ": "db",
		"redis": "valkey", "Valkey": "valkey", "redpanda": "kafka", "KAFKA": "kafka",
		"secret": "infisical", "Secrets": "infisical", "memgraph": "graph",
		"HTTP": "http", "QDRANT": "qdrant", "mock": "inmemory", "runtime": "runtime",
		"LLM": "llm", "bridge": "bridge", "intent": "graph", "repo_state": "filesystem", "rrh_storage": "filesystem",
		"ledger_projection": "runtime", "auth_gate": "runtime", "toolchain": "runtime",
		"env": "", "pr_state_projection": "", "": "", "post gres": "",
	}
	for in, want := range tests {
		got, ok := m.Canonical(in)
		if got != want || ok != (want != "") {
			t.Errorf("Canonical(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	if !m.IsBootstrap("SECRETS") {
		t.Error("IsBootstrap(SECRETS) = false, want true through the alias")
	}
}

func TestMergeOmnibase(t *testing.T) {
	m := DefaultTransportMap()
	if err := m.Merge(fixture("transport-map/omnibase.yaml")); err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name string
		keys []string
	}{
		{"db", []string{"POSTGRES_HOST", "POSTGRES_PORT", "POSTGRES_USER", "POSTGRES_POOL_MIN_SIZE", "POSTGRES_POOL_MAX_SIZE", "POSTGRES_TIMEOUT_MS", "QUERY_TIMEOUT_SECONDS"}},
		{"postgres", []string{"POSTGRES_HOST", "POSTGRES_PORT", "POSTGRES_USER", "POSTGRES_POOL_MIN_SIZE", "POSTGRES_POOL_MAX_SIZE", "POSTGRES_TIMEOUT_MS", "QUERY_TIMEOUT_SECONDS"}},
		{"llm", DefaultTransportMap().Keys("llm")},                        // the embedded list, repeated
		{"graph", []string{"GRAPH_HOST", "GRAPH_PORT", "GRAPH_PROTOCOL"}}, // aliases only: keys kept
		{"intent", []string{"GRAPH_HOST", "GRAPH_PORT", "GRAPH_PROTOCOL"}},
		{"memgraph", []string{"GRAPH_HOST", "GRAPH_PORT", "GRAPH_PROTOCOL"}}, // older aliases kept
		{"ledger_projection", nil},
		{"infisical", []string{"INFISICAL_ADDR", "INFISICAL_CLIENT_ID", "INFISICAL_CLIENT_SECRET", "INFISICAL_PROJECT_ID"}},
	}
	for _, c := range checks {
		if got := m.Keys(c.name); !slices.Equal(got, c.keys) {
			t.Errorf("Keys(%q) = %q, want %q", c.name, got, c.keys)
		}
	}
	if tr, ok := m.Canonical("bridge"); !ok || tr != "bridge" {
		t.Errorf("Canonical(bridge) = %q, %v; want the new keyless transport", tr, ok)
	}
	if !m.IsBootstrap("infisical") {
		t.Error("infisical lost its bootstrap flag")
	}
}

func TestMergeMovesAliasesAndNames(t *testing.T) {
	m := DefaultTransportMap()
	path := filepath.Join(t.TempDir(), "map.yaml")
	// redis becomes a transport of its own, which drops the alias; an
	// alias moves from one transport to another (mock: inmemory -> db).
	writeFile(t, path, "transports:\n  REDIS:\n    keys: [REDIS_URL]\n  valkey:\n    aliases: [Cache]\n    keys: []\n  db:\n    aliases: [mock]\n")
	if err := m.Merge(path); err != nil {
		t.Fatal(err)
	}
	for in, want := range map[string]string{"redis": "redis", "cache": "valkey", "mock": "db", "postgres": "db"} {
		if got, _ := m.Canonical(in); got != want {
			t.Errorf("Canonical(%q) = %q, want %q", in, got, want)
		}
	}
	if got := m.Keys("valkey"); len(got) != 0 {
		t.Errorf("Keys(valkey) = %q, want none (keys: [] replaces)", got)
	}
}

func TestMergeErrors(t *testing.T) {
	tests := []struct {
		name, data, want string // want: the error after "path"
	}{
		{"empty", "", ": empty transport map (want a top-level transports: mapping)"},
		{"unknown top field", "transport:\n  db: {keys: []}\n", `:1: unknown field "transport" (want transports)`},
		{"not a mapping", "transports: [db]\n", ":1: transports: want a mapping, got a list"},
		{"bad key name", "transports:\n  db:\n    keys:\n      - POSTGRES_DSN\n      - POSTGRES-HOST\n", `:5: transports.db.keys: "POSTGRES-HOST" is not a variable name ([A-Za-z_][A-Za-z0-9_]*)`},
		{"key not a string", "transports:\n  db:\n    keys: [1]\n", ":3: transports.db.keys: want a string, got an integer"},
		{"duplicate key", "transports:\n  db:\n    keys: [A, B, A]\n", `:3: transports.db.keys: "A" listed twice`},
		{"unknown field", "transports:\n  db:\n    key: [A]\n", `:3: transports.db: unknown field "key" (want keys, aliases or bootstrap)`},
		{"new without keys", "transports:\n  vector:\n    aliases: [ai]\n", `:2: transport "vector" is new and needs keys (keys: [] for none)`},
		{"reserved env", "transports:\n  env:\n    keys: [A]\n", `:2: transport name "env" is reserved for explicit dependencies`},
		{"bad name", "transports:\n  my/db:\n    keys: [A]\n", `:2: transport name "my/db": want lower-case letters, digits, '_' or '-'`},
		{"alias is a transport", "transports:\n  db:\n    aliases: [kafka]\n", `:3: alias "kafka" is also a transport name`},
		{"alias claimed twice", "transports:\n  db:\n    aliases: [store]\n  valkey:\n    aliases: [store]\n", `:5: alias "store" is claimed by both "db" and "valkey"`},
		{"alias env", "transports:\n  db:\n    aliases: [ENV]\n", `:3: transports.db.aliases: "ENV" is not a usable alias (lower-case letters, digits, '_' or '-'; not env)`},
		{"bootstrap not bool", "transports:\n  db:\n    bootstrap: maybe\n", ":3: transports.db.bootstrap: want true or false, got a string"},
		{"listed twice", "transports:\n  db:\n    keys: [A]\n  DB:\n    keys: [B]\n", `:4: transport "db" listed twice (first on line 2)`},
		{"malformed", "transports:\n  db:\n    keys: [A\n", ":2: invalid YAML: did not find expected ',' or ']'"},
		{"two documents", "transports:\n  db: {keys: [A]}\n---\ntransports: {}\n", ":3: more than one YAML document; only the first is read"},
	}
	dir := t.TempDir()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "_")+".yaml")
			writeFile(t, path, tt.data)
			m := DefaultTransportMap()
			err := m.Merge(path)
			if err == nil || err.Error() != path+tt.want {
				t.Fatalf("Merge error = %v\nwant %s", err, path+tt.want)
			}
			// A failed merge leaves the map as it was.
			if got := m.Keys("db"); !slices.Equal(got, DefaultTransportMap().Keys("db")) {
				t.Errorf("map changed by a failed merge: db = %q", got)
			}
		})
	}
	if err := DefaultTransportMap().Merge(filepath.Join(dir, "missing.yaml")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: err = %v, want not-exist", err)
	}
}
