package parallel

import (
	"sync"
	"sync/atomic"
	"testing"
)

func TestForCallsEachIndexOnce(t *testing.T) {
	for _, tt := range []struct{ n, limit int }{{0, 4}, {1, 4}, {5, 1}, {5, 0}, {100, 8}, {3, 64}} {
		seen := make([]int32, tt.n)
		For(tt.n, tt.limit, func(i int) { atomic.AddInt32(&seen[i], 1) })
		for i, c := range seen {
			if c != 1 {
				t.Errorf("n=%d limit=%d: f(%d) called %d times", tt.n, tt.limit, i, c)
			}
		}
	}
}

// TestForBound holds every call until limit of them are running at once,
// so it fails (hangs into the test timeout, or counts too many) unless
// For runs exactly limit at a time.
func TestForBound(t *testing.T) {
	const n, limit = 40, 8
	var mu sync.Mutex
	running, most := 0, 0
	var round sync.WaitGroup
	gate := make(chan struct{})
	round.Add(limit)
	go func() { round.Wait(); close(gate) }()
	For(n, limit, func(i int) {
		mu.Lock()
		running++
		most = max(most, running)
		mu.Unlock()
		if i < limit {
			round.Done()
			<-gate // the first limit calls meet: all of them run at once
		}
		mu.Lock()
		running--
		mu.Unlock()
	})
	if most != limit {
		t.Errorf("at most %d calls at once, want %d", most, limit)
	}
}

// TestForPanicReachesTheCaller: a panic in a call comes out of For, on the
// calling goroutine, once every other call has returned.
func TestForPanicReachesTheCaller(t *testing.T) {
	var done atomic.Int32
	got := func() (r any) {
		defer func() { r = recover() }()
		For(20, 4, func(i int) {
			if i == 3 {
				panic("boom")
			}
			done.Add(1)
		})
		return nil
	}()
	if got != "boom" {
		t.Fatalf("recovered %v, want the call's panic", got)
	}
	// The worker that panicked stops; the other three run every other index.
	if n := done.Load(); n != 19 {
		t.Errorf("%d other calls returned before For panicked, want 19", n)
	}
}
