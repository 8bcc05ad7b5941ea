// Package invoices is altyn's invoices: an amount a merchant asks a payer to
// pay on altyn's hosted page (/pay/{id}), with Cascad's statuses (created,
// processing, processed, expired, cancelled).
//
// An invoice is paid at most once, also under concurrency: a payment attempt
// first claims the invoice (created → processing, a guarded update through
// store.ModifyInvoice), and only the claimant calls the payment engine. The
// attempt's outcome moves the invoice on: approved → processed (never payable
// again), declined → created (the payer may try another card, as with
// CloudPayments' orders), 3-D Secure or a lost acquirer answer → it stays
// processing until the payment settles. Expiry is applied when the invoice is
// read or paid, so no background job is needed for it.
//
// The package knows nothing of proto or HTTP; its errors are *payments.Error,
// which the API maps to Connect codes like the engine's.
package invoices

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/altynpay/altyn/server/merchants"
	"github.com/altynpay/altyn/server/payments"
	"github.com/altynpay/altyn/store"
)

// Limits of invoices.
const (
	// DefaultTTL is how long an invoice accepts payment when the merchant
	// names no expiry.
	DefaultTTL = 7 * 24 * time.Hour
	// MaxTTL is the longest an invoice may stay payable.
	MaxTTL = 90 * 24 * time.Hour
	// staleAttempt: a claim whose payment never came into being (the
	// process died between claiming the invoice and recording the payment,
	// which takes milliseconds) is released after this long.
	staleAttempt = 5 * time.Minute
	// PayPath is the hosted page's path; the invoice id follows it.
	PayPath = "/pay/"
)

// The invoice errors; all are *payments.Error so the API maps them.
var (
	ErrNotFound     = &payments.Error{Kind: payments.KindNotFound, Reason: "INVOICE_NOT_FOUND", Message: "invoice not found"}
	ErrPaid         = &payments.Error{Kind: payments.KindPrecondition, Reason: "INVOICE_PAID", Message: "the invoice has been paid"}
	ErrInProgress   = &payments.Error{Kind: payments.KindPrecondition, Reason: "INVOICE_PAYMENT_IN_PROGRESS", Message: "a payment of this invoice is under way; finish it or wait for its outcome"}
	ErrExpired      = &payments.Error{Kind: payments.KindPrecondition, Reason: "INVOICE_EXPIRED", Message: "the invoice has expired"}
	ErrCancelled    = &payments.Error{Kind: payments.KindPrecondition, Reason: "INVOICE_CANCELLED", Message: "the invoice has been cancelled"}
	errNotCancelled = &payments.Error{Kind: payments.KindPrecondition, Reason: "INVOICE_NOT_CANCELLABLE", Message: "only an unpaid invoice can be cancelled"}
)

// Service creates, reads, cancels and pays invoices.
type Service struct {
	store    *store.Store
	engine   *payments.Engine
	ms       *merchants.Service
	now      func() time.Time
	log      *slog.Logger
	baseURL  string
	validate *payments.Validator
}

// New makes the service. baseURL is where payers reach altyn; payment URLs
// are baseURL + PayPath + id.
func New(st *store.Store, engine *payments.Engine, ms *merchants.Service, now func() time.Time, log *slog.Logger, baseURL string) *Service {
	// Times are cut to microseconds, as the database keeps them, so an
	// invoice reads back as it was returned.
	return &Service{store: st, engine: engine, ms: ms, now: func() time.Time { return now().UTC().Truncate(time.Microsecond) }, log: log,
		baseURL: strings.TrimRight(baseURL, "/"), validate: payments.NewValidator()}
}

// PaymentURL is the hosted page of an invoice.
func (s *Service) PaymentURL(id string) string { return s.baseURL + PayPath + id }

