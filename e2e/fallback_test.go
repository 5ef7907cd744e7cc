package e2e

// Starting through an Infisical outage: the fallback file (--fallback-file)
// and the status file (--status-file), through the real binary. The
// outage is the test server stopped; every other failure is one of its
// real answers.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"secret-init/infisical/infisicaltest"
	"secret-init/resolve"
)

// fallbackKey is a SECRET_INIT_FALLBACK_KEY: a credential like any other,
// so a canary too.
const fallbackKey = "CANARY-fallback-key-3c5d-0123456789"

// outage is node_store's fixture with a fallback file and a status file
// in its folder.
type outage struct {
	*fixture
	file, status string
}

func newOutage(t *testing.T) *outage {
	t.Helper()
	f := newStore(t)
	return &outage{fixture: f, file: filepath.Join(f.Dir, "state", "fallback.enc"), status: filepath.Join(f.Dir, "state", "status.json")}
}

// args are a start's flags for both files, then extra.
func (o *outage) args(extra ...string) []string {
	os.MkdirAll(filepath.Dir(o.file), 0o755)
	return append([]string{"--fallback-file", o.file, "--status-file", o.status}, extra...)
}

// live is a start with Infisical up, which writes the fallback file.
func (o *outage) live(env []string, extra ...string) {
	o.t.Helper()
	r := o.start(append([]string{"SLACK_CHANNEL_ID=x"}, env...), o.args(append([]string{"--required"}, extra...)...)...)
	wantCode(o.t, r, 0)
	if _, err := os.Stat(o.file); err != nil {
		o.t.Fatalf("a complete fetch did not write the fallback file: %v\nstderr: %s", err, r.Stderr)
	}
	if st := readStatusFile(o.t, o.status); st.Fallback.InUse || st.LastSuccessAt == nil {
		o.t.Errorf("after a live start: fallback.in_use %v, last_success_at %v", st.Fallback.InUse, st.LastSuccessAt)
	}
}

// down stops Infisical: its port refuses every connection from now on.
func (o *outage) down() { o.Server.Close() }

// during is a start while Infisical is down (a short --timeout: the
// retries of a refused connection last until it).
func (o *outage) during(env []string, extra ...string) Result {
	o.t.Helper()
	return o.start(env, o.args(append([]string{"--timeout", "1s"}, extra...)...)...)
}

// readStatusFile decodes the status file, failing the test unless it is
// one valid JSON document of the documented shape without any value.
func readStatusFile(t *testing.T, path string) resolve.StatusDoc {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("status file: %v", err)
	}
	st, err := decodeStatus(data)
	if err != nil {
		t.Fatalf("status file is not the documented JSON: %v\n%s", err, data)
	}
	if bytes.Contains(data, []byte("CANARY")) {
		t.Errorf("the status file holds a value:\n%s", data)
	}
	return st
}

func decodeStatus(data []byte) (resolve.StatusDoc, error) {
	var st resolve.StatusDoc
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		return st, err
	}
	if st.Schema != 1 || st.Keys == nil || dec.More() {
		return st, errInvalidStatus
	}
	return st, nil
}

var errInvalidStatus = errors.New("not one status document of schema 1")

// statusKey finds key in the status file's keys.
func statusKey(t *testing.T, st resolve.StatusDoc, key string) resolve.StatusKey {
	t.Helper()
	for _, k := range st.Keys {
		if k.Key == key {
			return k
		}
	}
	t.Fatalf("status file has no key %s: %+v", key, st.Keys)
	return resolve.StatusKey{}
}

// noCanaryIn fails for any canary, whole or in part, in the file at path.
func noCanaryIn(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(bytes.ToUpper(data), []byte("CANARY")) {
		t.Errorf("%s holds a secret value in the clear", path)
	}
}

