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
	// ReqID is Infisical's reqId, for its server logs, and Message its
	// message field (a zod issue list as "path: message" pairs), both as
	// received, for matching; "" when longer than any real one. They may
	// quote a secret: print the error, never these fields. Error() scrubs
	// them of every secret the client knows at that moment, then cuts them
	// to one short line.
	ReqID, Message string
	// Name is Infisical's error field (SecretPathNotFound, NotFound,
	// TokenError, "Not Found" for an unknown route), which tells answers
	// with the same status apart; as received, for matching only, like
	// Message.
	Name string
	// Environment and Folder say where, when the operation had them.
	Environment, Folder string

	secrets *redactor
	long    int // the length of a message too long to keep, if any
}

func (e *APIError) Error() string {
	scrub := func(s string) string { return s }
	if e.secrets != nil {
		scrub = e.secrets.scrub
	}
	var b strings.Builder
	fmt.Fprintf(&b, "infisical: %s: %s %s", e.Op, e.Method, e.Path)
	if e.Environment != "" || e.Folder != "" {
		fmt.Fprintf(&b, " (env %s, folder %s)", e.Environment, e.Folder)
	}
	fmt.Fprintf(&b, ": status %d", e.Status)
	if t := http.StatusText(e.Status); t != "" {
		fmt.Fprintf(&b, " %s", t)
	}
	if id := e.shownReqID(); id != "" {
		fmt.Fprintf(&b, " [reqId %s]", id)
	}
	// Some of Infisical's 403s are made with their sentence as the error's
	// name ("You are not member of this project") and the default text as
	// message: the name is what says what is wrong, so it comes first.
	sep := ": "
	if name := clean(scrub(e.Name), maxMessage); strings.Contains(name, " ") && name != http.StatusText(e.Status) {
		fmt.Fprintf(&b, ": %s", name)
		sep = "; "
	}
	// Scrubbed before it is cut: a secret cut in half is no longer found.
	if msg := clean(scrub(e.Message), maxMessage); msg != "" {
		fmt.Fprintf(&b, "%s%s", sep, msg)
	} else if e.long > 0 {
		fmt.Fprintf(&b, "%s(a message of %d bytes, not shown)", sep, e.long)
	}
	return b.String()
}

// shownReqID is the reqId as Error() prints it: scrubbed, one short line.
func (e *APIError) shownReqID() string {
	if e.secrets == nil {
		return clean(e.ReqID, 64)
	}
	return clean(e.secrets.scrub(e.ReqID), 64)
}

// Is lets callers write errors.Is(err, ErrNotFound), errors.Is(err,
// ErrFolderNotFound) for a list of a missing folder and errors.Is(err,
// ErrForbidden) for one the identity may not read.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.Status == http.StatusNotFound
	case ErrFolderNotFound:
		return e.Status == http.StatusNotFound && e.Name == "SecretPathNotFound"
	case ErrForbidden:
		return e.Status == http.StatusForbidden && e.Name != "TokenError"
	}
	return false
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
		e.Environment, e.Folder = c.envOf(k), k.folder
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
	e := &APIError{Op: k.op, Method: k.method, Path: "/api" + k.path, Status: resp.StatusCode, secrets: &c.redaction}
	if k.folder != "" {
		e.Environment, e.Folder = c.envOf(k), k.folder
	}
	// An HTML 5xx page from a proxy says nothing useful and may be long.
	if !isJSON(resp.Header.Get("Content-Type")) {
		return e
	}
	var body errorBody
	if json.Unmarshal(data, &body) != nil {
		return e
	}
	if len(body.ReqID) <= maxRawReqID {
		e.ReqID = body.ReqID
	}
	if len(body.Error) <= maxRawReqID {
		e.Name = body.Error
	}
	if msg := messageText(body.Message); len(msg) <= maxRawMessage {
		e.Message = msg
	} else {
		e.long = len(msg)
	}
	return e
}

// maxRawReqID caps the reqId and error name kept; Infisical's are about
// 20 characters.
const maxRawReqID = 256

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