// CreateCommand asks for an invoice.
type CreateCommand struct {
	MerchantID     string          `json:"-" validate:"required"`
	Amount         int64           `json:"amount" field:"amount.amount" validate:"gt=0,lte=1000000000000"`
	Currency       string          `json:"currency" field:"amount.currency" validate:"required,iso4217"`
	Description    string          `json:"description" field:"description" validate:"max=1000"`
	InvoiceID      string          `json:"invoice_id" field:"invoice_id" validate:"max=100"`
	AccountID      string          `json:"account_id" field:"account_id" validate:"max=100"`
	Email          string          `json:"email" field:"email" validate:"omitempty,email,max=254"`
	ExpiresAt      time.Time       `json:"expires_at"` // zero: DefaultTTL from now
	SuccessURL     string          `json:"success_url" field:"success_url" validate:"omitempty,http_url,max=2048"`
	FailURL        string          `json:"fail_url" field:"fail_url" validate:"omitempty,http_url,max=2048"`
	TwoStage       bool            `json:"two_stage"`
	Data           json.RawMessage `json:"data" field:"data" validate:"max=16384"`
	IdempotencyKey string          `json:"-" field:"idempotency_key" validate:"max=128"`
}

// Create makes an invoice in status created. With an idempotency key, a
// repeat gets the first invoice; the key with other parameters is
// payments.ErrIdempotencyMismatch.
func (s *Service) Create(ctx context.Context, cmd CreateCommand) (*store.Invoice, error) {
	if err := s.check(cmd); err != nil {
		return nil, err
	}
	now := s.now()
	expires := cmd.ExpiresAt.UTC()
	switch {
	case expires.IsZero():
		expires = now.Add(DefaultTTL)
	case !expires.After(now):
		return nil, invalid("expires_at", "future", "expires_at must be in the future")
	case expires.After(now.Add(MaxTTL)):
		return nil, invalid("expires_at", "max", "expires_at must be at most 90 days from now")
	}
	b, _ := json.Marshal(cmd)
	hash := sha256.Sum256(b)
	if cmd.IdempotencyKey != "" {
		if inv, done, err := s.replay(ctx, cmd.MerchantID, cmd.IdempotencyKey, hash[:]); done {
			return inv, err
		}
	}
	inv := &store.Invoice{
		ID: newID(), MerchantID: cmd.MerchantID, Status: store.InvoiceCreated,
		Amount: cmd.Amount, Currency: cmd.Currency, Description: cmd.Description, InvoiceID: cmd.InvoiceID,
		AccountID: cmd.AccountID, Email: cmd.Email, TwoStage: cmd.TwoStage, SuccessURL: cmd.SuccessURL,
		FailURL: cmd.FailURL, Data: cmd.Data, IdempotencyKey: cmd.IdempotencyKey,
		CreatedAt: now, UpdatedAt: now, ExpiresAt: expires,
	}
	if cmd.IdempotencyKey != "" {
		inv.RequestHash = hash[:]
	}
	err := s.store.CreateInvoice(ctx, inv)
	if errors.Is(err, store.ErrInvoiceKeyUsed) {
		// A concurrent request with the same key won the race.
		inv, _, err := s.replay(ctx, cmd.MerchantID, cmd.IdempotencyKey, hash[:])
		return inv, err
	}
	if err != nil {
		return nil, fmt.Errorf("create invoice: %w", err)
	}
	return inv, nil
}

// replay answers a CreateInvoice whose key was used: done is false when it
// was not.
func (s *Service) replay(ctx context.Context, merchantID, key string, hash []byte) (*store.Invoice, bool, error) {
	inv, err := s.store.InvoiceByIdempotencyKey(ctx, merchantID, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, true, fmt.Errorf("read invoice by key: %w", err)
	}
	if string(inv.RequestHash) != string(hash) {
		return nil, true, payments.ErrIdempotencyMismatch
	}
	inv, err = s.sync(ctx, inv)
	return inv, true, err
}

// Get reads one of the merchant's invoices, its status brought up to date.
func (s *Service) Get(ctx context.Context, merchantID, id string) (*store.Invoice, error) {
	if id == "" || len(id) > 64 {
		return nil, invalid("id", "required", "id is required")
	}
	inv, err := s.store.Invoice(ctx, merchantID, id)
	inv, err = s.current(ctx, inv, err)
	if err != nil {
		return nil, err
	}
	return s.refundStatus(ctx, inv)
}

// current takes an invoice as the store read it and brings it up to date
// (sync); the store's ErrNotFound becomes the service's.
func (s *Service) current(ctx context.Context, inv *store.Invoice, err error) (*store.Invoice, error) {
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return s.sync(ctx, inv)
}

