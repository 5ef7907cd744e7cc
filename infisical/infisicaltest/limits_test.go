package infisicaltest_test

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// clientFrom is an HTTP client whose connections leave from the loopback
// address ip, so that a test has several callers on one machine.
func clientFrom(t *testing.T, ip string) *http.Client {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	tr := &http.Transport{DialContext: d.DialContext}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

func get(t *testing.T, c *http.Client, url string, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer tok")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

// TestRateLimitWindow is Infisical Cloud's limiter: a fixed window per
// caller address, its headers on every answer, the 429 with retry-after.
func TestRateLimitWindow(t *testing.T) {
	s := newServer(t)
	s.RateLimitWindow(3, time.Minute)
	url := s.URL + "/api/v4/secrets?" + v4Query(s, "dev", "/").Encode()
	a, b := clientFrom(t, "127.0.0.1"), clientFrom(t, "127.0.0.2")
	for i := range 3 {
		resp, body := get(t, a, url)
		if resp.StatusCode != 200 || resp.Header.Get("X-Ratelimit-Limit") != "3" ||
			resp.Header.Get("X-Ratelimit-Remaining") != strconv.Itoa(2-i) || resp.Header.Get("X-Ratelimit-Reset") == "" {
			t.Fatalf("request %d: %d %v %s", i+1, resp.StatusCode, resp.Header, body)
		}
	}
	s.AdvanceClock(20 * time.Second)
	resp, body := get(t, a, url)
	ra, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
	if resp.StatusCode != 429 || ra < 39 || ra > 40 || resp.Header.Get("X-Ratelimit-Remaining") != "0" ||
		string(body) == "" || !jsonHas(body, "error", "RateLimitExceeded") || !jsonHas(body, "message", "Rate limit exceeded. Please try again in "+strconv.Itoa(ra)+" seconds") {
		t.Fatalf("over the limit: %d Retry-After=%q %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	// Another address has its own window; /api/status counts for nobody.
	if resp, _ := get(t, b, url); resp.StatusCode != 200 {
		t.Errorf("another caller: %d", resp.StatusCode)
	}
	if resp, _ := get(t, a, s.URL+"/api/status"); resp.StatusCode != 200 || resp.Header.Get("X-Ratelimit-Limit") != "" {
		t.Errorf("/api/status: %d %v", resp.StatusCode, resp.Header)
	}
	// The window is fixed: it ends 60 s after it began, whatever came since.
	s.AdvanceClock(40 * time.Second)
	if resp, body := get(t, a, url); resp.StatusCode != 200 || resp.Header.Get("X-Ratelimit-Remaining") != "2" {
		t.Errorf("next window: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	s.RateLimitWindow(0, 0)
	if resp, _ := get(t, a, url); resp.Header.Get("X-Ratelimit-Limit") != "" {
		t.Error("limit headers after removing the limit")
	}
}

// TestETag is @fastify/etag: every answer with a body carries the base64
// SHA-1 of it as a strong tag, and a GET whose If-None-Match is that tag,
// or its weak form, gets 304 with no body.
func TestETag(t *testing.T) {
	s := newServer(t)
	s.SetSecret("dev", "/", "K", "v1")
	c := http.DefaultClient
	url := s.URL + "/api/v4/secrets?" + v4Query(s, "dev", "/").Encode()
	resp, body := get(t, c, url)
	sum := sha1.Sum(body)
	tag := `"` + base64.StdEncoding.EncodeToString(sum[:]) + `"`
	if resp.StatusCode != 200 || resp.Header.Get("Etag") != tag {
		t.Fatalf("etag %q, want %q", resp.Header.Get("Etag"), tag)
	}
	for _, inm := range []string{tag, "W/" + tag} {
		resp, body := get(t, c, url, "If-None-Match", inm)
		if resp.StatusCode != 304 || len(body) != 0 || resp.Header.Get("Etag") != tag {
			t.Errorf("If-None-Match %s: %d %q %v", inm, resp.StatusCode, body, resp.Header)
		}
	}
	for _, inm := range []string{tag + ", " + tag, "*", `"other"`} {
		if resp, _ := get(t, c, url, "If-None-Match", inm); resp.StatusCode != 200 {
			t.Errorf("If-None-Match %s: %d, want 200 (plain string comparison)", inm, resp.StatusCode)
		}
	}
	s.SetSecret("dev", "/", "K", "v2")
	if resp, _ := get(t, c, url, "If-None-Match", tag); resp.StatusCode != 200 || resp.Header.Get("Etag") == tag {
		t.Errorf("after a change: %d %q", resp.StatusCode, resp.Header.Get("Etag"))
	}
	// Errors are tagged too; their reqId makes every tag new.
	r1, _ := get(t, c, s.URL+"/api/v9/x")
	r2, _ := get(t, c, s.URL+"/api/v9/x", "If-None-Match", r1.Header.Get("Etag"))
	if r1.Header.Get("Etag") == "" || r2.StatusCode != 404 {
		t.Errorf("error answers: %q, then %d", r1.Header.Get("Etag"), r2.StatusCode)
	}
	// The answer of a proxy in front of Infisical carries none.
	s.FailNext(1, 502)
	if r, _ := get(t, c, url); r.StatusCode != 502 || r.Header.Get("Etag") != "" {
		t.Errorf("proxy answer: %d %q", r.StatusCode, r.Header.Get("Etag"))
	}
}

// jsonHas reports whether body is a JSON object whose field is value.
func jsonHas(body []byte, field, value string) bool {
	var m map[string]any
	return json.Unmarshal(body, &m) == nil && m[field] == value
}
