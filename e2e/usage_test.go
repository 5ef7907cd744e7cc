package e2e

// The command line as a user meets it: the help and the README agree,
// help/--help/-h and version/--version, INFISICAL_REQUIRED, the --service
// slug, and what happens when our own output cannot be written.

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// readmeTable returns the rows of the README table whose header row is
// header, each as its cells.
func readmeTable(t *testing.T, header string) [][]string {
	t.Helper()
	data, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var rows [][]string
	in := false
	for _, l := range strings.Split(string(data), "\n") {
		switch {
		case l == header:
			in = true
		case in && strings.HasPrefix(l, "|---"):
		case in && strings.HasPrefix(l, "|"):
			// \| is a bar inside a cell
			cells := strings.Split(strings.ReplaceAll(strings.Trim(l, "|"), `\|`, "¦"), " | ")
			for i := range cells {
				cells[i] = strings.TrimSpace(cells[i])
			}
			rows = append(rows, cells)
		case in:
			in = false // the next table with this header adds its rows
		}
	}
	if len(rows) == 0 {
		t.Fatalf("README has no table %q", header)
	}
	return rows
}

var (
	flagName = regexp.MustCompile(`(^|[\s` + "`" + `(])(--?[a-z][a-z-]*)`)
	envName  = regexp.MustCompile(`\b(SECRET_INIT_[A-Z_]+|INFISICAL_REQUIRED)\b`)
	// a flag row of the help: "  -g, --group", "      --env-file=PATH ..."
	helpFlag = regexp.MustCompile(`^  (?:-([a-z]), |    )--(?:\[no-\])?([a-z][a-z-]*)`)
)

// helpFlags reads the help's flag rows: each flag (long and short names)
// with the text of its row and the lines that continue it.
func helpFlags(help string) map[string]string {
	flags := map[string]string{}
	var last []string
	for _, l := range strings.Split(help, "\n") {
		if m := helpFlag.FindStringSubmatch(l); m != nil {
			last = []string{"--" + m[2]}
			if m[1] != "" {
				last = append(last, "-"+m[1])
			}
			for _, n := range last {
				flags[n] = l
			}
			continue
		}
		if strings.HasPrefix(l, "      ") && last != nil {
			for _, n := range last {
				flags[n] += " " + strings.TrimSpace(l)
			}
			continue
		}
		last = nil
	}
	return flags
}

// TestHelpMatchesReadme: every flag of the README's flag tables is in
// --help with its variables and default, and --help has no flag that the
// README does not document.
func TestHelpMatchesReadme(t *testing.T) {
	r := Run(t, Spec{Args: []string{"--help"}})
	wantCode(t, r, 0)
	help := helpFlags(r.Stdout)
	if n := strings.Count("\n"+r.Stdout, "\nUsage:"); n != 1 {
		t.Errorf("%d Usage: lines, want 1:\n%s", n, r.Stdout)
	}

	documented := map[string]bool{"--help": true, "-h": true, "--version": true} // in the README's command block
	for _, table := range []string{"| flag | env | default | meaning |", "| flag | meaning |"} {
		for _, row := range readmeTable(t, table) {
			names := flagName.FindAllStringSubmatch(row[0], -1)
			if len(names) == 0 {
				t.Errorf("README row without a flag: %q", row)
				continue
			}
			for _, m := range names {
				name := m[2]
				documented[name] = true
				if neg, ok := strings.CutPrefix(name, "--no-"); ok {
					name = "--" + neg
				}
				line, ok := help[name]
				if !ok {
					t.Errorf("README flag %s is not in --help", name)
					continue
				}
				if len(row) < 4 {
					continue // seed's table: no variables, on purpose
				}
				for _, env := range envName.FindAllString(row[1], -1) {
					if !strings.Contains(line, env) {
						t.Errorf("--help for %s does not name %s: %q", name, env, line)
					}
				}
				if def := strings.Trim(row[2], "`"); def != row[2] && !strings.Contains(line, def) {
					t.Errorf("--help for %s does not show the default %s: %q", name, def, line)
				}
			}
		}
	}
	for name := range help {
		if !documented[name] && !documented["--no-"+strings.TrimPrefix(name, "--")] {
			t.Errorf("--help has %s, which the README's flag tables do not document", name)
		}
	}
}

// TestHelpWords: help, --help and -h print the same help and exit 0;
// --version prints what version prints; an image's own help command is
// reached with --.
func TestHelpWords(t *testing.T) {
	want := Run(t, Spec{Args: []string{"--help"}})
	for _, args := range [][]string{{"help"}, {"-h"}, {"run", "--help"}} {
		r := Run(t, Spec{Args: args})
		wantCode(t, r, 0)
		if r.Stdout != want.Stdout {
			t.Errorf("%q prints another help:\n%s", args, r.Stdout)
		}
	}
	r := Run(t, Spec{Args: []string{"help", "seed"}})
	wantCode(t, r, 0)
	wantLines(t, r.Stdout, "Usage: secret-init seed", "--execute")

	version := Run(t, Spec{Args: []string{"version"}})
	wantCode(t, version, 0)
	if r := Run(t, Spec{Args: []string{"--version"}}); r.Code != 0 || r.Stdout != version.Stdout || !strings.HasPrefix(r.Stdout, "secret-init ") {
		t.Errorf("--version: exit %d %q, want %q", r.Code, r.Stdout, version.Stdout)
	}

	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "help"), []byte("#!/bin/sh\necho the image help\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	r = Run(t, Spec{Args: []string{"--", "help"}, Env: []string{"PATH=" + dir + ":/usr/bin:/bin"}})
	wantCode(t, r, 0)
	if r.Stdout != "the image help\n" {
		t.Errorf("secret-init -- help printed %q, want the image's own help", r.Stdout)
	}
}

