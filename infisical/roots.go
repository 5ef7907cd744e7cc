package infisical

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"secret-init/parallel"
)

// The places crypto/x509 reads the system roots from on Linux
// (root_linux.go): the first bundle file that exists, then every file of
// every directory. SSL_CERT_FILE and SSL_CERT_DIR override them, as there.
var (
	rootFiles = []string{
		"/etc/ssl/certs/ca-certificates.crt",
		"/etc/pki/tls/certs/ca-bundle.crt",
		"/etc/ssl/ca-bundle.pem",
		"/etc/pki/tls/cacert.pem",
		"/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
		"/etc/ssl/cert.pem",
	}
	rootDirs = []string{"/etc/ssl/certs", "/etc/pki/tls/certs"}
)

// sharedRoots loads the system roots once per process: WarmRoots starts
// it early, newTransport waits for it.
var sharedRoots = sync.OnceValue(systemRoots)

// WarmRoots starts loading the system roots in the background. A start
// against an https address calls it as soon as it knows the address, so
// that the roots load while the contracts are read, not after. A panic
// there is left for newTransport's call, which the once repeats it to.
func WarmRoots() {
	go func() {
		defer func() { recover() }()
		sharedRoots()
	}()
}

// systemRoots builds the same pool as x509.SystemCertPool on Linux, at a
// fraction of the cost, for every start against an https address.
//
// crypto/x509 parses every certificate it meets, and on Debian-like
// systems it meets each root twice or three times: in the bundle, in
// /etc/ssl/certs/*.pem, and in the bundle again (it sits in that
// directory). Measured here: 35 ms, more than a round trip to Infisical.
// This loader reads the same files, skips a certificate whose DER bytes it
// has already seen (the pool de-duplicates by the same hash, so the result
// is the same set), and parses the rest on every core. It returns nil when
// it finds nothing, and the caller then leaves RootCAs to crypto/x509.
func systemRoots() *x509.CertPool {
	files := rootFiles
	if f := os.Getenv("SSL_CERT_FILE"); f != "" {
		files = []string{f}
	}
	// The first bundle that reads, as crypto/x509 takes it.
	var bundle string
	var bundleBlocks [][]byte
	for _, f := range files {
		if data, err := os.ReadFile(f); err == nil {
			bundle, bundleBlocks = f, certBlocks(data)
			break
		}
	}
	var paths []string
	dirs := rootDirs
	if d := os.Getenv("SSL_CERT_DIR"); d != "" {
		dirs = strings.Split(d, ":")
	}
	for _, dir := range dirs {
		entries, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range entries {
			p := dir + "/" + e.Name()
			// The hash links of c_rehash are read through their target;
			// the bundle itself often sits in the folder and was read.
			if sameDirSymlink(e, dir) || p == bundle {
				continue
			}
			paths = append(paths, p)
		}
	}

	// Read and decode on every core; each file's blocks keep its place, so
	// that the merge below is deterministic.
	found := make([][][]byte, len(paths))
	parallel.For(len(paths), runtime.GOMAXPROCS(0), func(i int) {
		if data, err := os.ReadFile(paths[i]); err == nil {
			found[i] = certBlocks(data)
		}
	})
	var ders [][]byte
	seen := map[[sha256.Size224]byte]bool{}
	for _, blocks := range append([][][]byte{bundleBlocks}, found...) {
		for _, der := range blocks {
			sum := sha256.Sum224(der)
			if !seen[sum] {
				seen[sum] = true
				ders = append(ders, der)
			}
		}
	}
	if len(ders) == 0 {
		return nil
	}

	certs := make([]*x509.Certificate, len(ders))
	parallel.For(len(ders), runtime.GOMAXPROCS(0), func(i int) {
		if c, err := x509.ParseCertificate(ders[i]); err == nil {
			certs[i] = c // an unparsable block is skipped, as x509 does
		}
	})
	pool := x509.NewCertPool()
	added := 0
	for _, c := range certs {
		if c != nil {
			pool.AddCert(c)
			added++
		}
	}
	if added == 0 {
		return nil
	}
	return pool
}

// certBlocks returns the DER bytes of the blocks AppendCertsFromPEM takes.
func certBlocks(data []byte) [][]byte {
	var out [][]byte
	for len(data) > 0 {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type == "CERTIFICATE" && len(b.Headers) == 0 {
			out = append(out, b.Bytes)
		}
	}
	return out
}

// sameDirSymlink is crypto/x509's isSameDirSymlink: a symlink whose target
// has no slash points at another entry of the same directory.
func sameDirSymlink(e fs.DirEntry, dir string) bool {
	if e.Type()&fs.ModeSymlink == 0 {
		return false
	}
	target, err := os.Readlink(filepath.Join(dir, e.Name()))
	return err == nil && !strings.Contains(target, "/")
}
