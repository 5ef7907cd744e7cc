package e2e

// The no-leak test: every mode and failure path secret-init has, at every
// verbose log setting, with a canary in every place a value can come from;
// none may reach secret-init's stdout or stderr (Run checks each run).

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"secret-init/infisical/infisicaltest"
)

// leakDotenv logs in as leaky, and holds a plain and a quoted value.
const leakDotenv = "INFISICAL_CLIENT_ID=leaky\nINFISICAL_CLIENT_SECRET=" + canaryClient +
	"\nINFISICAL_PROJECT_ID=" + infisicaltest.DefaultProject +
	"\nSLACK_CHANNEL_ID=" + canaryDotenv + "\nPOSTGRES_POOL_MIN=\"" + canaryQuoted + "\"\n"

// leakSeed is node_store's seed with a canary in the fetched folder, the
// identity and token of the scenarios, and a --path folder.
func leakSeed() infisicaltest.Seed {
	s := storeSeed()
	s.Identities = append(s.Identities, infisicaltest.SeedIdentity{ClientID: "leaky", ClientSecret: canaryClient})
	s.Tokens = []string{canaryToken}
	folders := s.Environments["dev"].Folders
	folders["/shared/db"]["POSTGRES_DSN"] = canaryInfis
	folders["/extra"] = map[string]string{"EXTRA_TOKEN": canaryPath}
	return s
}

// leakScenario is one run: what to change on a fresh fixture, the
// environment to add, and secret-init's arguments (before any command).
type leakScenario struct {
	name    string
	prepare func(t *testing.T, f *fixture) (env, args []string)
	command bool // a run: append `-- true`
}

