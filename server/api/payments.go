package api

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	altynv1 "github.com/altynpay/altyn/gen/altyn/v1"
	"github.com/altynpay/altyn/gen/altyn/v1/altynv1connect"
	"github.com/altynpay/altyn/server/acquirer"
	"github.com/altynpay/altyn/server/payments"
	"github.com/altynpay/altyn/store"
)

type paymentServer struct {
	engine *payments.Engine
	log    *slog.Logger
}

var _ altynv1connect.PaymentServiceHandler = (*paymentServer)(nil)

// NewPaymentServer serves the private PaymentService. Wrap it with the auth
// interceptor: every method reads the authenticated merchant.
func NewPaymentServer(engine *payments.Engine, log *slog.Logger) altynv1connect.PaymentServiceHandler {
	return &paymentServer{engine: engine, log: log}
}

// idempotencyKey is the request's field or, if empty, the Idempotency-Key
// or X-Request-ID header (CloudPayments' name).
func idempotencyKey(field string, h interface{ Get(string) string }) string {
	if field != "" {
		return field
	}
	if k := h.Get("Idempotency-Key"); k != "" {
		return k
	}
	return h.Get("X-Request-ID")
}

// payRequest is what Charge and Authorize requests share.
type payRequest interface {
	GetAmount() *altynv1.Money
	GetCryptogram() string
	GetToken() string
	GetInitiator() altynv1.Initiator
	GetScheduled() bool
	GetInvoiceId() string
	GetAccountId() string
	GetDescription() string
	GetEmail() string
	GetIpAddress() string
	GetCardholderName() string
	GetData() *structpb.Struct
	GetTermUrl() string
	GetIdempotencyKey() string
	GetRecurrent() *altynv1.RecurrentPlan
}

var initiators = map[altynv1.Initiator]payments.Initiator{
	altynv1.Initiator_INITIATOR_UNSPECIFIED: "",
	altynv1.Initiator_INITIATOR_CARDHOLDER:  payments.InitiatorCardholder,
	altynv1.Initiator_INITIATOR_MERCHANT:    payments.InitiatorMerchant,
}

// payCommand builds the command shared by Charge and Authorize.
func payCommand(ctx context.Context, twoStage bool, m payRequest, h http.Header) (payments.PayCommand, error) {
	cmd := payments.PayCommand{
		MerchantID: merchantFrom(ctx).ID, TwoStage: twoStage,
		Amount: m.GetAmount().GetAmount(), Currency: m.GetAmount().GetCurrency(),
		Cryptogram: m.GetCryptogram(), Token: m.GetToken(), Scheduled: m.GetScheduled(),
		InvoiceID: m.GetInvoiceId(), AccountID: m.GetAccountId(), Description: m.GetDescription(),
		Email: m.GetEmail(), IPAddress: m.GetIpAddress(), CardholderName: m.GetCardholderName(),
		TermURL: m.GetTermUrl(), IdempotencyKey: idempotencyKey(m.GetIdempotencyKey(), h),
	}
	initiator, ok := initiators[m.GetInitiator()]
	if !ok {
		return cmd, invalid("initiator", "enum", "initiator is not a known value")
	}
	cmd.Initiator = initiator
	data, err := dataJSON(m.GetData())
	if err != nil {
		return cmd, err
	}
	cmd.Data = data
	if r := m.GetRecurrent(); r != nil {
		plan, err := planOf(r, cmd.Currency)
		if err != nil {
			return cmd, err
		}
		cmd.Recurrent = plan
	}
	return cmd, nil
}

func (s *paymentServer) Charge(ctx context.Context, req *connect.Request[altynv1.ChargeRequest]) (*connect.Response[altynv1.ChargeResponse], error) {
	cmd, err := payCommand(ctx, false, req.Msg, req.Header())
	if err != nil {
		return nil, connectError(ctx, s.log, err)
	}
	res, err := s.engine.Pay(ctx, cmd)
	if err != nil {
		return nil, connectError(ctx, s.log, err)
	}
	return connect.NewResponse(&altynv1.ChargeResponse{Payment: PaymentProto(res)}), nil
}

func (s *paymentServer) Authorize(ctx context.Context, req *connect.Request[altynv1.AuthorizeRequest]) (*connect.Response[altynv1.AuthorizeResponse], error) {
	cmd, err := payCommand(ctx, true, req.Msg, req.Header())
	if err != nil {
		return nil, connectError(ctx, s.log, err)
	}
	res, err := s.engine.Pay(ctx, cmd)
	if err != nil {
		return nil, connectError(ctx, s.log, err)
	}
	return connect.NewResponse(&altynv1.AuthorizeResponse{Payment: PaymentProto(res)}), nil
}

