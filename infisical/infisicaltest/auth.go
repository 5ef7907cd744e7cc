package infisicaltest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"
)

// The access token lifecycle of Infisical's identity-access-token service:
// a login makes a token row with a TTL and a Max TTL and hands out a JWT
// for it; a renew hands out a new JWT for the same row; the row can be
// revoked. Defaults are those of attaching universal auth to an identity.
const (
	defaultTokenTTL    = 30 * 24 * time.Hour
	defaultTokenMaxTTL = 30 * 24 * time.Hour
)

// Universal-auth lockout defaults, as Infisical attaches them.
const (
	defaultLockoutThreshold = 3
	defaultLockoutReset     = 30 * time.Second
	defaultLockoutDuration  = 300 * time.Second
)

// tokenRow is one issued access token, whatever JWT currently stands for it.
type tokenRow struct {
	id               string
	p                *principal
	created, renewed time.Time
	ttl, maxTTL      time.Duration // 0 = none
	revoked          bool
}

type k8sIdentity struct {
	jwt string
	p   *principal
}

// AddUniversalIdentity lets clientID/clientSecret log in. The identity,
// named clientID, is by default an admin of the organisation and of the
// project: it may read and write everything and administer identities;
// perms narrow it (ReadOnly, ProjectRole, DenyFolder...).
func (s *Server) AddUniversalIdentity(clientID, secret string, perms ...Permission) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.identityPrincipal(clientID, perms)
	ua := s.attach(p, clientID)
	now := s.now().UTC()
	ua.secrets = []*clientSecret{{id: seededSecretID + s.id(), value: secret, created: now, updated: now}}
}

// attach gives p's identity universal auth with clientID and the attach
// defaults.
func (s *Server) attach(p *principal, clientID string) *uaConfig {
	ua := &uaConfig{
		id: s.id(), clientID: clientID, ident: p.ident, p: p, created: s.now().UTC(),
		ttl: defaultTokenTTL, maxTTL: defaultTokenMaxTTL,
		lockout:        lockoutSettings{enabled: true, threshold: defaultLockoutThreshold, durationSecs: int(defaultLockoutDuration / time.Second), resetSecs: int(defaultLockoutReset / time.Second)},
		clientIPs:      []string{"0.0.0.0/0", "::/0"},
		accessTokenIPs: []string{"0.0.0.0/0", "::/0"},
	}
	p.ident.ua = ua
	s.ua[clientID] = ua
	return ua
}

// AddKubernetesIdentity lets identityID log in with exactly this service
// account jwt.
func (s *Server) AddKubernetesIdentity(identityID, jwt string, perms ...Permission) {
	s.mu.Lock()
	p := s.identityPrincipal(identityID, perms)
	p.ident.id, p.ident.kubernetes = identityID, true
	s.k8s[identityID] = &k8sIdentity{jwt: jwt, p: p}
	s.mu.Unlock()
}

// AddToken makes token a valid access token (INFISICAL_TOKEN style) that
// never expires, of an identity of its own that is, as AddUniversalIdentity's,
// an admin of the organisation and the project unless perms say
// otherwise. It need not look like a JWT: it stands for one.
func (s *Server) AddToken(token string, perms ...Permission) {
	s.mu.Lock()
	p := s.identityPrincipal(fmt.Sprintf("token-identity-%d", len(s.identities)+1), perms)
	s.static[token] = &tokenRow{id: s.id(), p: p, created: s.now()}
	delete(s.expired, token)
	s.mu.Unlock()
}

// ExpireToken makes token answer 403 TokenError "Your token has expired",
// as Infisical answers for a JWT past its exp, whatever the clock says.
func (s *Server) ExpireToken(token string) {
	s.mu.Lock()
	s.expired[token] = true
	s.mu.Unlock()
}

// RevokeToken revokes token's row (POST /api/v1/auth/token/revoke does the
// same): every JWT for it then answers 401 "No identity access token found".
func (s *Server) RevokeToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if row := s.rowOf(token); row != nil {
		row.revoked = true
	}
}

