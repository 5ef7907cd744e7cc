// Package infisicaltest is an in-memory Infisical server for tests, shaped like
// net/http/httptest: NewServer starts a real listener on 127.0.0.1 and sets
// URL; Close stops it.
//
// It is the real server's double: where we learn how Infisical answers,
// this server learns it too, with a test. It serves the routes secret-init,
// the official CLI and the SDKs use, with Infisical's answers (its error
// body {"reqId","statusCode","message","error"}, reqIds like req-<14
// alnum>, an etag on every answer and 304 for a matching If-None-Match),
// and models the rules that change what a client sees: SecretPathNotFound
// for a missing folder, the last import winning over earlier ones,
// unresolved references left literal, permissions that hide keys or values,
// machine identities with the built-in roles of the organisation and the
// project (a viewer gets 403 on every write; only an organisation admin
// handles client secrets), universal auth and its client secrets, token
// expiry, renewal and revocation, universal-auth lockout, and the rate
// limiter of Infisical Cloud. The README's "Infisical test server"
// section lists what is modelled and what is not.
//
// Endpoints (v3 and v4 can each be turned off: ServeV3, ServeV4):
//
//	POST   /api/v1/auth/universal-auth/login   {clientId, clientSecret}
//	POST   /api/v1/auth/kubernetes-auth/login  {identityId, jwt}
//	POST   /api/v1/auth/token/renew            {accessToken}
//	POST   /api/v1/auth/token/revoke           {accessToken}
//	GET    /api/v4/secrets                     projectId, environment, secretPath, include_imports|includeImports, expandSecretReferences, recursive, viewSecretValue
//	GET    /api/v4/secrets/{name}              the same, no recursive
//	POST   /api/v4/secrets/{name}              {projectId, environment, secretPath, secretValue, secretComment}
//	PATCH  /api/v4/secrets/{name}              {projectId, environment, secretPath, secretValue?, secretComment?, newSecretName?}
//	DELETE /api/v4/secrets/{name}              {projectId, environment, secretPath}
//	POST   /api/v4/secrets/batch               {projectId, environment, secretPath, secrets: [{secretKey, secretValue, secretComment}]}
//	PATCH  /api/v4/secrets/batch               {..., mode: failOnNotFound|upsert|ignore, secrets: [{secretKey, secretValue?, secretPath?, newSecretName?}]}
//	GET, POST, PATCH, DELETE /api/v3/secrets/raw[/{name}], POST, PATCH /api/v3/secrets/batch/raw: the same with workspaceId
//	GET    /api/v1/folders                     workspaceId, environment, path|directory, recursive
//	POST   /api/v1/folders                     {workspaceId, environment, name, path}
//	DELETE /api/v1/folders/{name}              {workspaceId, environment, path}
//	GET, POST, DELETE /api/v2/folders[/{name}]: the same with projectId
//	GET    /api/v1/identities/details          the caller's organisation
//	GET    /api/v1/projects/{projectId}        the project and its environments
//	POST   /api/v1/identities                  {name, organizationId, role}
//	GET    /api/v1/identities/{identityId}
//	GET    /api/v2/organizations/{orgId}/identity-memberships   offset, limit, orderDirection, search
//	GET, POST /api/v1/auth/universal-auth/identities/{identityId}  {accessTokenTTL, accessTokenMaxTTL, ...}
//	GET, POST /api/v1/auth/universal-auth/identities/{identityId}/client-secrets  {description, numUsesLimit, ttl}
//	POST   /api/v1/auth/universal-auth/identities/{identityId}/client-secrets/{id}/revoke
//	GET, POST, PATCH /api/v1/projects/{projectId}/memberships/identities/{identityId}  {roles: [{role}]}
//
// Knobs inject what a real deployment does on a bad day: latency, stalls,
// 5xx with HTML bodies, 429 with Retry-After, a token-bucket rate limit,
// Infisical Cloud's fixed-window limiter, lockout contention, connections
// reset mid-answer, arbitrary raw answers, and a clock that tests move
// forward (AdvanceClock) instead of sleeping. Each is a method, to be called
// before or after Start; the one Option, WithHTTP2, shapes the listener and
// so comes before it. Client gives an *http.Client for the server, as
// httptest.Server.Client does.
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
//	    read_only: false                            # optional: true => a runtime identity (role viewer): writes get 403
//	    role: admin                                 # optional project role: admin (default), member, viewer, no-access
//	    org_role: admin                             # optional organisation role: admin (default), member, no-access
//	tokens: [demo-token]                            # access tokens usable as INFISICAL_TOKEN, of admin identities
//	kubernetes:                                     # kubernetes-auth identities
//	  - identity_id: 11111111-2222-4333-8444-555555555555
//	    jwt: eyJhbGciOi...
//	environments:
//	  dev:
//	    folders:                                    # folder path => key => value
//	      /shared/db: {POSTGRES_DSN: "postgres://...", POSTGRES_POOL_MIN: "2"}
//	      /services/billing/db: {POSTGRES_DSN: "${dev.shared.db.POSTGRES_DSN}?app=billing"}
//	    imports:                                    # in order, the last one winning; from_env defaults to this env
//	      - {path: /services/billing/env, from: /shared/env}
//	      - {path: /services/billing/env, from: /common, from_env: prod}
//
// Folders are created with their parents. Values are stored as given and
// may use Infisical's reference syntax; it is expanded when read.
package infisicaltest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"log"
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

	mu      sync.Mutex
	project string
	envs    map[string]*environment
	ua      map[string]*uaConfig // clientID
	k8s     map[string]*k8sIdentity
	// identities are the organisation's, in creation order.
	identities []*machineIdentity
	static     map[string]*tokenRow // AddToken tokens
	issued     map[string]*tokenRow // JWTs handed out by logins and renewals
	expired    map[string]bool
	jwtKey     []byte
	nextID     int
	offset     time.Duration // AdvanceClock

	ttl, maxTTL   time.Duration
	lockThreshold int
	lockReset     time.Duration
	lockDuration  time.Duration
	contention    int

	noV3, noV4     bool
	emptyMissing   bool
	maskUnreadable bool

	latency  time.Duration
	stall    time.Duration
	failN    int
	failCode int
	resetN   int
	raw      []RawAnswer
	bucket   *bucket
	window   *fixedWindow
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
	IfNoneMatch  string
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
		closed:        make(chan struct{}),
		project:       DefaultProject,
		envs:          map[string]*environment{},
		ua:            map[string]*uaConfig{},
		k8s:           map[string]*k8sIdentity{},
		static:        map[string]*tokenRow{},
		issued:        map[string]*tokenRow{},
		expired:       map[string]bool{},
		jwtKey:        []byte(randString(32)),
		ttl:           defaultTokenTTL,
		maxTTL:        defaultTokenMaxTTL,
		lockThreshold: defaultLockoutThreshold,
		lockReset:     defaultLockoutReset,
		lockDuration:  defaultLockoutDuration,
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

