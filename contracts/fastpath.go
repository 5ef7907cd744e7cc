package contracts

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// decodeFast reads a contract written in the plain block YAML that real
// contracts use, and returns the nodes yaml.v3 would build for the fields
// in contractShape (same kind, tag, value, style and line), the rest of the
// document checked but not built. yaml.v3 spends about 30 µs per KiB
// building nodes nobody reads, and every container start pays it for every
// contract.
//
// ok is false for anything outside that subset, and the caller then uses
// yaml.v3 itself, so results and error messages cannot differ: anchors,
// aliases, tags, merge keys, directives, a second document, tabs, CR or
// control characters, quoted or complex keys, escapes, scalars spanning
// lines, flow collections spanning lines or with unusual entries, block
// scalars in a read field or a list entry, indentation that does not match
// an open block. FuzzFastPath holds it to that.
func decodeFast(data []byte, sc *scratch) (root *yaml.Node, ok bool) {
	classesOnce.Do(fillClasses)
	sc.reset()
	// The depth check's flow half; its line half runs in advance. So the
	// fast path never takes a file that parse would reject as too deep.
	sc.nl, ok = textLines(data, sc.nl[:0])
	if !ok || flowExceeds(data, maxDepth) {
		return nil, false
	}
	// Most contracts hold no backslash at all: then no double-quoted
	// scalar needs to be searched for an escape.
	s := scanner{data: data, nl: sc.nl, sc: sc, docStart: true, escapes: bytes.IndexByte(data, '\\') >= 0}
	s.advance()
	s.skipEmpty()
	s.docStart = false
	if !s.eof && s.ind == 0 && isMarker(s.text, '-') {
		if i := skipSpaces(s.text, 3); i < len(s.text) && s.text[i] != '#' {
			return nil, false // content after "---"
		}
		s.advance()
		s.skipEmpty()
	}
	if s.eof || s.bad || isEntry(s.text, s.ind) {
		return nil, false // empty, or not a mapping: rare, and yaml.v3 words those
	}
	root = s.mapping(s.ind, contractShape)
	if s.bad || !s.eof {
		return nil, false
	}
	return root, true
}

// shape is the part of a value that the reading code looks at: the keys it
// looks up in a mapping, the shape of a list's entries. A leaf is read for
// its kind, tag, value and line only.
type shape struct {
	keys  []field
	items *shape
}

type field struct {
	name string
	sub  *shape // leaf when only the value itself is read
}

var leaf = &shape{}

// field returns the field key names, or nil when key is not read.
func (sh *shape) field(key []byte) *field {
	if sh == nil {
		return nil
	}
	for i := range sh.keys {
		if string(key) == sh.keys[i].name {
			return &sh.keys[i]
		}
	}
	return nil
}

func (sh *shape) entries() *shape {
	if sh == nil {
		return nil
	}
	return sh.items
}

const (
	// maxKeyLen keeps keys far below the 1024 characters after which
	// yaml.v3 no longer takes a scalar as a key.
	maxKeyLen = 128
	// maxFastDepth bounds the scanner's recursion. The depth check bounds
	// it too, but only once every line has been seen.
	maxFastDepth = maxDepth
)

// scanner walks the document a line at a time. Each function reads one
// construct and leaves the scanner on the next line with content (or at
// the end); bad means the document is outside the subset.
type scanner struct {
	data     []byte
	nl       []int32 // offsets of the line feeds
	li       int     // index in nl of the current line's end
	next     int     // offset of the line after the current one
	line     int     // the current line's number, from 1
	text     []byte  // the current line, without its newline
	ind      int     // spaces before its first character
	eof      bool
	bad      bool
	docStart bool // a "---" line may open the document here
	depth    int
	sc       *scratch
	escapes  bool // data holds a backslash
}

// scratch is memory that reading one contract after another reuses: the
// nodes decodeFast builds and its line table are garbage once parse
// returns, and fresh memory for each contract costs page faults at every
// start. The zero value is ready to use.
type scratch struct {
	nodes []yaml.Node  // handed out in order, never grown in place
	extra int          // nodes that did not fit, this contract
	kids  []*yaml.Node // the nodes' Content, carved out in order
	stack []*yaml.Node // children of the collections being read
	nl    []int32
}

