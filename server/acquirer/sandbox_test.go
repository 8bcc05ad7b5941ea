package acquirer

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/altynpay/altyn/cryptogram"
)

// TestAuthorizeTestCards runs every test card of SPEC.md §1.5 through
// Authorize: as a payment (through 3-D Secure where the card asks for it),
// as a payment that skips 3-D Secure, and as a token (recurring) payment.
func TestAuthorizeTestCards(t *testing.T) {
	t.Parallel()
	const dash = -1 // "—": no token payment; declines with 5051
	cards := []struct {
		number  string
		threeDS bool
		payment int // reason code; 0 = success
		token   int
	}{
		{"4242 4242 4242 4242", true, 0, 0},
		{"5555 5555 5555 4444", true, 0, 0},
		{"2200 0000 0000 0004", true, 0, 0},
		{"4012 8888 8888 1881", true, 5051, dash},
		{"5105 1051 0510 5100", true, 5051, dash},
		{"2202 2022 0220 2200", true, 5051, dash},
		{"4000 0000 0000 3055", false, 0, 0},
		{"5205 0000 0000 3055", false, 0, 0},
		{"2202 0000 0000 3055", false, 0, 0},
		{"4111 1111 1111 1111", false, 0, 5051},
		{"5200 8282 8282 8210", false, 0, 5051},
		{"2200 0000 2222 2222", false, 0, 5051},
		{"4000 0566 5566 5556", false, 5051, dash},
		{"5404 0000 0000 0043", false, 5051, dash},
		{"2203 0000 0000 0043", false, 5051, dash},
	}
	e := newEnv(t, nil)
	for _, c := range cards {
		pan := strings.ReplaceAll(c.number, " ", "")
		token := c.token
		if token == dash {
			token = ReasonInsufficientFunds
		}
		modes := []struct {
			name      string
			recurring bool
			skip3DS   bool
			capture   bool
			want3DS   bool
			wantCode  int
		}{
			{"payment", false, false, false, c.threeDS, c.payment},
			{"charge", false, false, true, c.threeDS, c.payment},
			{"skip3ds", false, true, false, false, c.payment},
			{"token", true, true, false, false, token},
			{"token-without-skip3ds", true, false, true, false, token},
		}
		for _, m := range modes {
			t.Run(pan+"/"+m.name, func(t *testing.T) {
				t.Parallel()
				ctx := context.Background()
				r := authReq("pay_"+pan+"_"+m.name, pan)
				r.Recurring, r.Skip3DS, r.Capture = m.recurring, m.skip3DS, m.capture
				res, err := e.s.Authorize(ctx, r)
				if err != nil {
					t.Fatalf("Authorize(%s): %v", c.number, err)
				}
				if m.want3DS {
					if res.Outcome != Outcome3DS || res.State != StatePending3DS {
						t.Fatalf("Authorize(%s): got %v/%v, want %v/%v", c.number, res.Outcome, res.State, Outcome3DS, StatePending3DS)
					}
					if res.ACSURL != e.acs || res.PaReq == "" {
						t.Fatalf("Authorize(%s): got ACSURL %q PaReq %q, want %q and a PaReq", c.number, res.ACSURL, res.PaReq, e.acs)
					}
					a := e.press(t, res, "md-1", "confirm")
					if res, err = e.s.Complete3DS(ctx, r.OpID, a.PaRes); err != nil {
						t.Fatalf("Complete3DS(%s): %v", c.number, err)
					}
				}
				checkDecision(t, c.number, res, m.wantCode, r)
			})
		}
	}
}

// checkDecision checks that res is the approval (code 0) or the decline
// with code of request r.
func checkDecision(t *testing.T, card string, res Result, code int, r AuthorizeRequest) {
	t.Helper()
	want := Result{Outcome: OutcomeDeclined, State: StateDeclined, ReasonCode: code, Reason: ReasonName(code), Amount: r.Amount, Currency: r.Currency}
	if code == ReasonApproved {
		want.Outcome, want.State, want.Reason = OutcomeApproved, StateAuthorized, "Approved"
		if r.Capture {
			want.State, want.Captured = StateCaptured, r.Amount
		}
		if len(res.AuthCode) != 6 {
			t.Errorf("%s: got AuthCode %q, want 6 characters", card, res.AuthCode)
		}
		want.AuthCode = res.AuthCode
	}
	if res != want {
		t.Errorf("%s: got %+v, want %+v", card, res, want)
	}
}

