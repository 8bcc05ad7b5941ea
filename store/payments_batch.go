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
		b := &pgx.Batch{}
		for _, c := range claims {
			b.Queue(`INSERT INTO idempotency_keys (merchant_id, idem_key, operation, request_hash, payment_id, created_at)
				VALUES ($1, $2, $3, $4, $5, now()) ON CONFLICT (merchant_id, idem_key) DO NOTHING`,
				c.MerchantID, c.Key, c.Operation, c.RequestHash, c.PaymentID)
		}
		br := tx.SendBatch(ctx, b)
		for i := range claims {
			tag, err := br.Exec()
			if err != nil {
				br.Close()
				return fmt.Errorf("claim idempotency keys: %w", err)
			}
			inserted[i] = tag.RowsAffected() == 1
		}
		if err := br.Close(); err != nil {
			return fmt.Errorf("claim idempotency keys: %w", err)
		}
		b = &pgx.Batch{}
		n := 0
		for i, p := range ps {
			if inserted[i] {
				n++
				b.Queue(`INSERT INTO payments (`+paymentColumns+`) VALUES (
					$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20,
					$21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31, $32, $33, $34, $35, $36, $37, $38, $39)`, paymentArgs(p)...)
			}
		}
		if n == 0 {
			return nil
		}
		br = tx.SendBatch(ctx, b)
		for range n {
			if _, err := br.Exec(); err != nil {
				br.Close()
				return fmt.Errorf("insert payments: %w", classify(err))
			}
		}
		if err := br.Close(); err != nil {
			return fmt.Errorf("insert payments: %w", err)
		}
		return nil
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
		b := &pgx.Batch{}
		n := 0
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
			n++
			b.Queue(`UPDATE payments SET status = $3, authorized_amount = $4, captured_amount = $5,
				refunded_amount = $6, auth_code = $7, reason_code = $8, reason = $9, acs_url = $10, pa_req = $11,
				pending_op = $12, updated_at = $13, authorized_at = $14, captured_at = $15, cancelled_at = $16,
				declined_at = $17, expires_at = $18, token_id = $20
				WHERE id = $1 AND merchant_id = $2 AND status = $19`,
				p.ID, p.MerchantID, string(p.Status), p.AuthorizedAmount, p.CapturedAmount,
				p.RefundedAmount, p.AuthCode, p.ReasonCode, p.Reason, p.ACSURL, p.PaReq,
				p.PendingOp, p.UpdatedAt, timePtr(p.AuthorizedAt), timePtr(p.CapturedAt), timePtr(p.CancelledAt),
				timePtr(p.DeclinedAt), timePtr(p.ExpiresAt), string(from), p.TokenID)
			if a := eff.Answer; a != nil {
				n++
				b.Queue(`UPDATE idempotency_keys SET response = $3 WHERE merchant_id = $1 AND idem_key = $2`, a.MerchantID, a.Key, a.Response)
			}
			for _, m := range eff.Outbox {
				n++
				b.Queue(`INSERT INTO outbox (id, merchant_id, type, payment_id, subject_id, payload, created_at)
					VALUES ($1, $2, $3, $4, $5, $6, $7)`, m.ID, m.MerchantID, m.Type, m.PaymentID, m.SubjectID, string(m.Payload), m.CreatedAt)
			}
			written[p.ID] = p
		}
		return sendBatch(ctx, tx, b, n)
	})
	return written, failed, err
}
