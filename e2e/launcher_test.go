package e2e

// The process side: exit codes, signal forwarding, signals during startup,
// reaping, clean-up of what the main child leaves, exec in place, TTY.
// Most tests run secret-init as PID 1 of a new PID namespace, as a
// container runtime starts it; killing unshare (--kill-child) takes the
// whole namespace down, which is how every such test cleans up.

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"secret-init/launcher"
)

// way is one way of running the command: as PID 1 (auto mode supervises
// there), supervised, or exec'd in place.
type way struct {
	name string
	pid1 bool
	args []string // secret-init's flags before --
}

var (
	asPID1     = way{"PID 1", true, nil}
	supervised = way{"supervise", false, []string{"--mode", "supervise"}}
	auto       = way{"auto (exec)", false, nil} // the fast path: `--` first
	execd      = way{"exec", false, []string{"--mode", "exec"}}
)

func (w way) spec(command ...string) Spec {
	return Spec{PID1: w.pid1, Args: append(append(slices.Clone(w.args), "--"), command...)}
}

func TestExitCodesPassThrough(t *testing.T) {
	for _, n := range []int{0, 1, 2, 126, 127, 128, 255} {
		script := fmt.Sprintf("exit %d", n)
		for _, w := range []way{asPID1, supervised, auto} {
			if r := Run(t, w.spec("sh", "-c", script)); r.Code != n {
				t.Errorf("%s: sh -c %q gave %d; stderr: %s", w.name, script, r.Code, r.Stderr)
			}
		}
	}
}

func TestExitChildKilledBySignal(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGKILL} {
		script := fmt.Sprintf("kill -%d $$", sig)
		for _, w := range []way{asPID1, supervised} {
			if r := Run(t, w.spec("sh", "-c", script)); r.Code != launcher.SignalExit(sig) {
				t.Errorf("%s: child killed by %v gave %d, want %d; stderr: %s", w.name, sig, r.Code, launcher.SignalExit(sig), r.Stderr)
			}
		}
	}
}

func TestExitNotFoundAndNotExecutable(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain")
	if err := os.WriteFile(plain, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		cmd  string
		code int
	}{
		{"no-such-command-here", 127},
		{filepath.Join(dir, "missing"), 127},
		{plain, 126},
		{"/etc", 126},
	} {
		for _, w := range []way{execd, supervised} {
			r := Run(t, w.spec(tc.cmd, "arg"))
			if r.Code != tc.code {
				t.Errorf("%s mode, %s: code %d, want %d; stderr: %s", w.name, tc.cmd, r.Code, tc.code, r.Stderr)
			}
			lines := strings.Split(strings.TrimSpace(r.Stderr), "\n")
			if len(lines) != 1 || !strings.Contains(lines[0], tc.cmd) {
				t.Errorf("%s mode, %s: want one line on stderr naming the command, got %q", w.name, tc.cmd, r.Stderr)
			}
		}
	}
	if r := Run(t, asPID1.spec("no-such-command-here")); r.Code != 127 {
		t.Errorf("PID 1, missing command: %d; stderr: %s", r.Code, r.Stderr)
	}
}

func TestExitNoCommandIsUsage(t *testing.T) {
	for _, args := range [][]string{nil, {"--"}, {"--mode", "exec"}} {
		r := Run(t, Spec{Args: args})
		if r.Code != 125 || !strings.Contains(strings.ToLower(r.Stderr), "usage") {
			t.Errorf("secret-init %q: exit %d, stderr %q; want 125 with usage", args, r.Code, r.Stderr)
		}
	}
}

// notForwarded are the signals 1..31 that never reach the child, besides
// KILL and STOP, which cannot be caught.
var notForwarded = map[syscall.Signal]string{
	syscall.SIGCHLD: "ours", syscall.SIGURG: "the Go runtime's",
	syscall.SIGTTIN: "about our own terminal access", syscall.SIGTTOU: "about our own terminal access",
	syscall.SIGPROF: "the Go runtime keeps it for its profiler, Notify never sees it",
}

// printing is a run of printsignals -stdin as PID 1, once it is ready.
func printing(t *testing.T, args ...string) *Session {
	t.Helper()
	s := Start(t, Spec{PID1: true, Args: append(args, "--", printSignals, "-stdin")})
	s.expect("ready")
	return s
}

