package e2e

// examples/kubernetes/deployment.yaml, laid out as the kubelet would lay
// out its pod: the ConfigMap of contracts and the projected token behind
// Kubernetes' ..data symlinks, secret-init as PID 1 under the pod's
// runAsUser, against the test server's Kubernetes auth.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"secret-init/infisical/infisicaltest"
)

// pod is what the test reads of the example manifest.
type pod struct {
	contracts map[string]string // the ConfigMap's files
	env       map[string]string // the container's environment
	uid, gid  int               // runAsUser, runAsGroup
	fsGroup   int
	mounts    map[string]string // volume name -> mountPath
	tokenFile string            // the projected token's path in its volume
}

func readManifest(t *testing.T, path string) pod {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	type kv struct {
		Name      string
		Value     string
		MountPath string `yaml:"mountPath"`
	}
	var p pod
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc struct {
			Kind string
			Data map[string]string
			Spec struct {
				Template struct {
					Spec struct {
						SecurityContext struct {
							RunAsUser  int `yaml:"runAsUser"`
							RunAsGroup int `yaml:"runAsGroup"`
							FSGroup    int `yaml:"fsGroup"`
						} `yaml:"securityContext"`
						Containers []struct {
							Env          []kv
							VolumeMounts []kv `yaml:"volumeMounts"`
						}
						Volumes []struct {
							Name      string
							Projected struct {
								Sources []struct {
									ServiceAccountToken struct{ Path string } `yaml:"serviceAccountToken"`
								}
							}
						}
					}
				}
			}
		}
		if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		switch doc.Kind {
		case "ConfigMap":
			p.contracts = doc.Data
		case "Deployment":
			s := doc.Spec.Template.Spec
			sc := s.SecurityContext
			p.uid, p.gid, p.fsGroup = sc.RunAsUser, sc.RunAsGroup, sc.FSGroup
			if len(s.Containers) != 1 {
				t.Fatalf("%s: want one container", path)
			}
			p.env, p.mounts = map[string]string{}, map[string]string{}
			for _, e := range s.Containers[0].Env {
				p.env[e.Name] = e.Value
			}
			for _, m := range s.Containers[0].VolumeMounts {
				p.mounts[m.Name] = m.MountPath
			}
			for _, v := range s.Volumes {
				for _, src := range v.Projected.Sources {
					if src.ServiceAccountToken.Path != "" {
						p.tokenFile = filepath.Join(p.mounts[v.Name], src.ServiceAccountToken.Path)
					}
				}
			}
		}
	}
	if p.uid == 0 || len(p.contracts) == 0 || p.tokenFile == "" || p.env["INFISICAL_AUTH_METHOD"] != "kubernetes" {
		t.Fatalf("%s: want a non-root Deployment with Kubernetes auth, a projected token and a ConfigMap of contracts: %+v", path, p)
	}
	if p.env["INFISICAL_KUBERNETES_TOKEN_PATH"] != p.tokenFile {
		t.Fatalf("%s: INFISICAL_KUBERNETES_TOKEN_PATH %q is not the projected token %q", path, p.env["INFISICAL_KUBERNETES_TOKEN_PATH"], p.tokenFile)
	}
	return p
}