// warnings are the lines of a JSON log that warn and contain what.
func warnings(stderr, what string) int {
	n := 0
	for _, l := range strings.Split(stderr, "\n") {
		if strings.Contains(l, `"level":"warn"`) && strings.Contains(l, what) {
			n++
		}
	}
	return n
}

// TestFallbackOutageAtStart: Infisical stopped, a fresh file: the command
// gets the last values and SECRET_INIT_FALLBACK_AGE, the environment still
// wins and .env still comes last; --required counts the start as complete.
func TestFallbackOutageAtStart(t *testing.T) {
	o := newOutage(t)
	// An inherited SECRET_INIT_FALLBACK_AGE never reaches a live start's command.
	o.live([]string{"SECRET_INIT_FALLBACK_AGE=999"})
	wantEnv(t, o.childEnv(), map[string]string{"POSTGRES_DSN": canaryDSN, resolve.AgeVar: "<unset>"})
	if fi, _ := os.Stat(o.file); fi.Mode().Perm() != 0o600 {
		t.Errorf("fallback file mode %v, want 0600", fi.Mode().Perm())
	}
	noCanaryIn(t, o.file)

	o.down()
	for _, c := range []struct {
		name string
		env  []string
		args []string
	}{
		{"warning only", []string{"POSTGRES_POOL_MAX=from-env"}, nil},
		{"--required", []string{"POSTGRES_POOL_MAX=from-env", "SLACK_CHANNEL_ID=x"}, []string{"--required"}},
		{"as PID 1", []string{"POSTGRES_POOL_MAX=from-env"}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := o.spec(c.env, o.args(append([]string{"--timeout", "1s"}, c.args...)...)...)
			s.PID1 = c.name == "as PID 1"
			r := o.run(s)
			wantCode(t, r, 0)
			child := o.childEnv()
			wantEnv(t, child, map[string]string{
				"POSTGRES_DSN": canaryDSN, "STRIPE_API_KEY": canaryStripe,
				"POSTGRES_POOL_MAX": "from-env", // the environment wins over the file
				"POSTGRES_POOL_MIN": "2",        // the file wins over .env
			})
			age, err := strconv.Atoi(child[resolve.AgeVar])
			if err != nil || age < 0 {
				t.Errorf("%s = %q, want whole seconds", resolve.AgeVar, child[resolve.AgeVar])
			}
			if n := warnings(r.Stderr, "starting with the values of the fallback file "+o.file); n != 1 {
				t.Errorf("%d warnings naming the fallback file, want 1:\n%s", n, r.Stderr)
			}
			if !strings.Contains(r.Stderr, " ago") || !strings.Contains(r.Stderr, `"age_seconds":`) {
				t.Errorf("the warning does not name the file's age:\n%s", r.Stderr)
			}
			st := readStatusFile(t, o.status)
			if !st.Fallback.InUse || st.Fallback.AgeSeconds == nil || *st.Fallback.AgeSeconds < 0 {
				t.Errorf("status fallback %+v, want in_use with age_seconds", st.Fallback)
			}
			if st.LastError == nil || !strings.Contains(*st.LastError, "connection refused") {
				t.Errorf("status last_error %v, want the refused connection", st.LastError)
			}
			if k := statusKey(t, st, "POSTGRES_DSN"); k.Origin != resolve.OriginFallback || k.Folder != "/shared/db" || k.Version != 1 {
				t.Errorf("POSTGRES_DSN in the status file: %+v", k)
			}
			if k := statusKey(t, st, "POSTGRES_POOL_MAX"); k.Origin != resolve.OriginEnv {
				t.Errorf("POSTGRES_POOL_MAX in the status file: %+v", k)
			}
		})
	}
}

