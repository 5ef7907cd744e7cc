package e2e

// --fetch: the same start in each mode, the command's environment compared
// and the lists counted. auto reads /shared and /services/<slug> with one
// recursive list each, then on their own only the folders whose recursive
// answer cannot be trusted; each of its rules has a test here.

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"

	"secret-init/infisical/infisicaltest"
)

// fetchRun is one start in one --fetch mode and what came of it.
type fetchRun struct {
	mode   string
	r      Result
	env    map[string]string // the command's, without SECRET_INIT_FETCH
	lists  int               // GET /api/v4/secrets
	total  int               // every request: login, lists, the folders check
	direct []string          // folders listed on their own, in order
}

// fetch runs a start with --fetch mode and counts its requests.
func (f *fixture) fetch(mode string, env []string, args ...string) fetchRun {
	f.t.Helper()
	f.Server.ResetCounts()
	r := f.start(append(env, "SECRET_INIT_FETCH="+mode), args...)
	run := fetchRun{mode: mode, r: r, env: f.childEnv(), total: len(f.Server.Requests())}
	delete(run.env, "SECRET_INIT_FETCH")
	for _, q := range f.Server.Requests() {
		if q.Path != "/api/v4/secrets" {
			continue
		}
		run.lists++
		if q.Query.Get("recursive") == "false" {
			run.direct = append(run.direct, q.Query.Get("secretPath"))
		}
	}
	return run
}

// sameAsFolders runs the start in folders mode and in each of modes, and
// fails unless every one exits 0 with the same environment for the
// command. It returns the runs, folders first.
func (f *fixture) sameAsFolders(modes []string, env []string, args ...string) []fetchRun {
	f.t.Helper()
	runs := []fetchRun{f.fetch("folders", env, args...)}
	for _, m := range modes {
		runs = append(runs, f.fetch(m, env, args...))
	}
	for _, run := range runs {
		wantCode(f.t, run.r, 0)
		if !maps.Equal(run.env, runs[0].env) {
			f.t.Errorf("--fetch %s gave the command another environment than folders:\n%v\nfolders:\n%v", run.mode, run.env, runs[0].env)
		}
	}
	return runs
}

// wantLists checks a run's list requests: n in all, direct of them on
// their own (any order).
func wantLists(t *testing.T, run fetchRun, n int, direct ...string) {
	t.Helper()
	if run.lists != n {
		t.Errorf("--fetch %s: %d lists, want %d; on their own: %v", run.mode, run.lists, n, run.direct)
	}
	got := strings.Join(slices.Sorted(slices.Values(run.direct)), " ")
	if want := strings.Join(slices.Sorted(slices.Values(direct)), " "); got != want {
		t.Errorf("--fetch %s: folders listed on their own [%s], want [%s]", run.mode, got, want)
	}
}

// summary is the fields of the start's summary line.
func summary(t *testing.T, r Result) map[string]any {
	t.Helper()
	for _, line := range strings.Split(r.Stderr, "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["message"] == "prefetch from Infisical" {
			return m
		}
	}
	t.Fatalf("no summary line:\n%s", r.Stderr)
	return nil
}

// storeComplete is node_store's fixture with every key in Infisical:
// nothing is missing, nothing imported.
func storeComplete(t *testing.T) *fixture {
	t.Helper()
	f := newStore(t)
	f.Server.SetSecret("dev", "/shared/env", "SLACK_CHANNEL_ID", "C0FFEE")
	return f
}

// storeImporting is storeComplete with POSTGRES_TIMEOUT_MS not in
// /shared/db itself but in /lib/one, which /shared/db imports.
func storeImporting(t *testing.T) *fixture {
	t.Helper()
	seed := storeSeed()
	delete(seed.Environments["dev"].Folders["/shared/db"], "POSTGRES_TIMEOUT_MS")
	f := newFixture(t, seed, map[string]string{"contracts/node_store/contract.yaml": storeContract, ".env": storeDotenv}, false)
	f.Server.SetSecret("dev", "/shared/env", "SLACK_CHANNEL_ID", "C0FFEE")
	f.Server.SetSecret("dev", "/lib/one", "POSTGRES_TIMEOUT_MS", "from-import")
	f.Server.SetSecret("dev", "/lib/one", "POSTGRES_POOL_MIN", "import loses to the folder's own")
	f.Server.AddImport("dev", "/shared/db", "dev", "/lib/one")
	return f
}

