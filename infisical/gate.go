package infisical

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"
)

// gate is shared by every request of one Client, so that a rate limit seen by
// one request holds back all of them. Without it, each of a prefetch's
// parallel lists learned of the limit on its own, and a throttled process spent
// up to one request per folder on every back-off round.
//
// It does two things:
//   - notBefore: after a 429 (or 503) with Retry-After, no request of this
//     client is sent before the server's wait plus jitter has passed, whether
//     it is a retry or a new call;
//   - limit: after any 429, only one request is in flight; every second
//     accepted answer in a row to requests sent after that 429 doubles the
//     limit, until it is lifted. A throttled client probes with one request,
//     not with all of its folders, and an unthrottled one never waits on the
//     gate at all.
type gate struct {
	mu sync.Mutex
	// earliest is now+Retry-After of the latest throttle: the server's own
	// wait, which is never shortened. notBefore adds this client's jitter.
	earliest, notBefore time.Time
	ra                  time.Duration // the Retry-After that set earliest
	cause               error         // the answer that set earliest, for callers that give up
	limit               int           // requests allowed in flight; 0 means no limit
	inflight            int
	// epoch counts throttles. An answer only says something about the current
	// state if its request was sent in the current epoch: a success that left
	// before the latest 429 came back does not reopen the limit, and a 429
	// that did does not count as a second throttle in a row.
	epoch uint64
	// streak counts throttles, less one per accepted answer since; it widens
	// the jitter (see gateJitter). Forgiving one throttle per success rather
	// than all of them keeps a client that alternates between 429 and 200,
	// as every client of a saturated server does, from probing at the
	// narrowest window again after each success.
	streak int
	// accepted counts accepted answers in a row since the limit last changed.
	accepted int
	// changed is closed and replaced whenever a slot frees or the limit grows,
	// waking the requests that queue for a slot.
	changed chan struct{}
}

// acceptedPerDoubling is how many accepted answers in a row double the limit.
// Every 429 while n requests are in flight wastes up to n-1 of them (they are
// already sent), and one success after a wait may only mean the bucket
// refilled a token meanwhile; two in a row say there is room. In the scale
// bench this cut the 429s of requests already in flight by a third against
// doubling on every success, for a few round trips of 25 ms.
const acceptedPerDoubling = 2

// openLimit is where doubling stops and the limit is lifted: far above any
// caller's parallelism (prefetch lists at most 8 folders at once), so reaching
// it means the client is back to normal.
const openLimit = 64

// maxJitterShift caps how far consecutive throttles widen the jitter window:
// at most 8 × Retry-After.
const maxJitterShift = 3

func newGate() *gate { return &gate{changed: make(chan struct{})} }

// gateDeadlineError says that the server's wait ends after ctx's deadline; the
// request gives up at once instead of sleeping until the deadline only to fail.
type gateDeadlineError struct {
	ra    time.Duration
	cause error
}

func (e *gateDeadlineError) Error() string {
	return fmt.Sprintf("Retry-After %s is past the deadline", e.ra)
}

// acquire waits until the gate is open and a slot is free, then takes the
// slot; release must follow. It returns the epoch the request is sent in.
// It never sleeps past ctx's deadline: if the server's own wait ends after
// it, acquire fails at once with *gateDeadlineError; if only the jitter does,
// the jitter is cut to half of what is left after the server's wait.
func (g *gate) acquire(ctx context.Context) (uint64, error) {
	for {
		g.mu.Lock()
		now := time.Now()
		if now.Before(g.notBefore) {
			until := g.notBefore
			if dl, ok := ctx.Deadline(); ok && !until.Before(dl) {
				if !g.earliest.Before(dl) {
					err := &gateDeadlineError{ra: g.ra, cause: g.cause}
					g.mu.Unlock()
					return 0, err
				}
				// The jitter is a courtesy to other clients; the server's own
				// wait still fits, so keep some of the jitter and go.
				until = g.earliest.Add(dl.Sub(g.earliest) / 2)
			}
			if now.Before(until) {
				g.mu.Unlock()
				if err := sleepUntil(ctx, until); err != nil {
					return 0, err
				}
				// The gate may have moved while we slept: look again.
				continue
			}
		}
		if g.limit > 0 && g.inflight >= g.limit {
			ch := g.changed
			g.mu.Unlock()
			select {
			case <-ctx.Done():
				return 0, ctx.Err()
			case <-ch:
			}
			continue
		}
		g.inflight++
		e := g.epoch
		g.mu.Unlock()
		return e, nil
	}
}

// release gives the slot back and learns from the answer: status 0 is no
// answer, retryAfter 0 is no Retry-After header, cause is the answer's error.
func (g *gate) release(sent uint64, status int, retryAfter time.Duration, cause error, p retryPolicy) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.inflight--
	switch {
	case status == http.StatusTooManyRequests || (status == http.StatusServiceUnavailable && retryAfter > 0):
		if sent == g.epoch {
			// The first throttle of a request sent after the previous one
			// cleared: the server is still over its limit. Answers to
			// requests already in flight are the same event, not a new one.
			g.epoch++
			g.streak++
		}
		g.limit, g.accepted = 1, 0
		if retryAfter > 0 {
			now := time.Now()
			if e := now.Add(retryAfter); e.After(g.earliest) {
				g.earliest, g.ra, g.cause = e, retryAfter, cause
			}
			if nb := now.Add(retryAfter + gateJitter(retryAfter, g.streak, p)); nb.After(g.notBefore) {
				g.notBefore = nb
			}
		}
	case status >= 200 && status < 500:
		// Any answer but a throttle or a server failure means the server
		// took the request at this rate (a 404 folder included).
		if sent == g.epoch {
			g.streak = max(g.streak-1, 0)
			if g.limit > 0 {
				g.accepted++
				if g.accepted >= acceptedPerDoubling {
					g.limit, g.accepted = g.limit*2, 0
					if g.limit >= openLimit {
						g.limit = 0
					}
				}
			}
		}
	}
	// A slot is free either way; wake one round of queued requests.
	close(g.changed)
	g.changed = make(chan struct{})
}

// gateJitter is the random extra wait after a server's Retry-After.
//
// Uniform in [0, W), W = max(Retry-After, RetryAfterJitter) << min(streak-1, 3),
// at most MaxRetryAfterJitter: the first throttle waits Retry-After × [1, 2),
// and each further throttle (less one per success) doubles the window, up to
// 8 × Retry-After.
//
// Why this wide: Infisical answers Retry-After in whole seconds, so every
// client throttled in the same second is told the same instant. A window as
// wide as Retry-After spreads them over a whole period instead of a wave at
// its start (the old ≤ 0.5 s made visible waves).
//
// Why growing: a fleet of N clients that each probe once per period sends N
// probes per period whatever the server accepts; when N is larger, most
// probes are 429s that only keep the bucket empty. Doubling per throttle, as
// Ethernet and TCP back off, lowers the fleet's probe rate until it fits
// without anyone knowing N (scale bench: 3413 requests against 3981 with a
// fixed Retry-After × [1, 2)). The caps keep a starved client from waiting
// much longer than its peers, and acquire never lets it wait past the
// deadline.
func gateJitter(retryAfter time.Duration, streak int, p retryPolicy) time.Duration {
	w := max(retryAfter, p.RetryAfterJitter)
	w <<= min(max(streak-1, 0), maxJitterShift)
	w = min(w, p.MaxRetryAfterJitter)
	if w <= 0 {
		return 0
	}
	return rand.N(w)
}

func sleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return nil
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-tm.C:
		return nil
	}
}
