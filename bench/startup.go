package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"secret-init/launcher"
)

// refPrograms are Go programs built at bench time as yardsticks: they are
// the floor for any Go entrypoint, so secret-init's overhead minus theirs
// is what secret-init's own code costs.
type refPrograms struct {
	empty, execWrap, linked string // paths; "" when the build failed
	err                     error
}

const refEmpty = `package main

// Nothing: the Go runtime's own start-up and exit.
func main() {}
`

const refExec = `package main

import (
	"os"
	"syscall"
)

// The least a Go passthrough entrypoint can do: start the runtime, then
// execve the command (an absolute path, so there is no PATH lookup).
func main() {
	if len(os.Args) < 2 {
		os.Exit(125)
	}
	_ = syscall.Exec(os.Args[1], os.Args[1:], os.Environ())
	os.Exit(127)
}
`

// buildRefs builds the yardsticks like secret-init is built (static,
// -trimpath -s -w) in their own throwaway module, so the bench never
// touches go.mod.
func buildRefs(root string) refPrograms {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return refPrograms{err: err}
	}
	dir := filepath.Join(root, "goref")
	files := map[string]string{
		"go.mod":           "module goref\n\ngo 1.26\n",
		"empty/main.go":    refEmpty,
		"execwrap/main.go": refExec,
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return refPrograms{err: err}
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			return refPrograms{err: err}
		}
	}
	var r refPrograms
	build := func(dir, pkg string, out *string) {
		bin := filepath.Join(root, "goref", "bin", filepath.Base(pkg))
		if err := goBuild(context.Background(), goBin, dir, pkg, bin); err != nil {
			r.err = errors.Join(r.err, err)
			return
		}
		*out = bin
	}
	build(dir, "./empty", &r.empty)
	build(dir, "./execwrap", &r.execWrap)
	// linkedexec lives in this module, since it imports secret-init's
	// packages.
	if mod, err := moduleDir(goBin); err == nil {
		build(mod, "secret-init/bench/refs/linkedexec", &r.linked)
	} else {
		r.err = errors.Join(r.err, fmt.Errorf("linkedexec: %w", err))
	}
	return r
}

// goBuild builds pkg in the module at dir the way secret-init is built,
// with that module's own go.mod and no workspace.
func goBuild(ctx context.Context, goBin, dir, pkg, out string) error {
	cmd := exec.CommandContext(ctx, goBin, "build", "-trimpath", "-ldflags=-s -w", "-o", out, pkg)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off", "GOFLAGS=", "GOTOOLCHAIN=local")
	cmd.WaitDelay = 5 * time.Second // go's compilers may outlive a killed go
	if msg, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v: %s", pkg, err, strings.TrimSpace(string(msg)))
	}
	return nil
}

// moduleDir is the root of the secret-init module: `go env GOMOD` finds
// it from the working directory.
func moduleDir(goBin string) (string, error) {
	out, err := exec.Command(goBin, "env", "GOMOD").Output()
	gomod := strings.TrimSpace(string(out))
	if err != nil || gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside the secret-init module")
	}
	return filepath.Dir(gomod), nil
}

// startupRow is one command of the interleaved loop.
type startupRow struct {
	spec    cmdSpec
	info    bool // not held to a target: shown for comparison only
	walls   []time.Duration
	cpus    []time.Duration
	faults  []time.Duration // minor faults, as Durations to reuse the median helpers
	failed  int
	lastErr string
}

