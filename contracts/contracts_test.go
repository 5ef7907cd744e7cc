package contracts

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

const fixtures = "../testdata/contracts"

func fixture(p string) string { return filepath.Join(fixtures, filepath.FromSlash(p)) }

func warningStrings(ws []Warning) []string {
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = strings.TrimPrefix(filepath.ToSlash(w.String()), fixtures+"/")
	}
	return out
}

// reqLine renders a requirement compactly: "transport/KEY required file:line:field ...".
func reqLine(r Requirement) string {
	var b strings.Builder
	b.WriteString(r.Transport + "/" + r.Key)
	if r.Required {
		b.WriteString(" required")
	} else {
		b.WriteString(" optional")
	}
	for _, s := range r.Sources {
		b.WriteString(" " + filepath.Base(filepath.Dir(s.File)) + ":" + itoa(s.Line) + ":" + s.Field)
	}
	return b.String()
}

func itoa(i int) string { return strings.TrimSpace(strings.Repeat(" ", 0) + fmtInt(i)) }

func fmtInt(i int) string {
	if i == 0 {
		return "0"
	}
	var d []byte
	for ; i > 0; i /= 10 {
		d = append([]byte{byte('0' + i%10)}, d...)
	}
	return string(d)
}

func TestLoadOmnibase(t *testing.T) {
	s, err := Load([]string{fixture("omnibase")}, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, f := range s.Files {
		files = append(files, strings.TrimPrefix(filepath.ToSlash(f), fixtures+"/omnibase/nodes/"))
	}
	// Sorted; contract_*.yaml read; handler_contract.yaml and README.md not.
	wantFiles := []string{
		"node_coding_agent_invoke_effect/contract.yaml",
		"node_db_error_linear_effect/contract_linear.yaml",
		"node_event_forward_effect/contract.yaml",
		"node_llm_completion_effect/contract.yaml",
		"node_pr_state_projection_compute/contract.yaml",
		"node_registration_storage_effect/contract.yaml",
		"node_registry_api_effect/contract.yaml",
		"node_slack_alerter_effect/contract.yaml",
		"node_vector_store_effect/contract.yaml",
	}
	if !slices.Equal(files, wantFiles) {
		t.Errorf("Files:\n got %q\nwant %q", files, wantFiles)
	}
	wantTransports := []string{"db", "http", "inmemory", "kafka", "qdrant", "runtime"}
	if !slices.Equal(s.Transports, wantTransports) {
		t.Errorf("Transports = %q, want %q", s.Transports, wantTransports)
	}
	dbSources := " node_db_error_linear_effect:23:metadata.transport_type node_registration_storage_effect:18:handler_routing.handlers[0].handler_type node_registry_api_effect:59:metadata.transport_type"
	httpSources := " node_slack_alerter_effect:13:handler_routing.handlers[0].handler.handler_type node_vector_store_effect:12:handler_routing.handlers[0].handler.handler_type"
	qdrant := " node_vector_store_effect:27:metadata.transport_type"
	want := []string{
		"db/POSTGRES_DSN required" + dbSources,
		"db/POSTGRES_POOL_MIN required" + dbSources,
		"db/POSTGRES_POOL_MAX required" + dbSources,
		"db/POSTGRES_TIMEOUT_MS required" + dbSources,
		"env/LINEAR_API_KEY required node_db_error_linear_effect:13:dependencies[2].env_var",
		"env/LINEAR_TEAM_ID required node_db_error_linear_effect:17:dependencies[3].env_var",
		// required: false in the Slack alerter, required (by default) in the Linear one: required wins.
		"env/SLACK_CHANNEL_ID required node_db_error_linear_effect:21:dependencies[4].env_var node_slack_alerter_effect:26:dependencies[2].env_var",
		"env/EVENT_FORWARD_BACKEND_URL optional node_event_forward_effect:8:dependencies[0].name",
		"env/LLM_CODER_URL optional node_llm_completion_effect:7:dependencies[0].name",
		"env/SLACK_BOT_TOKEN required node_slack_alerter_effect:21:dependencies[1].env_var",
		// name only, no env_var: taken because it is an upper-case variable
		// name, and optional, as the seed project's extractor skips it.
		"env/QDRANT_URL optional node_vector_store_effect:21:dependencies[0].name",
		"http/HTTP_BASE_URL required" + httpSources,
		"http/HTTP_TIMEOUT_MS required" + httpSources,
		"http/HTTP_MAX_RETRIES required" + httpSources,
		"kafka/KAFKA_BOOTSTRAP_SERVERS required node_coding_agent_invoke_effect:12:metadata.transport_type",
		"qdrant/QDRANT_HOST required" + qdrant,
		"qdrant/QDRANT_PORT required" + qdrant,
		"qdrant/QDRANT_API_KEY required" + qdrant,
		"qdrant/QDRANT_URL required" + qdrant,
	}
	var got []string
	for _, r := range s.Requirements {
		got = append(got, reqLine(r))
	}
	if !slices.Equal(got, want) {
		t.Errorf("Requirements:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	}
	if len(s.Bootstrap) != 0 {
		t.Errorf("Bootstrap = %v, want none", s.Bootstrap)
	}
	wantWarn := []string{`omnibase/nodes/node_pr_state_projection_compute/contract.yaml:11: handler_routing.handlers[1].handler_type: unknown transport "pr_state_projection"`}
	if w := warningStrings(s.Warnings); !slices.Equal(w, wantWarn) {
		t.Errorf("Warnings:\n got %q\nwant %q", w, wantWarn)
	}
}

func TestLoadOmnibaseWithTransportMap(t *testing.T) {
	m := DefaultTransportMap()
	if err := m.Merge(fixture("transport-map/omnibase.yaml")); err != nil {
		t.Fatal(err)
	}
	s, err := Load([]string{fixture("omnibase")}, true, m)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Warnings) != 0 {
		t.Errorf("pr_state_projection is an alias of runtime in the map, want no warnings, got %q", warningStrings(s.Warnings))
	}
	var db []string
	for _, r := range s.Requirements {
		if r.Transport == "db" {
			db = append(db, r.Key)
		}
	}
	want := []string{"POSTGRES_HOST", "POSTGRES_PORT", "POSTGRES_USER", "POSTGRES_POOL_MIN_SIZE", "POSTGRES_POOL_MAX_SIZE", "POSTGRES_TIMEOUT_MS", "QUERY_TIMEOUT_SECONDS"}
	if !slices.Equal(db, want) {
		t.Errorf("db keys = %q, want the map's %q in its order", db, want)
	}
}

func TestLoadBrokenContracts(t *testing.T) {
	tests := []struct {
		file       string
		transports []string
		reqs       []string
		bootstrap  []string
		warnings   []string
	}{
		{
			file: "wrong_types.yaml",
			reqs: []string{"env/GOOD_KEY required broken:8:dependencies[0].env_var"},
			warnings: []string{
				"broken/wrong_types.yaml:3: metadata: want a mapping, got an integer",
				"broken/wrong_types.yaml:5: handler_routing.handlers: want a list, got a mapping",
				"broken/wrong_types.yaml:9: dependencies[0].required: want true or false, got a string; taken as true",
				"broken/wrong_types.yaml:10: dependencies[1]: want a mapping, got a string",
				"broken/wrong_types.yaml:12: dependencies[2].env_var: want a variable name, got an integer",
				"broken/wrong_types.yaml:14: dependencies[3]: type environment without env_var, and name is not an upper-case variable name; skipped",
				"broken/wrong_types.yaml:16: dependencies[4].env_var: not a variable name ([A-Za-z_][A-Za-z0-9_]*)",
				"broken/wrong_types.yaml:17: dependencies[5].type: want a string, got a list",
			},
		},
		{
			file:       "wrong_types_handlers.yaml",
			transports: []string{"grpc", "valkey"},
			reqs: []string{
				"grpc/GRPC_HOST required broken:13:handler_routing.handlers[5].handler_type broken:15:handler_routing.handlers[5].handler.handler_type",
				"grpc/GRPC_PORT required broken:13:handler_routing.handlers[5].handler_type broken:15:handler_routing.handlers[5].handler.handler_type",
				"grpc/GRPC_TLS_ENABLED required broken:13:handler_routing.handlers[5].handler_type broken:15:handler_routing.handlers[5].handler.handler_type",
				// "  Redis " folds to the alias redis.
				"valkey/VALKEY_HOST required broken:10:handler_routing.handlers[3].handler_type",
				"valkey/VALKEY_PORT required broken:10:handler_routing.handlers[3].handler_type",
				"valkey/VALKEY_PASSWORD required broken:10:handler_routing.handlers[3].handler_type",
				"valkey/VALKEY_DB required broken:10:handler_routing.handlers[3].handler_type",
			},
			warnings: []string{
				"broken/wrong_types_handlers.yaml:3: metadata.transport_type: want a transport name, got a list",
				"broken/wrong_types_handlers.yaml:6: handler_routing.handlers[0]: want a mapping, got an integer",
				"broken/wrong_types_handlers.yaml:7: handler_routing.handlers[1].handler_type: want a transport name, got an integer",
				"broken/wrong_types_handlers.yaml:8: handler_routing.handlers[2].handler: want a mapping, got a list",
			},
		},
		{
			// yaml.v3 reports the line of the block it was parsing, not the bad line (7).
			file:     "malformed.yaml",
			warnings: []string{"broken/malformed.yaml:4: invalid YAML: did not find expected key"},
		},
		{
			file:     "not_mapping.yaml",
			warnings: []string{"broken/not_mapping.yaml:1: want a mapping at the top level, got a list"},
		},
		{file: "empty.yaml"},
		{
			file:       "anchors_merge.yaml",
			transports: []string{"consul", "graph", "grpc"},
			reqs: []string{
				"consul/CONSUL_HOST required broken:13:handler_routing.handlers[1].handler_type",
				"consul/CONSUL_PORT required broken:13:handler_routing.handlers[1].handler_type",
				"env/API_TOKEN optional broken:17:dependencies[0].env_var broken:17:dependencies[1].env_var",
				"graph/GRAPH_HOST required broken:3:metadata.transport_type",
				"graph/GRAPH_PORT required broken:3:metadata.transport_type",
				"graph/GRAPH_PROTOCOL required broken:3:metadata.transport_type",
				"grpc/GRPC_HOST required broken:5:handler_routing.handlers[0].handler_type",
				"grpc/GRPC_PORT required broken:5:handler_routing.handlers[0].handler_type",
				"grpc/GRPC_TLS_ENABLED required broken:5:handler_routing.handlers[0].handler_type",
			},
			// A dependency on a bootstrap key is never fetched either.
			bootstrap: []string{"env/INFISICAL_CLIENT_ID required broken:21:dependencies[2].env_var"},
			warnings:  []string{"broken/anchors_merge.yaml:23: more than one YAML document; only the first is read"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			// A file named explicitly is read whatever its name.
			s, err := Load([]string{fixture("broken/" + tt.file)}, true, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(s.Files) != 1 {
				t.Errorf("Files = %q, want the one file", s.Files)
			}
			if !slices.Equal(s.Transports, tt.transports) {
				t.Errorf("Transports = %q, want %q", s.Transports, tt.transports)
			}
			var reqs, boot []string
			for _, r := range s.Requirements {
				reqs = append(reqs, reqLine(r))
			}
			for _, r := range s.Bootstrap {
				boot = append(boot, reqLine(r))
			}
			if !slices.Equal(reqs, tt.reqs) {
				t.Errorf("Requirements:\n got %s\nwant %s", strings.Join(reqs, "\n     "), strings.Join(tt.reqs, "\n     "))
			}
			if !slices.Equal(boot, tt.bootstrap) {
				t.Errorf("Bootstrap = %q, want %q", boot, tt.bootstrap)
			}
			if w := warningStrings(s.Warnings); !slices.Equal(w, tt.warnings) {
				t.Errorf("Warnings:\n got %s\nwant %s", strings.Join(w, "\n     "), strings.Join(tt.warnings, "\n     "))
			}
		})
	}
}

func TestLoadPaths(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "contracts")
	if _, err := Load([]string{missing}, true, nil); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("explicit missing dir: err = %v, want not-exist", err)
	}
	// Also after a folder whose contracts are already being read.
	if _, err := Load([]string{fixture("omnibase"), missing}, true, nil); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("explicit missing dir after a good one: err = %v, want not-exist", err)
	}
	s, err := Load([]string{missing}, false, nil)
	if err != nil || len(s.Files) != 0 || len(s.Requirements) != 0 || len(s.Warnings) != 0 {
		t.Errorf("default missing dir: got %+v, %v; want an empty set", s, err)
	}
	// Overlapping paths read a file once; several roots come out sorted.
	s, err = Load([]string{fixture("omnibase/nodes/node_vector_store_effect"), fixture("omnibase"), fixture("omnibase/nodes/node_vector_store_effect/contract.yaml")}, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Files) != 9 || !slices.IsSorted(s.Files) {
		t.Errorf("Files = %q, want the 9 omnibase contracts once each, sorted", s.Files)
	}
	if n := len(s.Requirements[len(s.Requirements)-1].Sources); n != 1 {
		t.Errorf("qdrant requirement has %d sources, want 1 (file read once)", n)
	}
}

