package payments

import (
	"errors"
	"fmt"

	"github.com/altynpay/altyn/store"
)

// Kind is the class of an engine error; the API maps each kind to one
// Connect code.
type Kind int

// The kinds of error.
const (
	KindInvalid      Kind = iota + 1 // the request is wrong: InvalidArgument
	KindNotFound                     // NotFound
	KindPrecondition                 // the payment's state forbids it: FailedPrecondition
	KindConflict                     // the idempotency key or cryptogram was used: AlreadyExists
	KindUnavailable                  // the acquirer did not answer: Unavailable
	KindUnauthenticated
	KindPermission // PermissionDenied
)

// Error is an engine error with a stable machine-readable reason.
type Error struct {
	Kind    Kind
	Reason  string // e.g. "CAPTURE_EXCEEDS_AUTHORIZED"
	Message string // for the merchant's developer; never card data
	Fields  []FieldViolation
}

// FieldViolation is one invalid field of a command.
type FieldViolation struct {
	Field       string
	Code        string
	Description string
}

func (e *Error) Error() string { return e.Message }

// Is matches errors by reason, so callers write errors.Is(err, ErrNotFound).
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Reason == e.Reason
}

func newErr(kind Kind, reason, msg string) *Error {
	return &Error{Kind: kind, Reason: reason, Message: msg}
}

// The engine's errors.
var (
	ErrInvalidArgument     = newErr(KindInvalid, "INVALID_ARGUMENT", "invalid request")
	ErrNotFound            = newErr(KindNotFound, "PAYMENT_NOT_FOUND", "payment not found")
	ErrInvalidTransition   = newErr(KindPrecondition, "INVALID_TRANSITION", "the payment's status does not allow this operation")
	ErrCaptureExceeds      = newErr(KindPrecondition, "CAPTURE_EXCEEDS_AUTHORIZED", "capture amount exceeds the authorized amount")
	ErrRefundExceeds       = newErr(KindPrecondition, "REFUND_EXCEEDS_CAPTURED", "refund amount exceeds the captured amount not yet refunded")
	ErrNothingToRefund     = newErr(KindPrecondition, "NOTHING_TO_REFUND", "the payment has been refunded in full")
	ErrRefundWindowClosed  = newErr(KindPrecondition, "REFUND_WINDOW_CLOSED", "refunds are accepted for one year after capture")
	ErrIdempotencyMismatch = newErr(KindInvalid, "IDEMPOTENCY_KEY_REUSED", "this idempotency key was used with different parameters")
	ErrCryptogramReplayed  = newErr(KindConflict, "CRYPTOGRAM_REPLAYED", "this cryptogram has already been used; make a new one")
	ErrCryptogram          = newErr(KindInvalid, "CRYPTOGRAM_INVALID", "the cryptogram cannot be opened")
	ErrAcquirerRefused     = newErr(KindPrecondition, "ACQUIRER_REFUSED", "the acquirer refused the operation")
	ErrAcquirerUnavailable = newErr(KindUnavailable, "ACQUIRER_UNAVAILABLE", "the acquirer did not answer; retry with the same idempotency key")
	ErrBadPaRes            = newErr(KindInvalid, "INVALID_PARES", "the PaRes is not valid for this payment")
	ErrCurrencyMismatch    = newErr(KindInvalid, "CURRENCY_MISMATCH", "currency differs from the payment's")
)

func invalidFields(fields []FieldViolation) *Error {
	msg := "invalid request:"
	for i, f := range fields {
		if i > 0 {
			msg += ";"
		}
		msg += " " + f.Description
	}
	return &Error{Kind: KindInvalid, Reason: ErrInvalidArgument.Reason, Message: msg, Fields: fields}
}

func invalidTransition(from, to store.PaymentStatus) *Error {
	return &Error{Kind: KindPrecondition, Reason: ErrInvalidTransition.Reason,
		Message: fmt.Sprintf("a payment in status %s cannot become %s", from, to)}
}

func opNotAllowed(op string, status store.PaymentStatus) *Error {
	return &Error{Kind: KindPrecondition, Reason: ErrInvalidTransition.Reason,
		Message: fmt.Sprintf("cannot %s a payment in status %s", op, status)}
}

// cryptogramError names why a cryptogram did not open, with a reason per case.
func cryptogramError(reason, msg string) *Error {
	return &Error{Kind: KindInvalid, Reason: reason, Message: msg,
		Fields: []FieldViolation{{Field: "cryptogram", Code: reason, Description: msg}}}
}

// With returns a copy of e with a more precise message.
func (e *Error) With(msg string) *Error {
	c := *e
	c.Message = msg
	return &c
}

// IsKind reports whether err is an engine error of kind k.
func IsKind(err error, k Kind) bool {
	var e *Error
	return errors.As(err, &e) && e.Kind == k
}
