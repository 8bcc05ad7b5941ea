package api_test

import (
	"context"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	altynv1 "github.com/altynpay/altyn/gen/altyn/v1"
	"github.com/altynpay/altyn/server/acquirer"
	"github.com/altynpay/altyn/server/apptest"
	"github.com/altynpay/altyn/server/merchants"
)

func countPayments(t *testing.T, env *apptest.Env) int {
	t.Helper()
	var n int
	if err := env.App.Store.Pool().QueryRow(context.Background(), "SELECT count(*) FROM payments").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestConcurrentChargesOneIdempotencyKey(t *testing.T) {
	t.Parallel()
	env := apptest.New(t)
	req := &altynv1.ChargeRequest{Amount: rub(4200), Cryptogram: env.Seal(t, "4000000000003055"), InvoiceId: "same", IdempotencyKey: "order-42-attempt-1"}
	const n = 50
	ids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			res, err := env.Connect.Charge(context.Background(), connect.NewRequest(req))
			errs[i] = err
			if err == nil {
				ids[i] = res.Msg.Payment.Id
			}
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("call %d: %v", i, errs[i])
		}
		if ids[i] != ids[0] {
			t.Fatalf("call %d answered payment %s, call 0 %s: want one payment", i, ids[i], ids[0])
		}
	}
	if got := countPayments(t, env); got != 1 {
		t.Errorf("%d payments in the database, want 1", got)
	}
	if calls := env.App.Sandbox.Calls(acquirer.OpAuthorize); calls != 1 {
		t.Errorf("the acquirer was asked %d times, want 1", calls)
	}
	// The same key through the header gets the same answer too.
	r := connect.NewRequest(&altynv1.ChargeRequest{Amount: req.Amount, Cryptogram: req.Cryptogram, InvoiceId: "same"})
	r.Header().Set("Idempotency-Key", "order-42-attempt-1")
	res, err := env.Connect.Charge(context.Background(), r)
	if err != nil || res.Msg.Payment.Id != ids[0] {
		t.Errorf("header key: %v %v; want payment %s", res.Msg.GetPayment().GetId(), err, ids[0])
	}
}

