// Package dotenv reads the .env bootstrap file: KEY=VALUE lines, quotes and
// comments as most .env readers take them, and no interpolation. An error
// names the file and line, never the text of the line. Update and
// WriteFile change some of its keys and leave every other line as it was.
package dotenv

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"unicode/utf8"

	"secret-init/contracts"
)

// MaxSize caps the file. A real .env holds a few dozen
// bootstrap lines; anything near this size is a mistake (a wrong path, a
// binary), and reading it whole would cost every container start memory.
const MaxSize = 1 << 20

// File is the content of a .env file: its keys in first-seen order and
// their values (a later duplicate wins).
type File struct {
	Path   string
	Keys   []string
	Values map[string]string
}

// Error names the file and line of a malformed .env. It never holds
// any text of the line: a malformed line may be a value cut in half.
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}

// Read reads the .env file at path. When explicit is false (the default
// path), a missing file means an empty environment; when the user named the
// file, missing or unreadable is an error.
func Read(path string, explicit bool) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		if !explicit && errors.Is(err, fs.ErrNotExist) {
			return &File{Path: path, Values: map[string]string{}}, nil
		}
		return nil, fmt.Errorf("env file %s: %w", path, unwrapPathError(err))
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.IsDir() {
		return nil, &Error{File: path, Msg: "is a directory"}
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("env file %s: %w", path, unwrapPathError(err))
	}
	if len(data) > MaxSize {
		return nil, &Error{File: path, Msg: fmt.Sprintf("larger than %d bytes; a .env holds bootstrap settings only", MaxSize)}
	}
	return Parse(path, data)
}

func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Parse parses .env syntax: blank lines and # comments, an optional
// "export " prefix, KEY=VALUE with KEY in [A-Za-z_][A-Za-z0-9_]*, literal
// single-quoted values, double-quoted values that may span lines and take
// \n \t \" \\ escapes, unquoted values trimmed and ended by " #". There is
// no ${VAR} interpolation: a value is what the file says.
func Parse(name string, data []byte) (*File, error) {
	d := &File{Path: name, Values: map[string]string{}}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if bytes.IndexByte(data, 0) >= 0 {
		line := 1 + bytes.Count(data[:bytes.IndexByte(data, 0)], []byte("\n"))
		return nil, &Error{File: name, Line: line, Msg: "contains a NUL byte; is this a text file?"}
	}
	p := parser{name: name, rest: string(data)}
	for p.rest != "" {
		key, val, ok, err := p.next()
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		if _, seen := d.Values[key]; !seen {
			d.Keys = append(d.Keys, key)
		}
		d.Values[key] = val
	}
	return d, nil
}

type parser struct {
	name string
	rest string // what is left to read
	line int    // number of the line last started
}

func (p *parser) fail(line int, msg string) error {
	return &Error{File: p.name, Line: line, Msg: msg}
}

// takeLine returns the next physical line without its end (LF or CRLF).
func (p *parser) takeLine() string {
	p.line++
	i := strings.IndexByte(p.rest, '\n')
	var l string
	if i < 0 {
		l, p.rest = p.rest, ""
	} else {
		l, p.rest = p.rest[:i], p.rest[i+1:]
	}
	return strings.TrimSuffix(l, "\r")
}

// next reads one logical entry; ok is false for blank and comment lines.
func (p *parser) next() (key, val string, ok bool, err error) {
	l := p.takeLine()
	start := p.line
	if !utf8.ValidString(l) {
		return "", "", false, p.fail(start, "not valid UTF-8")
	}
	l = strings.TrimLeft(l, " \t")
	if l == "" || l[0] == '#' {
		return "", "", false, nil
	}
	if rest, found := strings.CutPrefix(l, "export"); found && rest != "" && (rest[0] == ' ' || rest[0] == '\t') {
		l = strings.TrimLeft(rest, " \t")
	}
	eq := strings.IndexByte(l, '=')
	if eq < 0 {
		return "", "", false, p.fail(start, "expected KEY=VALUE")
	}
	key = strings.TrimRight(l[:eq], " \t")
	if !contracts.IsVarName(key, false) {
		return "", "", false, p.fail(start, "invalid variable name: a key is letters, digits and _ and does not start with a digit")
	}
	raw := strings.TrimLeft(l[eq+1:], " \t")
	switch {
	case strings.HasPrefix(raw, "'"):
		end := strings.IndexByte(raw[1:], '\'')
		if end < 0 {
			return "", "", false, p.fail(start, "unterminated single quote (single-quoted values end on the same line)")
		}
		val = raw[1 : 1+end]
		if err := p.trailing(start, raw[2+end:]); err != nil {
			return "", "", false, err
		}
	case strings.HasPrefix(raw, `"`):
		val, err = p.doubleQuoted(start, raw[1:])
		if err != nil {
			return "", "", false, err
		}
	default:
		val = raw
		for i := 1; i < len(val); i++ {
			if val[i] == '#' && (val[i-1] == ' ' || val[i-1] == '\t') {
				val = val[:i]
				break
			}
		}
		val = strings.TrimRight(val, " \t")
	}
	return key, val, true, nil
}

// doubleQuoted reads a double-quoted value that starts in s (after the
// opening quote) and may continue on the following lines.
func (p *parser) doubleQuoted(start int, s string) (string, error) {
	var b strings.Builder
	for {
		for i := 0; i < len(s); i++ {
			c := s[i]
			switch {
			case c == '"':
				return b.String(), p.trailing(start, s[i+1:])
			case c == '\\' && i+1 < len(s):
				i++
				switch s[i] {
				case 'n':
					b.WriteByte('\n')
				case 't':
					b.WriteByte('\t')
				case '"', '\\':
					b.WriteByte(s[i])
				default:
					// Unknown escapes stay as written, so a Windows path or
					// a regex survives a copy from elsewhere.
					b.WriteByte('\\')
					b.WriteByte(s[i])
				}
			default:
				b.WriteByte(c)
			}
		}
		if p.rest == "" {
			return "", p.fail(start, "unterminated double quote")
		}
		b.WriteByte('\n')
		s = p.takeLine()
		if !utf8.ValidString(s) {
			return "", p.fail(p.line, "not valid UTF-8")
		}
	}
}

// trailing accepts what may follow a closing quote: nothing, or a comment.
func (p *parser) trailing(line int, s string) error {
	s = strings.TrimLeft(s, " \t")
	if s == "" || s[0] == '#' {
		return nil
	}
	return p.fail(line, "unexpected text after the closing quote")
}