func (sc *scratch) reset() {
	if sc.extra > 0 || sc.nodes == nil {
		sc.nodes = make([]yaml.Node, 0, max(64, cap(sc.nodes)+sc.extra))
		sc.kids = make([]*yaml.Node, 0, cap(sc.nodes))
	}
	sc.nodes, sc.kids, sc.stack, sc.extra = sc.nodes[:0], sc.kids[:0], sc.stack[:0], 0
}

// adopt makes the children pushed on the stack since mark n's Content.
func (s *scanner) adopt(n *yaml.Node, mark int) {
	sc := s.sc
	kids := sc.stack[mark:]
	if len(kids) > 0 {
		if len(sc.kids)+len(kids) <= cap(sc.kids) {
			at := len(sc.kids)
			sc.kids = append(sc.kids, kids...)
			n.Content = sc.kids[at:len(sc.kids):len(sc.kids)]
		} else {
			n.Content = slices.Clone(kids)
		}
	}
	sc.stack = sc.stack[:mark]
}

func (s *scanner) node(n yaml.Node) *yaml.Node {
	sc := s.sc
	if len(sc.nodes) == cap(sc.nodes) {
		sc.extra++ // the next contract gets a slab that fits
		p := new(yaml.Node)
		*p = n
		return p
	}
	sc.nodes = append(sc.nodes, n)
	return &sc.nodes[len(sc.nodes)-1]
}

func (s *scanner) advance() {
	if s.next >= len(s.data) {
		s.eof, s.text, s.ind = true, nil, 0
		return
	}
	end := len(s.data)
	if s.li < len(s.nl) {
		end = int(s.nl[s.li])
		s.li++
	}
	s.text = s.data[s.next:end]
	s.next = end + 1
	s.line++
	n := len(s.text)
	ind := 0
	for ind < n && s.text[ind] == ' ' {
		ind++
	}
	s.ind = ind
	// At most one level per two columns of indentation and one per "- "
	// after it: most lines cannot reach the limit, whatever their length.
	if ind/2+(n-ind+1)/2 > maxDepth && lineDepth(s.text) > maxDepth {
		s.bad = true
	}
	// Document markers and directives only count in column 0, and there
	// they end whatever is open.
	if ind == 0 && n > 0 && (s.text[0] == '%' || isMarker(s.text, '.') || (!s.docStart && isMarker(s.text, '-'))) {
		s.bad = true
	}
}

// skipEmpty moves past blank and comment-only lines.
func (s *scanner) skipEmpty() {
	for !s.eof && !s.bad && (s.ind == len(s.text) || s.text[s.ind] == '#') {
		s.advance()
	}
}

// open enters a collection of kind, and returns its node when sh asks for
// one. Every open is followed by a deferred close.
func (s *scanner) open(sh *shape, kind yaml.Kind, style yaml.Style) *yaml.Node {
	s.depth++
	if s.depth > maxFastDepth {
		s.bad = true
	}
	if sh == nil {
		return nil
	}
	tag := "!!map"
	if kind == yaml.SequenceNode {
		tag = "!!seq"
	}
	return s.node(yaml.Node{Kind: kind, Tag: tag, Style: style, Line: s.line})
}

func (s *scanner) close() { s.depth-- }

// mapping reads a block mapping whose keys sit in column col, the first
// one on the current line (after "- " when it is a list entry).
func (s *scanner) mapping(col int, sh *shape) *yaml.Node {
	n := s.open(sh, yaml.MappingNode, 0)
	defer s.close()
	keep := sh != nil && sh.keys != nil
	mark := len(s.sc.stack)
	for !s.bad {
		key, after, ok := splitKey(s.text, col)
		if !ok {
			s.bad = true
			return nil
		}
		var k *yaml.Node
		var sub *shape
		if f := sh.field(key); f != nil {
			sub = f.sub
			k = s.node(yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: f.name, Line: s.line})
		}
		var v *yaml.Node
		if at := skipSpaces(s.text, after); at == len(s.text) || s.text[at] == '#' {
			v = s.nested(col, sub)
		} else {
			v = s.inline(col, at, sub, true)
			if !s.eof && s.ind > col {
				s.bad = true // a scalar going on, or a stray indented line
			}
		}
		if s.bad {
			return nil
		}
		if keep && sub != nil {
			s.sc.stack = append(s.sc.stack, k, v)
		}
		if s.eof || s.ind < col {
			s.adopt(n, mark)
			return n
		}
		if s.ind > col || isEntry(s.text, col) {
			s.bad = true
			return nil
		}
	}
	return nil
}

