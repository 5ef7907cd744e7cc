package contracts

import (
	"testing"

	"secret-init/contracts/contractstest"
)

func BenchmarkLoad(b *testing.B) {
	dir := b.TempDir()
	if err := contractstest.Write(dir, 115); err != nil {
		b.Fatal(err)
	}
	m := DefaultTransportMap()
	for b.Loop() {
		s, err := Load([]string{dir}, true, m)
		if err != nil || len(s.Files) != 115 || len(s.Warnings) != 0 {
			b.Fatalf("err=%v files=%d warnings=%v", err, len(s.Files), s.Warnings)
		}
	}
}

// BenchmarkParse is one realistic contract through the fast path, and
// through yaml.v3 as every file went before it.
func BenchmarkParse(b *testing.B) {
	data := contractstest.Contract(0)
	m := DefaultTransportMap()
	var sc scratch
	fast := func(file string, data []byte, m *TransportMap) contract { return parse(file, data, m, &sc) }
	for _, bb := range []struct {
		name  string
		parse func(string, []byte, *TransportMap) contract
	}{{"fast", fast}, {"yaml.v3", parseYAML}} {
		b.Run(bb.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if c := bb.parse("contract.yaml", data, m); len(c.needs) == 0 {
					b.Fatal("no needs")
				}
			}
		})
	}
}
