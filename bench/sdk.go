package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"secret-init/infisical/infisicaltest"
)

// sdkProgram is cmd/sdkfetch of the conformance module, which times the
// official go-sdk. It is a program of its own, built here, so that the
// main module never imports the SDK and its cloud dependencies.
type sdkProgram struct {
	dir string // temp dir holding bin
	bin string // "" when the build failed
	err error  // why there is no bin
}

// buildSDKProgram builds sdkfetch. A cold build downloads and compiles the
// cloud SDKs that go-sdk imports, which takes minutes on a small machine;
// main does it before the bench's time limit starts.
func buildSDKProgram(timeout time.Duration) *sdkProgram {
	p := &sdkProgram{}
	goBin, err := exec.LookPath("go")
	if err != nil {
		p.err = err
		return p
	}
	mod, err := moduleDir(goBin)
	if err != nil {
		p.err = err
		return p
	}
	if p.dir, err = os.MkdirTemp("", "secret-init-bench-sdk-"); err != nil {
		p.err = err
		return p
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	bin := filepath.Join(p.dir, "sdkfetch")
	if err := goBuild(ctx, goBin, filepath.Join(mod, "conformance"), "./cmd/sdkfetch", bin); err != nil {
		// The last line of go's output says why: a download that failed,
		// a compile error.
		p.err = fmt.Errorf("building conformance/cmd/sdkfetch: %s", lastLine(err.Error()))
		if ctx.Err() != nil {
			p.err = fmt.Errorf("building conformance/cmd/sdkfetch: not done after %v", timeout)
		}
		return p
	}
	p.bin = bin
	return p
}

func (p *sdkProgram) remove() {
	if p.dir != "" {
		os.RemoveAll(p.dir)
	}
}

// sdkSession is a running sdkfetch: one JSON line each way per run.
type sdkSession struct {
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	lines   chan []byte
	version string
}

// sdkAnswer is a line sdkfetch prints: its SDK version first, then one
// wall time or error per run.
type sdkAnswer struct {
	SDK    string `json:"sdk"`
	WallNs int64  `json:"wallNs"`
	Error  string `json:"error"`
}

// startSDK starts sdkfetch with fx's server, credentials, folders and keys.
func startSDK(bin string, fx *fixture) (*sdkSession, error) {
	s := &sdkSession{cmd: exec.Command(bin), lines: make(chan []byte, 1)}
	s.cmd.Stderr = os.Stderr // sdkfetch reports its errors on stdout; this is for a panic
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if s.stdin, err = s.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		defer close(s.lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			s.lines <- slices.Clone(sc.Bytes())
		}
	}()
	folders := fx.folders
	job, _ := json.Marshal(map[string]any{
		"addr": fx.srv.URL, "clientId": fx.clientID, "clientSecret": fx.secret,
		"projectId": infisicaltest.DefaultProject, "environment": "dev",
		"folders": folders, "want": fx.want,
	})
	a, err := s.send(append(job, '\n'), 30*time.Second)
	if err != nil {
		s.close()
		return nil, err
	}
	s.version = a.SDK
	return s, nil
}

// send writes one line and waits up to limit for the answer.
func (s *sdkSession) send(line []byte, limit time.Duration) (sdkAnswer, error) {
	var a sdkAnswer
	if _, err := s.stdin.Write(line); err != nil {
		return a, fmt.Errorf("sdkfetch: %v", err)
	}
	select {
	case l, ok := <-s.lines:
		if !ok {
			return a, errors.New("sdkfetch exited")
		}
		if err := json.Unmarshal(l, &a); err != nil {
			return a, fmt.Errorf("sdkfetch: %q: %v", l, err)
		}
		if a.Error != "" {
			return a, errors.New(a.Error)
		}
		return a, nil
	case <-time.After(limit):
		s.cmd.Process.Kill()
		return a, fmt.Errorf("sdkfetch: no answer after %v", limit)
	}
}

// close ends sdkfetch: EOF on its stdin, or a kill if it does not exit.
func (s *sdkSession) close() {
	s.stdin.Close()
	done := make(chan struct{})
	go func() { s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		s.cmd.Process.Kill()
		<-done
	}
}

// sdkRow measures the official go-sdk doing what a naive entrypoint built
// on it would do: one login, then one ListSecrets per folder, one after the
// other. sdkfetch times each run inside its own process, so it pays no
// process start: a lower bound for such an entrypoint, not a like-for-like
// process figure. The requests are counted from the server's log.
func sdkRow(t *table, o *options, fx *fixture, p *sdkProgram) {
	name := func(version string) string {
		return strings.TrimSpace("go-sdk "+version) + " in-process: login, then 8 ListSecrets sequentially (no process start)"
	}
	unavailable := func(err error) {
		t.add(name(""), "-", "-", "-", "-", "-", "-", "-")
		t.note("go-sdk: unavailable: %v", err)
	}
	if p.err != nil {
		unavailable(p.err)
		return
	}
	s, err := startSDK(p.bin, fx)
	if err != nil {
		unavailable(err)
		return
	}
	defer s.close()

	var walls []time.Duration
	var reqCounts []int
	failed, lastErr := 0, ""
	deadline := time.Now().Add(o.prefetchBudget)
	for i := range o.prefetchWarm + o.prefetchRuns {
		if time.Now().After(deadline) {
			break
		}
		fx.srv.ResetCounts()
		a, err := s.send([]byte("\n"), 30*time.Second)
		n := len(fx.srv.Requests())
		if i < o.prefetchWarm {
			continue
		}
		if err != nil {
			failed++
			lastErr = err.Error()
			continue
		}
		walls = append(walls, time.Duration(a.WallNs))
		reqCounts = append(reqCounts, n)
	}
	st := summarize(walls)
	if st.n == 0 {
		t.add(name(s.version), "-", "-", "-", "-", "-", "-", "-")
		t.note("go-sdk: every run failed; last: %s", lastErr)
		return
	}
	slices.Sort(reqCounts)
	reqStr := fmt.Sprint(reqCounts[0])
	if reqCounts[0] != reqCounts[len(reqCounts)-1] {
		reqStr = fmt.Sprintf("%d..%d", reqCounts[0], reqCounts[len(reqCounts)-1])
	}
	t.add(name(s.version)+" (info)", ms(st.median), ms(st.p90), fmt.Sprintf("%.2f", float64(st.median)/float64(o.latency)), "-", reqStr, "-", "-")
	if failed > 0 {
		t.note("go-sdk: %d runs failed; last: %s", failed, lastErr)
	}
}

// lastLine keeps the end of a build's output: the line that says why.
func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}
