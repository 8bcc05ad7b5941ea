package payments

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/altynpay/altyn/cryptogram"
	"github.com/altynpay/altyn/server/acquirer"
	"github.com/altynpay/altyn/store"
)

// BatchResult is the answer to one command of PayBatch: what Pay would
// have answered it.
type BatchResult struct {
	Result *Result
	Err    error
}

// PayBatch makes many saved-card payments at once, as Pay makes each (the
// same checks, idempotency, Check notification, acquirer call, outcome,
// events and hooks), but records them together: one transaction inserts
// them all with their idempotency claims, the acquirer is called for each
// concurrently, and one transaction records the answers. A subscription
// runner bills with it; two transactions per payment would otherwise be
// most of a scheduled charge's cost.
//
// Commands that are not token payments with an idempotency key, and those
// whose key was used before, are answered by Pay (a repeat gets the first
// answer). The results are in the order of the commands.
func (e *Engine) PayBatch(ctx context.Context, cmds []PayCommand) []BatchResult {
	out := make([]BatchResult, len(cmds))
	type item struct {
		i     int
		cmd   PayCommand
		m     *store.Merchant
		p     *store.Payment
		claim *store.Idempotency
		card  cryptogram.Card
		ar    acquirer.Result
		err   error // the acquirer's
	}
	var items []*item
	var ids []string
	for i, cmd := range cmds {
		if cmd.Token == "" || cmd.IdempotencyKey == "" {
			res, err := e.Pay(ctx, cmd)
			out[i] = BatchResult{res, err}
			continue
		}
		if err := e.check(cmd); err != nil {
			out[i].Err = err
			continue
		}
		for _, hook := range e.beforePay {
			if err := hook(ctx, &cmd); err != nil {
				out[i].Err = err
				break
			}
		}
		if out[i].Err != nil {
			continue
		}
		m, err := e.merchant(ctx, cmd.MerchantID)
		if err != nil {
			out[i].Err = err
			continue
		}
		items = append(items, &item{i: i, cmd: cmd, m: m})
		ids = append(ids, cmd.Token)
	}
	if len(items) == 0 {
		return out
	}
	defer func() {
		for _, it := range items {
			it.card = cryptogram.Card{}
		}
	}()
	tokens, err := e.store.TokensByID(ctx, ids)
	if err != nil {
		for _, it := range items {
			out[it.i].Err = err
		}
		return out
	}
	now := e.now()
	var ps []*store.Payment
	var claims []*store.Idempotency
	var ready []*item
	for _, it := range items {
		cmd := it.cmd
		t := tokens[cmd.Token]
		if err := CheckToken(t, it.m.ID, cmd.AccountID); err != nil {
			out[it.i].Err = err
			continue
		}
		card, err := e.openToken(t)
		if err != nil {
			out[it.i].Err = err
			continue
		}
		it.card = card
		it.p = &store.Payment{
			ID: newID("pay"), MerchantID: it.m.ID, TransactionID: newTransactionID(), Status: store.StatusPending,
			TwoStage: cmd.TwoStage, Amount: cmd.Amount, Currency: cmd.Currency, InvoiceID: cmd.InvoiceID,
			AccountID: cmd.AccountID, Description: cmd.Description, Email: cmd.Email, IPAddress: cmd.IPAddress,
			CardholderName: cmd.CardholderName, Data: cmd.Data, Recurrent: cmd.Recurrent, SubscriptionID: cmd.SubscriptionID,
			CardFirstSix: it.card.First6(), CardLastFour: it.card.Last4(), CardBrand: string(it.card.Brand()),
			CardExpMonth: it.card.ExpMonth, CardExpYear: it.card.ExpYear, TestMode: it.m.TestMode, TokenID: t.ID,
			CreatedAt: now, UpdatedAt: now,
		}
		op := cmd.operation()
		it.claim = e.claim(cmd.MerchantID, cmd.IdempotencyKey, op, requestHash(op, cmd), it.p.ID)
		ps, claims, ready = append(ps, it.p), append(claims, it.claim), append(ready, it)
	}
	if len(ready) == 0 {
		return out
	}
	inserted, err := e.store.CreatePayments(ctx, ps, claims)
	if err != nil {
		for _, it := range ready {
			out[it.i].Err = fmt.Errorf("record payment: %w", err)
		}
		return out
	}
	var made []*item
	for k, it := range ready {
		if inserted[k] {
			made = append(made, it)
			continue
		}
		// The key was used before: answer as Pay answers a repeat.
		res, _, err := e.replay(ctx, it.cmd.MerchantID, it.claim.Key, it.claim.Operation, it.claim.RequestHash)
		out[it.i] = BatchResult{res, err}
	}

	wctx, cancel := background(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for _, it := range made {
		wg.Go(func() {
			if e.checker != nil {
				if res := e.checker.Check(ctx, it.p); !res.Accept {
					it.ar = acquirer.Result{Outcome: acquirer.OutcomeDeclined, ReasonCode: res.ReasonCode, Reason: res.Reason}
					return
				}
			}
			it.ar, it.err = e.acquirer.Authorize(ctx, acquirer.AuthorizeRequest{
				OpID: it.p.ID, Card: it.card, Amount: it.p.Amount, Currency: it.p.Currency, Capture: !it.p.TwoStage,
				Recurring: it.cmd.Initiator == InitiatorMerchant, Skip3DS: true,
			})
		})
	}
	wg.Wait()

	byID := map[string]*item{}
	var settle []string
	for _, it := range made {
		if it.err != nil {
			// As in Pay: the answer is lost, the payment stays Pending and
			// the resolver finishes it.
			e.log.WarnContext(ctx, "acquirer did not answer; payment left pending", "payment", it.p.ID, "err", it.err)
			out[it.i] = BatchResult{Result: &Result{Payment: it.p}}
			continue
		}
		byID[it.p.ID] = it
		settle = append(settle, it.p.ID)
	}
	if len(settle) == 0 {
		return out
	}
	at := e.now()
	written, failed, err := e.store.ModifyPayments(wctx, settle, func(p *store.Payment) (store.Effects, error) {
		it := byID[p.ID]
		if p.Status != store.StatusPending {
			return store.Effects{}, errSettled
		}
		if err := applyAuthorization(p, it.ar, at, it.m.AutoCaptureDays, e.cfg.AuthorizationTTL); err != nil {
			return store.Effects{}, err
		}
		res := &Result{Payment: p}
		return store.Effects{Outbox: authorizationEvent(p, at), Answer: answerOf(it.claim, res)}, nil
	})
	for _, id := range settle {
		it := byID[id]
		switch p, ok := written[id]; {
		case err != nil:
			out[it.i].Err = fmt.Errorf("record authorization: %w", err)
		case ok:
			out[it.i].Result = &Result{Payment: p}
			if approved(p) {
				for _, hook := range e.onApproved {
					hook(wctx, p)
				}
			}
		case errors.Is(failed[id], errSettled):
			out[it.i].Result, out[it.i].Err = e.result(wctx, it.p)
		default:
			out[it.i].Err = fmt.Errorf("record authorization: %w", failed[id])
		}
	}
	return out
}
