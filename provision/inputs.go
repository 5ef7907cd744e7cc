package provision

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"secret-init/contracts"
	"secret-init/dotenv"
	"secret-init/resolve"
)

// envFile is a .env that provision writes an identity's credentials into,
// as it was read.
type envFile struct {
	path string
	data []byte
	*dotenv.File
}

// inputs are what a run reads before it talks to Infisical.
type inputs struct {
	bootstrap  resolve.Bootstrap
	identities []*identity
	folders    []string // the skeleton, in each environment
}

// otherCredentials are the settings that make a file log in as some
// other identity than the one provision writes there, or in another way:
// a file provision writes must not hold them.
var otherCredentials = []string{"INFISICAL_TOKEN", "INFISICAL_AUTH_METHOD", "INFISICAL_IDENTITY_ID", "INFISICAL_KUBERNETES_TOKEN_PATH"}

func readInputs(o resolve.Options, po Options, proc []string) (*inputs, error) {
	if err := po.check(); err != nil {
		return nil, &resolve.UsageError{Err: err}
	}
	out, err := resolve.ReadInputs(o, proc)
	if err != nil {
		return nil, err
	}
	if err := out.ReadContracts(o, proc); err != nil {
		return nil, err
	}
	in := &inputs{folders: skeleton(out.Plan)}
	runtime := &identity{name: po.RuntimeName, role: RuntimeRole, label: "read-only", flag: "--runtime-name"}
	admin := &identity{name: po.AdminName, role: AdminRole, label: "read-write", flag: "--admin-name"}
	if runtime.file, err = readEnvFile(po.RuntimeEnvFile); err != nil {
		return nil, err
	}
	if po.AdminEnvFile != "" {
		if admin.file, err = readEnvFile(po.AdminEnvFile); err != nil {
			return nil, err
		}
	}
	in.identities = []*identity{runtime, admin}

	// The credentials of this run never come from a file it writes: there
	// they are the runtime's or the admin's (which cannot provision), and
	// a second run would log in as whoever the first wrote in.
	d, writes := out.Dotenv, ""
	for _, f := range []string{po.RuntimeEnvFile, po.AdminEnvFile} {
		if f != "" && sameFile(o.EnvFile, f) {
			writes = f
		}
	}
	if writes != "" {
		kept := &dotenv.File{Path: d.Path, Values: map[string]string{}}
		for _, k := range d.Keys {
			if !slices.Contains(resolve.Credentials, k) {
				kept.Keys = append(kept.Keys, k)
				kept.Values[k] = d.Values[k]
			}
		}
		d = kept
	}
	in.bootstrap = resolve.ReadBootstrap(proc, d)
	b := in.bootstrap
	if b.Addr == "" {
		return nil, &resolve.UsageError{Err: errors.New("provision needs INFISICAL_ADDR (in the environment or in --env-file)")}
	}
	if err := b.Check(); err != nil {
		if writes != "" {
			err = fmt.Errorf("%w; provision does not log in with the credentials in %s, the file it writes an identity's credentials into: give those of an identity that administers the project in the environment, or with --env-file", err, writes)
		}
		return nil, &resolve.UsageError{Err: err}
	}
	return in, nil
}

func (po Options) check() error {
	switch {
	case strings.TrimSpace(po.RuntimeName) == "":
		return errors.New("--runtime-name is empty")
	case strings.TrimSpace(po.AdminName) == "":
		return errors.New("--admin-name is empty")
	case po.RuntimeName == po.AdminName:
		return fmt.Errorf("--runtime-name and --admin-name are both %q: the two identities need two names", po.RuntimeName)
	case po.RuntimeEnvFile == "":
		return errors.New("--runtime-env-file is empty")
	case po.AdminEnvFile != "" && sameFile(po.RuntimeEnvFile, po.AdminEnvFile):
		return fmt.Errorf("--runtime-env-file and --admin-env-file are both %s: one file holds one identity's credentials", po.AdminEnvFile)
	}
	for _, e := range po.Environments {
		if strings.TrimSpace(e) == "" {
			return errors.New("--environments holds an empty name")
		}
	}
	return nil
}

// readEnvFile reads a file provision is to write; a missing one is empty.
// A file that logs in some other way is refused: whoever reads it would
// not use the credentials written there.
func readEnvFile(path string) (*envFile, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &envFile{path: path, File: &dotenv.File{Path: path, Values: map[string]string{}}}, nil
	}
	if err != nil {
		return nil, &resolve.UsageError{Err: fmt.Errorf("env file %s: %w", path, err)}
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, dotenv.MaxSize+1))
	if err != nil {
		return nil, &resolve.UsageError{Err: fmt.Errorf("env file %s: %w", path, err)}
	}
	if len(data) > dotenv.MaxSize {
		return nil, &resolve.UsageError{Err: fmt.Errorf("env file %s: larger than %d bytes; a .env holds bootstrap settings only", path, dotenv.MaxSize)}
	}
	d, err := dotenv.Parse(path, data)
	if err != nil {
		return nil, &resolve.UsageError{Err: err}
	}
	for _, k := range otherCredentials {
		if d.Values[k] != "" {
			return nil, &resolve.UsageError{Err: fmt.Errorf("%s holds %s: provision writes a machine identity's universal-auth credentials there, and the file must hold no other way to log in; move %s to the environment or to another file", path, k, k)}
		}
	}
	return &envFile{path: path, data: data, File: d}, nil
}

// sameFile reports whether a and b name one file: the same inode when
// both exist, else the same absolute path.
func sameFile(a, b string) bool {
	sa, errA := os.Stat(a)
	sb, errB := os.Stat(b)
	if errA == nil && errB == nil {
		return os.SameFile(sa, sb)
	}
	absA, err1 := filepath.Abs(a)
	absB, err2 := filepath.Abs(b)
	return err1 == nil && err2 == nil && absA == absB
}

// skeleton is every folder a start may ask for a declared key
// (/shared/<transport> and, with a service, /services/<slug>/<transport>
// for each transport the contracts use), and the env folders, sorted.
func skeleton(p *resolve.Plan) []string {
	set := map[string]bool{"/shared/" + contracts.EnvFolder: true}
	if p.Service != "" {
		set["/services/"+p.Service+"/"+contracts.EnvFolder] = true
	}
	for _, n := range p.Needs {
		for _, f := range n.Folders {
			set[f] = true
		}
	}
	out := make([]string, 0, len(set))
	for f := range set {
		out = append(out, f)
	}
	sort.Strings(out)
	return out
}
