package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// OutboxMessage is one notification-worthy event, written in the same
// transaction as the change that caused it. Its ID is unique and stable, so
// receivers can deduplicate deliveries.
type OutboxMessage struct {
	ID         string
	MerchantID string
	Type       string // Pay, Fail, Confirm, Refund, Cancel, Recurrent
	PaymentID  string
	SubjectID  string // the refund or subscription the event is about, if any
	Payload    []byte // JSON of the event
	CreatedAt  time.Time
}

const insertOutboxSQL = `INSERT INTO outbox (id, merchant_id, type, payment_id, subject_id, payload, created_at)
	VALUES ($1, $2, $3, $4, $5, $6, $7)`

func outboxArgs(m OutboxMessage) []any {
	return []any{m.ID, m.MerchantID, m.Type, m.PaymentID, m.SubjectID, string(m.Payload), m.CreatedAt}
}

func insertOutbox(ctx context.Context, tx pgx.Tx, m OutboxMessage) error {
	if _, err := tx.Exec(ctx, insertOutboxSQL, outboxArgs(m)...); err != nil {
		return fmt.Errorf("insert outbox: %w", err)
	}
	return nil
}

// InsertOutbox writes outbox messages in a transaction of their own, for
// events that change nothing else in the database.
func (s *Store) InsertOutbox(ctx context.Context, msgs ...OutboxMessage) error {
	return s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		for _, m := range msgs {
			if err := insertOutbox(ctx, tx, m); err != nil {
				return err
			}
		}
		return nil
	})
}

// Outbox reads a merchant's first messages in the order they were written
// (for tests; the notifier leases its own work).
func (s *Store) Outbox(ctx context.Context, merchantID string, limit int) ([]OutboxMessage, error) {
	list, err := collect(ctx, s.db, scanOutbox, `SELECT `+outboxColumns+`
		FROM outbox WHERE merchant_id = $1 ORDER BY created_at, id LIMIT $2`, merchantID, limit)
	if err != nil {
		return nil, fmt.Errorf("read outbox: %w", err)
	}
	return list, nil
}