// TestSignalEveryCatchableReachesChild sends each forwarded signal to
// secret-init as PID 1 and checks the child prints it, exactly once. As
// PID 1, TSTP stops the child only (the kernel keeps PID 1 running).
func TestSignalEveryCatchableReachesChild(t *testing.T) {
	s := printing(t)
	for n := syscall.Signal(1); n <= 31; n++ {
		if n == syscall.SIGKILL || n == syscall.SIGSTOP {
			continue
		}
		if _, ok := notForwarded[n]; ok {
			// Sent, but must not show up: the next forwarded signal has to
			// be the next line.
			s.signal(n)
			continue
		}
		s.signal(n)
		s.wantNext(strconv.Itoa(int(n)), fmt.Sprintf("sent %d (not forwarded: CHLD URG TTIN TTOU PROF)", n))
	}
	s.stdin.Close()
	if extra := s.rest(); len(extra) != 0 {
		t.Errorf("child printed more than once each: extra %q", extra)
	}
	if code := s.wait(); code != 0 {
		t.Errorf("exit %d, want 0", code)
	}
}

// TestSignalDefaultHandlerChild: like tini's test, a child with default
// handlers dies of the forwarded signal, and the code says which.
func TestSignalDefaultHandlerChild(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGUSR1, syscall.SIGUSR2} {
		s := Start(t, asPID1.spec("sleep", "100"))
		waitFor(t, 10*time.Second, "sleep to start", func() bool { return count(s.cmd.Process.Pid, "sleep") == 1 })
		s.signal(sig)
		if code := s.wait(); code != launcher.SignalExit(sig) {
			t.Errorf("signal %d: exit %d, want %d; stderr: %s", sig, code, launcher.SignalExit(sig), s.stderrText())
		}
	}
}

// TestSignalBurstThenTerm: 1000 USR1, an explicit URG, then TERM. The TERM
// is not lost in the burst, and the child never sees a URG: neither the
// runtime's own nor the one sent to secret-init.
func TestSignalBurstThenTerm(t *testing.T) {
	s := printing(t)
	pid := s.pid()
	for range 1000 {
		syscall.Kill(pid, syscall.SIGUSR1)
	}
	syscall.Kill(pid, syscall.SIGURG)
	syscall.Kill(pid, syscall.SIGTERM)
	before := s.expect("15")
	s.stdin.Close()
	usr1 := 0
	for _, line := range append(before, s.rest()...) {
		switch line {
		case "10":
			usr1++
		case "23":
			t.Errorf("the child saw SIGURG")
		default:
			t.Errorf("unexpected line %q", line)
		}
	}
	if usr1 == 0 {
		t.Errorf("no USR1 reached the child")
	}
	t.Logf("1000 USR1 sent, %d reached the child (the kernel coalesces pending ones)", usr1)
	if code := s.wait(); code != 0 {
		t.Errorf("exit %d, want 0", code)
	}
}

// TestSignalTTINTTOUNotForwarded: job-control signals about terminal access
// are not forwarded, and as PID 1 they do not stop secret-init either.
func TestSignalTTINTTOUNotForwarded(t *testing.T) {
	s := printing(t)
	s.signal(syscall.SIGTTIN)
	s.signal(syscall.SIGTTOU)
	s.signal(syscall.SIGUSR1)
	s.wantNext("10", "after TTIN, TTOU, USR1")
	s.finish()
}

