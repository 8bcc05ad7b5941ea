package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// InvoiceStatus is an invoice's state (Cascad's names, SPEC.md §4).
type InvoiceStatus string

// The invoice statuses.
const (
	// InvoiceCreated waits for payment, also after a declined attempt.
	InvoiceCreated InvoiceStatus = "created"
	// InvoiceProcessing has a payment attempt under way (AttemptKey is set).
	InvoiceProcessing InvoiceStatus = "processing"
	// InvoiceProcessed is paid (Completed, or Authorized when two-stage).
	InvoiceProcessed InvoiceStatus = "processed"
	// InvoiceExpired was not paid before ExpiresAt.
	InvoiceExpired InvoiceStatus = "expired"
	// InvoiceCancelled was cancelled by the merchant.
	InvoiceCancelled InvoiceStatus = "cancelled"
	// InvoicePartiallyRefunded and InvoiceRefunded are a processed invoice
	// whose payment was refunded in part or in full. They are never stored:
	// the invoice service derives them from the payment when it reads one.
	InvoicePartiallyRefunded InvoiceStatus = "partially_refunded"
	InvoiceRefunded          InvoiceStatus = "refunded"
)

// Invoice is one row of invoices.
type Invoice struct {
	ID          string
	MerchantID  string
	Status      InvoiceStatus
	Amount      int64
	Currency    string
	Description string
	// InvoiceID is the merchant's order number, which the payment carries
	// as its InvoiceID (CloudPayments' name).
	InvoiceID  string
	AccountID  string
	Email      string
	TwoStage   bool
	SuccessURL string
	FailURL    string
	Data       json.RawMessage // the merchant's free JSON object, or nil
	// PaymentID is the latest payment attempt (the payment, once processed).
	PaymentID string
	// AttemptKey is the idempotency key of the payment attempt under way;
	// set exactly while Status is InvoiceProcessing.
	AttemptKey string
	AttemptAt  time.Time
	// IdempotencyKey and RequestHash make CreateInvoice idempotent.
	IdempotencyKey string
	RequestHash    []byte
	CreatedAt      time.Time
	UpdatedAt      time.Time
	ExpiresAt      time.Time
	PaidAt         time.Time
	CancelledAt    time.Time
}

const invoiceColumns = `id, merchant_id, status, amount, currency, description, invoice_id, account_id, email,
	two_stage, success_url, fail_url, data, payment_id, attempt_key, attempt_at, idempotency_key, request_hash,
	created_at, updated_at, expires_at, paid_at, cancelled_at`

func scanInvoice(row pgx.Row) (*Invoice, error) {
	var inv Invoice
	var status string
	var attempt, paid, cancelled *time.Time
	err := row.Scan(&inv.ID, &inv.MerchantID, &status, &inv.Amount, &inv.Currency, &inv.Description, &inv.InvoiceID,
		&inv.AccountID, &inv.Email, &inv.TwoStage, &inv.SuccessURL, &inv.FailURL, &inv.Data, &inv.PaymentID,
		&inv.AttemptKey, &attempt, &inv.IdempotencyKey, &inv.RequestHash, &inv.CreatedAt, &inv.UpdatedAt,
		&inv.ExpiresAt, &paid, &cancelled)
	if err != nil {
		return nil, classify(err)
	}
	inv.Status = InvoiceStatus(status)
	inv.CreatedAt, inv.UpdatedAt, inv.ExpiresAt = inv.CreatedAt.UTC(), inv.UpdatedAt.UTC(), inv.ExpiresAt.UTC()
	inv.AttemptAt, inv.PaidAt, inv.CancelledAt = timeVal(attempt), timeVal(paid), timeVal(cancelled)
	return &inv, nil
}

// ErrInvoiceKeyUsed: another invoice of the merchant has this idempotency key.
var ErrInvoiceKeyUsed = errors.New("invoice idempotency key already used")

