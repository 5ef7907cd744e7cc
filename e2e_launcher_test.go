package main

// End-to-end tests of the process side: exit codes, signal forwarding,
// reaping, clean-up of what the main child leaves, exec in place, TTY.
// Most run secret-init as PID 1 of a new PID namespace, as a container
// runtime starts it; killing unshare (--kill-child) then takes the whole
// namespace down, which is how every test cleans up.

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

var (
	printSignalsOnce sync.Once
	printSignalsBin  string
	printSignalsErr  error
)

// printSignals builds testdata/printsignals (once) next to the binary under
// test: a child that prints "ready", then the number of each signal it
// gets; with -stdin it exits 0 when its stdin closes.
func printSignals(t *testing.T) string {
	t.Helper()
	printSignalsOnce.Do(func() {
		printSignalsBin = filepath.Join(filepath.Dir(bin), "printsignals")
		out, err := exec.Command("go", "build", "-o", printSignalsBin, "./testdata/printsignals").CombinedOutput()
		if err != nil {
			printSignalsErr = fmt.Errorf("building printsignals: %v: %s", err, out)
		}
	})
	if printSignalsErr != nil {
		t.Fatal(printSignalsErr)
	}
	return printSignalsBin
}

// session is a secret-init run that the test talks to while it runs.
type session struct {
	t      *testing.T
	cmd    *exec.Cmd
	pid1   bool
	stdin  io.WriteCloser
	lines  chan string // the child's stdout, line by line
	stderr *os.File
	done   chan struct{}
	code   int
}

// startSession starts secret-init with args; as PID 1 of a new PID
// namespace when pid1 is set. dir is its working directory (a temp dir
// when empty).
func startSession(t *testing.T, pid1 bool, dir string, env []string, args ...string) *session {
	t.Helper()
	if pid1 {
		needPIDNamespace(t)
	}
	s := &session{t: t, pid1: pid1, lines: make(chan string, 100000), done: make(chan struct{})}
	if pid1 {
		s.cmd = exec.Command("unshare", pid1Args(args...)...)
	} else {
		s.cmd = exec.Command(bin, args...)
	}
	if dir == "" {
		dir = t.TempDir()
	}
	if env == nil {
		env = cleanEnv()
	}
	s.cmd.Dir, s.cmd.Env = dir, env
	stdin, err := s.cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	s.stdin = stdin
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	s.stderr, err = os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	s.cmd.Stdout, s.cmd.Stderr = w, s.stderr
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			s.lines <- sc.Text()
		}
		close(s.lines)
		r.Close()
	}()
	go func() {
		err := s.cmd.Wait()
		s.code = exitCodeOf(err)
		close(s.done)
	}()
	t.Cleanup(s.kill)
	return s
}

