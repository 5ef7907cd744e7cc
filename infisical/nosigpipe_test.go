package infisical

import (
	"context"
	"errors"
	"net"
	"os"
	"os/signal"
	"syscall"
	"testing"
	"time"
)

// resetConn dials a listener that resets the connection at once, and
// returns the connection once its read has seen the reset: from then on
// every write fails with EPIPE.
func resetConn(t *testing.T, dial func(context.Context, string, string) (net.Conn, error)) net.Conn {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dialed := make(chan struct{})
	go func() {
		s, err := ln.Accept()
		if err != nil {
			return
		}
		<-dialed
		s.(*net.TCPConn).SetLinger(0) // close with RST
		s.Close()
	}()
	c, err := dial(context.Background(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	close(dialed)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("read: %v, want ECONNRESET", err)
	}
	return c
}

// sigpipesAfterWrite writes to a reset connection and counts the SIGPIPEs
// raised: the kernel queues one before write returns, and the runtime
// hands queued signals to os/signal lowest number first, so it comes out
// before the SIGALRM (14) sent afterwards.
func sigpipesAfterWrite(t *testing.T, c net.Conn) int {
	t.Helper()
	ch := make(chan os.Signal, 16)
	signal.Notify(ch, syscall.SIGPIPE, syscall.SIGALRM)
	defer signal.Stop(ch)
	if _, err := c.Write([]byte("GET / HTTP/1.1\r\n\r\n")); !errors.Is(err, syscall.EPIPE) {
		t.Fatalf("write: %v, want EPIPE", err)
	}
	syscall.Kill(os.Getpid(), syscall.SIGALRM)
	n := 0
	for {
		select {
		case s := <-ch:
			if s == syscall.SIGALRM {
				return n
			}
			n++
		case <-time.After(10 * time.Second):
			t.Fatal("SIGALRM never arrived")
		}
	}
}

// TestDialWithoutSigpipe: a write to a connection Infisical has reset
// fails with EPIPE, and raises no SIGPIPE (which secret-init would
// forward to the service). Go's own connections do raise one.
func TestDialWithoutSigpipe(t *testing.T) {
	plain := (&net.Dialer{}).DialContext
	if n := sigpipesAfterWrite(t, resetConn(t, plain)); n != 1 {
		t.Errorf("a net.Dialer connection raised %d SIGPIPE, want 1 (has Go started using MSG_NOSIGNAL?)", n)
	}
	tr, err := newTransport(nil, false)
	if err != nil {
		t.Fatal(err)
	}
	if n := sigpipesAfterWrite(t, resetConn(t, tr.DialContext)); n != 0 {
		t.Errorf("the client's connection raised %d SIGPIPE, want 0", n)
	}
}
