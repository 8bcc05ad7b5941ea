package cryptogram

import (
	"bytes"
	"crypto/hpke"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

const testMerchant = "pk_c3a1e9f0d7b24e0b8a7f6e5d4c3b2a19"

// fixedKey returns a key pair derived from a fixed seed, so that packets in
// testdata keep opening.
func fixedKey(t testing.TB, keyID string, seed byte) *PrivateKey {
	t.Helper()
	b := []byte{formatVersion}
	b = DefaultSuite().appendTo(b)
	b = append(b, byte(len(keyID)))
	b = append(b, keyID...)
	b = append(b, bytes.Repeat([]byte{seed}, 32)...)
	k, err := ParsePrivateKey(b)
	if err != nil {
		t.Fatalf("ParsePrivateKey: %v", err)
	}
	return k
}

var (
	sharedKeyOnce sync.Once
	sharedKey     *PrivateKey
)

// testKey returns one generated key shared by the tests.
func testKey(t testing.TB) *PrivateKey {
	t.Helper()
	sharedKeyOnce.Do(func() {
		k, err := GenerateKey("k_20261123_ab12")
		if err != nil {
			panic(err)
		}
		sharedKey = k
	})
	return sharedKey
}

func testCard(pan string) Card {
	cvv := "123"
	if DetectBrand(pan) == BrandAmex {
		cvv = "1234"
	}
	return Card{PAN: pan, ExpMonth: 12, ExpYear: 2029, CVV: cvv, Name: "IVAN PETROV"}
}

func mustSeal(t testing.TB, pub PublicKey, merchant string, c Card, opts SealOptions) string {
	t.Helper()
	if opts.Now.IsZero() {
		opts.Now = testNow
	}
	p, err := Seal(pub, merchant, c, opts)
	if err != nil {
		t.Fatalf("Seal(%v): %v", c, err)
	}
	return p
}

func TestSuiteIDs(t *testing.T) {
	t.Parallel()
	s := DefaultSuite()
	if got := hpke.MLKEM768X25519().ID(); got != s.KEM {
		t.Errorf("X-Wing id = %#x, want %#x", got, s.KEM)
	}
	if got := hpke.HKDFSHA256().ID(); got != s.KDF {
		t.Errorf("HKDF-SHA256 id = %#x, want %#x", got, s.KDF)
	}
	if got := hpke.ChaCha20Poly1305().ID(); got != s.AEAD {
		t.Errorf("ChaCha20-Poly1305 id = %#x, want %#x", got, s.AEAD)
	}
	if got, want := s.String(), "MLKEM768-X25519/HKDF-SHA256/ChaCha20-Poly1305"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if got, want := (Suite{KEM: 0x20, KDF: 1, AEAD: 2}).String(), "0x20/HKDF-SHA256/0x2"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	key := testKey(t)
	ring := NewKeyRing(key)
	binding := &Binding{Amount: 150000, Currency: "RUB", InvoiceID: "inv_1234"}
	for _, tc := range testCards {
		for _, bound := range []bool{false, true} {
			name := tc.pan + "/" + string(tc.brand)
			if bound {
				name += "/bound"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				card := testCard(tc.pan)
				opts := SealOptions{}
				if bound {
					opts.Binding = binding
				}
				packet := mustSeal(t, key.Public(), testMerchant, card, opts)
				if !strings.HasPrefix(packet, PacketPrefix) {
					t.Errorf("packet %.20q does not start with %q", packet, PacketPrefix)
				}
				got, err := ring.Open(packet, testMerchant, OpenOptions{Now: testNow.Add(time.Minute), Binding: binding})
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				if got.Card != card {
					t.Errorf("Open card = %#v, want %#v", got.Card, card)
				}
				if got.Card.Brand() != tc.brand {
					t.Errorf("Open brand = %q, want %q", got.Card.Brand(), tc.brand)
				}
				if !got.CreatedAt.Equal(testNow) {
					t.Errorf("CreatedAt = %v, want %v", got.CreatedAt, testNow)
				}
				if got.KeyID != key.KeyID() {
					t.Errorf("KeyID = %q, want %q", got.KeyID, key.KeyID())
				}
				if bound {
					if got.Binding == nil || *got.Binding != *binding {
						t.Errorf("Binding = %+v, want %+v", got.Binding, binding)
					}
				} else if got.Binding != nil {
					t.Errorf("Binding = %+v, want nil", got.Binding)
				}
				raw, _ := b64.DecodeString(strings.TrimPrefix(packet, PacketPrefix))
				if got.Digest != sha256.Sum256(raw) {
					t.Errorf("Digest = %x, want SHA-256 of the packet bytes", got.Digest)
				}
			})
		}
	}
}

