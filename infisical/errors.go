package infisical

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode"
)

// ErrNotFound matches (errors.Is) any APIError whose status is 404.
var ErrNotFound = errors.New("infisical: not found")

// maxMessage caps Infisical's message in an error; a 422 can list many issues.
const maxMessage = 200

// APIError is an HTTP answer with a status outside 2xx.
type APIError struct {
	Op     string // what secret-init was doing, e.g. "list secrets"
	Method string
	Path   string // URL path only; the query is left out
	Status int
	ReqID  string // Infisical's reqId, for its server logs
	// Message is Infisical's own message field, capped and scrubbed of any
	// credential this client holds; never the raw body.
	Message string
	// Environment and Folder say where, when the operation had them.
	Environment, Folder string
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "infisical: %s: %s %s", e.Op, e.Method, e.Path)
	if e.Environment != "" || e.Folder != "" {
		fmt.Fprintf(&b, " (env %s, folder %s)", e.Environment, e.Folder)
	}
	fmt.Fprintf(&b, ": status %d", e.Status)
	if t := http.StatusText(e.Status); t != "" {
		fmt.Fprintf(&b, " %s", t)
	}
	if e.ReqID != "" {
		fmt.Fprintf(&b, " [reqId %s]", e.ReqID)
	}
	if e.Message != "" {
		fmt.Fprintf(&b, ": %s", e.Message)
	}
	return b.String()
}

// Is lets callers write errors.Is(err, ErrNotFound).
func (e *APIError) Is(target error) bool {
	return target == ErrNotFound && e.Status == http.StatusNotFound
}

// RedirectError is a 3xx answer, which the client never follows: a
// redirect would carry a login's credentials, or a list's token, to a
// host nobody configured, and its answer would be taken for secrets. The
// operator sets INFISICAL_ADDR to the address that answers instead.
type RedirectError struct {
	Op, Method, Path    string
	Environment, Folder string
	Status              int
	// Target is where the Location header points: scheme://host[:port],
	// never its path, query or user info; "" when there is none.
	Target string
}

func (e *RedirectError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "infisical: %s: %s %s", e.Op, e.Method, e.Path)
	if e.Environment != "" || e.Folder != "" {
		fmt.Fprintf(&b, " (env %s, folder %s)", e.Environment, e.Folder)
	}
	fmt.Fprintf(&b, ": status %d %s", e.Status, http.StatusText(e.Status))
	if e.Target != "" {
		fmt.Fprintf(&b, " to %s", e.Target)
	}
	b.WriteString(": redirects are never followed; set INFISICAL_ADDR to the final address")
	return b.String()
}

func (c *Client) redirectError(k call, resp *http.Response) *RedirectError {
	e := &RedirectError{Op: k.op, Method: k.method, Path: "/api" + k.path, Status: resp.StatusCode}
	if k.folder != "" {
		e.Environment, e.Folder = c.env, k.folder
	}
	// Location is resolved against the request, so a relative one names
	// the host asked.
	if loc, err := resp.Location(); err == nil && loc.Host != "" {
		e.Target = clean(loc.Scheme+"://"+loc.Host, 120)
	}
	return e
}

// errorBody is Infisical's error shape (backend/src/server/plugins/error-handler.ts).
// message is a string, or for a 422 (zod) a list of issues.
type errorBody struct {
	ReqID   string          `json:"reqId"`
	Message json.RawMessage `json:"message"`
	Error   string          `json:"error"`
}

type zodIssue struct {
	Path    []any  `json:"path"`
	Message string `json:"message"`
}

func (c *Client) apiError(k call, resp *http.Response, data []byte) *APIError {
	e := &APIError{Op: k.op, Method: k.method, Path: "/api" + k.path, Status: resp.StatusCode}
	if k.folder != "" {
		e.Environment, e.Folder = c.env, k.folder
	}
	// An HTML 5xx page from a proxy says nothing useful and may be long.
	if !isJSON(resp.Header.Get("Content-Type")) {
		return e
	}
	var body errorBody
	if json.Unmarshal(data, &body) != nil {
		return e
	}
	e.ReqID = clean(body.ReqID, 64)
	e.Message = c.scrub(messageText(body.Message), k.redact)
	return e
}

// messageText renders a string message, or a zod issue list as "path: message"
// pairs; zod's "received" field is dropped because it can echo a value.
func messageText(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var issues []zodIssue
	if json.Unmarshal(raw, &issues) == nil {
		parts := make([]string, 0, len(issues))
		for _, is := range issues {
			p := make([]string, 0, len(is.Path))
			for _, el := range is.Path {
				p = append(p, fmt.Sprint(el))
			}
			parts = append(parts, strings.Join(p, ".")+": "+is.Message)
		}
		return strings.Join(parts, "; ")
	}
	return ""
}

// scrub removes every credential the client holds and every value the
// operation carries, then caps the result at one short line.
func (c *Client) scrub(msg string, extra []string) string {
	if msg == "" {
		return ""
	}
	c.redactMu.RLock()
	for _, s := range c.redaction {
		msg = redact(msg, s)
	}
	c.redactMu.RUnlock()
	for _, s := range extra {
		msg = redact(msg, s)
	}
	return clean(msg, maxMessage)
}

// redact removes s, and s as it appears inside a JSON string, since a server
// echoing a request body would escape it.
func redact(msg, s string) string {
	if s == "" {
		return msg
	}
	msg = strings.ReplaceAll(msg, s, "[redacted]")
	if q, err := json.Marshal(s); err == nil {
		if esc := string(q[1 : len(q)-1]); esc != s {
			msg = strings.ReplaceAll(msg, esc, "[redacted]")
		}
	}
	return msg
}

// clean keeps an error on one line and at most n runes.
func clean(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if r := []rune(s); len(r) > n {
		s = string(r[:n]) + "…"
	}
	return s
}
