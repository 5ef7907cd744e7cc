package launcher

import (
	"errors"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"secret-init/signals"
)

// supervisor is the state of one supervised run. Only the goroutine that
// called Run touches it: one loop owns wait4, forwarding and the clean-up.
type supervisor struct {
	Options
	pid  int  // the main child; also its process group id
	pid1 bool // we are PID 1 of a PID namespace
	tty  bool // we handed the terminal's foreground to the child's group
}

// supervise runs the command as a child and returns its exit code.
//
// The child gets our cwd and fds 0-2, default dispositions (Go resets
// every signal it handles to SIG_DFL in the child) and the signal mask
// secret-init was started with, less the signals the Go runtime unblocks
// before any of our code runs (withMask). One more difference from tini
// follows: a signal our own parent set to SIG_IGN reaches the child as
// SIG_DFL, because the Go runtime installs its handler over it at start-up
// (it keeps an inherited SIG_IGN only for HUP and INT, and Notify undoes
// even those). A service that needs an ignored signal must ignore it
// itself.
func supervise(path string, o Options) (int, error) {
	s := &supervisor{Options: o, pid1: os.Getpid() == 1}
	if !s.pid1 {
		// Orphans of the child's tree are re-parented to us instead of to
		// the real init, so we reap them and can clean them up at the end.
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
			s.Log.Warn().Err(err).Msg("not PID 1 and cannot be a child subreaper: orphans will not be reaped")
		}
	}
	s.tty = ownsForeground()
	// From the child's start on, every signal of Forwarded must reach it.
	s.Signals.Subscribed()
	var pid int
	err := withMask(s.Signals.Mask, func() (err error) {
		pid, err = syscall.ForkExec(path, s.Argv, &syscall.ProcAttr{
			Env:   s.Env,
			Files: []uintptr{0, 1, 2},
			Sys: &syscall.SysProcAttr{
				// Its own group, so that group forwarding and the final
				// clean-up reach its pipelines and nothing of ours.
				Setpgid: true,
				// Job control and Ctrl-C belong to the child's group. Go
				// does the TIOCSPGRP in the child with signals blocked, so
				// the child cannot be stopped by SIGTTOU there.
				Foreground: s.tty,
				Ctty:       0,
			},
		})
		return err
	})
	if err != nil {
		return 0, startError(s.Argv[0], err)
	}
	s.pid = pid
	s.Log.Debug().Int("pid", pid).Bool("foreground", s.tty).Msg("child started")
	for _, sig := range s.Pending {
		s.forward(sig)
	}
	status := s.waitMain()
	s.Log.Debug().Int("pid", pid).Str("status", describe(status)).Msg("main child exited")
	s.reclaimTerminal()
	s.cleanUp()
	return ExitCode(status), nil
}

// waitMain is the event loop while the main child lives: SIGCHLD drains
// wait4, anything else is forwarded. It returns the main child's status.
func (s *supervisor) waitMain() syscall.WaitStatus {
	// A command that lives a while gets a supervisor that holds only what
	// its loop uses; one that ends at once never pays for the page faults
	// that trimming would cost it.
	trim := time.NewTimer(trimAfter)
	defer trim.Stop()
	for {
		select {
		case <-trim.C:
			trimResident()
		case <-s.Signals.Child:
			// A job-control shell may be waiting for us: learn when the
			// main child stops, too (childStopped). As PID 1 nobody is.
			flags := syscall.WNOHANG
			if !s.pid1 {
				flags |= syscall.WUNTRACED
			}
			exits, err := reap(flags)
			s.logReaped(exits, err)
			for _, e := range exits {
				switch {
				case e.pid != s.pid:
				case e.status.Stopped():
					s.childStopped()
				default:
					return e.status
				}
			}
		case sig := <-s.Signals.Forward:
			s.forward(sig.(syscall.Signal))
		}
	}
}

// forward sends sig, rewritten, to the child or to its group. A TSTP is
// only forwarded: if the child stops, childStopped stops us with it.
func (s *supervisor) forward(sig syscall.Signal) {
	to, send := s.Rewrite.Apply(sig)
	if !send {
		s.Log.Debug().Str("signal", signals.Name(sig)).Msg("dropped signal")
		return
	}
	target := s.pid
	if s.Group {
		target = -s.pid
	}
	err := syscall.Kill(target, to)
	s.Log.Debug().Str("signal", signals.Name(sig)).Str("sent", signals.Name(to)).Int("target", target).AnErr("error", err).Msg("forwarded signal")
}

// trimAfter is how long the main child runs before the supervisor gives
// back the memory its start-up used.
const trimAfter = 500 * time.Millisecond

