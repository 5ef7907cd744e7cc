package e2e

// The real binary against the real server's rules, as the test server
// models them: what a typo in a bootstrap variable gives, which value of
// an import a service gets, what is not injected and why, what a locked
// identity or a refused token says, the trace log, and how seed writes.

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"secret-init/infisical/infisicaltest"
)

// storeWants is the environment node_store's command gets when Infisical
// holds storeSeed.
var storeWants = map[string]string{
	"POSTGRES_DSN": canaryDSN, "POSTGRES_POOL_MIN": "2", "STRIPE_API_KEY": canaryStripe, "SLACK_CHANNEL_ID": canaryDotenv,
}

// TestUnknownEnvironmentOrProject: a list in an unknown environment looks
// like one of a missing folder; when no folder held anything, one more
// request finds out, and the start says which variable is wrong. With
// --required it stops; without, it warns loudly and starts on .env.
func TestUnknownEnvironmentOrProject(t *testing.T) {
	for _, c := range []struct {
		name, env, want string
	}{
		{"environment", "INFISICAL_ENVIRONMENT=stagin", "environment 'stagin' not found in project " + infisicaltest.DefaultProject},
		{"project", "INFISICAL_PROJECT_ID=nope-0000", "project nope-0000 not found"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newStore(t)
			r := f.start([]string{c.env}, "--required")
			clearError(t, r, f.ran(), 125, c.want)
			r = f.start([]string{c.env, "STRIPE_API_KEY=from-env"})
			wantCode(t, r, 0)
			if !strings.Contains(r.Stderr, `"level":"warn"`) || !strings.Contains(r.Stderr, c.want) {
				t.Errorf("no loud warning saying %q:\n%s", c.want, r.Stderr)
			}
			wantEnv(t, f.childEnv(), map[string]string{"POSTGRES_POOL_MIN": "from-dotenv", "POSTGRES_DSN": "<unset>"})
		})
	}
	t.Run("seeded environment, missing folders", func(t *testing.T) {
		f := newStore(t)
		f.Server.AddEnvironment("qa")
		for _, old := range []bool{false, true} {
			f.Server.EmptyMissingFolders(old) // older servers answer 200 with nothing
			f.Server.ResetCounts()
			r := f.start([]string{"INFISICAL_ENVIRONMENT=qa", "STRIPE_API_KEY=from-env"}, "--required")
			// The folders are only missing: the keys are, and --required
			// says so, not that the environment is unknown.
			clearError(t, r, f.ran(), 125, "--required: ", "POSTGRES_DSN")
			if strings.Contains(r.Stderr, "not found in project") {
				t.Errorf("an existing environment reported unknown:\n%s", r.Stderr)
			}
			wantCount(t, f.Server, "GET", "/api/v1/folders", 1, "one request to tell a missing folder from an unknown environment")
			wantCount(t, f.Server, "GET", "/api/v4/secrets", 2, "one list per folder")
		}
	})
}

// TestNotInfisicalAddress: an INFISICAL_ADDR that leads somewhere without
// Infisical's routes is said to be so, naming the address without its
// query.
func TestNotInfisicalAddress(t *testing.T) {
	f := newStore(t)
	addr := f.Server.URL + "/wrong-prefix/?token=" + canaryBadInput
	r := f.start([]string{"INFISICAL_ADDR=" + addr}, "--required")
	clearError(t, r, f.ran(), 125, "INFISICAL_ADDR "+f.Server.URL+"/wrong-prefix is not Infisical's API", "route not found")
	wantCount(t, f.Server, "POST", "/", 1, "the login, once")
}

// TestImportPrecedence: the folder's own value wins, then the last import.
func TestImportPrecedence(t *testing.T) {
	seed := storeSeed()
	db := seed.Environments["dev"].Folders["/shared/db"]
	delete(db, "POSTGRES_POOL_MAX")
	delete(db, "POSTGRES_TIMEOUT_MS")
	f := newFixture(t, seed, map[string]string{"contracts/node_store/contract.yaml": storeContract, ".env": storeDotenv}, false)
	f.Server.SetSecret("dev", "/lib/one", "POSTGRES_POOL_MAX", "from-first-import")
	f.Server.SetSecret("dev", "/lib/one", "POSTGRES_TIMEOUT_MS", "from-first-import")
	f.Server.SetSecret("dev", "/lib/two", "POSTGRES_TIMEOUT_MS", "from-last-import")
	f.Server.SetSecret("dev", "/lib/two", "POSTGRES_POOL_MIN", "from-last-import")
	f.Server.AddImport("dev", "/shared/db", "dev", "/lib/one")
	f.Server.AddImport("dev", "/shared/db", "dev", "/lib/two")
	r := f.start(nil)
	wantCode(t, r, 0)
	wantEnv(t, f.childEnv(), map[string]string{
		"POSTGRES_POOL_MIN":   "2",                 // own key
		"POSTGRES_POOL_MAX":   "from-first-import", // only in the first
		"POSTGRES_TIMEOUT_MS": "from-last-import",  // in both: the last wins
	})
}

