package main

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"secret-init/launcher"
)

func TestFastParseMatchesKong(t *testing.T) {
	for _, args := range [][]string{
		{"--", "/bin/true"},
		{"--", "sh", "-c", "exit 3"},
		{"--", "-x", "--mode", "exec"},
		{"--", "--", "true"},
		{"--", "check"},
	} {
		fast, ok := fastParse(args, nil)
		if !ok {
			t.Fatalf("%q: fast path not taken", args)
		}
		slow, err := kongParse(args, nil)
		if err != nil {
			t.Fatalf("%q: kong: %v", args, err)
		}
		// %+v prints nil and empty slices alike, which is what matters here.
		f := fmt.Sprintf("%+v %+v %s", fast.Globals, fast.Run, fast.command)
		if s := fmt.Sprintf("%+v %+v %s", slow.Globals, slow.Run, slow.command); f != s {
			t.Errorf("%q:\nfast %s\nkong %s", args, f, s)
		}
	}
}

func TestFastParseDeclines(t *testing.T) {
	for _, tt := range []struct {
		args []string
		env  []string
	}{
		{[]string{"--"}, nil},
		{[]string{"/bin/true"}, nil},
		{[]string{"--mode", "exec", "--", "true"}, nil},
		{[]string{"plan"}, nil},
		{[]string{"--", "true"}, []string{"SECRET_INIT_MODE=exec"}},
		{[]string{"--", "true"}, []string{"PATH=/bin", "SECRET_INIT_REQUIRED=true"}},
	} {
		if _, ok := fastParse(tt.args, tt.env); ok {
			t.Errorf("fastParse(%q, %q) took the fast path", tt.args, tt.env)
		}
	}
}

// TestParseArgs: the routing of "--", the commands, flags told from
// defaults, and the comma lists of the variables.
func TestParseArgs(t *testing.T) {
	for _, tt := range []struct {
		name    string
		args    []string
		env     map[string]string
		command string
		argv    []string
		check   func(*CLI) string // "" when right
	}{
		{name: "our check", args: []string{"check"}, command: "check"},
		{name: "the image's check", args: []string{"--", "check"}, command: "run", argv: []string{"check"}},
		{name: "flags then --", args: []string{"--mode", "exec", "--", "version"}, command: "run", argv: []string{"version"},
			check: func(c *CLI) string { return want(c.Run.Mode, "exec") }},
		{name: "a command without --", args: []string{"/bin/true", "-x"}, command: "run", argv: []string{"/bin/true", "-x"}},
		{name: "--contracts keeps its comma", args: []string{"--contracts", "team a,b", "plan"}, command: "plan",
			check: func(c *CLI) string {
				return want(fmt.Sprint(c.Contracts, c.contractsSet, c.envFileSet), "[team a,b] true false")
			}},
		{name: "the variables are comma lists", args: []string{"plan"}, command: "plan",
			env: map[string]string{"SECRET_INIT_CONTRACTS": "a, b,,c", "SECRET_INIT_PATHS": "/x,/y", "SECRET_INIT_ENV_FILE": ".env"},
			check: func(c *CLI) string {
				return want(fmt.Sprint(c.Contracts, c.Path, c.contractsSet, c.envFileSet), "[a b c] [/x /y] true true")
			}},
		{name: "defaults are not set by the user", args: []string{"plan"}, command: "plan",
			check: func(c *CLI) string {
				return want(fmt.Sprint(c.Contracts, c.contractsSet, c.envFileSet), "[contracts] false false")
			}},
		{name: "rewrite parsed", args: []string{"--rewrite", "TERM:QUIT", "--", "true"}, command: "run", argv: []string{"true"},
			check: func(c *CLI) string { return want(fmt.Sprint(c.Run.rewrite), "map[terminated:quit]") }},
		{name: "a rewrite flag is a comma list", args: []string{"--rewrite", "TERM:QUIT,RTMIN+1:0", "--rewrite", "64:USR1", "--", "true"}, command: "run",
			check: func(c *CLI) string {
				return want(fmt.Sprint(c.Run.rewrite), "map[terminated:quit signal 35:signal 0 signal 64:user defined signal 1]")
			}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var environ []string
			for k, v := range tt.env {
				t.Setenv(k, v)
				environ = append(environ, k+"="+v)
			}
			c, err := parseArgs(tt.args, environ)
			if err != nil {
				t.Fatal(err)
			}
			if c.command != tt.command || (tt.argv != nil && !reflect.DeepEqual(c.Run.Command, tt.argv)) {
				t.Errorf("command %q %q, want %q %q", c.command, c.Run.Command, tt.command, tt.argv)
			}
			if tt.check != nil {
				if msg := tt.check(c); msg != "" {
					t.Error(msg)
				}
			}
		})
	}
}

func want(got, want string) string {
	if got != want {
		return fmt.Sprintf("got %s, want %s", got, want)
	}
	return ""
}

// TestParseArgsMistakes: every mistake is an error naming what is wrong,
// which main turns into exit 125 with the usage line.
func TestParseArgsMistakes(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{nil, "no command given"},
		{[]string{"--"}, "no command given"},
		{[]string{"run"}, "no command given"},
		{[]string{"--requird", "--", "true"}, "unknown flag --requird"},
		{[]string{"--timeout", "0s", "--", "true"}, "--timeout 0s"},
		{[]string{"--grace=-1s", "--", "true"}, "--grace -1s"},
		{[]string{"--rewrite", "KILL:TERM", "--", "true"}, "--rewrite"},
		{[]string{"--rewrite", "", "--", "true"}, `--rewrite: "": an empty rule`},
		{[]string{"--rewrite", "TERM:QUIT,", "--", "true"}, `--rewrite: "TERM:QUIT,": an empty rule`},
		{[]string{"--", ""}, "the command name is empty"},
		{[]string{"--mode", "exec", "--", "", "x"}, "the command name is empty"},
		{[]string{"--mode", "sideways", "--", "true"}, "sideways"},
		{[]string{"--" + strings.Repeat("x", 100), "--", "true"}, "unknown flag --xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…"},
	} {
		_, err := parseArgs(tt.args, nil)
		var e *launcher.ExitError
		if err == nil || errors.As(err, &e) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: %v, want a mistake saying %q", tt.args, err, tt.want)
		}
	}
}

// TestParseArgsHelp: kong's --help answers and would exit 0; parseArgs
// returns that exit instead of ending the process.
func TestParseArgsHelp(t *testing.T) {
	_, err := parseArgs([]string{"--help"}, nil)
	var e *launcher.ExitError
	if !errors.As(err, &e) || e.Code != launcher.ExitOK {
		t.Fatalf("--help: %v, want an exit 0", err)
	}
}