// childStopped handles the main child stopping, on a TSTP we forwarded or
// on its own: Ctrl-Z at the terminal goes to the child's group, which
// holds the foreground, not to us, and the shell that started us waits
// for us, not for the child. So we stop too: the shell sees its job
// stopped and gives the prompt back. Once continued (fg or bg), we
// continue the child, and hand it the terminal again if the shell gave it
// to us (fg), before the loop runs again: a stop report still queued then
// finds the child running, whatever order the loop takes its channels in.
func (s *supervisor) childStopped() {
	// What came in meanwhile goes first: a CONT among it means the job
	// was continued before we could stop with it.
	for len(s.Signals.Forward) > 0 {
		s.forward((<-s.Signals.Forward).(syscall.Signal))
	}
	if !stopped(s.pid) {
		return
	}
	s.Log.Debug().Int("pid", s.pid).Msg("child stopped: stopping with it")
	stopSelf()
	// Continued.
	fg := s.tty && ownsForeground()
	if fg {
		unix.IoctlSetPointerInt(0, unix.TIOCSPGRP, s.pid)
	}
	s.Log.Debug().Bool("foreground", fg).Msg("continued: continuing the child")
	syscall.Kill(-s.pid, syscall.SIGCONT)
}

// stopSelf stops the whole process and returns once it is continued. The
// STOP is sent to this very thread: a process-directed kill lets the
// calling thread run on for a moment, long enough to act as if it had
// already been continued.
func stopSelf() {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	unix.Tgkill(os.Getpid(), unix.Gettid(), unix.SIGSTOP)
}

// stopped reports whether pid is stopped now (state T).
func stopped(pid int) bool {
	f := statFields(pid)
	return len(f) > 0 && f[0] == "T"
}

// statFields returns the fields of /proc/pid/stat after the command name
// (state, ppid, ...), or nil. The name may hold spaces and parens, so the
// fields start after the last ')'.
func statFields(pid int) []string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(string(b[i+1:]))
}

// exit is one child reaped by wait4 (or, with WUNTRACED, one that stopped).
type exit struct {
	pid    int
	status syscall.WaitStatus
}

// reap collects, without waiting, every child that wait4 reports under
// flags (WNOHANG, and WUNTRACED for stops). SIGCHLDs coalesce, so it loops
// until wait4 says nothing more is ready. It returns ECHILD when we have
// no children at all: nothing is left to wait for. What the exits mean is
// its callers' business.
func reap(flags int) ([]exit, error) {
	var exits []exit
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, flags, nil)
		switch {
		case err == syscall.EINTR:
			continue
		case err != nil:
			return exits, err
		case pid <= 0:
			return exits, nil
		}
		exits = append(exits, exit{pid, ws})
	}
}

// logReaped writes what reap found to the debug log, and any failure of
// wait4 other than "no children" as an error.
func (s *supervisor) logReaped(exits []exit, err error) {
	for _, e := range exits {
		if !e.status.Stopped() {
			s.Log.Debug().Int("pid", e.pid).Str("status", describe(e.status)).Msg("reaped")
		}
	}
	if err != nil && err != syscall.ECHILD {
		s.Log.Error().Err(err).Msg("wait4")
	}
}

// reapLeft reaps what the main child left behind; false when no child is
// left at all.
func (s *supervisor) reapLeft() bool {
	exits, err := reap(syscall.WNOHANG)
	s.logReaped(exits, err)
	return err != syscall.ECHILD
}

// sweepInterval is how often the clean-up looks for processes that were
// re-parented to us without a SIGCHLD telling us (their parent was not
// our child). Reaping never waits for it: SIGCHLD drives that.
const sweepInterval = 100 * time.Millisecond

// cleanUp runs after the main child has exited. Everything left (the
// child's group; as PID 1 the whole namespace, as subreaper all our
// children) gets SIGTERM and, after Grace, SIGKILL; reaping goes on
// meanwhile, and it returns as soon as no child is left.
func (s *supervisor) cleanUp() {
	if !s.reapLeft() {
		return
	}
	s.Log.Debug().Dur("grace", s.Grace).Msg("terminating what the main child left")
	termed := map[int]bool{}
	s.signalRest(syscall.SIGTERM, termed)
	grace := time.NewTimer(s.Grace)
	defer grace.Stop()
	sweep := time.NewTicker(sweepInterval)
	defer sweep.Stop()
	final := syscall.SIGTERM
	for {
		select {
		case <-s.Signals.Child:
			if !s.reapLeft() {
				return
			}
			// A dead parent's children are ours now and have not heard.
			s.signalRest(final, termed)
		case <-sweep.C:
			s.signalRest(final, termed)
		case <-grace.C:
			s.Log.Debug().Msg("grace period over: killing what is left")
			final = syscall.SIGKILL
			s.signalRest(final, termed)
		case sig := <-s.Signals.Forward:
			// The runtime may insist (a second TERM, an INT from the
			// terminal); the processes left are the ones to hear it.
			if to, send := s.Rewrite.Apply(sig.(syscall.Signal)); send {
				s.signalRest(to, map[int]bool{})
			}
		}
	}
}