// CreateInvoice inserts a new invoice. An idempotency key the merchant used
// before gives ErrInvoiceKeyUsed (read that invoice with
// InvoiceByIdempotencyKey).
func (s *Store) CreateInvoice(ctx context.Context, inv *Invoice) error {
	var data any
	if len(inv.Data) > 0 {
		data = string(inv.Data)
	}
	return s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO invoices (`+invoiceColumns+`) VALUES (
			$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23)`,
			inv.ID, inv.MerchantID, string(inv.Status), inv.Amount, inv.Currency, inv.Description, inv.InvoiceID,
			inv.AccountID, inv.Email, inv.TwoStage, inv.SuccessURL, inv.FailURL, data, inv.PaymentID,
			inv.AttemptKey, timePtr(inv.AttemptAt), inv.IdempotencyKey, inv.RequestHash, inv.CreatedAt, inv.UpdatedAt,
			inv.ExpiresAt, timePtr(inv.PaidAt), timePtr(inv.CancelledAt))
		if err != nil {
			err = classify(err)
			if errors.Is(err, ErrDuplicate) && inv.IdempotencyKey != "" {
				return ErrInvoiceKeyUsed
			}
			return fmt.Errorf("insert invoice: %w", err)
		}
		return nil
	})
}

// Invoice reads one of a merchant's invoices.
func (s *Store) Invoice(ctx context.Context, merchantID, id string) (*Invoice, error) {
	return scanInvoice(s.db.QueryRow(ctx, `SELECT `+invoiceColumns+` FROM invoices WHERE id = $1 AND merchant_id = $2`, id, merchantID))
}

// InvoiceByID reads an invoice by its id alone, for its public payment page.
func (s *Store) InvoiceByID(ctx context.Context, id string) (*Invoice, error) {
	return scanInvoice(s.db.QueryRow(ctx, `SELECT `+invoiceColumns+` FROM invoices WHERE id = $1`, id))
}

// InvoiceByIdempotencyKey reads the merchant's invoice made with key.
func (s *Store) InvoiceByIdempotencyKey(ctx context.Context, merchantID, key string) (*Invoice, error) {
	return scanInvoice(s.db.QueryRow(ctx, `SELECT `+invoiceColumns+` FROM invoices
		WHERE merchant_id = $1 AND idempotency_key = $2 AND idempotency_key <> ''`, merchantID, key))
}

// InvoiceByPayment reads the invoice whose latest attempt is the payment.
func (s *Store) InvoiceByPayment(ctx context.Context, merchantID, paymentID string) (*Invoice, error) {
	return scanInvoice(s.db.QueryRow(ctx, `SELECT `+invoiceColumns+` FROM invoices
		WHERE payment_id = $1 AND merchant_id = $2 AND payment_id <> ''`, paymentID, merchantID))
}

// ModifyInvoice changes one invoice in one retried transaction: it reads the
// row under a lock (SELECT … FOR UPDATE), lets fn change it, and writes it
// guarded by the status and attempt key it was read with, so two callers
// can never both move an invoice out of the same state. fn must only
// compute (it may run several times); an error from it is returned as is
// and nothing is written. It returns the invoice as written.
func (s *Store) ModifyInvoice(ctx context.Context, merchantID, id string, fn func(inv *Invoice) error) (*Invoice, error) {
	var out *Invoice
	err := s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		inv, err := scanInvoice(tx.QueryRow(ctx, `SELECT `+invoiceColumns+` FROM invoices WHERE id = $1 AND merchant_id = $2 FOR UPDATE`,
			id, merchantID))
		if err != nil {
			return err
		}
		from, fromKey := inv.Status, inv.AttemptKey
		if err := fn(inv); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `UPDATE invoices SET status = $3, payment_id = $4, attempt_key = $5, attempt_at = $6,
			updated_at = $7, paid_at = $8, cancelled_at = $9
			WHERE id = $1 AND merchant_id = $2 AND status = $10 AND attempt_key = $11`,
			inv.ID, inv.MerchantID, string(inv.Status), inv.PaymentID, inv.AttemptKey, timePtr(inv.AttemptAt),
			inv.UpdatedAt, timePtr(inv.PaidAt), timePtr(inv.CancelledAt), string(from), fromKey)
		if err != nil {
			return fmt.Errorf("update invoice: %w", classify(err))
		}
		if tag.RowsAffected() != 1 {
			return ErrStale
		}
		out = inv
		return nil
	})
	return out, err
}
