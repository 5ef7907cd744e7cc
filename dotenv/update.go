package dotenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"

	"secret-init/atomicfile"
	"secret-init/contracts"
)

// Pair is one KEY=VALUE to write.
type Pair struct{ Key, Value string }

// span is where one entry stands in a file: lines first to last, 1-based.
type span struct {
	key         string
	first, last int
}

// spans parses data as Parse does and says where each entry is.
func spans(name string, data []byte) ([]span, error) {
	data = bytes.TrimPrefix(data, []byte(bom))
	if _, err := Parse(name, data); err != nil {
		return nil, err
	}
	p := parser{name: name, rest: string(data)}
	var out []span
	for p.rest != "" {
		first := p.line + 1
		key, _, ok, _ := p.next()
		if ok {
			out = append(out, span{key: key, first: first, last: p.line})
		}
	}
	return out, nil
}

const bom = "\xef\xbb\xbf"

// Update returns data with each pair set, and everything else as it was:
// the first entry of a key is rewritten where it stands (an "export "
// prefix kept), its later duplicates are dropped (a later duplicate would
// win), and keys the file lacks are appended in the order given. Every
// other line, comment and blank line is kept byte for byte, in its
// place. data must parse; name is for its errors.
func Update(name string, data []byte, set []Pair) ([]byte, error) {
	for _, kv := range set {
		if !contracts.IsVarName(kv.Key, false) {
			return nil, fmt.Errorf("%s: %q is not a variable name", name, kv.Key)
		}
	}
	entries, err := spans(name, data)
	if err != nil {
		return nil, err
	}
	head := ""
	if bytes.HasPrefix(data, []byte(bom)) {
		head, data = bom, data[len(bom):]
	}
	lines := splitLines(string(data))
	replace := map[int]string{} // first line of an entry -> its new text
	drop := map[int]bool{}
	done := map[string]bool{}
	for _, kv := range set {
		for _, e := range entries {
			if e.key != kv.Key {
				continue
			}
			if done[kv.Key] {
				for l := e.first; l <= e.last; l++ {
					drop[l] = true
				}
				continue
			}
			done[kv.Key] = true
			prefix := ""
			if strings.HasPrefix(strings.TrimLeft(lines[e.first-1], " \t"), "export") {
				prefix = "export "
			}
			replace[e.first] = prefix + kv.Key + "=" + quote(kv.Value) + lineEnd(lines[e.last-1])
			for l := e.first + 1; l <= e.last; l++ {
				drop[l] = true
			}
		}
	}
	var b strings.Builder
	b.WriteString(head)
	for i, l := range lines {
		n := i + 1
		switch {
		case replace[n] != "":
			b.WriteString(replace[n])
		case !drop[n]:
			b.WriteString(l)
		}
	}
	for _, kv := range set {
		if done[kv.Key] {
			continue
		}
		if s := b.String(); s != "" && s != head && !strings.HasSuffix(s, "\n") {
			b.WriteString("\n")
		}
		b.WriteString(kv.Key + "=" + quote(kv.Value) + "\n")
	}
	return []byte(b.String()), nil
}

// splitLines cuts s after each LF, keeping the ends.
func splitLines(s string) []string {
	var out []string
	for s != "" {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			out = append(out, s)
			break
		}
		out = append(out, s[:i+1])
		s = s[i+1:]
	}
	return out
}

// lineEnd is how line l ends: CRLF, LF, or nothing at the end of a file.
func lineEnd(l string) string {
	switch {
	case strings.HasSuffix(l, "\r\n"):
		return "\r\n"
	case strings.HasSuffix(l, "\n"):
		return "\n"
	}
	return ""
}

// plainValue is a value that needs no quotes: nothing Parse would trim,
// cut at a " #", or read as a quote.
var plainValue = regexp.MustCompile(`^[A-Za-z0-9_./:@%+,=~^-]*$`)

// quote writes v so that Parse reads v back.
func quote(v string) string {
	if plainValue.MatchString(v) {
		return v
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\t", `\t`)
	return `"` + r.Replace(v) + `"`
}

// WriteFile replaces the file at path with data, mode 0600, the way
// atomicfile writes: a temporary file in the same folder, synced, renamed
// over it, the folder synced, so that a reader finds the old file or the
// new one and nobody else can read it, not even for a moment. A symbolic
// link is followed: the file it points at is replaced and the link kept.
func WriteFile(ctx context.Context, path string, data []byte) error {
	target, err := linkTarget(path)
	if err != nil {
		return fmt.Errorf("%s: %w", path, unwrapPathError(err))
	}
	if fi, err := os.Stat(target); err == nil && !fi.Mode().IsRegular() {
		return fmt.Errorf("%s: not a regular file", path)
	}
	if err := atomicfile.Write(ctx, target, data, 0o600); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// linkTarget is the file path names: path itself, or where its links
// lead, also when the file there does not exist yet.
func linkTarget(path string) (string, error) {
	for range 40 { // as the kernel's limit on links followed
		fi, err := os.Lstat(path)
		if errors.Is(err, fs.ErrNotExist) {
			return path, nil
		}
		if err != nil {
			return "", err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			return path, nil
		}
		dest, err := os.Readlink(path)
		if err != nil {
			return "", err
		}
		if !filepath.IsAbs(dest) {
			dest = filepath.Join(filepath.Dir(path), dest)
		}
		path = dest
	}
	return "", syscall.ELOOP
}
