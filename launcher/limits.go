package launcher

import (
	"cmp"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// The kernel's limits on what execve takes (fs/exec.c): one string at
// most 32 pages with its NUL (MAX_ARG_STRLEN), and all of them together,
// with a pointer each, at most a quarter of the stack rlimit, capped at
// 6 MiB and never under 128 KiB (ARG_MAX).
const (
	argTotalCap   = 6 << 20
	argTotalFloor = 128 << 10
	pointerSize   = strconv.IntSize / 8
)

// checkExecLimits catches what execve would refuse with E2BIG, before
// anything runs, so that the error names the variables instead of
// blaming the command. It never quotes a value.
func checkExecLimits(path string, argv, env []string) error {
	strlen := 32 * os.Getpagesize()
	for _, kv := range env {
		if len(kv)+1 > strlen { // +1: the kernel counts the NUL
			return &ExitError{Code: ExitUsage, Err: fmt.Errorf("environment variable %s is %d bytes; Linux passes at most %d bytes per variable to a program", keyOf(kv), len(kv), strlen-1)}
		}
	}
	for i, arg := range argv {
		if len(arg)+1 > strlen {
			return &ExitError{Code: ExitUsage, Err: fmt.Errorf("argument %d of %s is %d bytes; Linux passes at most %d bytes per argument", i, argv[0], len(arg), strlen-1)}
		}
	}
	limit, stack, ok := argLimit()
	if !ok {
		return nil // no rlimit to go by: execve will say
	}
	if need := execSize(path, argv, env); need > limit {
		return &ExitError{Code: ExitUsage, Err: tooBig(need, limit, stack, env)}
	}
	return nil
}

// execSize is what execve counts against the limit: the file name, every
// argument and variable with its NUL, and a pointer for each (at least
// one argument, however few there are).
func execSize(path string, argv, env []string) uint64 {
	n := uint64(len(path)+1) + uint64(pointerSize*(max(len(argv), 1)+len(env)))
	if len(argv) == 0 {
		n++ // the kernel passes an empty argv[0] instead
	}
	for _, s := range argv {
		n += uint64(len(s) + 1)
	}
	for _, s := range env {
		n += uint64(len(s) + 1)
	}
	return n
}

// argLimit is the kernel's limit on execSize for this process, and the
// RLIMIT_STACK it comes from.
func argLimit() (limit, stack uint64, ok bool) {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_STACK, &rl); err != nil {
		return 0, 0, false
	}
	return max(min(rl.Cur/4, argTotalCap), argTotalFloor), rl.Cur, true
}

// tooBig says how far over the limit the hand-over is, and which
// variables weigh most, by name.
func tooBig(need, limit, stack uint64, env []string) error {
	largest := slices.Clone(env)
	slices.SortStableFunc(largest, func(a, b string) int { return cmp.Compare(len(b), len(a)) })
	var names []string
	for _, kv := range largest[:min(3, len(largest))] {
		names = append(names, fmt.Sprintf("%s (%d bytes)", keyOf(kv), len(kv)+1))
	}
	why := "RLIMIT_STACK unlimited"
	if stack != unix.RLIM_INFINITY {
		why = fmt.Sprintf("a quarter of RLIMIT_STACK %d", stack)
	}
	return fmt.Errorf("the command's environment and arguments are %d bytes, over the kernel's limit of %d for a program's start (%s, at most %d); %d variables, the largest %s",
		need, limit, why, argTotalCap, len(env), strings.Join(names, ", "))
}

func keyOf(kv string) string {
	key, _, _ := strings.Cut(kv, "=")
	return key
}
