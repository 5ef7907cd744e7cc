package signals

import (
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// brokenPipe returns the write end of a pipe whose read end is closed:
// every write to it fails with EPIPE and raises SIGPIPE.
func brokenPipe(t *testing.T) int {
	t.Helper()
	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	unix.Close(fds[0])
	t.Cleanup(func() { unix.Close(fds[1]) })
	return fds[1]
}

// sigpipesBefore sends this process SIGALRM and counts the SIGPIPEs that
// reach Forward before it. A SIGPIPE raised by a write is queued before
// the write returns, and the runtime hands queued signals to os/signal
// lowest number first, so one raised before the ALRM (14) comes out
// before it: counting up to the ALRM misses none, without any wait.
func sigpipesBefore(t *testing.T, c *Catcher) int {
	t.Helper()
	sendSelf(t, syscall.SIGALRM)
	n := 0
	deadline := time.After(10 * time.Second)
	for {
		select {
		case s := <-c.Forward:
			switch s {
			case syscall.SIGALRM:
				return n
			case syscall.SIGPIPE:
				n++
			}
		case <-deadline:
			t.Fatal("SIGALRM never arrived")
		}
	}
}

func TestStderrUnsafeWriteRaisesSigpipe(t *testing.T) {
	// The hazard is real: a plain write to a broken pipe reaches Forward.
	c := Catch()
	fd := brokenPipe(t)
	if _, err := unix.Write(fd, []byte("x\n")); err != unix.EPIPE {
		t.Fatalf("write: %v, want EPIPE", err)
	}
	if n := sigpipesBefore(t, c); n != 1 {
		t.Errorf("a plain write to a broken pipe: %d SIGPIPE on Forward, want 1", n)
	}
}

func TestStderrBrokenPipeRaisesNothing(t *testing.T) {
	c := Catch()
	w := &pipeSafeWriter{fd: brokenPipe(t)}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 500 {
				if n, err := w.Write([]byte("a log line\n")); n != 11 || err != nil {
					t.Errorf("Write = %d, %v; want 11, nil", n, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if n := sigpipesBefore(t, c); n != 0 {
		t.Errorf("2000 failed writes let %d SIGPIPE through", n)
	}
}

// TestStderrKillPipeStillForwarded: while writes fail all the time, every
// SIGPIPE sent with kill still reaches Forward, and nothing more does.
func TestStderrKillPipeStillForwarded(t *testing.T) {
	c := Catch()
	w := &pipeSafeWriter{fd: brokenPipe(t)}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
					w.Write([]byte("a log line\n"))
				}
			}
		})
	}
	for i := range 50 {
		sendSelf(t, syscall.SIGPIPE)
		select {
		case s := <-c.Forward:
			if s != syscall.SIGPIPE {
				t.Fatalf("kill %d: got %v, want SIGPIPE", i, s)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("kill %d: SIGPIPE sent with kill never arrived", i)
		}
	}
	close(stop)
	wg.Wait()
	if n := sigpipesBefore(t, c); n != 0 {
		t.Errorf("%d SIGPIPE beyond the 50 sent", n)
	}
}

func TestStderrSiginfoLayout(t *testing.T) {
	if unsafe.Sizeof(siginfo{}) != 128 || unsafe.Offsetof(siginfo{}.pid) != 16 {
		t.Errorf("siginfo is %d bytes with pid at %d; the kernel's is 128 with si_pid at 16", unsafe.Sizeof(siginfo{}), unsafe.Offsetof(siginfo{}.pid))
	}
}
