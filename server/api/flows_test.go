package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	altynv1 "github.com/altynpay/altyn/gen/altyn/v1"
	"github.com/altynpay/altyn/gen/altyn/v1/altynv1connect"
	"github.com/altynpay/altyn/server/apptest"
	"github.com/altynpay/altyn/store/storetest"
	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { storetest.Main(m) }

func rub(minor int64) *altynv1.Money { return &altynv1.Money{Amount: minor, Currency: "RUB"} }

// protocols runs a test once through Connect and once through gRPC.
func protocols(t *testing.T, fn func(t *testing.T, env *apptest.Env, c altynv1connect.PaymentServiceClient)) {
	for _, proto := range []string{"connect", "grpc"} {
		t.Run(proto, func(t *testing.T) {
			t.Parallel()
			env := apptest.New(t)
			c := env.Connect
			if proto == "grpc" {
				c = env.GRPC
			}
			fn(t, env, c)
		})
	}
}

func charge(t *testing.T, env *apptest.Env, c altynv1connect.PaymentServiceClient, pan string, amount int64) *altynv1.Payment {
	t.Helper()
	res, err := c.Charge(context.Background(), connect.NewRequest(&altynv1.ChargeRequest{
		Amount: rub(amount), Cryptogram: env.Seal(t, pan), InvoiceId: "order-1", AccountId: "user-1",
		Description: "test", Email: "payer@example.com", IpAddress: "203.0.113.7",
	}))
	if err != nil {
		t.Fatalf("Charge(%s): %v", pan[len(pan)-4:], err)
	}
	return res.Msg.Payment
}

func authorize(t *testing.T, env *apptest.Env, c altynv1connect.PaymentServiceClient, pan string, amount int64) *altynv1.Payment {
	t.Helper()
	res, err := c.Authorize(context.Background(), connect.NewRequest(&altynv1.AuthorizeRequest{
		Amount: rub(amount), Cryptogram: env.Seal(t, pan), InvoiceId: "order-2",
	}))
	if err != nil {
		t.Fatalf("Authorize(%s): %v", pan[len(pan)-4:], err)
	}
	return res.Msg.Payment
}

func wantStatus(t *testing.T, p *altynv1.Payment, want altynv1.PaymentStatus) {
	t.Helper()
	if p.GetStatus() != want {
		t.Fatalf("payment %s status = %v (reason %d %s), want %v", p.GetId(), p.GetStatus(), p.GetReasonCode(), p.GetReason(), want)
	}
}

func TestChargeCompletes(t *testing.T) {
	protocols(t, func(t *testing.T, env *apptest.Env, c altynv1connect.PaymentServiceClient) {
		p := charge(t, env, c, "4000000000003055", 150000)
		wantStatus(t, p, altynv1.PaymentStatus_PAYMENT_STATUS_COMPLETED)
		if p.CapturedAmount != 150000 || p.AuthCode == "" || p.Card.GetMask() != "400000******3055" || p.Card.GetBrand() != "Visa" {
			t.Errorf("completed payment: captured %d auth %q card %v", p.CapturedAmount, p.AuthCode, p.Card)
		}
		if p.TransactionId <= 0 || p.TransactionId >= 1<<53 {
			t.Errorf("transaction id %d outside [1, 2^53)", p.TransactionId)
		}
		got, err := c.GetPayment(context.Background(), connect.NewRequest(&altynv1.GetPaymentRequest{TransactionId: p.TransactionId}))
		if err != nil || !proto.Equal(got.Msg.Payment, p) {
			t.Errorf("GetPayment by transaction id = %v, %v; want the charged payment", got.Msg.GetPayment(), err)
		}
	})
}

func TestDeclinedCard(t *testing.T) {
	protocols(t, func(t *testing.T, env *apptest.Env, c altynv1connect.PaymentServiceClient) {
		p := charge(t, env, c, "4000056655665556", 1000)
		wantStatus(t, p, altynv1.PaymentStatus_PAYMENT_STATUS_DECLINED)
		if p.ReasonCode != 5051 || p.CardholderMessage == "" || p.CapturedAmount != 0 {
			t.Errorf("declined payment: reason %d message %q captured %d; want 5051, a message, 0", p.ReasonCode, p.CardholderMessage, p.CapturedAmount)
		}
	})
}

