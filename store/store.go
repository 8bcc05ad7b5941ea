// Package store owns all of altyn's SQL: the embedded migrations, the
// queries, and the one transaction helper every write goes through.
//
// The SQL is the subset CockroachDB (production) and PostgreSQL (tests and the
// embedded default) share: TEXT, BYTEA, INT8, BOOL, TIMESTAMPTZ and JSONB
// columns, ON CONFLICT, RETURNING and FOR UPDATE SKIP LOCKED, no sequences,
// triggers or advisory locks, and one DDL statement per migration step.
package store

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Errors the store returns; callers match them with errors.Is.
var (
	// ErrNotFound: no row matched.
	ErrNotFound = errors.New("not found")
	// ErrStale: a guarded update found the row in another state than expected.
	ErrStale = errors.New("row changed concurrently")
	// ErrDuplicate: a unique key (idempotency key, cryptogram digest…) exists.
	ErrDuplicate = errors.New("duplicate key")
	// ErrConstraint: a CHECK constraint (a money invariant) refused the write.
	ErrConstraint = errors.New("constraint violated")
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is the database handle shared by the whole server.
type Store struct {
	db pool
}

// Open connects to the database at url and applies the migrations.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	if cfg.MaxConns < 32 {
		cfg.MaxConns = 32
	}
	db, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	s := &Store{db: pool{db}}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// Close releases the connections.
func (s *Store) Close() { s.db.pool.Close() }

// Pool exposes the connection pool to tests and benchmarks in other packages.
func (s *Store) Pool() *pgxpool.Pool { return s.db.pool }

// migrate applies every embedded migration not yet recorded. Each step is one
// DDL statement written to be repeatable (IF NOT EXISTS), so replicas starting
// together may race on a step without harm; DDL never runs inside an explicit
// transaction (CockroachDB's rule).
func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.db.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INT8 PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	sort.Strings(names)
	for _, name := range names {
		base := strings.TrimPrefix(name, "migrations/")
		version, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return fmt.Errorf("migrate: bad file name %s", base)
		}
		var done bool
		if err := s.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)`, version).Scan(&done); err != nil {
			return fmt.Errorf("migrate %s: %w", base, err)
		}
		if done {
			continue
		}
		sql, err := migrations.ReadFile(name)
		if err != nil {
			return fmt.Errorf("migrate %s: %w", base, err)
		}
		if _, err := s.db.Exec(ctx, string(sql)); err != nil {
			return fmt.Errorf("migrate %s: %w", base, err)
		}
		if _, err := s.db.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2) ON CONFLICT (version) DO NOTHING`, version, base); err != nil {
			return fmt.Errorf("migrate %s: %w", base, err)
		}
	}
	return nil
}

// tx runs fn through ExecuteTx, the whole-transaction retry helper.
func (s *Store) tx(ctx context.Context, fn func(ctx context.Context, tx pgx.Tx) error) error {
	return ExecuteTx(ctx, s.db.pool, fn)
}

// classify turns PostgreSQL/CockroachDB errors the callers act on into the
// store's sentinels, keeping the original for logs.
func classify(err error) error {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		switch pg.Code {
		case "23505":
			return fmt.Errorf("%w: %s", ErrDuplicate, pg.ConstraintName)
		case "23514":
			return fmt.Errorf("%w: %s", ErrConstraint, pg.ConstraintName)
		}
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrNotFound
	}
	return err
}

// timePtr returns nil for the zero time so it is stored as NULL.
func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// timeVal turns a nullable column back into a time (zero when NULL).
func timeVal(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}
