package vault

import (
	"bytes"
	"errors"
	"path/filepath"
	"testing"
)

func TestWrapUnwrap(t *testing.T) {
	t.Parallel()
	k, _, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	other, _, _ := Generate()
	secret := []byte("sk_live_very_secret")
	w := k.Wrap(secret, "merchant-secret:mer_1")
	if bytes.Contains(w, secret) {
		t.Fatal("wrapped value contains the secret in clear")
	}
	got, err := k.Unwrap(w, "merchant-secret:mer_1")
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("Unwrap = %q, %v; want %q", got, err, secret)
	}
	for name, fn := range map[string]func() ([]byte, error){
		"other purpose":    func() ([]byte, error) { return k.Unwrap(w, "merchant-secret:mer_2") },
		"other master key": func() ([]byte, error) { return other.Unwrap(w, "merchant-secret:mer_1") },
		"truncated":        func() ([]byte, error) { return k.Unwrap(w[:10], "merchant-secret:mer_1") },
		"flipped byte": func() ([]byte, error) {
			c := bytes.Clone(w)
			c[len(c)-1] ^= 1
			return k.Unwrap(c, "merchant-secret:mer_1")
		},
	} {
		if _, err := fn(); !errors.Is(err, ErrUnwrap) {
			t.Errorf("%s: got %v, want ErrUnwrap", name, err)
		}
	}
}

func TestLoadOrCreateFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "sub", "master.key")
	k1, created, err := LoadOrCreateFile(path)
	if err != nil || !created {
		t.Fatalf("first load: created=%v err=%v; want a new key", created, err)
	}
	k2, created, err := LoadOrCreateFile(path)
	if err != nil || created {
		t.Fatalf("second load: created=%v err=%v; want the stored key", created, err)
	}
	got, err := k2.Unwrap(k1.Wrap([]byte("x"), "p"), "p")
	if err != nil || string(got) != "x" {
		t.Fatalf("key from file does not unwrap what the first made: %q %v", got, err)
	}
	if _, err := Parse("not base64!"); err == nil {
		t.Error("Parse accepted garbage")
	}
}

func TestEnvelope(t *testing.T) {
	t.Parallel()
	k, _, _ := Generate()
	pan := []byte("4000000000003055")
	sealed, wrapped, err := k.SealEnvelope(pan, "token:tok_1")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, pan) || bytes.Contains(wrapped, pan) {
		t.Fatal("envelope holds the data in clear")
	}
	got, err := k.OpenEnvelope(sealed, wrapped, "token:tok_1")
	if err != nil || !bytes.Equal(got, pan) {
		t.Fatalf("OpenEnvelope = %q, %v", got, err)
	}
	if _, err := k.OpenEnvelope(sealed, wrapped, "token:tok_2"); !errors.Is(err, ErrUnwrap) {
		t.Errorf("envelope opened for another purpose: %v", err)
	}
	if !bytes.Equal(k.MAC("fp", pan), k.MAC("fp", pan)) || bytes.Equal(k.MAC("fp", pan), k.MAC("other", pan)) {
		t.Error("MAC is not a stable, purpose-bound fingerprint")
	}
}
