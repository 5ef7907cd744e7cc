package smallfile

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestRead: what a flag or a variable may point at. Each refusal comes
// before a byte is read; none waits for anything.
func TestRead(t *testing.T) {
	dir := t.TempDir()
	file := func(name string, size int) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(strings.Repeat("x", size)), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()

	// The layout of a Kubernetes projected volume: token -> ..data/token,
	// ..data -> ..2024_01_01_00_00_00.0123 (a folder holding the file).
	stamp := filepath.Join(dir, "..2024_01_01_00_00_00.0123")
	os.Mkdir(stamp, 0o755)
	os.WriteFile(filepath.Join(stamp, "token"), []byte("eyJ.token.sig\n"), 0o600)
	os.Symlink(filepath.Base(stamp), filepath.Join(dir, "..data"))
	os.Symlink("..data/token", filepath.Join(dir, "token"))

	for _, c := range []struct {
		name, path string
		want       error
		text       string // in the error, or the content read
	}{
		{"regular file", file("ok", 100), nil, strings.Repeat("x", 100)},
		{"exactly the cap", file("cap", 1<<10), nil, strings.Repeat("x", 1<<10)},
		{"over the cap", file("big", 1<<10+1), ErrTooLarge, "larger than 1 KiB"},
		{"Kubernetes' ..data symlinks", filepath.Join(dir, "token"), nil, "eyJ.token.sig\n"},
		{"/dev/zero", "/dev/zero", ErrNotRegular, "is a character device, not a regular file"},
		{"a FIFO with no writer", fifo, ErrNotRegular, "is a FIFO, not a regular file"},
		{"a directory", dir, ErrNotRegular, "is a directory, not a regular file"},
		{"a socket", sock, ErrNotRegular, "is a socket, not a regular file"},
		{"missing", filepath.Join(dir, "missing"), os.ErrNotExist, "no such file or directory"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			data, err := Read(ctx, c.path, 1<<10)
			if c.want == nil {
				if err != nil || string(data) != c.text {
					t.Fatalf("Read = %q, %v; want %q", data, err, c.text)
				}
				return
			}
			if !errors.Is(err, c.want) || err.Error() != c.text {
				t.Fatalf("Read = %q, %v; want %q (%v)", data, err, c.text, c.want)
			}
			if strings.Contains(err.Error(), dir) {
				t.Errorf("the error repeats the path, which the caller names: %v", err)
			}
		})
	}
}

// TestReadDeadline: an open that never returns (a hung network file
// system) gives up when the caller's deadline comes.
func TestReadDeadline(t *testing.T) {
	hang := make(chan struct{})
	defer close(hang)
	openFile = func(string, int, os.FileMode) (*os.File, error) {
		<-hang
		return nil, errors.New("released")
	}
	defer func() { openFile = os.OpenFile }()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := Read(ctx, "/hung/mount/ca.pem", 1<<10)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the deadline", err)
	}
}