// TestFallbackTooOld: a file older than --fallback-max-age is not used:
// a warning naming its age and the start goes on with the environment and
// .env, or 125 with --required.
func TestFallbackTooOld(t *testing.T) {
	o := newOutage(t)
	o.live(nil)
	o.down()
	time.Sleep(1100 * time.Millisecond) // the file only gets older: past a maximum age of 1s
	r := o.during([]string{"STRIPE_API_KEY=from-env"}, "--fallback-max-age", "1s")
	wantCode(t, r, 0)
	wantEnv(t, o.childEnv(), map[string]string{"POSTGRES_DSN": "<unset>", "POSTGRES_POOL_MIN": "from-dotenv", resolve.AgeVar: "<unset>"})
	if warnings(r.Stderr, "longer than --fallback-max-age 1s: not used") != 1 {
		t.Errorf("no one warning that the file is too old:\n%s", r.Stderr)
	}
	st := readStatusFile(t, o.status)
	if st.Fallback.InUse || !strings.Contains(st.Fallback.Problem, "--fallback-max-age") {
		t.Errorf("status fallback %+v", st.Fallback)
	}
	r = o.during([]string{"STRIPE_API_KEY=from-env", "SLACK_CHANNEL_ID=x"}, "--fallback-max-age", "1s", "--required")
	clearError(t, r, o.ran(), 125, "connection refused")
	readStatusFile(t, o.status)

	// SECRET_INIT_FALLBACK_MAX_AGE is the same setting.
	r = o.during([]string{"STRIPE_API_KEY=from-env", "SLACK_CHANNEL_ID=x", "SECRET_INIT_FALLBACK_MAX_AGE=1s"}, "--required")
	clearError(t, r, o.ran(), 125, "connection refused")
}

// TestFallbackNotUsedWhenInfisicalRefuses: a 401, a locked identity, a
// 403 on every folder, an expired token: Infisical answered, and a fresh,
// matching file is not used. The same file is used when Infisical cannot
// answer: 503 or 429 until --timeout, a 500, and the server stopped.
func TestFallbackNotUsedWhenInfisicalRefuses(t *testing.T) {
	o := newOutage(t)
	// One key for every run: only Infisical's answer changes.
	key := []string{"SECRET_INIT_FALLBACK_KEY=" + fallbackKey}
	o.live(key)
	o.Server.AddUniversalIdentity("denied", canaryClient, infisicaltest.DenyFolder("dev", "/shared"))
	o.Server.AddToken(canaryToken)
	o.Server.ExpireToken(canaryToken)
	cases := []struct {
		name    string
		prepare func()
		env     []string
		want    string
	}{
		{"401 wrong secret", func() {}, []string{"INFISICAL_CLIENT_SECRET=wrong-" + canaryClient}, "401"},
		{"403 every folder", func() {}, []string{"INFISICAL_CLIENT_ID=denied"}, "403"},
		{"403 expired token", func() {}, []string{"INFISICAL_AUTH_METHOD=token", "INFISICAL_TOKEN=" + canaryToken}, "the access token has expired"},
		{"401 locked identity", func() {
			o.Server.SetLockout(1, time.Minute, time.Minute)
			Run(t, Spec{Args: []string{"--contracts", o.Contracts, "--", "true"}, Env: o.env("INFISICAL_CLIENT_SECRET=wrong"), Dir: o.Dir})
		}, nil, "temporarily locked"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.prepare()
			env := append(append([]string{"SLACK_CHANNEL_ID=x"}, key...), c.env...)
			r := o.during(env, "--required")
			clearError(t, r, o.ran(), 125, c.want)
			r = o.during(append(env, "STRIPE_API_KEY=from-env"))
			wantCode(t, r, 0)
			wantEnv(t, o.childEnv(), map[string]string{"POSTGRES_DSN": "<unset>", resolve.AgeVar: "<unset>"})
			if strings.Contains(r.Stderr, "values of the fallback file") {
				t.Errorf("the fallback was used after Infisical refused:\n%s", r.Stderr)
			}
			if st := readStatusFile(t, o.status); st.Fallback.InUse {
				t.Errorf("status says the fallback is in use: %+v", st.Fallback)
			}
		})
	}
	o.Server.ClearLockouts()
	for _, c := range []struct {
		name   string
		status int
	}{{"503 throughout", 503}, {"429 throughout", 429}, {"500", 500}} {
		t.Run(c.name, func(t *testing.T) {
			o.Server.FailNext(1<<20, c.status)
			defer o.Server.FailNext(0, 0)
			r := o.during(append([]string{"SLACK_CHANNEL_ID=x"}, key...), "--required")
			wantCode(t, r, 0)
			wantEnv(t, o.childEnv(), map[string]string{"POSTGRES_DSN": canaryDSN})
			if warnings(r.Stderr, fmt.Sprintf("status %d", c.status)) != 1 {
				t.Errorf("the warning does not name the cause:\n%s", r.Stderr)
			}
		})
	}
	o.down()
	r := o.during(append([]string{"SLACK_CHANNEL_ID=x"}, key...), "--required")
	wantCode(t, r, 0)
	wantEnv(t, o.childEnv(), map[string]string{"POSTGRES_DSN": canaryDSN})
}

