package acquirer

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestFaultsOnAuthorize injects each kind of fault into Authorize and checks
// what the bank did and what the engine was told.
func TestFaultsOnAuthorize(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		fault      Fault
		wantErr    error
		wantState  State // StateUnspecified: the bank never received the operation
		wantCalled int
	}{
		{"latency", Fault{Op: OpAuthorize, Kind: FaultLatency, Delay: 20 * time.Millisecond}, nil, StateAuthorized, 1},
		{"error", Fault{Op: OpAuthorize, Kind: FaultError}, ErrUnavailable, StateUnspecified, 0},
		{"timeout before", Fault{Op: OpAuthorize, Kind: FaultTimeoutBefore, Delay: 10 * time.Millisecond}, ErrTimeout, StateUnspecified, 0},
		{"timeout after", Fault{Op: OpAuthorize, Kind: FaultTimeoutAfter, Delay: 10 * time.Millisecond}, ErrTimeout, StateAuthorized, 1},
		{"any operation", Fault{Kind: FaultTimeoutAfter}, ErrTimeout, StateAuthorized, 1},
		{"another operation", Fault{Op: OpCapture, Kind: FaultError}, nil, StateAuthorized, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s := NewSandbox(SandboxOptions{Secret: testSecret, Now: newTestClock().Now})
			c.fault.Times = 1
			s.Inject(c.fault)
			r := authReq("pay_fault", approvedNo3DS)

			start := time.Now()
			res, err := s.Authorize(ctx, r)
			if !errors.Is(err, c.wantErr) || (c.wantErr == nil) != (err == nil) {
				t.Fatalf("Authorize: got %+v, %v; want error %v", res, err, c.wantErr)
			}
			if err == nil && res.Outcome != OutcomeApproved {
				t.Errorf("Authorize: got %v, want %v", res.Outcome, OutcomeApproved)
			}
			if elapsed := time.Since(start); elapsed < c.fault.Delay {
				t.Errorf("Authorize: returned after %v, want at least the fault's %v", elapsed, c.fault.Delay)
			}
			if got := s.Calls(OpAuthorize); got != c.wantCalled {
				t.Errorf("Calls(authorize): got %d, want %d", got, c.wantCalled)
			}

			st, err := s.Status(ctx, r.OpID)
			if c.wantState == StateUnspecified {
				if !errors.Is(err, ErrUnknownOperation) {
					t.Errorf("Status: got %+v, %v; want ErrUnknownOperation", st, err)
				}
			} else if err != nil || st.State != c.wantState {
				t.Errorf("Status: got %+v, %v; want state %v", st, err, c.wantState)
			}

			// The engine repeats the call: the fault is used up, and the bank
			// holds the money once whatever happened the first time.
			again, err := s.Authorize(ctx, r)
			if err != nil || again.Outcome != OutcomeApproved {
				t.Fatalf("Authorize again: got %+v, %v; want approved", again, err)
			}
			if c.wantState == StateAuthorized && again.AuthCode != st.AuthCode {
				t.Errorf("Authorize again: got AuthCode %s, want the first %s", again.AuthCode, st.AuthCode)
			}
			if l, _ := s.Ledger(r.OpID); l.Holds != 1 {
				t.Errorf("Ledger: got %d holds, want 1", l.Holds)
			}
		})
	}
}

