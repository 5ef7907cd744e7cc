package contracts

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"secret-init/contracts/contractstest"
)

// prune cuts a yaml.v3 tree down to sh, the way decodeFast builds it.
func prune(n *yaml.Node, sh *shape) *yaml.Node {
	if n == nil {
		return nil
	}
	p := &yaml.Node{Kind: n.Kind, Tag: n.Tag, Style: n.Style, Value: n.Value, Line: n.Line}
	switch {
	case n.Kind == yaml.MappingNode && sh.keys != nil:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if k := n.Content[i]; k.Kind == yaml.ScalarNode {
				if f := sh.field([]byte(k.Value)); f != nil {
					p.Content = append(p.Content, prune(k, leaf), prune(n.Content[i+1], f.sub))
				}
			}
		}
	case n.Kind == yaml.SequenceNode && sh.items != nil:
		for _, c := range n.Content {
			p.Content = append(p.Content, prune(c, sh.items))
		}
	}
	return p
}

// treeDiff describes the first difference between two trees, or "".
func treeDiff(path string, got, want *yaml.Node) string {
	if got == nil || want == nil {
		if got != want {
			return fmt.Sprintf("%s: got %v, want %v", path, got, want)
		}
		return ""
	}
	g := fmt.Sprintf("kind %d tag %q style %d value %q line %d, %d children", got.Kind, got.Tag, got.Style, got.Value, got.Line, len(got.Content))
	w := fmt.Sprintf("kind %d tag %q style %d value %q line %d, %d children", want.Kind, want.Tag, want.Style, want.Value, want.Line, len(want.Content))
	if g != w {
		return fmt.Sprintf("%s:\n got %s\nwant %s", path, g, w)
	}
	for i := range got.Content {
		if d := treeDiff(fmt.Sprintf("%s/%d", path, i), got.Content[i], want.Content[i]); d != "" {
			return d
		}
	}
	return ""
}

// compareFastPath checks that when decodeFast takes data, yaml.v3 builds
// the same nodes for the fields read and parse gives the same needs and
// warnings (with file:line:field) as through yaml.v3. It reports whether
// the fast path took the file.
func compareFastPath(t *testing.T, data []byte, m *TransportMap) bool {
	t.Helper()
	root, ok := decodeFast(data, &scratch{})
	if !ok {
		return false
	}
	if depthExceeds(data, maxDepth) {
		t.Fatalf("the fast path took a file the depth check rejects:\n%s", data)
	}
	doc, perr := decodeFirst(data)
	if perr != nil {
		t.Fatalf("the fast path took a file yaml.v3 reports (line %d: %s):\n%s", perr.line, perr.msg, data)
	}
	if d := treeDiff("root", root, prune(deref(doc), contractShape)); d != "" {
		t.Fatalf("the fast path's nodes differ from yaml.v3's at %s\ninput:\n%s", d, data)
	}
	got, want := read("contract.yaml", root, m), parseYAML("contract.yaml", data, m)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("fast path and yaml.v3 disagree\n got %+v\nwant %+v\ninput:\n%s", got, want, data)
	}
	return true
}

