package e2e

// The bundled example as a new user meets it: `make run`'s script, and the
// image Dockerfile.example builds, started with the same command line and
// environment a container runtime would give it (there is no container
// engine here: the image's files are laid out in a folder instead).

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"secret-init/infisical/infisicaltest"
)

// exampleSeed loads the test server's content for the example.
func exampleSeed(t *testing.T) infisicaltest.Seed {
	t.Helper()
	f, err := os.Open("../testdata/example/infisical.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	seed, err := infisicaltest.LoadSeed(f)
	if err != nil {
		t.Fatal(err)
	}
	return seed
}

// runExample runs one of `make run`'s scripts with the binaries under
// test: secret-init's, and a test server built for it.
func runExample(t *testing.T, path string) Result {
	t.Helper()
	testserver := filepath.Join(t.TempDir(), "infisical-testserver")
	build := exec.Command("go", "build", "-o", testserver, "./cmd/infisical-testserver")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the test server: %v\n%s", err, out)
	}
	script, err := filepath.Abs(path)
	if err != nil {
		t.Fatal(err)
	}
	return Run(t, Spec{Bin: "/bin/sh", Args: []string{script}, Env: cleanEnv("SECRET_INIT="+bin, "INFISICAL_TESTSERVER="+testserver)})
}

// TestExampleMakeRun runs the script behind `make run`: the happy path
// shows no warning, check's summary and the prefetch line agree, the
// service gets every declared key, and the script ends by saying what
// happened and what to try next.
func TestExampleMakeRun(t *testing.T) {
	r := runExample(t, "../testdata/example/run.sh")
	wantCode(t, r, 0)
	for _, bad := range []string{`"level":"warn"`, `"level":"error"`, " WRN ", " ERR "} {
		if strings.Contains(r.Stdout+r.Stderr, bad) {
			t.Errorf("the happy path has a %s line:\n%s\n%s", bad, r.Stdout, r.Stderr)
		}
	}
	wantLines(t, r.Stdout, "Result: a start would succeed",
		"POSTGRES_POOL_MAX = <2 chars>", // /services/billing/db's 50 over /shared/db's 10
		"SLACK_CHANNEL_ID = <9 chars>", "APP_GREETING = <15 chars>", "VALKEY_HOST = <6 chars>",
		"UNDECLARED_ADMIN_PASSWORD (not set)", "== What happened", "== Try next")
	if n := strings.Count(r.Stdout, "(not set)"); n != 1 {
		t.Errorf("%d keys not set, want only UNDECLARED_ADMIN_PASSWORD:\n%s", n, r.Stdout)
	}

	// check's words and the summary line's, for the same inputs.
	m := regexp.MustCompile(`Summary: (\d+) declared key\(s\): (\d+) from env, (\d+) from Infisical, (\d+) from \.env, (\d+) missing`).FindStringSubmatch(r.Stdout)
	if m == nil {
		t.Fatalf("no summary in check's output:\n%s", r.Stdout)
	}
	var line struct {
		Env       int `json:"from_env"`
		Infisical int `json:"from_infisical"`
		Dotenv    int `json:"from_dotenv"`
		Missing   int `json:"missing"`
	}
	for _, l := range strings.Split(r.Stderr, "\n") {
		if strings.Contains(l, "prefetch from Infisical") {
			json.Unmarshal([]byte(l), &line) // the last one: the start's
		}
	}
	n := func(i int) int { v, _ := strconv.Atoi(m[i]); return v }
	if line.Env != n(2) || line.Infisical != n(3) || line.Dotenv != n(4) || line.Missing != n(5) || n(1) != n(2)+n(3)+n(4)+n(5) {
		t.Errorf("check says %q, the summary line %+v", m[0], line)
	}
}

// image is what a Dockerfile's runtime stage gives a container.
type image struct {
	workdir string
	copies  [][2]string // source in the build context, destination in the image
	env     []string
	argv    []string // ENTRYPOINT then CMD
}

