// Package fallback keeps the values of secret-init's last complete fetch
// from Infisical in a file, so that a start while Infisical is down can
// use them: encrypted with AES-256-GCM under a key derived with
// HKDF-SHA256 from a secret the caller holds, and bound (as the cipher's
// associated data) to the Infisical address, project, environment,
// service and declared keys it was written for.
//
// The file is a header in the clear, then the ciphertext:
//
//	magic "secret-init-fallback\n", format version (1 byte),
//	salt (16), nonce (12), key id (16),
//	SHA-256 of each bound field: address, project, environment, service, keys (5 × 32),
//	AES-256-GCM(JSON {fetched_at, secrets[{key, value, folder, version}]}).
//
// The header is authenticated with the binding: a changed byte anywhere
// fails to decrypt. The digests and the key id let a refusal say why (a
// file for another service, another key) without decrypting anything.
package fallback

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"secret-init/atomicfile"
	"secret-init/smallfile"
)

// MaxSize caps the file, written and read: as much as one folder's answer
// may be, which no real set of declared keys comes near.
const MaxSize = 8 << 20

const (
	magic       = "secret-init-fallback\n"
	formatV1    = 1
	saltSize    = 16
	nonceSize   = 12
	keyIDSize   = 16
	digestSize  = sha256.Size
	boundFields = 5
	headerSize  = len(magic) + 1 + saltSize + nonceSize + keyIDSize + boundFields*digestSize
)

// HKDF info strings: one key for the cipher, one for the key id, from the
// same secret and salt.
const (
	infoKey   = "secret-init fallback file v1: AES-256-GCM key"
	infoKeyID = "secret-init fallback file v1: key id"
)

// Binding is what a file belongs to. Keys are the declared keys (and the
// --path folders, as "--path FOLDER"); their order does not matter.
type Binding struct {
	Addr, Project, Environment, Service string
	Keys                                []string
}

// fields is the binding in the order of the header's digests, each with
// the name a refusal gives it.
func (b Binding) fields() [boundFields]struct{ name, value string } {
	keys := slices.Clone(b.Keys)
	slices.Sort(keys)
	keys = slices.Compact(keys)
	var enc bytes.Buffer
	for _, k := range keys {
		writeString(&enc, k)
	}
	return [boundFields]struct{ name, value string }{
		{"Infisical address (INFISICAL_ADDR)", b.Addr},
		{"project (INFISICAL_PROJECT_ID)", b.Project},
		{"environment (INFISICAL_ENVIRONMENT)", b.Environment},
		{"service (--service)", b.Service},
		{"set of declared keys (the contracts, --path)", enc.String()},
	}
}

// associated is the binding as the cipher authenticates it: each field
// length-prefixed, so that no two bindings encode alike.
func (b Binding) associated() []byte {
	var buf bytes.Buffer
	buf.WriteString("secret-init fallback binding v1\x00")
	for _, f := range b.fields() {
		writeString(&buf, f.value)
	}
	return buf.Bytes()
}

func writeString(buf *bytes.Buffer, s string) {
	buf.Write(binary.AppendUvarint(nil, uint64(len(s))))
	buf.WriteString(s)
}

func digest(i int, value string) []byte {
	h := sha256.New()
	fmt.Fprintf(h, "secret-init fallback field %d\x00", i)
	h.Write([]byte(value))
	return h.Sum(nil)
}

// Entry is one value taken from Infisical.
type Entry struct {
	Key     string `json:"key"`
	Value   string `json:"value"`
	Folder  string `json:"folder"`
	Version int    `json:"version,omitempty"`
}

// Snapshot is what a file holds: the values of one complete fetch and
// when it was made.
type Snapshot struct {
	FetchedAt time.Time `json:"fetched_at"`
	Entries   []Entry   `json:"secrets"`
}

// Age is how long ago the values were fetched, never less than zero (a
// file written by a clock ahead of this one).
func (s *Snapshot) Age(now time.Time) time.Duration {
	return max(now.Sub(s.FetchedAt), 0)
}

// ErrRefused matches (errors.Is) every reason a file is not used: not
// ours, truncated, altered, for another binding, another key.
var ErrRefused = errors.New("fallback file refused")

// refused says why a file is not used, without anything of its content.
type refused struct{ why string }

func (e *refused) Error() string        { return e.why }
func (e *refused) Is(target error) bool { return target == ErrRefused }

func refuse(format string, args ...any) error { return &refused{fmt.Sprintf(format, args...)} }