// refundStatus shows a processed invoice whose payment was refunded as
// partially_refunded or refunded (SPEC.md §4); the stored status stays
// processed, so the invoice still cannot be paid again.
func (s *Service) refundStatus(ctx context.Context, inv *store.Invoice) (*store.Invoice, error) {
	if inv.Status != store.InvoiceProcessed || inv.PaymentID == "" {
		return inv, nil
	}
	p, err := s.store.Payment(ctx, inv.MerchantID, inv.PaymentID)
	if err != nil {
		return nil, fmt.Errorf("read the invoice's payment: %w", err)
	}
	switch {
	case p.RefundedAmount > 0 && p.RefundedAmount >= p.CapturedAmount:
		inv.Status = store.InvoiceRefunded
	case p.RefundedAmount > 0:
		inv.Status = store.InvoicePartiallyRefunded
	}
	return inv, nil
}

// Lookup reads an invoice by id alone, for its public page, with its
// merchant.
func (s *Service) Lookup(ctx context.Context, id string) (*store.Invoice, *store.Merchant, error) {
	if id == "" || len(id) > 64 {
		return nil, nil, ErrNotFound
	}
	inv, err := s.store.InvoiceByID(ctx, id)
	inv, err = s.current(ctx, inv, err)
	if err != nil {
		return nil, nil, err
	}
	m, err := s.ms.ByID(ctx, inv.MerchantID)
	if err != nil {
		return nil, nil, fmt.Errorf("merchant of invoice: %w", err)
	}
	return inv, m, nil
}

// Cancel cancels an unpaid invoice; a cancelled one is answered as it is.
func (s *Service) Cancel(ctx context.Context, merchantID, id string) (*store.Invoice, error) {
	inv, err := s.Get(ctx, merchantID, id)
	if err != nil {
		return nil, err
	}
	if inv.Status == store.InvoiceCancelled {
		return inv, nil
	}
	now := s.now()
	return s.modify(ctx, inv, func(inv *store.Invoice) error {
		switch inv.Status {
		case store.InvoiceCreated:
			inv.Status, inv.CancelledAt, inv.UpdatedAt = store.InvoiceCancelled, now, now
			return nil
		case store.InvoiceCancelled:
			return errUnchanged
		case store.InvoiceProcessing:
			return ErrInProgress.With("a payment of this invoice is under way; it cannot be cancelled now")
		case store.InvoiceProcessed:
			return ErrPaid.With("the invoice has been paid; refund the payment instead")
		default:
			return errNotCancelled.With("the invoice is " + string(inv.Status) + "; only an unpaid invoice can be cancelled")
		}
	})
}

// errUnchanged aborts a ModifyInvoice that has nothing to write.
var errUnchanged = errors.New("unchanged")

// PayCommand pays an invoice by cryptogram from the payer's browser.
type PayCommand struct {
	ID             string `field:"id" validate:"required,max=64"`
	Cryptogram     string `field:"cryptogram" validate:"required,max=8192"`
	Email          string `field:"email" validate:"omitempty,email,max=254"`
	CardholderName string `field:"cardholder_name" validate:"max=100"`
	IPAddress      string `field:"ip_address" validate:"omitempty,ip"`
	// TermURL is where the ACS returns the payer after 3-D Secure.
	TermURL        string `field:"term_url" validate:"omitempty,http_url,max=2048"`
	IdempotencyKey string `field:"idempotency_key" validate:"max=128"`
}