// startupFIFO makes a named pipe to pass as --env-file: opening it blocks
// until someone writes, which holds startup for as long as the test wants.
func startupFIFO(t *testing.T) string {
	t.Helper()
	fifo := filepath.Join(t.TempDir(), "env.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	return fifo
}

// TestStartupSignalReplayed: a USR1 during startup is not fatal to
// secret-init; it is replayed to the child once it starts (a sleep, whose
// default action for USR1 is to die).
func TestStartupSignalReplayed(t *testing.T) {
	fifo := startupFIFO(t)
	s := Start(t, Spec{PID1: true, Args: []string{"--env-file", fifo, "--", "sleep", "100"}})
	pid := s.pid()
	waitFor(t, 10*time.Second, "startup to block on the FIFO", func() bool { return sleepsIn(pid, "wait_for_partner") })
	s.signal(syscall.SIGUSR1)
	// Startup goes on only once secret-init has taken the signal: it
	// arrives during startup, not after.
	waitFor(t, 10*time.Second, "secret-init to take the USR1", func() bool { return !pending(pid, syscall.SIGUSR1) })
	if err := os.WriteFile(fifo, []byte("A=1\n"), 0); err != nil {
		t.Fatal(err)
	}
	if code := s.wait(); code != launcher.SignalExit(syscall.SIGUSR1) {
		t.Errorf("exit %d, want %d (USR1 replayed to the child); stderr: %s", code, launcher.SignalExit(syscall.SIGUSR1), s.stderrText())
	}
}

// groupScript traps TERM in the main child (so it outlives the signal) and
// runs two pipelines and a probe (printsignals, $0) in its process group.
const groupScript = `trap 'echo term' TERM
yes | tail & yes | tail &
"$0" > probe &
echo ready
while :; do sleep 0.05; done`

// group is a run of groupScript as PID 1 that has had a TERM, which the
// main child has trapped.
type group struct {
	*Session
	dir   string
	probe int // its pid
}

func startGroup(t *testing.T, args ...string) *group {
	t.Helper()
	g := &group{dir: t.TempDir()}
	g.Session = Start(t, Spec{PID1: true, Dir: g.dir, Args: append(args, "--", "sh", "-c", groupScript, printSignals)})
	g.expect("ready")
	waitFor(t, 10*time.Second, "the pipelines and the probe", func() bool {
		return g.alive() == 4 && strings.HasPrefix(g.probed(), "ready\n")
	})
	for _, d := range descendants(g.cmd.Process.Pid) {
		if d.comm == "printsignals" {
			g.probe = d.pid
		}
	}
	g.signal(syscall.SIGTERM)
	g.expect("term")
	return g
}

func (g *group) alive() int { return count(g.cmd.Process.Pid, "yes", "tail") }

func (g *group) probed() string {
	b, _ := os.ReadFile(filepath.Join(g.dir, "probe"))
	return string(b)
}

// end kills the probe (it would hold the clean-up for the grace) and ends
// the main child with INT.
func (g *group) end(t *testing.T) {
	t.Helper()
	syscall.Kill(g.probe, syscall.SIGKILL)
	g.signal(syscall.SIGINT)
	if code := g.wait(); code != launcher.SignalExit(syscall.SIGINT) {
		t.Errorf("exit %d, want %d", code, launcher.SignalExit(syscall.SIGINT))
	}
}

func TestGroupReachesGrandchildren(t *testing.T) {
	g := startGroup(t, "--group")
	waitFor(t, 10*time.Second, "yes and tail to die", func() bool { return g.alive() == 0 })
	waitFor(t, 10*time.Second, "the probe to get TERM", func() bool { return g.probed() == "ready\n15\n" })
	g.end(t)
}

// TestGroupOffGrandchildrenSurvive: without --group the TERM goes to the
// main child alone. Had it gone to the group, it would have reached the
// probe before the WINCH the test sends now, and the probe would print 15
// first: a signal pending or taken earlier comes out first.
func TestGroupOffGrandchildrenSurvive(t *testing.T) {
	g := startGroup(t)
	syscall.Kill(g.probe, syscall.SIGWINCH)
	waitFor(t, 10*time.Second, "the probe to get WINCH", func() bool { return strings.Contains(g.probed(), "\n28\n") })
	if got := g.probed(); got != "ready\n28\n" {
		t.Errorf("without --group the probe printed %q, want only WINCH (28): the TERM reached the group", got)
	}
	if n := g.alive(); n != 4 {
		t.Errorf("without --group, %d of 4 grandchildren left after TERM", n)
	}
	g.end(t) // the clean-up then ends the pipelines
}

func TestRewriteTermToQuitAndDropInt(t *testing.T) {
	s := printing(t, "--rewrite", "TERM:QUIT", "--rewrite", "INT:0")
	s.signal(syscall.SIGTERM)
	s.wantNext("3", "TERM rewritten to QUIT")
	s.signal(syscall.SIGINT)
	s.signal(syscall.SIGUSR1)
	s.wantNext("10", "INT dropped then USR1")
	s.finish()
}

// TestRewriteFromEnv: SECRET_INIT_REWRITE is a comma list of rewrites.
// (Malformed rewrites are among TestBadInputFlags.)
func TestRewriteFromEnv(t *testing.T) {
	s := Start(t, Spec{PID1: true, Env: cleanEnv("SECRET_INIT_REWRITE=USR1:USR2,INT:0"), Args: []string{"--", printSignals, "-stdin"}})
	s.expect("ready")
	s.signal(syscall.SIGINT)
	s.signal(syscall.SIGUSR1)
	s.wantNext("12", "SECRET_INIT_REWRITE")
	s.finish()
}

// zombiesGone is a shell loop that waits, up to 30 s, until ps shows no
// zombie and none of names is still running, then prints the zombies
// left (0) with grep -c, which exits 1 when it counts none.
func zombiesGone(names ...string) string {
	busy := `ps -eo stat=,comm= | grep -q -e '^Z'`
	for _, n := range names {
		busy += ` -e ' ` + n + `$'`
	}
	return `i=0; while [ $i -lt 600 ] && ` + busy + `; do sleep 0.05; i=$((i+1)); done
ps -eo stat= | grep -c Z`
}

// wantNoZombies checks a run that ended with zombiesGone.
func wantNoZombies(t *testing.T, r Result) {
	t.Helper()
	if r.Code != 1 || strings.TrimSpace(r.Stdout) != "0" {
		t.Errorf("exit %d, zombies left %q (want exit 1 from grep -c and 0); stderr: %s", r.Code, r.Stdout, r.Stderr)
	}
}

// TestReapNoZombiesAsPID1: orphans re-parented to PID 1 are reaped.
func TestReapNoZombiesAsPID1(t *testing.T) {
	wantNoZombies(t, Run(t, asPID1.spec("sh", "-c", `sh -c "sleep 0.1 & sleep 0.1 &"`+"\n"+zombiesGone("sleep"))))
}

// TestReapAsSubreaper: not PID 1, orphans come to secret-init (not to the
// machine's init) and are reaped.
func TestReapAsSubreaper(t *testing.T) {
	// $(...) returns once the middle sh has exited: its child is an orphan.
	// It lives until killed: its parent is read while it surely lives,
	// and ps -p shows it until it is reaped, zombie included.
	script := `p=$(sh -c 'sleep 100 >/dev/null 2>&1 & echo $!')
set -- $(cat /proc/$p/stat)
echo "orphan-parent=$4 init=$PPID"
kill $p
i=0; while [ $i -lt 600 ] && [ -n "$(ps -o pid= -p $p)" ]; do sleep 0.05; i=$((i+1)); done
ps -o stat=,comm= -p $p || true`
	r := Run(t, supervised.spec("sh", "-c", script))
	wantCode(t, r, 0)
	lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
	var parent, init string
	fmt.Sscanf(lines[0], "orphan-parent=%s init=%s", &parent, &init)
	if parent == "" || parent != init {
		t.Errorf("orphan re-parented to %s, not to secret-init %s", parent, init)
	}
	if len(lines) != 1 {
		t.Errorf("the orphan was not reaped:\n%s", r.Stdout)
	}
}

// TestReapManyShortLivedGrandchildren: 1000 grandchildren, made in a loop
// 50 at a time, die at once and land on PID 1 together. SIGCHLDs coalesce;
// a reaper that waits for one child per signal hangs here (catatonit #4).
func TestReapManyShortLivedGrandchildren(t *testing.T) {
	script := `i=0
while [ $i -lt 20 ]; do "$0" -orphans 50 || exit 1; i=$((i+1)); done
` + zombiesGone()
	start := time.Now()
	wantNoZombies(t, Run(t, asPID1.spec("sh", "-c", script, printSignals)))
	t.Logf("1000 grandchildren in %v", time.Since(start))
}

// TestReapThousandsOfOrphans: a process leaves 10,000 exited children that
// nobody waited for; when it exits they all come to PID 1 at once, and all
// are reaped. Making them (raw fork, about 1 ms each on a 2-vCPU machine)
// is most of the test's time.
func TestReapThousandsOfOrphans(t *testing.T) {
	script := `"$0" -orphans 10000 || exit 1
` + zombiesGone()
	s := asPID1.spec("sh", "-c", script, printSignals)
	s.Timeout = 2 * time.Minute // forking 10,000 is slow on a busy machine
	start := time.Now()
	wantNoZombies(t, Run(t, s))
	t.Logf("10,000 orphans made and reaped in %v", time.Since(start))
}

// TestReapLeftoverGetsTermThenKill: the main child exits (code 4) while a
// grandchild lives, which gets TERM and CONT (so that a stopped process can
// act on it); one that ignores them gets KILL after --grace. As PID 1
// (kill -1) and as subreaper (our children), with the grandchild in the
// main child's group and in a session of its own (setsid).
//
// The two halves are two runs, so that neither depends on how soon the
// grandchild runs: with a grace that cannot end, secret-init waits while
// the grandchild prints what it got, until the test lets it exit; with a
// grace of 1 s, a grandchild that ignores TERM is killed.
func TestReapLeftoverGetsTermThenKill(t *testing.T) {
	for _, tc := range []struct {
		name   string
		pid1   bool
		setsid string
	}{
		{"pid1-group", true, ""}, {"pid1-setsid", true, "setsid "},
		{"subreaper-group", false, ""}, {"subreaper-setsid", false, "setsid "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			out := func() string { b, _ := os.ReadFile(filepath.Join(dir, "out")); return string(b) }
			// The grandchild's stdin is that of the run (a background
			// job's would be /dev/null), so that closing it can end it.
			leftover := func(grace, printArgs string) Spec {
				script := "exec 3<&0\n" + tc.setsid + `"$0" ` + printArgs + ` <&3 3<&- > out &
echo $! > pid; exec 3<&-
while ! grep -q ready out 2>/dev/null; do sleep 0.01; done
exit 4`
				return Spec{PID1: tc.pid1, Dir: dir, Args: []string{"--mode", "supervise", "--grace", grace, "--", "sh", "-c", script, printSignals}}
			}

			s := Start(t, leftover("1h", "-stdin"))
			waitFor(t, 20*time.Second, "TERM and CONT to reach the grandchild", func() bool {
				return strings.Contains(out(), "\n15\n") && strings.Contains(out(), "\n18\n")
			})
			if !s.running() {
				t.Fatalf("secret-init exited while the grandchild lived: %d; stderr: %s", s.code, s.stderrText())
			}
			s.stdin.Close()
			if code := s.wait(); code != 4 {
				t.Errorf("exit %d, want 4 (the main child's); stderr: %s", code, s.stderrText())
			}
			if got := out(); got != "ready\n15\n18\n" && got != "ready\n18\n15\n" {
				t.Errorf("grandchild printed %q, want ready, then 15 (TERM) and 18 (CONT) once each", got)
			}

			os.Remove(filepath.Join(dir, "out")) // the script waits for a new "ready"
			r := Run(t, leftover("1s", ""))
			if r.Code != 4 {
				t.Errorf("grace 1s: exit %d, want 4; stderr: %s", r.Code, r.Stderr)
			}
			if r.Took < time.Second {
				t.Errorf("grace 1s: exited after %v, before the grace was over", r.Took)
			}
			// How much it printed before the KILL depends on how soon it ran.
			if got := out(); !slices.Contains([]string{"ready\n", "ready\n15\n", "ready\n18\n", "ready\n15\n18\n", "ready\n18\n15\n"}, got) {
				t.Errorf("grace 1s: grandchild printed %q, want ready, then at most TERM and CONT", got)
			}
			// As PID 1 the namespace ended with secret-init; as subreaper,
			// the grandchild's pid must be gone (a pid is not reused so soon).
			if b, _ := os.ReadFile(filepath.Join(dir, "pid")); !tc.pid1 {
				pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
				if p, ok := procTable()[pid]; pid == 0 || ok && p.comm == "printsignals" {
					t.Errorf("grace 1s: the grandchild (pid %q) is still alive", b)
				}
			}
		})
	}
}