func TestAuthorizeOtherCards(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		card     cryptogram.Card
		wantCode int
	}{
		{"luhn-valid visa", testCardData("4000000000000002"), 0},
		{"luhn-valid mastercard", testCardData("5500000000000004"), 0},
		{"luhn-valid discover", testCardData("6011111111111117"), 0},
		{"with spaces and dashes", testCardData("4000 0000-0000 3055"), 0},
		{"bad check digit", testCardData("4242424242424241"), ReasonInvalidCardNumber},
		{"too short", testCardData("42424242"), ReasonInvalidCardNumber},
		{"letters", testCardData("4242abcd42424242"), ReasonInvalidCardNumber},
		{"empty", testCardData(""), ReasonInvalidCardNumber},
		{"expired last month", cryptogram.Card{PAN: "4242424242424242", ExpMonth: 5, ExpYear: 2026}, ReasonExpiredCard},
		{"expired last year", cryptogram.Card{PAN: "4000000000000002", ExpMonth: 12, ExpYear: 2025}, ReasonExpiredCard},
		{"valid through this month", cryptogram.Card{PAN: "4000000000000002", ExpMonth: 6, ExpYear: 2026}, 0},
		{"two-digit year", cryptogram.Card{PAN: "4000000000000002", ExpMonth: 1, ExpYear: 30}, 0},
		{"month 13", cryptogram.Card{PAN: "4000000000000002", ExpMonth: 13, ExpYear: 2030}, ReasonExpiredCard},
		{"month 0", cryptogram.Card{PAN: "4000000000000002", ExpMonth: 0, ExpYear: 2030}, ReasonExpiredCard},
	}
	e := newEnv(t, nil)
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := authReq(fmt.Sprintf("pay_other_%d", i), "")
			r.Card = c.card
			res, err := e.s.Authorize(context.Background(), r)
			if err != nil {
				t.Fatalf("Authorize: %v", err)
			}
			checkDecision(t, c.name, res, c.wantCode, r)
		})
	}
}

func TestAuthorizeInvalidRequest(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		change func(*AuthorizeRequest)
	}{
		{"empty op id", func(r *AuthorizeRequest) { r.OpID = "" }},
		{"long op id", func(r *AuthorizeRequest) { r.OpID = strings.Repeat("x", 257) }},
		{"zero amount", func(r *AuthorizeRequest) { r.Amount = 0 }},
		{"negative amount", func(r *AuthorizeRequest) { r.Amount = -1 }},
		{"lower-case currency", func(r *AuthorizeRequest) { r.Currency = "rub" }},
		{"no currency", func(r *AuthorizeRequest) { r.Currency = "" }},
	}
	e := newEnv(t, nil)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := authReq("pay_invalid_"+c.name, "4242424242424242")
			c.change(&r)
			_, err := e.s.Authorize(context.Background(), r)
			if !errors.Is(err, ErrInvalidRequest) {
				t.Fatalf("Authorize: got error %v, want ErrInvalidRequest", err)
			}
			if _, ok := e.s.Ledger(r.OpID); ok {
				t.Errorf("Ledger(%q): got an entry, want none", r.OpID)
			}
		})
	}
}

