package cryptogram

import (
	"crypto/hpke"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"io"
	"time"
)

// Packet format constants.
const (
	// PacketPrefix starts every v1 cryptogram.
	PacketPrefix = "altyn1_"
	// MaxPacketLen bounds the text form Open and Peek accept.
	MaxPacketLen = 8192
	// DefaultMaxAge is the age limit of Open when OpenOptions.MaxAge is 0.
	DefaultMaxAge = time.Hour
	// MaxClockSkew is how far in the future a packet's creation time may be
	// (the payer's clock runs ahead) before Open returns ErrFromFuture.
	MaxClockSkew = 5 * time.Minute
	// MaxMerchantIDLen is the longest merchant public id.
	MaxMerchantIDLen = 255

	merchantTagLen = 8
	nonceLen       = 16
	padBlock       = 32
	// xwingEncLen is the X-Wing encapsulated key: ML-KEM-768 ciphertext
	// (1088 bytes) and an X25519 point (32).
	xwingEncLen = 1120
	aeadTagLen  = 16
	// infoLabel separates this use of HPKE from any other.
	infoLabel = "altyn cryptogram v1\x00"
)

// Header is the clear, authenticated part of a packet.
type Header struct {
	Version     int     // format version, 1
	Suite       Suite   // HPKE suite the packet was sealed with
	KeyID       string  // id of the key it was sealed to
	MerchantTag [8]byte // MerchantTag of the merchant public id it was sealed for
}

// MerchantTag returns the 8-byte tag of a merchant public id that packets
// carry in clear: the first 8 bytes of SHA-256("altyn cryptogram merchant v1\x00" || id).
// It lets Open tell a wrong merchant from a failed decryption; the full id
// is bound by HPKE.
func MerchantTag(merchantPublicID string) [8]byte {
	h := sha256.New()
	h.Write([]byte("altyn cryptogram merchant v1\x00"))
	h.Write([]byte(merchantPublicID))
	var t [8]byte
	copy(t[:], h.Sum(nil))
	return t
}

// IsFor reports whether the packet's merchant tag is the tag of
// merchantPublicID.
func (h Header) IsFor(merchantPublicID string) bool {
	t := MerchantTag(merchantPublicID)
	return subtle.ConstantTimeCompare(t[:], h.MerchantTag[:]) == 1
}

func appendHeader(b []byte, s Suite, keyID string, tag [8]byte) []byte {
	b = append(b, formatVersion)
	b = s.appendTo(b)
	b = append(b, byte(len(keyID)))
	b = append(b, keyID...)
	return append(b, tag[:]...)
}

// decode turns the text form into packet bytes and parses the header; n is
// the header's length.
func decode(packet string) (raw []byte, h Header, n int, err error) {
	if len(packet) > MaxPacketLen || len(packet) < len(PacketPrefix) || packet[:len(PacketPrefix)] != PacketPrefix {
		return nil, Header{}, 0, wrap(ErrMalformed, "not an altyn v1 cryptogram")
	}
	body := packet[len(PacketPrefix):]
	// base64 decoding skips CR and LF; refusing them keeps one text form per
	// packet.
	for i := 0; i < len(body); i++ {
		if c := body[i]; c == '\r' || c == '\n' {
			return nil, Header{}, 0, wrap(ErrMalformed, "bad base64url")
		}
	}
	raw, err = b64.DecodeString(body)
	if err != nil {
		return nil, Header{}, 0, wrap(ErrMalformed, "bad base64url")
	}
	if len(raw) < 8 || raw[0] != formatVersion {
		return nil, Header{}, 0, wrap(ErrMalformed, "unknown version")
	}
	h.Version = int(raw[0])
	h.Suite = suiteFrom(raw[1:7])
	l := int(raw[7])
	n = 8 + l + merchantTagLen
	if len(raw) < n {
		return nil, Header{}, 0, wrap(ErrMalformed, "truncated header")
	}
	h.KeyID = string(raw[8 : 8+l])
	if checkKeyID(h.KeyID) != nil {
		return nil, Header{}, 0, wrap(ErrMalformed, "bad key id")
	}
	copy(h.MerchantTag[:], raw[8+l:n])
	return raw, h, n, nil
}