// benchStartup runs every command round-robin in one loop, like Method A
// of research/init.md §5.2: interleaving spreads the load of whatever else
// runs on the machine over all commands alike, so the differences hold
// even when the absolute figures are noisy.
func benchStartup(o *options, env *benchEnv, refs refPrograms) *table {
	trueBin := "/bin/true"
	base := func(name string, argv ...string) cmdSpec {
		return cmdSpec{name: name, argv: argv, env: env.plainEnv, dir: env.emptyDir}
	}
	rows := []*startupRow{
		{spec: base("/bin/true", trueBin)},
		{spec: base("secret-init -- /bin/true", env.bin, "--", trueBin)},
		{spec: base("secret-init --mode supervise -- /bin/true", env.bin, "--mode", "supervise", "--", trueBin), info: true},
	}
	alts, skipped := alternatives(env, "/bin/true", trueBin)
	for _, a := range alts {
		rows = append(rows, &startupRow{spec: a})
	}
	if refs.empty != "" {
		rows = append(rows, &startupRow{spec: base("ref: empty Go main (runtime start+exit)", refs.empty), info: true})
	}
	if refs.execWrap != "" {
		rows = append(rows, &startupRow{spec: base("ref: Go syscall.Exec wrapper -- /bin/true", refs.execWrap, trueBin), info: true})
	}
	if refs.linked != "" {
		rows = append(rows, &startupRow{spec: base("ref: same, linking secret-init's packages -- /bin/true", refs.linked, trueBin), info: true})
	}

	deadline := time.Now().Add(o.startupBudget)
	rounds := 0
	stopped := false
	for r := range o.warmup + o.rounds {
		if time.Now().After(deadline) {
			stopped = true
			break
		}
		// The first command of a round changes every round, so that no
		// command always follows the same one (cache and scheduler state).
		for j := range rows {
			row := rows[(j+r)%len(rows)]
			res, err := runOnce(row.spec, 10*time.Second)
			if r < o.warmup {
				continue
			}
			switch {
			case err != nil:
				row.failed++
				row.lastErr = err.Error()
			case launcher.ExitCode(res.ws) != 0:
				row.failed++
				row.lastErr = fmt.Sprintf("exit %d", launcher.ExitCode(res.ws))
			default:
				row.walls = append(row.walls, res.wall)
				row.cpus = append(row.cpus, res.cpu)
				row.faults = append(row.faults, time.Duration(res.minflt))
			}
		}
		if r >= o.warmup {
			rounds++
		}
	}

	t := &table{
		title: fmt.Sprintf("1. Passthrough start overhead: fork+exec+wait of each command, %d rounds round-robin after %d warm-ups", rounds, o.warmup),
		head:  []string{"command", "median ms", "p90 ms", "min ms", "overhead ms", "× tini-static", "CPU ms", "minor faults", "failed"},
	}
	sums := map[string]stats{}
	for _, row := range rows {
		sums[row.spec.name] = summarize(row.walls)
	}
	trueMed := sums["/bin/true"].median
	tsName := "tini-static -s -- /bin/true"
	tsOver, haveTS := time.Duration(0), false
	if s, ok := sums[tsName]; ok && s.n > 0 {
		tsOver, haveTS = s.median-trueMed, true
	}
	for _, row := range rows {
		s := sums[row.spec.name]
		name := row.spec.name
		if row.info {
			name += " (info)"
		}
		if s.n == 0 {
			t.add(name, "-", "-", "-", "-", "-", "-", "-", fmt.Sprint(row.failed))
			continue
		}
		over, ratio := "0", "-"
		if row.spec.name != "/bin/true" {
			over = signedMS(s.median - trueMed)
			if haveTS && tsOver > 0 {
				ratio = fmt.Sprintf("%.2f", float64(s.median-trueMed)/float64(tsOver))
			}
		}
		t.add(name, ms(s.median), ms(s.p90), ms(s.min), over, ratio, ms(medianOf(row.cpus)), fmt.Sprint(int64(medianOf(row.faults))), fmt.Sprint(row.failed))
	}
	t.note("overhead = median − median(/bin/true). Commands run from an empty temp dir (no .env, no contracts) with env PATH, HOME only; stdio on /dev/null.")
	t.note("CPU ms (user+sys) and minor faults are medians from wait4's rusage: the wrapper and what it ran together. CPU time is less sensitive to a busy machine than wall time.")
	si := sums["secret-init -- /bin/true"]
	switch {
	case si.n == 0:
		t.note("target: secret-init overhead ≤ 3 × tini-static overhead: not measured (secret-init runs failed)")
	case !haveTS:
		t.note("target: secret-init overhead ≤ 3 × tini-static overhead: not measured (tini-static not installed)")
	default:
		over := si.median - trueMed
		t.note("target: secret-init overhead %s ms ≤ 3 × tini-static overhead (3 × %s = %s ms): %s",
			signedMS(over), ms(tsOver), ms(3*tsOver), verdict(over <= 3*tsOver))
	}
	for _, s := range skipped {
		t.note("skipped: %s is not installed", s)
	}
	if refs.err != nil {
		t.note("ref rows incomplete: %v", refs.err)
	}
	if refs.linked != "" {
		t.note("ref rows: Go programs built by this bench. \"linking secret-init's packages\" runs the runtime and every package init secret-init has, then execs; secret-init minus it is secret-init's own main.")
	}
	if stopped {
		t.note("stopped early after %d rounds: the startup budget of %v ran out", rounds, o.startupBudget)
	}
	for _, row := range rows {
		if row.failed > 0 {
			t.note("%s: %d failed runs, last: %s", row.spec.name, row.failed, row.lastErr)
		}
	}
	return t
}

