package api

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"connectrpc.com/connect"

	altynv1 "github.com/altynpay/altyn/gen/altyn/v1"
	"github.com/altynpay/altyn/gen/altyn/v1/altynv1connect"
	"github.com/altynpay/altyn/server/acquirer"
	"github.com/altynpay/altyn/server/invoices"
	"github.com/altynpay/altyn/server/merchants"
	"github.com/altynpay/altyn/server/payments"
	"github.com/altynpay/altyn/store"
)

type checkoutServer struct {
	merchants *merchants.Service
	engine    *payments.Engine
	invoices  *invoices.Service
	termURL   string
	limiter   *ipLimiter
	log       *slog.Logger
}

var _ altynv1connect.CheckoutServiceHandler = (*checkoutServer)(nil)

// NewCheckoutServer serves the public CheckoutService that the widget, the
// checkout script and the hosted page call. termURL is where the ACS returns
// the payer after 3-D Secure: the widget's page, which completes the payment
// and tells the form.
func NewCheckoutServer(ms *merchants.Service, engine *payments.Engine, inv *invoices.Service, termURL string, limit PayLimit, log *slog.Logger) altynv1connect.CheckoutServiceHandler {
	return &checkoutServer{merchants: ms, engine: engine, invoices: inv, termURL: termURL, limiter: newIPLimiter(limit), log: log}
}

// errTooManyAttempts answers a client address over its PayLimit.
var errTooManyAttempts = connect.NewError(connect.CodeResourceExhausted,
	errors.New("too many payment attempts from this address; wait a minute and try again"))

// admit takes one payment attempt from the client's budget.
func (s *checkoutServer) admit(ctx context.Context, peer connect.Peer) error {
	ip := peerIP(peer)
	if s.limiter.allow(ip, time.Now()) {
		return nil
	}
	s.log.WarnContext(ctx, "payment attempts over the limit", "ip", ip)
	return errTooManyAttempts
}

func (s *checkoutServer) GetPublicKey(ctx context.Context, req *connect.Request[altynv1.GetPublicKeyRequest]) (*connect.Response[altynv1.GetPublicKeyResponse], error) {
	if req.Msg.PublicId == "" || len(req.Msg.PublicId) > 64 {
		return nil, connectError(ctx, s.log, invalid("public_id", "required", "public_id is required"))
	}
	key, err := s.merchants.CurrentKey(ctx, req.Msg.PublicId)
	if errors.Is(err, merchants.ErrNotFound) {
		return nil, errNoMerchant
	}
	if err != nil {
		return nil, connectError(ctx, s.log, err)
	}
	text, err := key.MarshalText()
	if err != nil {
		return nil, connectError(ctx, s.log, err)
	}
	return connect.NewResponse(&altynv1.GetPublicKeyResponse{KeyId: key.KeyID, PublicKey: string(text)}), nil
}

var errNoMerchant = connect.NewError(connect.CodeNotFound, errors.New("no merchant has this public id"))

// merchant finds the merchant of a public id.
func (s *checkoutServer) merchant(ctx context.Context, publicID string) (*store.Merchant, error) {
	if publicID == "" || len(publicID) > 64 {
		return nil, connectError(ctx, s.log, invalid("public_id", "required", "public_id is required"))
	}
	m, err := s.merchants.ByPublicID(ctx, publicID)
	if errors.Is(err, merchants.ErrNotFound) {
		return nil, errNoMerchant
	}
	if err != nil {
		return nil, connectError(ctx, s.log, err)
	}
	return m, nil
}

