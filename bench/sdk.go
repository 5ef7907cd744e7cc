package main

import (
	"context"
	"fmt"
	"slices"
	"time"

	infisical "github.com/infisical/go-sdk"

	"secret-init/infisical/infisicaltest"
)

// sdkRow measures the official go-sdk doing what a naive entrypoint built
// on it would do: one login, then one ListSecrets per folder, one after the
// other (the SDK takes no context and offers no batch call). It runs in
// this process, so it pays no process start: a lower bound for such an
// entrypoint, not a like-for-like process figure.
func sdkRow(t *table, o *options, fx *fixture) {
	var walls []time.Duration
	var reqCounts []int
	failed, lastErr := 0, ""
	deadline := time.Now().Add(o.prefetchBudget)
	for i := range o.prefetchWarm + o.prefetchRuns {
		if time.Now().After(deadline) {
			break
		}
		fx.srv.ResetCounts()
		wall, err := sdkFetch(fx)
		n := len(fx.srv.Requests())
		if i < o.prefetchWarm {
			continue
		}
		if err != nil {
			failed++
			lastErr = err.Error()
			continue
		}
		walls = append(walls, wall)
		reqCounts = append(reqCounts, n)
	}
	s := summarize(walls)
	name := "go-sdk v0.8.0 in-process: login, then 8 ListSecrets sequentially (no process start)"
	if s.n == 0 {
		t.add(name, "-", "-", "-", "-", "-", "-")
		t.note("go-sdk: every run failed; last: %s", lastErr)
		return
	}
	slices.Sort(reqCounts)
	reqStr := fmt.Sprint(reqCounts[0])
	if reqCounts[0] != reqCounts[len(reqCounts)-1] {
		reqStr = fmt.Sprintf("%d..%d", reqCounts[0], reqCounts[len(reqCounts)-1])
	}
	t.add(name+" (info)", ms(s.median), ms(s.p90), fmt.Sprintf("%.2f", float64(s.median)/float64(o.latency)), "-", reqStr, "-")
	if failed > 0 {
		t.note("go-sdk: %d runs failed; last: %s", failed, lastErr)
	}
}

// sdkFetch is one cold SDK session: a new client, a login and 8 lists,
// checking that every declared key came back.
func sdkFetch(fx *fixture) (time.Duration, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	off := false
	start := time.Now()
	c := infisical.NewInfisicalClient(ctx, infisical.Config{
		SiteUrl:          fx.srv.URL,
		SilentMode:       true,
		AutoTokenRefresh: &off, // no background goroutine outliving the run
	})
	if _, err := c.Auth().UniversalAuthLogin(fx.clientID, fx.secret); err != nil {
		return 0, fmt.Errorf("login: %w", err)
	}
	got := 0
	for i := 1; i <= nFolders; i++ {
		secs, err := c.Secrets().List(infisical.ListSecretsOptions{
			ProjectID:              infisicaltest.DefaultProject,
			Environment:            "dev",
			SecretPath:             folderPath(i),
			IncludeImports:         true,
			ExpandSecretReferences: true,
		})
		if err != nil {
			return 0, fmt.Errorf("list %s: %w", folderPath(i), err)
		}
		for _, s := range secs {
			if v, ok := fx.want[s.SecretKey]; ok && v == s.SecretValue {
				got++
			}
		}
	}
	wall := time.Since(start)
	if got != len(fx.want) {
		return 0, fmt.Errorf("got %d of %d declared keys", got, len(fx.want))
	}
	return wall, nil
}
