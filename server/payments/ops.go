package payments

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/altynpay/altyn/server/acquirer"
	"github.com/altynpay/altyn/store"
)

// CaptureCommand captures all (Amount nil) or part of an authorization.
type CaptureCommand struct {
	MerchantID     string `json:"-" validate:"required"`
	PaymentID      string `json:"payment_id" field:"payment_id" validate:"required,max=64"`
	Amount         *int64 `json:"amount" field:"amount" validate:"omitnil,gt=0,lte=1000000000000"`
	IdempotencyKey string `json:"-" field:"idempotency_key" validate:"max=128"`
}

// VoidCommand cancels an authorization.
type VoidCommand struct {
	MerchantID     string `json:"-" validate:"required"`
	PaymentID      string `json:"payment_id" field:"payment_id" validate:"required,max=64"`
	IdempotencyKey string `json:"-" field:"idempotency_key" validate:"max=128"`
}

// RefundCommand refunds all that remains (Amount nil) or part of a payment.
type RefundCommand struct {
	MerchantID     string `json:"-" validate:"required"`
	PaymentID      string `json:"payment_id" field:"payment_id" validate:"required,max=64"`
	Amount         *int64 `json:"amount" field:"amount" validate:"omitnil,gt=0,lte=1000000000000"`
	IdempotencyKey string `json:"-" field:"idempotency_key" validate:"max=128"`
}

// Capture takes all or part of an authorization; the rest is released.
func (e *Engine) Capture(ctx context.Context, cmd CaptureCommand) (*Result, error) {
	if err := e.check(cmd); err != nil {
		return nil, err
	}
	return e.settle(ctx, settlement{
		op: "capture", merchantID: cmd.MerchantID, paymentID: cmd.PaymentID,
		key: cmd.IdempotencyKey, hash: requestHash("capture", cmd),
		reserve: func(p *store.Payment, now time.Time) error {
			if p.Status != store.StatusAuthorized || p.PendingOp != "" {
				return opNotAllowed("capture", p.Status)
			}
			amount := p.AuthorizedAmount
			if cmd.Amount != nil {
				amount = *cmd.Amount
			}
			if amount > p.AuthorizedAmount {
				return ErrCaptureExceeds.With(fmt.Sprintf("capture amount %d exceeds the authorized amount %d", amount, p.AuthorizedAmount))
			}
			if err := move(p, store.StatusCompleted); err != nil {
				return err
			}
			p.CapturedAmount, p.CapturedAt, p.ExpiresAt = amount, now, time.Time{}
			return nil
		},
		call: func(ctx context.Context, p *store.Payment) error {
			return e.acquirer.Capture(ctx, p.ID, p.CapturedAmount)
		},
		undo: func(p *store.Payment) error {
			if err := move(p, store.StatusAuthorized); err != nil {
				return err
			}
			p.CapturedAmount, p.CapturedAt = 0, time.Time{}
			p.ExpiresAt = p.AuthorizedAt.Add(e.cfg.AuthorizationTTL)
			return nil
		},
	})
}

// Void releases an authorization.
func (e *Engine) Void(ctx context.Context, cmd VoidCommand) (*Result, error) {
	if err := e.check(cmd); err != nil {
		return nil, err
	}
	return e.settle(ctx, settlement{
		op: "void", merchantID: cmd.MerchantID, paymentID: cmd.PaymentID,
		key: cmd.IdempotencyKey, hash: requestHash("void", cmd),
		reserve: func(p *store.Payment, now time.Time) error {
			if p.Status != store.StatusAuthorized || p.PendingOp != "" {
				return opNotAllowed("void", p.Status)
			}
			if err := move(p, store.StatusCancelled); err != nil {
				return err
			}
			p.CancelledAt, p.ExpiresAt = now, time.Time{}
			return nil
		},
		call: func(ctx context.Context, p *store.Payment) error { return e.acquirer.Void(ctx, p.ID) },
		undo: func(p *store.Payment) error {
			if err := move(p, store.StatusAuthorized); err != nil {
				return err
			}
			p.CancelledAt = time.Time{}
			p.ExpiresAt = p.AuthorizedAt.Add(e.cfg.AuthorizationTTL)
			return nil
		},
	})
}

// settlement is a capture or a void: reserve the change in the database,
// ask the acquirer, then confirm, or undo it if the acquirer refused.
type settlement struct {
	op, merchantID, paymentID, key string
	hash                           []byte
	reserve                        func(p *store.Payment, now time.Time) error
	call                           func(ctx context.Context, p *store.Payment) error
	undo                           func(p *store.Payment) error
}

