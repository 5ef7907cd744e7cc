// Package parallel runs the iterations of a loop on several goroutines, a
// bounded number at a time. It is the one worker pool of secret-init:
// reading contracts and CA roots (CPU, one worker per core) and talking to
// Infisical (a few requests in flight) both go through For.
package parallel

import (
	"sync"
	"sync/atomic"
)

// For calls f(0), ..., f(n-1), at most limit of them at once, and returns
// when every call has returned. Calls start in index order; each f(i)
// writes only its own results (an index of a slice, or under its own
// lock). With a limit below 2, or a single iteration, the loop runs on the
// calling goroutine. A call that panics stops its worker, and For panics
// with the first such value on the calling goroutine, once the others
// have returned, where the caller's recover can see it: a panic on a
// goroutine of its own would end the process with a stack dump.
func For(n, limit int, f func(i int)) {
	workers := min(limit, n)
	if workers < 2 {
		for i := range n {
			f(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	var panicked atomic.Pointer[any]
	for range workers {
		wg.Go(func() {
			defer func() {
				if r := recover(); r != nil {
					panicked.CompareAndSwap(nil, &r)
				}
			}()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				f(i)
			}
		})
	}
	wg.Wait()
	if r := panicked.Load(); r != nil {
		panic(*r)
	}
}