// AdvanceClock moves the server's clock forward by d: token expiry, TTLs,
// lockouts and the fixed rate-limit window all follow it, so that a test
// of a 300 s lockout takes no time.
func (s *Server) AdvanceClock(d time.Duration) {
	s.mu.Lock()
	s.offset += d
	s.mu.Unlock()
}

// now is the server's clock; callers hold s.mu.
func (s *Server) now() time.Time { return time.Now().Add(s.offset) }

// ServeV3 turns the v3 secrets routes (/api/v3/secrets/...) on or off; off
// is a future server that no longer mounts the deprecated router, answering
// "Route ... not found". On by default.
func (s *Server) ServeV3(on bool) {
	s.mu.Lock()
	s.noV3 = !on
	s.mu.Unlock()
}

// ServeV4 turns the v4 secrets routes (/api/v4/secrets...) on or off; off is
// an older server. On by default.
func (s *Server) ServeV4(on bool) {
	s.mu.Lock()
	s.noV4 = !on
	s.mu.Unlock()
}

// EmptyMissingFolders makes a list of a folder or environment that does
// not exist answer 200 with empty lists, as older servers did, instead of
// 404 SecretPathNotFound.
func (s *Server) EmptyMissingFolders(on bool) {
	s.mu.Lock()
	s.emptyMissing = on
	s.mu.Unlock()
}

// MaskUnreadableValues makes a list answer a DescribeOnly folder's secrets
// with the value "<hidden-by-infisical>" and secretValueHidden true, as
// Infisical's list does where it is not told to refuse them, instead of
// 403.
func (s *Server) MaskUnreadableValues(on bool) {
	s.mu.Lock()
	s.maskUnreadable = on
	s.mu.Unlock()
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

// RateLimitWindow is Infisical Cloud's limiter (@fastify/rate-limit): at
// most max requests per caller address and route in a fixed window that
// starts with the caller's first request to the route (60 s on Infisical
// Cloud; its routes' maxima differ, here they are all max). Every answer then
// carries x-ratelimit-limit, -remaining and -reset; beyond the limit the
// answer is 429 with retry-after, the seconds left in the window. /api/status
// is exempt. max <= 0 removes it.
func (s *Server) RateLimitWindow(max int, window time.Duration) {
	s.mu.Lock()
	if max <= 0 {
		s.window = nil
	} else {
		s.window = newFixedWindow(max, window)
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

// RawAnswer replaces one future answer to a secrets list (GET
// /api/v4/secrets or /api/v3/secrets/raw) with exactly this. Answers queue
// in order.
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
	proxy  bool // made by something in front of Infisical: no etag
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := newReqID()

	s.mu.Lock()
	now := s.now()
	idx := len(s.log)
	s.log = append(s.log, Request{
		Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), ReqID: reqID,
		UserAgent: r.UserAgent(), Bearer: strings.HasPrefix(r.Header.Get("Authorization"), "Bearer "),
		Remote: r.RemoteAddr, IfNoneMatch: r.Header.Get("If-None-Match"), At: time.Now(),
	})
	var limited int
	if s.bucket != nil {
		limited = s.bucket.take(time.Now())
	}
	var quota *windowState
	if s.window != nil && r.URL.Path != "/api/status" {
		quota = s.window.take(callerIP(r.RemoteAddr)+" "+limitedRoute(r.Method, r.URL.Path), now)
	}
	failCode := 0
	if limited == 0 && (quota == nil || !quota.over) && s.failN > 0 {
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
	case quota != nil && quota.over:
		a = rateLimited(reqID, quota.reset)
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
	if quota != nil {
		quota.headers(a.header)
	}
	if a.header.Get("Content-Type") == "" && a.status != http.StatusNoContent {
		a.header.Set("Content-Type", "application/json; charset=utf-8")
	}
	if !a.proxy && len(a.body) > 0 {
		tag := etag(a.body)
		a.header.Set("Etag", tag)
		if notModified(r.Header.Get("If-None-Match"), tag) {
			a.status, a.body = http.StatusNotModified, nil
		}
	}
	for k, v := range a.header {
		w.Header()[k] = v
	}
	if a.status != http.StatusNotModified {
		w.Header().Set("Content-Length", strconv.Itoa(len(a.body)))
	}
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
