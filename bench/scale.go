package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"secret-init/infisical/infisicaltest"
	"secret-init/launcher"
)

// scaleProc is one of the processes started at once.
type scaleProc struct {
	pid, pidfd int
	spawned    time.Time
	exited     time.Time
	ws         syscall.WaitStatus
	reaped     bool
	out, errf  string
}

// benchScale starts o.procs secret-init processes in a tight loop against
// one rate-limited test server, as a deploy that starts many containers at
// the same moment does. Each command is `env`, with stdout in a file, so
// that every expected key and value can be checked afterwards.
func benchScale(o *options, env *benchEnv) *table {
	t := &table{
		title: fmt.Sprintf("5. Scale: %d secret-init processes started at once, one test server limited to %g requests/s (burst %d, 429 + Retry-After beyond), +%v per answer, --timeout %v",
			o.procs, o.rate, o.burst, o.latency, o.scaleTimeout),
		head: []string{"measure", "value", "target", "verdict"},
	}
	fx, err := newFixture(env.root, "scale", env.bin, env.plainEnv)
	if err != nil {
		t.note("not measured: %v", err)
		return t
	}
	defer fx.srv.Close()
	fx.srv.SetLatency(o.latency)
	fx.srv.RateLimit(o.rate, o.burst)
	outDir := filepath.Join(fx.dir, "out")
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		t.note("not measured: %v", err)
		return t
	}

	procs := make([]*scaleProc, 0, o.procs)
	spawnErrs := 0
	var lastSpawnErr error
	start := time.Now()
	for i := range o.procs {
		p := &scaleProc{out: filepath.Join(outDir, fmt.Sprintf("%03d.env", i)), errf: filepath.Join(outDir, fmt.Sprintf("%03d.err", i))}
		spec := fx.secretInit(fmt.Sprintf("scale-%d", i), "--timeout", o.scaleTimeout.String(), "--", env.envBin)
		outF, err1 := os.Create(p.out)
		errF, err2 := os.Create(p.errf)
		if err1 != nil || err2 != nil {
			spawnErrs++
			lastSpawnErr = fmt.Errorf("output files: %v %v", err1, err2)
			closeAll(outF, errF)
			continue
		}
		p.spawned = time.Now()
		p.pid, p.pidfd, err = spawn(spec, devNull.Fd(), outF.Fd(), errF.Fd())
		closeAll(outF, errF)
		if err != nil {
			spawnErrs++
			lastSpawnErr = err
			continue
		}
		procs = append(procs, p)
	}
	spawnLoop := time.Since(start)

	// Reap after the loop, with one owner of wait4(-1): nothing else in
	// this process has children now. A process that ended during the
	// loop is reaped a little late, which only matters for failures.
	byPid := map[int]*scaleProc{}
	for _, p := range procs {
		byPid[p.pid] = p
	}
	var mu sync.Mutex
	killed := 0
	// The deadline kills what is left: --timeout plus a margin, so that the
	// bench ends even if secret-init overstays its own timeout.
	watchdog := time.AfterFunc(o.scaleTimeout+15*time.Second, func() {
		mu.Lock()
		defer mu.Unlock()
		for _, p := range procs {
			if !p.reaped {
				_ = unix.PidfdSendSignal(p.pidfd, unix.SIGKILL, nil, 0)
				killed++
			}
		}
	})
	for left := len(procs); left > 0; {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, 0, nil)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			break // ECHILD: nothing left to wait for
		}
		now := time.Now()
		mu.Lock()
		if p := byPid[pid]; p != nil && !p.reaped {
			p.reaped, p.ws, p.exited = true, ws, now
			left--
		}
		mu.Unlock()
	}
	watchdog.Stop()
	for _, p := range procs {
		unix.Close(p.pidfd)
	}

	// Verdicts per process: exit 0, and `env` printed every declared key
	// with its value and no undeclared one.
	var doneAt []time.Duration
	okCount, badEnv, leaked := 0, 0, 0
	exitCodes := map[int]int{}
	firstFailure := ""
	for _, p := range procs {
		code := launcher.ExitCode(p.ws)
		if !p.reaped {
			code = -1
		}
		exitCodes[code]++
		data, _ := os.ReadFile(p.out)
		good, _, leak := fx.checkEnv(data)
		if leak {
			leaked++
		}
		if code == 0 && good == len(fx.want) && !leak {
			okCount++
			doneAt = append(doneAt, p.exited.Sub(start))
			continue
		}
		if code == 0 {
			badEnv++
		}
		if firstFailure == "" {
			msg, _ := os.ReadFile(p.errf)
			lines := strings.Split(strings.TrimSpace(string(msg)), "\n")
			last := lines[len(lines)-1]
			if len(last) > 300 {
				last = last[:300] + "…"
			}
			firstFailure = fmt.Sprintf("exit %d, %d/%d keys right; last stderr line: %s", code, good, len(fx.want), last)
		}
	}
	slices.Sort(doneAt)

	reqs := fx.srv.Requests()
	var n429, n200, nOther, logins, lists int
	for _, r := range reqs {
		switch r.Status {
		case 200:
			n200++
		case 429:
			n429++
		default:
			nOther++
		}
		switch {
		case strings.HasPrefix(r.Path, "/api/v1/auth/"):
			logins++
		case r.Path == "/api/v4/secrets" || r.Path == "/api/v3/secrets/raw": // ours lists on v4, go-sdk on v3
			lists++
		}
	}
	minReqs := o.procs * (1 + nFolders)

	t.add("started their command with the right environment", fmt.Sprintf("%d / %d", okCount, o.procs), fmt.Sprintf("all %d", o.procs), verdict(okCount == o.procs))
	if len(doneAt) > 0 {
		t.add("time until the last one did (s, from the first spawn)", fmt.Sprintf("%.2f", doneAt[len(doneAt)-1].Seconds()), "", "")
		t.add("  median / p90 of those times (s)", fmt.Sprintf("%.2f / %.2f", median(doneAt).Seconds(), percentile(doneAt, 0.9).Seconds()), "", "")
	} else {
		t.add("time until the last one did", "-", "", "")
	}
	t.add("total requests", fmt.Sprint(len(reqs)), fmt.Sprintf("≤ 2 × %d = %d", minReqs, 2*minReqs), verdict(len(reqs) <= 2*minReqs))
	t.add("  logins / lists", fmt.Sprintf("%d / %d", logins, lists), "", "")
	t.add("  answered 200 / 429 / other", fmt.Sprintf("%d / %d / %d", n200, n429, nOther), "", "")
	t.add("spawn loop for all processes (s)", fmt.Sprintf("%.2f", spawnLoop.Seconds()), "", "")
	ideal := (float64(minReqs) - float64(o.burst)) / o.rate
	t.note("Floor set by the rate limit alone (arithmetic, not measured): %d requests at %g/s after a burst of %d take ≥ %.1f s.", minReqs, o.rate, o.burst, ideal)
	var codes []string
	for c, n := range exitCodes {
		codes = append(codes, fmt.Sprintf("exit %d × %d", c, n))
	}
	slices.Sort(codes)
	t.note("Exit statuses: %s (-1 = never reaped). Exited 0 with a wrong or incomplete environment: %d. Undeclared keys leaked into: %d.", strings.Join(codes, ", "), badEnv, leaked)
	if spawnErrs > 0 {
		t.note("%d processes could not be spawned; last: %v", spawnErrs, lastSpawnErr)
	}
	if killed > 0 {
		t.note("%d processes were still running at the bench's deadline and were killed.", killed)
	}
	if firstFailure != "" {
		t.note("first failure: %s", firstFailure)
	}
	histogram(t, reqs, start)
	return t
}