// nested reads the value of a key with nothing after its colon: a block
// indented under it, a list in the key's own column, or null (on the key's
// line, as yaml.v3 places it).
func (s *scanner) nested(col int, sh *shape) *yaml.Node {
	line := s.line
	s.advance()
	s.skipEmpty()
	switch {
	case s.bad:
		return nil
	case !s.eof && s.ind > col && isEntry(s.text, s.ind):
		return s.sequence(s.ind, sh, false)
	case !s.eof && s.ind > col:
		return s.mapping(s.ind, sh)
	case !s.eof && s.ind == col && isEntry(s.text, col):
		return s.sequence(col, sh, true)
	case sh != nil:
		return s.node(yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Line: line})
	}
	return nil
}

// sequence reads a block list whose dashes sit in column col. An
// indentless list (the value of a key in the same column) ends at the
// first line of that column that is not an entry.
func (s *scanner) sequence(col int, sh *shape, indentless bool) *yaml.Node {
	n := s.open(sh, yaml.SequenceNode, 0)
	defer s.close()
	item := sh.entries()
	mark := len(s.sc.stack)
	for !s.bad {
		at := skipSpaces(s.text, col+1)
		if at == len(s.text) || s.text[at] == '#' || isEntry(s.text, at) {
			s.bad = true // the entry is on the next lines, or a list in a list
			return nil
		}
		var v *yaml.Node
		if _, _, ok := splitKey(s.text, at); ok {
			v = s.mapping(at, item)
		} else {
			v = s.inline(col, at, item, false)
			if !s.eof && s.ind > col {
				s.bad = true
			}
		}
		if s.bad {
			return nil
		}
		if item != nil {
			s.sc.stack = append(s.sc.stack, v)
		}
		if s.eof || s.ind < col {
			s.adopt(n, mark)
			return n
		}
		if s.ind > col {
			s.bad = true
			return nil
		}
		if !isEntry(s.text, col) {
			if indentless {
				s.adopt(n, mark)
				return n
			}
			s.bad = true
			return nil
		}
	}
	return nil
}

// inline reads the value that starts at text[at] on the current line, in
// a block whose column is col. Block scalars are taken only as mapping
// values that are not read (block says the value belongs to a mapping).
func (s *scanner) inline(col, at int, sh *shape, block bool) *yaml.Node {
	var n *yaml.Node
	end := len(s.text)
	switch c := s.text[at]; {
	case c == '"' || c == '\'':
		var v string
		var ok bool
		v, end, ok = s.quoted(s.text, at, sh != nil)
		if !ok {
			s.bad = true
			return nil
		}
		if sh != nil {
			n = s.quotedNode(c, v)
		}
	case c == '[' || c == '{':
		n, end = s.flow(at, sh)
	case c == '|' || c == '>':
		if sh != nil || !block {
			s.bad = true
			return nil
		}
		s.blockScalar(col, at)
		return nil
	default:
		if !plainStart(s.text, at) {
			s.bad = true
			return nil
		}
		e, ok := plainEnd(s.text, at)
		if !ok {
			s.bad = true
			return nil
		}
		if sh != nil {
			n = s.plainNode(string(s.text[at:e]))
		}
	}
	if s.bad || !trailerOK(s.text, end) {
		s.bad = true
		return nil
	}
	s.advance()
	s.skipEmpty()
	return n
}

// blockScalar skips a literal (|) or folded (>) scalar that is the value
// of a key in column col, as yaml.v3 delimits it: its indentation is that
// of the first non-blank line (or of a longer blank line before it), at
// least col+1, and it ends at the first non-blank line indented less.
func (s *scanner) blockScalar(col, at int) {
	h := s.text[at+1:]
	if len(h) > 0 && (h[0] == '-' || h[0] == '+') {
		h = h[1:]
	}
	if i := skipSpaces(h, 0); i < len(h) && (i == 0 || h[i] != '#') {
		s.bad = true // an indentation indicator, or text after the header
		return
	}
	indent, blank := 0, 0
	for {
		s.advance()
		if s.eof || s.bad {
			return
		}
		if s.ind == len(s.text) {
			if indent == 0 {
				blank = max(blank, s.ind)
			}
			continue
		}
		if indent == 0 {
			indent = max(blank, s.ind, col+1)
		}
		if s.ind < indent {
			break
		}
	}
	s.skipEmpty()
}

