package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// writes collects a transaction's statements into one batch, each with the
// function that reads its result, so that they cost one round trip. The
// results are read in order and the first error is returned; the caller's
// transaction then rolls back whatever the batch did.
type writes struct {
	batch pgx.Batch
	read  []func(pgx.BatchResults) error
}

// queue adds a statement whose result read interprets.
func (w *writes) queue(read func(pgx.BatchResults) error, sql string, args ...any) {
	w.batch.Queue(sql, args...)
	w.read = append(w.read, read)
}

// exec adds a statement whose only possible failure is an error, reported
// as "what: error".
func (w *writes) exec(what, sql string, args ...any) {
	w.queue(func(br pgx.BatchResults) error {
		if _, err := br.Exec(); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		return nil
	}, sql, args...)
}

// send runs the batch in tx and reads every result.
func (w *writes) send(ctx context.Context, tx pgx.Tx) error {
	if len(w.read) == 0 {
		return nil
	}
	br := tx.SendBatch(ctx, &w.batch)
	for _, read := range w.read {
		if err := read(br); err != nil {
			br.Close()
			return err
		}
	}
	return br.Close()
}