// TestFaultsOnOtherOperations checks that TimeoutAfter applies the call and
// TimeoutBefore and Error do not, for every other operation.
func TestFaultsOnOtherOperations(t *testing.T) {
	t.Parallel()
	type check func(t *testing.T, s *Sandbox, applied bool)
	ledger := func(f func(LedgerEntry) bool, what string) check {
		return func(t *testing.T, s *Sandbox, applied bool) {
			t.Helper()
			l, _ := s.Ledger("pay_ops")
			if f(l) != applied {
				t.Errorf("Ledger %+v: got %s = %t, want %t", l, what, f(l), applied)
			}
		}
	}
	ops := []struct {
		op      string
		capture bool // start from a one-stage payment
		call    func(context.Context, *Sandbox) error
		check   check
	}{
		{OpCapture, false, func(ctx context.Context, s *Sandbox) error { return s.Capture(ctx, "pay_ops", 300) },
			ledger(func(l LedgerEntry) bool { return l.Captured == 300 }, "captured")},
		{OpVoid, false, func(ctx context.Context, s *Sandbox) error { return s.Void(ctx, "pay_ops") },
			ledger(func(l LedgerEntry) bool { return l.State == StateVoided }, "voided")},
		{OpRefund, true, func(ctx context.Context, s *Sandbox) error { return s.Refund(ctx, "pay_ops", "ref_1", 300) },
			ledger(func(l LedgerEntry) bool { return l.Refunded == 300 }, "refunded")},
		{OpStatus, false, func(ctx context.Context, s *Sandbox) error { _, err := s.Status(ctx, "pay_ops"); return err },
			func(t *testing.T, s *Sandbox, applied bool) {
				if got, want := s.Calls(OpStatus), map[bool]int{true: 1, false: 0}[applied]; got != want {
					t.Errorf("Calls(status): got %d, want %d", got, want)
				}
			}},
	}
	kinds := []struct {
		kind    FaultKind
		wantErr error
		applied bool
	}{
		{FaultError, ErrUnavailable, false},
		{FaultTimeoutBefore, ErrTimeout, false},
		{FaultTimeoutAfter, ErrTimeout, true},
		{FaultLatency, nil, true},
	}
	for _, o := range ops {
		for _, k := range kinds {
			t.Run(o.op+"/"+k.kind.String(), func(t *testing.T) {
				t.Parallel()
				ctx := context.Background()
				s := NewSandbox(SandboxOptions{Secret: testSecret, Now: newTestClock().Now})
				authorized(t, s, "pay_ops", 1000, o.capture)
				s.Inject(Fault{Op: o.op, Kind: k.kind, Delay: time.Millisecond, Times: 1})
				err := o.call(ctx, s)
				if !errors.Is(err, k.wantErr) || (k.wantErr == nil) != (err == nil) {
					t.Fatalf("%s: got error %v, want %v", o.op, err, k.wantErr)
				}
				o.check(t, s, k.applied)
			})
		}
	}
}

func TestFaultOnComplete3DS(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, nil)
	res := e.pending(t, "pay_lost_3ds", pan3DS, false)
	paRes := e.press(t, res, "md", "confirm").PaRes
	e.s.Inject(Fault{Op: OpComplete3DS, Kind: FaultTimeoutAfter, Times: 1})
	if _, err := e.s.Complete3DS(ctx, "pay_lost_3ds", paRes); !errors.Is(err, ErrTimeout) {
		t.Fatalf("Complete3DS: got error %v, want ErrTimeout", err)
	}
	if st, err := e.s.Status(ctx, "pay_lost_3ds"); err != nil || st.State != StateAuthorized {
		t.Errorf("Status: got %+v, %v; want %v", st, err, StateAuthorized)
	}
	got, err := e.s.Complete3DS(ctx, "pay_lost_3ds", paRes)
	if err != nil || got.Outcome != OutcomeApproved {
		t.Errorf("Complete3DS again: got %+v, %v; want approved", got, err)
	}
	if l, _ := e.s.Ledger("pay_lost_3ds"); l.Holds != 1 {
		t.Errorf("Ledger: got %d holds, want 1", l.Holds)
	}
}

func TestFaultTimes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := NewSandbox(SandboxOptions{Secret: testSecret})
	authorized(t, s, "pay_times", 1000, false)
	s.Inject(Fault{Op: OpStatus, Kind: FaultError, Times: 2})
	for i, want := range []error{ErrUnavailable, ErrUnavailable, nil} {
		if _, err := s.Status(ctx, "pay_times"); !errors.Is(err, want) || (want == nil) != (err == nil) {
			t.Errorf("Status call %d: got error %v, want %v", i+1, err, want)
		}
	}

	s.Inject(Fault{Kind: FaultError}) // until cleared
	for i := range 3 {
		if _, err := s.Status(ctx, "pay_times"); !errors.Is(err, ErrUnavailable) {
			t.Errorf("Status call %d with a lasting fault: got error %v, want ErrUnavailable", i+1, err)
		}
	}
	s.ClearFaults()
	if _, err := s.Status(ctx, "pay_times"); err != nil {
		t.Errorf("Status after ClearFaults: got error %v, want nil", err)
	}
	if got := s.Calls(OpStatus); got != 2 {
		t.Errorf("Calls(status): got %d, want 2", got)
	}
	if got := s.Calls(""); got != 3 {
		t.Errorf("Calls(\"\"): got %d, want 3", got)
	}
}