// atomicDir writes files the way the kubelet writes a ConfigMap or a
// projected volume: into a hidden timestamped folder, ..data a symlink to
// it, and each file a symlink through ..data.
func atomicDir(t *testing.T, dir string, files map[string]string, mode os.FileMode, uid, gid int) {
	t.Helper()
	ts := "..2026_12_01_08_00_00.123456789"
	if err := os.MkdirAll(filepath.Join(dir, ts), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		p := filepath.Join(dir, ts, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(p, uid, gid); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(filepath.Join("..data", name), filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(ts, filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
}

// TestKubernetesDeployment: the example Deployment starts as its
// non-root user and logs in with the projected token; a token that user
// cannot read fails the start with one line that says so.
func TestKubernetesDeployment(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("laying out files for another user needs root, as CI is")
	}
	needProgram(t, "setpriv")
	p := readManifest(t, "../examples/kubernetes/deployment.yaml")
	jwt := "eyJhbGciOiJSUzI1NiJ9." + canaryToken + ".sig"

	seed := exampleSeed(t)
	seed.Project = p.env["INFISICAL_PROJECT_ID"]
	seed.Environments = map[string]infisicaltest.SeedEnvironment{p.env["INFISICAL_ENVIRONMENT"]: seed.Environments["dev"]}
	seed.Identities = nil // this pod has no client secret to log in with
	svc, err := NewService(t.TempDir(), nil, seed, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)
	svc.Server.AddKubernetesIdentity(p.env["INFISICAL_IDENTITY_ID"], jwt)

	for _, c := range []struct {
		name     string
		mode     os.FileMode
		uid, gid int // the token file's owner
		fsGroup  bool
		ok       bool
	}{
		{"token owned by runAsUser (every container has it)", 0o600, p.uid, p.gid, false, true},
		{"token group-readable for fsGroup", 0o640, 0, p.fsGroup, true, true},
		{"token root-owned 0600", 0o600, 0, 0, false, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			// The pod's root filesystem: nothing the pod's user may write.
			root := t.TempDir()
			for _, d := range []string{filepath.Dir(root), root} {
				os.Chmod(d, 0o755)
			}
			under := func(path string) string { return filepath.Join(root, path) }
			data, err := os.ReadFile(bin)
			if err != nil {
				t.Fatal(err)
			}
			os.MkdirAll(under("/usr/local/bin"), 0o755)
			if err := os.WriteFile(under("/usr/local/bin/secret-init"), data, 0o755); err != nil {
				t.Fatal(err)
			}
			os.MkdirAll(under("/app"), 0o755)
			atomicDir(t, under(p.mounts["contracts"]), p.contracts, 0o644, 0, 0)
			atomicDir(t, under(filepath.Dir(p.tokenFile)), map[string]string{filepath.Base(p.tokenFile): jwt + "\n"}, c.mode, c.uid, c.gid)

			var env []string
			for k, v := range p.env {
				switch k {
				case "INFISICAL_ADDR":
					v = svc.Server.URL
				case "INFISICAL_KUBERNETES_TOKEN_PATH", "SECRET_INIT_CONTRACTS":
					v = under(v)
				}
				env = append(env, k+"="+v)
			}
			wrap := []string{"setpriv", fmt.Sprintf("--reuid=%d", p.uid), fmt.Sprintf("--regid=%d", p.gid), "--clear-groups"}
			if c.fsGroup {
				wrap = []string{"setpriv", fmt.Sprintf("--reuid=%d", p.uid), fmt.Sprintf("--regid=%d", p.gid), fmt.Sprintf("--groups=%d", p.fsGroup)}
			}
			svc.Server.ResetCounts()
			r := Run(t, Spec{
				Bin: under("/usr/local/bin/secret-init"), Wrap: wrap, PID1: true, Dir: under("/app"),
				Env:  cleanEnv(append(env, "SECRET_INIT_LOG_FORMAT=json")...),
				Args: []string{"--", "sh", "-c", `echo "uid=$(id -u) stripe=${#STRIPE_API_KEY} valkey=${#VALKEY_PASSWORD}"`},
			})
			if !c.ok {
				clearError(t, r, r.Stdout != "", 125, "INFISICAL_KUBERNETES_TOKEN_PATH", "permission denied", under(p.tokenFile),
					fmt.Sprintf("uid %d, gid %d cannot read it", p.uid, p.gid), "runAsUser", "fsGroup")
				wantCount(t, svc.Server, "POST", "/api/v1/auth/", 0, "no token was read: no login")
				return
			}
			wantCode(t, r, 0)
			want := fmt.Sprintf("uid=%d stripe=%d valkey=%d\n", p.uid, len("sk_test_example"), len("example-valkey-pw"))
			if r.Stdout != want {
				t.Errorf("the service printed %q, want %q; stderr: %s", r.Stdout, want, r.Stderr)
			}
			wantCount(t, svc.Server, "POST", "/api/v1/auth/kubernetes-auth/login", 1, "one Kubernetes login")
			if strings.Contains(r.Stderr, `"level":"warn"`) && !strings.Contains(r.Stderr, "SLACK_CHANNEL_ID") {
				t.Errorf("a warning other than the optional SLACK_CHANNEL_ID:\n%s", r.Stderr)
			}
		})
	}
}