func TestRoundTripWithoutOptionalFields(t *testing.T) {
	t.Parallel()
	key := testKey(t)
	ring := NewKeyRing(key)
	tests := []struct {
		name string
		card Card
		opts SealOptions
	}{
		{"no name", Card{PAN: "4242424242424242", ExpMonth: 1, ExpYear: 2027, CVV: "000"}, SealOptions{}},
		{"maestro without cvv", Card{PAN: "6759649826438453", ExpMonth: 1, ExpYear: 2027}, SealOptions{}},
		{"payout without cvv", Card{PAN: "2200000000000004", ExpMonth: 1, ExpYear: 2027}, SealOptions{CVVOptional: true}},
		{"longest name and invoice", Card{PAN: "4242424242424242", ExpMonth: 1, ExpYear: 2027, CVV: "000", Name: strings.Repeat("A", MaxNameLen)},
			SealOptions{Binding: &Binding{Amount: 0, Currency: "USD", InvoiceID: strings.Repeat("é", 127)}}},
		{"nonce from a reader", Card{PAN: "4242424242424242", ExpMonth: 1, ExpYear: 2027, CVV: "000"}, SealOptions{Rand: bytes.NewReader(make([]byte, 16))}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			packet := mustSeal(t, key.Public(), testMerchant, tc.card, tc.opts)
			got, err := ring.Open(packet, testMerchant, OpenOptions{Now: testNow, Binding: tc.opts.Binding})
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if got.Card != tc.card {
				t.Errorf("Open card = %#v, want %#v", got.Card, tc.card)
			}
		})
	}
}

// TestTamper changes every byte of a packet, and every character of its
// text, and checks that none of the results opens.
func TestTamper(t *testing.T) {
	t.Parallel()
	key := testKey(t)
	ring := NewKeyRing(key)
	binding := &Binding{Amount: 100, Currency: "RUB", InvoiceID: "inv_1"}
	packet := mustSeal(t, key.Public(), testMerchant, testCard("4242424242424242"), SealOptions{Binding: binding})
	opts := OpenOptions{Now: testNow, Binding: binding}
	if _, err := ring.Open(packet, testMerchant, opts); err != nil {
		t.Fatalf("Open of the untouched packet: %v", err)
	}
	raw, err := b64.DecodeString(strings.TrimPrefix(packet, PacketPrefix))
	if err != nil {
		t.Fatal(err)
	}
	open := func(b []byte) error {
		_, err := ring.Open(PacketPrefix+b64.EncodeToString(b), testMerchant, opts)
		return err
	}
	for i := range raw {
		for _, x := range []byte{0x01, 0x80, 0xff} {
			b := bytes.Clone(raw)
			b[i] ^= x
			if err := open(b); err == nil || !isSentinel(err) {
				t.Fatalf("byte %d ^ %#x: Open error = %v, want one of the sentinel errors", i, x, err)
			}
		}
	}
	for n := range len(raw) {
		if err := open(raw[:n]); !isSentinel(err) {
			t.Fatalf("truncated to %d bytes: Open error = %v, want a sentinel", n, err)
		}
	}
	if err := open(append(bytes.Clone(raw), 0)); !errors.Is(err, ErrDecrypt) {
		t.Errorf("one byte appended: Open error = %v, want ErrDecrypt", err)
	}
	// The text: every character replaced by another of the alphabet.
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for i := range len(packet) {
		c := packet[i]
		r := alphabet[(strings.IndexByte(alphabet, c)+1)%len(alphabet)]
		changed := packet[:i] + string(r) + packet[i+1:]
		if _, err := ring.Open(changed, testMerchant, opts); err == nil || !isSentinel(err) {
			t.Fatalf("character %d %q→%q: Open error = %v, want a sentinel", i, c, r, err)
		}
	}
	for _, changed := range []string{
		packet + "A", packet[:len(packet)-1], " " + packet, packet + "\n",
		packet[:100] + "\n" + packet[100:], packet[:100] + "=" + packet[100:],
		strings.ToUpper(packet[:len(PacketPrefix)]) + packet[len(PacketPrefix):],
	} {
		if _, err := ring.Open(changed, testMerchant, opts); err == nil {
			t.Errorf("Open(%.40q...) succeeded, want an error", changed)
		}
	}
}

