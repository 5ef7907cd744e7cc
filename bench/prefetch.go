package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"secret-init/e2e"
	"secret-init/infisical/infisicaltest"
	"secret-init/launcher"
)

// Shape of the prefetch scenario of issue 3: 8 folders of 10 keys.
const (
	nFolders  = 8
	keysPerFd = 10
)

// fixture is one service's inputs (contracts and a transport map in a temp
// dir) and an in-process Infisical test server holding their secrets: an
// e2e.Service, with what the bench checks and times besides.
type fixture struct {
	bin       string
	dir       string // working directory: holds no .env
	contracts string
	tmap      string
	srv       *infisicaltest.Server
	clientID  string
	secret    string
	env       []string
	caFile    string            // set when the server speaks TLS: passed as --ca-cert
	want      map[string]string // every declared key and its value
	hidden    []string          // undeclared keys in the same folders
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func folderPath(i int) string { return fmt.Sprintf("/shared/t%d", i) }

// newFixture writes contracts that need transports t1..t8, a transport map
// that gives each 10 keys, and seeds the server with those keys plus one
// undeclared key per folder (which must never reach the command).
func newFixture(root, name, bin string, plainEnv []string) (*fixture, error) {
	return makeFixture(root, name, bin, plainEnv, false)
}

// newTLSFixture is newFixture over HTTPS with HTTP/2, the way a real
// Infisical answers; secret-init gets the test CA with --ca-cert.
func newTLSFixture(root, name, bin string, plainEnv []string) (*fixture, error) {
	return makeFixture(root, name, bin, plainEnv, true, infisicaltest.WithHTTP2())
}

func makeFixture(root, name, bin string, plainEnv []string, useTLS bool, opts ...infisicaltest.Option) (*fixture, error) {
	f := &fixture{bin: bin, want: map[string]string{}}
	f.clientID, f.secret = "bench-"+randHex(4), randHex(16)
	folders := map[string]map[string]string{}
	var tm, ct strings.Builder
	tm.WriteString("transports:\n")
	ct.WriteString("name: node_bench\nhandler_routing:\n  routing_strategy: operation_match\n  handlers:\n")
	for i := 1; i <= nFolders; i++ {
		folder := map[string]string{}
		var keys []string
		for k := 1; k <= keysPerFd; k++ {
			key := fmt.Sprintf("T%d_K%02d", i, k)
			keys = append(keys, key)
			f.want[key] = fmt.Sprintf("v-%s-%s", key, randHex(6))
			folder[key] = f.want[key]
		}
		hidden := fmt.Sprintf("T%d_UNDECLARED", i)
		f.hidden = append(f.hidden, hidden)
		folder[hidden] = "undeclared-" + randHex(6)
		folders[folderPath(i)] = folder
		fmt.Fprintf(&tm, "  t%d:\n    keys: [%s]\n", i, strings.Join(keys, ", "))
		fmt.Fprintf(&ct, "    - operation: op_%d\n      handler_type: t%d\n", i, i)
	}
	seed := infisicaltest.Seed{
		Identities:   []infisicaltest.SeedIdentity{{ClientID: f.clientID, ClientSecret: f.secret}},
		Environments: map[string]infisicaltest.SeedEnvironment{"dev": {Folders: folders}},
	}
	files := map[string]string{"transport-map.yaml": tm.String(), "contracts/node_bench/contract.yaml": ct.String()}
	svc, err := e2e.NewService(filepath.Join(root, name), files, seed, useTLS, opts...)
	if err != nil {
		return nil, err
	}
	f.dir, f.contracts, f.srv, f.caFile = svc.Dir, svc.Contracts, svc.Server, svc.CACert
	f.tmap = filepath.Join(f.dir, "transport-map.yaml")
	f.env = append(slices.Clone(plainEnv),
		"INFISICAL_ADDR="+f.srv.URL,
		"INFISICAL_CLIENT_ID="+f.clientID,
		"INFISICAL_CLIENT_SECRET="+f.secret,
		"INFISICAL_PROJECT_ID="+infisicaltest.DefaultProject,
		"INFISICAL_ENVIRONMENT=dev",
	)
	return f, nil
}

// secretInit is secret-init with the fixture's contracts and map, then args.
func (f *fixture) secretInit(name string, args ...string) cmdSpec {
	argv := []string{f.bin, "--contracts", f.contracts, "--transport-map", f.tmap}
	if f.caFile != "" {
		argv = append(argv, "--ca-cert", f.caFile)
	}
	argv = append(argv, args...)
	return cmdSpec{name: name, argv: argv, env: f.env, dir: f.dir}
}

// checkEnv compares what a command printed with `env` against the
// fixture: every declared key with its value, no undeclared key.
func (f *fixture) checkEnv(data []byte) (good, bad int, leaked bool) {
	got := e2e.ParseEnv(data)
	for k, v := range f.want {
		if got[k] == v {
			good++
		} else {
			bad++
		}
	}
	for _, h := range f.hidden {
		if _, ok := got[h]; ok {
			leaked = true
		}
	}
	return good, bad, leaked
}

// reqSummary counts one start's requests from the server's log.
type reqSummary struct {
	logins, lists, other, non200 int
	first, last                  time.Time
}

func summarizeRequests(rs []infisicaltest.Request) reqSummary {
	var s reqSummary
	for _, r := range rs {
		switch {
		case strings.HasPrefix(r.Path, "/api/v1/auth/"):
			s.logins++
		case r.Path == "/api/v4/secrets" || r.Path == "/api/v3/secrets/raw": // ours lists on v4, go-sdk on v3
			s.lists++
		default:
			s.other++
		}
		if r.Status != 200 {
			s.non200++
		}
		if s.first.IsZero() || r.At.Before(s.first) {
			s.first = r.At
		}
		if r.At.After(s.last) {
			s.last = r.At
		}
	}
	return s
}

// benchPrefetch times a start that needs 8 folders against a server that
// adds o.latency to every answer, interleaved with /bin/true so that the
// difference is secret-init's own cost, and reads each start's requests
// from the server's log.
func benchPrefetch(o *options, env *benchEnv, fx, fxTLS *fixture, sdk *sdkProgram) *table {
	rt := o.latency
	t := &table{
		title: fmt.Sprintf("4. Prefetch: contracts needing %d folders × %d keys, test server adding %v to every answer; %d timed starts after %d warm-ups",
			nFolders, keysPerFd, rt, o.prefetchRuns, o.prefetchWarm),
		head: []string{"client", "median ms", "p90 ms", "round trips", "≤ 3 RT", "requests/start", "= 1+8 requests"},
	}
	fx.srv.SetLatency(rt)

	// One start whose command prints its environment: the figures below
	// only count if the keys really arrive.
	verified := "not verified"
	if out, err := os.CreateTemp(env.root, "prefetch-env-*.txt"); err == nil {
		spec := fx.secretInit("verify", "--", env.envBin)
		res, err := runOnceIO(spec, 30*time.Second, devNull.Fd(), out.Fd(), devNull.Fd())
		out.Close()
		data, rerr := os.ReadFile(out.Name())
		switch {
		case err != nil:
			verified = "verification run failed: " + err.Error()
		case launcher.ExitCode(res.ws) != 0:
			verified = fmt.Sprintf("verification run exited %d", launcher.ExitCode(res.ws))
		case rerr != nil:
			verified = rerr.Error()
		default:
			good, bad, leaked := fx.checkEnv(data)
			verified = fmt.Sprintf("the command got %d/%d declared keys with the right values (%d wrong or missing); undeclared keys leaked: %v",
				good, len(fx.want), bad, leaked)
		}
	}

	m := timePrefetch(o, fx)
	m.row(t, "secret-init process: start, login, lists, exec /bin/true; minus /bin/true", rt)
	var mTLS *prefetchTiming
	if fxTLS != nil {
		fxTLS.srv.SetLatency(rt)
		mTLS = timePrefetch(o, fxTLS)
		mTLS.row(t, "same over HTTPS (HTTP/2, --ca-cert: system roots + the test CA)", rt)
	}

	sdkRow(t, o, fx, sdk)

	t.note("%s.", verified)
	m.notes(t, "plain HTTP", rt)
	if mTLS != nil {
		mTLS.notes(t, "HTTPS", rt)
	}
	return t
}

// prefetchTiming is what timePrefetch measured of one fixture.
type prefetchTiming struct {
	trueMed         time.Duration
	si              stats
	reqCounts       []int
	pre, netw, post []time.Duration
	shapes          []string
	failed          int
	lastErr         string
}

// timePrefetch times starts of secret-init against fx, interleaved with
// /bin/true, and reads each start's requests from the server's log.
func timePrefetch(o *options, fx *fixture) *prefetchTiming {
	m := &prefetchTiming{}
	trueSpec := cmdSpec{name: "/bin/true", argv: []string{"/bin/true"}, env: fx.env, dir: fx.dir}
	siSpec := fx.secretInit("secret-init", "--", "/bin/true")
	var trueWalls, siWalls []time.Duration
	deadline := time.Now().Add(o.prefetchBudget)
	for i := range o.prefetchWarm + o.prefetchRuns {
		if time.Now().After(deadline) {
			break
		}
		tr, err := runOnce(trueSpec, 10*time.Second)
		if err == nil && i >= o.prefetchWarm {
			trueWalls = append(trueWalls, tr.wall)
		}
		fx.srv.ResetCounts()
		res, err := runOnce(siSpec, 30*time.Second)
		reqs := fx.srv.Requests()
		if i < o.prefetchWarm {
			continue
		}
		if err != nil || launcher.ExitCode(res.ws) != 0 {
			m.failed++
			if err != nil {
				m.lastErr = err.Error()
			} else {
				m.lastErr = fmt.Sprintf("exit %d", launcher.ExitCode(res.ws))
			}
			continue
		}
		s := summarizeRequests(reqs)
		siWalls = append(siWalls, res.wall)
		m.reqCounts = append(m.reqCounts, len(reqs))
		m.shapes = append(m.shapes, fmt.Sprintf("%d login + %d lists + %d other, %d not 200", s.logins, s.lists, s.other, s.non200))
		if len(reqs) > 0 {
			// The server runs in this process, so its request times and
			// the spawn time share Go's monotonic clock.
			m.pre = append(m.pre, s.first.Sub(res.start))
			m.netw = append(m.netw, s.last.Sub(s.first))
			m.post = append(m.post, res.start.Add(res.wall).Sub(s.last))
		}
	}
	m.trueMed = medianOf(trueWalls)
	m.si = summarize(siWalls)
	return m
}

// row adds m's line to the prefetch table.
func (m *prefetchTiming) row(t *table, name string, rt time.Duration) {
	if m.si.n == 0 {
		t.add(name, "-", "-", "-", "not measured", "-", "not measured")
		return
	}
	cost := m.si.median - m.trueMed
	rts := float64(cost) / float64(rt)
	reqs := slices.Clone(m.reqCounts)
	slices.Sort(reqs)
	exact := reqs[0] == 1+nFolders && reqs[len(reqs)-1] == 1+nFolders
	reqStr := fmt.Sprint(reqs[0])
	if reqs[0] != reqs[len(reqs)-1] {
		reqStr = fmt.Sprintf("%d..%d", reqs[0], reqs[len(reqs)-1])
	}
	t.add(name, ms(cost), ms(m.si.p90-m.trueMed), fmt.Sprintf("%.2f", rts), verdict(rts <= 3), reqStr, verdict(exact))
}

// notes explains where m's time went.
func (m *prefetchTiming) notes(t *table, label string, rt time.Duration) {
	if m.si.n > 0 {
		t.note("%s: /bin/true alone, interleaved: median %s ms. Raw secret-init wall: median %s ms, min %s ms.", label, ms(m.trueMed), ms(m.si.median), ms(m.si.min))
		t.note("%s: medians from the server's log (same clock): spawn → first request %s ms (process start, flags, contracts, TLS set-up); first → last request %s ms (login answer %v, then the lists go out); last request → exit %s ms (list answer %v, merge, exec, /bin/true).",
			label, ms(medianOf(m.pre)), ms(medianOf(m.netw)), rt, ms(medianOf(m.post)), rt)
		counts := map[string]int{}
		for _, s := range m.shapes {
			counts[s]++
		}
		for s, n := range counts {
			t.note("%s: requests per start: %s (%d of %d starts)", label, s, n, len(m.shapes))
		}
	}
	if m.failed > 0 {
		t.note("%s: %d secret-init starts failed; last: %s", label, m.failed, m.lastErr)
	}
}
