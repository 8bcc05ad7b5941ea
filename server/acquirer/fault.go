package acquirer

import (
	"context"
	"fmt"
	"time"
)

// Operation names, as Fault.Op and Calls take them.
const (
	OpAuthorize   = "authorize"
	OpComplete3DS = "complete3ds"
	OpCapture     = "capture"
	OpVoid        = "void"
	OpRefund      = "refund"
	OpStatus      = "status"
)

var opNames = map[string]bool{
	OpAuthorize: true, OpComplete3DS: true, OpCapture: true,
	OpVoid: true, OpRefund: true, OpStatus: true,
}

// FaultKind is what an injected fault does to a call.
type FaultKind int

// Fault kinds. The zero value is not a kind, so a Fault left half filled in
// is caught by Validate rather than silently doing nothing.
const (
	// FaultLatency sleeps Delay (or until the context ends), then processes
	// the call normally.
	FaultLatency FaultKind = iota + 1
	// FaultError answers ErrUnavailable at once, without processing.
	FaultError
	// FaultTimeoutBefore waits Delay (or until the context ends) and answers
	// ErrTimeout without processing: the bank never saw the call.
	FaultTimeoutBefore
	// FaultTimeoutAfter processes the call, then waits Delay (or until the
	// context ends) and answers ErrTimeout: the bank acted, the answer was
	// lost.
	FaultTimeoutAfter
)

// String returns the kind's name.
func (k FaultKind) String() string {
	switch k {
	case FaultLatency:
		return "latency"
	case FaultError:
		return "error"
	case FaultTimeoutBefore:
		return "timeout-before"
	case FaultTimeoutAfter:
		return "timeout-after"
	}
	return fmt.Sprintf("FaultKind(%d)", int(k))
}

// Fault makes the sandbox misbehave on purpose, so tests can prove the
// engine neither loses nor doubles money when the acquirer is slow, fails or
// loses answers.
type Fault struct {
	Op    string        // an Op… name, or "" for every operation
	Kind  FaultKind     // what happens to the call
	Delay time.Duration // for FaultLatency and the timeouts
	Times int           // how many calls it applies to; 0 = until ClearFaults
}

// Validate reports whether f names a known operation and kind, with a
// non-negative Delay and Times.
func (f Fault) Validate() error {
	switch {
	case f.Op != "" && !opNames[f.Op]:
		return fmt.Errorf("fault: unknown operation %q: %w", f.Op, ErrInvalidRequest)
	case f.Kind < FaultLatency || f.Kind > FaultTimeoutAfter:
		return fmt.Errorf("fault: unknown kind %d: %w", int(f.Kind), ErrInvalidRequest)
	case f.Delay < 0 || f.Times < 0:
		return fmt.Errorf("fault: negative delay or times: %w", ErrInvalidRequest)
	}
	return nil
}

// Inject adds a fault. Faults apply in the order injected: a call takes the
// first fault whose Op matches and, if that fault has Times left, uses one
// up. Inject panics on a fault that does not Validate — a mistake in a
// test's setup; check input from elsewhere with Validate first.
func (s *Sandbox) Inject(f Fault) {
	if err := f.Validate(); err != nil {
		panic("acquirer: Inject: " + err.Error())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
}

// ClearFaults removes every injected fault.
func (s *Sandbox) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// Calls returns how many calls of op the sandbox processed ("" for all
// operations): calls that reached the ledger, including idempotent repeats,
// refused requests and calls whose answer a FaultTimeoutAfter then lost;
// not calls stopped by FaultError, FaultTimeoutBefore or an ended context.
func (s *Sandbox) Calls(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if op == "" {
		n := 0
		for _, c := range s.calls {
			n += c
		}
		return n
	}
	return s.calls[op]
}

// takeFault returns the fault that applies to this call of op, if any, and
// uses up one of its Times.
func (s *Sandbox) takeFault(op string) (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if f.Op != "" && f.Op != op {
			continue
		}
		taken := *f
		if f.Times > 0 {
			f.Times--
			if f.Times == 0 {
				s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
			}
		}
		return taken, true
	}
	return Fault{}, false
}

// call runs one sandbox call of op: it honours the context and the injected
// faults, and runs process under the sandbox's lock, counting it.
func call[T any](ctx context.Context, s *Sandbox, op, opID string, process func() (T, error)) (T, error) {
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, fmt.Errorf("%s %s: %w", op, opID, err)
	}
	run := func() (T, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.calls[op]++
		return process()
	}
	f, ok := s.takeFault(op)
	if !ok {
		return run()
	}
	switch f.Kind {
	case FaultLatency:
		if err := sleep(ctx, f.Delay); err != nil {
			return zero, fmt.Errorf("%s %s: %w", op, opID, err)
		}
		return run()
	case FaultError:
		return zero, fmt.Errorf("%s %s: injected fault: %w", op, opID, ErrUnavailable)
	case FaultTimeoutBefore:
		return zero, lostAnswer(ctx, f.Delay, op, opID)
	case FaultTimeoutAfter:
		_, _ = run() // the bank acts; its answer is lost on the way back
		return zero, lostAnswer(ctx, f.Delay, op, opID)
	}
	return run()
}

// lostAnswer waits d or until ctx ends and returns the timeout error; when
// the context ended, the error wraps its error too.
func lostAnswer(ctx context.Context, d time.Duration, op, opID string) error {
	if err := sleep(ctx, d); err != nil {
		return fmt.Errorf("%s %s: injected fault: %w: %w", op, opID, ErrTimeout, err)
	}
	return fmt.Errorf("%s %s: injected fault: %w", op, opID, ErrTimeout)
}

// sleep waits d, or returns ctx.Err() if the context ends first.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