// TestFastPathFixtures runs every file under testdata through both paths.
// The real contract shapes and the generated realistic set must all take
// the fast path, and so must the wrong types; the other broken fixtures
// (anchors, several documents, invalid YAML, a list or nothing at the top)
// must not.
func TestFastPathFixtures(t *testing.T) {
	m := DefaultTransportMap()
	fast := map[string]bool{}
	err := filepath.WalkDir("../testdata", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		fast[filepath.ToSlash(strings.TrimPrefix(p, fixtures+"/"))] = compareFastPath(t, data, m)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for p, took := range fast {
		wantFast := strings.HasPrefix(p, "omnibase/nodes/") && strings.HasSuffix(p, ".yaml") ||
			p == "omnibase/contracts/handlers/db/handler_contract.yaml" ||
			p == "broken/wrong_types.yaml" || p == "broken/wrong_types_handlers.yaml"
		if strings.HasPrefix(p, "omnibase/") || strings.HasPrefix(p, "broken/") {
			if took != wantFast {
				t.Errorf("%s: fast path taken = %v, want %v", p, took, wantFast)
			}
		}
	}
	const n = 115
	taken := 0
	for i := range n {
		if compareFastPath(t, contractstest.Contract(i), m) {
			taken++
		}
	}
	if taken != n {
		t.Errorf("the fast path took %d of %d realistic contracts, want all", taken, n)
	}
	// One scratch for every contract, as a reading worker has: no result
	// may change when the next contract reuses its memory.
	var sc scratch
	var files [][]byte
	var shared []contract
	for i := range n {
		files = append(files, contractstest.Contract(i))
		shared = append(shared, parse("contract.yaml", files[i], m, &sc))
	}
	for i, data := range files {
		if fresh := parse("contract.yaml", data, m, &scratch{}); !reflect.DeepEqual(shared[i], fresh) {
			t.Fatalf("contract %d read with a reused scratch:\n got %+v\nwant %+v", i, shared[i], fresh)
		}
	}
}

// TestTextLines checks the eight-bytes-at-a-time test against the
// character-at-a-time one, line feeds included, with every byte value and
// the multi-byte characters that matter at every offset around a word
// boundary.
func TestTextLines(t *testing.T) {
	slow := func(b []byte) ([]int32, bool) {
		_, nl, ok := textRunes(b, 0, len(b), nil)
		return nl, ok
	}
	var inserts [][]byte
	for c := range 256 {
		inserts = append(inserts, []byte{byte(c)})
	}
	for _, r := range []string{"\u0085", "\u00a0", "é", "\u2028", "\u2029", "\ufeff", "\ufffd", "\ufffe", "\U0001F600", "\xed\xa0\x80", "\xc0\xaf", "\n\n"} {
		inserts = append(inserts, []byte(r))
	}
	for _, ins := range inserts {
		for off := 0; off <= 17; off++ {
			line := []byte(strings.Repeat("a: b\n", 5))
			line = append(line[:off:off], append(ins, line[off:]...)...)
			gotNL, got := textLines(line, nil)
			wantNL, want := slow(line)
			if got != want || got && (!slices.Equal(gotNL, wantNL) || len(gotNL) == 0) {
				t.Errorf("textLines(%q) = %v %v, want %v %v", line, gotNL, got, wantNL, want)
			}
		}
	}
}

// fastPathCases are the tricky inputs: each is a seed of FuzzFastPath, and
// fast says whether decodeFast must take it (and then agree with yaml.v3).
var fastPathCases = []struct {
	name, doc string
	fast      bool
}{
	{"indentless list", "dependencies:\n- type: environment\n  env_var: A\n- name: B\nmetadata:\n  transport_type: db\n", true},
	{"indentless list under an entry", "handler_routing:\n  handlers:\n  - handler:\n      handler_type: db\n  - handler_type: kafka\n", true},
	{"name-only dependencies", "dependencies:\n  - type: environment\n    name: QDRANT_URL\n    required: true\n  - type: environment\n    name: LLM_CODER_URL\n  - type: environment\n    name: ignored\n    env_var: SLACK_BOT_TOKEN\n", true},
	{"entry key after spaces", "dependencies:\n  -   type: environment\n      env_var: A\n      required: no\n", true},
	{"empty values", "metadata:\nhandler_routing:\n  handlers:\ndependencies:\n  - type:\n  - type: environment\n    name:\n", true},
	{"scalar kinds", "metadata:\n  transport_type: ~\ndependencies:\n  - {type: environment, env_var: 42}\n  - type: environment\n    env_var: 0x1F\n    required: False\n  - type: environment\n    env_var: A\n    required: 'no'\n  - type: 2001-12-14\n  - type: environment\n    env_var: B\n    required: 1.5\n", true},
	{"timestamp transport", "metadata:\n  transport_type: 2001-12-14\n", true},
	{"single quotes", "metadata:\n  transport_type: 'it''s'\n  other: ''\n", true},
	{"double-quote escape", "metadata:\n  transport_type: \"d\\u0062\"\n", false},
	{"backslash outside double quotes", "a: 'x\\y' # c:\\d\nb: c\\d\nmetadata:\n  transport_type: \"db\"\n", true},
	{"escape in a later double quote", "metadata:\n  transport_type: \"db\"\nb: [\"x\\ty\"]\n", false},
	{"comments anywhere", "# head\nmetadata: # after key\n# col 0\n      # deep\n  transport_type: db # trailing\n  # between\n", true},
	{"hash inside plain", "metadata:\n  transport_type: db#x\n", true},
	{"colon inside plain", "metadata:\n  transport_type: http://x:80/a\n", true},
	{"colon space in value", "metadata:\n  transport_type: a: b\n", false},
	{"final colon", "metadata:\n  transport_type: db:\n", false},
	{"plain on two lines", "metadata:\n  transport_type: db\n    more\n", false},
	{"quoted on two lines", "metadata:\n  transport_type: \"db\n    x\"\n", false},
	{"text after quote", "metadata:\n  transport_type: \"db\"x\n", false},
	{"hash right after quote", "metadata:\n  transport_type: \"db\"#x\n", false},
	{"flow in read fields", "metadata: {transport_type: db, tags: [a, 'b', \"c\"]}\nhandler_routing: {handlers: [{handler_type: kafka}, {handler: {handler_type: http}}, 5, [x]]}\ndependencies: [{type: environment, env_var: A}, {type: environment, name: B, required: false}]\n", true},
	{"flow empties", "metadata: {}\nhandler_routing:\n  handlers: []\ndependencies: { }\nx: [ ]\n", true},
	{"flow trailing comma", "k: [a, b, ]\n", false},
	{"flow single pair", "k: [a: b]\n", false},
	{"flow empty value", "k: {a: }\n", false},
	{"flow on two lines", "k: [\n  a]\n", false},
	{"flow plain with space", "k: [a b]\n", false},
	{"flow then text", "k: [a]x\n", false},
	{"block scalars", "description: >\n  text: with colon\n\n  # not a comment\n    more\nnotes: |-\n    kept\nmetadata:\n  transport_type: db\n", true},
	{"block scalar ends on comment", "description: |\n    text\n  # a comment\nmetadata:\n  transport_type: db\n", true},
	{"block scalar empty", "description: >\nmetadata:\n  transport_type: db\n", true},
	{"block scalar under entry", "dependencies:\n  - type: environment\n    description: >+\n      long\n    env_var: A\n", true},
	{"block scalar bad indent", "description: |-\n    x\n  y: 1\n", false},
	{"block scalar longer blank first", "d: |\n      \n  text\n", false},
	{"block scalar in read field", "metadata:\n  transport_type: >\n    db\n", false},
	{"block scalar indicator", "description: >2\n   x\n", false},
	{"block scalar as entry", "x:\n  - |\n    a\n", false},
	{"document start", "---\nmetadata:\n  transport_type: db\n", true},
	{"document start comment", "# c\n--- # c\nmetadata: {}\n", true},
	{"document start with content", "--- a: 1\n", false},
	{"two documents", "metadata:\n  transport_type: db\n---\nmetadata:\n  transport_type: kafka\n", false},
	{"document end", "metadata: {}\n...\n", false},
	{"directive", "%YAML 1.2\n---\na: 1\n", false},
	{"tab", "metadata:\n\ttransport_type: db\n", false},
	{"CRLF", "metadata:\r\n  transport_type: db\r\n", false},
	{"duplicates", "metadata:\n  transport_type: db\n  transport_type: kafka\nmetadata:\n  transport_type: http\n", true},
	{"anchor", "metadata: &m\n  transport_type: db\n", false},
	{"alias", "a: &x db\nmetadata:\n  transport_type: *x\n", false},
	{"tag", "metadata:\n  transport_type: !!str db\n", false},
	{"merge key", "metadata:\n  <<: {transport_type: db}\n", false},
	{"merge value", "metadata:\n  transport_type: <<\n", false},
	{"complex key", "? metadata\n: {transport_type: db}\n", false},
	{"quoted key", "\"metadata\":\n  transport_type: db\n", false},
	{"key space colon", "metadata :\n  transport_type: db\n", false},
	{"non-ASCII", "metadata:\n  description: \"naïve — ok\"\n  transport_type: dbé\n# ünïcode comment ✓\n", true},
	{"NEL", "metadata:\n  transport_type: db\u0085x\n", false},
	{"line separator", "metadata:\n  transport_type: db\u2028x\n", false},
	{"BOM", "\ufeffmetadata:\n  transport_type: db\n", false},
	{"BOM mid-line", "metadata:\n  transport_type: d\ufeffb\n", false},
	{"invalid UTF-8", "metadata:\n  transport_type: d\xffb\n", false},
	{"NUL", "metadata:\n  transport_type: d\x00b\n", false},
	{"DEL", "metadata:\n  transport_type: d\x7fb\n", false},
	{"indented root", "  metadata:\n    transport_type: db\n", true},
	{"line below indented root", "  metadata:\n    transport_type: db\nx: 1\n", false},
	{"stray indent", "metadata:\n  transport_type: db\n extra: 1\n", false},
	{"stray indent in entry", "handler_routing:\n  handlers:\n    - handler_type: db\n   x: 1\n", false},
	{"key where entry expected", "handler_routing:\n  handlers:\n    - handler_type: db\n    x: 1\n", false},
	{"entry after value", "metadata: db\n- x\n", false},
	{"entry on next line", "dependencies:\n  -\n    type: environment\n", false},
	{"list in list", "dependencies:\n  - - a\n", false},
	{"scalar on its own line", "metadata:\n  db\n", false},
	{"long key", strings.Repeat("k", 1100) + ": v\n", false},
	{"no space after colon", "metadata:\n  transport_type:db\n", false},
	{"entry with colon", "dependencies:\n  - type:environment\n  - http://x\n", true},
	{"dash values", "metadata:\n  transport_type: -db\n  other: -1\n", true},
	{"dash space value", "metadata:\n  transport_type: - db\n", false},
	{"handler by name", "handler_routing:\n  handlers:\n    - handler: HandlerName\n      handler_type: db\n", true},
	{"list at the top", "- a\n", false},
	{"empty", "", false},
	{"spaces only", "   \n\n", false},
	{"comment only", "# nothing\n", false},
	{"no final newline", "metadata:\n  transport_type: db", true},
	{"trailing spaces", "metadata:   \n  transport_type: db   \n  x: 'a'  \n", true},
	{"many warnings", "dependencies:\n" + strings.Repeat("  - 5\n", 25), true},
	{"nested 60 levels", "metadata:\n  transport_type: db\nx:\n" + strings.ReplaceAll(deepIndent(60), "\n", "\n  "), true},
	{"nested 70 levels", "x:\n" + strings.ReplaceAll(deepIndent(70), "\n", "\n  "), false},
	{"indented 65 levels", "x: 1\n" + strings.Repeat(" ", 130) + "# deep comment\n", false},
	{"long line, shallow", "x: " + strings.Repeat("a b ", 100) + "\n", true},
}

func TestFastPathCases(t *testing.T) {
	m := DefaultTransportMap()
	for _, tc := range fastPathCases {
		t.Run(tc.name, func(t *testing.T) {
			if got := compareFastPath(t, []byte(tc.doc), m); got != tc.fast {
				t.Errorf("fast path taken = %v, want %v", got, tc.fast)
			}
		})
	}
}

// FuzzFastPath holds decodeFast to yaml.v3 on every input the fast path
// takes: the same nodes for the fields read, the same needs and warnings.
func FuzzFastPath(f *testing.F) {
	for _, tc := range fastPathCases {
		f.Add([]byte(tc.doc))
	}
	for i := range 4 {
		f.Add(contractstest.Contract(i))
	}
	_ = filepath.WalkDir("../testdata/contracts", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if data, err := os.ReadFile(p); err == nil {
				f.Add(data)
			}
		}
		return nil
	})
	m := DefaultTransportMap()
	f.Fuzz(func(t *testing.T, data []byte) {
		compareFastPath(t, data, m)
	})
}