// TestReapLeftoverDiesOnTermNoGraceWait: leftovers that die of the TERM do
// not make secret-init wait out the grace period (an hour: ending at all
// proves it).
func TestReapLeftoverDiesOnTermNoGraceWait(t *testing.T) {
	for _, pid1 := range []bool{true, false} {
		r := Run(t, Spec{PID1: pid1, Args: []string{"--mode", "supervise", "--grace", "1h", "--", "sh", "-c", "sleep 100 & sleep 100 & sleep 0.1; exit 3"}})
		if r.Code != 3 {
			t.Errorf("pid1=%v: exit %d, want 3", pid1, r.Code)
		}
	}
}

func TestExecKeepsPID(t *testing.T) {
	for _, w := range []way{execd, auto} {
		s := Start(t, w.spec("sh", "-c", "echo $$"))
		line, _ := s.next(10 * time.Second)
		if line != strconv.Itoa(s.cmd.Process.Pid) {
			t.Errorf("%s mode: the command ran as pid %s, secret-init was %d", w.name, line, s.cmd.Process.Pid)
		}
		if code := s.wait(); code != 0 {
			t.Errorf("%s mode: exit %d", w.name, code)
		}
	}
	// As PID 1, auto mode supervises: the command is not PID 1.
	if r := Run(t, asPID1.spec("sh", "-c", "echo $$")); strings.TrimSpace(r.Stdout) == "1" {
		t.Errorf("PID 1 in auto mode exec'd instead of supervising")
	}
}

