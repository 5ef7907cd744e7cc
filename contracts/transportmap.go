package contracts

import (
	_ "embed"
	"fmt"
	"slices"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"
)

// EnvFolder is the transport name given to a contract's explicit
// dependencies: their keys live in /shared/env/ and /services/<slug>/env/.
// It is reserved, so no transport or alias can take it.
const EnvFolder = "env"

//go:embed transports.yaml
var embeddedMap []byte

// TransportMap says which keys each transport needs, which other spellings
// name a transport, and which transports are bootstrap (never fetched).
// The zero value is an empty map; DefaultTransportMap gives the embedded one.
type TransportMap struct {
	keys      map[string][]string // canonical transport -> keys, in order
	aliases   map[string]string   // folded alias -> canonical transport
	bootstrap map[string]bool
}

var (
	defaultOnce sync.Once
	defaultMap  *TransportMap
)

// DefaultTransportMap returns a fresh copy of the embedded transport map, so
// that a caller may Merge into it without touching anyone else's copy.
func DefaultTransportMap() *TransportMap {
	defaultOnce.Do(func() {
		m := &TransportMap{}
		if err := m.merge("transports.yaml", embeddedMap); err != nil {
			// The embedded file is part of the binary and tested; a bad one
			// is a build mistake, not something an operator can fix.
			panic("contracts: embedded transport map: " + err.Error())
		}
		defaultMap = m
	})
	return defaultMap.clone()
}

func (m *TransportMap) clone() *TransportMap {
	c := &TransportMap{
		keys:      make(map[string][]string, len(m.keys)),
		aliases:   make(map[string]string, len(m.aliases)),
		bootstrap: make(map[string]bool, len(m.bootstrap)),
	}
	for t, ks := range m.keys {
		c.keys[t] = slices.Clone(ks)
	}
	for a, t := range m.aliases {
		c.aliases[a] = t
	}
	for t, b := range m.bootstrap {
		c.bootstrap[t] = b
	}
	return c
}

func fold(name string) string { return strings.ToLower(strings.TrimSpace(name)) }

// Canonical folds case and surrounding spaces and resolves aliases. A name
// that is both a transport and an alias is the transport.
func (m *TransportMap) Canonical(name string) (string, bool) {
	n := fold(name)
	if _, ok := m.keys[n]; ok {
		return n, true
	}
	if t, ok := m.aliases[n]; ok {
		return t, true
	}
	return "", false
}

// Keys returns a copy of the keys of a transport (or alias of one); nil when
// the transport is unknown or needs no keys.
func (m *TransportMap) Keys(transport string) []string {
	t, ok := m.Canonical(transport)
	if !ok {
		return nil
	}
	return slices.Clone(m.keys[t])
}

// IsBootstrap reports whether a transport's keys come from the environment
// and .env only.
func (m *TransportMap) IsBootstrap(transport string) bool {
	t, ok := m.Canonical(transport)
	return ok && m.bootstrap[t]
}

// Transports returns the canonical transport names, sorted.
func (m *TransportMap) Transports() []string {
	ts := make([]string, 0, len(m.keys))
	for t := range m.keys {
		ts = append(ts, t)
	}
	slices.Sort(ts)
	return ts
}

// bootstrapKeys is the set of keys that belong to bootstrap transports: an
// explicit dependency on one of them is never fetched either.
func (m *TransportMap) bootstrapKeys() map[string]bool {
	set := map[string]bool{}
	for t, b := range m.bootstrap {
		if b {
			for _, k := range m.keys[t] {
				set[k] = true
			}
		}
	}
	return set
}

// Merge reads a transport map file of the same shape as the embedded one
// (see transports.yaml) on top of m. On error m is unchanged and the error
// names the file and, where there is one, the line.
func (m *TransportMap) Merge(path string) error {
	data, err := readCapped(path, nil)
	if err != nil {
		return fmt.Errorf("transport map: %w", err)
	}
	return m.merge(path, data)
}

// isTransportName reports whether s is a transport folder name:
// [a-z0-9][a-z0-9_-]*. Hand-written rather than a package-level regexp,
// which every container start would compile.
func isTransportName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case (c == '_' || c == '-') && i > 0:
		default:
			return false
		}
	}
	return s != ""
}

// IsVarName reports whether s is a variable name, [A-Za-z_][A-Za-z0-9_]*,
// or with upperOnly [A-Z_][A-Z0-9_]*.
func IsVarName(s string, upperOnly bool) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_', c >= 'A' && c <= 'Z':
		case c >= 'a' && c <= 'z' && !upperOnly:
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return s != ""
}

type mapError struct {
	file string
	line int
	msg  string
}

func (e *mapError) Error() string {
	if e.line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.file, e.line, e.msg)
	}
	return e.file + ": " + e.msg
}

// transportEntry is one transport as written in a map file; nil slices
// mean the field was not given.
type transportEntry struct {
	name       string
	line       int
	keys       []string
	aliases    []string
	aliasLines []int
	bootstrap  *bool
}

func (m *TransportMap) merge(file string, data []byte) error {
	entries, err := parseTransportMap(file, data)
	if err != nil {
		return err
	}
	next := m.clone()
	claimed := map[string]string{} // alias -> transport, within this file
	for _, e := range entries {
		_, exists := next.keys[e.name]
		if !exists && e.keys == nil {
			return &mapError{file, e.line, fmt.Sprintf("transport %q is new and needs keys (keys: [] for none)", e.name)}
		}
		if e.keys != nil {
			next.keys[e.name] = e.keys
		}
		// A transport named explicitly wins over an older alias of that name.
		delete(next.aliases, e.name)
		if e.bootstrap != nil {
			next.bootstrap[e.name] = *e.bootstrap
		}
		for i, a := range e.aliases {
			if other, ok := claimed[a]; ok && other != e.name {
				return &mapError{file, e.aliasLines[i], fmt.Sprintf("alias %q is claimed by both %q and %q", a, other, e.name)}
			}
			claimed[a] = e.name
			next.aliases[a] = e.name
		}
	}
	for _, e := range entries {
		for i, a := range e.aliases {
			if _, ok := next.keys[a]; ok {
				return &mapError{file, e.aliasLines[i], fmt.Sprintf("alias %q is also a transport name", a)}
			}
		}
	}
	*m = *next
	return nil
}

