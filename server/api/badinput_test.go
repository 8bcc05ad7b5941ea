package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"

	"github.com/altynpay/altyn/cryptogram"
	altynv1 "github.com/altynpay/altyn/gen/altyn/v1"
	"github.com/altynpay/altyn/gen/altyn/v1/altynv1connect"
	"github.com/altynpay/altyn/server/apptest"
	"github.com/altynpay/altyn/server/merchants"
)

// snapshot is every row of every table that holds money or state, as text,
// so a test can prove a failed call changed nothing.
func snapshot(t *testing.T, env *apptest.Env) string {
	t.Helper()
	return dumpTables(t, env, "payments", "refunds", "idempotency_keys", "used_cryptograms", "merchants", "merchant_keys")
}

// dumpTables reads the rows of the tables as JSON text, a line each.
func dumpTables(t *testing.T, env *apptest.Env, tables ...string) string {
	t.Helper()
	var b strings.Builder
	for _, table := range tables {
		rows, err := env.App.Store.Pool().Query(context.Background(), "SELECT to_jsonb(t)::text FROM "+table+" t ORDER BY 1")
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			b.WriteString(table + " " + s + "\n")
		}
		rows.Close()
	}
	return b.String()
}

// reasonOf reads the machine-readable reason an error carries.
func reasonOf(err error) string {
	var ce *connect.Error
	if !errors.As(err, &ce) {
		return ""
	}
	for _, d := range ce.Details() {
		if m, derr := d.Value(); derr == nil {
			if ed, ok := m.(*altynv1.ErrorDetail); ok {
				return ed.Reason
			}
		}
	}
	return ""
}

