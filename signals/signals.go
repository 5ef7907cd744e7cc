// Package signals knows which signals secret-init forwards, their names,
// the rewrite table (--rewrite FROM:TO), and the early subscription that
// must happen before anything else in main, with the watch that keeps it
// during start-up.
package signals

import (
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
)

// Forwarded is the explicit list secret-init subscribes to and forwards to
// the child. It leaves out SIGCHLD (ours), SIGURG (the Go runtime's
// preemption signal), SIGKILL/SIGSTOP (uncatchable) and the synchronous
// faults tini also keeps (SEGV, BUS, FPE, ILL, TRAP, SYS).
//
// SIGTTIN and SIGTTOU are left out too. The kernel sends them to a process
// that touches its terminal from the background; they say something about
// secret-init's own terminal access, nothing about the child's, so
// forwarding them means nothing. Not subscribing keeps their default
// action, which matters: a Go handler for SIGTTOU turns a background write
// with TOSTOP into a busy loop (the kernel restarts the write and sends
// SIGTTOU again), and the child inherits SIG_DFL for them.
//
// SIGPROF cannot be forwarded by a Go program: the runtime keeps it for
// its CPU profiler and never hands it to signal.Notify, so it is left out
// rather than listed and silently lost. (Nobody sends PROF to an init;
// the kernel raises it for the process whose profiling timer runs.)
//
// SIGTSTP is forwarded, so that "docker kill -s TSTP" pauses the service;
// the launcher then stops secret-init itself as well when it is not PID 1,
// the way dumb-init does, so that a shell sees the whole job stopped.
var Forwarded = []syscall.Signal{
	syscall.SIGHUP, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGABRT,
	syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGPIPE, syscall.SIGALRM,
	syscall.SIGTERM, syscall.SIGSTKFLT, syscall.SIGCONT, syscall.SIGTSTP,
	syscall.SIGXCPU, syscall.SIGXFSZ, syscall.SIGVTALRM,
	syscall.SIGWINCH, syscall.SIGIO, syscall.SIGPWR,
}

// maxSignal is the last standard signal; 32 and up are the realtime
// signals, which secret-init neither forwards nor accepts in a rewrite.
const maxSignal = 31

// names are the short names of the standard Linux signals, by number.
var names = [maxSignal + 1]string{
	1: "HUP", 2: "INT", 3: "QUIT", 4: "ILL", 5: "TRAP", 6: "ABRT", 7: "BUS",
	8: "FPE", 9: "KILL", 10: "USR1", 11: "SEGV", 12: "USR2", 13: "PIPE",
	14: "ALRM", 15: "TERM", 16: "STKFLT", 17: "CHLD", 18: "CONT", 19: "STOP",
	20: "TSTP", 21: "TTIN", 22: "TTOU", 23: "URG", 24: "XCPU", 25: "XFSZ",
	26: "VTALRM", 27: "PROF", 28: "WINCH", 29: "IO", 30: "PWR", 31: "SYS",
}

// aliases are the other names the kernel headers give the same numbers.
var aliases = map[string]syscall.Signal{
	"IOT": syscall.SIGABRT, "POLL": syscall.SIGIO, "CLD": syscall.SIGCHLD,
}

// Name returns the short name of sig ("TERM"), or its number as text.
func Name(sig syscall.Signal) string {
	if sig > 0 && sig <= maxSignal {
		return names[sig]
	}
	return strconv.Itoa(int(sig))
}

// Parse reads a signal by name ("TERM", "SIGTERM", "term") or number ("15").
func Parse(s string) (syscall.Signal, error) {
	if s == "" {
		return 0, fmt.Errorf("empty signal")
	}
	if s[0] >= '0' && s[0] <= '9' {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxSignal {
			return 0, fmt.Errorf("signal %q: not a number from 1 to %d", s, maxSignal)
		}
		return syscall.Signal(n), nil
	}
	name := strings.TrimPrefix(strings.ToUpper(s), "SIG")
	for n, known := range names {
		if n > 0 && name == known {
			return syscall.Signal(n), nil
		}
	}
	if sig, ok := aliases[name]; ok {
		return sig, nil
	}
	return 0, fmt.Errorf("signal %q: unknown name", s)
}

// isForwarded reports whether sig is in Forwarded.
func isForwarded(sig syscall.Signal) bool {
	for _, f := range Forwarded {
		if f == sig {
			return true
		}
	}
	return false
}

