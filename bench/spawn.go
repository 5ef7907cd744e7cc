package main

import (
	"fmt"
	"math"
	"os"
	"slices"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// cmdSpec is one command line to time: argv[0] must be an absolute path,
// since the bench runs commands from temporary directories without a PATH
// lookup of its own (the lookup would be timed otherwise).
type cmdSpec struct {
	name string
	argv []string
	env  []string
	dir  string
}

// spawnResult is one finished run.
type spawnResult struct {
	start  time.Time // just before fork, with Go's monotonic reading
	wall   time.Duration
	ws     syscall.WaitStatus
	cpu    time.Duration // user+sys of the process and the children it reaped
	minflt int64         // minor page faults, same scope
}

// devNull is opened once: opening it per run would be timed.
var devNull *os.File

// spawn starts c with the given stdio and returns its pid and a pidfd. The
// pidfd lets watchdogs kill exactly this process, even after it was reaped
// and its pid reused, which a plain kill(pid) cannot promise.
func spawn(c cmdSpec, stdin, stdout, stderr uintptr) (pid, pidfd int, err error) {
	pidfd = -1
	attr := &syscall.ProcAttr{
		Dir:   c.dir,
		Env:   c.env,
		Files: []uintptr{stdin, stdout, stderr},
		Sys:   &syscall.SysProcAttr{PidFD: &pidfd},
	}
	pid, err = syscall.ForkExec(c.argv[0], c.argv, attr)
	return pid, pidfd, err
}

// runOnce times one run of c as the research harness did (research/init.md
// §5.2, Method A): fork+exec then waitpid, stdio on /dev/null, so that no
// terminal I/O is timed. syscall.ForkExec uses clone(CLONE_VFORK|CLONE_VM)
// like posix_spawn. A run still alive after limit is killed, so that one
// hung command cannot hang the bench.
func runOnce(c cmdSpec, limit time.Duration) (spawnResult, error) {
	null := devNull.Fd()
	return runOnceIO(c, limit, null, null, null)
}

func runOnceIO(c cmdSpec, limit time.Duration, stdin, stdout, stderr uintptr) (spawnResult, error) {
	start := time.Now()
	pid, pidfd, err := spawn(c, stdin, stdout, stderr)
	if err != nil {
		return spawnResult{}, fmt.Errorf("%s: %w", c.name, err)
	}
	defer unix.Close(pidfd)
	watchdog := time.AfterFunc(limit, func() { _ = unix.PidfdSendSignal(pidfd, unix.SIGKILL, nil, 0) })
	var ru syscall.Rusage
	ws, err := wait4(pid, &ru)
	wall := time.Since(start)
	watchdog.Stop()
	if err != nil {
		return spawnResult{}, fmt.Errorf("%s: wait4: %w", c.name, err)
	}
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	return spawnResult{start: start, wall: wall, ws: ws, cpu: cpu, minflt: ru.Minflt}, nil
}

func wait4(pid int, ru *syscall.Rusage) (syscall.WaitStatus, error) {
	var ws syscall.WaitStatus
	// EINTR is the only reason to go round again; bounded so that a
	// pathological signal storm still ends.
	for range 1000 {
		_, err := syscall.Wait4(pid, &ws, 0, ru)
		if err == syscall.EINTR {
			continue
		}
		return ws, err
	}
	return ws, syscall.EINTR
}

// stats summarises durations.
type stats struct {
	n                     int
	median, p90, min, max time.Duration
}

func summarize(ds []time.Duration) stats {
	if len(ds) == 0 {
		return stats{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return stats{n: len(s), median: median(s), p90: percentile(s, 0.9), min: s[0], max: s[len(s)-1]}
}

// median of sorted durations; the mean of the middle two for an even count.
func median(sorted []time.Duration) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

// percentile is the nearest-rank percentile of sorted durations.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func medianOf(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return median(s)
}

// alternatives are the other inits wrapping cmd, with the flags the
// research measured them with (tini -s, so that it reaps as a subreaper
// instead of warning that it is not PID 1). label names cmd in the row
// names. Those not installed come back in skipped.
func alternatives(env *benchEnv, label string, cmd ...string) (specs []cmdSpec, skipped []string) {
	for _, alt := range []struct {
		name, path string
		args       []string
	}{
		{"tini -s -- ", "/usr/bin/tini", []string{"-s", "--"}},
		{"tini-static -s -- ", "/usr/bin/tini-static", []string{"-s", "--"}},
		{"dumb-init ", "/usr/bin/dumb-init", nil},
		{"catatonit -- ", "/usr/bin/catatonit", []string{"--"}},
	} {
		if _, err := os.Stat(alt.path); err != nil {
			skipped = append(skipped, alt.path)
			continue
		}
		argv := append(append([]string{alt.path}, alt.args...), cmd...)
		specs = append(specs, cmdSpec{name: alt.name + label, argv: argv, env: env.plainEnv, dir: env.emptyDir})
	}
	return specs, skipped
}
