package e2e

// Signals at the edges: the fault signals and QUIT/ABRT sent with kill, a
// broken stderr, TSTP then CONT, the realtime signals, the first moments
// of a start, the child's signal mask, and what execve would refuse.
// Each runs as PID 1 of a PID namespace and, where it differs, not.

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"secret-init/launcher"
)

// printingAs is a run of printsignals -stdin (with extra flags of its
// own) in way w, once it is ready.
func printingAs(t *testing.T, w way, args []string, child ...string) *Session {
	t.Helper()
	spec := w.spec(append([]string{printSignals, "-stdin"}, child...)...)
	spec.Args = append(args, spec.Args...)
	s := Start(t, spec)
	s.expect("ready")
	return s
}

// finishNothingMore closes stdin, so that printsignals -stdin exits 0, and
// checks that it printed nothing more and secret-init exited 0 with it.
// It returns what was printed, for more checks.
func (s *Session) finishNothingMore() []string {
	s.t.Helper()
	s.stdin.Close()
	rest := s.rest()
	if len(rest) != 0 {
		s.t.Errorf("the child printed more: %q", rest)
	}
	if code := s.wait(); code != 0 {
		s.t.Errorf("exit %d, want 0; stderr: %s", code, s.stderrText())
	}
	return rest
}

// noGoroutineDump fails the test if a run's output holds a Go traceback.
func noGoroutineDump(t *testing.T, s *Session, stdout []string) {
	t.Helper()
	for name, out := range map[string]string{"stderr": s.stderrText(), "stdout": strings.Join(stdout, "\n")} {
		if strings.Contains(out, "goroutine") || strings.Contains(out, "SIGSEGV") || strings.Contains(out, "panic") {
			t.Errorf("secret-init's %s has a Go traceback:\n%s", name, out)
		}
	}
}

// TestSignalFaultsSentWithKillReachChild: SEGV, BUS, FPE, ILL, TRAP and
// SYS sent with kill (docker kill -s SEGV) are the operator's, not a fault
// of secret-init: they reach the child like any other, and so do QUIT and
// ABRT, which the Go runtime would turn into a goroutine dump.
func TestSignalFaultsSentWithKillReachChild(t *testing.T) {
	for _, w := range []way{asPID1, supervised} {
		t.Run(w.name, func(t *testing.T) {
			s := printingAs(t, w, nil)
			for _, sig := range []syscall.Signal{syscall.SIGSEGV, syscall.SIGBUS, syscall.SIGFPE, syscall.SIGILL,
				syscall.SIGTRAP, syscall.SIGSYS, syscall.SIGQUIT, syscall.SIGABRT} {
				s.signal(sig)
				s.wantNext(strconv.Itoa(int(sig)), fmt.Sprintf("sent %d to secret-init", sig))
			}
			noGoroutineDump(t, s, s.finishNothingMore())
		})
	}
}

// TestSignalRealtimeReachChild: every realtime signal a Go program can
// receive (35 to 64) reaches the child, by number or through a rewrite by
// name; 33 is the Go runtime's and never shows.
func TestSignalRealtimeReachChild(t *testing.T) {
	for _, w := range []way{asPID1, supervised} {
		t.Run(w.name, func(t *testing.T) {
			s := printingAs(t, w, nil)
			for n := syscall.Signal(35); n <= 64; n++ {
				if n == 40 {
					s.signal(33) // swallowed by the runtime: the next line is 40
				}
				s.signal(n)
				s.wantNext(strconv.Itoa(int(n)), fmt.Sprintf("sent %d", n))
			}
			s.finish()
		})
	}
	t.Run("rewritten", func(t *testing.T) {
		s := printingAs(t, asPID1, []string{"--rewrite", "RTMIN+1:USR1,40:0", "--rewrite", "TERM:RTMAX"})
		s.signal(35)
		s.wantNext("10", "RTMIN+1 (35) rewritten to USR1")
		s.signal(40)
		s.signal(41)
		s.wantNext("41", "40 dropped, then 41")
		s.signal(syscall.SIGTERM)
		s.wantNext("64", "TERM rewritten to RTMAX")
		s.finish()
	})
}

