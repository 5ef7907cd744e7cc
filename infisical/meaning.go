package infisical

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
)

// What an answer means, beyond its status: Infisical answers 404 for a
// missing folder, an unknown project, an unknown environment and a route
// it does not have, and 401 or 403 for tokens and logins in several ways
// that each ask the operator for something else.

// ErrFolderNotFound matches (errors.Is) a list of a folder that does not
// exist (404 SecretPathNotFound). A current server also answers it for an
// environment that does not exist; CheckScope tells the two apart.
var ErrFolderNotFound = errors.New("infisical: folder not found")

// ErrForbidden matches (errors.Is) a 403 that is not about the token: the
// identity may not read the folder, or a secret in it, or a folder that
// one of its references points into.
var ErrForbidden = errors.New("infisical: permission denied")

// ErrLocked matches a login refused because Infisical locked the
// identity's universal auth after failed logins.
var ErrLocked = errors.New("infisical: identity locked after failed logins")

// ErrTokenRefused matches an access token Infisical refuses: expired,
// malformed, revoked or unknown.
var ErrTokenRefused = errors.New("infisical: access token refused")

// routeNotFound says the answer came from something that does not have the
// route: Fastify's own 404 ("Route GET:/x not found"), or a 404 without
// Infisical's error body at all (a proxy's or another server's page).
func routeNotFound(err error) bool {
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusNotFound {
		return false
	}
	return ae.Name == "Not Found" || strings.HasPrefix(ae.Message, "Route ") || (ae.Name == "" && ae.ReqID == "")
}

// apiVersions is which generation of routes this process talks to, learnt
// from the first "route not found": v4 secrets and v1 folders unless the
// server lacks them (an older server has no v4, a future one may drop the
// deprecated v3 and v1 routers).
type apiVersions struct {
	secretsV3 atomic.Bool
	foldersV2 atomic.Bool
}

// v3Path is the v3 route of a v4 secrets path.
func v3Path(p string) string {
	rest := strings.TrimPrefix(p, "/v4/secrets")
	return "/v3/secrets/raw" + rest
}

// secretsCall sends k on the secrets routes the server has: v4 first, v3
// when v4 is not there, and the other way round, once per process.
func (c *Client) secretsCall(ctx context.Context, k call) error {
	return c.versioned(ctx, k, &c.apis.secretsV3, func(k call) call { k.path = v3Path(k.path); return k })
}

// foldersCall sends k on the folder routes the server has: v1, or v2.
func (c *Client) foldersCall(ctx context.Context, k call) error {
	return c.versioned(ctx, k, &c.apis.foldersV2, func(k call) call {
		k.path = "/v2/folders" + strings.TrimPrefix(k.path, "/v1/folders")
		return k
	})
}

func (c *Client) versioned(ctx context.Context, k call, other *atomic.Bool, alt func(call) call) error {
	use := other.Load()
	pick := func(useOther bool) call {
		if useOther {
			return alt(k)
		}
		return k
	}
	err := c.do(ctx, pick(use))
	if routeNotFound(err) {
		// Whoever learnt it first switched already; do not switch back.
		other.CompareAndSwap(use, !use)
		first := pick(use).path
		err = c.do(ctx, pick(!use))
		if routeNotFound(err) {
			return c.notInfisical(err, first, pick(!use).path)
		}
	}
	return c.explain(err)
}

// NotInfisicalError says INFISICAL_ADDR leads to something that does not
// serve Infisical's API: every route tried answered "route not found".
type NotInfisicalError struct {
	Addr  string   // INFISICAL_ADDR as used: no user info, no query
	Paths []string // the routes tried, below Addr
	Err   *APIError
}

func (e *NotInfisicalError) Error() string {
	tried := make([]string, len(e.Paths))
	for i, p := range e.Paths {
		tried[i] = e.Err.Method + " " + p
	}
	msg := fmt.Sprintf("INFISICAL_ADDR %s is not Infisical's API: %s answered 404 route not found", e.Addr, strings.Join(tried, " and "))
	if id := e.Err.shownReqID(); id != "" {
		msg += " [reqId " + id + "]"
	}
	return msg + "; set INFISICAL_ADDR to the address Infisical itself serves (the one whose /api/status answers)"
}

func (e *NotInfisicalError) Unwrap() error { return e.Err }

func (c *Client) notInfisical(err error, paths ...string) error {
	var ae *APIError
	errors.As(err, &ae)
	// c.base has neither user info nor a query (New refuses the one and
	// drops the other); paths are shown as the server saw them.
	prefix := ""
	if u, perr := url.Parse(c.base); perr == nil {
		prefix = u.Path
	}
	full := make([]string, len(paths))
	for i, p := range paths {
		full[i] = prefix + p
	}
	return &NotInfisicalError{Addr: strings.TrimSuffix(c.base, "/api"), Paths: full, Err: ae}
}

