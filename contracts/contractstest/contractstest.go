// Package contractstest writes node contracts shaped like the seed
// project's (omnibase_infra): about 8 KiB each, most of it fields
// secret-init ignores, written the way those files are written (comments,
// folded descriptions, flow lists and mappings, quoted and bare values),
// with the three places secret-init reads in their real forms. Tests and
// the bench use the same files.
package contractstest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Transports are the transport names the contracts use, spelled as the
// real contracts spell them; aliases and case folding included.
var Transports = []string{"DATABASE", "kafka", "HTTP", "qdrant", "runtime", "mock", "redis", "grpc"}

// EnvKeys is how many distinct environment dependencies the contracts
// declare (TOKEN_0 .. TOKEN_<EnvKeys-1>).
const EnvKeys = 10

// Write writes contracts 0..n-1 under dir, as node_NNN/contract.yaml.
func Write(dir string, n int) error {
	for i := range n {
		d := filepath.Join(dir, fmt.Sprintf("node_%03d", i))
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(d, "contract.yaml"), Contract(i), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// Contract returns contract i. It names metadata.transport_type, four
// handlers (two with handler_type on the entry, two under handler:), one
// environment dependency with env_var and, for odd i, one written with an
// upper-case name only.
func Contract(i int) []byte {
	var b strings.Builder
	tr := func(j int) string { return Transports[(i+j)%len(Transports)] }
	fmt.Fprintf(&b, head, i, i%7)
	for j := range 20 {
		fmt.Fprintf(&b, ioOperation, j)
	}
	b.WriteString("\neffect_operations:\n  operations:\n")
	for j := range 6 {
		fmt.Fprintf(&b, effectOperation, j, 1000+j)
	}
	fmt.Fprintf(&b, "\nhandler_routing:\n  routing_strategy: \"operation_match\"\n  default_handler: %q\n  handlers:\n", strings.ToLower(tr(0)))
	for j := range 4 {
		if j%2 == 0 {
			fmt.Fprintf(&b, handlerOnEntry, j, tr(j))
		} else {
			fmt.Fprintf(&b, handlerNested, j, tr(j))
		}
	}
	b.WriteString(ignoredBlocks)
	for j := range 4 {
		fmt.Fprintf(&b, "    - \"onex.evt.generated-%03d.op-%d.v1\"\n", i, j)
	}
	fmt.Fprintf(&b, descriptorAndDependencies, i, i%EnvKeys, i%2 == 0)
	if i%2 == 1 {
		fmt.Fprintf(&b, nameOnlyDependency, (i+1)%EnvKeys)
	}
	fmt.Fprintf(&b, metadata, tr(0))
	return []byte(b.String())
}

const head = `# Generated node contract %[1]d, shaped like omnibase_infra's node contracts.
name: "node_generated_%03[1]d_effect"
contract_name: node_generated_%03[1]d_effect
node_type: "EFFECT_GENERIC"
contract_version: {major: 1, minor: %[2]d, patch: 0}
node_version: "1.%[2]d.0"
description: >
  A generated node contract of realistic size and shape. It reads and writes
  through its handlers; only its transports and environment matter here.

input_model:
  name: "ModelGeneratedRequest"
  module: "omnibase_infra.nodes.generated.models"
output_model:
  name: ModelGeneratedResponse
  module: omnibase_infra.nodes.generated.models

io_operations:
`

const ioOperation = `  - operation: "op_%[1]d"
    description: "Operation %[1]d reads and writes things through its handler"
    input_fields: ["filter", "limit", "offset", "cursor"]
    output_fields: [items, total]
`

const effectOperation = `    - name: "op_%d"
      io_config:
        # Not read: only handler_routing and metadata name transports.
        handler_type: "valkey"
        timeout_ms: %d
        retries: 3
`

const handlerOnEntry = `    - operation: "op_%[1]d"
      handler_type: %[2]q
      handler:
        name: "HandlerOp%[1]d"
        module: "omnibase_infra.nodes.generated.handlers.handler_op_%[1]d"
      description: "Handler for operation %[1]d"
`

const handlerNested = `    - operation: "op_%[1]d"
      handler:
        name: HandlerOp%[1]d
        module: omnibase_infra.nodes.generated.handlers.handler_op_%[1]d
        handler_type: %[2]s
      description: "Handler for operation %[1]d"
`

const ignoredBlocks = `
health_check:
  enabled: true
  interval_seconds: 30
  checks:
    - check_type: "database"
      env_var: "POSTGRES_HEALTH_DSN"
      timeout_ms: 2000

error_handling:
  retry_policy:
    max_retries: 3
    backoff_strategy: "exponential"
    base_delay_ms: 100
  circuit_breaker:
    enabled: true
    failure_threshold: 5
    reset_timeout_ms: 60000

event_bus:
  publish_topics:
`

const descriptorAndDependencies = `  subscribe_topics: ["onex.cmd.generated-%03[1]d.v1"]

descriptor:
  node_archetype: effect
  purity: side_effecting
  idempotent: false
  timeout_ms: 30000
  qdrant_url: "${QDRANT_URL}"

dependencies:
  - name: "http_client"
    type: "library"
    library: aiohttp
    description: "Async HTTP client for webhook and API requests"
  - name: "db_pool"
    type: service
    description: 'Shared asyncpg pool'
  - name: "token"
    type: "environment"
    env_var: "TOKEN_%[2]d"
    description: "API token (required)"
    required: %[3]v
`

const nameOnlyDependency = `  - type: "environment"
    name: "TOKEN_%d"
    description: "Endpoint, resolved through the descriptor overlay"
`

const metadata = `
metadata:
  description: "Wraps a generated service with contract-driven configuration for the benchmark"
  transport_type: %q
  author: "OmniNode Team"
  tags: ["generated", "effect", "bench"]
`