func TestAuthorizeIdempotent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, nil)

	t.Run("repeat returns the first result", func(t *testing.T) {
		t.Parallel()
		for _, pan := range []string{approvedNo3DS, "4242424242424242", "4000056655665556"} {
			r := authReq("pay_repeat_"+pan, pan)
			first, err := e.s.Authorize(ctx, r)
			if err != nil {
				t.Fatalf("Authorize(%s): %v", pan, err)
			}
			again, err := e.s.Authorize(ctx, r)
			if err != nil {
				t.Fatalf("Authorize(%s) again: %v", pan, err)
			}
			if again != first {
				t.Errorf("Authorize(%s) again: got %+v, want %+v", pan, again, first)
			}
			if l, _ := e.s.Ledger(r.OpID); l.Holds > 1 {
				t.Errorf("Ledger(%s): got %d holds, want at most 1", r.OpID, l.Holds)
			}
		}
	})

	t.Run("concurrent duplicates hold once", func(t *testing.T) {
		t.Parallel()
		r := authReq("pay_concurrent", approvedNo3DS)
		const n = 16
		results := make([]Result, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { results[i], errs[i] = e.s.Authorize(ctx, r) })
		}
		wg.Wait()
		for i := range n {
			if errs[i] != nil || results[i] != results[0] {
				t.Errorf("call %d: got %+v, %v; want %+v", i, results[i], errs[i], results[0])
			}
		}
		l, _ := e.s.Ledger(r.OpID)
		if l.Holds != 1 {
			t.Errorf("Ledger: got %d holds, want 1", l.Holds)
		}
	})

	t.Run("same id with other parameters", func(t *testing.T) {
		t.Parallel()
		r := authReq("pay_reused", approvedNo3DS)
		if _, err := e.s.Authorize(ctx, r); err != nil {
			t.Fatalf("Authorize: %v", err)
		}
		changes := map[string]func(*AuthorizeRequest){
			"amount":   func(r *AuthorizeRequest) { r.Amount++ },
			"currency": func(r *AuthorizeRequest) { r.Currency = "USD" },
			"card":     func(r *AuthorizeRequest) { r.Card.PAN = "4111111111111111" },
			"capture":  func(r *AuthorizeRequest) { r.Capture = true },
		}
		for name, change := range changes {
			r2 := r
			change(&r2)
			if _, err := e.s.Authorize(ctx, r2); !errors.Is(err, ErrInvalidRequest) {
				t.Errorf("Authorize with other %s: got error %v, want ErrInvalidRequest", name, err)
			}
		}
		if l, _ := e.s.Ledger(r.OpID); l.Holds != 1 || l.Amount != r.Amount {
			t.Errorf("Ledger: got %d holds of %d, want 1 of %d", l.Holds, l.Amount, r.Amount)
		}
	})
}

// step is one call in a ledger scenario.
type step struct {
	op       string // OpCapture, OpVoid, OpRefund
	amount   int64
	refundID string
	wantErr  error
}

