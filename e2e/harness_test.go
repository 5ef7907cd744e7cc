package e2e

// The harness: the binary built once, Run for a run to completion, Start
// for a run the test talks to, and what they read of /proc. Every run has a
// deadline, so that a hang fails the test instead of stalling CI, and every
// output of secret-init goes through noLeak.

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"secret-init/launcher"
)

// bin is the secret-init binary under test; printSignals is the helper
// child of testdata/printsignals: it prints "ready", then the number of
// each signal it gets; with -stdin it exits 0 when its stdin closes.
var bin, printSignals string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "secret-init-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := 1
	if err := build(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
	} else {
		code = m.Run()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// build builds both binaries into dir, at once, as `make build` does
// (static, -trimpath), from the module root: the folder above this one,
// since go test runs a package's tests in the package's folder.
func build(dir string) error {
	bin, printSignals = filepath.Join(dir, "secret-init"), filepath.Join(dir, "printsignals")
	errs := make(chan error, 2)
	for out, pkg := range map[string]string{bin: ".", printSignals: "./testdata/printsignals"} {
		go func() {
			cmd := exec.Command("go", "build", "-trimpath", "-o", out, pkg)
			cmd.Dir = ".."
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
			if msg, err := cmd.CombinedOutput(); err != nil {
				errs <- fmt.Errorf("go build %s: %v\n%s", pkg, err, msg)
				return
			}
			errs <- nil
		}()
	}
	return errors.Join(<-errs, <-errs)
}

// cleanEnv is a minimal environment, so that nothing of the developer's
// shell reaches a run (an INFISICAL_ADDR there would change the path taken).
func cleanEnv(extra ...string) []string {
	return append([]string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root"}, extra...)
}

// Spec is one run of secret-init.
type Spec struct {
	Args []string // secret-init's arguments
	// Env is the whole environment; nil is cleanEnv(). Of duplicate
	// variables the last wins, as os/exec passes them.
	Env  []string
	Dir  string // working directory; "" is a new temp dir
	PID1 bool   // as PID 1 of a new PID namespace, as a container runtime starts it
	// Stdin is the run's stdin; nil is /dev/null for Run and a pipe the
	// test holds for Start.
	Stdin io.Reader
	// Stderr is the run's stderr; nil is a buffer (Run) or a file (Start)
	// that the harness reads and checks for leaks.
	Stderr *os.File
	// Wrap is a command that runs secret-init: its argv up to the binary
	// (setpriv ..., or sh -c '...; exec "$0" "$@"').
	Wrap []string
	Bin  string // the binary; "" is the one built for the tests
	// Timeout bounds the run (30s when zero): a run still going is killed
	// and fails the test. It catches hangs; it is not a bound of the test.
	Timeout time.Duration
	// SampleRSS samples secret-init's peak resident set while it runs; not
	// with PID1, where the process started is unshare.
	SampleRSS bool
}

// Result is what a finished run left behind.
type Result struct {
	Code           int // what a shell reports: N, or 128+N for a death by signal N
	Stdout, Stderr string
	Took           time.Duration // wall time, start to exit
	CPU            time.Duration // user+system time of the run and the children it waited for
	PeakRSSKiB     int64         // with SampleRSS: the highest VmHWM of secret-init's image
}

func (s Spec) binary() string { return cmp.Or(s.Bin, bin) }

func (s Spec) timeout() time.Duration { return cmp.Or(s.Timeout, 30*time.Second) }

// command builds the run's process; ctx, when it ends, kills it.
func (s Spec) command(t *testing.T, ctx context.Context) *exec.Cmd {
	t.Helper()
	argv := append(append(slices.Clone(s.Wrap), s.binary()), s.Args...)
	if s.PID1 {
		needPIDNamespace(t)
		// --kill-child: when unshare dies, so does the namespace.
		argv = append([]string{"unshare", "--pid", "--fork", "--mount-proc", "--kill-child"}, argv...)
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env, cmd.Dir = s.Env, s.Dir
	if cmd.Env == nil {
		cmd.Env = cleanEnv()
	}
	if cmd.Dir == "" {
		cmd.Dir = t.TempDir()
	}
	return cmd
}

// Run runs secret-init to completion and checks that no secret value
// reached its output.
func Run(t *testing.T, s Spec) Result {
	t.Helper()
	if s.SampleRSS && s.PID1 {
		t.Fatal("SampleRSS samples the process started, which is unshare with PID1")
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout())
	defer cancel()
	cmd := s.command(t, ctx)
	var stdout, stderr bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = s.Stdin, &stdout, &stderr
	if s.Stderr != nil {
		cmd.Stderr = s.Stderr
	}
	// A process left behind with the output pipes must not hold Wait.
	cmd.WaitDelay = 5 * time.Second
	begin := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %v: %v", cmd.Args, err)
	}
	peak := func() int64 { return 0 }
	if s.SampleRSS {
		peak = sampleRSS(cmd.Process.Pid, s.binary())
	}
	err := cmd.Wait()
	r := Result{Stdout: stdout.String(), Stderr: stderr.String(), Took: time.Since(begin), PeakRSSKiB: peak()}
	if ctx.Err() != nil {
		t.Fatalf("%v did not finish within %v\nstdout: %s\nstderr: %s", cmd.Args, s.timeout(), r.Stdout, r.Stderr)
	}
	if ee := (*exec.ExitError)(nil); err != nil && !errors.As(err, &ee) {
		t.Fatalf("wait %v: %v", cmd.Args, err)
	}
	r.Code = exitCode(cmd.ProcessState)
	r.CPU = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	noLeak(t, r)
	return r
}

// wantCode stops the test unless r exited with code.
func wantCode(t *testing.T, r Result, code int) {
	t.Helper()
	if r.Code != code {
		t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", r.Code, code, r.Stdout, r.Stderr)
	}
}

func exitCode(ps *os.ProcessState) int {
	return launcher.ExitCode(ps.Sys().(syscall.WaitStatus))
}

// sampleRSS reads the VmHWM of pid every 2 ms while its image is exe, that
// is until it execs the command or exits; stop ends it and returns the
// highest seen. The last few ms of growth may be missed; the bounds of the
// tests leave room for that.
func sampleRSS(pid int, exe string) (stop func() int64) {
	if real, err := filepath.EvalSymlinks(exe); err == nil {
		exe = real
	}
	done, peak := make(chan struct{}), make(chan int64, 1)
	go func() {
		var hwm int64
		defer func() { peak <- hwm }()
		link := fmt.Sprintf("/proc/%d/exe", pid)
		for {
			if e, _ := os.Readlink(link); e == exe {
				if st, err := ReadStatus(pid); err == nil {
					hwm = max(hwm, st.HWM)
				}
			}
			select {
			case <-done:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	return func() int64 { close(done); return <-peak }
}

// slack is what this machine adds, right now, to anything a test times:
// four times the slowest of three starts that wait for nothing, plus a
// second. A bound on a wait is the wait plus slack, so that a busy machine
// loosens it by what it measurably costs instead of failing the test.
func slack(t *testing.T) time.Duration {
	t.Helper()
	var worst time.Duration
	for range 3 {
		worst = max(worst, Run(t, Spec{Args: []string{"--", "true"}}).Took)
	}
	return time.Second + 4*worst
}

var pidNamespace = sync.OnceValue(func() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "unshare", "--pid", "--fork", "--mount-proc", "true").CombinedOutput()
	if err != nil {
		return fmt.Errorf("%v: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
})

// needPIDNamespace skips where a PID namespace cannot be made (not root,
// no unshare). CI runs as root with unshare, so there these tests run.
func needPIDNamespace(t *testing.T) {
	t.Helper()
	if err := pidNamespace(); err != nil {
		t.Skipf("cannot make a PID namespace here (needs root and unshare): %v", err)
	}
}

// needProgram skips where a program a test drives is not installed; CI
// installs them all (.ci/run).
func needProgram(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Skipf("%s not installed", name)
	}
}

// Session is a run of secret-init that the test talks to while it runs.
type Session struct {
	t      *testing.T
	spec   Spec
	cmd    *exec.Cmd
	stdin  io.WriteCloser // nil when Spec.Stdin was given
	lines  chan string    // stdout, line by line
	stderr *os.File
	done   chan struct{}
	code   int
}

// Start starts secret-init; the test's cleanup kills it and all it started.
func Start(t *testing.T, s Spec) *Session {
	t.Helper()
	ss := &Session{t: t, spec: s, lines: make(chan string, 100000), done: make(chan struct{})}
	ss.cmd = s.command(t, context.Background())
	var err error
	if s.Stdin != nil {
		ss.cmd.Stdin = s.Stdin
	} else if ss.stdin, err = ss.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	if ss.stderr, err = os.CreateTemp(t.TempDir(), "stderr"); err != nil {
		t.Fatal(err)
	}
	ss.cmd.Stdout, ss.cmd.Stderr = w, ss.stderr
	if s.Stderr != nil {
		ss.cmd.Stderr = s.Stderr
	}
	if err := ss.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			ss.lines <- sc.Text()
		}
		close(ss.lines)
		r.Close()
	}()
	go func() {
		ss.cmd.Wait()
		ss.code = exitCode(ss.cmd.ProcessState)
		close(ss.done)
	}()
	t.Cleanup(ss.kill)
	return ss
}

// kill ends the run and everything it started.
func (s *Session) kill() {
	for range 3 {
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

// pid is secret-init's pid as the test sees it (outside its namespace).
func (s *Session) pid() int {
	s.t.Helper()
	if !s.spec.PID1 {
		return s.cmd.Process.Pid
	}
	var pid int
	waitFor(s.t, 10*time.Second, "unshare to start secret-init", func() bool {
		for _, p := range procTable() {
			if p.ppid == s.cmd.Process.Pid {
				pid = p.pid
				return true
			}
		}
		return false
	})
	return pid
}

func (s *Session) signal(sig syscall.Signal) {
	s.t.Helper()
	if err := syscall.Kill(s.pid(), sig); err != nil {
		s.t.Fatalf("kill %d: %v", sig, err)
	}
}

// running reports whether secret-init has not exited yet.
func (s *Session) running() bool {
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

// next returns the next line of stdout; "" and false at EOF.
func (s *Session) next(timeout time.Duration) (string, bool) {
	s.t.Helper()
	select {
	case line, ok := <-s.lines:
		return line, ok
	case <-time.After(timeout):
		s.t.Fatalf("no output within %v; stderr: %s", timeout, s.stderrText())
		return "", false
	}
}

// wantNext fails the test unless the next line of stdout is want.
func (s *Session) wantNext(want, context string) {
	s.t.Helper()
	line := "(nothing within 10s)"
	select {
	case l, ok := <-s.lines:
		line = l
		if !ok {
			line = "EOF"
		}
	case <-time.After(10 * time.Second):
	}
	if line != want {
		s.t.Fatalf("%s: child printed %q, want %q; stderr: %s", context, line, want, s.stderrText())
	}
}

// expect reads stdout up to the line want and returns the lines before it.
func (s *Session) expect(want string) []string {
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
func (s *Session) rest() []string {
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

// finish closes stdin (printsignals -stdin then exits 0) and checks that
// secret-init exits 0 with it.
func (s *Session) finish() {
	s.t.Helper()
	s.stdin.Close()
	if code := s.wait(); code != 0 {
		s.t.Errorf("exit %d, want 0; stderr: %s", code, s.stderrText())
	}
}

// wait returns the exit code once secret-init has exited.
func (s *Session) wait() int {
	s.t.Helper()
	select {
	case <-s.done:
		return s.code
	case <-time.After(s.spec.timeout()):
		s.t.Fatalf("%v did not exit within %v; stderr: %s", s.cmd.Args, s.spec.timeout(), s.stderrText())
		return 0
	}
}

func (s *Session) stderrText() string {
	b, _ := os.ReadFile(s.stderr.Name())
	return string(b)
}

// openPTY returns a pseudo-terminal pair, opened with plain ioctls.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no /dev/ptmx: %v", err) // nothing to test without a pty
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

// ptyRun is a run as the session leader of a new terminal, as a shell in
// a terminal window or "docker run -t" starts it.
type ptyRun struct {
	t      *testing.T
	cmd    *exec.Cmd
	master *os.File
	mu     sync.Mutex
	out    bytes.Buffer
	done   chan struct{}
	code   int
}

// startPTY starts s with a new terminal as its stdio; the test types on
// p.master. Env nil is cleanEnv with a dumb terminal and a "$ " prompt.
func startPTY(t *testing.T, s Spec) *ptyRun {
	t.Helper()
	master, slave := openPTY(t)
	p := &ptyRun{t: t, master: master, done: make(chan struct{})}
	if s.Env == nil {
		s.Env = cleanEnv("TERM=dumb", "PS1=$ ")
	}
	p.cmd = s.command(t, t.Context())
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
		p.cmd.Wait()
		p.code = exitCode(p.cmd.ProcessState)
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

// waitFor polls cond until it holds, and fails the test after timeout.
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

// proc is what the tests read of /proc/PID/stat.
type proc struct {
	pid, ppid, pgid, tpgid int // tpgid: the foreground group of its terminal
	state, comm            string
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
		// comm may hold spaces and parentheses: it ends at the last ')'.
		open, close := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
		if open < 0 || close < open {
			continue
		}
		f := strings.Fields(string(b[close+1:]))
		if len(f) < 6 {
			continue
		}
		n := func(i int) int { v, _ := strconv.Atoi(f[i]); return v }
		table[pid] = proc{pid: pid, ppid: n(1), pgid: n(2), tpgid: n(5), state: f[0], comm: string(b[open+1 : close])}
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
		if slices.Contains(names, p.comm) && p.state != "Z" {
			n++
		}
	}
	return n
}

// sleepsIn reports whether a thread of pid sleeps in the kernel function
// fn (wait_for_partner: opening a FIFO that has no other end yet).
func sleepsIn(pid int, fn string) bool {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/wchan", pid))
	for _, task := range tasks {
		if b, _ := os.ReadFile(task); string(b) == fn {
			return true
		}
	}
	return false
}

// pending reports whether sig waits, undelivered, for pid: a kill() makes
// it pending at once, and it stops being so when a thread takes it.
func pending(pid int, sig syscall.Signal) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return false
	}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && (k == "ShdPnd" || k == "SigPnd") {
			if mask, _ := strconv.ParseUint(strings.TrimSpace(v), 16, 64); mask&(1<<(sig-1)) != 0 {
				return true
			}
		}
	}
	return false
}