// TestInfisicalRequired: the seed project's switch turns --required on, on
// the fast path (no SECRET_INIT_* variable) and with kong alike; the flag
// and SECRET_INIT_REQUIRED win over it.
func TestInfisicalRequired(t *testing.T) {
	for _, c := range []struct {
		env  []string
		args []string
		code int
	}{
		{[]string{"INFISICAL_REQUIRED=true"}, nil, 125},
		{[]string{"INFISICAL_REQUIRED=1"}, nil, 125},
		{[]string{"INFISICAL_REQUIRED=YES"}, nil, 125},
		{[]string{"INFISICAL_REQUIRED=true", "SECRET_INIT_LOG_LEVEL=info"}, nil, 125}, // through kong
		{[]string{"INFISICAL_REQUIRED=false"}, nil, 0},
		{[]string{"INFISICAL_REQUIRED="}, nil, 0},
		{[]string{"INFISICAL_REQUIRED=on"}, nil, 0}, // the seed project reads only true, 1, yes
		{[]string{"INFISICAL_REQUIRED=true", "SECRET_INIT_REQUIRED=false"}, nil, 0},
		{[]string{"INFISICAL_REQUIRED=true"}, []string{"--required=false"}, 0},
		{[]string{"INFISICAL_REQUIRED=no", "SECRET_INIT_REQUIRED=true"}, nil, 125},
	} {
		// Without INFISICAL_ADDR: --required refuses the start, without it
		// the start is a passthrough.
		dir := t.TempDir()
		r := Run(t, Spec{Dir: dir, Env: cleanEnv(c.env...), Args: append(c.args, "--", "sh", "-c", "touch ran")})
		if r.Code != c.code || exists(filepath.Join(dir, "ran")) != (c.code == 0) {
			t.Errorf("%q %q: exit %d, ran %v; want %d\n%s", c.env, c.args, r.Code, exists(filepath.Join(dir, "ran")), c.code, r.Stderr)
		}
		if c.code == 125 && !strings.Contains(r.Stderr, "--required is set but INFISICAL_ADDR is not") {
			t.Errorf("%q: stderr does not say why:\n%s", c.env, r.Stderr)
		}
	}
}

// TestServiceSlug: --service is an Infisical folder name; anything else
// would build another path (../shared) and is a usage error.
func TestServiceSlug(t *testing.T) {
	f := newStore(t)
	for _, slug := range []string{"../shared", "a/b", "has space", "what?", "x\ny"} {
		for _, r := range []Result{
			f.start(nil, "--service", slug),
			f.start([]string{"SECRET_INIT_SERVICE=" + slug}),
			f.command(nil, "plan", "--service", slug),
			f.command(nil, "seed", "--service", slug),
		} {
			clearError(t, r, f.ran(), 125, "--service", "letters, digits, '-' and '_'")
			if n := strings.Count(strings.TrimSpace(r.Stderr), "\n"); n != 0 {
				t.Errorf("%q: %d lines on stderr, want one:\n%s", slug, n+1, r.Stderr)
			}
		}
	}
	if n := len(f.Server.Requests()); n != 0 {
		t.Errorf("%d requests with a bad slug, want none", n)
	}
	wantCode(t, f.start(nil, "--service", "omnibase-runtime_2"), 0)
}

// TestOutputNotWritten: when our own output cannot be written (stdout is
// /dev/full), plan, check, version and help exit 125 with one line.
func TestOutputNotWritten(t *testing.T) {
	f := newStore(t)
	full := []string{"sh", "-c", `exec "$0" "$@" >/dev/full`}
	for _, args := range [][]string{
		{"plan", "--contracts", f.Contracts},
		{"check", "--contracts", f.Contracts},
		{"check", "--contracts", f.Contracts, "-o", "json"},
		{"check", "--contracts", f.Contracts, "--required"}, // would fail: the write's failure is the line
		{"version"}, {"--version"}, {"--help"}, {"plan", "--help"},
	} {
		// check logs its prefetch line at info as it always does; the
		// failure is one line of its own.
		r := Run(t, Spec{Args: args, Wrap: full, Env: f.env("SECRET_INIT_LOG_FORMAT=json"), Dir: f.Dir})
		var failures []string
		for _, l := range strings.Split(strings.TrimSpace(r.Stderr), "\n") {
			if !strings.Contains(l, `"level":"info"`) {
				failures = append(failures, l)
			}
		}
		if r.Code != 125 || len(failures) != 1 || !strings.Contains(failures[0], "cannot write the output") {
			t.Errorf("%q > /dev/full: exit %d, stderr %q; want 125 and one line", args, r.Code, r.Stderr)
		}
		noStackTrace(t, r)
	}
	// With a stdout that takes the output, the same plan succeeds: the
	// failure above is the write's.
	wantCode(t, Run(t, Spec{Args: []string{"plan", "--contracts", f.Contracts}, Env: f.env(), Dir: f.Dir}), 0)
}
