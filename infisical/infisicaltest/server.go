// Package infisicaltest is an in-memory Infisical server for tests, shaped like
// net/http/httptest: NewServer starts a real listener on 127.0.0.1 and sets
// URL; Close stops it.
//
// It serves the part of Infisical's HTTP API that secret-init and the official
// go-sdk use, with Infisical's answers: the error body
// {"reqId","statusCode","message","error"}, reqIds like req-<14 alnum>,
// Content-Type application/json on every JSON answer, 401 without a Bearer
// token, 403 PermissionDenied for denied folders, 404 for unknown
// environments and projects, 400 "Secret already exist", and server-side
// imports and ${KEY} / ${env.a.b.KEY} reference expansion.
//
// Endpoints:
//
//	POST  /api/v1/auth/universal-auth/login   {clientId, clientSecret}
//	POST  /api/v1/auth/kubernetes-auth/login  {identityId, jwt}
//	POST  /api/v1/auth/token/renew            {accessToken}
//	GET   /api/v3/secrets/raw                 workspaceId, environment, secretPath, include_imports, expandSecretReferences, recursive
//	GET   /api/v3/secrets/raw/{key}           workspaceId, environment, secretPath, include_imports, expandSecretReferences
//	POST  /api/v3/secrets/raw/{key}           {workspaceId, environment, secretPath, secretValue}
//	PATCH /api/v3/secrets/raw/{key}           {workspaceId, environment, secretPath, secretValue}
//	GET   /api/v1/folders                     workspaceId, environment, path
//	POST  /api/v1/folders                     {workspaceId, environment, name, path}
//
// Knobs inject what a real deployment does on a bad day: latency, stalls,
// 5xx with HTML bodies, 429 with Retry-After, a token-bucket rate limit,
// connections reset mid-answer, and arbitrary raw answers. Each is a method
// (SetLatency, Stall, FailNext, RateLimit, ResetMidAnswer, RawAnswer), to be
// called before or after Start; the one Option, WithHTTP2, shapes the
// listener and so comes before it. Client gives an *http.Client for the
// server, as httptest.Server.Client does.
//
// # Seed files
//
// LoadSeed reads YAML of this shape; ApplySeed loads it into a server:
//
//	project: 00000000-0000-4000-8000-000000000001   # optional; this is the default
//	identities:                                     # universal-auth machine identities
//	  - client_id: demo-client
//	    client_secret: demo-secret
//	    deny:                                       # optional: folders it may not read (403)
//	      - {env: prod, path: /payments}
//	    read_only: false                            # optional: true => creates/updates get 403
//	tokens: [demo-token]                            # access tokens usable as INFISICAL_TOKEN
//	kubernetes:                                     # kubernetes-auth identities
//	  - identity_id: 11111111-2222-4333-8444-555555555555
//	    jwt: eyJhbGciOi...
//	environments:
//	  dev:
//	    folders:                                    # folder path => key => value
//	      /shared/db: {POSTGRES_DSN: "postgres://...", POSTGRES_POOL_MIN: "2"}
//	      /services/billing/db: {POSTGRES_DSN: "${dev.shared.db.POSTGRES_DSN}?app=billing"}
//	    imports:                                    # in order; from_env defaults to this env
//	      - {path: /services/billing/env, from: /shared/env}
//	      - {path: /services/billing/env, from: /common, from_env: prod}
//
// Folders are created with their parents. Values may use Infisical's reference
// syntax; it is expanded when read, not when seeded.
package infisicaltest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"math"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultProject is the project ID a new server holds.
const DefaultProject = "00000000-0000-4000-8000-000000000001"

