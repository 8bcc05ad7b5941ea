// Package acquirer is the boundary between altyn's payment engine and a card
// acquirer, and holds the sandbox acquirer: altyn's test mode, which emulates
// an acquiring bank deterministically by test card numbers, serves its own
// 3-D Secure ACS page and can inject latency, errors and timeouts.
//
// Every call carries an operation id chosen by the engine, so that calls are
// idempotent at the acquirer: the engine may repeat any call whose answer it
// did not get, and use Status to learn what the acquirer actually did.
package acquirer

import (
	"context"
	"errors"

	"github.com/altynpay/altyn/cryptogram"
)

// Acquirer is what the payment engine calls to move money on a card.
//
// A decline is not an error: Authorize and Complete3DS report it in the
// Result. Errors mean the request was refused (ErrInvalidRequest,
// ErrUnknownOperation, ErrBadPaRes) or its fate is unknown (ErrTimeout,
// ErrUnavailable, a context error); after an unknown fate the engine asks
// Status, and repeats or reverses the operation.
type Acquirer interface {
	// Authorize places a hold (Capture false) or charges (Capture true).
	// Repeating it with the same OpID returns the first Result and never
	// places a second hold.
	Authorize(ctx context.Context, r AuthorizeRequest) (Result, error)
	// Complete3DS finishes an operation that answered Outcome3DS, with the
	// PaRes the ACS posted to the TermURL. Repeating it returns the first
	// Result.
	Complete3DS(ctx context.Context, opID, paRes string) (Result, error)
	// Capture takes amount from the hold; amount must not exceed what is
	// authorized and not yet captured. Several partial captures are allowed.
	Capture(ctx context.Context, opID string, amount int64) error
	// Void releases an authorization of which nothing was captured. It is
	// also the reversal of an authorization whose answer was lost.
	Void(ctx context.Context, opID string) error
	// Refund returns amount of what was captured. It is idempotent by
	// refundID: a repeat does not refund twice.
	Refund(ctx context.Context, opID, refundID string, amount int64) error
	// Status reports what the acquirer knows of the operation, or
	// ErrUnknownOperation if it never received it.
	Status(ctx context.Context, opID string) (Result, error)
}

// AuthorizeRequest is one authorization or one-stage charge.
type AuthorizeRequest struct {
	OpID      string          // unique per operation, chosen by the engine
	Card      cryptogram.Card // clear card data; never logged or returned
	Amount    int64           // minor units, > 0
	Currency  string          // ISO 4217, e.g. "RUB"
	Capture   bool            // true = one-stage (charge), false = authorization only
	Recurring bool            // merchant-initiated/token payment
	TermURL   string          // where the ACS posts PaRes back (3-D Secure)
	Skip3DS   bool            // token/recurring payments skip 3-D Secure
}

// Outcome is the acquirer's answer to Authorize or Complete3DS.
type Outcome int

// Outcomes. The zero value is deliberately not OutcomeApproved, so that a
// Result nobody filled in never reads as money taken.
const (
	OutcomeUnspecified Outcome = iota
	OutcomeApproved            // the hold or charge is in place
	OutcomeDeclined            // refused; ReasonCode says why
	Outcome3DS                 // 3-D Secure authentication required; see ACSURL and PaReq
)

// String returns the outcome's name.
func (o Outcome) String() string {
	switch o {
	case OutcomeApproved:
		return "Approved"
	case OutcomeDeclined:
		return "Declined"
	case Outcome3DS:
		return "AuthenticationRequired"
	}
	return "Unspecified"
}

// State is an operation's state at the acquirer. Its names are
// CloudPayments' transaction statuses.
type State int

// States. The zero value is not a real state.
const (
	StateUnspecified State = iota
	StatePending3DS        // AwaitingAuthentication: waiting for Complete3DS
	StateAuthorized        // funds held, nothing captured yet
	StateCaptured          // fully or partly captured (Result.Captured says how much); refunds allowed
	StateVoided            // authorization released (by Void or after AuthorizationTTL)
	StateDeclined          // refused; no money held
)

// String returns the state's CloudPayments status name.
func (s State) String() string {
	switch s {
	case StatePending3DS:
		return "AwaitingAuthentication"
	case StateAuthorized:
		return "Authorized"
	case StateCaptured:
		return "Completed"
	case StateVoided:
		return "Cancelled"
	case StateDeclined:
		return "Declined"
	}
	return "Unspecified"
}

// Result is the acquirer's answer about one operation.
type Result struct {
	Outcome    Outcome
	State      State  // the operation's state at the acquirer
	AuthCode   string // 6 characters on approval
	ReasonCode int    // CloudPayments reason code: 0 approved, 5051, 5206…; 0 while 3-D Secure is pending
	Reason     string // ReasonName(ReasonCode), e.g. "InsufficientFunds"; empty while 3-D Secure is pending
	ACSURL     string // Outcome3DS: the ACS page URL
	PaReq      string // Outcome3DS: signed request to post to the ACS with MD and TermUrl
	Amount     int64  // the amount authorized (or requested, when declined), minor units
	Currency   string // ISO 4217
	Captured   int64  // captured so far, minor units
	Refunded   int64  // refunded so far, minor units
}

// Errors returned by an Acquirer, always wrapped with the operation and the
// call; test them with errors.Is.
var (
	// ErrUnknownOperation: the acquirer never received the operation.
	ErrUnknownOperation = errors.New("acquirer: unknown operation")
	// ErrTimeout: no answer in time; the acquirer may or may not have acted.
	ErrTimeout = errors.New("acquirer: timeout, outcome unknown")
	// ErrUnavailable: the acquirer refused to process the call; nothing happened.
	ErrUnavailable = errors.New("acquirer: unavailable")
	// ErrInvalidRequest: a wrong amount or a call in the wrong state, such as
	// a capture above the hold or a refund above what was captured.
	ErrInvalidRequest = errors.New("acquirer: invalid request")
	// ErrBadPaRes: the PaRes is forged, tampered with, expired or belongs to
	// another operation.
	ErrBadPaRes = errors.New("acquirer: bad PaRes")
)
