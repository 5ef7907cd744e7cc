package fallback_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"secret-init/fallback"
)

const canary = "CANARY-fallback-value-4e1b"

var (
	secret  = []byte("client-secret-of-the-identity")
	binding = fallback.Binding{
		Addr: "https://infisical.example", Project: "p-1", Environment: "prod", Service: "billing",
		Keys: []string{"POSTGRES_DSN", "STRIPE_API_KEY", "--path /extra"},
	}
	snapshot = fallback.Snapshot{
		FetchedAt: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC),
		Entries: []fallback.Entry{
			{Key: "POSTGRES_DSN", Value: "postgres://u:" + canary + "@db/x", Folder: "/shared/db", Version: 3},
			{Key: "STRIPE_API_KEY", Value: canary, Folder: "/services/billing/env", Version: 1},
			{Key: "MULTI", Value: "line one\nline \"two\" " + canary, Folder: "/extra"},
		},
	}
)

func seal(t *testing.T, secret []byte, b fallback.Binding) []byte {
	t.Helper()
	data, err := fallback.Seal(secret, b, snapshot, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestRoundTrip(t *testing.T) {
	data := seal(t, secret, binding)
	// The declared keys are a set: another order is the same binding.
	b := binding
	b.Keys = []string{"--path /extra", "STRIPE_API_KEY", "POSTGRES_DSN", "POSTGRES_DSN"}
	got, err := fallback.Open(secret, b, data)
	if err != nil {
		t.Fatal(err)
	}
	if !got.FetchedAt.Equal(snapshot.FetchedAt) || len(got.Entries) != len(snapshot.Entries) {
		t.Fatalf("opened %+v", got)
	}
	for i, e := range got.Entries {
		if e != snapshot.Entries[i] {
			t.Errorf("entry %d: %+v, want %+v", i, e, snapshot.Entries[i])
		}
	}
	// Two seals of the same snapshot differ (salt and nonce are fresh).
	if bytes.Equal(data, seal(t, secret, binding)) {
		t.Error("two files of the same values are byte for byte equal")
	}
}

// TestNoValueInClear: no value, whole or in part, in any common encoding.
func TestNoValueInClear(t *testing.T) {
	data := seal(t, secret, binding)
	for _, form := range []string{canary, "CANARY", base64.StdEncoding.EncodeToString([]byte(canary)), hex.EncodeToString([]byte(canary)), "postgres://", "line one"} {
		if bytes.Contains(data, []byte(form)) || bytes.Contains(bytes.ToLower(data), bytes.ToLower([]byte(form))) {
			t.Errorf("the file holds %q in the clear", form)
		}
	}
	if bytes.Contains(data, secret) {
		t.Error("the file holds the key material")
	}
}

// TestRefusedForAnotherBinding: a file for another address, project,
// environment, service or key set is refused, naming which.
func TestRefusedForAnotherBinding(t *testing.T) {
	data := seal(t, secret, binding)
	cases := []struct {
		name   string
		change func(b *fallback.Binding)
		want   string
	}{
		{"address", func(b *fallback.Binding) { b.Addr = "https://other.example" }, "another Infisical address"},
		{"project", func(b *fallback.Binding) { b.Project = "p-2" }, "another project"},
		{"environment", func(b *fallback.Binding) { b.Environment = "staging" }, "another environment"},
		{"service", func(b *fallback.Binding) { b.Service = "shipping" }, "another service"},
		{"no service", func(b *fallback.Binding) { b.Service = "" }, "another service"},
		{"a key more", func(b *fallback.Binding) { b.Keys = append(b.Keys, "NEW_KEY") }, "another set of declared keys"},
		{"a key less", func(b *fallback.Binding) { b.Keys = b.Keys[1:] }, "another set of declared keys"},
		{"another --path", func(b *fallback.Binding) { b.Keys = []string{"POSTGRES_DSN", "STRIPE_API_KEY", "--path /other"} }, "another set of declared keys"},
		// Length prefixes: moving a boundary between two keys is another set.
		{"keys run together", func(b *fallback.Binding) { b.Keys = []string{"POSTGRES_DSNSTRIPE_API_KEY", "--path /extra"} }, "another set of declared keys"},
	}
	for _, c := range cases {
		b := binding
		b.Keys = append([]string(nil), binding.Keys...)
		c.change(&b)
		_, err := fallback.Open(secret, b, data)
		if !errors.Is(err, fallback.ErrRefused) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want a refusal saying %q", c.name, err, c.want)
		}
	}
}

func TestRefusedWrongKey(t *testing.T) {
	data := seal(t, secret, binding)
	_, err := fallback.Open([]byte("another-secret"), binding, data)
	if !errors.Is(err, fallback.ErrRefused) || !strings.Contains(err.Error(), "another key") {
		t.Fatalf("%v, want a refusal naming the key", err)
	}
}

// TestRefusedAnyByteChanged: a flipped bit at any position of the file,
// header or ciphertext, and the file is refused; nothing of it is in the
// error.
func TestRefusedAnyByteChanged(t *testing.T) {
	data := seal(t, secret, binding)
	for i := range data {
		for _, bit := range []byte{0x01, 0x80} {
			bad := bytes.Clone(data)
			bad[i] ^= bit
			_, err := fallback.Open(secret, binding, bad)
			if !errors.Is(err, fallback.ErrRefused) {
				t.Fatalf("byte %d ^ %#x: %v, want a refusal", i, bit, err)
			}
			if strings.Contains(err.Error(), "CANARY") {
				t.Fatalf("byte %d: the error holds a value: %v", i, err)
			}
		}
	}
}

func TestRefusedTruncatedOrForeign(t *testing.T) {
	data := seal(t, secret, binding)
	for n := 0; n < len(data); n += 1 + n/8 {
		if _, err := fallback.Open(secret, binding, data[:n]); !errors.Is(err, fallback.ErrRefused) {
			t.Fatalf("cut to %d of %d bytes: %v, want a refusal", n, len(data), err)
		}
	}
	for name, c := range map[string]struct {
		data []byte
		want string
	}{
		"empty":          {nil, "empty"},
		"JSON":           {[]byte(`{"POSTGRES_DSN":"x"}`), "not a secret-init fallback file"},
		"newer format":   {append([]byte("secret-init-fallback\n\x02"), data[22:]...), "format version 2"},
		"one byte added": {append(bytes.Clone(data), 0), "altered or damaged"},
	} {
		_, err := fallback.Open(secret, binding, c.data)
		if !errors.Is(err, fallback.ErrRefused) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want a refusal saying %q", name, err, c.want)
		}
	}
}

func TestWriteRead(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "fallback.enc")
	ctx := context.Background()
	if _, err := fallback.Read(ctx, path, secret, binding); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: %v, want fs.ErrNotExist", err)
	}
	if err := fallback.Write(ctx, path, secret, binding, snapshot); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	got, err := fallback.Read(ctx, path, secret, binding)
	if err != nil || len(got.Entries) != 3 {
		t.Fatalf("read back: %v, %v", got, err)
	}
	// Not a regular file: refused before a byte is read.
	if _, err := fallback.Read(ctx, dir, secret, binding); err == nil || !strings.Contains(err.Error(), "directory") {
		t.Errorf("a directory: %v", err)
	}
}

func TestAge(t *testing.T) {
	s := fallback.Snapshot{FetchedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	if got := s.Age(s.FetchedAt.Add(90 * time.Minute)); got != 90*time.Minute {
		t.Errorf("age %v", got)
	}
	if got := s.Age(s.FetchedAt.Add(-time.Hour)); got != 0 {
		t.Errorf("a file from a clock ahead: age %v, want 0", got)
	}
}
