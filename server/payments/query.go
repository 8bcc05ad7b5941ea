package payments

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/altynpay/altyn/server/merchants"
	"github.com/altynpay/altyn/store"
)

// GetCommand names a payment by id or transaction number.
type GetCommand struct {
	MerchantID    string `validate:"required"`
	PaymentID     string `field:"payment_id" validate:"required_without=TransactionID,max=64"`
	TransactionID int64  `field:"transaction_id" validate:"gte=0"`
}

// Get reads one of the merchant's payments.
func (e *Engine) Get(ctx context.Context, cmd GetCommand) (*Result, error) {
	if err := e.check(cmd); err != nil {
		return nil, err
	}
	p, err := e.find(ctx, cmd.MerchantID, cmd.PaymentID, cmd.TransactionID)
	if err != nil {
		return nil, err
	}
	return e.result(ctx, p)
}

// FindCommand names a merchant's invoice.
type FindCommand struct {
	MerchantID string `validate:"required"`
	InvoiceID  string `field:"invoice_id" validate:"required,max=100"`
}

// Find reads the latest payment of an invoice id.
func (e *Engine) Find(ctx context.Context, cmd FindCommand) (*Result, error) {
	if err := e.check(cmd); err != nil {
		return nil, err
	}
	p, err := e.store.PaymentByInvoice(ctx, cmd.MerchantID, cmd.InvoiceID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNotFound.With("no payment has invoice id " + cmd.InvoiceID)
	}
	if err != nil {
		return nil, err
	}
	return e.result(ctx, p)
}

// ListCommand filters and pages a merchant's payments.
type ListCommand struct {
	MerchantID  string                `validate:"required"`
	Statuses    []store.PaymentStatus `field:"statuses" validate:"max=6,dive,oneof=Pending AwaitingAuthentication Authorized Completed Cancelled Declined"`
	AccountID   string                `field:"account_id" validate:"max=100"`
	CreatedFrom time.Time
	CreatedTo   time.Time
	PageSize    int    `field:"page_size" validate:"gte=0,lte=100"`
	PageToken   string `field:"page_token" validate:"max=200"`
}

// List pages through the merchant's payments, newest first.
func (e *Engine) List(ctx context.Context, cmd ListCommand) ([]*store.Payment, string, error) {
	if err := e.check(cmd); err != nil {
		return nil, "", err
	}
	if !cmd.CreatedFrom.IsZero() && !cmd.CreatedTo.IsZero() && !cmd.CreatedFrom.Before(cmd.CreatedTo) {
		return nil, "", invalidFields([]FieldViolation{{Field: "created_to", Code: "gtfield", Description: "created_to must be after created_from"}})
	}
	if cmd.PageSize == 0 {
		cmd.PageSize = 100
	}
	list, next, err := e.store.ListPayments(ctx, cmd.MerchantID, store.PaymentFilter{
		Statuses: cmd.Statuses, AccountID: cmd.AccountID, CreatedFrom: cmd.CreatedFrom, CreatedTo: cmd.CreatedTo,
		PageSize: cmd.PageSize, PageToken: cmd.PageToken,
	})
	if errors.Is(err, store.ErrBadCursor) {
		return nil, "", invalidFields([]FieldViolation{{Field: "page_token", Code: "invalid", Description: "page_token is not one this API returned"}})
	}
	return list, next, err
}

// find reads a payment by id or, when id is empty, by transaction number.
func (e *Engine) find(ctx context.Context, merchantID, id string, txid int64) (*store.Payment, error) {
	var p *store.Payment
	var err error
	if id != "" {
		p, err = e.store.Payment(ctx, merchantID, id)
	} else {
		p, err = e.store.PaymentByTransactionID(ctx, merchantID, txid)
	}
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNotFound
	}
	return p, err
}

// result reads the payment as it stands, with its refunds.
func (e *Engine) result(ctx context.Context, p *store.Payment) (*Result, error) {
	cur, err := e.store.Payment(ctx, p.MerchantID, p.ID)
	if err != nil {
		return nil, fmt.Errorf("read payment: %w", err)
	}
	refunds, err := e.store.Refunds(ctx, p.ID)
	if err != nil {
		return nil, err
	}
	return &Result{Payment: cur, Refunds: refunds}, nil
}

func (e *Engine) merchant(ctx context.Context, id string) (*store.Merchant, error) {
	m, err := e.merchants.ByID(ctx, id)
	if errors.Is(err, merchants.ErrNotFound) {
		return nil, newErr(KindUnauthenticated, "MERCHANT_NOT_FOUND", "unknown merchant")
	}
	return m, err
}
