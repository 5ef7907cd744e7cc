package infisical

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// sameAsX509 reports whether our pool holds exactly what crypto/x509's
// system pool holds, in this process's environment.
func sameAsX509() (bool, string) {
	want, err := x509.SystemCertPool()
	if err != nil {
		return false, "x509.SystemCertPool: " + err.Error()
	}
	got := systemRoots()
	if got == nil {
		//lint:ignore SA1019 Subjects is fine for a pool we built
		n := len(want.Subjects())
		return n == 0, fmt.Sprintf("ours found nothing, x509 found %d", n)
	}
	//lint:ignore SA1019 as above
	return got.Equal(want), fmt.Sprintf("ours %d subjects, x509 %d", len(got.Subjects()), len(want.Subjects()))
}

// TestSystemRootsMatchX509 compares with crypto/x509 on this machine's
// real roots.
func TestSystemRootsMatchX509(t *testing.T) {
	if ok, why := sameAsX509(); !ok {
		t.Errorf("system roots differ from crypto/x509's: %s", why)
	}
}

func selfSignedPEM(t *testing.T, cn string) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// TestSystemRootsLayouts builds the layouts crypto/x509 must handle
// (duplicates between bundle and folder, c_rehash links, files that are
// not certificates, blocks with headers) and compares in a fresh process
// each, since crypto/x509 reads SSL_CERT_FILE and SSL_CERT_DIR only once.
func TestSystemRootsLayouts(t *testing.T) {
	if os.Getenv("ROOTS_HELPER") == "1" {
		return // the helper run is TestRootsHelper
	}
	a, b, c := selfSignedPEM(t, "A"), selfSignedPEM(t, "B"), selfSignedPEM(t, "C")
	withHeader := []byte(strings.Replace(string(selfSignedPEM(t, "H")), "-----BEGIN CERTIFICATE-----\n", "-----BEGIN CERTIFICATE-----\nProc-Type: 4,ENCRYPTED\n\n", 1))
	dir := t.TempDir()
	certs := filepath.Join(dir, "certs")
	other := filepath.Join(dir, "other")
	os.MkdirAll(certs, 0o755)
	os.MkdirAll(other, 0o755)
	bundle := filepath.Join(dir, "bundle.crt")
	os.WriteFile(bundle, append(append([]byte{}, a...), b...), 0o644)
	os.WriteFile(filepath.Join(certs, "a.pem"), a, 0o644)
	os.WriteFile(filepath.Join(certs, "c.pem"), c, 0o644)
	os.Symlink("c.pem", filepath.Join(certs, "abcd1234.0"))
	os.WriteFile(filepath.Join(other, "h.pem"), append(withHeader, []byte("not pem at all\n")...), 0o644)
	os.WriteFile(filepath.Join(other, "README"), []byte("hello\n"), 0o644)
	os.Symlink(bundle, filepath.Join(certs, "bundle-link.crt"))

	for _, env := range [][]string{
		{"SSL_CERT_FILE=" + bundle, "SSL_CERT_DIR=" + certs},
		{"SSL_CERT_FILE=" + bundle, "SSL_CERT_DIR=" + certs + ":" + other},
		{"SSL_CERT_FILE=" + filepath.Join(dir, "missing"), "SSL_CERT_DIR=" + other},
		{"SSL_CERT_FILE=" + filepath.Join(dir, "missing"), "SSL_CERT_DIR=" + filepath.Join(dir, "none")},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestRootsHelper$", "-test.count=1")
		cmd.Env = append(append(os.Environ(), "ROOTS_HELPER=1"), env...)
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "ROOTS SAME") {
			t.Errorf("%v: %v\n%s", env, err, out)
		}
	}
}

// TestRootsHelper runs in the child of TestSystemRootsLayouts.
func TestRootsHelper(t *testing.T) {
	if os.Getenv("ROOTS_HELPER") != "1" {
		return
	}
	ok, why := sameAsX509()
	if !ok {
		fmt.Println("ROOTS DIFFER:", why)
		t.FailNow()
	}
	fmt.Println("ROOTS SAME:", why)
}
