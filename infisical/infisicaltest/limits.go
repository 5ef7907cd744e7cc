package infisicaltest

import (
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"math"
	"net"
	"net/http"
	"strconv"
	"time"
)

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

// fixedWindow is @fastify/rate-limit with a store keyed by caller address:
// the first request of a caller opens a window of the given length; the
// window's count only grows until it ends.
type fixedWindow struct {
	max    int
	length time.Duration
	by     map[string]*windowCount
}

type windowCount struct {
	n    int
	ends time.Time
}

// windowState is what one request learnt of its caller's window.
type windowState struct {
	max, remaining int
	reset          int // whole seconds until the window ends
	over           bool
}

func newFixedWindow(max int, length time.Duration) *fixedWindow {
	if length <= 0 {
		length = time.Minute
	}
	return &fixedWindow{max: max, length: length, by: map[string]*windowCount{}}
}

func (fw *fixedWindow) take(caller string, now time.Time) *windowState {
	c := fw.by[caller]
	if c == nil || !now.Before(c.ends) {
		c = &windowCount{ends: now.Add(fw.length)}
		fw.by[caller] = c
	}
	c.n++
	reset := int(math.Ceil(c.ends.Sub(now).Seconds()))
	return &windowState{max: fw.max, remaining: max(fw.max-c.n, 0), reset: max(reset, 1), over: c.n > fw.max}
}

// headers are the rate-limit headers @fastify/rate-limit adds to every
// answer, and retry-after to a refusal.
func (ws *windowState) headers(h http.Header) {
	h.Set("X-Ratelimit-Limit", strconv.Itoa(ws.max))
	h.Set("X-Ratelimit-Remaining", strconv.Itoa(ws.remaining))
	h.Set("X-Ratelimit-Reset", strconv.Itoa(ws.reset))
	if ws.over {
		h.Set("Retry-After", strconv.Itoa(ws.reset))
	}
}

// callerIP is the address a limiter keys on: the client's IP, whatever its
// port.
func callerIP(remote string) string {
	if host, _, err := net.SplitHostPort(remote); err == nil {
		return host
	}
	return remote
}

// rateLimited is Infisical's 429 (RateLimitError through its error handler).
func rateLimited(reqID string, seconds int) answer {
	a := apiError(reqID, http.StatusTooManyRequests, "RateLimitExceeded",
		fmt.Sprintf("Rate limit exceeded. Please try again in %d seconds", seconds))
	a.header = http.Header{}
	a.header.Set("Retry-After", strconv.Itoa(seconds))
	a.header.Set("X-Ratelimit-Reset", strconv.Itoa(seconds))
	a.header.Set("X-Ratelimit-Remaining", "0")
	return a
}

// etag is @fastify/etag's default: a strong tag, the base64 SHA-1 of the
// body as sent.
func etag(body []byte) string {
	sum := sha1.Sum(body)
	return `"` + base64.StdEncoding.EncodeToString(sum[:]) + `"`
}

// notModified is @fastify/etag's comparison, plain string equality in
// three forms: no lists, no "*", no trimming. Like the plugin it looks at
// neither the method nor the status.
func notModified(ifNoneMatch, tag string) bool {
	if ifNoneMatch == "" {
		return false
	}
	return ifNoneMatch == tag || ifNoneMatch == "W/"+tag || "W/"+ifNoneMatch == tag
}
