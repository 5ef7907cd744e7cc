package infisical

import (
	"context"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// retryPolicy tunes retries of network errors, 429, 502, 503 and 504.
// Other statuses (400, 401, 403, 404, 422, ...) are never retried: asking again
// cannot change the answer, and repeated bad logins trip Infisical's lockout.
//
// A 429, or a 503 with Retry-After, is the server saying "come back later",
// not a failure: it does not count against MaxAttempts, and the caller's ctx
// deadline bounds how long the client keeps coming back. The wait is shared by
// the whole Client (see gate).
type retryPolicy struct {
	// Base is the first backoff ceiling; default 100ms. Backoff is full jitter:
	// a uniform wait in [0, min(Max, Base·2^attempt)).
	Base time.Duration
	// Max caps one backoff; default 2s.
	Max time.Duration
	// MaxAttempts counts the first try plus retries of failures: network
	// errors, 502, 504, 503 without Retry-After, 429 without Retry-After.
	// Default 8, so that a dead server ends even without a deadline; the
	// caller's ctx deadline usually ends retrying first.
	MaxAttempts int
	// RetryAfterJitter is the smallest jitter window added to a server's
	// Retry-After (the window is at least Retry-After itself, see
	// gateJitter); default 500ms. It never runs past the ctx deadline.
	RetryAfterJitter time.Duration
	// MaxRetryAfterJitter caps that window; default 8s, so that a long
	// Retry-After is not stretched by as much again.
	MaxRetryAfterJitter time.Duration
}

// maxThrottledNoDeadline bounds "come back later" answers for a ctx without a
// deadline, the one case where nothing else would; every caller in
// secret-init has --timeout.
const maxThrottledNoDeadline = 64

func (p retryPolicy) withDefaults() retryPolicy {
	if p.Base <= 0 {
		p.Base = 100 * time.Millisecond
	}
	if p.Max <= 0 {
		p.Max = 2 * time.Second
	}
	if p.Max < p.Base {
		p.Max = p.Base
	}
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = 8
	}
	if p.RetryAfterJitter <= 0 {
		p.RetryAfterJitter = 500 * time.Millisecond
	}
	if p.MaxRetryAfterJitter <= 0 {
		p.MaxRetryAfterJitter = 8 * time.Second
	}
	if p.MaxRetryAfterJitter < p.RetryAfterJitter {
		p.MaxRetryAfterJitter = p.RetryAfterJitter
	}
	return p
}

// delay picks the backoff before retrying a failure (not a Retry-After: the
// gate handles those). It never takes more than half of the time left
// before ctx's deadline, so that a long draw shortens instead of ending the
// retries with time to spare, and the next attempt has time to be answered;
// ok is false only when no time is left.
func (p retryPolicy) delay(ctx context.Context, attempt int) (time.Duration, bool) {
	remaining := time.Duration(1<<62 - 1)
	if dl, has := ctx.Deadline(); has {
		remaining = time.Until(dl)
	}
	if remaining <= 0 {
		return 0, false
	}
	ceiling := p.Base << min(attempt, 30)
	if ceiling > p.Max || ceiling <= 0 {
		ceiling = p.Max
	}
	return min(rand.N(ceiling+1), remaining/2), true
}

// parseRetryAfter reads delta-seconds or an HTTP date; 0 means absent or
// unusable, and the usual backoff applies.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		if n > 24*3600 {
			n = 24 * 3600
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}
