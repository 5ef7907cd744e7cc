package infisical

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
)

// minRedacted is the shortest string scrubbed: shorter ones ("1", "dev",
// "on") would eat ordinary words and numbers out of every message, and
// say nothing about a secret.
const minRedacted = 4

// maxRawMessage caps the server message an APIError keeps. An error is
// rendered from it, scrubbed, then cut to maxMessage; a message longer
// than this is not shown at all, because a secret cut in half at the
// cap could no longer be found to be scrubbed.
const maxRawMessage = 16 << 10

// redactor holds every string that must never appear in an error of the
// client: the credentials it sends or was given, the values it writes, and
// every value an answer carried, whichever request it came from. It only
// grows, and its zero value is empty. Errors are scrubbed when their text is read, not when they are
// made: the folders of a prefetch are listed in parallel, so a 403 on one
// folder that quotes a value of another can be built before that other
// folder's answer (and its values) arrive.
type redactor struct {
	mu      sync.Mutex
	seen    map[string]bool
	pending []string // added since forms was last built
	forms   []string // every string seen and its JSON-escaped forms, longest first
	isForm  map[string]bool
}

// add remembers secrets. It is cheap (the work is done by the first scrub
// after it), since it runs for every value of every answer.
func (r *redactor) add(secrets ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seen == nil {
		r.seen, r.isForm = map[string]bool{}, map[string]bool{}
	}
	for _, s := range secrets {
		if len(s) >= minRedacted && !r.seen[s] {
			r.seen[s] = true
			r.pending = append(r.pending, s)
		}
	}
}

// scrub replaces every secret in msg, in every form it is known to take,
// with "[redacted]".
func (r *redactor) scrub(msg string) string {
	if msg == "" {
		return ""
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.pending) > 0 {
		for _, s := range r.pending {
			for _, f := range escapedForms(s) {
				if !r.isForm[f] {
					r.isForm[f] = true
					r.forms = append(r.forms, f)
				}
			}
		}
		r.pending = nil
		// Longest first: a secret that contains another is replaced whole,
		// not left with the other's remains around "[redacted]".
		slices.SortStableFunc(r.forms, func(a, b string) int { return len(b) - len(a) })
	}
	for _, f := range r.forms {
		if strings.Contains(msg, f) {
			msg = strings.ReplaceAll(msg, f, "[redacted]")
		}
	}
	return msg
}

// escapedForms is s, and s as it appears inside a JSON string: a server
// echoing a request body or a secret's JSON escapes it, as Go does (<, >
// and & as \u003c...) or as Node does (only quotes, backslashes and
// control characters).
func escapedForms(s string) []string {
	forms := []string{s, nodeEscape(s)}
	if q, err := json.Marshal(s); err == nil {
		forms = append(forms, string(q[1:len(q)-1]))
	}
	return forms
}

// nodeEscape is JSON.stringify's escaping of a string, without the quotes.
func nodeEscape(s string) string {
	var b bytes.Buffer
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if r < 0x20 {
				fmt.Fprintf(&b, `\u%04x`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	return b.String()
}

// sealed is how every error leaves the client: its text is scrubbed each
// time it is read, with the secrets known then.
type sealed struct {
	err error
	r   *redactor
}

func (e *sealed) Error() string { return e.r.scrub(e.err.Error()) }
func (e *sealed) Unwrap() error { return e.err }

// noted is err with text before or after it. Unlike fmt.Errorf it renders
// err when read, so that the scrub of err's own parts (an APIError's
// message, cut after scrubbing) sees the secrets known then: a text frozen
// earlier could hold a secret learned later, cut in half where it can no
// longer be found.
type noted struct {
	prefix string
	err    error
	suffix string
}

func (e *noted) Error() string { return e.prefix + e.err.Error() + e.suffix }
func (e *noted) Unwrap() error { return e.err }

// withNote is err followed by " (remark)".
func withNote(err error, format string, args ...any) error {
	return &noted{err: err, suffix: " (" + fmt.Sprintf(format, args...) + ")"}
}

// secretValues makes a list answer's values, its imports' included,
// scrubbed from every later error.
func (a *listAnswer) secretValues() []string {
	var out []string
	add := func(list *[]rawSecret) {
		if list != nil {
			for _, s := range *list {
				out = append(out, s.Value)
			}
		}
	}
	add(a.Secrets)
	for _, im := range a.Imports {
		add(im.Secrets)
	}
	return out
}
