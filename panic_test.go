package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"secret-init/launcher"
	"secret-init/parallel"
	"secret-init/signals"
)

// TestPanicIsOneLine: a panic of ours, on the main goroutine, in a start-up
// step or in a worker of the pool, ends as one line naming the error and
// where it happened, and 125; a panic value itself is never printed.
func TestPanicIsOneLine(t *testing.T) {
	var nilMap map[string]int
	for name, tc := range map[string]struct {
		panics func()
		want   string
	}{
		"runtime error":    {func() { nilMap["x"]++ }, "assignment to entry in nil map"},
		"a value":          {func() { panic(errors.New("token s3cr3t")) }, "panic(*errors.errorString)"},
		"in start-up":      {func() { signals.Catch().Startup(func() { nilMap["x"]++ }) }, "assignment to entry in nil map"},
		"in a pool worker": {func() { parallel.For(4, 4, func(int) { nilMap["x"]++ }) }, "in secret-init/parallel.For"},
	} {
		var out bytes.Buffer
		code := func() (code int) {
			defer func() {
				if r := recover(); r != nil {
					code = internalError(&out, r)
				}
			}()
			tc.panics()
			return 0
		}()
		line := out.String()
		if code != launcher.ExitUsage || strings.Count(line, "\n") != 1 || !strings.Contains(line, tc.want) ||
			!strings.Contains(line, "internal error") || strings.Contains(line, "s3cr3t") || strings.Contains(line, "goroutine") {
			t.Errorf("%s: exit %d, output %q; want 125 and one line with %q, no value", name, code, line, tc.want)
		}
	}
}
