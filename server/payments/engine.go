// Package payments is altyn's payment engine: one- and two-stage card
// payments, 3-D Secure, captures, voids and refunds, with idempotency and the
// resolution of acquirer calls whose answers were lost.
//
// The engine knows nothing of proto or HTTP. Every command is validated in
// one place (go-playground/validator tags on the command structs); the
// acquirer is always called outside a database transaction, and every state
// change is a guarded update through store.ModifyPayment.
package payments

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/binary"
	"encoding/json"
	"log/slog"
	"strings"
	"time"

	"github.com/altynpay/altyn/server/acquirer"
	"github.com/altynpay/altyn/server/merchants"
	"github.com/altynpay/altyn/server/vault"
	"github.com/altynpay/altyn/store"
)

// Config holds the engine's time limits.
type Config struct {
	// AuthorizationTTL: an authorization not captured within it is voided
	// (or captured, for merchants with auto-capture). CloudPayments: 7 days.
	AuthorizationTTL time.Duration
	// CryptogramMaxAge: older cryptograms are refused.
	CryptogramMaxAge time.Duration
	// AuthenticationTTL: a payment left awaiting 3-D Secure this long is declined.
	AuthenticationTTL time.Duration
	// ResolveAfter: how long an unanswered acquirer call waits before the
	// resolver asks the acquirer what happened.
	ResolveAfter time.Duration
	// RefundWindow: refunds are refused this long after capture (one year).
	RefundWindow time.Duration
	// IdempotencyWait: how long a repeated request waits for the first one
	// with the same key to finish.
	IdempotencyWait time.Duration
	// TermURL is where the ACS sends the payer when a payment names none:
	// altyn's own return page, which completes the payment itself.
	TermURL string
}

// DefaultConfig is CloudPayments' rules.
var DefaultConfig = Config{
	AuthorizationTTL:  7 * 24 * time.Hour,
	CryptogramMaxAge:  time.Hour,
	AuthenticationTTL: time.Hour,
	ResolveAfter:      30 * time.Second,
	RefundWindow:      365 * 24 * time.Hour,
	IdempotencyWait:   10 * time.Second,
}

// Engine runs payments.
type Engine struct {
	store     *store.Store
	merchants *merchants.Service
	acquirer  acquirer.Acquirer
	now       func() time.Time
	log       *slog.Logger
	cfg       Config
	validate  *Validator
	master    *vault.MasterKey

	checker    Checker
	onApproved []func(ctx context.Context, p *store.Payment)
	beforePay  []func(ctx context.Context, cmd *PayCommand) error
}

// BeforePay registers a function that sees every payment command after it
// is validated and before anything is recorded; it may complete the command
// (the subscriptions service fills in Recurrent) or refuse it with an
// *Error. Call it before serving.
func (e *Engine) BeforePay(f func(ctx context.Context, cmd *PayCommand) error) {
	e.beforePay = append(e.beforePay, f)
}

// SetChecker makes the engine ask c before every payment goes to the
// acquirer (the merchant's Check notification). Call it before serving.
func (e *Engine) SetChecker(c Checker) { e.checker = c }

// OnApproved registers a function called after a payment is approved
// (charged or authorized, directly, after 3-D Secure or by the resolver).
// Call it before serving.
func (e *Engine) OnApproved(f func(ctx context.Context, p *store.Payment)) {
	e.onApproved = append(e.onApproved, f)
}

// New makes an engine. now is the clock (tests and the sandbox move it).
func New(st *store.Store, ms *merchants.Service, master *vault.MasterKey, acq acquirer.Acquirer, now func() time.Time, log *slog.Logger, cfg Config) *Engine {
	return &Engine{store: st, merchants: ms, master: master, acquirer: acq, now: func() time.Time { return now().UTC().Truncate(time.Microsecond) }, log: log, cfg: cfg, validate: NewValidator()}
}

// Result is what a command answers: the payment as it stands after the
// command, with its refunds, and the refund the command made, if any.
type Result struct {
	Payment *store.Payment `json:"payment"`
	Refunds []store.Refund `json:"refunds,omitempty"`
	Refund  *store.Refund  `json:"refund,omitempty"`
}

// The transition table: the only moves a payment's status can make.
var transitions = map[store.PaymentStatus][]store.PaymentStatus{
	store.StatusPending:                {store.StatusAwaitingAuthentication, store.StatusAuthorized, store.StatusCompleted, store.StatusDeclined},
	store.StatusAwaitingAuthentication: {store.StatusAuthorized, store.StatusCompleted, store.StatusDeclined},
	store.StatusAuthorized:             {store.StatusCompleted, store.StatusCancelled},
	// A capture or void the acquirer refused is undone.
	store.StatusCompleted: {store.StatusAuthorized},
	store.StatusCancelled: {store.StatusAuthorized},
}

// move changes p's status if the transition table allows it.
func move(p *store.Payment, to store.PaymentStatus) error {
	for _, s := range transitions[p.Status] {
		if s == to {
			p.Status = to
			return nil
		}
	}
	return invalidTransition(p.Status, to)
}

// newID returns a random id with a type prefix, e.g. "pay_…".
func newID(prefix string) string {
	b := make([]byte, 15)
	rand.Read(b)
	return prefix + "_" + strings.ToLower(base32.StdEncoding.EncodeToString(b))
}

// newTransactionID returns a random number in [1, 2^53): JavaScript clients
// read JSON numbers as doubles, which hold integers exactly only below 2^53.
func newTransactionID() int64 {
	var b [8]byte
	for {
		rand.Read(b[:])
		if n := int64(binary.BigEndian.Uint64(b[:]) & (1<<53 - 1)); n > 0 {
			return n
		}
	}
}

// requestHash fingerprints a command for the idempotency check.
func requestHash(op string, cmd any) []byte {
	b, _ := json.Marshal(cmd)
	h := sha256.Sum256(append([]byte(op+"\x00"), b...))
	return h[:]
}

// check validates a command and turns validator's errors into one
// InvalidArgument listing every bad field.
func (e *Engine) check(cmd any) error { return e.validate.Check(cmd) }

// background detaches the writes that record an acquirer's answer from the
// caller's context: once the acquirer has acted, a client that hangs up must
// not leave altyn not knowing it.
func background(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
}