func TestTwoStageCaptureRefund(t *testing.T) {
	protocols(t, func(t *testing.T, env *apptest.Env, c altynv1connect.PaymentServiceClient) {
		ctx := context.Background()
		p := authorize(t, env, c, "5205000000003055", 10000)
		wantStatus(t, p, altynv1.PaymentStatus_PAYMENT_STATUS_AUTHORIZED)
		if p.ExpiresAt.AsTime().Sub(p.AuthorizedAt.AsTime()).Hours() != 7*24 {
			t.Errorf("authorization expires %v after it was made, want 7 days", p.ExpiresAt.AsTime().Sub(p.AuthorizedAt.AsTime()))
		}
		cap, err := c.Capture(ctx, connect.NewRequest(&altynv1.CaptureRequest{PaymentId: p.Id, Amount: proto.Int64(8000)}))
		if err != nil {
			t.Fatalf("Capture: %v", err)
		}
		wantStatus(t, cap.Msg.Payment, altynv1.PaymentStatus_PAYMENT_STATUS_COMPLETED)
		if cap.Msg.Payment.CapturedAmount != 8000 {
			t.Errorf("captured %d, want 8000", cap.Msg.Payment.CapturedAmount)
		}
		for i, amount := range []int64{3000, 5000} {
			r, err := c.Refund(ctx, connect.NewRequest(&altynv1.RefundRequest{PaymentId: p.Id, Amount: proto.Int64(amount)}))
			if err != nil {
				t.Fatalf("Refund %d: %v", i, err)
			}
			if r.Msg.Refund.GetAmount() != amount || len(r.Msg.Payment.Refunds) != i+1 {
				t.Errorf("refund %d: %v, payment has %d refunds", i, r.Msg.Refund, len(r.Msg.Payment.Refunds))
			}
		}
		_, err = c.Refund(ctx, connect.NewRequest(&altynv1.RefundRequest{PaymentId: p.Id, Amount: proto.Int64(1)}))
		if connect.CodeOf(err) != connect.CodeFailedPrecondition {
			t.Errorf("refund beyond captured: got %v, want FailedPrecondition", err)
		}
		got, _ := c.GetPayment(ctx, connect.NewRequest(&altynv1.GetPaymentRequest{PaymentId: p.Id}))
		if got.Msg.Payment.RefundedAmount != 8000 {
			t.Errorf("refunded %d, want 8000", got.Msg.Payment.RefundedAmount)
		}
	})
}

func TestVoid(t *testing.T) {
	protocols(t, func(t *testing.T, env *apptest.Env, c altynv1connect.PaymentServiceClient) {
		ctx := context.Background()
		p := authorize(t, env, c, "4000000000003055", 5000)
		v, err := c.Void(ctx, connect.NewRequest(&altynv1.VoidRequest{PaymentId: p.Id}))
		if err != nil {
			t.Fatalf("Void: %v", err)
		}
		wantStatus(t, v.Msg.Payment, altynv1.PaymentStatus_PAYMENT_STATUS_CANCELLED)
		_, err = c.Capture(ctx, connect.NewRequest(&altynv1.CaptureRequest{PaymentId: p.Id}))
		if connect.CodeOf(err) != connect.CodeFailedPrecondition {
			t.Errorf("capture after void: got %v, want FailedPrecondition", err)
		}
	})
}

