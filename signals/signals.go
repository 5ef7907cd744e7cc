// Package signals knows which signals secret-init forwards, their names,
// the rewrite table (--rewrite FROM:TO) and the early subscription that
// must happen before anything else in main.
package signals

import (
	"os"
	"syscall"
)

// Forwarded is the explicit list secret-init subscribes to and forwards to
// the child. It leaves out SIGCHLD (ours), SIGURG (the Go runtime's
// preemption signal), SIGKILL/SIGSTOP (uncatchable) and the synchronous
// faults tini also keeps (SEGV, BUS, FPE, ILL, TRAP, SYS).
var Forwarded []syscall.Signal

// Name returns the short name of sig ("TERM"), or its number as text.
func Name(sig syscall.Signal) string { panic("todo") }

// Parse reads a signal by name ("TERM", "SIGTERM", "term") or number ("15").
func Parse(s string) (syscall.Signal, error) { panic("todo") }

// Rewrite maps a forwarded signal to another; a mapping to 0 drops it.
type Rewrite map[syscall.Signal]syscall.Signal

// ParseRewrite reads FROM:TO specs. A malformed spec is an error that names it.
func ParseRewrite(specs []string) (Rewrite, error) { panic("todo") }

// Apply returns the signal to send for sig, and false when it is dropped.
func (r Rewrite) Apply(sig syscall.Signal) (syscall.Signal, bool) { panic("todo") }

// Catcher holds the subscriptions made first thing in main.
type Catcher struct {
	Forward chan os.Signal // every signal in Forwarded; large buffer
	Child   chan os.Signal // SIGCHLD only
}

// Catch subscribes to Forwarded and SIGCHLD. Call it as the first statement
// of main: a Go PID 1 that gets SIGTERM before signal.Notify exits 2.
func Catch() *Catcher { panic("todo") }

// WatchStartup starts watching Forward while secret-init reads its inputs:
// TERM, INT, QUIT or HUP calls abort(sig) (which exits 128+N); other
// signals are queued for the child.
func (c *Catcher) WatchStartup(abort func(sig syscall.Signal)) { panic("todo") }

// EndStartup stops the watcher and returns the signals it queued, in order.
func (c *Catcher) EndStartup() []syscall.Signal { panic("todo") }
