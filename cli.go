package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/alecthomas/kong"

	"secret-init/contracts"
)

// routeArgs makes "--" mean "what follows is the command". kong would
// otherwise read `secret-init -- version` as our version command, and an
// image with ENTRYPOINT ["secret-init", "--"] and CMD ["check"] must run
// the image's own `check`. When every word before "--" is one of our
// flags (or a flag's value), the run command is named explicitly; kong
// then keeps the "--" in the passthrough arguments, and the caller drops it.
func routeArgs(p *kong.Kong, args []string) (out []string, explicitRun bool, err error) {
	takesValue := map[string]bool{}
	for _, f := range p.Model.Node.AllFlags(true) {
		for _, fl := range f {
			v := !fl.IsBool() && !fl.IsCounter()
			takesValue["--"+fl.Name] = v
			if fl.Short != 0 {
				takesValue["-"+string(fl.Short)] = v
			}
		}
	}
	for _, c := range p.Model.Node.Children {
		for _, fl := range c.Flags {
			v := !fl.IsBool() && !fl.IsCounter()
			takesValue["--"+fl.Name] = v
			if fl.Short != 0 {
				takesValue["-"+string(fl.Short)] = v
			}
		}
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append([]string{"run"}, args...), true, nil
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			return args, false, nil // a command word, ours or the user's: kong decides
		}
		name, _, hasValue := strings.Cut(a, "=")
		v, known := takesValue[name]
		if !known {
			if neg, ok := strings.CutPrefix(name, "--no-"); ok {
				_, known = takesValue["--"+neg]
			}
		}
		if !known {
			// kong would take an unknown flag for the start of the
			// command and run a program named --requird.
			return nil, false, fmt.Errorf("unknown flag %s", contracts.Clip(name, 40))
		}
		if v && !hasValue {
			i++
		}
	}
	return args, false, nil
}

// splitEnvList gives list flags their comma-list variables. The flag
// itself is not split (sep:"none"): a folder may have a comma in its name,
// and --contracts "team a,b" means that one folder. A value that came
// from the environment variable is the documented comma list.
func splitEnvList(ctx *kong.Context, name string, vals []string) []string {
	for _, p := range ctx.Path {
		if p.Flag != nil && p.Flag.Name == name {
			return vals // given on the command line
		}
	}
	var out []string
	for _, v := range vals {
		for _, part := range strings.Split(v, ",") {
			if part = strings.TrimSpace(part); part != "" {
				out = append(out, part)
			}
		}
	}
	return out
}

// flagSet reports whether the user gave flag name on the command line or
// through its environment variable, not only its default (kong marks a
// defaulted flag as set, so its parse path is what tells).
func flagSet(ctx *kong.Context, name string) bool {
	for _, p := range ctx.Path {
		if p.Flag != nil && p.Flag.Name == name {
			return true
		}
	}
	for _, f := range ctx.Flags() {
		if f.Name != name {
			continue
		}
		for _, e := range f.Envs {
			if _, ok := lookupProcEnv(e); ok {
				return true
			}
		}
	}
	return false
}

func lookupProcEnv(k string) (string, bool) { return os.LookupEnv(k) }

// fastParse handles the command line of nearly every container start,
// ENTRYPOINT ["secret-init", "--"] with no SECRET_INIT_* variable: every
// setting is its default, so there is nothing for kong to parse. Building
// kong's model by reflection costs more than the rest of a passthrough
// start (page faults over type data, mostly); TestFastParseMatchesKong
// keeps these defaults equal to kong's.
func fastParse(args, environ []string) (*CLI, bool) {
	if len(args) < 2 || args[0] != "--" {
		return nil, false
	}
	for _, kv := range environ {
		if strings.HasPrefix(kv, "SECRET_INIT_") {
			return nil, false
		}
	}
	cli := &CLI{
		Globals: Globals{
			EnvFile:   ".env",
			LogLevel:  "info",
			LogFormat: "auto",
			Contracts: []string{"contracts"},
			Timeout:   10 * time.Second,
		},
		Run: RunCmd{Mode: "auto", Grace: 5 * time.Second, Command: args[1:]},
	}
	return cli, true
}