// TestExecStdioAndCwdPassThrough: stdin, stdout, stderr and the working
// directory reach the command, exec'd or supervised.
func TestExecStdioAndCwdPassThrough(t *testing.T) {
	for _, w := range []way{execd, supervised, asPID1} {
		s := w.spec("sh")
		s.Dir = t.TempDir()
		s.Stdin = strings.NewReader("pwd; echo to-stderr >&2; exit 3\n")
		r := Run(t, s)
		if r.Code != 3 {
			t.Errorf("%s: exit %d, want 3; stderr: %s", w.name, r.Code, r.Stderr)
		}
		if got := strings.TrimSpace(r.Stdout); got != s.Dir {
			t.Errorf("%s: cwd %q, want %q", w.name, got, s.Dir)
		}
		if !strings.Contains(r.Stderr, "to-stderr") {
			t.Errorf("%s: stderr %q lacks the child's line", w.name, r.Stderr)
		}
	}
}

// TestExecSignalDispositions documents what the child inherits. Go keeps
// an inherited SIG_IGN only for signals it never handles: TTIN and TTOU
// (not subscribed). Every other signal, USR1 and INT included, reaches the
// child as SIG_DFL, unlike tini, which keeps the whole ignored set. The
// signal mask is always empty.
func TestExecSignalDispositions(t *testing.T) {
	for _, w := range []way{execd, supervised} {
		s := w.spec("grep", "-E", "^Sig(Ign|Blk)", "/proc/self/status")
		s.Wrap = []string{"sh", "-c", `trap '' USR1 INT TTOU; exec "$0" "$@"`}
		r := Run(t, s)
		if r.Code != 0 {
			t.Fatalf("%s: exit %d; stderr: %s", w.name, r.Code, r.Stderr)
		}
		// Of the standard signals only TTOU stays ignored; realtime
		// signals (32 and up) are left out of the comparison, since the
		// runner that starts the tests may itself ignore one (glibc's 32)
		// and Go keeps what it never handles.
		var blk, ign uint64
		if _, err := fmt.Sscanf(r.Stdout, "SigBlk:\t%x\nSigIgn:\t%x\n", &blk, &ign); err != nil {
			t.Fatalf("%s mode: cannot read %q: %v", w.name, r.Stdout, err)
		}
		if blk != 0 || ign&0x7fffffff != 1<<(syscall.SIGTTOU-1) {
			t.Errorf("%s mode: child has\n%swant SigBlk 0 and, of signals 1-31, only TTOU ignored", w.name, r.Stdout)
		}
	}
}