// Server is an in-memory Infisical. All methods are safe for concurrent use.
type Server struct {
	// URL is the base URL, e.g. http://127.0.0.1:41234 (no /api). Empty for a
	// server made by NewUnstartedServer until Start.
	URL string

	listener  net.Listener
	http2     bool // offer h2 over TLS (WithHTTP2)
	srv       *http.Server
	caPEM     []byte
	client    *http.Client
	closed    chan struct{}
	closeOnce sync.Once

	mu       sync.Mutex
	project  string
	envs     map[string]*environment
	ua       map[string]*uaIdentity // clientID
	k8s      map[string]*k8sIdentity
	tokens   map[string]*principal // access token
	expired  map[string]bool
	nextID   int
	latency  time.Duration
	stall    time.Duration
	failN    int
	failCode int
	resetN   int
	raw      []RawAnswer
	bucket   *bucket
	log      []Request
}

// Request is one answered request, as recorded by the server.
type Request struct {
	Method, Path string
	Query        url.Values
	Status       int // 0 when the connection was reset mid-answer
	ReqID        string
	UserAgent    string
	Bearer       bool   // an Authorization: Bearer header was present
	Remote       string // client address; one per connection, so keep-alive is visible
	At           time.Time
}

// Option configures what must be fixed before a server starts listening.
// Every other knob is a method, which may be called before or after start.
type Option func(*Server)

// WithHTTP2 makes a TLS server offer HTTP/2, as Infisical behind its usual
// proxies does, so that a client's parallel requests share one connection.
// ResetMidAnswer then resets the one stream, not the shared connection.
func WithHTTP2() Option { return func(s *Server) { s.http2 = true } }

// NewUnstartedServer builds a server without a listener; serve it with Start
// or use it as an http.Handler.
func NewUnstartedServer(opts ...Option) *Server {
	s := &Server{
		closed:  make(chan struct{}),
		project: DefaultProject,
		envs:    map[string]*environment{},
		ua:      map[string]*uaIdentity{},
		k8s:     map[string]*k8sIdentity{},
		tokens:  map[string]*principal{},
		expired: map[string]bool{},
	}
	for _, slug := range []string{"dev", "staging", "prod"} {
		s.envs[slug] = s.newEnvironment()
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// NewServer starts a server on 127.0.0.1 on a free port. It panics if it
// cannot listen, as httptest.NewServer does.
func NewServer(opts ...Option) *Server {
	s := NewUnstartedServer(opts...)
	if err := s.Start("127.0.0.1:0"); err != nil {
		panic("infisicaltest: " + err.Error())
	}
	return s
}

// NewTLSServer starts an HTTPS server whose certificate is signed by a fresh
// CA; CACertPEM returns that CA for --ca-cert tests.
func NewTLSServer(opts ...Option) *Server {
	s := NewUnstartedServer(opts...)
	if err := s.StartTLS("127.0.0.1:0"); err != nil {
		panic("infisicaltest: " + err.Error())
	}
	return s
}

// Start listens on addr (e.g. 127.0.0.1:0) and serves plain HTTP.
func (s *Server) Start(addr string) error {
	return s.start(addr, nil)
}

// StartTLS listens on addr and serves HTTPS with a certificate for
// 127.0.0.1 and localhost.
func (s *Server) StartTLS(addr string) error {
	cfg, caPEM, err := selfSigned()
	if err != nil {
		return err
	}
	s.caPEM = caPEM
	return s.start(addr, cfg)
}

func (s *Server) start(addr string, cfg *tls.Config) error {
	if s.listener != nil {
		return fmt.Errorf("server already started")
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	s.srv = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		// Clients that reject the test CA on purpose would log handshake errors.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	s.client = s.newClient()
	if cfg != nil && s.http2 {
		// ServeTLS sets up h2 on the server; cfg already holds the
		// certificate.
		cfg.NextProtos = []string{"h2", "http/1.1"}
		s.srv.TLSConfig = cfg
		s.listener = l
		s.URL = "https://" + l.Addr().String()
		go func() { _ = s.srv.ServeTLS(l, "", "") }()
		return nil
	}
	scheme := "http"
	if cfg != nil {
		l = tls.NewListener(l, cfg)
		scheme = "https"
	}
	s.listener = l
	s.URL = scheme + "://" + l.Addr().String()
	go func() { _ = s.srv.Serve(l) }()
	return nil
}

// CACertPEM is the PEM of the CA that signed a TLS server's certificate.
func (s *Server) CACertPEM() []byte { return append([]byte(nil), s.caPEM...) }

// Client is an HTTP client for this server, as httptest.Server.Client is:
// it trusts a TLS server's CA, speaks HTTP/2 where WithHTTP2 offers it, and
// its idle connections close with the server. It is an *http.Client, not
// secret-init's own client, so that the double does not depend on the code
// it checks; pass it as infisical.Config.HTTPClient to get ours. Nil before
// Start.
func (s *Server) Client() *http.Client { return s.client }

func (s *Server) newClient() *http.Client {
	tr := &http.Transport{ForceAttemptHTTP2: s.http2}
	if s.caPEM != nil {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(s.caPEM)
		tr.TLSClientConfig = &tls.Config{RootCAs: pool}
	}
	return &http.Client{Transport: tr}
}

// Close stops the listener, drops every connection and ends stalled answers.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.closed)
		if s.srv != nil {
			_ = s.srv.Close()
		}
		if s.client != nil {
			s.client.CloseIdleConnections()
		}
	})
}

