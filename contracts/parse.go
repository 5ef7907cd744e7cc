package contracts

import (
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// need is one declaration found in a contract: a transport (whose keys come
// from the map) or, when transport is EnvFolder, one explicit variable.
type need struct {
	transport string
	key       string // EnvFolder only
	required  bool
	src       Source
}

// contract is what one file yields.
type contract struct {
	needs    []need
	warnings []Warning
	dropped  int // warnings beyond maxWarnings
	// lastDropped places the "more warnings" note after the ones shown.
	lastDropped int
}

// maxWarnings bounds the warnings of one file, so that a hostile or
// generated contract cannot flood the log of every container start.
const maxWarnings = 20

func (c *contract) warn(file string, line int, field, msg string) {
	if len(c.warnings) < maxWarnings {
		c.warnings = append(c.warnings, Warning{File: file, Line: line, Field: field, Msg: msg})
		return
	}
	c.dropped++
	c.lastDropped = max(c.lastDropped, line)
}

// parse reads one contract's bytes. It never fails: whatever it cannot use
// becomes a warning naming the file, the field and the line. sc is reused
// from one call to the next.
func parse(file string, data []byte, m *TransportMap, sc *scratch) contract {
	if root, ok := decodeFast(data, sc); ok { // never for a file too deep
		return read(file, root, m)
	}
	if depthExceeds(data, maxDepth) {
		var c contract
		c.warn(file, 0, "", fmt.Sprintf("nested deeper than %d levels; file skipped", maxDepth))
		return c
	}
	return parseYAML(file, data, m)
}

// parseYAML is parse through yaml.v3, for every file decodeFast leaves to it.
func parseYAML(file string, data []byte, m *TransportMap) contract {
	doc, perr := decodeFirst(data)
	if perr == nil {
		return read(file, deref(doc), m)
	}
	var c contract
	c.warn(file, perr.line, "", perr.msg)
	if perr.partial {
		c.read(file, deref(doc), m)
	}
	return c
}

func read(file string, root *yaml.Node, m *TransportMap) contract {
	var c contract
	c.read(file, root, m)
	return c
}

// contractShape names every field that read looks up, and no other:
// decodeFast builds nodes for these only.
var contractShape = &shape{keys: []field{
	{"metadata", &shape{keys: []field{{"transport_type", leaf}}}},
	{"handler_routing", &shape{keys: []field{{"handlers", &shape{items: &shape{keys: []field{
		{"handler_type", leaf},
		{"handler", &shape{keys: []field{{"handler_type", leaf}}}},
	}}}}}}},
	{"dependencies", &shape{items: &shape{keys: []field{
		{"type", leaf}, {"env_var", leaf}, {"name", leaf}, {"required", leaf},
	}}}},
}}

func (c *contract) read(file string, root *yaml.Node, m *TransportMap) {
	if isNull(root) {
		return // an empty contract declares nothing
	}
	c.needs = make([]need, 0, 8)
	if root.Kind != yaml.MappingNode {
		c.warn(file, root.Line, "", "want a mapping at the top level, got "+kindName(root))
		return
	}
	c.metadata(file, root, m)
	c.handlers(file, root, m)
	c.dependencies(file, root)
	if c.dropped > 0 {
		c.warnings = append(c.warnings, Warning{File: file, Line: c.lastDropped, Msg: fmt.Sprintf("%d more warnings not shown", c.dropped)})
	}
}

// want checks a field's kind; null counts as absent, without a warning.
// line is where the field is written: for a value reached through an alias
// that is the alias, not the anchor.
func (c *contract) want(file, field string, line int, n *yaml.Node, kind yaml.Kind) bool {
	if isNull(n) {
		return false
	}
	if n.Kind != kind {
		name := map[yaml.Kind]string{yaml.MappingNode: "a mapping", yaml.SequenceNode: "a list"}[kind]
		c.warn(file, line, field, "want "+name+", got "+kindName(n))
		return false
	}
	return true
}

func lineOf(n *yaml.Node) int {
	if n == nil {
		return 0
	}
	return n.Line
}

// transport records a transport named in field; empty names are skipped,
// as the reference extractor does.
func (c *contract) transport(file, field string, n *yaml.Node, m *TransportMap) {
	if isNull(n) {
		return
	}
	if !isString(n) {
		c.warn(file, n.Line, field, "want a transport name, got "+kindName(n))
		return
	}
	if strings.TrimSpace(n.Value) == "" {
		return
	}
	t, ok := m.Canonical(n.Value)
	if !ok {
		c.warn(file, n.Line, field, "unknown transport "+quoteName(strings.TrimSpace(n.Value)))
		return
	}
	c.needs = append(c.needs, need{transport: t, required: true, src: Source{File: file, Line: n.Line, Field: field}})
}

func (c *contract) metadata(file string, root *yaml.Node, m *TransportMap) {
	k, md := lookup(root, "metadata")
	if !c.want(file, "metadata", lineOf(k), md, yaml.MappingNode) {
		return
	}
	_, tt := lookup(md, "transport_type")
	c.transport(file, "metadata.transport_type", tt, m)
}

func (c *contract) handlers(file string, root *yaml.Node, m *TransportMap) {
	k, hr := lookup(root, "handler_routing")
	if !c.want(file, "handler_routing", lineOf(k), hr, yaml.MappingNode) {
		return
	}
	// Field names are built only for fields that are there: most handlers
	// have one of the two handler_types, and every start reads them all.
	c.eachMapping(file, hr, "handler_routing.handlers", "handlers", func(field entryField, h *yaml.Node) {
		if _, ht := lookup(h, "handler_type"); !isNull(ht) {
			c.transport(file, field.name(".handler_type"), ht, m)
		}
		// Many real contracts put handler_type under handler:, next to the
		// handler's name and module; the reference extractor missed those.
		k, inner := lookup(h, "handler")
		if isNull(inner) || isString(inner) {
			return // handler: SomeClassName names the handler and nothing more
		}
		if inner.Kind != yaml.MappingNode {
			c.want(file, field.name(".handler"), lineOf(k), inner, yaml.MappingNode)
			return
		}
		if _, ht := lookup(inner, "handler_type"); !isNull(ht) {
			c.transport(file, field.name(".handler.handler_type"), ht, m)
		}
	})
}

func (c *contract) dependencies(file string, root *yaml.Node) {
	c.eachMapping(file, root, "dependencies", "dependencies", func(field entryField, d *yaml.Node) {
		_, typ := lookup(d, "type")
		if isNull(typ) {
			return
		}
		if !isString(typ) {
			c.warn(file, typ.Line, field.name(".type"), "want a string, got "+kindName(typ))
			return
		}
		if !strings.EqualFold(strings.TrimSpace(typ.Value), "environment") {
			return // library, service, ...: not ours
		}
		key, src, nameOnly, ok := c.dependencyKey(file, field, d)
		if !ok {
			return
		}
		required := true
		if _, r := lookup(d, "required"); !isNull(r) {
			if b, ok := boolValue(r); ok {
				required = b
			} else {
				// Unreadable means the default: the key is still fetched
				// either way; only a missing one becomes fatal.
				c.warn(file, r.Line, field.name(".required"), "want true or false, got "+kindName(r)+"; taken as true")
			}
		}
		if nameOnly {
			// The seed project's extractor skips a dependency without
			// env_var, so its services start without the key: fetched
			// here, but never required, whatever required says.
			required = false
		}
		c.needs = append(c.needs, need{transport: EnvFolder, key: key, required: required, src: src})
	})
}

// eachMapping calls fn for each entry of the list parent[key] (written as
// field in messages), warning about a list that is not one and entries
// that are not mappings.
func (c *contract) eachMapping(file string, parent *yaml.Node, field, key string, fn func(field entryField, entry *yaml.Node)) {
	k, list := lookup(parent, key)
	if !c.want(file, field, lineOf(k), list, yaml.SequenceNode) {
		return
	}
	for i, item := range list.Content {
		f := entryField{field, i}
		if e := deref(item); e != nil && e.Kind == yaml.MappingNode {
			fn(f, e)
		} else {
			c.want(file, f.name(""), item.Line, e, yaml.MappingNode) // warns unless null
		}
	}
}

// entryField names a list entry, "dependencies[2]", and its fields,
// "dependencies[2].env_var". Each name is built in one go, and only when a
// need or a warning records it: every start reads every entry.
type entryField struct {
	list string
	i    int
}

func (f entryField) name(suffix string) string {
	return f.list + "[" + strconv.Itoa(f.i) + "]" + suffix
}

// dependencyKey finds the variable of an environment dependency: env_var,
// or else name when it looks like a variable (QDRANT_URL), which is how
// several real contracts write it; nameOnly says it was the name.
func (c *contract) dependencyKey(file string, field entryField, d *yaml.Node) (key string, src Source, nameOnly, ok bool) {
	if _, ev := lookup(d, "env_var"); !isNull(ev) {
		if !isString(ev) {
			c.warn(file, ev.Line, field.name(".env_var"), "want a variable name, got "+kindName(ev))
			return "", Source{}, false, false
		}
		if v := strings.TrimSpace(ev.Value); v != "" {
			if !IsVarName(v, false) {
				c.warn(file, ev.Line, field.name(".env_var"), "not a variable name ([A-Za-z_][A-Za-z0-9_]*)")
				return "", Source{}, false, false
			}
			return v, Source{File: file, Line: ev.Line, Field: field.name(".env_var")}, false, true
		}
	}
	_, nm := lookup(d, "name")
	if isString(nm) && IsVarName(strings.TrimSpace(nm.Value), true) {
		return strings.TrimSpace(nm.Value), Source{File: file, Line: nm.Line, Field: field.name(NameOnlyField)}, true, true
	}
	line := d.Line
	if nm != nil {
		line = nm.Line
	}
	c.warn(file, line, field.name(""), "type environment without env_var, and name is not an upper-case variable name; skipped")
	return "", Source{}, false, false
}
