package cryptogram

import "errors"

// Errors of Open, Peek, Seal and the key functions. Match them with
// errors.Is; their messages never contain card data.
var (
	// ErrMalformed: the packet is not a well-formed v1 cryptogram (bad
	// prefix, base64url, version, header or length), or, after successful
	// decryption, its payload does not parse or holds an invalid card (the
	// error then also wraps the FieldErrors).
	ErrMalformed = errors.New("cryptogram: malformed packet")
	// ErrUnknownKey: no key of the ring has the packet's key id.
	ErrUnknownKey = errors.New("cryptogram: unknown key id")
	// ErrRetiredKey: the packet's key id was retired from the ring.
	ErrRetiredKey = errors.New("cryptogram: retired key id")
	// ErrUnsupportedSuite: the packet's (or key's) suite is not DefaultSuite.
	ErrUnsupportedSuite = errors.New("cryptogram: unsupported suite")
	// ErrWrongMerchant: the packet was made for another merchant's public id.
	ErrWrongMerchant = errors.New("cryptogram: made for another merchant")
	// ErrTooOld: the packet was made longer ago than OpenOptions.MaxAge.
	ErrTooOld = errors.New("cryptogram: too old")
	// ErrFromFuture: the packet was made more than MaxClockSkew after the
	// opening time. errors.Is(err, ErrTooOld) also holds for it, so a caller
	// that only knows ErrTooOld treats it as outside the validity window.
	ErrFromFuture error = &futureError{}
	// ErrDecrypt: HPKE decryption failed: the packet was altered, was sealed
	// to another key with the same id, or the merchant public id differs in
	// a way the short clear tag could not tell.
	ErrDecrypt = errors.New("cryptogram: decryption failed")
	// ErrBindingMismatch: the packet is bound to a payment other than
	// OpenOptions.Binding (or OpenOptions.Binding is nil).
	ErrBindingMismatch = errors.New("cryptogram: bound to another payment")
	// ErrInvalidKey: a public or private key (or key id) is malformed.
	ErrInvalidKey = errors.New("cryptogram: invalid key")
	// ErrInvalidBinding: Seal was given a Binding with a negative amount, a
	// currency that is not three upper-case letters or an invoice id longer
	// than 255 bytes.
	ErrInvalidBinding = errors.New("cryptogram: invalid binding")
	// ErrInvalidMerchantID: the merchant public id is empty or longer than
	// 255 bytes.
	ErrInvalidMerchantID = errors.New("cryptogram: invalid merchant public id")
)

type futureError struct{}

func (*futureError) Error() string        { return "cryptogram: made in the future" }
func (*futureError) Is(target error) bool { return target == ErrTooOld }

// wrapError does what fmt.Errorf("%w: …") would, without fmt: the widget
// need not link fmt's printer (about 70 KB of brotli-compressed wasm).
type wrapError struct {
	msg  string
	errs []error // what errors.Is and errors.As look through
}

func (e *wrapError) Error() string   { return e.msg }
func (e *wrapError) Unwrap() []error { return e.errs }

// wrap returns sentinel with a detail: "<sentinel>: <detail>".
func wrap(sentinel error, detail string) error {
	return &wrapError{msg: sentinel.Error() + ": " + detail, errs: []error{sentinel}}
}

// wrapCause returns "<msg>: <cause>" wrapping cause.
func wrapCause(msg string, cause error) error {
	return &wrapError{msg: msg + ": " + cause.Error(), errs: []error{cause}}
}
