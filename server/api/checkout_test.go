package api_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/altynpay/altyn/cryptogram"
	altynv1 "github.com/altynpay/altyn/gen/altyn/v1"
	"github.com/altynpay/altyn/gen/altyn/v1/altynv1connect"
	"github.com/altynpay/altyn/server/api"
	"github.com/altynpay/altyn/server/apptest"
	"github.com/altynpay/altyn/server/invoices"
)

// checkoutClients runs a test once with Connect and once with gRPC, with a
// public CheckoutService client and a private InvoiceService client.
func checkoutClients(t *testing.T, fn func(t *testing.T, env *apptest.Env, co altynv1connect.CheckoutServiceClient, inv altynv1connect.InvoiceServiceClient)) {
	for _, proto := range []string{"connect", "grpc"} {
		t.Run(proto, func(t *testing.T) {
			t.Parallel()
			env := apptest.New(t)
			var opts []connect.ClientOption
			if proto == "grpc" {
				opts = append(opts, connect.WithGRPC())
			}
			co := altynv1connect.NewCheckoutServiceClient(env.HTTP, env.URL, opts...)
			inv := altynv1connect.NewInvoiceServiceClient(env.HTTP, env.URL,
				append(opts, connect.WithInterceptors(apptest.BasicAuth(env.Merchant.PublicID, env.Secret)))...)
			fn(t, env, co, inv)
		})
	}
}

func bound(t *testing.T, env *apptest.Env, pan string, amount int64, invoiceID string) string {
	t.Helper()
	return env.SealCard(t, cryptogram.Card{PAN: pan, ExpMonth: 12, ExpYear: 2030, CVV: "123"},
		&cryptogram.Binding{Amount: amount, Currency: "RUB", InvoiceID: invoiceID})
}

func TestCheckoutPay(t *testing.T) {
	checkoutClients(t, func(t *testing.T, env *apptest.Env, co altynv1connect.CheckoutServiceClient, _ altynv1connect.InvoiceServiceClient) {
		ctx := context.Background()
		data, _ := structpb.NewStruct(map[string]any{"name": "Anna", "recurrent": map[string]any{"interval": "Month", "period": 1}})
		res, err := co.Pay(ctx, connect.NewRequest(&altynv1.PayRequest{
			PublicId: env.Merchant.PublicID, Cryptogram: bound(t, env, "4000000000003055", 150000, "order-1"),
			Amount: rub(150000), InvoiceId: "order-1", AccountId: "user-1", Email: "payer@example.com",
			Data: data, Language: "ru", IdempotencyKey: "press-1",
		}))
		if err != nil {
			t.Fatalf("Pay: %v", err)
		}
		p := res.Msg.Payment
		if p.Status != altynv1.PaymentStatus_PAYMENT_STATUS_COMPLETED || p.Amount.GetAmount() != 150000 || p.Card.GetLastFour() != "3055" {
			t.Errorf("Pay = %v, want COMPLETED 150000 with the card", p)
		}
		if !strings.HasPrefix(p.SubscriptionId, "sub_") {
			t.Errorf("subscription_id = %q, want the subscription that data.recurrent started", p.SubscriptionId)
		}
		// The merchant sees the payment, with the payer's IP address.
		full, err := env.Connect.GetPayment(ctx, connect.NewRequest(&altynv1.GetPaymentRequest{PaymentId: p.Id}))
		if err != nil || full.Msg.Payment.IpAddress != "127.0.0.1" || full.Msg.Payment.Data.GetFields()["name"].GetStringValue() != "Anna" {
			t.Errorf("GetPayment = %v, %v; want the payer's IP and data", full.Msg.GetPayment(), err)
		}
		// The public key "press-1" does not occupy the merchant's own key.
		if _, err := env.Connect.Charge(ctx, connect.NewRequest(&altynv1.ChargeRequest{
			Amount: rub(100), Cryptogram: env.Seal(t, "4000000000003055"), IdempotencyKey: "press-1",
		})); err != nil {
			t.Errorf("the merchant's Charge with key press-1 after a widget payment with it: %v", err)
		}
		// The key with another request (a new cryptogram) is refused.
		_, err = co.Pay(ctx, connect.NewRequest(&altynv1.PayRequest{
			PublicId: env.Merchant.PublicID, Cryptogram: bound(t, env, "4000000000003055", 150000, "order-1"),
			Amount: rub(150000), InvoiceId: "order-1", IdempotencyKey: "press-1",
		}))
		if connect.CodeOf(err) != connect.CodeInvalidArgument {
			t.Errorf("key press-1 with another cryptogram: %v, want IDEMPOTENCY_KEY_REUSED", err)
		}

		st, err := co.GetPaymentStatus(ctx, connect.NewRequest(&altynv1.GetPaymentStatusRequest{PublicId: env.Merchant.PublicID, PaymentId: p.Id}))
		if err != nil || st.Msg.Payment.Status != p.Status || st.Msg.Payment.Id != p.Id {
			t.Errorf("GetPaymentStatus = %v, %v", st.Msg.GetPayment(), err)
		}
		if _, err := co.GetPaymentStatus(ctx, connect.NewRequest(&altynv1.GetPaymentStatusRequest{PublicId: "pk_nobody", PaymentId: p.Id})); connect.CodeOf(err) != connect.CodeNotFound {
			t.Errorf("GetPaymentStatus with another public id: %v, want NotFound", err)
		}
	})
}

