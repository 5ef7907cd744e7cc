package main

// End-to-end tests run the real binary, built once here, as a user's
// container would: real processes, real signals, PID 1 in a new PID
// namespace, and a real HTTP server for Infisical.

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// bin is the path of the secret-init binary under test.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "secret-init-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "secret-init")
	build := exec.Command("go", "build", "-trimpath", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building secret-init:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is what one run of secret-init left behind.
type result struct {
	Code   int
	Stdout string
	Stderr string
}

// cleanEnv is a minimal process environment, so the tests do not depend on
// the developer's shell (an INFISICAL_ADDR there would change the path taken).
func cleanEnv(extra ...string) []string {
	return append([]string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root"}, extra...)
}

// runCmd runs cmd to completion with a hard deadline, so that a hang is a
// test failure and never a stuck CI run.
func runCmd(t *testing.T, timeout time.Duration, cmd *exec.Cmd) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if cmd.Stdout == nil {
		cmd.Stdout = &stdout
	}
	if cmd.Stderr == nil {
		cmd.Stderr = &stderr
	}
	if cmd.Env == nil {
		cmd.Env = cleanEnv()
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %v: %v", cmd.Args, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				code = 128 + int(ws.Signal())
			}
		} else if err != nil {
			t.Fatalf("wait %v: %v", cmd.Args, err)
		}
		return result{Code: code, Stdout: stdout.String(), Stderr: stderr.String()}
	case <-time.After(timeout):
		cmd.Process.Kill()
		<-done
		t.Fatalf("%v did not finish within %v\nstdout: %s\nstderr: %s", cmd.Args, timeout, stdout.String(), stderr.String())
		return result{}
	}
}

// runBin runs secret-init with args in dir (a temp dir when empty) and env.
func runBin(t *testing.T, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Dir = t.TempDir()
	return runCmd(t, 30*time.Second, cmd)
}

// pid1Args wraps args so that secret-init runs as PID 1 of a new PID
// namespace, the way a container runtime starts it.
func pid1Args(args ...string) []string {
	return append([]string{"--pid", "--fork", "--mount-proc", "--kill-child", bin}, args...)
}

// needPIDNamespace skips where a PID namespace cannot be made (not root,
// no unshare). CI runs as root with unshare, so there these tests run.
func needPIDNamespace(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "unshare", "--pid", "--fork", "--mount-proc", "true").CombinedOutput()
	if err != nil {
		t.Skipf("cannot make a PID namespace here (needs root and unshare): %v: %s", err, strings.TrimSpace(string(out)))
	}
}
