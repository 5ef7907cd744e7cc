package contracts

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeContracts writes n contracts shaped like the real ones (about 300
// lines, 10 KiB, most of it fields secret-init ignores) under dir.
func writeContracts(tb testing.TB, dir string, n int) {
	tb.Helper()
	transports := []string{"DATABASE", "kafka", "HTTP", "qdrant", "runtime", "mock", "redis", "grpc"}
	for i := range n {
		var b strings.Builder
		fmt.Fprintf(&b, "name: \"node_generated_%03d_effect\"\nnode_type: \"EFFECT_GENERIC\"\n", i)
		b.WriteString("contract_version:\n  major: 1\n  minor: 0\n  patch: 0\n")
		b.WriteString("description: >\n  A generated node contract of realistic size, for the benchmark.\n")
		b.WriteString("io_operations:\n")
		for j := range 24 {
			fmt.Fprintf(&b, "  - operation: \"op_%d\"\n    description: \"Operation %d reads and writes things through its handler\"\n", j, j)
			fmt.Fprintf(&b, "    input_fields: [\"filter\", \"limit\", \"offset\", \"cursor\"]\n    output_fields: [\"items\", \"total\"]\n")
			fmt.Fprintf(&b, "    io_config:\n      handler_type: \"valkey\"\n      timeout_ms: %d\n", 1000+j)
		}
		b.WriteString("handler_routing:\n  routing_strategy: \"operation_match\"\n  handlers:\n")
		for j := range 4 {
			fmt.Fprintf(&b, "    - operation: \"op_%d\"\n      handler_type: %q\n      handler:\n", j, transports[(i+j)%len(transports)])
			fmt.Fprintf(&b, "        name: \"HandlerOp%d\"\n        module: \"omnibase_infra.nodes.generated.handlers.handler_op_%d\"\n", j, j)
		}
		b.WriteString("error_handling:\n  retry_policy:\n    max_retries: 3\n    backoff_strategy: \"exponential\"\n")
		b.WriteString("dependencies:\n  - name: \"http_client\"\n    type: \"library\"\n")
		fmt.Fprintf(&b, "  - name: \"token\"\n    type: \"environment\"\n    env_var: \"TOKEN_%d\"\n    required: %v\n", i%10, i%2 == 0)
		fmt.Fprintf(&b, "metadata:\n  author: \"OmniNode Team\"\n  transport_type: %q\n", transports[i%len(transports)])
		d := filepath.Join(dir, fmt.Sprintf("node_%03d", i))
		if err := os.MkdirAll(d, 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "contract.yaml"), []byte(b.String()), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
}

func BenchmarkLoad(b *testing.B) {
	dir := b.TempDir()
	writeContracts(b, dir, 100)
	m := DefaultTransportMap()
	b.ResetTimer()
	for b.Loop() {
		s, err := Load([]string{dir}, true, m)
		if err != nil || len(s.Files) != 100 || len(s.Warnings) != 0 {
			b.Fatalf("err=%v files=%d warnings=%v", err, len(s.Files), s.Warnings)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	dir := b.TempDir()
	writeContracts(b, dir, 1)
	data, err := os.ReadFile(filepath.Join(dir, "node_000", "contract.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	m := DefaultTransportMap()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if c := parse("contract.yaml", data, m); len(c.needs) == 0 {
			b.Fatal("no needs")
		}
	}
}
