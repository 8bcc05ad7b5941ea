package cryptogram

import (
	"bytes"
	"crypto/hpke"
	"encoding/base64"
	"fmt"
	"strconv"
	"sync"
)

// HPKE algorithm identifiers (RFC 9180 §7 and draft-ietf-hpke-pq).
const (
	KEMMLKEM768X25519    uint16 = 0x647a // ML-KEM-768 + X25519, a.k.a. X-Wing
	KDFHKDFSHA256        uint16 = 0x0001
	AEADChaCha20Poly1305 uint16 = 0x0003
)

// Suite is an HPKE cipher suite: the identifiers of its KEM, KDF and AEAD.
type Suite struct {
	KEM, KDF, AEAD uint16
}

// DefaultSuite returns the suite of format v1 and the only one this version
// supports: X-Wing (ML-KEM-768 + X25519, post-quantum and classical at once),
// HKDF-SHA256 and ChaCha20-Poly1305.
//
// ChaCha20-Poly1305 rather than AES-256-GCM because the sealing side runs as
// WebAssembly, which has no AES instructions: Go's AES fallback there is
// table-based and not constant-time, while ChaCha20-Poly1305 is constant-time
// in plain Go and faster in software. Both are 256-bit and both are linked
// by crypto/hpke anyway, so the choice costs no binary size; on the server
// the payload is ~100 bytes and the KEM dominates either way.
func DefaultSuite() Suite {
	return Suite{KEM: KEMMLKEM768X25519, KDF: KDFHKDFSHA256, AEAD: AEADChaCha20Poly1305}
}

// String returns the algorithm names ("MLKEM768-X25519/HKDF-SHA256/ChaCha20-Poly1305"),
// or the hexadecimal ids of unknown ones.
func (s Suite) String() string {
	name := func(id uint16, known uint16, n string) string {
		if id == known {
			return n
		}
		return "0x" + strconv.FormatUint(uint64(id), 16)
	}
	return name(s.KEM, KEMMLKEM768X25519, "MLKEM768-X25519") + "/" +
		name(s.KDF, KDFHKDFSHA256, "HKDF-SHA256") + "/" +
		name(s.AEAD, AEADChaCha20Poly1305, "ChaCha20-Poly1305")
}

// supported reports whether the suite is one this package can seal and open.
func (s Suite) supported() bool { return s == DefaultSuite() }

func (s Suite) appendTo(b []byte) []byte {
	return append(b, byte(s.KEM>>8), byte(s.KEM), byte(s.KDF>>8), byte(s.KDF), byte(s.AEAD>>8), byte(s.AEAD))
}

func suiteFrom(b []byte) Suite {
	return Suite{
		KEM:  uint16(b[0])<<8 | uint16(b[1]),
		KDF:  uint16(b[2])<<8 | uint16(b[3]),
		AEAD: uint16(b[4])<<8 | uint16(b[5]),
	}
}

// The HPKE algorithms of DefaultSuite.
func kem() hpke.KEM   { return hpke.MLKEM768X25519() }
func kdf() hpke.KDF   { return hpke.HKDFSHA256() }
func aead() hpke.AEAD { return hpke.ChaCha20Poly1305() }

// MaxKeyIDLen is the longest key id.
const MaxKeyIDLen = 64

// checkKeyID accepts 1–64 ASCII letters, digits and "_-.".
func checkKeyID(id string) error {
	if len(id) == 0 || len(id) > MaxKeyIDLen {
		return wrap(ErrInvalidKey, "key id must be 1..64 characters")
	}
	for i := 0; i < len(id); i++ {
		switch c := id[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-', c == '.':
		default:
			return wrap(ErrInvalidKey, "key id may hold only letters, digits and _-.")
		}
	}
	return nil
}

// PublicKeyPrefix starts the text form of a PublicKey.
const PublicKeyPrefix = "altynpk1_"

// formatVersion is the version byte of packets, public and private keys.
const formatVersion = 1

// PublicKey is what the widget fetches to seal cryptograms: the key id, the
// suite and the KEM public key (1216 bytes for X-Wing).
type PublicKey struct {
	KeyID string
	Suite Suite
	Key   []byte
}

