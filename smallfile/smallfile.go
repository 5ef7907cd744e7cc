// Package smallfile reads the small files secret-init is pointed at by a
// flag or a variable (a CA bundle, a service-account token): regular
// files only, symlinks followed (Kubernetes mounts a projected token as a
// chain of them), never more than a cap, and never waited on past the
// caller's deadline.
package smallfile

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// ErrNotRegular and ErrTooLarge match (errors.Is) the errors of Read.
var (
	ErrNotRegular = errors.New("not a regular file")
	ErrTooLarge   = errors.New("too large")
)

// Read returns the content of the regular file at path, at most max
// bytes. A FIFO, a device (/dev/zero), a socket or a directory is refused
// before a byte is read; it is opened without blocking, so that a FIFO
// with no writer cannot hang the open. When ctx ends first (a hung network
// file system), Read returns ctx's error at once and leaves the read to
// finish on its own. A panic in the read is raised again on the caller's
// goroutine, where its recover can see it.
func Read(ctx context.Context, path string, max int64) ([]byte, error) {
	if ctx.Done() == nil {
		return read(path, max)
	}
	type result struct {
		data     []byte
		err      error
		panicked any
	}
	done := make(chan result, 1)
	go func() {
		var r result
		defer func() {
			r.panicked = recover()
			done <- r
		}()
		r.data, r.err = read(path, max)
	}()
	select {
	case r := <-done:
		if r.panicked != nil {
			panic(r.panicked)
		}
		return r.data, r.err
	case <-ctx.Done():
		return nil, fmt.Errorf("not read before the deadline: %w", ctx.Err())
	}
}

// openFile is os.OpenFile; a test puts an open that hangs in its place.
var openFile = os.OpenFile

func read(path string, max int64) ([]byte, error) {
	// Named first, so that a socket (whose open fails with "no such device
	// or address") is called what it is; the fstat below is what decides.
	if fi, err := os.Stat(path); err == nil && !fi.Mode().IsRegular() {
		return nil, &notRegular{fi.Mode().Type()}
	}
	f, err := openFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, unwrapPath(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, unwrapPath(err)
	}
	if !fi.Mode().IsRegular() {
		return nil, &notRegular{fi.Mode().Type()}
	}
	if fi.Size() > max {
		return nil, &tooLarge{max}
	}
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, unwrapPath(err)
	}
	if int64(len(data)) > max {
		return nil, &tooLarge{max} // grew while being read, or a file whose size lies (/proc)
	}
	return data, nil
}

// unwrapPath drops the path from an *fs.PathError: the caller names the
// file, with the flag or variable that gave it.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

type notRegular struct{ mode fs.FileMode }

func (e *notRegular) Error() string {
	kind := "a special file"
	switch {
	case e.mode&fs.ModeDir != 0:
		kind = "a directory"
	case e.mode&fs.ModeNamedPipe != 0:
		kind = "a FIFO"
	case e.mode&fs.ModeSocket != 0:
		kind = "a socket"
	case e.mode&fs.ModeCharDevice != 0:
		kind = "a character device"
	case e.mode&fs.ModeDevice != 0:
		kind = "a block device"
	}
	return "is " + kind + ", not a regular file"
}

func (e *notRegular) Is(target error) bool { return target == ErrNotRegular }

type tooLarge struct{ max int64 }

func (e *tooLarge) Error() string {
	if e.max >= 1<<20 && e.max%(1<<20) == 0 {
		return fmt.Sprintf("larger than %d MiB", e.max>>20)
	}
	if e.max%(1<<10) == 0 {
		return fmt.Sprintf("larger than %d KiB", e.max>>10)
	}
	return fmt.Sprintf("larger than %d bytes", e.max)
}

func (e *tooLarge) Is(target error) bool { return target == ErrTooLarge }