// flow reads a flow collection that closes on the current line; it
// returns the node (when sh asks for one) and the offset after it.
func (s *scanner) flow(at int, sh *shape) (*yaml.Node, int) {
	t := s.text
	seq := t[at] == '['
	kind, closer := yaml.MappingNode, byte('}')
	if seq {
		kind, closer = yaml.SequenceNode, ']'
	}
	n := s.open(sh, kind, yaml.FlowStyle)
	defer s.close()
	i := skipSpaces(t, at+1)
	if i < len(t) && t[i] == closer {
		return n, i + 1
	}
	mark := len(s.sc.stack)
	for !s.bad {
		var k, v *yaml.Node
		sub := sh.entries()
		if !seq {
			j := flowPlainEnd(t, i)
			if j == i || j-i > maxKeyLen || j+1 >= len(t) || t[j] != ':' || t[j+1] != ' ' {
				s.bad = true
				return nil, i
			}
			sub = nil
			if f := sh.field(t[i:j]); f != nil {
				sub = f.sub
				k = s.node(yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: f.name, Line: s.line})
			}
			i = skipSpaces(t, j+1)
		}
		v, i = s.flowValue(i, sub)
		if s.bad {
			return nil, i
		}
		switch {
		case seq && sub != nil:
			s.sc.stack = append(s.sc.stack, v)
		case !seq && sub != nil && sh.keys != nil:
			s.sc.stack = append(s.sc.stack, k, v)
		}
		i = skipSpaces(t, i)
		if i < len(t) && t[i] == closer {
			s.adopt(n, mark)
			return n, i + 1
		}
		if i >= len(t) || t[i] != ',' {
			s.bad = true
			return nil, i
		}
		i = skipSpaces(t, i+1)
		if i >= len(t) || t[i] == closer {
			s.bad = true // a trailing comma
			return nil, i
		}
	}
	return nil, i
}

// flowValue reads one entry of a flow collection: a collection, a quoted
// scalar, or a plain scalar of name-like characters.
func (s *scanner) flowValue(i int, sh *shape) (*yaml.Node, int) {
	t := s.text
	if i >= len(t) {
		s.bad = true
		return nil, i
	}
	switch c := t[i]; c {
	case '[', '{':
		return s.flow(i, sh)
	case '"', '\'':
		v, end, ok := s.quoted(t, i, sh != nil)
		if !ok {
			s.bad = true
			return nil, i
		}
		if sh == nil {
			return nil, end
		}
		return s.quotedNode(c, v), end
	}
	j := flowPlainEnd(t, i)
	if j == i || (j < len(t) && t[j] != ' ' && t[j] != ',' && t[j] != ']' && t[j] != '}') {
		s.bad = true
		return nil, i
	}
	if sh == nil {
		return nil, j
	}
	return s.plainNode(string(t[i:j])), j
}

func (s *scanner) plainNode(v string) *yaml.Node {
	n := s.node(yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v, Line: s.line})
	// yaml.v3 resolves a plain scalar by its first byte: only a sign, a
	// digit, '.', '~' or one of yYnNtTfFoO can make it other than a
	// string. Those get its own resolution (int, bool, null, timestamp...).
	if strings.IndexByte("+-0123456789.~yYnNtTfFoO", v[0]) >= 0 {
		n.Tag = ""
		n.Tag = n.ShortTag()
	}
	return n
}

func (s *scanner) quotedNode(quote byte, v string) *yaml.Node {
	style := yaml.DoubleQuotedStyle
	if quote == '\'' {
		style = yaml.SingleQuotedStyle
	}
	return s.node(yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Style: style, Value: v, Line: s.line})
}

// isMarker reports a document marker ("---" or "...") at the line start.
func isMarker(t []byte, c byte) bool {
	return len(t) >= 3 && t[0] == c && t[1] == c && t[2] == c && (len(t) == 3 || t[3] == ' ')
}

// isEntry reports a list entry ("- " or a lone "-") at t[at].
func isEntry(t []byte, at int) bool {
	return at < len(t) && t[at] == '-' && (at+1 == len(t) || t[at+1] == ' ')
}