func TestCheckoutDeclineAndBinding(t *testing.T) {
	checkoutClients(t, func(t *testing.T, env *apptest.Env, co altynv1connect.CheckoutServiceClient, _ altynv1connect.InvoiceServiceClient) {
		ctx := context.Background()
		res, err := co.Pay(ctx, connect.NewRequest(&altynv1.PayRequest{
			PublicId: env.Merchant.PublicID, Cryptogram: bound(t, env, "4000056655665556", 5000, ""), Amount: rub(5000), Language: "ru",
		}))
		if err != nil {
			t.Fatalf("Pay: %v", err)
		}
		if p := res.Msg.Payment; p.Status != altynv1.PaymentStatus_PAYMENT_STATUS_DECLINED || p.ReasonCode != 5051 || p.CardholderMessage != "Недостаточно средств на карте." {
			t.Errorf("declined payment %v, want DECLINED 5051 with the Russian message", p)
		}
		// A cryptogram bound to 50.00 does not pay 5000.00.
		_, err = co.Pay(ctx, connect.NewRequest(&altynv1.PayRequest{
			PublicId: env.Merchant.PublicID, Cryptogram: bound(t, env, "4000000000003055", 5000, ""), Amount: rub(500000),
		}))
		if connect.CodeOf(err) != connect.CodeInvalidArgument {
			t.Errorf("Pay with a cryptogram bound to another amount: %v, want InvalidArgument", err)
		}
		if _, err := co.Pay(ctx, connect.NewRequest(&altynv1.PayRequest{PublicId: "pk_nobody", Amount: rub(1), Cryptogram: "x"})); connect.CodeOf(err) != connect.CodeNotFound {
			t.Errorf("Pay for an unknown merchant: %v, want NotFound", err)
		}
	})
}

func TestInvoiceService(t *testing.T) {
	checkoutClients(t, func(t *testing.T, env *apptest.Env, co altynv1connect.CheckoutServiceClient, inv altynv1connect.InvoiceServiceClient) {
		ctx := context.Background()
		data, _ := structpb.NewStruct(map[string]any{"order": "77"})
		created, err := inv.CreateInvoice(ctx, connect.NewRequest(&altynv1.CreateInvoiceRequest{
			Amount: rub(300000), Description: "Order 77", InvoiceId: "order-77", Email: "payer@example.com",
			ExpiresAt: timestamppb.New(time.Now().Add(48 * time.Hour)), SuccessUrl: "https://shop.example/ok",
			FailUrl: "https://shop.example/fail", Data: data, IdempotencyKey: "create-77",
		}))
		if err != nil {
			t.Fatalf("CreateInvoice: %v", err)
		}
		i := created.Msg.Invoice
		if i.Status != altynv1.InvoiceStatus_INVOICE_STATUS_CREATED || i.PaymentUrl != env.URL+"/pay/"+i.Id || i.Data.GetFields()["order"].GetStringValue() != "77" {
			t.Errorf("created invoice %v, want CREATED with its payment URL and data", i)
		}
		paid, err := co.PayInvoice(ctx, connect.NewRequest(&altynv1.PayInvoiceRequest{
			Id: i.Id, Cryptogram: bound(t, env, "4000000000003055", 300000, "order-77"), Language: "en", IdempotencyKey: "press",
		}))
		if err != nil {
			t.Fatalf("PayInvoice: %v", err)
		}
		if paid.Msg.Payment.Status != altynv1.PaymentStatus_PAYMENT_STATUS_COMPLETED || paid.Msg.InvoiceStatus != altynv1.InvoiceStatus_INVOICE_STATUS_PROCESSED {
			t.Errorf("PayInvoice = %v %v, want COMPLETED and PROCESSED", paid.Msg.Payment.Status, paid.Msg.InvoiceStatus)
		}
		// The same press again answers the same payment; a new one is refused.
		again, err := co.PayInvoice(ctx, connect.NewRequest(&altynv1.PayInvoiceRequest{
			Id: i.Id, Cryptogram: bound(t, env, "4000000000003055", 300000, "order-77"), IdempotencyKey: "press",
		}))
		if err == nil && again.Msg.Payment.Id != paid.Msg.Payment.Id {
			t.Errorf("a repeat of the paying request made payment %s, want %s", again.Msg.Payment.Id, paid.Msg.Payment.Id)
		}
		_, err = co.PayInvoice(ctx, connect.NewRequest(&altynv1.PayInvoiceRequest{
			Id: i.Id, Cryptogram: bound(t, env, "4000000000003055", 300000, "order-77"), IdempotencyKey: "press-2",
		}))
		if connect.CodeOf(err) != connect.CodeFailedPrecondition {
			t.Errorf("second payment of a paid invoice: %v, want FailedPrecondition", err)
		}
		got, err := inv.GetInvoice(ctx, connect.NewRequest(&altynv1.GetInvoiceRequest{Id: i.Id}))
		if err != nil || got.Msg.Invoice.Status != altynv1.InvoiceStatus_INVOICE_STATUS_PROCESSED || got.Msg.Invoice.PaymentId != paid.Msg.Payment.Id {
			t.Errorf("GetInvoice = %v, %v; want PROCESSED by the payment", got.Msg.GetInvoice(), err)
		}
		if _, err := inv.CancelInvoice(ctx, connect.NewRequest(&altynv1.CancelInvoiceRequest{Id: i.Id})); connect.CodeOf(err) != connect.CodeFailedPrecondition {
			t.Errorf("CancelInvoice of a paid invoice: %v, want FailedPrecondition", err)
		}
		other, err := inv.CreateInvoice(ctx, connect.NewRequest(&altynv1.CreateInvoiceRequest{Amount: rub(100)}))
		if err != nil {
			t.Fatal(err)
		}
		c, err := inv.CancelInvoice(ctx, connect.NewRequest(&altynv1.CancelInvoiceRequest{Id: other.Msg.Invoice.Id}))
		if err != nil || c.Msg.Invoice.Status != altynv1.InvoiceStatus_INVOICE_STATUS_CANCELLED {
			t.Errorf("CancelInvoice = %v, %v; want CANCELLED", c.Msg.GetInvoice(), err)
		}
		if _, err := inv.GetInvoice(ctx, connect.NewRequest(&altynv1.GetInvoiceRequest{Id: "inv_nothere"})); connect.CodeOf(err) != connect.CodeNotFound {
			t.Errorf("GetInvoice of an unknown id: %v, want NotFound", err)
		}
		// The private API needs the secret.
		anon := altynv1connect.NewInvoiceServiceClient(env.HTTP, env.URL)
		if _, err := anon.GetInvoice(ctx, connect.NewRequest(&altynv1.GetInvoiceRequest{Id: i.Id})); connect.CodeOf(err) != connect.CodeUnauthenticated {
			t.Errorf("GetInvoice without credentials: %v, want Unauthenticated", err)
		}
	})
}

