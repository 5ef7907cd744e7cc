// Package infisical is secret-init's own Infisical HTTP client.
//
// It speaks the same wire protocol as the official go-sdk v0.8.0 (the same
// endpoints, query parameters and JSON fields; the conformance test runs both
// against one server) but is built on net/http alone, because the SDK links
// ~11 MiB of cloud-auth dependencies, ignores context, never retries an HTTP
// status and silently returns nothing for a 200 that is not JSON.
//
// Every call runs under the caller's context; retries never sleep past its
// deadline. Errors carry the operation, method, URL path, status, Infisical's
// reqId and its message, and never a token, credential or secret value: the
// client remembers every one it sends or receives, and scrubs them from an
// error's text each time it is read. It never follows a redirect.
package infisical

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// defaultMaxBody caps an answer. A folder listing of a thousand secrets of a
// kilobyte each is 1 MiB; with up to 8 lists in flight, a cap this size keeps
// a misrouted download or a hostile answer from costing an init process more
// than a few tens of MiB before it is refused. A project whose folder is
// larger is told so (see the error), never silently truncated.
const defaultMaxBody int64 = 8 << 20

// MaxParallel bounds the requests a caller keeps in flight at once (the
// folders of one prefetch, seed's reads and writes): enough for one round
// with any realistic contract set, few enough not to look like a burst.
const MaxParallel = 8

// userAgent names secret-init to Infisical and to the proxies on the way.
const userAgent = "secret-init"

// Config is the client's whole contract: where Infisical is, and which
// project and environment every call of the run reads or writes. main
// fills it from the bootstrap settings.
type Config struct {
	// Addr is INFISICAL_ADDR, e.g. http://127.0.0.1:8080. "/api" is appended
	// unless the address already ends in it, as the SDK does.
	Addr string
	// ProjectID is INFISICAL_PROJECT_ID (the API calls it workspaceId).
	ProjectID string
	// Environment is INFISICAL_ENVIRONMENT, an environment slug (dev, prod).
	Environment string
	// CACert is optional PEM whose certificates are added to the system
	// pool (the content of --ca-cert), for self-hosted Infisical behind a
	// private CA. The client reads no file: the caller does, bounded.
	CACert []byte
	// Trace, when set, is told of every request as its answer arrives
	// (--log-level trace). An Exchange holds no value and no credential.
	Trace func(Exchange)
}

// Client is safe for concurrent use: one login, then parallel lists over the
// same keep-alive connections.
type Client struct {
	base      string // scheme://host[:port]/.../api, no trailing slash
	project   string
	env       string
	hc        *http.Client
	maxBody   int64
	retry     retryPolicy
	gate      *gate // rate-limit state shared by all requests; see gate.go
	requests  atomic.Int64
	apis      apiVersions
	trace     func(Exchange)
	mu        sync.RWMutex
	token     string
	tokenErr  error    // why token cannot be sent, if it cannot
	redaction redactor // every credential and value seen; scrubbed from every error
}

// ErrNoCertificate is New's answer to a Config.CACert without a PEM
// certificate in it; the caller names the file.
var ErrNoCertificate = errors.New("holds no PEM certificate")

// New validates cfg and builds a client. It does no network I/O.
func New(cfg Config) (*Client, error) {
	base, err := apiBase(cfg.Addr)
	if err != nil {
		return nil, err
	}
	tr, err := newTransport(cfg.CACert, strings.HasPrefix(base, "https://"))
	if err != nil {
		return nil, err
	}
	return &Client{
		base:    base,
		project: cfg.ProjectID,
		env:     cfg.Environment,
		// No Timeout here: the caller's ctx deadline (--timeout) bounds every call.
		hc:      &http.Client{Transport: tr, CheckRedirect: refuseRedirect},
		maxBody: defaultMaxBody,
		retry:   retryPolicy{}.withDefaults(),
		gate:    newGate(),
		trace:   cfg.Trace,
	}, nil
}

// refuseRedirect hands a 3xx back to attempt instead of following it. A
// followed 307 on a login re-sends the client secret to whatever host the
// Location names, and a followed 302 on a list takes that host's answer
// for secrets; net/http keeps the Authorization header on a redirect to
// the same domain and drops it elsewhere, but never the body.
func refuseRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