// Pay claims the invoice, pays it through the engine and moves the invoice
// as the payment came out. Of concurrent attempts on one invoice exactly one
// reaches the engine; the others get ErrInProgress (or ErrPaid). A repeat
// of the attempt under way (same idempotency key) gets the same payment.
func (s *Service) Pay(ctx context.Context, cmd PayCommand) (*payments.Result, *store.Invoice, error) {
	if err := s.check(cmd); err != nil {
		return nil, nil, err
	}
	inv, err := s.store.InvoiceByID(ctx, cmd.ID)
	inv, err = s.current(ctx, inv, err)
	if err != nil {
		return nil, nil, err
	}
	key := cmd.IdempotencyKey
	if key == "" {
		key = randomText(16)
	}
	// The engine's idempotency key of this attempt: scoped to the invoice,
	// so it cannot collide with the merchant's own keys or other invoices.
	attempt := "invoice:" + inv.ID + ":" + key
	// A repeat of an attempt (same key) goes to the engine again, which
	// answers it as the first time: still under way, or the paying payment.
	repeat := inv.Status == store.InvoiceProcessing && inv.AttemptKey == attempt
	if inv.Status == store.InvoiceProcessed && cmd.IdempotencyKey != "" {
		p, err := s.attemptPayment(ctx, inv.MerchantID, attempt)
		if err != nil {
			return nil, nil, err
		}
		repeat = p != nil && p.ID == inv.PaymentID
	}
	if !repeat {
		now := s.now()
		inv, err = s.store.ModifyInvoice(ctx, inv.MerchantID, inv.ID, func(inv *store.Invoice) error {
			if err := payable(inv, now); err != nil {
				return err
			}
			inv.Status, inv.AttemptKey, inv.AttemptAt, inv.UpdatedAt = store.InvoiceProcessing, attempt, now, now
			inv.PaymentID = "" // set once this attempt's payment exists
			return nil
		})
		if err != nil {
			return nil, nil, err
		}
	}
	email := inv.Email
	if email == "" {
		email = cmd.Email
	}
	res, err := s.engine.Pay(ctx, payments.PayCommand{
		MerchantID: inv.MerchantID, TwoStage: inv.TwoStage, Amount: inv.Amount, Currency: inv.Currency,
		Cryptogram: cmd.Cryptogram, InvoiceID: inv.InvoiceID, AccountID: inv.AccountID, Description: inv.Description,
		Email: email, IPAddress: cmd.IPAddress, CardholderName: cmd.CardholderName, Data: inv.Data,
		TermURL: cmd.TermURL, IdempotencyKey: attempt,
	})
	// What happens to the invoice is decided by the payment, not the
	// caller: record it even if the caller has gone.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err != nil {
		if serr := s.endFailedAttempt(wctx, inv, attempt); serr != nil {
			s.log.WarnContext(ctx, "invoice after failed payment attempt", "invoice", inv.ID, "err", serr)
		}
		return nil, nil, err
	}
	inv, err = s.settle(wctx, inv, attempt, res.Payment)
	if err != nil {
		return nil, nil, err
	}
	return res, inv, nil
}

// endFailedAttempt settles an attempt whose engine call failed: if it made
// no payment (a bad cryptogram, say), the invoice is payable again at once;
// if it did, the invoice follows that payment.
func (s *Service) endFailedAttempt(ctx context.Context, inv *store.Invoice, attempt string) error {
	p, err := s.attemptPayment(ctx, inv.MerchantID, attempt)
	if err != nil {
		return err
	}
	if p != nil {
		_, err = s.settle(ctx, inv, attempt, p)
		return err
	}
	now := s.now()
	_, err = s.modify(ctx, inv, func(inv *store.Invoice) error {
		if inv.Status != store.InvoiceProcessing || inv.AttemptKey != attempt {
			return errUnchanged
		}
		release(inv, now)
		return nil
	})
	return err
}

// payable says whether a payment attempt may start on inv now.
func payable(inv *store.Invoice, now time.Time) error {
	switch inv.Status {
	case store.InvoiceCreated:
		if !now.Before(inv.ExpiresAt) {
			return ErrExpired
		}
		return nil
	case store.InvoiceProcessing:
		return ErrInProgress
	case store.InvoiceProcessed:
		return ErrPaid
	case store.InvoiceExpired:
		return ErrExpired
	case store.InvoiceCancelled:
		return ErrCancelled
	}
	return fmt.Errorf("invoice in unknown status %q", inv.Status)
}

