package infisical

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"
)

func TestAPIBase(t *testing.T) {
	tests := []struct {
		in, want string
		wantErr  bool
	}{
		{in: "http://127.0.0.1:8080", want: "http://127.0.0.1:8080/api"},
		{in: "http://127.0.0.1:8080/", want: "http://127.0.0.1:8080/api"},
		{in: "https://app.infisical.com/api", want: "https://app.infisical.com/api"},
		{in: "https://example.com/infisical/api/", want: "https://example.com/infisical/api"},
		{in: " https://example.com/infisical ", want: "https://example.com/infisical/api"},
		{in: "", wantErr: true},
		{in: "ftp://example.com", wantErr: true},
		{in: "127.0.0.1:8080", wantErr: true},
		{in: "https://user:pw@example.com", wantErr: true},
	}
	for _, tt := range tests {
		got, err := apiBase(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("apiBase(%q) = %q, %v; want %q, err=%v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"1", time.Second},
		{" 7 ", 7 * time.Second},
		{"0", 0},
		{"-3", 0},
		{"soon", 0},
		{now.Add(3 * time.Second).Format(http.TimeFormat), 3 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
		{"99999999", 24 * time.Hour},
	}
	for _, tt := range tests {
		if got := parseRetryAfter(tt.in, now); got != tt.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestDelay(t *testing.T) {
	p := retryPolicy{}.withDefaults()
	long, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	short, cancel2 := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel2()

	tests := []struct {
		name    string
		ctx     context.Context
		attempt int
		lo, hi  time.Duration
	}{
		{"first backoff", long, 0, 0, p.Base},
		{"third backoff", long, 2, 0, 4 * p.Base},
		{"backoff capped", long, 20, 0, p.Max},
		// A 2s ceiling against 0.5s left: a draw past the deadline is cut to
		// half of what is left, so that the last attempt still goes out.
		{"backoff beyond deadline", short, 30, 0, 250 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Randomised: sample enough to see the bounds hold.
			for range 200 {
				d, ok := p.delay(tt.ctx, tt.attempt)
				if !ok {
					t.Fatal("delay refused a wait with time left")
				}
				if d < tt.lo || d > tt.hi {
					t.Fatalf("delay = %v, want within [%v, %v]", d, tt.lo, tt.hi)
				}
			}
		})
	}
	gone, cancel3 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel3()
	if _, ok := p.delay(gone, 0); ok {
		t.Error("delay accepted a wait with no time left")
	}
}

func TestGateJitter(t *testing.T) {
	p := retryPolicy{}.withDefaults()
	tests := []struct {
		ra     time.Duration
		streak int
		hi     time.Duration // exclusive
	}{
		{time.Second, 1, time.Second},                   // Retry-After × [1, 2)
		{time.Second, 2, 2 * time.Second},               // one more throttle in a row: twice as wide
		{time.Second, 3, 4 * time.Second},               //
		{time.Second, 9, 8 * time.Second},               // capped at 8 × Retry-After
		{100 * time.Millisecond, 1, p.RetryAfterJitter}, // a short Retry-After still spreads
		{time.Minute, 1, p.MaxRetryAfterJitter},         // a long one is not stretched by as much again
	}
	for _, tt := range tests {
		var lo, hi time.Duration = time.Hour, 0
		for range 2000 {
			j := gateJitter(tt.ra, tt.streak, p)
			lo, hi = min(lo, j), max(hi, j)
			if j < 0 || j >= tt.hi {
				t.Fatalf("gateJitter(%v, %d) = %v, want in [0, %v)", tt.ra, tt.streak, j, tt.hi)
			}
		}
		// Wide enough to spread a fleet: samples must cover most of the window.
		if lo > tt.hi/10 || hi < tt.hi*9/10 {
			t.Errorf("gateJitter(%v, %d) spans [%v, %v], want most of [0, %v)", tt.ra, tt.streak, lo, hi, tt.hi)
		}
	}
}

// TestGateLimit drives the gate directly: a 429 closes it to one request in
// flight, answers to requests sent before that 429 change nothing, and every
// second success in a row doubles the limit until it is lifted.
func TestGateLimit(t *testing.T) {
	p := retryPolicy{}.withDefaults()
	g := newGate()
	cx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	take := func() uint64 {
		t.Helper()
		e, err := g.acquire(cx)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	state := func(limit, streak int) {
		t.Helper()
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.limit != limit || g.streak != streak {
			t.Fatalf("limit %d, streak %d; want %d, %d", g.limit, g.streak, limit, streak)
		}
	}
	// Three in flight before any 429 is known.
	a, b, c := take(), take(), take()
	g.release(a, http.StatusTooManyRequests, 0, nil, p) // no Retry-After: no wait, but the limit
	state(1, 1)
	g.release(b, http.StatusTooManyRequests, 0, nil, p) // already in flight: the same event
	g.release(c, http.StatusOK, 0, nil, p)              // sent before the 429: says nothing
	state(1, 1)

	// One slot: a second acquire queues until the first is released.
	d := take()
	got := make(chan uint64)
	go func() {
		e, err := g.acquire(cx)
		if err != nil {
			t.Error(err)
		}
		got <- e
	}()
	select {
	case <-got:
		t.Fatal("second request sent while the limit is 1")
	case <-time.After(50 * time.Millisecond):
	}
	g.release(d, http.StatusOK, 0, nil, p)
	e := <-got
	state(1, 0) // one success forgives one throttle; two in a row open up
	g.release(e, http.StatusOK, 0, nil, p)
	state(2, 0)
	for want := 4; want < openLimit; want *= 2 {
		for range acceptedPerDoubling {
			g.release(take(), http.StatusOK, 0, nil, p)
		}
		state(want, 0)
	}
	for range acceptedPerDoubling {
		g.release(take(), http.StatusOK, 0, nil, p)
	}
	state(0, 0)

	// A 503 with Retry-After throttles too; one without is a failure, not a
	// throttle, and leaves the limit alone.
	g.release(take(), http.StatusServiceUnavailable, 0, nil, p)
	state(0, 0)
	g.release(take(), http.StatusServiceUnavailable, time.Millisecond, errors.New("503"), p)
	state(1, 1)
}

// TestGateDeadline: the server's own wait past the deadline fails at once;
// only the jitter past it is cut short.
func TestGateDeadline(t *testing.T) {
	p := retryPolicy{}.withDefaults()
	g := newGate()
	e, _ := g.acquire(context.Background())
	g.release(e, http.StatusTooManyRequests, 3*time.Second, errors.New("the 429"), p)

	short, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	start := time.Now()
	_, err := g.acquire(short)
	var ge *gateDeadlineError
	if !errors.As(err, &ge) || ge.ra != 3*time.Second || ge.cause == nil {
		t.Fatalf("err = %v, want gateDeadlineError for Retry-After 3s", err)
	}
	if el := time.Since(start); el > 200*time.Millisecond {
		t.Fatalf("failed after %v, want at once", el)
	}

	// Retry-After 200ms fits a 1s deadline, its jitter window (up to 1s more)
	// may not: the wait must end before the deadline.
	g = newGate()
	e, _ = g.acquire(context.Background())
	g.release(e, http.StatusTooManyRequests, 200*time.Millisecond, errors.New("the 429"), p)
	g.notBefore = g.earliest.Add(time.Hour) // the worst jitter
	dl, cancel2 := context.WithTimeout(context.Background(), time.Second)
	defer cancel2()
	start = time.Now()
	if _, err := g.acquire(dl); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < 200*time.Millisecond || el >= time.Second {
		t.Fatalf("waited %v, want between Retry-After 200ms and the 1s deadline", el)
	}
}

func TestMessageText(t *testing.T) {
	tests := []struct{ raw, want string }{
		{`"Secret already exist"`, "Secret already exist"},
		{`[{"code":"invalid_type","received":"s3cr3t","path":["body","secretValue"],"message":"Expected number"}]`, "body.secretValue: Expected number"},
		{`{"weird":true}`, ""},
		{``, ""},
	}
	for _, tt := range tests {
		if got := messageText([]byte(tt.raw)); got != tt.want {
			t.Errorf("messageText(%s) = %q, want %q", tt.raw, got, tt.want)
		}
	}
}