func closeAll(fs ...*os.File) {
	for _, f := range fs {
		if f != nil {
			f.Close()
		}
	}
}

// histogram adds requests per 250 ms bucket, one line per second, to show
// whether retries come back in waves (peaks every Retry-After) or spread.
func histogram(t *table, reqs []infisicaltest.Request, start time.Time) {
	if len(reqs) == 0 {
		return
	}
	const bucket = 250 * time.Millisecond
	last := time.Duration(0)
	for _, r := range reqs {
		last = max(last, r.At.Sub(start))
	}
	n := int(last/bucket) + 1
	all := make([]int, n)
	limited := make([]int, n)
	for _, r := range reqs {
		i := max(0, int(r.At.Sub(start)/bucket))
		all[i]++
		if r.Status == 429 {
			limited[i]++
		}
	}
	t.note("")
	t.note("Requests arriving at the server per 250 ms since the first spawn; left: all, right: of which answered 429:")
	t.note("%6s | %20s | %20s", "second", "  .00  .25  .50  .75", "  .00  .25  .50  .75")
	row := func(xs []int) string {
		var b strings.Builder
		for _, x := range xs {
			fmt.Fprintf(&b, "%5d", x)
		}
		return b.String()
	}
	for s := 0; s*4 < n; s++ {
		hi := min(n, s*4+4)
		t.note("%6d | %-20s | %-20s", s, row(all[s*4:hi]), row(limited[s*4:hi]))
	}
	// A summary of the shape, over the buckets from the first request to
	// the last: with no waves they sit near the rate; waves show as peaks
	// well above the median and near-empty buckets between them.
	first := 0
	for first < n && all[first] == 0 {
		first++
	}
	busy := slices.Clone(all[first:])
	slices.Sort(busy)
	t.note("per 250 ms from the first request to the last: median %d, max %d, %d of %d buckets empty.",
		busy[len(busy)/2], busy[len(busy)-1], countZero(busy), len(busy))
}

func countZero(xs []int) int {
	n := 0
	for _, x := range xs {
		if x == 0 {
			n++
		}
	}
	return n
}