func (s *paymentServer) Capture(ctx context.Context, req *connect.Request[altynv1.CaptureRequest]) (*connect.Response[altynv1.CaptureResponse], error) {
	res, err := s.engine.Capture(ctx, payments.CaptureCommand{
		MerchantID: merchantFrom(ctx).ID, PaymentID: req.Msg.PaymentId, Amount: req.Msg.Amount,
		IdempotencyKey: idempotencyKey(req.Msg.IdempotencyKey, req.Header()),
	})
	if err != nil {
		return nil, connectError(ctx, s.log, err)
	}
	return connect.NewResponse(&altynv1.CaptureResponse{Payment: PaymentProto(res)}), nil
}

func (s *paymentServer) Void(ctx context.Context, req *connect.Request[altynv1.VoidRequest]) (*connect.Response[altynv1.VoidResponse], error) {
	res, err := s.engine.Void(ctx, payments.VoidCommand{
		MerchantID: merchantFrom(ctx).ID, PaymentID: req.Msg.PaymentId,
		IdempotencyKey: idempotencyKey(req.Msg.IdempotencyKey, req.Header()),
	})
	if err != nil {
		return nil, connectError(ctx, s.log, err)
	}
	return connect.NewResponse(&altynv1.VoidResponse{Payment: PaymentProto(res)}), nil
}

func (s *paymentServer) Refund(ctx context.Context, req *connect.Request[altynv1.RefundRequest]) (*connect.Response[altynv1.RefundResponse], error) {
	res, err := s.engine.Refund(ctx, payments.RefundCommand{
		MerchantID: merchantFrom(ctx).ID, PaymentID: req.Msg.PaymentId, Amount: req.Msg.Amount,
		IdempotencyKey: idempotencyKey(req.Msg.IdempotencyKey, req.Header()),
	})
	if err != nil {
		return nil, connectError(ctx, s.log, err)
	}
	return connect.NewResponse(&altynv1.RefundResponse{Refund: refundProto(res.Refund), Payment: PaymentProto(res)}), nil
}

func (s *paymentServer) Complete3DS(ctx context.Context, req *connect.Request[altynv1.Complete3DSRequest]) (*connect.Response[altynv1.Complete3DSResponse], error) {
	res, err := s.engine.Complete3DS(ctx, payments.Complete3DSCommand{
		MerchantID: merchantFrom(ctx).ID, PaymentID: req.Msg.PaymentId, TransactionID: req.Msg.TransactionId,
		PaRes: req.Msg.PaRes, IdempotencyKey: idempotencyKey(req.Msg.IdempotencyKey, req.Header()),
	})
	if err != nil {
		return nil, connectError(ctx, s.log, err)
	}
	return connect.NewResponse(&altynv1.Complete3DSResponse{Payment: PaymentProto(res)}), nil
}

func (s *paymentServer) GetPayment(ctx context.Context, req *connect.Request[altynv1.GetPaymentRequest]) (*connect.Response[altynv1.GetPaymentResponse], error) {
	res, err := s.engine.Get(ctx, payments.GetCommand{MerchantID: merchantFrom(ctx).ID, PaymentID: req.Msg.PaymentId, TransactionID: req.Msg.TransactionId})
	if err != nil {
		return nil, connectError(ctx, s.log, err)
	}
	return connect.NewResponse(&altynv1.GetPaymentResponse{Payment: PaymentProto(res)}), nil
}

func (s *paymentServer) FindPayment(ctx context.Context, req *connect.Request[altynv1.FindPaymentRequest]) (*connect.Response[altynv1.FindPaymentResponse], error) {
	res, err := s.engine.Find(ctx, payments.FindCommand{MerchantID: merchantFrom(ctx).ID, InvoiceID: req.Msg.InvoiceId})
	if err != nil {
		return nil, connectError(ctx, s.log, err)
	}
	return connect.NewResponse(&altynv1.FindPaymentResponse{Payment: PaymentProto(res)}), nil
}

func (s *paymentServer) ListPayments(ctx context.Context, req *connect.Request[altynv1.ListPaymentsRequest]) (*connect.Response[altynv1.ListPaymentsResponse], error) {
	cmd := payments.ListCommand{
		MerchantID: merchantFrom(ctx).ID, AccountID: req.Msg.AccountId,
		PageSize: int(req.Msg.PageSize), PageToken: req.Msg.PageToken,
	}
	if req.Msg.PageSize < 0 {
		return nil, connectError(ctx, s.log, invalid("page_size", "gte", "page_size must be between 0 and 100"))
	}
	for _, st := range req.Msg.Statuses {
		status, ok := statusNames[st]
		if !ok {
			return nil, connectError(ctx, s.log, invalid("statuses", "enum", "statuses holds an unknown status"))
		}
		cmd.Statuses = append(cmd.Statuses, status)
	}
	if t := req.Msg.CreatedFrom; t != nil {
		cmd.CreatedFrom = t.AsTime()
	}
	if t := req.Msg.CreatedTo; t != nil {
		cmd.CreatedTo = t.AsTime()
	}
	list, next, err := s.engine.List(ctx, cmd)
	if err != nil {
		return nil, connectError(ctx, s.log, err)
	}
	out := &altynv1.ListPaymentsResponse{NextPageToken: next}
	for _, p := range list {
		out.Payments = append(out.Payments, PaymentProto(&payments.Result{Payment: p}))
	}
	return connect.NewResponse(out), nil
}

