package infisical_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"secret-init/infisical"
	"secret-init/infisical/infisicaltest"
)

// A server asking to come back later is not failing: nine 429s in a row (one
// more than MaxAttempts allows failures) still end in success before the
// deadline. The jitter is narrowed so that the test takes the server's own
// waits, ~9 s, not the fleet-sized spread.
func TestThrottleNotCountedAsAttempts(t *testing.T) {
	t.Parallel()
	s, c := fixture(t)
	c = newClient(t, s)
	c.SetRetry(infisical.RetryPolicy{
		Base: 10 * time.Millisecond, Max: 50 * time.Millisecond,
		RetryAfterJitter: 10 * time.Millisecond, MaxRetryAfterJitter: 50 * time.Millisecond,
	})
	s.FailNext(9, http.StatusTooManyRequests) // the login's first 429 included
	cx := ctx(t, 20*time.Second)
	if err := c.LoginUniversal(cx, clientID, clientSecret); err != nil {
		t.Fatalf("login: %v", err)
	}
	got, err := c.ListSecrets(cx, "/shared/db")
	if err != nil || len(got) != 2 {
		t.Fatalf("got %v, %v; want 2 secrets", got, err)
	}
	if n := c.Requests(); n != 11 {
		t.Fatalf("client sent %d requests, want 9 throttled + login + list = 11", n)
	}
}

// storm answers 429 with Retry-After: 1 to every list for d after the first
// list arrives, as a time-window rate limit does, and passes all else on.
type storm struct {
	next  http.Handler
	d     time.Duration
	mu    sync.Mutex
	first time.Time
	lists int
}

func (st *storm) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/api/v4/secrets" {
		st.mu.Lock()
		st.lists++
		if st.first.IsZero() {
			st.first = time.Now()
		}
		in := time.Since(st.first) < st.d
		st.mu.Unlock()
		if in {
			w.Header().Set("Retry-After", "1")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = w.Write([]byte(`{"statusCode":429,"message":"Rate limit exceeded","error":"RateLimitExceeded"}`))
			return
		}
	}
	st.next.ServeHTTP(w, r)
}

func (st *storm) count() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.lists
}

// One 429 seen by a client holds back all of its calls: parallel lists wait
// for the gate and go one at a time, instead of each hitting the server and
// each getting its own 429.
func TestThrottleSharedByParallelCalls(t *testing.T) {
	t.Parallel()
	run := func(t *testing.T, d, stagger time.Duration) (lists int) {
		s := infisicaltest.NewServer()
		t.Cleanup(s.Close)
		s.SetLatency(20 * time.Millisecond)
		s.AddUniversalIdentity(clientID, clientSecret)
		for i := range 8 {
			s.SetSecret("dev", fmt.Sprintf("/svc/%d", i), "K", fmt.Sprint(i))
		}
		st := &storm{next: s, d: d}
		hs := httptest.NewServer(st)
		t.Cleanup(hs.Close)
		c, err := infisical.New(infisical.Config{Addr: hs.URL, ProjectID: s.ProjectID(), Environment: "dev"})
		if err != nil {
			t.Fatal(err)
		}
		cx := ctx(t, 15*time.Second)
		if err := c.LoginUniversal(cx, clientID, clientSecret); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if i > 0 {
					time.Sleep(stagger)
				}
				got, err := c.ListSecrets(cx, fmt.Sprintf("/svc/%d", i))
				if err == nil && (len(got) != 1 || got[0].Value != fmt.Sprint(i)) {
					err = fmt.Errorf("folder %d: got %v", i, got)
				}
				errs[i] = err
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		return st.count()
	}
	// The first list's 429 comes back before the other seven are sent (as
	// after a login that got one): they queue behind it, and the storm is
	// over when the gate opens. Each list retrying on its own would cost
	// 1 + 7 429s + 8.
	t.Run("429 seen before the others are sent", func(t *testing.T) {
		t.Parallel()
		if n := run(t, 900*time.Millisecond, 100*time.Millisecond); n > 10 {
			t.Fatalf("server saw %d lists, want 1 (the 429) + 8 ≤ 10", n)
		}
	})
	// All eight are in flight when the 429s come: those eight are spent, but
	// each later round costs one probe, not eight. The storm outlasts the
	// first Retry-After, so lists retrying on their own would send a second
	// wave of eight 429s: 24 in all.
	t.Run("whole wave throttled", func(t *testing.T) {
		t.Parallel()
		if n := run(t, 1500*time.Millisecond, 0); n > 18 {
			t.Fatalf("server saw %d lists, want 8 (the wave) + ≤ 2 probes + 8 ≤ 18", n)
		}
	})
}

