package atomicfile_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"secret-init/atomicfile"
)

// The test binary is also the writer the tests kill: with
// ATOMICFILE_WRITER=atomic (or plain, os.WriteFile, for the control) and
// ATOMICFILE_PATH set, it rewrites the file with ever higher sequence
// numbers until it is killed.
func TestMain(m *testing.M) {
	if mode := os.Getenv("ATOMICFILE_WRITER"); mode != "" {
		writeForever(mode, os.Getenv("ATOMICFILE_PATH"))
	}
	os.Exit(m.Run())
}

// doc is what the writer writes: large, so that a write takes long enough
// to be killed or read in the middle of.
type doc struct {
	Seq int    `json:"seq"`
	Pad string `json:"pad"`
}

func encode(seq int) []byte {
	data, _ := json.Marshal(doc{Seq: seq, Pad: strings.Repeat("x", 256<<10)})
	return data
}

func writeForever(mode, path string) {
	// Start above what the file holds, so that the sequence only grows
	// across writers.
	seq := readSeq(path)
	for {
		seq++
		var err error
		if mode == "plain" {
			err = os.WriteFile(path, encode(seq), 0o644)
		} else {
			err = atomicfile.Write(context.Background(), path, encode(seq), 0o644)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
}

// readSeq is the file's sequence number, or -1 when it is not one whole
// document.
func readSeq(path string) int {
	data, err := os.ReadFile(path)
	if err != nil {
		return -1
	}
	var d doc
	if json.Unmarshal(data, &d) != nil || len(d.Pad) != 256<<10 {
		return -1
	}
	return d.Seq
}

func startWriter(t *testing.T, mode, path string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "ATOMICFILE_WRITER="+mode, "ATOMICFILE_PATH="+path)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

// watch reads path in a loop until stop is closed, and counts the reads
// that were not one whole document.
func watch(path string, stop chan struct{}, reads, torn *atomic.Int64) *sync.WaitGroup {
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if readSeq(path) < 0 {
				torn.Add(1)
			}
			reads.Add(1)
		}
	})
	return &wg
}

// TestKilledMidWrite: a writer that replaces a 256 KiB document over and
// over is killed with SIGKILL at many points; a reader reads all along.
// Every read, and the file after every kill, is a whole document, and the
// sequence never goes back.
func TestKilledMidWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "status.json")
	if err := atomicfile.Write(context.Background(), path, encode(0), 0o644); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var reads, torn atomic.Int64
	wg := watch(path, stop, &reads, &torn)
	last, killed := 0, 0
	for round := range 40 {
		cmd := startWriter(t, "atomic", path)
		// Wait for the writer's first rename, then kill it somewhere in
		// the next ones: at a random point of its loop.
		deadline := time.Now().Add(20 * time.Second)
		for readSeq(path) <= last && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		time.Sleep(time.Duration(rand.IntN(5000)) * time.Microsecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		if ws := cmd.ProcessState.Sys().(syscall.WaitStatus); ws.Signaled() {
			killed++
		}
		seq := readSeq(path)
		if seq < 0 {
			t.Fatalf("round %d: after SIGKILL the file is not one whole document", round)
		}
		if seq <= last {
			t.Fatalf("round %d: sequence %d after %d: the writer never wrote, or the file went back", round, seq, last)
		}
		last = seq
	}
	close(stop)
	wg.Wait()
	if torn.Load() > 0 {
		t.Errorf("%d of %d reads saw a torn or missing document", torn.Load(), reads.Load())
	}
	if killed < 40 {
		t.Errorf("only %d of 40 writers were killed by the signal; the others had exited", killed)
	}
	// A kill between a temporary file's creation and its rename leaves it
	// (the next write removes it once stale): what shows that kills came
	// in the middle of writes, not only between them.
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".status.json.tmp-*"))
	if len(left) == 0 {
		t.Error("no kill came in the middle of a write")
	}
	t.Logf("%d writes, %d reads; %d of 40 kills came in the middle of a write", last, reads.Load(), len(left))
}

// TestKilledMidWriteControl: the same reader does see a plain rewrite
// (os.WriteFile) torn, so TestKilledMidWrite's check can fail.
func TestKilledMidWriteControl(t *testing.T) {
	path := filepath.Join(t.TempDir(), "status.json")
	os.WriteFile(path, encode(0), 0o644)
	stop := make(chan struct{})
	var reads, torn atomic.Int64
	wg := watch(path, stop, &reads, &torn)
	cmd := startWriter(t, "plain", path)
	deadline := time.Now().Add(60 * time.Second)
	for torn.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	cmd.Process.Kill()
	cmd.Wait()
	close(stop)
	wg.Wait()
	if torn.Load() == 0 {
		t.Fatalf("%d reads of a file rewritten in place never saw it torn: the check is blind", reads.Load())
	}
}

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	ctx := context.Background()
	for _, perm := range []os.FileMode{0o600, 0o644} {
		if err := atomicfile.Write(ctx, path, []byte("v"+perm.String()), perm); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != perm {
			t.Errorf("mode %v, want %v", fi.Mode().Perm(), perm)
		}
		if data, _ := os.ReadFile(path); string(data) != "v"+perm.String() {
			t.Errorf("content %q", data)
		}
	}

	// A temporary file an earlier writer left is removed once stale, and
	// only then.
	stale, fresh := filepath.Join(dir, ".f.tmp-1"), filepath.Join(dir, ".f.tmp-2")
	os.WriteFile(stale, nil, 0o600)
	os.WriteFile(fresh, nil, 0o600)
	old := time.Now().Add(-time.Hour)
	os.Chtimes(stale, old, old)
	if err := atomicfile.Write(ctx, path, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); err == nil {
		t.Error("a stale temporary file was left")
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Error("a fresh temporary file (another writer's) was removed")
	}

	// Failures name neither the data nor, twice, the path.
	for _, bad := range []string{filepath.Join(dir, "missing", "f"), filepath.Join(path, "under-a-file")} {
		err := atomicfile.Write(ctx, bad, []byte("SECRET-DATA"), 0o600)
		if err == nil {
			t.Fatalf("%s: no error", bad)
		}
		if strings.Contains(err.Error(), "SECRET-DATA") || strings.Contains(err.Error(), dir) {
			t.Errorf("%s: error %q holds the data or the path", bad, err)
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".f.tmp-") && e.Name() != ".f.tmp-2" {
			t.Errorf("a failed or finished write left %s", e.Name())
		}
	}
}