// SyncPayment brings the invoice whose attempt p is (if any) up to date with
// it; the 3-D Secure return page calls it once the payment has settled.
func (s *Service) SyncPayment(ctx context.Context, p *store.Payment) error {
	inv, err := s.store.InvoiceByPayment(ctx, p.MerchantID, p.ID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	_, err = s.settle(ctx, inv, inv.AttemptKey, p)
	return err
}

// sync brings an invoice's status up to date: it expires an unpaid invoice
// past its expiry and settles an attempt under way by its payment.
func (s *Service) sync(ctx context.Context, inv *store.Invoice) (*store.Invoice, error) {
	now := s.now()
	switch inv.Status {
	case store.InvoiceCreated:
		if now.Before(inv.ExpiresAt) {
			return inv, nil
		}
		return s.modify(ctx, inv, func(inv *store.Invoice) error {
			if inv.Status != store.InvoiceCreated {
				return errUnchanged
			}
			inv.Status, inv.UpdatedAt = store.InvoiceExpired, now
			return nil
		})
	case store.InvoiceProcessing:
		p, err := s.attemptPayment(ctx, inv.MerchantID, inv.AttemptKey)
		if err != nil {
			return nil, err
		}
		if p != nil {
			return s.settle(ctx, inv, inv.AttemptKey, p)
		}
		if now.Sub(inv.AttemptAt) < staleAttempt {
			return inv, nil
		}
		// The attempt never made a payment: release the invoice.
		key := inv.AttemptKey
		return s.modify(ctx, inv, func(inv *store.Invoice) error {
			if inv.Status != store.InvoiceProcessing || inv.AttemptKey != key {
				return errUnchanged
			}
			release(inv, now)
			return nil
		})
	}
	return inv, nil
}

// attemptPayment finds the payment of the attempt whose engine
// idempotency key is attempt, or nil if the engine has made none (yet): the
// engine records a payment together with its key, in one transaction.
func (s *Service) attemptPayment(ctx context.Context, merchantID, attempt string) (*store.Payment, error) {
	idem, err := s.store.Idempotency(ctx, merchantID, attempt)
	if errors.Is(err, store.ErrNotFound) || err == nil && idem.PaymentID == "" {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read attempt of invoice: %w", err)
	}
	res, err := s.engine.Get(ctx, payments.GetCommand{MerchantID: merchantID, PaymentID: idem.PaymentID})
	if err != nil {
		return nil, fmt.Errorf("read payment of invoice: %w", err)
	}
	return res.Payment, nil
}

// settle moves an invoice as the payment p of its attempt stands; it does
// nothing if that attempt is no longer the one under way.
func (s *Service) settle(ctx context.Context, inv *store.Invoice, attempt string, p *store.Payment) (*store.Invoice, error) {
	now := s.now()
	return s.modify(ctx, inv, func(inv *store.Invoice) error {
		if inv.Status != store.InvoiceProcessing || inv.AttemptKey != attempt || inv.PaymentID != "" && inv.PaymentID != p.ID {
			return errUnchanged
		}
		settled := p.Status == store.StatusCompleted || p.Status == store.StatusAuthorized ||
			p.Status == store.StatusDeclined || p.Status == store.StatusCancelled
		if inv.PaymentID == p.ID && !settled {
			return errUnchanged // still under way, already recorded
		}
		inv.PaymentID, inv.UpdatedAt = p.ID, now
		switch p.Status {
		case store.StatusCompleted, store.StatusAuthorized:
			inv.Status, inv.AttemptKey, inv.AttemptAt, inv.PaidAt = store.InvoiceProcessed, "", time.Time{}, now
		case store.StatusDeclined, store.StatusCancelled:
			release(inv, now)
		}
		return nil
	})
}

// release ends the attempt under way without payment: the invoice is
// payable again, or expired.
func release(inv *store.Invoice, now time.Time) {
	inv.Status, inv.AttemptKey, inv.AttemptAt, inv.UpdatedAt = store.InvoiceCreated, "", time.Time{}, now
	if !now.Before(inv.ExpiresAt) {
		inv.Status = store.InvoiceExpired
	}
}

// modify runs a guarded change of inv; errUnchanged from fn reads the
// invoice as it stands instead.
func (s *Service) modify(ctx context.Context, inv *store.Invoice, fn func(*store.Invoice) error) (*store.Invoice, error) {
	out, err := s.store.ModifyInvoice(ctx, inv.MerchantID, inv.ID, fn)
	if errors.Is(err, errUnchanged) {
		return s.store.Invoice(ctx, inv.MerchantID, inv.ID)
	}
	if err != nil {
		return nil, fmt.Errorf("update invoice %s: %w", inv.ID, err)
	}
	return out, nil
}

// check validates a command into one InvalidArgument listing every bad field.
func (s *Service) check(cmd any) error { return s.validate.Check(cmd) }

// invalid is an InvalidArgument about one field.
var invalid = payments.Invalid

// newID returns a random invoice id, "inv_" and 24 base32 characters.
func newID() string { return "inv_" + randomText(15) }

func randomText(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return strings.ToLower(base32.StdEncoding.EncodeToString(b))
}