// SetProject changes the project ID (workspaceId) the server holds.
func (s *Server) SetProject(id string) {
	s.mu.Lock()
	s.project = id
	s.mu.Unlock()
}

// ProjectID is the project ID (workspaceId) the server holds.
func (s *Server) ProjectID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.project
}

// SetLatency adds d to every answer from now on; 0 removes it.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	s.latency = d
	s.mu.Unlock()
}

// Stall holds every answer for d, or until the client goes away; 0 ends it.
func (s *Server) Stall(d time.Duration) {
	s.mu.Lock()
	s.stall = d
	s.mu.Unlock()
}

// FailNext answers the next n requests with status instead of their real
// answer: a 5xx comes with an HTML body (as from a proxy), a 429 with
// Retry-After: 1 and Infisical's RateLimitExceeded body, other statuses with
// Infisical's JSON error body.
func (s *Server) FailNext(n int, status int) {
	s.mu.Lock()
	s.failN, s.failCode = n, status
	s.mu.Unlock()
}

// RateLimit puts a token bucket over all requests; beyond it the server
// answers 429 with Retry-After in whole seconds (at least 1). perSecond <= 0
// removes the limit.
func (s *Server) RateLimit(perSecond float64, burst int) {
	s.mu.Lock()
	if perSecond <= 0 {
		s.bucket = nil
	} else {
		s.bucket = newBucket(perSecond, burst)
	}
	s.mu.Unlock()
}

// ResetMidAnswer makes the next n answers send their headers and part of
// their body, then drop the connection.
func (s *Server) ResetMidAnswer(n int) {
	s.mu.Lock()
	s.resetN = n
	s.mu.Unlock()
}

// RawAnswer replaces one future answer to a secrets list
// (GET /api/v3/secrets/raw) with exactly this. Answers queue in order.
type RawAnswer struct {
	Status      int // default 200
	ContentType string
	Body        []byte
	Header      http.Header
}

// RawAnswer queues a raw answer for the next secrets list.
func (s *Server) RawAnswer(a RawAnswer) {
	s.mu.Lock()
	s.raw = append(s.raw, a)
	s.mu.Unlock()
}

// Requests returns every request answered so far, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.log))
	copy(out, s.log)
	return out
}

// Count is how many requests had method (any if "") and a path starting with
// pathPrefix.
func (s *Server) Count(method, pathPrefix string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.log {
		if (method == "" || r.Method == method) && strings.HasPrefix(r.Path, pathPrefix) {
			n++
		}
	}
	return n
}

// ResetCounts forgets the recorded requests.
func (s *Server) ResetCounts() {
	s.mu.Lock()
	s.log = nil
	s.mu.Unlock()
}