// signalRest sends sig to the processes left after the main child. done
// lists the pids already given sig (and is updated), so that a sweep does
// not send a second TERM, which some programs take as "stop now".
func (s *supervisor) signalRest(sig syscall.Signal, done map[int]bool) {
	if sig == syscall.SIGKILL {
		clear(done) // a KILL may be repeated at will
	}
	send := func(target int) {
		if sig != syscall.SIGKILL && done[target] {
			return
		}
		done[target] = true
		if syscall.Kill(target, sig) == nil && sig == syscall.SIGTERM {
			// A stopped process cannot act on TERM until it is continued.
			syscall.Kill(target, syscall.SIGCONT)
		}
	}
	if s.pid1 {
		// Everything in the namespace but us, the child's group included
		// (so not signalled on its own: that would be a second TERM).
		// Processes forked after it meet the KILL at the end of the grace.
		send(-1)
		return
	}
	send(-s.pid)
	for _, pid := range children() {
		// One already reached through the group must not hear it twice.
		if pgid, err := syscall.Getpgid(pid); err == nil && pgid == s.pid && done[-s.pid] && sig != syscall.SIGKILL {
			continue
		}
		send(pid)
	}
}

// children lists our living children (and zombies not yet reaped).
func children() []int {
	var pids []int
	tasks, _ := os.ReadDir("/proc/self/task")
	for _, task := range tasks {
		b, err := os.ReadFile("/proc/self/task/" + task.Name() + "/children")
		if err != nil {
			return childrenByScan() // kernel without CONFIG_PROC_CHILDREN
		}
		for _, f := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(f); err == nil {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

// childrenByScan finds our children by their parent pid in /proc/*/stat.
func childrenByScan() []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	me := os.Getpid()
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if f := statFields(pid); len(f) > 1 && f[1] == strconv.Itoa(me) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// ownsForeground reports whether stdin is our controlling terminal and our
// process group is its foreground group: only then is the terminal ours to
// hand to the child. A secret-init started in the background must not
// steal the terminal from the shell.
func ownsForeground() bool {
	fg, err := unix.IoctlGetInt(0, unix.TIOCGPGRP)
	return err == nil && fg == unix.Getpgrp()
}

// reclaimTerminal takes the foreground back after the main child exits, so
// that the processes it left cannot keep reading the terminal during the
// grace period. From the background, TIOCSPGRP makes the kernel send us
// SIGTTOU unless it is blocked in the calling thread; a Go handler would
// not help (the ioctl restarts and the signal comes again), so the thread
// is pinned and SIGTTOU blocked just around the call.
func (s *supervisor) reclaimTerminal() {
	if !s.tty {
		return
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var set, old unix.Sigset_t
	sigaddset(&set, syscall.SIGTTOU)
	if err := unix.PthreadSigmask(unix.SIG_BLOCK, &set, &old); err != nil {
		return
	}
	defer unix.PthreadSigmask(unix.SIG_SETMASK, &old, nil)
	err := unix.IoctlSetPointerInt(0, unix.TIOCSPGRP, unix.Getpgrp())
	if err != nil && !errors.Is(err, syscall.ESRCH) {
		s.Log.Debug().Err(err).Msg("could not take the terminal back")
	}
}

// withMask runs f on a thread whose signal mask is mask (bit N-1 for
// signal N): ForkExec and execve hand the calling thread's mask to the
// program they start, and which thread that is, and what a thread blocks
// for a moment (reclaimTerminal, the stderr writer), is otherwise chance.
func withMask(mask uint64, f func() error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var set, old unix.Sigset_t
	set.Val[0] = mask
	if err := unix.PthreadSigmask(unix.SIG_SETMASK, &set, &old); err != nil {
		return f()
	}
	defer unix.PthreadSigmask(unix.SIG_SETMASK, &old, nil)
	return f()
}

func sigaddset(set *unix.Sigset_t, sig syscall.Signal) {
	n := uint(sig - 1)
	set.Val[n/64] |= 1 << (n % 64)
}
