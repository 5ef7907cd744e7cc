// Package launcher hands over to the service: it execs it in place, or,
// as PID 1 (or on request), starts it and supervises it like tini.
package launcher

import (
	"syscall"
	"time"

	"github.com/rs/zerolog"

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
	Catcher *signals.Catcher // the subscriptions made first thing in main
	Pending []syscall.Signal // signals that arrived during startup, replayed to the child
	Log     zerolog.Logger   // never given a value
}

// StartError is a failure before the command ran; Code is 125, 126 or 127.
type StartError struct {
	Code int
	Err  error
}

func (e *StartError) Error() string { return e.Err.Error() }
func (e *StartError) Unwrap() error { return e.Err }

// Run hands over. In exec mode it returns only on failure. In supervise
// mode it returns the exit code secret-init must exit with: the main
// child's code, or 128+N if signal N killed it.
func Run(o Options) (int, error) { panic("todo") }