// Peek parses the clear header of a packet without opening it, so that a
// server can choose the key ring (by key id) or check the merchant
// (Header.IsFor) first. The header is authenticated only by Open.
func Peek(packet string) (Header, error) {
	_, h, _, err := decode(packet)
	return h, err
}

func info(header []byte, merchantPublicID string) []byte {
	b := make([]byte, 0, len(infoLabel)+len(header)+1+len(merchantPublicID))
	b = append(b, infoLabel...)
	b = append(b, header...)
	b = append(b, byte(len(merchantPublicID)))
	return append(b, merchantPublicID...)
}

func checkMerchantID(id string) error {
	if id == "" || len(id) > MaxMerchantIDLen {
		return ErrInvalidMerchantID
	}
	return nil
}

// Binding ties a cryptogram to one payment: opening it for another amount,
// currency or invoice fails with ErrBindingMismatch, so an intercepted
// cryptogram cannot be spent elsewhere.
type Binding struct {
	Amount    int64  // minor units, ≥ 0
	Currency  string // ISO 4217, upper case, e.g. "RUB"
	InvoiceID string // the merchant's order id; may be empty; at most 255 bytes
}

func (b *Binding) check() error {
	if b.Amount < 0 {
		return wrap(ErrInvalidBinding, "negative amount")
	}
	if len(b.Currency) != 3 {
		return wrap(ErrInvalidBinding, "currency must be an ISO 4217 code")
	}
	for i := 0; i < 3; i++ {
		if c := b.Currency[i]; c < 'A' || c > 'Z' {
			return wrap(ErrInvalidBinding, "currency must be an ISO 4217 code")
		}
	}
	if len(b.InvoiceID) > 255 {
		return wrap(ErrInvalidBinding, "invoice id longer than 255 bytes")
	}
	return nil
}

// SealOptions are the optional parameters of Seal.
type SealOptions struct {
	// Binding, if set, ties the cryptogram to this payment.
	Binding *Binding
	// Now is the creation time written into the packet and the time the card
	// expiry is checked at; zero means time.Now().
	Now time.Time
	// Rand is the source of the payload nonce; nil means crypto/rand. HPKE's
	// own randomness always comes from crypto/rand.
	Rand io.Reader
	// CVVOptional lets a card without CVV be sealed whatever its brand (for
	// payouts to a card, where no CVV is asked). A CVV that is given is still
	// checked.
	CVVOptional bool
}