func isSentinel(err error) bool {
	for _, s := range []error{ErrMalformed, ErrUnknownKey, ErrRetiredKey, ErrUnsupportedSuite, ErrWrongMerchant,
		ErrTooOld, ErrFromFuture, ErrDecrypt, ErrBindingMismatch, ErrInvalidMerchantID} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// rawPacket seals with a header and payload of our own making, to reach the
// checks that Seal never lets a packet fail.
func rawPacket(t *testing.T, pub PublicKey, s Suite, merchant string, p payload) string {
	t.Helper()
	pk, err := pub.hpkeKey()
	if err != nil {
		t.Fatal(err)
	}
	hdr := appendHeader(nil, s, pub.KeyID, MerchantTag(merchant))
	ct, err := hpke.Seal(pk, kdf(), aead(), info(hdr, merchant), p.marshal())
	if err != nil {
		t.Fatal(err)
	}
	return PacketPrefix + b64.EncodeToString(append(hdr, ct...))
}

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	key := testKey(t)
	other := fixedKey(t, "k_other", 7)
	sameID := fixedKey(t, key.KeyID(), 8) // a different key with the same id
	retired := fixedKey(t, "k_retired", 9)
	ring := NewKeyRing(key, retired)
	ring.Retire(retired.KeyID())
	card := testCard("5555555555554444")
	bound := &Binding{Amount: 150000, Currency: "RUB", InvoiceID: "inv_1"}
	seal := func(pub PublicKey, opts SealOptions) string { return mustSeal(t, pub, testMerchant, card, opts) }
	good := seal(key.Public(), SealOptions{})
	boundPacket := seal(key.Public(), SealOptions{Binding: bound})
	badSuite := rawPacket(t, key.Public(), Suite{KEM: KEMMLKEM768X25519, KDF: KDFHKDFSHA256, AEAD: 0x0002}, testMerchant, payload{card: card, created: testNow.UnixMilli()})
	badPayload := rawPacket(t, key.Public(), DefaultSuite(), testMerchant, payload{card: Card{PAN: "4242424242424241", ExpMonth: 12, ExpYear: 2029}, created: testNow.UnixMilli()})
	raw, _ := b64.DecodeString(strings.TrimPrefix(good, PacketPrefix))
	version2 := PacketPrefix + b64.EncodeToString(append([]byte{2}, raw[1:]...))
	tests := []struct {
		name     string
		packet   string
		merchant string
		opts     OpenOptions
		want     error
	}{
		{"ok", good, testMerchant, OpenOptions{Now: testNow}, nil},
		{"empty", "", testMerchant, OpenOptions{Now: testNow}, ErrMalformed},
		{"prefix only", PacketPrefix, testMerchant, OpenOptions{Now: testNow}, ErrMalformed},
		{"not base64url", PacketPrefix + "!!!!", testMerchant, OpenOptions{Now: testNow}, ErrMalformed},
		{"padded base64", good + "==", testMerchant, OpenOptions{Now: testNow}, ErrMalformed},
		{"cloudpayments packet", "eyJUeXBlIjoiQ2xvdWRDYXJkIn0=", testMerchant, OpenOptions{Now: testNow}, ErrMalformed},
		{"too long", PacketPrefix + strings.Repeat("A", MaxPacketLen), testMerchant, OpenOptions{Now: testNow}, ErrMalformed},
		{"version 2", version2, testMerchant, OpenOptions{Now: testNow}, ErrMalformed},
		{"unsupported suite", badSuite, testMerchant, OpenOptions{Now: testNow}, ErrUnsupportedSuite},
		{"unknown key", seal(other.Public(), SealOptions{}), testMerchant, OpenOptions{Now: testNow}, ErrUnknownKey},
		{"retired key", seal(retired.Public(), SealOptions{}), testMerchant, OpenOptions{Now: testNow}, ErrRetiredKey},
		{"same key id, other key", seal(sameID.Public(), SealOptions{}), testMerchant, OpenOptions{Now: testNow}, ErrDecrypt},
		{"wrong merchant", good, "pk_another_merchant", OpenOptions{Now: testNow}, ErrWrongMerchant},
		{"wrong merchant wins over unknown key", seal(other.Public(), SealOptions{}), "pk_another_merchant", OpenOptions{Now: testNow}, ErrWrongMerchant},
		{"empty merchant", good, "", OpenOptions{Now: testNow}, ErrInvalidMerchantID},
		{"invalid card inside", badPayload, testMerchant, OpenOptions{Now: testNow}, ErrMalformed},
		{"too old (default hour)", good, testMerchant, OpenOptions{Now: testNow.Add(time.Hour + time.Millisecond)}, ErrTooOld},
		{"just within the default hour", good, testMerchant, OpenOptions{Now: testNow.Add(time.Hour)}, nil},
		{"too old (max age 5m)", good, testMerchant, OpenOptions{Now: testNow.Add(6 * time.Minute), MaxAge: 5 * time.Minute}, ErrTooOld},
		{"old but within max age 24h", good, testMerchant, OpenOptions{Now: testNow.Add(23 * time.Hour), MaxAge: 24 * time.Hour}, nil},
		{"from the future", good, testMerchant, OpenOptions{Now: testNow.Add(-MaxClockSkew - time.Second)}, ErrFromFuture},
		{"payer clock slightly ahead", good, testMerchant, OpenOptions{Now: testNow.Add(-MaxClockSkew)}, nil},
		{"unbound opens for any payment", good, testMerchant, OpenOptions{Now: testNow, Binding: bound}, nil},
		{"bound, same payment", boundPacket, testMerchant, OpenOptions{Now: testNow, Binding: &Binding{Amount: 150000, Currency: "RUB", InvoiceID: "inv_1"}}, nil},
		{"bound, other amount", boundPacket, testMerchant, OpenOptions{Now: testNow, Binding: &Binding{Amount: 150001, Currency: "RUB", InvoiceID: "inv_1"}}, ErrBindingMismatch},
		{"bound, other currency", boundPacket, testMerchant, OpenOptions{Now: testNow, Binding: &Binding{Amount: 150000, Currency: "USD", InvoiceID: "inv_1"}}, ErrBindingMismatch},
		{"bound, other invoice", boundPacket, testMerchant, OpenOptions{Now: testNow, Binding: &Binding{Amount: 150000, Currency: "RUB", InvoiceID: "inv_2"}}, ErrBindingMismatch},
		{"bound, no binding given", boundPacket, testMerchant, OpenOptions{Now: testNow}, ErrBindingMismatch},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ring.Open(tc.packet, tc.merchant, tc.opts)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Open error = %v, want nil", err)
				}
				if got.Card != card {
					t.Errorf("Open card = %v, want %v", got.Card, card)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Open error = %v, want %v", err, tc.want)
			}
			if got != nil {
				t.Errorf("Open returned %+v with error %v, want nil", got, err)
			}
			if strings.Contains(err.Error(), card.PAN) {
				t.Errorf("error %q contains the PAN", err)
			}
		})
	}
	t.Run("invalid card wraps FieldErrors", func(t *testing.T) {
		_, err := ring.Open(badPayload, testMerchant, OpenOptions{Now: testNow})
		var fe FieldErrors
		if !errors.As(err, &fe) || fe[FieldCardNumber] != CodeCardNumberInvalid {
			t.Errorf("Open error = %v, want FieldErrors with %s", err, CodeCardNumberInvalid)
		}
	})
	t.Run("from the future is also too old", func(t *testing.T) {
		_, err := ring.Open(good, testMerchant, OpenOptions{Now: testNow.Add(-time.Hour)})
		if !errors.Is(err, ErrTooOld) {
			t.Errorf("Open error = %v, want also ErrTooOld", err)
		}
	})
	t.Run("nil ring", func(t *testing.T) {
		var nilRing *KeyRing
		if _, err := nilRing.Open(good, testMerchant, OpenOptions{Now: testNow}); !errors.Is(err, ErrUnknownKey) {
			t.Errorf("Open error = %v, want ErrUnknownKey", err)
		}
	})
}