// TestValuesNotInjected: a value that still holds an unresolved reference
// and one Infisical hid are not injected; the warning names the key and
// the folder, never the value, and the key counts as missing.
func TestValuesNotInjected(t *testing.T) {
	t.Run("unresolved reference", func(t *testing.T) {
		f := newStore(t)
		f.Server.SetSecret("dev", "/shared/db", "POSTGRES_DSN", "postgres://${dev.shared.db.NO_SUCH_PASSWORD}@db")
		r := f.start(nil)
		wantCode(t, r, 0)
		wantLines(t, r.Stderr, "not injected: POSTGRES_DSN in /shared/db", "reference Infisical could not resolve", `"missing_keys":["POSTGRES_DSN"]`)
		if strings.Contains(r.Stderr, "NO_SUCH_PASSWORD") {
			t.Errorf("the warning shows the value:\n%s", r.Stderr)
		}
		wantEnv(t, f.childEnv(), map[string]string{"POSTGRES_DSN": "<unset>", "POSTGRES_POOL_MIN": "2"})
		clearError(t, f.start(nil, "--required"), f.ran(), 125, "POSTGRES_DSN")
	})
	t.Run("hidden value", func(t *testing.T) {
		f := newStore(t)
		f.Server.AddUniversalIdentity("runtime", canaryClient, infisicaltest.DescribeOnly("dev", "/shared/env"))
		f.Server.MaskUnreadableValues(true)
		r := f.start(nil)
		wantCode(t, r, 125) // STRIPE_API_KEY is a required dependency
		wantLines(t, r.Stderr, "not injected: STRIPE_API_KEY in /shared/env: Infisical hid its value", "may see the key but not read the value")
		if strings.Contains(r.Stderr, "hidden-by-infisical") {
			t.Errorf("the mask was taken for a value:\n%s", r.Stderr)
		}
	})
}

// TestLockedIdentity: after failed logins Infisical locks the identity,
// even against the right secret: one login, one clear line, no retry that
// would extend the lock.
func TestLockedIdentity(t *testing.T) {
	f := newStore(t)
	for range 3 {
		body := bytes.NewReader([]byte(`{"clientId":"runtime","clientSecret":"wrong"}`))
		resp, err := http.Post(f.Server.URL+"/api/v1/auth/universal-auth/login", "application/json", body)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	f.Server.ResetCounts()
	r := f.start(nil, "--required")
	clearError(t, r, f.ran(), 125, "temporarily locked", "after repeated failed logins", "fix INFISICAL_CLIENT_SECRET")
	wantCount(t, f.Server, "POST", "/api/v1/auth/", 1, "no retry of a locked login")
}

// TestRefusedToken: an expired or malformed access token says so; one
// holding a newline is refused before any request.
func TestRefusedToken(t *testing.T) {
	f := newStore(t)
	f.Server.AddToken(canaryToken)
	f.Server.ExpireToken(canaryToken)
	r := f.start([]string{"INFISICAL_TOKEN=" + canaryToken, "INFISICAL_CLIENT_ID=", "INFISICAL_CLIENT_SECRET="}, "--required")
	clearError(t, r, f.ran(), 125, "status 403", "the access token has expired or is malformed")

	f.Server.ResetCounts()
	r = f.start([]string{"INFISICAL_TOKEN=" + canaryToken + "\r\nX-Injected: 1", "INFISICAL_CLIENT_ID=", "INFISICAL_CLIENT_SECRET="}, "--required")
	clearError(t, r, f.ran(), 125, "control character")
	wantCount(t, f.Server, "", "/", 0, "a token that cannot be sent is never sent")
}

// TestTraceLog: --log-level trace has a line per request and per folder,
// with what "why is my key missing" needs, and no value or credential (the
// leak check of every run covers those).
func TestTraceLog(t *testing.T) {
	f := newStore(t)
	f.Server.ResetCounts()
	r := f.start(nil, "--log-level", "trace", "--log-format", "json", "--path", "/nowhere")
	wantCode(t, r, 0)
	var requests, folders int
	reqIDs := map[string]bool{}
	for _, q := range f.Server.Requests() {
		reqIDs[q.ReqID] = true
	}
	for _, line := range strings.Split(strings.TrimSpace(r.Stderr), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) != nil || m["level"] != "trace" {
			continue
		}
		switch {
		case strings.HasPrefix(m["message"].(string), "infisical "):
			requests++
			if m["method"] == nil || m["path"] == nil || m["status"] == nil || m["duration_ms"] == nil {
				t.Errorf("request line without method, path, status or duration: %s", line)
			}
			if strings.Contains(m["path"].(string), "?") {
				t.Errorf("request line with a query: %s", line)
			}
			if m["path"] == "/api/v4/secrets" && m["folder"] == nil {
				t.Errorf("list line without its folder: %s", line)
			}
			if id, ok := m["req_id"].(string); ok && !reqIDs[id] {
				t.Errorf("reqId %s is not one the server gave", id)
			}
			if m["status"] == float64(404) && m["req_id"] == nil {
				t.Errorf("a 404 line without the reqId: %s", line)
			}
		case m["folder"] != nil:
			folders++
		}
	}
	if n := len(f.Server.Requests()); requests != n {
		t.Errorf("%d request lines for %d requests:\n%s", requests, n, r.Stderr)
	}
	if folders != 3 {
		t.Errorf("%d folder lines, want 3 (/shared/db, /shared/env, /nowhere):\n%s", folders, r.Stderr)
	}
}