// acs plays the payer on the sandbox's 3-D Secure page: it opens the page
// and presses Confirm or Fail, returning the PaRes the ACS posts back.
func acs(t *testing.T, env *apptest.Env, p *altynv1.Payment, choice string) string {
	t.Helper()
	tds := p.GetThreeDs()
	if tds.GetAcsUrl() == "" || tds.GetPaReq() == "" || tds.GetMd() == "" {
		t.Fatalf("payment awaiting 3-D Secure has no ACS data: %v", tds)
	}
	form := url.Values{"PaReq": {tds.PaReq}, "MD": {tds.Md}}
	page, err := env.HTTP.PostForm(tds.AcsUrl, form)
	if err != nil || page.StatusCode != http.StatusOK {
		t.Fatalf("ACS page: %v %v", page, err)
	}
	page.Body.Close()
	form.Set("choice", choice)
	form.Set("format", "json")
	res, err := env.HTTP.PostForm(tds.AcsUrl, form)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out struct{ MD, PaRes string }
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil || out.MD != tds.Md || out.PaRes == "" {
		t.Fatalf("ACS answer: %+v %v", out, err)
	}
	return out.PaRes
}

func TestThreeDSecure(t *testing.T) {
	protocols(t, func(t *testing.T, env *apptest.Env, c altynv1connect.PaymentServiceClient) {
		ctx := context.Background()
		p := charge(t, env, c, "4242424242424242", 2500)
		wantStatus(t, p, altynv1.PaymentStatus_PAYMENT_STATUS_AWAITING_AUTHENTICATION)
		paRes := acs(t, env, p, "confirm")
		done, err := c.Complete3DS(ctx, connect.NewRequest(&altynv1.Complete3DSRequest{PaymentId: p.Id, PaRes: paRes}))
		if err != nil {
			t.Fatalf("Complete3DS: %v", err)
		}
		wantStatus(t, done.Msg.Payment, altynv1.PaymentStatus_PAYMENT_STATUS_COMPLETED)
		again, err := c.Complete3DS(ctx, connect.NewRequest(&altynv1.Complete3DSRequest{TransactionId: p.TransactionId, PaRes: paRes}))
		if err != nil || again.Msg.Payment.Status != altynv1.PaymentStatus_PAYMENT_STATUS_COMPLETED {
			t.Errorf("repeated Complete3DS = %v, %v; want the completed payment", again.Msg.GetPayment().GetStatus(), err)
		}

		failed := charge(t, env, c, "5555555555554444", 2500)
		res, err := c.Complete3DS(ctx, connect.NewRequest(&altynv1.Complete3DSRequest{PaymentId: failed.Id, PaRes: acs(t, env, failed, "fail")}))
		if err != nil {
			t.Fatalf("Complete3DS after Fail: %v", err)
		}
		wantStatus(t, res.Msg.Payment, altynv1.PaymentStatus_PAYMENT_STATUS_DECLINED)
		if res.Msg.Payment.ReasonCode != 5206 {
			t.Errorf("reason after failed 3-D Secure = %d, want 5206", res.Msg.Payment.ReasonCode)
		}

		// A 3-D Secure card that then declines for funds (SPEC §1.5).
		poor := charge(t, env, c, "4012888888881881", 2500)
		res, err = c.Complete3DS(ctx, connect.NewRequest(&altynv1.Complete3DSRequest{PaymentId: poor.Id, PaRes: acs(t, env, poor, "confirm")}))
		if err != nil || res.Msg.Payment.ReasonCode != 5051 {
			t.Errorf("3-D Secure card 4012…1881: %v %v; want declined 5051", res.Msg.GetPayment().GetReasonCode(), err)
		}
	})
}

// TestThreeDSecureTermURL follows the browser's path: the ACS posts to
// altyn's own TermUrl, which completes the payment.
func TestThreeDSecureTermURL(t *testing.T) {
	t.Parallel()
	env := apptest.New(t)
	p := charge(t, env, env.Connect, "2200000000000004", 9900)
	form := url.Values{"PaReq": {p.ThreeDs.PaReq}, "MD": {p.ThreeDs.Md}, "PaRes": {acs(t, env, p, "confirm")}}
	res, err := env.HTTP.PostForm(env.URL+"/3ds/return", form)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("TermUrl answered %d", res.StatusCode)
	}
	got, err := env.Connect.GetPayment(context.Background(), connect.NewRequest(&altynv1.GetPaymentRequest{PaymentId: p.Id}))
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, got.Msg.Payment, altynv1.PaymentStatus_PAYMENT_STATUS_COMPLETED)
	if !strings.HasPrefix(p.ThreeDs.AcsUrl, env.URL) {
		t.Errorf("ACS URL %s is not served by altyn at %s", p.ThreeDs.AcsUrl, env.URL)
	}
}