// TestFetchCommonCase: a service without a folder of its own, nothing
// imported or missing: auto and tree send 1 login + 2 lists (/shared, and
// /services/billing, which answers 404), folders one list per folder, and
// the command gets the same environment. Over-fetch stays in the process:
// seven secrets read, six taken.
func TestFetchCommonCase(t *testing.T) {
	f := storeComplete(t)
	runs := f.sameAsFolders([]string{"auto", "tree"}, nil, "--service", "billing")
	wantLists(t, runs[0], 4, "/services/billing/db", "/services/billing/env", "/shared/db", "/shared/env")
	for _, run := range runs[1:] {
		wantLists(t, run, 2)
		if run.total != 3 {
			t.Errorf("--fetch %s: %d requests, want 3 (1 login + 2 lists)", run.mode, run.total)
		}
	}
	wantEnv(t, runs[1].env, map[string]string{"POSTGRES_DSN": canaryDSN, "SLACK_CHANNEL_ID": "C0FFEE", "UNDECLARED_ADMIN_PASSWORD": "<unset>"})
	for _, run := range runs {
		s := summary(t, run.r)
		if s["read"] != float64(7) || s["taken"] != float64(6) || s["fetch"] != run.mode {
			t.Errorf("--fetch %s: summary read %v taken %v fetch %v, want 7, 6, %s", run.mode, s["read"], s["taken"], s["fetch"], run.mode)
		}
	}
}

// TestFetchServiceOverride: per-service values override shared ones key
// by key, an empty one falls through, from the two recursive answers.
func TestFetchServiceOverride(t *testing.T) {
	f := storeComplete(t)
	f.Server.SetSecret("dev", "/services/billing/db", "POSTGRES_POOL_MAX", "50")
	f.Server.SetSecret("dev", "/services/billing/db", "POSTGRES_TIMEOUT_MS", "")
	f.Server.SetSecret("dev", "/services/other/db", "POSTGRES_DSN", "another service's")
	runs := f.sameAsFolders([]string{"auto", "tree"}, nil, "--service", "billing")
	wantEnv(t, runs[1].env, map[string]string{"POSTGRES_POOL_MAX": "50", "POSTGRES_TIMEOUT_MS": "5000", "POSTGRES_DSN": canaryDSN})
	wantLists(t, runs[1], 2)
}

// TestFetchImports: a recursive answer with imports cannot say which
// folder imports what, so auto lists that subtree's folders on their own,
// and only that subtree's; tree leaves the imported values out and says so.
func TestFetchImports(t *testing.T) {
	t.Run("into a shared folder", func(t *testing.T) {
		f := storeImporting(t)
		runs := f.sameAsFolders([]string{"auto"}, nil, "--service", "billing")
		wantEnv(t, runs[1].env, map[string]string{"POSTGRES_TIMEOUT_MS": "from-import", "POSTGRES_POOL_MIN": "2"})
		wantLists(t, runs[1], 4, "/shared/db", "/shared/env")

		tree := f.fetch("tree", nil, "--service", "billing")
		wantCode(t, tree.r, 0)
		wantEnv(t, tree.env, map[string]string{"POSTGRES_TIMEOUT_MS": "<unset>"})
		wantLines(t, tree.r.Stderr, "--fetch tree leaves out the imports of this subtree", `"folder":"/shared"`)
	})
	t.Run("into a shared folder, with a service folder", func(t *testing.T) {
		f := storeImporting(t)
		f.Server.SetSecret("dev", "/services/billing/db", "POSTGRES_POOL_MAX", "50")
		runs := f.sameAsFolders([]string{"auto"}, nil, "--service", "billing")
		wantEnv(t, runs[1].env, map[string]string{"POSTGRES_TIMEOUT_MS": "from-import", "POSTGRES_POOL_MAX": "50"})
		// The service's folders answered in full: a key they lack comes
		// from the shared folder's own list, not from listing them again.
		wantLists(t, runs[1], 4, "/shared/db", "/shared/env")

		// A key in none of them: the service folder is asked on its own
		// once the shared folder's own list has said it lacks the key too.
		f.Server.SetSecret("dev", "/shared/env", "SLACK_CHANNEL_ID", "")
		runs = f.sameAsFolders([]string{"auto"}, nil, "--service", "billing")
		wantLists(t, runs[1], 5, "/shared/db", "/shared/env", "/services/billing/env")
	})
	t.Run("into a service folder", func(t *testing.T) {
		f := storeComplete(t)
		f.Server.SetSecret("dev", "/lib/one", "POSTGRES_POOL_MAX", "from-import")
		f.Server.AddImport("dev", "/services/billing/db", "dev", "/lib/one")
		runs := f.sameAsFolders([]string{"auto"}, nil, "--service", "billing")
		wantEnv(t, runs[1].env, map[string]string{"POSTGRES_POOL_MAX": "from-import"})
		wantLists(t, runs[1], 4, "/services/billing/db", "/services/billing/env")
	})
}