// Rewrite maps a forwarded signal to another; a mapping to 0 drops it.
type Rewrite map[syscall.Signal]syscall.Signal

// ParseRewrite reads FROM:TO specs. A malformed spec is an error that names it.
//
// FROM must be a signal secret-init forwards: a rule for KILL, CHLD, URG or
// SYS could never fire, and a rule that silently does nothing is a
// configuration bug. TO may be any signal 1..31 (TERM:KILL is legitimate)
// or 0, which drops FROM. Naming the same FROM twice is an error, because
// either choice of winner would surprise someone.
func ParseRewrite(specs []string) (Rewrite, error) {
	r := Rewrite{}
	for _, spec := range specs {
		from, to, err := parseRule(spec)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", spec, err)
		}
		if _, dup := r[from]; dup {
			return nil, fmt.Errorf("%q: %s is already rewritten", spec, Name(from))
		}
		r[from] = to
	}
	return r, nil
}

func parseRule(spec string) (from, to syscall.Signal, err error) {
	parts := strings.Split(spec, ":")
	if len(parts) != 2 {
		return 0, 0, fmt.Errorf("want FROM:TO, like TERM:QUIT or 15:3")
	}
	from, err = Parse(strings.TrimSpace(parts[0]))
	if err != nil {
		return 0, 0, err
	}
	if !isForwarded(from) {
		return 0, 0, fmt.Errorf("%s is never forwarded, so it cannot be rewritten", Name(from))
	}
	if t := strings.TrimSpace(parts[1]); t == "0" {
		return from, 0, nil
	}
	to, err = Parse(strings.TrimSpace(parts[1]))
	return from, to, err
}

// Apply returns the signal to send for sig, and false when it is dropped.
func (r Rewrite) Apply(sig syscall.Signal) (syscall.Signal, bool) {
	to, ok := r[sig]
	if !ok {
		return sig, true
	}
	return to, to != 0
}

// forwardBuffer is large because signal.Notify never blocks: when the
// channel is full the signal is dropped, and a burst of USR1 must never
// cost a later TERM. Standard signals also coalesce in the kernel and in
// the Go runtime, so the buffer only has to absorb distinct deliveries.
const forwardBuffer = 4096

// Catcher holds the subscriptions made first thing in main. Each channel
// has one reader at a time, the main goroutine: in Startup while the inputs
// are read, then in the launcher's loop, so no signal can fall between two
// readers.
type Catcher struct {
	Forward chan os.Signal // every signal in Forwarded; large buffer
	Child   chan os.Signal // SIGCHLD only
}

// Catch subscribes to Forwarded and SIGCHLD. Call it as the first statement
// of main: a Go PID 1 that gets SIGTERM before signal.Notify exits 2.
func Catch() *Catcher {
	c := &Catcher{
		Forward: make(chan os.Signal, forwardBuffer),
		// One slot is enough: a SIGCHLD only means "drain wait4", and one
		// drain reaps everything that exited before it, so a second
		// notification while one is queued carries nothing new.
		Child: make(chan os.Signal, 1),
	}
	fwd := make([]os.Signal, len(Forwarded))
	for i, s := range Forwarded {
		fwd[i] = s
	}
	signal.Notify(c.Child, syscall.SIGCHLD)
	signal.Notify(c.Forward, fwd...)
	return c
}

// abortsStartup are the signals that mean "stop" while there is no child
// yet to give them to.
func abortsStartup(sig syscall.Signal) bool {
	switch sig {
	case syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGHUP:
		return true
	}
	return false
}

// Startup runs work on a goroutine of its own and reads Forward on the
// calling one until work returns. TERM, INT, QUIT or HUP ends the wait at
// once and comes back as abort: there is no child yet to give it to, so
// the caller exits 128+N with nothing started, leaving work behind. Any
// other signal is queued in pending, in order, for the child; one that
// arrives after work returned is still in Forward for the next reader.
func (c *Catcher) Startup(work func()) (pending []syscall.Signal, abort syscall.Signal) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		work()
	}()
	for {
		select {
		case <-done:
			return pending, 0
		case s := <-c.Forward:
			sig := s.(syscall.Signal)
			if abortsStartup(sig) {
				return pending, sig
			}
			pending = append(pending, sig)
		}
	}
}