func TestLeakNoCanaryInOutput(t *testing.T) {
	tokenEnv := []string{"INFISICAL_AUTH_METHOD=token", "INFISICAL_TOKEN=" + canaryToken}
	none := func(t *testing.T, f *fixture) ([]string, []string) { return nil, nil }
	scenarios := []leakScenario{
		{"passthrough", func(t *testing.T, f *fixture) ([]string, []string) {
			return []string{"INFISICAL_ADDR="}, nil
		}, true},
		{"prefetch success", none, true},
		{"prefetch with an access token", func(t *testing.T, f *fixture) ([]string, []string) {
			return tokenEnv, nil
		}, true},
		{"prefetch with --path", func(t *testing.T, f *fixture) ([]string, []string) {
			return nil, []string{"--path", "/extra"}
		}, true},
		{"missing key warns", func(t *testing.T, f *fixture) ([]string, []string) {
			f.Server.SetSecret("dev", "/shared/db", "POSTGRES_POOL_MAX", "")
			return nil, nil
		}, true},
		{"--required with a missing key", func(t *testing.T, f *fixture) ([]string, []string) {
			f.Server.SetSecret("dev", "/shared/db", "POSTGRES_POOL_MAX", "")
			return nil, []string{"--required"}
		}, true},
		{"--required with a dead server", func(t *testing.T, f *fixture) ([]string, []string) {
			return []string{"INFISICAL_ADDR=" + closedPort(t)}, []string{"--required", "--timeout", "500ms"}
		}, true},
		{"dead server warns", func(t *testing.T, f *fixture) ([]string, []string) {
			return []string{"INFISICAL_ADDR=" + closedPort(t)}, []string{"--timeout", "500ms"}
		}, true},
		{"login refused (wrong secret)", func(t *testing.T, f *fixture) ([]string, []string) {
			return []string{"INFISICAL_CLIENT_SECRET=wrong-" + canaryClient}, []string{"--required"}
		}, true},
		{"token refused", func(t *testing.T, f *fixture) ([]string, []string) {
			return []string{"INFISICAL_AUTH_METHOD=token", "INFISICAL_TOKEN=wrong-" + canaryToken}, []string{"--required"}
		}, true},
		{"folder denied (403)", func(t *testing.T, f *fixture) ([]string, []string) {
			f.Server.AddUniversalIdentity("denied", canaryClient, infisicaltest.DenyFolder("dev", "/shared/db"))
			return []string{"INFISICAL_CLIENT_ID=denied"}, []string{"--required"}
		}, true},
		// A server (or a proxy) that echoes a credential it was sent: the
		// client scrubs what it sent. (A credential it never sent cannot be
		// echoed, so each variant echoes only its own.)
		{"error message echoing the access token", func(t *testing.T, f *fixture) ([]string, []string) {
			for range 2 {
				f.Server.RawAnswer(infisicaltest.RawAnswer{Status: 403, ContentType: "application/json",
					Body: []byte(`{"reqId":"req-x","statusCode":403,"error":"PermissionDenied","message":"token ` + canaryToken + ` is not allowed"}`)})
			}
			return tokenEnv, []string{"--required"}
		}, true},
		{"error message echoing the client secret", func(t *testing.T, f *fixture) ([]string, []string) {
			for range 2 {
				f.Server.RawAnswer(infisicaltest.RawAnswer{Status: 400, ContentType: "application/json",
					Body: []byte(`{"reqId":"req-x","statusCode":400,"error":"BadRequest","message":[{"path":["clientSecret"],"message":"bad ` + canaryClient + `","received":"` + canaryClient + `"}]}`)})
			}
			return nil, []string{"--required"}
		}, true},
		{"malformed JSON answer", func(t *testing.T, f *fixture) ([]string, []string) {
			for range 2 {
				f.Server.RawAnswer(infisicaltest.RawAnswer{ContentType: "application/json", Body: []byte(`{"secrets":[{"secretKey":"POSTGRES_DSN","secretValue":"` + canaryAnswer)})
			}
			return nil, []string{"--required"}
		}, true},
		{"wrong shape answer", func(t *testing.T, f *fixture) ([]string, []string) {
			for range 2 {
				f.Server.RawAnswer(infisicaltest.RawAnswer{ContentType: "application/json", Body: []byte(`{"secrets":[{"secretKey":["` + canaryAnswer + `"]}],"imports":[]}`)})
			}
			return nil, []string{"--required"}
		}, true},
		{"200 HTML answer", func(t *testing.T, f *fixture) ([]string, []string) {
			for range 2 {
				f.Server.RawAnswer(infisicaltest.RawAnswer{ContentType: "text/html", Body: []byte("<p>" + canaryAnswer + "</p>")})
			}
			return nil, []string{"--required"}
		}, true},
		{"answer over the cap", func(t *testing.T, f *fixture) ([]string, []string) {
			body := []byte(`{"secrets":[{"secretKey":"A","secretValue":"` + strings.Repeat(canaryAnswer, (33<<20)/len(canaryAnswer)) + `"}],"imports":[]}`)
			for range 2 {
				f.Server.RawAnswer(infisicaltest.RawAnswer{ContentType: "application/json", Body: body})
			}
			return nil, []string{"--required"}
		}, true},
		{"503 throughout", func(t *testing.T, f *fixture) ([]string, []string) {
			f.Server.FailNext(1<<20, 503)
			return nil, []string{"--required", "--timeout", "500ms"}
		}, true},
		{"reset mid-answer throughout", func(t *testing.T, f *fixture) ([]string, []string) {
			f.Server.ResetMidAnswer(1 << 20)
			return nil, []string{"--required", "--timeout", "500ms"}
		}, true},
		{"NUL byte in a value", func(t *testing.T, f *fixture) ([]string, []string) {
			f.Server.SetSecret("dev", "/shared/db", "POSTGRES_TIMEOUT_MS", canaryInfis+"\x00"+canaryInfis)
			return nil, nil
		}, true},
		{"invalid key in a --path folder", func(t *testing.T, f *fixture) ([]string, []string) {
			f.Server.SetSecret("dev", "/extra", "BAD-KEY", canaryPath)
			return nil, []string{"--path", "/extra"}
		}, true},
		{"untrusted TLS certificate", func(t *testing.T, f *fixture) ([]string, []string) {
			s := infisicaltest.NewTLSServer()
			t.Cleanup(s.Close)
			return []string{"INFISICAL_ADDR=" + s.URL}, []string{"--required"}
		}, true},
		{"bad .env line", func(t *testing.T, f *fixture) ([]string, []string) {
			f.write(".env", leakDotenv+"BROKEN=\""+canaryBadInput+"\n")
			return nil, nil
		}, true},
		{"broken contract warns", func(t *testing.T, f *fixture) ([]string, []string) {
			os.MkdirAll(filepath.Join(f.Contracts, "broken"), 0o755)
			f.write("contracts/broken/contract.yaml", "metadata: [\n")
			return nil, nil
		}, true},
		{"broken contract with --required", func(t *testing.T, f *fixture) ([]string, []string) {
			os.MkdirAll(filepath.Join(f.Contracts, "broken"), 0o755)
			f.write("contracts/broken/contract.yaml", "metadata: [\n")
			return nil, []string{"--required"}
		}, true},
		{"usage error", func(t *testing.T, f *fixture) ([]string, []string) {
			return nil, []string{"--mode", "bogus"}
		}, true},
		{"command not found", func(t *testing.T, f *fixture) ([]string, []string) {
			return nil, []string{"--", "no-such-command-here"}
		}, false},
		{"supervise mode", func(t *testing.T, f *fixture) ([]string, []string) {
			return nil, []string{"--mode", "supervise"}
		}, true},
		{"check", func(t *testing.T, f *fixture) ([]string, []string) { return nil, []string{"check"} }, false},
		{"check -o json", func(t *testing.T, f *fixture) ([]string, []string) { return nil, []string{"check", "-o", "json"} }, false},
		{"check failing", func(t *testing.T, f *fixture) ([]string, []string) {
			return []string{"INFISICAL_ADDR=" + closedPort(t)}, []string{"check", "--required", "--timeout", "500ms"}
		}, false},
		{"check in passthrough", func(t *testing.T, f *fixture) ([]string, []string) {
			return []string{"INFISICAL_ADDR="}, []string{"check", "-o", "json"}
		}, false},
		{"plan", func(t *testing.T, f *fixture) ([]string, []string) { return nil, []string{"plan"} }, false},
		{"plan -o json", func(t *testing.T, f *fixture) ([]string, []string) { return nil, []string{"plan", "-o", "json"} }, false},
		{"seed dry run", func(t *testing.T, f *fixture) ([]string, []string) { return nil, []string{"seed"} }, false},
		{"seed dry run --set-values", func(t *testing.T, f *fixture) ([]string, []string) {
			f.Server.SetSecret("dev", "/shared/db", "POSTGRES_POOL_MAX", "")
			return nil, []string{"seed", "--set-values", "--overwrite-existing"}
		}, false},
		{"seed dry run --import-env", func(t *testing.T, f *fixture) ([]string, []string) {
			f.write("import.env", "POSTGRES_POOL_MAX="+canaryImport+"\nPOSTGRES_DSN="+canaryImport+"\n")
			return nil, []string{"seed", "--set-values", "--import-env", filepath.Join(f.Dir, "import.env")}
		}, false},
	}

	// Every scenario must end the way its path does, or it proved nothing.
	fails := map[string]int{"command not found": 127, "check failing": 1}
	for _, n := range []string{"--required with a missing key", "--required with a dead server",
		"login refused (wrong secret)", "token refused", "folder denied (403)",
		"error message echoing the access token", "error message echoing the client secret",
		"malformed JSON answer", "wrong shape answer", "200 HTML answer", "answer over the cap",
		"503 throughout", "reset mid-answer throughout", "NUL byte in a value",
		"invalid key in a --path folder", "untrusted TLS certificate", "bad .env line",
		"broken contract with --required", "usage error"} {
		fails[n] = 125
	}

	logs := [][]string{
		{"--log-level", "trace", "--log-format", "json"},
		{"--log-level", "trace", "--log-format", "console"},
		{"--log-level", "debug", "--log-format", "json"},
		{"--log-level", "debug", "--log-format", "console"},
	}
	codes := map[string]map[int]bool{}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			codes[sc.name] = map[int]bool{}
			for _, lg := range logs {
				// A fixture of its own for each run: what prepare queues
				// on the server (raw answers) is for this run alone.
				f := newFixture(t, leakSeed(), map[string]string{
					"contracts/node_store/contract.yaml": storeContract,
					".env":                               leakDotenv,
				}, false)
				env, args := sc.prepare(t, f)
				env = slices.Concat([]string{
					"STRIPE_API_KEY=" + canaryDeclared, // declared, in the environment: not fetched
					"MY_OWN_SECRET=" + canaryProcEnv,   // undeclared process env
				}, env)
				// Global flags go before the subcommand's own words.
				argv := slices.Concat(lg, []string{"--contracts", f.Contracts}, args)
				if sc.command {
					argv = append(argv, "--", "true")
				}
				// Run fails the test for any canary in the output.
				r := Run(t, Spec{Args: argv, Env: f.env(env...), Dir: f.Dir})
				if r.Code != fails[sc.name] {
					t.Errorf("%s %v: exit %d, want %d: this scenario did not take its path\n%s", sc.name, lg, r.Code, fails[sc.name], r.Stderr)
				}
				noStackTrace(t, r)
				codes[sc.name][r.Code] = true
				if r.Stdout == "" && r.Stderr == "" && !sc.command {
					t.Errorf("%s %v: no output at all; the test would prove nothing", sc.name, lg)
				}
			}
			t.Logf("exit codes: %v", codes[sc.name])
		})
	}
	// The scenarios must really have taken different paths: successes,
	// start failures, usage errors, a missing command.
	seen := map[int]bool{}
	for _, c := range codes {
		for code := range c {
			seen[code] = true
		}
	}
	for _, want := range []int{0, 1, 125, 127} {
		if !seen[want] {
			t.Errorf("no scenario ended with exit %d; the paths were not all taken: %v", want, fmt.Sprint(codes))
		}
	}
}
