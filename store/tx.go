package store

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/cockroachdb/cockroach-go/v2/crdb"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

const (
	// maxRetries bounds the re-runs of one transaction (51 attempts in all).
	maxRetries = 50
	// maxBackoff caps the pause before a retry: conflicts last as long as
	// the competing transaction, milliseconds.
	maxBackoff = 100 * time.Millisecond
)

// ExecuteTx runs fn in a SERIALIZABLE transaction and commits it, retrying
// the whole transaction on serialization failures (SQLSTATE 40001) and
// deadlocks (40P01). fn may therefore run several times: it must only touch
// the database through tx, and must wrap errors with %w so a retryable one
// stays recognizable. An error from fn rolls the transaction back and is
// returned as is. When the retries run out, the error is a
// *crdb.MaxRetriesExceededError wrapping the last failure.
func ExecuteTx(ctx context.Context, db *pgxpool.Pool, fn func(ctx context.Context, tx pgx.Tx) error) error {
	// The retry boundary is the whole transaction: every attempt begins a
	// new one, so it reads a fresh snapshot, and a failed COMMIT is retried
	// like any other statement. crdb.ExecuteTx and crdbpgxv5.ExecuteTx must
	// not be used instead: they retry inside one transaction with
	// CockroachDB's SAVEPOINT cockroach_restart protocol, which on
	// PostgreSQL keeps the stale snapshot and ignores the COMMIT error,
	// reporting success for a write PostgreSQL rejected.
	return retry(ctx, func(ctx context.Context) error {
		return pgx.BeginTxFunc(ctx, db, pgx.TxOptions{IsoLevel: pgx.Serializable}, func(tx pgx.Tx) error {
			return fn(ctx, tx)
		})
	})
}

// retry runs fn until it succeeds, fails with an error other than a
// serialization failure or deadlock, or the retries run out.
func retry(ctx context.Context, fn func(ctx context.Context) error) error {
	attempt := 0
	return crdb.ExecuteCtx(crdb.WithMaxRetries(ctx, maxRetries), func(ctx context.Context, _ ...any) error {
		if attempt > 0 {
			if err := backoff(ctx, attempt); err != nil {
				return err
			}
		}
		attempt++
		err := fn(ctx)
		if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok && pgErr.Code == "40P01" {
			return &deadlockError{err}
		}
		return err
	})
}

// pool runs single statements outside ExecuteTx. Each is a transaction of
// its own, SERIALIZABLE like every other, and PostgreSQL can abort it with
// a serialization failure too (even a read-only one); pool retries those
// as ExecuteTx does: the aborted statement left nothing behind.
type pool struct{ pool *pgxpool.Pool }

// Exec runs a statement that returns no rows.
func (p pool) Exec(ctx context.Context, sql string, args ...any) (tag pgconn.CommandTag, err error) {
	err = retry(ctx, func(ctx context.Context) error {
		tag, err = p.pool.Exec(ctx, sql, args...)
		return err
	})
	return tag, err
}

// QueryRow runs a statement returning at most one row when its Scan is
// called.
func (p pool) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return retriedRow{p.pool, ctx, sql, args}
}

type retriedRow struct {
	pool *pgxpool.Pool
	ctx  context.Context
	sql  string
	args []any
}

func (r retriedRow) Scan(dest ...any) error {
	return retry(r.ctx, func(ctx context.Context) error {
		return r.pool.QueryRow(ctx, r.sql, r.args...).Scan(dest...)
	})
}

// collect runs a query and scans every row with scan; a serialization
// failure while reading the rows runs the query again from the start.
func collect[T any](ctx context.Context, p pool, scan func(pgx.Row) (T, error), sql string, args ...any) (list []T, err error) {
	err = retry(ctx, func(ctx context.Context) error {
		rows, err := p.pool.Query(ctx, sql, args...)
		if err != nil {
			return err
		}
		list, err = scanRows(rows, scan)
		return err
	})
	return list, err
}

// backoff waits before retry n (1, 2, …) a random time below 1 ms·2ⁿ, at most
// maxBackoff, so transactions that collided do not collide again in step.
func backoff(ctx context.Context, n int) error {
	t := time.NewTimer(rand.N(min(time.Millisecond<<min(n, 16), maxBackoff)))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// deadlockError makes crdb.ExecuteCtx retry a PostgreSQL deadlock. crdb
// retries only SQLSTATE 40001, which it reads from the first error in the
// chain with a SQLState method; this wrapper is that first error. errors.As
// still finds the original *pgconn.PgError (code 40P01) behind it.
// (CockroachDB itself reports deadlocks as 40001.)
type deadlockError struct{ err error }

func (e *deadlockError) Error() string    { return e.err.Error() }
func (e *deadlockError) Unwrap() error    { return e.err }
func (e *deadlockError) SQLState() string { return "40001" }

// scanRows reads every row with scan and closes rows.
func scanRows[T any](rows pgx.Rows, scan func(pgx.Row) (T, error)) ([]T, error) {
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (T, error) { return scan(row) })
}
