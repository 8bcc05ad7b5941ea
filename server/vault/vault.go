// Package vault wraps altyn's secrets — merchants' API secrets, cryptogram
// private keys, later the data keys of saved cards — with the master key, so
// the database never holds them in clear.
//
// Wrapping is AES-256-GCM with a random 96-bit nonce; the purpose of a secret
// (e.g. "merchant-secret:mer_…") is bound as additional data, so a wrapped
// value copied into another row does not unwrap there.
package vault

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// version prefixes every wrapped value so the format can change later.
const version byte = 1

// ErrUnwrap: the value was not wrapped by this master key for this purpose.
var ErrUnwrap = errors.New("vault: cannot unwrap (wrong master key or purpose, or corrupted)")

// MasterKey is the 256-bit key that wraps every stored secret.
type MasterKey struct {
	aead cipher.AEAD
	raw  []byte
}

// New makes a MasterKey from 32 bytes.
func New(key []byte) (*MasterKey, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("vault: master key must be 32 bytes, got %d", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &MasterKey{aead: aead, raw: bytes.Clone(key)}, nil
}

// Parse reads a master key written as standard or URL-safe base64.
func Parse(s string) (*MasterKey, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return New(b)
		}
	}
	return nil, errors.New("vault: master key is not base64")
}

// Generate makes a new random master key and returns it with its base64 text.
func Generate() (*MasterKey, string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, "", err
	}
	k, err := New(b)
	return k, base64.StdEncoding.EncodeToString(b), err
}

// LoadOrCreateFile reads the master key from path, or — when the file does
// not exist — generates one and writes it there with mode 0600. created says
// which happened, so the caller can say so loudly.
func LoadOrCreateFile(path string) (k *MasterKey, created bool, err error) {
	b, err := os.ReadFile(path)
	if err == nil {
		k, err := Parse(string(b))
		return k, false, err
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, false, err
	}
	k, text, err := Generate()
	if err != nil {
		return nil, false, err
	}
	// 0755: the embedded PostgreSQL's user must enter the data folder; the
	// key file itself is 0600.
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, false, err
	}
	if err := os.WriteFile(path, []byte(text+"\n"), 0o600); err != nil {
		return nil, false, err
	}
	return k, true, nil
}

// Derive returns a 32-byte key for one purpose (e.g. the sandbox's 3-D Secure
// signatures), derived with HKDF-SHA256 so it reveals nothing of the master key.
func (k *MasterKey) Derive(purpose string) []byte {
	b, err := hkdf.Key(sha256.New, k.raw, nil, "altyn "+purpose, 32)
	if err != nil {
		panic("vault: hkdf: " + err.Error()) // only for lengths out of range
	}
	return b
}

// Wrap encrypts secret for the given purpose.
func (k *MasterKey) Wrap(secret []byte, purpose string) []byte {
	out := make([]byte, 1, 1+k.aead.NonceSize()+len(secret)+k.aead.Overhead())
	out[0] = version
	nonce := make([]byte, k.aead.NonceSize())
	rand.Read(nonce) // crypto/rand.Read never fails (Go ≥ 1.24)
	out = append(out, nonce...)
	return k.aead.Seal(out, nonce, secret, []byte(purpose))
}

// Unwrap decrypts a value made by Wrap with the same purpose.
func (k *MasterKey) Unwrap(wrapped []byte, purpose string) ([]byte, error) {
	n := k.aead.NonceSize()
	if len(wrapped) < 1+n+k.aead.Overhead() || wrapped[0] != version {
		return nil, ErrUnwrap
	}
	plain, err := k.aead.Open(nil, wrapped[1:1+n], wrapped[1+n:], []byte(purpose))
	if err != nil {
		return nil, ErrUnwrap
	}
	return plain, nil
}

// SealEnvelope encrypts data with a fresh 256-bit data key (AES-256-GCM) and
// wraps that key with the master key: rotating the master key then means
// re-wrapping small keys, not re-encrypting data.
func (k *MasterKey) SealEnvelope(data []byte, purpose string) (sealed, wrappedKey []byte, err error) {
	dk := make([]byte, 32)
	rand.Read(dk)
	defer clear(dk)
	inner, err := New(dk)
	if err != nil {
		return nil, nil, err
	}
	return inner.Wrap(data, purpose), k.Wrap(dk, "data-key:"+purpose), nil
}

// OpenEnvelope decrypts what SealEnvelope made for the same purpose.
func (k *MasterKey) OpenEnvelope(sealed, wrappedKey []byte, purpose string) ([]byte, error) {
	dk, err := k.Unwrap(wrappedKey, "data-key:"+purpose)
	if err != nil {
		return nil, err
	}
	defer clear(dk)
	inner, err := New(dk)
	if err != nil {
		return nil, err
	}
	return inner.Unwrap(sealed, purpose)
}

// MAC returns HMAC-SHA256 of data under a key derived for purpose: a stable
// fingerprint that reveals nothing of data without the master key.
func (k *MasterKey) MAC(purpose string, data []byte) []byte {
	m := hmac.New(sha256.New, k.Derive(purpose))
	m.Write(data)
	return m.Sum(nil)
}