func TestExecDashNamedProgram(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "-x"), []byte("#!/bin/sh\necho dash-x ran \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	r := Run(t, Spec{Env: []string{"PATH=" + dir + ":/usr/bin:/bin"}, Args: []string{"--", "-x", "--mode", "y"}})
	if r.Code != 0 || strings.TrimSpace(r.Stdout) != "dash-x ran --mode y" {
		t.Errorf("secret-init -- -x: exit %d, stdout %q, stderr %q", r.Code, r.Stdout, r.Stderr)
	}
}

// TestPtyJobControl: under a terminal the child's group is the foreground
// group, so an interactive shell gets job control ($- has m) instead of
// stopping itself with SIGTTIN, and can run a job in the background.
func TestPtyJobControl(t *testing.T) {
	needProgram(t, "bash")
	for _, w := range []way{supervised, {"PID 1", true, supervised.args}} {
		p := startPTY(t, w.spec("bash", "--norc", "--noprofile", "-i"))
		p.master.WriteString(`echo "fl""ags=$-"` + "\n")
		p.waitOutput("flags=")
		out := p.output()
		flags := out[strings.Index(out, "flags=")+6:]
		if i := strings.IndexAny(flags, "\r\n"); i >= 0 {
			flags = flags[:i]
		}
		if !strings.Contains(flags, "m") {
			t.Errorf("%s: bash flags %q lack m (job control); terminal: %q", w.name, flags, out)
		}
		p.master.WriteString("sleep 0.1 & wait; exit 7\n")
		if code := p.wait(); code != 7 {
			t.Errorf("%s: exit %d, want 7; terminal: %q", w.name, code, p.output())
		}
	}
}

