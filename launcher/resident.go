package launcher

import (
	"bufio"
	"os"
	"runtime/debug"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// trimResident gives back the memory that start-up touched and the
// supervisor loop never needs again, so a long-running supervisor holds
// only what it uses.
//
// Most of a Go init's resident set is pages of its own binary read during
// start-up (flag parsing, contracts, the HTTP client, TLS). They are clean
// file pages: dropping them from our mappings with MADV_DONTNEED costs
// nothing but a minor fault if the loop touches one again, and the page
// cache keeps them for every other process. Only read-only mappings of
// the executable are touched: a writable private mapping may hold our
// changes, which MADV_DONTNEED would throw away. The heap that start-up
// freed goes back to the kernel with FreeOSMemory.
func trimResident() {
	debug.FreeOSMemory()
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return
	}
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// 00400000-00c8b000 r-xp 00000000 fd:00 1234   /usr/local/bin/secret-init
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || fields[5] != exe || strings.Contains(fields[1], "w") {
			continue
		}
		lo, hi, ok := strings.Cut(fields[0], "-")
		if !ok {
			continue
		}
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil || end <= start {
			continue
		}
		unix.Syscall(unix.SYS_MADVISE, uintptr(start), uintptr(end-start), unix.MADV_DONTNEED)
	}
}