// TestFallbackRefusesForeignOrDamaged: a file for another service,
// environment or set of declared keys, one byte flipped, a wrong key, cut
// short, not a file: one warning saying what and where, never what the
// file holds, and the start goes on as without a file.
func TestFallbackRefusesForeignOrDamaged(t *testing.T) {
	o := newOutage(t)
	o.live(nil, "--service", "billing")
	good, err := os.ReadFile(o.file)
	if err != nil {
		t.Fatal(err)
	}
	o.down()
	extra := filepath.Join(o.Contracts, "node_extra", "contract.yaml")
	cases := []struct {
		name    string
		prepare func()
		env     []string
		args    []string
		want    string
	}{
		{"another service slug", func() {}, nil, []string{"--service", "shipping"}, "written for another service (--service)"},
		{"shared folders only", func() {}, nil, nil, "written for another service (--service)"},
		{"another environment", func() {}, []string{"INFISICAL_ENVIRONMENT=prod"}, []string{"--service", "billing"}, "written for another environment"},
		{"another key set", func() {
			o.write("contracts/node_extra/contract.yaml", "name: node_extra\nmetadata:\n  transport_type: kafka\n")
		}, nil, []string{"--service", "billing"}, "written for another set of declared keys"},
		{"a flipped byte", func() {
			bad := bytes.Clone(good)
			bad[len(bad)-20] ^= 0x04
			os.WriteFile(o.file, bad, 0o600)
		}, nil, []string{"--service", "billing"}, "does not decrypt: the file was altered or damaged"},
		{"a wrong key", func() {}, []string{"SECRET_INIT_FALLBACK_KEY=" + fallbackKey}, []string{"--service", "billing"}, "encrypted with another key"},
		{"truncated", func() { os.WriteFile(o.file, good[:len(good)/2], 0o600) }, nil, []string{"--service", "billing"}, "does not decrypt"},
		{"a directory", func() { os.Remove(o.file); os.Mkdir(o.file, 0o700) }, nil, []string{"--service", "billing"}, "is a directory, not a regular file"},
		{"none yet", func() { os.Remove(o.file) }, nil, []string{"--service", "billing"}, "no file yet"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			os.RemoveAll(o.file)
			os.Remove(extra)
			os.WriteFile(o.file, good, 0o600)
			c.prepare()
			r := o.during(append([]string{"STRIPE_API_KEY=from-env"}, c.env...), c.args...)
			wantCode(t, r, 0)
			wantEnv(t, o.childEnv(), map[string]string{"POSTGRES_DSN": "<unset>", "POSTGRES_POOL_MIN": "from-dotenv", resolve.AgeVar: "<unset>"})
			if n := warnings(r.Stderr, "--fallback-file "+o.file+": "); n != 1 || !strings.Contains(r.Stderr, c.want) {
				t.Errorf("%d warnings naming the file, want 1 saying %q:\n%s", n, c.want, r.Stderr)
			}
			st := readStatusFile(t, o.status)
			if st.Fallback.InUse || !strings.Contains(st.Fallback.Problem, c.want) {
				t.Errorf("status fallback %+v, want not in use, saying %q", st.Fallback, c.want)
			}
		})
	}
}

