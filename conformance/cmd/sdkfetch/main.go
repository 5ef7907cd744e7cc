// Command sdkfetch times the official go-sdk for the bench's prefetch
// table: what a naive entrypoint built on the SDK would do, one login and
// then one List per folder, one after the other (the SDK takes no context
// and offers no batch call). The bench builds it, starts it once and
// drives it with one JSON line each way, so that it can read its test
// server's request log between runs:
//
//	stdin, first line: the job (server, credentials, folders, expected keys)
//	stdout, first line: {"sdk":"<go-sdk version>"}
//	then for each further stdin line, one run: {"wallNs":N} or {"error":"..."}
//
// Each run is a cold SDK session (a new client, a login and the lists),
// timed inside this process: it pays no process start.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime/debug"
	"time"

	infisical "github.com/infisical/go-sdk"
)

const sdkModule = "github.com/infisical/go-sdk"

type job struct {
	Addr         string            `json:"addr"`
	ClientID     string            `json:"clientId"`
	ClientSecret string            `json:"clientSecret"`
	ProjectID    string            `json:"projectId"`
	Environment  string            `json:"environment"`
	Folders      []string          `json:"folders"`
	Want         map[string]string `json:"want"` // every declared key and its value
}

type answer struct {
	SDK    string `json:"sdk,omitempty"`
	WallNs int64  `json:"wallNs,omitempty"`
	Error  string `json:"error,omitempty"`
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(nil, 1<<20)
	out := json.NewEncoder(os.Stdout)
	var j job
	if !in.Scan() {
		_ = out.Encode(answer{Error: "no job on stdin"})
		os.Exit(1)
	}
	if err := json.Unmarshal(in.Bytes(), &j); err != nil {
		_ = out.Encode(answer{Error: "job: " + err.Error()})
		os.Exit(1)
	}
	_ = out.Encode(answer{SDK: sdkVersion()})
	for in.Scan() {
		wall, err := fetch(&j)
		a := answer{WallNs: int64(wall)}
		if err != nil {
			a = answer{Error: err.Error()}
		}
		if err := out.Encode(a); err != nil {
			os.Exit(1)
		}
	}
}

// sdkVersion is the go-sdk version this program was built with.
func sdkVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == sdkModule {
				return d.Version
			}
		}
	}
	return "unknown"
}

// fetch is one cold SDK session, checking that every declared key came
// back with its value.
func fetch(j *job) (time.Duration, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	off := false
	start := time.Now()
	c := infisical.NewInfisicalClient(ctx, infisical.Config{
		SiteUrl:          j.Addr,
		SilentMode:       true,
		AutoTokenRefresh: &off, // no background goroutine outliving the run
	})
	if _, err := c.Auth().UniversalAuthLogin(j.ClientID, j.ClientSecret); err != nil {
		return 0, fmt.Errorf("login: %w", err)
	}
	got := 0
	for _, folder := range j.Folders {
		secs, err := c.Secrets().List(infisical.ListSecretsOptions{
			ProjectID:              j.ProjectID,
			Environment:            j.Environment,
			SecretPath:             folder,
			IncludeImports:         true,
			ExpandSecretReferences: true,
		})
		if err != nil {
			return 0, fmt.Errorf("list %s: %w", folder, err)
		}
		for _, s := range secs {
			if v, ok := j.Want[s.SecretKey]; ok && v == s.SecretValue {
				got++
			}
		}
	}
	wall := time.Since(start)
	if got != len(j.Want) {
		return 0, fmt.Errorf("got %d of %d declared keys", got, len(j.Want))
	}
	return wall, nil
}