// readDockerfile reads the last stage of a Dockerfile: WORKDIR, COPY from
// the build context, ENV, ENTRYPOINT and CMD in exec form. Anything else
// of that stage it does not know fails the test, so that a change to the
// Dockerfile cannot pass unnoticed.
func readDockerfile(t *testing.T, path string) image {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(data), "\\\n", " ")
	var stage []string // the lines of the last stage
	for _, l := range strings.Split(text, "\n") {
		if f := strings.Fields(l); len(f) > 0 && f[0] == "FROM" {
			stage = nil
		}
		stage = append(stage, l)
	}
	var img image
	var entrypoint, cmd []string
	for _, l := range stage {
		f := strings.Fields(l)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		args := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l), f[0]))
		switch f[0] {
		case "FROM":
		case "WORKDIR":
			img.workdir = args
		case "COPY":
			if strings.HasPrefix(args, "--from=") {
				continue // the binary from the build stage: the tests' own build stands for it
			}
			if len(f) != 3 {
				t.Fatalf("%s: COPY %q: want a source and a destination", path, args)
			}
			img.copies = append(img.copies, [2]string{f[1], f[2]})
		case "ENV":
			for _, kv := range f[1:] {
				if !strings.Contains(kv, "=") || strings.ContainsAny(kv, `"'$`) {
					t.Fatalf("%s: ENV %q: want KEY=VALUE words", path, kv)
				}
				img.env = append(img.env, kv)
			}
		case "ENTRYPOINT", "CMD":
			var v []string
			if err := json.Unmarshal([]byte(args), &v); err != nil {
				t.Fatalf("%s: %s %s: want the exec (JSON) form: %v", path, f[0], args, err)
			}
			if f[0] == "ENTRYPOINT" {
				entrypoint = v
			} else {
				cmd = v
			}
		default:
			t.Fatalf("%s: %s: the test does not know what it does to the image", path, f[0])
		}
	}
	img.argv = append(entrypoint, cmd...)
	if len(img.argv) == 0 || img.argv[0] != "secret-init" {
		t.Fatalf("%s: the image's command %q does not start with secret-init", path, img.argv)
	}
	return img
}

// layOut builds the image's files under root: the COPY sources of the
// build context (the repository) at their destinations.
func (img image) layOut(t *testing.T, root string) string {
	t.Helper()
	for _, c := range img.copies {
		src := filepath.Join("..", c[0])
		dst := filepath.Join(root, c[1])
		err := filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(src, p)
			if fi.IsDir() {
				return os.MkdirAll(filepath.Join(dst, rel), 0o755)
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	dir := filepath.Join(root, img.workdir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestExampleImageStarts: Dockerfile.example's image (SECRET_INIT_REQUIRED
// and all), started as PID 1 against the example's test server, starts its
// CMD: with the example's .env mounted at /app/.env, and with the
// bootstrap settings in the orchestrator's environment alone.
func TestExampleImageStarts(t *testing.T) {
	img := readDockerfile(t, "../Dockerfile.example")
	srv := infisicaltest.NewUnstartedServer()
	srv.ApplySeed(exampleSeed(t))
	if err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	dotenv, err := os.ReadFile("../testdata/example/.env")
	if err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		name     string
		mount    bool     // the example's .env at WORKDIR/.env
		env      []string // the orchestrator's
		warnings bool
	}{
		{"mounted .env", true, nil, false},
		// SLACK_CHANNEL_ID is only in .env: optional, so --required warns.
		{"orchestrator environment", false, []string{"INFISICAL_CLIENT_ID=example-runtime", "INFISICAL_CLIENT_SECRET=example-runtime-secret",
			"INFISICAL_PROJECT_ID=" + exampleSeed(t).Project}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := img.layOut(t, t.TempDir())
			if c.mount {
				if err := os.WriteFile(filepath.Join(dir, ".env"), dotenv, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			env := cleanEnv(append(append(append([]string{}, img.env...), "INFISICAL_ADDR="+srv.URL, "SECRET_INIT_LOG_FORMAT=json"), c.env...)...)
			s := Start(t, Spec{Args: img.argv[1:], Env: env, Dir: dir, PID1: true})
			line, _ := s.next(20 * time.Second)
			if !strings.HasPrefix(line, "started with ") {
				t.Fatalf("the image's command printed %q; stderr: %s", line, s.stderrText())
			}
			s.signal(syscall.SIGTERM) // docker stop
			if code := s.wait(); code != 128+int(syscall.SIGTERM) {
				t.Errorf("exit %d after TERM, want 143; stderr: %s", code, s.stderrText())
			}
			stderr := s.stderrText()
			if strings.Contains(stderr, `"level":"error"`) || strings.Contains(stderr, `"level":"warn"`) != c.warnings {
				t.Errorf("warnings %v, want %v:\n%s", strings.Contains(stderr, `"level":"warn"`), c.warnings, stderr)
			}
			noLeak(t, Result{Stderr: stderr})
		})
	}
}
