package infisical

import (
	"context"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// RetryPolicy tunes retries of network errors, 429, 502, 503 and 504.
// Other statuses (400, 401, 403, 404, 422, ...) are never retried: asking again
// cannot change the answer, and repeated bad logins trip Infisical's lockout.
type RetryPolicy struct {
	// Base is the first backoff ceiling; default 100ms. Backoff is full jitter:
	// a uniform wait in [0, min(Max, Base·2^attempt)).
	Base time.Duration
	// Max caps one backoff; default 2s.
	Max time.Duration
	// MaxAttempts counts the first try; default 8. The caller's ctx deadline
	// usually ends retrying first.
	MaxAttempts int
	// RetryAfterJitter is the largest random extra added to a server's
	// Retry-After, so that many clients told "1" do not return in one wave;
	// default 500ms. For a Retry-After above 2s the extra may grow to a
	// quarter of it. It never runs past the ctx deadline.
	RetryAfterJitter time.Duration
}

func (p RetryPolicy) withDefaults() RetryPolicy {
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
	return p
}

// delay picks the wait before the next attempt. ok is false when that wait
// would end after ctx's deadline; the caller then gives up at once.
func (p RetryPolicy) delay(ctx context.Context, attempt int, retryAfter time.Duration) (time.Duration, bool) {
	remaining := time.Duration(1<<62 - 1)
	if dl, has := ctx.Deadline(); has {
		remaining = time.Until(dl)
	}
	if retryAfter > 0 {
		if retryAfter >= remaining {
			return 0, false
		}
		j := p.RetryAfterJitter
		if q := retryAfter / 4; q > j && retryAfter > 2*time.Second {
			j = q
		}
		wait := retryAfter + rand.N(j)
		if wait >= remaining {
			// The jitter is a courtesy; the server's own wait still fits.
			wait = retryAfter + (remaining-retryAfter)/2
		}
		return wait, true
	}
	ceiling := p.Base << min(attempt, 30)
	if ceiling > p.Max || ceiling <= 0 {
		ceiling = p.Max
	}
	wait := rand.N(ceiling + 1)
	if wait >= remaining {
		return 0, false
	}
	return wait, true
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