func TestBadInputChangesNothing(t *testing.T) {
	t.Parallel()
	env := apptest.New(t)
	ctx := context.Background()
	c := env.Connect

	// The state the bad calls must leave untouched.
	completed := charge(t, env, c, "4000000000003055", 10000)
	usedCryptogram := env.Seal(t, "4000000000003055")
	if _, err := c.Charge(ctx, connect.NewRequest(&altynv1.ChargeRequest{Amount: rub(100), Cryptogram: usedCryptogram})); err != nil {
		t.Fatal(err)
	}
	authorized := authorize(t, env, c, "4000000000003055", 5000)
	cancelled := authorize(t, env, c, "4000000000003055", 5000)
	if _, err := c.Void(ctx, connect.NewRequest(&altynv1.VoidRequest{PaymentId: cancelled.Id})); err != nil {
		t.Fatal(err)
	}
	declined := charge(t, env, c, "4000056655665556", 100)
	awaiting := charge(t, env, c, "4242424242424242", 100)
	if _, err := c.Refund(ctx, connect.NewRequest(&altynv1.RefundRequest{PaymentId: completed.Id, Amount: proto.Int64(1000), IdempotencyKey: "refund-1"})); err != nil {
		t.Fatal(err)
	}

	other, err := env.App.Merchants.Create(ctx, merchants.CreateOptions{Name: "Other shop", TestMode: true})
	if err != nil {
		t.Fatal(err)
	}
	otherKey, _ := env.App.Merchants.CurrentKey(ctx, other.Merchant.PublicID)
	otherClient := altynv1connect.NewPaymentServiceClient(env.HTTP, env.URL, connect.WithInterceptors(apptest.BasicAuth(other.Merchant.PublicID, other.Secret)))
	otherCryptogram, _ := cryptogram.Seal(otherKey, other.Merchant.PublicID, cryptogram.Card{PAN: "4000000000003055", ExpMonth: 1, ExpYear: 2031, CVV: "123"}, cryptogram.SealOptions{Now: env.Clock.Now()})
	otherRes, err := otherClient.Charge(ctx, connect.NewRequest(&altynv1.ChargeRequest{Amount: rub(700), Cryptogram: otherCryptogram}))
	if err != nil {
		t.Fatal(err)
	}
	foreignPayment := otherRes.Msg.Payment
	forOtherMerchant, _ := cryptogram.Seal(env.Key, other.Merchant.PublicID, cryptogram.Card{PAN: "4000000000003055", ExpMonth: 1, ExpYear: 2031, CVV: "123"}, cryptogram.SealOptions{Now: env.Clock.Now()})
	wrongSecret := altynv1connect.NewPaymentServiceClient(env.HTTP, env.URL, connect.WithInterceptors(apptest.BasicAuth(env.Merchant.PublicID, "sk_wrong")))
	anonymous := altynv1connect.NewPaymentServiceClient(env.HTTP, env.URL)

	fresh := func() string { return env.Seal(t, "4000000000003055") }
	tampered := func() string {
		p := []byte(fresh())
		i := len(p) - 20
		p[i] = map[bool]byte{true: 'A', false: 'B'}[p[i] != 'A']
		return string(p)
	}
	old := func() string {
		pkt, err := cryptogram.Seal(env.Key, env.Merchant.PublicID, cryptogram.Card{PAN: "4000000000003055", ExpMonth: 1, ExpYear: 2031, CVV: "123"},
			cryptogram.SealOptions{Now: env.Clock.Now().Add(-2 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		return pkt
	}
	bound := func() string {
		return env.SealCard(t, cryptogram.Card{PAN: "4000000000003055", ExpMonth: 1, ExpYear: 2031, CVV: "123"},
			&cryptogram.Binding{Amount: 500, Currency: "RUB", InvoiceID: "inv-9"})
	}
	chargeWith := func(mod func(r *altynv1.ChargeRequest)) func() error {
		return func() error {
			r := &altynv1.ChargeRequest{Amount: rub(1000), Cryptogram: fresh(), InvoiceId: "inv-1"}
			mod(r)
			_, err := c.Charge(ctx, connect.NewRequest(r))
			return err
		}
	}
	capture := func(id string, amount *int64) func() error {
		return func() error {
			_, err := c.Capture(ctx, connect.NewRequest(&altynv1.CaptureRequest{PaymentId: id, Amount: amount}))
			return err
		}
	}
	refund := func(id string, amount *int64) func() error {
		return func() error {
			_, err := c.Refund(ctx, connect.NewRequest(&altynv1.RefundRequest{PaymentId: id, Amount: amount}))
			return err
		}
	}
	void := func(id string) func() error {
		return func() error {
			_, err := c.Void(ctx, connect.NewRequest(&altynv1.VoidRequest{PaymentId: id}))
			return err
		}
	}

	tests := []struct {
		name   string
		call   func() error
		code   connect.Code
		reason string
		field  string // a field violation that must be named, if any
	}{
		{"zero amount", chargeWith(func(r *altynv1.ChargeRequest) { r.Amount = rub(0) }), connect.CodeInvalidArgument, "INVALID_ARGUMENT", "amount.amount"},
		{"negative amount", chargeWith(func(r *altynv1.ChargeRequest) { r.Amount = rub(-100) }), connect.CodeInvalidArgument, "INVALID_ARGUMENT", "amount.amount"},
		{"amount above the ceiling", chargeWith(func(r *altynv1.ChargeRequest) { r.Amount = rub(1_000_000_000_001) }), connect.CodeInvalidArgument, "INVALID_ARGUMENT", "amount.amount"},
		{"amount near int64 overflow", chargeWith(func(r *altynv1.ChargeRequest) { r.Amount = rub(1<<63 - 1) }), connect.CodeInvalidArgument, "INVALID_ARGUMENT", "amount.amount"},
		{"missing amount", chargeWith(func(r *altynv1.ChargeRequest) { r.Amount = nil }), connect.CodeInvalidArgument, "INVALID_ARGUMENT", "amount.currency"},
		{"lower-case currency", chargeWith(func(r *altynv1.ChargeRequest) { r.Amount.Currency = "rub" }), connect.CodeInvalidArgument, "INVALID_ARGUMENT", "amount.currency"},
		{"unknown currency", chargeWith(func(r *altynv1.ChargeRequest) { r.Amount.Currency = "XYZ" }), connect.CodeInvalidArgument, "INVALID_ARGUMENT", "amount.currency"},
		{"missing cryptogram", chargeWith(func(r *altynv1.ChargeRequest) { r.Cryptogram = "" }), connect.CodeInvalidArgument, "INVALID_ARGUMENT", "cryptogram"},
		{"malformed cryptogram", chargeWith(func(r *altynv1.ChargeRequest) { r.Cryptogram = "not a cryptogram" }), connect.CodeInvalidArgument, "CRYPTOGRAM_MALFORMED", "cryptogram"},
		{"tampered cryptogram", chargeWith(func(r *altynv1.ChargeRequest) { r.Cryptogram = tampered() }), connect.CodeInvalidArgument, "CRYPTOGRAM_DECRYPT", "cryptogram"},
		{"cryptogram for another merchant", chargeWith(func(r *altynv1.ChargeRequest) { r.Cryptogram = forOtherMerchant }), connect.CodeInvalidArgument, "CRYPTOGRAM_WRONG_MERCHANT", "cryptogram"},
		{"another merchant's cryptogram", chargeWith(func(r *altynv1.ChargeRequest) { r.Cryptogram = otherCryptogram }), connect.CodeInvalidArgument, "CRYPTOGRAM_WRONG_MERCHANT", "cryptogram"},
		{"replayed cryptogram", chargeWith(func(r *altynv1.ChargeRequest) { r.Cryptogram = usedCryptogram; r.Amount = rub(100); r.InvoiceId = "" }), connect.CodeAlreadyExists, "CRYPTOGRAM_REPLAYED", ""},
		{"expired cryptogram", chargeWith(func(r *altynv1.ChargeRequest) { r.Cryptogram = old() }), connect.CodeInvalidArgument, "CRYPTOGRAM_EXPIRED", "cryptogram"},
		{"cryptogram bound to another payment", chargeWith(func(r *altynv1.ChargeRequest) { r.Cryptogram = bound() }), connect.CodeInvalidArgument, "CRYPTOGRAM_BINDING_MISMATCH", "cryptogram"},
		{"bad e-mail", chargeWith(func(r *altynv1.ChargeRequest) { r.Email = "not-an-email" }), connect.CodeInvalidArgument, "INVALID_ARGUMENT", "email"},
		{"bad IP address", chargeWith(func(r *altynv1.ChargeRequest) { r.IpAddress = "999.1.1.1" }), connect.CodeInvalidArgument, "INVALID_ARGUMENT", "ip_address"},
		{"script TermUrl", chargeWith(func(r *altynv1.ChargeRequest) { r.TermUrl = "javascript:alert(1)" }), connect.CodeInvalidArgument, "INVALID_ARGUMENT", "term_url"},
		{"invoice id too long", chargeWith(func(r *altynv1.ChargeRequest) { r.InvoiceId = strings.Repeat("x", 101) }), connect.CodeInvalidArgument, "INVALID_ARGUMENT", "invoice_id"},
		{"description too long", chargeWith(func(r *altynv1.ChargeRequest) { r.Description = strings.Repeat("x", 1001) }), connect.CodeInvalidArgument, "INVALID_ARGUMENT", "description"},
		{"capture above authorized", capture(authorized.Id, proto.Int64(5001)), connect.CodeFailedPrecondition, "CAPTURE_EXCEEDS_AUTHORIZED", ""},
		{"capture of zero", capture(authorized.Id, proto.Int64(0)), connect.CodeInvalidArgument, "INVALID_ARGUMENT", "amount"},
		{"capture of negative amount", capture(authorized.Id, proto.Int64(-1)), connect.CodeInvalidArgument, "INVALID_ARGUMENT", "amount"},
		{"capture of a completed payment", capture(completed.Id, nil), connect.CodeFailedPrecondition, "INVALID_TRANSITION", ""},
		{"capture after void", capture(cancelled.Id, nil), connect.CodeFailedPrecondition, "INVALID_TRANSITION", ""},
		{"capture of a declined payment", capture(declined.Id, nil), connect.CodeFailedPrecondition, "INVALID_TRANSITION", ""},
		{"void of a completed payment", void(completed.Id), connect.CodeFailedPrecondition, "INVALID_TRANSITION", ""},
		{"void of a cancelled payment", void(cancelled.Id), connect.CodeFailedPrecondition, "INVALID_TRANSITION", ""},
		{"refund above captured", refund(completed.Id, proto.Int64(9001)), connect.CodeFailedPrecondition, "REFUND_EXCEEDS_CAPTURED", ""},
		{"refund of an authorization", refund(authorized.Id, nil), connect.CodeFailedPrecondition, "INVALID_TRANSITION", ""},
		{"refund of a declined payment", refund(declined.Id, nil), connect.CodeFailedPrecondition, "INVALID_TRANSITION", ""},
		{"refund of zero", refund(completed.Id, proto.Int64(0)), connect.CodeInvalidArgument, "INVALID_ARGUMENT", "amount"},
		{"capture without payment id", capture("", nil), connect.CodeInvalidArgument, "INVALID_ARGUMENT", "payment_id"},
		{"capture of an unknown payment", capture("pay_doesnotexist", nil), connect.CodeNotFound, "PAYMENT_NOT_FOUND", ""},
		{"capture of another merchant's payment", capture(foreignPayment.Id, nil), connect.CodeNotFound, "PAYMENT_NOT_FOUND", ""},
		{"refund of another merchant's payment", refund(foreignPayment.Id, nil), connect.CodeNotFound, "PAYMENT_NOT_FOUND", ""},
		{"read another merchant's payment", func() error {
			_, err := c.GetPayment(ctx, connect.NewRequest(&altynv1.GetPaymentRequest{PaymentId: foreignPayment.Id}))
			return err
		}, connect.CodeNotFound, "PAYMENT_NOT_FOUND", ""},
		{"get without id", func() error {
			_, err := c.GetPayment(ctx, connect.NewRequest(&altynv1.GetPaymentRequest{}))
			return err
		}, connect.CodeInvalidArgument, "INVALID_ARGUMENT", "payment_id"},
		{"find an unknown invoice", func() error {
			_, err := c.FindPayment(ctx, connect.NewRequest(&altynv1.FindPaymentRequest{InvoiceId: "no-such-order"}))
			return err
		}, connect.CodeNotFound, "PAYMENT_NOT_FOUND", ""},
		{"list with page size 101", func() error {
			_, err := c.ListPayments(ctx, connect.NewRequest(&altynv1.ListPaymentsRequest{PageSize: 101}))
			return err
		}, connect.CodeInvalidArgument, "INVALID_ARGUMENT", "page_size"},
		{"list with a forged page token", func() error {
			_, err := c.ListPayments(ctx, connect.NewRequest(&altynv1.ListPaymentsRequest{PageToken: "Zm9yZ2Vk"}))
			return err
		}, connect.CodeInvalidArgument, "INVALID_ARGUMENT", "page_token"},
		{"3-D Secure with a forged PaRes", func() error {
			_, err := c.Complete3DS(ctx, connect.NewRequest(&altynv1.Complete3DSRequest{PaymentId: awaiting.Id, PaRes: "forged"}))
			return err
		}, connect.CodeInvalidArgument, "INVALID_PARES", ""},
		{"idempotency key reused for another amount", func() error {
			_, err := c.Refund(ctx, connect.NewRequest(&altynv1.RefundRequest{PaymentId: completed.Id, Amount: proto.Int64(2000), IdempotencyKey: "refund-1"}))
			return err
		}, connect.CodeInvalidArgument, "IDEMPOTENCY_KEY_REUSED", ""},
		{"wrong API secret", func() error {
			_, err := wrongSecret.GetPayment(ctx, connect.NewRequest(&altynv1.GetPaymentRequest{PaymentId: completed.Id}))
			return err
		}, connect.CodeUnauthenticated, "", ""},
		{"no credentials", func() error {
			_, err := anonymous.Charge(ctx, connect.NewRequest(&altynv1.ChargeRequest{Amount: rub(100), Cryptogram: fresh()}))
			return err
		}, connect.CodeUnauthenticated, "", ""},
		{"amount overflowing int64 in JSON", func() error {
			return rawCharge(env, `{"amount":{"amount":"99999999999999999999","currency":"RUB"},"cryptogram":"x"}`)
		}, connect.CodeInvalidArgument, "", ""},
		{"amount as a fraction in JSON", func() error {
			return rawCharge(env, `{"amount":{"amount":10.5,"currency":"RUB"},"cryptogram":"x"}`)
		}, connect.CodeInvalidArgument, "", ""},
	}
	if len(tests) < 30 {
		t.Fatalf("only %d cases", len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := snapshot(t, env)
			err := tt.call()
			if got := connect.CodeOf(err); err == nil || got != tt.code {
				t.Fatalf("got code %v (%v), want %v", got, err, tt.code)
			}
			if got := reasonOf(err); got != tt.reason {
				t.Errorf("got reason %q, want %q (%v)", got, tt.reason, err)
			}
			if msg := err.(*connect.Error).Message(); msg == "" || strings.Contains(msg, "4000000000003055") {
				t.Errorf("message %q: want a clear message without card data", msg)
			}
			if tt.field != "" {
				var ce *connect.Error
				errors.As(err, &ce)
				if !hasField(ce, tt.field) {
					t.Errorf("error %v does not name field %s", err, tt.field)
				}
			}
			if diff := cmp.Diff(before, snapshot(t, env)); diff != "" {
				t.Errorf("database changed (-before +after):\n%s", diff)
			}
		})
	}
}

func hasField(ce *connect.Error, field string) bool {
	for _, d := range ce.Details() {
		m, _ := d.Value()
		if ed, ok := m.(*altynv1.ErrorDetail); ok {
			for _, f := range ed.FieldViolations {
				if f.Field == field {
					return true
				}
			}
		}
	}
	return false
}

// rawCharge posts JSON as curl would, to test what the Go client cannot send.
func rawCharge(env *apptest.Env, body string) error {
	req, _ := http.NewRequest(http.MethodPost, env.URL+"/altyn.v1.PaymentService/Charge", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth(env.Merchant.PublicID, env.Secret)
	res, err := env.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode == http.StatusOK {
		return nil
	}
	var e struct{ Code, Message string }
	if err := json.Unmarshal(b, &e); err != nil {
		return fmt.Errorf("status %d: %s", res.StatusCode, b)
	}
	var code connect.Code
	if err := code.UnmarshalText([]byte(e.Code)); err != nil {
		return fmt.Errorf("status %d: %s", res.StatusCode, b)
	}
	return connect.NewError(code, errors.New(e.Message))
}
