package contracts

import (
	"os"
	"strconv"
	"testing"

	"secret-init/contracts/contractstest"
)

// TestZZCount parses N copies of a contract, for instruction counts.
func TestZZCount(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("ZZ_N"))
	if n == 0 {
		t.Skip()
	}
	data := contractstest.Contract(0)
	m := DefaultTransportMap()
	var sc scratch
	for range n {
		if os.Getenv("ZZ_YAML") != "" {
			parseYAML("contract.yaml", data, m)
		} else {
			parse("contract.yaml", data, m, &sc)
		}
	}
}