func TestFaultsFirstMatchWins(t *testing.T) {
	t.Parallel()
	s := NewSandbox(SandboxOptions{Secret: testSecret})
	s.Inject(Fault{Op: OpAuthorize, Kind: FaultError, Times: 1})
	s.Inject(Fault{Kind: FaultTimeoutBefore, Times: 1})
	r := authReq("pay_order", approvedNo3DS)
	for i, want := range []error{ErrUnavailable, ErrTimeout, nil} {
		if _, err := s.Authorize(context.Background(), r); !errors.Is(err, want) || (want == nil) != (err == nil) {
			t.Errorf("Authorize call %d: got error %v, want %v", i+1, err, want)
		}
	}
}

// TestFaultsRespectContext checks that a call whose context ends answers the
// context's error, and that TimeoutAfter has applied the call by then.
func TestFaultsRespectContext(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		kind      FaultKind // 0: no fault, the context is cancelled before the call
		wantErrs  []error
		wantState State
	}{
		{"cancelled before the call", 0, []error{context.Canceled}, StateUnspecified},
		{"latency", FaultLatency, []error{context.DeadlineExceeded}, StateUnspecified},
		{"timeout before", FaultTimeoutBefore, []error{ErrTimeout, context.DeadlineExceeded}, StateUnspecified},
		{"timeout after", FaultTimeoutAfter, []error{ErrTimeout, context.DeadlineExceeded}, StateAuthorized},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := NewSandbox(SandboxOptions{Secret: testSecret, Now: newTestClock().Now})
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
			defer cancel()
			if c.kind == 0 {
				cancel()
			} else {
				s.Inject(Fault{Kind: c.kind, Delay: time.Hour})
			}
			r := authReq("pay_ctx", approvedNo3DS)
			_, err := s.Authorize(ctx, r)
			for _, want := range c.wantErrs {
				if !errors.Is(err, want) {
					t.Errorf("Authorize: got error %v, want it to be %v", err, want)
				}
			}
			s.ClearFaults()
			st, err := s.Status(context.Background(), r.OpID)
			if c.wantState == StateUnspecified {
				if !errors.Is(err, ErrUnknownOperation) {
					t.Errorf("Status: got %+v, %v; want ErrUnknownOperation", st, err)
				}
			} else if err != nil || st.State != c.wantState {
				t.Errorf("Status: got %+v, %v; want %v", st, err, c.wantState)
			}
		})
	}
}

func TestFaultValidate(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		fault Fault
		valid bool
	}{
		{"every operation", Fault{Kind: FaultError}, true},
		{"one operation", Fault{Op: OpRefund, Kind: FaultTimeoutAfter, Delay: time.Second, Times: 3}, true},
		{"unknown operation", Fault{Op: "authorise", Kind: FaultError}, false},
		{"no kind", Fault{Op: OpVoid}, false},
		{"unknown kind", Fault{Kind: 99}, false},
		{"negative delay", Fault{Kind: FaultLatency, Delay: -1}, false},
		{"negative times", Fault{Kind: FaultLatency, Times: -1}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			err := c.fault.Validate()
			if c.valid != (err == nil) || err != nil && !errors.Is(err, ErrInvalidRequest) {
				t.Errorf("Validate(%+v): got %v, want valid=%t", c.fault, err, c.valid)
			}
			defer func() {
				if p := recover(); (p == nil) != c.valid {
					t.Errorf("Inject(%+v): got panic %v, want panic=%t", c.fault, p, !c.valid)
				}
			}()
			NewSandbox(SandboxOptions{}).Inject(c.fault)
		})
	}
}
