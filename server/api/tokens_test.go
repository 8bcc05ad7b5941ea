package api_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	altynv1 "github.com/altynpay/altyn/gen/altyn/v1"
	"github.com/altynpay/altyn/gen/altyn/v1/altynv1connect"
	"github.com/altynpay/altyn/server/acquirer"
	"github.com/altynpay/altyn/server/apptest"
	"github.com/altynpay/altyn/server/merchants"
	"github.com/altynpay/altyn/server/payments"
)

func TestSavedCards(t *testing.T) {
	t.Parallel()
	env := apptest.New(t)
	ctx := context.Background()
	tokens := altynv1connect.NewTokenServiceClient(env.HTTP, env.URL, connect.WithInterceptors(apptest.BasicAuth(env.Merchant.PublicID, env.Secret)))

	// A payment naming the account saves its card; the same card again gets the same token.
	first := charge1(t, env, &altynv1.ChargeRequest{Amount: rub(600000), Cryptogram: env.Seal(t, "4111111111111111"), AccountId: "subscriber-1"})
	wantStatus(t, first, altynv1.PaymentStatus_PAYMENT_STATUS_COMPLETED)
	if !strings.HasPrefix(first.Token, "tok_") {
		t.Fatalf("payment with account id has token %q, want tok_…", first.Token)
	}
	again := charge1(t, env, &altynv1.ChargeRequest{Amount: rub(100), Cryptogram: env.Seal(t, "4111111111111111"), AccountId: "subscriber-1"})
	if again.Token != first.Token {
		t.Errorf("the same card saved twice: tokens %s and %s", first.Token, again.Token)
	}
	// A declined payment saves nothing.
	declined := charge1(t, env, &altynv1.ChargeRequest{Amount: rub(100), Cryptogram: env.Seal(t, "4000056655665556"), AccountId: "subscriber-1"})
	if declined.Token != "" {
		t.Errorf("declined payment saved card as %s", declined.Token)
	}
	list, err := tokens.ListTokens(ctx, connect.NewRequest(&altynv1.ListTokensRequest{AccountId: "subscriber-1"}))
	if err != nil || len(list.Msg.Cards) != 1 || list.Msg.Cards[0].CardMask != "411111******1111" {
		t.Fatalf("ListTokens = %v, %v; want the one Visa", list.Msg.GetCards(), err)
	}

	// Token payments: the cardholder's succeeds; 4111… declines 5051 when
	// the merchant initiates it (SPEC §1.5 token column).
	pay := func(initiator altynv1.Initiator, account string) (*altynv1.Payment, error) {
		res, err := env.Connect.Charge(ctx, connect.NewRequest(&altynv1.ChargeRequest{Amount: rub(100000), Token: first.Token, AccountId: account, Initiator: initiator}))
		if err != nil {
			return nil, err
		}
		return res.Msg.Payment, nil
	}
	p, err := pay(altynv1.Initiator_INITIATOR_CARDHOLDER, "subscriber-1")
	if err != nil || p.Status != altynv1.PaymentStatus_PAYMENT_STATUS_COMPLETED || p.Token != first.Token {
		t.Errorf("cardholder token payment: %v %v", p.GetStatus(), err)
	}
	p, err = pay(altynv1.Initiator_INITIATOR_MERCHANT, "subscriber-1")
	if err != nil || p.ReasonCode != 5051 {
		t.Errorf("merchant-initiated token payment of 4111…: %v %v; want declined 5051", p.GetReasonCode(), err)
	}
	if _, err := pay(altynv1.Initiator_INITIATOR_CARDHOLDER, "someone-else"); reasonOf(err) != "TOKEN_ACCOUNT_MISMATCH" {
		t.Errorf("token of another account: %v", err)
	}

	// Another merchant cannot use the token (CloudPayments 6025).
	other, _ := env.App.Merchants.Create(ctx, merchants.CreateOptions{Name: "Other", TestMode: true})
	otherPayments := altynv1connect.NewPaymentServiceClient(env.HTTP, env.URL, connect.WithInterceptors(apptest.BasicAuth(other.Merchant.PublicID, other.Secret)))
	_, err = otherPayments.Charge(ctx, connect.NewRequest(&altynv1.ChargeRequest{Amount: rub(100), Token: first.Token, AccountId: "subscriber-1"}))
	if connect.CodeOf(err) != connect.CodePermissionDenied || reasonOf(err) != "TOKEN_OF_ANOTHER_MERCHANT" {
		t.Errorf("another merchant's token: %v, want PermissionDenied TOKEN_OF_ANOTHER_MERCHANT", err)
	}

	// Deleted, the token no longer pays and its card is erased.
	if _, err := tokens.DeleteToken(ctx, connect.NewRequest(&altynv1.DeleteTokenRequest{Token: first.Token})); err != nil {
		t.Fatal(err)
	}
	if _, err := pay(altynv1.Initiator_INITIATOR_CARDHOLDER, "subscriber-1"); connect.CodeOf(err) != connect.CodeNotFound {
		t.Errorf("deleted token paid: %v", err)
	}
	var sealed []byte
	env.App.Store.Pool().QueryRow(ctx, "SELECT pan_sealed FROM tokens WHERE id = $1", first.Token).Scan(&sealed)
	if len(sealed) != 0 {
		t.Errorf("deleted token keeps %d bytes of sealed card", len(sealed))
	}
}