// keys derives the cipher key and the key id from secret and salt.
func keys(secret, salt []byte) (key, id []byte, err error) {
	if len(secret) == 0 {
		return nil, nil, errors.New("no key material")
	}
	if key, err = hkdf.Key(sha256.New, secret, salt, infoKey, 32); err != nil {
		return nil, nil, err
	}
	if id, err = hkdf.Key(sha256.New, secret, salt, infoKeyID, keyIDSize); err != nil {
		return nil, nil, err
	}
	return key, id, nil
}

// Seal encrypts s for b under a key derived from secret. random is the
// source of the salt and nonce (crypto/rand.Reader but in tests).
func Seal(secret []byte, b Binding, s Snapshot, random io.Reader) ([]byte, error) {
	plain, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	header := make([]byte, 0, headerSize)
	header = append(header, magic...)
	header = append(header, formatV1)
	salt := make([]byte, saltSize)
	nonce := make([]byte, nonceSize)
	if _, err := io.ReadFull(random, salt); err != nil {
		return nil, err
	}
	if _, err := io.ReadFull(random, nonce); err != nil {
		return nil, err
	}
	key, id, err := keys(secret, salt)
	if err != nil {
		return nil, err
	}
	header = append(append(append(header, salt...), nonce...), id...)
	for i, f := range b.fields() {
		header = append(header, digest(i, f.value)...)
	}
	aead, err := gcm(key)
	if err != nil {
		return nil, err
	}
	out := aead.Seal(header, nonce, plain, append(slices.Clip(header), b.associated()...))
	if len(out) > MaxSize {
		return nil, fmt.Errorf("%d bytes, more than the %d MiB a fallback file may hold", len(out), MaxSize>>20)
	}
	return out, nil
}

func gcm(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// Open decrypts data, a file Seal made for b under secret. Every refusal
// matches ErrRefused and says why in words that hold nothing of the file.
func Open(secret []byte, b Binding, data []byte) (*Snapshot, error) {
	if len(data) < len(magic)+1 || string(data[:len(magic)]) != magic {
		if len(data) == 0 {
			return nil, refuse("the file is empty")
		}
		return nil, refuse("not a secret-init fallback file")
	}
	if v := data[len(magic)]; v != formatV1 {
		return nil, refuse("format version %d, which this secret-init does not read", v)
	}
	if len(data) < headerSize+16 {
		return nil, refuse("truncated (%d bytes, shorter than any fallback file)", len(data))
	}
	header, sealed := data[:headerSize], data[headerSize:]
	p := len(magic) + 1
	salt := header[p : p+saltSize]
	p += saltSize
	nonce := header[p : p+nonceSize]
	p += nonceSize
	id := header[p : p+keyIDSize]
	p += keyIDSize
	for i, f := range b.fields() {
		if !bytes.Equal(header[p:p+digestSize], digest(i, f.value)) {
			return nil, refuse("written for another %s", f.name)
		}
		p += digestSize
	}
	key, wantID, err := keys(secret, salt)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(id, wantID) {
		return nil, refuse("encrypted with another key (SECRET_INIT_FALLBACK_KEY, or the client secret or access token it is derived from, changed since the file was written)")
	}
	aead, err := gcm(key)
	if err != nil {
		return nil, err
	}
	plain, err := aead.Open(nil, nonce, sealed, append(slices.Clip(header), b.associated()...))
	if err != nil {
		return nil, refuse("does not decrypt: the file was altered or damaged")
	}
	var s Snapshot
	if err := json.Unmarshal(plain, &s); err != nil || s.FetchedAt.IsZero() {
		return nil, refuse("decrypts, but its content is not a snapshot")
	}
	return &s, nil
}

// Write seals s and puts it at path atomically, mode 0600, within ctx.
func Write(ctx context.Context, path string, secret []byte, b Binding, s Snapshot) error {
	data, err := Seal(secret, b, s, rand.Reader)
	if err != nil {
		return err
	}
	return atomicfile.Write(ctx, path, data, 0o600)
}

// Read reads the file at path (a regular file of at most MaxSize, within
// ctx) and opens it. A missing file is an error matching fs.ErrNotExist.
func Read(ctx context.Context, path string, secret []byte, b Binding) (*Snapshot, error) {
	data, err := smallfile.Read(ctx, path, MaxSize)
	if err != nil {
		return nil, err
	}
	return Open(secret, b, data)
}