func exitCodeOf(err error) int {
	if ee, ok := err.(*exec.ExitError); ok {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// kill ends the run and everything it started.
func (s *session) kill() {
	for round := 0; round < 3; round++ {
		for _, p := range descendants(s.cmd.Process.Pid) {
			syscall.Kill(p.pid, syscall.SIGKILL)
		}
	}
	s.cmd.Process.Kill()
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		s.t.Errorf("%v: still running after SIGKILL", s.cmd.Args)
	}
}

// pid is secret-init's pid as seen from the test (outside its namespace).
func (s *session) pid() int {
	s.t.Helper()
	if !s.pid1 {
		return s.cmd.Process.Pid
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, p := range procTable() {
			if p.ppid == s.cmd.Process.Pid {
				return p.pid
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	s.t.Fatalf("unshare started no secret-init")
	return 0
}

func (s *session) signal(sig syscall.Signal) {
	s.t.Helper()
	if err := syscall.Kill(s.pid(), sig); err != nil {
		s.t.Fatalf("kill %d: %v", sig, err)
	}
}

// next returns the child's next stdout line; "" and false at EOF.
func (s *session) next(timeout time.Duration) (string, bool) {
	s.t.Helper()
	select {
	case line, ok := <-s.lines:
		return line, ok
	case <-time.After(timeout):
		s.t.Fatalf("no output within %v; stderr: %s", timeout, s.stderrText())
		return "", false
	}
}

// nextOr is next, but gives dflt at timeout instead of failing.
func (s *session) nextOr(timeout time.Duration, dflt string) string {
	select {
	case line, ok := <-s.lines:
		if !ok {
			return "EOF"
		}
		return line
	case <-time.After(timeout):
		return dflt
	}
}

// wantNext fails the test unless the child's next line is want.
func (s *session) wantNext(want, context string) {
	s.t.Helper()
	if line := s.nextOr(10*time.Second, "(nothing within 10s)"); line != want {
		s.t.Fatalf("%s: child printed %q, want %q; stderr: %s", context, line, want, s.stderrText())
	}
}

// finish closes the child's stdin (printsignals -stdin then exits 0) and
// checks that secret-init exits 0 with it.
func (s *session) finish() {
	s.t.Helper()
	s.stdin.Close()
	if code := s.wait(); code != 0 {
		s.t.Errorf("exit %d, want 0; stderr: %s", code, s.stderrText())
	}
}

// expect reads stdout until the line want; the lines before it are returned.
func (s *session) expect(want string) []string {
	s.t.Helper()
	var before []string
	for {
		line, ok := s.next(10 * time.Second)
		if !ok {
			s.t.Fatalf("output ended before %q; saw %q; stderr: %s", want, before, s.stderrText())
		}
		if line == want {
			return before
		}
		before = append(before, line)
	}
}

// rest reads stdout to EOF.
func (s *session) rest() []string {
	s.t.Helper()
	var out []string
	for {
		line, ok := s.next(20 * time.Second)
		if !ok {
			return out
		}
		out = append(out, line)
	}
}

func (s *session) wait() int {
	s.t.Helper()
	select {
	case <-s.done:
		return s.code
	case <-time.After(30 * time.Second):
		s.t.Fatalf("%v did not exit within 30s; stderr: %s", s.cmd.Args, s.stderrText())
		return 0
	}
}

func (s *session) stderrText() string {
	b, _ := os.ReadFile(s.stderr.Name())
	return string(b)
}

// proc is one line of /proc/PID/stat.
type proc struct {
	pid, ppid, pgid int
	state, comm     string
}

func procTable() map[int]proc {
	table := map[int]proc{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		open, close := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
		if open < 0 || close < open {
			continue
		}
		f := strings.Fields(string(b[close+1:]))
		if len(f) < 3 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		pgid, _ := strconv.Atoi(f[2])
		table[pid] = proc{pid: pid, ppid: ppid, pgid: pgid, state: f[0], comm: string(b[open+1 : close])}
	}
	return table
}

// descendants lists the living processes under root, root excluded.
func descendants(root int) []proc {
	table := procTable()
	var out []proc
	under := map[int]bool{root: true}
	for changed := true; changed; {
		changed = false
		for _, p := range table {
			if under[p.ppid] && !under[p.pid] {
				under[p.pid] = true
				out = append(out, p)
				changed = true
			}
		}
	}
	return out
}

// count returns how many descendants of root are named one of names
// (zombies excluded: they are dead, just not reaped yet).
func count(root int, names ...string) int {
	n := 0
	for _, p := range descendants(root) {
		for _, name := range names {
			if p.comm == name && p.state != "Z" {
				n++
			}
		}
	}
	return n
}

// waitFor polls cond until it holds or fails the test after timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// runPID1 runs secret-init as PID 1 to completion.
func runPID1(t *testing.T, env []string, args ...string) result {
	t.Helper()
	needPIDNamespace(t)
	cmd := exec.Command("unshare", pid1Args(args...)...)
	cmd.Env, cmd.Dir = env, t.TempDir()
	return runCmd(t, 30*time.Second, cmd)
}

func TestExitCodesPassThrough(t *testing.T) {
	for _, n := range []int{0, 1, 2, 126, 127, 128, 255} {
		script := fmt.Sprintf("exit %d", n)
		if r := runPID1(t, cleanEnv(), "--", "sh", "-c", script); r.Code != n {
			t.Errorf("PID 1: sh -c %q gave %d; stderr: %s", script, r.Code, r.Stderr)
		}
		if r := runBin(t, cleanEnv(), "--mode", "supervise", "--", "sh", "-c", script); r.Code != n {
			t.Errorf("supervise: sh -c %q gave %d; stderr: %s", script, r.Code, r.Stderr)
		}
		if r := runBin(t, cleanEnv(), "--", "sh", "-c", script); r.Code != n {
			t.Errorf("exec: sh -c %q gave %d; stderr: %s", script, r.Code, r.Stderr)
		}
	}
}

func TestExitChildKilledBySignal(t *testing.T) {
	for _, sig := range []string{"TERM", "HUP", "QUIT", "KILL"} {
		want := 128 + map[string]int{"TERM": 15, "HUP": 1, "QUIT": 3, "KILL": 9}[sig]
		script := "kill -" + sig + " $$"
		if r := runPID1(t, cleanEnv(), "--", "sh", "-c", script); r.Code != want {
			t.Errorf("PID 1: child killed by %s gave %d, want %d; stderr: %s", sig, r.Code, want, r.Stderr)
		}
		if r := runBin(t, cleanEnv(), "--mode", "supervise", "--", "sh", "-c", script); r.Code != want {
			t.Errorf("supervise: child killed by %s gave %d, want %d; stderr: %s", sig, r.Code, want, r.Stderr)
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
		for _, mode := range []string{"exec", "supervise"} {
			r := runBin(t, cleanEnv(), "--mode", mode, "--", tc.cmd, "arg")
			if r.Code != tc.code {
				t.Errorf("%s mode, %s: code %d, want %d; stderr: %s", mode, tc.cmd, r.Code, tc.code, r.Stderr)
			}
			lines := strings.Split(strings.TrimSpace(r.Stderr), "\n")
			if len(lines) != 1 || !strings.Contains(lines[0], tc.cmd) {
				t.Errorf("%s mode, %s: want one line on stderr naming the command, got %q", mode, tc.cmd, r.Stderr)
			}
		}
	}
	// As PID 1 too (auto mode supervises there).
	if r := runPID1(t, cleanEnv(), "--", "no-such-command-here"); r.Code != 127 {
		t.Errorf("PID 1, missing command: %d; stderr: %s", r.Code, r.Stderr)
	}
}

// notForwarded are the signals 1..31 that never reach the child, besides
// KILL and STOP, which cannot be caught.
var notForwarded = map[syscall.Signal]string{
	syscall.SIGCHLD: "ours", syscall.SIGURG: "the Go runtime's",
	syscall.SIGTTIN: "about our own terminal access", syscall.SIGTTOU: "about our own terminal access",
	syscall.SIGPROF: "the Go runtime keeps it for its profiler, Notify never sees it",
	syscall.SIGSEGV: "fault", syscall.SIGBUS: "fault", syscall.SIGFPE: "fault",
	syscall.SIGILL: "fault", syscall.SIGTRAP: "fault", syscall.SIGSYS: "fault",
}

// TestSignalEveryCatchableReachesChild sends each forwarded signal to
// secret-init as PID 1 and checks the child prints it, exactly once. As
// PID 1, TSTP stops the child only (the kernel keeps PID 1 running).
func TestSignalEveryCatchableReachesChild(t *testing.T) {
	s := startSession(t, true, "", nil, "--", printSignals(t), "-stdin")
	s.expect("ready")
	for n := syscall.Signal(1); n <= 31; n++ {
		if n == syscall.SIGKILL || n == syscall.SIGSTOP {
			continue
		}
		if why, ok := notForwarded[n]; ok {
			// Sent, but must not show up: the next forwarded signal has to
			// be the next line. The faults are not sent at all: from
			// outside they make the Go runtime crash as on a real fault.
			if why != "fault" {
				s.signal(n)
			}
			continue
		}
		s.signal(n)
		if line := s.nextOr(10*time.Second, "timeout"); line != strconv.Itoa(int(n)) {
			t.Fatalf("sent %d, child printed %q (not forwarded: CHLD URG TTIN TTOU PROF); stderr: %s", n, line, s.stderrText())
		}
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
	for sig, want := range map[syscall.Signal]int{syscall.SIGTERM: 143, syscall.SIGUSR1: 138, syscall.SIGUSR2: 140} {
		s := startSession(t, true, "", nil, "--", "sleep", "100")
		waitFor(t, 10*time.Second, "sleep to start", func() bool { return count(s.cmd.Process.Pid, "sleep") == 1 })
		s.signal(sig)
		if code := s.wait(); code != want {
			t.Errorf("signal %d: exit %d, want %d; stderr: %s", sig, code, want, s.stderrText())
		}
	}
}

// TestSignalBurstThenTerm: 1000 USR1, an explicit URG, then TERM. The TERM
// is not lost in the burst, and the child never sees a URG: neither the
// runtime's own nor the one sent to secret-init.
func TestSignalBurstThenTerm(t *testing.T) {
	s := startSession(t, true, "", nil, "--", printSignals(t), "-stdin")
	s.expect("ready")
	pid := s.pid()
	for i := 0; i < 1000; i++ {
		syscall.Kill(pid, syscall.SIGUSR1)
	}
	syscall.Kill(pid, syscall.SIGURG)
	syscall.Kill(pid, syscall.SIGTERM)
	before := s.expect("15")
	s.stdin.Close()
	all := append(before, s.rest()...)
	usr1 := 0
	for _, line := range all {
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
	s := startSession(t, true, "", nil, "--", printSignals(t), "-stdin")
	s.expect("ready")
	s.signal(syscall.SIGTTIN)
	s.signal(syscall.SIGTTOU)
	s.signal(syscall.SIGUSR1)
	s.wantNext("10", "after TTIN, TTOU, USR1")
	s.finish()
}

// TestSignalTSTPStopsJob: not PID 1, TSTP goes to the child and then
// secret-init stops itself, so a shell sees the job stopped; CONT resumes
// secret-init, which forwards it.
func TestSignalTSTPStopsJob(t *testing.T) {
	s := startSession(t, false, "", nil, "--mode", "supervise", "--", printSignals(t), "-stdin")
	s.expect("ready")
	state := func() string { return procTable()[s.pid()].state }
	s.signal(syscall.SIGTSTP)
	s.wantNext("20", "TSTP")
	waitFor(t, 10*time.Second, "secret-init to stop", func() bool { return state() == "T" })
	s.signal(syscall.SIGCONT)
	s.wantNext("18", "CONT")
	if st := state(); st == "T" {
		t.Errorf("secret-init still stopped after CONT")
	}
	s.finish()
}

// startupFIFO makes a named pipe to pass as --env-file: opening it blocks
// until someone writes, which makes startup as slow as the test wants.
func startupFIFO(t *testing.T) string {
	fifo := filepath.Join(t.TempDir(), "env.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	return fifo
}

// blockedInStartup reports whether pid has a thread waiting to open a FIFO.
func blockedInStartup(pid int) bool {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/wchan", pid))
	for _, task := range tasks {
		if b, _ := os.ReadFile(task); string(b) == "wait_for_partner" {
			return true
		}
	}
	return false
}

// TestStartupTermAborts: a TERM while secret-init reads its inputs exits
// 143 at once, and the command never runs.
func TestStartupTermAborts(t *testing.T) {
	for _, pid1 := range []bool{true, false} {
		dir := t.TempDir()
		fifo := startupFIFO(t)
		s := startSession(t, pid1, dir, nil, "--env-file", fifo, "--mode", "supervise", "--", "sh", "-c", "touch ran")
		waitFor(t, 10*time.Second, "startup to block on the FIFO", func() bool { return blockedInStartup(s.pid()) })
		s.signal(syscall.SIGTERM)
		if code := s.wait(); code != 143 {
			t.Errorf("pid1=%v: exit %d, want 143; stderr: %s", pid1, code, s.stderrText())
		}
		if _, err := os.Stat(filepath.Join(dir, "ran")); err == nil {
			t.Errorf("pid1=%v: the command ran", pid1)
		}
	}
}

// TestStartupSignalReplayed: a USR1 during startup is not fatal to
// secret-init; it is replayed to the child once it starts (a sleep, whose
// default action for USR1 is to die: 138).
func TestStartupSignalReplayed(t *testing.T) {
	fifo := startupFIFO(t)
	s := startSession(t, true, "", nil, "--env-file", fifo, "--", "sleep", "100")
	waitFor(t, 10*time.Second, "startup to block on the FIFO", func() bool { return blockedInStartup(s.pid()) })
	s.signal(syscall.SIGUSR1)
	time.Sleep(50 * time.Millisecond) // let the watcher queue it
	f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("A=1\n")
	f.Close()
	if code := s.wait(); code != 138 {
		t.Errorf("exit %d, want 138 (USR1 replayed to the child); stderr: %s", code, s.stderrText())
	}
}

// groupScript traps TERM in the main child (so it outlives the signal) and
// runs two pipelines in its process group.
const groupScript = `trap 'echo term' TERM
yes | tail & yes | tail &
echo ready
while :; do sleep 0.05; done`

func TestGroupReachesGrandchildren(t *testing.T) {
	s := startSession(t, true, "", nil, "--group", "--", "sh", "-c", groupScript)
	s.expect("ready")
	root := s.cmd.Process.Pid
	waitFor(t, 10*time.Second, "the pipelines", func() bool { return count(root, "yes", "tail") == 4 })
	s.signal(syscall.SIGTERM)
	s.expect("term")
	waitFor(t, 10*time.Second, "yes and tail to die", func() bool { return count(root, "yes", "tail") == 0 })
	s.signal(syscall.SIGINT) // the main child dies of it
	if code := s.wait(); code != 130 {
		t.Errorf("exit %d, want 130", code)
	}
}

func TestGroupOffGrandchildrenSurvive(t *testing.T) {
	s := startSession(t, true, "", nil, "--", "sh", "-c", groupScript)
	s.expect("ready")
	root := s.cmd.Process.Pid
	waitFor(t, 10*time.Second, "the pipelines", func() bool { return count(root, "yes", "tail") == 4 })
	s.signal(syscall.SIGTERM)
	s.expect("term")
	time.Sleep(300 * time.Millisecond)
	if n := count(root, "yes", "tail"); n != 4 {
		t.Errorf("without --group, %d of 4 grandchildren left after TERM", n)
	}
	// The main child dies of INT; the clean-up then ends the pipelines.
	s.signal(syscall.SIGINT)
	if code := s.wait(); code != 130 {
		t.Errorf("exit %d, want 130", code)
	}
}

func TestRewriteTermToQuitAndDropInt(t *testing.T) {
	s := startSession(t, true, "", nil, "--rewrite", "TERM:QUIT", "--rewrite", "INT:0", "--", printSignals(t), "-stdin")
	s.expect("ready")
	s.signal(syscall.SIGTERM)
	s.wantNext("3", "TERM rewritten to QUIT")
	s.signal(syscall.SIGINT)
	s.signal(syscall.SIGUSR1)
	s.wantNext("10", "INT dropped then USR1")
	s.finish()
}

func TestRewriteFromEnvAndMalformed(t *testing.T) {
	s := startSession(t, true, "", cleanEnv("SECRET_INIT_REWRITE=USR1:USR2,INT:0"), "--", printSignals(t), "-stdin")
	s.expect("ready")
	s.signal(syscall.SIGINT)
	s.signal(syscall.SIGUSR1)
	s.wantNext("12", "SECRET_INIT_REWRITE")
	s.finish()

	for _, spec := range []string{"herp", "15", "15::12", "1:32", "KILL:TERM"} {
		r := runBin(t, cleanEnv(), "--rewrite", spec, "--", "true")
		// The log line is JSON, so the spec's quotes come escaped.
		if r.Code != 125 || !strings.Contains(r.Stderr, spec) || !strings.Contains(r.Stderr, "rewrite") {
			t.Errorf("--rewrite %q: code %d, stderr %q; want 125 and the spec named", spec, r.Code, r.Stderr)
		}
	}
}

// TestReapNoZombiesAsPID1: orphans re-parented to PID 1 are reaped.
func TestReapNoZombiesAsPID1(t *testing.T) {
	r := runPID1(t, cleanEnv(), "--", "sh", "-c", `sh -c "sleep 0.1 & sleep 0.1 &"; sleep 0.6; ps -eo stat=`)
	if r.Code != 0 {
		t.Fatalf("exit %d; stderr: %s", r.Code, r.Stderr)
	}
	if strings.Contains(r.Stdout, "Z") {
		t.Errorf("zombies left:\n%s", r.Stdout)
	}
}

// TestReapAsSubreaper: not PID 1, orphans come to secret-init (not to the
// machine's init) and are reaped.
func TestReapAsSubreaper(t *testing.T) {
	script := `p=$(sh -c 'sleep 0.4 >/dev/null 2>&1 & echo $!')
sleep 0.1
set -- $(cat /proc/$p/stat)
echo "orphan-parent=$4 init=$PPID"
sleep 0.6
ps -o stat= --ppid $PPID`
	r := runBin(t, cleanEnv(), "--mode", "supervise", "--", "sh", "-c", script)
	if r.Code != 0 {
		t.Fatalf("exit %d; stderr: %s", r.Code, r.Stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
	var parent, init string
	fmt.Sscanf(lines[0], "orphan-parent=%s init=%s", &parent, &init)
	if parent == "" || parent != init {
		t.Errorf("orphan re-parented to %s, not to secret-init %s", parent, init)
	}
	if strings.Contains(r.Stdout, "Z") {
		t.Errorf("zombies left:\n%s", r.Stdout)
	}
}

// TestReapManyShortLivedGrandchildren: 1000 grandchildren, made in a loop
// 50 at a time, die at once and land on PID 1 together. SIGCHLDs coalesce;
// a reaper that waits for one child per signal hangs here (catatonit #4).
func TestReapManyShortLivedGrandchildren(t *testing.T) {
	script := `i=0
while [ $i -lt 20 ]; do "$0" -orphans 50 || exit 1; i=$((i+1)); done
sleep 0.1
ps -eo stat= | grep -c Z`
	start := time.Now()
	r := runPID1(t, cleanEnv(), "--", "sh", "-c", script, printSignals(t))
	if r.Code != 1 || strings.TrimSpace(r.Stdout) != "0" { // grep -c exits 1 when it counts 0
		t.Errorf("exit %d, zombies %q; stderr: %s", r.Code, r.Stdout, r.Stderr)
	}
	t.Logf("1000 grandchildren in %v", time.Since(start))
}

// TestReapThousandsOfOrphans (issue 5): a process leaves 10,000 exited
// children that nobody waited for; when it exits they all come to PID 1 at
// once, and all are reaped. Making them (raw fork, about 1 ms each on the
// 2-vCPU CI machine) is most of the test's 10 s.
func TestReapThousandsOfOrphans(t *testing.T) {
	script := `"$0" -orphans 10000 || exit 1
i=0
while [ $i -lt 200 ] && [ "$(ps -eo stat= | grep -c Z)" != 0 ]; do sleep 0.05; i=$((i+1)); done
ps -eo stat= | grep -c Z`
	start := time.Now()
	r := runPID1(t, cleanEnv(), "--", "sh", "-c", script, printSignals(t))
	if r.Code != 1 || strings.TrimSpace(r.Stdout) != "0" {
		t.Errorf("exit %d, zombies left %q; stderr: %s", r.Code, r.Stdout, r.Stderr)
	}
	t.Logf("10,000 orphans made and reaped in %v", time.Since(start))
}

// TestReapLeftoverGetsTermThenKill: the main child exits while a
// grandchild lives. The grandchild gets TERM; it ignores it (prints it),
// so it gets KILL after --grace; the code is the main child's. Run as PID
// 1 (kill -1) and as subreaper (our children), with the grandchild in the
// main child's group and in a session of its own (setsid).
func TestReapLeftoverGetsTermThenKill(t *testing.T) {
	ps := printSignals(t)
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
			script := tc.setsid + ps + ` > out &
while ! grep -q ready out 2>/dev/null; do sleep 0.01; done
exit 4`
			s := startSession(t, tc.pid1, dir, nil, "--mode", "supervise", "--grace", "1s", "--", "sh", "-c", script)
			start := time.Now()
			code := s.wait()
			took := time.Since(start)
			out, _ := os.ReadFile(filepath.Join(dir, "out"))
			if code != 4 {
				t.Errorf("exit %d, want 4 (the main child's); stderr: %s", code, s.stderrText())
			}
			// TERM once, and CONT so that a stopped process could act on
			// it; the two may arrive in either order.
			if got := string(out); got != "ready\n15\n18\n" && got != "ready\n18\n15\n" {
				t.Errorf("grandchild printed %q, want ready, 15 (TERM), 18 (CONT)", out)
			}
			if took < time.Second || took > 10*time.Second {
				t.Errorf("took %v, want about the 1s grace", took)
			}
			if n := count(s.cmd.Process.Pid, "printsignals"); n != 0 {
				t.Errorf("grandchild still alive")
			}
		})
	}
}

// TestReapLeftoverDiesOnTermNoGraceWait: leftovers that die of the TERM do
// not make secret-init wait out the grace period.
func TestReapLeftoverDiesOnTermNoGraceWait(t *testing.T) {
	for _, pid1 := range []bool{true, false} {
		start := time.Now()
		s := startSession(t, pid1, "", nil, "--mode", "supervise", "--grace", "20s", "--", "sh", "-c", "sleep 100 & sleep 100 & sleep 0.1; exit 3")
		if code := s.wait(); code != 3 {
			t.Errorf("pid1=%v: exit %d, want 3", pid1, code)
		}
		if took := time.Since(start); took > 10*time.Second {
			t.Errorf("pid1=%v: took %v; the sleeps die of TERM, no need to wait for the grace", pid1, took)
		}
	}
}

func TestExecKeepsPID(t *testing.T) {
	for _, mode := range []string{"exec", "auto"} {
		s := startSession(t, false, "", nil, "--mode", mode, "--", "sh", "-c", "echo $$")
		line, _ := s.next(10 * time.Second)
		if line != strconv.Itoa(s.cmd.Process.Pid) {
			t.Errorf("%s mode: the command ran as pid %s, secret-init was %d", mode, line, s.cmd.Process.Pid)
		}
		if code := s.wait(); code != 0 {
			t.Errorf("%s mode: exit %d", mode, code)
		}
	}
	// As PID 1, auto mode supervises: the command is not PID 1.
	if r := runPID1(t, cleanEnv(), "--", "sh", "-c", "echo $$"); strings.TrimSpace(r.Stdout) == "1" {
		t.Errorf("PID 1 in auto mode exec'd instead of supervising")
	}
}

// TestExecStdioAndCwdPassThrough: stdin, stdout, stderr and the working
// directory reach the command, exec'd or supervised.
func TestExecStdioAndCwdPassThrough(t *testing.T) {
	for _, tc := range []struct {
		name string
		pid1 bool
		args []string
	}{
		{"exec", false, []string{"--mode", "exec"}},
		{"supervise", false, []string{"--mode", "supervise"}},
		{"pid1", true, nil},
	} {
		dir := t.TempDir()
		args := append(append([]string{}, tc.args...), "--", "sh")
		var cmd *exec.Cmd
		if tc.pid1 {
			needPIDNamespace(t)
			cmd = exec.Command("unshare", pid1Args(args...)...)
		} else {
			cmd = exec.Command(bin, args...)
		}
		cmd.Dir = dir
		cmd.Stdin = strings.NewReader("pwd; echo to-stderr >&2; exit 3\n")
		r := runCmd(t, 30*time.Second, cmd)
		if r.Code != 3 {
			t.Errorf("%s: exit %d, want 3; stderr: %s", tc.name, r.Code, r.Stderr)
		}
		if got := strings.TrimSpace(r.Stdout); got != dir {
			t.Errorf("%s: cwd %q, want %q", tc.name, got, dir)
		}
		if !strings.Contains(r.Stderr, "to-stderr") {
			t.Errorf("%s: stderr %q lacks the child's line", tc.name, r.Stderr)
		}
	}
}

// TestExecSignalDispositions documents what the child inherits. Go keeps
// an inherited SIG_IGN only for signals it never handles: TTIN and TTOU
// (not subscribed). Every other signal, USR1 and INT included, reaches the
// child as SIG_DFL, unlike tini, which keeps the whole ignored set. The
// signal mask is always empty.
func TestExecSignalDispositions(t *testing.T) {
	for _, mode := range []string{"exec", "supervise"} {
		cmd := exec.Command("sh", "-c", `trap '' USR1 INT TTOU; exec "$0" "$@"`, bin, "--mode", mode, "--", "grep", "-E", "^Sig(Ign|Blk)", "/proc/self/status")
		cmd.Env, cmd.Dir = cleanEnv(), t.TempDir()
		r := runCmd(t, 30*time.Second, cmd)
		if r.Code != 0 {
			t.Fatalf("%s: exit %d; stderr: %s", mode, r.Code, r.Stderr)
		}
		// Of the standard signals only TTOU stays ignored; realtime
		// signals (32 and up) are left out of the comparison, since the
		// runner that starts the tests may itself ignore one (glibc's 32)
		// and Go keeps what it never handles.
		var blk, ign uint64
		if _, err := fmt.Sscanf(r.Stdout, "SigBlk:\t%x\nSigIgn:\t%x\n", &blk, &ign); err != nil {
			t.Fatalf("%s mode: cannot read %q: %v", mode, r.Stdout, err)
		}
		if blk != 0 || ign&0x7fffffff != 1<<(syscall.SIGTTOU-1) {
			t.Errorf("%s mode: child has\n%swant SigBlk 0 and, of signals 1-31, only TTOU ignored", mode, r.Stdout)
		}
	}
}

func TestExecDashNamedProgram(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "-x"), []byte("#!/bin/sh\necho dash-x ran \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	env := []string{"PATH=" + dir + ":/usr/bin:/bin"}
	r := runBin(t, env, "--", "-x", "--mode", "y")
	if r.Code != 0 || strings.TrimSpace(r.Stdout) != "dash-x ran --mode y" {
		t.Errorf("secret-init -- -x: exit %d, stdout %q, stderr %q", r.Code, r.Stdout, r.Stderr)
	}
}

func TestExitNoCommandIsUsage(t *testing.T) {
	for _, args := range [][]string{nil, {"--"}, {"--mode", "exec"}} {
		r := runBin(t, cleanEnv(), args...)
		if r.Code != 125 || !strings.Contains(strings.ToLower(r.Stderr), "usage") {
			t.Errorf("secret-init %q: exit %d, stderr %q; want 125 with usage", args, r.Code, r.Stderr)
		}
	}
}

// openPTY returns a pseudo-terminal pair, opened with plain ioctls.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no /dev/ptmx: %v", err) // not a namespace matter, but nothing to test without a pty
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(); s.Close() })
	return m, s
}

// ptyRun starts cmd as the session leader of a new terminal, as a shell
// in a terminal window or "docker run -t" would.
type ptyRun struct {
	t      *testing.T
	cmd    *exec.Cmd
	master *os.File
	mu     sync.Mutex
	out    bytes.Buffer
	done   chan struct{}
	code   int
}

func startPTY(t *testing.T, pid1 bool, args ...string) *ptyRun {
	t.Helper()
	master, slave := openPTY(t)
	p := &ptyRun{t: t, master: master, done: make(chan struct{})}
	if pid1 {
		needPIDNamespace(t)
		p.cmd = exec.Command("unshare", pid1Args(args...)...)
	} else {
		p.cmd = exec.Command(bin, args...)
	}
	p.cmd.Env = cleanEnv("TERM=dumb", "PS1=$ ")
	p.cmd.Dir = t.TempDir()
	p.cmd.Stdin, p.cmd.Stdout, p.cmd.Stderr = slave, slave, slave
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			p.mu.Lock()
			p.out.Write(buf[:n])
			p.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	go func() {
		p.code = exitCodeOf(p.cmd.Wait())
		close(p.done)
	}()
	t.Cleanup(func() {
		for _, d := range descendants(p.cmd.Process.Pid) {
			syscall.Kill(d.pid, syscall.SIGKILL)
		}
		p.cmd.Process.Kill()
		<-p.done
	})
	return p
}

func (p *ptyRun) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

func (p *ptyRun) waitOutput(what string) {
	p.t.Helper()
	waitFor(p.t, 15*time.Second, fmt.Sprintf("%q on the terminal (have %q)", what, p.output()), func() bool {
		return strings.Contains(p.output(), what)
	})
}

func (p *ptyRun) wait() int {
	p.t.Helper()
	select {
	case <-p.done:
		return p.code
	case <-time.After(30 * time.Second):
		p.t.Fatalf("did not exit; terminal: %q", p.output())
		return 0
	}
}

// TestPtyJobControl: under a terminal the child's group is the foreground
// group, so an interactive shell gets job control ($- has m) instead of
// stopping itself with SIGTTIN, and can run a job in the background.
func TestPtyJobControl(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash not installed")
	}
	for _, pid1 := range []bool{false, true} {
		p := startPTY(t, pid1, "--mode", "supervise", "--", "bash", "--norc", "--noprofile", "-i")
		p.master.WriteString(`echo "fl""ags=$-"` + "\n")
		p.waitOutput("flags=")
		out := p.output()
		flags := out[strings.Index(out, "flags=")+6:]
		if i := strings.IndexAny(flags, "\r\n"); i >= 0 {
			flags = flags[:i]
		}
		if !strings.Contains(flags, "m") {
			t.Errorf("pid1=%v: bash flags %q lack m (job control); terminal: %q", pid1, flags, out)
		}
		p.master.WriteString("sleep 0.1 & wait; exit 7\n")
		if code := p.wait(); code != 7 {
			t.Errorf("pid1=%v: exit %d, want 7; terminal: %q", pid1, code, p.output())
		}
	}
}

// TestPtyCtrlC: Ctrl-C at the terminal ends the child with SIGINT: 130.
func TestPtyCtrlC(t *testing.T) {
	for _, pid1 := range []bool{false, true} {
		p := startPTY(t, pid1, "--mode", "supervise", "--", "sh", "-c", "echo ready; exec sleep 100")
		p.waitOutput("ready")
		waitFor(t, 10*time.Second, "sleep to start", func() bool { return count(p.cmd.Process.Pid, "sleep") == 1 })
		p.master.Write([]byte{0x03})
		if code := p.wait(); code != 130 {
			t.Errorf("pid1=%v: Ctrl-C gave %d, want 130; terminal: %q", pid1, code, p.output())
		}
	}
}

// TestPtyCtrlZ: in an interactive shell, Ctrl-Z stops the supervised job
// and gives the prompt back; fg continues it with the terminal.
func TestPtyCtrlZ(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash not installed")
	}
	p := startPTY(t, false, "--mode", "exec", "--", "bash", "--norc", "--noprofile", "-i")
	p.master.WriteString(bin + ` --mode supervise -- sh -c 'echo rea""dy; read x; echo "got=$x"'` + "\n")
	p.waitOutput("ready")
	time.Sleep(200 * time.Millisecond) // into the read
	p.master.Write([]byte{0x1a})       // Ctrl-Z
	p.waitOutput("Stopped")
	// Type only once bash has the terminal back and is at its prompt
	// again: keys typed while it resets the terminal may be dropped.
	waitFor(t, 10*time.Second, "the prompt after Stopped", func() bool {
		out := p.output()
		return strings.HasSuffix(out[strings.LastIndex(out, "Stopped"):], "$ ")
	})
	time.Sleep(200 * time.Millisecond)
	p.master.WriteString("fg\n")
	time.Sleep(300 * time.Millisecond)
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