// SetTokenTTL sets accessTokenTTL and accessTokenMaxTTL for tokens issued
// from now on; 0 means none (a TTL of 0 gives a JWT without exp). A renew
// succeeds only while now + ttl stays within created + maxTTL, so with the
// defaults (30 days each) it always fails, as on a fresh Infisical.
func (s *Server) SetTokenTTL(ttl, maxTTL time.Duration) {
	s.mu.Lock()
	s.ttl, s.maxTTL = ttl, maxTTL
	s.mu.Unlock()
}

// SetLockout tunes universal-auth lockout: threshold failed logins within
// reset of each other lock the identity for duration, the right secret
// included. threshold 0 turns lockout off. Defaults: 3, 30s, 300s.
func (s *Server) SetLockout(threshold int, reset, duration time.Duration) {
	s.mu.Lock()
	s.lockThreshold, s.lockReset, s.lockDuration = threshold, reset, duration
	s.mu.Unlock()
}

// ClearLockouts unlocks every identity, as the clear-lockouts route does.
func (s *Server) ClearLockouts() {
	s.mu.Lock()
	for _, ua := range s.ua {
		ua.failures, ua.lockedUntil = 0, time.Time{}
	}
	s.mu.Unlock()
}

// LockContention makes the next n universal-auth logins that need
// Infisical's lockout lock (those with a wrong secret) fail to get it: 429
// "Failed to acquire lock: rate limit exceeded", without Retry-After.
func (s *Server) LockContention(n int) {
	s.mu.Lock()
	s.contention = n
	s.mu.Unlock()
}

