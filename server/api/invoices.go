package api

import (
	"context"
	"log/slog"

	"connectrpc.com/connect"

	altynv1 "github.com/altynpay/altyn/gen/altyn/v1"
	"github.com/altynpay/altyn/gen/altyn/v1/altynv1connect"
	"github.com/altynpay/altyn/server/invoices"
	"github.com/altynpay/altyn/store"
)

type invoiceServer struct {
	invoices *invoices.Service
	log      *slog.Logger
}

var _ altynv1connect.InvoiceServiceHandler = (*invoiceServer)(nil)

// NewInvoiceServer serves the private InvoiceService. Wrap it with the auth
// interceptor: every method reads the authenticated merchant.
func NewInvoiceServer(inv *invoices.Service, log *slog.Logger) altynv1connect.InvoiceServiceHandler {
	return &invoiceServer{invoices: inv, log: log}
}

func (s *invoiceServer) CreateInvoice(ctx context.Context, req *connect.Request[altynv1.CreateInvoiceRequest]) (*connect.Response[altynv1.CreateInvoiceResponse], error) {
	m := req.Msg
	cmd := invoices.CreateCommand{
		MerchantID: merchantFrom(ctx).ID, Amount: m.Amount.GetAmount(), Currency: m.Amount.GetCurrency(),
		Description: m.Description, InvoiceID: m.InvoiceId, AccountID: m.AccountId, Email: m.Email,
		SuccessURL: m.SuccessUrl, FailURL: m.FailUrl, TwoStage: m.TwoStage,
		IdempotencyKey: idempotencyKey(m.IdempotencyKey, req.Header()),
	}
	if m.ExpiresAt != nil {
		if err := m.ExpiresAt.CheckValid(); err != nil {
			return nil, connectError(ctx, s.log, invalid("expires_at", "timestamp", "expires_at is not a valid time"))
		}
		cmd.ExpiresAt = m.ExpiresAt.AsTime()
	}
	data, err := dataJSON(m.Data)
	if err != nil {
		return nil, connectError(ctx, s.log, err)
	}
	cmd.Data = data
	inv, err := s.invoices.Create(ctx, cmd)
	if err != nil {
		return nil, connectError(ctx, s.log, err)
	}
	return connect.NewResponse(&altynv1.CreateInvoiceResponse{Invoice: s.proto(inv)}), nil
}

func (s *invoiceServer) GetInvoice(ctx context.Context, req *connect.Request[altynv1.GetInvoiceRequest]) (*connect.Response[altynv1.GetInvoiceResponse], error) {
	inv, err := s.invoices.Get(ctx, merchantFrom(ctx).ID, req.Msg.Id)
	if err != nil {
		return nil, connectError(ctx, s.log, err)
	}
	return connect.NewResponse(&altynv1.GetInvoiceResponse{Invoice: s.proto(inv)}), nil
}

func (s *invoiceServer) CancelInvoice(ctx context.Context, req *connect.Request[altynv1.CancelInvoiceRequest]) (*connect.Response[altynv1.CancelInvoiceResponse], error) {
	inv, err := s.invoices.Cancel(ctx, merchantFrom(ctx).ID, req.Msg.Id)
	if err != nil {
		return nil, connectError(ctx, s.log, err)
	}
	return connect.NewResponse(&altynv1.CancelInvoiceResponse{Invoice: s.proto(inv)}), nil
}

var invoiceStatuses = map[store.InvoiceStatus]altynv1.InvoiceStatus{
	store.InvoiceCreated:           altynv1.InvoiceStatus_INVOICE_STATUS_CREATED,
	store.InvoiceProcessing:        altynv1.InvoiceStatus_INVOICE_STATUS_PROCESSING,
	store.InvoiceProcessed:         altynv1.InvoiceStatus_INVOICE_STATUS_PROCESSED,
	store.InvoiceExpired:           altynv1.InvoiceStatus_INVOICE_STATUS_EXPIRED,
	store.InvoiceCancelled:         altynv1.InvoiceStatus_INVOICE_STATUS_CANCELLED,
	store.InvoicePartiallyRefunded: altynv1.InvoiceStatus_INVOICE_STATUS_PARTIALLY_REFUNDED,
	store.InvoiceRefunded:          altynv1.InvoiceStatus_INVOICE_STATUS_REFUNDED,
}

func (s *invoiceServer) proto(inv *store.Invoice) *altynv1.Invoice {
	out := &altynv1.Invoice{
		Id:          inv.ID,
		Status:      invoiceStatuses[inv.Status],
		Amount:      &altynv1.Money{Amount: inv.Amount, Currency: inv.Currency},
		Description: inv.Description,
		InvoiceId:   inv.InvoiceID,
		AccountId:   inv.AccountID,
		Email:       inv.Email,
		TwoStage:    inv.TwoStage,
		SuccessUrl:  inv.SuccessURL,
		FailUrl:     inv.FailURL,
		PaymentUrl:  s.invoices.PaymentURL(inv.ID),
		PaymentId:   inv.PaymentID,
		CreatedAt:   timestamp(inv.CreatedAt),
		ExpiresAt:   timestamp(inv.ExpiresAt),
		PaidAt:      timestamp(inv.PaidAt),
		CancelledAt: timestamp(inv.CancelledAt),
	}
	out.Data = dataStruct(inv.Data)
	return out
}
