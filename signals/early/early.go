// Package early subscribes to every signal secret-init forwards, and to
// SIGCHLD, as early as a Go program can, and keeps the signal mask
// secret-init was started with.
//
// It imports only os, os/signal, syscall and unsafe, so the runtime
// initialises it right after os/signal, before the packages that make up
// most of secret-init's start-up (the HTTP and TLS stack, kong, zerolog,
// yaml). A signal that comes earlier still meets the Go runtime's default:
// TERM, INT and HUP end the process (as PID 1: exit 2), QUIT and ABRT end
// it with a goroutine dump, the others are lost; before the runtime has
// installed its handlers, the kernel's defaults apply.
package early

import (
	"os"
	"os/signal"
	"syscall"
	"unsafe"
)

// Signals is the subscription order: the signals that end a start first,
// the realtime signals last.
var Signals = []syscall.Signal{
	syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT,
	syscall.SIGABRT, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGPIPE,
	syscall.SIGALRM, syscall.SIGSTKFLT, syscall.SIGCONT, syscall.SIGTSTP,
	syscall.SIGXCPU, syscall.SIGXFSZ, syscall.SIGVTALRM, syscall.SIGWINCH,
	syscall.SIGIO, syscall.SIGPWR,
	syscall.SIGSEGV, syscall.SIGBUS, syscall.SIGFPE, syscall.SIGILL,
	syscall.SIGTRAP, syscall.SIGSYS,
	35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50,
	51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64,
}

// ForwardBuffer is large because signal.Notify never blocks: when the
// channel is full the signal is dropped, and a burst of USR1 must never
// cost a later TERM. Standard signals also coalesce in the kernel and in
// the Go runtime, so the buffer only has to absorb distinct deliveries.
const ForwardBuffer = 4096

var (
	// Forward receives every signal of Signals.
	Forward = make(chan os.Signal, ForwardBuffer)
	// Child receives SIGCHLD. One slot is enough: a SIGCHLD only means
	// "drain wait4", and one drain reaps everything that exited before
	// it, so a second notification while one is queued carries nothing
	// new.
	Child = make(chan os.Signal, 1)
	// realtime is closed once 35-64 are subscribed too.
	realtime = make(chan struct{})
	// Mask is the signal mask secret-init started with (bit N-1 for
	// signal N), less what the Go runtime unblocks on every thread before
	// any package is initialised: HUP INT QUIT ILL TRAP ABRT BUS FPE SEGV
	// TERM STKFLT CHLD URG PROF SYS and 32-34. The kernel keeps no record
	// of those bits, so they cannot be had back.
	Mask uint64
)

func init() {
	// The mask first: it is the calling thread's, and this is the main
	// thread before anything of ours has touched it.
	syscall.RawSyscall6(syscall.SYS_RT_SIGPROCMASK, 0, 0, uintptr(unsafe.Pointer(&Mask)), unsafe.Sizeof(Mask), 0, 0)
	for _, s := range Signals {
		if s < 32 {
			signal.Notify(Forward, s)
		}
	}
	signal.Notify(Child, syscall.SIGCHLD)
	// Each subscription costs a round trip to the runtime's signal
	// thread, and thirty realtime ones would add measurably to every
	// start, mostly for an exec that never needs them. They are made on a
	// goroutine of their own meanwhile; a realtime signal sent before is
	// lost, not fatal (the runtime's handler drops what nobody asked for).
	go func() {
		for _, s := range Signals {
			if s > 34 {
				signal.Notify(Forward, s)
			}
		}
		close(realtime)
	}()
}

// WaitRealtime returns once the realtime signals are subscribed as well.
// The supervisor waits for it before it starts the child, so that every
// signal of Signals reaches the child from then on.
func WaitRealtime() { <-realtime }