// TestLoadRootSpellings checks that the paths a walk reports are those
// filepath.Join gives, however the root is written.
func TestLoadRootSpellings(t *testing.T) {
	abs, err := filepath.Abs(fixture("omnibase"))
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(abs)
	want := "nodes/node_vector_store_effect/contract.yaml"
	for _, root := range []string{".", "./", "nodes/..", abs, abs + "/", abs + "//nodes/../"} {
		s, err := Load([]string{root}, true, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got, w := s.Files[len(s.Files)-1], filepath.Join(root, want); got != w {
			t.Errorf("root %q: last file %q, want %q", root, got, w)
		}
	}
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

func TestLoadSymlinksAndSpecialFiles(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "contracts")
	writeFile(t, filepath.Join(dir, "a", "contract.yaml"), "metadata:\n  transport_type: kafka\n")
	// A directory link back up: WalkDir does not follow it, so no loop.
	symlink(t, "..", filepath.Join(dir, "a", "loop"))
	// A file link loop, a dangling link, and a good link to a contract elsewhere.
	symlink(t, "contract_self.yaml", filepath.Join(dir, "a", "contract_self.yaml"))
	symlink(t, "nowhere.yaml", filepath.Join(dir, "a", "contract_dangling.yaml"))
	writeFile(t, filepath.Join(root, "elsewhere", "real.yaml"), "metadata:\n  transport_type: consul\n")
	if err := os.Mkdir(filepath.Join(dir, "b"), 0o755); err != nil {
		t.Fatal(err)
	}
	symlink(t, filepath.Join(root, "elsewhere", "real.yaml"), filepath.Join(dir, "b", "contract.yaml"))
	// Kubernetes ConfigMap layout: hidden ..data holds the real files.
	writeFile(t, filepath.Join(dir, "..2026_01_01", "contract.yaml"), "metadata:\n  transport_type: grpc\n")
	symlink(t, "..2026_01_01", filepath.Join(dir, "..data"))
	symlink(t, "..data/contract.yaml", filepath.Join(dir, "contract.yaml"))
	// A FIFO named like a contract must not block the start.
	if err := syscall.Mkfifo(filepath.Join(dir, "contract_fifo.yaml"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The root named through a symlink is followed.
	symlink(t, dir, filepath.Join(root, "link"))

	done := make(chan struct{})
	var s *Set
	var err error
	go func() {
		defer close(done)
		s, err = Load([]string{filepath.Join(root, "link")}, true, nil)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Load hung on a symlink loop or a FIFO")
	}
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"consul", "grpc", "kafka"}; !slices.Equal(s.Transports, want) {
		t.Errorf("Transports = %q, want %q", s.Transports, want)
	}
	link := filepath.Join(root, "link")
	wantWarn := []string{
		filepath.Join(link, "a", "contract_dangling.yaml") + ": dangling symlink or vanished file; skipped",
		filepath.Join(link, "a", "contract_self.yaml") + ": symlink loop; skipped",
		filepath.Join(link, "contract_fifo.yaml") + ": not a regular file; skipped",
	}
	if w := warningStrings(s.Warnings); !slices.Equal(w, wantWarn) {
		t.Errorf("Warnings:\n got %s\nwant %s", strings.Join(w, "\n     "), strings.Join(wantWarn, "\n     "))
	}
	wantFiles := []string{filepath.Join(link, "a", "contract.yaml"), filepath.Join(link, "b", "contract.yaml"), filepath.Join(link, "contract.yaml")}
	if !slices.Equal(s.Files, wantFiles) {
		t.Errorf("Files = %q, want %q", s.Files, wantFiles)
	}
}

func TestLoadPermissionDenied(t *testing.T) {
	// The message for an unreadable path, as the walk and the reader see it.
	w := readWarning("contracts/x/contract.yaml", &fs.PathError{Op: "open", Path: "contracts/x/contract.yaml", Err: syscall.EACCES})
	if got, want := w.String(), "contracts/x/contract.yaml: permission denied; skipped"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	// Root ignores mode 000: as root (CI), the check runs in a copy of this
	// test binary started as nobody.
	dir := os.Getenv("CONTRACTS_TEST_UNPRIVILEGED_DIR")
	if dir == "" && os.Geteuid() == 0 {
		var err error
		if dir, err = os.MkdirTemp("", "contracts-perm-"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		// The test binary's own folder is root's alone: run a copy.
		self, err := os.ReadFile(os.Args[0])
		if err != nil {
			t.Fatal(err)
		}
		bin := filepath.Join(dir, "contracts.test")
		if err := os.WriteFile(bin, self, 0o755); err != nil {
			t.Fatal(err)
		}
		work := filepath.Join(dir, "work")
		if err := os.Mkdir(work, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(work, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "-test.run=^TestLoadPermissionDenied$", "-test.count=1", "-test.v")
		cmd.Dir = work
		cmd.Env = append(os.Environ(), "CONTRACTS_TEST_UNPRIVILEGED_DIR="+work)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "--- PASS: TestLoadPermissionDenied") {
			t.Fatalf("unprivileged run: %v\n%s", err, out)
		}
		return
	}
	if dir == "" {
		dir = t.TempDir()
	}
	writeFile(t, filepath.Join(dir, "a", "contract.yaml"), "metadata: {transport_type: kafka}\n")
	writeFile(t, filepath.Join(dir, "b", "contract.yaml"), "metadata: {transport_type: grpc}\n")
	if err := os.Chmod(filepath.Join(dir, "a", "contract.yaml"), 0); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, "b"), 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(filepath.Join(dir, "b"), 0o755) })
	s, err := Load([]string{dir}, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Warnings) != 2 || len(s.Transports) != 0 {
		t.Errorf("got transports %q, warnings %q; want two permission warnings", s.Transports, warningStrings(s.Warnings))
	}
}