func parseTransportMap(file string, data []byte) (entries []transportEntry, err error) {
	if depthExceeds(data, maxDepth) {
		return nil, &mapError{file, 0, fmt.Sprintf("nested deeper than %d levels", maxDepth)}
	}
	doc, perr := decodeFirst(data)
	if perr != nil {
		return nil, &mapError{file, perr.line, perr.msg}
	}
	root := deref(doc)
	if root == nil || isNull(root) {
		return nil, &mapError{file, 0, "empty transport map (want a top-level transports: mapping)"}
	}
	if root.Kind != yaml.MappingNode {
		return nil, &mapError{file, root.Line, "want a mapping with a transports: key, got " + kindName(root)}
	}
	var transports *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], deref(root.Content[i+1])
		if k.Kind != yaml.ScalarNode || k.Value != "transports" {
			return nil, &mapError{file, k.Line, "unknown field " + quoteName(keyText(k)) + " (want transports)"}
		}
		transports = v
	}
	if transports == nil || isNull(transports) {
		return nil, &mapError{file, root.Line, "transports: missing or empty"}
	}
	if transports.Kind != yaml.MappingNode {
		return nil, &mapError{file, transports.Line, "transports: want a mapping, got " + kindName(transports)}
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(transports.Content); i += 2 {
		k, v := transports.Content[i], deref(transports.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			return nil, &mapError{file, k.Line, "transport name: want a string, got " + kindName(k)}
		}
		name := fold(k.Value)
		switch {
		case !isTransportName(name):
			return nil, &mapError{file, k.Line, fmt.Sprintf("transport name %s: want lower-case letters, digits, '_' or '-'", quoteName(k.Value))}
		case name == EnvFolder:
			return nil, &mapError{file, k.Line, `transport name "env" is reserved for explicit dependencies`}
		}
		if prev, dup := seen[name]; dup {
			return nil, &mapError{file, k.Line, fmt.Sprintf("transport %q listed twice (first on line %d)", name, prev)}
		}
		seen[name] = k.Line
		e, err := parseTransportEntry(file, name, k.Line, v)
		if err != nil {
			return nil, err
		}
		entries = append(entries, e)
	}
	return entries, nil
}

func parseTransportEntry(file, name string, line int, v *yaml.Node) (transportEntry, error) {
	e := transportEntry{name: name, line: line}
	where := "transports." + name
	if v.Kind != yaml.MappingNode {
		return e, &mapError{file, v.Line, where + ": want a mapping with keys, aliases or bootstrap, got " + kindName(v)}
	}
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, fv := v.Content[i], deref(v.Content[i+1])
		field := keyText(k)
		switch field {
		case "keys":
			items, err := stringList(file, where+".keys", fv)
			if err != nil {
				return e, err
			}
			e.keys = make([]string, 0, len(items))
			dup := map[string]bool{}
			for _, it := range items {
				key := strings.TrimSpace(it.Value)
				if !IsVarName(key, false) {
					return e, &mapError{file, it.Line, fmt.Sprintf("%s: %s is not a variable name ([A-Za-z_][A-Za-z0-9_]*)", where+".keys", quoteName(it.Value))}
				}
				if dup[key] {
					return e, &mapError{file, it.Line, fmt.Sprintf("%s: %q listed twice", where+".keys", key)}
				}
				dup[key] = true
				e.keys = append(e.keys, key)
			}
		case "aliases":
			items, err := stringList(file, where+".aliases", fv)
			if err != nil {
				return e, err
			}
			e.aliases = []string{}
			for _, it := range items {
				a := fold(it.Value)
				if !isTransportName(a) || a == EnvFolder {
					return e, &mapError{file, it.Line, fmt.Sprintf("%s: %s is not a usable alias (lower-case letters, digits, '_' or '-'; not env)", where+".aliases", quoteName(it.Value))}
				}
				e.aliases = append(e.aliases, a)
				e.aliasLines = append(e.aliasLines, it.Line)
			}
		case "bootstrap":
			b, ok := boolValue(fv)
			if !ok {
				return e, &mapError{file, fv.Line, where + ".bootstrap: want true or false, got " + kindName(fv)}
			}
			e.bootstrap = &b
		default:
			return e, &mapError{file, k.Line, fmt.Sprintf("%s: unknown field %s (want keys, aliases or bootstrap)", where, quoteName(field))}
		}
	}
	return e, nil
}

// stringList accepts a sequence of strings; null is an empty list.
func stringList(file, where string, n *yaml.Node) ([]*yaml.Node, error) {
	if isNull(n) {
		return nil, nil
	}
	if n.Kind != yaml.SequenceNode {
		return nil, &mapError{file, n.Line, where + ": want a list, got " + kindName(n)}
	}
	out := make([]*yaml.Node, 0, len(n.Content))
	for _, it := range n.Content {
		it = deref(it)
		if !isString(it) {
			return nil, &mapError{file, it.Line, where + ": want a string, got " + kindName(it)}
		}
		out = append(out, it)
	}
	return out, nil
}
