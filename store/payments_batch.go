package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// The batch forms of CreatePayment and ModifyPayment, for the payment
// engine's PayBatch (a subscription runner's charges): one transaction and
// a few round trips for many payments instead of two transactions each.

// CreatePayments inserts payments, each with its idempotency claim, in one
// transaction. A payment whose key exists already is not inserted:
// inserted[i] says which were. Token payments only (no cryptogram digest).
func (s *Store) CreatePayments(ctx context.Context, ps []*Payment, claims []*Idempotency) (inserted []bool, err error) {
	if len(ps) != len(claims) {
		return nil, errors.New("create payments: one claim per payment")
	}
	err = s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		inserted = make([]bool, len(ps))
		var claimed writes
		for i, c := range claims {
			claimed.queue(func(br pgx.BatchResults) error {
				tag, err := br.Exec()
				if err != nil {
					return fmt.Errorf("claim idempotency keys: %w", err)
				}
				inserted[i] = tag.RowsAffected() == 1
				return nil
			}, `INSERT INTO idempotency_keys (merchant_id, idem_key, operation, request_hash, payment_id, created_at)
				VALUES ($1, $2, $3, $4, $5, now()) ON CONFLICT (merchant_id, idem_key) DO NOTHING`,
				c.MerchantID, c.Key, c.Operation, c.RequestHash, c.PaymentID)
		}
		if err := claimed.send(ctx, tx); err != nil {
			return err
		}
		var w writes
		for i, p := range ps {
			if inserted[i] {
				w.queue(func(br pgx.BatchResults) error {
					if _, err := br.Exec(); err != nil {
						return fmt.Errorf("insert payments: %w", classify(err))
					}
					return nil
				}, insertPaymentSQL, paymentArgs(p)...)
			}
		}
		return w.send(ctx, tx)
	})
	return inserted, err
}

// TokensByID reads live tokens by id, whichever merchant's they are.
func (s *Store) TokensByID(ctx context.Context, ids []string) (map[string]*Token, error) {
	list, err := collect(ctx, s.db, scanToken, `SELECT `+tokenColumns+` FROM tokens WHERE id = ANY($1) AND deleted_at IS NULL`, ids)
	if err != nil {
		return nil, fmt.Errorf("read tokens: %w", err)
	}
	out := make(map[string]*Token, len(list))
	for _, t := range list {
		out[t.ID] = t
	}
	return out, nil
}

// ModifyPayments changes several payments in one retried transaction, as
// ModifyPayment changes one: it reads them under locks, lets fn change each
// and name its effects, and writes each guarded by the status it read. A
// payment for which fn fails is left as it was, its error in failed. Only
// the Answer and Outbox effects are supported. fn must only compute.
func (s *Store) ModifyPayments(ctx context.Context, ids []string, fn func(p *Payment) (Effects, error)) (written map[string]*Payment, failed map[string]error, err error) {
	err = s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		written, failed = map[string]*Payment{}, map[string]error{}
		rows, err := tx.Query(ctx, `SELECT `+paymentColumns+` FROM payments WHERE id = ANY($1) ORDER BY id FOR UPDATE`, ids)
		if err != nil {
			return fmt.Errorf("read payments: %w", err)
		}
		list, err := scanRows(rows, scanPayment)
		if err != nil {
			return fmt.Errorf("read payments: %w", err)
		}
		var w writes
		for _, p := range list {
			from := p.Status
			eff, err := fn(p)
			if err != nil {
				failed[p.ID] = err
				continue
			}
			if eff.Claim != nil || eff.Release != nil || eff.InsertRefund != nil || eff.UpdateRefund != nil || eff.DeleteRefund != nil ||
				eff.SaveToken != nil || eff.ActivateToken != "" || eff.DropToken != "" {
				return errors.New("modify payments: only Answer and Outbox effects are supported")
			}
			queuePaymentUpdate(&w, p, from, nil)
			queueEffects(&w, eff)
			written[p.ID] = p
		}
		return w.send(ctx, tx)
	})
	return written, failed, err
}