func TestLoadHostileFiles(t *testing.T) {
	dir := t.TempDir()
	big := strings.Repeat("# padding line of a contract that is far too large\n", 2<<20/50+1)
	tests := []struct {
		name string
		data string
		want string // the file's single warning, after "path"
	}{
		{"too large", "metadata:\n  transport_type: kafka\n" + big, ": larger than 256 KiB; skipped"},
		{"flow nesting", strings.Repeat("[", 10000) + strings.Repeat("]", 10000), ": nested deeper than 64 levels; file skipped"},
		{"flow nesting past yaml.v3's limit", "metadata: " + strings.Repeat("{a: ", 20000), ": nested deeper than 64 levels; file skipped"},
		{"block nesting", strings.Repeat("- ", 10000) + "x\n", ": nested deeper than 64 levels; file skipped"},
		{"indented nesting", deepIndent(200), ": nested deeper than 64 levels; file skipped"},
		{"invalid UTF-8", "metadata:\n  transport_type: \"k\xffafka\"\n", ": invalid YAML: invalid leading UTF-8 octet"},
		{"binary", "\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x03\x00>\x00", ": invalid YAML: control characters are not allowed"},
		{"unknown anchor", "metadata: *nope\n", ": invalid YAML: unknown anchor 'nope' referenced"},
		{"long unknown transport", "metadata:\n  transport_type: " + strings.Repeat("x", 5000) + "\n", `:2: metadata.transport_type: unknown transport "` + strings.Repeat("x", 64) + `"...`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "_")+".yaml")
			writeFile(t, path, tt.data)
			start := cpuTime(t)
			s, err := Load([]string{path}, true, nil)
			if d := cpuTime(t) - start; d > 500*time.Millisecond {
				t.Errorf("took %v of CPU, want well under a second", d)
			}
			if err != nil {
				t.Fatal(err)
			}
			want := []string{path + tt.want}
			if w := warningStrings(s.Warnings); !slices.Equal(w, want) {
				t.Errorf("Warnings = %q, want %q", w, want)
			}
			if len(s.Requirements) != 0 {
				t.Errorf("Requirements = %v, want none", s.Requirements)
			}
		})
	}
}

