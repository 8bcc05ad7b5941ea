package payments

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/altynpay/altyn/server/acquirer"
	"github.com/altynpay/altyn/store"
)

// batch is how many rows one pass of a background job takes on.
const batch = 100

// RunWorkers runs the background jobs every interval until ctx ends. Every
// replica runs them: each change is a guarded update and every acquirer call
// is idempotent, so two replicas working on one payment cannot double it.
func (e *Engine) RunWorkers(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := e.Sweep(ctx); err != nil && ctx.Err() == nil {
			e.log.ErrorContext(ctx, "background sweep", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Sweep runs every background job once and says how many payments it changed:
// it resolves lost acquirer answers, finishes pending refunds, voids (or
// auto-captures) authorizations past their deadline and declines payments
// abandoned at 3-D Secure.
func (e *Engine) Sweep(ctx context.Context) (int, error) {
	n := 0
	var errs []error
	for _, job := range []func(context.Context) (int, error){e.resolveUnsettled, e.resolveRefunds, e.expireAuthorizations, e.expireAuthentications} {
		k, err := job(ctx)
		n += k
		errs = append(errs, err)
	}
	return n, errors.Join(errs...)
}

// resolveUnsettled asks the acquirer about calls whose answers were lost.
func (e *Engine) resolveUnsettled(ctx context.Context) (int, error) {
	list, err := e.store.Unsettled(ctx, e.now().Add(-e.cfg.ResolveAfter), batch)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, p := range list {
		var err error
		if p.Status == store.StatusPending {
			err = e.resolveAuthorization(ctx, p)
		} else {
			err = e.resolvePendingOp(ctx, p)
		}
		if err != nil {
			e.log.WarnContext(ctx, "resolve payment", "payment", p.ID, "err", err)
			continue
		}
		n++
	}
	return n, nil
}

// resolveAuthorization settles a Pending payment by the acquirer's status:
// if the acquirer holds or took the money, altyn records it; if it never got
// the request, it is reversed (to be sure) and the payment declined.
func (e *Engine) resolveAuthorization(ctx context.Context, p *store.Payment) error {
	st, err := e.acquirer.Status(ctx, p.ID)
	switch {
	case errors.Is(err, acquirer.ErrUnknownOperation):
		st = acquirer.Result{Outcome: acquirer.OutcomeDeclined, ReasonCode: 5091, Reason: acquirer.ReasonName(5091)}
	case err != nil:
		return fmt.Errorf("status: %w", err)
	case st.State == acquirer.StatePending3DS:
		// The 3-D Secure answer was lost with the PaReq: the payer can no
		// longer authenticate, so the operation is reversed.
		if err := e.acquirer.Void(ctx, p.ID); err != nil && !errors.Is(err, acquirer.ErrInvalidRequest) {
			return fmt.Errorf("reverse: %w", err)
		}
		st = acquirer.Result{Outcome: acquirer.OutcomeDeclined, ReasonCode: 5207, Reason: acquirer.ReasonName(5207)}
	case st.State == acquirer.StateAuthorized || st.State == acquirer.StateCaptured:
		st.Outcome = acquirer.OutcomeApproved
	default:
		st.Outcome = acquirer.OutcomeDeclined
	}
	_, err = e.settleAuthorization(ctx, p, nil, st, store.StatusPending, nil)
	return err
}

// resolvePendingOp finishes a capture or void whose answer was lost: it asks
// the acquirer what it did and repeats the call only if it did not act.
func (e *Engine) resolvePendingOp(ctx context.Context, p *store.Payment) error {
	st, err := e.acquirer.Status(ctx, p.ID)
	if err != nil {
		return fmt.Errorf("status: %w", err)
	}
	switch p.PendingOp {
	case "capture":
		if st.Captured < p.CapturedAmount {
			if err := e.acquirer.Capture(ctx, p.ID, p.CapturedAmount-st.Captured); err != nil {
				return fmt.Errorf("repeat capture: %w", err)
			}
		}
	case "void":
		if st.State != acquirer.StateVoided {
			if err := e.acquirer.Void(ctx, p.ID); err != nil {
				return fmt.Errorf("repeat void: %w", err)
			}
		}
	default:
		return fmt.Errorf("unknown pending operation %q", p.PendingOp)
	}
	_, err = e.finishPending(ctx, p, p.PendingOp, nil)
	return err
}

// resolveRefunds repeats refunds the acquirer has not confirmed; a refund is
// idempotent by its id at the acquirer, so a repeat never pays twice.
func (e *Engine) resolveRefunds(ctx context.Context) (int, error) {
	list, err := e.store.PendingRefunds(ctx, e.now().Add(-e.cfg.ResolveAfter), batch)
	if err != nil {
		return 0, err
	}
	n := 0
	for i := range list {
		r := &list[i]
		if err := e.acquirer.Refund(ctx, r.PaymentID, r.ID, r.Amount); err != nil {
			e.log.WarnContext(ctx, "repeat refund", "refund", r.ID, "err", err)
			continue
		}
		p, err := e.store.Payment(ctx, r.MerchantID, r.PaymentID)
		if err == nil {
			_, err = e.completeRefund(ctx, p, r, nil)
		}
		if err != nil {
			e.log.WarnContext(ctx, "record repeated refund", "refund", r.ID, "err", err)
			continue
		}
		n++
	}
	return n, nil
}

// expireAuthorizations voids authorizations not captured in time, or
// captures them for merchants who chose auto-capture.
func (e *Engine) expireAuthorizations(ctx context.Context) (int, error) {
	list, err := e.store.DueAuthorizations(ctx, e.now(), batch)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, p := range list {
		m, err := e.merchant(ctx, p.MerchantID)
		if err != nil {
			return n, err
		}
		if m.AutoCaptureDays > 0 {
			_, err = e.Capture(ctx, CaptureCommand{MerchantID: p.MerchantID, PaymentID: p.ID})
		} else {
			_, err = e.Void(ctx, VoidCommand{MerchantID: p.MerchantID, PaymentID: p.ID})
		}
		if err != nil {
			e.log.WarnContext(ctx, "expire authorization", "payment", p.ID, "err", err)
			continue
		}
		n++
	}
	return n, nil
}

// expireAuthentications declines payments whose payer never finished 3-D
// Secure, releasing whatever the acquirer keeps for them.
func (e *Engine) expireAuthentications(ctx context.Context) (int, error) {
	list, err := e.store.StaleAuthentications(ctx, e.now().Add(-e.cfg.AuthenticationTTL), batch)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, p := range list {
		if err := e.acquirer.Void(ctx, p.ID); err != nil && !errors.Is(err, acquirer.ErrInvalidRequest) && !errors.Is(err, acquirer.ErrUnknownOperation) {
			e.log.WarnContext(ctx, "release abandoned 3-D Secure", "payment", p.ID, "err", err)
			continue
		}
		res := acquirer.Result{Outcome: acquirer.OutcomeDeclined, ReasonCode: 5206, Reason: acquirer.ReasonName(5206)}
		if _, err := e.settleAuthorization(ctx, p, nil, res, store.StatusAwaitingAuthentication, nil); err != nil {
			e.log.WarnContext(ctx, "decline abandoned 3-D Secure", "payment", p.ID, "err", err)
			continue
		}
		n++
	}
	return n, nil
}
