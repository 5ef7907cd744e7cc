package main

// The no-leak test (issue 5): every mode and failure path secret-init has,
// at every verbose log setting, with a unique canary in every place a
// value can come from; none may reach secret-init's stdout or stderr.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"secret-init/infisical/infisicaltest"
)

// One canary per source of values. Each says where it came from, so that
// a failure names the leaking source at once.
const (
	leakDotenv       = "LEAKCANARY-dotenv-value-41c7"
	leakDotenvQuoted = "LEAKCANARY-dotenv-quoted-9d02"
	leakClientSecret = "LEAKCANARY-client-secret-e5b3"
	leakToken        = "LEAKCANARY-access-token-07fa"
	leakInfisical    = "LEAKCANARY-infisical-value-c21d"
	leakUndeclared   = "LEAKCANARY-infisical-undeclared-6b88"
	leakPathFolder   = "LEAKCANARY-infisical-path-folder-3a9e"
	leakProcEnv      = "LEAKCANARY-process-env-value-58d1"
	leakProcDeclared = "LEAKCANARY-process-env-declared-b410"
	leakImport       = "LEAKCANARY-import-env-file-2f6c"
	leakBadLine      = "LEAKCANARY-bad-dotenv-line-8e35"
	leakAnswer       = "LEAKCANARY-raw-answer-body-d7a0"
)

var leakCanaries = []string{
	leakDotenv, leakDotenvQuoted, leakClientSecret, leakToken, leakInfisical, leakUndeclared,
	leakPathFolder, leakProcEnv, leakProcDeclared, leakImport, leakBadLine, leakAnswer,
	"LEAKCANARY", // any part of one
}

// leakScenario is one run: what to change on a fresh fixture, the
// environment to add, and secret-init's arguments (before any command).
type leakScenario struct {
	name    string
	prepare func(t *testing.T, f *fixture) (env, args []string)
	command bool // a run: append `-- true`
}

