// Package early subscribes, as early as a Go program can, to the signals
// that the Go runtime would make fatal, and keeps the signal mask
// secret-init was started with; the other forwarded signals are
// subscribed to later, by Rest and Realtime.
//
// It imports only os, os/signal, sync, syscall and unsafe, so the runtime
// initialises it right after os/signal, before the packages that make up
// most of secret-init's start-up (the HTTP and TLS stack, kong, zerolog,
// yaml). A signal that comes earlier still meets the Go runtime's default:
// TERM, INT and HUP end the process (as PID 1: exit 2), QUIT, ABRT and
// the fault signals end it with a goroutine dump, the others are lost;
// before the runtime has installed its handlers, the kernel's defaults
// apply.
package early

import (
	"os"
	"os/signal"
	"sync"
	"syscall"
	"unsafe"
)

// Fatal are the signals whose default in a Go program ends it: TERM, INT
// and HUP (killed; as PID 1, exit 2), QUIT, ABRT and the faults sent with
// kill (exit 2 and a goroutine dump). They are subscribed in init, the
// four that end a start first.
var Fatal = []syscall.Signal{
	syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGABRT,
	syscall.SIGSEGV, syscall.SIGBUS, syscall.SIGFPE, syscall.SIGILL, syscall.SIGTRAP,
	syscall.SIGSYS, syscall.SIGSTKFLT,
}

// Others are the standard signals whose default in a Go program is to be
// dropped: until Rest subscribes to them, one is lost, never fatal.
var Others = []syscall.Signal{
	syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGPIPE, syscall.SIGALRM,
	syscall.SIGCONT, syscall.SIGTSTP, syscall.SIGXCPU, syscall.SIGXFSZ,
	syscall.SIGVTALRM, syscall.SIGWINCH, syscall.SIGIO, syscall.SIGPWR,
}

// Realtimes are the realtime signals a Go program can receive, 35 to 64;
// until Realtime subscribes to them, one is lost, never fatal.
var Realtimes = []syscall.Signal{
	35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50,
	51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64,
}

// ForwardBuffer is large because signal.Notify never blocks: when the
// channel is full the signal is dropped, and a burst of USR1 must never
// cost a later TERM. Standard signals also coalesce in the kernel and in
// the Go runtime, so the buffer only has to absorb distinct deliveries.
const ForwardBuffer = 4096

var (
	// Forward receives the signals of Fatal, Others and Realtimes.
	Forward = make(chan os.Signal, ForwardBuffer)
	// Child receives SIGCHLD. One slot is enough: a SIGCHLD only means
	// "drain wait4", and one drain reaps everything that exited before
	// it, so a second notification while one is queued carries nothing
	// new.
	Child = make(chan os.Signal, 1)
	// Mask is the signal mask secret-init started with (bit N-1 for
	// signal N), less what the Go runtime unblocks on every thread before
	// any package is initialised: HUP INT QUIT ILL TRAP ABRT BUS FPE SEGV
	// TERM STKFLT CHLD URG PROF SYS and 32-34. The kernel keeps no record
	// of those bits, so they cannot be had back.
	Mask uint64

	rest, realtime sync.Once
	realtimeDone   = make(chan struct{})
)

// Subscribing to a signal of Others or Realtimes is a round trip to the
// runtime's signal thread (the fault signals need none), and the runtime
// keeps the goroutine that runs the package inits locked to the main
// thread, which makes each round trip a hand-off between two locked
// threads, five times the futex calls of one from main. So init makes
// only the five round trips that keep secret-init alive; the rest wait
// for main.
func init() {
	// The mask first: it is the calling thread's, and this is the main
	// thread before anything of ours has touched it.
	syscall.RawSyscall6(syscall.SYS_RT_SIGPROCMASK, 0, 0, uintptr(unsafe.Pointer(&Mask)), unsafe.Sizeof(Mask), 0, 0)
	for _, s := range Fatal {
		signal.Notify(Forward, s)
	}
}

// Rest subscribes to Others and to SIGCHLD, once; main calls it first.
func Rest() {
	rest.Do(func() {
		for _, s := range Others {
			signal.Notify(Forward, s)
		}
		signal.Notify(Child, syscall.SIGCHLD)
	})
}

// Realtime starts subscribing to Realtimes on a goroutine of its own, once.
// Only a start that will supervise calls it (as soon as it knows): thirty
// round trips cost about a millisecond of CPU on a busy machine, and an
// exec'd command cannot be given a realtime signal from start-up anyway
// (exec mode drops what came during start-up, as the runtime drops a
// realtime signal nobody subscribed to).
func Realtime() {
	realtime.Do(func() {
		go func() {
			for _, s := range Realtimes {
				signal.Notify(Forward, s)
			}
			close(realtimeDone)
		}()
	})
}

// WaitRealtime returns once Realtimes are subscribed, starting it if
// nothing has. The supervisor waits for it before it starts the child, so
// that every forwarded signal reaches the child from then on.
func WaitRealtime() {
	Realtime()
	<-realtimeDone
}