// Tokens are the access tokens issued by logins and renewals and added by
// AddToken, sorted.
func (s *Server) Tokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.static)+len(s.issued))
	for t := range s.static {
		out = append(out, t)
	}
	for t := range s.issued {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// rowOf finds the row behind a token string, static or issued.
func (s *Server) rowOf(token string) *tokenRow {
	if row := s.static[token]; row != nil {
		return row
	}
	return s.issued[token]
}

type jwtClaims struct {
	TokenID   string `json:"identityAccessTokenId"`
	AuthType  string `json:"authTokenType"`
	IssuedAt  int64  `json:"iat"`
	ExpiresAt int64  `json:"exp,omitempty"`
}

var b64 = base64.RawURLEncoding

// sign makes a JWT (HS256) for row, expiring ttl from now unless ttl is 0.
func (s *Server) sign(row *tokenRow) string {
	now := s.now()
	c := jwtClaims{TokenID: row.id, AuthType: "identityAccessToken", IssuedAt: now.Unix()}
	if row.ttl > 0 {
		c.ExpiresAt = now.Add(row.ttl).Unix()
	}
	// iat is in seconds: a nonce keeps two tokens signed in one second apart.
	payload, _ := json.Marshal(struct {
		jwtClaims
		Nonce string `json:"jti"`
	}{c, randString(8)})
	head := b64.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + b64.EncodeToString(payload)
	tok := head + "." + b64.EncodeToString(s.mac([]byte(head)))
	s.issued[tok] = row
	return tok
}

func (s *Server) mac(b []byte) []byte {
	m := hmac.New(sha256.New, s.jwtKey)
	m.Write(b)
	return m.Sum(nil)
}

// verify is jsonwebtoken's verify as Infisical's auth plugin calls it: a
// string that is not a JWT of ours is malformed, a bad signature is one,
// and a JWT past its exp has expired. Each is a 403 TokenError.
func (s *Server) verify(reqID, token string) (jwtClaims, *answer) {
	tokenError := func(msg string) (jwtClaims, *answer) {
		a := apiError(reqID, http.StatusForbidden, "TokenError", msg)
		return jwtClaims{}, &a
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return tokenError("The provided access token is malformed. Please use a valid token or generate a new one and try again.")
	}
	payload, err1 := b64.DecodeString(parts[1])
	sig, err2 := b64.DecodeString(parts[2])
	var c jwtClaims
	if err1 != nil || err2 != nil || json.Unmarshal(payload, &c) != nil {
		return tokenError("The provided access token is malformed. Please use a valid token or generate a new one and try again.")
	}
	if !hmac.Equal(sig, s.mac([]byte(parts[0]+"."+parts[1]))) {
		return tokenError("invalid signature")
	}
	if c.ExpiresAt != 0 && s.now().Unix() >= c.ExpiresAt {
		return tokenError("Your token has expired. Please re-authenticate.")
	}
	return c, nil
}

// authenticate resolves a bearer token to its row, with Infisical's
// answers: 403 TokenError for an expired or malformed JWT, 401 for a row
// that is revoked or gone and for one past its TTL or Max TTL by the
// database's clock (checked on every request).
func (s *Server) authenticate(reqID, token string) (*tokenRow, *answer) {
	if s.expired[token] {
		a := apiError(reqID, http.StatusForbidden, "TokenError", "Your token has expired. Please re-authenticate.")
		return nil, &a
	}
	row := s.static[token]
	if row == nil {
		if _, bad := s.verify(reqID, token); bad != nil {
			return nil, bad
		}
		row = s.issued[token]
	}
	if row == nil || row.revoked {
		a := apiError(reqID, http.StatusUnauthorized, "UnauthorizedError", "No identity access token found")
		return nil, &a
	}
	if msg := s.lapsed(row); msg != "" {
		a := apiError(reqID, http.StatusUnauthorized, "UnauthorizedError", msg)
		return nil, &a
	}
	return row, nil
}

// lapsed is validateAccessTokenExp: the row's own TTL and Max TTL.
func (s *Server) lapsed(row *tokenRow) string {
	now := s.now()
	last := row.created
	if !row.renewed.IsZero() {
		last = row.renewed
	}
	if row.ttl > 0 && now.After(last.Add(row.ttl)) {
		return "Failed to renew MI access token due to TTL expiration"
	}
	if row.maxTTL > 0 && now.After(row.created.Add(row.maxTTL)) {
		return "Failed to renew MI access token due to Max TTL expiration"
	}
	return ""
}

func (s *Server) loginAnswer(row *tokenRow) answer {
	return jsonAnswer(http.StatusOK, map[string]any{
		"accessToken": s.sign(row), "expiresIn": int64(row.ttl / time.Second),
		"accessTokenMaxTTL": int64(row.maxTTL / time.Second), "tokenType": "Bearer",
	})
}

func (s *Server) newRow(p *principal) *tokenRow {
	return &tokenRow{id: s.id(), p: p, created: s.now(), ttl: s.ttl, maxTTL: s.maxTTL}
}

// loginUniversal is identity-ua-service's login: an unknown client ID is
// refused without counting; a locked identity is refused whatever the
// secret; a wrong secret takes the lockout lock, counts, and locks the
// identity when the count reaches the threshold (that attempt itself still
// gets "Invalid credentials"); the right secret clears the count.
func (s *Server) loginUniversal(r *http.Request, reqID string) answer {
	id, secret, bad := loginFields(r, reqID, "clientId", "clientSecret")
	if bad != nil {
		return *bad
	}
	id, secret = strings.TrimSpace(id), strings.TrimSpace(secret)
	s.mu.Lock()
	defer s.mu.Unlock()
	ua := s.ua[id]
	if ua == nil {
		return apiError(reqID, http.StatusUnauthorized, "UnauthorizedError", "Invalid credentials")
	}
	now := s.now()
	if now.Before(ua.lockedUntil) {
		return apiError(reqID, http.StatusUnauthorized, "UnauthorizedError", "This identity auth method is temporarily locked, please try again later")
	}
	cs := ua.secretFor(secret)
	if cs == nil {
		if s.lockThreshold <= 0 {
			return apiError(reqID, http.StatusUnauthorized, "UnauthorizedError", "Invalid credentials")
		}
		if s.contention > 0 {
			s.contention--
			return apiError(reqID, http.StatusTooManyRequests, "RateLimitExceeded", "Failed to acquire lock: rate limit exceeded")
		}
		if !now.Before(ua.resetAt) {
			ua.failures = 0
		}
		ua.failures++
		// The record's TTL is rewritten on every failure: the window slides.
		ua.resetAt = now.Add(s.lockReset)
		if ua.failures >= s.lockThreshold {
			ua.lockedUntil = now.Add(s.lockDuration)
			ua.failures = 0
		}
		return apiError(reqID, http.StatusUnauthorized, "UnauthorizedError", "Invalid credentials")
	}
	ua.failures = 0
	if cs.ttl > 0 && !now.Before(cs.created.Add(cs.ttl)) {
		cs.revoked = true
		return apiError(reqID, http.StatusUnauthorized, "UnauthorizedError", "Access denied due to expired client secret")
	}
	if cs.limit > 0 && cs.uses >= cs.limit {
		cs.revoked = true
		return apiError(reqID, http.StatusUnauthorized, "UnauthorizedError", "Access denied due to client secret usage limit reached")
	}
	cs.uses++
	ua.ident.lastLogin, ua.ident.lastMethod = now.UTC(), "universal-auth"
	row := s.newRow(ua.p)
	if ua.ownTTL {
		row.ttl, row.maxTTL = ua.ttl, ua.maxTTL
	}
	return s.loginAnswer(row)
}

// secretFor is the client secret that is value and not revoked: a revoked
// secret logs in no more, and counts as a wrong one.
func (ua *uaConfig) secretFor(value string) *clientSecret {
	for _, cs := range ua.secrets {
		if !cs.revoked && cs.value == value {
			return cs
		}
	}
	return nil
}

func (s *Server) loginKubernetes(r *http.Request, reqID string) answer {
	id, jwt, bad := loginFields(r, reqID, "identityId", "jwt")
	if bad != nil {
		return *bad
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.k8s[id]
	if k == nil {
		return apiError(reqID, http.StatusNotFound, "NotFound", "Kubernetes auth method not found for identity, did you configure Kubernetes auth?")
	}
	if k.jwt != jwt {
		return apiError(reqID, http.StatusUnauthorized, "UnauthorizedError", "Access denied: Kubernetes token review failed")
	}
	return s.loginAnswer(s.newRow(k.p))
}

// loginFields decodes a login body and requires its two string fields.
func loginFields(r *http.Request, reqID, idField, credField string) (id, cred string, bad *answer) {
	var in map[string]any
	if a := readBody(r, reqID, &in); a != nil {
		return "", "", a
	}
	id, _ = in[idField].(string)
	cred, _ = in[credField].(string)
	if id == "" {
		a := validation(reqID, idField)
		return "", "", &a
	}
	if cred == "" {
		a := validation(reqID, credField)
		return "", "", &a
	}
	return id, cred, nil
}

// renew is renewAccessToken: the JWT is verified first (so an expired one
// cannot be renewed), then the row, then the TTLs; a renew that would end
// past the Max TTL is refused. A success hands out a new JWT for the same
// row; the old one stays valid until its own exp.
func (s *Server) renew(r *http.Request, reqID string) answer {
	var in struct {
		AccessToken string `json:"accessToken"`
	}
	if a := readBody(r, reqID, &in); a != nil {
		return *a
	}
	tok := strings.TrimSpace(in.AccessToken)
	if tok == "" {
		return validation(reqID, "accessToken")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	row, bad := s.authenticate(reqID, tok)
	if bad != nil {
		return *bad
	}
	now := s.now()
	if row.maxTTL > 0 && now.Add(row.ttl).After(row.created.Add(row.maxTTL)) {
		row.revoked = true
		return apiError(reqID, http.StatusUnauthorized, "UnauthorizedError", "Failed to renew MI access token past its Max TTL expiration")
	}
	row.renewed = now
	return s.loginAnswer(row)
}

func (s *Server) revoke(r *http.Request, reqID string) answer {
	var in struct {
		AccessToken string `json:"accessToken"`
	}
	if a := readBody(r, reqID, &in); a != nil {
		return *a
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	row := s.rowOf(strings.TrimSpace(in.AccessToken))
	if row == nil || row.revoked {
		return apiError(reqID, http.StatusUnauthorized, "UnauthorizedError", "No identity access token found")
	}
	row.revoked = true
	return jsonAnswer(http.StatusOK, map[string]any{"message": "Successfully revoked access token"})
}

// withPrincipal runs h under the lock for a request with a valid Bearer token.
func (s *Server) withPrincipal(r *http.Request, reqID string, h func(*http.Request, string, *principal) answer) answer {
	h2, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	tok := strings.TrimSpace(h2)
	if !ok || tok == "" {
		return apiError(reqID, http.StatusUnauthorized, "UnauthorizedError", "Token missing")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	row, bad := s.authenticate(reqID, tok)
	if bad != nil {
		return *bad
	}
	return h(r, reqID, row.p)
}