// TestSignalRealtimeReservedAsDocumented: the Go runtime installs no
// handler for 32 and 34 that signal.Notify could reach. As PID 1 the
// kernel drops them (secret-init has no handler); not as PID 1 they end
// secret-init with that signal and the child runs on, re-parented, unless
// secret-init's parent left them ignored (GNU make ignores 32 and 33),
// which they then stay. The README says so; this keeps it true.
func TestSignalRealtimeReservedAsDocumented(t *testing.T) {
	s := printingAs(t, asPID1, nil)
	s.signal(32)
	s.signal(34)
	s.signal(syscall.SIGUSR1)
	s.wantNext("10", "32 and 34 dropped as PID 1, then USR1")
	s.finish()

	for _, sig := range []syscall.Signal{32, 34} {
		s := printingAs(t, supervised, nil)
		var child int
		for _, d := range descendants(s.pid()) {
			child = d.pid
		}
		t.Cleanup(func() { syscall.Kill(child, syscall.SIGKILL) })
		ignored := statusMask(t, s.pid(), "SigIgn")&(1<<(sig-1)) != 0
		s.signal(sig)
		if ignored {
			s.signal(syscall.SIGUSR1)
			s.wantNext("10", fmt.Sprintf("%d, ignored as inherited, then USR1", sig))
			s.finish()
			t.Logf("signal %d was ignored by secret-init's parent: secret-init ignores it too", sig)
			continue
		}
		if code := s.wait(); code != launcher.SignalExit(sig) {
			t.Errorf("not PID 1, signal %d: exit %d, want %d (killed by it)", sig, code, launcher.SignalExit(sig))
		}
		if err := syscall.Kill(child, 0); err != nil {
			t.Errorf("not PID 1, signal %d: the child is gone (%v); the README says it runs on", sig, err)
		}
	}
}

// statusMask reads a signal mask line (SigIgn, SigBlk) of /proc/pid/status.
func statusMask(t *testing.T, pid int, field string) uint64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			m, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				t.Fatal(err)
			}
			return m
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// brokenPipe is a pipe whose read end is closed: every write fails with
// EPIPE and raises SIGPIPE on the writer.
func brokenPipe(t *testing.T) *os.File {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	t.Cleanup(func() { w.Close() })
	return w
}

// TestBrokenStderrIssueReproduction: the issue's own command. With
// INFISICAL_ADDR set, the start-up logs a summary; with stdout and stderr
// on a pipe nobody reads, that write used to raise a SIGPIPE that was
// replayed to the child (exit 141). The child now runs to its own end.
func TestBrokenStderrIssueReproduction(t *testing.T) {
	for _, w := range []way{supervised, asPID1} {
		pipe := brokenPipe(t)
		s := w.spec("sh", "-c", "sleep 0.5; exit 7")
		s.Args = append([]string{"--timeout", "1s"}, s.Args...)
		s.Env = cleanEnv("INFISICAL_ADDR=http://127.0.0.1:1", "INFISICAL_TOKEN=x", "INFISICAL_PROJECT_ID=p")
		cmd := s.command(t, t.Context())
		cmd.Stdout, cmd.Stderr = pipe, pipe
		if err := cmd.Run(); err != nil && cmd.ProcessState == nil {
			t.Fatal(err)
		}
		if code := exitCode(cmd.ProcessState); code != 7 {
			t.Errorf("%s: exit %d, want the child's 7", w.name, code)
		}
	}
}

// TestBrokenStderrNeverSignalsTheChild: at debug level every forwarded
// signal writes a line to a stderr nobody reads. The child sees the
// signals sent and nothing of secret-init's own failed writes; a SIGPIPE
// sent with kill still reaches it, once.
func TestBrokenStderrNeverSignalsTheChild(t *testing.T) {
	for _, w := range []way{asPID1, supervised} {
		t.Run(w.name, func(t *testing.T) {
			spec := w.spec(printSignals, "-stdin")
			spec.Args = append([]string{"--log-level", "debug"}, spec.Args...)
			spec.Stderr = brokenPipe(t)
			s := Start(t, spec)
			s.expect("ready")
			for _, sig := range []syscall.Signal{syscall.SIGUSR1, syscall.SIGWINCH, syscall.SIGPIPE, syscall.SIGUSR2, syscall.SIGPIPE, syscall.SIGHUP} {
				s.signal(sig)
				s.wantNext(strconv.Itoa(int(sig)), fmt.Sprintf("sent %d with stderr broken", sig))
			}
			s.finishNothingMore()
		})
	}
}