var statusNames = map[altynv1.PaymentStatus]store.PaymentStatus{
	altynv1.PaymentStatus_PAYMENT_STATUS_PENDING:                 store.StatusPending,
	altynv1.PaymentStatus_PAYMENT_STATUS_AWAITING_AUTHENTICATION: store.StatusAwaitingAuthentication,
	altynv1.PaymentStatus_PAYMENT_STATUS_AUTHORIZED:              store.StatusAuthorized,
	altynv1.PaymentStatus_PAYMENT_STATUS_COMPLETED:               store.StatusCompleted,
	altynv1.PaymentStatus_PAYMENT_STATUS_CANCELLED:               store.StatusCancelled,
	altynv1.PaymentStatus_PAYMENT_STATUS_DECLINED:                store.StatusDeclined,
}

var statusProtos = func() map[store.PaymentStatus]altynv1.PaymentStatus {
	m := map[store.PaymentStatus]altynv1.PaymentStatus{}
	for k, v := range statusNames {
		m[v] = k
	}
	return m
}()

// PaymentProto turns an engine result into the API's Payment.
func PaymentProto(res *payments.Result) *altynv1.Payment {
	p := res.Payment
	out := &altynv1.Payment{
		Id:             p.ID,
		TransactionId:  p.TransactionID,
		Status:         statusProtos[p.Status],
		TwoStage:       p.TwoStage,
		Amount:         &altynv1.Money{Amount: p.Amount, Currency: p.Currency},
		CapturedAmount: p.CapturedAmount,
		RefundedAmount: p.RefundedAmount,
		InvoiceId:      p.InvoiceID,
		AccountId:      p.AccountID,
		Description:    p.Description,
		Email:          p.Email,
		IpAddress:      p.IPAddress,
		CardholderName: p.CardholderName,
		AuthCode:       p.AuthCode,
		ReasonCode:     int32(p.ReasonCode),
		Reason:         p.Reason,
		TestMode:       p.TestMode,
		Token:          p.TokenID,
		SubscriptionId: p.SubscriptionID,
		CreatedAt:      timestamp(p.CreatedAt),
		AuthorizedAt:   timestamp(p.AuthorizedAt),
		CapturedAt:     timestamp(p.CapturedAt),
		CancelledAt:    timestamp(p.CancelledAt),
		DeclinedAt:     timestamp(p.DeclinedAt),
		ExpiresAt:      timestamp(p.ExpiresAt),
	}
	out.Card, out.ThreeDs, out.Data = cardProto(p), threeDSProto(p), dataStruct(p.Data)
	if p.Status == store.StatusDeclined {
		out.CardholderMessage = acquirer.CardHolderMessage(p.ReasonCode, "en")
	}
	for i := range res.Refunds {
		out.Refunds = append(out.Refunds, refundProto(&res.Refunds[i]))
	}
	return out
}

// cardProto is the payment's card as the API shows it (nil if none).
func cardProto(p *store.Payment) *altynv1.Card {
	if p.CardLastFour == "" {
		return nil
	}
	return &altynv1.Card{
		Mask: store.CardMask(p.CardFirstSix, p.CardLastFour), FirstSix: p.CardFirstSix, LastFour: p.CardLastFour,
		Brand: p.CardBrand, ExpMonth: int32(p.CardExpMonth), ExpYear: int32(p.CardExpYear),
	}
}

// threeDSProto is what the payer's browser needs for 3-D Secure, while the
// payment awaits it (nil otherwise).
func threeDSProto(p *store.Payment) *altynv1.ThreeDS {
	if p.Status != store.StatusAwaitingAuthentication {
		return nil
	}
	return &altynv1.ThreeDS{AcsUrl: p.ACSURL, PaReq: p.PaReq, Md: itoa(p.TransactionID)}
}

// dataJSON is a request's free data as stored (nil when absent).
func dataJSON(data *structpb.Struct) ([]byte, error) {
	if data == nil {
		return nil, nil
	}
	b, err := protojson.Marshal(data)
	if err != nil {
		return nil, invalid("data", "json", "data must be a JSON object")
	}
	return b, nil
}

// dataStruct is stored free data as the API returns it (nil when absent).
func dataStruct(b []byte) *structpb.Struct {
	if len(b) == 0 {
		return nil
	}
	var st structpb.Struct
	if protojson.Unmarshal(b, &st) != nil {
		return nil
	}
	return &st
}

func refundProto(r *store.Refund) *altynv1.Refund {
	if r == nil {
		return nil
	}
	return &altynv1.Refund{Id: r.ID, TransactionId: r.TransactionID, Amount: r.Amount, CreatedAt: timestamp(r.CreatedAt)}
}

func timestamp(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}