// MarshalText implements encoding.TextMarshaler: "altynpk1_" followed by the
// unpadded base64url of version (1 byte, 1), suite (6 bytes: KEM, KDF, AEAD
// ids, big-endian), key id length (1 byte), key id, key bytes.
func (p PublicKey) MarshalText() ([]byte, error) {
	if err := checkKeyID(p.KeyID); err != nil {
		return nil, err
	}
	raw := make([]byte, 0, 8+len(p.KeyID)+len(p.Key))
	raw = append(raw, formatVersion)
	raw = p.Suite.appendTo(raw)
	raw = append(raw, byte(len(p.KeyID)))
	raw = append(raw, p.KeyID...)
	raw = append(raw, p.Key...)
	out := make([]byte, len(PublicKeyPrefix)+b64.EncodedLen(len(raw)))
	copy(out, PublicKeyPrefix)
	b64.Encode(out[len(PublicKeyPrefix):], raw)
	return out, nil
}

// String returns the text form, or "" if the key id is invalid.
func (p PublicKey) String() string {
	b, _ := p.MarshalText()
	return string(b)
}

// UnmarshalText implements encoding.TextUnmarshaler with ParsePublicKey.
func (p *PublicKey) UnmarshalText(text []byte) error {
	k, err := ParsePublicKey(string(text))
	if err != nil {
		return err
	}
	*p = k
	return nil
}

// ParsePublicKey parses the text form made by MarshalText. It returns
// ErrInvalidKey for a malformed key and ErrUnsupportedSuite for a suite this
// version cannot seal with.
func ParsePublicKey(s string) (PublicKey, error) {
	if len(s) < len(PublicKeyPrefix) || s[:len(PublicKeyPrefix)] != PublicKeyPrefix || len(s) > 8192 {
		return PublicKey{}, wrap(ErrInvalidKey, "not an altyn public key")
	}
	raw, err := b64.DecodeString(s[len(PublicKeyPrefix):])
	if err != nil {
		return PublicKey{}, wrap(ErrInvalidKey, "bad base64url")
	}
	if len(raw) < 9 || raw[0] != formatVersion {
		return PublicKey{}, wrap(ErrInvalidKey, "unknown format")
	}
	p := PublicKey{Suite: suiteFrom(raw[1:7])}
	n := int(raw[7])
	if len(raw) < 8+n {
		return PublicKey{}, wrap(ErrInvalidKey, "truncated")
	}
	p.KeyID = string(raw[8 : 8+n])
	if err := checkKeyID(p.KeyID); err != nil {
		return PublicKey{}, err
	}
	p.Key = raw[8+n:]
	if _, err := p.hpkeKey(); err != nil {
		return PublicKey{}, err
	}
	return p, nil
}

// hpkeKey checks the key id and suite and parses the key bytes.
func (p PublicKey) hpkeKey() (hpke.PublicKey, error) {
	if err := checkKeyID(p.KeyID); err != nil {
		return nil, err
	}
	if !p.Suite.supported() {
		return nil, wrap(ErrUnsupportedSuite, p.Suite.String())
	}
	k, err := kem().NewPublicKey(p.Key)
	if err != nil {
		return nil, wrap(ErrInvalidKey, "bad "+p.Suite.String()+" public key")
	}
	return k, nil
}

// PrivateKey is a cryptogram key pair with its key id. It prints and logs as
// its key id only.
type PrivateKey struct {
	keyID string
	suite Suite
	key   hpke.PrivateKey
}

// GenerateKey makes a new key pair of DefaultSuite. The key id names it in
// every packet sealed to it: 1–64 ASCII letters, digits and "_-."
// (e.g. "k_20261123_ab12"). It must be unique among the keys of a KeyRing.
func GenerateKey(keyID string) (*PrivateKey, error) {
	if err := checkKeyID(keyID); err != nil {
		return nil, err
	}
	k, err := kem().GenerateKey()
	if err != nil {
		return nil, wrapCause("cryptogram: generate key", err)
	}
	return &PrivateKey{keyID: keyID, suite: DefaultSuite(), key: k}, nil
}

