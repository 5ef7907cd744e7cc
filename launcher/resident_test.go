package launcher

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

func rssFileKiB(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "RssFile:"); ok {
			n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no RssFile in /proc/self/status")
	return 0
}

// TestTrimResident drops this test binary's clean pages and keeps running:
// the process goes on executing code it just gave back, which is the
// point (the pages fault back in from the page cache).
func TestTrimResident(t *testing.T) {
	before := rssFileKiB(t)
	trimResident()
	after := rssFileKiB(t)
	if after >= before {
		t.Errorf("RssFile %d KiB before, %d after: nothing given back", before, after)
	}
	// Code and read-only data still work after the trim.
	if got := describe(0); got != "exit 0" {
		t.Errorf("describe(0) = %q after the trim", got)
	}
}
