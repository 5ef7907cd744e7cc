package main

import (
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"secret-init/infisical/infisicaltest"
	"secret-init/launcher"
)

var (
	fleetProcs   = flag.Int("fleet-procs", 100, "starts at once in the fleet scenario")
	fleetMax     = flag.Int("fleet-max", 120, "requests per route and window that the fleet's server accepts from one address (Infisical Cloud: 120 secret reads a minute)")
	fleetWindow  = flag.Duration("fleet-window", 6*time.Second, "the fleet server's fixed window (Infisical Cloud: 60 s), shortened so that the scenario ends in about a minute")
	fleetTimeout = flag.Duration("fleet-timeout", 2*time.Minute, "--timeout of each start of the fleet scenario")
)

// cloudWindow is Infisical Cloud's rate-limit window.
const cloudWindow = time.Minute

// benchFleet starts *fleetProcs processes at once behind one address (the
// loopback) against Infisical Cloud's limiter, a fixed window per caller
// and route with retry-after to the window's end, once with --fetch
// folders and once with auto, each against a fresh server. The fixture is
// a service's: 8 folders of 10 keys under /shared and /services/fleet.
func benchFleet(o *options, env *benchEnv) *table {
	scale := float64(cloudWindow) / float64(*fleetWindow)
	t := &table{
		title: fmt.Sprintf("5b. Fleet: %d starts at once from one address, each needing 8 folders (4 under /shared, 4 under /services/%s); Infisical Cloud's limiter: %d requests per route per fixed window, retry-after to its end, the window shortened from 60 s to %v (1:%.0f); +%v per answer, --timeout %v",
			*fleetProcs, fleetService, *fleetMax, *fleetWindow, scale, o.latency, *fleetTimeout),
		head: []string{"measure", "--fetch folders", "--fetch auto", "target", "verdict"},
	}
	type run struct {
		out  *startOutcome
		reqs []infisicaltest.Request
		c    requestCounts
	}
	var runs []run
	for _, mode := range []string{"folders", "auto"} {
		fx, err := newServiceFixture(env.root, "fleet-"+mode, env.bin, env.plainEnv)
		if err != nil {
			t.note("not measured: %v", err)
			return t
		}
		fx.srv.SetLatency(o.latency)
		fx.srv.RateLimitWindow(*fleetMax, *fleetWindow)
		out := startAtOnce(env, fx, *fleetProcs, *fleetTimeout, "--fetch", mode)
		reqs := fx.srv.Requests()
		fx.srv.Close()
		if out.err != nil {
			t.note("not measured: %v", out.err)
			return t
		}
		runs = append(runs, run{out, reqs, countRequests(reqs)})
	}
	f, a := runs[0], runs[1]
	n := *fleetProcs
	last := func(r run) string {
		if len(r.out.doneAt) == 0 {
			return "-"
		}
		return fmt.Sprintf("%.1f", r.out.doneAt[len(r.out.doneAt)-1].Seconds())
	}
	allOK := f.out.okCount == n && a.out.okCount == n
	t.add("started with the right environment", fmt.Sprintf("%d / %d", f.out.okCount, n), fmt.Sprintf("%d / %d", a.out.okCount, n), fmt.Sprintf("%d / %d each", n, n), verdict(allOK))
	t.add("time until the last did (s)", last(f), last(a), "", "")
	windows := func(r run) string {
		if len(r.out.doneAt) == 0 {
			return "-"
		}
		return fmt.Sprintf("%.1f", float64(r.out.doneAt[len(r.out.doneAt)-1])/float64(*fleetWindow))
	}
	t.add("  the same in windows", windows(f), windows(a), "", "")
	third := float64(len(f.reqs)) / 3
	t.add("requests sent", fmt.Sprint(len(f.reqs)), fmt.Sprint(len(a.reqs)), fmt.Sprintf("auto < folders / 3 = %.0f", third), verdict(float64(len(a.reqs)) < third))
	t.add("  logins / lists / other", fmt.Sprintf("%d / %d / %d", f.c.logins, f.c.lists, f.c.other), fmt.Sprintf("%d / %d / %d", a.c.logins, a.c.lists, a.c.other), "", "")
	t.add("429s seen", fmt.Sprint(f.c.limited), fmt.Sprint(a.c.limited), "", "")
	t.add("  other answers than 200 and 429", fmt.Sprint(f.c.otherAnswers), fmt.Sprint(a.c.otherAnswers), "", "")

	needF, needA := n*nFolders, n*2
	t.note("Arithmetic (not measured): the lists a fleet needs are %d × 8 = %d with folders and %d × 2 = %d with auto; at %d per window that is at least %d and %d windows: on Infisical Cloud (60 s) %d min and %d min, and here %v × that.",
		n, needF, n, needA, *fleetMax, windowsFor(needF, *fleetMax), windowsFor(needA, *fleetMax),
		windowsFor(needF, *fleetMax)-1, windowsFor(needA, *fleetMax)-1, *fleetWindow)
	t.note("Logins go to a route of their own with its own window, as on Infisical Cloud (%d logins fit in one). With the default --timeout (10 s) on Cloud, a start that must wait for the next window gives up: about %d starts of a fleet behind one address get their secrets in the first minute with folders, %d with auto.",
		n, *fleetMax/nFolders, *fleetMax/2)
	t.note("Scaling: Retry-After is whole seconds, so here it takes values up to %v instead of 60; the client's jitter after it (at least Retry-After, growing with repeated 429s, capped at 8 s) is not scaled, so starts spread over more windows than on Cloud. --timeout %v is %.0f min at Cloud's scale.",
		*fleetWindow, *fleetTimeout, fleetTimeout.Minutes()*scale)
	for i, r := range runs {
		label := []string{"folders", "auto"}[i]
		t.note("--fetch %s:", label)
		r.out.notes(t)
	}
	return t
}