// deepIndent nests mappings one level per line, two spaces each.
func deepIndent(levels int) string {
	var b strings.Builder
	for i := range levels {
		b.WriteString(strings.Repeat("  ", i) + "k:\n")
	}
	return b.String()
}

// TestDepthLimitBoundaries pins the depth check at its limit, on both
// sides, including the inputs its shortcuts skip.
func TestDepthLimitBoundaries(t *testing.T) {
	sp := strings.Repeat
	tests := []struct {
		name string
		data string
		want bool
	}{
		{"64 brackets", sp("[", 64) + sp("]", 64), false},
		{"65 brackets", sp("[", 65) + sp("]", 65), true},
		{"many brackets, shallow", sp("k: [[a], {b: c}]\n", 100), false},
		{"brackets in quotes count", "k: \"" + sp("[", 65) + "\"\n", true},
		{"closers first do not go below zero", sp("]", 100) + sp("[", 64), false},
		{"indent 64 levels", sp(" ", 128) + "x\n", false},
		{"indent 65 levels", "a:\n" + sp(" ", 130) + "x\n", true},
		{"64 dashes", sp("- ", 64) + "x\n", false},
		{"65 dashes", sp("- ", 65) + "x\n", true},
		{"indent and dashes", sp(" ", 60) + sp("- ", 35) + "x\n", true},
		{"long line, shallow", "k: " + sp("x ", 500) + "\n", false},
	}
	for _, tt := range tests {
		if got := depthExceeds([]byte(tt.data), maxDepth); got != tt.want {
			t.Errorf("%s: depthExceeds = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestLoadAliasBomb(t *testing.T) {
	start := cpuTime(t)
	s, err := Load([]string{fixture("broken/alias_bomb.yaml")}, true, nil)
	if d := cpuTime(t) - start; d > 200*time.Millisecond {
		t.Errorf("took %v of CPU; aliases must not be expanded", d)
	}
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(s.Transports, []string{"valkey"}) {
		t.Errorf("Transports = %q, want valkey (metadata is still read)", s.Transports)
	}
	// handlers: *i lists 9 lists: 9 warnings at the line of the aliases
	// inside i (line 11), then dependencies: 2 more, at their own line.
	w := warningStrings(s.Warnings)
	if len(w) != 11 || w[0] != "broken/alias_bomb.yaml:11: handler_routing.handlers[0]: want a mapping, got a list" ||
		w[10] != "broken/alias_bomb.yaml:14: dependencies[1]: want a mapping, got a list" {
		t.Errorf("Warnings = %q", w)
	}
}

func TestWarningsPerFileCapped(t *testing.T) {
	path := filepath.Join(t.TempDir(), "contract.yaml")
	writeFile(t, path, "dependencies:\n"+strings.Repeat("  - 1\n", 1000))
	s, err := Load([]string{path}, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Warnings) != maxWarnings+1 {
		t.Fatalf("got %d warnings, want %d and a summary", len(s.Warnings), maxWarnings)
	}
	if last := s.Warnings[maxWarnings].String(); last != path+":1001: 980 more warnings not shown" {
		t.Errorf("summary = %q", last)
	}
}

func TestWarningString(t *testing.T) {
	tests := []struct {
		w    Warning
		want string
	}{
		{Warning{"c/contract.yaml", 12, "handler_routing.handlers[1].handler_type", `unknown transport "x"`}, `c/contract.yaml:12: handler_routing.handlers[1].handler_type: unknown transport "x"`},
		{Warning{"c/contract.yaml", 0, "", "symlink loop; skipped"}, "c/contract.yaml: symlink loop; skipped"},
		{Warning{"c/contract.yaml", 3, "", "invalid YAML: x"}, "c/contract.yaml:3: invalid YAML: x"},
	}
	for _, tt := range tests {
		if got := tt.w.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
		var err error = tt.w
		if err.Error() != tt.want {
			t.Errorf("Error() = %q, want %q", err.Error(), tt.want)
		}
	}
}

// cpuTime is the CPU time this process has used so far. The tests bound
// the cost of a Load by it rather than by the clock: on a busy machine the
// clock also counts the time other processes had the CPU.
func cpuTime(t *testing.T) time.Duration {
	t.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func TestLoadWorstCaseWithinCaps(t *testing.T) {
	// The slowest shapes that pass the depth check: 1 MiB of lines nested
	// as deep as allowed, in block and in flow style.
	dir := t.TempDir()
	block := strings.Repeat("- ", maxDepth-2) + "x\n"
	flow := "- " + strings.Repeat("[", maxDepth-1) + strings.Repeat("]", maxDepth-1) + "\n"
	for name, line := range map[string]string{"block": block, "flow": flow} {
		path := filepath.Join(dir, name+".yaml")
		writeFile(t, path, strings.Repeat(line, (MaxFileSize-1)/len(line)))
		start := cpuTime(t)
		s, err := Load([]string{path}, true, nil)
		d := cpuTime(t) - start
		if d > time.Second {
			t.Errorf("%s: took %v of CPU", name, d)
		}
		if err != nil || len(s.Files) != 1 {
			t.Errorf("%s: err %v, files %q; want the file read", name, err, s.Files)
		}
		t.Logf("%s: %v of CPU", name, d)
	}
}

func TestNameChecks(t *testing.T) {
	for _, tt := range []struct {
		s                   string
		transport, v, upVar bool
	}{
		{"db", true, true, false},
		{"t1", true, true, false},
		{"my-transport_2", true, false, false},
		{"-db", false, false, false},
		{"_db", false, true, false},
		{"DB", false, true, true},
		{"POSTGRES_DSN", false, true, true},
		{"_X1", false, true, true},
		{"1X", false, false, false},
		{"Ab", false, true, false},
		{"", false, false, false},
		{"a b", false, false, false},
		{"é", false, false, false},
	} {
		if got := isTransportName(tt.s); got != tt.transport {
			t.Errorf("isTransportName(%q) = %v", tt.s, got)
		}
		if got := IsVarName(tt.s, false); got != tt.v {
			t.Errorf("IsVarName(%q, false) = %v", tt.s, got)
		}
		if got := IsVarName(tt.s, true); got != tt.upVar {
			t.Errorf("IsVarName(%q, true) = %v", tt.s, got)
		}
	}
}

// TestDependencyNameOnlyIsOptional: a dependency with name: and no
// env_var: is taken but never required, whatever required says, on the
// scanner's path and on yaml.v3's alike.
func TestDependencyNameOnlyIsOptional(t *testing.T) {
	doc := []byte("dependencies:\n" +
		"  - {type: environment, name: QDRANT_URL}\n" +
		"  - {type: environment, name: EVENT_FORWARD_BACKEND_URL, required: true}\n" +
		"  - {type: environment, name: slack_bot_token, env_var: SLACK_BOT_TOKEN}\n" +
		"  - {type: environment, name: LINEAR_TEAM_ID, env_var: LINEAR_TEAM_ID, required: false}\n")
	want := []string{
		"QDRANT_URL false dependencies[0].name",
		"EVENT_FORWARD_BACKEND_URL false dependencies[1].name",
		"SLACK_BOT_TOKEN true dependencies[2].env_var",
		"LINEAR_TEAM_ID false dependencies[3].env_var",
	}
	m := DefaultTransportMap()
	for path, c := range map[string]contract{"scanner or yaml.v3": parse("c.yaml", doc, m, &scratch{}), "yaml.v3": parseYAML("c.yaml", doc, m)} {
		var got []string
		for _, n := range c.needs {
			got = append(got, fmt.Sprintf("%s %v %s", n.key, n.required, n.src.Field))
		}
		if !slices.Equal(got, want) || len(c.warnings) != 0 {
			t.Errorf("%s: needs %q, warnings %v; want %q", path, got, c.warnings, want)
		}
	}
}
