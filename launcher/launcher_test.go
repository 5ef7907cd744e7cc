package launcher

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"secret-init/signals"
)

func TestExitCodeMapping(t *testing.T) {
	for _, tc := range []struct {
		name string
		ws   syscall.WaitStatus // as the kernel encodes it
		want int
	}{
		{"exited 0", 0 << 8, 0},
		{"exited 1", 1 << 8, 1},
		{"exited 2", 2 << 8, 2},
		{"exited 126", 126 << 8, 126},
		{"exited 127", 127 << 8, 127},
		{"exited 128", 128 << 8, 128},
		{"exited 255", 255 << 8, 255},
		{"signaled HUP", syscall.WaitStatus(syscall.SIGHUP), 129},
		{"signaled INT", syscall.WaitStatus(syscall.SIGINT), 130},
		{"signaled KILL", syscall.WaitStatus(syscall.SIGKILL), 137},
		{"signaled TERM", syscall.WaitStatus(syscall.SIGTERM), 143},
		{"signaled QUIT with core", syscall.WaitStatus(syscall.SIGQUIT) | 0x80, 131},
		{"signaled SYS", syscall.WaitStatus(syscall.SIGSYS), 159},
		{"stopped (never asked for)", 0x7f | syscall.WaitStatus(syscall.SIGSTOP)<<8, 255},
	} {
		if got := ExitCode(tc.ws); got != tc.want {
			t.Errorf("%s: ExitCode(%#x) = %d, want %d", tc.name, uint32(tc.ws), got, tc.want)
		}
	}
}

// TestExitCodeFromRealChildren checks the mapping against statuses made by
// the kernel rather than by hand.
func TestExitCodeFromRealChildren(t *testing.T) {
	for script, want := range map[string]int{
		"exit 0": 0, "exit 3": 3, "exit 255": 255,
		"kill -TERM $$": 143, "kill -KILL $$": 137, "kill -HUP $$": 129,
	} {
		code, err := Run(Options{Signals: testSignals, Argv: []string{"sh", "-c", script}, Env: testEnv(), Mode: ModeSupervise, Log: zerolog.Nop()})
		if err != nil || code != want {
			t.Errorf("sh -c %q: code %d, err %v; want %d", script, code, err, want)
		}
	}
}

// testSignals are the subscriptions main would make first thing.
var testSignals = signals.Catch()

func testEnv() []string {
	return []string{"PATH=/usr/local/bin:/usr/bin:/bin"}
}

func TestExecLookPath(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("#!/bin/sh\nexit 0\n"), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	runnable := write("runnable", 0o755)
	write("plain", 0o644)
	os.Mkdir(filepath.Join(dir, "adir"), 0o755)
	env := []string{"HOME=/x", "PATH=" + dir + ":/bin"}

	if p, err := lookPath("runnable", env); err != nil || p != runnable {
		t.Errorf("runnable: %q, %v", p, err)
	}
	if p, err := lookPath("sh", env); err != nil || p != "/bin/sh" {
		t.Errorf("sh: %q, %v", p, err)
	}
	// Our own PATH must not matter: only the child's.
	if _, err := lookPath("sh", []string{"PATH=" + dir}); code(err) != 127 {
		t.Errorf("sh with PATH=%s: %v, want 127", dir, err)
	}
	for name, want := range map[string]int{
		"nosuchcommand":             127,
		"plain":                     126, // found but not executable
		"adir":                      126, // a directory is not a command
		filepath.Join(dir, "plain"): 126,
		filepath.Join(dir, "adir"):  126,
		filepath.Join(dir, "nope"):  127,
		"/etc":                      126,
	} {
		_, err := lookPath(name, env)
		if code(err) != want {
			t.Errorf("%s: %v (code %d), want %d", name, err, code(err), want)
		}
		if err != nil && !strings.Contains(err.Error(), name) {
			t.Errorf("%s: error %q does not name the command", name, err)
		}
	}
	// Running as root, access(X_OK) would pass a file with no x bit at all
	// only if some x bit is set, so 0644 above is a real 126 even for root.
}

// TestCheckExecutableWithoutFaccessat: where a seccomp filter refuses
// faccessat (EPERM) or the kernel lacks it (ENOSYS), the mode bits decide,
// as in os/exec.
func TestCheckExecutableWithoutFaccessat(t *testing.T) {
	dir := t.TempDir()
	runnable, plain := filepath.Join(dir, "runnable"), filepath.Join(dir, "plain")
	os.WriteFile(runnable, []byte("#!/bin/sh\n"), 0o755)
	os.WriteFile(plain, []byte("#!/bin/sh\n"), 0o644)
	defer func(f func(int, string, uint32, int) error) { faccessat = f }(faccessat)
	for _, errno := range []syscall.Errno{syscall.EPERM, syscall.ENOSYS} {
		faccessat = func(int, string, uint32, int) error { return errno }
		if err := checkExecutable(runnable); err != nil {
			t.Errorf("%v: mode 0755: %v, want runnable", errno, err)
		}
		if err := checkExecutable(plain); err != syscall.EACCES {
			t.Errorf("%v: mode 0644: %v, want EACCES", errno, err)
		}
		if _, err := lookPath("plain", []string{"PATH=" + dir}); code(err) != ExitNotExecutable {
			t.Errorf("%v: lookPath plain: %v, want 126", errno, err)
		}
	}
	// Any other answer of faccessat stands.
	faccessat = func(int, string, uint32, int) error { return syscall.EACCES }
	if err := checkExecutable(runnable); err != syscall.EACCES {
		t.Errorf("EACCES from faccessat: %v, want it kept", err)
	}
}