func TestLedger(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name         string
		capture      bool // one-stage payment
		declined     bool // authorize with a declining card
		steps        []step
		wantState    State
		wantCaptures []int64
		wantRefunded int64
	}{
		{
			name:         "full capture",
			steps:        []step{{op: OpCapture, amount: 1000}},
			wantState:    StateCaptured,
			wantCaptures: []int64{1000},
		},
		{
			name: "partial captures",
			steps: []step{
				{op: OpCapture, amount: 300},
				{op: OpCapture, amount: 200},
				{op: OpCapture, amount: 600, wantErr: ErrInvalidRequest},
				{op: OpCapture, amount: 500},
				{op: OpCapture, amount: 1, wantErr: ErrInvalidRequest},
			},
			wantState:    StateCaptured,
			wantCaptures: []int64{300, 200, 500},
		},
		{
			name:      "over-capture",
			steps:     []step{{op: OpCapture, amount: 1001, wantErr: ErrInvalidRequest}},
			wantState: StateAuthorized,
		},
		{
			name: "zero and negative capture",
			steps: []step{
				{op: OpCapture, amount: 0, wantErr: ErrInvalidRequest},
				{op: OpCapture, amount: -5, wantErr: ErrInvalidRequest},
			},
			wantState: StateAuthorized,
		},
		{
			name: "void",
			steps: []step{
				{op: OpVoid},
				{op: OpVoid},
				{op: OpCapture, amount: 100, wantErr: ErrInvalidRequest},
				{op: OpRefund, amount: 100, refundID: "r1", wantErr: ErrInvalidRequest},
			},
			wantState: StateVoided,
		},
		{
			name: "void after capture",
			steps: []step{
				{op: OpCapture, amount: 100},
				{op: OpVoid, wantErr: ErrInvalidRequest},
			},
			wantState:    StateCaptured,
			wantCaptures: []int64{100},
		},
		{
			name: "refunds",
			steps: []step{
				{op: OpCapture, amount: 1000},
				{op: OpRefund, amount: 400, refundID: "r1"},
				{op: OpRefund, amount: 600, refundID: "r2"},
				{op: OpRefund, amount: 1, refundID: "r3", wantErr: ErrInvalidRequest},
			},
			wantState:    StateCaptured,
			wantCaptures: []int64{1000},
			wantRefunded: 1000,
		},
		{
			name: "over-refund",
			steps: []step{
				{op: OpCapture, amount: 500},
				{op: OpRefund, amount: 501, refundID: "r1", wantErr: ErrInvalidRequest},
				{op: OpRefund, amount: 500, refundID: "r2"},
			},
			wantState:    StateCaptured,
			wantCaptures: []int64{500},
			wantRefunded: 500,
		},
		{
			name:      "refund before capture",
			steps:     []step{{op: OpRefund, amount: 100, refundID: "r1", wantErr: ErrInvalidRequest}},
			wantState: StateAuthorized,
		},
		{
			name: "repeated refund id",
			steps: []step{
				{op: OpCapture, amount: 1000},
				{op: OpRefund, amount: 400, refundID: "r1"},
				{op: OpRefund, amount: 400, refundID: "r1"},
				{op: OpRefund, amount: 500, refundID: "r1", wantErr: ErrInvalidRequest},
				{op: OpRefund, amount: 400, refundID: "", wantErr: ErrInvalidRequest},
			},
			wantState:    StateCaptured,
			wantCaptures: []int64{1000},
			wantRefunded: 400,
		},
		{
			name:    "one-stage charge",
			capture: true,
			steps: []step{
				{op: OpCapture, amount: 1, wantErr: ErrInvalidRequest},
				{op: OpVoid, wantErr: ErrInvalidRequest},
				{op: OpRefund, amount: 1000, refundID: "r1"},
			},
			wantState:    StateCaptured,
			wantCaptures: []int64{1000},
			wantRefunded: 1000,
		},
		{
			name:     "declined",
			declined: true,
			steps: []step{
				{op: OpCapture, amount: 1, wantErr: ErrInvalidRequest},
				{op: OpVoid},
				{op: OpRefund, amount: 1, refundID: "r1", wantErr: ErrInvalidRequest},
			},
			wantState: StateDeclined,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s := NewSandbox(SandboxOptions{Secret: testSecret, Now: newTestClock().Now})
			const opID = "pay_ledger"
			r := authReq(opID, approvedNo3DS)
			r.Amount, r.Capture = 1000, c.capture
			if c.declined {
				r.Card.PAN = "4000056655665556"
			}
			if _, err := s.Authorize(ctx, r); err != nil {
				t.Fatalf("Authorize: %v", err)
			}
			for i, st := range c.steps {
				var err error
				switch st.op {
				case OpCapture:
					err = s.Capture(ctx, opID, st.amount)
				case OpVoid:
					err = s.Void(ctx, opID)
				case OpRefund:
					err = s.Refund(ctx, opID, st.refundID, st.amount)
				}
				if !errors.Is(err, st.wantErr) || (st.wantErr == nil) != (err == nil) {
					t.Errorf("step %d %s(%d): got error %v, want %v", i, st.op, st.amount, err, st.wantErr)
				}
			}
			l, ok := s.Ledger(opID)
			if !ok {
				t.Fatalf("Ledger(%s): no entry", opID)
			}
			var captured int64
			for _, a := range c.wantCaptures {
				captured += a
			}
			if l.State != c.wantState || l.Captured != captured || !reflect.DeepEqual(l.Captures, c.wantCaptures) || l.Refunded != c.wantRefunded {
				t.Errorf("Ledger: got state %v captures %v (%d) refunded %d, want %v %v (%d) %d",
					l.State, l.Captures, l.Captured, l.Refunded, c.wantState, c.wantCaptures, captured, c.wantRefunded)
			}
			st, err := s.Status(ctx, opID)
			if err != nil {
				t.Fatalf("Status: %v", err)
			}
			if st.State != l.State || st.Captured != l.Captured || st.Refunded != l.Refunded || st.Amount != 1000 {
				t.Errorf("Status: got %+v, want state %v captured %d refunded %d amount 1000", st, l.State, l.Captured, l.Refunded)
			}
			wantHolds := 1
			if c.declined {
				wantHolds = 0
			}
			if l.Holds != wantHolds {
				t.Errorf("Ledger: got %d holds, want %d", l.Holds, wantHolds)
			}
		})
	}
}

