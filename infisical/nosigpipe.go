package infisical

import (
	"context"
	"net"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// Go's net package writes to sockets with write(2), so a write to a
// connection the server has reset fails with EPIPE and the kernel raises
// SIGPIPE with it; secret-init subscribes to SIGPIPE and forwards it to
// the service (one sent with kill is meant for the service), so its own
// must never be raised. Every connection to Infisical writes with send(2)
// and MSG_NOSIGNAL instead: the same error, no signal.

// dialWithoutSigpipe wraps dial so that the connections it makes never
// raise SIGPIPE.
func dialWithoutSigpipe(dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		sc, ok := c.(syscall.Conn)
		if !ok {
			return c, nil
		}
		raw, err := sc.SyscallConn()
		if err != nil {
			return c, nil
		}
		// Only net.Conn's methods: a TCPConn's ReadFrom would write with
		// sendfile or splice, past Write.
		return &noSigpipeConn{Conn: c, raw: raw}, nil
	}
}

type noSigpipeConn struct {
	net.Conn
	raw syscall.RawConn
}

// Write is net.Conn's, through the runtime's poller (deadlines hold), with
// send(2) and MSG_NOSIGNAL.
func (c *noSigpipeConn) Write(p []byte) (int, error) {
	n := 0
	var sendErr error
	err := c.raw.Write(func(fd uintptr) bool {
		for n < len(p) {
			m, err := unix.SendmsgN(int(fd), p[n:], nil, nil, unix.MSG_NOSIGNAL)
			switch {
			case err == unix.EINTR:
				continue
			case err == unix.EAGAIN:
				return false // wait until writable
			case err != nil:
				sendErr = err
				return true
			}
			n += m
		}
		return true
	})
	if err == nil && sendErr != nil {
		err = &net.OpError{Op: "write", Net: c.LocalAddr().Network(), Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: os.NewSyscallError("write", sendErr)}
	}
	return n, err
}