func code(err error) int {
	var se *ExitError
	if errors.As(err, &se) {
		return se.Code
	}
	return -1
}

func TestExecNoCommand(t *testing.T) {
	if _, err := Run(Options{Signals: testSignals, Env: testEnv(), Log: zerolog.Nop()}); code(err) != 125 {
		t.Errorf("no command: %v, want 125", err)
	}
	if _, err := Run(Options{Signals: testSignals, Argv: []string{"true"}, Env: testEnv(), Mode: "sideways", Log: zerolog.Nop()}); code(err) != 125 {
		t.Errorf("bad mode: %v, want 125", err)
	}
}

// TestReapLeftoversTermThenKill: the main child exits at once and leaves a
// grandchild that ignores TERM; the grandchild is killed after Grace and
// the code is the main child's.
func TestReapLeftoversTermThenKill(t *testing.T) {
	start := time.Now()
	code, err := Run(Options{
		Argv:    []string{"sh", "-c", "sh -c 'trap \"\" TERM; sleep 30' & sleep 0.2; exit 4"},
		Env:     testEnv(),
		Mode:    ModeSupervise,
		Grace:   500 * time.Millisecond,
		Signals: testSignals,
		Log:     zerolog.Nop(),
	})
	took := time.Since(start)
	if err != nil || code != 4 {
		t.Fatalf("code %d, err %v; want 4", code, err)
	}
	if took < 600*time.Millisecond || took > 10*time.Second {
		t.Errorf("took %v; want about 0.2s + the 0.5s grace", took)
	}
	if _, err := reap(syscall.WNOHANG); err != syscall.ECHILD {
		t.Errorf("children left behind")
	}
}

// TestReapNothingLeftNoWait: a main child that leaves nothing exits at
// once, whatever the grace.
func TestReapNothingLeftNoWait(t *testing.T) {
	start := time.Now()
	code, err := Run(Options{Signals: testSignals, Argv: []string{"true"}, Env: testEnv(), Mode: ModeSupervise, Grace: time.Minute, Log: zerolog.Nop()})
	if err != nil || code != 0 {
		t.Fatalf("code %d, err %v", code, err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("took %v with nothing left", took)
	}
}

func TestExecLimitsNameTheVariable(t *testing.T) {
	huge := strings.Repeat("s", 200<<10)
	_, err := Run(Options{Signals: testSignals, Argv: []string{"true"}, Env: append(testEnv(), "HUGE_VALUE="+huge), Mode: ModeSupervise, Log: zerolog.Nop()})
	if code(err) != 125 || !strings.Contains(err.Error(), "HUGE_VALUE") || strings.Contains(err.Error(), "sss") {
		t.Errorf("200 KiB variable: %v; want 125 naming HUGE_VALUE without its value", err)
	}
	// Just under the limit runs.
	ok := "OK=" + strings.Repeat("s", 32*os.Getpagesize()-4)
	if c, err := Run(Options{Signals: testSignals, Argv: []string{"true"}, Env: append(testEnv(), ok), Mode: ModeSupervise, Log: zerolog.Nop()}); err != nil || c != 0 {
		t.Errorf("variable at the limit: %d, %v", c, err)
	}
}

// TestExecSizeIsTheKernels: an environment that brings execSize exactly to
// the limit starts; one byte more is what the kernel refuses (E2BIG), and
// checkExecLimits refuses it first, naming the largest variables.
func TestExecSizeIsTheKernels(t *testing.T) {
	limit, _, ok := argLimit()
	if !ok {
		t.Skip("no RLIMIT_STACK")
	}
	path, argv := "/bin/true", []string{"true"}
	env := func(need uint64) []string {
		// Variables of 100 KiB, then one that makes up the rest.
		var e []string
		for i := 0; execSize(path, argv, e) < need; i++ {
			e = append(e, fmt.Sprintf("V%04d=", i))
			rest := need - execSize(path, argv, e)
			e[i] += strings.Repeat("x", int(min(rest, 100<<10)))
		}
		return e
	}
	at, over := env(limit), env(limit+1)
	if execSize(path, argv, at) != limit || execSize(path, argv, over) != limit+1 {
		t.Fatalf("test environments are %d and %d bytes, want %d and %d", execSize(path, argv, at), execSize(path, argv, over), limit, limit+1)
	}
	run := func(env []string) error {
		pid, err := syscall.ForkExec(path, argv, &syscall.ProcAttr{Env: env})
		if err == nil {
			var ws syscall.WaitStatus
			syscall.Wait4(pid, &ws, 0, nil)
		}
		return err
	}
	if err := run(at); err != nil {
		t.Errorf("%d bytes, the limit: the kernel refused: %v", limit, err)
	}
	if err := checkExecLimits(path, argv, at); err != nil {
		t.Errorf("%d bytes, the limit: %v", limit, err)
	}
	if err := run(over); err != syscall.E2BIG {
		t.Errorf("%d bytes, one over the limit: the kernel said %v, want E2BIG", limit+1, err)
	}
	err := checkExecLimits(path, argv, over)
	if code(err) != ExitUsage || !strings.Contains(err.Error(), fmt.Sprint(limit+1)) || !strings.Contains(err.Error(), fmt.Sprint(limit)) ||
		!strings.Contains(err.Error(), "V0000 (") || strings.Contains(err.Error(), "xxx") {
		t.Errorf("one over the limit: %v; want 125 naming the size, the limit and V0000, never a value", err)
	}
}