// TestNoCardDataAtRest pays with several cards down every path and then
// searches the whole database and the server's log for the card numbers.
func TestNoCardDataAtRest(t *testing.T) {
	t.Parallel()
	env := apptest.New(t)
	ctx := context.Background()
	pans := []string{"4000000000003055", "4242424242424242", "4000056655665556", "5205000000003055", "2200000000000004"}
	for _, pan := range pans {
		p := charge(t, env, env.Connect, pan, 1234)
		if p.Status == altynv1.PaymentStatus_PAYMENT_STATUS_AWAITING_AUTHENTICATION {
			if _, err := env.Connect.Complete3DS(ctx, connect.NewRequest(&altynv1.Complete3DSRequest{PaymentId: p.Id, PaRes: acs(t, env, p, "confirm")})); err != nil {
				t.Fatal(err)
			}
		}
	}
	// A cryptogram that fails to open must not leak either.
	bad := []byte(env.Seal(t, "5205000000003055"))
	bad[len(bad)-5] ^= 1
	env.Connect.Charge(ctx, connect.NewRequest(&altynv1.ChargeRequest{Amount: rub(1), Cryptogram: string(bad)}))

	// Every table, the outbox and the notification log included.
	rows, err := env.App.Store.Pool().Query(ctx,
		`SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	db := dumpTables(t, env, tables...)
	logs := env.Logs.String()
	for _, pan := range pans {
		for where, text := range map[string]string{"database": db, "log": logs} {
			if strings.Contains(text, pan) || strings.Contains(text, pan[:6]+pan[6:12]) {
				t.Errorf("the %s holds card number %s…", where, pan[:6])
			}
		}
	}
	var cvvColumns int
	if err := env.App.Store.Pool().QueryRow(ctx, `SELECT count(*) FROM information_schema.columns
		WHERE table_schema = 'public' AND column_name ILIKE '%cvv%'`).Scan(&cvvColumns); err != nil {
		t.Fatal(err)
	}
	if cvvColumns > 0 || strings.Contains(strings.ToLower(db), `"cvv`) {
		t.Error("the database has a column or a JSON field named cvv")
	}
	if !strings.Contains(db, "400000") || !strings.Contains(db, "3055") {
		t.Error("the snapshot holds no masks at all: is it reading the tables?")
	}
}

