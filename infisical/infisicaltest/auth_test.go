package infisicaltest_test

import (
	"strings"
	"testing"
	"time"

	"secret-init/infisical/infisicaltest"
)

func login(t *testing.T, s *infisicaltest.Server, id, secret string) reply {
	t.Helper()
	return call(t, s, "POST", "/api/v1/auth/universal-auth/login", nil, map[string]string{"clientId": id, "clientSecret": secret}, "")
}

const lockedMessage = "This identity auth method is temporarily locked, please try again later"

// TestLockout follows identity-ua-service's login: three failures within
// 30 s of each other lock the identity for 300 s, the right secret
// included; the clock is moved, not waited for.
func TestLockout(t *testing.T) {
	s := newServer(t)
	for i := range 3 {
		if r := login(t, s, "id", "wrong"); r.status != 401 || r.body["message"] != "Invalid credentials" {
			t.Fatalf("failure %d: %d %s", i+1, r.status, r.raw)
		}
	}
	if r := login(t, s, "id", "secret"); r.status != 401 || r.body["message"] != lockedMessage {
		t.Fatalf("right secret while locked: %d %s", r.status, r.raw)
	}
	s.AdvanceClock(299 * time.Second)
	if r := login(t, s, "id", "secret"); r.status != 401 {
		t.Fatalf("still locked at 299 s: %d", r.status)
	}
	s.AdvanceClock(2 * time.Second)
	if r := login(t, s, "id", "secret"); r.status != 200 {
		t.Fatalf("after the lock: %d %s", r.status, r.raw)
	}

	// The count lapses 30 s after the last failure, each failure moving it.
	for _, step := range []time.Duration{0, 20 * time.Second, 20 * time.Second, 31 * time.Second} {
		s.AdvanceClock(step)
		login(t, s, "id", "wrong")
	}
	if r := login(t, s, "id", "secret"); r.status != 401 {
		t.Errorf("three failures 20 s apart did not lock: %d", r.status)
	}
	s.ClearLockouts()
	login(t, s, "id", "wrong")
	login(t, s, "id", "wrong")
	s.AdvanceClock(31 * time.Second)
	login(t, s, "id", "wrong")
	if r := login(t, s, "id", "secret"); r.status != 200 {
		t.Errorf("failures more than 30 s apart locked: %d", r.status)
	}
	// The right secret clears the count.
	login(t, s, "id", "wrong")
	login(t, s, "id", "wrong")
	login(t, s, "id", "secret")
	login(t, s, "id", "wrong")
	if r := login(t, s, "id", "secret"); r.status != 200 {
		t.Errorf("a success did not clear the count: %d", r.status)
	}
	// Unknown client IDs are refused without counting anywhere.
	for range 5 {
		login(t, s, "nobody", "x")
	}
	if r := login(t, s, "id", "secret"); r.status != 200 {
		t.Errorf("unknown client ids locked a known one: %d", r.status)
	}

	// Another identity is not affected; a lock ends early when cleared.
	s.AddUniversalIdentity("other", "other-secret")
	for range 3 {
		login(t, s, "other", "nope")
	}
	if r := login(t, s, "id", "secret"); r.status != 200 {
		t.Errorf("the lock of one identity locked another: %d", r.status)
	}
	s.ClearLockouts()
	if r := login(t, s, "other", "other-secret"); r.status != 200 {
		t.Errorf("after ClearLockouts: %d", r.status)
	}

	// The durations are knobs; 0 turns lockout off.
	s.SetLockout(2, time.Second, 10*time.Second)
	login(t, s, "id", "wrong")
	login(t, s, "id", "wrong")
	if r := login(t, s, "id", "secret"); r.body["message"] != lockedMessage {
		t.Errorf("custom threshold: %s", r.raw)
	}
	s.AdvanceClock(11 * time.Second)
	s.SetLockout(0, 0, 0)
	for range 10 {
		login(t, s, "id", "wrong")
	}
	if r := login(t, s, "id", "secret"); r.status != 200 {
		t.Errorf("with lockout off: %d", r.status)
	}
}

// TestLockContention: a failed login that cannot take the lockout lock is
// a 429 without Retry-After.
func TestLockContention(t *testing.T) {
	s := newServer(t)
	s.LockContention(1)
	r := login(t, s, "id", "wrong")
	if r.status != 429 || r.body["message"] != "Failed to acquire lock: rate limit exceeded" || r.header.Get("Retry-After") != "" {
		t.Fatalf("contention: %d %q %s", r.status, r.header.Get("Retry-After"), r.raw)
	}
	if r := login(t, s, "id", "wrong"); r.status != 401 {
		t.Fatalf("after contention: %d", r.status)
	}
	if r := login(t, s, "id", "secret"); r.status != 200 {
		t.Fatalf("a right secret never takes the lock: %d", r.status)
	}
}

