// Package launcher hands over to the service: it execs it in place, or,
// as PID 1 (or on request), starts it and supervises it like tini.
//
// The life of a supervised child, in the order it happens (supervise.go):
// become a subreaper, start the child in its own process group (in the
// terminal's foreground when we hold it), replay the signals queued during
// startup, then one event loop: SIGCHLD drains wait4, any other signal is
// forwarded. When the main child exits, whatever it left behind gets
// SIGTERM, SIGKILL after Grace, and Run returns the main child's status.
package launcher

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"

	"secret-init/signals"
)

// Mode says how secret-init hands over.
type Mode string

const (
	ModeAuto      Mode = "auto"      // supervise when PID 1, exec otherwise
	ModeExec      Mode = "exec"      // execve in place
	ModeSupervise Mode = "supervise" // start a child and supervise it
)

// Options is everything the launcher needs; main fills it from flags.
type Options struct {
	Argv    []string         // the command and its arguments; Argv[0] is looked up in PATH of Env
	Env     []string         // the merged environment, KEY=VALUE
	Mode    Mode             // auto, exec or supervise
	Group   bool             // forward signals to the child's whole process group
	Rewrite signals.Rewrite  // forwarded-signal rewrites; nil means none
	Grace   time.Duration    // after the main child exits: SIGTERM the rest, SIGKILL after this
	Signals *signals.Catcher // the subscriptions made at start, and the mask secret-init started with
	Pending []syscall.Signal // signals that arrived during startup, replayed to the child
	Log     zerolog.Logger   // never given a value
}

// Run hands over. In exec mode it returns only on failure. In supervise
// mode it returns the exit code secret-init must exit with: the main
// child's code, or 128+N if signal N killed it. A command that could not be
// started is an *ExitError with 125, 126 or 127.
func Run(o Options) (int, error) {
	if len(o.Argv) == 0 {
		return 0, &ExitError{Code: ExitUsage, Err: errors.New("no command to run")}
	}
	path, err := lookPath(o.Argv[0], o.Env)
	if err != nil {
		return 0, err
	}
	if err := checkExecLimits(path, o.Argv, o.Env); err != nil {
		return 0, err
	}
	switch o.Mode {
	case ModeExec, ModeSupervise, ModeAuto, "":
	default:
		return 0, &ExitError{Code: ExitUsage, Err: fmt.Errorf("unknown mode %q (want auto, exec or supervise)", o.Mode)}
	}
	if o.Mode.Supervises() {
		return supervise(path, o)
	}
	return 0, execInPlace(path, o)
}

// Supervises reports whether Run supervises in mode m (else it execs):
// supervise, or auto as PID 1.
func (m Mode) Supervises() bool {
	return m == ModeSupervise || ((m == ModeAuto || m == "") && os.Getpid() == 1)
}

// execInPlace replaces secret-init with the command: same PID, and nothing
// of secret-init is left to reap or forward, so this suits a process that
// is not PID 1. Handlers installed by signal.Notify are reset to SIG_DFL by
// execve, as for any caught signal; the command gets the signal mask
// secret-init was started with, as a supervised child does.
func execInPlace(path string, o Options) error {
	for _, sig := range o.Pending {
		// No child exists yet to replay them to, and re-raising them after
		// execve is impossible, so they are dropped; TERM, INT, QUIT and HUP
		// never get here, they abort startup.
		o.Log.Debug().Str("signal", signals.Name(sig)).Msg("dropped startup signal in exec mode")
	}
	o.Log.Debug().Str("command", o.Argv[0]).Msg("exec")
	err := withMask(o.Signals.Mask, func() error { return syscall.Exec(path, o.Argv, o.Env) })
	return startError(o.Argv[0], err)
}

// defaultPath is what Docker sets when an image sets no PATH.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// lookPath finds name the way execvp does, but in PATH of env (the child's
// environment), not in ours. A candidate that exists but cannot be run is
// remembered: if nothing runnable is found, that gives 126, not 127.
func lookPath(name string, env []string) (string, error) {
	if strings.Contains(name, "/") {
		if err := checkExecutable(name); err != nil {
			return "", startError(name, err)
		}
		return name, nil
	}
	pathList := defaultPath
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			pathList = v // the last one wins, as in os/exec
		}
	}
	var denied error
	for _, dir := range filepath.SplitList(pathList) {
		if dir == "" {
			dir = "." // POSIX: an empty entry is the current directory
		}
		candidate := filepath.Join(dir, name)
		err := checkExecutable(candidate)
		if err == nil {
			return candidate, nil
		}
		if !errors.Is(err, syscall.ENOENT) && !errors.Is(err, syscall.ENOTDIR) && denied == nil {
			denied = err
		}
	}
	if denied != nil {
		return "", startError(name, denied)
	}
	return "", &ExitError{Code: ExitNotFound, Err: fmt.Errorf("%s: command not found in PATH", name)}
}

// checkExecutable reports why path cannot be executed, or nil. It follows
// os/exec's findExecutable: faccessat with the effective ids, and the mode
// bits when the kernel lacks it (ENOSYS) or a seccomp filter refuses it
// (EPERM), as container sandboxes do.
func checkExecutable(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return syscall.EISDIR
	}
	err = faccessat(unix.AT_FDCWD, path, unix.X_OK, unix.AT_EACCESS)
	if err == nil || (err != syscall.ENOSYS && err != syscall.EPERM) {
		return err
	}
	if fi.Mode()&0o111 != 0 {
		return nil
	}
	return syscall.EACCES
}

// faccessat is unix.Faccessat; a test stands in for a sandbox that refuses it.
var faccessat = unix.Faccessat

// startError gives a failure to run the command the exit code that tini
// and the shells use: 127 when it does not exist, 126 otherwise.
func startError(name string, err error) *ExitError {
	var errno syscall.Errno
	if pe, ok := err.(*os.PathError); ok {
		err = pe.Err
	}
	if errors.As(err, &errno) {
		switch errno {
		case syscall.ENOENT, syscall.ENOTDIR:
			// ENOENT from execve can also mean a missing #! interpreter;
			// the shells give 127 for that too.
			return &ExitError{Code: ExitNotFound, Err: fmt.Errorf("%s: %w", name, errno)}
		case syscall.EACCES, syscall.EPERM:
			return &ExitError{Code: ExitNotExecutable, Err: fmt.Errorf("%s: not executable: %w", name, errno)}
		case syscall.E2BIG:
			// checkExecLimits passed it: a #! script's interpreter and its
			// arguments, which the kernel adds, went over.
			return &ExitError{Code: ExitUsage, Err: fmt.Errorf("%s: the environment and arguments are too large for the kernel (with what a #! line adds): %w", name, errno)}
		}
	}
	return &ExitError{Code: ExitNotExecutable, Err: fmt.Errorf("%s: cannot execute: %w", name, err)}
}

// describe renders a wait status for the debug log.
func describe(ws syscall.WaitStatus) string {
	if ws.Signaled() {
		return "signal " + signals.Name(ws.Signal())
	}
	return fmt.Sprintf("exit %d", ws.ExitStatus())
}