func (e *Engine) settle(ctx context.Context, s settlement) (*Result, error) {
	if res, done, err := e.replay(ctx, s.merchantID, s.key, s.op, s.hash); done {
		return res, err
	}
	claim := e.claim(s.merchantID, s.key, s.op, s.hash, s.paymentID)
	now := e.now()
	// The change is recorded first, marked pending_op, so that a concurrent
	// request cannot act on the same authorization and a crash before the
	// acquirer answers is finished by the resolver.
	p, err := e.store.ModifyPayment(ctx, s.merchantID, s.paymentID, func(p *store.Payment) (store.Effects, error) {
		if err := s.reserve(p, now); err != nil {
			return store.Effects{}, err
		}
		p.PendingOp, p.UpdatedAt = s.op, now
		return store.Effects{Claim: claim}, nil
	})
	switch {
	case errors.Is(err, store.ErrKeyUsed):
		res, _, err := e.replay(ctx, s.merchantID, s.key, s.op, s.hash)
		return res, err
	case errors.Is(err, store.ErrNotFound):
		return nil, ErrNotFound
	case err != nil:
		return nil, err
	}
	callErr := s.call(ctx, p)
	wctx, cancel := background(ctx)
	defer cancel()
	switch {
	case callErr == nil:
		return e.finishPending(wctx, p, s.op, claim)
	case errors.Is(callErr, acquirer.ErrInvalidRequest), errors.Is(callErr, acquirer.ErrUnknownOperation):
		// The acquirer refused: nothing moved there, so undo it here and
		// free the key for a corrected retry.
		e.log.WarnContext(ctx, "acquirer refused", "op", s.op, "payment", p.ID, "err", callErr)
		_, err := e.store.ModifyPayment(wctx, s.merchantID, s.paymentID, func(p *store.Payment) (store.Effects, error) {
			if p.PendingOp != s.op {
				return store.Effects{}, errSettled
			}
			if err := s.undo(p); err != nil {
				return store.Effects{}, err
			}
			p.PendingOp, p.UpdatedAt = "", e.now()
			return store.Effects{Release: claim}, nil
		})
		if err != nil && !errors.Is(err, errSettled) {
			return nil, fmt.Errorf("undo %s: %w", s.op, err)
		}
		return nil, ErrAcquirerRefused.With("the acquirer refused to " + s.op + " the payment")
	default:
		// The answer is lost. The change stays recorded with pending_op set;
		// the resolver asks the acquirer and repeats the call if needed.
		e.log.WarnContext(ctx, "acquirer did not answer; left to the resolver", "op", s.op, "payment", p.ID, "err", callErr)
		res, err := e.result(wctx, p)
		if err == nil && claim != nil {
			_, err = e.store.ModifyPayment(wctx, s.merchantID, s.paymentID, func(p *store.Payment) (store.Effects, error) {
				return store.Effects{Answer: answerOf(claim, res)}, nil
			})
		}
		return res, err
	}
}

// finishPending clears pending_op once the acquirer confirmed op.
func (e *Engine) finishPending(ctx context.Context, p *store.Payment, op string, claim *store.Idempotency) (*Result, error) {
	refunds, err := e.store.Refunds(ctx, p.ID)
	if err != nil {
		return nil, err
	}
	var res *Result
	_, err = e.store.ModifyPayment(ctx, p.MerchantID, p.ID, func(p *store.Payment) (store.Effects, error) {
		if p.PendingOp != op {
			return store.Effects{}, errSettled
		}
		now := e.now()
		p.PendingOp, p.UpdatedAt = "", now
		res = &Result{Payment: p, Refunds: refunds}
		typ := EventConfirm
		if op == "void" {
			typ = EventCancel
		}
		return store.Effects{Answer: answerOf(claim, res), Outbox: []store.OutboxMessage{event(typ, p, nil, now)}}, nil
	})
	if errors.Is(err, errSettled) {
		return e.result(ctx, p)
	}
	if err != nil {
		return nil, fmt.Errorf("confirm %s: %w", op, err)
	}
	return res, nil
}