// TestTokenLifecycle: JWT expiry and malformed tokens are 403 TokenError;
// revoked tokens 401; renewal within the Max TTL.
func TestTokenLifecycle(t *testing.T) {
	s := newServer(t)
	s.SetSecret("dev", "/", "K", "v")
	list := func(tok string) reply {
		return call(t, s, "GET", "/api/v4/secrets", v4Query(s, "dev", "/"), nil, tok)
	}
	renew := func(tok string) reply {
		return call(t, s, "POST", "/api/v1/auth/token/renew", nil, map[string]string{"accessToken": tok}, "")
	}

	s.SetTokenTTL(time.Hour, 24*time.Hour)
	r := login(t, s, "id", "secret")
	if r.body["expiresIn"] != float64(3600) || r.body["accessTokenMaxTTL"] != float64(86400) {
		t.Fatalf("login: %s", r.raw)
	}
	tok := r.body["accessToken"].(string)

	// Renewal: a new JWT for the same row; the old one keeps working.
	s.AdvanceClock(30 * time.Minute)
	rn := renew(tok)
	fresh, _ := rn.body["accessToken"].(string)
	if rn.status != 200 || fresh == "" || fresh == tok || rn.body["expiresIn"] != float64(3600) {
		t.Fatalf("renew: %d %s", rn.status, rn.raw)
	}
	if list(tok).status != 200 || list(fresh).status != 200 {
		t.Fatal("after a renew both JWTs must work")
	}
	s.AdvanceClock(45 * time.Minute) // the first JWT's hour is over, the renewed one's is not
	if r := list(tok); r.status != 403 || r.body["error"] != "TokenError" || r.body["message"] != "Your token has expired. Please re-authenticate." {
		t.Fatalf("expired JWT: %d %s", r.status, r.raw)
	}
	if r := renew(tok); r.status != 403 {
		t.Fatalf("renewing an expired JWT: %d %s", r.status, r.raw)
	}
	if list(fresh).status != 200 {
		t.Fatal("the renewed JWT stopped working early")
	}
	// Renewals go on until one would end past the Max TTL: 24 h after the
	// login, so the last one that works is the one at 22 h 55 m (every 10
	// minutes from 1 h 25 m: 130 of them).
	var refused reply
	renewals := 0
	for range 200 {
		s.AdvanceClock(10 * time.Minute)
		if refused = renew(fresh); refused.status != 200 {
			break
		}
		fresh = refused.body["accessToken"].(string)
		renewals++
	}
	if refused.status != 401 || refused.body["message"] != "Failed to renew MI access token past its Max TTL expiration" || renewals != 130 {
		t.Fatalf("after %d renewals: %d %s", renewals, refused.status, refused.raw)
	}
	if r := list(fresh); r.status != 401 {
		t.Fatalf("a token refused renewal past its Max TTL is deleted: %d", r.status)
	}

	// Malformed and forged tokens.
	for tokStr, msg := range map[string]string{
		"not-a-jwt": "The provided access token is malformed. Please use a valid token or generate a new one and try again.",
		"a.b.c":     "The provided access token is malformed. Please use a valid token or generate a new one and try again.",
		tok[:strings.LastIndexByte(tok, '.')] + ".AAAA": "invalid signature",
	} {
		if r := list(tokStr); r.status != 403 || r.body["error"] != "TokenError" || r.body["message"] != msg {
			t.Errorf("%q: %d %s", tokStr, r.status, r.raw)
		}
	}

	// Revocation: the route and the knob; the JWT then gets 401.
	r2 := login(t, s, "id", "secret")
	tok2 := r2.body["accessToken"].(string)
	if r := call(t, s, "POST", "/api/v1/auth/token/revoke", nil, map[string]string{"accessToken": tok2}, ""); r.status != 200 {
		t.Fatalf("revoke: %d %s", r.status, r.raw)
	}
	if r := list(tok2); r.status != 401 || r.body["message"] != "No identity access token found" {
		t.Fatalf("revoked: %d %s", r.status, r.raw)
	}
	if r := renew(tok2); r.status != 401 {
		t.Fatalf("renew of a revoked token: %d", r.status)
	}

	// TTL 0: the JWT has no exp and the row never lapses.
	s.SetTokenTTL(0, 0)
	r3 := login(t, s, "id", "secret")
	if r3.body["expiresIn"] != float64(0) {
		t.Fatalf("TTL 0 login: %s", r3.raw)
	}
	s.AdvanceClock(1000 * 24 * time.Hour)
	if r := list(r3.body["accessToken"].(string)); r.status != 200 {
		t.Fatalf("a token without expiry expired: %d %s", r.status, r.raw)
	}
}
