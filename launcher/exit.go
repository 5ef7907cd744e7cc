package launcher

import "syscall"

// The exit codes of secret-init are part of its interface; tini and the
// shells use the same numbers. This is the one place that defines them.
const (
	ExitOK            = 0
	ExitFailed        = 1   // check: a start would fail; seed: a key failed
	ExitUsage         = 125 // secret-init failed before the command was tried
	ExitNotExecutable = 126 // the command exists but cannot be executed
	ExitNotFound      = 127 // the command is not in PATH of the child's environment
	ExitSignalOffset  = 128 // killed by signal N: 128+N
)

// SignalExit is the code for a death by sig: 128+N.
func SignalExit(sig syscall.Signal) int { return ExitSignalOffset + int(sig) }

// ExitCode maps a wait status to the code secret-init exits with: exited N
// gives N, killed by signal N gives 128+N, as the shells and tini report it.
func ExitCode(ws syscall.WaitStatus) int {
	switch {
	case ws.Exited():
		return ws.ExitStatus()
	case ws.Signaled():
		return SignalExit(ws.Signal())
	}
	// Stopped or continued: not reported without WUNTRACED/WCONTINUED,
	// which are never asked for. Say "failed" rather than make up a code.
	return 255
}