// TestSignalTSTPThenCONTNeverLeavesJobStopped: fifty rounds of TSTP to
// secret-init, then CONT once the job is stopped. Not as PID 1, secret-init
// stops with its child (a shell sees the job stopped) and the CONT
// resumes both: after each round a USR1 comes out of the child, which
// proves both run. As PID 1 secret-init never stops; the child does and
// the CONT resumes it.
func TestSignalTSTPThenCONTNeverLeavesJobStopped(t *testing.T) {
	for _, w := range []way{supervised, asPID1} {
		t.Run(w.name, func(t *testing.T) {
			s := printingAs(t, w, nil, "-jobcontrol")
			sup := s.pid()
			var child int
			for _, d := range descendants(sup) {
				child = d.pid
			}
			state := func(pid int) string { return procTable()[pid].state }
			for round := range 50 {
				s.signal(syscall.SIGTSTP)
				waitFor(t, 10*time.Second, fmt.Sprintf("round %d: the job to stop", round), func() bool {
					return state(child) == "T" && (w.pid1 || state(sup) == "T")
				})
				// The child says CONT once or twice (secret-init continues
				// it, then forwards the CONT it got), then USR1, which
				// secret-init forwarded from its loop.
				s.signal(syscall.SIGCONT)
				onlyCONT(t, round, s.expect("18"))
				s.signal(syscall.SIGUSR1)
				onlyCONT(t, round, s.expect("10"))
				if state(sup) == "T" || state(child) == "T" {
					t.Fatalf("round %d: after CONT secret-init is %s, the child %s", round, state(sup), state(child))
				}
			}
			s.finish()
		})
	}
}

// onlyCONT fails the test unless lines are all 18, a CONT seen again.
func onlyCONT(t *testing.T, round int, lines []string) {
	t.Helper()
	for _, l := range lines {
		if l != "18" {
			t.Fatalf("round %d: the child printed %q, want only CONT (18) before", round, lines)
		}
	}
}

// TestSignalTSTPToAChildThatHandlesIt: a child that catches TSTP and does
// not stop keeps secret-init running too: the job is not stopped.
func TestSignalTSTPToAChildThatHandlesIt(t *testing.T) {
	s := printingAs(t, supervised, nil)
	s.signal(syscall.SIGTSTP)
	s.wantNext("20", "TSTP")
	s.signal(syscall.SIGUSR1)
	s.wantNext("10", "USR1 after TSTP: secret-init's loop runs")
	if st := procTable()[s.pid()].state; st == "T" {
		t.Errorf("secret-init stopped although its child did not")
	}
	s.finish()
}

// TestStartupEarlySubscription: the subscription to the signals a Go
// program dies of is made in the init of signals/early, which the runtime
// initialises right after os/signal, before any other package of
// secret-init and most of the standard library's. (A signal before that
// point meets the runtime's default; the README says what remains.)
func TestStartupEarlySubscription(t *testing.T) {
	r := Run(t, Spec{Env: cleanEnv("GODEBUG=inittrace=1"), Args: []string{"--", "true"}})
	wantCode(t, r, 0)
	var inits []string
	for _, l := range strings.Split(r.Stderr, "\n") {
		if f := strings.Fields(l); len(f) > 1 && f[0] == "init" {
			inits = append(inits, f[1])
		}
	}
	at := func(pkg string) int {
		for i, p := range inits {
			if p == pkg {
				return i
			}
		}
		t.Fatalf("%s not initialised: %q", pkg, inits)
		return 0
	}
	early := at("secret-init/signals/early")
	if early != at("os/signal")+1 {
		t.Errorf("signals/early is initialised at %d, os/signal at %d: want right after it", early, at("os/signal"))
	}
	for i, p := range inits[:early] {
		if strings.HasPrefix(p, "secret-init/") || strings.Contains(p, ".") {
			t.Errorf("%s (package %d) is initialised before signals/early", p, i)
		}
	}
}

// TestStartupSignalsAbortOrReplay: during start-up (held on a .env FIFO)
// INT, QUIT and HUP end secret-init at once with 128+N and the command
// never runs; ABRT is replayed to the command once it starts (a sleep,
// which it kills). Never a goroutine dump.
func TestStartupSignalsAbortOrReplay(t *testing.T) {
	for _, w := range []way{asPID1, supervised} {
		for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGQUIT, syscall.SIGHUP, syscall.SIGABRT} {
			t.Run(fmt.Sprintf("%s, %d", w.name, sig), func(t *testing.T) {
				fifo := startupFIFO(t)
				dir := t.TempDir()
				spec := w.spec("sh", "-c", "touch ran; exec sleep 100")
				spec.Args = append([]string{"--env-file", fifo}, spec.Args...)
				spec.Dir = dir
				s := Start(t, spec)
				pid := s.pid()
				waitFor(t, 10*time.Second, "startup to block on the FIFO", func() bool { return sleepsIn(pid, "wait_for_partner") })
				s.signal(sig)
				if sig == syscall.SIGABRT {
					waitFor(t, 10*time.Second, "secret-init to take the ABRT", func() bool { return !pending(pid, sig) })
					if err := os.WriteFile(fifo, []byte("A=1\n"), 0); err != nil {
						t.Fatal(err)
					}
				}
				if code := s.wait(); code != launcher.SignalExit(sig) {
					t.Errorf("exit %d, want %d; stderr: %s", code, launcher.SignalExit(sig), s.stderrText())
				}
				// (The ABRT kills the command as it starts: 128+6 from a Go
				// program that had not caught it would be a dump and 2.)
				if _, err := os.Stat(filepath.Join(dir, "ran")); err == nil && sig != syscall.SIGABRT {
					t.Errorf("the command ran after %d", sig)
				}
				noGoroutineDump(t, s, nil)
			})
		}
	}
}