// TestFallbackNoValueInAnyOutput: the file, the status file and every
// output at trace level (json and console, start and check, live and
// during the outage) hold no value and no credential (Run checks the
// output of every run).
func TestFallbackNoValueInAnyOutput(t *testing.T) {
	o := newOutage(t)
	for _, format := range []string{"json", "console"} {
		o.live(nil, "--log-level", "trace", "--log-format", format, "--path", "/shared/env")
		noCanaryIn(t, o.file)
		readStatusFile(t, o.status)
		r := o.command(nil, "check", "--log-level", "trace", "--log-format", format, "--fallback-file", o.file)
		wantCode(t, r, 0)
	}
	o.down()
	for _, format := range []string{"json", "console"} {
		r := o.during(nil, "--log-level", "trace", "--log-format", format, "--path", "/shared/env")
		wantCode(t, r, 0)
		wantEnv(t, o.childEnv(), map[string]string{"POSTGRES_DSN": canaryDSN})
		readStatusFile(t, o.status)
		r = o.command(nil, "check", "--log-level", "trace", "--log-format", format, "--timeout", "1s", "--fallback-file", o.file, "--path", "/shared/env", "-o", "json")
		wantCode(t, r, 0)
	}
	noCanaryIn(t, o.file)
}

// TestFallbackCheck: check says whether a usable file exists for these
// flags and how old it is, in text and JSON; it never writes the file.
func TestFallbackCheck(t *testing.T) {
	o := newOutage(t)
	report := func(args ...string) *resolve.FallbackReport {
		t.Helper()
		r := o.command([]string{"SLACK_CHANNEL_ID=x"}, "check", append([]string{"--fallback-file", o.file, "--timeout", "1s", "-o", "json"}, args...)...)
		rep := decodeReport(t, r)
		if rep.Fallback == nil {
			t.Fatalf("check -o json has no fallback:\n%s", r.Stdout)
		}
		return rep.Fallback
	}
	os.MkdirAll(filepath.Dir(o.file), 0o755)
	if fb := report(); fb.Usable || !strings.Contains(fb.Problem, "no file yet") {
		t.Errorf("before any start: %+v", fb)
	}
	if _, err := os.Stat(o.file); err == nil {
		t.Fatal("check wrote the fallback file")
	}
	o.live(nil)
	fb := report()
	if !fb.Usable || fb.InUse || fb.AgeSeconds == nil || fb.FetchedAt == nil || fb.MaxAgeSeconds != 86400 {
		t.Errorf("after a start: %+v", fb)
	}
	if fb := report("--service", "billing"); fb.Usable || !strings.Contains(fb.Problem, "another service") {
		t.Errorf("for other flags: %+v", fb)
	}
	r := o.command([]string{"SLACK_CHANNEL_ID=x"}, "check", "--fallback-file", o.file)
	wantLines(t, r.Stdout, "Fallback file "+o.file+": usable, values fetched ", "ago (", "max 24h0m0s")

	o.down()
	if fb := report("--required"); !fb.InUse || !fb.Usable {
		t.Errorf("during an outage: %+v", fb)
	}
	r = o.command([]string{"SLACK_CHANNEL_ID=x"}, "check", "--fallback-file", o.file, "--timeout", "1s", "--required")
	wantCode(t, r, 0) // a start would succeed, on the file's values
	wantLines(t, r.Stdout, "Fallback file "+o.file+": in use, Infisical could not answer", "from the fallback file")
}

