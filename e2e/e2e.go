// Package e2e tests the secret-init binary end to end, as a container runs
// it: the real binary built once, real processes and signals, PID 1 of a
// new PID namespace, and the Infisical test server over real HTTP. The
// tests and their harness (Run, Start, the fixture, the leak check) are in
// the _test files.
//
// This file is what the bench shares with them, so it is not a _test file:
// Service, a service's inputs with a test server started from a seed;
// ParseEnv, for a command that prints its environment; and ReadStatus, for
// measuring a process's memory from outside.
package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"secret-init/infisical/infisicaltest"
)

// Service is what one start of secret-init reads: a working directory
// with contracts (and a .env, if the files hold one) and an Infisical test
// server started from a seed.
type Service struct {
	Dir       string // the working directory of secret-init
	Contracts string // Dir/contracts, for --contracts
	Server    *infisicaltest.Server
	CACert    string // Dir/ca.pem, for --ca-cert; "" when the server speaks plain HTTP
}

// NewService writes files (a path below dir: its content) into dir and
// starts a test server from seed, over HTTPS with a fresh CA when tls is
// set. opts are the server's (infisicaltest.WithHTTP2). Close stops it.
func NewService(dir string, files map[string]string, seed infisicaltest.Seed, tls bool, opts ...infisicaltest.Option) (*Service, error) {
	s := &Service{Dir: dir, Contracts: filepath.Join(dir, "contracts")}
	if err := os.MkdirAll(s.Contracts, 0o755); err != nil {
		return nil, err
	}
	for name, content := range files {
		if _, err := s.Write(name, content); err != nil {
			return nil, err
		}
	}
	s.Server = infisicaltest.NewUnstartedServer(opts...)
	s.Server.ApplySeed(seed)
	if !tls {
		if err := s.Server.Start("127.0.0.1:0"); err != nil {
			return nil, err
		}
		return s, nil
	}
	if err := s.Server.StartTLS("127.0.0.1:0"); err != nil {
		return nil, err
	}
	s.CACert = filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(s.CACert, s.Server.CACertPEM(), 0o644); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Write puts content at name below Dir, making its folders, and returns
// the file's path. Files are 0600, as a .env with credentials should be.
func (s *Service) Write(name, content string) (string, error) {
	p := filepath.Join(s.Dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return "", err
	}
	return p, os.WriteFile(p, []byte(content), 0o600)
}

// Close stops the test server.
func (s *Service) Close() { s.Server.Close() }

// ParseEnv reads the output of env(1): one KEY=VALUE a line. A value
// with a newline in it is cut there; the tests and the bench use none.
func ParseEnv(data []byte) map[string]string {
	env := map[string]string{}
	for _, l := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			env[k] = v
		}
	}
	return env
}

// Status is the memory part of /proc/<pid>/status, in KiB.
type Status struct {
	RSS, HWM, Anon, File int64 // VmRSS, VmHWM (the peak RSS), RssAnon, RssFile
	Threads              int
}

// ReadStatus reads /proc/<pid>/status. ru_maxrss from wait4 cannot stand
// in for VmHWM: Go starts children with vfork, and the child's first
// execve records the parent's peak as its own.
func ReadStatus(pid int) (Status, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return Status{}, err
	}
	var st Status
	for _, l := range strings.Split(string(data), "\n") {
		k, v, _ := strings.Cut(l, ":")
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		n, _ := strconv.ParseInt(f[0], 10, 64)
		switch k {
		case "VmRSS":
			st.RSS = n
		case "VmHWM":
			st.HWM = n
		case "RssAnon":
			st.Anon = n
		case "RssFile":
			st.File = n
		case "Threads":
			st.Threads = int(n)
		}
	}
	return st, nil
}