// TestOldAndFutureServers: a start works against a server without v4 and
// one without v3.
func TestOldAndFutureServers(t *testing.T) {
	for _, c := range []struct {
		name string
		set  func(*infisicaltest.Server)
		path string
	}{
		{"without v4", func(s *infisicaltest.Server) { s.ServeV4(false) }, "/api/v3/secrets/raw"},
		{"without v3", func(s *infisicaltest.Server) { s.ServeV3(false) }, "/api/v4/secrets"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newStore(t)
			c.set(f.Server)
			r := f.start(nil)
			wantCode(t, r, 0)
			wantEnv(t, f.childEnv(), storeWants)
			wantCount(t, f.Server, "GET", c.path, 2, "the lists, on the routes this server has")
		})
	}
}

// TestSeedAgainstTheRealRules: an existing folder is no failure, a run
// after a run writes nothing (stored values compared as the server
// trims), a folder's keys go in one request, and a server without the
// batch route gets key-by-key writes.
func TestSeedAgainstTheRealRules(t *testing.T) {
	t.Run("one request per folder, then nothing to change", func(t *testing.T) {
		f := newOps(t)
		f.write("import.env", "POSTGRES_DSN=\"  "+canaryImport+"  \"\nPOSTGRES_POOL_MAX=${dev.shared.db.POSTGRES_POOL_MIN}\nAPI_TOKEN="+canaryImport+"\n")
		args := []string{"--execute", "--set-values", "--import-env", "import.env", "--overwrite-existing"}
		r := f.command(nil, "seed", args...)
		wantCode(t, r, 0)
		wantCount(t, f.Server, "PATCH", "/api/v4/secrets/batch", 3, "one write per folder: db, kafka, env")
		wantCount(t, f.Server, "POST", "/api/v4/secrets/", 0, "no single writes")
		if v, _ := f.secret("/shared/db", "POSTGRES_DSN"); v != canaryImport {
			t.Errorf("stored %q, want it trimmed", v)
		}
		f.Server.ResetCounts()
		r = f.command(nil, "seed", args...)
		wantCode(t, r, 0)
		wantLines(t, r.Stdout, "SKIP /shared/db/POSTGRES_DSN (exists, same value)", "SKIP /shared/db/POSTGRES_POOL_MAX (exists, same value)", "nothing to change")
		if n := f.writes(); n != 0 {
			t.Errorf("a second run wrote %d times", n)
		}
	})
	t.Run("server without batch writes", func(t *testing.T) {
		f := newOps(t)
		f.Server.ServeV4(false)
		r := f.command(nil, "seed", "--execute")
		wantCode(t, r, 0)
		wantCount(t, f.Server, "POST", "/api/v3/secrets/raw/", len(opsKeys), "key by key")
	})
	t.Run("a folder create whose answer was lost", func(t *testing.T) {
		f := newOps(t)
		var lost atomic.Int32
		addr := proxy(t, f.Server.URL, func(w http.ResponseWriter, r *http.Request) bool {
			if r.Method != "POST" || r.URL.Path != "/api/v1/folders" || lost.Add(1) != 1 {
				return false
			}
			// Forward the first create, then lose its answer.
			req, _ := http.NewRequest(r.Method, f.Server.URL+r.URL.RequestURI(), r.Body)
			req.Header = r.Header.Clone()
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
			w.WriteHeader(http.StatusBadGateway)
			return true
		})
		r := f.command([]string{"INFISICAL_ADDR=" + addr}, "seed", "--execute")
		wantCode(t, r, 0)
		if strings.Contains(r.Stdout, "FAILED") {
			t.Errorf("the retried create failed:\n%s", r.Stdout)
		}
		if _, ok := f.secret("/shared/db", "POSTGRES_DSN"); !ok {
			t.Error("the folder's keys were not written")
		}
	})
}