func TestConcurrentCapturesAndRefunds(t *testing.T) {
	t.Parallel()
	env := apptest.New(t)
	ctx := context.Background()
	p := authorize(t, env, env.Connect, "4000000000003055", 100000)
	var wg sync.WaitGroup
	captured := make([]bool, 20)
	for i := range 20 {
		wg.Go(func() {
			_, err := env.Connect.Capture(ctx, connect.NewRequest(&altynv1.CaptureRequest{PaymentId: p.Id, Amount: proto.Int64(int64(50000 + i*1000))}))
			captured[i] = err == nil
			if err != nil && connect.CodeOf(err) != connect.CodeFailedPrecondition {
				t.Errorf("capture %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	wins := 0
	for _, ok := range captured {
		if ok {
			wins++
		}
	}
	if wins != 1 {
		t.Fatalf("%d captures succeeded, want exactly 1", wins)
	}
	got, _ := env.Connect.GetPayment(ctx, connect.NewRequest(&altynv1.GetPaymentRequest{PaymentId: p.Id}))
	capturedAmount := got.Msg.Payment.CapturedAmount
	led, _ := env.App.Sandbox.Ledger(p.Id)
	if led.Captured != capturedAmount {
		t.Errorf("acquirer captured %d, altyn says %d", led.Captured, capturedAmount)
	}

	// 20 refunds of 3000 race for what was captured (≥ 50000): all fit, and
	// then 20 more of 3000 race for the rest: only as many as fit succeed.
	var mu sync.Mutex
	var refunded int64
	for round := range 2 {
		for range 20 {
			wg.Go(func() {
				_, err := env.Connect.Refund(ctx, connect.NewRequest(&altynv1.RefundRequest{PaymentId: p.Id, Amount: proto.Int64(3000)}))
				if err == nil {
					mu.Lock()
					refunded += 3000
					mu.Unlock()
				} else if connect.CodeOf(err) != connect.CodeFailedPrecondition {
					t.Errorf("round %d refund: %v", round, err)
				}
			})
		}
		wg.Wait()
	}
	if want := capturedAmount / 3000 * 3000; refunded != want {
		t.Errorf("refunded %d in total, want %d (all 3000s that fit in %d)", refunded, want, capturedAmount)
	}
	got, _ = env.Connect.GetPayment(ctx, connect.NewRequest(&altynv1.GetPaymentRequest{PaymentId: p.Id}))
	checkInvariants(t, env, got.Msg.Payment)
	if got.Msg.Payment.RefundedAmount != refunded {
		t.Errorf("payment says refunded %d, callers saw %d", got.Msg.Payment.RefundedAmount, refunded)
	}
}

// checkInvariants checks a payment's money against its refunds and the acquirer's ledger.
func checkInvariants(t *testing.T, env *apptest.Env, p *altynv1.Payment) {
	t.Helper()
	var sum int64
	for _, r := range p.Refunds {
		sum += r.Amount
	}
	if sum != p.RefundedAmount {
		t.Errorf("refunds add up to %d, payment says %d", sum, p.RefundedAmount)
	}
	if p.RefundedAmount > p.CapturedAmount || p.CapturedAmount > p.Amount.Amount {
		t.Errorf("invariant broken: refunded %d captured %d amount %d", p.RefundedAmount, p.CapturedAmount, p.Amount.Amount)
	}
	led, ok := env.App.Sandbox.Ledger(p.Id)
	if !ok {
		return
	}
	if led.Captured != p.CapturedAmount || led.Refunded != p.RefundedAmount {
		t.Errorf("acquirer has captured %d refunded %d; altyn %d and %d", led.Captured, led.Refunded, p.CapturedAmount, p.RefundedAmount)
	}
}

// TestRandomOperations runs random sequences of operations and checks the
// balances against a model after each one.
func TestRandomOperations(t *testing.T) {
	t.Parallel()
	env := apptest.New(t)
	ctx := context.Background()
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 7))
	type model struct {
		status                     altynv1.PaymentStatus
		amount, captured, refunded int64
	}
	for range 12 {
		amount := int64(rng.IntN(100000) + 1)
		twoStage := rng.IntN(2) == 0
		var p *altynv1.Payment
		if twoStage {
			p = authorize(t, env, env.Connect, "4000000000003055", amount)
		} else {
			p = charge(t, env, env.Connect, "4000000000003055", amount)
		}
		m := model{status: p.Status, amount: amount}
		if !twoStage {
			m.captured = amount
		}
		for range 8 {
			var err error
			x := int64(rng.IntN(int(amount))+1) / int64(rng.IntN(3)+1)
			switch op := rng.IntN(4); op {
			case 0:
				_, err = env.Connect.Capture(ctx, connect.NewRequest(&altynv1.CaptureRequest{PaymentId: p.Id, Amount: proto.Int64(x)}))
				if m.status == altynv1.PaymentStatus_PAYMENT_STATUS_AUTHORIZED && x <= m.amount {
					m.status, m.captured = altynv1.PaymentStatus_PAYMENT_STATUS_COMPLETED, x
				}
			case 1:
				_, err = env.Connect.Void(ctx, connect.NewRequest(&altynv1.VoidRequest{PaymentId: p.Id}))
				if m.status == altynv1.PaymentStatus_PAYMENT_STATUS_AUTHORIZED {
					m.status = altynv1.PaymentStatus_PAYMENT_STATUS_CANCELLED
				}
			default:
				_, err = env.Connect.Refund(ctx, connect.NewRequest(&altynv1.RefundRequest{PaymentId: p.Id, Amount: proto.Int64(x)}))
				if m.status == altynv1.PaymentStatus_PAYMENT_STATUS_COMPLETED && m.refunded+x <= m.captured {
					m.refunded += x
				}
			}
			if err != nil && connect.CodeOf(err) != connect.CodeFailedPrecondition {
				t.Fatalf("unexpected error: %v", err)
			}
			got, gerr := env.Connect.GetPayment(ctx, connect.NewRequest(&altynv1.GetPaymentRequest{PaymentId: p.Id}))
			if gerr != nil {
				t.Fatal(gerr)
			}
			g := got.Msg.Payment
			if g.Status != m.status || g.CapturedAmount != m.captured || g.RefundedAmount != m.refunded {
				t.Fatalf("after op: got %v captured %d refunded %d; model %v %d %d", g.Status, g.CapturedAmount, g.RefundedAmount, m.status, m.captured, m.refunded)
			}
			checkInvariants(t, env, g)
		}
	}
}

// TestAcquirerTimeouts proves a lost acquirer answer neither loses nor
// doubles money: the payment is recorded as pending and the resolver
// settles it by asking the acquirer.
func TestAcquirerTimeouts(t *testing.T) {
	t.Parallel()
	env := apptest.New(t)
	ctx := context.Background()
	sb := env.App.Sandbox
	resolve := func() {
		t.Helper()
		env.Clock.Advance(time.Minute)
		if _, err := env.App.Engine.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
	}
	get := func(id string) *altynv1.Payment {
		res, err := env.Connect.GetPayment(ctx, connect.NewRequest(&altynv1.GetPaymentRequest{PaymentId: id}))
		if err != nil {
			t.Fatal(err)
		}
		return res.Msg.Payment
	}

	t.Run("bank charged, answer lost", func(t *testing.T) {
		sb.Inject(acquirer.Fault{Op: acquirer.OpAuthorize, Kind: acquirer.FaultTimeoutAfter, Times: 1})
		req := &altynv1.ChargeRequest{Amount: rub(7700), Cryptogram: env.Seal(t, "4000000000003055"), IdempotencyKey: "lost-1"}
		p := charge1(t, env, req)
		wantStatus(t, p, altynv1.PaymentStatus_PAYMENT_STATUS_PENDING)
		resolve()
		p = get(p.Id)
		wantStatus(t, p, altynv1.PaymentStatus_PAYMENT_STATUS_COMPLETED)
		led, _ := sb.Ledger(p.Id)
		if led.Holds != 1 || led.Captured != 7700 || p.CapturedAmount != 7700 {
			t.Errorf("holds %d captured %d (altyn %d); want one charge of 7700", led.Holds, led.Captured, p.CapturedAmount)
		}
		// The merchant's retry with the same key gets the settled payment, not a second charge.
		again := charge1(t, env, req)
		if again.Id != p.Id || again.Status != altynv1.PaymentStatus_PAYMENT_STATUS_COMPLETED {
			t.Errorf("retry answered %s %v, want %s Completed", again.Id, again.Status, p.Id)
		}
	})
	t.Run("request never reached the bank", func(t *testing.T) {
		sb.Inject(acquirer.Fault{Op: acquirer.OpAuthorize, Kind: acquirer.FaultTimeoutBefore, Times: 1})
		p := charge1(t, env, &altynv1.ChargeRequest{Amount: rub(5100), Cryptogram: env.Seal(t, "4000000000003055")})
		wantStatus(t, p, altynv1.PaymentStatus_PAYMENT_STATUS_PENDING)
		resolve()
		p = get(p.Id)
		wantStatus(t, p, altynv1.PaymentStatus_PAYMENT_STATUS_DECLINED)
		if led, ok := sb.Ledger(p.Id); ok && led.Holds != 0 {
			t.Errorf("the acquirer holds money for a declined payment: %+v", led)
		}
	})
	t.Run("capture answer lost", func(t *testing.T) {
		p := authorize(t, env, env.Connect, "4000000000003055", 9000)
		sb.Inject(acquirer.Fault{Op: acquirer.OpCapture, Kind: acquirer.FaultTimeoutAfter, Times: 1})
		res, err := env.Connect.Capture(ctx, connect.NewRequest(&altynv1.CaptureRequest{PaymentId: p.Id, Amount: proto.Int64(6000)}))
		if err != nil {
			t.Fatal(err)
		}
		wantStatus(t, res.Msg.Payment, altynv1.PaymentStatus_PAYMENT_STATUS_COMPLETED)
		resolve()
		led, _ := sb.Ledger(p.Id)
		if led.Captured != 6000 {
			t.Errorf("acquirer captured %d, want 6000 exactly once", led.Captured)
		}
		checkInvariants(t, env, get(p.Id))
	})
	t.Run("capture never reached the bank", func(t *testing.T) {
		p := authorize(t, env, env.Connect, "4000000000003055", 9000)
		sb.Inject(acquirer.Fault{Op: acquirer.OpCapture, Kind: acquirer.FaultTimeoutBefore, Times: 1})
		if _, err := env.Connect.Capture(ctx, connect.NewRequest(&altynv1.CaptureRequest{PaymentId: p.Id})); err != nil {
			t.Fatal(err)
		}
		resolve()
		led, _ := sb.Ledger(p.Id)
		if led.Captured != 9000 {
			t.Errorf("acquirer captured %d after resolution, want 9000", led.Captured)
		}
		checkInvariants(t, env, get(p.Id))
	})
	t.Run("refund answer lost", func(t *testing.T) {
		p := charge(t, env, env.Connect, "4000000000003055", 8000)
		sb.Inject(acquirer.Fault{Op: acquirer.OpRefund, Kind: acquirer.FaultTimeoutAfter, Times: 1})
		if _, err := env.Connect.Refund(ctx, connect.NewRequest(&altynv1.RefundRequest{PaymentId: p.Id, Amount: proto.Int64(3000)})); err != nil {
			t.Fatal(err)
		}
		resolve()
		led, _ := sb.Ledger(p.Id)
		if led.Refunded != 3000 {
			t.Errorf("acquirer refunded %d, want 3000 exactly once", led.Refunded)
		}
		checkInvariants(t, env, get(p.Id))
	})
	t.Run("void answer lost", func(t *testing.T) {
		p := authorize(t, env, env.Connect, "4000000000003055", 4000)
		sb.Inject(acquirer.Fault{Op: acquirer.OpVoid, Kind: acquirer.FaultTimeoutBefore, Times: 1})
		if _, err := env.Connect.Void(ctx, connect.NewRequest(&altynv1.VoidRequest{PaymentId: p.Id})); err != nil {
			t.Fatal(err)
		}
		resolve()
		if led, _ := sb.Ledger(p.Id); led.State != acquirer.StateVoided {
			t.Errorf("acquirer state %v after resolution, want Cancelled", led.State)
		}
	})
}

func charge1(t *testing.T, env *apptest.Env, req *altynv1.ChargeRequest) *altynv1.Payment {
	t.Helper()
	res, err := env.Connect.Charge(context.Background(), connect.NewRequest(req))
	if err != nil {
		t.Fatalf("Charge: %v", err)
	}
	return res.Msg.Payment
}

func TestAuthorizationExpiry(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		days int
		want altynv1.PaymentStatus
	}{
		{"voided after 7 days", 0, altynv1.PaymentStatus_PAYMENT_STATUS_CANCELLED},
		{"auto-captured after 3 days", 3, altynv1.PaymentStatus_PAYMENT_STATUS_COMPLETED},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := apptest.New(t, apptest.WithMerchant(merchants.CreateOptions{Name: "shop", TestMode: true, AutoCaptureDays: tc.days}))
			ctx := context.Background()
			p := authorize(t, env, env.Connect, "4000000000003055", 3000)
			deadline := 7 * 24 * time.Hour
			if tc.days > 0 {
				deadline = time.Duration(tc.days) * 24 * time.Hour
			}
			env.Clock.Advance(deadline - time.Minute)
			env.App.Engine.Sweep(ctx)
			got, _ := env.Connect.GetPayment(ctx, connect.NewRequest(&altynv1.GetPaymentRequest{PaymentId: p.Id}))
			wantStatus(t, got.Msg.Payment, altynv1.PaymentStatus_PAYMENT_STATUS_AUTHORIZED)
			env.Clock.Advance(2 * time.Minute)
			env.App.Engine.Sweep(ctx)
			got, _ = env.Connect.GetPayment(ctx, connect.NewRequest(&altynv1.GetPaymentRequest{PaymentId: p.Id}))
			wantStatus(t, got.Msg.Payment, tc.want)
			checkInvariants(t, env, got.Msg.Payment)
		})
	}
}