// Seal validates the card and seals it for the merchant with the public key.
// It returns the packet (PacketPrefix + base64url), or FieldErrors for an
// invalid card, or ErrInvalidKey, ErrUnsupportedSuite, ErrInvalidMerchantID,
// ErrInvalidBinding.
func Seal(pub PublicKey, merchantPublicID string, card Card, opts SealOptions) (string, error) {
	pk, err := pub.hpkeKey()
	if err != nil {
		return "", err
	}
	if err := checkMerchantID(merchantPublicID); err != nil {
		return "", err
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	if err := card.validate(now, !opts.CVVOptional); err != nil {
		return "", err
	}
	if opts.Binding != nil {
		if err := opts.Binding.check(); err != nil {
			return "", err
		}
	}
	p := payload{card: card, created: now.UnixMilli(), binding: opts.Binding}
	if opts.Rand == nil {
		_, _ = rand.Read(p.nonce[:]) // crypto/rand.Read never fails
	} else if _, err := io.ReadFull(opts.Rand, p.nonce[:]); err != nil {
		return "", wrapCause("cryptogram: read nonce", err)
	}
	pt := p.marshal()
	defer clear(pt)

	hdr := appendHeader(make([]byte, 0, 2048), pub.Suite, pub.KeyID, MerchantTag(merchantPublicID))
	ct, err := hpke.Seal(pk, kdf(), aead(), info(hdr, merchantPublicID), pt)
	if err != nil {
		return "", wrapCause("cryptogram: seal", err)
	}
	raw := append(hdr, ct...)
	return PacketPrefix + b64.EncodeToString(raw), nil
}

// OpenOptions are the parameters of Open.
type OpenOptions struct {
	// MaxAge is how old a packet may be; 0 means DefaultMaxAge.
	MaxAge time.Duration
	// Now is the opening time; zero means time.Now().
	Now time.Time
	// Binding is the payment being paid. A bound packet opens only when its
	// binding equals this one (so a nil Binding rejects every bound packet);
	// an unbound packet opens whatever Binding is.
	Binding *Binding
}

// Opened is the content of an opened cryptogram.
type Opened struct {
	Card      Card      // the card; it redacts itself when printed or logged
	CreatedAt time.Time // when it was sealed (the payer's clock, millisecond precision, UTC)
	KeyID     string    // the key it was sealed to
	Binding   *Binding  // the payment it is bound to, nil if unbound
	// Digest is the SHA-256 of the packet bytes. Each packet has exactly one
	// text form, so the digest is stable; store it to refuse a second use.
	Digest [32]byte
}

// Open opens a packet made by Seal for merchantPublicID. The checks run in
// this order, each with its own error: ErrMalformed (text or header),
// ErrUnsupportedSuite, ErrInvalidMerchantID, ErrWrongMerchant (compared on
// the clear tag, before decryption), ErrRetiredKey, ErrUnknownKey,
// ErrDecrypt, ErrMalformed (payload or card, after decryption),
// ErrFromFuture, ErrTooOld, ErrBindingMismatch.
//
// Every check before decryption looks only at the clear header; decryption
// is an AEAD, so an altered packet fails as a whole with ErrDecrypt and no
// error depends on the plaintext of a packet the caller did not make.
func (r *KeyRing) Open(packet, merchantPublicID string, opts OpenOptions) (*Opened, error) {
	raw, h, n, err := decode(packet)
	if err != nil {
		return nil, err
	}
	if !h.Suite.supported() {
		return nil, wrap(ErrUnsupportedSuite, h.Suite.String())
	}
	if len(raw) < n+xwingEncLen+aeadTagLen {
		return nil, wrap(ErrMalformed, "truncated")
	}
	// The merchant is checked before the key: a packet made for another
	// merchant is reported as such, not as a key this ring lacks.
	if err := checkMerchantID(merchantPublicID); err != nil {
		return nil, err
	}
	if !h.IsFor(merchantPublicID) {
		return nil, ErrWrongMerchant
	}
	if r == nil {
		return nil, ErrUnknownKey
	}
	key, err := r.lookup(h.KeyID)
	if err != nil {
		return nil, err
	}
	if key.suite != h.Suite {
		return nil, wrap(ErrUnsupportedSuite, "key "+key.keyID+" is "+key.suite.String())
	}
	pt, err := hpke.Open(key.key, kdf(), aead(), info(raw[:n], merchantPublicID), raw[n:])
	if err != nil {
		return nil, ErrDecrypt
	}
	defer clear(pt)
	var p payload
	if err := p.unmarshal(pt); err != nil {
		return nil, err
	}
	created := time.UnixMilli(p.created).UTC()
	// The card was valid when sealed; checking at that time keeps a packet
	// made just before its card's last month ended openable.
	if err := p.card.validate(created, false); err != nil {
		return nil, &wrapError{msg: ErrMalformed.Error() + ": " + err.Error(), errs: []error{ErrMalformed, err}}
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	maxAge := opts.MaxAge
	if maxAge <= 0 {
		maxAge = DefaultMaxAge
	}
	if created.Sub(now) > MaxClockSkew {
		return nil, ErrFromFuture
	}
	if now.Sub(created) > maxAge {
		return nil, ErrTooOld
	}
	if p.binding != nil && (opts.Binding == nil || *opts.Binding != *p.binding) {
		return nil, ErrBindingMismatch
	}
	return &Opened{
		Card:      p.card,
		CreatedAt: created,
		KeyID:     h.KeyID,
		Binding:   p.binding,
		Digest:    sha256.Sum256(raw),
	}, nil
}

// payload is the sealed plaintext.
type payload struct {
	card    Card
	created int64 // Unix milliseconds
	nonce   [nonceLen]byte
	binding *Binding
}

const flagBound = 1

// marshal encodes the payload (all integers big-endian, strings as a 1-byte
// length and the bytes):
//
//	flags (1: bit 0 = bound) | PAN | exp month (1) | exp year (2) | CVV | name |
//	created, Unix ms (8) | nonce (16) |
//	[bound: amount (8) | currency | invoice id] | zero padding to a multiple of 32
//
// The padding hides the exact lengths of the PAN, name and invoice id.
func (p *payload) marshal() []byte {
	c := &p.card
	b := make([]byte, 0, 128)
	flags := byte(0)
	if p.binding != nil {
		flags |= flagBound
	}
	b = append(b, flags)
	b = appendStr(b, c.PAN)
	b = append(b, byte(c.ExpMonth), byte(c.ExpYear>>8), byte(c.ExpYear))
	b = appendStr(b, c.CVV)
	b = appendStr(b, c.Name)
	b = appendUint64(b, uint64(p.created))
	b = append(b, p.nonce[:]...)
	if p.binding != nil {
		b = appendUint64(b, uint64(p.binding.Amount))
		b = appendStr(b, p.binding.Currency)
		b = appendStr(b, p.binding.InvoiceID)
	}
	for len(b)%padBlock != 0 {
		b = append(b, 0)
	}
	return b
}

// unmarshal decodes marshal's output; any deviation is ErrMalformed.
func (p *payload) unmarshal(b []byte) error {
	bad := wrap(ErrMalformed, "bad payload")
	if len(b)%padBlock != 0 {
		return bad
	}
	d := decoder{b: b}
	flags := d.byte()
	if flags&^flagBound != 0 {
		return bad
	}
	p.card.PAN = d.str()
	p.card.ExpMonth = int(d.byte())
	p.card.ExpYear = int(d.uint16())
	p.card.CVV = d.str()
	p.card.Name = d.str()
	p.created = int64(d.uint64())
	copy(p.nonce[:], d.bytes(nonceLen))
	if flags&flagBound != 0 {
		bd := &Binding{}
		bd.Amount = int64(d.uint64())
		bd.Currency = d.str()
		bd.InvoiceID = d.str()
		if d.err == nil && bd.check() != nil {
			return bad
		}
		p.binding = bd
	}
	if d.err != nil {
		return bad
	}
	for _, z := range d.b {
		if z != 0 {
			return bad
		}
	}
	if len(d.b) >= padBlock {
		return bad
	}
	return nil
}

func appendStr(b []byte, s string) []byte {
	return append(append(b, byte(len(s))), s...)
}

func appendUint64(b []byte, v uint64) []byte {
	return append(b, byte(v>>56), byte(v>>48), byte(v>>40), byte(v>>32), byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

// decoder reads the payload; after the first short read every read returns
// zero values and err is set.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) bytes(n int) []byte {
	if d.err != nil || len(d.b) < n {
		d.err = ErrMalformed
		return make([]byte, n)
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) byte() byte { return d.bytes(1)[0] }

func (d *decoder) uint16() uint16 {
	v := d.bytes(2)
	return uint16(v[0])<<8 | uint16(v[1])
}

func (d *decoder) uint64() uint64 {
	v := d.bytes(8)
	var x uint64
	for _, c := range v {
		x = x<<8 | uint64(c)
	}
	return x
}

func (d *decoder) str() string { return string(d.bytes(int(d.byte()))) }