// TestFallbackWriteFailsStartGoesOn: a fallback or status file in a
// folder secret-init may not write is a warning, and the start is a
// normal one.
func TestFallbackWriteFailsStartGoesOn(t *testing.T) {
	o := newOutage(t)
	ro := filepath.Join(o.Dir, "read-only")
	os.Mkdir(ro, 0o555)
	s := o.spec([]string{"SLACK_CHANNEL_ID=x"}, "--required", "--fallback-file", filepath.Join(ro, "fallback.enc"), "--status-file", filepath.Join(ro, "status.json"))
	if os.Geteuid() == 0 {
		unprivileged(o.fixture, &s) // root writes into a 0555 folder otherwise
	}
	r := o.run(s)
	wantCode(t, r, 0)
	wantEnv(t, o.childEnv(), map[string]string{"POSTGRES_DSN": canaryDSN})
	for _, what := range []string{"--fallback-file " + ro + "/fallback.enc: not written", "--status-file " + ro + "/status.json: not written"} {
		if warnings(r.Stderr, what) != 1 {
			t.Errorf("no one warning %q:\n%s", what, r.Stderr)
		}
	}
	if entries, _ := os.ReadDir(ro); len(entries) != 0 {
		t.Errorf("the read-only folder holds %v", entries)
	}
}

// TestFallbackOnlyAfterCompleteFetch: a fetch with one folder refused (a
// 403) is not complete: the file keeps the last complete one. A start
// whose keys are all in the environment asks nothing and writes nothing.
func TestFallbackOnlyAfterCompleteFetch(t *testing.T) {
	o := newOutage(t)
	o.live(nil)
	before, _ := os.ReadFile(o.file)
	o.Server.AddUniversalIdentity("half", canaryClient, infisicaltest.DenyFolder("dev", "/shared/env"))
	r := o.start([]string{"INFISICAL_CLIENT_ID=half", "STRIPE_API_KEY=from-env"}, o.args()...)
	wantCode(t, r, 0)
	if st := readStatusFile(t, o.status); len(st.FolderErrors) != 1 || st.FolderErrors["/shared/env"] == "" {
		t.Errorf("status folder_errors %v, want /shared/env", st.FolderErrors)
	}
	all := []string{"POSTGRES_DSN=a", "POSTGRES_POOL_MIN=a", "POSTGRES_POOL_MAX=a", "POSTGRES_TIMEOUT_MS=a", "STRIPE_API_KEY=a", "SLACK_CHANNEL_ID=a"}
	r = o.start(all, o.args()...)
	wantCode(t, r, 0)
	if after, _ := os.ReadFile(o.file); !bytes.Equal(before, after) {
		t.Error("the fallback file changed after a fetch that was not complete")
	}
	if st := readStatusFile(t, o.status); st.LastSuccessAt != nil {
		t.Errorf("a start that asked nothing has last_success_at %v", st.LastSuccessAt)
	}
	// And the file written before still serves an outage.
	o.down()
	r = o.during(nil)
	wantCode(t, r, 0)
	wantEnv(t, o.childEnv(), map[string]string{"STRIPE_API_KEY": canaryStripe})
}