// initTrace runs secret-init with GODEBUG=inittrace=1, which makes the Go
// runtime print one line per package init to stderr, and sums up where the
// time before main goes. Medians over runs, since one run is noise.
func initTrace(o *options, env *benchEnv) *table {
	t := &table{
		title: fmt.Sprintf("1b. Where secret-init's start goes: package init times (GODEBUG=inittrace=1), median of %d runs of secret-init -- /bin/true", o.traceRuns),
		head:  []string{"package", "init ms (median)", "bytes allocated (median)"},
	}
	perPkg := map[string][]time.Duration{}
	allocs := map[string][]time.Duration{} // bytes, stored as Durations to reuse the median helpers
	var totals, ends []time.Duration
	errf, err := os.CreateTemp(env.root, "inittrace-*.txt")
	if err != nil {
		t.note("not measured: %v", err)
		return t
	}
	defer errf.Close()
	spec := cmdSpec{name: "inittrace", argv: []string{env.bin, "--", "/bin/true"}, dir: env.emptyDir,
		env: append(slices.Clone(env.plainEnv), "GODEBUG=inittrace=1")}
	runs := 0
	for range o.traceRuns {
		if err := errf.Truncate(0); err != nil {
			break
		}
		if _, err := errf.Seek(0, 0); err != nil {
			break
		}
		res, err := runOnceIO(spec, 10*time.Second, devNull.Fd(), devNull.Fd(), errf.Fd())
		if err != nil || launcher.ExitCode(res.ws) != 0 {
			continue
		}
		data, err := os.ReadFile(errf.Name())
		if err != nil {
			continue
		}
		total, end := time.Duration(0), time.Duration(0)
		seen := map[string]time.Duration{}
		sc := bufio.NewScanner(strings.NewReader(string(data)))
		for sc.Scan() {
			// init math @9.0 ms, 0.080 ms clock, 0 bytes, 0 allocs
			f := strings.Fields(sc.Text())
			if len(f) != 11 || f[0] != "init" || !strings.HasPrefix(f[2], "@") || f[10] != "allocs" {
				continue
			}
			at, err1 := strconv.ParseFloat(strings.TrimPrefix(f[2], "@"), 64)
			clock, err2 := strconv.ParseFloat(f[4], 64)
			nBytes, err3 := strconv.Atoi(f[7])
			if err1 != nil || err2 != nil || err3 != nil {
				continue
			}
			d := time.Duration(clock * float64(time.Millisecond))
			seen[f[1]] += d
			allocs[f[1]] = append(allocs[f[1]], time.Duration(nBytes))
			total += d
			end = max(end, time.Duration((at+clock)*float64(time.Millisecond)))
		}
		if len(seen) == 0 {
			continue
		}
		for p, d := range seen {
			perPkg[p] = append(perPkg[p], d)
		}
		totals = append(totals, total)
		ends = append(ends, end)
		runs++
	}
	if runs == 0 {
		t.note("not measured: no run printed an init trace")
		return t
	}
	type pkgTime struct {
		name string
		med  time.Duration
	}
	var pkgs []pkgTime
	for p, ds := range perPkg {
		pkgs = append(pkgs, pkgTime{p, medianOf(ds)})
	}
	slices.SortFunc(pkgs, func(a, b pkgTime) int {
		if a.med != b.med {
			return int(b.med - a.med)
		}
		return strings.Compare(a.name, b.name)
	})
	for _, p := range pkgs[:min(10, len(pkgs))] {
		t.add(p.name, fmt.Sprintf("%.3f", float64(p.med)/float64(time.Millisecond)), thousands(int64(medianOf(allocs[p.name]))))
	}
	t.add(fmt.Sprintf("all %d packages with init work", len(pkgs)), fmt.Sprintf("%.3f", float64(medianOf(totals))/float64(time.Millisecond)), "")
	t.note("last init ends @%s ms after the runtime started (median): main.main begins about then.", fmt.Sprintf("%.3f", float64(medianOf(ends))/float64(time.Millisecond)))
	t.note("Package inits only; the runtime's own start (before the first init) and main's work (kong parse, zerolog, .env, exec) are not in these figures: compare the ref rows of table 1.")
	return t
}
