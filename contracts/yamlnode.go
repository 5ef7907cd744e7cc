package contracts

import (
	"bytes"
	"errors"
	"io"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// maxDepth bounds how deeply a document may nest before it is parsed at all.
// Real contracts nest about ten levels. yaml.v3 stops only at 10,000, and its
// scanner costs depth² per line: 1 MiB of lines 1,000 deep takes seconds,
// 1 MiB of lines 64 deep a fifth of one.
const maxDepth = 64

// maxMergeDepth bounds chains of YAML merge keys (<<: *base), which can
// refer to themselves.
const maxMergeDepth = 8

type parseError struct {
	line    int
	msg     string
	partial bool // the document was still read
}

// yamlLineRE is compiled on first use: every container start pays for
// package-level regexps, and most starts meet no YAML error.
var yamlLineRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^yaml: line (\d+): (.*)$`) })

// decodeFirst parses the first YAML document into a node tree. Only the
// first document counts, like a single-document loader. The error is split
// into line and message so it can be reported as file:line.
func decodeFirst(data []byte) (doc *yaml.Node, perr *parseError) {
	defer func() {
		// yaml.v3 turns its own failures into errors, but any other panic
		// in the parser must not take the container's init down with it.
		if r := recover(); r != nil {
			doc, perr = nil, &parseError{msg: "YAML parser failed on this file"}
		}
	}()
	var n yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	err := dec.Decode(&n)
	if errors.Is(err, io.EOF) {
		return nil, nil
	}
	if err != nil {
		msg := err.Error()
		line := 0
		if sm := yamlLineRE().FindStringSubmatch(msg); sm != nil {
			line, _ = strconv.Atoi(sm[1])
			msg = sm[2]
		} else {
			msg = strings.TrimPrefix(msg, "yaml: ")
		}
		return nil, &parseError{line: line, msg: "invalid YAML: " + Clip(msg, 120)}
	}
	// A YAML 1.1 loader refuses a stream of several documents; reading the
	// first and saying so keeps startup going without hiding the rest.
	var next yaml.Node
	if err := dec.Decode(&next); !errors.Is(err, io.EOF) {
		return &n, &parseError{line: next.Line, msg: "more than one YAML document; only the first is read", partial: true}
	}
	return &n, nil
}

// depthExceeds reports whether flow brackets or block indentation nest
// deeper than limit. It over-approximates (brackets inside quotes count too),
// which only matters for documents no contract looks like. It runs on every
// contract of every start, so it first rules out what cannot exceed: fewer
// opening brackets than limit, a line no longer than limit. decodeFast
// runs the same two checks on its own.
func depthExceeds(data []byte, limit int) bool {
	if flowExceeds(data, limit) {
		return true
	}
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		if len(line) > limit && lineDepth(line) > limit {
			return true
		}
	}
	return false
}

// lineDepth bounds the block nesting a line opens: "- - - x" opens one
// level per dash on a single line, and each indented line opens at most
// one per column, so it counts the dashes and half the indentation. It
// never exceeds len(line).
func lineDepth(line []byte) int {
	levels := 0
	for i := 0; i < len(line); i++ {
		c := line[i]
		if c == ' ' || c == '\t' {
			continue
		}
		if (c == '-' || c == '?' || c == ':') && (i+1 == len(line) || line[i+1] == ' ' || line[i+1] == '\t') {
			levels++
			continue
		}
		break
	}
	return levels + indent(line)/2
}

// flowExceeds reports flow brackets nesting deeper than limit. Only more
// than limit opening brackets can, so it counts them first (vectorised).
func flowExceeds(data []byte, limit int) bool {
	if bytes.Count(data, []byte{'['})+bytes.Count(data, []byte{'{'}) <= limit {
		return false
	}
	flow := 0
	for _, c := range data {
		switch c {
		case '[', '{':
			flow++
			if flow > limit {
				return true
			}
		case ']', '}':
			if flow > 0 {
				flow--
			}
		}
	}
	return false
}

func indent(line []byte) int {
	n := 0
	for n < len(line) && line[n] == ' ' {
		n++
	}
	return n
}

// deref follows an alias to the node it names. Anchors cannot be put on
// aliases, so one step is enough; the loop only guards against a nil.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 4; i++ {
		n = n.Alias
	}
	if n != nil && n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return nil
		}
		return deref(n.Content[0])
	}
	if n != nil && n.Kind == yaml.AliasNode {
		return nil
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n == nil || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

func isString(n *yaml.Node) bool {
	return n != nil && n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str"
}

// boolValue reads a YAML boolean. Plain yes/no/on/off count too: the
// contracts are written for a YAML 1.1 loader (PyYAML), which reads them so.
func boolValue(n *yaml.Node) (bool, bool) {
	if n == nil || n.Kind != yaml.ScalarNode {
		return false, false
	}
	if n.ShortTag() == "!!bool" {
		b, err := strconv.ParseBool(strings.ToLower(n.Value))
		return b, err == nil
	}
	if n.Style != 0 || n.ShortTag() != "!!str" {
		return false, false
	}
	switch strings.ToLower(n.Value) {
	case "yes", "y", "on":
		return true, true
	case "no", "n", "off":
		return false, true
	}
	return false, false
}

// kindName says what a node is, for "want X, got Y" messages, without
// repeating its value.
func kindName(n *yaml.Node) string {
	if n == nil {
		return "nothing"
	}
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.DocumentNode:
		return "a document"
	}
	switch n.ShortTag() {
	case "!!str":
		return "a string"
	case "!!int":
		return "an integer"
	case "!!float":
		return "a number"
	case "!!bool":
		return "a boolean"
	case "!!null":
		return "null"
	case "!!binary":
		return "binary data"
	case "!!timestamp":
		return "a timestamp"
	}
	return "a tagged value"
}

func keyText(k *yaml.Node) string {
	if k == nil || k.Kind != yaml.ScalarNode {
		return ""
	}
	return k.Value
}

// lookup finds key in a mapping, following merge keys (<<). A key written
// in the mapping beats a merged one; among written duplicates the last wins,
// as in PyYAML. It returns the key node (for its line) and the value.
func lookup(m *yaml.Node, key string) (k, v *yaml.Node) {
	return lookupDepth(m, key, 0)
}

func lookupDepth(m *yaml.Node, key string, depth int) (k, v *yaml.Node) {
	if m == nil || m.Kind != yaml.MappingNode || depth > maxMergeDepth {
		return nil, nil
	}
	var merges []*yaml.Node
	for i := 0; i+1 < len(m.Content); i += 2 {
		kn := m.Content[i]
		if kn.Kind != yaml.ScalarNode {
			continue
		}
		if kn.ShortTag() == "!!merge" {
			merges = append(merges, m.Content[i+1])
			continue
		}
		if kn.Value == key {
			k, v = kn, m.Content[i+1]
		}
	}
	if k != nil {
		return k, deref(v)
	}
	for _, mv := range merges {
		mv = deref(mv)
		if mv == nil {
			continue
		}
		srcs := []*yaml.Node{mv}
		if mv.Kind == yaml.SequenceNode {
			srcs = mv.Content
		}
		for _, s := range srcs {
			if k, v = lookupDepth(deref(s), key, depth+1); k != nil {
				return k, v
			}
		}
	}
	return nil, nil
}

// quoteName quotes a name taken from a file for a message, clipped so that a
// hostile file cannot flood the log.
func quoteName(s string) string {
	const max = 64
	if utf8.RuneCountInString(s) <= max {
		return strconv.Quote(s)
	}
	r := []rune(s)
	return strconv.Quote(string(r[:max])) + "..."
}

// Clip shortens a word taken from a file, a flag or a server for a
// message: at most n bytes, cut where a character starts, and "…" when
// something was cut. secret-init clips every such word with it.
func Clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
