// Package cryptogram is altyn's card-data envelope: the widget seals a card
// in the payer's browser and only the server can open it.
//
// A cryptogram is HPKE (RFC 9180, base mode, single shot) with the hybrid
// post-quantum KEM ML-KEM-768 + X25519 (X-Wing), HKDF-SHA256 and
// ChaCha20-Poly1305 (see DefaultSuite for why not AES-GCM). The package uses
// the standard library only and builds for GOOS=js GOARCH=wasm, because the
// widget links it.
//
// # Packet format v1
//
// The text form is PacketPrefix ("altyn1_") followed by the unpadded
// base64url (RFC 4648 §5) of the packet bytes:
//
//	offset     size  field
//	0          1     version, 1
//	1          2     KEM id   (0x647a MLKEM768-X25519)      big-endian
//	3          2     KDF id   (0x0001 HKDF-SHA256)
//	5          2     AEAD id  (0x0003 ChaCha20-Poly1305)
//	7          1     key id length L, 1..64
//	8          L     key id (ASCII letters, digits, "_-.")
//	8+L        8     merchant tag: SHA-256("altyn cryptogram merchant v1\x00" || merchant public id)[:8]
//	16+L       1120  HPKE encapsulated key (X-Wing: ML-KEM-768 ciphertext + X25519 point)
//	1136+L     n+16  AEAD ciphertext of the payload and its tag
//
// Bytes 0 to 16+L are the header. The HPKE info is
//
//	"altyn cryptogram v1\x00" || header || len(merchant public id) (1 byte) || merchant public id
//
// so the header and the full merchant public id are authenticated: a changed
// byte anywhere, or opening for another merchant, fails. The clear tag lets
// Open report ErrWrongMerchant before decrypting, and Peek read the key id.
//
// The payload (see the payload encoding in docs/cryptogram.md) is a compact
// binary record: flags, PAN, expiry month and year, CVV, cardholder name,
// the creation time (Unix milliseconds), a 16-byte random nonce and, when
// bound, the payment's amount, currency and invoice id; zero-padded to a
// multiple of 32 bytes so that the ciphertext length does not reveal the
// PAN or name length. With a 15-character key id an unbound packet is 1231
// bytes, 1649 characters of text.
//
// # Sides
//
// The widget calls ParseCard on the form input (it returns FieldErrors with
// the CloudPayments checkout codes, field by field), fetches the merchant's
// PublicKey (ParsePublicKey) and calls Seal. The server keeps its
// PrivateKeys in a KeyRing and calls KeyRing.Open, which returns the Card,
// the creation time, the binding and a Digest for single use, or one of the
// documented errors. Card redacts itself when printed or logged.
package cryptogram
