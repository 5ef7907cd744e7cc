package signals

import (
	"os"
	"runtime"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Stderr is secret-init's standard error. Everything secret-init prints
// there goes through it (the logger, kong, the usage line), because a
// write to a broken stderr must never reach the child as a signal.
//
// The kernel answers a write to a pipe nobody reads with EPIPE and a
// SIGPIPE directed at the writing thread, which looks exactly like a
// "kill -PIPE" from secret-init itself; os.File adds one more for fds 1
// and 2. Since SIGPIPE is subscribed (a SIGPIPE sent with kill is
// forwarded), either would be forwarded to the child, and kill it. So
// Stderr writes with raw write(2), on a locked thread with SIGPIPE
// blocked, and after an EPIPE takes the SIGPIPE left pending on that
// thread (the kernel dequeues a thread's own signals first). A SIGPIPE
// sent with kill is process-directed: the kernel hands it to a thread
// that does not block it, and it is forwarded as ever.
//
// A line that cannot be written has nowhere to be reported: Stderr drops
// it and says it was written, so that nothing else changes.
var Stderr = &pipeSafeWriter{fd: 2}

type pipeSafeWriter struct {
	mu sync.Mutex // one line at a time
	fd int
}

const sigpipeBit = 1 << (syscall.SIGPIPE - 1)

func (w *pipeSafeWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var pipe, old unix.Sigset_t
	pipe.Val[0] = sigpipeBit
	if unix.PthreadSigmask(unix.SIG_BLOCK, &pipe, &old) != nil {
		return len(p), nil // not safe to write
	}
	if writeAll(w.fd, p) == unix.EPIPE {
		takeOwnSigpipe(&pipe)
	}
	unix.PthreadSigmask(unix.SIG_SETMASK, &old, nil)
	return len(p), nil
}

// writeAll writes p to fd, waiting like os.File when fd is non-blocking.
func writeAll(fd int, p []byte) error {
	for len(p) > 0 {
		n, err := unix.Write(fd, p)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}, -1)
			continue
		case err != nil:
			return err
		}
		p = p[n:]
	}
	return nil
}

// siginfo is the head of the kernel's siginfo_t (128 bytes) as far as a
// kill fills it: number, errno, code, then the sender's pid.
type siginfo struct {
	signo, errno, code int32
	_                  int32
	pid                int32
	_                  [108]byte
}

// takeOwnSigpipe dequeues, without waiting, the SIGPIPE the failed write
// left pending on this thread. One that is not ours (it would have come
// from the process's queue, which never happens while the thread's own is
// there) is sent again, to be forwarded.
func takeOwnSigpipe(pipe *unix.Sigset_t) {
	var info siginfo
	var zero unix.Timespec
	for {
		sig, _, errno := syscall.RawSyscall6(unix.SYS_RT_SIGTIMEDWAIT, uintptr(unsafe.Pointer(pipe)),
			uintptr(unsafe.Pointer(&info)), uintptr(unsafe.Pointer(&zero)), 8, 0, 0)
		if errno == unix.EINTR {
			continue
		}
		if errno != 0 || sig != uintptr(syscall.SIGPIPE) {
			return
		}
		break
	}
	const siUser = 0
	if info.code != siUser || int(info.pid) != os.Getpid() {
		syscall.Kill(os.Getpid(), syscall.SIGPIPE)
	}
}