// answer is a complete HTTP answer, built under the lock and written after.
type answer struct {
	status int
	header http.Header
	body   []byte
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := newReqID()
	now := time.Now()

	s.mu.Lock()
	idx := len(s.log)
	s.log = append(s.log, Request{
		Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), ReqID: reqID,
		UserAgent: r.UserAgent(), Bearer: strings.HasPrefix(r.Header.Get("Authorization"), "Bearer "),
		Remote: r.RemoteAddr, At: now,
	})
	var limited int
	if s.bucket != nil {
		limited = s.bucket.take(now)
	}
	failCode := 0
	if limited == 0 && s.failN > 0 {
		s.failN--
		failCode = s.failCode
	}
	reset := false
	if s.resetN > 0 {
		s.resetN--
		reset = true
	}
	latency, stall := s.latency, s.stall
	s.mu.Unlock()

	if !s.wait(r, latency) || !s.wait(r, stall) {
		s.setStatus(idx, 0)
		return
	}

	var a answer
	switch {
	case limited > 0:
		a = rateLimited(reqID, limited)
	case failCode != 0:
		a = failure(reqID, failCode)
	default:
		a = s.route(r, reqID)
	}

	if a.header == nil {
		a.header = http.Header{}
	}
	if a.header.Get("Content-Type") == "" && a.status != http.StatusNoContent {
		a.header.Set("Content-Type", "application/json; charset=utf-8")
	}
	for k, v := range a.header {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(a.body)))
	if reset {
		s.setStatus(idx, 0)
		w.WriteHeader(a.status)
		_, _ = w.Write(a.body[:len(a.body)/2])
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		// Aborting the handler makes net/http drop the connection, which the
		// client sees as a truncated body.
		panic(http.ErrAbortHandler)
	}
	s.setStatus(idx, a.status)
	w.WriteHeader(a.status)
	_, _ = w.Write(a.body)
}

func (s *Server) setStatus(idx, status int) {
	s.mu.Lock()
	if idx < len(s.log) {
		s.log[idx].Status = status
	}
	s.mu.Unlock()
}

// wait sleeps d; false if the client left or the server closed first.
func (s *Server) wait(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	case <-s.closed:
		return false
	}
}

func (s *Server) route(r *http.Request, reqID string) answer {
	p := r.URL.Path
	const raw = "/api/v3/secrets/raw"
	switch {
	case p == "/api/status" && r.Method == http.MethodGet:
		return jsonAnswer(http.StatusOK, map[string]any{"date": time.Now().UTC(), "message": "Ok"})
	case p == "/api/v1/auth/universal-auth/login" && r.Method == http.MethodPost:
		return s.loginUniversal(r, reqID)
	case p == "/api/v1/auth/kubernetes-auth/login" && r.Method == http.MethodPost:
		return s.loginKubernetes(r, reqID)
	case p == "/api/v1/auth/token/renew" && r.Method == http.MethodPost:
		return s.renew(r, reqID)
	case p == raw && r.Method == http.MethodGet:
		if a, ok := s.popRaw(); ok {
			return a
		}
		return s.withPrincipal(r, reqID, s.listSecrets)
	case strings.HasPrefix(p, raw+"/") && len(p) > len(raw)+1:
		switch r.Method {
		case http.MethodGet:
			return s.withPrincipal(r, reqID, s.getSecret)
		case http.MethodPost:
			return s.withPrincipal(r, reqID, s.createSecret)
		case http.MethodPatch:
			return s.withPrincipal(r, reqID, s.updateSecret)
		}
	case p == "/api/v1/folders":
		switch r.Method {
		case http.MethodGet:
			return s.withPrincipal(r, reqID, s.listFolders)
		case http.MethodPost:
			return s.withPrincipal(r, reqID, s.createFolder)
		}
	}
	// Fastify's own not-found answer, which Infisical does not override.
	return jsonAnswer(http.StatusNotFound, map[string]any{
		"reqId": reqID, "message": fmt.Sprintf("Route %s:%s not found", r.Method, p),
		"error": "Not Found", "statusCode": 404,
	})
}

