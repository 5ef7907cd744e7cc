package resolve

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"secret-init/dotenv"
	"secret-init/infisical"
	"secret-init/smallfile"
)

// defaultKubernetesTokenPath is where Kubernetes mounts the service-account token.
const defaultKubernetesTokenPath = "/var/run/secrets/kubernetes.io/serviceaccount/token"

// Bootstrap holds the settings secret-init needs to reach Infisical. They
// come from the process environment, then .env, never from Infisical
// itself. Every field but Addr, ProjectID and Environment is a credential:
// none of them is ever logged or put in an error.
type Bootstrap struct {
	Addr         string // INFISICAL_ADDR; empty means passthrough
	ProjectID    string // INFISICAL_PROJECT_ID
	Environment  string // INFISICAL_ENVIRONMENT, default "dev"
	ClientID     string // INFISICAL_CLIENT_ID (universal auth)
	ClientSecret string // INFISICAL_CLIENT_SECRET
	Token        string // INFISICAL_TOKEN: an access token, no login
	AuthMethod   string // INFISICAL_AUTH_METHOD: "" (universal or token) or "kubernetes"
	IdentityID   string // INFISICAL_IDENTITY_ID (kubernetes auth)
	K8sTokenPath string // INFISICAL_KUBERNETES_TOKEN_PATH
	FallbackKey  string // SECRET_INIT_FALLBACK_KEY: what the fallback file's key is derived from
}

// BootstrapKeys are the variables the bootstrap settings are read from.
var BootstrapKeys = []string{
	"INFISICAL_ADDR", "INFISICAL_PROJECT_ID", "INFISICAL_ENVIRONMENT",
	"INFISICAL_CLIENT_ID", "INFISICAL_CLIENT_SECRET", "INFISICAL_TOKEN",
	"INFISICAL_AUTH_METHOD", "INFISICAL_IDENTITY_ID", "INFISICAL_KUBERNETES_TOKEN_PATH",
}

// Credentials are the bootstrap settings that let a process act as the
// machine identity, and the fallback file's key: --drop-bootstrap keeps
// them from the command.
var Credentials = []string{"INFISICAL_CLIENT_ID", "INFISICAL_CLIENT_SECRET", "INFISICAL_TOKEN", "SECRET_INIT_FALLBACK_KEY"}

// readBootstrap reads the bootstrap settings, process environment first.
func readBootstrap(proc []string, d *dotenv.File) Bootstrap {
	get := func(k string) string {
		v, _ := lookup(proc, d, k)
		return strings.TrimSpace(v)
	}
	b := Bootstrap{
		Addr:         get("INFISICAL_ADDR"),
		ProjectID:    get("INFISICAL_PROJECT_ID"),
		Environment:  get("INFISICAL_ENVIRONMENT"),
		ClientID:     get("INFISICAL_CLIENT_ID"),
		ClientSecret: get("INFISICAL_CLIENT_SECRET"),
		Token:        get("INFISICAL_TOKEN"),
		AuthMethod:   strings.ToLower(get("INFISICAL_AUTH_METHOD")),
		IdentityID:   get("INFISICAL_IDENTITY_ID"),
		K8sTokenPath: get("INFISICAL_KUBERNETES_TOKEN_PATH"),
		FallbackKey:  get("SECRET_INIT_FALLBACK_KEY"),
	}
	if b.Environment == "" {
		b.Environment = "dev"
	}
	if b.K8sTokenPath == "" {
		b.K8sTokenPath = defaultKubernetesTokenPath
	}
	return b
}

// ReadBootstrap reads the bootstrap settings from proc, then d, as a
// start does: for a command that picks its own file, or leaves some keys
// of it out.
func ReadBootstrap(proc []string, d *dotenv.File) Bootstrap { return readBootstrap(proc, d) }

// errNoCredentials says INFISICAL_ADDR is set but nothing to log in with.
var errNoCredentials = errors.New("INFISICAL_ADDR is set but no credentials are: set INFISICAL_CLIENT_ID and INFISICAL_CLIENT_SECRET, or INFISICAL_TOKEN, or INFISICAL_AUTH_METHOD=kubernetes with INFISICAL_IDENTITY_ID")