func apiBase(addr string) (string, error) {
	addr = strings.TrimSpace(addr)
	if addr == "" {
		return "", errors.New("infisical: address is empty (set INFISICAL_ADDR)")
	}
	u, err := url.Parse(addr)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		// Not echoed: a value that is not a URL may be anything, a secret
		// pasted into the wrong variable included.
		return "", errors.New("infisical: the address (INFISICAL_ADDR) is not an http(s) URL with a host")
	}
	if u.User != nil {
		return "", errors.New("infisical: address must not carry user info")
	}
	u.RawQuery, u.Fragment = "", ""
	s := strings.TrimRight(u.String(), "/")
	if !strings.HasSuffix(s, "/api") {
		s += "/api"
	}
	return s, nil
}

func newTransport(caPEM []byte, https bool) (*http.Transport, error) {
	tr := &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: dialWithoutSigpipe((&net.Dialer{
			Timeout:   30 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext),
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          64,
		MaxIdleConnsPerHost:   32, // parallel folder lists must not churn connections
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	var extra []byte
	if caPEM != nil {
		if !x509.NewCertPool().AppendCertsFromPEM(caPEM) {
			return nil, ErrNoCertificate
		}
		extra = caPEM
	}
	if !https {
		// No TLS to Infisical: no roots to load (the CA was still checked,
		// so a wrong --ca-cert does not wait for the day the address
		// becomes https).
		return tr, nil
	}
	pool := sharedRoots()
	if pool != nil {
		pool = pool.Clone() // the CA file goes into this client's copy only
	}
	if pool == nil {
		// Nothing where the Linux roots usually are: let crypto/x509 decide
		// (with no CA file, a nil RootCAs means exactly that).
		if extra == nil {
			return tr, nil
		}
		var err error
		if pool, err = x509.SystemCertPool(); err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
	}
	if extra != nil {
		pool.AppendCertsFromPEM(extra)
	}
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return tr, nil
}

// SetToken uses an existing access token (INFISICAL_TOKEN) instead of a login.
func (c *Client) SetToken(token string) {
	c.redaction.add(token)
	c.mu.Lock()
	c.token, c.tokenErr = token, tokenProblem(token)
	c.mu.Unlock()
}

// bearer is the token to send, or why there is none to send.
func (c *Client) bearer() (string, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.tokenErr != nil {
		return "", c.tokenErr
	}
	if c.token == "" {
		return "", errors.New("not logged in (no access token)")
	}
	return c.token, nil
}

// CloseIdle closes the connections kept for reuse. A supervisor lives as
// long as its service: it must not hold sockets (and, on the server, their
// state) open to Infisical after the prefetch.
func (c *Client) CloseIdle() { c.hc.CloseIdleConnections() }

// Requests reports how many HTTP requests were sent, retries included.
func (c *Client) Requests() int64 { return c.requests.Load() }

// Redact adds strings that must never appear in an error of this client,
// beyond the credentials it sends and the values it receives or writes,
// which it scrubs on its own: a caller holding other secrets (an unused
// client secret next to a token) names them here, so that not even a
// server echoing them back can put them in a log.
func (c *Client) Redact(s ...string) { c.redaction.add(s...) }

// addRedaction is Redact for the client's own calls.
func (c *Client) addRedaction(s ...string) { c.redaction.add(s...) }

// carriesSecrets is an answer that holds secret values: every value an
// answer carried is scrubbed from every later error of the client, also
// when the answer itself is then refused.
type carriesSecrets interface{ secretValues() []string }

// call describes one logical operation; do turns it into attempts.
type call struct {
	op     string // human name for errors, e.g. "list secrets"
	method string
	path   string // below /api, e.g. /v4/secrets
	query  url.Values
	body   any
	auth   bool // send the Bearer token
	// retryUnsafe marks requests that may have taken effect even if the answer
	// was lost (create secret): only statuses that prove rejection are retried.
	retryUnsafe bool
	folder      string   // for error context only; with env, or the client's environment
	env         string   // the environment of the call, when not the client's
	redact      []string // values the request carries (a write's value): scrubbed from every error
	out         any      // JSON target for a 2xx answer
	check       func() error
}

// do sends k, retrying as the policy says. Its error is sealed: its text
// is scrubbed of every secret the client knows when it is read.
func (c *Client) do(ctx context.Context, k call) (err error) {
	c.redaction.add(k.redact...)
	defer func() {
		if err != nil {
			err = &sealed{err: err, r: &c.redaction}
		}
	}()
	var payload []byte
	if k.body != nil {
		var err error
		if payload, err = json.Marshal(k.body); err != nil {
			return fmt.Errorf("infisical: %s: encode request: %w", k.op, err)
		}
	}
	target := c.base + k.path
	if len(k.query) > 0 {
		target += "?" + k.query.Encode()
	}

	var lastErr error
	failures, throttles := 0, 0
	for {
		sent, err := c.gate.acquire(ctx)
		if err != nil {
			return c.gateFailure(k, err, lastErr)
		}
		began := time.Now()
		status, retryAfter, err := c.attempt(ctx, k, target, payload)
		c.traced(k, failures+throttles+1, status, err, time.Since(began))
		c.gate.release(sent, status, retryAfter, err, c.retry)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil && lastErr != nil {
			// The deadline cut a retry short: the failure that made it a
			// retry is the cause, not the deadline.
			return withNote(lastErr, "the retry got no answer before the deadline")
		}
		lastErr = err
		if ctx.Err() != nil {
			return lastErr
		}
		if !retryable(k, status, err) {
			return lastErr
		}
		if retryAfter > 0 && (status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable) {
			// "Come back later" is not a failure: the gate now holds the
			// wait, and acquire checks it against the deadline.
			throttles++
			if _, has := ctx.Deadline(); !has && throttles >= maxThrottledNoDeadline {
				return withNote(lastErr, "gave up after %d answers asking to come back later", throttles)
			}
			continue
		}
		failures++
		if failures >= c.retry.MaxAttempts {
			return withNote(lastErr, "gave up after %d attempts", failures+throttles)
		}
		wait, ok := c.retry.delay(ctx, failures-1)
		if !ok {
			// Waiting would outlive the caller's deadline: the last error says
			// more than a bare "context deadline exceeded" would.
			return withNote(lastErr, "not retried: the next backoff is past the deadline")
		}
		if sleepUntil(ctx, time.Now().Add(wait)) != nil {
			return lastErr
		}
	}
}

// gateFailure explains why a request was not sent: the server's wait ends
// after the deadline, or the deadline came while it queued.
func (c *Client) gateFailure(k call, err, lastErr error) error {
	var ge *gateDeadlineError
	if errors.As(err, &ge) {
		if lastErr != nil {
			return withNote(lastErr, "not retried: %v", ge)
		}
		// A new request held back by another one's 429: name this request,
		// and wrap the 429 so that callers see the status.
		return &noted{prefix: fmt.Sprintf("infisical: %s: %s /api%s%s: not sent: %v; the server's answer was: ", k.op, k.method, k.path, c.where(k), ge), err: ge.cause}
	}
	if lastErr != nil {
		return lastErr
	}
	return fmt.Errorf("infisical: %s: %s /api%s%s: waiting for the server's rate limit: %w", k.op, k.method, k.path, c.where(k), err)
}

// where is the "(env, folder)" part of an error, as APIError writes it.
func (c *Client) where(k call) string {
	if k.folder == "" {
		return ""
	}
	return fmt.Sprintf(" (env %s, folder %s)", c.envOf(k), k.folder)
}

// envOf is the environment a call is about.
func (c *Client) envOf(k call) string {
	if k.env != "" {
		return k.env
	}
	return c.env
}

// attempt sends one request. status is 0 for transport failures.
func (c *Client) attempt(ctx context.Context, k call, target string, payload []byte) (status int, retryAfter time.Duration, err error) {
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, k.method, target, body)
	if err != nil {
		return 0, 0, fmt.Errorf("infisical: %s: build request: %w", k.op, scrubURLError(err))
	}
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set("Accept", "application/json")
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if k.auth {
		tok, err := c.bearer()
		if err != nil {
			return 0, 0, fmt.Errorf("infisical: %s: %w", k.op, err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}

	c.requests.Add(1)
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, 0, &TransportError{Op: k.op, Method: k.method, Path: "/api" + k.path, Err: scrubURLError(err)}
	}
	defer resp.Body.Close()

	// A declared length over the cap is refused before a byte is read: an
	// init process must not grow a buffer to twice the cap (io.ReadAll
	// doubles) for each parallel list only to find that out. A declared
	// length within the cap sizes the buffer once.
	if resp.ContentLength > c.maxBody {
		return 0, 0, &tooLargeError{fmt.Sprintf("infisical: %s: %s /api%s: answer larger than %d bytes (Content-Length %d)", k.op, k.method, k.path, c.maxBody, resp.ContentLength)}
	}
	var buf bytes.Buffer
	if resp.ContentLength > 0 {
		buf.Grow(int(resp.ContentLength) + bytes.MinRead)
	}
	_, readErr := buf.ReadFrom(io.LimitReader(resp.Body, c.maxBody+1))
	data := buf.Bytes()
	if int64(len(data)) > c.maxBody {
		return 0, 0, &tooLargeError{fmt.Sprintf("infisical: %s: %s /api%s: answer larger than %d bytes", k.op, k.method, k.path, c.maxBody)}
	}
	if readErr != nil {
		// A connection reset mid-answer: retry like any transport failure.
		return 0, 0, &TransportError{Op: k.op, Method: k.method, Path: "/api" + k.path, Err: scrubURLError(readErr)}
	}

	if resp.StatusCode >= 300 && resp.StatusCode <= 399 {
		return resp.StatusCode, 0, c.redirectError(k, resp)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := c.apiError(k, resp, data)
		return resp.StatusCode, parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()), e
	}
	if !isJSON(resp.Header.Get("Content-Type")) {
		// The SDK returns zero secrets here; an empty environment must never be
		// mistaken for a proxy's login page.
		return resp.StatusCode, 0, fmt.Errorf("infisical: %s: %s /api%s: status %d answer is %q, not JSON",
			k.op, k.method, k.path, resp.StatusCode, mediaType(resp.Header.Get("Content-Type")))
	}
	if k.out != nil {
		err := json.Unmarshal(data, k.out)
		if v, ok := k.out.(carriesSecrets); ok {
			c.redaction.add(v.secretValues()...) // before any error is made of this answer
		}
		if err != nil {
			return resp.StatusCode, 0, fmt.Errorf("infisical: %s: %s /api%s: malformed answer: %w", k.op, k.method, k.path, shapeError(err))
		}
	}
	if k.check != nil {
		if err := k.check(); err != nil {
			return resp.StatusCode, 0, fmt.Errorf("infisical: %s: %s /api%s: malformed answer: %w", k.op, k.method, k.path, err)
		}
	}
	return resp.StatusCode, 0, nil
}

func retryable(k call, status int, err error) bool {
	var te *TransportError
	if errors.As(err, &te) {
		// A certificate will not become trusted by asking again.
		return !badCertificate(err) && !k.retryUnsafe
	}
	switch status {
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		return true
	case http.StatusBadGateway, http.StatusGatewayTimeout:
		return !k.retryUnsafe
	}
	return false
}

// badCertificate says the TLS handshake failed on the server's certificate.
func badCertificate(err error) bool {
	var cv *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	var hn x509.HostnameError
	var ci x509.CertificateInvalidError
	return errors.As(err, &cv) || errors.As(err, &ua) || errors.As(err, &hn) || errors.As(err, &ci)
}

func isJSON(ct string) bool {
	mt := mediaType(ct)
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}

func mediaType(ct string) string {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return strings.ToLower(strings.TrimSpace(ct))
	}
	return mt
}

// shapeError keeps encoding/json's type errors (they name the field, never the
// value) and drops everything else down to the error text.
func shapeError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Errorf("field %q is %s, want %s", te.Field, te.Value, te.Type)
	}
	return err
}

// scrubURLError unwraps *url.Error, whose text repeats the full URL, so that
// error text is under our control.
func scrubURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// ErrAnswerTooLarge matches (errors.Is) an answer over the client's cap,
// refused unread or cut where the cap was reached.
var ErrAnswerTooLarge = errors.New("infisical: answer too large")

type tooLargeError struct{ msg string }

func (e *tooLargeError) Error() string        { return e.msg }
func (e *tooLargeError) Is(target error) bool { return target == ErrAnswerTooLarge }

// TransportError is a request that got no HTTP answer (or a truncated one).
type TransportError struct {
	Op, Method, Path string
	Err              error
}

func (e *TransportError) Error() string {
	return fmt.Sprintf("infisical: %s: %s %s: %v", e.Op, e.Method, e.Path, e.Err)
}

func (e *TransportError) Unwrap() error { return e.Err }