func (s *checkoutServer) Pay(ctx context.Context, req *connect.Request[altynv1.PayRequest]) (*connect.Response[altynv1.PayResponse], error) {
	if err := s.admit(ctx, req.Peer()); err != nil {
		return nil, err
	}
	m := req.Msg
	merchant, err := s.merchant(ctx, m.PublicId)
	if err != nil {
		return nil, err
	}
	cmd := payments.PayCommand{
		MerchantID: merchant.ID, TwoStage: m.TwoStage,
		Amount: m.Amount.GetAmount(), Currency: m.Amount.GetCurrency(),
		Cryptogram: m.Cryptogram, InvoiceID: m.InvoiceId, AccountID: m.AccountId, Description: m.Description,
		Email: m.Email, IPAddress: peerIP(req.Peer()), CardholderName: m.CardholderName, TermURL: s.termURL,
		IdempotencyKey: checkoutKey(m.IdempotencyKey),
	}
	if cmd.Data, err = dataJSON(m.Data); err != nil {
		return nil, connectError(ctx, s.log, err)
	}
	res, err := s.engine.Pay(ctx, cmd)
	if err != nil {
		return nil, connectError(ctx, s.log, err)
	}
	return connect.NewResponse(&altynv1.PayResponse{Payment: checkoutPayment(res.Payment, m.Language)}), nil
}

func (s *checkoutServer) PayInvoice(ctx context.Context, req *connect.Request[altynv1.PayInvoiceRequest]) (*connect.Response[altynv1.PayInvoiceResponse], error) {
	if err := s.admit(ctx, req.Peer()); err != nil {
		return nil, err
	}
	m := req.Msg
	res, inv, err := s.invoices.Pay(ctx, invoices.PayCommand{
		ID: m.Id, Cryptogram: m.Cryptogram, Email: m.Email, CardholderName: m.CardholderName,
		IPAddress: peerIP(req.Peer()), TermURL: s.termURL, IdempotencyKey: m.IdempotencyKey,
	})
	if err != nil {
		return nil, connectError(ctx, s.log, err)
	}
	return connect.NewResponse(&altynv1.PayInvoiceResponse{
		Payment:       checkoutPayment(res.Payment, m.Language),
		InvoiceStatus: invoiceStatuses[inv.Status],
	}), nil
}

func (s *checkoutServer) GetPaymentStatus(ctx context.Context, req *connect.Request[altynv1.GetPaymentStatusRequest]) (*connect.Response[altynv1.GetPaymentStatusResponse], error) {
	merchant, err := s.merchant(ctx, req.Msg.PublicId)
	if err != nil {
		return nil, err
	}
	if req.Msg.PaymentId == "" {
		return nil, connectError(ctx, s.log, invalid("payment_id", "required", "payment_id is required"))
	}
	res, err := s.engine.Get(ctx, payments.GetCommand{MerchantID: merchant.ID, PaymentID: req.Msg.PaymentId})
	if err != nil {
		return nil, connectError(ctx, s.log, err)
	}
	return connect.NewResponse(&altynv1.GetPaymentStatusResponse{Payment: checkoutPayment(res.Payment, req.Msg.Language)}), nil
}

// checkoutKey scopes an idempotency key from the public API, so a stranger
// who knows a merchant's public id cannot occupy the keys the merchant's
// backend will use on the private API.
func checkoutKey(key string) string {
	if key == "" {
		return ""
	}
	return "checkout:" + key
}

// peerIP is the address the request came from, without the port.
func peerIP(p connect.Peer) string {
	host, _, err := net.SplitHostPort(p.Addr)
	if err != nil || net.ParseIP(host) == nil {
		return ""
	}
	return host
}

// checkoutPayment is what the payer's browser may see of a payment.
func checkoutPayment(p *store.Payment, lang string) *altynv1.CheckoutPayment {
	out := &altynv1.CheckoutPayment{
		Id:             p.ID,
		TransactionId:  p.TransactionID,
		Status:         statusProtos[p.Status],
		TwoStage:       p.TwoStage,
		Amount:         &altynv1.Money{Amount: p.Amount, Currency: p.Currency},
		InvoiceId:      p.InvoiceID,
		ReasonCode:     int32(p.ReasonCode),
		Reason:         p.Reason,
		SubscriptionId: p.SubscriptionID,
	}
	out.Card, out.ThreeDs = cardProto(p), threeDSProto(p)
	if p.Status == store.StatusDeclined {
		out.CardholderMessage = acquirer.CardHolderMessage(p.ReasonCode, strings.TrimSpace(lang))
	}
	return out
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
