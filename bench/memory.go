package main

import (
	"debug/elf"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"secret-init/e2e"
)

// childNamed finds a child of pid (of any of its threads) whose comm is
// name: /proc/<pid>/task/*/children lists it from fork on, before the
// exec, so the comm check tells the started command from a fork not yet
// exec'd.
func childNamed(pid int, name string) int {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	for _, f := range tasks {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, c := range strings.Fields(string(data)) {
			comm, err := os.ReadFile("/proc/" + c + "/comm")
			if err == nil && strings.TrimSpace(string(comm)) == name {
				n, _ := strconv.Atoi(c)
				return n
			}
		}
	}
	return 0
}

type memResult struct {
	early   e2e.Status // 200 ms after the sleep started: start-up still resident
	samples []e2e.Status
	err     error
}

// supervisorMemory starts c (a supervisor whose command is `sleep 5`),
// waits until the sleep runs, samples its VmRSS once 200 ms later (what
// start-up left resident), then three times 100 ms apart from 1.5 s on: the
// steady state a long-running supervisor keeps (secret-init gives back its
// start-up pages once the child has run 500 ms). It ends the supervisor with
// SIGTERM (which it forwards to the sleep) and SIGKILL if that fails.
func supervisorMemory(c cmdSpec) memResult {
	null := devNull.Fd()
	pid, pidfd, err := spawn(c, null, null, null)
	if err != nil {
		return memResult{err: err}
	}
	defer unix.Close(pidfd)
	watchdog := time.AfterFunc(15*time.Second, func() { _ = unix.PidfdSendSignal(pidfd, unix.SIGKILL, nil, 0) })
	defer watchdog.Stop()
	var res memResult
	found := false
	for range 1500 { // up to ~3 s
		if childNamed(pid, "sleep") != 0 {
			found = true
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	if !found {
		res.err = fmt.Errorf("the sleep never showed up as a child")
	} else {
		time.Sleep(200 * time.Millisecond)
		if m, err := e2e.ReadStatus(pid); err == nil {
			res.early = m
		}
		time.Sleep(1300 * time.Millisecond)
		for i := range 3 {
			if i > 0 {
				time.Sleep(100 * time.Millisecond)
			}
			m, err := e2e.ReadStatus(pid)
			if err != nil {
				res.err = err
				break
			}
			res.samples = append(res.samples, m)
		}
	}
	_ = unix.PidfdSendSignal(pidfd, unix.SIGTERM, nil, 0)
	stop := time.AfterFunc(3*time.Second, func() { _ = unix.PidfdSendSignal(pidfd, unix.SIGKILL, nil, 0) })
	_, _ = wait4(pid, nil)
	stop.Stop()
	return res
}

func benchMemory(env *benchEnv, fx *fixture) *table {
	t := &table{
		title: "2. Supervisor memory while its child runs `sleep 5` (/proc/<pid>/status: once 0.2 s after the sleep started, then 3 samples 100 ms apart from 1.5 s)",
		head:  []string{"supervisor", "VmRSS KiB at 0.2 s", "VmRSS KiB from 1.5 s (3 samples)", "VmRSS MiB (median)", "RssAnon KiB", "RssFile KiB", "VmHWM KiB", "threads", "target ≤ 4 MiB"},
	}
	const targetKB = 4 * 1024
	type cand struct {
		spec   cmdSpec
		target bool
	}
	sleep := "/bin/sleep"
	if _, err := os.Stat(sleep); err != nil {
		sleep = "/usr/bin/sleep"
	}
	base := func(name string, argv ...string) cmdSpec {
		return cmdSpec{name: name, argv: argv, env: env.plainEnv, dir: env.emptyDir}
	}
	cands := []cand{{spec: base("secret-init --mode supervise -- sleep 5", env.bin, "--mode", "supervise", "--", sleep, "5"), target: true}}
	if fx != nil {
		s := fx.secretInit("after prefetch of 80 keys: secret-init --mode supervise -- sleep 5", "--mode", "supervise", "--", sleep, "5")
		cands = append(cands, cand{spec: s, target: true})
	}
	alts, skipped := alternatives(env, "sleep 5", sleep, "5")
	for _, a := range alts {
		cands = append(cands, cand{spec: a})
	}
	for _, c := range cands {
		r := supervisorMemory(c.spec)
		if len(r.samples) == 0 {
			t.add(c.spec.name, "-", "-", "-", "-", "-", "-", "-", "not measured")
			t.note("%s: %v", c.spec.name, r.err)
			continue
		}
		var rss []int64
		var strs []string
		hwm, threads := int64(0), 0
		lastS := r.samples[len(r.samples)-1]
		for _, s := range r.samples {
			rss = append(rss, s.RSS)
			strs = append(strs, fmt.Sprint(s.RSS))
			hwm = max(hwm, s.HWM)
			threads = max(threads, s.Threads)
		}
		sorted := slices.Clone(rss)
		slices.Sort(sorted)
		med := sorted[len(sorted)/2]
		v := "-"
		if c.target {
			v = verdict(med <= targetKB)
		}
		t.add(c.spec.name, fmt.Sprint(r.early.RSS), strings.Join(strs, " / "), fmt.Sprintf("%.2f", float64(med)/1024), fmt.Sprint(lastS.Anon), fmt.Sprint(lastS.File), fmt.Sprint(hwm), fmt.Sprint(threads), v)
		if r.err != nil {
			t.note("%s: %v", c.spec.name, r.err)
		}
	}
	t.note("RssAnon (heap, stacks) + RssFile (pages of the binary and libraries touched so far) = VmRSS, from the last sample.")
	t.note("VmHWM is the peak resident set since start (start-up included); the target applies to the steady VmRSS while the child runs (from 1.5 s).")
	for _, s := range skipped {
		t.note("skipped: %s is not installed", s)
	}
	return t
}

func benchSize(env *benchEnv, refs refPrograms) *table {
	t := &table{
		title: "3. Binary size (bytes on disk)",
		head:  []string{"binary", "bytes", "MiB", "linkage", "target ≤ 10 MiB"},
	}
	type file struct{ name, path string }
	files := []file{{"secret-init (-trimpath -s -w)", env.bin}}
	for _, p := range []string{"/usr/bin/tini", "/usr/bin/tini-static", "/usr/bin/dumb-init", "/usr/bin/catatonit"} {
		files = append(files, file{filepath.Base(p), p})
	}
	if refs.empty != "" {
		files = append(files, file{"ref: empty Go main (-s -w)", refs.empty})
	}
	if refs.execWrap != "" {
		files = append(files, file{"ref: Go syscall.Exec wrapper (-s -w)", refs.execWrap})
	}
	if refs.linked != "" {
		files = append(files, file{"ref: same, linking secret-init's packages (-s -w)", refs.linked})
	}
	for i, f := range files {
		st, err := os.Stat(f.path)
		if err != nil {
			if i == 0 {
				t.add(f.name, "-", "-", "-", "not measured")
			} else {
				t.note("skipped: %s is not installed", f.path)
			}
			continue
		}
		v := "-"
		if i == 0 {
			v = verdict(st.Size() <= 10<<20)
		}
		t.add(f.name, thousands(st.Size()), mib(st.Size()), linkage(f.path), v)
	}
	return t
}

// linkage tells a static binary from a dynamic one: a PT_INTERP program
// header names the dynamic loader.
func linkage(path string) string {
	f, err := elf.Open(path)
	if err != nil {
		return "?"
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return "dynamic"
		}
	}
	return "static"
}
