// Command bench measures secret-init against the alternatives in one run
// and prints plain-text tables, each target next to its figure with PASS
// or MISS: passthrough start overhead (interleaved with /bin/true, tini,
// tini-static, dumb-init, catatonit), supervisor memory, binary size,
// prefetch round trips against the in-process Infisical test server, a
// few hundred processes starting at once against one rate-limited server,
// and plan and a start over 115 contracts against one. `make bench` runs it after `make build`.
//
// Only figures measured in this run are printed; the absolute times depend
// on the machine and its load, so the comparisons are made within one run.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

type options struct {
	bin            string
	rounds, warmup int
	startupBudget  time.Duration
	traceRuns      int
	latency        time.Duration
	prefetchRuns   int
	prefetchWarm   int
	prefetchBudget time.Duration
	procs          int
	rate           float64
	burst          int
	scaleTimeout   time.Duration
	limit          time.Duration
	skipScale      bool
	sdkBuild       time.Duration
}

// benchEnv is what every scenario shares.
type benchEnv struct {
	bin      string // absolute path of secret-init
	root     string // temp dir of this run
	emptyDir string // no .env, no contracts: the passthrough case
	plainEnv []string
	envBin   string // env(1): the command that prints what it was given
}

func main() {
	var o options
	flag.StringVar(&o.bin, "bin", "bin/secret-init", "secret-init binary to measure (make build)")
	flag.IntVar(&o.rounds, "rounds", 300, "timed rounds of the interleaved start-up loop")
	flag.IntVar(&o.warmup, "warmup", 20, "untimed warm-up rounds before them")
	flag.DurationVar(&o.startupBudget, "startup-budget", 75*time.Second, "the start-up loop stops after this long, whatever -rounds says")
	flag.IntVar(&o.traceRuns, "trace-runs", 15, "runs of secret-init with GODEBUG=inittrace=1")
	flag.DurationVar(&o.latency, "latency", 25*time.Millisecond, "latency the test server adds to every answer (one round trip)")
	flag.IntVar(&o.prefetchRuns, "prefetch-runs", 20, "timed prefetch starts")
	flag.IntVar(&o.prefetchWarm, "prefetch-warmup", 3, "untimed prefetch starts before them")
	flag.DurationVar(&o.prefetchBudget, "prefetch-budget", 30*time.Second, "bound on each prefetch loop")
	flag.IntVar(&o.procs, "procs", 200, "processes started at once in the scale scenario")
	flag.Float64Var(&o.rate, "rate", 100, "requests per second the scale server accepts")
	flag.IntVar(&o.burst, "burst", 20, "burst of the scale server's token bucket")
	flag.DurationVar(&o.scaleTimeout, "scale-timeout", 60*time.Second, "--timeout given to each secret-init of the scale scenario")
	flag.DurationVar(&o.limit, "limit", 5*time.Minute, "the whole bench is abandoned after this long")
	flag.BoolVar(&o.skipScale, "skip-scale", false, "skip the scale scenario")
	flag.DurationVar(&o.sdkBuild, "sdk-build-timeout", 10*time.Minute, "bound on building the go-sdk program of the conformance module, before -limit starts")
	flag.Parse()

	fmt.Fprintln(os.Stderr, "bench: building the go-sdk program (conformance module)")
	built := time.Now()
	sdk := buildSDKProgram(o.sdkBuild)
	fmt.Fprintf(os.Stderr, "bench: go-sdk program: %.0f s\n", time.Since(built).Seconds())

	// Last resort: every loop below is bounded on its own; this ends the
	// bench even if something unforeseen blocks.
	time.AfterFunc(o.limit, func() {
		fmt.Fprintf(os.Stderr, "bench: still running after %v; giving up\n", o.limit)
		os.Exit(2)
	})
	err := run(&o, sdk)
	sdk.remove()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(o *options, sdk *sdkProgram) error {
	bin, err := filepath.Abs(o.bin)
	if err != nil {
		return err
	}
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("%s: %w (run `make build` first)", o.bin, err)
	}
	devNull, err = os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	root, err := os.MkdirTemp("", "secret-init-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(root)
	env := &benchEnv{bin: bin, root: root, emptyDir: filepath.Join(root, "empty"), envBin: "/usr/bin/env"}
	if err := os.Mkdir(env.emptyDir, 0o755); err != nil {
		return err
	}
	if _, err := os.Stat(env.envBin); err != nil {
		env.envBin = "/bin/env"
	}
	// The same small environment for every command: nothing inherited
	// from the caller (an INFISICAL_ADDR would turn passthrough into a
	// prefetch) and nothing that makes one command slower than another.
	home := os.Getenv("HOME")
	if home == "" {
		home = "/"
	}
	env.plainEnv = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=" + home}

	began := time.Now()
	fmt.Println("secret-init bench")
	fmt.Println(machineLine(bin))
	fmt.Println()

	progress := func(s string) { fmt.Fprintf(os.Stderr, "bench: %s (%.0f s)\n", s, time.Since(began).Seconds()) }
	if *contractsOnly {
		benchContracts(env).print(os.Stdout)
		return nil
	}

	progress("building the Go reference programs")
	refs := buildRefs(root)

	progress("start-up loop")
	benchStartup(o, env, refs).print(os.Stdout)
	initTrace(o, env).print(os.Stdout)

	fx, ferr := newFixture(root, "prefetch", bin, env.plainEnv)
	if ferr != nil {
		fmt.Fprintln(os.Stderr, "bench: prefetch fixture:", ferr)
		fx = nil
	} else {
		defer fx.srv.Close()
		fx.srv.SetLatency(o.latency)
	}

	progress("memory")
	benchMemory(env, fx).print(os.Stdout)
	benchSize(env, refs).print(os.Stdout)

	if fx != nil {
		progress("prefetch")
		fxTLS, err := newTLSFixture(root, "prefetch-tls", bin, env.plainEnv)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench: HTTPS prefetch fixture:", err)
			fxTLS = nil
		} else {
			defer fxTLS.srv.Close()
		}
		benchPrefetch(o, env, fx, fxTLS, sdk).print(os.Stdout)
	}

	if !o.skipScale {
		progress("scale")
		benchScale(o, env).print(os.Stdout)
	}
	progress("contracts")
	benchContracts(env).print(os.Stdout)
	fmt.Printf("bench took %.0f s; load average at the end: %s\n", time.Since(began).Seconds(), loadAvg())
	return nil
}

// machineLine says what the figures were measured on.
func machineLine(bin string) string {
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	parts := []string{
		fmt.Sprintf("nproc %d", runtime.NumCPU()),
		"kernel " + strings.TrimSpace(string(kernel)),
		runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH,
	}
	if osr, err := os.ReadFile("/etc/os-release"); err == nil {
		for _, l := range strings.Split(string(osr), "\n") {
			if v, ok := strings.CutPrefix(l, "PRETTY_NAME="); ok {
				parts = append(parts, strings.Trim(v, `"`))
			}
		}
	}
	parts = append(parts, "load average "+loadAvg())
	line := "machine: " + strings.Join(parts, ", ")
	var vers []string
	for _, v := range [][]string{{bin, "version"}, {"/usr/bin/tini", "--version"}, {"/usr/bin/dumb-init", "--version"}, {"/usr/bin/catatonit", "--version"}} {
		if _, err := os.Stat(v[0]); err != nil {
			continue
		}
		out, _ := exec.Command(v[0], v[1:]...).CombinedOutput()
		first, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
		vers = append(vers, filepath.Base(v[0])+": "+first)
	}
	return line + "\nversions: " + strings.Join(vers, "; ")
}

func loadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