func TestRotation(t *testing.T) {
	t.Parallel()
	oldKey := fixedKey(t, "k_2026_01", 1)
	newKey := fixedKey(t, "k_2026_02", 2)
	ring := NewKeyRing(oldKey)
	oldPacket := mustSeal(t, oldKey.Public(), testMerchant, testCard("4242424242424242"), SealOptions{})
	newPacket := mustSeal(t, newKey.Public(), testMerchant, testCard("4242424242424242"), SealOptions{})
	open := func(p string) error {
		_, err := ring.Open(p, testMerchant, OpenOptions{Now: testNow})
		return err
	}
	if err := open(newPacket); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("before Add: new packet error = %v, want ErrUnknownKey", err)
	}
	ring.Add(newKey)
	if err := open(oldPacket); err != nil {
		t.Errorf("after Add: old packet error = %v, want nil", err)
	}
	if err := open(newPacket); err != nil {
		t.Errorf("after Add: new packet error = %v, want nil", err)
	}
	ring.Retire(oldKey.KeyID())
	if err := open(oldPacket); !errors.Is(err, ErrRetiredKey) {
		t.Errorf("after Retire: old packet error = %v, want ErrRetiredKey", err)
	}
	ring.Add(oldKey)
	if err := open(oldPacket); !errors.Is(err, ErrRetiredKey) {
		t.Errorf("after Retire and Add: old packet error = %v, want ErrRetiredKey", err)
	}
	if err := open(newPacket); err != nil {
		t.Errorf("after Retire: new packet error = %v, want nil", err)
	}
}