// TestPtyCtrlC: Ctrl-C at the terminal ends the child with SIGINT.
func TestPtyCtrlC(t *testing.T) {
	for _, w := range []way{supervised, {"PID 1", true, supervised.args}} {
		p := startPTY(t, w.spec("sh", "-c", "echo ready; exec sleep 100"))
		p.waitOutput("ready")
		waitFor(t, 10*time.Second, "sleep to start", func() bool { return count(p.cmd.Process.Pid, "sleep") == 1 })
		p.master.Write([]byte{0x03})
		if code := p.wait(); code != launcher.SignalExit(syscall.SIGINT) {
			t.Errorf("%s: Ctrl-C gave %d, want %d; terminal: %q", w.name, code, launcher.SignalExit(syscall.SIGINT), p.output())
		}
	}
}

// TestPtyCtrlZ: in an interactive shell, Ctrl-Z stops the supervised job
// and gives the prompt back; fg continues it with the terminal. Keys are
// typed only once the process that must read them owns the terminal and
// sleeps, waiting for input: typed earlier, bash could take them.
func TestPtyCtrlZ(t *testing.T) {
	needProgram(t, "bash")
	p := startPTY(t, execd.spec("bash", "--norc", "--noprofile", "-i"))
	bash := p.cmd.Process.Pid
	reading := func(is func(proc) bool) func() bool {
		return func() bool {
			for _, d := range append(descendants(bash), procTable()[bash]) {
				if is(d) {
					return d.state == "S" && d.tpgid == d.pgid
				}
			}
			return false
		}
	}
	job := reading(func(d proc) bool { return d.comm == "sh" }) // the supervised sh, in its read
	prompt := reading(func(d proc) bool { return d.pid == bash })

	p.master.WriteString(bin + ` --mode supervise -- sh -c 'echo rea""dy; read x; echo "got=$x"'` + "\n")
	p.waitOutput("ready")
	waitFor(t, 10*time.Second, "the job to read the terminal", job)
	p.master.Write([]byte{0x1a}) // Ctrl-Z
	p.waitOutput("Stopped")
	waitFor(t, 10*time.Second, "bash at its prompt after Stopped", func() bool {
		out := p.output()
		return strings.HasSuffix(out[strings.LastIndex(out, "Stopped"):], "$ ") && prompt()
	})
	p.master.WriteString("fg\n")
	waitFor(t, 10*time.Second, "the job to read the terminal after fg", job)
	p.master.WriteString("hello\n")
	p.waitOutput("got=hello")
	if strings.Count(p.output(), "Stopped") != 1 {
		t.Errorf("the job stopped again after fg; terminal: %q", p.output())
	}
	p.master.WriteString("exit 5\n")
	if code := p.wait(); code != 5 {
		t.Errorf("exit %d, want 5; terminal: %q", code, p.output())
	}
}