// unblockedByGo are the signals the Go runtime unblocks on every thread
// before any package is initialised: a mask secret-init was started with
// loses them, for good.
var unblockedByGo = []syscall.Signal{1, 2, 3, 4, 5, 6, 7, 8, 11, 15, 16, 17, 23, 27, 31, 32, 33, 34}

// TestChildSignalMask: the child (supervised, as PID 1, or exec'd) gets
// the signal mask secret-init was started with, as tini does, except for
// the signals the Go runtime unblocked before any code of ours ran: a
// parent that blocks USR1, TTIN, TERM and ILL gives a child that blocks
// USR1 and TTIN.
func TestChildSignalMask(t *testing.T) {
	blocked := []syscall.Signal{syscall.SIGUSR1, syscall.SIGTTIN, syscall.SIGTERM, syscall.SIGILL, 40}
	var list []string
	var parent uint64
	for _, sig := range blocked {
		list = append(list, strconv.Itoa(int(sig)))
		parent |= 1 << (sig - 1)
	}
	want := parent
	for _, sig := range unblockedByGo {
		want &^= 1 << (sig - 1)
	}
	for _, w := range []way{supervised, asPID1, execd} {
		s := w.spec("grep", "^SigBlk", "/proc/self/status")
		s.Wrap = []string{printSignals, "-block", strings.Join(list, ",")}
		r := Run(t, s)
		wantCode(t, r, 0)
		var got uint64
		if _, err := fmt.Sscanf(r.Stdout, "SigBlk:\t%x", &got); err != nil {
			t.Fatalf("%s: cannot read %q: %v", w.name, r.Stdout, err)
		}
		if got != want {
			t.Errorf("%s: the child's SigBlk is %016x, want %016x (the parent blocked %016x)", w.name, got, want, parent)
		}
	}
}

// TestExitEmptyCommandAndRewriteAreUsage: an empty command name, and an
// empty rewrite rule on the command line or in the variable, are usage
// errors (125, one line), not a command that cannot run.
func TestExitEmptyCommandAndRewriteAreUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  []string
		want string
	}{
		{[]string{"--", ""}, nil, "command name is empty"},
		{[]string{"--mode", "supervise", "--", "", "arg"}, nil, "command name is empty"},
		{[]string{"--rewrite", "", "--", "true"}, nil, "--rewrite"},
		{[]string{"--rewrite", "TERM:QUIT,", "--", "true"}, nil, "--rewrite"},
		{[]string{"--", "true"}, []string{"SECRET_INIT_REWRITE=,"}, "--rewrite"},
	} {
		r := Run(t, Spec{Env: cleanEnv(tc.env...), Args: tc.args})
		if r.Code != 125 || !strings.Contains(r.Stderr, tc.want) || strings.Count(r.Stderr, "secret-init:") != 1 {
			t.Errorf("%q %q: exit %d, stderr %q; want 125 and one line with %q", tc.env, tc.args, r.Code, r.Stderr, tc.want)
		}
	}
}

// TestExecTotalOverKernelLimit: variables that each fit but together pass
// what execve takes (a quarter of RLIMIT_STACK, here 256 KiB, so the
// 128 KiB floor) stop the start with 125, naming the total, the limit and
// the largest variables, never a value. Half as much runs.
func TestExecTotalOverKernelLimit(t *testing.T) {
	dotenv := func(n int) string {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, "BIG_%d=%s\n", i, strings.Repeat("v", 20<<10+i))
		}
		return b.String()
	}
	for _, tc := range []struct {
		vars int
		ok   bool
	}{{3, true}, {8, false}} {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, ".env"), []byte(dotenv(tc.vars)), 0o600)
		for _, w := range []way{supervised, execd} {
			s := w.spec("true")
			s.Dir = dir
			s.Wrap = []string{"sh", "-c", `ulimit -s 256 && exec "$0" "$@"`}
			r := Run(t, s)
			if tc.ok {
				wantCode(t, r, 0)
				continue
			}
			clearError(t, r, false, 125, "131072", "BIG_7 (", "BIG_6 (", "RLIMIT_STACK 262144")
			if strings.Contains(r.Stderr, "vvvv") || strings.Contains(r.Stderr, "too long") {
				t.Errorf("%s: %s", w.name, r.Stderr)
			}
		}
	}
}