func (s *Server) popRaw() (answer, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.raw) == 0 {
		return answer{}, false
	}
	ra := s.raw[0]
	s.raw = s.raw[1:]
	a := answer{status: ra.Status, header: ra.Header.Clone(), body: ra.Body}
	if a.status == 0 {
		a.status = http.StatusOK
	}
	if a.header == nil {
		a.header = http.Header{}
	}
	// An explicit empty type must stay empty, so it is set even when "".
	a.header["Content-Type"] = []string{ra.ContentType}
	if ra.ContentType == "" {
		// net/http would sniff a type; "application/octet-stream" is what a
		// misconfigured proxy typically sends instead.
		a.header["Content-Type"] = []string{"application/octet-stream"}
	}
	return a, true
}

func jsonAnswer(status int, v any) answer {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return answer{status: status, body: b}
}

// apiError is Infisical's error body (backend/src/server/plugins/error-handler.ts).
func apiError(reqID string, status int, name string, message any) answer {
	return jsonAnswer(status, map[string]any{
		"reqId": reqID, "statusCode": status, "message": message, "error": name,
	})
}

// validation is a zod 422 for a missing required field.
func validation(reqID string, field string) answer {
	return apiError(reqID, http.StatusUnprocessableEntity, "ValidationFailure", []map[string]any{{
		"code": "invalid_type", "expected": "string", "received": "undefined",
		"path": []string{field}, "message": "Required",
	}})
}

func rateLimited(reqID string, seconds int) answer {
	a := apiError(reqID, http.StatusTooManyRequests, "RateLimitExceeded",
		fmt.Sprintf("Rate limit exceeded. Please try again in %d seconds", seconds))
	a.header = http.Header{}
	a.header.Set("Retry-After", strconv.Itoa(seconds))
	a.header.Set("X-Ratelimit-Reset", strconv.Itoa(seconds))
	a.header.Set("X-Ratelimit-Remaining", "0")
	return a
}

func failure(reqID string, status int) answer {
	switch {
	case status == http.StatusTooManyRequests:
		return rateLimited(reqID, 1)
	case status >= 500:
		text := http.StatusText(status)
		body := fmt.Sprintf("<html>\r\n<head><title>%d %s</title></head>\r\n<body>\r\n<center><h1>%d %s</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n", status, text, status, text)
		return answer{status: status, header: http.Header{"Content-Type": {"text/html"}}, body: []byte(body)}
	}
	name := strings.ReplaceAll(http.StatusText(status), " ", "")
	switch status {
	case http.StatusUnauthorized:
		name = "UnauthorizedError"
	case http.StatusForbidden:
		name = "PermissionDenied"
	}
	return apiError(reqID, status, name, "Injected failure")
}

const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

func randString(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alnum[mrand.IntN(len(alnum))]
	}
	return string(b)
}

// newReqID mimics Infisical's req-<14 alnum> ids.
func newReqID() string { return "req-" + randString(14) }

// bucket is a token bucket; take answers 0 or the whole seconds to wait.
type bucket struct {
	rate, burst, tokens float64
	last                time.Time
}

func newBucket(rate float64, burst int) *bucket {
	if burst < 1 {
		burst = 1
	}
	return &bucket{rate: rate, burst: float64(burst), tokens: float64(burst)}
}

func (b *bucket) take(now time.Time) int {
	if !b.last.IsZero() {
		b.tokens = math.Min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	}
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return 0
	}
	wait := (1 - b.tokens) / b.rate
	return max(1, int(math.Ceil(wait)))
}

// selfSigned makes a CA and a leaf certificate for 127.0.0.1 and localhost.
func selfSigned() (*tls.Config, []byte, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "infisicaltest CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, nil, err
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, nil, err
	}
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:     []string{"localhost"},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, caCert, &leafKey.PublicKey, caKey)
	if err != nil {
		return nil, nil, err
	}
	cfg := &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{leafDER}, PrivateKey: leafKey}},
		// HTTP/1.1 only, so that ResetMidAnswer drops a connection rather than
		// one stream of a shared HTTP/2 connection.
		NextProtos: []string{"http/1.1"},
		MinVersion: tls.VersionTLS12,
	}
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	return cfg, caPEM, nil
}
