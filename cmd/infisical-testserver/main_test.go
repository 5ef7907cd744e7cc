package main

import (
	"bufio"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain lets the test binary stand in for the program, so the test runs
// the real main (flags, seed file, signal handling) in a child process.
func TestMain(m *testing.M) {
	if os.Getenv("INFISICAL_TESTSERVER_RUN_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestProgram(t *testing.T) {
	dir := t.TempDir()
	seed := filepath.Join(dir, "seed.yaml")
	err := os.WriteFile(seed, []byte("tokens: [demo-token]\nenvironments:\n  dev:\n    folders:\n      /app: {K: v}\n"), 0o600)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name     string
		args     []string
		wantAddr bool
		wantErr  string
		v4       int    // the status of a v4 list
		limit    string // x-ratelimit-limit
	}{
		{name: "serves a seed", args: []string{"--listen", "127.0.0.1:0", "--seed", seed, "--latency", "1ms", "--rate-limit", "100"}, wantAddr: true, v4: 200},
		{name: "an older server", args: []string{"--seed", seed, "--no-v4", "--empty-missing-folders", "--rate-window", "100"}, wantAddr: true, v4: 404, limit: "100"},
		{name: "bad seed file", args: []string{"--seed", filepath.Join(dir, "missing.yaml")}, wantErr: "missing.yaml"},
		{name: "tls without ca-out", args: []string{"--tls"}, wantErr: "--ca-out"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], tt.args...)
			cmd.Env = append(os.Environ(), "INFISICAL_TESTSERVER_RUN_MAIN=1")
			var stderr strings.Builder
			cmd.Stderr = &stderr
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			line, _ := bufio.NewReader(out).ReadString('\n')
			if !tt.wantAddr {
				err := cmd.Wait()
				if err == nil || !strings.Contains(stderr.String(), tt.wantErr) {
					t.Fatalf("exit %v, stderr %q; want failure mentioning %q", err, stderr.String(), tt.wantErr)
				}
				return
			}
			addr, ok := strings.CutPrefix(strings.TrimSpace(line), "INFISICAL_ADDR=")
			if !ok || !strings.HasPrefix(addr, "http://127.0.0.1:") {
				_ = cmd.Process.Kill()
				t.Fatalf("first line %q", line)
			}
			req, _ := http.NewRequest("GET", addr+"/api/v3/secrets/raw?workspaceId=00000000-0000-4000-8000-000000000001&environment=dev&secretPath=/app", nil)
			req.Header.Set("Authorization", "Bearer demo-token")
			resp, err := http.DefaultClient.Do(req)
			if err != nil || resp.StatusCode != 200 {
				_ = cmd.Process.Kill()
				t.Fatalf("list: %v %v", resp, err)
			}
			resp.Body.Close()
			if got := resp.Header.Get("X-Ratelimit-Limit"); got != tt.limit {
				t.Errorf("x-ratelimit-limit %q, want %q", got, tt.limit)
			}
			req, _ = http.NewRequest("GET", addr+"/api/v4/secrets?projectId=00000000-0000-4000-8000-000000000001&environment=dev&secretPath=/app", nil)
			req.Header.Set("Authorization", "Bearer demo-token")
			if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != tt.v4 {
				t.Errorf("v4 list: %v %v, want %d", resp, err, tt.v4)
			} else {
				resp.Body.Close()
			}

			if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("exit after SIGTERM: %v (%s)", err, stderr.String())
				}
			case <-time.After(10 * time.Second):
				_ = cmd.Process.Kill()
				t.Fatal("still running 10s after SIGTERM")
			}
		})
	}
}
