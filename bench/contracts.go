package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"secret-init/contracts"
	"secret-init/contracts/contractstest"
	"secret-init/infisical/infisicaltest"
	"secret-init/launcher"
)

// The seed project's scale: 115 node contracts of about 8 KB.
const manyContracts = 115

var (
	contractRuns   = flag.Int("contract-runs", 40, "timed rounds of the contracts scenario (plan and start, 1 and 115 contracts)")
	contractWarm   = flag.Int("contract-warmup", 5, "untimed rounds before them")
	contractBudget = flag.Duration("contract-budget", 60*time.Second, "bound on the contracts scenario's loop")
	contractsOnly  = flag.Bool("contracts-only", false, "run only the contracts scenario")
)

// contractRun is one command of the scenario and what its runs measured.
type contractRun struct {
	name  string
	spec  cmdSpec
	start bool // a start against the test server, whose log dates the first request
	walls []time.Duration
	pre   []time.Duration // spawn to first request
	fails int
	err   string
}

// benchContracts times `plan` over 115 realistic contracts against `plan`
// over one, and a start (prefetch, then exec /bin/true) with each, all
// round-robin in one loop so that load on the machine hits every command
// alike.
func benchContracts(env *benchEnv) *table {
	t := &table{
		title: fmt.Sprintf("6. Contracts: plan and a start over %d realistic contracts (contractstest, shaped like the seed project's) against one; %d rounds round-robin after %d warm-ups",
			manyContracts, *contractRuns, *contractWarm),
		head: []string{"command", "median ms", "p90 ms", "vs 1 contract", "target", "verdict"},
	}
	dir := filepath.Join(env.root, "contracts-scale")
	one, many := filepath.Join(dir, "one"), filepath.Join(dir, "many")
	if err := contractstest.Write(one, 1); err != nil {
		t.note("not measured: %v", err)
		return t
	}
	if err := contractstest.Write(many, manyContracts); err != nil {
		t.note("not measured: %v", err)
		return t
	}
	srv, startEnv := contractsServer(env)
	defer srv.Close()

	plan := func(name, contracts string) *contractRun {
		return &contractRun{name: name, spec: cmdSpec{name: name, argv: []string{env.bin, "--contracts", contracts, "plan"}, env: env.plainEnv, dir: env.emptyDir}}
	}
	start := func(name, contracts string) *contractRun {
		return &contractRun{name: name, start: true, spec: cmdSpec{name: name, argv: []string{env.bin, "--contracts", contracts, "--", "/bin/true"}, env: startEnv, dir: env.emptyDir}}
	}
	runs := []*contractRun{
		plan("plan, 1 contract", one),
		plan(fmt.Sprintf("plan, %d contracts", manyContracts), many),
		start("start (login, lists, exec /bin/true), 1 contract", one),
		start(fmt.Sprintf("start, %d contracts", manyContracts), many),
	}
	verified := verifyPlan(env, runs[1].spec)

	deadline := time.Now().Add(*contractBudget)
	for i := range *contractWarm + *contractRuns {
		if time.Now().After(deadline) {
			break
		}
		for _, r := range runs {
			r.once(srv, i >= *contractWarm)
		}
	}

	stats := make([]stats, len(runs))
	for i, r := range runs {
		stats[i] = summarize(r.walls)
	}
	for i, r := range runs {
		s := stats[i]
		if s.n == 0 {
			t.add(r.name, "-", "-", "-", "", "not measured")
			continue
		}
		ratio, target, v := "", "", ""
		if i%2 == 1 && stats[i-1].n > 0 {
			x := float64(s.median) / float64(stats[i-1].median)
			ratio = fmt.Sprintf("%.2f×", x)
			if !r.start {
				target, v = "≤ 1.50×", verdict(x <= 1.5)
			}
		}
		t.add(r.name, ms(s.median), ms(s.p90), ratio, target, v)
	}

	t.note("%s.", verified)
	t.note("%d contracts of %s bytes on average, each in its own node directory; the same generator feeds TestFastPathFixtures, which checks that every one of them takes the fast path.", manyContracts, thousands(averageSize(many)))
	if one, many := runs[2], runs[3]; len(one.pre) > 0 && len(many.pre) > 0 && stats[3].n > 0 {
		extra := medianOf(many.pre) - medianOf(one.pre)
		t.note("Reading contracts in a start: spawn → first request (the login, sent once the contracts are read; server log, same clock) takes %s ms with 1 contract and %s ms with %d; the %s ms between them are %.0f%% of the %d-contract start.",
			ms(medianOf(one.pre)), ms(medianOf(many.pre)), manyContracts, ms(extra), 100*float64(extra)/float64(stats[3].median), manyContracts)
	}
	if d, err := loadInProcess(many); err == nil {
		t.note("contracts.Load of the same %d files inside the bench process (warm, GOMAXPROCS %d): median %s ms.", manyContracts, gomaxprocs(), ms(d))
	}
	for _, r := range runs {
		if r.fails > 0 {
			t.note("%s: %d runs failed; last: %s", r.name, r.fails, r.err)
		}
	}
	return t
}