func TestLeakNoCanaryInOutput(t *testing.T) {
	tokenEnv := []string{"INFISICAL_AUTH_METHOD=token", "INFISICAL_TOKEN=" + leakToken}
	writeDotenv := func(f *fixture, extra string) {
		f.write(".env", "INFISICAL_CLIENT_ID=leaky\nINFISICAL_CLIENT_SECRET="+leakClientSecret+
			"\nINFISICAL_PROJECT_ID="+infisicaltest.DefaultProject+
			"\nSLACK_CHANNEL_ID="+leakDotenv+"\nPOSTGRES_POOL_MIN=\""+leakDotenvQuoted+"\"\n"+extra)
	}
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
			f.srv.SetSecret("dev", "/shared/db", "POSTGRES_POOL_MAX", "")
			return nil, nil
		}, true},
		{"--required with a missing key", func(t *testing.T, f *fixture) ([]string, []string) {
			f.srv.SetSecret("dev", "/shared/db", "POSTGRES_POOL_MAX", "")
			return nil, []string{"--required"}
		}, true},
		{"--required with a dead server", func(t *testing.T, f *fixture) ([]string, []string) {
			return []string{"INFISICAL_ADDR=" + closedPort(t)}, []string{"--required", "--timeout", "500ms"}
		}, true},
		{"dead server warns", func(t *testing.T, f *fixture) ([]string, []string) {
			return []string{"INFISICAL_ADDR=" + closedPort(t)}, []string{"--timeout", "500ms"}
		}, true},
		{"login refused (wrong secret)", func(t *testing.T, f *fixture) ([]string, []string) {
			return []string{"INFISICAL_CLIENT_SECRET=wrong-" + leakClientSecret}, []string{"--required"}
		}, true},
		{"token refused", func(t *testing.T, f *fixture) ([]string, []string) {
			return []string{"INFISICAL_AUTH_METHOD=token", "INFISICAL_TOKEN=wrong-" + leakToken}, []string{"--required"}
		}, true},
		{"folder denied (403)", func(t *testing.T, f *fixture) ([]string, []string) {
			f.srv.AddUniversalIdentity("denied", leakClientSecret, infisicaltest.DenyFolder("dev", "/shared/db"))
			return []string{"INFISICAL_CLIENT_ID=denied"}, []string{"--required"}
		}, true},
		// A server (or a proxy) that echoes a credential it was sent: the
		// client scrubs what it sent. (A credential it never sent cannot be
		// echoed, so each variant echoes only its own.)
		{"error message echoing the access token", func(t *testing.T, f *fixture) ([]string, []string) {
			for range 2 {
				f.srv.RawAnswer(infisicaltest.RawAnswer{Status: 403, ContentType: "application/json",
					Body: []byte(`{"reqId":"req-x","statusCode":403,"error":"PermissionDenied","message":"token ` + leakToken + ` is not allowed"}`)})
			}
			return tokenEnv, []string{"--required"}
		}, true},
		{"error message echoing the client secret", func(t *testing.T, f *fixture) ([]string, []string) {
			for range 2 {
				f.srv.RawAnswer(infisicaltest.RawAnswer{Status: 400, ContentType: "application/json",
					Body: []byte(`{"reqId":"req-x","statusCode":400,"error":"BadRequest","message":[{"path":["clientSecret"],"message":"bad ` + leakClientSecret + `","received":"` + leakClientSecret + `"}]}`)})
			}
			return nil, []string{"--required"}
		}, true},
		{"malformed JSON answer", func(t *testing.T, f *fixture) ([]string, []string) {
			for range 2 {
				f.srv.RawAnswer(infisicaltest.RawAnswer{ContentType: "application/json", Body: []byte(`{"secrets":[{"secretKey":"POSTGRES_DSN","secretValue":"` + leakAnswer)})
			}
			return nil, []string{"--required"}
		}, true},
		{"wrong shape answer", func(t *testing.T, f *fixture) ([]string, []string) {
			for range 2 {
				f.srv.RawAnswer(infisicaltest.RawAnswer{ContentType: "application/json", Body: []byte(`{"secrets":[{"secretKey":["` + leakAnswer + `"]}],"imports":[]}`)})
			}
			return nil, []string{"--required"}
		}, true},
		{"200 HTML answer", func(t *testing.T, f *fixture) ([]string, []string) {
			for range 2 {
				f.srv.RawAnswer(infisicaltest.RawAnswer{ContentType: "text/html", Body: []byte("<p>" + leakAnswer + "</p>")})
			}
			return nil, []string{"--required"}
		}, true},
		{"answer over the cap", func(t *testing.T, f *fixture) ([]string, []string) {
			body := []byte(`{"secrets":[{"secretKey":"A","secretValue":"` + strings.Repeat(leakAnswer, (33<<20)/len(leakAnswer)) + `"}],"imports":[]}`)
			for range 2 {
				f.srv.RawAnswer(infisicaltest.RawAnswer{ContentType: "application/json", Body: body})
			}
			return nil, []string{"--required"}
		}, true},
		{"503 throughout", func(t *testing.T, f *fixture) ([]string, []string) {
			f.srv.FailNext(1<<20, 503)
			return nil, []string{"--required", "--timeout", "500ms"}
		}, true},
		{"reset mid-answer throughout", func(t *testing.T, f *fixture) ([]string, []string) {
			f.srv.ResetMidAnswer(1 << 20)
			return nil, []string{"--required", "--timeout", "500ms"}
		}, true},
		{"NUL byte in a value", func(t *testing.T, f *fixture) ([]string, []string) {
			f.srv.SetSecret("dev", "/shared/db", "POSTGRES_TIMEOUT_MS", leakInfisical+"\x00"+leakInfisical)
			return nil, nil
		}, true},
		{"invalid key in a --path folder", func(t *testing.T, f *fixture) ([]string, []string) {
			f.srv.SetSecret("dev", "/extra", "BAD-KEY", leakPathFolder)
			return nil, []string{"--path", "/extra"}
		}, true},
		{"untrusted TLS certificate", func(t *testing.T, f *fixture) ([]string, []string) {
			s := infisicaltest.NewTLSServer()
			t.Cleanup(s.Close)
			return []string{"INFISICAL_ADDR=" + s.URL}, []string{"--required"}
		}, true},
		{"bad .env line", func(t *testing.T, f *fixture) ([]string, []string) {
			writeDotenv(f, "BROKEN=\""+leakBadLine+"\n")
			return nil, nil
		}, true},
		{"broken contract warns", func(t *testing.T, f *fixture) ([]string, []string) {
			os.MkdirAll(filepath.Join(f.contracts, "broken"), 0o755)
			f.write("contracts/broken/contract.yaml", "metadata: [\n")
			return nil, nil
		}, true},
		{"broken contract with --required", func(t *testing.T, f *fixture) ([]string, []string) {
			os.MkdirAll(filepath.Join(f.contracts, "broken"), 0o755)
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
			f.srv.SetSecret("dev", "/shared/db", "POSTGRES_POOL_MAX", "")
			return nil, []string{"seed", "--set-values", "--overwrite-existing"}
		}, false},
		{"seed dry run --import-env", func(t *testing.T, f *fixture) ([]string, []string) {
			f.write("import.env", "POSTGRES_POOL_MAX="+leakImport+"\nPOSTGRES_DSN="+leakImport+"\n")
			return nil, []string{"seed", "--set-values", "--import-env", filepath.Join(f.dir, "import.env")}
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
			f := newFixture(t)
			writeDotenv(f, "")
			f.srv.AddUniversalIdentity("leaky", leakClientSecret)
			f.srv.AddToken(leakToken)
			f.srv.SetSecret("dev", "/shared/db", "POSTGRES_DSN", leakInfisical)
			f.srv.SetSecret("dev", "/shared/db", "UNDECLARED_ADMIN_PASSWORD", leakUndeclared)
			f.srv.SetSecret("dev", "/extra", "EXTRA_TOKEN", leakPathFolder)
			env, args := sc.prepare(t, f)
			for _, lg := range logs {
				argv := []string{}
				// Global flags go before the subcommand's own words.
				argv = append(argv, lg...)
				argv = append(argv, "--contracts", f.contracts)
				argv = append(argv, args...)
				if sc.command {
					argv = append(argv, "--", "true")
				}
				cmd := exec.Command(bin, argv...)
				cmd.Dir = f.dir
				cmd.Env = cleanEnv(append([]string{
					"INFISICAL_ADDR=" + f.srv.URL,
					"STRIPE_API_KEY=" + leakProcDeclared, // declared, in the environment: not fetched
					"MY_OWN_SECRET=" + leakProcEnv,       // undeclared process env
				}, env...)...)
				r := runCmd(t, 30*time.Second, cmd)
				if r.Code != fails[sc.name] {
					t.Errorf("%s %v: exit %d, want %d: this scenario did not take its path\n%s", sc.name, lg, r.Code, fails[sc.name], r.Stderr)
				}
				for _, c := range leakCanaries {
					for stream, out := range map[string]string{"stdout": r.Stdout, "stderr": r.Stderr} {
						if strings.Contains(out, c) {
							t.Errorf("%s %v: canary %s leaked into %s (exit %d):\n%s", sc.name, lg, c, stream, r.Code, out)
						}
					}
				}
				noStackTrace(t, r)
				if codes[sc.name] == nil {
					codes[sc.name] = map[int]bool{}
				}
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
