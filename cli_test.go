package main

import (
	"fmt"
	"testing"

	"github.com/alecthomas/kong"
)

// parseWithKong parses args the slow way, as main does without the fast path.
func parseWithKong(t *testing.T, args []string) *CLI {
	t.Helper()
	var cli CLI
	p, err := kong.New(&cli, kong.Name("secret-init"))
	if err != nil {
		t.Fatal(err)
	}
	routed, explicitRun, err := routeArgs(p, args)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Parse(routed); err != nil {
		t.Fatalf("kong: %v", err)
	}
	if explicitRun && len(cli.Run.Command) > 0 && cli.Run.Command[0] == "--" {
		cli.Run.Command = cli.Run.Command[1:]
	}
	return &cli
}

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
		slow := parseWithKong(t, args)
		// %+v prints nil and empty slices alike, which is what matters here.
		f := fmt.Sprintf("%+v %+v", fast.Globals, fast.Run)
		if s := fmt.Sprintf("%+v %+v", slow.Globals, slow.Run); f != s {
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