func skipSpaces(t []byte, i int) int {
	for i < len(t) && t[i] == ' ' {
		i++
	}
	return i
}

// Byte classes of the subset's names, a table because every key and
// flow entry goes through them.
const (
	keyStart  = 1 << iota // letters, digits, _
	keyByte               // and . - /
	flowStart             // letters, digits, _ . /
	flowByte              // and -
	plainHead             // may start a block plain scalar
)

// classes is filled on first use: a package-level table would be built at
// every start, passthrough ones included.
var (
	classes     [256]uint8
	classesOnce sync.Once
)

func fillClasses() {
	t := &classes
	for c := range 256 {
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if alnum || c == '_' {
			t[c] |= keyStart | keyByte | flowStart | flowByte | plainHead
		}
		switch c {
		case '.', '/':
			t[c] |= keyByte | flowStart | flowByte | plainHead
		case '-':
			t[c] |= keyByte | flowByte
		case '$', '(', '~', '+':
			t[c] |= plainHead
		}
		if c >= 0x80 {
			t[c] |= plainHead // textLines has vetted the UTF-8
		}
	}
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// splitKey reads a plain key at t[at] followed by ':' and a space or the
// end of the line, and returns it and the offset after the colon. Keys are
// name-like: letters, digits and _ (first), then also . - /.
func splitKey(t []byte, at int) (key []byte, after int, ok bool) {
	if at >= len(t) || classes[t[at]]&keyStart == 0 {
		return nil, 0, false
	}
	i := at + 1
	for i < len(t) && classes[t[i]]&keyByte != 0 {
		i++
	}
	if i-at > maxKeyLen || i >= len(t) || t[i] != ':' || (i+1 < len(t) && t[i+1] != ' ') {
		return nil, 0, false
	}
	return t[at:i], i + 1, true
}

// plainStart reports whether a plain scalar may start at t[at] in the
// subset: yaml.v3 takes more, but nothing a contract needs.
func plainStart(t []byte, at int) bool {
	if c := t[at]; c == '-' {
		return at+1 < len(t) && (isAlnum(t[at+1]) || t[at+1] == '.')
	}
	return classes[t[at]]&plainHead != 0
}

// plainEnd returns where a block plain scalar starting at t[at] ends on
// this line (before " #" and trailing spaces). ok is false for ": " or a
// final ':', which yaml.v3 reads as a mapping where none is allowed.
func plainEnd(t []byte, at int) (end int, ok bool) {
	end = len(t)
	for i := at + 1; i < len(t); i++ {
		if c := t[i]; c == ':' {
			if i+1 == len(t) || t[i+1] == ' ' {
				return 0, false
			}
		} else if c == '#' && t[i-1] == ' ' {
			end = i
			break
		}
	}
	for end > at && t[end-1] == ' ' {
		end--
	}
	return end, true
}

// flowPlainEnd returns the end of a name-like plain scalar in a flow
// collection: letters, digits and _ . / (first), then also -.
func flowPlainEnd(t []byte, i int) int {
	if i >= len(t) || classes[t[i]]&flowStart == 0 {
		return i
	}
	i++
	for i < len(t) && classes[t[i]]&flowByte != 0 {
		i++
	}
	return i
}

// quoted reads a quoted scalar at t[at] that closes on this line; double
// quotes must hold no escape (a backslash). The value is built only when want is set.
func (s *scanner) quoted(t []byte, at int, want bool) (value string, end int, ok bool) {
	if t[at] == '"' {
		i := bytes.IndexByte(t[at+1:], '"')
		if i < 0 || s.escapes && bytes.IndexByte(t[at+1:at+1+i], '\\') >= 0 {
			return "", 0, false
		}
		if want {
			value = string(t[at+1 : at+1+i])
		}
		return value, at + i + 2, true
	}
	var b []byte
	for i := at + 1; ; {
		j := bytes.IndexByte(t[i:], '\'')
		if j < 0 {
			return "", 0, false
		}
		if want {
			b = append(b, t[i:i+j]...)
		}
		i += j + 1
		if i < len(t) && t[i] == '\'' { // '' is one quote
			if want {
				b = append(b, '\'')
			}
			i++
			continue
		}
		return string(b), i, true
	}
}

// trailerOK reports whether only spaces, or a comment after a space,
// follow a value that ended at t[end].
func trailerOK(t []byte, end int) bool {
	i := skipSpaces(t, end)
	return i == len(t) || (i > end && t[i] == '#')
}

// textLines appends the offsets of data's line feeds to nl, and says whether data
// holds only those and characters yaml.v3 reads as ordinary text:
// printable ASCII, or UTF-8 in the ranges its reader allows minus the line
// and paragraph separators (line breaks to it) and the BOM (skipped at a
// line start). It tests eight bytes at a time and decodes runes only
// around the bytes a test flags.
func textLines(data []byte, nl []int32) ([]int32, bool) {
	for i := 0; ; {
		nl, i = lineFeeds(data, i, nl)
		var ok bool
		if i, nl, ok = textRunes(data, i, min(i+8, len(data)), nl); !ok || i == len(data) {
			return nl, ok
		}
	}
}

// lineFeeds is textLines eight bytes at a time: it appends the line feeds
// from data[i] and stops before the first eight bytes that hold anything
// else than printable ASCII and line feeds, or fewer than eight left.
func lineFeeds(data []byte, i int, nl []int32) ([]int32, int) {
	for ; i+32 <= len(data); i += 32 {
		d := data[i : i+32 : i+32]
		x0, x1 := binary.LittleEndian.Uint64(d), binary.LittleEndian.Uint64(d[8:])
		x2, x3 := binary.LittleEndian.Uint64(d[16:]), binary.LittleEndian.Uint64(d[24:])
		b0, z0 := textWord(x0)
		b1, z1 := textWord(x1)
		b2, z2 := textWord(x2)
		b3, z3 := textWord(x3)
		if b0|b1|b2|b3 != 0 {
			break
		}
		nl = appendLineFeeds(nl, i, z0)
		nl = appendLineFeeds(nl, i+8, z1)
		nl = appendLineFeeds(nl, i+16, z2)
		nl = appendLineFeeds(nl, i+24, z3)
	}
	for ; i+8 <= len(data); i += 8 {
		bad, z := textWord(binary.LittleEndian.Uint64(data[i:]))
		if bad != 0 {
			break
		}
		nl = appendLineFeeds(nl, i, z)
	}
	return nl, i
}

// textWord tests eight bytes: bad has a bit set if one of them is anything
// but printable ASCII or a line feed, lf the high bit of each line feed.
func textWord(x uint64) (bad, lf uint64) {
	const ones, highs, low7 = 0x0101010101010101, 0x8080808080808080, 0x7f7f7f7f7f7f7f7f
	// With line feeds turned into zero bytes (y), u has the high bit of
	// every byte but those; a control byte other than '\n' is then one in
	// 1..0x1f (the exact "has a byte between" test), and 0x7f and
	// non-ASCII bytes set their high bit once one is added.
	y := x ^ 0x0a*ones
	t := y & low7
	u := t + low7
	return ((0x9f*ones-t)&^y&u | (x + ones) | x) & highs, ^(u | y) & highs
}

func appendLineFeeds(nl []int32, at int, lf uint64) []int32 {
	for ; lf != 0; lf &= lf - 1 {
		nl = append(nl, int32(at+bits.TrailingZeros64(lf)/8))
	}
	return nl
}

// textRunes is textLines a character at a time, from data[i] to at least
// data[end] (a character may run past it); it returns where it stopped.
func textRunes(data []byte, i, end int, nl []int32) (int, []int32, bool) {
	for i < end {
		size := printableRune(data[i:])
		if size == 0 {
			return i, nl, false
		}
		if data[i] == '\n' {
			nl = append(nl, int32(i))
		}
		i += size
	}
	return i, nl, true
}

// printableRune returns the size of the allowed character at t[0], or 0.
func printableRune(t []byte) int {
	if c := t[0]; c < 0x80 {
		if c == '\n' || c >= 0x20 && c != 0x7f {
			return 1
		}
		return 0
	}
	r, size := utf8.DecodeRune(t)
	switch {
	case size == 1: // invalid UTF-8
		return 0
	case r < 0xa0, r == 0x2028, r == 0x2029, r == 0xfeff, r == 0xfffe, r == 0xffff:
		return 0
	}
	return size
}