// Check reports what is missing for a prefetch, before any network I/O.
func (b Bootstrap) Check() error {
	if b.ProjectID == "" {
		return errors.New("INFISICAL_ADDR is set but INFISICAL_PROJECT_ID is not")
	}
	switch b.AuthMethod {
	case "", "universal-auth", "universal":
		if b.Token == "" && (b.ClientID == "" || b.ClientSecret == "") {
			return errNoCredentials
		}
	case "kubernetes":
		if b.IdentityID == "" {
			return errors.New("INFISICAL_AUTH_METHOD=kubernetes needs INFISICAL_IDENTITY_ID")
		}
	case "token":
		if b.Token == "" {
			return errors.New("INFISICAL_AUTH_METHOD=token needs INFISICAL_TOKEN")
		}
	default:
		// Not echoed, like every bootstrap value that may be misplaced.
		return errors.New("INFISICAL_AUTH_METHOD is not one of universal-auth, token, kubernetes")
	}
	return nil
}

// HTTPS reports whether Infisical is reached over TLS.
func (b Bootstrap) HTTPS() bool { return strings.HasPrefix(strings.ToLower(b.Addr), "https://") }

// SafeAddr is the address for a message: where it points, no credential.
func (b Bootstrap) SafeAddr() string { return safeAddr(b.Addr) }

// Ref says which Infisical, project and environment a run talks to.
func (b Bootstrap) Ref() *InfisicalRef {
	return &InfisicalRef{Addr: b.SafeAddr(), ProjectID: b.ProjectID, Environment: b.Environment}
}

// Caps on the files the bootstrap settings point at. A CA bundle of every
// public root is about 200 KiB; a service-account token is a JWT of a
// few KiB. Anything larger is a wrong path, and must not be read whole.
const (
	MaxCACert          = 1 << 20
	MaxKubernetesToken = 64 << 10
)

// Client makes the Infisical client of the run: its address, project and
// environment, caCert (--ca-cert) trusted beside the system's roots, and
// trace (nil: none) told of every request. The CA file is read within
// ctx. Its errors are usage errors.
func (b Bootstrap) Client(ctx context.Context, caCert string, trace func(infisical.Exchange)) (*infisical.Client, error) {
	var pem []byte
	if caCert != "" {
		var err error
		if pem, err = smallfile.Read(ctx, caCert, MaxCACert); err != nil {
			return nil, &UsageError{fmt.Errorf("--ca-cert %s: %w", caCert, err)}
		}
	}
	c, err := infisical.New(infisical.Config{Addr: b.Addr, ProjectID: b.ProjectID, Environment: b.Environment, CACert: pem, Trace: trace})
	if errors.Is(err, infisical.ErrNoCertificate) {
		err = fmt.Errorf("--ca-cert %s: %w", caCert, err)
	}
	if err != nil {
		return nil, &UsageError{err}
	}
	return c, nil
}

// Login authenticates c the way the bootstrap settings say. Every
// credential the settings hold is scrubbed from c's errors, used or not.
// A service-account token file that cannot be read is a *UsageError: the
// settings are wrong, Infisical has not been asked.
func (b Bootstrap) Login(ctx context.Context, c *infisical.Client) error {
	c.Redact(b.ClientSecret, b.Token, b.ClientID, b.FallbackKey)
	switch {
	case b.AuthMethod == "kubernetes":
		jwt, err := b.kubernetesToken(ctx)
		if err != nil {
			return err
		}
		return c.LoginKubernetes(ctx, b.IdentityID, jwt)
	case b.usesToken():
		c.SetToken(b.Token)
		return nil
	default:
		return c.LoginUniversal(ctx, b.ClientID, b.ClientSecret)
	}
}

// usesToken says the settings log in with INFISICAL_TOKEN rather than the
// universal-auth client ID and secret.
func (b Bootstrap) usesToken() bool {
	return b.AuthMethod != "kubernetes" && b.Token != "" && (b.AuthMethod == "token" || b.ClientID == "" || b.ClientSecret == "")
}

// kubernetesToken reads the service-account token, within ctx.
func (b Bootstrap) kubernetesToken(ctx context.Context) (string, error) {
	where := "INFISICAL_KUBERNETES_TOKEN_PATH " + b.K8sTokenPath
	data, err := smallfile.Read(ctx, b.K8sTokenPath, MaxKubernetesToken)
	if errors.Is(err, fs.ErrPermission) {
		// The kubelet makes a projected token root-owned 0600 unless every
		// container of the pod runs as one runAsUser, or the pod has an
		// fsGroup.
		return "", &UsageError{fmt.Errorf("%s: %w (uid %d, gid %d cannot read it: give every container of the pod the same runAsUser, or set the pod's fsGroup)", where, err, os.Getuid(), os.Getgid())}
	}
	if err != nil {
		return "", &UsageError{fmt.Errorf("%s: %w", where, err)}
	}
	jwt := strings.TrimSpace(string(data))
	if jwt == "" {
		return "", &UsageError{fmt.Errorf("%s: the file is empty", where)}
	}
	return jwt, nil
}
