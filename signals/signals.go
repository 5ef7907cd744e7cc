// Package signals knows which signals secret-init forwards, their names,
// the rewrite table (--rewrite FROM:TO), and hands out the subscription
// that signals/early made at start, with the watch that keeps it during
// start-up.
package signals

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"secret-init/signals/early"
)

// Forwarded is the explicit list secret-init subscribes to and forwards to
// the child, in the order of subscription (signals/early: those the Go
// runtime would make fatal while the program is initialised, the four
// that end a start first; the other standard ones first thing in main;
// the realtime ones when the child will be supervised). It leaves out
// SIGCHLD (ours), SIGURG (the Go runtime's preemption signal) and
// SIGKILL/SIGSTOP (uncatchable).
//
// SEGV, BUS, FPE, ILL, TRAP and SYS are forwarded like the others. Go's
// runtime hands signal.Notify only the ones sent with kill (or tgkill): a
// real fault of ours still crashes, and a "docker kill -s SEGV" is an
// operator's message for the service, not a fault of secret-init. (One
// sent with sigqueue is taken for a real fault and crashes secret-init;
// nothing in Go can tell it from one.)
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
// Of the realtime signals, 35 to 64 are forwarded. 32, 33 and 34 are the
// Go runtime's (glibc's thread cancellation and set*id, musl's): it
// installs no handler that signal.Notify could reach for 32 and 34, so
// they keep what secret-init inherited: the kernel's default (they end
// secret-init; as PID 1 the kernel drops them), or an ignore; it consumes
// 33 itself.
//
// SIGTSTP is forwarded, so that "docker kill -s TSTP" pauses the service;
// when the child stops, the launcher stops secret-init as well when it is
// not PID 1, so that a shell sees the whole job stopped.
var Forwarded = slices.Concat(early.Fatal, early.Others, early.Realtimes)

// maxSignal is the last standard signal; 32 and up are the realtime
// signals.
const maxSignal = 31

// rtMin and rtMax are SIGRTMIN and SIGRTMAX as kill -l, procps and Docker
// number them: glibc keeps 32 and 33 for itself, so RTMIN is 34.
const rtMin, rtMax = 34, 64

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

// Name returns the short name of sig: "TERM", or for a realtime signal
// the name kill -l gives it ("RTMIN+6" for 40, "RTMAX" for 64); 32, 33
// and anything else by number.
func Name(sig syscall.Signal) string {
	switch {
	case sig > 0 && sig <= maxSignal:
		return names[sig]
	case sig == rtMin:
		return "RTMIN"
	case sig == rtMax:
		return "RTMAX"
	case sig > rtMin && sig <= (rtMin+rtMax)/2:
		return "RTMIN+" + strconv.Itoa(int(sig-rtMin))
	case sig > rtMin && sig < rtMax:
		return "RTMAX-" + strconv.Itoa(int(rtMax-sig))
	}
	return strconv.Itoa(int(sig))
}

// Parse reads a signal by name ("TERM", "SIGTERM", "term", "RTMIN+6",
// "RTMAX-2") or number, 1 to 31 and 34 to 64 ("15", "40"). 32 and 33 are
// the C library's own (thread cancellation, set*id across threads): no
// program is meant to be sent one.
func Parse(s string) (syscall.Signal, error) {
	if s == "" {
		return 0, fmt.Errorf("empty signal")
	}
	if s[0] >= '0' && s[0] <= '9' {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > rtMax {
			return 0, fmt.Errorf("signal %q: not a number from 1 to %d", s, rtMax)
		}
		if n > maxSignal && n < rtMin {
			return 0, fmt.Errorf("signal %q: 32 and 33 are the C library's own, not for programs", s)
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
	if sig, ok := parseRealtime(name); ok {
		return sig, nil
	}
	return 0, fmt.Errorf("signal %q: unknown name", s)
}

// parseRealtime reads RTMIN, RTMIN+n, RTMAX and RTMAX-n, within 34..64.
func parseRealtime(name string) (syscall.Signal, bool) {
	base, sign := syscall.Signal(rtMin), 1
	rest, ok := strings.CutPrefix(name, "RTMIN")
	if !ok {
		if rest, ok = strings.CutPrefix(name, "RTMAX"); !ok {
			return 0, false
		}
		base, sign = rtMax, -1
	}
	if rest == "" {
		return base, true
	}
	op := byte('+')
	if sign < 0 {
		op = '-'
	}
	if rest[0] != op || len(rest) < 2 || rest[1] < '0' || rest[1] > '9' {
		return 0, false
	}
	n, err := strconv.Atoi(rest[1:])
	if err != nil || n > rtMax-rtMin {
		return 0, false
	}
	return base + syscall.Signal(sign*n), true
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

// ParseRewrite reads rewrite values, each a comma list of FROM:TO rules
// (a --rewrite flag, or SECRET_INIT_REWRITE). A malformed rule, or an
// empty one (--rewrite ”, a stray comma), is an error that names it.
//
// FROM must be a signal secret-init forwards: a rule for KILL, CHLD, URG or
// RTMIN (34) could never fire, and a rule that silently does nothing is a
// configuration bug. TO may be any signal 1..64 (TERM:KILL is legitimate)
// or 0, which drops FROM. Naming the same FROM twice is an error, because
// either choice of winner would surprise someone.
func ParseRewrite(values []string) (Rewrite, error) {
	r := Rewrite{}
	for _, value := range values {
		for _, spec := range strings.Split(value, ",") {
			if strings.TrimSpace(spec) == "" {
				return nil, fmt.Errorf("%q: an empty rule; want FROM:TO, like TERM:QUIT or 15:3", value)
			}
			from, to, err := parseRule(spec)
			if err != nil {
				return nil, fmt.Errorf("%q: %w", spec, err)
			}
			if _, dup := r[from]; dup {
				return nil, fmt.Errorf("%q: %s is already rewritten", spec, Name(from))
			}
			r[from] = to
		}
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

// Catcher holds what signals/early caught first thing at start: its
// subscriptions and the signal mask secret-init was started with. Each
// channel has one reader at a time, the main goroutine: in Startup while
// the inputs are read, then in the launcher's loop, so no signal can fall
// between two readers.
type Catcher struct {
	Forward chan os.Signal // every signal in Forwarded; room for early.ForwardBuffer
	Child   chan os.Signal // SIGCHLD only
	// Mask is the signal mask secret-init was started with, as far as the
	// Go runtime left it (early.Mask): bit N-1 for signal N.
	Mask uint64
}

// Catch completes the subscription that signals/early began when the
// program was initialised, but for the realtime signals, and returns it;
// there is one per process. Call it first thing in main.
func Catch() *Catcher {
	early.Rest()
	return &Catcher{Forward: early.Forward, Child: early.Child, Mask: early.Mask}
}

// SubscribeRealtime starts subscribing to the realtime signals of
// Forwarded, in the background: a start that will supervise calls it as
// soon as it knows, so that it is done by the time the child starts.
func (c *Catcher) SubscribeRealtime() { early.Realtime() }

// Subscribed returns once every signal of Forwarded is subscribed, the
// realtime ones included.
func (c *Catcher) Subscribed() { early.WaitRealtime() }

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
// arrives after work returned is still in Forward for the next reader. A
// panic in work is raised again on the calling goroutine, where the
// caller's recover can see it.
func (c *Catcher) Startup(work func()) (pending []syscall.Signal, abort syscall.Signal) {
	done := make(chan any, 1)
	go func() {
		defer func() { done <- recover() }()
		work()
	}()
	for {
		select {
		case r := <-done:
			if r != nil {
				panic(r)
			}
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