// TestFallbackKeyMaterial: Kubernetes auth has no secret to derive the key
// from: the fallback is off with one warning until SECRET_INIT_FALLBACK_KEY
// is set; the key is a credential --drop-bootstrap keeps from the command.
func TestFallbackKeyMaterial(t *testing.T) {
	o := newOutage(t)
	jwt := "eyJ." + canaryClient + ".sig"
	o.Server.AddKubernetesIdentity("k8s-identity", jwt)
	o.write(".env", "INFISICAL_AUTH_METHOD=kubernetes\nINFISICAL_IDENTITY_ID=k8s-identity\nINFISICAL_KUBERNETES_TOKEN_PATH="+o.write("sa-token", jwt)+"\nINFISICAL_PROJECT_ID="+infisicaltest.DefaultProject+"\n")
	r := o.start([]string{"SLACK_CHANNEL_ID=x"}, o.args("--required")...)
	wantCode(t, r, 0)
	if warnings(r.Stderr, "--fallback-file is off: Kubernetes auth") != 1 {
		t.Errorf("no one warning that the fallback is off:\n%s", r.Stderr)
	}
	if _, err := os.Stat(o.file); err == nil {
		t.Error("a fallback file was written without a key")
	}
	if st := readStatusFile(t, o.status); st.Fallback.Enabled || !strings.Contains(st.Fallback.Problem, "SECRET_INIT_FALLBACK_KEY") {
		t.Errorf("status fallback %+v", st.Fallback)
	}
	r = o.start([]string{"SLACK_CHANNEL_ID=x", "SECRET_INIT_FALLBACK_KEY=short"}, o.args()...)
	if warnings(r.Stderr, "SECRET_INIT_FALLBACK_KEY is shorter than") != 1 {
		t.Errorf("a short key: no warning:\n%s", r.Stderr)
	}
	o.live([]string{"SECRET_INIT_FALLBACK_KEY=" + fallbackKey}, "--drop-bootstrap")
	wantEnv(t, o.childEnv(), map[string]string{"SECRET_INIT_FALLBACK_KEY": "<unset>", "POSTGRES_DSN": canaryDSN})
	o.down()
	r = o.during([]string{"SLACK_CHANNEL_ID=x", "SECRET_INIT_FALLBACK_KEY=" + fallbackKey}, "--required")
	wantCode(t, r, 0)
	wantEnv(t, o.childEnv(), map[string]string{"POSTGRES_DSN": canaryDSN, "SECRET_INIT_FALLBACK_KEY": fallbackKey})
}

// TestStatusFileAtomic: starts killed with SIGKILL at many points, while
// a reader reads the status file all along: it is always one whole valid
// document, the old one or a new one, never torn, empty or missing. A
// --path folder of 3,000 keys makes the document large (about 200 KiB),
// so that a write in place would be caught half done.
func TestStatusFileAtomic(t *testing.T) {
	o := newOutage(t)
	for i := range 3000 {
		o.Server.SetSecret("dev", "/bulk", fmt.Sprintf("BULK_KEY_%04d", i), "v")
	}
	start := func() Spec { return o.spec([]string{"SLACK_CHANNEL_ID=x"}, o.args("--required", "--path", "/bulk")...) }
	// How long a start takes here, to spread the kills over two: about
	// half the starts are killed before they write, half after.
	begin := time.Now()
	wantCode(t, o.run(start()), 0)
	span := time.Since(begin)

	stop := make(chan struct{})
	var reads, bad atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			data, err := os.ReadFile(o.status)
			if _, derr := decodeStatus(data); err != nil || derr != nil {
				bad.Add(1)
			}
			reads.Add(1)
		}
	})
	rounds, written := 40, 0
	for i := range rounds {
		before, _ := os.ReadFile(o.status)
		ss := Start(t, start())
		time.Sleep(time.Duration(rand.Int64N(2 * int64(span))))
		ss.cmd.Process.Signal(syscall.SIGKILL)
		ss.wait()
		after, err := os.ReadFile(o.status)
		if _, derr := decodeStatus(after); err != nil || derr != nil {
			t.Fatalf("round %d: after SIGKILL the status file is not one valid document (%v, %v)", i, err, derr)
		}
		if !bytes.Equal(before, after) {
			written++
		}
	}
	close(stop)
	wg.Wait()
	if bad.Load() > 0 {
		t.Errorf("%d of %d reads found the status file torn, empty or missing", bad.Load(), reads.Load())
	}
	if written == 0 {
		t.Errorf("none of %d starts rewrote the status file before it was killed: nothing was tested", rounds)
	}
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(o.status), ".status.json.tmp-*"))
	t.Logf("%d starts killed at random points of a %v start: %d had rewritten the file, %d were killed mid-write; %d reads",
		rounds, span.Round(time.Millisecond), written, len(left), reads.Load())
}