func TestListAndFind(t *testing.T) {
	t.Parallel()
	env := apptest.New(t)
	ctx := context.Background()
	var ids []string
	for i := range 7 {
		env.Clock.Advance(time.Second)
		req := &altynv1.ChargeRequest{Amount: rub(int64(100 + i)), Cryptogram: env.Seal(t, "4000000000003055"),
			InvoiceId: "inv-" + string(rune('a'+i%3)), AccountId: "acct-" + string(rune('a'+i%2))}
		if i == 6 {
			req.Cryptogram = env.Seal(t, "4000056655665556")
		}
		ids = append(ids, charge1(t, env, req).Id)
	}
	var seen []string
	token := ""
	for page := 0; ; page++ {
		res, err := env.Connect.ListPayments(ctx, connect.NewRequest(&altynv1.ListPaymentsRequest{PageSize: 3, PageToken: token}))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range res.Msg.Payments {
			seen = append(seen, p.Id)
		}
		token = res.Msg.NextPageToken
		if token == "" {
			break
		}
		if page > 5 {
			t.Fatal("pagination does not end")
		}
	}
	for i := range ids {
		if len(seen) != len(ids) || seen[i] != ids[len(ids)-1-i] {
			t.Fatalf("pages gave %v, want newest first %v", seen, ids)
		}
	}
	declined, err := env.Connect.ListPayments(ctx, connect.NewRequest(&altynv1.ListPaymentsRequest{
		Statuses: []altynv1.PaymentStatus{altynv1.PaymentStatus_PAYMENT_STATUS_DECLINED}}))
	if err != nil || len(declined.Msg.Payments) != 1 || declined.Msg.Payments[0].Id != ids[6] {
		t.Errorf("status filter: %v %v; want only %s", declined.Msg.GetPayments(), err, ids[6])
	}
	byAccount, _ := env.Connect.ListPayments(ctx, connect.NewRequest(&altynv1.ListPaymentsRequest{AccountId: "acct-b"}))
	if len(byAccount.Msg.Payments) != 3 {
		t.Errorf("account filter found %d payments, want 3", len(byAccount.Msg.Payments))
	}
	first, _ := env.Connect.GetPayment(ctx, connect.NewRequest(&altynv1.GetPaymentRequest{PaymentId: ids[0]}))
	window, _ := env.Connect.ListPayments(ctx, connect.NewRequest(&altynv1.ListPaymentsRequest{
		CreatedFrom: first.Msg.Payment.CreatedAt, CreatedTo: timestamppb.New(first.Msg.Payment.CreatedAt.AsTime().Add(2 * time.Second))}))
	if len(window.Msg.Payments) != 2 {
		t.Errorf("created-at window found %d payments, want 2", len(window.Msg.Payments))
	}
	found, err := env.Connect.FindPayment(ctx, connect.NewRequest(&altynv1.FindPaymentRequest{InvoiceId: "inv-a"}))
	if err != nil || found.Msg.Payment.Id != ids[6] {
		t.Errorf("FindPayment(inv-a) = %v, %v; want the latest, %s", found.Msg.GetPayment().GetId(), err, ids[6])
	}
}

func TestKeyRotation(t *testing.T) {
	t.Parallel()
	env := apptest.New(t)
	ctx := context.Background()
	oldPacket := env.Seal(t, "4000000000003055")
	oldKeyID := env.Key.KeyID
	if _, err := env.App.Merchants.RotateKey(ctx, env.Merchant); err != nil {
		t.Fatal(err)
	}
	checkout := altynv1connect.NewCheckoutServiceClient(env.HTTP, env.URL)
	key, err := checkout.GetPublicKey(ctx, connect.NewRequest(&altynv1.GetPublicKeyRequest{PublicId: env.Merchant.PublicID}))
	if err != nil || key.Msg.KeyId == oldKeyID {
		t.Fatalf("GetPublicKey after rotation = %v, %v; want a new key", key.Msg.GetKeyId(), err)
	}
	if p := charge1(t, env, &altynv1.ChargeRequest{Amount: rub(100), Cryptogram: oldPacket}); p.Status != altynv1.PaymentStatus_PAYMENT_STATUS_COMPLETED {
		t.Errorf("a cryptogram of the previous key: %v, want it to pay", p.Status)
	}
	retiredPacket := env.Seal(t, "4000000000003055")
	if err := env.App.Merchants.RetireKey(ctx, env.Merchant, oldKeyID); err != nil {
		t.Fatal(err)
	}
	_, err = env.Connect.Charge(ctx, connect.NewRequest(&altynv1.ChargeRequest{Amount: rub(100), Cryptogram: retiredPacket}))
	if reasonOf(err) != "CRYPTOGRAM_RETIRED_KEY" {
		t.Errorf("a cryptogram of a retired key: %v, want CRYPTOGRAM_RETIRED_KEY", err)
	}
	_, err = checkout.GetPublicKey(ctx, connect.NewRequest(&altynv1.GetPublicKeyRequest{PublicId: "pk_nobody"}))
	if connect.CodeOf(err) != connect.CodeNotFound {
		t.Errorf("GetPublicKey of an unknown merchant: %v, want NotFound", err)
	}
}