// TestFetchRefusedSubtree: a recursive list that answers 403 (here: a
// secret no contract names holds a reference into a folder this identity
// may not read, which fails the whole request) says nothing of the
// folders below it; auto lists them on their own, tree fails them.
func TestFetchRefusedSubtree(t *testing.T) {
	f := storeComplete(t)
	f.Server.AddUniversalIdentity("runtime", canaryClient, infisicaltest.DenyFolder("dev", "/vault"))
	f.Server.SetSecret("dev", "/vault", "ROOT_PASSWORD", "x")
	f.Server.SetSecret("dev", "/shared/ops", "LINK", "${dev.vault.ROOT_PASSWORD}")
	runs := f.sameAsFolders([]string{"auto"}, nil)
	wantLists(t, runs[1], 3, "/shared/db", "/shared/env")
	wantEnv(t, runs[1].env, map[string]string{"POSTGRES_DSN": canaryDSN, "STRIPE_API_KEY": canaryStripe})

	tree := f.fetch("tree", nil, "--required")
	clearError(t, tree.r, tree.env != nil, 125, "/shared", "403")
	wantLists(t, tree, 1)
}

// TestFetchSubtreeOverTheCap: a recursive answer larger than the client
// takes says nothing of the folders below; auto lists them on their own,
// each answer far smaller.
func TestFetchSubtreeOverTheCap(t *testing.T) {
	f := storeComplete(t)
	body := []byte(`{"secrets":[{"secretKey":"FILLER","secretValue":"` + strings.Repeat("x", 9<<20) + `"}],"imports":[]}`)
	want := f.fetch("folders", nil)
	f.Server.RawAnswer(infisicaltest.RawAnswer{ContentType: "application/json", Body: body}) // the first list: /shared's
	run := f.fetch("auto", nil, "--required")
	wantCode(t, run.r, 0)
	wantLists(t, run, 3, "/shared/db", "/shared/env")
	if !maps.Equal(run.env, want.env) {
		t.Errorf("auto after an answer over the cap: %v, want folders' %v", run.env, want.env)
	}
}

// TestFetchMissingKey: a key no folder of the recursive answer holds is
// looked for in each folder it may come from, on its own: a recursive
// list leaves out what the identity may not read, and only the folder's
// own list tells that 403 from a key that is truly missing.
func TestFetchMissingKey(t *testing.T) {
	t.Run("truly missing", func(t *testing.T) {
		f := newStore(t) // SLACK_CHANNEL_ID is only in .env
		runs := f.sameAsFolders([]string{"auto"}, nil)
		wantLists(t, runs[1], 2, "/shared/env")
		wantEnv(t, runs[1].env, map[string]string{"SLACK_CHANNEL_ID": canaryDotenv})
		if strings.Contains(runs[1].r.Stderr, "403") {
			t.Errorf("a missing key reported as refused:\n%s", runs[1].r.Stderr)
		}
	})
	t.Run("refused", func(t *testing.T) {
		f := storeComplete(t)
		f.Server.AddUniversalIdentity("runtime", canaryClient, infisicaltest.DenyFolder("dev", "/shared/env"))
		env := []string{"STRIPE_API_KEY=from-env"}
		runs := f.sameAsFolders([]string{"auto"}, env)
		wantLists(t, runs[1], 2, "/shared/env")
		for _, run := range runs {
			wantLines(t, run.r.Stderr, `"folder":"/shared/env"`, "status 403")
		}
		// tree alone cannot tell: the recursive answer just lacks the key.
		tree := f.fetch("tree", env)
		wantCode(t, tree.r, 0)
		if strings.Contains(tree.r.Stderr, "403") {
			t.Errorf("tree saw a 403 it cannot see:\n%s", tree.r.Stderr)
		}
		wantEnv(t, tree.env, map[string]string{"SLACK_CHANNEL_ID": canaryDotenv})
	})
	t.Run("with a service folder", func(t *testing.T) {
		f := newStore(t)
		f.Server.SetSecret("dev", "/services/billing/db", "POSTGRES_POOL_MAX", "50")
		runs := f.sameAsFolders([]string{"auto"}, nil, "--service", "billing")
		wantLists(t, runs[1], 4, "/services/billing/env", "/shared/env")
	})
	t.Run("without a service folder", func(t *testing.T) {
		f := newStore(t)
		runs := f.sameAsFolders([]string{"auto"}, nil, "--service", "billing")
		wantLists(t, runs[1], 3, "/shared/env") // /services/billing is 404: nothing to ask there
	})
}