// once runs r one time; timed says whether the run counts.
func (r *contractRun) once(srv *infisicaltest.Server, timed bool) {
	if r.start {
		srv.ResetCounts()
	}
	res, err := runOnce(r.spec, 30*time.Second)
	if !timed {
		return
	}
	if err == nil && launcher.ExitCode(res.ws) != 0 {
		err = fmt.Errorf("exit %d", launcher.ExitCode(res.ws))
	}
	if err != nil {
		r.fails++
		r.err = err.Error()
		return
	}
	r.walls = append(r.walls, res.wall)
	if r.start {
		if s := summarizeRequests(srv.Requests()); s.logins+s.lists > 0 {
			r.pre = append(r.pre, s.first.Sub(res.start))
		}
	}
}

// contractsServer is a test server holding every key of the default
// transport map under /shared/<transport> and the generated contracts'
// environment dependencies under /shared/env, and the environment that
// points a start at it.
func contractsServer(env *benchEnv) (*infisicaltest.Server, []string) {
	srv := infisicaltest.NewServer()
	id, secret := "bench-"+randHex(4), randHex(16)
	srv.AddUniversalIdentity(id, secret)
	m := contracts.DefaultTransportMap()
	for _, tr := range m.Transports() {
		if m.IsBootstrap(tr) {
			continue
		}
		for _, k := range m.Keys(tr) {
			srv.SetSecret("dev", "/shared/"+tr, k, "v-"+randHex(6))
		}
	}
	for i := range contractstest.EnvKeys {
		srv.SetSecret("dev", "/shared/"+contracts.EnvFolder, fmt.Sprintf("TOKEN_%d", i), "v-"+randHex(6))
	}
	return srv, append(slices.Clone(env.plainEnv),
		"INFISICAL_ADDR="+srv.URL,
		"INFISICAL_CLIENT_ID="+id,
		"INFISICAL_CLIENT_SECRET="+secret,
		"INFISICAL_PROJECT_ID="+infisicaltest.DefaultProject,
		"INFISICAL_ENVIRONMENT=dev",
	)
}

// verifyPlan runs the 115-contract plan once with its output kept: the
// figures only count if it read every file and logged nothing.
func verifyPlan(env *benchEnv, spec cmdSpec) string {
	out, err1 := os.CreateTemp(env.root, "plan-*.out")
	errf, err2 := os.CreateTemp(env.root, "plan-*.err")
	defer closeAll(out, errf)
	if err := errors.Join(err1, err2); err != nil {
		return "plan not verified: " + err.Error()
	}
	res, err := runOnceIO(spec, 30*time.Second, devNull.Fd(), out.Fd(), errf.Fd())
	if err != nil {
		return "plan not verified: " + err.Error()
	}
	data, _ := os.ReadFile(out.Name())
	logged, _ := os.ReadFile(errf.Name())
	want := fmt.Sprintf("Contracts: %d file(s)", manyContracts)
	switch {
	case launcher.ExitCode(res.ws) != 0:
		return fmt.Sprintf("plan verification run exited %d", launcher.ExitCode(res.ws))
	case !strings.Contains(string(data), want):
		return "plan verification run did not report " + want
	case len(logged) > 0:
		first, _, _ := strings.Cut(string(logged), "\n")
		return "plan verification run logged: " + first
	}
	return fmt.Sprintf("plan over the %d contracts verified: it read them all and logged nothing (%s bytes of output)", manyContracts, thousands(int64(len(data))))
}

func averageSize(dir string) int64 {
	var total, n int64
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				total += fi.Size()
				n++
			}
		}
		return nil
	})
	if n == 0 {
		return 0
	}
	return total / n
}

func gomaxprocs() int { return runtime.GOMAXPROCS(0) }

// loadInProcess times contracts.Load over dir in this process.
func loadInProcess(dir string) (time.Duration, error) {
	m := contracts.DefaultTransportMap()
	var ds []time.Duration
	for range 30 {
		start := time.Now()
		if _, err := contracts.Load([]string{dir}, true, m); err != nil {
			return 0, err
		}
		ds = append(ds, time.Since(start))
	}
	return medianOf(ds[5:]), nil
}