// TestCheckoutPayLimit: a client address gets its burst of public payment
// attempts, declined or not, then ResourceExhausted with nothing charged;
// invoices share the budget; the merchant's private API is not limited.
func TestCheckoutPayLimit(t *testing.T) {
	t.Parallel()
	env := apptest.New(t, apptest.WithPayLimit(api.PayLimit{PerMinute: 1, Burst: 3}))
	ctx := context.Background()
	co := altynv1connect.NewCheckoutServiceClient(env.HTTP, env.URL)
	pay := func(pan string) error {
		_, err := co.Pay(ctx, connect.NewRequest(&altynv1.PayRequest{
			PublicId: env.Merchant.PublicID, Cryptogram: bound(t, env, pan, 1000, "order-9"), Amount: rub(1000), InvoiceId: "order-9",
		}))
		return err
	}
	// A bot tries cards: the first three attempts are served (approved or
	// declined), the fourth is refused before it reaches the acquirer.
	for i, pan := range []string{"4000000000003055", "4000000000000002", "5555555555554444"} {
		if err := pay(pan); err != nil {
			t.Fatalf("attempt %d: %v", i+1, err)
		}
	}
	before := snapshot(t, env)
	if err := pay("4242424242424242"); connect.CodeOf(err) != connect.CodeResourceExhausted {
		t.Fatalf("the fourth attempt: %v, want ResourceExhausted", err)
	}
	inv, err := env.App.Invoices.Create(ctx, invoices.CreateCommand{MerchantID: env.Merchant.ID, Amount: 1000, Currency: "RUB", InvoiceID: "order-10"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := co.PayInvoice(ctx, connect.NewRequest(&altynv1.PayInvoiceRequest{Id: inv.ID,
		Cryptogram: bound(t, env, "4000000000003055", 1000, "order-10")})); connect.CodeOf(err) != connect.CodeResourceExhausted {
		t.Errorf("PayInvoice over the limit: %v, want ResourceExhausted", err)
	}
	if after := snapshot(t, env); after != before {
		t.Errorf("refused attempts changed the database")
	}
	if _, err := env.Connect.Charge(ctx, connect.NewRequest(&altynv1.ChargeRequest{
		Amount: rub(100), Cryptogram: env.Seal(t, "4000000000003055"),
	})); err != nil {
		t.Errorf("the merchant's own Charge from the same address: %v", err)
	}
}