func TestUnknownOperation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := NewSandbox(SandboxOptions{Secret: testSecret})
	calls := map[string]func() error{
		OpCapture: func() error { return s.Capture(ctx, "pay_nope", 100) },
		OpVoid:    func() error { return s.Void(ctx, "pay_nope") },
		OpRefund:  func() error { return s.Refund(ctx, "pay_nope", "ref_1", 100) },
		OpStatus:  func() error { _, err := s.Status(ctx, "pay_nope"); return err },
	}
	for name, f := range calls {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if err := f(); !errors.Is(err, ErrUnknownOperation) {
				t.Errorf("%s: got error %v, want ErrUnknownOperation", name, err)
			}
		})
	}
}

func TestRefundIDAcrossOperations(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := NewSandbox(SandboxOptions{Secret: testSecret, Now: newTestClock().Now})
	authorized(t, s, "pay_a", 1000, true)
	authorized(t, s, "pay_b", 1000, true)
	if err := s.Refund(ctx, "pay_a", "ref_1", 100); err != nil {
		t.Fatalf("Refund(pay_a): %v", err)
	}
	if err := s.Refund(ctx, "pay_b", "ref_1", 100); !errors.Is(err, ErrInvalidRequest) {
		t.Errorf("Refund(pay_b) with pay_a's refund id: got error %v, want ErrInvalidRequest", err)
	}
	if l, _ := s.Ledger("pay_b"); l.Refunded != 0 {
		t.Errorf("Ledger(pay_b): got refunded %d, want 0", l.Refunded)
	}
}

func TestAuthorizationExpires(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := newTestClock()
	s := NewSandbox(SandboxOptions{Secret: testSecret, Now: clock.Now})
	authorized(t, s, "pay_expiring", 1000, false)
	authorized(t, s, "pay_partial", 1000, false)
	if err := s.Capture(ctx, "pay_partial", 400); err != nil {
		t.Fatalf("Capture: %v", err)
	}
	clock.Advance(AuthorizationTTL - time.Second)
	if st, _ := s.Status(ctx, "pay_expiring"); st.State != StateAuthorized {
		t.Fatalf("Status before the TTL: got %v, want %v", st.State, StateAuthorized)
	}
	clock.Advance(time.Second)

	st, err := s.Status(ctx, "pay_expiring")
	if err != nil || st.State != StateVoided {
		t.Errorf("Status after the TTL: got %v, %v; want %v", st.State, err, StateVoided)
	}
	if err := s.Capture(ctx, "pay_expiring", 100); !errors.Is(err, ErrInvalidRequest) {
		t.Errorf("Capture after the TTL: got error %v, want ErrInvalidRequest", err)
	}
	if err := s.Void(ctx, "pay_expiring"); err != nil {
		t.Errorf("Void after the TTL: got error %v, want nil", err)
	}
	if err := s.Capture(ctx, "pay_partial", 100); !errors.Is(err, ErrInvalidRequest) {
		t.Errorf("Capture of the rest after the TTL: got error %v, want ErrInvalidRequest", err)
	}
	if err := s.Refund(ctx, "pay_partial", "ref_1", 400); err != nil {
		t.Errorf("Refund after the TTL: got error %v, want nil", err)
	}
}

func TestRefundWindow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := newTestClock()
	s := NewSandbox(SandboxOptions{Secret: testSecret, Now: clock.Now})
	authorized(t, s, "pay_old", 1000, true)
	clock.Advance(RefundWindow + time.Hour)
	if err := s.Refund(ctx, "pay_old", "ref_1", 100); !errors.Is(err, ErrInvalidRequest) {
		t.Errorf("Refund after a year: got error %v, want ErrInvalidRequest", err)
	}
}

func TestAuthCodeStable(t *testing.T) {
	t.Parallel()
	a := NewSandbox(SandboxOptions{Secret: testSecret}).authCode("pay_1")
	b := NewSandbox(SandboxOptions{Secret: testSecret}).authCode("pay_1")
	c := NewSandbox(SandboxOptions{Secret: testSecret}).authCode("pay_2")
	if a != b || len(a) != 6 {
		t.Errorf("authCode(pay_1): got %q and %q, want one 6-character code", a, b)
	}
	if a == c {
		t.Errorf("authCode: got %q for pay_1 and pay_2, want different codes", a)
	}
}
