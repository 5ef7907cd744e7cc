package contracts

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// FuzzParse feeds arbitrary bytes to the contract parser: it must never
// panic, must stay fast, and every warning must name the file.
func FuzzParse(f *testing.F) {
	// The fixtures are seeds too, beside testdata/fuzz/FuzzParse.
	for _, dir := range []string{fixture("broken"), fixture("omnibase/nodes/node_vector_store_effect"), fixture("omnibase/nodes/node_registration_storage_effect")} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
		for _, p := range files {
			if data, err := os.ReadFile(p); err == nil {
				f.Add(data)
			}
		}
	}
	m := DefaultTransportMap()
	f.Fuzz(func(t *testing.T, data []byte) {
		start := cpuTime(t)
		c := parse("contract.yaml", data, m, &scratch{})
		if d := cpuTime(t) - start; d > 2*time.Second {
			t.Errorf("parse took %v of CPU on %d bytes", d, len(data))
		}
		if len(c.warnings) > maxWarnings+1 {
			t.Errorf("%d warnings, want at most %d", len(c.warnings), maxWarnings+1)
		}
		for _, w := range c.warnings {
			if !strings.HasPrefix(w.String(), "contract.yaml") || w.Msg == "" {
				t.Errorf("warning %q does not name the file or says nothing", w)
			}
		}
		for _, n := range c.needs {
			if n.transport == "" || (n.transport == EnvFolder) != (n.key != "") {
				t.Errorf("malformed need %+v", n)
			}
		}
	})
}