// ScopeError says the project or environment of the run does not exist.
type ScopeError struct {
	What        string // "project" or "environment"
	Project     string
	Environment string
	Err         *APIError
}

func (e *ScopeError) Error() string {
	var msg string
	if e.What == "environment" {
		msg = fmt.Sprintf("environment '%s' not found in project %s (INFISICAL_ENVIRONMENT)", e.Environment, e.Project)
	} else {
		msg = fmt.Sprintf("project %s not found, or not visible to this identity (INFISICAL_PROJECT_ID)", e.Project)
	}
	if id := e.Err.shownReqID(); id != "" {
		msg += " [reqId " + id + "]"
	}
	return msg
}

func (e *ScopeError) Unwrap() error { return e.Err }

// hinted is an APIError with what the operator should do about it.
type hinted struct {
	err  error
	kind error // a sentinel it matches
	hint string
}

func (h *hinted) Error() string   { return h.err.Error() + " (" + h.hint + ")" }
func (h *hinted) Unwrap() error   { return h.err }
func (h *hinted) Is(t error) bool { return t == h.kind }

// explain turns an answer whose meaning the status does not carry into an
// error that says it: an unknown project or environment, a route the
// address does not have, a refused token, a locked identity.
func (c *Client) explain(err error) error {
	var ae *APIError
	if !errors.As(err, &ae) {
		return err
	}
	switch {
	case routeNotFound(err):
		return c.notInfisical(err, ae.Path[len("/api"):])
	case ae.Status == http.StatusNotFound && ae.Name == "NotFound" && strings.HasPrefix(ae.Message, "Project with"):
		return &ScopeError{What: "project", Project: c.project, Environment: c.env, Err: ae}
	case ae.Status == http.StatusNotFound && ae.Name == "NotFound" && strings.HasPrefix(ae.Message, "Environment with slug"):
		return &ScopeError{What: "environment", Project: c.project, Environment: cmp.Or(ae.Environment, c.env), Err: ae}
	case ae.Status == http.StatusForbidden && ae.Name == "TokenError":
		return &hinted{err, ErrTokenRefused, "the access token has expired or is malformed: log in again, or set a fresh INFISICAL_TOKEN"}
	case ae.Status == http.StatusUnauthorized && strings.Contains(ae.Message, "No identity access token found"):
		return &hinted{err, ErrTokenRefused, "the access token was revoked, or is not one of this Infisical's"}
	case ae.Status == http.StatusUnauthorized && strings.Contains(ae.Message, "temporarily locked"):
		return &hinted{err, ErrLocked, "Infisical locked this identity's universal auth after repeated failed logins, for 5 minutes by default, even for the right secret: wait, and fix INFISICAL_CLIENT_SECRET first, since every further failed login extends the lock"}
	}
	return err
}

// tokenProblem says why a token cannot go into an Authorization header;
// nil when it can. Sending it could never succeed, so it is refused before
// any request rather than retried as a transport failure.
func tokenProblem(tok string) error {
	for i := 0; i < len(tok); i++ {
		if b := tok[i]; (b < 0x20 && b != '\t') || b == 0x7f {
			return fmt.Errorf("the access token holds a control character (byte %d of %d, such as CR or LF): it cannot be sent in an HTTP header", i+1, len(tok))
		}
	}
	return nil
}

// Exchange is one request and what came of it, for trace logs: the
// operation, method, path (never the query), folder, status (0: no
// answer), Infisical's reqId when the answer had one, how long it took and
// which attempt it was. It holds no value and no credential.
type Exchange struct {
	Op, Method, Path, Folder string
	Status                   int
	ReqID                    string
	Duration                 time.Duration
	Attempt                  int
}

func (c *Client) traced(k call, attempt, status int, err error, took time.Duration) {
	if c.trace == nil {
		return
	}
	x := Exchange{Op: k.op, Method: k.method, Path: "/api" + k.path, Folder: k.folder, Status: status, Duration: took, Attempt: attempt}
	var ae *APIError
	if errors.As(err, &ae) {
		x.ReqID = ae.shownReqID()
	}
	c.trace(x)
}

// Unavailable says err means Infisical could not answer (no connection, a
// reset, a timeout, a 5xx, a 429 it kept sending until the deadline), as
// against an answer that refuses (401, 403, 404, a locked identity, a
// redirect, a malformed or oversized answer, an untrusted certificate).
// Only the first may be bridged with values kept from an earlier fetch:
// an answer that refuses is Infisical's word, and must be heeded.
func Unavailable(err error) bool {
	if err == nil {
		return false
	}
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Status >= 500 || ae.Status == http.StatusTooManyRequests
	}
	var te *TransportError
	if errors.As(err, &te) {
		return !badCertificate(err)
	}
	// A deadline that came while the request waited for the rate limit or
	// for a slot, before any answer.
	return errors.Is(err, context.DeadlineExceeded)
}