// The 429 that ends the client's wait past the deadline fails every call at
// once, including calls that were not sent yet, and names the status.
func TestThrottleBeyondDeadlineFailsFast(t *testing.T) {
	t.Parallel()
	s, c := fixture(t)
	s.RateLimit(0.2, 1) // after one request, the next must wait 5 s
	if _, err := c.ListSecrets(ctx(t, 5*time.Second), "/"); err != nil {
		t.Fatal(err)
	}
	cx := ctx(t, 2*time.Second)
	start := time.Now()
	_, err := c.ListSecrets(cx, "/shared/db")
	var ae *infisical.APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusTooManyRequests {
		t.Fatalf("err = %v, want the 429", err)
	}
	before := s.Count("GET", "/api/v4/secrets")
	// A new call on the same client is held by the gate: not sent at all.
	_, err2 := c.ListSecrets(cx, "/services/billing")
	if el := time.Since(start); el > time.Second {
		t.Fatalf("gave up after %v, want at once", el)
	}
	if !errors.As(err2, &ae) || ae.Status != http.StatusTooManyRequests {
		t.Fatalf("err = %v, want it to wrap the 429", err2)
	}
	if !strings.Contains(err2.Error(), "/services/billing") || !strings.Contains(err2.Error(), "not sent") ||
		!strings.Contains(err2.Error(), "Retry-After 5s is past the deadline") {
		t.Fatalf("err = %v, want it to name its folder and why it was not sent", err2)
	}
	if n := s.Count("GET", "/api/v4/secrets"); n != before {
		t.Fatalf("server saw %d more lists, want none", n-before)
	}
}

// A fleet of clients against one rate-limited server, as a deploy starting
// many containers: every one gets its secrets, and the 429s cost at most as
// many requests again as the work itself.
func TestThrottleFleet(t *testing.T) {
	t.Parallel()
	const clients, folders = 50, 8
	s := infisicaltest.NewServer()
	t.Cleanup(s.Close)
	s.AddUniversalIdentity(clientID, clientSecret)
	for i := range folders {
		s.SetSecret("dev", fmt.Sprintf("/f/%d", i), "K", fmt.Sprint(i))
	}
	s.RateLimit(100, 20)
	cx := ctx(t, 30*time.Second)
	var wg sync.WaitGroup
	errs := make(chan error, clients*folders)
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := newClient(t, s)
			if err := c.LoginUniversal(cx, clientID, clientSecret); err != nil {
				errs <- err
				return
			}
			var lw sync.WaitGroup
			for i := range folders {
				lw.Add(1)
				go func() {
					defer lw.Done()
					got, err := c.ListSecrets(cx, fmt.Sprintf("/f/%d", i))
					if err == nil && (len(got) != 1 || got[0].Value != fmt.Sprint(i)) {
						err = fmt.Errorf("folder %d: got %v", i, got)
					}
					if err != nil {
						errs <- err
					}
				}()
			}
			lw.Wait()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	reqs := s.Requests()
	n429 := 0
	for _, r := range reqs {
		if r.Status == http.StatusTooManyRequests {
			n429++
		}
	}
	t.Logf("%d requests, %d of them 429", len(reqs), n429)
	if limit := 2 * clients * (1 + folders); len(reqs) > limit {
		t.Fatalf("server saw %d requests (%d 429s), want ≤ %d", len(reqs), n429, limit)
	}
}