// KeyID returns the key id.
func (k *PrivateKey) KeyID() string { return k.keyID }

// Public returns the public key to publish to the widget.
func (k *PrivateKey) Public() PublicKey {
	return PublicKey{KeyID: k.keyID, Suite: k.suite, Key: k.key.PublicKey().Bytes()}
}

// MarshalBinary serialises the private key for the key store, which must wrap
// it with the master key: version (1 byte, 1), suite (6 bytes), key id length
// (1 byte), key id, the KEM private key (the 32-byte X-Wing seed).
func (k *PrivateKey) MarshalBinary() ([]byte, error) {
	secret, err := k.key.Bytes()
	if err != nil {
		return nil, wrapCause("cryptogram: serialise key "+k.keyID, err)
	}
	b := make([]byte, 0, 8+len(k.keyID)+len(secret))
	b = append(b, formatVersion)
	b = k.suite.appendTo(b)
	b = append(b, byte(len(k.keyID)))
	b = append(b, k.keyID...)
	// append copies: hpke returns its own seed slice.
	return append(b, secret...), nil
}

// ParsePrivateKey parses the output of MarshalBinary. It returns
// ErrInvalidKey or ErrUnsupportedSuite.
func ParsePrivateKey(b []byte) (*PrivateKey, error) {
	if len(b) < 9 || b[0] != formatVersion {
		return nil, wrap(ErrInvalidKey, "unknown private key format")
	}
	s := suiteFrom(b[1:7])
	if !s.supported() {
		return nil, wrap(ErrUnsupportedSuite, s.String())
	}
	n := int(b[7])
	if len(b) < 8+n {
		return nil, wrap(ErrInvalidKey, "truncated private key")
	}
	id := string(b[8 : 8+n])
	if err := checkKeyID(id); err != nil {
		return nil, err
	}
	k, err := kem().NewPrivateKey(bytes.Clone(b[8+n:]))
	if err != nil {
		return nil, wrap(ErrInvalidKey, "bad "+s.String()+" private key "+id)
	}
	return &PrivateKey{keyID: id, suite: s, key: k}, nil
}

// String returns "cryptogram.PrivateKey(<key id>)": never the key.
func (k PrivateKey) String() string { return "cryptogram.PrivateKey(" + k.keyID + ")" }

// Format implements fmt.Formatter so that no verb prints the key material.
func (k PrivateKey) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(k.String())) }

// KeyRing holds the private keys a server opens cryptograms with. Keys are
// found by the key id in the packet, so the widget may still hold an older
// public key while a newer one is published (rotation). A retired key id no
// longer opens anything. A KeyRing is safe for concurrent use.
type KeyRing struct {
	mu      sync.RWMutex
	keys    map[string]*PrivateKey
	retired map[string]bool
}

// NewKeyRing returns a key ring holding the keys.
func NewKeyRing(keys ...*PrivateKey) *KeyRing {
	r := &KeyRing{keys: make(map[string]*PrivateKey), retired: make(map[string]bool)}
	for _, k := range keys {
		r.Add(k)
	}
	return r
}

// Add adds a key, replacing a key of the same id. Adding a key does not undo
// Retire of its id.
func (r *KeyRing) Add(k *PrivateKey) {
	if k == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.keys[k.keyID] = k
}

// Retire stops the key id from opening cryptograms: Open then returns
// ErrRetiredKey for it, whether or not the ring holds the key.
func (r *KeyRing) Retire(keyID string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.retired[keyID] = true
	delete(r.keys, keyID)
}

// lookup returns the key, or ErrRetiredKey or ErrUnknownKey.
func (r *KeyRing) lookup(keyID string) (*PrivateKey, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.retired[keyID] {
		return nil, ErrRetiredKey
	}
	if k := r.keys[keyID]; k != nil {
		return k, nil
	}
	return nil, ErrUnknownKey
}

// b64 is unpadded base64url; Strict rejects non-zero trailing bits, and
// decode refuses the CR and LF it would skip, so that every packet has
// exactly one text form.
var b64 = base64.RawURLEncoding.Strict()