// TestFetchMissingSubtree: a subtree that does not exist (404) holds
// nothing; its keys are missing and no folder below it is asked for.
func TestFetchMissingSubtree(t *testing.T) {
	seed := storeSeed()
	dev := seed.Environments["dev"]
	dev.Folders = map[string]map[string]string{
		"/services/billing/db":  dev.Folders["/shared/db"],
		"/services/billing/env": dev.Folders["/shared/env"],
	}
	seed.Environments["dev"] = dev
	f := newFixture(t, seed, map[string]string{"contracts/node_store/contract.yaml": storeContract, ".env": storeDotenv}, false)
	runs := f.sameAsFolders([]string{"auto"}, nil, "--service", "billing")
	wantEnv(t, runs[1].env, map[string]string{"POSTGRES_DSN": canaryDSN, "STRIPE_API_KEY": canaryStripe, "SLACK_CHANNEL_ID": canaryDotenv})
	// SLACK_CHANNEL_ID, in .env only: its service folder on its own; no
	// /shared/env, below the missing /shared.
	wantLists(t, runs[1], 3, "/services/billing/env")
}

// TestFetchPathFolders: --path folders are listed on their own, and a
// --path folder that a contract's key may come from too gives that key
// from its own list.
func TestFetchPathFolders(t *testing.T) {
	f := storeComplete(t)
	f.Server.SetSecret("dev", "/apps/billing", "FEATURE_FLAG", "on")
	f.Server.SetSecret("dev", "/apps/billing", "POSTGRES_DSN", "from-path-folder")
	runs := f.sameAsFolders([]string{"auto", "tree"}, nil, "--path", "/apps/billing")
	wantEnv(t, runs[1].env, map[string]string{"FEATURE_FLAG": "on", "POSTGRES_DSN": canaryDSN})
	wantLists(t, runs[1], 2, "/apps/billing")
	wantLists(t, runs[2], 2, "/apps/billing")

	f = storeImporting(t)
	runs = f.sameAsFolders([]string{"tree"}, nil, "--path", "/shared/db")
	wantEnv(t, runs[1].env, map[string]string{"POSTGRES_TIMEOUT_MS": "from-import", "UNDECLARED_ADMIN_PASSWORD": canaryHidden})
	wantLists(t, runs[1], 2, "/shared/db")
}

// canaryUnplanned is in a folder no contract names: only a recursive list
// reads it.
const canaryUnplanned = "CANARY-unplanned-folder-a3f0"

// TestFetchScrubsValuesNotTaken: a value that a recursive answer brought
// and nobody takes is scrubbed from later errors like every other: the
// list of /shared/env that auto sends for SLACK_CHANNEL_ID answers a 403
// quoting it.
func TestFetchScrubsValuesNotTaken(t *testing.T) {
	for _, args := range [][]string{nil, {"check"}} {
		f := newStore(t)
		f.Server.SetSecret("dev", "/shared/unplanned", "NOBODY_ASKED", canaryUnplanned)
		addr := proxy(t, f.Server.URL, echoAfterHeldBack(t, "/shared/env", "/nothing-held", canaryUnplanned, canaryHidden))
		argv := append([]string{"--log-level", "trace", "--contracts", f.Contracts}, args...)
		if args == nil {
			argv = append(argv, "--", "true")
		}
		r := f.run(Spec{Args: argv, Env: f.env("INFISICAL_ADDR="+addr, "STRIPE_API_KEY=from-env", "SECRET_INIT_FETCH=auto"), Dir: f.Dir})
		// Run has checked that no canary is in the output.
		wantCode(t, r, 0)
		if out := r.Stdout + r.Stderr; !strings.Contains(out, "403") || !strings.Contains(out, "[redacted]") {
			t.Fatalf("%v: the 403 with its scrubbed message is not in the output; the test proved nothing:\n%s", args, out)
		}
	}
}

// TestFetchTreeUnknownEnvironment: with every subtree 404, one more
// request tells an unknown environment from missing folders, in tree mode
// as in the others.
func TestFetchTreeUnknownEnvironment(t *testing.T) {
	f := newStore(t)
	run := f.fetch("tree", []string{"INFISICAL_ENVIRONMENT=stagin"}, "--required", "--service", "billing")
	clearError(t, run.r, run.env != nil, 125, "environment 'stagin' not found in project "+infisicaltest.DefaultProject)
	wantLists(t, run, 2)
	wantCount(t, f.Server, "GET", "/api/v1/folders", 1, "one request to tell a missing folder from an unknown environment")
}
