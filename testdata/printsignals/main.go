// Command printsignals is a helper of the end-to-end tests: it prints
// "ready", then the number of every signal it receives, one per line
// (1-31 but KILL and STOP, and the realtime signals 35-64, all a Go
// program can receive). With -stdin it exits 0 when its stdin closes;
// otherwise it runs until killed. With -jobcontrol TSTP, TTIN and TTOU
// keep their default action: they stop it, as they stop most programs.
//
// "printsignals -block 10,21 CMD ARG..." blocks those signals and execs
// CMD, as a parent that starts secret-init with signals blocked.
//
// "printsignals -orphans N" instead forks N children that exit at once and
// exits without waiting for them, so N zombies land on the nearest reaper
// together: the reaping tests need thousands, faster than a shell can fork.
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

func main() {
	if len(os.Args) > 3 && os.Args[1] == "-block" {
		blockExec(os.Args[2], os.Args[3:])
		return
	}
	// The Go runtime preempts busy goroutines with SIGURG of its own. Turn
	// that off (it can only be set from the environment, before start), so
	// that every URG printed came from outside.
	if !strings.Contains(os.Getenv("GODEBUG"), "asyncpreemptoff=1") {
		exe, err := os.Executable()
		if err == nil {
			env := append(os.Environ(), "GODEBUG=asyncpreemptoff=1")
			err = syscall.Exec(exe, os.Args, env)
		}
		fmt.Fprintln(os.Stderr, "printsignals: re-exec:", err)
		os.Exit(2)
	}
	if len(os.Args) > 2 && os.Args[1] == "-orphans" {
		n, _ := strconv.Atoi(os.Args[2])
		orphans(n)
		return
	}
	flags := map[string]bool{}
	for _, a := range os.Args[1:] {
		flags[a] = true
	}
	c := make(chan os.Signal, 1024)
	for n := syscall.Signal(1); n <= 64; n++ {
		switch {
		case n == syscall.SIGKILL || n == syscall.SIGSTOP || (n >= 32 && n <= 34):
		case flags["-jobcontrol"] && (n == syscall.SIGTSTP || n == syscall.SIGTTIN || n == syscall.SIGTTOU):
		default:
			signal.Notify(c, n)
		}
	}
	if flags["-stdin"] {
		go func() {
			io.Copy(io.Discard, os.Stdin)
			signal.Stop(c)
			close(c)
		}()
	}
	out := bufio.NewWriter(os.Stdout)
	fmt.Fprintln(out, "ready")
	out.Flush()
	for s := range c {
		fmt.Fprintln(out, int(s.(syscall.Signal)))
		out.Flush()
	}
}

// orphans forks n children with raw fork(2). A child runs no Go code: it
// only calls exit_group, and all signals stay blocked in it, so no Go
// signal handler can run in a copy of the runtime that has one thread.
func orphans(n int) {
	runtime.LockOSThread()
	var all, old unix.Sigset_t
	for i := range all.Val {
		all.Val[i] = ^uint64(0)
	}
	unix.PthreadSigmask(unix.SIG_SETMASK, &all, &old)
	for i := 0; i < n; i++ {
		pid, _, errno := syscall.RawSyscall(syscall.SYS_FORK, 0, 0, 0)
		if errno != 0 {
			fmt.Fprintln(os.Stderr, "printsignals: fork:", errno)
			os.Exit(1)
		}
		if pid == 0 {
			syscall.RawSyscall(syscall.SYS_EXIT_GROUP, 0, 0, 0)
		}
	}
	unix.PthreadSigmask(unix.SIG_SETMASK, &old, nil)
}

// blockExec blocks the signals listed (numbers, comma-separated) and execs
// argv, which inherits the mask of the thread that calls execve.
func blockExec(list string, argv []string) {
	runtime.LockOSThread()
	var set unix.Sigset_t
	for _, f := range strings.Split(list, ",") {
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 || n > 64 {
			fmt.Fprintln(os.Stderr, "printsignals: -block: bad signal", f)
			os.Exit(2)
		}
		set.Val[(n-1)/64] |= 1 << ((n - 1) % 64)
	}
	unix.PthreadSigmask(unix.SIG_BLOCK, &set, nil)
	path, err := exec.LookPath(argv[0])
	if err == nil {
		err = syscall.Exec(path, argv, os.Environ())
	}
	fmt.Fprintln(os.Stderr, "printsignals: -block:", err)
	os.Exit(2)
}
