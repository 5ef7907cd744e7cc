// Package atomicfile replaces a file so that whoever reads it, at any
// moment, and whatever kills the writer, finds the old content or the new
// one: never a mix, a truncation or an empty file. secret-init writes its
// fallback file and its status file this way.
package atomicfile

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// staleTemp is how old a temporary file of an earlier writer must be for
// Write to remove it: one that was killed between creating and renaming
// it. No write takes this long (the caller bounds it far below), so a
// temporary file this old has no writer left.
const staleTemp = 10 * time.Minute

// busy holds the paths with a write in progress in this process: a write
// abandoned at its deadline (a hung file system) may still rename its
// file later, and must not put older content over a newer write's.
var busy sync.Map

// ErrBusy says an earlier write to the same path has not finished.
var ErrBusy = errors.New("an earlier write to this file has not finished")

// Write replaces path with data, with permissions perm: a temporary file
// in the same folder (so that the rename stays on one file system),
// written and fsynced, renamed over path, then the folder fsynced, so
// that after a crash the folder names the new file or the old one. When
// ctx ends first, Write returns at once and the write goes on by itself.
// Errors name the path, never the data. A panic in the write is raised
// again on the caller's goroutine, where its recover can see it.
func Write(ctx context.Context, path string, data []byte, perm os.FileMode) error {
	if _, loaded := busy.LoadOrStore(path, struct{}{}); loaded {
		return ErrBusy
	}
	type result struct {
		err      error
		panicked any
	}
	done := make(chan result, 1)
	go func() {
		var r result
		defer func() {
			r.panicked = recover()
			busy.Delete(path) // before the answer: the caller may write again at once
			done <- r
		}()
		r.err = write(path, data, perm)
	}()
	select {
	case r := <-done:
		if r.panicked != nil {
			panic(r.panicked)
		}
		return r.err
	case <-ctx.Done():
		return fmt.Errorf("not written before the deadline: %w", ctx.Err())
	}
}

func write(path string, data []byte, perm os.FileMode) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, tempPrefix(base)+"*")
	if err != nil {
		return unwrapPath(err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	// CreateTemp makes 0600; fchmod is not subject to the umask.
	if err := f.Chmod(perm); err != nil {
		return unwrapPath(err)
	}
	if _, err := f.Write(data); err != nil {
		return unwrapPath(err)
	}
	if err := f.Sync(); err != nil {
		return unwrapPath(err)
	}
	if err := f.Close(); err != nil {
		return unwrapPath(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return unwrapLink(err)
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("renamed, but the folder was not synced: %w", err)
	}
	sweep(dir, base)
	return nil
}

// tempPrefix names the temporary files of base: hidden, and told apart
// from base's own name.
func tempPrefix(base string) string { return "." + base + ".tmp-" }

// syncDir makes a rename in dir durable. A file system that cannot sync
// a folder (EINVAL) has nothing more to do.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return unwrapPath(err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return unwrapPath(err)
	}
	return nil
}

// sweep removes the temporary files of base that writers killed before
// their rename left behind, once they are stale.
func sweep(dir, base string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, tempPrefix(base)) {
			continue
		}
		if fi, err := e.Info(); err == nil && fi.Mode().IsRegular() && time.Since(fi.ModTime()) > staleTemp {
			os.Remove(filepath.Join(dir, name))
		}
	}
}

// unwrapPath drops the path from an *os.PathError: the caller names the
// file, with the flag that gave it.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Op, pe.Err)
	}
	return err
}

func unwrapLink(err error) error {
	var le *os.LinkError
	if errors.As(err, &le) {
		return fmt.Errorf("rename: %w", le.Err)
	}
	return err
}