// TestSavedCardAfter3DS saves a card whose payment passes 3-D Secure: the
// token is usable only once the payer confirmed.
func TestSavedCardAfter3DS(t *testing.T) {
	t.Parallel()
	env := apptest.New(t)
	ctx := context.Background()
	p := charge1(t, env, &altynv1.ChargeRequest{Amount: rub(500), Cryptogram: env.Seal(t, "4242424242424242"), AccountId: "acc-3ds"})
	tok := p.Token
	if tok == "" {
		t.Fatal("a 3-D Secure payment with an account id has no pending token")
	}
	_, err := env.Connect.Charge(ctx, connect.NewRequest(&altynv1.ChargeRequest{Amount: rub(100), Token: tok, AccountId: "acc-3ds"}))
	if connect.CodeOf(err) != connect.CodeNotFound {
		t.Errorf("token of an unauthenticated payment paid: %v", err)
	}
	done, err := env.Connect.Complete3DS(ctx, connect.NewRequest(&altynv1.Complete3DSRequest{PaymentId: p.Id, PaRes: acs(t, env, p, "confirm")}))
	if err != nil || done.Msg.Payment.Token != tok {
		t.Fatalf("Complete3DS: %v %v", done.Msg.GetPayment().GetToken(), err)
	}
	res, err := env.Connect.Charge(ctx, connect.NewRequest(&altynv1.ChargeRequest{Amount: rub(100), Token: tok, AccountId: "acc-3ds"}))
	if err != nil || res.Msg.Payment.Status != altynv1.PaymentStatus_PAYMENT_STATUS_COMPLETED {
		t.Errorf("token after 3-D Secure: %v %v", res.Msg.GetPayment().GetStatus(), err)
	}
}

// TestOutboxEvents checks that each change writes its notification in the
// same transaction: one event per change, none for failed calls.
func TestOutboxEvents(t *testing.T) {
	t.Parallel()
	env := apptest.New(t)
	ctx := context.Background()
	steps := []func(){
		func() { charge(t, env, env.Connect, "4000000000003055", 1000) }, // Pay
		func() { charge(t, env, env.Connect, "4000056655665556", 1000) }, // Fail
		func() {
			a := authorize(t, env, env.Connect, "4000000000003055", 900)                                                      // Pay
			env.Connect.Capture(ctx, connect.NewRequest(&altynv1.CaptureRequest{PaymentId: a.Id}))                            // Confirm
			env.Connect.Refund(ctx, connect.NewRequest(&altynv1.RefundRequest{PaymentId: a.Id, Amount: proto.Int64(100)}))    // Refund
			env.Connect.Refund(ctx, connect.NewRequest(&altynv1.RefundRequest{PaymentId: a.Id, Amount: proto.Int64(100000)})) // refused: nothing
		},
		func() {
			v := authorize(t, env, env.Connect, "4000000000003055", 900)                     // Pay
			env.Connect.Void(ctx, connect.NewRequest(&altynv1.VoidRequest{PaymentId: v.Id})) // Cancel
		},
		func() {
			env.App.Sandbox.Inject(acquirer.Fault{Op: acquirer.OpAuthorize, Kind: acquirer.FaultTimeoutBefore, Times: 1})
			charge(t, env, env.Connect, "4000000000003055", 1000) // Pending: nothing yet
		},
	}
	for _, step := range steps {
		step()
	}
	msgs, err := env.App.Store.Outbox(ctx, env.Merchant.ID, 100)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range msgs {
		got = append(got, m.Type)
		var ev payments.Event
		if err := json.Unmarshal(m.Payload, &ev); err != nil || ev.ID != m.ID || ev.Payment.ID != m.PaymentID {
			t.Errorf("message %s: payload %s does not describe it (%v)", m.ID, m.Payload, err)
		}
	}
	slices.Sort(got) // the test clock stands still within a step
	want := "Cancel Confirm Fail Pay Pay Pay Refund"
	if strings.Join(got, " ") != want {
		t.Errorf("outbox holds %v, want %s", got, want)
	}
}