// Refund returns money of a completed payment. The amount is reserved on the
// payment (the CHECK refunded ≤ captured holds it even against a bug here)
// with a Pending refund row before the acquirer is asked.
func (e *Engine) Refund(ctx context.Context, cmd RefundCommand) (*Result, error) {
	if err := e.check(cmd); err != nil {
		return nil, err
	}
	hash := requestHash("refund", cmd)
	if res, done, err := e.replay(ctx, cmd.MerchantID, cmd.IdempotencyKey, "refund", hash); done {
		return res, err
	}
	claim := e.claim(cmd.MerchantID, cmd.IdempotencyKey, "refund", hash, cmd.PaymentID)
	now := e.now()
	refund := &store.Refund{ID: newID("ref"), TransactionID: newTransactionID(), Status: store.RefundPending, CreatedAt: now, UpdatedAt: now}
	p, err := e.store.ModifyPayment(ctx, cmd.MerchantID, cmd.PaymentID, func(p *store.Payment) (store.Effects, error) {
		if p.Status != store.StatusCompleted || p.PendingOp != "" {
			return store.Effects{}, opNotAllowed("refund", p.Status)
		}
		if now.Sub(p.CapturedAt) > e.cfg.RefundWindow {
			return store.Effects{}, ErrRefundWindowClosed
		}
		left := p.CapturedAmount - p.RefundedAmount
		amount := left
		if cmd.Amount != nil {
			amount = *cmd.Amount
		}
		if left == 0 {
			return store.Effects{}, ErrNothingToRefund
		}
		if amount > left {
			return store.Effects{}, ErrRefundExceeds.With(fmt.Sprintf("refund amount %d exceeds the %d captured and not yet refunded", amount, left))
		}
		p.RefundedAmount += amount
		p.UpdatedAt = now
		r := *refund
		r.PaymentID, r.MerchantID, r.Amount = p.ID, p.MerchantID, amount
		refund = &r
		return store.Effects{Claim: claim, InsertRefund: refund}, nil
	})
	switch {
	case errors.Is(err, store.ErrKeyUsed):
		res, _, err := e.replay(ctx, cmd.MerchantID, cmd.IdempotencyKey, "refund", hash)
		return res, err
	case errors.Is(err, store.ErrNotFound):
		return nil, ErrNotFound
	case err != nil:
		return nil, err
	}
	callErr := e.acquirer.Refund(ctx, p.ID, refund.ID, refund.Amount)
	wctx, cancel := background(ctx)
	defer cancel()
	switch {
	case callErr == nil:
		return e.completeRefund(wctx, p, refund, claim)
	case errors.Is(callErr, acquirer.ErrInvalidRequest), errors.Is(callErr, acquirer.ErrUnknownOperation):
		e.log.WarnContext(ctx, "acquirer refused refund", "payment", p.ID, "refund", refund.ID, "err", callErr)
		_, err := e.store.ModifyPayment(wctx, p.MerchantID, p.ID, func(p *store.Payment) (store.Effects, error) {
			p.RefundedAmount -= refund.Amount
			p.UpdatedAt = e.now()
			return store.Effects{DeleteRefund: refund, Release: claim}, nil
		})
		if err != nil {
			return nil, fmt.Errorf("undo refund: %w", err)
		}
		return nil, ErrAcquirerRefused.With("the acquirer refused the refund")
	default:
		e.log.WarnContext(ctx, "acquirer did not answer a refund; left to the resolver", "payment", p.ID, "refund", refund.ID, "err", callErr)
		res, err := e.result(wctx, p)
		if err != nil {
			return nil, err
		}
		res.Refund = refund
		if claim != nil {
			_, err = e.store.ModifyPayment(wctx, p.MerchantID, p.ID, func(p *store.Payment) (store.Effects, error) {
				return store.Effects{Answer: answerOf(claim, res)}, nil
			})
		}
		return res, err
	}
}

// completeRefund records the acquirer's confirmation of a refund.
func (e *Engine) completeRefund(ctx context.Context, p *store.Payment, refund *store.Refund, claim *store.Idempotency) (*Result, error) {
	done := *refund
	done.Status, done.UpdatedAt = store.RefundCompleted, e.now()
	refunds, err := e.store.Refunds(ctx, p.ID)
	if err != nil {
		return nil, err
	}
	for i := range refunds {
		if refunds[i].ID == done.ID {
			refunds[i] = done
		}
	}
	var res *Result
	_, err = e.store.ModifyPayment(ctx, p.MerchantID, p.ID, func(p *store.Payment) (store.Effects, error) {
		p.UpdatedAt = done.UpdatedAt
		res = &Result{Payment: p, Refunds: refunds, Refund: &done}
		return store.Effects{UpdateRefund: &done, Answer: answerOf(claim, res),
			Outbox: []store.OutboxMessage{event(EventRefund, p, &done, done.UpdatedAt)}}, nil
	})
	if errors.Is(err, store.ErrStale) {
		res, err := e.result(ctx, p)
		if err == nil {
			res.Refund = &done
		}
		return res, err
	}
	if err != nil {
		return nil, fmt.Errorf("confirm refund: %w", err)
	}
	return res, nil
}