// windowsFor is how many windows of max requests n requests take.
func windowsFor(n, max int) int { return int(math.Ceil(float64(n) / float64(max))) }

// benchRequestsByMode counts the requests of one start per --fetch mode
// against the service-shaped fixture (no limit, no latency), and of auto
// when the recursive answers cannot be trusted: a folder imports another,
// or a declared key is in no folder.
func benchRequestsByMode(env *benchEnv) *table {
	t := &table{
		title: fmt.Sprintf("4b. Requests per start by --fetch: contracts needing 8 folders (4 under /shared, 4 under /services/%s), one start each", fleetService),
		head:  []string{"start", "logins", "lists", "other", "requests", "target", "verdict"},
	}
	fx, err := newServiceFixture(env.root, "by-mode", env.bin, env.plainEnv)
	if err != nil {
		t.note("not measured: %v", err)
		return t
	}
	defer fx.srv.Close()
	// A declared key that no folder holds: the same transport map with one
	// more key for t1.
	missingMap := filepath.Join(fx.dir, "transport-map-missing.yaml")
	tm, err := os.ReadFile(fx.tmap)
	if err == nil {
		err = os.WriteFile(missingMap, []byte(strings.Replace(string(tm), "keys: [T1_K01,", "keys: [T1_NOWHERE, T1_K01,", 1)), 0o644)
	}
	if err != nil {
		t.note("not measured: %v", err)
		return t
	}
	cases := []struct {
		name    string
		args    []string
		prepare func()
		want    string // "" for no target
		wantN   int
	}{
		{"--fetch folders", []string{"--fetch", "folders"}, nil, "= 1 + 8", 9},
		{"--fetch tree", []string{"--fetch", "tree"}, nil, "= 1 + 2", 3},
		{"--fetch auto, nothing imported or missing", []string{"--fetch", "auto"}, nil, "= 1 + 2", 3},
		{"--fetch auto, a key in no folder (t1): its 2 folders on their own", []string{"--fetch", "auto", "--transport-map", missingMap}, nil, "", 0},
		{"--fetch auto, /shared/t1 imports a folder: /shared's 4 on their own", []string{"--fetch", "auto"}, func() {
			fx.srv.SetSecret("dev", "/lib/common", "COMMON_FLAG", "on")
			fx.srv.AddImport("dev", "/shared/t1", "dev", "/lib/common")
		}, "", 0},
	}
	for _, c := range cases {
		if c.prepare != nil {
			c.prepare()
		}
		fx.srv.ResetCounts()
		out, err := os.CreateTemp(fx.dir, "by-mode-*.env")
		if err != nil {
			t.note("%s: %v", c.name, err)
			continue
		}
		spec := fx.secretInit(c.name, append(c.args, "--", env.envBin)...)
		res, err := runOnceIO(spec, 30*time.Second, devNull.Fd(), out.Fd(), devNull.Fd())
		out.Close()
		data, _ := os.ReadFile(out.Name())
		if err == nil && launcher.ExitCode(res.ws) != 0 {
			err = fmt.Errorf("exit %d", launcher.ExitCode(res.ws))
		}
		if good, _, leaked := fx.checkEnv(data); err == nil && (good != len(fx.want) || leaked) {
			err = fmt.Errorf("the command got %d/%d declared keys right, undeclared leaked: %v", good, len(fx.want), leaked)
		}
		if err != nil {
			t.add(c.name, "-", "-", "-", "-", c.want, "not measured")
			t.note("%s: %v", c.name, err)
			continue
		}
		reqs := fx.srv.Requests()
		rc := countRequests(reqs)
		v := ""
		if c.want != "" {
			v = verdict(len(reqs) == c.wantN)
		}
		t.add(c.name, fmt.Sprint(rc.logins), fmt.Sprint(rc.lists), fmt.Sprint(rc.other), fmt.Sprint(len(reqs)), c.want, v)
	}
	t.note("Each start's command printed its environment: every declared key with its value (the service's value where it overrides a shared one), no undeclared key. \"other\" would be the one request that tells an unknown environment from missing folders.")
	return t
}