func TestDigest(t *testing.T) {
	t.Parallel()
	key := testKey(t)
	ring := NewKeyRing(key)
	card := testCard("4242424242424242")
	p1 := mustSeal(t, key.Public(), testMerchant, card, SealOptions{})
	p2 := mustSeal(t, key.Public(), testMerchant, card, SealOptions{})
	if p1 == p2 {
		t.Fatal("two seals of the same card gave the same packet")
	}
	o1, err := ring.Open(p1, testMerchant, OpenOptions{Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	again, err := ring.Open(p1, testMerchant, OpenOptions{Now: testNow.Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	o2, err := ring.Open(p2, testMerchant, OpenOptions{Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	if o1.Digest != again.Digest {
		t.Errorf("Digest of the same packet changed: %x, then %x", o1.Digest, again.Digest)
	}
	if o1.Digest == o2.Digest {
		t.Errorf("two packets share the digest %x", o1.Digest)
	}
}

func TestPeek(t *testing.T) {
	t.Parallel()
	key := testKey(t)
	packet := mustSeal(t, key.Public(), testMerchant, testCard("4242424242424242"), SealOptions{})
	h, err := Peek(packet)
	if err != nil {
		t.Fatalf("Peek: %v", err)
	}
	want := Header{Version: 1, Suite: DefaultSuite(), KeyID: key.KeyID(), MerchantTag: MerchantTag(testMerchant)}
	if h != want {
		t.Errorf("Peek = %+v, want %+v", h, want)
	}
	if !h.IsFor(testMerchant) {
		t.Errorf("IsFor(%q) = false, want true", testMerchant)
	}
	if h.IsFor("pk_other") {
		t.Error(`IsFor("pk_other") = true, want false`)
	}
	if _, err := Peek("altyn1_AAAA"); !errors.Is(err, ErrMalformed) {
		t.Errorf("Peek(short) error = %v, want ErrMalformed", err)
	}
}

func TestSealErrors(t *testing.T) {
	t.Parallel()
	key := testKey(t)
	pub := key.Public()
	card := testCard("4242424242424242")
	badKey := pub
	badKey.Key = badKey.Key[:100]
	otherSuite := pub
	otherSuite.Suite.AEAD = 0x0002
	badID := pub
	badID.KeyID = "bad id"
	tests := []struct {
		name     string
		pub      PublicKey
		merchant string
		card     Card
		opts     SealOptions
		want     error
	}{
		{"invalid card", pub, testMerchant, Card{PAN: "4242424242424241"}, SealOptions{}, FieldErrors{}},
		{"expired at Now", pub, testMerchant, card, SealOptions{Now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}, FieldErrors{}},
		{"truncated key", badKey, testMerchant, card, SealOptions{}, ErrInvalidKey},
		{"other suite", otherSuite, testMerchant, card, SealOptions{}, ErrUnsupportedSuite},
		{"bad key id", badID, testMerchant, card, SealOptions{}, ErrInvalidKey},
		{"empty merchant", pub, "", card, SealOptions{}, ErrInvalidMerchantID},
		{"long merchant", pub, strings.Repeat("m", 256), card, SealOptions{}, ErrInvalidMerchantID},
		{"negative amount", pub, testMerchant, card, SealOptions{Binding: &Binding{Amount: -1, Currency: "RUB"}}, ErrInvalidBinding},
		{"lower-case currency", pub, testMerchant, card, SealOptions{Binding: &Binding{Amount: 1, Currency: "rub"}}, ErrInvalidBinding},
		{"numeric currency", pub, testMerchant, card, SealOptions{Binding: &Binding{Amount: 1, Currency: "643"}}, ErrInvalidBinding},
		{"long invoice", pub, testMerchant, card, SealOptions{Binding: &Binding{Amount: 1, Currency: "RUB", InvoiceID: strings.Repeat("i", 256)}}, ErrInvalidBinding},
		{"short rand", pub, testMerchant, card, SealOptions{Rand: bytes.NewReader(make([]byte, 3))}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.opts.Now.IsZero() {
				tc.opts.Now = testNow
			}
			p, err := Seal(tc.pub, tc.merchant, tc.card, tc.opts)
			if err == nil {
				t.Fatalf("Seal = %.30q, want an error", p)
			}
			switch want := tc.want.(type) {
			case FieldErrors:
				var fe FieldErrors
				if !errors.As(err, &fe) {
					t.Errorf("Seal error = %v, want FieldErrors", err)
				}
			case nil:
			default:
				if !errors.Is(err, want) {
					t.Errorf("Seal error = %v, want %v", err, want)
				}
			}
		})
	}
}

func TestKeys(t *testing.T) {
	t.Parallel()
	key := testKey(t)
	t.Run("private key round trip", func(t *testing.T) {
		b, err := key.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParsePrivateKey(b)
		if err != nil {
			t.Fatal(err)
		}
		if back.KeyID() != key.KeyID() || !bytes.Equal(back.Public().Key, key.Public().Key) {
			t.Errorf("ParsePrivateKey(MarshalBinary()) = %v, want %v", back, key)
		}
		// The parsed key opens what the original's public key sealed.
		p := mustSeal(t, key.Public(), testMerchant, testCard("4242424242424242"), SealOptions{})
		if _, err := NewKeyRing(back).Open(p, testMerchant, OpenOptions{Now: testNow}); err != nil {
			t.Errorf("Open with the parsed key: %v", err)
		}
		clear(b)
		if _, err := NewKeyRing(key).Open(p, testMerchant, OpenOptions{Now: testNow}); err != nil {
			t.Errorf("Open after clearing the serialised key: %v", err)
		}
	})
	t.Run("public key text round trip", func(t *testing.T) {
		text, err := key.Public().MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(text), PublicKeyPrefix) {
			t.Errorf("public key %.20q does not start with %q", text, PublicKeyPrefix)
		}
		back, err := ParsePublicKey(string(text))
		if err != nil {
			t.Fatal(err)
		}
		if back.KeyID != key.KeyID() || back.Suite != DefaultSuite() || !bytes.Equal(back.Key, key.Public().Key) {
			t.Errorf("ParsePublicKey(MarshalText()) = %+v, want %+v", back, key.Public())
		}
		var viaText PublicKey
		if err := viaText.UnmarshalText(text); err != nil || viaText.String() != string(text) {
			t.Errorf("UnmarshalText = %v, %v; want the same key", viaText.KeyID, err)
		}
	})
	t.Run("key ids", func(t *testing.T) {
		for _, id := range []string{"", " ", "k 1", "k/1", "ключ", strings.Repeat("k", MaxKeyIDLen+1)} {
			if _, err := GenerateKey(id); !errors.Is(err, ErrInvalidKey) {
				t.Errorf("GenerateKey(%q) error = %v, want ErrInvalidKey", id, err)
			}
		}
		for _, id := range []string{"k", "k_20261123_ab12", "K-1.2", strings.Repeat("k", MaxKeyIDLen)} {
			if _, err := GenerateKey(id); err != nil {
				t.Errorf("GenerateKey(%q) error = %v, want nil", id, err)
			}
		}
	})
	t.Run("bad public keys", func(t *testing.T) {
		text, _ := key.Public().MarshalText()
		for name, s := range map[string]string{
			"empty":     "",
			"no prefix": string(text[len(PublicKeyPrefix):]),
			"truncated": string(text[:len(text)-10]),
			"bad char":  string(text[:20]) + "!" + string(text[21:]),
		} {
			if _, err := ParsePublicKey(s); !errors.Is(err, ErrInvalidKey) {
				t.Errorf("ParsePublicKey(%s) error = %v, want ErrInvalidKey", name, err)
			}
		}
	})
	t.Run("bad private keys", func(t *testing.T) {
		b, _ := key.MarshalBinary()
		otherSuite := bytes.Clone(b)
		otherSuite[6] = 2
		if _, err := ParsePrivateKey(otherSuite); !errors.Is(err, ErrUnsupportedSuite) {
			t.Errorf("ParsePrivateKey(other suite) error = %v, want ErrUnsupportedSuite", err)
		}
		for name, bad := range map[string][]byte{"empty": nil, "truncated": b[:len(b)-1], "longer": append(bytes.Clone(b), 0), "version 2": append([]byte{2}, b[1:]...)} {
			if _, err := ParsePrivateKey(bad); !errors.Is(err, ErrInvalidKey) {
				t.Errorf("ParsePrivateKey(%s) error = %v, want ErrInvalidKey", name, err)
			}
		}
	})
	t.Run("private key never printed", func(t *testing.T) {
		b, _ := key.MarshalBinary()
		secret := string(b[len(b)-32:])
		for _, s := range []string{key.String(), fmtAll(key), fmtAll(*key)} {
			if strings.Contains(s, secret) || !strings.Contains(s, key.KeyID()) {
				t.Errorf("formatted key %q: want the key id and no key material", s)
			}
		}
		for _, s := range []string{logWith(slog.NewJSONHandler, "k", key), logWith(slog.NewTextHandler, "k", *key)} {
			if strings.Contains(s, secret) {
				t.Errorf("logged key %q contains key material", s)
			}
		}
	})
}

func fmtAll(v any) string {
	return fmt.Sprintf("%v %+v %#v %s", v, v, v, v)
}
